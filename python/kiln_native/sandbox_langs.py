"""How each language's sample is laid out, compiled, run and judged inside the sandbox.

One table (LANGUAGES) for every language but Python (Python keeps its in-process wrapper,
sandbox_child.py). The TypeScript side (activities/eval/languages/) assembles a job's untrusted
`program` (prompt + completion), its trusted `test` and a trusted `header`; this module adds the
trusted harness around them, with the run's nonce, and names the commands. The README's
"Languages" table documents both halves.

Pass criterion, every language: the run step exits 0 AND its stdout holds the line
`KILN-PASSED <nonce>`, printed by the trusted harness only after every check ran. The nonce is
fresh per job. Compiled languages (Go, Rust, Java, C++) get it in the harness source, which is
deleted before the run step (the program only ever sees the compiled artifact); Node gets it on
an inherited pipe that the harness reads and closes before the program loads.
"""

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from kiln_native.sandbox_toolchains import CPP_FLAGS, cpp_pch_header, esbuild_binary, eval_home

MARK = "KILN-PASSED"


@dataclass(frozen=True)
class Limits:
    memory_mb: int  # address space (RLIMIT_AS); 0: the job's --memory-mb
    nproc: int  # tasks (processes + threads) in the sandbox's user namespace
    timeout_s: float = 0  # 0: the job's --timeout
    extra_memory_mb: int = 0  # added to the job's memory (runtimes that reserve address space)


@dataclass
class Build:
    """What the runner needs for one job: files, steps, environment."""
    files: dict  # name -> text, written into the build directory
    compile: list | None  # argv, run with cwd = build dir (writable), or None
    run: list  # argv, run with cwd = a fresh scratch dir; build dir read-only
    delete_before_run: list = field(default_factory=list)  # build files the run must not see
    env: dict = field(default_factory=dict)
    compile_writable: list = field(default_factory=list)  # shared caches the compiler writes
    nonce_fd: bool = False  # Node: the nonce arrives on a pipe, fd number as argv[2]


@dataclass(frozen=True)
class Language:
    name: str
    build: Callable  # (job, nonce, build_dir) -> Build
    compile_limits: Limits | None
    run_limits: Limits
    wrong_answer: re.Pattern  # stdout+stderr of a failed run that means "a check failed"
    compile_error: re.Pattern | None = None  # run-step output meaning "did not compile" (Node)


# --- Node (JavaScript, TypeScript) ------------------------------------------------------------

# The trusted entry point. Before the program loads it: reads the nonce and closes its fd; makes
# console.assert throw (Node's only prints); freezes console, assert and the intrinsics the checks
# use, so a completion cannot redefine what judges it. The program then runs as a script and the
# checks run in a function whose `console`, `require` are the trusted ones (a completion's
# top-level `const console = ...` cannot shadow them). Only after the checks return does it
# write the nonce line.
NODE_HARNESS = r"""'use strict';
const fs = require('node:fs');
const vm = require('node:vm');
const assert = require('node:assert');
const fd = Number(process.argv[2]);
const nonce = fs.readFileSync(fd, 'utf8').trim();
fs.closeSync(fd);
const [programFile, testFile] = process.argv.slice(3);
process.argv.length = 2;
const writeSync = fs.writeSync;
const exit = process.exit.bind(process);
class KilnAssertionError extends Error {}
KilnAssertionError.prototype.name = 'AssertionError';
const consoleAssert = (ok, ...message) => {
  if (!ok) throw new KilnAssertionError('console.assert failed' + (message.length ? ': ' + message.join(' ') : ''));
};
Object.defineProperty(console, 'assert', { value: consoleAssert, writable: false, configurable: false });
for (const o of [console, assert, assert.strict, JSON, Math, Reflect, Object, Object.prototype, Array, Array.prototype,
  String, String.prototype, Number, Number.prototype, Boolean, Boolean.prototype, Function.prototype, Map,
  Map.prototype, Set, Set.prototype, Error, Error.prototype, Symbol, BigInt, BigInt.prototype]) Object.freeze(o);
Object.defineProperty(globalThis, 'console', { value: console, writable: false, configurable: false });
// The program may require a few pure modules; `js-md5` (which HumanEval-X's JavaScript/162 uses)
// is served by node's crypto. Anything else (child_process, net, fs...) is refused here, and the
// OS layers hold regardless.
const crypto = require('node:crypto');
const jsMd5 = Object.freeze((text) => crypto.createHash('md5').update(String(text)).digest('hex'));
const allowed = { assert, crypto, util: require('node:util'), 'js-md5': jsMd5 };
const programRequire = (name) => {
  const key = String(name).replace(/^node:/, '');
  if (!Object.prototype.hasOwnProperty.call(allowed, key)) throw new Error(`sandbox: require(${JSON.stringify(name)}) is not allowed`);
  return allowed[key];
};
Object.defineProperty(globalThis, 'require', { value: programRequire, writable: false, configurable: false });
const source = (file) => fs.readFileSync(file, 'utf8');
const fail = (kind, error) => {
  writeSync(2, String((error && error.stack) || error) + '\n');
  writeSync(1, '\nKILN-FAILED ' + kind + '\n');
  exit(1);
};
let checks;
try {
  checks = vm.runInThisContext('(function (console, require, assert) {' + source(testFile) + '\n})', { filename: 'test.js' });
} catch (error) {
  fail('test-does-not-parse', error);
}
try {
  vm.runInThisContext(source(programFile), { filename: 'program.js' });
} catch (error) {
  fail(error instanceof SyntaxError ? 'compile_error' : 'crash', error);
}
try {
  checks(console, require, assert);
} catch (error) {
  fail(error && error.name === 'AssertionError' ? 'wrong_answer' : 'crash', error);
}
writeSync(1, '\nKILN-PASSED ' + nonce + '\n');
exit(0);
"""

NODE_FLAGS = ["--max-old-space-size={heap}", "--stack-size=2048", "--disallow-code-generation-from-strings"]


def _node_run(heap_mb, program, test):
    return ["/usr/bin/node", *(f.format(heap=heap_mb) for f in NODE_FLAGS), "{build}/harness.js", "{nonce_fd}",
            f"{{build}}/{program}", f"{{build}}/{test}"]


def build_javascript(job, nonce, memory_mb):
    files = {"harness.js": NODE_HARNESS, "program.js": job["program"], "test.js": job.get("test", "")}
    return Build(files=files, compile=None, run=_node_run(memory_mb, "program.js", "test.js"), nonce_fd=True)


def build_typescript(job, nonce, memory_mb):
    # Type-stripping with esbuild (already installed: tsx depends on it): node 20 cannot strip
    # types itself, and a type-checking compile (tsc, ~1.5 s a file) would fail programs that run
    # fine; HumanEval/MultiPL-E judge behaviour, not types. esbuild keeps the script form.
    files = {"harness.js": NODE_HARNESS, "program.ts": job["program"], "test.ts": job.get("test", "")}
    compile_cmd = [str(esbuild_binary()), "program.ts", "test.ts", "--outdir=.", "--log-level=warning",
                   "--target=node20"]
    return Build(files=files, compile=compile_cmd, run=_node_run(memory_mb, "program.js", "test.js"), nonce_fd=True,
                 delete_before_run=["program.ts", "test.ts"])


# --- Go -------------------------------------------------------------------------------------------

GO_IMPORTS = re.compile(r'^\s*import\s*(?:\(([^)]*)\)|("[^"]+"))', re.S)


def _go_split_imports(text):
    """(import specs, rest) of Go source that starts with import declarations (after a package clause)."""
    text = re.sub(r"^\s*package\s+\w+\s*\n", "", text, count=1)
    specs = []
    while True:
        m = GO_IMPORTS.match(text)
        if not m:
            return specs, text
        specs += [line.strip() for line in (m.group(1) or m.group(2)).splitlines() if line.strip()]
        text = text[m.end():]


# Imported when the source uses them (CodeGeeX's rule: the prompt's own import block is dropped,
# since Go rejects unused imports and a completion rarely uses all the prompt imported). "os" is
# ours: completions call os.Exit and the like, which must reach the sandbox and fail there, not
# fail to compile.
GO_HELPER_PACKAGES = ["math", "strings", "fmt", "strconv", "time", "bytes", "regexp", "sort", "math/rand", "crypto/md5",
                      "os"]


def _prepared(path: Path) -> Path:
    if not path.exists():
        raise RuntimeError(f"{path} is missing: run scripts/bootstrap.sh (python -m kiln_native.sandbox_toolchains setup)")
    return path


def go_test_source(job):
    """The one Go test file: merged imports (see GO_HELPER_PACKAGES), prompt body, completion, test."""
    setup_specs, _ = _go_split_imports(job.get("header", ""))
    _, program = _go_split_imports(job["program"])
    body = program + "\n" + job.get("test", "")
    specs = list(dict.fromkeys(setup_specs))
    code = re.sub(r"//[^\n]*|/\*.*?\*/", "", body, flags=re.S)  # "strings." in a comment is no use
    for pkg in GO_HELPER_PACKAGES:
        if f'"{pkg}"' not in specs and re.search(r"(?<![\w.])" + pkg.split("/")[-1] + r"\.", code):
            specs.append(f'"{pkg}"')
    return "package main\n\nimport (\n" + "".join(f"\t{s}\n" for s in specs) + ")\n\n" + body


def build_go(job, nonce, memory_mb):
    home = _prepared(eval_home() / "go")
    template = home / "template"
    source = go_test_source(job)
    harness = ('package main\n\nimport (\n\t"os"\n\t"testing"\n)\n\n'
               "// Trusted: the nonce line only when every test ran and passed.\n"
               "func TestMain(m *testing.M) {\n\tcode := m.Run()\n"
               f'\tif code == 0 {{\n\t\tos.Stdout.WriteString("\\n{MARK} {nonce}\\n")\n\t}}\n\tos.Exit(code)\n}}\n')
    files = {"go.mod": (template / "go.mod").read_text(), "go.sum": (template / "go.sum").read_text(),
             "program_test.go": source, "zz_kiln_main_test.go": harness}
    env = {"GOCACHE": str(home / "cache"), "GOMODCACHE": str(home / "mod"), "GOFLAGS": "-mod=mod",
           "GOPROXY": "off", "GOTOOLCHAIN": "local", "CGO_ENABLED": "0", "GOTELEMETRY": "off",
           "GOPATH": "{build}/.gopath", "GOMAXPROCS": "2",
           "TMPDIR": "{build}/.tmp"}  # go ignores a go.mod at the root of TMPDIR
    files[".tmp/.keep"] = ""
    return Build(files=files, env=env, compile_writable=[str(home / "cache")],
                 compile=["go", "test", "-c", "-vet=off", "-ldflags=-s -w", "-o", "prog.test", "."],
                 run=["{build}/prog.test", "-test.count=1", "-test.timeout=0"],
                 delete_before_run=[n for n in files if n.endswith(".go")])


# --- Rust -----------------------------------------------------------------------------------------

# Path-qualified macros cannot be shadowed by a completion's `macro_rules! assert_eq`.
RUST_MACROS = re.compile(r"(?<![\w:])(assert|assert_eq|assert_ne|panic)!")


def build_rust(job, nonce, memory_mb):
    home = eval_home() / "rust"
    externs = json.loads(_prepared(home / "externs.json").read_text())
    test = RUST_MACROS.sub(r"::std::\1!", job.get("test", ""))
    # libtest runs tests in name order with --test-threads=1: this one runs last and prints the
    # nonce; an earlier failure still fails the run (exit 101), an early exit never reaches it.
    harness = (f"\n#[cfg(test)]\nmod zzzz_kiln {{\n    #[test]\n    fn zzzz_nonce() {{\n"
               f'        use ::std::io::Write;\n        let _ = ::std::io::stdout().write_all(b"\\n{MARK} {nonce}\\n");\n'
               f"    }}\n}}\n")
    files = {"main.rs": job["program"] + "\n" + test + harness}
    compile_cmd = [str(home / "sysroot" / "bin" / "rustc"), "--edition", "2021", "--test", "-A", "warnings",
                   "-C", "debuginfo=0", "-C", "opt-level=1", "-L", f"dependency={home / 'deps' / 'target' / 'release' / 'deps'}",
                   *[a for name, path in sorted(externs.items()) for a in ("--extern", f"{name}={path}")],
                   "-o", "prog", "main.rs"]
    return Build(files=files, compile=compile_cmd, run=["{build}/prog", "--test-threads=1", "--nocapture"],
                 delete_before_run=["main.rs"])


# --- Java -----------------------------------------------------------------------------------------

# Single-type imports shadow same-package classes of other files: a completion that declares its
# own `Arrays`, `List` or `AssertionError` cannot change what the checks call.
JAVA_TRUSTED_TYPES = {
    "java.lang": ["AssertionError", "Boolean", "Character", "Double", "Float", "Integer", "Long", "Math", "Object",
                  "String", "StringBuilder", "System", "Exception", "RuntimeException", "Runtime", "Throwable"],
    "java.util": ["ArrayList", "Arrays", "Collections", "HashMap", "HashSet", "LinkedList", "List", "Map",
                  "Objects", "Optional", "Set", "TreeMap", "TreeSet"],
}
JAVA_IMPORTS = "".join(f"import {pkg}.{name};\n" for pkg, names in JAVA_TRUSTED_TYPES.items() for name in names)
JVM_FLAGS = ["-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-XX:CICompilerCount=1", "-Xshare:auto",
             "-XX:ReservedCodeCacheSize=32m", "-XX:CompressedClassSpaceSize=64m", "-XX:MaxMetaspaceSize=128m"]


def build_java(job, nonce, memory_mb):
    harness = (JAVA_IMPORTS + "\npublic class KilnMain {\n    public static void main(String[] args) throws Throwable {\n"
               "        Main.main(args);\n"
               f'        System.out.print("\\n{MARK} {nonce}\\n");\n        System.out.flush();\n'
               "        Runtime.getRuntime().halt(0);\n    }\n}\n")
    files = {"Solution.java": job["program"], "Main.java": job.get("header", "") + JAVA_IMPORTS + job.get("test", ""),
             "KilnMain.java": harness}
    jsa = eval_home() / "java" / "javac.jsa"
    cds = [f"-J-XX:SharedArchiveFile={jsa}"] if jsa.exists() else []
    compile_cmd = ["/usr/bin/javac", *cds, *(f"-J{f}" for f in JVM_FLAGS), "-J-Xmx512m", "-nowarn",
                   "-encoding", "UTF-8", "-d", ".", "Solution.java", "Main.java", "KilnMain.java"]
    run = ["/usr/bin/java", *JVM_FLAGS, f"-Xmx{max(64, memory_mb // 2)}m", "-Xss8m", "-cp", "{build}", "KilnMain"]
    return Build(files=files, compile=compile_cmd, run=run, delete_before_run=list(files))


# --- C++ ------------------------------------------------------------------------------------------

def build_cpp(job, nonce, memory_mb):
    # Two translation units: the program's macros (#define assert(x), #define main ...) cannot
    # reach the checks, which see the problem's own declaration only.
    checks = (job.get("header", "") + "\n#define main kiln_checks\n" + job.get("test", "") + "\n#undef main\n"
              "#include <cstdio>\n#include <unistd.h>\n"
              f'int main() {{\n    kiln_checks();\n    static const char mark[] = "\\n{MARK} {nonce}\\n";\n'
              "    fflush(stdout);\n    if (write(1, mark, sizeof mark - 1) < 0) return 3;\n    _exit(0);\n}\n")
    files = {"program.cpp": job["program"], "checks.cpp": checks}
    pch = cpp_pch_header()
    pch_flags = ["-include", str(pch)] if Path(str(pch) + ".gch").exists() else []
    # -lcrypto as CodeGeeX links it: CPP/162 calls OpenSSL's MD5.
    compile_cmd = ["/usr/bin/g++", *CPP_FLAGS, *pch_flags, "-w", "-pipe", "-o", "prog", "program.cpp", "checks.cpp",
                   "-lcrypto"]
    if not job.get("header"):  # MultiPL-E: prompt + completion + tests in one file
        files = {"program.cpp": job["program"] + "\n#define main kiln_checks\n" + job.get("test", "") + "\n#undef main\n"
                 + checks.split("#undef main\n", 1)[1]}
        compile_cmd.remove("checks.cpp")
    return Build(files=files, compile=compile_cmd, run=["{build}/prog"], delete_before_run=list(files))


COMPILER = Limits(memory_mb=4096, nproc=96, timeout_s=60)
LANGUAGES = {
    "javascript": Language("javascript", build_javascript, None, Limits(0, 32, extra_memory_mb=4096),
                           re.compile(r"KILN-FAILED wrong_answer"), re.compile(r"KILN-FAILED compile_error")),
    "typescript": Language("typescript", build_typescript, Limits(2048, 32, 30),
                           Limits(0, 32, extra_memory_mb=4096),
                           re.compile(r"KILN-FAILED wrong_answer"), re.compile(r"KILN-FAILED compile_error")),
    "go": Language("go", build_go, COMPILER, Limits(0, 48, extra_memory_mb=512), re.compile(r"Error Trace:")),
    "rust": Language("rust", build_rust, COMPILER, Limits(0, 16),
                     re.compile(r"assertion (`left == right` )?failed|assertion `left != right` failed")),
    "java": Language("java", build_java, COMPILER, Limits(0, 48, extra_memory_mb=1024),
                     re.compile(r"java\.lang\.AssertionError")),
    "cpp": Language("cpp", build_cpp, COMPILER, Limits(0, 8), re.compile(r"Assertion .* failed")),
}


def substitute(argv, **values):
    out = []
    for arg in argv:
        for key, value in values.items():
            arg = arg.replace("{" + key + "}", str(value))
        out.append(arg)
    return out


def passed_marker(stdout_text, nonce):
    return f"\n{MARK} {nonce}\n" in "\n" + stdout_text


def language_of(job) -> str:
    return job.get("language") or "python"


def build_dir_for(job_dir: Path) -> Path:
    return job_dir / "build"
