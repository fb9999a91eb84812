"""Runner side of the warm Python sandbox: one zygote (sandbox_zygote.py) per worker, started
inside the namespaces once, forking a child per sample (the per-sample layers are listed there).

A zygote that dies (killed, out of memory) is replaced and the sample it was running is run again
once in a fresh one; a second death is the sample's result ("sandbox error"). Samples never share
a zygote at the same time, and one sample's changes die with its forked child.
"""

import json
import math
import os
import queue
import secrets
import shutil
import socket
import struct
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from kiln_native.sandbox import CHILD_SCRIPT, FSIZE_MB, _kill_group, _read_done, classify, job_base_dir

ZYGOTE_SCRIPT = Path(__file__).with_name("sandbox_zygote.py")
REPLY_GRACE_S = 30  # the zygote enforces the timeout; the runner waits this much longer before giving up on it
ATTEMPTS = 2


class ZygoteDied(RuntimeError):
    pass


class Zygote:
    def __init__(self, iso):
        self.dir = Path(tempfile.mkdtemp(prefix="kiln-zygote-", dir=job_base_dir(iso)))
        self.dir.chmod(0o711)  # the sandbox user reads the two scripts and mounts each sample's tmpfs on scratch/
        for script in (CHILD_SCRIPT, ZYGOTE_SCRIPT):
            shutil.copyfile(script, self.dir / script.name)
            (self.dir / script.name).chmod(0o644)
        scratch = self.dir / "scratch"
        scratch.mkdir(mode=0o755)
        ours, theirs = socket.socketpair()
        cmd = [*iso.prefix, iso.python, "-I", "-B", str(self.dir / ZYGOTE_SCRIPT.name),
               "--control-fd", str(theirs.fileno()), "--scratch", str(scratch)]
        ids = {"user": iso.uid, "group": iso.uid, "extra_groups": []} if iso.uid is not None else {}
        env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": str(scratch), "TMPDIR": str(scratch)}
        with open(self.dir / "zygote.log", "wb") as log:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log,
                                         cwd=str(self.dir), env=env, pass_fds=(theirs.fileno(),),
                                         start_new_session=True, **ids)
        theirs.close()
        self.sock = ours

    def run(self, request, fds, timeout):
        """Send one sample with its [stdout, stderr, done] fds; the zygote's reply (a dict)."""
        body = json.dumps(request).encode()
        try:
            socket.send_fds(self.sock, [struct.pack("!Q", len(body))], fds)
            self.sock.sendall(body)
            self.sock.settimeout(timeout + REPLY_GRACE_S)
            line = b""
            while not line.endswith(b"\n"):
                chunk = self.sock.recv(4096)
                if not chunk:
                    break
                line += chunk
        except OSError as error:  # socket.timeout included
            raise ZygoteDied(f"{error or type(error).__name__}; {self.log_tail()}") from None
        if not line.endswith(b"\n"):
            self.proc.wait()
            raise ZygoteDied(f"the zygote exited with status {self.proc.returncode}; {self.log_tail()}")
        return json.loads(line)

    def log_tail(self):
        try:
            text = (self.dir / "zygote.log").read_bytes()[-300:].decode("utf-8", "replace").strip()
        except OSError:
            text = ""
        return f"its log: {text!r}" if text else "its log is empty"

    def close(self, kill=False):
        self.sock.close()  # the zygote exits on EOF
        if kill:
            _kill_group(self.proc.pid)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            _kill_group(self.proc.pid)
            self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


class ZygotePool:
    """Zygotes started on demand, one per concurrent sample, kept warm until close()."""

    def __init__(self, iso):
        self.iso = iso
        self.idle = queue.SimpleQueue()
        self.live = set()
        self.lock = threading.Lock()
        self.restarts = 0

    def take(self):
        try:
            return self.idle.get_nowait()
        except queue.Empty:
            zygote = Zygote(self.iso)
            with self.lock:
                self.live.add(zygote)
            return zygote

    def discard(self, zygote):
        with self.lock:
            self.live.discard(zygote)
            self.restarts += 1
        zygote.close(kill=True)

    def run_job(self, job, timeout, memory_mb):
        """Run one Python job in a warm zygote; the record has run_job's shape (sandbox.py)."""
        started = time.monotonic()
        for attempt in range(1, ATTEMPTS + 1):
            zygote = self.take()
            try:
                record = self._attempt(zygote, job, timeout, memory_mb)
            except ZygoteDied as error:
                self.discard(zygote)
                if attempt == ATTEMPTS:
                    raise RuntimeError(f"the sandbox zygote died {ATTEMPTS} times running this sample: {error}") from None
                continue
            self.idle.put(zygote)
            record["duration_s"] = round(time.monotonic() - started, 3)
            return record
        raise AssertionError("unreachable")

    def _attempt(self, zygote, job, timeout, memory_mb):
        iso, nonce = self.iso, secrets.token_hex(16)
        request = {"program": job["program"], "nonce": nonce, "timeout": timeout, "memory_mb": memory_mb,
                   "cpu_seconds": math.ceil(timeout) + 1, "nproc": iso.nproc, "fsize_mb": FSIZE_MB, "pyguard": iso.pyguard}
        done_r, done_w = os.pipe()
        base = job_base_dir(iso)
        with tempfile.TemporaryFile(dir=base) as out, tempfile.TemporaryFile(dir=base) as err:
            try:
                reply = zygote.run(request, [out.fileno(), err.fileno(), done_w], timeout)
            finally:
                os.close(done_w)
                done = _read_done(done_r)
            err.seek(max(0, err.seek(0, os.SEEK_END) - 800))
            stderr_tail = err.read().decode("utf-8", "replace")
        if "error" in reply:
            raise RuntimeError(f"sample set-up failed: {reply['error']}")
        passed, result = classify(reply["exit"], done, nonce, reply["timed_out"], stderr_tail)
        return {"id": job["id"], "passed": passed, "result": result, "exit_code": reply["exit"],
                "isolation": ",".join([*iso.layers, "ipcns", "zygote"]), "stderr_tail": stderr_tail[-500:]}

    def close(self):
        with self.lock:
            live, self.live = list(self.live), set()
        for zygote in live:
            zygote.close()
