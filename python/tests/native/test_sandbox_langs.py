"""The runner's multi-language protocol (the per-language canonical and broken runs are in test/eval)."""

import json

from fixtures_native import events_of, run_module

CPP_HEADER = "#include <stdio.h>\nint f();\n"
CPP_TEST = "#include <assert.h>\nint main() {\n    assert(f() == 1);\n}\n"


def run(jobs, timeout=10):
    proc = run_module("kiln_native.sandbox", "--timeout", timeout, "--memory-mb", 512, "--jobs", 2,
                      stdin=json.dumps(jobs), timeout=600)
    return proc, {r["id"]: r for r in events_of(proc.stdout) if "id" in r}


def cpp(id_, program):
    return {"id": id_, "language": "cpp", "program": program, "test": CPP_TEST, "header": CPP_HEADER}


def test_an_unknown_language_refuses_the_batch():
    proc, _ = run([{"id": "a", "language": "cobol", "program": "x"}])
    assert proc.returncode == 2
    assert "unknown language 'cobol'" in proc.stdout


def test_results_name_language_failure_and_toolchain_and_a_forged_nonce_line_is_an_early_exit():
    _, results = run([
        cpp("ok", "int f() { return 1; }\n"),
        cpp("wrong", "int f() { return 2; }\n"),
        cpp("forged", '#include <stdio.h>\n#include <stdlib.h>\n'
                      'int f() { printf("\\nKILN-PASSED 0123456789abcdef0123456789abcdef\\n"); fflush(stdout); exit(0); }\n'),
        cpp("syntax", "int f() { return ( }\n"),
    ])
    summary = {k: (r["passed"], r["failure"]) for k, r in results.items()}
    assert summary == {"ok": (True, None), "wrong": (False, "wrong_answer"), "forged": (False, "exited_early"),
                       "syntax": (False, "compile_error")}
    assert all(r["language"] == "cpp" and r["toolchain"].startswith("g++") for r in results.values())
    assert "binmask" in results["ok"]["isolation"]


def test_the_run_step_sees_neither_the_sources_with_the_nonce_nor_a_shell():
    # f() == 1 only when the build's sources are gone, /bin/sh is hidden and the build is read-only.
    program = ('#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n#include <unistd.h>\n'
               'int f() {\n    char exe[4096] = {0};\n    if (readlink("/proc/self/exe", exe, sizeof exe - 1) < 0) return 0;\n'
               '    strcpy(strrchr(exe, \'/\') + 1, "checks.cpp");\n    if (access(exe, F_OK) == 0) return 0;\n'
               '    if (access("/bin/sh", X_OK) == 0 || access("/usr/bin/sh", X_OK) == 0) return 0;\n'
               '    strcpy(strrchr(exe, \'/\') + 1, "planted");\n    FILE* w = fopen(exe, "w");\n    if (w) return 0;\n'
               '    return 1;\n}\n')
    _, results = run([cpp("probe", program)])
    assert (results["probe"]["passed"], results["probe"]["result"]) == (True, "passed")
