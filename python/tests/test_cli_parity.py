"""Live parity: train models with the pip-installed XGBoost, predict with the
`quercus` CLI, and compare with XGBoost's own predictions on the same input.

Margins must be bit-identical, transformed outputs within 1 ulp of float32,
leaf indices identical. The input includes NaN, values exactly on split
thresholds and their float32 neighbours.
"""

from __future__ import annotations

import subprocess
import zlib

import numpy as np
import pytest

xgb = pytest.importorskip("xgboost")

from pyhelpers import CASES, make_input, quercus_bin, train, ulp_distance  # noqa: E402


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


@pytest.mark.parametrize("fmt", ["json", "ubj"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_cli_matches_installed_xgboost(name, fmt, tmp_path):
    rng = np.random.default_rng(zlib.crc32(f"{name}/{fmt}".encode()))
    booster, f = train(xgb, name, rng), 10
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
    booster, f = train(xgb, "regression", np.random.default_rng(1)), 10
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
