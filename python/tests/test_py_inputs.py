"""Every input type `Model.predict` accepts gives exactly the numbers of the
same values as a C-order float32 numpy array; bad input raises a typed
exception with a one-line message naming what is wrong."""

from __future__ import annotations

import numpy as np
import pytest

import quercus
from pyhelpers import assert_same_bits, make_input, train

xgb = pytest.importorskip("xgboost")
pd = pytest.importorskip("pandas")
pa = pytest.importorskip("pyarrow")
sp = pytest.importorskip("scipy.sparse")

NAMES = [f"f{i}" for i in range(10)]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    rng = np.random.default_rng(5)
    booster = train(xgb, "softprob", rng, feature_names=NAMES)
    path = tmp_path_factory.mktemp("m") / "m.json"
    booster.save_model(str(path))
    x = make_input(rng, booster, 10, n=3000)  # above the parallel threshold
    return quercus.load(path), booster, np.ascontiguousarray(x)


@pytest.fixture(scope="module", params=["margin", "predict", "leaf"])
def mode(request):
    return dict(margin=dict(output_margin=True), predict={}, leaf=dict(pred_leaf=True))[request.param]


def variants(x):
    """(name, input) pairs holding the same values as x."""
    yield "fortran", np.asfortranarray(x)
    big = np.full((x.shape[0] * 2, x.shape[1] * 3), 7.0, dtype=np.float32)
    big[::2, ::3] = x
    yield "strided view", big[::2, ::3]
    yield "negative row stride", np.ascontiguousarray(x[::-1])[::-1]
    rev = np.ascontiguousarray(x[::-1, ::-1])
    yield "reversed view", rev[::-1, ::-1]
    yield "float64", x.astype(np.float64)
    yield "big-endian float32", x.astype(">f4")
    unaligned = np.frombuffer(b"\0" + x.tobytes(), dtype=np.float32, offset=1, count=x.size).reshape(x.shape)
    yield "unaligned", unaligned
    yield "list", x.tolist()
    yield "object", x.astype(object)
    df = pd.DataFrame(x, columns=NAMES)
    yield "DataFrame", df
    yield "DataFrame, reordered columns", df[NAMES[::-1]]
    yield "DataFrame, float64 + nullable", df.astype({"f0": "float64", "f1": "Float32"})
    table = pa.Table.from_pandas(df, preserve_index=False)
    yield "pyarrow Table", table
    yield "pyarrow Table, chunked", pa.concat_tables([table.slice(0, 1000), table.slice(1000)])
    yield "pyarrow RecordBatch", table.combine_chunks().to_batches()[0]
    yield "pyarrow Table with nulls", pa.table(
        {n: pa.array(x[:, i], mask=np.isnan(x[:, i])) for i, n in enumerate(NAMES)}
    )

    class CapsuleOnly:
        def __init__(self, t):
            self._t = t

        def __arrow_c_stream__(self, requested_schema=None):
            return self._t.__arrow_c_stream__(requested_schema)

    yield "Arrow PyCapsule stream", CapsuleOnly(table)
    # Sparse: a stored NaN and an absent entry are both missing.
    mask = np.isnan(x)
    filled = np.where(mask, 0, x)
    csr = sp.csr_matrix(filled)
    csr.eliminate_zeros()
    zero_rows, zero_cols = np.nonzero((x == 0))
    if len(zero_rows):
        csr = csr.tolil()
        csr[zero_rows, zero_cols] = 0.0  # stored zeros are real zeros
        csr = csr.tocsr()
    yield "scipy CSR", csr
    yield "scipy CSC", csr.tocsc()
    yield "scipy csr_array", sp.csr_array(csr)
    yield "scipy COO", csr.tocoo()


def test_every_input_type_gives_the_float32_numbers(setup, mode):
    model, _, x = setup
    want = model.predict(x, **mode)
    seen = 0
    for name, v in variants(x):
        got = model.predict(v, **mode)
        assert got.shape == want.shape, name
        assert got.dtype == np.float32, name
        np.testing.assert_array_equal(got.view(np.int32), want.view(np.int32), err_msg=name)
        seen += 1
    assert seen >= 20


def test_float32_layouts_are_read_in_place(setup):
    from quercus import _convert

    _, _, x = setup
    big = np.zeros((x.shape[0] * 2, 30), dtype=np.float32)
    views = [x, np.asfortranarray(x), big[::2, 5:15], big[::2, ::3], np.asfortranarray(big)[1::2, :10]]
    for v in views:
        assert _convert.dense_f32(v) is v
    for v in [x[::-1], x[:, ::-1], x.astype(">f4"), x.astype(np.float64)]:
        c = _convert.dense_f32(v)
        assert c.dtype == np.float32 and c.dtype.isnative and all(s > 0 for s in c.strides)


def test_one_row_options_are_truthy_like_booster_predict(setup):
    # The one-row latency path takes the options as any truthy object, as
    # the general path and Booster.predict do.
    model, booster, x = setup
    row = np.ascontiguousarray(x[:1])
    dm = xgb.DMatrix(row, feature_names=NAMES)
    margin = booster.predict(dm, output_margin=True)
    leaf = booster.predict(dm, pred_leaf=True).astype(np.float32)
    for yes in (True, 1, np.bool_(True), "yes"):
        assert_same_bits(model.predict(row, output_margin=yes), margin)
        assert_same_bits(model.predict(row, pred_leaf=yes), leaf)
    for no in (False, 0, np.bool_(False), None, ""):
        assert_same_bits(model.predict(row, output_margin=no), booster.predict(dm))


def test_sparse_matches_xgboost_on_sparse(setup):
    model, booster, _ = setup
    rng = np.random.default_rng(9)
    dense = rng.normal(size=(500, 10)).astype(np.float32)
    dense[rng.random(size=dense.shape) < 0.6] = 0
    csr = sp.csr_matrix(dense)
    want = booster.predict(xgb.DMatrix(csr, feature_names=NAMES), output_margin=True)
    assert_same_bits(model.predict(csr, output_margin=True), want)
    # For XGBoost a CSR's absent entries are missing, not zero.
    as_nan = np.where(dense == 0, np.nan, dense).astype(np.float32)
    assert_same_bits(model.predict(as_nan, output_margin=True), want)


def test_integer_and_float64_round_like_xgboost(setup):
    model, booster, _ = setup
    rng = np.random.default_rng(2)
    x64 = rng.normal(size=(200, 10)) * 3
    want = booster.predict(xgb.DMatrix(x64, feature_names=NAMES), output_margin=True)
    assert_same_bits(model.predict(x64, output_margin=True), want)
    xi = (x64 * 1000).astype(np.int64)
    want = booster.predict(xgb.DMatrix(xi, feature_names=NAMES), output_margin=True)
    assert_same_bits(model.predict(xi, output_margin=True), want)


def test_empty_input_keeps_the_shape(setup):
    model, booster, _ = setup
    x = np.zeros((0, 10), dtype=np.float32)
    got = model.predict(x)
    want = booster.predict(xgb.DMatrix(x, feature_names=NAMES))
    assert got.shape == want.shape == (0,)
    assert got.dtype == np.float32
    assert model.predict(sp.csr_matrix(x)).shape == (0,)
    assert model.predict(x, pred_leaf=True).shape == (0,)


def test_missing_value_option(tmp_path, setup):
    _, booster, x = setup
    path = tmp_path / "m.ubj"
    booster.save_model(str(path))
    model = quercus.load(path, missing=-999.0)
    x2 = np.where(np.isnan(x), np.float32(-999.0), x)
    want = booster.predict(xgb.DMatrix(x2, missing=-999.0, feature_names=NAMES), output_margin=True)
    assert_same_bits(model.predict(x2, output_margin=True), want)


def one_line(excinfo):
    msg = str(excinfo.value)
    assert "\n" not in msg and msg
    return msg


def test_wrong_column_count(setup):
    model, _, x = setup
    with pytest.raises(quercus.InputError) as e:
        model.predict(x[:, :9])
    assert "9 columns" in one_line(e) and "10 features" in str(e.value)
    assert e.value.kind == "feature_count"
    assert isinstance(e.value, ValueError)
    with pytest.raises(quercus.InputError, match="11 columns"):
        model.predict(sp.csr_matrix(np.zeros((2, 11), dtype=np.float32)))


def test_strings_in_an_object_array(setup):
    model, _, x = setup
    bad = x[:5].astype(object)
    bad[3, 2] = "abc"
    with pytest.raises(quercus.InputTypeError) as e:
        model.predict(bad)
    msg = one_line(e)
    assert "'abc'" in msg and "row 3" in msg and "column 2" in msg
    assert isinstance(e.value, TypeError) and isinstance(e.value, quercus.InputError)
    with pytest.raises(quercus.InputTypeError, match="strings"):
        model.predict(np.array([["a"] * 10]))


def test_three_dimensional_array(setup):
    model, _, _ = setup
    with pytest.raises(quercus.InputError) as e:
        model.predict(np.zeros((2, 5, 10), dtype=np.float32))
    assert "3-D" in one_line(e) and "(2, 5, 10)" in str(e.value)
    with pytest.raises(quercus.InputError, match="reshape"):
        model.predict(np.zeros(10, dtype=np.float32))


def test_dataframe_missing_and_extra_columns(setup):
    model, _, x = setup
    df = pd.DataFrame(x[:5], columns=NAMES)
    with pytest.raises(quercus.InputError) as e:
        model.predict(df.drop(columns=["f3"]))
    assert "missing feature column(s) ['f3']" in one_line(e)
    with pytest.raises(quercus.InputError) as e:
        model.predict(df.assign(extra=1.0))
    assert "'extra'" in one_line(e)
    with pytest.raises(quercus.InputError) as e:
        model.predict(pa.Table.from_pandas(df.drop(columns=["f0"]), preserve_index=False))
    assert "['f0']" in one_line(e)
    # By position when asked to.
    renamed = df.set_axis([f"c{i}" for i in range(10)], axis=1)
    assert_same_bits(model.predict(renamed, validate_features=False), model.predict(x[:5]))


def test_dataframe_string_column(setup):
    model, _, x = setup
    df = pd.DataFrame(x[:3], columns=NAMES).astype({"f4": object})
    df.loc[1, "f4"] = "oops"
    with pytest.raises(quercus.InputTypeError) as e:
        model.predict(df)
    assert "column 'f4'" in one_line(e) and "'oops'" in str(e.value)


def test_bad_options(setup):
    model, _, x = setup
    with pytest.raises(quercus.OptionError) as e:
        model.predict(x, iteration_range=(0, 99))
    assert "99" in one_line(e)
    with pytest.raises(quercus.OptionError):
        model.predict(x, iteration_range=(-1, 2))


def test_load_errors(tmp_path):
    with pytest.raises(quercus.ModelReadError) as e:
        quercus.load(tmp_path / "nope.json")
    assert isinstance(e.value, OSError) and "nope.json" in one_line(e)
    bad = tmp_path / "bad.json"
    bad.write_text('{"learner": {"gradient_booster": 1}}')
    with pytest.raises(quercus.ModelFormatError) as e:
        quercus.load(bad)
    assert "bad.json" in one_line(e) and isinstance(e.value, ValueError)
    with pytest.raises(quercus.ModelFormatError):
        quercus.loads(b"")
