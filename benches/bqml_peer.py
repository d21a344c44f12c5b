"""BigQuery ML instances per second: Quercus vs Google's exported predictor, on the
same machine, in the same run.

What is timed, for both, is the whole path from JSON instances to JSON
predictions, in-process, after the model is loaded: parse each instance line
(JSON), predict the batch, serialise each prediction to a JSON string.

* Google's predictor: `bigquery_ml_utils.inference.xgboost_predictor.Predictor`
  (bigquery-ml-utils 1.5.0 on XGBoost 3.0.1 + numpy 1.26.4, the oracle
  environment of scripts/test.sh), timed with time.perf_counter inside one
  Python process: json.loads per line, predictor.predict(batch), json.dumps per
  prediction.
* Quercus: `quercus bench-instances EXPORT --input FILE --batch B --runs R`
  (a hidden subcommand of the release CLI), timed with std::time::Instant inside
  one process: serde_json parse per line, Model::predict_instances(batch),
  serde_json serialisation per prediction. Process start-up and model loading
  are excluded for both.

Each measurement waits until the machine is quiet (other processes using less
than 0.15 core over 3 s; the machine is shared with builds), records the CPU
that other processes used while it ran, and is repeated (up to 5 times, the
quietest kept) when that exceeded 0.3 core.

Both use their default threading (XGBoost: all cores; Quercus: all cores for
batches of 2048 rows or more, the calling thread below that).

usage (from the repository root, after scripts/test.sh or at least
`cargo build --release -p quercus-cli` and the oracle install):
    .venv/bin/python benches/bqml_peer.py [--runs 5] [--n 20000] [--n-single 300] [--write]

--write replaces the "## BigQuery ML instances" section of BENCHMARKS.md (other
sections are kept).
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "python" / "tests"))

EXPORTS = ["synthetic_churn_classifier", "synth_regressor_arrays", "boosted_tree_cox_model"]


def oracle_worker(export: str, path: str, batch: int, runs: int) -> None:
    """Runs inside the oracle environment; prints one JSON object."""
    import bqml_oracle  # noqa: PLC0415

    predictor = bqml_oracle.open_export(export)
    lines = [line for line in Path(path).read_text().splitlines() if line.strip()]
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        out = []
        for s in range(0, len(lines), batch):
            instances = [json.loads(line) for line in lines[s:s + batch]]
            for p in predictor.predict(instances):
                out.append(json.dumps(p))
        times.append(time.perf_counter() - t0)
    print(json.dumps({"runs_seconds": times, "median_seconds": statistics.median(times),
                      "instances_per_second": len(lines) / statistics.median(times)}))


def busy_cores(seconds: float = 3.0) -> float:
    """CPU cores in use on the machine over `seconds` (from /proc/stat)."""
    def sample():
        with open("/proc/stat") as fh:
            f = [int(x) for x in fh.readline().split()[1:]]
        idle = f[3] + f[4]
        return sum(f) - idle, sum(f)
    b0, t0 = sample()
    time.sleep(seconds)
    b1, t1 = sample()
    return (b1 - b0) / max(t1 - t0, 1) * (os.cpu_count() or 1)


def machine_busy_seconds() -> float:
    """CPU seconds used on the whole machine so far (from /proc/stat)."""
    with open("/proc/stat") as fh:
        f = [int(x) for x in fh.readline().split()[1:]]
    return (sum(f) - f[3] - f[4]) / os.sysconf("SC_CLK_TCK")


def measured(fn, limit: float, max_wait: float, tries: int = 5):
    """Runs fn() (which runs one child process) when the machine is quiet, and
    again (up to `tries` times) if other processes used more than `limit` cores
    while it ran. Returns (result, other cores during the run)."""
    import resource  # noqa: PLC0415
    best = None
    for _ in range(tries):
        wait_quiet(limit, max_wait)
        b0, c0, t0 = machine_busy_seconds(), resource.getrusage(resource.RUSAGE_CHILDREN), time.time()
        res = fn()
        b1, c1, t1 = machine_busy_seconds(), resource.getrusage(resource.RUSAGE_CHILDREN), time.time()
        child = (c1.ru_utime - c0.ru_utime) + (c1.ru_stime - c0.ru_stime)
        other = max(0.0, (b1 - b0 - child) / max(t1 - t0, 1e-9))
        if best is None or other < best[1]:
            best = (res, other)
        if other <= limit * 2:
            break
    return best


def wait_quiet(limit: float = 0.15, max_wait: float = 600.0) -> float:
    """Waits until other processes use less than `limit` cores (the machine is
    shared with builds); returns the last reading."""
    start = time.time()
    while True:
        busy = busy_cores()
        if busy < limit or time.time() - start > max_wait:
            if busy >= limit:
                print(f"warning: the machine is still busy ({busy:.2f} cores)", flush=True)
            return busy


def quercus_bin() -> str:
    env = os.environ.get("QUERCUS_BIN")
    if env:
        return env
    p = ROOT / "target" / "release" / "quercus"
    if not p.exists():
        sys.exit("build it first: cargo build --release -p quercus-cli")
    return str(p)


def run_oracle(export: Path, path: Path, batch: int, runs: int) -> dict:
    oracle = Path(os.environ.get("BQML_ORACLE", ROOT / ".venv" / "bqml-oracle"))
    env = dict(os.environ, PYTHONPATH=f"{oracle}{os.pathsep}{ROOT / 'python' / 'tests'}")
    r = subprocess.run([sys.executable, __file__, "--oracle-worker", str(export), str(path),
                        str(batch), str(runs)], capture_output=True, text=True, env=env, check=True)
    return json.loads(r.stdout.strip().splitlines()[-1])


def run_quercus(export: Path, path: Path, batch: int, runs: int) -> dict:
    r = subprocess.run([quercus_bin(), "bench-instances", str(export), "--input", str(path),
                        "--batch", str(batch), "--runs", str(runs)],
                       capture_output=True, text=True, check=True)
    return json.loads(r.stdout)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--oracle-worker":
        oracle_worker(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
        return
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--n", type=int, default=20000, help="instances for the batch mode")
    ap.add_argument("--n-single", type=int, default=300, help="instances for one-per-request")
    ap.add_argument("--write", action="store_true", help="update BENCHMARKS.md")
    ap.add_argument("--exports", nargs="*", default=EXPORTS)
    ap.add_argument("--quiet-limit", type=float, default=0.15,
                    help="wait until other processes use fewer cores than this")
    ap.add_argument("--max-wait", type=float, default=600.0, help="seconds to wait at most")
    args = ap.parse_args()

    import bqml_random  # noqa: PLC0415

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.exports:
            export = ROOT / "models" / "bqml" / name
            meta, schema = bqml_random.load_schema(str(export))
            rng = random.Random(42)
            for mode, n, batch in [("batch", args.n, args.n), ("one per request", args.n_single, 1)]:
                path = Path(tmp) / f"{name}-{n}.jsonl"
                if not path.exists():
                    insts = [bqml_random.random_instance(rng, meta, schema) for _ in range(n)]
                    path.write_text("".join(json.dumps(i) + "\n" for i in insts))
                q, busy_q = measured(lambda: run_quercus(export, path, batch, args.runs),
                                     args.quiet_limit, args.max_wait)
                g, busy_g = measured(lambda: run_oracle(export, path, batch, args.runs),
                                     args.quiet_limit, args.max_wait)
                ratio = q["instances_per_second"] / g["instances_per_second"]
                busy = max(busy_q, busy_g)
                rows.append((name, mode, n, g["instances_per_second"], q["instances_per_second"],
                             ratio, busy))
                print(f"{name:<28} {mode:<16} n={n:<6} google {g['instances_per_second']:>12,.0f}/s"
                      f"  quercus {q['instances_per_second']:>12,.0f}/s  x{ratio:,.1f}"
                      f"  (other processes: {busy:.2f} cores)", flush=True)
    table = ["| export | request size | instances | Google's predictor (instances/s) "
             "| Quercus (instances/s) | ratio | other processes (cores) |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for name, mode, n, g, q, ratio, busy in rows:
        size = f"all {n} in one call" if mode == "batch" else "1 instance per call"
        table.append(f"| {name} | {size} | {n} | {g:,.0f} | {q:,.0f} | {ratio:,.1f}x | {busy:.2f} |")
    print()
    print("\n".join(table))
    if args.write:
        write_section(section(args, table), ROOT / "BENCHMARKS.md")
        print("\nwrote BENCHMARKS.md")


SECTION = "## BigQuery ML instances"


def section(args, table) -> str:
    cpu = "unknown"
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        cpu = re.search(r"Model name:\s*(.+)", out).group(1).strip()
    except Exception:  # noqa: BLE001
        pass
    cmd = (f".venv/bin/python benches/bqml_peer.py --runs {args.runs} --n {args.n} "
           f"--n-single {args.n_single} --write")
    return "\n".join([
        SECTION,
        "",
        "Instances per second from JSON instances to JSON predictions (parse each instance, "
        "encode, predict, serialise each prediction), Quercus against Google's exported "
        "predictor (`bigquery_ml_utils` 1.5.0 on XGBoost 3.0.1 + numpy 1.26.4), on the same "
        "machine in the same run. Both are timed in-process after loading the model (Quercus "
        "through the release CLI's hidden `bench-instances` subcommand, the predictor with "
        "`time.perf_counter` around `json.loads` + `Predictor.predict` + `json.dumps`), with "
        "their default threading (XGBoost: both cores; Quercus: both cores for 2048 instances "
        "or more). Medians of the runs; each measurement waited for a quiet machine and "
        "records the CPU other processes used meanwhile.",
        "",
        f"- command: `{cmd}` (after `scripts/test.sh`, which builds the release CLI and "
        "installs the oracle)",
        f"- machine: {cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}",
        f"- date: {datetime.date.today().isoformat()}; {args.runs} runs per figure, "
        "random instances from `python/tests/bqml_random.py` (seed 42)",
        "- exports: `models/bqml/` (synthetic_churn_classifier: 240 trees of depth 6, 3 "
        "classes, 10 columns; synth_regressor_arrays: 30 trees, every array encoding; "
        "boosted_tree_cox_model: Google's real Cox export, 12 columns)",
        "",
        *table,
        "",
        "One instance per call is what an online endpoint sees: there the predictor's fixed "
        "cost per call (a numpy array, an XGBoost DMatrix, `Booster.predict`) dominates, "
        "whatever the model. In large batches XGBoost's C++ prediction is "
        "fast and the predictor's Python encoding (`list.index` look-ups, per-row lists) "
        "dominates; on Quercus' side the JSON parsing and serialisation cost about as much as "
        "encoding and predicting together.",
        "",
    ])


def write_section(text: str, path: Path) -> None:
    """Replaces (or appends) SECTION in BENCHMARKS.md, keeping everything else."""
    old = path.read_text() if path.exists() else "# Benchmarks\n"
    lines = old.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.rstrip() == SECTION), None)
    if start is None:
        new = old.rstrip("\n") + "\n\n" + text
    else:
        end = next((i for i in range(start + 1, len(lines))
                    if re.match(r"^## (?!#)", lines[i])), len(lines))
        new = "".join(lines[:start]) + text + ("\n" if end < len(lines) else "") \
            + "".join(lines[end:])
    path.write_text(new.rstrip("\n") + "\n")


if __name__ == "__main__":
    main()
