# Kept as it was used to make synthetic_churn_classifier in models/bqml/ (see models/bqml/README.md).
"""Synthesize a BigQuery-ML-style boosted-tree export: XGBoost 0.82 legacy-binary model.bst plus
assets/model_metadata.json and vocabulary files, encoded exactly the way the exported predictor
encodes instances (label encoding with a leading _null_filler, one-hot/multi-hot with missing for
unset slots, numeric stats with mean). Run under XGBoost 0.82 (numpy<1.24).

usage: python bqml_synth.py OUT_DIR KIND SEED [ROUNDS] [DEPTH]
KIND: classifier3 | binary | regressor
Writes OUT_DIR/{model.bst, assets/..., instances.jsonl}
"""
import json, os, random, sys
import numpy as np
import xgboost as xgb

out, kind, seed = sys.argv[1], sys.argv[2], int(sys.argv[3])
rounds = int(sys.argv[4]) if len(sys.argv) > 4 else 60
depth = int(sys.argv[5]) if len(sys.argv) > 5 else 5
rng = random.Random(seed)
nprng = np.random.RandomState(seed)
os.makedirs(os.path.join(out, "assets"), exist_ok=True)

# feature plan: (name, type, extra)
plan = [
    ("tenure_months", "num", None),
    ("plan", "label", ["basic", "family", "premium", "student", "trial"]),
    ("monthly_spend", "num", None),
    ("region", "onehot", ["apac", "emea", "latam", "na"]),
    ("devices", "mhe", ["android", "ios", "tv", "web"]),
    ("support_calls", "num", None),
    ("payment", "label", ["card", "invoice", "paypal", "voucher"]),
    ("age", "num", None),
    ("satisfaction", "num", None),
    ("referrals", "num", None),
]
n = 4000

def rand_value(ftype, extra):
    if ftype == "num":
        return round(nprng.gamma(2.0, 10.0), 3) if nprng.rand() > 0.02 else ""
    if ftype in ("label", "onehot"):
        return rng.choice(extra)
    if ftype == "mhe":
        return rng.sample(extra, rng.randint(0, len(extra)))

rows = [{name: rand_value(t, e) for name, t, e in plan} for _ in range(n)]
stats = {}
for name, t, e in plan:
    if t == "num":
        vals = [r[name] for r in rows if r[name] != ""]
        stats[name] = {"mean": float(np.mean(vals)), "min": float(np.min(vals)), "max": float(np.max(vals)),
                       "std": float(np.std(vals))}

def encode(r):
    v = []
    for i, (name, t, e) in enumerate(plan):
        x = r[name]
        if t == "num":
            v.append(stats[name]["mean"] if x == "" else float(x))
        elif t == "label":
            vocab = ["_null_filler"] + sorted(e)
            v.append(float(vocab.index(x)) if x in vocab else np.nan)
        elif t == "onehot":
            vocab = ["_null_filler"] + sorted(e)
            block = [np.nan] * len(vocab)
            if x in vocab: block[vocab.index(x)] = 1.0
            v.extend(block)
        elif t == "mhe":
            vocab = ["_null_filler"] + sorted(e)
            block = [np.nan] * len(vocab)
            for it in x:
                if it in vocab: block[vocab.index(it)] = 1.0
            v.extend(block)
    return v

X = np.array([encode(r) for r in rows], dtype=np.float32)
z = (0.04 * X[:, 0] - 0.02 * X[:, 2 + 5] + 0.3 * np.nan_to_num(X[:, 1]) - 0.5 * np.nan_to_num(X[:, 6 + 5]) +
     nprng.randn(n) * 0.8)
if kind == "regressor":
    y = z.astype(np.float32); params = {"objective": "reg:linear"}; classes = None
elif kind == "binary":
    y = (z > np.median(z)).astype(np.float32); params = {"objective": "multi:softprob", "num_class": 2}
    classes = ["yes", "no"]
else:
    y = np.digitize(z, np.percentile(z, [33, 66])).astype(np.float32)
    params = {"objective": "multi:softprob", "num_class": 3}; classes = ["3", "2", "1"]
params.update({"max_depth": depth, "eta": 0.1, "base_score": 0.5, "tree_method": "exact", "seed": seed,
               "subsample": 0.9, "colsample_bytree": 0.9})
bst = xgb.train(params, xgb.DMatrix(X, label=y, missing=np.nan), rounds)
bst.save_model(os.path.join(out, "model.bst"))

meta = {"model_type": "boosted_tree_regressor" if kind == "regressor" else "boosted_tree_classifier",
        "label_col": "churned", "feature_names": [p[0] for p in plan], "features": {}}
if classes: meta["class_names"] = classes
for i, (name, t, e) in enumerate(plan):
    vocab = ["_null_filler"] + sorted(e) if e else None
    if t == "num":
        meta["features"][name] = stats[name]
    elif t == "label":
        meta["features"][name] = {"encode_type": "categorical_label"}
        open(os.path.join(out, "assets", f"{i}_categorical_label.txt"), "w").write("\n".join(vocab) + "\n")
    elif t == "onehot":
        meta["features"][name] = {"encode_type": "categorical_one_hot"}
        open(os.path.join(out, "assets", f"{i}_categorical_one_hot.txt"), "w").write("\n".join(vocab) + "\n")
    elif t == "mhe":
        meta["features"][name] = {"encode_type": "array_one_hot"}
        open(os.path.join(out, "assets", f"{i}_array_one_hot.txt"), "w").write("\n".join(vocab) + "\n")
json.dump(meta, open(os.path.join(out, "assets", "model_metadata.json"), "w"), indent=2, sort_keys=True)
