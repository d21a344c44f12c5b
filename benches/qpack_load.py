"""Compiled-model load: read into memory (the default since the hardening
issue) against the opt-in memory map, in one process run after another,
alternating, so host speed phases hit both alike.

    cargo build --release -p quercus-benches --bin qbench
    .venv/bin/python benches/qpack_load.py [--rounds 5]

The model: binary:logistic, 500 trees of depth 8 on 50 random features
(20,000 rows, seed 0, XGBoost from .venv), compiled to target/qpack-load/m.qpack.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "target" / "qpack-load"


def model() -> Path:
    q = OUT / "m.qpack"
    if q.exists():
        return q
    import quercus
    import xgboost as xgb

    OUT.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(20000, 50)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] * x[:, 2] + rng.normal(size=20000) > 0).astype(np.float32)
    params = {"objective": "binary:logistic", "max_depth": 8, "tree_method": "hist", "eta": 0.1, "nthread": 1, "seed": 0}
    booster = xgb.train(params, xgb.DMatrix(x, label=y), 500)
    booster.save_model(str(OUT / "m.json"))
    quercus.load(OUT / "m.json").save_compiled(q)
    return q


def load_ms(qbench: Path, q: Path, mmap: bool) -> float:
    env = dict(os.environ, QBENCH_MMAP="1" if mmap else "0")
    r = subprocess.run([str(qbench), "load", str(q), "--repeats", "50"], capture_output=True, text=True, env=env, check=True)
    return json.loads(r.stdout)["median_s"] * 1e3


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    qbench = ROOT / "target" / "release" / "qbench"
    q = model()
    copy, mapped = [], []
    for _ in range(args.rounds):
        copy.append(load_ms(qbench, q, False))
        mapped.append(load_ms(qbench, q, True))
    ratios = [c / m for c, m in zip(copy, mapped)]
    print(f"{q.stat().st_size} bytes, {args.rounds} rounds of 50 loads each (medians, ms)")
    print(f"read (default): median {statistics.median(copy):.3f}  all {[round(v, 3) for v in copy]}")
    print(f"mmap (opt-in):  median {statistics.median(mapped):.3f}  all {[round(v, 3) for v in mapped]}")
    print(f"read / mmap, paired: median {statistics.median(ratios):.2f}  range {min(ratios):.2f}-{max(ratios):.2f}")


if __name__ == "__main__":
    main()
