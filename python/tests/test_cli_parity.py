"""Live parity: train models with the pip-installed XGBoost, predict with the
`quercus` CLI, and compare with XGBoost's own predictions on the same input.

Margins must be bit-identical, transformed outputs within 1 ulp of float32,
leaf indices identical. The input includes NaN, values exactly on split
thresholds and their float32 neighbours.
"""

from __future__ import annotations

import json
import os
import subprocess
import zlib
from pathlib import Path

import numpy as np
import pytest

xgb = pytest.importorskip("xgboost")

ROOT = Path(__file__).resolve().parents[2]


def quercus_bin() -> str:
    env = os.environ.get("QUERCUS_BIN")
    if env:
        return env
    for profile in ("release", "debug"):
        p = ROOT / "target" / profile / "quercus"
        if p.exists():
            return str(p)
    pytest.skip("the quercus binary is not built (cargo build -p quercus-cli)")


def thresholds(booster) -> list[tuple[int, float]]:
    """(feature, threshold) of numeric splits, read from the model's own JSON."""
    doc = json.loads(booster.save_raw("json"))
    out = []
    gb = doc["learner"]["gradient_booster"]
    gb = gb.get("gbtree", gb)  # DART nests its trees under "gbtree"
    for t in gb["model"]["trees"]:
        for i, left in enumerate(t["left_children"]):
            if left != -1 and t.get("split_type", [0] * len(t["left_children"]))[i] == 0:
                out.append((t["split_indices"][i], t["split_conditions"][i]))
    return out


def make_input(rng, booster, n_features, n=300):
    x = rng.normal(size=(n, n_features)).astype(np.float32)
    x[rng.random(size=x.shape) < 0.1] = np.nan
    edges = thresholds(booster)[:60]
    for k, (f, thr) in enumerate(edges):
        thr = np.float32(thr)
        for j, v in enumerate((thr, np.nextafter(thr, np.float32(np.inf)), np.nextafter(thr, np.float32(-np.inf)))):
            x[(3 * k + j) % n, f] = v
    return x


def run_cli(model_path, x, tmp_path, *flags):
    inp = tmp_path / "x.npy"
    out = tmp_path / "out.npy"
    np.save(inp, x)
    subprocess.run(
        [quercus_bin(), "predict", str(model_path), "--input", str(inp), "--output", str(out), *flags],
        check=True,
        capture_output=True,
    )
    return np.load(out)


def ulp_distance(a: np.ndarray, b: np.ndarray) -> int:
    a = np.asarray(a, dtype=np.float32).ravel()
    b = np.asarray(b, dtype=np.float32).ravel()
    ia = a.view(np.int32).astype(np.int64)
    ib = b.view(np.int32).astype(np.int64)
    ia = np.where(ia < 0, np.int64(-(2**31)) - ia, ia)
    ib = np.where(ib < 0, np.int64(-(2**31)) - ib, ib)
    d = np.abs(ia - ib)
    d[np.isnan(a) & np.isnan(b)] = 0
    return int(d.max()) if d.size else 0


CASES = {
    "binary_logistic": dict(objective="binary:logistic"),
    "regression": dict(objective="reg:squarederror"),
    "softprob": dict(objective="multi:softprob", num_class=4),
    "softmax": dict(objective="multi:softmax", num_class=3),
    "poisson": dict(objective="count:poisson"),
    "dart": dict(objective="binary:logistic", booster="dart", rate_drop=0.3),
    "random_forest": dict(objective="reg:squarederror", num_parallel_tree=4, subsample=0.7, colsample_bynode=0.7),
    "lossguide": dict(objective="reg:squarederror", grow_policy="lossguide", max_leaves=48, max_depth=0),
    "multi_target_tree": dict(objective="reg:squarederror", multi_strategy="multi_output_tree", num_target=3),
    "gblinear": dict(objective="reg:squarederror", booster="gblinear"),
}


def train(name, rng):
    params = dict(CASES[name])
    n, f = 600, 10
    x = rng.normal(size=(n, f)).astype(np.float32)
    num_target = params.pop("num_target", None)
    obj = params["objective"]
    if obj.startswith("multi:"):
        y = rng.integers(0, params["num_class"], size=n)
    elif obj == "binary:logistic":
        y = (x[:, 0] + x[:, 1] * x[:, 2] > 0).astype(np.float32)
    elif obj == "count:poisson":
        y = rng.poisson(np.exp(0.3 * x[:, 0]))
    elif num_target:
        y = np.stack([x[:, i] * (i + 1) + x[:, 3] for i in range(num_target)], axis=1)
    else:
        y = x[:, 0] * 2 + np.sin(x[:, 1]) + rng.normal(scale=0.1, size=n)
    params.setdefault("max_depth", 5)
    params.update(tree_method="hist", seed=7, eta=0.3)
    booster = xgb.train(params, xgb.DMatrix(x, label=y), num_boost_round=12)
    return booster, f


@pytest.mark.parametrize("fmt", ["json", "ubj"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_cli_matches_installed_xgboost(name, fmt, tmp_path):
    rng = np.random.default_rng(zlib.crc32(f"{name}/{fmt}".encode()))
    booster, f = train(name, rng)
    path = tmp_path / f"model.{fmt}"
    booster.save_model(str(path))
    x = make_input(rng, booster, f) if name != "gblinear" else rng.normal(size=(200, f)).astype(np.float32)
    dm = xgb.DMatrix(x)
    margin = booster.predict(dm, output_margin=True)
    got = run_cli(path, x, tmp_path, "--margin")
    assert got.shape == margin.shape
    assert ulp_distance(got, margin) == 0, "margins must be bit-identical"
    pred = booster.predict(dm)
    got = run_cli(path, x, tmp_path)
    assert got.shape == pred.shape
    assert ulp_distance(got, pred) <= 1
    if name != "gblinear":
        leaf = booster.predict(dm, pred_leaf=True)
        got = run_cli(path, x, tmp_path, "--leaf")
        assert got.shape == leaf.shape
        np.testing.assert_array_equal(got, leaf)


def test_cli_rejects_wrong_width_and_writes_nothing(tmp_path):
    booster, f = train("regression", np.random.default_rng(1))
    path = tmp_path / "m.json"
    booster.save_model(str(path))
    x = np.zeros((3, f + 1), dtype=np.float32)
    np.save(tmp_path / "x.npy", x)
    out = tmp_path / "out.csv"
    r = subprocess.run(
        [quercus_bin(), "predict", str(path), "--input", str(tmp_path / "x.npy"), "--output", str(out)],
        capture_output=True,
        text=True,
    )
    assert r.returncode != 0
    assert "expects 10 features" in r.stderr and r.stderr.count("\n") == 1
    assert not out.exists()
