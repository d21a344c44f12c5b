"""Hostile and careless use of the Python API (hardening issue, items 2–5, 10
and 12): every error a user can provoke is a ``quercus.QuercusError``, a
categorical column never feeds a numeric feature, compiled files are copied
unless ``mmap=True``, and NaN / infinite margins go through every objective's
transform as XGBoost computes them."""

from __future__ import annotations

import json
import math
import os
import shutil

import numpy as np
import pytest

import quercus
from pyhelpers import ROOT, assert_same_bits, train

xgb = pytest.importorskip("xgboost")
pd = pytest.importorskip("pandas")
pa = pytest.importorskip("pyarrow")
sp = pytest.importorskip("scipy.sparse")

EXAMPLE = ROOT / "models" / "example" / "model.json"


@pytest.fixture(scope="module")
def numeric(tmp_path_factory):
    """A binary model on 10 numeric features, without feature types."""
    booster = train(xgb, "binary_logistic", np.random.default_rng(3))
    path = tmp_path_factory.mktemp("num") / "m.json"
    booster.save_model(str(path))
    return quercus.load(path), booster, path


# -- item 4: categorical columns ------------------------------------------------


def test_a_category_column_for_a_model_without_categorical_features_is_refused(numeric):
    model, booster, _ = numeric
    x = np.random.default_rng(1).normal(size=(20, 10)).astype(np.float32)
    df = pd.DataFrame(x, columns=[f"f{i}" for i in range(10)])
    df["f3"] = pd.Categorical(np.where(x[:, 3] > 0, "a", "b"))
    with pytest.raises(quercus.InputTypeError, match="'f3' is categorical"):
        model.predict(df)
    with pytest.raises(quercus.InputTypeError, match="categorical"):
        model.predict(df, validate_features=False)
    with pytest.raises(quercus.InputTypeError, match="categorical"):
        model.predict(pa.Table.from_pandas(df))
    # XGBoost refuses the same frame (without enable_categorical).
    with pytest.raises(Exception):
        booster.predict(xgb.DMatrix(df))
    # The numbers themselves still predict.
    df["f3"] = x[:, 3]
    assert_same_bits(model.predict(df), model.predict(x))


def test_a_category_column_for_a_numeric_typed_feature_is_refused(tmp_path):
    rng = np.random.default_rng(2)
    x = rng.normal(size=(200, 2)).astype(np.float32)
    booster = xgb.train({"max_depth": 2}, xgb.DMatrix(x, label=x[:, 0], feature_types=["q", "q"]), 3)
    booster.save_model(str(tmp_path / "m.json"))
    model = quercus.load(tmp_path / "m.json")
    df = pd.DataFrame({"f0": pd.Categorical(["a", "b"]), "f1": [1.0, 2.0]})
    with pytest.raises(quercus.InputTypeError, match="feature 0 is numeric"):
        model.predict(df, validate_features=False)


# -- item 12: nothing but QuercusError escapes -----------------------------------


def test_user_errors_are_quercus_errors(numeric):
    model, _, path = numeric
    x = np.zeros((2, 10), dtype=np.float32)
    with pytest.raises(quercus.InputError, match="Series"):
        model.predict(pd.Series(np.zeros(10)))
    with pytest.raises(quercus.OptionError, match="n_threads"):
        model.predict(x, n_threads=2**70)
    with pytest.raises(quercus.OptionError, match="n_threads"):
        model.predict(x, n_threads="many")
    big = np.zeros((1, 10), dtype=object)
    big[0, 4] = 10**400
    with pytest.raises(quercus.InputError, match="row 0, column 4"):
        model.predict(big)
    with pytest.raises(quercus.OptionError, match="missing"):
        quercus.load(path, missing="abc")
    with pytest.raises(quercus.OptionError, match="iteration_range"):
        model.predict(x, iteration_range=(0, 2**70))
    with pytest.raises(quercus.OptionTypeError):
        model.predict(x, kernel=3)
    with pytest.raises(TypeError):  # still a TypeError too
        model.predict(x, kernel=3)
    with pytest.raises(quercus.OptionError, match="max_model_bytes"):
        quercus.load(path, max_model_bytes=-1)


HOSTILE_X = [
    None,
    "abc",
    b"abc",
    {"f0": 1},
    [],
    [[]],
    [[1, 2]],
    [["a"] * 10],
    [[object()] * 10],
    [[10**400] * 10],
    [[complex(1, 2)] * 10],
    np.zeros((0,)),
    np.zeros((2, 3, 4)),
    np.zeros((2, 9)),
    np.array([["x"] * 10]),
    np.zeros((1, 10), dtype="datetime64[s]"),
    np.zeros((1, 10), dtype=np.complex64),
    np.zeros((1, 10), dtype=">f4"),
    np.zeros((1, 10), dtype=np.float16),
    np.zeros((1, 10))[:, ::-1],
    np.broadcast_to(np.float32(1), (3, 10)),
    sp.csr_matrix((2, 11)),
    sp.coo_matrix(np.eye(10)),
    pa.table({"a": ["x", "y"]}),
    pa.table({f"f{i}": [1.0] for i in range(10)}),
]


@pytest.mark.parametrize("i", range(len(HOSTILE_X)))
def test_hostile_inputs_raise_only_quercus_errors(numeric, i):
    model, _, _ = numeric
    for kwargs in ({}, {"output_margin": True}, {"pred_leaf": True}, {"n_threads": 2}):
        try:
            model.predict(HOSTILE_X[i], **kwargs)
        except quercus.QuercusError:
            pass


@pytest.mark.parametrize(
    "kwargs",
    [
        {"iteration_range": (5, 2)},
        {"iteration_range": "ab"},
        {"iteration_range": (0, 10**30)},
        {"n_threads": float("nan")},
        {"n_threads": 10**30},
        {"kernel": "avx9000"},
        {"kernel": b"reference"},
    ],
)
def test_hostile_options_raise_only_quercus_errors(numeric, kwargs):
    model, _, _ = numeric
    with pytest.raises(quercus.QuercusError):
        model.predict(np.zeros((2, 10), dtype=np.float32), **kwargs)


@pytest.mark.parametrize(
    "kwargs",
    [{"missing": "abc"}, {"missing": None}, {"missing": 10**400}, {"max_model_bytes": 0}, {"max_model_bytes": 1.5}],
)
def test_hostile_load_options_raise_only_quercus_errors(numeric, kwargs):
    _, _, path = numeric
    with pytest.raises(quercus.QuercusError):
        quercus.load(path, **kwargs)


def test_hostile_paths_raise_only_quercus_errors(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for p in [tmp_path / "missing.json", tmp_path, fifo, "/dev/null", "registry://", "registry://x@@y", "\0"]:
        with pytest.raises(quercus.QuercusError):
            quercus.load(p)


# -- items 3 and 5: compiled files are copied; mmap=True is the opt-in ----------


def test_compiled_files_are_copied_unless_mmap_is_asked_for(tmp_path):
    src = quercus.load(EXAMPLE)
    q = tmp_path / "m.qpack"
    src.save_compiled(q)
    x = np.random.default_rng(0).normal(size=(50, src.num_features)).astype(np.float32)
    want = src.predict(x)
    model = quercus.load(q)
    with open(q, "r+b") as f:  # truncated and rewritten in place
        f.truncate(0)
        f.write(b"\xa5" * 100)
    assert_same_bits(model.predict(x), want)
    src.save_compiled(q)
    mapped = quercus.load(q, mmap=True)
    assert_same_bits(mapped.predict(x), want)


def test_the_model_size_limit(tmp_path):
    size = EXAMPLE.stat().st_size
    with pytest.raises(quercus.ModelReadError, match=f"{size - 1}-byte limit") as e:
        quercus.load(EXAMPLE, max_model_bytes=size - 1)
    assert e.value.kind == "too_large"
    assert quercus.load(EXAMPLE, max_model_bytes=size).num_features > 0


# -- item 2: a declared feature count does not size per-row memory --------------


def test_a_huge_declared_feature_count_predicts_sparse_and_broadcast_rows(tmp_path):
    doc = json.loads(EXAMPLE.read_text())
    n = quercus.load(EXAMPLE).num_features
    doc["learner"]["feature_names"] = []
    doc["learner"]["feature_types"] = []
    doc["learner"]["learner_model_param"]["num_feature"] = str(2**40)
    path = tmp_path / "wide.json"
    path.write_text(json.dumps(doc))
    wide = quercus.load(path)
    assert wide.num_features == 2**40
    narrow = quercus.load(EXAMPLE)
    x = np.random.default_rng(0).normal(size=(5, n)).astype(np.float32)
    rows, cols = np.nonzero(x)
    csr = sp.csr_matrix((x[rows, cols], (rows, cols)), shape=(5, 2**40))
    assert_same_bits(wide.predict(csr), narrow.predict(x))
    b = np.broadcast_to(np.float32(0.25), (4, 2**40))
    assert_same_bits(wide.predict(b), narrow.predict(np.full((4, n), 0.25, dtype=np.float32)))


# -- item 10: NaN and infinite margins through every transform, against XGBoost --

OBJECTIVES = [
    ("binary:logistic", 0),
    ("reg:logistic", 0),
    ("binary:logitraw", 0),
    ("binary:hinge", 0),
    ("reg:squarederror", 0),
    ("count:poisson", 0),
    ("reg:gamma", 0),
    ("reg:tweedie", 0),
    ("multi:softprob", 3),
    ("multi:softmax", 3),
]


def _nonfinite_leaf_model(objective: str, num_class: int) -> dict:
    """A model whose trees' leaves are NaN, +inf, -inf or 1 depending on x0,
    so the margin of each row is a chosen non-finite value (XGBoost's JSON
    reads and writes bare NaN / Infinity tokens)."""
    params = {"objective": objective, "max_depth": 1, "base_score": 0.5}
    if num_class:
        params["num_class"] = num_class
        label = [0, 1, 2, 1]
    elif objective.startswith(("binary:", "reg:logistic")):
        label = [0, 1, 1, 0]
    else:
        label = [1, 2, 3, 4]
    x = np.array([[0.0], [1.0], [2.0], [3.0]], dtype=np.float32)
    booster = xgb.train(params, xgb.DMatrix(x, label=label), 1)
    doc = json.loads(booster.save_raw("json"))
    return doc


def _set_leaves(doc: dict, values_per_tree) -> str:
    """Each tree becomes a depth-2 tree on x0: <1 -> v0, <2 -> v1, <3 -> v2, else v3."""
    trees = doc["learner"]["gradient_booster"]["model"]["trees"]
    for tree, vals in zip(trees, values_per_tree):
        tree.update(
            left_children=[1, 3, 5, -1, -1, -1, -1],
            right_children=[2, 4, 6, -1, -1, -1, -1],
            parents=[2147483647, 0, 0, 1, 1, 2, 2],
            split_indices=[0, 0, 0, 0, 0, 0, 0],
            split_conditions=[2.0, 1.0, 3.0, "V0", "V1", "V2", "V3"],
            default_left=[0] * 7,
            split_type=[0] * 7,
            base_weights=[0.0] * 7,
            loss_changes=[0.0] * 7,
            sum_hessian=[1.0] * 7,
        )
        tree["tree_param"]["num_nodes"] = "7"
    text = json.dumps(doc)
    for vals in values_per_tree:
        for k, v in enumerate(vals):
            text = text.replace(f'"V{k}"', v, 1)
    return text


@pytest.mark.parametrize("objective,num_class", OBJECTIVES)
def test_nonfinite_margins_transform_like_xgboost(objective, num_class, tmp_path):
    doc = _nonfinite_leaf_model(objective, num_class)
    ntrees = len(doc["learner"]["gradient_booster"]["model"]["trees"])
    leaves = [["NaN", "Infinity", "-Infinity", "1.0"], ["1.0", "-Infinity", "NaN", "Infinity"], ["Infinity", "NaN", "2.0", "-Infinity"]]
    text = _set_leaves(doc, [leaves[t % 3] for t in range(ntrees)])
    path = tmp_path / "m.json"
    path.write_text(text)
    booster = xgb.Booster(model_file=str(path))
    x = np.array([[0.5], [1.5], [2.5], [3.5], [np.nan]], dtype=np.float32)
    model = quercus.load(path)
    for margin in (False, True):
        want = booster.predict(xgb.DMatrix(x), output_margin=margin)
        got = model.predict(x, output_margin=margin)
        assert_same_bits(got, want)
