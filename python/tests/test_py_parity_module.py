"""`quercus.parity.compare` and `python -m quercus.parity` against every kind
of reference: an XGBoost Booster or model path, Vertex AI responses (online
and batch), BigQuery ML.PREDICT exports (CSV / JSON, probabilities matched by
label) and plain arrays. Every expected value comes from real XGBoost or from
Google's exported BigQuery ML predictor (models/bqml/*/cases.jsonl)."""

from __future__ import annotations

import csv
import json
import random
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest

import quercus
import quercus.parity as parity
from pyhelpers import ROOT, make_input, train

xgb = pytest.importorskip("xgboost")
pd = pytest.importorskip("pandas")

NAMES = [f"f{i}" for i in range(10)]


@pytest.fixture(scope="module")
def softprob(tmp_path_factory):
    rng = np.random.default_rng(zlib.crc32(b"parity-module"))
    booster = train(xgb, "softprob", rng, feature_names=NAMES)
    path = tmp_path_factory.mktemp("pm") / "softprob.json"
    booster.save_model(str(path))
    x = make_input(rng, booster, 10, n=200)
    return path, booster, x


def test_booster_reference_is_exact(softprob):
    path, booster, x = softprob
    model = quercus.load(path)
    r = parity.compare(model, x, booster, output_margin=True)
    assert r.passed and r.max_ulps == 0 and r.mismatches == 0
    assert r.tolerance == "exact (0 ulp)"
    assert r.rows == 200 and r.values == 800
    assert "PASSED" in str(r) and "xgboost" in str(r)
    r = parity.compare(model, x, booster, pred_leaf=True)
    assert r.passed and r.output == "leaf"
    r = parity.compare(str(path), pd.DataFrame(x, columns=NAMES), str(path))  # both by path
    assert r.passed and r.tolerance == "1e-06 relative" and r.max_ulps <= 1
    r = parity.compare(model, x, booster, output_margin=True, iteration_range=(2, 5))
    assert r.passed and r.max_ulps == 0


def test_a_difference_fails_and_names_the_rows(softprob):
    path, booster, x = softprob
    model = quercus.load(path)
    want = booster.predict(xgb.DMatrix(x, feature_names=NAMES))
    bad = want.copy()
    bad[17, 2] *= 1.001
    bad[42, 0] = np.nextafter(bad[42, 0], np.float32(1))  # 1 ulp: within 1e-6
    r = parity.compare(model, x, bad)
    assert not r.passed and r.mismatches == 1
    assert r.worst[0].row == 17 and r.worst[1].row == 42 and r.worst[1].ulps == 1
    text = str(r)
    assert "FAILED" in text and "row 17" in text and "input" in text
    assert r.max_rel_diff == pytest.approx(0.001 / 1.001, rel=1e-3)
    r = parity.compare(model, x, bad, tolerance=0.01)
    assert r.passed
    r = parity.compare(model, x, want, tolerance=0)
    assert r.tolerance == "exact (0 ulp)" and r.max_ulps <= 1


def test_vertex_online_response(softprob, tmp_path):
    path, booster, x = softprob
    model = quercus.load(path)
    want = booster.predict(xgb.DMatrix(x, feature_names=NAMES))
    # What the prebuilt XGBoost container returns: result.tolist().
    response = {"predictions": want.tolist(), "deployedModelId": "123", "model": "projects/p/models/m"}
    r = parity.compare(model, x, response)
    assert r.passed and "Vertex" in r.reference and r.max_ulps == 0
    f = tmp_path / "response.json"
    f.write_text(json.dumps(response))
    assert parity.compare(model, x, f).passed
    with pytest.raises(quercus.InputError):
        parity.compare(model, None, response)


def test_vertex_batch_output_is_matched_by_instance(softprob, tmp_path):
    path, booster, x = softprob
    model = quercus.load(path)
    x = x[:50]
    want = booster.predict(xgb.DMatrix(x, feature_names=NAMES))
    lines = [
        {"instance": [None if np.isnan(v) else float(v) for v in row], "prediction": p}
        for row, p in zip(x, want.tolist())
    ]
    random.Random(3).shuffle(lines)  # batch output order is not the input order
    f = tmp_path / "prediction.results-00000-of-00001"
    f.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    r = parity.compare(model, x, f)
    assert r.passed and r.rows == 50 and "matched by instance" in r.reference
    r = parity.compare(model, None, f)  # the instances come from the file
    assert r.passed and r.rows == 50


def _bq_rows(x, probs, labels, rng):
    rows = []
    for row, p in zip(x, probs):
        entries = [{"label": lbl, "prob": float(v)} for lbl, v in zip(labels, p)]
        rng.shuffle(entries)  # ML.PREDICT does not promise an order
        rec = {n: (None if np.isnan(v) else float(v)) for n, v in zip(NAMES, row)}
        rec["predicted_label"] = labels[int(np.argmax(p))]
        rec["predicted_label_probs"] = entries
        rows.append(rec)
    return rows


def test_bigquery_export_json_and_csv(softprob, tmp_path):
    path, booster, x = softprob
    model = quercus.load(path)
    want = booster.predict(xgb.DMatrix(x, feature_names=NAMES))
    rows = _bq_rows(x, want, ["0", "1", "2", "3"], random.Random(5))
    nd = tmp_path / "export.json"  # BigQuery's JSON export is newline-delimited
    nd.write_text("".join(json.dumps(r) + "\n" for r in rows))
    r = parity.compare(model, None, nd)
    assert r.passed and r.rows == 200 and "matched by label" in r.reference
    assert "inputs from the export" in r.reference
    r = parity.compare(model, x, rows)  # rows already in memory, X given
    assert r.passed
    r = parity.compare(model, None, pd.DataFrame(rows))  # client.query(...).to_dataframe()
    assert r.passed
    # CSV: nested columns exported as JSON strings, missing values as empty cells.
    c = tmp_path / "export.csv"
    with open(c, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        for rec in rows:
            w.writerow({k: ("" if v is None else json.dumps(v) if isinstance(v, list) else v) for k, v in rec.items()})
    r = parity.compare(model, None, c)
    assert r.passed and r.rows == 200
    # Labels that are not the output indices must be given.
    named = _bq_rows(x, want, ["a", "b", "c", "d"], random.Random(6))
    with pytest.raises(quercus.InputError, match="labels="):
        parity.compare(model, None, named)
    assert parity.compare(model, None, named, labels=["a", "b", "c", "d"]).passed
    assert not parity.compare(model, None, named, labels=["b", "a", "c", "d"]).passed


def test_bigquery_regression_export(tmp_path):
    rng = np.random.default_rng(8)
    booster = train(xgb, "regression", rng, feature_names=NAMES)
    path = tmp_path / "reg.ubj"
    booster.save_model(str(path))
    x = make_input(rng, booster, 10, n=100)
    want = booster.predict(xgb.DMatrix(x, feature_names=NAMES))
    rows = [{**{n: float(v) for n, v in zip(NAMES, row)}, "predicted_y": float(p)} for row, p in zip(x, want)]
    f = tmp_path / "bq.json"
    f.write_text(json.dumps(rows))  # a JSON array, as `bq query --format=json` prints
    r = parity.compare(quercus.load(path), None, f)
    assert r.passed and "predicted_y" in r.reference


def _bqml_cases(folder):
    cases = []
    for line in (ROOT / "models" / "bqml" / folder / "cases.jsonl").read_text().splitlines():
        c = json.loads(line)
        if "expected" in c:
            cases.append(c)
    return cases


@pytest.mark.parametrize("folder", ["boosted_tree_classifier_model", "boosted_tree_regressor_model"])
def test_bqml_export_against_googles_predictor(folder):
    d = ROOT / "models" / "bqml" / folder
    if not (d / "cases.jsonl").exists():
        pytest.skip("no BigQuery ML fixtures")
    cases = _bqml_cases(folder)
    model = quercus.load(d)
    assert model.is_bqml
    instances = [c["instance"] for c in cases]
    response = {"predictions": [c["expected"] for c in cases]}  # a Vertex endpoint serving the export
    r = parity.compare(model, instances, response)
    assert r.passed, str(r)
    assert r.rows == len(cases)
    got = model.predict_instances(instances)
    if model.class_names:
        assert model.class_names == cases[0]["expected"]["label_values"]
        np.testing.assert_allclose(
            [g["label_probs"] for g in got], [c["expected"]["label_probs"] for c in cases], rtol=1e-6
        )
        # predict() on a DataFrame of raw columns gives the probability matrix.
        probs = model.predict(pd.DataFrame(instances))
        assert probs.shape == (len(cases), len(model.class_names)) and probs.dtype == np.float32
        np.testing.assert_allclose(probs, [c["expected"]["label_probs"] for c in cases], rtol=1e-6)
    else:
        np.testing.assert_allclose(got, [c["expected"] for c in cases], rtol=1e-6)
        np.testing.assert_allclose(model.predict(pd.DataFrame(instances)), got, rtol=1e-6)


def test_bqml_bad_instance_is_an_input_error():
    d = ROOT / "models" / "bqml" / "boosted_tree_classifier_model"
    if not d.exists():
        pytest.skip("no BigQuery ML fixtures")
    model = quercus.load(d)
    with pytest.raises(quercus.InputError) as e:
        model.predict_instances([{"f1": "b", "f2": ["a"], "f3": 1.0}, {"f1": "b"}])
    assert "\n" not in str(e.value)
    with pytest.raises(quercus.OptionError):
        quercus.load(ROOT / "models" / "example" / "model.json").predict_instances([{"a": 1}])


def run_cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "quercus.parity", *map(str, args)],
        capture_output=True, text=True, cwd=ROOT, timeout=300,
    )


def test_cli(softprob, tmp_path):
    path, booster, x = softprob
    np.save(tmp_path / "x.npy", x)
    r = run_cli(path, "--input", tmp_path / "x.npy", "--reference", path, "--margin")
    assert r.returncode == 0, r.stderr
    assert "PASSED" in r.stdout and "exact (0 ulp)" in r.stdout
    want = booster.predict(xgb.DMatrix(x, feature_names=NAMES))
    want[3, 1] += 0.01
    np.save(tmp_path / "want.npy", want)
    r = run_cli(path, "--input", tmp_path / "x.npy", "--reference", tmp_path / "want.npy")
    assert r.returncode == 1 and "FAILED" in r.stdout and "row 3" in r.stdout
    r = run_cli(path, "--input", tmp_path / "nope.npy", "--reference", path)
    assert r.returncode == 2 and r.stderr.startswith("error:")


def test_readme_example_runs():
    """The commands in README.md's parity section, as written there."""
    readme = (ROOT / "README.md").read_text()
    cmds = [line.strip() for line in readme.splitlines() if line.strip().startswith("python -m quercus.parity")]
    assert cmds, "README.md shows no `python -m quercus.parity` command"
    for cmd in cmds:
        argv = cmd.split()[3:]
        r = run_cli(*argv)
        assert r.returncode == 0, (cmd, r.stdout, r.stderr)
        assert "PASSED" in r.stdout
    blocks = readme.split("```python\n")[1:]
    codes = [b[: b.index("```")] for b in blocks if "import quercus" in b[: b.index("```")]]
    assert any("parity.compare" in c for c in codes)
    for code in codes:
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300)
        assert r.returncode == 0, (code, r.stderr)
        if "parity.compare" in code:
            assert "PASSED" in r.stdout


def test_a_float64_csv_reference_is_compared_at_float32(tmp_path):
    """A reference printed in float64 (17 digits) of float32 predictions: the
    report is exact and consistent (0 ulp and 0 abs diff, no "worst rows"
    that print identically); before, it showed 2e-08 abs beside 0 ulp
    (newcomer issue, item 7)."""
    model = quercus.load(ROOT / "models" / "example" / "model.json")
    df = pd.read_csv(ROOT / "models" / "example" / "input.csv").astype(np.float32)
    got = model.predict(df).astype(np.float64)
    want = got + got * 1e-9  # float64 noise below float32 precision
    r = parity.compare(model, df, want)
    assert r.passed and r.max_ulps == 0 and r.max_abs_diff == 0.0, str(r)
    assert "worst rows" not in str(r)
    # A real float32 difference still shows in every column of the report.
    want2 = got.astype(np.float32).copy()
    want2[0] = np.nextafter(want2[0], np.float32(2))
    r = parity.compare(model, df, want2.astype(np.float64), tolerance=0)
    assert not r.passed and r.max_ulps == 1 and r.max_abs_diff > 0, str(r)
