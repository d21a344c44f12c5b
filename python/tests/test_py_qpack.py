"""Compiled models (.qpack) from Python: `Model.save_compiled`, `quercus.load`
of the compiled file (memory-mapped), identical predictions, and a corrupted
file refused with a ModelFormatError."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import quercus

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "models" / "example" / "model.json"


def test_compiled_model_predicts_bit_identically(tmp_path):
    model = quercus.load(MODEL)
    path = tmp_path / "m.qpack"
    model.save_compiled(path)
    compiled = quercus.load(path)
    rng = np.random.default_rng(0)
    x = rng.normal(50, 40, size=(3000, model.num_features)).astype(np.float32)
    x[::7, 1] = np.nan
    for kw in ({}, {"output_margin": True}, {"pred_leaf": True}):
        a, b = model.predict(x, **kw), compiled.predict(x, **kw)
        assert a.dtype == b.dtype and a.shape == b.shape
        assert np.array_equal(a.view(np.uint32), b.view(np.uint32)), kw
        # One row at a time (the latency path) too.
        one = np.concatenate([compiled.predict(x[i : i + 1], **kw) for i in range(50)])
        assert np.array_equal(one.view(np.uint32), a[:50].view(np.uint32)), kw
    assert compiled.num_trees == model.num_trees
    assert compiled.feature_names == model.feature_names


def test_corrupted_compiled_model_is_refused(tmp_path):
    path = tmp_path / "m.qpack"
    quercus.load(MODEL).save_compiled(path)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    bad = tmp_path / "bad.qpack"
    bad.write_bytes(bytes(data))
    with pytest.raises(quercus.ModelFormatError, match="checksum"):
        quercus.load(bad)


def test_models_pickle_as_their_compiled_form():
    import copy
    import pickle

    model = quercus.load(MODEL, missing=-999.0)
    rng = np.random.default_rng(1)
    x = rng.normal(50, 40, size=(500, model.num_features)).astype(np.float32)
    x[::5, 0] = -999.0  # the custom missing value must survive the trip
    for clone in (pickle.loads(pickle.dumps(model)), copy.deepcopy(model)):
        for kw in ({}, {"output_margin": True}, {"pred_leaf": True}):
            a, b = model.predict(x, **kw), clone.predict(x, **kw)
            assert np.array_equal(a.view(np.uint32), b.view(np.uint32)), kw
        assert clone.feature_names == model.feature_names
        assert clone.objective == model.objective
    export = next(p for p in sorted((ROOT / "models" / "bqml").iterdir()) if p.is_dir())
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(quercus.load(export))
