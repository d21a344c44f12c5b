"""Hostile instances for BigQuery ML exports: the stored cases in
models/bqml/hostile/*.json and the modified exports some of them run on.

Pure Python (no numpy): imported by the pytest suite (main .venv), by the
generator models/gen/bqml_hostile_cases.py (the bqml-oracle environment) and
mirrored by crates/quercus-bqml/tests/hostile.rs, which applies the same
patches in Rust.

A case file is

    {"export": "<folder under models/bqml>",
     "patch": {...},                      # optional, see build_export
     "note": "...",
     "cases": [{"label": "...", "instance": "<JSON text>", "column": "f3",
                "expected": <prediction>} or {..., "error": "Type: message"}]}

`instance` is JSON *text*, sent as is to both predictors: some instances hold
numbers (10**400) that not every JSON parser can represent. `column` names the
column Google's predictor fails on (absent when no single column is at fault).
"""
from __future__ import annotations

import json
import os
import shutil
import struct
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HOSTILE = ROOT / "models" / "bqml" / "hostile"


# random_forest_classifier_model's tree 0 (a single leaf in the export: all its
# trees are) rewritten to split on encoded column 1, f2: col1 < 2.5 ? +3 :
# (col1 < 10 ? -3 : 0), missing going right. Label indices 0..2 (_null_filler,
# a, b) give +3, c (3) gives -3, a missing f2 gives 0.
TREE0_ON_F2 = [[-1, 1, 2, 1, False, 2.5], [0, -1, -1, 0, False, 3.0], [0, 3, 4, 1, False, 10.0],
               [2, -1, -1, 0, False, -3.0], [2, -1, -1, 0, False, 0.0]]


def case_files() -> list[Path]:
    return sorted(HOSTILE.glob("*.json"))


def load(path: Path) -> dict:
    with open(path) as fh:
        return json.load(fh)


def _tree0_offset(raw: bytes) -> int:
    """Byte offset of tree 0's TreeParam in a legacy binary model.bst."""
    off = 4 if raw[:4] == b"binf" else 0
    off += 136  # LearnerModelParam
    for _ in range(2):  # objective name, booster name
        n = struct.unpack_from("<Q", raw, off)[0]
        off += 8 + n
    return off + 160  # GBTreeModelParam


def patch_bst(raw: bytes, patch: dict) -> bytes:
    """Applies the model.bst part of a patch:

    * "num_feature": N -- LearnerModelParam.num_feature (the u32 at byte 4,
      after the optional "binf" prefix);
    * "tree0_root": {"feature": F, "default_left": bool} -- tree 0's root split;
    * "tree0_nodes": [[parent, left, right, feature, default_left, value], ...]
      -- tree 0 replaced (parent -1 for the root; a left child's parent is
      written with the is-left bit; leaves have left = right = -1).
    """
    b = bytearray(raw)
    base = 4 if raw[:4] == b"binf" else 0
    if "num_feature" in patch:
        struct.pack_into("<I", b, base + 4, patch["num_feature"])
    if "tree0_root" in patch:
        r = patch["tree0_root"]
        node0 = _tree0_offset(bytes(b)) + 148
        struct.pack_into("<I", b, node0 + 12, r["feature"] | (int(r["default_left"]) << 31))
    if "tree0_nodes" in patch:
        off = _tree0_offset(bytes(b))
        tp = list(struct.unpack_from("<37i", b, off))
        assert tp[5] == 0, "size_leaf_vector must be 0"
        end = off + 148 + 36 * tp[1]
        nodes = patch["tree0_nodes"]
        children = {}
        for i, (parent, left, right, *_rest) in enumerate(nodes):
            if left >= 0:
                children[left] = True
                children[right] = False
        tp[1] = len(nodes)
        tp[2] = 0
        tp[3] = _depth(nodes)
        body = b""
        for i, (parent, left, right, feature, default_left, value) in enumerate(nodes):
            p = 0xFFFFFFFF if parent < 0 else parent | (0x80000000 if children[i] else 0)
            sindex = feature | (0x80000000 if default_left else 0)
            body += struct.pack("<IiiIf", p, left, right, sindex, value)
        body += b"\0" * 16 * len(nodes)  # RTreeNodeStat
        b = b[:off] + struct.pack("<37i", *tp) + body + b[end:]
    return bytes(b)


def _depth(nodes, i=0):
    left, right = nodes[i][1], nodes[i][2]
    if left < 0:
        return 0
    return 1 + max(_depth(nodes, left), _depth(nodes, right))


def build_export(export: str, patch: dict | None, dst: Path) -> Path:
    """The export models/bqml/<export>, as is (no patch) or as a patched copy in
    dst. Besides the model.bst patches: "metadata": {feature: {key: value}}
    updates features[feature] in model_metadata.json; "remove_assets": [file
    names] deletes asset files."""
    src = ROOT / "models" / "bqml" / export
    if not patch:
        return src
    if dst.exists():
        shutil.rmtree(dst)
    os.makedirs(dst / "assets")
    for f in os.listdir(src / "assets"):
        if f not in patch.get("remove_assets", []):
            shutil.copy(src / "assets" / f, dst / "assets" / f)
    (dst / "model.bst").write_bytes(patch_bst((src / "model.bst").read_bytes(), patch))
    if "metadata" in patch:
        mp = dst / "assets" / "model_metadata.json"
        meta = json.loads(mp.read_text())
        for feature, fields in patch["metadata"].items():
            meta["features"][feature].update(fields)
        mp.write_text(json.dumps(meta, indent=1))
    return dst
