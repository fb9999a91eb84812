"""The warm half of the Python sandbox: one interpreter per runner worker that forks a child per sample.

Started by the runner (sandbox.py, class Zygote) once per worker, already inside the namespaces
that samples can share (user, network, pid, mount) and as the unprivileged user:

    python -I -B sandbox_zygote.py --control-fd N --scratch DIR

Once: it makes every mount read-only and locks them (sandbox_child.make_mounts_readonly, nothing
left writable), and imports what the guard and most programs import. Then it serves one sample at
a time over the control socket: a request (JSON, length-prefixed) with the sample's stdout, stderr
and done fds attached. Per sample, before any untrusted byte runs, the forked child applies:

  - a new mount, pid and IPC namespace: a fresh tmpfs as scratch (gone with the sample), its own
    /proc, no System V objects of other samples;
  - an init (pid 1 of that namespace) that forks the program: when it exits the kernel kills
    whatever the program left, even a process that called setsid;
  - the program in a nested user namespace whose copied mounts are locked (see lock_mounts);
  - a wall-clock timeout (SIGKILL to that init), rlimits, a new session, the Python guard;
  - the nonce proof of sandbox_child.run_program.

The zygote never runs untrusted code: a sample changes only its forked copy (modules, builtins,
files in its tmpfs, rlimits), which dies with it. Standalone (stdlib + sandbox_child) on purpose.
"""

import atexit
import ctypes
import gc
import json
import os
import select
import signal
import socket
import struct
import sys


def _load_sandbox_child():
    """sandbox_child.py beside this file, by path: the sandbox user may not list this directory."""
    import importlib.util

    path = os.path.join(os.path.dirname(os.path.realpath(__file__)), "sandbox_child.py")
    spec = importlib.util.spec_from_file_location("sandbox_child", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


sandbox_child = _load_sandbox_child()

# What install_guard imports, and what HumanEval-style programs import most (typing alone is ~5 ms).
import collections, copy, hashlib, io, math, random, re, shutil, string, subprocess  # noqa: E401,F401,E402
import tempfile, traceback, typing, _posixsubprocess, _socket  # noqa: E401,F401,E402

CLONE_NEWNS, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWIPC = 0x00020000, 0x10000000, 0x20000000, 0x08000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT, MS_BIND = 1, 2, 4, 8, 32, 4096
SCRATCH_OPTIONS = b"size=64m,nr_inodes=4096,mode=700"
EXIT_SETUP = 125  # the per-sample set-up failed (reported as a sandbox error, not as the program's fault)

libc = ctypes.CDLL("libc.so.6", use_errno=True)
libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
libc.unshare.argtypes = [ctypes.c_int]


def _check(ok, what):
    if not ok:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _mount(fstype, target, flags, options=None):
    what = fstype.decode() if fstype else "remount"
    _check(libc.mount(fstype, target.encode(), fstype, flags, options) == 0, f"mount {what} on {target}")


def _recv_exact(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def receive(sock):
    """One request: (dict, [stdout fd, stderr fd, done fd]), or (None, []) when the runner hung up."""
    header, fds, _flags, _addr = socket.recv_fds(sock, 8, 3)
    if not header:
        return None, []
    header += _recv_exact(sock, 8 - len(header)) or b""
    body = _recv_exact(sock, struct.unpack("!Q", header)[0])
    if body is None or len(fds) != 3:
        return None, []
    return json.loads(body), fds


def enter_sample_namespaces(scratch):
    """Mount, pid and IPC namespaces of the sample's own, with a fresh tmpfs as its scratch."""
    _check(libc.unshare(CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC) == 0, "unshare")
    _mount(b"tmpfs", scratch, MS_NOSUID | MS_NODEV, SCRATCH_OPTIONS)


def lock_mounts():
    """A nested user + mount namespace (uid 0 maps to ours): the mounts it copies are locked, so
    the program cannot unmount the sample's /proc or tmpfs (and see the zygote's), and it holds no
    capability over the namespaces of the zygote or of this init. Its processes are counted apart
    (RLIMIT_NPROC is per user namespace)."""
    _check(libc.unshare(CLONE_NEWUSER | CLONE_NEWNS) == 0, "unshare")
    for name, text in (("setgroups", "deny"), ("uid_map", "0 0 1"), ("gid_map", "0 0 1")):
        with open(f"/proc/self/{name}", "w") as f:
            f.write(text)


def run_program(request, done_fd, args):
    """The program's process: limits, session, then sandbox_child.run_program, which never returns
    normally. A SystemExit ends it with the status it asked for (never with the nonce)."""
    os.chdir(args.scratch)  # the tmpfs, not the directory under it
    os.setsid()
    sandbox_child.set_limits(request["memory_mb"], request["cpu_seconds"], request["nproc"], request["fsize_mb"])
    args.program, args.done_fd, args.pyguard = None, done_fd, request["pyguard"]
    code = 1
    try:
        sandbox_child.run_program(args, request["nonce"].encode(), source=request["program"])
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 0 if exit_.code is None else 1
        if not isinstance(exit_.code, (int, type(None))):
            print(exit_.code, file=sys.stderr)
    except SyntaxError as error:
        sandbox_child.report(done_fd, f"error SyntaxError: {error}")
        traceback.print_exc()
    finally:
        try:
            atexit._run_exitfuncs()  # as an interpreter that exits would
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code & 0xFF)


def init(request, done_fd, status_w, args):
    """pid 1 of the sample's pid namespace: its own /proc, then the program as its child (pid 1
    ignores default-action signals such as SIGXCPU). Exits with the program's status."""
    try:
        _mount(b"proc", "/proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
        lock_mounts()  # writes /proc/self/uid_map: the new /proc is made read-only after
        _mount(None, "/proc", MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC)
    except OSError as error:
        os.write(status_w, f"setup {error}".encode())  # read before the supervisor's own line
        os._exit(EXIT_SETUP)
    os.close(status_w)
    pid = os.fork()
    if pid == 0:
        run_program(request, done_fd, args)
    os.close(done_fd)
    while True:
        child, status = os.wait()
        if child == pid:
            os._exit(os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status))


def supervise(request, fds, status_w, args):
    """The per-sample child of the zygote: namespaces and scratch, then the init; kills it at the
    timeout. Writes "exit N" or "timeout" on status_w."""
    out_fd, err_fd, done_fd = fds
    os.dup2(out_fd, 1)
    os.dup2(err_fd, 2)
    keep = {0, 1, 2, done_fd, status_w}
    for fd in map(int, os.listdir("/proc/self/fd")):
        if fd not in keep:
            try:
                os.close(fd)
            except OSError:
                pass
    try:
        enter_sample_namespaces(args.scratch)
        pid = os.fork()
    except OSError as error:
        print(f"sandbox: sample set-up failed: {error}", file=sys.stderr)
        os.write(status_w, f"setup {error}".encode())
        os._exit(EXIT_SETUP)
    if pid == 0:
        init(request, done_fd, status_w, args)
    os.close(done_fd)
    pidfd = os.pidfd_open(pid)
    poller = select.poll()
    poller.register(pidfd, select.POLLIN)
    timed_out = not poller.poll(request["timeout"] * 1000)
    if timed_out:
        os.kill(pid, signal.SIGKILL)  # the init: the kernel then kills its whole namespace
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else -os.WTERMSIG(status)
    os.write(status_w, b"timeout" if timed_out else f"exit {code}".encode())
    os._exit(0)


def serve(sock, args):
    gc.freeze()  # what is here now is shared with every child, never copied by the collector
    while True:
        request, fds = receive(sock)
        if request is None:
            return
        status_r, status_w = os.pipe()
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            os.close(status_r)
            try:
                supervise(request, fds, status_w, args)
            finally:
                os._exit(EXIT_SETUP)
        for fd in (*fds, status_w):
            os.close(fd)
        os.waitpid(pid, 0)
        status = os.read(status_r, 4096).decode()
        os.close(status_r)
        if status.startswith("setup "):
            reply = {"error": status.removeprefix("setup ")}
        elif status.startswith("exit "):
            reply = {"exit": int(status.split()[1]), "timed_out": False}
        elif status == "timeout":
            reply = {"exit": None, "timed_out": True}
        else:
            reply = {"error": f"the sample's supervisor died ({status!r})"}
        sock.sendall(json.dumps(reply).encode() + b"\n")


class Args(sandbox_child.Args):
    control_fd = None


def main():
    argv, args = sys.argv[1:], Args()
    if len(argv) != 4 or argv[0] != "--control-fd" or argv[2] != "--scratch":
        raise SystemExit("sandbox_zygote: usage: --control-fd N --scratch DIR")
    args.control_fd, args.scratch = int(argv[1]), os.path.realpath(argv[3])
    left = sandbox_child.make_mounts_readonly(None)
    if left:
        print(f"sandbox: could not make read-only: {left}", file=sys.stderr)
    os.chdir("/")
    sock = socket.socket(fileno=args.control_fd)
    serve(sock, args)


if __name__ == "__main__":
    main()
