"""Loading a ~100 MB XGBoost JSON model: Quercus against XGBoost's own loader,
in one process, alternating, on the same file.

    .venv/bin/python benches/load_big.py [--copies 6] [--repeats 7]

The model is M3 of `benches/gen_models.py` (1000 lossguide trees, 18 MB of
JSON) with its trees repeated `--copies` times (6: 6000 trees, ~108 MB),
written to target/bench-models/big.json. XGBoost loads it as a valid model
(`Booster(model_file=...)`); Quercus loads it with `quercus.load` (read, parse,
convert, pack). Before timing, both predict margins for 1,000 test rows and
they must agree bit for bit (a load that dropped a tree would not).

Prints the median and range of each loader's wall time and their ratio.
Needs the models of `benches/gen_models.py` and quercus built into the
running Python (`scripts/test.sh`).
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np
import xgboost

import quercus

MODELS = Path(__file__).resolve().parents[1] / "target" / "bench-models"


def write_big(src: Path, dst: Path, copies: int) -> None:
    """Writes `src` with its trees repeated `copies` times (one tree per round)."""
    model = json.loads(src.read_text())
    gb = model["learner"]["gradient_booster"]["model"]
    trees = gb["trees"]
    assert gb["gbtree_model_param"]["num_parallel_tree"] == "1"
    assert all(g == 0 for g in gb["tree_info"]), "one output group expected"
    big = []
    for i in range(copies * len(trees)):
        tree = dict(trees[i % len(trees)])
        tree["id"] = i
        big.append(tree)
    gb["trees"] = big
    gb["tree_info"] = [0] * len(big)
    gb["iteration_indptr"] = list(range(len(big) + 1))
    gb["gbtree_model_param"]["num_trees"] = str(len(big))
    dst.write_text(json.dumps(model, separators=(",", ":")))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--copies", type=int, default=6)
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args()
    big = MODELS / "big.json"
    write_big(MODELS / "M3.json", big, args.copies)
    mb = big.stat().st_size / 1e6

    x = np.fromfile(MODELS / "X_binary.f32", dtype=np.float32, count=28 * 1000)
    x = x.reshape(1000, 28)
    booster = xgboost.Booster(model_file=str(big))
    booster.set_param({"nthread": 1})
    want = booster.inplace_predict(x, predict_type="margin")
    got = quercus.load(str(big)).predict(x, output_margin=True)
    differ = int(np.count_nonzero(want.view(np.uint32) != got.reshape(want.shape).view(np.uint32)))
    if differ:
        raise SystemExit(f"margins differ on {differ} of {want.size} rows")

    times: dict[str, list[float]] = {"quercus": [], "xgboost": []}
    loaders = {
        "quercus": lambda: quercus.load(str(big)),
        "xgboost": lambda: xgboost.Booster(model_file=str(big)),
    }
    for r in range(args.repeats):
        for name in (["quercus", "xgboost"] if r % 2 == 0 else ["xgboost", "quercus"]):
            t = time.perf_counter()
            m = loaders[name]()
            times[name].append(time.perf_counter() - t)
            del m
    q = statistics.median(times["quercus"])
    b = statistics.median(times["xgboost"])
    print(f"model: {big.name}, {mb:.0f} MB, {args.copies * 1000} trees; margins of 1,000 rows equal")
    print("| loader | median s | range s |")
    print("|---|---|---|")
    for name in times:
        print(f"| {name} | {statistics.median(times[name]):.3f} | "
              f"{min(times[name]):.3f}–{max(times[name]):.3f} |")
    print(f"Quercus ÷ XGBoost time: {q / b:.2f}")


if __name__ == "__main__":
    main()
