"""BigQuery ML exports: Quercus against Google's own exported predictor.

For every export under models/bqml/ (the real BigQuery ML exports Google's
predictor tests use, and the synthesized ones covering the other encodings),
fresh random instances are predicted by

* the oracle: `bigquery_ml_utils.inference.xgboost_predictor.Predictor`
  (bigquery-ml-utils 1.5.0, XGBoost 3.0.1, numpy 1.26.4) in a subprocess with
  PYTHONPATH=.venv/bqml-oracle (installed by scripts/test.sh), and
* the `quercus` CLI: `quercus predict EXPORT_DIR --input x.jsonl --output y.jsonl`.

Every instance the oracle accepts must give the same label and numbers within
1e-6 (the largest difference is printed); every instance it rejects must be
rejected. The seed is random unless BQML_ORACLE_SEED is set; it is printed on
failure.
"""
from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))

import bqml_random  # noqa: E402
from pyhelpers import quercus_bin  # noqa: E402

EXPORTS = sorted(p.parent.parent for p in (ROOT / "models" / "bqml").glob("*/assets/model_metadata.json"))
TOLERANCE = 1e-6
SEED = int(os.environ.get("BQML_ORACLE_SEED", random.randrange(1 << 30)))


def oracle_dir() -> Path:
    d = Path(os.environ.get("BQML_ORACLE", ROOT / ".venv" / "bqml-oracle"))
    if not (d / "bigquery_ml_utils").is_dir():
        pytest.skip(f"Google's predictor is not installed in {d} (scripts/test.sh installs it)")
    return d


def oracle_predict(export: Path, instances: list) -> list:
    env = dict(os.environ, PYTHONPATH=str(oracle_dir()))
    r = subprocess.run(
        [sys.executable, str(HERE / "bqml_oracle.py")],
        input=json.dumps({"export": str(export), "instances": instances}),
        capture_output=True, text=True, env=env, check=False,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(r.stdout)


def quercus_predict(export: Path, instances: list, tmp_path: Path, *args: str, ext="jsonl"):
    inp = tmp_path / f"instances.{ext}"
    out = tmp_path / f"predictions.{ext}"
    if out.exists():
        out.unlink()
    if ext == "jsonl":
        inp.write_text("".join(json.dumps(i) + "\n" for i in instances))
    else:
        inp.write_text(json.dumps({"instances": instances}))
    r = subprocess.run([quercus_bin(), "predict", str(export), "--input", str(inp),
                        "--output", str(out), *args], capture_output=True, text=True, check=False)
    if r.returncode != 0:
        assert not out.exists(), "a failed prediction must write nothing"
        return None, r.stderr
    if ext == "jsonl":
        return [json.loads(line) for line in out.read_text().splitlines()], r.stderr
    return json.loads(out.read_text())["predictions"], r.stderr


def diff(got, want, ctx: str) -> float:
    """Largest absolute difference; labels, class lists and keys must be equal."""
    if isinstance(want, dict):
        assert list(got) == list(want), f"{ctx}: keys {list(got)} != {list(want)}"
        worst = 0.0
        for k, w in want.items():
            if k.startswith("predicted_") or k.endswith("_values"):
                assert got[k] == w, f"{ctx}: {k}: {got[k]!r} != {w!r}"
            else:
                worst = max(worst, diff(got[k], w, f"{ctx}.{k}"))
        return worst
    if isinstance(want, list):
        assert len(got) == len(want), ctx
        return max([diff(g, w, f"{ctx}[{i}]") for i, (g, w) in enumerate(zip(got, want))] or [0.0])
    d = abs(got - want)
    assert d <= TOLERANCE, f"{ctx}: {got!r} vs oracle {want!r} (diff {d:.3e})"
    return d


@pytest.mark.parametrize("export", EXPORTS, ids=[p.name for p in EXPORTS])
def test_random_instances_match_googles_predictor(export: Path, tmp_path: Path):
    rng = random.Random(f"{SEED}-{export.name}")
    meta, schema = bqml_random.load_schema(str(export))
    instances = [bqml_random.random_instance(rng, meta, schema) for _ in range(300)]
    instances += [bqml_random.random_instance(rng, meta, schema, rich=True) for _ in range(300)]
    instances += bqml_random.error_instances(rng, meta, schema)
    results = oracle_predict(export, instances)
    good = [(i, r["ok"]) for i, r in zip(instances, results) if "ok" in r]
    bad = [(i, r["error"]) for i, r in zip(instances, results) if "error" in r]
    assert len(good) >= 500, f"seed {SEED}: the oracle rejected too many instances"

    got, err = quercus_predict(export, [i for i, _ in good], tmp_path)
    assert got is not None, f"seed {SEED}: quercus rejected instances the oracle accepts: {err}"
    worst = 0.0
    for n, ((inst, want), g) in enumerate(zip(good, got)):
        worst = max(worst, diff(g, want, f"seed {SEED}, {export.name}, instance {n} {inst}"))
    print(f"{export.name}: {len(good)} instances, largest difference {worst:.3e}; "
          f"{len(bad)} rejected by both")

    for inst, reason in bad:
        got, err = quercus_predict(export, [inst], tmp_path)
        assert got is None, f"seed {SEED}: quercus accepted {inst!r}, the oracle says {reason}"
        assert "row 0" in err and err.count("\n") == 1, err


@pytest.mark.parametrize("name", ["synthetic_churn_classifier", "synth_regressor_arrays"])
def test_vertex_request_and_bigquery_format(name: str, tmp_path: Path):
    export = ROOT / "models" / "bqml" / name
    rng = random.Random(f"{SEED}-{name}-bq")
    meta, schema = bqml_random.load_schema(str(export))
    instances = [bqml_random.random_instance(rng, meta, schema) for _ in range(50)]
    want = [r["ok"] for r in oracle_predict(export, instances)]

    # A Vertex AI request body in, a Vertex AI response body out.
    got, err = quercus_predict(export, instances, tmp_path, ext="json")
    assert got is not None, err
    for n, (g, w) in enumerate(zip(got, want)):
        diff(g, w, f"{name} instance {n}")

    # BigQuery ML.PREDICT's shape carries the same numbers, re-keyed by label.
    got, err = quercus_predict(export, instances, tmp_path, "--bigquery-format")
    assert got is not None, err
    label = meta["label_col"]
    for g, w in zip(got, want):
        if isinstance(w, dict):
            assert g[f"predicted_{label}"] == w[f"predicted_{label}"]
            probs = {p["label"]: p["prob"] for p in g[f"predicted_{label}_probs"]}
            assert list(probs) == w[f"{label}_values"]
            diff(list(probs.values()), w[f"{label}_probs"], name)
        else:
            diff(g[f"predicted_{label}"], w, name)


def test_a_bad_instance_fails_the_whole_request(tmp_path: Path):
    export = ROOT / "models" / "bqml" / "boosted_tree_classifier_model"
    good = {"f1": "a", "f2": ["b"], "f3": 1.5}
    got, err = quercus_predict(export, [good, good, {"f1": "a", "f2": ["b"]}], tmp_path)
    assert got is None
    assert "row 2" in err and "missing feature(s) f3" in err
