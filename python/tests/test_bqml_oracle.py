"""BigQuery ML exports: Quercus against Google's own exported predictor.

For every export under models/bqml/ (the real BigQuery ML exports Google's
predictor tests use, and the synthesized ones covering the other encodings),
fresh random instances are predicted by

* the oracle: `bigquery_ml_utils.inference.xgboost_predictor.Predictor`
  (bigquery-ml-utils 1.5.0, XGBoost 3.0.1, numpy 1.26.4) in a subprocess with
  PYTHONPATH=.venv/bqml-oracle (installed by scripts/test.sh), and
* the `quercus` CLI: `quercus predict EXPORT_DIR --input x.jsonl --output y.jsonl`.

Every instance the oracle accepts must give the same label and exactly the
same numbers (the README promises bit for bit); every instance it rejects must be
rejected. The seed is random unless BQML_ORACLE_SEED is set; it is printed on
failure.

The tests after those compare exactly (the same JSON, every float bit for
bit): a random sample of the hostile instances of models/bqml/hostile (whose
stored outputs the live oracle must still give), exports whose model.bst
declares more features than their assets encode, and random_forest_classifier_
model with tree 0 split on its label-encoded f2 (exports patched by
bqml_hostile.py).
"""
from __future__ import annotations

import importlib.util
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

import bqml_hostile  # noqa: E402
import bqml_random  # noqa: E402
from pyhelpers import quercus_bin  # noqa: E402

EXPORTS = sorted(p.parent.parent for p in (ROOT / "models" / "bqml").glob("*/assets/model_metadata.json"))
TOLERANCE = 0.0
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


def quercus_predict(export: Path, instances: list, tmp_path: Path, *args: str, ext="jsonl", raw=False):
    """The CLI's predictions (None and stderr if it fails). raw=True: the
    instances are JSON texts, written as they are."""
    inp = tmp_path / f"instances.{ext}"
    out = tmp_path / f"predictions.{ext}"
    if out.exists():
        out.unlink()
    if ext == "jsonl":
        inp.write_text("".join((i if raw else json.dumps(i)) + "\n" for i in instances))
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
        # A number JSON cannot hold as a float64 (1e400) fails at parsing,
        # which names the line of the (one-instance) file instead of row 0.
        where = "line 1" if "invalid JSON" in err else "row 0"
        assert where in err and err.count("\n") == 1, err


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


# --- Exact comparisons: hostile instances, patched exports -------------------------------

def identical(got, want) -> bool:
    """The same JSON, every float bit for bit (repr distinguishes -0.0 and
    every last digit), keys in the same order."""
    return json.dumps(got) == json.dumps(want)


def compare_exactly(export: Path, instances: list, tmp_path: Path, ctx: str, texts: list | None = None,
                    columns: list | None = None, may_refuse_export: bool = False) -> list:
    """Runs `instances` through the live oracle and the CLI (texts: the JSON
    texts to give the CLI, default json.dumps): every prediction identical,
    every rejection a one-line error naming row 0 and (columns[i]) the column,
    or, if may_refuse_export, the export refused at load. Returns the oracle's
    outputs."""
    texts = texts or [json.dumps(i) for i in instances]
    columns = columns or [None] * len(instances)
    results = oracle_predict(export, instances)
    good = [(t, r["ok"]) for t, r in zip(texts, results) if "ok" in r]
    if good:
        got, err = quercus_predict(export, [t for t, _ in good], tmp_path, raw=True)
        assert got is not None, f"{ctx}: quercus rejected instances the oracle accepts: {err}"
        for (t, want), g in zip(good, got):
            assert identical(g, want), f"{ctx}: {t}: quercus {g!r}, oracle {want!r}"
    for t, r, col in zip(texts, results, columns):
        if "error" not in r:
            continue
        got, err = quercus_predict(export, [t], tmp_path, raw=True)
        assert got is None, f"{ctx}: quercus accepted {t}, the oracle says {r['error']}"
        if may_refuse_export and "invalid model" in err:
            continue
        # A number JSON cannot hold as a float64 (1e400) fails at parsing,
        # which names the line of the (one-instance) file instead of row 0.
        where = "line 1" if "invalid JSON" in err else "row 0"
        assert where in err and err.count("\n") == 1, err
        if col and "invalid JSON" not in err:
            assert f"feature `{col}`" in err or ("differ" in err and col in err), f"{ctx}: {t}: {err}"
    return results


def error_type(e: str) -> str:
    return e.split(":", 1)[0]


HOSTILE = bqml_hostile.case_files()


@pytest.mark.parametrize("path", HOSTILE, ids=[p.stem for p in HOSTILE])
def test_hostile_instances_match_googles_predictor(path: Path, tmp_path: Path):
    """A random sample of models/bqml/hostile: the live oracle still gives the
    stored outputs, and Quercus gives the same, exactly."""
    oracle_dir()
    spec = bqml_hostile.load(path)
    rng = random.Random(f"{SEED}-{path.stem}")
    cases = rng.sample(spec["cases"], min(6, len(spec["cases"])))
    export = bqml_hostile.build_export(spec["export"], spec.get("patch"), tmp_path / "export")
    instances = [json.loads(c["instance"]) for c in cases]
    ctx = f"seed {SEED}, {path.stem}"
    # An export the oracle fails every instance with may be refused at load.
    refusable = all("error" in c for c in spec["cases"])
    live = compare_exactly(export, instances, tmp_path, ctx, texts=[c["instance"] for c in cases],
                           columns=[c.get("column") for c in cases], may_refuse_export=refusable)
    for c, r in zip(cases, live):
        if "expected" in c:
            assert "ok" in r and identical(r["ok"], c["expected"]), f"{ctx}: {c['label']}: stored {c}, live {r}"
        else:
            assert "error" in r and error_type(r["error"]) == error_type(c["error"]), f"{ctx}: {c}, live {r}"


DECLARED = [
    # model.bst declaring more features than the assets encode; tree 0's root
    # moved to the absent feature 6, so that it matters.
    ("boosted_tree_classifier_model", {"num_feature": 7, "tree0_root": {"feature": 6, "default_left": False}}),
    ("boosted_tree_classifier_model", {"num_feature": 7, "tree0_root": {"feature": 6, "default_left": True}}),
    ("sparse_feature_model_3", {"num_feature": 13}),
    ("synth_aft_model", {"num_feature": 15}),  # binf header
]


@pytest.mark.parametrize("name,patch", DECLARED, ids=[f"{n}-{i}" for i, (n, _) in enumerate(DECLARED)])
def test_more_declared_features_than_encoded_match_googles_predictor(name: str, patch: dict, tmp_path: Path):
    oracle_dir()
    export = bqml_hostile.build_export(name, patch, tmp_path / "export")
    rng = random.Random(f"{SEED}-{name}-declared")
    meta, schema = bqml_random.load_schema(str(export))
    instances = [bqml_random.random_instance(rng, meta, schema) for _ in range(100)]
    instances += [bqml_random.random_instance(rng, meta, schema, rich=True) for _ in range(100)]
    instances += bqml_random.error_instances(rng, meta, schema)[:8]
    results = compare_exactly(export, instances, tmp_path, f"seed {SEED}, {name} {patch}")
    assert sum("ok" in r for r in results) >= 150


def _fixture_cases_generator():
    spec = importlib.util.spec_from_file_location("bqml_fixture_cases", ROOT / "models" / "gen" / "bqml_fixture_cases.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_generators_type_a_feature_by_the_vocabulary_the_predictor_uses():
    # random_forest_classifier_model's f2 has 1_categorical_label.txt and
    # 1_array_one_hot.txt; the predictor label-encodes it (its dispatch order,
    # not the file names' sort order nor encode_type, decides).
    export = ROOT / "models" / "bqml" / "random_forest_classifier_model"
    kinds = _fixture_cases_generator().feature_kinds(str(export))
    assert kinds[1][0] == "categorical_label"
    assert kinds[1][1] == ["_null_filler", "a", "b", "c"]
    _, schema = bqml_random.load_schema(str(export))
    assert schema[1][:2] == ("f2", "categorical_label")


def test_label_encoded_f2_matches_googles_predictor(tmp_path: Path):
    """random_forest_classifier_model with tree 0 split on f2, so that how f2
    is encoded shows in the probabilities."""
    oracle_dir()
    name = "random_forest_classifier_model"
    export = bqml_hostile.build_export(name, {"tree0_nodes": bqml_hostile.TREE0_ON_F2}, tmp_path / "export")
    rng = random.Random(f"{SEED}-{name}-f2")
    meta, schema = bqml_random.load_schema(str(export))
    instances = [bqml_random.random_instance(rng, meta, schema, rich=bool(i % 2)) for i in range(120)]
    instances += [dict(instances[0], f2=v) for v in
                  ["a", "b", "c", "f", "_null_filler", [], ["a"], ["c"], ["f"], "['c']", 1, None, {"c": 1}, True]]
    results = compare_exactly(export, instances, tmp_path, f"seed {SEED}, {name} tree 0 on f2")
    distinct = {json.dumps(r["ok"]) for r in results if "ok" in r}
    assert len(distinct) >= 3, distinct  # +3 (a, b, _null_filler), -3 (c), 0 (missing)
