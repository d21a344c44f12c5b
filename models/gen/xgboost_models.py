#!/usr/bin/env python3
"""Generate XGBoost parity fixtures for the *running* XGBoost version.

Usage (one XGBoost install per directory, see generate_all.sh):

    PYTHONPATH=/work/xgb/<ver> python3 models/gen/xgboost_models.py --out models/xgboost

For every model kind the running version supports, this trains a small model
(fixed seeds), saves it in every format the version can write (legacy binary
`.bst`, `.json`, `.ubj`), LOADS EACH FILE BACK with the same XGBoost version and
records its predictions on a float32 input matrix:

    <kind>.X.npy                 input (float32, C order, (n, num_feature))
    <kind>.<ext>.margin.npy      predict(output_margin=True)
    <kind>.<ext>.predict.npy     predict()
    <kind>.<ext>.leaf.npy        predict(pred_leaf=True)          (not gblinear)
    <kind>.<ext>.margin_range.npy / .predict_range.npy   iteration_range (>=1.4)

The inputs contain random rows, rows with NaN, rows whose features sit exactly
on split thresholds of the model (and +-1 ulp), categorical edge codes, and
+-inf rows where the version accepts them.  Thresholds are read bit-exactly
from the model's own UBJ or legacy binary twin (JSON only when no raw twin can
be written) and cross-checked between all twins.

The script replaces this version's entries in <out>/manifest.json and writes
<out>/<ver>/skipped.json listing what could not be produced (with the error).
"""
import argparse
import json
import os
import shutil
import struct
import sys
import traceback
import warnings
import zlib

import numpy as np
import xgboost as xgb

warnings.simplefilter("ignore")

VER = xgb.__version__
V = tuple(int(p) for p in VER.split(".")[:3] if p.isdigit())
while len(V) < 3:
    V = V + (0,)
VERSION_ORDER = ["0.82", "0.90", "1.0.2", "1.3.3", "1.5.2", "1.6.2", "1.7.6",
                 "2.0.3", "2.1.4", "3.0.5", "3.1.3", "3.2.0"]

F32 = np.float32


def f32bits(x):
    return int(np.asarray(x, dtype=np.float32).view(np.uint32))


# ---------------------------------------------------------------------------
# Raw model readers (only used to pull split thresholds bit-exactly)
# ---------------------------------------------------------------------------

def ubj_load(buf):
    pos = [0]

    def rd(n):
        s = buf[pos[0]:pos[0] + n]
        pos[0] += n
        return s

    def rd_int(marker):
        fmt = {b"i": ">b", b"U": ">B", b"I": ">h", b"l": ">i", b"L": ">q"}[marker]
        return struct.unpack(fmt, rd(struct.calcsize(fmt)))[0]

    typed = {b"d": ">f4", b"D": ">f8", b"i": ">i1", b"U": ">u1", b"I": ">i2",
             b"l": ">i4", b"L": ">i8"}

    def value(m=None):
        if m is None:
            m = rd(1)
        if m in (b"i", b"U", b"I", b"l", b"L"):
            return rd_int(m)
        if m == b"d":
            return np.frombuffer(rd(4), ">f4")[0]
        if m == b"D":
            return np.frombuffer(rd(8), ">f8")[0]
        if m == b"T":
            return True
        if m == b"F":
            return False
        if m == b"Z":
            return None
        if m == b"C":
            return rd(1).decode()
        if m == b"S":
            n = rd_int(rd(1))
            return rd(n).decode("utf-8")
        if m == b"{":
            out = {}
            while True:
                k = rd(1)
                if k == b"}":
                    return out
                n = rd_int(k)
                key = rd(n).decode("utf-8")
                out[key] = value()
        if m == b"[":
            nxt = buf[pos[0]:pos[0] + 1]
            if nxt == b"$":
                rd(1)
                t = rd(1)
                assert rd(1) == b"#"
                cnt = rd_int(rd(1))
                dt = np.dtype(typed[t])
                return np.frombuffer(rd(cnt * dt.itemsize), dt).copy()
            if nxt == b"#":
                rd(1)
                cnt = rd_int(rd(1))
                return [value() for _ in range(cnt)]
            out = []
            while buf[pos[0]:pos[0] + 1] != b"]":
                out.append(value())
            rd(1)
            return out
        raise ValueError("bad UBJ marker %r at %d" % (m, pos[0] - 1))

    return value()


def thresholds_from_doc(doc):
    """feature -> set of f32 bit patterns of numeric split conditions."""
    gb = doc["learner"]["gradient_booster"]
    if gb["name"] == "gblinear":
        return {}
    if gb["name"] == "dart":
        gb = gb["gbtree"]
    out = {}
    for t in gb["model"]["trees"]:
        left = np.asarray(t["left_children"])
        idx = np.asarray(t["split_indices"])
        cond = np.asarray(t["split_conditions"], dtype=np.float32)
        st = t.get("split_type")
        st = np.zeros(len(left), int) if st is None or len(st) == 0 else np.asarray(st)
        for i in range(len(left)):
            if left[i] != -1 and st[i] == 0:
                out.setdefault(int(idx[i]), set()).add(f32bits(cond[i]))
    return out


def roots_from_doc(doc):
    gb = doc["learner"]["gradient_booster"]
    if gb["name"] == "gblinear":
        return []
    if gb["name"] == "dart":
        gb = gb["gbtree"]
    out = []
    for t in gb["model"]["trees"]:
        st = t.get("split_type")
        st0 = 0 if st is None or len(st) == 0 else int(st[0])
        if t["left_children"][0] != -1 and st0 == 0:
            out.append((int(t["split_indices"][0]),
                        f32bits(np.float32(t["split_conditions"][0]))))
    return out


def num_deleted_from_doc(doc):
    gb = doc["learner"]["gradient_booster"]
    if gb["name"] == "dart":
        gb = gb["gbtree"]
    if gb["name"] == "gblinear":
        return 0
    return sum(int(t["tree_param"].get("num_deleted", "0")) for t in gb["model"]["trees"])


def parse_legacy_binary(buf):
    """Minimal legacy-binary reader (research note §3). Returns
    (thresholds, roots, num_deleted, n_nodes_per_tree)."""
    p = 0
    if buf[:4] == b"binf":
        p = 4
    assert buf[p:p + 1] != b"{"
    p += 136

    def rd_str(p):
        n = struct.unpack_from("<Q", buf, p)[0]
        p += 8
        if n >= 0xFFFFFFFF:
            p += 4
            n >>= 32
        return buf[p:p + n].decode(), p + n

    name_obj, p = rd_str(p)
    name_gbm, p = rd_str(p)
    if name_gbm == "gblinear":
        return {}, [], 0, []
    num_trees = struct.unpack_from("<i", buf, p)[0]
    p += 160
    thr, roots, deleted, sizes = {}, [], 0, []
    for _ in range(num_trees):
        tp = struct.unpack_from("<37i", buf, p)
        p += 148
        nn, nd = tp[1], tp[2]
        deleted += nd
        sizes.append(nn)
        for i in range(nn):
            parent, cl, cr, sidx = struct.unpack_from("<iiiI", buf, p)
            info_bits = struct.unpack_from("<I", buf, p + 16)[0]
            p += 20
            if cl != -1:
                f = sidx & 0x7FFFFFFF
                thr.setdefault(f, set()).add(info_bits)
                if i == 0:
                    roots.append((f, info_bits))
        p += 16 * nn
    return thr, roots, deleted, sizes


def model_info(path, fmt):
    with open(path, "rb") as fh:
        buf = fh.read()
    if fmt == "binary":
        thr, roots, nd, _ = parse_legacy_binary(buf)
        return thr, roots, nd
    doc = ubj_load(buf) if fmt == "ubj" else json.loads(buf.decode("utf-8"))
    return thresholds_from_doc(doc), roots_from_doc(doc), num_deleted_from_doc(doc)


# ---------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------

def errmsg(e):
    m = e.args[0] if e.args else str(e)
    if isinstance(m, bytes):
        m = m.decode("utf-8", "replace")
    m = str(m).strip().splitlines()
    m = m[0] if m else type(e).__name__
    if len(m) > 11 and m[0] == "[" and m[9:11] == "] ":   # drop "[hh:mm:ss] " stamp
        m = m[11:]
    return m[:300]


def seed_of(kind, salt=0):
    return (zlib.crc32(kind.encode()) + salt) % (2 ** 31)


def base_X(rng, n, F):
    X = rng.normal(size=(n, F))
    X[:, 0] = rng.randint(0, 10, size=n)          # small-integer feature
    if F > 5:
        X[:, 5] = rng.uniform(-100, 100, size=n)   # wide-range feature
    return X.astype(np.float32)


def signal(X):
    X = X.astype(np.float64)
    s = 0.3 * X[:, 0] - 1.5 * X[:, 1] + np.sin(2 * X[:, 2]) + X[:, 3] * X[:, 4]
    if X.shape[1] > 5:
        s = s + X[:, 5] / 50.0
    if X.shape[1] > 30:
        s = s + 1.5 * X[:, 57] - X[:, 123] + 2 * (X[:, 250] > 0.3) + X[:, 399]
    return np.nan_to_num(s - 1.35)


def add_train_nan(rng, X, frac=0.05):
    X = X.copy()
    m = rng.uniform(size=X.shape) < frac
    X[m] = np.nan
    return X


def make_labels(label, rng, X):
    n = X.shape[0]
    s = signal(np.nan_to_num(X))
    info = {}
    if label == "reg":
        y = s + 0.3 * rng.normal(size=n)
    elif label == "prob":
        y = 1.0 / (1.0 + np.exp(-s))
    elif label == "binary":
        y = (s + 0.5 * rng.normal(size=n) > 0).astype(np.float64)
    elif label == "separable":
        y = (np.nan_to_num(X[:, 1]) < 0).astype(np.float64)
    elif label == "multi3":
        t = s + 0.5 * rng.normal(size=n)
        y = np.digitize(t, np.quantile(t, [1 / 3, 2 / 3])).astype(np.float64)
    elif label == "count":
        y = rng.poisson(np.exp(0.4 * s)).astype(np.float64)
    elif label == "positive":
        y = rng.gamma(2.0, np.exp(0.3 * s) / 2.0)
    elif label == "tweedie":
        y = rng.poisson(np.exp(0.3 * s)) * rng.gamma(2.0, 1.0, size=n)
    elif label == "cox":
        t = rng.exponential(np.exp(-0.5 * s)) + 1e-3
        cens = rng.uniform(size=n) < 0.3
        y = np.where(cens, -t, t)
    elif label == "aft":
        t = np.exp(0.5 * s + 0.3 * rng.normal(size=n))
        cens = rng.uniform(size=n) < 0.3
        y = t
        info["label_lower_bound"] = t
        info["label_upper_bound"] = np.where(cens, np.inf, t)
    elif label in ("rank5", "rankbin"):
        t = s + 0.5 * rng.normal(size=n)
        if label == "rank5":
            y = np.digitize(t, np.quantile(t, [0.2, 0.4, 0.6, 0.8])).astype(np.float64)
        else:
            y = (t > np.median(t)).astype(np.float64)
        info["group"] = [10] * (n // 10)
    elif label == "target3":
        y = np.stack([s + 0.2 * rng.normal(size=n),
                      np.nan_to_num(X[:, 1] * X[:, 2]),
                      np.nan_to_num(X[:, 3] - X[:, 4])], axis=1)
    else:
        raise ValueError(label)
    return y, info


# categorical data: [n0, c0, n1, c1, n2]; c* have 12 categories
CAT_COLS = [1, 3]
CAT_NAMES = ["n0", "c0", "n1", "c1", "n2"]
CAT_TYPES = ["q", "c", "q", "c", "q"]


def cat_X(rng, n):
    X = rng.normal(size=(n, 5))
    X[:, 1] = rng.randint(0, 12, size=n)
    X[:, 3] = rng.randint(0, 12, size=n)
    return X.astype(np.float32)


def cat_labels(rng, X):
    tab0 = np.array([0.0, 2.0, -1.0, 0.5, 3.0, -2.0, 1.0, 0.0, 2.5, -0.5, 1.5, -3.0])
    tab1 = np.array([1.0, -1.0, 0.0, 2.0, -2.0, 0.5, 1.5, -1.5, 0.0, 3.0, -0.5, 1.0])
    c0 = np.nan_to_num(X[:, 1]).astype(int)
    c1 = np.nan_to_num(X[:, 3]).astype(int)
    return (tab0[c0] + tab1[c1] + np.nan_to_num(X[:, 0]) - 0.5 * np.nan_to_num(X[:, 2])
            + 0.2 * rng.normal(size=X.shape[0]))


def to_cat_frame(X, categories=list(range(12))):
    import pandas as pd
    cols = {}
    for j, name in enumerate(CAT_NAMES):
        if j in CAT_COLS:
            v = X[:, j]
            codes = np.where(np.isnan(v), -1, np.nan_to_num(v)).astype(int)
            cols[name] = pd.Categorical.from_codes(codes, categories=categories)
        else:
            cols[name] = X[:, j].astype(np.float32)
    return pd.DataFrame(cols)


# ---------------------------------------------------------------------------
# Case definitions
# ---------------------------------------------------------------------------

def sq_obj():
    return "reg:squarederror" if V >= (0, 90, 0) else "reg:linear"


def case_specs():
    T = dict(max_depth=3, eta=0.3)
    R = (1, 3)
    c = []

    def add(kind, obj, label, rounds=6, min_v=(0, 0, 0), params=None, F=6, n=200,
            irange=None, booster="gbtree", special=None, missing=None, train_nan=True,
            cols=None):
        p = dict(T) if booster != "gblinear" else {}
        p.update(params or {})
        c.append(dict(kind=kind, objective=obj, label=label, rounds=rounds, min_v=min_v,
                      params=p, F=F, n=n, irange=irange, booster=booster,
                      special=special, missing=missing, train_nan=train_nan, cols=cols))

    sq = sq_obj()
    add("reg_squarederror", sq, "reg", irange=R)
    add("reg_logistic", "reg:logistic", "prob")
    add("reg_pseudohubererror", "reg:pseudohubererror", "reg")
    add("reg_absoluteerror", "reg:absoluteerror", "reg")
    add("reg_quantileerror", "reg:quantileerror", "reg", cols=3,
        params=dict(quantile_alpha=np.array([0.1, 0.5, 0.9]), tree_method="hist"))
    add("reg_gamma", "reg:gamma", "positive")
    add("reg_tweedie", "reg:tweedie", "tweedie", params=dict(tweedie_variance_power=1.5))
    add("count_poisson", "count:poisson", "count")
    add("binary_logistic", "binary:logistic", "binary", rounds=8, irange=R)
    add("binary_logistic_base03", "binary:logistic", "binary", rounds=8,
        params=dict(base_score=0.3))
    # eta=50 on separable labels: pure leaves of +-100, margins beyond +-88.7
    add("binary_logistic_extreme", "binary:logistic", "separable", rounds=4,
        params=dict(eta=50.0, min_child_weight=0, reg_lambda=0.0), train_nan=False)
    add("binary_logitraw", "binary:logitraw", "binary")
    add("binary_hinge", "binary:hinge", "binary")
    add("multi_softmax", "multi:softmax", "multi3", rounds=4, params=dict(num_class=3))
    add("multi_softprob", "multi:softprob", "multi3", rounds=4, params=dict(num_class=3),
        irange=R)
    add("survival_cox", "survival:cox", "cox")
    add("survival_aft", "survival:aft", "aft",
        params=dict(aft_loss_distribution="normal", aft_loss_distribution_scale=1.0))
    add("rank_pairwise", "rank:pairwise", "rank5")
    add("rank_ndcg", "rank:ndcg", "rank5")
    add("rank_map", "rank:map", "rankbin")
    dart = dict(rate_drop=0.3, skip_drop=0.0, sample_type="uniform",
                normalize_type="tree")
    add("dart_binary_logistic", "binary:logistic", "binary", rounds=8, booster="dart",
        params=dart)
    add("dart_reg", sq, "reg", rounds=8, booster="dart",
        params=dict(dart, normalize_type="forest", sample_type="weighted"))
    lin = dict(reg_lambda=0.1, reg_alpha=0.01, eta=0.5)
    add("gblinear_reg", sq, "reg", booster="gblinear", params=lin)
    add("gblinear_binary_logistic", "binary:logistic", "binary", booster="gblinear",
        params=lin)
    add("gblinear_multi_softprob", "multi:softprob", "multi3", booster="gblinear",
        params=dict(lin, num_class=3))
    rf = dict(num_parallel_tree=3, subsample=0.8, colsample_bynode=0.8, eta=0.5)
    add("rf_reg", sq, "reg", rounds=3, params=rf, irange=R)
    add("rf_multi_softprob", "multi:softprob", "multi3", rounds=3,
        params=dict(rf, num_class=3, max_depth=2), irange=R)
    add("gamma_pruned_exact", sq, "reg", rounds=3,
        params=dict(max_depth=6, gamma=0.5, tree_method="exact", eta=0.5))
    add("lossguide_deep", sq, "reg", rounds=5, n=1000,
        params=dict(grow_policy="lossguide", tree_method="hist", max_leaves=64,
                    max_depth=0, min_child_weight=1, eta=0.3))
    add("wide_400", sq, "reg", rounds=3, F=400, n=300, params=dict(max_depth=4))
    add("feature_names", "binary:logistic", "binary", special="feature_names")
    add("missing_sentinel", sq, "reg", min_v=(1, 0, 0), missing=-999.0,
        special="missing_sentinel")
    add("categorical", sq, "cat", min_v=(1, 5, 0), F=5, special="categorical",
        params=dict(tree_method="hist", max_depth=4))
    add("categorical_onehot", sq, "cat", min_v=(1, 6, 0), F=5, special="categorical",
        params=dict(tree_method="hist", max_depth=4, max_cat_to_onehot=16))
    add("multi_target_per_tree", sq, "target3", rounds=4, cols=3,
        params=dict(tree_method="hist"), irange=R)
    # 1.6/1.7 silently ignore multi_strategy (warning only): gate by version
    add("multi_target_vector_leaf", sq, "target3", min_v=(2, 0, 0), cols=3,
        params=dict(tree_method="hist", multi_strategy="multi_output_tree"))
    return c


def formats_for_version():
    fm = []
    if V < (3, 1, 0):
        fm.append("binary")
    if V >= (1, 0, 0):
        fm.append("json")
    if V >= (1, 6, 0):
        fm.append("ubj")
    return fm


EXT = {"binary": "bst", "json": "json", "ubj": "ubj"}


def save_as(bst, path, fmt):
    if fmt == "binary":
        if V >= (2, 1, 0):
            tmp = path[:-4] + ".deprecated"
            bst.save_model(tmp)
            os.replace(tmp, path)
        else:
            bst.save_model(path)
        with open(path, "rb") as fh:
            head = fh.read(1)
        if head == b"{":
            os.remove(path)
            raise RuntimeError("legacy binary writer produced a JSON-family file")
    else:
        bst.save_model(path)


# ---------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------

def build_inputs(spec, rng, thr, roots, with_inf):
    F = spec["F"]
    cat = spec["special"] == "categorical"
    gen = (lambda r, n: cat_X(r, n)) if cat else (lambda r, n: base_X(r, n, F))
    rows, tags = [], []

    def push(block, tag):
        rows.append(np.asarray(block, dtype=np.float32).reshape(-1, F))
        tags.extend([tag] * rows[-1].shape[0])

    wide = F > 50
    push(gen(rng, 16 if wide else 80), "random")
    # NaN rows
    n_nan = 6 if wide else 20
    nanb = gen(rng, n_nan)
    for i in range(n_nan):
        k = 1 + (i % 3)
        nanb[i, rng.choice(F, size=min(k, F), replace=False)] = np.nan
    nanb[0, :] = np.nan
    push(nanb, "nan")
    # threshold rows: roots first (always reached), then other splits
    num_feats = [f for f in sorted(thr) if not (cat and f in CAT_COLS)]
    picks = []
    max_picks = 6 if wide else 14
    seen = set()
    for f, b in roots:
        if (f, b) not in seen and f in num_feats:
            seen.add((f, b))
            picks.append((f, b))
    others = [(f, b) for f in num_feats for b in sorted(thr[f]) if (f, b) not in seen]
    if others:
        for j in rng.permutation(len(others)):
            if len(picks) >= max_picks:
                break
            picks.append(others[j])
    picks = picks[:max_picks]
    for f, b in picks:
        t = np.array([b], np.uint32).view(np.float32)[0]
        assert b in thr[f]
        blk = gen(rng, 3)
        blk[0, f] = t
        blk[1, f] = np.nextafter(t, np.float32(-np.inf))
        blk[2, f] = np.nextafter(t, np.float32(np.inf))
        push(blk, "thr")
    if num_feats:
        n_all = 3 if wide else 6
        blk = gen(rng, n_all)
        for i in range(n_all):
            for f in num_feats:
                ts = sorted(thr[f])
                t = np.array([ts[rng.randint(len(ts))]], np.uint32).view(np.float32)[0]
                if i % 3 == 1:
                    t = np.nextafter(t, np.float32(-np.inf))
                elif i % 3 == 2:
                    t = np.nextafter(t, np.float32(np.inf))
                blk[i, f] = t
        push(blk, "thr_all")
    if cat:
        codes = [0, 1, 5, 11, 12, 20, 31, 32, 33, 40, 63, 64, 100, -1, -0.5, 2.7, np.nan]
        blk = gen(rng, len(codes) * 2)
        for i, cv in enumerate(codes):
            blk[2 * i, CAT_COLS[0]] = cv
            blk[2 * i + 1, CAT_COLS[1]] = cv
        push(blk, "cat_codes")
    if spec["missing"] is not None:
        blk = gen(rng, 10)
        for i in range(10):
            blk[i, rng.choice(F, size=2, replace=False)] = spec["missing"]
        push(blk, "sentinel")
    if with_inf:
        blk = gen(rng, 4)
        fs = num_feats or list(range(F))
        blk[0, fs[0]] = np.inf
        blk[1, fs[0]] = -np.inf
        blk[2, fs[-1]] = np.inf
        blk[3, :] = -np.inf
        if cat:
            blk[3, CAT_COLS] = 3
        push(blk, "inf")
    X = np.ascontiguousarray(np.concatenate(rows, axis=0), dtype=np.float32)
    return X, tags


# ---------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------

def make_dmatrix(X, spec, label=None, info=None):
    kw = {}
    if spec["missing"] is not None:
        kw["missing"] = spec["missing"]
    else:
        kw["missing"] = np.nan
    if spec["special"] == "feature_names":
        kw["feature_names"] = ["age", "income", "score", "flag", "ratio", "delta"]
        kw["feature_types"] = ["int", "float", "q", "i", "q", "float"]
    if spec["special"] == "categorical":
        kw["feature_names"] = CAT_NAMES
        kw["feature_types"] = CAT_TYPES
        kw["enable_categorical"] = True
    d = xgb.DMatrix(X, label=label, **kw)
    for k, v in (info or {}).items():
        if k == "group":
            d.set_group(v)
        else:
            d.set_float_info(k, v)
    return d


def train(spec):
    rng = np.random.RandomState(seed_of(spec["kind"]))
    F, n = spec["F"], spec["n"]
    info = {}
    if spec["special"] == "categorical":
        X = cat_X(rng, n)
        X[rng.uniform(size=X.shape) < 0.03] = np.nan
        y = cat_labels(rng, X)
    else:
        X = base_X(rng, n, F)
        if spec["special"] == "feature_names":
            X[:, 3] = (X[:, 3] > 0).astype(np.float32)
        y, info = make_labels(spec["label"], rng, X)
        if spec["train_nan"]:
            X = add_train_nan(rng, X)
        if spec["missing"] is not None:
            X[rng.uniform(size=X.shape) < 0.05] = spec["missing"]
    params = dict(spec["params"])
    params.update(objective=spec["objective"], booster=spec["booster"], seed=0, nthread=1)
    if spec["special"] == "categorical":
        d = xgb.DMatrix(to_cat_frame(X), label=y, enable_categorical=True)
    else:
        d = make_dmatrix(X, spec, label=y, info=info)
    bst = xgb.train(params, d, num_boost_round=spec["rounds"])
    return bst


# ---------------------------------------------------------------------------
# Prediction
# ---------------------------------------------------------------------------

def predict_all(path, spec, X):
    bst = xgb.Booster(model_file=path)
    d = make_dmatrix(X, spec)
    kw = {}
    if spec["booster"] == "dart" and V < (1, 0, 0):
        kw["ntree_limit"] = spec["rounds"]   # 0.82/0.90 drop trees at predict otherwise
    out = {}
    out["margin"] = bst.predict(d, output_margin=True, **kw)
    out["predict"] = bst.predict(d, **kw)
    if spec["booster"] == "dart":
        again = bst.predict(d, output_margin=True, **kw)
        if not np.array_equal(again.view(np.uint32), out["margin"].view(np.uint32)):
            raise RuntimeError("dart prediction is not deterministic")
    if spec["booster"] != "gblinear":
        out["leaf"] = bst.predict(d, pred_leaf=True, **kw)
    if spec["irange"] and V >= (1, 4, 0):
        out["margin_range"] = bst.predict(d, output_margin=True, iteration_range=spec["irange"])
        out["predict_range"] = bst.predict(d, iteration_range=spec["irange"])
    return out


def accepts_inf(path, spec, F):
    try:
        bst = xgb.Booster(model_file=path)
        X = np.zeros((2, F), np.float32)
        X[0, 0] = np.inf
        X[1, 0] = -np.inf
        bst.predict(make_dmatrix(X, spec))
        return True
    except Exception:
        return False


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--only", default=None, help="comma-separated kinds (debug)")
    args = ap.parse_args()
    root = args.out
    vdir = os.path.join(root, VER)
    if os.path.isdir(vdir) and not args.only:
        shutil.rmtree(vdir)
    os.makedirs(vdir, exist_ok=True)
    print("XGBoost", VER, "numpy", np.__version__)
    cases, skipped = [], []
    fmts = formats_for_version()
    for spec in case_specs():
        kind = spec["kind"]
        if args.only and kind not in args.only.split(","):
            continue
        if V < spec["min_v"]:
            skipped.append(dict(kind=kind, format="*", reason="requires XGBoost >= %s"
                                % ".".join(map(str, spec["min_v"]))))
            continue
        try:
            bst = train(spec)
        except Exception as e:
            msg = errmsg(e)
            print("SKIP train", kind, msg)
            skipped.append(dict(kind=kind, format="*", reason="training failed: " + msg))
            continue
        if spec["cols"]:
            probe = bst.predict(make_dmatrix(base_X(np.random.RandomState(0), 4, spec["F"]),
                                             spec), output_margin=True)
            if probe.ndim != 2 or probe.shape[1] != spec["cols"]:
                msg = ("trained without error but predicts shape %s instead of (n, %d): "
                       "multi-output not supported" % (probe.shape, spec["cols"]))
                print("SKIP", kind, msg)
                skipped.append(dict(kind=kind, format="*", reason=msg))
                continue
        written = []
        for fmt in fmts:
            path = os.path.join(vdir, "%s.%s" % (kind, EXT[fmt]))
            try:
                save_as(bst, path, fmt)
                written.append((fmt, path))
            except Exception as e:
                msg = errmsg(e)
                # A refused save can leave a truncated file behind: drop it.
                for leftover in (path, path[:-4] + ".deprecated"):
                    if os.path.exists(leftover):
                        os.remove(leftover)
                print("SKIP save", kind, fmt, msg)
                skipped.append(dict(kind=kind, format=fmt, reason="save failed: " + msg))
        if not written:
            continue
        # thresholds from every twin; raw (ubj/binary) preferred, all must agree
        infos = {fmt: model_info(p, fmt) for fmt, p in written}
        ref_fmt = "ubj" if "ubj" in infos else ("binary" if "binary" in infos else "json")
        thr, roots, ndel = infos[ref_fmt]
        ndel = max(v[2] for v in infos.values())  # 1.0-1.2 JSON lacks num_deleted
        for fmt, (t2, r2, nd2) in infos.items():
            if t2 != thr or r2 != roots:
                raise RuntimeError("%s: split thresholds differ between %s and %s"
                                   % (kind, ref_fmt, fmt))
        with_inf = accepts_inf(written[0][1], spec, spec["F"])
        rng = np.random.RandomState(seed_of(kind, 1))
        X, tags = build_inputs(spec, rng, thr, roots, with_inf)
        xname = "%s.X.npy" % kind
        np.save(os.path.join(vdir, xname), X)
        n_thr = sum(1 for t in tags if t in ("thr", "thr_all"))
        npy_seen = {}
        try:  # compare with the in-memory booster (informational only)
            mem_kw = {"ntree_limit": spec["rounds"]} if (spec["booster"] == "dart"
                                                         and V < (1, 0, 0)) else {}
            mem_margin = bst.predict(make_dmatrix(X, spec), output_margin=True, **mem_kw)
        except Exception:
            mem_margin = None
        for fmt, path in written:
            ext = EXT[fmt]
            try:
                out = predict_all(path, spec, X)
            except Exception as e:
                msg = errmsg(e)
                print("SKIP predict", kind, fmt, msg)
                traceback.print_exc()
                skipped.append(dict(kind=kind, format=fmt,
                                    reason="loading the saved file back or predicting failed: "
                                    + msg))
                os.remove(path)
                continue
            entry = dict(
                id="%s/%s.%s" % (VER, kind, ext), version=VER,
                model="%s/%s.%s" % (VER, kind, ext), format=fmt, kind=kind,
                objective=spec["objective"], booster=spec["booster"],
                input="%s/%s" % (VER, xname), missing=spec["missing"],
            )
            dtypes = set()
            for key in ("margin", "predict", "leaf", "margin_range", "predict_range"):
                if key not in out:
                    if key in ("margin", "predict", "leaf"):
                        entry[key] = None
                    continue
                arr = np.asarray(out[key])
                dtypes.add(str(arr.dtype))
                if arr.dtype != np.float32:
                    arr = arr.astype(np.float32)
                arr = np.ascontiguousarray(arr)
                sig = (key, arr.shape, arr.tobytes())
                fn = npy_seen.get(sig)
                if fn is None:  # identical outputs of twin files share one .npy
                    fn = "%s.%s.%s.npy" % (kind, ext, key)
                    np.save(os.path.join(vdir, fn), arr)
                    npy_seen[sig] = fn
                entry[key] = "%s/%s" % (VER, fn)
            if "margin_range" in out:
                entry["iteration_range"] = list(spec["irange"])
            notes = []
            ps = {k: (v.tolist() if isinstance(v, np.ndarray) else v)
                  for k, v in spec["params"].items()}
            notes.append("rounds=%d params=%s" % (spec["rounds"], json.dumps(ps, sort_keys=True)))
            notes.append("input rows: %d random, %d NaN, %d on/next to split thresholds%s%s%s"
                         % (tags.count("random"), tags.count("nan"), n_thr,
                            ", %d categorical edge codes (col 1 and 3)" % tags.count("cat_codes")
                            if "cat_codes" in tags else "",
                            ", %d with the missing sentinel" % tags.count("sentinel")
                            if "sentinel" in tags else "",
                            ", %d with +-inf (version accepts inf)" % tags.count("inf")
                            if with_inf else "; no inf rows (this version rejects inf input)"))
            if ndel:
                notes.append("trees contain %d deleted (pruned) nodes" % ndel)
            if spec["booster"] == "dart" and V < (1, 0, 0):
                notes.append("predicted with ntree_limit=%d (no dropout)" % spec["rounds"])
            if spec["special"] == "categorical":
                notes.append("trained from a pandas DataFrame with category dtype (12 "
                             "categories 0..11); predicted from float codes with feature_types="
                             + json.dumps(CAT_TYPES))
                if V < (1, 6, 0):
                    notes.append("1.5 CPU hist ignores categories: feature_types has 'c' but all "
                                 "splits are numerical (split_type 0)")
            if spec["special"] == "feature_names":
                notes.append("DMatrix feature_names/feature_types set (predict uses the same)")
            if kind == "binary_logistic_extreme":
                m = out["margin"]
                notes.append("margin range [%g, %g]" % (float(np.min(m)), float(np.max(m))))
            if mem_margin is not None:
                same = (mem_margin.shape == out["margin"].shape and np.array_equal(
                    mem_margin.view(np.uint32), out["margin"].view(np.uint32)))
                if not same:
                    nd = int(np.sum(np.any((mem_margin != out["margin"]).reshape(
                        len(X), -1), axis=1)))
                    notes.append("the in-memory booster's margin differs from this file's in "
                                 "%d of %d rows (reference = the file)" % (nd, len(X)))
            if dtypes != {"float32"}:
                notes.append("raw output dtypes %s converted to float32" % sorted(dtypes))
            entry["notes"] = "; ".join(notes)
            cases.append(entry)
            print("ok", entry["id"])

    with open(os.path.join(vdir, "skipped.json"), "w") as fh:
        json.dump(skipped, fh, indent=1)
    man_path = os.path.join(root, "manifest.json")
    manifest = {"cases": []}
    if os.path.exists(man_path):
        with open(man_path) as fh:
            manifest = json.load(fh)
    keep = [c for c in manifest["cases"] if c["version"] != VER]
    if args.only:
        keep += [c for c in manifest["cases"] if c["version"] == VER
                 and c["kind"] not in args.only.split(",")]
    allc = keep + cases

    def key(c):
        vo = VERSION_ORDER.index(c["version"]) if c["version"] in VERSION_ORDER else 99
        return (vo, c["id"])
    allc.sort(key=key)
    manifest["cases"] = allc
    with open(man_path, "w") as fh:
        json.dump(manifest, fh, indent=1)
        fh.write("\n")
    print("%s: %d cases, %d skipped" % (VER, len(cases), len(skipped)))


if __name__ == "__main__":
    main()
