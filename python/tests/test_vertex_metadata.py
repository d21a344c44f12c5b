"""Vertex AI Model Registry metadata: `Model.metadata` and the generated
predict schemata, checked against the Vertex REST field set and, with an
OpenAPI 3.0 validator (openapi-schema-validator's OAS30Validator), against
real instances and real predictions of every fixture.

* XGBoost: every fixture of the manifest; in depth for a sample (every 3.2.0 model in JSON and UBJSON,
  and the legacy-binary files of 0.82, 1.0.2 and 2.1.4): the rows of the
  fixture's input (NaN as null, and as "NaN") and `predict`'s output per row.
* BigQuery ML: all 12 exports: random instances drawn like the fixture cases
  (`bqml_random`, the generator of models/bqml/*/cases.jsonl, without the
  predictor-specific "rich" values), and `predict_instances`' output; every
  instance Google's predictor rejects in cases.jsonl must be rejected by the
  schema too, except the few whose fault OpenAPI 3.0 cannot express.

Wrong instances and predictions (a missing or extra column, a string where a
number belongs, a wrong array length, a probability above 1...) must fail.
"""

from __future__ import annotations

import json
import math
import random
import sys
from pathlib import Path

import numpy as np
import pytest

yaml = pytest.importorskip("yaml")
osv = pytest.importorskip("openapi_schema_validator")

import quercus  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))

import bqml_random  # noqa: E402

XGB = ROOT / "models" / "xgboost"
EXPORTS = sorted(p.parent.parent for p in (ROOT / "models" / "bqml").glob("*/assets/model_metadata.json"))

# The Model resource's fields, from the Vertex REST reference
# (projects.locations.models#Model, research note bqml-vertex.md §4.1).
MODEL_FIELDS = {
    "name", "versionId", "versionAliases", "versionCreateTime", "versionUpdateTime",
    "displayName", "description", "versionDescription", "defaultCheckpointId",
    "predictSchemata", "metadataSchemaUri", "metadata", "supportedExportFormats",
    "trainingPipeline", "pipelineJob", "containerSpec", "artifactUri",
    "supportedDeploymentResourcesTypes", "supportedInputStorageFormats",
    "supportedOutputStorageFormats", "createTime", "updateTime", "deployedModels",
    "explanationSpec", "etag", "labels", "dataStats", "encryptionSpec",
    "modelSourceInfo", "originalModelInfo", "metadataArtifact", "baseModelSource",
    "satisfiesPzs", "satisfiesPzi", "checkpoints",
}
CONTAINER_FIELDS = {
    "imageUri", "command", "args", "env", "ports", "predictRoute", "healthRoute",
    "invokeRoutePrefix", "grpcPorts", "deploymentTimeout", "sharedMemorySizeMb",
    "startupProbe", "healthProbe", "livenessProbe",
}
SCHEMATA_FIELDS = {"instanceSchemaUri", "parametersSchemaUri", "predictionSchemaUri"}
SOURCE_TYPES = {
    "MODEL_SOURCE_TYPE_UNSPECIFIED", "AUTOML", "CUSTOM", "BQML", "MODEL_GARDEN",
    "GENIE", "CUSTOM_TEXT_EMBEDDING", "MARKETPLACE",
}

# The keywords of an OpenAPI 3.0 Schema Object (OAS 3.0.3, "Schema Object").
OAS30_KEYWORDS = {
    "title", "multipleOf", "maximum", "exclusiveMaximum", "minimum", "exclusiveMinimum",
    "maxLength", "minLength", "pattern", "maxItems", "minItems", "uniqueItems",
    "maxProperties", "minProperties", "required", "enum", "type", "allOf", "oneOf",
    "anyOf", "not", "items", "properties", "additionalProperties", "description",
    "format", "default", "nullable", "discriminator", "readOnly", "writeOnly", "xml",
    "externalDocs", "example", "deprecated",
}
OAS30_TYPES = {"boolean", "object", "array", "number", "string", "integer"}


def check_oas30(schema, where="schema"):
    """Fails unless `schema` is a well-formed OpenAPI 3.0 Schema Object: only
    its keywords, `type` a single OAS type, `items` one schema (and present for
    arrays), `required` a non-empty list of unique names."""
    assert isinstance(schema, dict), where
    for k, v in schema.items():
        assert k in OAS30_KEYWORDS or k.startswith("x-"), f"{where}: `{k}` is not an OAS 3.0 keyword"
    if "type" in schema:
        assert schema["type"] in OAS30_TYPES, f"{where}: type {schema['type']!r}"
    if schema.get("type") == "array":
        assert "items" in schema, f"{where}: an array needs items"
    if "items" in schema:
        check_oas30(schema["items"], f"{where}.items")
    for k in ("allOf", "oneOf", "anyOf"):
        if k in schema:
            assert isinstance(schema[k], list) and schema[k], where
            for i, s in enumerate(schema[k]):
                check_oas30(s, f"{where}.{k}[{i}]")
    for name, s in schema.get("properties", {}).items():
        check_oas30(s, f"{where}.properties.{name}")
    if isinstance(schema.get("additionalProperties"), dict):
        check_oas30(schema["additionalProperties"], f"{where}.additionalProperties")
    if "required" in schema:
        req = schema["required"]
        assert isinstance(req, list) and req and len(set(req)) == len(req), where
        assert set(req) <= set(schema.get("properties", {})), where
    if "nullable" in schema:
        assert isinstance(schema["nullable"], bool)
    osv.OAS30Validator.check_schema(schema)


def check_metadata(model: quercus.Model, source_type: str):
    md = model.metadata
    # JSON round trip, and only documented fields at every level we model.
    assert json.loads(json.dumps(md)) == md
    assert set(md) <= MODEL_FIELDS, set(md) - MODEL_FIELDS
    assert set(md["containerSpec"]) <= CONTAINER_FIELDS
    assert set(md["predictSchemata"]) <= SCHEMATA_FIELDS
    assert set(md["modelSourceInfo"]) <= {"sourceType", "copy"}
    assert md["modelSourceInfo"]["sourceType"] in SOURCE_TYPES
    assert md["modelSourceInfo"]["sourceType"] == source_type
    assert isinstance(md["displayName"], str) and 1 <= len(md["displayName"]) <= 128
    for k, v in md["labels"].items():
        assert 1 <= len(k) <= 64 and len(v) <= 64
        assert all(c.islower() or c.isdigit() or c in "_-" for c in k + v), (k, v)
    assert md["metadata"]["numFeatures"] == model.num_features
    assert md["metadata"]["objective"] == model.objective
    return md


def schemata(model: quercus.Model):
    """(instance, prediction) schemas, after checking the YAML files read back
    as exactly the same documents and are well-formed OAS 3.0."""
    s = model.predict_schemata()
    files = model.predict_schemata(yaml=True)
    assert sorted(files) == ["instance.yaml", "prediction.yaml"]
    assert "parameters" not in s
    assert yaml.safe_load(files["instance.yaml"]) == s["instance"]
    assert yaml.safe_load(files["prediction.yaml"]) == s["prediction"]
    check_oas30(s["instance"], "instance")
    check_oas30(s["prediction"], "prediction")
    return osv.OAS30Validator(s["instance"]), osv.OAS30Validator(s["prediction"])


def why(validator, value) -> str:
    return "; ".join(e.message for e in validator.iter_errors(value))[:500]


# --------------------------------------------------------------------------- XGBoost


def xgb_cases():
    cases = json.loads((XGB / "manifest.json").read_text())["cases"]
    out = [c for c in cases if c["version"] == "3.2.0"]
    out += [c for c in cases if c["version"] in ("0.82", "1.0.2", "2.1.4") and c["format"] == "binary"]
    return out


XGB_CASES = xgb_cases()


def test_the_sample_covers_what_it_should():
    kinds = {c["kind"] for c in XGB_CASES}
    formats = {c["format"] for c in XGB_CASES}
    assert {"json", "ubj", "binary"} <= formats, formats
    for k in ("multi_softprob", "multi_softmax", "binary_logistic", "feature_names",
              "multi_target_vector_leaf", "survival_cox", "count_poisson", "gblinear_reg"):
        assert k in kinds, k
    assert len(EXPORTS) == 12


def json_rows(x: np.ndarray, missing_as):
    rows = []
    for r in x.astype(np.float64):
        if np.isinf(r).any():
            continue  # JSON has no infinity (and XGBoost 3 rejects it)
        rows.append([missing_as if math.isnan(v) else float(v) for v in r])
    return rows


@pytest.mark.parametrize("case", XGB_CASES, ids=[c["id"] for c in XGB_CASES])
def test_xgboost_metadata_and_schemata(case):
    model = quercus.load(XGB / case["model"])
    md = check_metadata(model, "CUSTOM")
    assert md["metadata"]["xgboostVersion"] == model.xgboost_version
    inst, pred = schemata(model)
    n = model.num_features
    x = np.load(XGB / case["input"])
    rows = json_rows(x, None)
    assert rows, "no finite rows"
    names = model.feature_names
    for r in rows:
        assert inst.is_valid(r), why(inst, r)
        if names:
            obj = dict(zip(names, r))
            assert inst.is_valid(obj), why(inst, obj)
    for r in json_rows(x[:20], "NaN"):  # Google's prebuilt container's spelling
        assert inst.is_valid(r), why(inst, r)

    # Wrong instances.
    good = rows[0]
    wrong = [good[:-1], good + [1.0], [*good[:-1], "abc"], [*good[:-1], [1.0]], [*good[:-1], True],
             {"f0": 1.0} if not names else {n_: 1.0 for n_ in names[:-1]}, "1,2,3", None]
    if names:
        wrong += [{**dict(zip(names, good)), "zz_extra": 1.0}, {**dict(zip(names, good)), names[0]: "x"}]
    for w in wrong:
        assert not inst.is_valid(w), w

    # Real predictions, row by row as Vertex returns them.
    finite = np.array([r for r in x.astype(np.float64) if not np.isinf(r).any()], dtype=np.float32)
    out = model.predict(finite)
    preds = out.tolist()
    assert len(preds) == len(rows)
    width = 1 if out.ndim == 1 else out.shape[1]
    for p in preds:
        assert pred.is_valid(p), (p, why(pred, p))
    # Wrong predictions.
    wrong = ["0.5", None, {"value": 0.5}]
    if width == 1:
        wrong += [[preds[0]], [preds[0], preds[0]]]
    else:
        wrong += [preds[0][:-1], preds[0] + [0.0], preds[0][0]]
    if model.objective in ("binary:logistic", "reg:logistic", "multi:softprob"):
        wrong.append(1.5 if width == 1 else [1.5] + preds[0][1:])
    for w in wrong:
        assert not pred.is_valid(w), w


def test_feature_names_give_an_object_or_an_array():
    model = quercus.load(XGB / "3.2.0" / "feature_names.json")
    names = model.feature_names
    assert names
    s = model.predict_schemata()["instance"]
    obj, arr = s["anyOf"]
    assert obj["type"] == "object" and obj["required"] == names
    assert list(obj["properties"]) == names
    assert arr["type"] == "array" and arr["minItems"] == arr["maxItems"] == model.num_features


# --------------------------------------------------------------------------- BigQuery ML


def _cases(export: Path):
    return [json.loads(line) for line in (export / "cases.jsonl").read_text().splitlines() if line.strip()]


def _fault_not_expressible(instance, meta, schema) -> bool:
    """An instance with an ARRAY<STRUCT> pair whose index is outside 0..dim-1
    or not an integer (`1.0`): OpenAPI 3.0 cannot type the two positions of a
    pair differently, so the schema cannot refuse it."""
    if not isinstance(instance, dict):
        return False
    for name, kind, text in schema:
        if kind != "array_struct" or not isinstance(instance.get(name), list):
            continue
        dim = int(text[0])
        for pair in instance[name]:
            if isinstance(pair, list) and len(pair) == 2 and isinstance(pair[0], (int, float)) \
                    and not isinstance(pair[0], bool):
                k = pair[0]
                if not (isinstance(k, int) and 0 <= k < dim):
                    return True
    return False


@pytest.mark.parametrize("export", EXPORTS, ids=[e.name for e in EXPORTS])
def test_bqml_metadata_and_schemata(export):
    model = quercus.load(export)
    md = check_metadata(model, "BQML")
    bq = md["metadata"]["bigqueryMl"]
    assert bq["labelColumn"] == model.label_column
    assert [c["name"] for c in bq["inputColumns"]] == model.input_columns
    inst, pred = schemata(model)
    s = model.predict_schemata()["instance"]
    assert s["type"] == "object" and s["additionalProperties"] is False
    assert s["required"] == model.input_columns, "required in feature order"
    assert list(s["properties"]) == model.input_columns

    meta, schema = bqml_random.load_schema(str(export))
    rng = random.Random(f"vertex-schema/{export.name}")
    instances = [bqml_random.random_instance(rng, meta, schema) for _ in range(200)]
    for i in instances:
        assert inst.is_valid(i), (i, why(inst, i))
    preds = model.predict_instances(instances)
    for p in preds:
        assert pred.is_valid(p), (p, why(pred, p))

    # Every instance Google's predictor rejects, the schema rejects too
    # (unless its fault cannot be expressed in OpenAPI 3.0).
    errors = [c["instance"] for c in _cases(export) if "error" in c]
    assert errors
    accepted = [e for e in errors if inst.is_valid(e)]
    inexpressible = [e for e in accepted if _fault_not_expressible(e, meta, schema)]
    assert accepted == inexpressible, accepted[:3]
    assert len(inexpressible) <= len(errors) // 4

    # Wrong instances, built from a good one.
    good = instances[0]
    names = model.input_columns
    wrong = [{k: v for k, v in good.items() if k != names[0]}, {**good, "not_a_column": 1},
             [good[n] for n in names]]
    for name, kind, text in schema:
        if kind == "numeric":
            wrong += [{**good, name: "abc"}, {**good, name: [1.0]}, {**good, name: None}]
        elif kind.startswith("categorical"):
            wrong += [{**good, name: ["a"]}, {**good, name: {"a": 1}}]
        elif kind in ("array_one_hot", "array_target"):
            wrong += [{**good, name: "ab"}, {**good, name: 3}, {**good, name: [["a"]]}]
        elif kind == "array_struct":
            wrong += [{**good, name: [[0]]}, {**good, name: [[0, "x"]]}, {**good, name: [[0, 1.0, 2.0]]}]
        elif kind == "array_numerical":
            n = int(text[0])
            wrong += [{**good, name: [1.0] * (n + 1)}, {**good, name: ["x"] * n}]
            if n:
                wrong.append({**good, name: [1.0] * (n - 1)})
    for w in wrong:
        assert not inst.is_valid(w), w

    # Wrong predictions.
    p = preds[0]
    if isinstance(p, dict):
        label = model.label_column
        k = len(model.class_names)
        wrong = [{x: v for x, v in p.items() if x != f"{label}_probs"},
                 {**p, f"{label}_probs": p[f"{label}_probs"][:-1]},
                 {**p, f"{label}_probs": [2.0] * k},
                 {**p, f"predicted_{label}": "not_a_class"},
                 {**p, "extra": 1}, p[f"{label}_probs"]]
    else:
        wrong = [str(p), [p], None, {"predicted_label": p}]
    for w in wrong:
        assert not pred.is_valid(w), w


# The input rows of Google's own predictor tests for these exports
# (bigquery-ml-utils tests/unit/inference/xgboost_predictor/predictor_test.py,
# quoted in the research note bqml-vertex.md §1.9). Tuples there are lists here.
GOOGLE_TEST_ROWS = {
    "boosted_tree_regressor_model": [
        {"f1": "b", "f3": 3, "f2": ["a"]},
        {"f1": "f", "f2": ["c", "a", "a", "f"], "f3": 0},
        {"f1": "f", "f2": ["c", "a", "a", "f"], "f3": ""},
    ],
    "random_forest_classifier_model": [{"f1": "a", "f3": 6, "f2": "a"}, {"f1": "b", "f2": "b", "f3": 0}],
    "sparse_feature_model_3": [{"f1": 1.0, "f2": "a", "f3": ["a", "b"], "f4": [[1, 1.0], [3, 2.0]]}],
    "boosted_tree_mixed_feature_model": [
        {"f1": "a", "f2_foo": "k", "f2_bar": "v", "f3": [[1, 1.0], [3, 1.0]], "f4": [1.0, 2.0, 3.0]},
    ],
    "boosted_tree_cox_model": [{
        "product_data_storage": 2048, "product_travel_expense": "Free-Trial", "product_payroll": "Active",
        "product_accounting": "No", "csat_score": 9, "articles_viewed": 4,
        "smartphone_notifications_viewed": 0, "marketing_emails_clicked": 14, "social_media_ads_viewed": 1,
        "minutes_customer_support": 8.3, "company_size": "10-50", "us_region": "West North Central",
    }],
}
GOOGLE_TEST_ROWS["boosted_tree_classifier_model"] = GOOGLE_TEST_ROWS["boosted_tree_regressor_model"]


@pytest.mark.parametrize("name", sorted(GOOGLE_TEST_ROWS))
def test_googles_own_test_rows_are_valid_instances(name):
    # (random_forest_classifier_model's f2 has both 1_categorical_label.txt and
    # 1_array_one_hot.txt; the predictor label-encodes it, so the schema wants
    # a string, as Google's rows and the export's cases.jsonl give.)
    model = quercus.load(ROOT / "models" / "bqml" / name)
    inst, pred = schemata(model)
    rows = GOOGLE_TEST_ROWS[name]
    for r in rows:
        assert inst.is_valid(r), (r, why(inst, r))
    for p in model.predict_instances(rows):
        assert pred.is_valid(p), (p, why(pred, p))


def test_bqml_column_types_follow_the_encodings():
    export = ROOT / "models" / "bqml" / "boosted_tree_mixed_feature_model"
    props = quercus.load(export).predict_schemata()["instance"]["properties"]
    assert props["f1"]["type"] == "string"
    assert props["f3"]["type"] == "array" and props["f3"]["items"]["type"] == "array"
    assert props["f3"]["items"]["minItems"] == props["f3"]["items"]["maxItems"] == 2
    assert props["f4"]["type"] == "array" and props["f4"]["minItems"] == props["f4"]["maxItems"] == 3
    export = ROOT / "models" / "bqml" / "boosted_tree_classifier_model"
    props = quercus.load(export).predict_schemata()["instance"]["properties"]
    assert props["f2"]["type"] == "array" and props["f2"]["items"]["type"] == "string"
    assert {"type": "number", "minimum": -3.4028234663852886e38, "maximum": 3.4028234663852886e38} \
        in props["f3"]["anyOf"]
    assert "the stored mean 10" in props["f3"]["description"]


# --------------------------------------------------------------------------- the YAML writer


def _random_string(rng):
    pool = ["a", "Z", "_", "-", ".", " ", ":", "#", "'", '"', "\\", "\n", "\t", "\r", "\x00", "\x07",
            "\x7f", "\x85", "\xa0", "é", "日", "\u2028", "\u2029", "\ufeff", "\U0001F600", "0", "1",
            "true", "no", "~", "null", "- ", "? ", "{", "[", "!", "&", "*", "%", "@", "`", "|", ">"]
    return "".join(rng.choice(pool) for _ in range(rng.randrange(0, 6)))


def _random_value(rng, depth=0):
    r = rng.random()
    if depth > 3 or r < 0.45:
        return rng.choice([
            None, True, False, rng.randrange(-10**6, 10**6), rng.uniform(-1e6, 1e6),
            rng.choice([1e39, -1e-7, 3.4028234663852886e38, 0.0, -0.0, 1e16, 2.5, 123456789.0]),
            rng.randrange(-2**63, 2**64), _random_string(rng),
            rng.choice(["yes", "No", "on", "OFF", "y", "n", "1.5", "1e3", ".nan", "NaN", "inf", "0x1F",
                        "2001-01-01", "12:30", "", " x", "x ", "a: b", "#c"]),
        ])
    if r < 0.75:
        return [_random_value(rng, depth + 1) for _ in range(rng.randrange(0, 4))]
    return {_random_string(rng) or "k": _random_value(rng, depth + 1) for _ in range(rng.randrange(0, 4))}


def test_yaml_writer_round_trips_through_pyyaml():
    from quercus import _native

    rng = random.Random(20261127)
    for _ in range(1500):
        v = _random_value(rng)
        text = _native.yaml_dump(json.dumps(v))
        back = yaml.safe_load(text)
        assert back == v and type(back) is type(v), (v, text, back)


ALL_OTHER_CASES = [
    c for c in json.loads((XGB / "manifest.json").read_text())["cases"] if c not in XGB_CASES
]


@pytest.mark.parametrize("case", ALL_OTHER_CASES, ids=[c["id"] for c in ALL_OTHER_CASES])
def test_every_other_fixture_has_vertex_metadata_and_schemata(case):
    """The rest of the manifest, lighter: the Model resource's fields, and
    the schemata against the first rows and their predictions."""
    model = quercus.load(XGB / case["model"])
    md = check_metadata(model, "CUSTOM")
    assert md["metadata"]["xgboostVersion"] == model.xgboost_version
    inst, pred = schemata(model)
    x = np.load(XGB / case["input"])
    finite = np.array([r for r in x.astype(np.float64) if not np.isinf(r).any()][:5], dtype=np.float32)
    rows = json_rows(finite, None)
    assert rows, "no finite rows"
    for r in rows:
        assert inst.is_valid(r), why(inst, r)
    assert not inst.is_valid(rows[0][:-1])
    for p in model.predict(finite).tolist():
        assert pred.is_valid(p), (p, why(pred, p))
