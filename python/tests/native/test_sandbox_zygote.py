"""The warm zygote of the Python sandbox: samples in a row cannot affect each other, and a dead
zygote is replaced with the sample run again."""

import json
import os
import signal
import threading

import pytest
from fixtures_native import events_of, run_module

from kiln_native import sandbox
from kiln_native.sandbox_pool import ZygotePool

ISO = sandbox.detect_isolation()
pytestmark = pytest.mark.skipif(not ISO.prefix, reason=f"no namespaces here ({ISO.layers}): no zygote")

# The first sample tampers with everything it can reach, past the Python guard (--no-pyguard):
# builtins, a module, files in its scratch, its rlimits, a process left running in a new session.
TAMPER = """
import builtins, math, os, resource, sys, time
sys.stderr.write('cwd=' + os.getcwd() + '\\n')
math.pi = 3
open('left-behind.txt', 'w').write('x')
os.mkdir('sub')
resource.setrlimit(resource.RLIMIT_NOFILE, (16, 16))
resource.setrlimit(resource.RLIMIT_AS, (256 * 1024 * 1024, 256 * 1024 * 1024))
if os.fork() == 0:
    os.setsid()
    time.sleep(60)
builtins.len = lambda x: 42
builtins.AssertionError = SystemExit
"""
CHECK = """
import builtins, math, os, resource, sys
sys.stderr.write('cwd=' + os.getcwd() + '\\n')
assert len([1, 2]) == 2, 'builtins.len leaked'
assert builtins.AssertionError is not SystemExit
assert math.pi > 3.14, 'math.pi leaked'
assert os.listdir('.') == [], os.listdir('.')
assert resource.getrlimit(resource.RLIMIT_NOFILE) == (256, 256), resource.getrlimit(resource.RLIMIT_NOFILE)
assert resource.getrlimit(resource.RLIMIT_AS)[0] == 512 * 1024 * 1024, resource.getrlimit(resource.RLIMIT_AS)
pids = sorted(int(p) for p in os.listdir('/proc') if p.isdigit())
assert pids == [1, os.getpid()], pids
"""


def run_in_one_zygote(jobs, *flags):
    proc = run_module("kiln_native.sandbox", "--timeout", 5, "--memory-mb", 512, "--jobs", 1, *flags,
                      stdin=json.dumps(jobs), timeout=120)
    assert proc.returncode == 0, proc.stderr
    return {r["id"]: r for r in events_of(proc.stdout)}


def cwd_of(result):
    return next(line for line in result["stderr_tail"].splitlines() if line.startswith("cwd="))


def test_a_sample_that_tampers_cannot_affect_the_next_one_in_the_same_zygote():
    results = run_in_one_zygote([{"id": "tamper", "program": TAMPER}, {"id": "check", "program": CHECK}], "--no-pyguard")
    assert results["tamper"]["result"] == "passed"
    assert (results["check"]["result"], results["check"]["stderr_tail"].count("Error")) == ("passed", 0)
    assert "zygote" in results["check"]["isolation"]
    assert cwd_of(results["tamper"]) == cwd_of(results["check"])  # the same zygote served both


def test_a_failing_check_after_a_tampering_sample_still_fails():
    results = run_in_one_zygote([{"id": "tamper", "program": TAMPER},
                                 {"id": "wrong", "program": "assert len([1, 2]) == 3, 'still judged'\n"}], "--no-pyguard")
    assert results["wrong"]["result"] == "failed: AssertionError: still judged"


def test_the_guard_is_installed_in_every_sample():
    program = "import os\nos.fork()\n"
    results = run_in_one_zygote([{"id": "a", "program": program}, {"id": "b", "program": program}])
    assert [r["result"] for r in results.values()] == ["failed: PermissionError: sandbox: os.fork is not allowed"] * 2


def test_a_sample_cannot_unmount_its_proc_or_scratch_to_see_the_zygote():
    # Past the guard (ctypes): the program is root in its own user namespace, but the mounts it
    # got are locked, and it holds no capability where the zygote and the sample's init live.
    program = ("import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\n"
               "for target in (b'/proc', os.getcwd().encode()):\n"
               "    assert libc.umount2(target, 2) != 0, f'unmounted {target}'\n"
               "assert sorted(int(p) for p in os.listdir('/proc') if p.isdigit()) == [1, os.getpid()]\n"
               "assert libc.mount(b'none', b'/proc', b'proc', 0, None) != 0, 'mounted a proc of the init'\n")
    results = run_in_one_zygote([{"id": "a", "program": program}], "--no-pyguard")
    assert results["a"]["result"] == "passed"


@pytest.fixture
def pool():
    pool = ZygotePool(ISO)
    yield pool
    pool.close()


def test_processes_a_sample_leaves_die_with_it_while_the_zygote_lives_on():
    pool = ZygotePool(sandbox.detect_isolation(pyguard=False))
    try:
        leaver = "import os, time\nif os.fork() == 0:\n    os.setsid()\n    time.sleep(60)\n"
        assert pool.run_job({"id": "leaver", "program": leaver}, 5, 512)["passed"]
        (zygote,) = pool.live

        def cmdline(pid):
            try:
                return open(f"/proc/{pid}/cmdline", "rb").read().decode("utf-8", "replace")
            except OSError:
                return ""

        # A fork of the zygote (the sleeper would be one) carries its command line: only unshare
        # and the zygote itself remain once the sample's reply came back.
        mine = [p for p in os.listdir("/proc") if p.isdigit() and str(zygote.dir) in cmdline(p)]
        assert len(mine) == 2, [cmdline(p) for p in mine]
    finally:
        pool.close()


def test_a_zygote_killed_mid_sample_is_replaced_and_the_sample_run_again(pool):
    assert pool.run_job({"id": "warm", "program": "assert 1 + 1 == 2\n"}, 5, 512)["passed"]
    (zygote,) = pool.live
    killer = threading.Timer(0.5, os.killpg, (zygote.proc.pid, signal.SIGKILL))
    killer.start()
    record = pool.run_job({"id": "slow", "program": "import time\ntime.sleep(1.5)\nassert 2 * 2 == 4\n"}, 10, 512)
    killer.join()
    assert (record["passed"], record["result"], pool.restarts) == (True, "passed", 1)
    assert zygote.proc.poll() is not None and zygote not in pool.live
    wrong = pool.run_job({"id": "after", "program": "assert 2 * 2 == 5\n"}, 5, 512)
    assert (wrong["result"], pool.restarts) == ("failed: AssertionError", 1)  # the new zygote serves on


def test_a_zygote_that_dies_on_every_attempt_fails_the_sample_with_the_reason(pool):
    take = pool.take

    def take_a_dead_one():
        zygote = take()
        os.killpg(zygote.proc.pid, signal.SIGKILL)
        zygote.proc.wait()
        return zygote

    pool.take = take_a_dead_one
    with pytest.raises(RuntimeError, match="the sandbox zygote died 2 times running this sample"):
        pool.run_job({"id": "x", "program": "pass\n"}, 5, 512)
    assert pool.restarts == 2
