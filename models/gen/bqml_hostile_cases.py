"""Write models/bqml/hostile/*.json: wrong-typed and otherwise hostile instances
for the BigQuery ML exports under models/bqml/, with the outputs of Google's
exported predictor (bigquery-ml-utils 1.5.0, xgboost 3.0.1, numpy 1.26.4), one
instance per `predict` call, exactly as python/tests/bqml_oracle.py runs it.

usage (the oracle environment of scripts/test.sh):
    PYTHONPATH=.venv/bqml-oracle .venv/bin/python models/gen/bqml_hostile_cases.py [OUT_DIR]

The file format and the export patches are described in
python/tests/bqml_hostile.py. The sets:

* q1_<export>__<column>: one column of an ordinary instance replaced by values
  of every JSON type (lists, objects, numbers, booleans, null, numeric and
  odd strings, nested arrays), per encoding kind. The base instance is the
  first case of the export's cases.jsonl (with a vocabulary value swapped in)
  for which the column changes the prediction, so "missing" is observable.
* q1x_<export>__<column>: str() spellings, target averaging, K=1 zeros, NumPy
  conversion rules and float32 limits.
* q1p_error_precedence: several bad columns at once (which error wins).
* q2_*: model.bst declaring more features than the assets encode (and one
  fewer), on the first 40 cases of each export; tree 0 split on an absent
  feature.
* q3_*: random_forest_classifier_model's f2, which has both a label and an
  array one-hot vocabulary; tree 0 rewritten to split on f2 so its encoding
  shows in the output.

Outputs are {"ok": prediction} -> "expected", {"error": "Type: message"} ->
"error" (XGBoost's timestamp and stack trace cut off). Instances are stored as
JSON text (json.dumps, allow_nan=False).
"""
import copy
import json
import os
import re
import sys
import tempfile
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1] / "python" / "tests"))

import bqml_hostile  # noqa: E402
import bqml_oracle  # noqa: E402

BQ = HERE.parents[1] / "models" / "bqml"
NOTE = ("outputs of Google's exported predictor (bigquery-ml-utils 1.5.0, xgboost 3.0.1, numpy 1.26.4), "
        "one instance per predict call; written by models/gen/bqml_hostile_cases.py")


def norm(out):
    if "error" in out:
        e = out["error"].split("\nStack trace")[0]
        return {"error": re.sub(r"\[\d\d:\d\d:\d\d\] ", "", e).strip()}
    return out


def first_case(export, pred=None):
    with open(BQ / export / "cases.jsonl") as f:
        for line in f:
            c = json.loads(line)
            if "expected" in c and (pred is None or pred(c["instance"])):
                return c["instance"]


def blocks(p):
    """[(name, kind, width)] in feature order, with _preprocess's dispatch order."""
    p._extract_model_metadata()
    out = []
    for i, name in enumerate(p._feature_names):
        if i in p._categorical_one_hot_vocab:
            out.append((name, "categorical_one_hot", len(p._categorical_one_hot_vocab[i])))
        elif i in p._categorical_target_vocab:
            out.append((name, "categorical_target", len(list(p._categorical_target_vocab[i].values())[0])))
        elif i in p._categorical_label_vocab:
            out.append((name, "categorical_label", 1))
        elif i in p._array_one_hot_vocab:
            out.append((name, "array_one_hot", len(p._array_one_hot_vocab[i])))
        elif i in p._array_target_vocab:
            out.append((name, "array_target", len(list(p._array_target_vocab[i].values())[0])))
        elif p._array_struct_dimension_dict and i in p._array_struct_dimension_dict:
            out.append((name, "array_struct", p._array_struct_dimension_dict[i]))
        elif p._array_numerical_length_dict and i in p._array_numerical_length_dict:
            out.append((name, "array_numerical", p._array_numerical_length_dict[i]))
        else:
            out.append((name, "numeric", 1))
    return out


class Writer:
    def __init__(self, out_dir: Path):
        self.out_dir = out_dir
        self.count = 0

    def save(self, name, export, labels, instances, outputs, columns=None, patch=None):
        cases = []
        for i, (label, inst, out) in enumerate(zip(labels, instances, outputs)):
            out = norm(out)
            case = {"label": label, "instance": json.dumps(inst, allow_nan=False)}
            col = columns[i] if columns else None
            if "error" in out and col:
                case["column"] = col
            if "ok" in out:
                case["expected"] = out["ok"]
            else:
                case["error"] = out["error"]
            cases.append(case)
        head = {"export": export}
        if patch:
            head["patch"] = patch
        head["note"] = NOTE
        text = json.dumps(head, allow_nan=False)[:-1] + ',\n "cases": [\n'
        text += ",\n".join("  " + json.dumps(c, allow_nan=False) for c in cases)
        text += "\n ]\n}\n"
        (self.out_dir / f"{name}.json").write_text(text)
        self.count += len(cases)
        print(f"{name}: {len(cases)} cases, {sum('error' in c for c in cases)} errors")


def predict(export_dir, instances):
    p = bqml_oracle.open_export(str(export_dir))
    return bqml_oracle.predict_each(p, copy.deepcopy(instances))


# --- Q1: one column, every JSON type -------------------------------------------------

GENERIC = [
    ("array_of_2_str", ["a", "b"]), ("array_of_num", [1, 2]), ("object", {"a": 1}), ("object_empty", {}),
    ("int_3", 3), ("int_1", 1), ("int_0", 0), ("float_3.5", 3.5), ("float_1.0", 1.0),
    ("true", True), ("false", False), ("null", None),
    ("string_abc", "abc"), ("string_3", "3"), ("string_empty", ""),
    ("empty_array", []), ("nested_array", [["a", "b"]]), ("nested_num_array", [[1, 2]]),
]
NUM_EXTRA = [("string_3.5", "3.5"), ("string_nan", "nan"), ("string_NaN", "NaN"), ("string_inf", "inf"),
             ("string_-inf", "-inf"), ("string_Infinity", "Infinity"), ("string_ws_3", " 3 "),
             ("string_1_000", "1_000"), ("string_0x10", "0x10"), ("string_1e2", "1e2"),
             ("string_1e39", "1e39"), ("float_1e39", 1e39), ("float_1e300", 1e300),
             ("int_10pow400", 10 ** 400), ("int_2pow60", 2 ** 60), ("float_-0.0", -0.0)]


def cat_extra(v):
    return [("valid_value", v), ("unseen", "zz_unseen"), ("null_filler", "_null_filler"),
            ("array_of_valid_value", [v]), ("padded_value", " " + v + " "), ("upper_value", v.upper()),
            ("string_None", "None"), ("string_True", "True")]


def arr_extra(vocab_vals):
    v = vocab_vals[0]
    out = [("valid_array", [v]), ("string_equal_vocab_value", v), ("object_with_vocab_key", {v: 1}),
           ("duplicate_items", [v, v]), ("array_with_null", [None]), ("array_with_true", [True]),
           ("array_with_1.0", [1.0]), ("array_with_nested_vocab", [[v]]), ("array_with_empty_str", [""]),
           ("array_with_null_filler", ["_null_filler"]), ("array_with_unseen", ["zz_unseen"])]
    singles = [x for x in vocab_vals if len(x) == 1]
    if len(singles) >= 2:
        out.append(("string_of_vocab_chars", singles[0] + singles[1]))
    return out


def struct_extra(dim):
    return [("valid_pair", [[1, 2.5]]), ("triple_k_v_extra", [[1, 2.5, 9]]), ("single_k", [[1]]),
            ("empty_item", [[]]), ("key_float_1.0", [[1.0, 2.5]]), ("key_float_1.5", [[1.5, 2.5]]),
            ("key_string_1", [["1", 2.5]]), ("key_true", [[True, 2.5]]), ("key_false", [[False, 2.5]]),
            ("key_null", [[None, 2.5]]), ("value_string_3", [[1, "3"]]), ("value_string_abc", [[1, "abc"]]),
            ("value_string_nan", [[1, "nan"]]), ("value_null", [[1, None]]), ("value_true", [[1, True]]),
            ("value_list", [[1, [2]]]), ("value_object", [[1, {}]]), ("key_eq_dim", [[dim, 2.5]]),
            ("key_dim_minus_1", [[dim - 1, 2.5]]), ("key_gt_dim", [[dim + 1, 2.5]]), ("key_-1", [[-1, 2.5]]),
            ("item_object", [{"0": 1, "1": 2.5}]), ("item_object_str_key", [{"a": 1}]),
            ("item_number", [5]), ("item_string_12", ["12"]), ("item_null", [None]),
            ("duplicate_keys", [[1, 2.5], [1, 7.0]]), ("column_string_ab", "ab"),
            ("column_object", {"1": 2.5}), ("value_1e39", [[1, 1e39]])]


def numarr_extra(n):
    base = [1.5] * n
    return [("valid", base), ("short", base[:-1]), ("long", base + [1.5]),
            ("strings_numeric", ["1"] * n), ("mixed_num_str", [1] + ["2"] * (n - 1)),
            ("strings_abc", ["a"] * n), ("nulls", [None] * n), ("one_null", [None] + base[1:]),
            ("null_and_str", [None, "3"] + base[2:]), ("bools", [True, False] + base[2:]),
            ("nested", [[1.5]] * n), ("string_of_len_L_digits", "1" * n), ("string_of_len_L_alpha", "a" * n),
            ("object_len_L", {str(i): 1 for i in range(n)}), ("with_object", [{}] + base[1:]),
            ("strings_nan", ["nan"] * n), ("strings_ws", [" 1 "] * n), ("value_1e39", [1e39] + base[1:])]


TARGETS = [
    ("boosted_tree_classifier_model", "f3", "numeric (mean in metadata)"),
    ("sparse_feature_model_3", "f1", "numeric ({} metadata)"),
    ("synth_target_classifier", "score", "numeric (numerical_identity)"),
    ("synthetic_churn_classifier", "plan", "categorical_label"),
    ("boosted_tree_classifier_model", "f1", "categorical_label (legacy 0.txt / ohe)"),
    ("boosted_tree_mixed_feature_model", "f2_foo", "STRUCT field f2.foo (flattened, label)"),
    ("synthetic_churn_classifier", "region", "categorical_one_hot"),
    ("synth_target_classifier", "city", "categorical_target K=3"),
    ("synth_regressor_arrays", "brand", "categorical_target K=1"),
    ("synthetic_churn_classifier", "devices", "array_one_hot"),
    ("boosted_tree_classifier_model", "f2", "array_one_hot (legacy 1_array.txt / mhe)"),
    ("synth_target_classifier", "tags", "array_target K=3"),
    ("synth_regressor_arrays", "basket", "array_target K=1"),
    ("sparse_feature_model_3", "f4", "array_struct dim=4"),
    ("synth_regressor_arrays", "clicks", "array_struct dim=6"),
    ("boosted_tree_mixed_feature_model", "f4", "array_numerical len=3"),
    ("synth_regressor_arrays", "history", "array_numerical len=4"),
]

MISS = {"numeric": "nan", "categorical_label": "zz_unseen", "categorical_one_hot": "zz_unseen",
        "categorical_target": "zz_unseen", "array_one_hot": [], "array_target": [], "array_struct": []}


def candidates(p, kind, width, i):
    if kind == "categorical_label":
        return p._categorical_label_vocab[i][1:]
    if kind == "categorical_one_hot":
        return p._categorical_one_hot_vocab[i][1:]
    if kind == "categorical_target":
        t = p._categorical_target_vocab[i]
        return [k for k, v in t.items() if 0.0 not in v] + list(t)
    if kind == "array_one_hot":
        return [[x] for x in p._array_one_hot_vocab[i][1:]]
    if kind == "array_target":
        return [[k] for k, v in p._array_target_vocab[i].items() if 0.0 not in v]
    if kind == "array_struct":
        return [[[k, v]] for k in range(width) for v in (-5.0, 5.0)]
    return [None]


def pick_base(p, export, col, kind, width, i):
    """The first case (with a valid value swapped in) whose prediction changes
    when `col` is made missing."""
    miss = MISS.get(kind, ["nan"] * width)
    with open(BQ / export / "cases.jsonl") as f:
        cases = [json.loads(line)["instance"] for line in f if '"expected"' in line][:60]
    for c in cases:
        for v in candidates(p, kind, width, i):
            inst = dict(c) if v is None else dict(c, **{col: v})
            a, b = bqml_oracle.predict_each(p, [inst, dict(inst, **{col: miss})])
            if "ok" in a and a != b:
                return inst
    return cases[0]


def good_items(p, kind, i, current):
    if kind == "array_one_hot":
        vocab = p._array_one_hot_vocab[i][1:]
    else:
        t = p._array_target_vocab[i]
        vocab = [k for k, v in t.items() if 0.0 not in v] + list(t)
    first = [x for x in current if x in vocab] if isinstance(current, list) else []
    return first + [x for x in vocab if x not in first]


def q1(w):
    for export, col, title in TARGETS:
        p = bqml_oracle.open_export(str(BQ / export))
        kind, width = next((k, n) for name, k, n in blocks(p) if name == col)
        i = p._feature_name_to_index_map[col]
        base = pick_base(p, export, col, kind, width, i)
        variants = list(GENERIC)
        if kind == "numeric":
            variants += NUM_EXTRA
        elif kind in ("categorical_label", "categorical_one_hot"):
            vocab = (p._categorical_label_vocab if kind == "categorical_label" else p._categorical_one_hot_vocab)[i]
            variants += cat_extra(base[col] if isinstance(base[col], str) and base[col] in vocab else vocab[1])
        elif kind == "categorical_target":
            keys = list(p._categorical_target_vocab[i])
            variants += cat_extra(base[col] if base[col] in keys else keys[1])
        elif kind in ("array_one_hot", "array_target"):
            variants += arr_extra(good_items(p, kind, i, base[col]))
        elif kind == "array_struct":
            variants += struct_extra(width)
        elif kind == "array_numerical":
            variants += numarr_extra(width)
        variants = [("base", base[col]), ("missing_reference", MISS.get(kind, ["nan"] * width))] + variants
        labels, insts = [], []
        for name, v in variants:
            inst = dict(base)
            inst[col] = copy.deepcopy(v)
            labels.append(f"{title} / {name}")
            insts.append(inst)
        labels.append(f"{title} / column_absent")
        insts.append({k: v for k, v in base.items() if k != col})
        w.save(f"q1_{export}__{col}", export, labels, insts, predict(BQ / export, insts),
               columns=[col] * len(insts))


EXTRA = {
    "code": ("synth_rf_binary_pystr", "categorical_label, vocab has str() spellings",
             [1, 1.0, "1", "1.0", True, "True", False, None, "None", 0, -3, 1e16, 10 ** 16, 2.5, ["a", "b"],
              ["a"], "['a', 'b']", [], "y z", 1e15, {"a": 1}]),
    "flag": ("synth_rf_binary_pystr", "categorical_one_hot",
             [0, 1, 1.0, True, False, None, "None", "true", 0.0, -0.0]),
    "labels": ("synth_rf_binary_pystr", "array_one_hot",
               [[1], [2], [2.0], [None], [True], ["a"], "a", "12", "Tr", ["1", "1"], [1, 2.0, None, True, "a"],
                [[1]], {"True": 0}]),
    "basket": ("synth_regressor_arrays", "array_target K=1",
               [["bread"], ["bread", "zz_unseen"], ["bread", "eggs"], ["bread", "milk", "tea"], ["eggs"],
                ["zz_unseen"], [], ["bread", "bread"]]),
    "tags": ("synth_target_classifier", "array_target K=3",
             [["a"], ["a", "zz_unseen"], ["b", "c", "e"], ["a", "d"], ["zz_unseen"], []]),
    "city": ("synth_target_classifier", "categorical_target K=3",
             ["austin", "denver", "el paso", "zz_unseen", "El Paso"]),
    "brand": ("synth_regressor_arrays", "categorical_target K=1", ["globex", "acme", "zz_unseen"]),
    "clicks": ("synth_regressor_arrays", "array_struct dim=6",
               [[[6.0, 1]], [[7.0, 1]], [[-1.0, 1]], [[-0.5, 1]], [[5.5, 1]], [[True, 1], [False, 2]],
                [[1, " 3 "]], [[1, "1_000"]], [[1, "inf"]], [[1, "True"]], [[1, ""]], [[1, 3.4028235e38]],
                [[1, 3.4028236e38]], [[1, 1e-50]], [[10 ** 20, 1]], [[-10 ** 20, 1]], [[1, "\u0661"]]]),
    "coords": ("synth_rf_regressor", "array_numerical len=2",
               [[True, "2"], [True, 2], [None, True], [None, "True"], ["1_000", "2"], ["0x10", "1"], ["inf", 1],
                ["", 1], [None, ""], [1, 10 ** 400], [[1, 2], [3, 4]], "12", "ab", {"a": 1, "b": 2},
                [3.4028235e38, 0], [3.4028236e38, 0], ["\u0663", "\uff14"]]),
    "rooms": ("synth_rf_regressor", "numeric, mean 20.09",
              [3.4028235e38, 3.4028236e38, -3.4028236e38, 1e-50, "  ", "\t5\n", "+5", "5.", ".5", "1e", "Infinity",
               "-nan", "\u0661\u0662", True, "\u00a07\u3000", "\u0661\u00e9", "\u00b2", "1\u00a02"]),
}


def q1x(w):
    for col, (export, title, values) in EXTRA.items():
        base = first_case(export)
        insts = [dict(base, **{col: v}) for v in values]
        labels = [f"{export}:{col} ({title}) / {json.dumps(v)[:60]}" for v in values]
        w.save(f"q1x_{export}__{col}", export, labels, insts, predict(BQ / export, insts),
               columns=[col] * len(insts))
    # A STRUCT sent as a nested object next to its flattened fields.
    export = "boosted_tree_mixed_feature_model"
    b = first_case(export)
    nested = {k: v for k, v in b.items() if not k.startswith("f2_")}
    nested["f2"] = {"foo": b["f2_foo"], "bar": b["f2_bar"]}
    both = dict(b, f2={"foo": "k", "bar": "q"})
    insts = [nested, both]
    w.save(f"q1x_{export}__f2_struct_object", export,
           ["STRUCT as a nested object", "flattened fields + a nested f2"], insts, predict(BQ / export, insts),
           columns=["f2", "f2"])


def q1p(w):
    export = "synth_regressor_arrays"
    b = first_case(export)
    tests = [
        ("clicks value 'abc' (col 4) + age 'abc' (col 7)", dict(b, clicks=[[1, "abc"]], age="abc"), "age"),
        ("clicks value 'abc' (col 4) + kinds 5 (col 6)", dict(b, clicks=[[1, "abc"]], kinds=5), "kinds"),
        ("addr_zip 1e39 (col 1) + age 'abc' (col 7)", dict(b, addr_zip=1e39, age="abc"), "age"),
        ("addr_zip 1e39 (col 1) + clicks value 'abc' (col 4)", dict(b, addr_zip=1e39, clicks=[[1, "abc"]]),
         "clicks"),
        ("history ['x',..] (col 3) + age 'abc' (col 7)", dict(b, history=["x"] * 4, age="abc"), "history"),
        ("history [1e39,..] (col 3) + clicks value null (col 4) + age 'abc' (col 7)",
         dict(b, history=[1e39, 1, 1, 1], clicks=[[1, None]], age="abc"), "age"),
        ("history [1e39,..] (col 3) + clicks value [1] (col 4)", dict(b, history=[1e39, 1, 1, 1], clicks=[[1, [1]]]),
         "clicks"),
        ("clicks value 1e39 (col 4) + age 1e39 (col 7)", dict(b, clicks=[[1, 1e39]], age=1e39), "clicks"),
        ("clicks key 9 (col 4) + basket 3 (col 5)", dict(b, clicks=[[9, "abc"]], basket=3), "clicks"),
    ]
    w.save(f"q1p_error_precedence_{export}", export, [t[0] for t in tests], [t[1] for t in tests],
           predict(BQ / export, [t[1] for t in tests]), columns=[t[2] for t in tests])


# --- Q2: model.bst declares more features than the assets encode ----------------------

Q2_EXPORTS = ["boosted_tree_classifier_model", "sparse_feature_model_3", "boosted_tree_cox_model",
              "synth_regressor_arrays", "random_forest_classifier_model", "synth_aft_model"]


def q2(w, tmp):
    for export in Q2_EXPORTS:
        p = bqml_oracle.open_export(str(BQ / export))
        width = sum(n for _, _, n in blocks(p))
        with open(BQ / export / "cases.jsonl") as f:
            insts = [json.loads(line)["instance"] for line in f][:40]
        original = [norm(o) for o in predict(BQ / export, insts)]
        for extra in (1, 5):
            patch = {"num_feature": width + extra}
            d = bqml_hostile.build_export(export, patch, tmp / f"{export}_nf+{extra}")
            outs = predict(d, insts)
            assert [norm(o) for o in outs] == original, export  # Google's predictor: nothing changes
            w.save(f"q2_{export}_nf+{extra}", export, [f"case {i}" for i in range(len(insts))], insts, outs,
                   patch=patch)
    export = "boosted_tree_classifier_model"
    inst = first_case(export, lambda i: i["f1"] == "a")
    for dl in (False, True):
        # Tree 0's root split moved to feature 6, which the assets do not encode.
        patch = {"num_feature": 7, "tree0_root": {"feature": 6, "default_left": dl}}
        d = bqml_hostile.build_export(export, patch, tmp / f"root_on_f6_{dl}")
        w.save(f"q2_btc_nf7_root_on_f6_default_left_{str(dl).lower()}", export,
               ["feature 6 absent: the default branch"], [inst], predict(d, [inst]), patch=patch)
    patch = {"num_feature": 5}
    d = bqml_hostile.build_export(export, patch, tmp / "nf-1")
    w.save(f"q2_{export}_nf-1", export, ["num_feature 5 < encoded width 6: every predict fails"], [inst],
           predict(d, [inst]), patch=patch)


# --- Q3: random_forest_classifier_model's f2 -------------------------------------------

Q3_VALUES = [("a", "a"), ("b", "b"), ("c", "c"), ("f (array vocabulary only)", "f"), ("zz_unseen", "zz_unseen"),
             ("_null_filler", "_null_filler"), ("[]", []), ('["a"]', ["a"]), ('["c"]', ["c"]),
             ('["a","b"]', ["a", "b"]), ('["f"]', ["f"]), ("1", 1), ("null", None), ('{"c":1}', {"c": 1}),
             ("true", True)]
TREE0_ON_F2 = bqml_hostile.TREE0_ON_F2


def q3(w, tmp):
    export = "random_forest_classifier_model"
    base = first_case(export)
    insts = [dict(base, f2=v) for _, v in Q3_VALUES]
    labels = [f"f2 = {n}" for n, _ in Q3_VALUES]
    w.save(f"q3_{export}_f2", export, labels, insts, predict(BQ / export, insts), columns=["f2"] * len(insts))
    variants = [
        ("q3_rf_tree0_splits_on_f2", {"tree0_nodes": TREE0_ON_F2}),
        ("q3_rf_tree0_splits_on_f2_encode_type_array_one_hot",
         {"tree0_nodes": TREE0_ON_F2, "metadata": {"f2": {"encode_type": "array_one_hot"}}}),
        ("q3_rf_tree0_splits_on_f2_no_label_file",
         {"tree0_nodes": TREE0_ON_F2, "metadata": {"f2": {"encode_type": "array_one_hot"}},
          "remove_assets": ["1_categorical_label.txt"]}),
    ]
    for name, patch in variants:
        d = bqml_hostile.build_export(export, patch, tmp / name)
        w.save(name, export, labels, insts, predict(d, insts), patch=patch)


def main():
    warnings.filterwarnings("ignore")
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else BQ / "hostile"
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.json"):
        old.unlink()
    w = Writer(out)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        q1(w)
        q1x(w)
        q1p(w)
        q2(w, tmp)
        q3(w, tmp)
    print(f"{w.count} cases in {len(list(out.glob('*.json')))} files")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
