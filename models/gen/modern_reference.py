#!/usr/bin/env python3
"""Second pass: load every legacy-binary file written by XGBoost 0.82, 0.90 and
1.0.2 with XGBoost 3.0.5 (the newest release that still reads the binary
format) and record its outputs as `modern_margin` / `modern_predict` in
manifest.json.  3.0.5 uses the modern per-tree accumulation order and the 1.1+
base_score round trip for 0.x files (research note §3.11, §4.4).

    PYTHONPATH=/work/xgb/3.0.5 python3 models/gen/modern_reference.py --out models/xgboost
"""
import argparse
import json
import os
import sys
import warnings

import numpy as np
import xgboost as xgb

warnings.simplefilter("ignore")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

OLD = ("0.82", "0.90", "1.0.2")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    assert xgb.__version__ == "3.0.5", xgb.__version__
    man_path = os.path.join(args.out, "manifest.json")
    with open(man_path) as fh:
        manifest = json.load(fh)
    n = 0
    for c in manifest["cases"]:
        if c["version"] not in OLD or c["format"] != "binary":
            continue
        X = np.load(os.path.join(args.out, c["input"]))
        kw = {"missing": np.nan if c["missing"] is None else c["missing"]}
        if c["kind"] == "feature_names":
            kw["feature_names"] = ["age", "income", "score", "flag", "ratio", "delta"]
            kw["feature_types"] = ["int", "float", "q", "i", "q", "float"]
        base = c["notes"].split("; modern_")[0].split("; XGBoost 3.0.5")[0]
        for key in ("modern_margin", "modern_predict", "modern_rows"):
            c.pop(key, None)
        try:
            bst = xgb.Booster(model_file=os.path.join(args.out, c["model"]))
        except Exception as e:
            msg = str(e).strip().splitlines()[0]
            if msg[:1] == "[" and msg[9:11] == "] ":
                msg = msg[11:]
            c["notes"] = base + "; XGBoost 3.0.5 cannot load this file (%s), so no " \
                "modern_* outputs" % msg
            print(c["id"], "3.0.5 load failed:", msg)
            continue
        try:
            d = xgb.DMatrix(X, **kw)
            note = ""
        except Exception:
            # 3.0.5 rejects +-inf input: drop those rows from the modern reference
            keep = ~np.isinf(X).any(axis=1)
            d = xgb.DMatrix(X[keep], **kw)
            note = ("; modern_* computed by 3.0.5 only for the %d of %d input rows without "
                    "+-inf (3.0.5 rejects inf); modern_rows lists them" % (keep.sum(), len(X)))
            rows_fn = c["model"] + ".modern_rows.npy"
            np.save(os.path.join(args.out, rows_fn), np.nonzero(keep)[0].astype(np.int64))
            c["modern_rows"] = rows_fn
        margin = bst.predict(d, output_margin=True)
        pred = bst.predict(d)
        for key, arr in (("modern_margin", margin), ("modern_predict", pred)):
            fn = "%s.%s.npy" % (c["model"], key)
            np.save(os.path.join(args.out, fn), np.ascontiguousarray(arr, dtype=np.float32))
            c[key] = fn
        ref = np.load(os.path.join(args.out, c["margin"]))
        if "modern_rows" in c:
            ref = ref[np.load(os.path.join(args.out, c["modern_rows"]))]
        ndiff = int(np.sum(np.any((ref != margin).reshape(len(ref), -1), axis=1)))
        c["notes"] = base + note + "; XGBoost 3.0.5 loading this file: margin differs from " \
            "the %s reference in %d of %d rows" % (c["version"], ndiff, len(ref))
        n += 1
        print(c["id"], "rows differing:", ndiff)
    with open(man_path, "w") as fh:
        json.dump(manifest, fh, indent=1)
        fh.write("\n")
    print("modern references for", n, "cases")


if __name__ == "__main__":
    main()
