"""Trains the five benchmark models of issue 5, deterministically, and writes them
with their test data into target/bench-models/ (not committed: ~120 MB).

    benches/setup_peers.sh                       # once: scikit-learn for .venv
    .venv/bin/python benches/gen_models.py       # ~16 min on 2 cores (M3: ~10 min)
    .venv/bin/python benches/gen_models.py --only M1,M4 --force

Data (as in /work/shared/research/perf-anchors.md §2): `make_classification` /
`make_regression` with 28 features and random_state=0, 300k rows, float32; the
first 200k rows train, the last 100k are the test matrix. XGBoost 3.2.0 (the
.venv's), `hist`, 256 bins, eta 0.1, seed 0, 2 threads (hist training is
deterministic for a given thread count and version).

| id | model                                                   | data        |
|----|---------------------------------------------------------|-------------|
| M1 | binary:logistic, 100 trees, depth 6                     | binary      |
| M2 | binary:logistic, 500 trees, depth 8                     | binary      |
| M3 | binary:logistic, 1000 trees, lossguide, max_leaves 255, max_depth 10 | binary |
| M4 | multi:softprob, 10 classes x 100 rounds, depth 6        | multiclass  |
| M5 | reg:squarederror, 500 trees, depth 8                    | regression  |

Written to target/bench-models/:
* `M*.json`, `M*.ubj`: the models (`Booster.save_model`);
* `X_{binary,multiclass,regression}.f32`: 100,000 x 28 float32, row-major, raw
  little-endian (np.fromfile / Rust read + from_le_bytes);
* `manifest.json`: per model its files, data, objective, trees, nodes, depth,
  mean internal nodes visited per test row (from pred_leaf and leaf depths),
  sizes, SHA-256 and training time. The benches read only this manifest.

A model whose files and parameters are already in the manifest is not retrained
(`--force` retrains). Runtime of a full run on this project's 2-core machine
(Xeon @ 2.5 GHz, shared with other builds at the time): 961 s wall, of which
training M1 10 s, M2 103 s, M3 635 s, M4 113 s, M5 82 s; data generation and
the visits/row statistics take the rest. On the idle machine M1 retrains in
2.4 s (9.7 s while shared), byte-identical. Per-model training times are in the
manifest and in BENCHMARKS.md's model table.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GEN_SITE = ROOT / "target" / "peer-venvs" / "gen-site"
try:
    import sklearn  # noqa: F401
except ImportError:
    # scikit-learn lives outside .venv (benches/setup_peers.sh installs it).
    sys.path.append(str(GEN_SITE))
import numpy as np  # noqa: E402
import xgboost as xgb  # noqa: E402
from sklearn.datasets import make_classification, make_regression  # noqa: E402

XGB_VERSION = "3.2.0"
N_FEATURES = 28
N_TRAIN = 200_000
N_TEST = 100_000
OUT = ROOT / "target" / "bench-models"

COMMON = {"tree_method": "hist", "max_bin": 256, "eta": 0.1, "seed": 0, "nthread": 2}

MODELS = {
    "M1": {"desc": "100 trees, depth 6", "data": "binary", "rounds": 100,
           "params": {"objective": "binary:logistic", "max_depth": 6}},
    "M2": {"desc": "500 trees, depth 8", "data": "binary", "rounds": 500,
           "params": {"objective": "binary:logistic", "max_depth": 8}},
    "M3": {"desc": "1000 trees, lossguide, 255 leaves", "data": "binary", "rounds": 1000,
           "params": {"objective": "binary:logistic", "grow_policy": "lossguide",
                      "max_leaves": 255, "max_depth": 10}},
    "M4": {"desc": "10 classes x 100 trees, depth 6", "data": "multiclass", "rounds": 100,
           "params": {"objective": "multi:softprob", "num_class": 10, "max_depth": 6}},
    "M5": {"desc": "regression, 500 trees, depth 8", "data": "regression", "rounds": 500,
           "params": {"objective": "reg:squarederror", "max_depth": 8}},
}


def make_data(kind: str) -> tuple[np.ndarray, np.ndarray]:
    n = N_TRAIN + N_TEST
    if kind == "binary":
        x, y = make_classification(n_samples=n, n_features=N_FEATURES, n_informative=14,
                                   n_redundant=4, n_classes=2, random_state=0)
    elif kind == "multiclass":
        x, y = make_classification(n_samples=n, n_features=N_FEATURES, n_informative=14,
                                   n_redundant=4, n_classes=10, random_state=0)
    elif kind == "regression":
        x, y = make_regression(n_samples=n, n_features=N_FEATURES, n_informative=14,
                               noise=10.0, random_state=0)
    else:
        raise ValueError(kind)
    return x.astype(np.float32), y.astype(np.float32)


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def leaf_depths(model_json: dict) -> list[np.ndarray]:
    """Depth of every node of every tree (root = 0)."""
    out = []
    for tree in model_json["learner"]["gradient_booster"]["model"]["trees"]:
        left, right = tree["left_children"], tree["right_children"]
        depth = np.zeros(len(left), dtype=np.int64)
        stack = [0]
        while stack:
            i = stack.pop()
            if left[i] != -1:
                depth[left[i]] = depth[i] + 1
                depth[right[i]] = depth[i] + 1
                stack += [left[i], right[i]]
        out.append(depth)
    return out


def describe(booster: xgb.Booster, path_json: Path, x_test: np.ndarray) -> dict:
    model = json.loads(path_json.read_text())
    depths = leaf_depths(model)
    sample = x_test[:10_000]
    leaves = booster.predict(xgb.DMatrix(sample), pred_leaf=True).astype(np.int64)
    leaves = leaves.reshape(len(sample), -1)
    visits = np.zeros(len(sample), dtype=np.int64)
    for t, d in enumerate(depths):
        visits += d[leaves[:, t]]
    return {
        "trees": len(depths),
        "nodes": int(sum(len(d) for d in depths)),
        "max_depth": int(max(d.max() for d in depths)),
        "visits_per_row": round(float(visits.mean()), 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", help="comma-separated model ids (default: all)")
    ap.add_argument("--force", action="store_true", help="retrain even if present")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    if xgb.__version__ != XGB_VERSION:
        sys.exit(f"gen_models.py needs XGBoost {XGB_VERSION} (found {xgb.__version__})")
    ids = args.only.split(",") if args.only else list(MODELS)
    args.out.mkdir(parents=True, exist_ok=True)
    manifest_path = args.out / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    manifest.setdefault("models", {})
    manifest.setdefault("data", {})
    manifest["xgboost"] = xgb.__version__
    manifest["features"] = N_FEATURES

    t_all = time.perf_counter()
    cache: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for mid in ids:
        spec = MODELS[mid]
        kind = spec["data"]
        params = {**COMMON, **spec["params"]}
        data_file = args.out / f"X_{kind}.f32"
        entry = manifest["models"].get(mid, {})
        files = [args.out / f"{mid}.json", args.out / f"{mid}.ubj", data_file]
        if (not args.force and entry.get("params") == params
                and entry.get("rounds") == spec["rounds"]
                and all(f.exists() for f in files)
                and entry.get("json_sha256") == sha256(files[0])):
            print(f"{mid}: up to date, skipped")
            continue
        if kind not in cache:
            t0 = time.perf_counter()
            cache[kind] = make_data(kind)
            x, _ = cache[kind]
            x_test = np.ascontiguousarray(x[N_TRAIN:])
            x_test.astype("<f4").tofile(data_file)
            manifest["data"][kind] = {
                "file": data_file.name, "rows": N_TEST, "cols": N_FEATURES,
                "dtype": "float32-le", "layout": "row-major",
                "sha256": sha256(data_file),
            }
            print(f"data {kind}: {time.perf_counter() - t0:.1f} s")
        x, y = cache[kind]
        dtrain = xgb.DMatrix(x[:N_TRAIN], label=y[:N_TRAIN])
        t0 = time.perf_counter()
        booster = xgb.train(params, dtrain, num_boost_round=spec["rounds"])
        train_s = time.perf_counter() - t0
        booster.save_model(files[0])
        booster.save_model(files[1])
        info = describe(booster, files[0], x[N_TRAIN:])
        manifest["models"][mid] = {
            "description": spec["desc"], "objective": params["objective"],
            "num_class": params.get("num_class", 0), "data": kind,
            "json": files[0].name, "ubj": files[1].name,
            "json_bytes": files[0].stat().st_size, "ubj_bytes": files[1].stat().st_size,
            "json_sha256": sha256(files[0]),
            "params": params, "rounds": spec["rounds"], "train_seconds": round(train_s, 1),
            **info,
        }
        print(f"{mid} ({spec['desc']}): trained in {train_s:.1f} s; {info}")
        manifest_path.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    manifest_path.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    print(f"done in {time.perf_counter() - t_all:.1f} s -> {args.out}")


if __name__ == "__main__":
    main()
