"""Run untrusted generated programs (HumanEval completions + their tests), one process each.

    python -m kiln_native.sandbox --timeout 10 --memory-mb 1024 [--jobs 2] < jobs.json

stdin: a JSON list of jobs {"id": str, "program": str, "scratch": optional empty dir to use as
cwd}. stdout: one JSON line per job, in completion order:

    {"id":..,"passed":bool,"result":"passed"|"failed: <why>"|"timed out"|"exited early",
     "exit_code":int|null,"duration_s":f,"isolation":"userns,netns,pidns,...","stderr_tail":".."}

Generated code is hostile until proven otherwise. Layers, outermost first:
  - uid: when the runner is root, the program runs as nobody (65534): root is exempt from
    RLIMIT_NPROC and from file permissions;
  - namespaces (`unshare` from util-linux, when `unshare --user` works): a new network namespace
    (loopback only, down: no network at all), a new pid namespace (the whole tree dies with its
    init, even processes that called setsid), a private mount namespace in which every mount
    but the scratch directory is remounted read-only;
  - rlimits in the child: address space, CPU seconds, processes, file size 10 MB, no core, fds;
  - a wall-clock timeout that SIGKILLs the whole process group (and so the namespace);
  - a Python guard (sandbox_child.py) against processes, sockets, writes outside scratch;
  - a nonce: pass needs exit 0 AND the nonce that only the trusted wrapper knows and writes
    after the program and its check() completed. sys.exit(0)/os._exit(0) -> "exited early".
Each result names the layers that were in force.
"""

import argparse
import json
import math
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

CHILD_SCRIPT = Path(__file__).with_name("sandbox_child.py")
SANDBOX_UID = 65534  # nobody
NAMESPACES = ["unshare", "--user", "--map-root-user", "--net", "--pid", "--fork", "--kill-child",
              "--mount", "--propagation", "private", "--mount-proc"]
# Tasks (processes and threads) of one sandbox's user namespace: unshare + init + program + 9.
# A fork bomb that also fills memory is bounded by NPROC_IN_NAMESPACE x --memory-mb.
NPROC_IN_NAMESPACE = 12
NPROC_MARGIN = 16  # without a user namespace: the uid's current process count + this
FSIZE_MB = 10
EXIT_FATAL = 2


@dataclass
class Isolation:
    prefix: list = field(default_factory=list)  # the namespace command, or []
    uid: int | None = None  # drop to this uid (runner is root), or None
    python: str = sys.executable
    readonly_fs: bool = False
    nproc: int = 0  # 0: not enforced
    pyguard: bool = True
    layers: list = field(default_factory=list)


def _probe(cmd, uid):
    ids = {"user": uid, "group": uid, "extra_groups": []} if uid is not None else {}
    try:
        done = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=30,
                              env={"PATH": "/usr/bin:/bin"}, cwd="/", **ids)
        return done.returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def _count_processes(uid):
    count = 0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}").st_uid == uid:
                    count += 1
            except OSError:
                pass
    return count


def detect_isolation(allow_namespaces=True, pyguard=True):
    """Find the strongest isolation this machine allows (probed once per runner)."""
    iso = Isolation(pyguard=pyguard)
    if os.geteuid() == 0:
        # The child interpreter must be reachable by nobody: a venv under /root often is not.
        for candidate in dict.fromkeys([sys.executable, os.path.realpath(sys.executable), "/usr/bin/python3"]):
            if _probe([candidate, "-I", "-c", "pass"], SANDBOX_UID):
                iso.uid, iso.python = SANDBOX_UID, candidate
                iso.layers.append(f"uid{SANDBOX_UID}")
                break
        else:
            iso.layers.append("root")  # no uid drop: NPROC is not enforced for root
    if allow_namespaces and shutil.which("unshare") and _probe([*NAMESPACES, iso.python, "-I", "-c", "pass"], iso.uid):
        iso.prefix = list(NAMESPACES)
        iso.readonly_fs = True
        iso.layers += ["userns", "netns", "pidns", "mountns-readonly"]
    if iso.prefix and "root" not in iso.layers:
        iso.nproc = NPROC_IN_NAMESPACE
    elif "root" not in iso.layers:
        uid = iso.uid if iso.uid is not None else os.geteuid()
        iso.nproc = _count_processes(uid) + NPROC_MARGIN
    iso.layers.append("rlimits" if iso.nproc else "rlimits-no-nproc")
    if pyguard:
        iso.layers.append("pyguard")
    return iso


def _signal_name(number):
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def classify(exit_code, done, nonce, timed_out, stderr_tail):
    """(passed, result) from how the process ended and what the wrapper reported."""
    if timed_out:
        return False, "timed out"
    if exit_code == 0 and done == f"passed {nonce}":
        return True, "passed"
    if exit_code == 0:
        return False, "exited early"
    if done.startswith("error "):
        return False, "failed: " + done[len("error "):]
    signum = -exit_code if exit_code < 0 else exit_code - 128 if exit_code > 128 else None
    if signum:
        why = {signal.SIGXCPU: " (CPU time limit)", signal.SIGXFSZ: " (file size limit)"}.get(signum, "")
        return False, f"failed: killed by {_signal_name(signum)}{why}"
    last = stderr_tail.strip().splitlines()[-1:] or [""]
    return False, f"failed: exit status {exit_code}" + (f": {last[0][:200]}" if last[0] else "")


def _tail(path, size=800):
    with open(path, "rb") as f:
        f.seek(max(0, os.path.getsize(path) - size))
        return f.read().decode("utf-8", "replace")


def _prepare_scratch(job, job_dir, iso):
    if job.get("scratch"):
        scratch = Path(job["scratch"]).resolve()
        scratch.mkdir(parents=True, exist_ok=True)
        if any(scratch.iterdir()):
            raise ValueError(f"job {job['id']!r}: scratch directory {scratch} is not empty")
    else:
        scratch = job_dir / "scratch"
        scratch.mkdir()
    if iso.uid is not None:
        os.chown(scratch, iso.uid, iso.uid)
    scratch.chmod(0o700)
    return scratch


def _reachable_by_others(path) -> bool:
    """Every directory from / down to path is searchable by any user (o+x)."""
    p = Path(path).resolve()
    return all(os.stat(d).st_mode & 0o001 for d in [p, *p.parents])


def job_base_dir(iso) -> str:
    """Where job directories go: the temp dir, unless the sandbox user could not reach it."""
    if iso.uid is None:
        return tempfile.gettempdir()
    for candidate in (tempfile.gettempdir(), "/tmp", "/var/tmp", "/dev/shm"):
        if os.path.isdir(candidate) and _reachable_by_others(candidate):
            return candidate
    raise RuntimeError(f"no temporary directory that uid {iso.uid} can reach (tried TMPDIR, /tmp, /var/tmp)")


def run_job(job, iso, timeout, memory_mb):
    """Run one job to completion and return its result record."""
    started = time.monotonic()
    job_dir = Path(tempfile.mkdtemp(prefix="kiln-sandbox-", dir=job_base_dir(iso)))
    try:
        job_dir.chmod(0o711)  # the sandbox user may reach its scratch and read the two files below
        scratch = _prepare_scratch(job, job_dir, iso)
        (job_dir / "program.py").write_text(job["program"], encoding="utf-8")
        shutil.copyfile(CHILD_SCRIPT, job_dir / "wrapper.py")
        for name in ("program.py", "wrapper.py"):
            (job_dir / name).chmod(0o644)
        nonce = secrets.token_hex(16)
        nonce_r, nonce_w = os.pipe()
        done_r, done_w = os.pipe()
        cmd = [*iso.prefix, iso.python, "-I", "-B", str(job_dir / "wrapper.py"),
               "--nonce-fd", str(nonce_r), "--done-fd", str(done_w), "--program", str(job_dir / "program.py"),
               "--scratch", str(scratch), "--memory-mb", str(memory_mb),
               "--cpu-seconds", str(math.ceil(timeout) + 1), "--nproc", str(iso.nproc), "--fsize-mb", str(FSIZE_MB)]
        cmd += ["--readonly-fs"] * iso.readonly_fs + ["--pyguard"] * iso.pyguard
        ids = {"user": iso.uid, "group": iso.uid, "extra_groups": []} if iso.uid is not None else {}
        env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": str(scratch), "TMPDIR": str(scratch)}
        with open(job_dir / "stdout", "wb") as out, open(job_dir / "stderr", "wb") as err:
            try:
                proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=err, cwd=str(job_dir),
                                        env=env, pass_fds=(nonce_r, done_w), start_new_session=True, **ids)
            finally:
                os.close(nonce_r)
                os.close(done_w)
            os.write(nonce_w, nonce.encode())
            os.close(nonce_w)
            timed_out = False
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                timed_out = True
            _kill_group(proc.pid)  # also reaps stragglers left behind by a finished program
            proc.wait()
        os.set_blocking(done_r, False)
        try:
            done = os.read(done_r, 65536).decode("utf-8", "replace").strip()
        except BlockingIOError:
            done = ""
        os.close(done_r)
        stderr_tail = _tail(job_dir / "stderr")
        passed, result = classify(proc.returncode, done, nonce, timed_out, stderr_tail)
        return {"id": job["id"], "passed": passed, "result": result,
                "exit_code": None if timed_out else proc.returncode,
                "duration_s": round(time.monotonic() - started, 3),
                "isolation": ",".join(iso.layers), "stderr_tail": stderr_tail[-500:]}
    finally:
        shutil.rmtree(job_dir, ignore_errors=True)


def _kill_group(pgid):
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def parse_jobs(text):
    try:
        jobs = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"stdin is not JSON: {error}") from None
    if not isinstance(jobs, list):
        raise ValueError(f"stdin must hold a JSON list of jobs, got {type(jobs).__name__}")
    seen = set()
    for index, job in enumerate(jobs):
        if not isinstance(job, dict) or not isinstance(job.get("id"), str) or not isinstance(job.get("program"), str):
            raise ValueError(f"job {index}: expected an object with string fields `id` and `program`")
        if job["id"] in seen:
            raise ValueError(f"job {index}: duplicate id {job['id']!r}")
        if job.get("scratch") is not None and not isinstance(job["scratch"], str):
            raise ValueError(f"job {index}: `scratch` must be a string path")
        seen.add(job["id"])
    return jobs


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--timeout", type=float, default=10.0, help="wall-clock seconds per job")
    parser.add_argument("--memory-mb", type=int, default=1024, help="address-space limit per job")
    parser.add_argument("--jobs", type=int, default=1, help="jobs run in parallel")
    parser.add_argument("--no-namespaces", action="store_true", help="testing: skip the unshare layer")
    parser.add_argument("--no-pyguard", action="store_true", help="testing: skip the Python guard")
    args = parser.parse_args(argv)
    try:
        if not args.timeout > 0:
            raise ValueError(f"Expected --timeout to be a positive number of seconds, got {args.timeout}")
        if args.memory_mb < 64:
            raise ValueError(f"Expected --memory-mb to be at least 64, got {args.memory_mb}")
        if args.jobs < 1:
            raise ValueError(f"Expected --jobs to be at least 1, got {args.jobs}")
        jobs = parse_jobs(sys.stdin.read())
    except ValueError as error:
        print(json.dumps({"event": "error", "message": str(error)}), flush=True)
        print(f"sandbox: {error}", file=sys.stderr)
        return EXIT_FATAL
    iso = detect_isolation(allow_namespaces=not args.no_namespaces, pyguard=not args.no_pyguard)
    lock = threading.Lock()

    def run_and_print(job):
        try:
            record = run_job(job, iso, args.timeout, args.memory_mb)
        except Exception as error:  # noqa: BLE001 - a runner fault fails this job, not the batch
            record = {"id": job["id"], "passed": False, "result": f"failed: sandbox error: {error}",
                      "exit_code": None, "duration_s": 0.0, "isolation": ",".join(iso.layers), "stderr_tail": ""}
        with lock:
            sys.stdout.write(json.dumps(record) + "\n")
            sys.stdout.flush()

    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        list(pool.map(run_and_print, jobs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
