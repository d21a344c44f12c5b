"""One `Model` shared by many Python threads; the GIL released during
`predict`; a process that forks after loading and predicting; and no copy of
a float32 `X` (peak memory measured in a fresh subprocess)."""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest

import quercus
from pyhelpers import assert_same_bits, train

xgb = pytest.importorskip("xgboost")


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    rng = np.random.default_rng(21)
    booster = train(xgb, "softprob", rng, n=2000, rounds=40)
    path = tmp_path_factory.mktemp("conc") / "m.ubj"
    booster.save_model(str(path))
    return path


def test_eight_threads_share_one_model(model_path):
    model = quercus.load(model_path)
    rng = np.random.default_rng(1)
    inputs = [rng.normal(size=(3000 + 500 * i, 10)).astype(np.float32) for i in range(8)]
    want = [model.predict(x, n_threads=1) for x in inputs]
    barrier = threading.Barrier(8)
    results = {}
    errors = []

    def work(i):
        try:
            barrier.wait()
            for rep in range(5):
                # Alternate between the shared pool and the calling thread.
                n = None if rep % 2 == 0 else 1
                results[(i, rep)] = model.predict(inputs[i], n_threads=n)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    assert len(results) == 40
    for (i, _), got in results.items():
        assert_same_bits(got, want[i])


def test_predict_releases_the_gil(model_path):
    model = quercus.load(model_path)
    x = np.random.default_rng(2).normal(size=(20_000, 10)).astype(np.float32)
    t = time.perf_counter()
    model.predict(x, n_threads=1)
    per_row = (time.perf_counter() - t) / len(x)
    rows = int(min(4_000_000, max(20_000, 0.8 / per_row)))  # about 0.8 s of work
    big = np.random.default_rng(3).normal(size=(rows, 10)).astype(np.float32)

    ticks = []
    stop = threading.Event()

    def spin():
        while not stop.is_set():
            ticks.append(time.perf_counter())
            time.sleep(0.002)

    th = threading.Thread(target=spin)
    th.start()
    time.sleep(0.05)
    t0 = time.perf_counter()
    model.predict(big, n_threads=1)
    t1 = time.perf_counter()
    stop.set()
    th.join()
    assert t1 - t0 > 0.3, "the prediction was too short to tell"
    inside = [t for t in ticks if t0 + 0.05 < t < t1 - 0.05]
    # With the GIL held, the spinning thread could not run at all in between.
    expected = (t1 - t0 - 0.1) / 0.002
    assert len(inside) > max(10, 0.1 * expected), (len(inside), expected, t1 - t0)
    print(f"\nduring a {t1 - t0:.2f} s predict another thread ran {len(inside)} times (~{expected:.0f} possible)")


def _child(path, x, conn):
    try:
        model = quercus.load(path)
        conn.send(("ok", model.predict(x, n_threads=2), _GLOBAL_MODEL.predict(x, n_threads=2)))
    except Exception as e:  # noqa: BLE001 - sent to the parent
        conn.send(("error", repr(e), None))
    finally:
        conn.close()


_GLOBAL_MODEL = None


def test_fork_after_load_and_predict(model_path):
    global _GLOBAL_MODEL
    if not hasattr(os, "fork"):
        pytest.skip("no fork on this platform")
    _GLOBAL_MODEL = quercus.load(model_path)
    x = np.random.default_rng(4).normal(size=(20_000, 10)).astype(np.float32)
    # Start the parent's worker threads before forking.
    want = _GLOBAL_MODEL.predict(x, n_threads=2)
    ctx = multiprocessing.get_context("fork")
    for _ in range(2):
        parent, child = ctx.Pipe(duplex=False)
        p = ctx.Process(target=_child, args=(str(model_path), x, child))
        p.start()
        child.close()
        assert parent.poll(60), "the forked child hung"
        status, got_new, got_inherited = parent.recv()
        p.join(30)
        assert status == "ok", got_new
        assert p.exitcode == 0
        assert_same_bits(got_new, want)
        assert_same_bits(got_inherited, want)
        # The parent's pool still works after the child is gone.
        assert_same_bits(_GLOBAL_MODEL.predict(x, n_threads=2), want)


MEMORY_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import quercus

    def status_mb(key):
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) / 1024.0
        raise KeyError(key)

    def reset_peak():
        # Linux resets the peak (VmHWM) to the current RSS when "5" is
        # written here: the growth measured from now on is this call's own,
        # not hidden under an older, higher peak (freed temporaries, or
        # file pages a busy host evicted since).
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")

    model = quercus.load(sys.argv[1])
    layout = sys.argv[2]
    rng = np.random.default_rng(0)
    # Every page of X is written (touched) once, and X is the only big array.
    if layout == "float64":
        x = rng.random((1_000_000, 28))  # 214 MiB
    else:
        x = np.empty((1_000_000, 28), dtype=np.float32, order="F" if layout == "fortran" else "C")
        for i in range(0, len(x), 10_000):  # no X-sized temporary inflates the peak
            x[i:i + 10_000] = rng.random((10_000, 28), dtype=np.float32)
    model.predict(np.ascontiguousarray(x[:4096], dtype=np.float32))  # warm up: pools, code pages
    reset_peak()
    before = status_mb("VmRSS")
    p = model.predict(x)
    after = status_mb("VmHWM")
    print(json.dumps({"before_mb": before, "after_mb": after, "x_mb": x.nbytes / 2**20,
                      "out_mb": p.nbytes / 2**20, "shape": list(p.shape)}))
    """
)


def _peak(model_path, layout):
    r = subprocess.run(
        [sys.executable, "-c", MEMORY_SCRIPT, str(model_path), layout],
        capture_output=True, text=True, timeout=600,
    )
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


@pytest.fixture(scope="module")
def model28(tmp_path_factory):
    rng = np.random.default_rng(28)
    x = rng.random((3000, 28), dtype=np.float32)
    y = (x[:, 0] + x[:, 5] * x[:, 9] > 0.8).astype(np.float32)
    booster = xgb.train(dict(objective="binary:logistic", max_depth=6, tree_method="hist"), xgb.DMatrix(x, label=y), 50)
    path = tmp_path_factory.mktemp("mem") / "m28.json"
    booster.save_model(str(path))
    return path


def test_float32_input_is_not_copied(model28):
    for layout in ("c", "fortran"):
        m = _peak(model28, layout)
        grown = m["after_mb"] - m["before_mb"]
        print(f"\n{layout}-order float32 X of {m['x_mb']:.0f} MB: peak RSS {m['before_mb']:.0f} -> "
              f"{m['after_mb']:.0f} MB (+{grown:.1f} MB; the output is {m['out_mb']:.1f} MB)")
        assert m["shape"] == [1_000_000]
        # A copy of X would add 107 MiB; the output itself is about 4 MB.
        assert grown < 24, m


def test_memory_measurement_sees_a_copy(model28):
    # The control: a float64 X must be converted, and the measurement sees it.
    m = _peak(model28, "float64")
    grown = m["after_mb"] - m["before_mb"]
    print(f"\nfloat64 X of {m['x_mb']:.0f} MB: +{grown:.1f} MB (one float32 copy is 107 MB)")
    # A full copy is 107 MiB. Measured from the process's lifetime peak
    # (ru_maxrss) a CI host once saw only 50 of it, so the peak is now reset
    # just before the call; 60 still separates a copy from the no-copy bound
    # of 24 above.
    assert grown > 60, m
