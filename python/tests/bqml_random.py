"""Random instances for a BigQuery ML export, for oracle tests against Google's
exported predictor. Pure Python (no numpy): it is imported both by the pytest
suite (main .venv) and by the oracle-side scripts (the bqml-oracle target).

An export's features are typed the way the predictor types them: by which
assets/N_*.txt file exists for index N, with the predictor's precedence.
"""
from __future__ import annotations

import json
import os
import random
import re

# Same precedence as Predictor.from_path + Predictor._preprocess: the first kind
# (in this order) that has a file for the index wins.
KINDS = [
    ("categorical_one_hot", [r"(\d+)_categorical_one_hot.txt"]),
    ("categorical_target", [r"(\d+)_categorical_target.txt"]),
    ("categorical_label", [r"(\d+)_categorical_label.txt", r"(\d+).txt"]),
    ("array_one_hot", [r"(\d+)_array_one_hot.txt", r"(\d+)_array.txt"]),
    ("array_target", [r"(\d+)_array_target.txt"]),
    ("array_struct", [r"(\d+)_array_struct_dimension.txt"]),
    ("array_numerical", [r"(\d+)_array_numerical_length.txt"]),
]
ALL_PATTERNS = [(k, p) for k, ps in KINDS for p in ps]
# from_path's elif order (differs from the dispatch order for the legacy names)
FROM_PATH_ORDER = [
    r"(\d+)_categorical_one_hot.txt", r"(\d+)_categorical_target.txt",
    r"(\d+)_categorical_label.txt", r"(\d+).txt", r"(\d+)_array_one_hot.txt",
    r"(\d+)_array.txt", r"(\d+)_array_target.txt", r"(\d+)_array_struct_dimension.txt",
    r"(\d+)_array_numerical_length.txt",
]
KIND_OF_PATTERN = {p: k for k, ps in KINDS for p in ps}


def load_schema(export_dir: str):
    """(meta, [(name, kind, content)]) with kind 'numeric' when no file applies."""
    with open(os.path.join(export_dir, "assets", "model_metadata.json")) as fh:
        meta = json.load(fh)
    files = {}
    for f in sorted(os.listdir(os.path.join(export_dir, "assets"))):
        if not f.endswith(".txt"):
            continue
        for pat in FROM_PATH_ORDER:
            m = re.search(pat, f)
            if m:
                kind = KIND_OF_PATTERN[pat]
                with open(os.path.join(export_dir, "assets", f)) as fh:
                    files.setdefault((int(m.group(1)), kind), fh.read().splitlines())
                break
    schema = []
    for i, name in enumerate(meta["feature_names"]):
        for kind, _ in KINDS:
            if (i, kind) in files:
                schema.append((name, kind, files[(i, kind)]))
                break
        else:
            schema.append((name, "numeric", None))
    return meta, schema


def _vocab(text):
    return [v for v in text if v != "_null_filler"] or ["a"]


def _target_keys(text):
    return [line.split(",")[0] for line in text if line]


def _as_python_value(s: str):
    """The JSON value whose Python str() is s, when there is a natural one."""
    if s in ("True", "False"):
        return s == "True"
    if s == "None":
        return None
    try:
        return int(s)
    except ValueError:
        pass
    try:
        f = float(s)
        if repr(f) == s:
            return f
    except ValueError:
        pass
    if s.startswith("[") and s.endswith("]"):
        try:
            return json.loads(s.replace("'", '"'))
        except ValueError:
            pass
    return s


ODD_SCALARS = [0, 1, -3, 1.0, 2.5, 1e16, True, False, None, "", " ", "_null_filler", ["a", "b"], []]


def _category(rng, vocab, rich):
    r = rng.random()
    if r < 0.08:
        return "zz_unseen"
    if rich and r < 0.25:
        v = rng.choice(vocab)
        conv = _as_python_value(v)
        return conv if rng.random() < 0.7 else rng.choice(ODD_SCALARS)
    return rng.choice(vocab)


def _item(rng, vocab, rich):
    r = rng.random()
    if r < 0.1:
        return "zz_unseen"
    if rich and r < 0.25:
        return _as_python_value(rng.choice(vocab)) if rng.random() < 0.7 else rng.choice(
            [1, 2.0, True, None, "", 0])
    return rng.choice(vocab)


def _number(rng, stats, rich):
    lo, hi = stats.get("min", -20), stats.get("max", 120)
    r = rng.random()
    if r < 0.05:
        return ""  # the stored mean (0.0 without one)
    if r < 0.35:
        return rng.randint(int(lo), int(hi))
    if rich and r < 0.5:
        x = round(rng.uniform(lo, hi), 3)
        return rng.choice([f" {x} ", str(x), "nan", "NaN", True, False, f"{int(x)}_0",
                           "1e2", -0.0, 0])
    if rich and r < 0.55:
        return rng.choice([1e30, -1e30, 3.4e38, 1e-40, 2 ** 60, -(2 ** 62)])
    return round(rng.uniform(lo, hi), 5)


def random_instance(rng: random.Random, meta, schema, rich: bool = False) -> dict:
    """A valid-looking instance. With rich=True values also take the Python
    types and spellings whose handling is specific to the predictor (str() of
    numbers/bools/None in vocabulary look-ups, numeric strings, NaN strings,
    strings iterated as arrays, null struct values...)."""
    inst = {}
    feats = meta.get("features", {})
    for name, kind, text in schema:
        if kind in ("categorical_one_hot", "categorical_label"):
            inst[name] = _category(rng, _vocab(text), rich)
        elif kind == "categorical_target":
            inst[name] = _category(rng, _target_keys(text), rich)
        elif kind in ("array_one_hot", "array_target"):
            vocab = _vocab(text) if kind == "array_one_hot" else _target_keys(text)
            if rich and rng.random() < 0.08:
                inst[name] = rng.choice(["".join(rng.sample(vocab, min(2, len(vocab)))), "",
                                         {rng.choice(vocab): 1}])
            else:
                k = rng.randint(0, 5)
                inst[name] = [_item(rng, vocab, rich) for _ in range(k)]
        elif kind == "array_struct":
            dim = int(text[0])
            keys = [rng.randrange(dim) for _ in range(rng.randint(0, min(4, dim)))] if dim else []
            pairs = []
            for k in keys:
                v = round(rng.uniform(-5, 5), 3)
                if rich:
                    v = rng.choice([v, v, v, int(v), None, str(v), True])
                    if rng.random() < 0.05:
                        k = bool(k % 2)
                pairs.append([k, v])
            inst[name] = pairs
        elif kind == "array_numerical":
            n = int(text[0])
            vals = [round(rng.uniform(-10, 10), 4) for _ in range(n)]
            if rich and n:
                r = rng.random()
                i = rng.randrange(n)
                if r < 0.15:
                    vals[i] = None
                elif r < 0.3:
                    vals[i] = str(vals[i])
                elif r < 0.4:
                    vals[i] = rng.choice([True, False])
                elif r < 0.5:
                    vals[i] = int(vals[i])
            inst[name] = vals
        else:
            inst[name] = _number(rng, feats.get(name, {}), rich)
    return inst


def error_instances(rng: random.Random, meta, schema) -> list:
    """Instances the predictor should reject (the oracle decides which it does)."""
    base = random_instance(rng, meta, schema)
    names = [n for n, _, _ in schema]
    out = []
    r = dict(base)
    r.pop(names[0])
    out.append(r)
    r = dict(base)
    r["not_a_feature"] = 1.0
    out.append(r)
    r = dict(base)
    r.pop(names[-1])
    r["zz_" + names[-1]] = 1
    out.append(r)
    for name, kind, text in schema:
        bads = []
        if kind == "numeric":
            bads = [None, "abc", [1.0], {"a": 1}, 1e39, "inf", "-Infinity", "1,5"]
        elif kind in ("array_one_hot", "array_target"):
            bads = [3, None, True, 2.5]
        elif kind == "array_struct":
            dim = int(text[0])
            bads = [[[dim, 1.0]], [[-1, 1.0]], [[1.0, 1.0]], [[0]], [[]], [["a", 1]], 5, "ab",
                    [[0, "x"]], [[0, [1]]], [[0, 1e39]]]
        elif kind == "array_numerical":
            n = int(text[0])
            bads = [[1.0] * (n + 1), "x" * n, [None] * max(n - 1, 0), [[1.0]] * n, 7]
            if n >= 2:
                bads += [["1", True] + [1.0] * (n - 2), ["x"] + [1.0] * (n - 1),
                         [1e39] + [1.0] * (n - 1)]
        for v in bads:
            r = dict(base)
            r[name] = v
            out.append(r)
    out.append([base[n] for n in names])  # not an object
    return out
