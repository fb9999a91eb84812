"""Run untrusted generated programs (HumanEval completions + their tests), one process each.

    python -m kiln_native.sandbox --timeout 10 --memory-mb 1024 [--jobs 2] [--no-zygote] < jobs.json

Python jobs run in forks of a warm zygote per worker when the namespaces are available
(sandbox_pool.py, sandbox_zygote.py: the same layers, the per-sample ones applied in the fork);
otherwise, and for a job with its own scratch directory, in a fresh interpreter (run_job).

stdin: a JSON list of jobs {"id": str, "program": str, "scratch": optional empty dir to use as
cwd, "language": "python" (default) | javascript | typescript | go | java | rust | cpp, "test"
and "header": the trusted checks and their context for the other languages (sandbox_langs.py)}.
stdout: one JSON line per job, in completion order:

    {"id":..,"passed":bool,"result":"passed"|"failed: <why>"|"timed out"|"exited early",
     "language":..,"failure":null|"compile_error"|"wrong_answer"|"timeout"|"crash"|"exited_early",
     "toolchain":"<versions>","exit_code":int|null,"duration_s":f,"isolation":"userns,...",
     "stderr_tail":".."}

Languages other than Python compile (when they have a compile step) and run through the same
wrapper in exec mode: the same namespaces and rlimits, per-language limits, the bin directories
hidden from the run step (binmask), and the pass proof printed by a trusted harness.

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
import re
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

from kiln_native.sandbox_langs import LANGUAGES, language_of, passed_marker, substitute
from kiln_native.sandbox_toolchains import version_of

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


def failure_of_python(passed, result):
    """The failure class of a Python result (see SampleResult.failure on the TypeScript side)."""
    if passed:
        return None
    if result == "timed out":
        return "timeout"
    if result == "exited early":
        return "exited_early"
    if result.startswith("failed: AssertionError"):
        return "wrong_answer"
    if result.startswith(("failed: SyntaxError", "failed: IndentationError", "failed: TabError")):
        return "compile_error"
    return "crash"


def _describe_exit(exit_code, stderr_tail):
    signum = -exit_code if exit_code < 0 else exit_code - 128 if exit_code > 128 else None
    if signum:
        why = {signal.SIGXCPU: " (CPU time limit)", signal.SIGXFSZ: " (file size limit)"}.get(signum, "")
        return f"killed by {_signal_name(signum)}{why}"
    lines = [line.strip() for line in stderr_tail.strip().splitlines() if line.strip()]
    # The line that names the error (a stack trace's first or a compiler's), else the last one.
    named = [line for line in lines if ERROR_LINE.search(line)]
    line = (named or lines[-1:] or [""])[0]
    return f"exit status {exit_code}" + (f": {line[:200]}" if line else "")


ERROR_LINE = re.compile(r"error|Error|Exception|panicked|Assertion|FAIL|undefined")


def _sandboxed(iso, job_dir, argv, scratch, env, memory_mb, timeout, nproc, name, writable=(), mask_bin=False,
               pass_fds=()):
    """Run argv under the OS layers (exec mode of the wrapper). Returns (exit code, timed out, out, err)."""
    cmd = [*iso.prefix, iso.python, "-I", "-B", str(job_dir / "wrapper.py"), "--scratch", str(scratch),
           "--memory-mb", str(memory_mb), "--cpu-seconds", str(math.ceil(timeout) + 1),
           "--nproc", str(nproc), "--fsize-mb", str(FSIZE_MB)]
    cmd += ["--readonly-fs"] * iso.readonly_fs + ["--mask-bin"] * (mask_bin and iso.readonly_fs)
    for path in writable:
        cmd += ["--writable", path]
    cmd += ["--exec", *argv]
    ids = {"user": iso.uid, "group": iso.uid, "extra_groups": []} if iso.uid is not None else {}
    full_env = {"PATH": "/usr/local/go/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": str(scratch),
                "TMPDIR": str(scratch), **env}
    out_path, err_path = job_dir / f"{name}.stdout", job_dir / f"{name}.stderr"
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        code, timed_out = _run_group(cmd, job_dir, out, err, full_env, timeout, ids, pass_fds)
    return code, timed_out, _tail(out_path, 65536), _tail(err_path, 4000)


def _run_group(cmd, cwd, out, err, env, timeout, ids, pass_fds=()):
    """Start cmd in its own session (pass_fds are closed here once it has them), wait up to
    timeout, then SIGKILL its whole group: that also reaps stragglers a finished program left."""
    try:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=err, cwd=str(cwd), env=env,
                                pass_fds=pass_fds, start_new_session=True, **ids)
    finally:
        for fd in pass_fds:
            os.close(fd)
    timed_out = False
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
    _kill_group(proc.pid)
    proc.wait()
    return proc.returncode, timed_out


def _own_tree(path, uid, mode_dirs):
    for root, dirs, files in os.walk(path):
        for name in dirs:
            os.chown(os.path.join(root, name), uid, uid)
            os.chmod(os.path.join(root, name), mode_dirs)
        for name in files:
            os.chown(os.path.join(root, name), uid, uid)
    os.chown(path, uid, uid)
    os.chmod(path, mode_dirs)


def _nproc(iso, language_limit):
    """RLIMIT_NPROC for a step: per user namespace when there is one; else the uid's whole count."""
    if iso.prefix:
        return language_limit
    return iso.nproc + language_limit if iso.nproc else 0


def run_native_job(job, iso, timeout, memory_mb):
    """Compile (when the language has a step) and run one job of a language in LANGUAGES."""
    lang = LANGUAGES[job["language"]]
    started = time.monotonic()
    job_dir = Path(tempfile.mkdtemp(prefix="kiln-sandbox-", dir=job_base_dir(iso)))
    uid = iso.uid if iso.uid is not None else os.geteuid()
    layers = ",".join([x for x in iso.layers if x != "pyguard"] + ["binmask"] * iso.readonly_fs)

    def record(passed, result, failure, exit_code=None, stderr_tail=""):
        return {"id": job["id"], "language": lang.name, "passed": passed, "result": result, "failure": failure,
                "exit_code": exit_code, "duration_s": round(time.monotonic() - started, 3), "isolation": layers,
                "toolchain": version_of(lang.name), "stderr_tail": stderr_tail[-500:]}

    try:
        job_dir.chmod(0o711)
        shutil.copyfile(CHILD_SCRIPT, job_dir / "wrapper.py")
        (job_dir / "wrapper.py").chmod(0o644)
        build_dir = job_dir / "build"
        build_dir.mkdir()
        nonce = secrets.token_hex(16)
        build = lang.build(job, nonce, memory_mb)
        for name, text in build.files.items():
            (build_dir / name).parent.mkdir(parents=True, exist_ok=True)
            (build_dir / name).write_text(text, encoding="utf-8")
        values = {"build": str(build_dir)}
        env = {k: substitute([v], **values)[0] for k, v in build.env.items()}
        if build.compile:
            _own_tree(build_dir, uid, 0o700)
            limits = lang.compile_limits
            code, timed_out, out, err = _sandboxed(
                iso, job_dir, build.compile, build_dir, env, limits.memory_mb, limits.timeout_s or timeout,
                _nproc(iso, limits.nproc), "compile", writable=build.compile_writable)
            if timed_out or code != 0:
                why = "timed out" if timed_out else _describe_exit(code, err + out)
                return record(False, f"failed: compile error: {why}", "compile_error", code, err)
        for name in build.delete_before_run:
            (build_dir / name).unlink(missing_ok=True)
        # The run step sees the build read-only, owned by root, whatever the isolation.
        _own_tree(build_dir, 0 if os.geteuid() == 0 else os.geteuid(), 0o755)
        for root, _dirs, files in os.walk(build_dir):
            for name in files:
                p = os.path.join(root, name)
                os.chmod(p, (os.stat(p).st_mode & 0o111) | 0o444)
        scratch = job_dir / "scratch"
        scratch.mkdir()
        os.chown(scratch, uid, uid)
        scratch.chmod(0o700)
        pass_fds = ()
        if build.nonce_fd:
            nonce_r, nonce_w = os.pipe()
            os.write(nonce_w, nonce.encode())
            os.close(nonce_w)
            pass_fds = (nonce_r,)
            values["nonce_fd"] = str(nonce_r)
        limits = lang.run_limits
        run_memory = (limits.memory_mb or memory_mb) + limits.extra_memory_mb
        code, timed_out, out, err = _sandboxed(
            iso, job_dir, substitute(build.run, **values), scratch, env, run_memory, limits.timeout_s or timeout,
            _nproc(iso, limits.nproc), "run", mask_bin=True, pass_fds=pass_fds)
        if timed_out:
            return record(False, "timed out", "timeout", None, err)
        if code == 0 and passed_marker(out, nonce):
            return record(True, "passed", None, 0, err)
        if code == 0:
            return record(False, "exited early", "exited_early", 0, err)
        both = out + "\n" + err
        if lang.compile_error and lang.compile_error.search(both):
            return record(False, "failed: compile error: " + _describe_exit(code, err), "compile_error", code, err)
        if lang.wrong_answer.search(both):
            return record(False, "failed: wrong answer: " + _describe_exit(code, err), "wrong_answer", code, err)
        return record(False, "failed: " + _describe_exit(code, err), "crash", code, err)
    finally:
        shutil.rmtree(job_dir, ignore_errors=True)


def run_any_job(job, iso, timeout, memory_mb, pool=None):
    if language_of(job) == "python":
        # A job with its own scratch directory wants its files back: a fresh process, not a zygote's tmpfs.
        warm = pool is not None and not job.get("scratch")
        record = pool.run_job(job, timeout, memory_mb) if warm else run_job(job, iso, timeout, memory_mb)
        record.update(language="python", failure=failure_of_python(record["passed"], record["result"]),
                      toolchain=version_of("python"))
        return record
    return run_native_job(job, iso, timeout, memory_mb)


def run_job(job, iso, timeout, memory_mb):
    """Run one Python job to completion and return its result record."""
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
        os.write(nonce_w, nonce.encode())  # fits the pipe's buffer: the wrapper reads it once started
        os.close(nonce_w)
        with open(job_dir / "stdout", "wb") as out, open(job_dir / "stderr", "wb") as err:
            code, timed_out = _run_group(cmd, job_dir, out, err, env, timeout, ids, (nonce_r, done_w))
        done = _read_done(done_r)
        stderr_tail = _tail(job_dir / "stderr")
        passed, result = classify(code, done, nonce, timed_out, stderr_tail)
        return {"id": job["id"], "passed": passed, "result": result,
                "exit_code": None if timed_out else code,
                "duration_s": round(time.monotonic() - started, 3),
                "isolation": ",".join(iso.layers), "stderr_tail": stderr_tail[-500:]}
    finally:
        shutil.rmtree(job_dir, ignore_errors=True)


def _read_done(done_r):
    """What the wrapper reported on the done pipe (every writer has exited), and close it."""
    os.set_blocking(done_r, False)
    try:
        return os.read(done_r, 65536).decode("utf-8", "replace").strip()
    except BlockingIOError:
        return ""
    finally:
        os.close(done_r)


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
        language = job.get("language", "python")
        if language != "python" and language not in LANGUAGES:
            raise ValueError(f"job {index}: unknown language {language!r} (known: python, {', '.join(LANGUAGES)})")
        for name in ("test", "header"):
            if job.get(name) is not None and not isinstance(job[name], str):
                raise ValueError(f"job {index}: `{name}` must be a string")
        seen.add(job["id"])
    return jobs


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--timeout", type=float, default=10.0, help="wall-clock seconds per job")
    parser.add_argument("--memory-mb", type=int, default=1024, help="address-space limit per job")
    parser.add_argument("--jobs", type=int, default=1, help="jobs run in parallel")
    parser.add_argument("--no-namespaces", action="store_true", help="testing: skip the unshare layer")
    parser.add_argument("--no-pyguard", action="store_true", help="testing: skip the Python guard")
    parser.add_argument("--no-zygote", action="store_true", help="a fresh interpreter per Python job (no warm zygote)")
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
    # The zygote's per-sample layers need the namespaces; without them every job is a fresh process.
    from kiln_native.sandbox_pool import ZygotePool  # imports this module: here, not at the top

    pool = ZygotePool(iso) if iso.prefix and not args.no_zygote else None
    lock = threading.Lock()

    def run_and_print(job):
        try:
            record = run_any_job(job, iso, args.timeout, args.memory_mb, pool)
        except Exception as error:  # noqa: BLE001 - a runner fault fails this job, not the batch
            record = {"id": job["id"], "language": language_of(job), "failure": "crash",
                      "passed": False, "result": f"failed: sandbox error: {error}",
                      "exit_code": None, "duration_s": 0.0, "isolation": ",".join(iso.layers), "stderr_tail": ""}
        with lock:
            sys.stdout.write(json.dumps(record) + "\n")
            sys.stdout.flush()

    try:
        with ThreadPoolExecutor(max_workers=args.jobs) as threads:
            list(threads.map(run_and_print, jobs))
    finally:
        if pool is not None:
            pool.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
