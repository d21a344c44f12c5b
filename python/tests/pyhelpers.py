"""Shared by the Python-package tests: training models with the pip-installed
XGBoost, inputs that hit split thresholds, and float32 ULP distance."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "models" / "xgboost"


def quercus_bin() -> str:
    """The `quercus` CLI: $QUERCUS_BIN, else target/release or target/debug."""
    env = os.environ.get("QUERCUS_BIN")
    if env:
        return env
    for profile in ("release", "debug"):
        p = ROOT / "target" / profile / "quercus"
        if p.exists():
            return str(p)
    pytest.skip("the quercus binary is not built (cargo build -p quercus-cli)")

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
    "multi_target_one_per_target": dict(objective="reg:squarederror", num_target=2),
    "gblinear": dict(objective="reg:squarederror", booster="gblinear"),
}


def train(xgb, name, rng, n=600, f=10, rounds=12, feature_names=None):
    params = dict(CASES[name])
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
    dm = xgb.DMatrix(x, label=y, feature_names=feature_names)
    return xgb.train(params, dm, num_boost_round=rounds)


def thresholds(booster):
    doc = json.loads(booster.save_raw("json"))
    out = []
    gb = doc["learner"]["gradient_booster"]
    gb = gb.get("gbtree", gb)  # DART nests its trees under "gbtree"
    if "model" not in gb or "trees" not in gb["model"]:
        return out  # gblinear
    for t in gb["model"]["trees"]:
        for i, left in enumerate(t["left_children"]):
            if left != -1 and t.get("split_type", [0] * len(t["left_children"]))[i] == 0:
                out.append((t["split_indices"][i], t["split_conditions"][i]))
    return out


def make_input(rng, booster, n_features, n=300):
    """Random rows with 10% NaN, plus values exactly on split thresholds and
    their float32 neighbours."""
    x = rng.normal(size=(n, n_features)).astype(np.float32)
    x[rng.random(size=x.shape) < 0.1] = np.nan
    edges = thresholds(booster)[:60]
    for k, (f, thr) in enumerate(edges):
        thr = np.float32(thr)
        for j, v in enumerate((thr, np.nextafter(thr, np.float32(np.inf)), np.nextafter(thr, np.float32(-np.inf)))):
            x[(3 * k + j) % n, f] = v
    return x


def ulp_distance(a, b) -> int:
    a = np.asarray(a, dtype=np.float32).ravel()
    b = np.asarray(b, dtype=np.float32).ravel()
    assert a.shape == b.shape
    ia = a.view(np.int32).astype(np.int64)
    ib = b.view(np.int32).astype(np.int64)
    ia = np.where(ia < 0, np.int64(-(2**31)) - ia, ia)
    ib = np.where(ib < 0, np.int64(-(2**31)) - ib, ib)
    d = np.abs(ia - ib)
    d[np.isnan(a) & np.isnan(b)] = 0
    return int(d.max()) if d.size else 0


def assert_same_bits(got, want):
    got = np.asarray(got)
    want = np.asarray(want)
    assert got.dtype == np.float32
    assert got.shape == want.shape, (got.shape, want.shape)
    assert ulp_distance(got, want) == 0
