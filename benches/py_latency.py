"""One-row latency through the Python API: `quercus.Model.predict` on a
(1, 28) float32 numpy array, each call on the next of 1,000 different test
rows, after 1,000 warm-up calls. Prints a markdown table (median / p99 µs).

    .venv/bin/python benches/py_latency.py [--calls 20000] [--models M1,M2]

Needs the models and data of `benches/gen_models.py` and quercus installed in
the running Python (`scripts/test.sh` does both the .venv and the build).
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

import quercus

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "target" / "bench-models"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--calls", type=int, default=20000)
    ap.add_argument("--models", default="M1,M2,M3,M4,M5")
    args = ap.parse_args()
    manifest = json.loads((MODELS / "manifest.json").read_text())
    print("| model | Quercus through Python, one row: median µs | p99 µs |")
    print("|---|---|---|")
    for mid in args.models.split(","):
        data_id = manifest["models"][mid]["data"]
        model = quercus.load(str(MODELS / f"{mid}.ubj"))
        cols = model.num_features
        data = MODELS / manifest["data"][data_id]["file"]
        x = np.fromfile(data, dtype=np.float32, count=cols * 1000).reshape(1000, cols)
        rows = [np.ascontiguousarray(x[i : i + 1]) for i in range(1000)]
        for r in rows:
            model.predict(r)
        lat = np.empty(args.calls)
        clock = time.perf_counter_ns
        for i in range(args.calls):
            r = rows[i % 1000]
            t = clock()
            model.predict(r)
            lat[i] = clock() - t
        lat /= 1000.0
        print(f"| {mid} | {np.median(lat):.2f} | {np.percentile(lat, 99):.2f} |")


if __name__ == "__main__":
    main()
