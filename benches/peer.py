"""Tree-ensemble prediction: Quercus against the peer engines, on the same models
and test data, side by side in one run; writes the table into BENCHMARKS.md.

    benches/setup_peers.sh                            # once: peer venvs (PyPI, pinned)
    .venv/bin/python benches/gen_models.py            # once: models + data (~10 min)
    target/peer-venvs/peers/bin/python benches/peer.py [--runs 3] [--models M1,M2]

Engines (all on 100,000-row float32 batches of the generated test data):
* Quercus: the Rust API through `target/release/qbench` (benches/src/bin/qbench.rs,
  built here), `Forest::predict` (one row: `Forest::predict_into`), Interleaved
  and Reference kernels, 1 and 2 threads; one-row latency on the calling thread
  (median and p99); load time of JSON, UBJ and `.qpack` (`quercus compile`).
  The host's own two-core ceiling: two 1-thread qbench processes at once,
  against 1-thread runs just before and after.
* XGBoost 3.2.0 `Booster.inplace_predict`, `nthread` 1 and 2.
* oneDAL: `daal4py.mb.convert_model` + `predict_proba`/`predict` (scikit-learn-intelex
  2026.2.0, its own venv), `daalinit(1)` and `daalinit(2)`, in a worker process.
* tl2cgen 1.0.0: `export_lib` (gcc -O3, 8 translation units), timed natively by
  benches/tl2cgen_bench.c, one thread, rows pre-converted (only `predict` timed).
* ONNX Runtime 1.32.0: onnxmltools 1.16.0 conversion, one intra-op thread,
  sequential execution.

Every measurement first waits until the machine is quiet (other processes use
less than --quiet-cores of CPU over 3 s; /proc/stat minus this process tree) and
records how much CPU other processes used while it ran; a measurement during
which they used more than --max-other cores is taken again (at most --attempts
times in all, keeping the cleanest). Each run measures every
engine once (per measurement: a warm-up call, then at least 3 timed calls, or 2
when a call takes over 3 s; the run's figure is their median); the table gives
the median over --runs runs and the range of the run figures.

Agreement (untimed, all 100k rows): Quercus's margins must equal XGBoost's bit for
bit (each kernel, 1 and 2 threads); every engine's output is compared with
XGBoost's `inplace_predict` (max |diff|).

Outputs: BENCHMARKS.md section "Tree-ensemble prediction" (other sections kept),
and the raw records in target/bench-models/peer-results/<time>.json. Prepared
artefacts (tl2cgen .so, ONNX files) are cached in target/bench-models/peers/.

This file is also the oneDAL worker: the daal venv runs `peer.py --daal-worker`.
"""
from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
MODELS_DIR = ROOT / "target" / "bench-models"
CACHE = MODELS_DIR / "peers"
VENVS = ROOT / "target" / "peer-venvs"
DAAL_PY = VENVS / "daal" / "bin" / "python"
QBENCH = ROOT / "target" / "release" / "qbench"
QUERCUS = ROOT / "target" / "release" / "quercus"
TL2_BENCH = CACHE / "tl2cgen_bench"
SECTION = "## Tree-ensemble prediction"
HZ = os.sysconf("SC_CLK_TCK")
SLOW_S = 3.0  # a call slower than this is repeated only twice


# --------------------------------------------------------------------------- utils

def log(*a) -> None:
    print(*a, file=sys.stderr, flush=True)


def run_json(cmd: list[str], **kw) -> dict:
    """Runs a command that prints one JSON object on its last stdout line."""
    p = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kw)
    if p.returncode != 0:
        raise RuntimeError(f"{cmd[0]} failed ({p.returncode}): {p.stderr.strip()[-2000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def time_calls(fn, slow_s: float = SLOW_S, repeats: int = 3, min_s: float = 1.0) -> list[float]:
    """A warm-up call, then timed calls: at least `repeats` (2 if a call takes
    more than slow_s) and until min_s seconds passed. Returns the seconds."""
    t = time.perf_counter()
    fn()
    first = time.perf_counter() - t
    want = 2 if first > slow_s else repeats
    out: list[float] = []
    start = time.perf_counter()
    while len(out) < want or (time.perf_counter() - start < min_s and len(out) < 1000):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def single_latency(fn, x: np.ndarray, max_calls: int = 3000, max_s: float = 1.5,
                   distinct: int = 1000) -> dict:
    """One-row calls through a Python API, each on the next of `distinct` rows."""
    rows = [np.ascontiguousarray(x[i:i + 1]) for i in range(min(distinct, len(x)))]
    for r in rows[:50]:
        fn(r)
    us = []
    start = time.perf_counter()
    i = 0
    while i < max_calls and (time.perf_counter() - start < max_s or i < 50):
        r = rows[i % len(rows)]
        t = time.perf_counter()
        fn(r)
        us.append((time.perf_counter() - t) * 1e6)
        i += 1
    us.sort()
    return {"median_us": statistics.median(us),
            "p99_us": us[min(len(us) - 1, max(0, int(np.ceil(0.99 * len(us))) - 1))],
            "calls": len(us)}


# ------------------------------------------------------------------ quiet machine

def _busy_jiffies() -> int:
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = v
    return user + nice + system + irq + softirq + steal


def _tree_jiffies() -> int:
    """CPU time of this process, its live descendants and their reaped children."""
    procs = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                s = f.read()
        except OSError:
            continue
        fields = s[s.rfind(")") + 2:].split()
        # fields[0] = state, [1] = ppid, [11..14] = utime stime cutime cstime
        procs[int(d)] = (int(fields[1]), sum(int(x) for x in fields[11:15]))
    me = os.getpid()
    tree, frontier = {me}, [me]
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in procs.items():
        children.setdefault(ppid, []).append(pid)
    while frontier:
        p = frontier.pop()
        for c in children.get(p, []):
            if c not in tree:
                tree.add(c)
                frontier.append(c)
    return sum(procs[p][1] for p in tree if p in procs)


class OtherCpu:
    """Cores used by other processes between start() and stop()."""

    def start(self) -> None:
        self.t, self.busy, self.mine = time.monotonic(), _busy_jiffies(), _tree_jiffies()

    def stop(self) -> float:
        wall = time.monotonic() - self.t
        other = (_busy_jiffies() - self.busy) - (_tree_jiffies() - self.mine)
        return max(0.0, other / HZ / max(wall, 1e-9))


def wait_quiet(cores: float, timeout_s: float, window_s: float = 3.0) -> tuple[bool, float]:
    """Waits until other processes use less than `cores` over `window_s`.
    Returns (quiet, seconds waited)."""
    t0 = time.monotonic()
    announced = False
    while True:
        o = OtherCpu()
        o.start()
        time.sleep(window_s)
        used = o.stop()
        if used < cores:
            return True, time.monotonic() - t0
        if time.monotonic() - t0 > timeout_s:
            log(f"  machine not quiet after {timeout_s:.0f} s (others use {used:.2f} cores);"
                " measuring anyway")
            return False, time.monotonic() - t0
        if not announced:
            log(f"  waiting for a quiet machine (others use {used:.2f} cores) ...")
            announced = True


# ------------------------------------------------------------------ oneDAL worker

def daal_worker(args: argparse.Namespace) -> None:
    """Runs in the daal venv: agreement dump and timings for one model."""
    import daal4py as d4p  # noqa: PLC0415
    import xgboost as xgb  # noqa: PLC0415

    x = np.fromfile(args.data, dtype="<f4").reshape(-1, args.cols)
    booster = xgb.Booster(model_file=args.model)
    t = time.perf_counter()
    m = d4p.mb.convert_model(booster)
    convert_s = time.perf_counter() - t
    proba = "binary" in args.objective or "multi" in args.objective
    fn = (lambda a: m.predict_proba(a)) if proba else (lambda a: m.predict(a))
    out: dict = {"convert_s": convert_s}
    if args.dump:
        d4p.daalinit(2)
        p = np.asarray(fn(x), dtype=np.float32)
        if "binary" in args.objective:
            p = p[:, 1]
        p.astype("<f4").tofile(args.dump)
        out["dumped"] = args.dump
    for threads in (1, 2):
        d4p.daalinit(threads)
        secs = time_calls(lambda: fn(x))
        out[f"batch_{threads}t"] = {"rows_per_s": len(x) / statistics.median(secs),
                                    "calls": len(secs)}
    d4p.daalinit(1)
    out["single"] = single_latency(fn, x)
    print(json.dumps(out))


# ------------------------------------------------------------------ preparation

def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def cached(path: Path, key: str, build) -> dict:
    """Builds `path` unless its stamp says it was built from `key`."""
    stamp = path.with_name(path.name + ".stamp.json")
    if path.exists() and stamp.exists():
        s = json.loads(stamp.read_text())
        if s.get("key") == key:
            return s
    t = time.perf_counter()
    build()
    s = {"key": key, "build_s": round(time.perf_counter() - t, 1)}
    stamp.write_text(json.dumps(s))
    return s


def prepare(models: dict, no_build: bool) -> dict:
    CACHE.mkdir(parents=True, exist_ok=True)
    prep: dict = {}
    if not no_build:
        log("building qbench (cargo build --release -p quercus-benches --bin qbench)")
        subprocess.run(["cargo", "build", "--release", "--locked", "-p", "quercus-benches",
                        "--bin", "qbench"], cwd=ROOT, check=True)
        subprocess.run(["cargo", "build", "--release", "--locked", "-p", "quercus-cli"],
                       cwd=ROOT, check=True)
    src = ROOT / "benches" / "tl2cgen_bench.c"
    cached(TL2_BENCH, sha(src), lambda: subprocess.run(
        ["gcc", "-O2", "-o", str(TL2_BENCH), str(src), "-ldl", "-lm"], check=True))
    import onnxmltools  # noqa: PLC0415
    import tl2cgen  # noqa: PLC0415
    import treelite  # noqa: PLC0415
    import xgboost as xgb  # noqa: PLC0415
    from onnxmltools.convert.common.data_types import FloatTensorType  # noqa: PLC0415

    for mid, m in models.items():
        key = m["json_sha256"]
        so = CACHE / f"{mid}.tl2cgen.so"

        def build_so(m=m, so=so):
            log(f"  {mid}: tl2cgen export_lib (gcc -O3; minutes for large models)")
            tm = treelite.frontend.load_xgboost_model(str(MODELS_DIR / m["json"]))
            tl2cgen.export_lib(tm, toolchain="gcc", libpath=str(so),
                               params={"parallel_comp": 8}, nthread=2)

        onnx_path = CACHE / f"{mid}.onnx"

        def build_onnx(m=m, onnx_path=onnx_path):
            log(f"  {mid}: onnxmltools.convert_xgboost")
            b = xgb.Booster(model_file=str(MODELS_DIR / m["json"]))
            on = onnxmltools.convert_xgboost(
                b, initial_types=[("input", FloatTensorType([None, m["cols"]]))])
            onnx_path.write_bytes(on.SerializeToString())

        prep[mid] = {"tl2cgen": cached(so, key, build_so), "onnx": cached(onnx_path, key, build_onnx)}
    return prep


# ------------------------------------------------------------------ engines

class Model:
    def __init__(self, mid: str, entry: dict, data: dict):
        import xgboost as xgb  # noqa: PLC0415

        self.id, self.e = mid, entry
        self.json = MODELS_DIR / entry["json"]
        self.ubj = MODELS_DIR / entry["ubj"]
        self.data = MODELS_DIR / data["file"]
        self.cols = data["cols"]
        self.x = np.fromfile(self.data, dtype="<f4").reshape(-1, self.cols)
        self.booster = xgb.Booster(model_file=str(self.json))
        self.objective = entry["objective"]
        self.visits = entry["visits_per_row"]
        self.so = CACHE / f"{mid}.tl2cgen.so"
        self.onnx = CACHE / f"{mid}.onnx"
        self._ort = None

    def qbench(self, *args) -> dict:
        return run_json([QBENCH, args[0], self.json, *([self.data, "--cols", self.cols]
                         if args[0] != "load" else []), *args[1:]])

    def qbench_pair(self, *args) -> list[float]:
        """Two `qbench batch` processes started together; their rows/s."""
        cmd = [str(c) for c in (QBENCH, args[0], self.json, self.data, "--cols", self.cols,
                                *args[1:])]
        procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for _ in range(2)]
        out = []
        for p in procs:
            stdout, stderr = p.communicate()
            if p.returncode != 0:
                raise RuntimeError(f"qbench failed ({p.returncode}): {stderr.strip()[-2000:]}")
            out.append(json.loads(stdout.strip().splitlines()[-1])["rows_per_s"])
        return out

    def ort_session(self):
        if self._ort is None:
            import onnxruntime as ort  # noqa: PLC0415

            so = ort.SessionOptions()
            so.intra_op_num_threads = 1
            so.inter_op_num_threads = 1
            so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
            self._ort = ort.InferenceSession(str(self.onnx), so,
                                             providers=["CPUExecutionProvider"])
        return self._ort

    def ort_fn(self):
        s = self.ort_session()
        name = s.get_inputs()[0].name
        out = s.get_outputs()[-1].name  # probabilities / variable
        return lambda a: s.run([out], {name: a})[0]

    def xgb_fn(self, threads: int):
        self.booster.set_param({"nthread": threads})
        return lambda a: self.booster.inplace_predict(a)


def agreement(m: Model) -> dict:
    """Untimed: every engine's output against XGBoost's on all test rows."""
    res: dict = {}
    ref = np.asarray(m.booster.inplace_predict(m.x), dtype=np.float32).reshape(len(m.x), -1)
    ref_margin = np.asarray(m.booster.inplace_predict(m.x, predict_type="margin"),
                            dtype=np.float32).reshape(len(m.x), -1)
    tmp = CACHE / f"{m.id}.out.f32"

    def load(width: int) -> np.ndarray:
        return np.fromfile(tmp, dtype="<f4").reshape(len(m.x), width)

    # Quercus: margins bit-exact for each kernel and thread count; outputs too.
    bits_bad = 0
    for kernel in ("interleaved", "reference"):
        for threads in (1, 2):
            m.qbench("dump", "--out", tmp, "--margin", "--kernel", kernel, "--threads", threads)
            q = load(ref_margin.shape[1])
            bad = int((q.view(np.uint32) != ref_margin.view(np.uint32)).sum())
            res[f"quercus_{kernel}_{threads}t_margin_bits_differ"] = bad
            bits_bad += bad
    m.qbench("dump", "--out", tmp, "--threads", 2)
    q = load(ref.shape[1])
    res["quercus_margin_bits_differ"] = bits_bad
    res["quercus_output_bits_differ"] = int((q.view(np.uint32) != ref.view(np.uint32)).sum())
    res["quercus"] = float(np.abs(q - ref).max())
    # tl2cgen (native dump of transformed outputs)
    run_json([TL2_BENCH, "dump", m.so, m.data, m.cols, tmp, 0])
    t = load(ref.shape[1])
    res["tl2cgen"] = float(np.abs(t - ref).max())
    # ONNX Runtime
    o = np.asarray(m.ort_fn()(m.x), dtype=np.float32)
    if "binary" in m.objective:
        o = o[:, 1:2]
    res["ort"] = float(np.abs(o.reshape(ref.shape) - ref).max())
    tmp.unlink(missing_ok=True)
    return res


def measure(m: Model, engine: str, quiet: dict, agree_out: dict) -> dict:
    """Measures one engine on one model, again (up to quiet["attempts"] times in
    all) while other processes used more than quiet["max_other"] cores during
    the measurement; returns the cleanest attempt's figures."""
    best = None
    for attempt in range(1, quiet["attempts"] + 1):
        fig = measure_once(m, engine, quiet, agree_out)
        fig["attempts"] = attempt
        if best is None or fig["other_cpu"] < best["other_cpu"]:
            best = fig
        if fig["other_cpu"] <= quiet["max_other"]:
            break
        log(f"  others used {fig['other_cpu']:.2f} cores meanwhile: measuring again")
    return best


def measure_once(m: Model, engine: str, quiet: dict, agree_out: dict) -> dict:
    """One measurement of one engine on one model; returns its figures."""
    ok, waited = wait_quiet(quiet["cores"], quiet["timeout"])
    oc = OtherCpu()
    oc.start()
    r: dict = {}
    x = m.x
    # A peer's ratio is taken to Quercus measured just before it, so host
    # speed phases longer than the pair (seconds) cancel out of the ratio.
    beside = None if engine == "quercus" else m.qbench(
        "batch", "--kernel", "interleaved", "--threads", 1, "--repeats", 3,
        "--min-seconds", 1)["rows_per_s"]
    if engine == "quercus":
        for kernel in ("interleaved", "reference"):
            for threads in ((1, 2) if kernel == "interleaved" else (1,)):
                # The Reference kernel's rows/s does not depend on the batch size
                # past 2,048 rows (it goes row by row): 20k rows save minutes.
                rows = ["--rows", 20000] if kernel == "reference" else []
                q = m.qbench("batch", "--kernel", kernel, "--threads", threads,
                             "--repeats", 3, "--min-seconds", 1, *rows)
                r[f"{kernel}_batch_{threads}t"] = q["rows_per_s"]
            if kernel == "interleaved":
                # Within the run, so host phases longer than a few seconds
                # affect both sides alike.
                r["scaling_2t"] = r["interleaved_batch_2t"] / r["interleaved_batch_1t"]
                # What the host gives two cores: two 1-thread processes at
                # once, their rows/s summed, over the mean of the 1-thread
                # figures just before and just after. No threaded engine can
                # scale past this on the same cores.
                one = ("batch", "--kernel", kernel, "--threads", 1, "--repeats", 3,
                       "--min-seconds", 1)
                pair = sum(m.qbench_pair(*one))
                after = m.qbench(*one)["rows_per_s"]
                r["pair_ceiling"] = pair / ((r["interleaved_batch_1t"] + after) / 2)
            s = m.qbench("single", "--kernel", kernel, "--calls", 20000)
            r[f"{kernel}_single_median_us"] = s["median_us"]
            r[f"{kernel}_single_p99_us"] = s["p99_us"]
    elif engine == "xgboost":
        for threads in (1, 2):
            fn = m.xgb_fn(threads)
            r[f"batch_{threads}t"] = len(x) / statistics.median(time_calls(lambda: fn(x)))
        s = single_latency(m.xgb_fn(1), x)
        r["single_median_us"], r["single_p99_us"] = s["median_us"], s["p99_us"]
    elif engine == "daal":
        tmp = CACHE / f"{m.id}.daal.f32"
        dump = ["--dump", str(tmp)] if not agree_out.get("daal_done") else []
        d = run_json([DAAL_PY, __file__, "--daal-worker", "--model", m.json, "--data", m.data,
                      "--cols", m.cols, "--objective", m.objective, *dump])
        if dump:
            ref = np.asarray(m.booster.inplace_predict(x), dtype=np.float32).reshape(len(x), -1)
            p = np.fromfile(tmp, dtype="<f4").reshape(ref.shape)
            agree_out["daal"] = float(np.abs(p - ref).max())
            agree_out["daal_done"] = True
            tmp.unlink(missing_ok=True)
        r["batch_1t"] = d["batch_1t"]["rows_per_s"]
        r["batch_2t"] = d["batch_2t"]["rows_per_s"]
        r["single_median_us"], r["single_p99_us"] = d["single"]["median_us"], d["single"]["p99_us"]
    elif engine == "tl2cgen":
        # tl2cgen's loop is per row, so rows/s does not depend on the row count:
        # time 20k rows of the 100k (these models run at 5-500k rows/s).
        sub = CACHE / f"{m.id}.x20k.f32"
        if not sub.exists():
            m.x[:20000].astype("<f4").tofile(sub)
        b = run_json([TL2_BENCH, "batch", m.so, sub, m.cols, 3, 1.0])
        r["batch_1t"] = b["rows_per_s"]
        s = run_json([TL2_BENCH, "single", m.so, m.data, m.cols, 20000, 1000])
        r["single_median_us"], r["single_p99_us"] = s["median_us"], s["p99_us"]
    elif engine == "ort":
        fn = m.ort_fn()
        r["batch_1t"] = len(x) / statistics.median(time_calls(lambda: fn(x)))
        s = single_latency(fn, x)
        r["single_median_us"], r["single_p99_us"] = s["median_us"], s["p99_us"]
    else:
        raise ValueError(engine)
    if beside is not None:
        r["quercus_beside_1t"] = beside
        r["paired_1t"] = beside / r["batch_1t"]
    r["other_cpu"] = oc.stop()
    r["quiet"] = ok
    r["waited_s"] = waited
    return r


def load_times(m: Model) -> dict:
    import xgboost as xgb  # noqa: PLC0415

    out = {}
    for name, path in (("json", m.json), ("ubj", m.ubj)):
        q = m.qbench("load") if name == "json" else run_json([QBENCH, "load", path])
        secs = time_calls(lambda p=path: xgb.Booster(model_file=str(p)), repeats=5, min_s=0.5)
        out[name] = {"quercus_s": q["median_s"], "xgboost_s": statistics.median(secs)}
    # The compiled form: `quercus compile`, then load = map + checksum + verify.
    qpack = CACHE / f"{m.id}.qpack"
    subprocess.run([str(QUERCUS), "compile", str(m.json), "-o", str(qpack)], check=True,
                   capture_output=True)
    q = run_json([QBENCH, "load", qpack, "--repeats", "50"])
    out["qpack"] = {"quercus_s": q["median_s"], "bytes": qpack.stat().st_size}
    return out


# ------------------------------------------------------------------ report

def fmt_rate(v: float) -> str:
    if v != v:  # NaN
        return "–"
    if v >= 1e6:
        return f"{v / 1e6:.2f} M"
    if v >= 1e3:
        return f"{v / 1e3:.1f} k" if v < 1e5 else f"{v / 1e3:.0f} k"
    return f"{v:.0f}"


def fmt_x(v: float) -> str:
    return "–" if v != v else f"{v:.2f}×"


def fmt_us(v: float) -> str:
    return "–" if v != v else (f"{v:.2f}" if v < 10 else f"{v:.1f}" if v < 100 else f"{v:.0f}")


def summarise(records: list[dict]) -> dict:
    """(model, engine, key) -> (median over runs, min, max)."""
    acc: dict = {}
    for rec in records:
        for k, v in rec["figures"].items():
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                acc.setdefault((rec["model"], rec["engine"], k), []).append(float(v))
    return {k: (statistics.median(v), min(v), max(v), len(v)) for k, v in acc.items()}


def render(meta: dict, models: dict, s: dict, agree: dict, loads: dict) -> str:
    def g(mid, eng, key, i=0):
        v = s.get((mid, eng, key))
        return v[i] if v else float("nan")

    def rng(mid, eng, key, f=fmt_rate):
        v = s.get((mid, eng, key))
        if not v:
            return "–"
        return f"{f(v[0])} ({f(v[1])}–{f(v[2])})" if v[3] > 1 else f(v[0])

    def ratio(a, b):
        return "–" if not (a == a and b == b and b > 0) else f"{a / b:.2f}×"

    L = [SECTION, ""]
    L += [
        f"Measured {meta['date']} on `{meta['cpu']}` ({meta['cores']} cores), {meta['os']}. "
        f"Medians of {meta['runs']} runs (range of the run figures in parentheses); each run "
        "measured every engine once, after waiting for a quiet machine "
        f"(other processes < {meta['quiet_cores']} core over 3 s). "
        "A measurement during which other processes used more than "
        f"{meta['max_other']} core was repeated (at most 3 times, keeping the cleanest); "
        f"figures still above that: {meta['dirty']} of {meta['n_records']}; most CPU used by "
        f"others during a kept measurement: {meta['max_other_cpu']:.2f} cores; measurements "
        f"that started without a quiet machine: {meta['not_quiet']}. "
        f"Engine: commit {meta['git']}. "
        "Absolute numbers depend on the machine and its neighbours: read the ratios, which "
        "were measured side by side.",
        "",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in meta["versions"].items()) + ".",
        "",
        "### Batch of 100,000 rows, one thread (rows/s)",
        "",
        "Quercus Reference is timed on 20,000-row batches (it predicts row by row, so its "
        "rows/s does not depend on the batch size); tl2cgen natively from C on 20,000 rows, "
        "one `predict` call per row. Quercus ÷ peer: each peer measurement is preceded by a "
        "Quercus Interleaved 1-thread measurement (seconds before it); the ratio of the pair, "
        "median over runs (range), so that host speed phases longer than a pair cancel.",
        "",
        "| model (visits/row) | Quercus Interleaved | Quercus Reference | oneDAL | XGBoost | "
        "tl2cgen | ONNX Runtime | Quercus ÷ oneDAL | ÷ XGBoost | ÷ tl2cgen | ÷ ORT | "
        "Quercus ns/visit | oneDAL ns/visit |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for mid, e in models.items():
        q = g(mid, "quercus", "interleaved_batch_1t")
        d = g(mid, "daal", "batch_1t")
        ns = lambda r: "–" if not r == r else f"{1e9 / (r * e['visits_per_row']):.2f}"  # noqa: E731
        L.append(
            f"| {mid}: {e['description']} ({e['visits_per_row']:,.0f}) "
            f"| {rng(mid, 'quercus', 'interleaved_batch_1t')} "
            f"| {rng(mid, 'quercus', 'reference_batch_1t')} "
            f"| {rng(mid, 'daal', 'batch_1t')} | {rng(mid, 'xgboost', 'batch_1t')} "
            f"| {rng(mid, 'tl2cgen', 'batch_1t')} | {rng(mid, 'ort', 'batch_1t')} "
            f"| **{rng(mid, 'daal', 'paired_1t', fmt_x)}** "
            f"| {rng(mid, 'xgboost', 'paired_1t', fmt_x)} "
            f"| {rng(mid, 'tl2cgen', 'paired_1t', fmt_x)} | {rng(mid, 'ort', 'paired_1t', fmt_x)} "
            f"| {ns(q)} | {ns(d)} |")
    L += [
        "",
        "### Batch of 100,000 rows, two threads (rows/s)",
        "",
        "Quercus 2 t ÷ 1 t: the median over runs of each run's ratio (its 1- and 2-thread figures "
        "were measured seconds apart). Host ceiling: two 1-thread Quercus processes started "
        "together, their rows/s summed, ÷ the mean of 1-thread runs just before and after; what this VM's two cores "
        "gave at the time (near 2.00 when nothing else shares them), which no threaded engine can beat.",
        "",
        "| model | Quercus Interleaved | Quercus 2 t ÷ 1 t | host ceiling | oneDAL | XGBoost | "
        "Quercus ÷ oneDAL | Quercus ÷ XGBoost |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for mid in models:
        q2 = g(mid, "quercus", "interleaved_batch_2t")
        L.append(
            f"| {mid} | {rng(mid, 'quercus', 'interleaved_batch_2t')} "
            f"| {rng(mid, 'quercus', 'scaling_2t', fmt_x)} "
            f"| {rng(mid, 'quercus', 'pair_ceiling', fmt_x)} "
            f"| {rng(mid, 'daal', 'batch_2t')} | {rng(mid, 'xgboost', 'batch_2t')} "
            f"| {ratio(q2, g(mid, 'daal', 'batch_2t'))} "
            f"| {ratio(q2, g(mid, 'xgboost', 'batch_2t'))} |")
    L += [
        "",
        "### One row per call: latency, median / p99 (µs)",
        "",
        "Quercus and tl2cgen are native (Rust API `Forest::predict` on a 1-row matrix; tl2cgen's "
        "`predict` from C); oneDAL, XGBoost and ONNX Runtime are called from Python, so their "
        "figures include the binding's overhead. Each call predicts the next of 1,000 "
        "different rows.",
        "",
        "| model | Quercus Interleaved | Quercus Reference | tl2cgen (native) | "
        "tl2cgen ÷ Quercus (median; > 1: Quercus faster) | oneDAL (Python) | XGBoost (Python) "
        "| ORT (Python) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for mid in models:
        def lat(eng, pre=""):
            return (f"{fmt_us(g(mid, eng, pre + 'single_median_us'))} / "
                    f"{fmt_us(g(mid, eng, pre + 'single_p99_us'))}")
        qi = g(mid, "quercus", "interleaved_single_median_us")
        tl = g(mid, "tl2cgen", "single_median_us")
        L.append(f"| {mid} | {lat('quercus', 'interleaved_')} | {lat('quercus', 'reference_')} "
                 f"| {lat('tl2cgen')} | {ratio(tl, qi)} | {lat('daal')} | {lat('xgboost')} "
                 f"| {lat('ort')} |")
    L += [
        "",
        "### Agreement with XGBoost (all 100,000 test rows)",
        "",
        "Quercus: margins compared bit for bit with `inplace_predict(predict_type=\"margin\")` "
        "for the Interleaved and Reference kernels on 1 and 2 threads, and transformed outputs "
        "with `inplace_predict`. Peers: max |difference| of the transformed output "
        "(probabilities; target units for M5).",
        "",
        "| model | Quercus margins: values that differ | Quercus outputs: values that differ "
        "| oneDAL max diff | tl2cgen max diff | ORT max diff |",
        "|---|---|---|---|---|---|",
    ]
    for mid in models:
        a = agree.get(mid, {})
        f = lambda k: "–" if k not in a else f"{a[k]:.1e}"  # noqa: E731
        L.append(f"| {mid} | {a.get('quercus_margin_bits_differ', '–')} "
                 f"| {a.get('quercus_output_bits_differ', '–')} | {f('daal')} "
                 f"| {f('tl2cgen')} | {f('ort')} |")
    if loads:
        L += [
            "",
            "### Loading (median seconds)",
            "",
            "Quercus: `quercus::Model::load` (read, parse, convert, pack; for `.qpack`, made "
            "by `quercus compile`: memory-map, checksum of the whole file (XXH3-64 over 256 KiB "
            "chunks, shared by two threads), verify every packed tree; median of 50 loads). XGBoost: `xgboost.Booster(model_file=...)` "
            "from Python.",
            "",
            "| model | JSON MB | Quercus JSON | XGBoost JSON | Quercus ÷ XGBoost time | UBJ MB "
            "| Quercus UBJ | XGBoost UBJ | Quercus ÷ XGBoost time | .qpack MB | Quercus .qpack (ms) |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for mid, lt in loads.items():
            e = models[mid]
            j, u, qp = lt["json"], lt["ubj"], lt.get("qpack", {})
            L.append(f"| {mid} | {e['json_bytes'] / 1e6:.1f} | {j['quercus_s']:.3f} "
                     f"| {j['xgboost_s']:.3f} | {j['quercus_s'] / j['xgboost_s']:.2f} "
                     f"| {e['ubj_bytes'] / 1e6:.1f} | {u['quercus_s']:.3f} | {u['xgboost_s']:.3f} "
                     f"| {u['quercus_s'] / u['xgboost_s']:.2f} "
                     f"| {qp.get('bytes', float('nan')) / 1e6:.1f} "
                     f"| {qp.get('quercus_s', float('nan')) * 1e3:.2f} |")
    L += [
        "",
        "### Models",
        "",
        "Trained by `benches/gen_models.py` (XGBoost 3.2.0, `hist`, 256 bins, eta 0.1; "
        "28 features; 200k training rows from `make_classification` / `make_regression`, "
        "random_state 0; the test matrix is the next 100k rows). "
        "visits/row = mean internal nodes evaluated per row over all trees.",
        "",
        "| model | objective | trees | nodes | max depth | visits/row | JSON MB | UBJ MB "
        "| training s | tl2cgen compile s |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for mid, e in models.items():
        tl = meta["prep"].get(mid, {}).get("tl2cgen", {}).get("build_s", "cached")
        L.append(f"| {mid} | {e['objective']} | {e['trees']} | {e['nodes']:,} | {e['max_depth']} "
                 f"| {e['visits_per_row']:,.0f} | {e['json_bytes'] / 1e6:.1f} "
                 f"| {e['ubj_bytes'] / 1e6:.1f} | {e['train_seconds']} | {tl} |")
    L += [
        "",
        "### Reproduce",
        "",
        "```bash",
        "benches/setup_peers.sh                                   # peer venvs, pinned, from PyPI",
        ".venv/bin/python benches/gen_models.py                   # models + data -> "
        "target/bench-models/",
        f"target/peer-venvs/peers/bin/python benches/peer.py --runs {meta['runs']}   "
        "# this section",
        "cargo bench -p quercus-benches --bench predict           # criterion: batch 1/64/4096/"
        "100k, both kernels",
        "cargo bench -p quercus-benches --bench load               # criterion: JSON / UBJ load",
        "```",
        "",
        "The raw records of this run: `target/bench-models/peer-results/"
        f"{meta['results_file']}` (not committed).",
        "",
    ]
    return "\n".join(L)


def write_section(text: str, path: Path) -> None:
    """Replaces (or appends) the SECTION in BENCHMARKS.md, keeping everything else."""
    old = path.read_text() if path.exists() else "# Benchmarks\n"
    lines = old.splitlines(keepends=True)
    start = next((i for i, l in enumerate(lines) if l.rstrip() == SECTION), None)
    if start is None:
        new = old.rstrip("\n") + "\n\n" + text
    else:
        end = next((i for i in range(start + 1, len(lines))
                    if re.match(r"^## (?!#)", lines[i])), len(lines))
        new = "".join(lines[:start]) + text + ("\n" if end < len(lines) else "") \
            + "".join(lines[end:])
    path.write_text(new.rstrip("\n") + "\n")


def machine() -> dict:
    cpu = "unknown"
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        cpu = re.search(r"Model name:\s*(.+)", out).group(1).strip()
    except Exception:  # noqa: BLE001
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "os": f"{platform.system()} {platform.release()}"}


# ------------------------------------------------------------------ main

def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--models", help="comma-separated ids (default: all in the manifest)")
    ap.add_argument("--engines", default="quercus,daal,xgboost,tl2cgen,ort")
    ap.add_argument("--quiet-cores", type=float, default=0.15)
    ap.add_argument("--quiet-timeout", type=float, default=1800.0,
                    help="seconds to wait for a quiet machine before measuring anyway")
    ap.add_argument("--max-other", type=float, default=0.25,
                    help="measure again when others used more cores than this meanwhile")
    ap.add_argument("--attempts", type=int, default=3, help="measurements at most, per figure")
    ap.add_argument("--no-build", action="store_true", help="do not build qbench")
    ap.add_argument("--no-write", action="store_true", help="do not touch BENCHMARKS.md")
    ap.add_argument("--no-load", action="store_true", help="skip the load-time table")
    ap.add_argument("--out", type=Path, default=ROOT / "BENCHMARKS.md")
    ap.add_argument("--daal-worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--model", help=argparse.SUPPRESS)
    ap.add_argument("--data", help=argparse.SUPPRESS)
    ap.add_argument("--cols", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--objective", help=argparse.SUPPRESS)
    ap.add_argument("--dump", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.daal_worker:
        daal_worker(args)
        return

    manifest_path = MODELS_DIR / "manifest.json"
    if not manifest_path.exists():
        sys.exit(f"no models in {MODELS_DIR}: run .venv/bin/python benches/gen_models.py")
    manifest = json.loads(manifest_path.read_text())
    ids = args.models.split(",") if args.models else sorted(manifest["models"])
    models = {}
    for mid in ids:
        e = dict(manifest["models"][mid])
        e["cols"] = manifest["data"][e["data"]]["cols"]
        models[mid] = e
    engines = args.engines.split(",")
    if "daal" in engines and not DAAL_PY.exists():
        sys.exit("oneDAL venv missing: run benches/setup_peers.sh")

    prep = prepare(models, args.no_build)
    loaded = {mid: Model(mid, e, manifest["data"][e["data"]]) for mid, e in models.items()}

    log("agreement checks")
    agree = {}
    for mid, m in loaded.items():
        agree[mid] = agreement(m)
        log(f"  {mid}: {agree[mid]}")
        if agree[mid]["quercus_margin_bits_differ"]:
            log(f"  WARNING: {mid}: Quercus margins differ from XGBoost's")

    quiet = {"cores": args.quiet_cores, "timeout": args.quiet_timeout,
             "max_other": args.max_other, "attempts": args.attempts}
    records = []
    for run in range(1, args.runs + 1):
        for mid, m in loaded.items():
            for eng in engines:
                log(f"run {run}/{args.runs}: {mid} {eng}")
                fig = measure(m, eng, quiet, agree[mid])
                log(f"  {fig}")
                records.append({"run": run, "model": mid, "engine": eng, "figures": fig})
    loads = {}
    if not args.no_load:
        log("load times")
        for mid, m in loaded.items():
            wait_quiet(args.quiet_cores, args.quiet_timeout)
            loads[mid] = load_times(m)

    import onnxruntime  # noqa: PLC0415
    import tl2cgen  # noqa: PLC0415
    import xgboost  # noqa: PLC0415

    versions = {"XGBoost": xgboost.__version__, "tl2cgen": tl2cgen.__version__,
                "ONNX Runtime": onnxruntime.__version__,
                "oneDAL": "scikit-learn-intelex 2026.2.0 (daal 2026.2.0)",
                "rustc": subprocess.run(["rustc", "--version"], capture_output=True,
                                        text=True).stdout.split(" (")[0].replace("rustc ", ""),
                "gcc": subprocess.run(["gcc", "-dumpfullversion"], capture_output=True,
                                      text=True).stdout.strip()}
    stamp = dt.datetime.now().strftime("%Y-%m-%dT%H-%M-%S")
    git = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                         text=True).stdout.strip() or "unknown"
    dirty = subprocess.run(["git", "status", "--porcelain", "--", "crates/quercus-core",
                            "crates/quercus-xgboost"], cwd=ROOT, capture_output=True,
                           text=True).stdout.strip()
    if dirty:
        git += " + uncommitted changes to the engine"
    meta = {**machine(), "date": dt.date.today().isoformat(), "runs": args.runs,
            "quiet_cores": args.quiet_cores,
            "max_other_cpu": max((r["figures"]["other_cpu"] for r in records), default=0.0),
            "not_quiet": sum(not r["figures"]["quiet"] for r in records),
            "dirty": sum(r["figures"]["other_cpu"] > args.max_other for r in records),
            "max_other": args.max_other, "git": git,
            "versions": versions, "prep": prep, "results_file": f"{stamp}.json",
            "n_records": len(records)}
    res_dir = MODELS_DIR / "peer-results"
    res_dir.mkdir(exist_ok=True)
    (res_dir / f"{stamp}.json").write_text(json.dumps(
        {"meta": meta, "models": models, "agreement": agree, "records": records,
         "loads": loads}, indent=1, default=str))
    text = render(meta, models, summarise(records), agree, loads)
    print(text)
    if not args.no_write:
        write_section(text, args.out)
        log(f"wrote section '{SECTION}' of {args.out}")


if __name__ == "__main__":
    main()
