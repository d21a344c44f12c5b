"""Synthesize BigQuery-ML-style EXPORT MODEL directories covering the encodings the
real fixtures (models/bqml/*_model) lack: categorical_target, array_target,
array_numerical, legacy N.txt / N_array.txt, STRUCT fields flattened to
<struct>_<field>, numeric columns without a stored mean, vocabularies of
Python-str()-sensitive values, random forests and an AFT survival model.

Each export is what BigQuery writes: model.bst (XGBoost legacy binary, written by
the XGBoost version BigQuery uses for that model type: 0.82 for boosted trees and
random forests, 1.5 for survival models) + assets/model_metadata.json + vocabulary
files named N_<encoding>.txt (N = index in feature_names). The training rows are
encoded the way the exported predictor encodes instances (label codes from 1,
unset one-hot slots missing, multi-class target zeros missing, ...), so the
trees split on meaningful values.

usage (from the repository root; XGBoost 0.82 and 1.5.2 installs as in
models/gen/generate_all.sh):
    PYTHONPATH=$XGB_ROOT/0.82  python3 models/gen/bqml_synth_exports.py models/bqml 0.82
    PYTHONPATH=$XGB_ROOT/1.5.2 python3 models/gen/bqml_synth_exports.py models/bqml 1.5.2
then the expected outputs, from Google's predictor (see models/bqml/README.md):
    PYTHONPATH=.venv/bqml-oracle .venv/bin/python models/gen/bqml_cases.py DIR 150 100 7
"""
import json
import os
import random
import sys

import numpy as np
import xgboost as xgb

# --- feature plans -----------------------------------------------------------------
# (name, kind, params). kinds:
#   num            numeric, stats with mean stored        ({"mean":..,"min":..,..})
#   num_nomean     numeric, legacy metadata {}             ('' -> 0.0)
#   num_identity   numeric, {"encode_type": "numerical_identity"}
#   label          N_categorical_label.txt  encode_type categorical_label
#   label_legacy   N.txt                    encode_type ohe (legacy)
#   onehot         N_categorical_one_hot.txt
#   target         N_categorical_target.txt (one value per class, 1 for regression)
#   mhe            N_array_one_hot.txt      encode_type array_one_hot
#   mhe_legacy     N_array.txt              encode_type mhe (legacy)
#   arr_target     N_array_target.txt
#   struct         N_array_struct_dimension.txt (ARRAY<STRUCT<INT64, FLOAT64>>)
#   arr_num        N_array_numerical_length.txt (ARRAY<FLOAT64> of fixed length)

PYSTR_VOCAB = ["0", "1", "1.0", "2.5", "-3", "1e+16", "False", "None", "True", "['a', 'b']", "x", "y z"]

EXPORTS = {
    "0.82": [
        {
            "name": "synth_target_classifier",
            "model_type": "boosted_tree_classifier",
            "label_col": "segment",
            "classes": ["gold", "silver", "bronze"],
            "rounds": 25, "depth": 4, "seed": 11,
            "plan": [
                ("income", "num", None),
                ("city", "target", ["austin", "boston", "chicago", "denver", "el paso", "fresno"]),
                ("tags", "arr_target", ["a", "b", "c", "d", "e"]),
                ("tier", "label_legacy", ["t1", "t2", "t3", "t4"]),
                ("visits", "num_nomean", None),
                ("channels", "mhe_legacy", ["email", "push", "sms", "web"]),
                ("score", "num_identity", None),
                ("device", "onehot", ["android", "ios", "web"]),
            ],
        },
        {
            "name": "synth_regressor_arrays",
            "model_type": "boosted_tree_regressor",
            "label_col": "spend",
            "classes": None,
            "rounds": 30, "depth": 4, "seed": 12,
            "plan": [
                ("addr_city", "onehot", ["berlin", "lisbon", "madrid", "oslo", "paris"]),
                ("addr_zip", "num", None),
                ("brand", "target", ["acme", "globex", "initech", "umbrella"]),
                ("history", "arr_num", 4),
                ("clicks", "struct", 6),
                ("basket", "arr_target", ["bread", "eggs", "milk", "tea"]),
                ("kinds", "mhe", ["x", "y", "z"]),
                ("age", "num", None),
            ],
        },
        {
            "name": "synth_rf_binary_pystr",
            "model_type": "random_forest_classifier",
            "label_col": "churn",
            "classes": ["true", "false"],
            "rounds": 1, "depth": 5, "seed": 13, "forest": 12,
            "plan": [
                ("code", "label", PYSTR_VOCAB),
                ("flag", "onehot", ["False", "None", "True", "0", "1", "1.0"]),
                ("amount", "num", None),
                ("labels", "mhe", ["1", "2", "2.0", "True", "None", "a"]),
                ("weight", "num_nomean", None),
            ],
        },
        {
            "name": "synth_rf_regressor",
            "model_type": "random_forest_regressor",
            "label_col": "price",
            "classes": None,
            "rounds": 1, "depth": 6, "seed": 14, "forest": 16,
            "plan": [
                ("rooms", "num", None),
                ("district", "label", ["centre", "east", "north", "south", "west"]),
                ("features", "mhe", ["balcony", "garage", "garden", "lift", "pool"]),
                ("size", "num", None),
                ("coords", "arr_num", 2),
            ],
        },
    ],
    "1.5.2": [
        {
            "name": "synth_aft_model",
            "model_type": "boosted_tree_aft",
            "label_col": "tenure",
            "classes": None,
            "rounds": 20, "depth": 3, "seed": 15,
            "plan": [
                ("plan_type", "onehot", ["basic", "plus", "pro"]),
                ("seats", "num_nomean", None),
                ("region", "onehot", ["apac", "emea", "na"]),
                ("usage", "num_nomean", None),
            ],
        },
    ],
}

FILE_SUFFIX = {
    "label": "_categorical_label.txt",
    "label_legacy": ".txt",
    "onehot": "_categorical_one_hot.txt",
    "target": "_categorical_target.txt",
    "mhe": "_array_one_hot.txt",
    "mhe_legacy": "_array.txt",
    "arr_target": "_array_target.txt",
    "struct": "_array_struct_dimension.txt",
    "arr_num": "_array_numerical_length.txt",
}
ENCODE_TYPE = {
    "label": "categorical_label",
    "label_legacy": "ohe",
    "onehot": "categorical_one_hot",
    "target": "categorical_target",
    "mhe": "array_one_hot",
    "mhe_legacy": "mhe",
    "arr_target": "array_target",
    "struct": "array_struct",
    "arr_num": "array_numerical",
    "num_identity": "numerical_identity",
}
NAN = float("nan")


def make(spec, out_root):
    rng = random.Random(spec["seed"])
    nprng = np.random.RandomState(spec["seed"])
    out = os.path.join(out_root, spec["name"])
    os.makedirs(os.path.join(out, "assets"), exist_ok=True)
    plan = spec["plan"]
    classes = spec["classes"]
    k_target = len(classes) if classes else 1
    n = 3000

    # Target tables: one vector per category (class frequencies, rounded; some exact 0.0,
    # which the predictor turns into missing for multi-class models).
    targets = {}
    for name, kind, extra in plan:
        if kind in ("target", "arr_target"):
            table = {}
            for i, v in enumerate(extra):
                if k_target > 1:
                    p = nprng.dirichlet(np.ones(k_target))
                    if i % 3 == 0:
                        p[i % k_target] = 0.0
                        p = p / p.sum()
                    table[v] = [round(float(x), 4) for x in p]
                else:
                    table[v] = [0.0 if i == 1 else round(float(nprng.normal(50, 20)), 4)]
            targets[name] = table

    def rand_value(kind, extra):
        if kind.startswith("num"):
            return round(float(nprng.gamma(2.0, 10.0)), 3) if nprng.rand() > 0.03 else ""
        if kind in ("label", "label_legacy", "onehot", "target"):
            return rng.choice(extra)
        if kind in ("mhe", "mhe_legacy", "arr_target"):
            return rng.sample(extra, rng.randint(0, len(extra)))
        if kind == "struct":
            keys = rng.sample(range(extra), rng.randint(0, min(3, extra)))
            return [[k, round(rng.uniform(-5, 5), 3)] for k in sorted(keys)]
        if kind == "arr_num":
            return [round(rng.uniform(-10, 10), 3) for _ in range(extra)]
        raise ValueError(kind)

    rows = [{name: rand_value(kind, extra) for name, kind, extra in plan} for _ in range(n)]
    stats = {}
    for name, kind, _ in plan:
        if kind.startswith("num"):
            vals = [r[name] for r in rows if r[name] != ""]
            stats[name] = {"mean": float(np.mean(vals)), "min": float(np.min(vals)),
                           "max": float(np.max(vals)), "std": float(np.std(vals))}

    def vocab_of(kind, extra):
        return ["_null_filler"] + sorted(extra)

    def encode(r):
        v = []
        for name, kind, extra in plan:
            x = r[name]
            if kind.startswith("num"):
                empty = stats[name]["mean"] if kind == "num" else 0.0
                v.append(empty if x == "" else float(x))
            elif kind in ("label", "label_legacy"):
                v.append(float(vocab_of(kind, extra).index(x)))
            elif kind == "onehot":
                block = [NAN] * (len(extra) + 1)
                block[vocab_of(kind, extra).index(x)] = 1.0
                v.extend(block)
            elif kind in ("mhe", "mhe_legacy"):
                voc = vocab_of(kind, extra)
                block = [NAN] * len(voc)
                for it in x:
                    block[voc.index(it)] = 1.0
                v.extend(block)
            elif kind == "target":
                t = targets[name][x]
                v.extend([NAN if (k_target > 1 and y == 0.0) else y for y in t])
            elif kind == "arr_target":
                acc = [0.0] * k_target
                for it in x:
                    acc = [a + b / len(x) for a, b in zip(acc, targets[name][it])]
                v.extend([NAN if (k_target > 1 and y == 0.0) else y for y in acc])
            elif kind == "struct":
                block = [NAN] * extra
                for k, val in x:
                    block[k] = val
                v.extend(block)
            elif kind == "arr_num":
                v.extend(float(y) for y in x)
        return v

    X = np.array([encode(r) for r in rows], dtype=np.float32)
    # A label that depends on several encoded blocks.
    Z = np.nan_to_num(X, nan=0.0)
    w = nprng.normal(0, 1, X.shape[1]) / np.maximum(Z.std(axis=0), 1e-3)
    z = (Z - Z.mean(axis=0)) @ w
    z = z / z.std() + nprng.randn(n) * 0.5

    mt = spec["model_type"]
    params = {"max_depth": spec["depth"], "base_score": 0.5, "tree_method": "exact",
              "seed": spec["seed"]}
    if mt.endswith("classifier"):
        cuts = np.percentile(z, np.linspace(0, 100, len(classes) + 1)[1:-1])
        y = np.digitize(z, cuts).astype(np.float32)
        params.update({"objective": "multi:softprob", "num_class": len(classes)})
    elif mt == "boosted_tree_aft":
        y = np.exp(z / 2 + 2).astype(np.float32)
        params.update({"objective": "survival:aft", "aft_loss_distribution": "normal",
                       "aft_loss_distribution_scale": 1.0})
    else:
        y = (z * 10 + 50).astype(np.float32)
        params.update({"objective": "reg:linear"})
    if mt.startswith("random_forest"):
        params.update({"eta": 1.0, "num_parallel_tree": spec["forest"], "subsample": 0.8,
                       "colsample_bynode": 0.8})
    else:
        params.update({"eta": 0.1, "subsample": 0.9, "colsample_bytree": 0.9})

    d = xgb.DMatrix(X, missing=NAN)
    if mt == "boosted_tree_aft":
        censored = nprng.rand(n) < 0.3
        d.set_float_info("label_lower_bound", y)
        d.set_float_info("label_upper_bound", np.where(censored, np.inf, y).astype(np.float32))
    else:
        d.set_label(y)
    bst = xgb.train(params, d, spec["rounds"])
    bst.save_model(os.path.join(out, "model.bst"))

    meta = {"model_type": mt, "label_col": spec["label_col"],
            "feature_names": [p[0] for p in plan], "features": {}}
    if classes:
        meta["class_names"] = classes
    for i, (name, kind, extra) in enumerate(plan):
        if kind == "num":
            meta["features"][name] = stats[name]
        elif kind == "num_nomean":
            meta["features"][name] = {}
        else:
            meta["features"][name] = {"encode_type": ENCODE_TYPE[kind]}
        if kind in FILE_SUFFIX:
            path = os.path.join(out, "assets", f"{i}{FILE_SUFFIX[kind]}")
            if kind in ("target", "arr_target"):
                lines = [f"{v}," + ",".join(f" {x}" if j % 2 else f"{x}" for j, x in enumerate(t))
                         for v, t in sorted(targets[name].items())]
            elif kind in ("struct", "arr_num"):
                lines = [str(extra)]
            else:
                lines = vocab_of(kind, extra)
            with open(path, "w") as fh:
                fh.write("\n".join(lines) + "\n")
    with open(os.path.join(out, "assets", "model_metadata.json"), "w") as fh:
        json.dump(meta, fh, indent=2, sort_keys=True)
    print(f"{out}: {X.shape[1]} encoded columns, xgboost {xgb.__version__}")


def main():
    out_root, version = sys.argv[1], sys.argv[2]
    assert xgb.__version__ == version, f"run under XGBoost {version}, this is {xgb.__version__}"
    for spec in EXPORTS[version]:
        make(spec, out_root)


if __name__ == "__main__":
    main()
