"""Offline toolchain state for the multi-language sandbox, made once at bootstrap.

    python -m kiln_native.sandbox_toolchains setup     # network: fetches testify and the crates
    python -m kiln_native.sandbox_toolchains versions  # JSON: language -> toolchain version

Everything lives under $KILN_EVAL_HOME (default <repo>/.kiln/eval), readable by the sandbox user:
  go/mod       GOMODCACHE with github.com/stretchr/testify v1.8.0 (the version CodeGeeX pinned)
  go/cache     GOCACHE, warmed with the standard library and testify; writable by the sandbox
               user during compile steps only (run steps see it read-only)
  go/template  go.mod + go.sum every Go sample starts from (GOFLAGS=-mod=mod, GOPROXY=off)
  rust/sysroot the rustc toolchain hard-linked out of ~/.rustup (unreachable for uid nobody)
  rust/deps    a cargo project whose release build holds rand, regex and md5 as rlibs; samples
               are compiled by rustc directly against them (--extern), so a sample compiles
               only its own code and cargo never runs at eval time
  java/javac.jsa  a class-data-sharing archive of javac's own classes (halves javac's start)
  cpp/kiln_pch.h.gch  the standard headers the C++ problems include, precompiled
"""

import json
import os
import shutil
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SANDBOX_UID = 65534
TESTIFY = "v1.8.0"
# CodeGeeX's versions: the canonical solutions use rand 0.4's gen_range(low, high).
RUST_DEPS = {"rand": "0.4.6", "regex": "1.10.6", "md5": "0.7.0"}
PATH = "/usr/local/go/bin:/usr/local/bin:/usr/bin:/bin"


def eval_home() -> Path:
    return Path(os.environ.get("KILN_EVAL_HOME") or REPO / ".kiln" / "eval")


def _which(name):
    found = shutil.which(name, path=os.environ.get("PATH", "") + ":" + PATH)
    if not found:
        raise RuntimeError(f"{name} is not installed: the eval sandbox needs it (see scripts/bootstrap.sh)")
    return found


def esbuild_binary() -> Path:
    return REPO / "node_modules" / "@esbuild" / "linux-x64" / "bin" / "esbuild"


def _run(cmd, **kwargs):
    print("+", " ".join(str(c) for c in cmd), file=sys.stderr, flush=True)
    subprocess.run([str(c) for c in cmd], check=True, **kwargs)


def _chown_tree(path, uid):
    for root, dirs, files in os.walk(path):
        for name in [*dirs, *files]:
            os.lchown(os.path.join(root, name), uid, uid)
    os.lchown(path, uid, uid)


def _open_up(path):
    """Every directory from / to path searchable by others, so the sandbox user reaches it."""
    for d in [Path(path), *Path(path).parents]:
        mode = os.stat(d).st_mode
        if not mode & 0o001:
            os.chmod(d, mode | 0o001)


def setup_go(home: Path):
    go = home / "go"
    tmpl = go / "template"
    tmpl.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "GOMODCACHE": str(go / "mod"), "GOCACHE": str(go / "cache"), "GOFLAGS": "-mod=mod",
           "GOTOOLCHAIN": "local", "CGO_ENABLED": "0"}
    (tmpl / "go.mod").write_text("module kilneval\n\ngo 1.18\n")
    (tmpl / "warm_test.go").write_text('package main\n\nimport (\n\t"testing"\n\t"github.com/stretchr/testify/assert"\n)\n\n'
                                       'func TestWarm(t *testing.T) { assert.New(t).Equal(1, 1) }\n')
    _run([_which("go"), "get", f"github.com/stretchr/testify@{TESTIFY}"], cwd=tmpl, env=env)
    # Warm the build cache with what every sample links: std, testing, testify.
    _run([_which("go"), "test", "-vet=off", "-c", "-o", os.devnull, "."], cwd=tmpl, env=env)
    (tmpl / "warm_test.go").unlink()
    _chown_tree(go / "cache", SANDBOX_UID)


def setup_rust(home: Path):
    rust = home / "rust"
    sysroot = Path(subprocess.run([_which("rustc"), "--print", "sysroot"], check=True, capture_output=True,
                                  text=True).stdout.strip())
    target = rust / "sysroot"
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    # Hard links: no copy of 1 GB, and readable by nobody without opening ~root.
    for part in ("bin", "lib"):
        _run(["cp", "-al", sysroot / part, target / part])
    deps = rust / "deps"
    (deps / "src").mkdir(parents=True, exist_ok=True)
    lines = "\n".join(f'{name} = "={version}"' for name, version in RUST_DEPS.items())
    (deps / "Cargo.toml").write_text(f'[package]\nname = "kiln-eval-deps"\nversion = "0.0.0"\nedition = "2021"\n\n'
                                     f'[dependencies]\n{lines}\n')
    (deps / "src" / "lib.rs").write_text("pub use md5; pub use rand; pub use regex;\n")
    out = subprocess.run([_which("cargo"), "build", "--release", "--message-format=json"], cwd=deps, check=True,
                         capture_output=True, text=True).stdout
    externs = {}
    for line in out.splitlines():
        msg = json.loads(line)
        if msg.get("reason") == "compiler-artifact" and msg["target"]["name"] in RUST_DEPS:
            externs[msg["target"]["name"]] = next(f for f in msg["filenames"] if f.endswith(".rlib"))
    missing = set(RUST_DEPS) - set(externs)
    if missing:
        raise RuntimeError(f"cargo built no rlib for {sorted(missing)}")
    (rust / "externs.json").write_text(json.dumps(externs, indent=1))


def setup_java(home: Path):
    java = home / "java"
    java.mkdir(parents=True, exist_ok=True)
    work = java / "warm"
    work.mkdir(exist_ok=True)
    (work / "Main.java").write_text("import java.util.*;\nclass Solution { List<Integer> f() { return new ArrayList<>(); } }\n"
                                    "public class Main { public static void main(String[] a) { "
                                    "if (!new Solution().f().isEmpty()) throw new AssertionError(); } }\n")
    archive = java / "javac.jsa"
    _run([_which("javac"), "-J-XX:ArchiveClassesAtExit=" + str(archive), "-J-Xshare:auto", "-d", work, work / "Main.java"])
    shutil.rmtree(work)


# The standard headers HumanEval-X's C++ declarations include, precompiled once: a sample then
# compiles its own code only (about a third of the compiler's time without it).
CPP_PCH_HEADERS = ["stdio.h", "stdlib.h", "math.h", "string.h", "assert.h", "string", "vector", "algorithm", "map",
                   "set", "climits"]
CPP_FLAGS = ["-std=c++17", "-O0"]


def cpp_pch_header(home=None) -> Path:
    return (home or eval_home()) / "cpp" / "kiln_pch.h"


def setup_cpp(home: Path):
    header = cpp_pch_header(home)
    header.parent.mkdir(parents=True, exist_ok=True)
    header.write_text("".join(f"#include <{h}>\n" for h in CPP_PCH_HEADERS))
    _run([_which("g++"), *CPP_FLAGS, "-x", "c++-header", header, "-o", str(header) + ".gch"])


def setup(languages=("go", "rust", "java", "cpp")):
    home = eval_home()
    home.mkdir(parents=True, exist_ok=True)
    for lang in languages:
        {"go": setup_go, "rust": setup_rust, "java": setup_java, "cpp": setup_cpp}[lang](home)
    _open_up(home)
    for root, dirs, files in os.walk(home):
        for name in dirs:
            p = os.path.join(root, name)
            os.chmod(p, os.stat(p).st_mode | 0o005)
    (home / "ready").write_text(json.dumps(versions()) + "\n")


def _version(cmd, pick=lambda text: text.strip().splitlines()[0]):
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        return pick(done.stdout + done.stderr)
    except (OSError, subprocess.SubprocessError, IndexError):
        return "unavailable"


@lru_cache(maxsize=None)
def version_of(language) -> str:
    """The toolchain a language runs with, as its tools print it (cached per process)."""
    if language == "python":
        return f"python {sys.version.split()[0]}"
    if language == "javascript":
        return "node " + _version(["node", "--version"])
    if language == "typescript":
        return f"node {_version(['node', '--version'])} + esbuild {_version([str(esbuild_binary()), '--version'])}"
    if language == "go":
        return _version([_which("go"), "version"]) + f" + testify {TESTIFY}"
    if language == "java":
        return _version(["javac", "-version"]) + " / " + _version(["java", "-version"])
    if language == "rust":
        rustc = eval_home() / "rust" / "sysroot" / "bin" / "rustc"
        crates = ", ".join(f"{k} {v}" for k, v in RUST_DEPS.items())
        return _version([str(rustc) if rustc.exists() else "rustc", "--version"]) + f" + {crates}"
    if language == "cpp":
        return _version(["g++", "--version"])
    return "unknown"


def versions():
    return {lang: version_of(lang) for lang in ("python", "javascript", "typescript", "go", "java", "rust", "cpp")}


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    if command == "setup":
        setup(tuple(sys.argv[2:]) or ("go", "rust", "java", "cpp"))
    elif command == "versions":
        print(json.dumps(versions(), indent=1))
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
