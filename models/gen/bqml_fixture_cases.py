# Kept as it was used to make the cases.jsonl of the seven original fixtures in models/bqml/ (see models/bqml/README.md),
# except that feature_kinds now follows the predictor's dispatch order (random_forest_classifier_model's cases.jsonl was
# regenerated with it: `bqml_fixture_cases.py models/bqml/random_forest_classifier_model OUT 200 0`).
"""Generate BQML export test cases whose expected outputs come from Google's own exported
predictor (bigquery_ml_utils.inference.xgboost_predictor, run with xgboost==3.0.1).

usage: python bqml_cases.py FIXTURE_DIR OUT_JSONL [N_RANDOM] [SEED]
Each output line: {"instance": {...}, "expected": <prediction>} or {"instance": ..., "error": "..."}.
"""
import glob, importlib.util, json, math, os, random, re, sys

def load_predictor_module():
    # On PYTHONPATH (the oracle environment of scripts/test.sh), else in this interpreter's site-packages.
    spec = importlib.util.find_spec("bigquery_ml_utils")
    if spec is not None and spec.submodule_search_locations:
        cands = [os.path.join(spec.submodule_search_locations[0], "inference", "xgboost_predictor", "predictor.py")]
    else:
        cands = glob.glob(os.path.join(sys.prefix, "lib", "python3*", "site-packages", "bigquery_ml_utils",
                                       "inference", "xgboost_predictor", "predictor.py"))
    spec = importlib.util.spec_from_file_location("bqml_xgb_predictor", cands[0])
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod

KINDS = [  # same precedence as the exported predictor
    ("categorical_one_hot", r"^(\d+)_categorical_one_hot\.txt$"),
    ("categorical_target", r"^(\d+)_categorical_target\.txt$"),
    ("categorical_label", r"^(\d+)_categorical_label\.txt$"),
    ("categorical_label", r"^(\d+)\.txt$"),
    ("array_one_hot", r"^(\d+)_array_one_hot\.txt$"),
    ("array_one_hot", r"^(\d+)_array\.txt$"),
    ("array_target", r"^(\d+)_array_target\.txt$"),
    ("array_struct", r"^(\d+)_array_struct_dimension\.txt$"),
    ("array_numerical", r"^(\d+)_array_numerical_length\.txt$"),
]

def feature_kinds(d):
    """{index: (kind, lines)}. When a feature has files of several kinds, the predictor's dispatch
    order (the order of KINDS) decides, not the file names' sort order: random_forest_classifier_model's
    f2 has 1_array_one_hot.txt and 1_categorical_label.txt and is label-encoded, so its instances carry
    a string (an array would be looked up by its str() and read as missing)."""
    rank = {pat: r for r, (_, pat) in enumerate(KINDS)}
    found = {}
    for f in sorted(os.listdir(os.path.join(d, "assets"))):
        for kind, pat in KINDS:
            m = re.match(pat, f)
            if m:
                idx = int(m.group(1))
                text = open(os.path.join(d, "assets", f)).read().splitlines()
                found.setdefault(idx, []).append((rank[pat], kind, text))
                break
    return {idx: min(files, key=lambda t: t[0])[1:] for idx, files in found.items()}

def rand_instance(rng, meta, kinds, unseen_p=0.1):
    inst = {}
    for i, name in enumerate(meta["feature_names"]):
        kind, text = kinds.get(i, ("numeric", None))
        stats = meta.get("features", {}).get(name, {})
        if kind in ("categorical_one_hot", "categorical_label"):
            vocab = [v for v in text if v != "_null_filler"]
            inst[name] = "zz_unseen" if rng.random() < unseen_p or not vocab else rng.choice(vocab)
        elif kind == "categorical_target":
            keys = [l.split(",")[0].strip() for l in text if l.strip()]
            inst[name] = "zz_unseen" if rng.random() < unseen_p else rng.choice(keys)
        elif kind == "array_one_hot":
            vocab = [v for v in text if v != "_null_filler"]
            k = rng.randint(0, 4)
            inst[name] = [("zz_unseen" if rng.random() < unseen_p else rng.choice(vocab)) for _ in range(k)]
        elif kind == "array_target":
            keys = [l.split(",")[0].strip() for l in text if l.strip()]
            k = rng.randint(1, 4)
            inst[name] = [("zz_unseen" if rng.random() < unseen_p else rng.choice(keys)) for _ in range(k)]
        elif kind == "array_struct":
            dim = int(text[0])
            ks = rng.sample(range(dim), rng.randint(0, min(3, dim)))
            inst[name] = [[k, round(rng.uniform(-5, 5), 3)] for k in sorted(ks)]
        elif kind == "array_numerical":
            n = int(text[0])
            inst[name] = [round(rng.uniform(-10, 10), 4) for _ in range(n)]
        else:
            lo, hi = stats.get("min", -20), stats.get("max", 120)
            r = rng.random()
            if r < 0.05 and "mean" in stats:
                inst[name] = ""
            elif r < 0.4:
                inst[name] = rng.randint(int(lo), int(hi))
            else:
                inst[name] = round(rng.uniform(lo, hi), 5)
    return inst

def main():
    d, out = sys.argv[1], sys.argv[2]
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 200
    seed = int(sys.argv[4]) if len(sys.argv) > 4 else 0
    mod = load_predictor_module()
    pred = mod.Predictor.from_path(d)
    meta = json.load(open(os.path.join(d, "assets", "model_metadata.json")))
    kinds = feature_kinds(d)
    rng = random.Random(seed)
    rows = [rand_instance(rng, meta, kinds) for _ in range(n)]
    # a few rows the predictor must reject: a missing key, an extra key
    bad = []
    if rows:
        r = dict(rows[0]); r.pop(meta["feature_names"][0]); bad.append(r)
        r = dict(rows[1]); r["not_a_feature"] = 1.0; bad.append(r)
    with open(out, "w") as fh:
        for inst in rows + bad:
            try:
                res = pred.predict([inst])[0]
                fh.write(json.dumps({"instance": inst, "expected": res}) + "\n")
            except Exception as e:  # the reference rejects it: so must we, with a clear error
                fh.write(json.dumps({"instance": inst, "error": f"{type(e).__name__}: {e}"}) + "\n")

if __name__ == "__main__":
    main()
