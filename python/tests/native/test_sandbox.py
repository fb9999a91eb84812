"""The sandbox runner against HumanEval and against hostile programs."""

import json
import os
import socket
import tempfile
import time
import uuid
from pathlib import Path

import pytest
from fixtures_native import events_of, load_humaneval, run_module

from kiln_native import sandbox


def run_jobs(jobs, *flags, timeout=3, memory_mb=512, parallel=2):
    proc = run_module("kiln_native.sandbox", "--timeout", timeout, "--memory-mb", memory_mb, "--jobs", parallel, *flags,
                      stdin=json.dumps(jobs), timeout=600)
    assert proc.returncode == 0, proc.stderr
    results = {r["id"]: r for r in events_of(proc.stdout)}
    assert sorted(results) == sorted(j["id"] for j in jobs)
    return results


def run_one(program, *flags, **kwargs):
    return run_jobs([{"id": "job", "program": program}], *flags, **kwargs)["job"]


def humaneval_program(problem, completion):
    return problem["prompt"] + completion + "\n" + problem["test"] + "\n" + f"check({problem['entry_point']})"


# Both the full guard and the OS layers alone (as if the guard were bypassed) must hold.
LAYERS = [pytest.param((), id="all-layers"), pytest.param(("--no-pyguard",), id="os-layers-only")]


def test_canonical_solutions_of_all_humaneval_problems_pass():
    problems = load_humaneval()
    assert len(problems) == 164
    jobs = [{"id": p["task_id"], "program": humaneval_program(p, p["canonical_solution"])} for p in problems]
    results = run_jobs(jobs, timeout=10, memory_mb=1024)
    failed = {k: r["result"] for k, r in results.items() if not r["passed"]}
    assert failed == {}


def test_broken_solutions_fail_with_the_reason():
    problems = load_humaneval()[:24]
    jobs = [{"id": p["task_id"], "program": humaneval_program(p, "    return None\n")} for p in problems]
    results = run_jobs(jobs)
    assert [k for k, r in results.items() if r["passed"]] == []
    assert all(r["result"].startswith("failed: ") for r in results.values())
    wrong = run_one("def add(a, b):\n    return a - b\n\ndef check(f):\n    assert f(2, 3) == 5, 'add is wrong'\n\ncheck(add)\n")
    assert (wrong["passed"], wrong["result"]) == (False, "failed: AssertionError: add is wrong")


def test_a_passing_program_passes_and_reports_its_isolation():
    result = run_one("def check(f):\n    assert f() == 1\n\ncheck(lambda: 1)\n")
    assert (result["passed"], result["result"], result["exit_code"]) == (True, "passed", 0)
    assert "pyguard" in result["isolation"] and "rlimits" in result["isolation"]


@pytest.mark.parametrize("program", [
    "import os\nos._exit(0)\n",
    "import sys\nsys.exit(0)\n",
    "exit(0)\n",
    "def add(a, b):\n    import sys; sys.exit(0)\n\ndef check(f):\n    assert f(1, 2) == 3\n\ncheck(add)\n",
    "import atexit, os\natexit.register(lambda: os._exit(0))\nraise AssertionError('tests failed')\n",
])
def test_exiting_with_status_0_before_the_tests_finish_is_exited_early(program):
    result = run_one(program)
    assert result["passed"] is False
    assert result["result"] in ("exited early", "failed: AssertionError: tests failed")
    if "atexit" not in program:
        assert result["result"] == "exited early"


def test_an_exit_with_a_nonzero_status_fails_with_it():
    result = run_one("import sys\nsys.exit(3)\n")
    assert (result["passed"], result["result"]) == (False, "failed: exit status 3")


def test_a_syntax_error_fails_with_the_reason():
    result = run_one("def f(:\n")
    assert result["result"].startswith("failed: SyntaxError")


@pytest.mark.parametrize("flags", LAYERS)
def test_an_infinite_loop_times_out(flags):
    started = time.monotonic()
    result = run_one("while True:\n    pass\n", *flags, timeout=1.5)
    assert (result["passed"], result["result"], result["exit_code"]) == (False, "timed out", None)
    assert time.monotonic() - started < 30


@pytest.mark.parametrize("flags", LAYERS)
def test_a_memory_bomb_fails(flags):
    result = run_one("x = bytearray(8 * 1024 ** 3)\nprint(len(x))\n", *flags, memory_mb=256)
    assert (result["passed"], result["result"]) == (False, "failed: MemoryError")
    grow = run_one("xs = []\nwhile True:\n    xs.append(' ' * 10 ** 6)\n", *flags, memory_mb=256, timeout=10)
    assert grow["result"] == "failed: MemoryError"


def processes_of(uid):
    return [p for p in os.listdir("/proc") if p.isdigit() and _owner(p) == uid]


def _owner(pid):
    try:
        return os.stat(f"/proc/{pid}").st_uid
    except OSError:
        return None


@pytest.mark.parametrize("flags", LAYERS)
def test_a_fork_bomb_is_contained(flags):
    uid = sandbox.SANDBOX_UID if os.geteuid() == 0 else os.geteuid()
    before = len(processes_of(uid))
    bomb = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"
    result = run_one(bomb, *flags, timeout=2)
    assert result["passed"] is False
    assert result["result"] in ("timed out", "failed: PermissionError: sandbox: os.fork is not allowed")
    deadline = time.monotonic() + 10  # the kernel tears the namespace down asynchronously
    while len(processes_of(uid)) > before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(processes_of(uid)) <= before


def test_processes_left_behind_do_not_outlive_the_job():
    uid = sandbox.SANDBOX_UID if os.geteuid() == 0 else os.geteuid()
    before = len(processes_of(uid))
    result = run_one("import os, time\nif os.fork() == 0:\n    os.setsid()\n    time.sleep(60)\n", "--no-pyguard")
    assert result["passed"] is True
    deadline = time.monotonic() + 10
    while len(processes_of(uid)) > before and time.monotonic() < deadline:
        time.sleep(0.1)
    if "pidns" in result["isolation"]:
        assert len(processes_of(uid)) <= before


@pytest.mark.parametrize("flags", LAYERS)
def test_network_connections_fail(flags):
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        server.settimeout(0.5)
        port = server.getsockname()[1]
        result = run_one(f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=2).send(b'x')\n", *flags)
        with pytest.raises(socket.timeout):
            server.accept()
    assert result["passed"] is False
    assert result["result"].startswith(("failed: PermissionError", "failed: OSError", "failed: ConnectionRefusedError"))


@pytest.mark.parametrize("flags", LAYERS)
def test_writing_outside_the_scratch_directory_fails(flags):
    outside = Path(tempfile.gettempdir()) / f"outside-file-{uuid.uuid4().hex}"
    result = run_one(f"open({str(outside)!r}, 'w').write('pwned')\n", *flags)
    assert result["passed"] is False
    assert not outside.exists()
    assert result["result"].startswith(("failed: PermissionError", "failed: OSError: [Errno 30]"))
    if flags:  # the OS layer alone: read-only mounts or, without them, file permissions
        assert "Read-only file system" in result["result"] or "Permission denied" in result["result"]


def test_a_program_with_native_calls_cannot_remount_the_filesystem_read_write():
    # As if the guard were bypassed (ctypes allowed): the program holds capabilities in its own
    # user namespace, yet the read-only mounts are locked and writes outside scratch still fail.
    outside = Path(tempfile.gettempdir()) / f"outside-file-{uuid.uuid4().hex}"
    program = ("import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n"
               "assert libc.mount(None, b'/', None, 32 | 4096, None) != 0, 'remounted / read-write'\n"
               f"open({str(outside)!r}, 'w').write('pwned')\n")
    result = run_one(program, "--no-pyguard")
    if "mountns-readonly" not in result["isolation"]:
        pytest.skip(f"no mount namespace here ({result['isolation']})")
    assert result["result"] == f"failed: OSError: [Errno 30] Read-only file system: '{outside}'"
    assert not outside.exists()


def test_the_program_sees_only_its_own_processes():
    result = run_one("import os\npids = [p for p in os.listdir('/proc') if p.isdigit()]\nassert len(pids) <= 3, pids\n")
    if "pidns" not in result["isolation"]:
        pytest.skip(f"no pid namespace here ({result['isolation']})")
    assert result["result"] == "passed"


def test_writing_in_the_scratch_directory_works_and_it_starts_empty(tmp_path):
    base = Path(tempfile.mkdtemp(prefix="kiln-test-scratch-"))
    try:
        base.chmod(0o755)  # the sandbox user must reach it (pytest's tmp_path is private to root)
        scratch = base / "work"
        program = ("import os\nassert os.listdir('.') == [], os.listdir('.')\n"
                   "with open('notes.txt', 'w') as f:\n    f.write('kept')\n"
                   "os.mkdir('sub')\nopen('sub/x', 'w').write('1')\nassert open('notes.txt').read() == 'kept'\n")
        result = run_jobs([{"id": "w", "program": program, "scratch": str(scratch)}])["w"]
        assert (result["passed"], result["result"]) == (True, "passed")
        assert (scratch / "notes.txt").read_text() == "kept"
    finally:
        import shutil
        shutil.rmtree(base, ignore_errors=True)


def test_without_namespaces_the_verdicts_are_the_same():
    jobs = [{"id": "pass", "program": "assert 1 + 1 == 2\n"},
            {"id": "fail", "program": "assert 1 + 1 == 3\n"},
            {"id": "early", "program": "import os\nos._exit(0)\n"},
            {"id": "loop", "program": "while True: pass\n"}]
    results = run_jobs(jobs, "--no-namespaces", timeout=1.5)
    assert {k: r["result"] for k, r in results.items()} == {
        "pass": "passed", "fail": "failed: AssertionError", "early": "exited early", "loop": "timed out"}
    assert "netns" not in results["pass"]["isolation"]


@pytest.mark.parametrize("stdin, message", [
    ("not json", "stdin is not JSON"),
    ('{"id": "a"}', "stdin must hold a JSON list of jobs, got dict"),
    ('[{"id": "a"}]', "job 0: expected an object with string fields `id` and `program`"),
    ('[{"id": "a", "program": ""}, {"id": "a", "program": ""}]', "job 1: duplicate id 'a'"),
])
def test_bad_input_exits_2_with_an_error_event(stdin, message):
    proc = run_module("kiln_native.sandbox", "--timeout", 1, stdin=stdin)
    assert proc.returncode == 2
    assert events_of(proc.stdout) == [{"event": "error", "message": events_of(proc.stdout)[0]["message"]}]
    assert events_of(proc.stdout)[0]["message"].startswith(message)
    assert message in proc.stderr


def test_classify_needs_exit_0_and_the_nonce():
    assert sandbox.classify(0, "passed abc", "abc", False, "") == (True, "passed")
    assert sandbox.classify(0, "passed abd", "abc", False, "") == (False, "exited early")
    assert sandbox.classify(0, "", "abc", False, "") == (False, "exited early")
    assert sandbox.classify(1, "passed abc", "abc", False, "") == (False, "failed: exit status 1")
    assert sandbox.classify(-9, "", "abc", False, "") == (False, "failed: killed by SIGKILL")
    assert sandbox.classify(128 + 24, "", "abc", False, "") == (False, "failed: killed by SIGXCPU (CPU time limit)")
    assert sandbox.classify(None, "", "abc", True, "") == (False, "timed out")
