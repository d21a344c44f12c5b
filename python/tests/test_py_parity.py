"""`quercus.Model.predict` against XGBoost itself.

* live: models trained now by the pip-installed XGBoost (every model kind,
  JSON and UBJSON), predicted by both on inputs with NaN and values on split
  thresholds;
* fixtures: every model of the multi-version suite (`models/xgboost/`,
  written by XGBoost 0.82 ... 3.2.0) against the outputs that version
  computed, stored as .npy.

Margins must be bit-identical, transformed outputs within 1 ulp of float32,
leaf indices identical, and shapes and dtypes those of `Booster.predict`.
"""

from __future__ import annotations

import json
import zlib

import numpy as np
import pytest

import quercus
from pyhelpers import CASES, FIXTURES, assert_same_bits, make_input, train, ulp_distance

xgb = pytest.importorskip("xgboost")


@pytest.mark.parametrize("fmt", ["json", "ubj"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_predict_matches_installed_xgboost(name, fmt, tmp_path):
    rng = np.random.default_rng(zlib.crc32(f"py/{name}/{fmt}".encode()))
    booster = train(xgb, name, rng)
    path = tmp_path / f"model.{fmt}"
    booster.save_model(str(path))
    model = quercus.load(path)
    assert model.xgboost_version == xgb.__version__
    x = make_input(rng, booster, 10)
    dm = xgb.DMatrix(x)

    want = booster.predict(dm, output_margin=True)
    got = model.predict(x, output_margin=True)
    assert got.dtype == want.dtype == np.float32
    assert_same_bits(got, want)

    want = booster.predict(dm)
    got = model.predict(x)
    assert got.shape == want.shape and got.dtype == want.dtype
    assert ulp_distance(got, want) <= 1

    if name != "gblinear":
        want = booster.predict(dm, pred_leaf=True)
        got = model.predict(x, pred_leaf=True)
        assert got.shape == want.shape and got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)
        rounds = model.num_rounds
        for rng_ in [(1, rounds - 2), (0, 3), (2, 0)]:
            want = booster.predict(dm, output_margin=True, iteration_range=rng_)
            assert_same_bits(model.predict(x, output_margin=True, iteration_range=rng_), want)


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_kernel_matches_installed_xgboost(name, tmp_path):
    kernels = quercus.kernels()
    assert kernels[0] == "reference" and "interleaved" in kernels
    rng = np.random.default_rng(zlib.crc32(f"py-kernels/{name}".encode()))
    booster = train(xgb, name, rng)
    path = tmp_path / "model.json"
    booster.save_model(str(path))
    model = quercus.load(path)
    x = make_input(rng, booster, 10)
    dm = xgb.DMatrix(x)
    margin = booster.predict(dm, output_margin=True)
    leaf = None if name == "gblinear" else booster.predict(dm, pred_leaf=True)
    for kernel in ["auto", *kernels]:
        got = model.predict(x, output_margin=True, kernel=kernel)
        assert_same_bits(got, margin)
        # One row per call, and two threads over rows repeated past the
        # threading threshold.
        rows = np.concatenate([model.predict(x[i : i + 1], output_margin=True, kernel=kernel) for i in range(20)])
        assert_same_bits(rows, margin[:20])
        big = np.tile(x, (10, 1))
        got = model.predict(big, output_margin=True, kernel=kernel, n_threads=2)
        assert_same_bits(got, np.tile(margin, (10,) + (1,) * (margin.ndim - 1)))
        if leaf is not None:
            np.testing.assert_array_equal(model.predict(x, pred_leaf=True, kernel=kernel), leaf)


def test_an_unknown_kernel_is_an_option_error(tmp_path):
    booster = train(xgb, "binary_logistic", np.random.default_rng(5))
    path = tmp_path / "model.json"
    booster.save_model(str(path))
    model = quercus.load(path)
    x = np.zeros((3, 10), dtype=np.float32)
    with pytest.raises(quercus.OptionError, match="kernel `fastest` is not one of auto, reference"):
        model.predict(x, kernel="fastest")
    with pytest.raises(TypeError, match="kernel must be a kernel name"):
        model.predict(x, kernel=1)
    # Names are case-insensitive; "scalar" is the reference.
    assert_same_bits(model.predict(x, kernel="SCALAR"), model.predict(x, kernel="reference"))
    if "avx512" not in quercus.kernels():
        with pytest.raises(quercus.OptionError, match="lacks"):
            model.predict(x, kernel="avx512")


def test_properties_match_the_booster(tmp_path):
    names = [f"feat_{i}" for i in range(10)]
    booster = train(xgb, "softprob", np.random.default_rng(3), feature_names=names)
    booster.set_attr(best_iteration="7", owner="me")
    path = tmp_path / "m.json"
    booster.save_model(str(path))
    m = quercus.load(path)
    assert m.num_features == booster.num_features() == 10
    assert m.feature_names == names
    assert m.num_outputs == 4
    assert m.objective == "multi:softprob"
    assert m.booster == "gbtree"
    assert m.num_trees == 12 * 4 and m.num_rounds == 12
    assert m.best_iteration == 7
    assert m.attributes["owner"] == "me"
    assert m.xgboost_version == xgb.__version__
    assert m.format == "json"
    assert "multi:softprob" in repr(m)
    # Named features: a DataFrame in another column order gives the same numbers.
    pd = pytest.importorskip("pandas")
    x = make_input(np.random.default_rng(4), booster, 10)
    df = pd.DataFrame(x, columns=names)
    want = booster.predict(xgb.DMatrix(df))
    assert_same_bits(m.predict(df[names[::-1]]), m.predict(x))
    assert ulp_distance(m.predict(df), want) <= 1


def test_categorical_dataframe_matches_xgboost(tmp_path):
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(11)
    n = 800
    df = pd.DataFrame(
        {
            "num": rng.normal(size=n).astype(np.float32),
            "color": pd.Categorical(rng.choice(["red", "green", "blue", "grey"], size=n)),
            "size": pd.Categorical(rng.choice(["s", "m", "l"], size=n)),
        }
    )
    y = (df["num"] + (df["color"] == "red") * 1.5 - (df["size"] == "l")).to_numpy(dtype=np.float32)
    dm = xgb.DMatrix(df, label=y, enable_categorical=True)
    booster = xgb.train(dict(tree_method="hist", max_cat_to_onehot=1, max_depth=4), dm, 10)
    path = tmp_path / "cat.json"
    booster.save_model(str(path))
    model = quercus.load(path)
    assert model.feature_types == ["numeric", "categorical", "categorical"]
    test = df.iloc[:200].copy()
    test.loc[test.index[:10], "color"] = np.nan  # missing category
    want_m = booster.predict(xgb.DMatrix(test, enable_categorical=True), output_margin=True)
    assert_same_bits(model.predict(test, output_margin=True), want_m)
    # Reordered columns are matched by name.
    assert_same_bits(model.predict(test[["size", "num", "color"]], output_margin=True), want_m)
    # Numeric input with the category codes gives the same numbers.
    codes = np.stack(
        [test["num"].to_numpy(np.float32)]
        + [test[c].cat.codes.to_numpy().astype(np.float32) for c in ("color", "size")],
        axis=1,
    )
    codes[:, 1:][codes[:, 1:] < 0] = np.nan
    assert_same_bits(model.predict(codes, output_margin=True), want_m)


@pytest.mark.parametrize("fmt", ["json", "ubj"])
def test_dataframe_categories_are_recoded_by_category(fmt, tmp_path):
    """XGBoost 3.1+ stores the training categories and re-codes a DataFrame's
    categorical columns by category, not by their position in the column's
    own categories. Quercus must give the same numbers, also after a
    compile to .qpack."""
    pd = pytest.importorskip("pandas")
    if tuple(int(p) for p in xgb.__version__.split(".")[:2]) < (3, 1):
        pytest.skip("categories are stored since XGBoost 3.1")
    rng = np.random.default_rng(12)
    n = 1500
    colors = ["blue", "green", "red", "grey"]
    df = pd.DataFrame(
        {
            "color": pd.Categorical(rng.choice(colors, size=n)),
            "x": rng.normal(size=n).astype(np.float32),
            "size": pd.Categorical(rng.choice([10, 20, 30, 40], size=n)),
        }
    )
    y = (
        (df["color"] == "red") * 1.0
        + (df["color"] == "green") * 2.0
        + df["x"] * 0.3
        + (df["size"].astype(int) > 20) * 0.5
    ).to_numpy(dtype=np.float32)
    booster = xgb.train(
        dict(tree_method="hist", max_cat_to_onehot=1, max_depth=4),
        xgb.DMatrix(df, label=y, enable_categorical=True),
        15,
    )
    path = tmp_path / f"cat.{fmt}"
    booster.save_model(str(path))
    model = quercus.load(path)
    assert model.categories == [sorted(colors), None, [10.0, 20.0, 30.0, 40.0]]
    compiled = tmp_path / "cat.qpack"
    model.save_compiled(compiled)
    reopened = quercus.load(compiled)
    assert reopened.categories == model.categories

    rows = rng.integers(0, 4, size=(300, 2))
    x = rng.normal(size=300).astype(np.float32)
    # The same rows, categories declared in other orders, one a subset.
    for color_cats, size_cats in [
        (sorted(colors), [10, 20, 30, 40]),
        (["red", "grey", "blue", "green"], [40, 30, 20, 10]),
        (["green", "red", "blue", "grey", "purple"], [20, 10, 40, 30]),
    ]:
        test = pd.DataFrame(
            {
                "color": pd.Categorical([colors[i] for i in rows[:, 0]], categories=color_cats),
                "x": x,
                "size": pd.Categorical([[10, 20, 30, 40][i] for i in rows[:, 1]], categories=size_cats),
            }
        )
        test.loc[test.index[:5], "color"] = np.nan
        want = booster.inplace_predict(test, predict_type="margin")
        for m in (model, reopened):
            assert_same_bits(m.predict(test, output_margin=True), want)
        pa = pytest.importorskip("pyarrow")
        assert_same_bits(model.predict(pa.Table.from_pandas(test), output_margin=True), want)
    subset = test[test["color"].isin(["red", "green"])].copy()
    subset["color"] = subset["color"].cat.remove_unused_categories()
    assert list(subset["color"].cat.categories) != sorted(colors)
    want = booster.inplace_predict(subset, predict_type="margin")
    assert_same_bits(model.predict(subset, output_margin=True), want)

    # A category the model never saw, in a row: an error naming row and value
    # (XGBoost 3.2 keeps the column's own code, another category's).
    bad = test.copy()
    bad.loc[bad.index[7], "color"] = "purple"
    with pytest.raises(quercus.InputError, match=r"row 7: column 'color' has category 'purple'"):
        model.predict(bad)
    # Text categories where the model has numeric ones.
    wrong = test.copy()
    wrong["size"] = pd.Categorical([str(v) for v in wrong["size"]])
    with pytest.raises(quercus.InputTypeError, match="column 'size' has text categories"):
        model.predict(wrong)


def _fixture_cases():
    manifest = FIXTURES / "manifest.json"
    if not manifest.exists():
        return []
    return json.loads(manifest.read_text())["cases"]


def _npy(rel):
    return np.load(FIXTURES / rel)


def test_every_fixture_matches_the_xgboost_that_wrote_it():
    cases = _fixture_cases()
    if not cases:
        pytest.skip("models/xgboost/manifest.json is not there")
    failures = []
    compared = 0
    for case in cases:
        cid = case["id"]
        missing = np.nan if case["missing"] is None else case["missing"]
        try:
            model = quercus.load(FIXTURES / case["model"], missing=missing, legacy_summation=True)
        except quercus.QuercusError as e:
            failures.append(f"{cid}: load: {e}")
            continue
        x = _npy(case["input"])

        def check(what, key, max_ulps, **kw):
            nonlocal compared
            if not case.get(key):
                return
            want = _npy(case[key])
            try:
                got = model.predict(x, **kw)
            except quercus.QuercusError as e:
                failures.append(f"{cid}: {what}: {e}")
                return
            compared += 1
            if got.shape != want.shape:
                failures.append(f"{cid}: {what}: shape {got.shape} vs {want.shape}")
            elif got.dtype != np.float32:
                failures.append(f"{cid}: {what}: dtype {got.dtype}")
            elif ulp_distance(got, want) > max_ulps:
                failures.append(f"{cid}: {what}: {ulp_distance(got, want)} ulp")

        check("margin", "margin", 0, output_margin=True)
        check("predict", "predict", 1)
        check("leaf", "leaf", 0, pred_leaf=True)
        if case.get("iteration_range"):
            r = tuple(case["iteration_range"])
            check("margin (range)", "margin_range", 0, output_margin=True, iteration_range=r)
            check("predict (range)", "predict_range", 1, iteration_range=r)
        if case.get("modern_margin"):
            modern = quercus.load(FIXTURES / case["model"], missing=missing)
            rows = _npy(case["modern_rows"]).astype(np.int64)
            xm = x[rows]
            want = _npy(case["modern_margin"])
            got = modern.predict(xm, output_margin=True)
            compared += 1
            if got.shape != want.shape or ulp_distance(got, want) != 0:
                failures.append(f"{cid}: modern margin differs")
            want = _npy(case["modern_predict"])
            got = modern.predict(xm)
            compared += 1
            if got.shape != want.shape or ulp_distance(got, want) > 1:
                failures.append(f"{cid}: modern predict differs")
    assert not failures, f"{len(failures)} failures:\n" + "\n".join(failures[:40])
    assert compared > 2000
