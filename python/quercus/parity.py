"""Parity checks: does Quercus predict what your reference predicts?

:func:`compare` predicts ``X`` with a Quercus model and compares the result
with a reference, value by value, and returns a :class:`ParityReport`. The
reference may be

* an ``xgboost.Booster``, or the path of a model file loaded with the
  installed xgboost (``reference="model.json"``);
* a Vertex AI prediction response: a dict or JSON file
  ``{"predictions": [...]}`` as an endpoint's ``:predict`` returns, or a batch
  prediction output (JSONL lines ``{"instance": ..., "prediction": ...}``);
* a BigQuery ``ML.PREDICT`` result exported as CSV or (newline-delimited)
  JSON, or read into a pandas DataFrame: ``predicted_<label>`` for
  regression, ``predicted_<label>_probs`` = ``[{"label", "prob"}, ...]`` for
  classification (matched by label, never by position);
* a numpy array (or ``.npy`` / plain CSV file) of expected outputs.

The default tolerance is exact (bit-identical) margins and leaf indices when
the reference is XGBoost itself, and 1e-6 relative everywhere else.

From the command line::

    python -m quercus.parity MODEL --input X.npy --reference REF [--margin]

prints the same report and exits with status 1 when the check fails.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import re
import sys
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from . import _convert
from ._model import Model, load
from ._optional import require
from .errors import InputError, QuercusError

__all__ = ["compare", "ParityReport", "WorstRow", "main"]

DEFAULT_RTOL = 1e-6


@dataclass
class WorstRow:
    """One of the rows that differ most."""

    row: int
    """Row index in ``X`` (and in the reference)."""
    quercus: np.ndarray
    """Quercus's values for the row."""
    reference: np.ndarray
    """The reference's values for the row."""
    abs_diff: float
    rel_diff: float
    ulps: int
    input: Any = None
    """The row's input values (a dict of feature name to value when known)."""


@dataclass
class ParityReport:
    """The result of :func:`compare`. ``print(report)`` gives a summary."""

    reference: str
    """What was compared against, e.g. ``"xgboost 3.2.0 Booster.predict"``."""
    output: str
    """``"prediction"``, ``"margin"`` or ``"leaf"``."""
    rows: int
    """Rows compared."""
    values: int
    """Values compared (rows x outputs per row)."""
    max_abs_diff: float
    max_rel_diff: float
    max_ulps: int
    """Largest distance in float32 units in the last place (0 = identical bits)."""
    mismatches: int
    """Values outside the tolerance."""
    tolerance: str
    """The tolerance applied, e.g. ``"exact (0 ulp)"`` or ``"1e-06 relative"``."""
    passed: bool
    worst: List[WorstRow] = field(default_factory=list)
    quercus_output: Optional[np.ndarray] = field(default=None, repr=False)
    reference_output: Optional[np.ndarray] = field(default=None, repr=False)

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        verdict = "PASSED" if self.passed else "FAILED"
        lines = [
            f"quercus parity: {verdict}",
            f"  reference        {self.reference}",
            f"  output           {self.output}",
            f"  rows compared    {self.rows} ({self.values} values)",
            f"  max abs diff     {_g(self.max_abs_diff)}",
            f"  max rel diff     {_g(self.max_rel_diff)}",
            f"  max ulp distance {self.max_ulps}",
            f"  tolerance        {self.tolerance}",
            f"  outside          {self.mismatches} of {self.values} values",
        ]
        shown = [w for w in self.worst if w.ulps > 0 or w.abs_diff > 0]
        if shown:
            lines.append("  worst rows:")
            for w in shown:
                lines.append(
                    f"    row {w.row}: quercus {_vec(w.quercus)} reference {_vec(w.reference)}"
                    f" (abs {_g(w.abs_diff)}, rel {_g(w.rel_diff)}, {w.ulps} ulp)"
                )
                if w.input is not None:
                    lines.append(f"      input {_row_input(w.input)}")
        return "\n".join(lines)


def _g(v: float) -> str:
    return "0" if v == 0 else f"{v:.3g}"


def _vec(v: np.ndarray) -> str:
    v = np.asarray(v).ravel()
    # The shortest text that reads back as the same value of v's own type.
    items = [str(x) if v.dtype == np.float32 else repr(float(x)) for x in v[:6]]
    more = ", ..." if v.size > 6 else ""
    return items[0] if v.size == 1 else "[" + ", ".join(items) + more + "]"


def _row_input(inp: Any) -> str:
    if isinstance(inp, dict):
        items = list(inp.items())
        s = ", ".join(f"{k}={v!r}" for k, v in items[:12])
        return "{" + s + (", ..." if len(items) > 12 else "") + "}"
    return _vec(np.asarray(inp, dtype=np.float64)) if np.size(inp) <= 1 else np.array2string(
        np.asarray(inp), max_line_width=200, threshold=16, edgeitems=6
    )


# ---------------------------------------------------------------- comparison


def ulp_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-value distance in float32 units in the last place (0 for equal bits
    or two NaNs; a huge number when only one side is NaN)."""
    a = np.ascontiguousarray(a, dtype=np.float32).ravel()
    b = np.ascontiguousarray(b, dtype=np.float32).ravel()

    def key(x: np.ndarray) -> np.ndarray:
        i = x.view(np.int32).astype(np.int64)
        return np.where(i < 0, np.int64(-(2**31)) - i, i)

    d = np.abs(key(a) - key(b))
    both_nan = np.isnan(a) & np.isnan(b)
    one_nan = np.isnan(a) ^ np.isnan(b)
    d[both_nan] = 0
    d[one_nan] = 2**32
    return d


def _diffs(got: np.ndarray, want: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Absolute, relative and ulp differences, all measured between float32
    values: predictions are float32 (as XGBoost's), so a float64 reference
    (a CSV, BigQuery's FLOAT64 columns) is first rounded to float32, the
    precision it was computed at. Otherwise a reference printed with 17
    digits shows an absolute difference beside a 0 ulp distance."""
    g = got.astype(np.float32).astype(np.float64).ravel()
    w = want.astype(np.float32).astype(np.float64).ravel()
    both_nan = np.isnan(g) & np.isnan(w)
    with np.errstate(invalid="ignore", divide="ignore"):
        abs_d = np.abs(g - w)
        abs_d[both_nan] = 0.0
        abs_d[np.isnan(abs_d)] = np.inf
        same_inf = np.isinf(g) & (g == w)
        abs_d[same_inf] = 0.0
        rel = np.where(abs_d == 0, 0.0, abs_d / np.abs(w))
        rel[np.isnan(rel)] = np.inf
    return abs_d, rel, ulp_distance(got, want)


def _report(
    got: np.ndarray,
    want: np.ndarray,
    *,
    reference: str,
    output: str,
    exact: bool,
    rtol: float,
    inputs: Any,
    worst: int,
) -> ParityReport:
    got = np.asarray(got)
    want = np.asarray(want)
    if got.shape != want.shape:
        if got.size == want.size and got.shape[:1] == want.shape[:1]:
            want = want.reshape(got.shape)
        else:
            raise InputError(
                f"the reference has shape {want.shape} but Quercus predicts shape {got.shape} "
                f"for these rows ({reference})"
            )
    rows = got.shape[0] if got.ndim else 1
    abs_d, rel, ulps = _diffs(got, want)
    if exact:
        bad = ulps > 0
        tol = "exact (0 ulp)"
    else:
        w = np.abs(want.astype(np.float32).astype(np.float64).ravel())
        bad = (abs_d > rtol * w) & (ulps > 0)
        tol = f"{rtol:g} relative"
    width = max(1, got.size // max(rows, 1))
    per_row = (ulps.reshape(rows, width).max(axis=1) if rows else np.zeros(0, np.int64))
    per_row_rel = rel.reshape(rows, width).max(axis=1) if rows else np.zeros(0)
    order = np.lexsort((-per_row_rel, -per_row))[:worst] if rows else []
    worst_rows = []
    g2 = got.reshape(rows, width) if rows else got
    w2 = want.reshape(rows, width) if rows else want
    for r in order:
        r = int(r)
        sl = slice(r * width, (r + 1) * width)
        worst_rows.append(
            WorstRow(
                row=r,
                quercus=g2[r].copy(),
                reference=w2[r].copy(),
                abs_diff=float(abs_d[sl].max()),
                rel_diff=float(rel[sl].max()),
                ulps=int(ulps[sl].max()),
                input=_input_row(inputs, r),
            )
        )
    return ParityReport(
        reference=reference,
        output=output,
        rows=rows,
        values=int(got.size),
        max_abs_diff=float(abs_d.max()) if abs_d.size else 0.0,
        max_rel_diff=float(rel.max()) if rel.size else 0.0,
        max_ulps=int(ulps.max()) if ulps.size else 0,
        mismatches=int(bad.sum()),
        tolerance=tol,
        passed=not bool(bad.any()),
        worst=worst_rows,
        quercus_output=got,
        reference_output=want,
    )


def _input_row(inputs: Any, r: int) -> Any:
    if inputs is None:
        return None
    if _convert._is_pandas_frame(inputs):
        return {str(k): v for k, v in inputs.iloc[r].items()}
    if isinstance(inputs, list):
        return inputs[r] if r < len(inputs) else None
    if _convert._is_sparse(inputs):
        return np.asarray(inputs[r].toarray()).ravel()
    try:
        return np.asarray(inputs[r])
    except Exception:  # noqa: BLE001 - best effort, only for display
        return None


# ---------------------------------------------------------------- references


def _is_booster(obj: Any) -> bool:
    xgb = sys.modules.get("xgboost")
    return xgb is not None and isinstance(obj, xgb.Booster)


def _sniff_file(path: str) -> Tuple[str, Any]:
    """What a reference file holds: ("npy", array), ("csv", rows), ("json", doc),
    ("jsonl", [docs]) or ("model", path)."""
    lower = path.lower()
    if lower.endswith(".npy"):
        return "npy", np.load(path, allow_pickle=False)
    with open(path, "rb") as f:
        head = f.read(1 << 16)
    text_like = not head.startswith(b"binf") and b"\x00" not in head[:4096]
    if lower.endswith(".csv") or (text_like and not head.lstrip().startswith((b"{", b"["))
                                  and b"," in head.split(b"\n", 1)[0]):
        with open(path, newline="", encoding="utf-8") as f:
            return "csv", list(csv.DictReader(f))
    if text_like and head.lstrip().startswith((b"{", b"[")):
        with open(path, encoding="utf-8") as f:
            text = f.read()
        try:
            doc = json.loads(text)
        except json.JSONDecodeError:
            lines = [json.loads(line) for line in text.splitlines() if line.strip()]
            return "jsonl", lines
        if isinstance(doc, dict) and "learner" in doc:
            return "model", path
        return "json", doc
    return "model", path


def _xgb_predict(booster: Any, X: Any, model: Model, output: str, iteration_range: Any) -> np.ndarray:
    xgb = require("xgboost", "predicting with the XGBoost reference")

    kw: Dict[str, Any] = dict(missing=model.missing)
    names = booster.feature_names
    types = booster.feature_types
    if types and any(t == "c" for t in types):
        kw["enable_categorical"] = True
    if _convert._is_pandas_frame(X):
        data = X[names] if names and all(n in X.columns for n in names) else X
        dm = xgb.DMatrix(data, enable_categorical=True, missing=model.missing)
    elif _convert._is_sparse(X) or isinstance(X, np.ndarray):
        dm = xgb.DMatrix(X, feature_names=names, feature_types=types, **kw)
    else:
        kind, payload = _convert.prepare(X, model, True)
        if kind == "csr":
            import scipy.sparse as sp

            indptr, indices, data, n = payload  # type: ignore[misc]
            payload = sp.csr_matrix((data, indices, indptr), shape=(len(indptr) - 1, n))
        dm = xgb.DMatrix(payload, feature_names=names, feature_types=types, **kw)
    args: Dict[str, Any] = dict(output_margin=output == "margin", pred_leaf=output == "leaf")
    if iteration_range is not None:
        args["iteration_range"] = tuple(iteration_range)
    return np.asarray(booster.predict(dm, **args))


def _float(v: Any) -> float:
    if v is None or (isinstance(v, str) and not v.strip()):
        return math.nan
    return float(v)


def _labels_for(model: Model, labels: Optional[Sequence[Any]]) -> List[str]:
    if labels is not None:
        return [str(v) for v in labels]
    names = getattr(model, "class_names", None)
    if names:
        return [str(v) for v in names]
    k = model.num_outputs
    return [str(i) for i in range(max(k, 2))]


def _by_label(pairs: Sequence[Tuple[Any, float]], labels: List[str], binary: bool, row: int) -> List[float]:
    probs = {str(lbl): float(p) for lbl, p in pairs}
    if len(probs) == 0:
        raise InputError(f"reference row {row} has no class probabilities")
    # Labels such as 1 vs "1" vs "1.0": also try the canonical number.
    def lookup(lbl: str) -> float:
        if lbl in probs:
            return probs[lbl]
        for k, v in probs.items():
            try:
                if float(k) == float(lbl):
                    return v
            except ValueError:
                pass
        raise InputError(
            f"reference row {row} has labels {sorted(probs)} but no {lbl!r}; "
            "pass labels=[...] (the class label of each model output, in order)"
        )

    if binary:
        return [lookup(labels[1])]
    return [lookup(lbl) for lbl in labels]


def _vertex_prediction(p: Any, labels: List[str], binary: bool, row: int) -> List[float]:
    if isinstance(p, dict):
        probs_key = next((k for k in p if k.endswith("_probs")), None)
        values_key = next((k for k in p if k.endswith("_values")), None)
        if probs_key and values_key:
            return _by_label(list(zip(p[values_key], p[probs_key])), labels, binary, row)
        nums = [v for k, v in p.items() if isinstance(v, (int, float)) and not isinstance(v, bool)]
        if len(nums) == 1:
            return [float(nums[0])]
        for key in ("value", "prediction", "predicted_value"):
            if key in p:
                return _vertex_prediction(p[key], labels, binary, row)
        raise InputError(f"cannot read Vertex prediction {row}: {_convert._fmt_value(p)}")
    if isinstance(p, (list, tuple)):
        return [_float(v) for v in p]
    return [_float(p)]


def _instances_frame(instances: List[Any]) -> Any:
    """Instances sent to Vertex as a predict() input: list of lists, or of dicts."""
    if instances and isinstance(instances[0], dict):
        pd = require("pandas", "reading instances as a DataFrame")

        return pd.DataFrame.from_records(instances)
    return np.array([[_float(v) for v in inst] for inst in instances], dtype=np.float32)


def _row_keys(model: Model, X: Any) -> List[bytes]:
    kind, payload = _convert.prepare(X, model, True)
    if kind == "csr":
        import scipy.sparse as sp

        indptr, indices, data, n = payload  # type: ignore[misc]
        dense = sp.csr_matrix((data, indices, indptr), shape=(len(indptr) - 1, n)).toarray()
        dense[dense == 0] = np.nan
        payload = np.asarray(dense, dtype=np.float32)
    arr = np.ascontiguousarray(payload, dtype=np.float32).copy()
    arr[np.isnan(arr)] = np.nan  # one NaN bit pattern
    return [row.tobytes() for row in arr]


def _vertex_reference(
    doc: Any, model: Model, X: Any, labels: List[str]
) -> Tuple[np.ndarray, Any, str]:
    """(expected values, X to predict, description) from a Vertex response."""
    binary = model.num_outputs == 1
    if isinstance(doc, dict) and "predictions" in doc:
        preds = doc["predictions"]
        if X is None:
            raise InputError("a Vertex :predict response needs X, the instances that were sent")
        if isinstance(X, list) and X and not isinstance(X[0], dict):
            X = _instances_frame(X)  # lists of numbers, "NaN" strings as Vertex accepts them
        rows = [_vertex_prediction(p, labels, binary, i) for i, p in enumerate(preds)]
        return np.array(rows, dtype=np.float64), X, "Vertex AI :predict response"
    lines = doc if isinstance(doc, list) else [doc]
    if not lines or not all(isinstance(line, dict) and "prediction" in line for line in lines):
        raise InputError("not a Vertex AI response: expected {\"predictions\": [...]} or batch JSONL lines "
                         "{\"instance\": ..., \"prediction\": ...}")
    preds = [_vertex_prediction(line["prediction"], labels, binary, i) for i, line in enumerate(lines)]
    instances = [line.get("instance") for line in lines]
    desc = "Vertex AI batch prediction output"
    if X is None:
        if any(inst is None for inst in instances):
            raise InputError("batch prediction lines have no \"instance\"; pass X")
        return np.array(preds, dtype=np.float64), _instances_frame(instances), desc
    if any(inst is None for inst in instances):
        return np.array(preds, dtype=np.float64), X, desc
    # Batch output order is not guaranteed: match each instance to its row of X.
    keys = _row_keys(model, X)
    where: Dict[bytes, List[int]] = {}
    for i, k in enumerate(keys):
        where.setdefault(k, []).append(i)
    inst_keys = _row_keys(model, _instances_frame(instances))
    expected = np.full((len(keys), len(preds[0])), np.nan)
    seen = np.zeros(len(keys), dtype=bool)
    for j, k in enumerate(inst_keys):
        rows = where.get(k)
        if not rows:
            raise InputError(f"batch prediction line {j}: its instance is not a row of X")
        for r in rows:
            expected[r] = preds[j]
            seen[r] = True
    if not seen.all():
        raise InputError(f"{int((~seen).sum())} rows of X have no prediction in the batch output")
    return expected, X, desc + " (matched by instance)"


_BQ_PROBS = re.compile(r"^predicted_(.+)_probs$")
_BQ_VALUE = re.compile(r"^predicted_(.+)$")


def _bq_records(doc: Any) -> Optional[List[Dict[str, Any]]]:
    if _convert._is_pandas_frame(doc):
        return doc.to_dict("records")
    if isinstance(doc, list) and doc and all(isinstance(r, dict) for r in doc):
        if any(any(k.startswith("predicted_") for k in r) for r in doc[:1]):
            return doc
    return None


def _bq_reference(
    records: List[Dict[str, Any]], model: Model, X: Any, labels: List[str]
) -> Tuple[np.ndarray, Any, str]:
    cols = list(records[0].keys())
    probs_col = next((c for c in cols if _BQ_PROBS.match(c)), None)
    binary = model.num_outputs == 1
    rows: List[List[float]] = []
    if probs_col is not None:
        for i, r in enumerate(records):
            v = r[probs_col]
            if isinstance(v, str):
                v = json.loads(v)
            if isinstance(v, dict) and "label" not in v:  # {"label": [...], "prob": [...]} columnar
                v = [{"label": a, "prob": b} for a, b in zip(v.get("label", []), v.get("prob", []))]
            pairs = [(e["label"], _float(e["prob"])) for e in list(v)]
            rows.append(_by_label(pairs, labels, binary, i))
        label = _BQ_PROBS.match(probs_col).group(1)  # type: ignore[union-attr]
        what = f"BigQuery ML.PREDICT output (predicted_{label}_probs, matched by label)"
        out_cols = {probs_col, f"predicted_{label}"}
    else:
        value_col = next((c for c in cols if _BQ_VALUE.match(c)), None)
        if value_col is None:
            raise InputError("not a BigQuery ML.PREDICT output: no predicted_<label> column")
        rows = [[_float(r[value_col])] for r in records]
        what = f"BigQuery ML.PREDICT output ({value_col})"
        out_cols = {value_col}
    expected = np.array(rows, dtype=np.float64)
    if X is None:
        pd = require("pandas", "a BigQuery ML parity report")

        inputs = [{k: v for k, v in r.items() if k not in out_cols and not k.startswith("predicted_")}
                  for r in records]
        frame = pd.DataFrame.from_records(inputs)
        # CSV cells are strings: numeric models need numbers. (A BigQuery ML
        # export encodes its raw columns itself, with the predictor's rules.)
        for c in ([] if model.is_bqml else frame.columns):
            if frame[c].dtype == object:
                conv = pd.to_numeric(frame[c], errors="coerce")
                if conv.notna().sum() == frame[c].replace("", None).notna().sum():
                    frame[c] = conv
        names = model.input_columns or model.feature_names
        if names and all(n in frame.columns for n in names):
            frame = frame[list(names)]
        X = frame
        what += ", inputs from the export"
    return expected, X, what


def compare(
    model: Union[Model, str, "os.PathLike[str]"],
    X: Any,
    reference: Any,
    *,
    tolerance: Optional[float] = None,
    output_margin: bool = False,
    pred_leaf: bool = False,
    iteration_range: Optional[Tuple[int, int]] = None,
    labels: Optional[Sequence[Any]] = None,
    worst: int = 5,
) -> ParityReport:
    """Predicts ``X`` with ``model`` and compares with ``reference``.

    Parameters
    ----------
    model
        A :class:`quercus.Model`, or the path of a model file to load.
    X
        The input rows, anything :meth:`Model.predict` accepts. For a Vertex
        ``:predict`` response, the instances that were sent. May be ``None``
        when the reference carries its inputs (a Vertex batch output with
        ``instance`` fields, a BigQuery export with its input columns).
    reference
        An ``xgboost.Booster``; a path (an XGBoost model file, a Vertex JSON
        or JSONL file, a BigQuery CSV/JSON export, a ``.npy`` array); a dict
        ``{"predictions": [...]}``; a list of BigQuery result rows or a
        DataFrame of them; or a numpy array of expected outputs.
    tolerance
        Largest accepted relative difference (``0`` = identical bits). Default:
        exact margins and leaf indices when the reference is XGBoost, else
        1e-6 relative.
    output_margin, pred_leaf, iteration_range
        As in :meth:`Model.predict`; applied to both sides when the reference
        is XGBoost.
    labels
        The class label of each model output, in order, for matching
        ``<label>_probs`` in Vertex and BigQuery outputs. Default: the model's
        class names when it has them, else ``"0"``, ``"1"``, ...
    worst
        How many of the most different rows the report lists.

    Returns
    -------
    ParityReport
        ``report.passed`` tells whether every value is within the tolerance.
    """
    if not isinstance(model, Model):
        model = load(model)
    output = "leaf" if pred_leaf else "margin" if output_margin else "prediction"
    lbls = _labels_for(model, labels)
    is_xgb = False

    if isinstance(reference, (str, os.PathLike)):
        path = os.fspath(reference)
        kind, payload = _sniff_file(path)
        if kind == "model":
            xgb = require("xgboost", "a model file as the parity reference")

            reference = xgb.Booster(model_file=path)
        elif kind == "npy":
            reference = payload
        elif kind == "csv":
            records = payload
            if records and any(k.startswith("predicted_") for k in records[0]):
                reference = records
            else:
                reference = np.array([[_float(v) for v in r.values()] for r in records], dtype=np.float64)
        else:
            reference = payload

    if _is_booster(reference):
        xgb = require("xgboost", "an XGBoost Booster as the parity reference")

        if X is None:
            raise InputError("comparing with an XGBoost Booster needs X")
        want = _xgb_predict(reference, X, model, output, iteration_range)
        desc = f"xgboost {xgb.__version__} Booster.predict"
        is_xgb = True
    elif isinstance(reference, np.ndarray) or (
        isinstance(reference, (list, tuple)) and reference and not isinstance(reference[0], dict)
    ):
        want = np.asarray(reference, dtype=np.float64)
        desc = "expected array"
        if X is None:
            raise InputError("comparing with an array needs X")
    else:
        records = _bq_records(reference)
        if records is not None:
            want, X, desc = _bq_reference(records, model, X, lbls)
        else:
            want, X, desc = _vertex_reference(reference, model, X, lbls)

    got = model.predict(X, output_margin=output_margin, pred_leaf=pred_leaf, iteration_range=iteration_range)
    if not is_xgb and want.ndim == 2 and want.shape[1] == 1 and got.ndim == 1:
        want = want[:, 0]
    exact = tolerance == 0 or (tolerance is None and is_xgb and output in ("margin", "leaf"))
    rtol = DEFAULT_RTOL if tolerance is None else float(tolerance)
    return _report(got, want, reference=desc, output=output, exact=exact, rtol=rtol, inputs=X, worst=worst)


# ---------------------------------------------------------------- command line


def _read_input(path: str) -> Any:
    lower = path.lower()
    if lower.endswith(".npy"):
        return np.load(path, allow_pickle=False)
    if lower.endswith(".csv"):
        try:
            import pandas as pd
        except ImportError:
            return np.genfromtxt(path, delimiter=",", skip_header=1, dtype=np.float32)
        return pd.read_csv(path)
    if lower.endswith((".parquet", ".pq")):
        pq = require("pyarrow.parquet", "reading a Parquet file")

        return pq.read_table(path)
    if lower.endswith((".json", ".jsonl", ".ndjson")):
        with open(path, encoding="utf-8") as f:
            text = f.read()
        try:
            doc = json.loads(text)
            rows = doc["instances"] if isinstance(doc, dict) and "instances" in doc else doc
        except json.JSONDecodeError:
            rows = [json.loads(line) for line in text.splitlines() if line.strip()]
        return _instances_frame(rows)
    raise InputError(f"{path}: unknown input type (use .npy, .csv, .parquet, .json or .jsonl)")


def main(argv: Optional[Sequence[str]] = None) -> int:
    """``python -m quercus.parity``: prints a parity report; exit status 0 when
    it passes, 1 when it fails, 2 on an error."""
    ap = argparse.ArgumentParser(
        prog="python -m quercus.parity",
        description="Check that Quercus predicts what a reference predicts.",
    )
    ap.add_argument("model", help="model file to predict with")
    ap.add_argument("--input", help="input rows: .npy, .csv (with a header), .parquet, .json/.jsonl instances")
    ap.add_argument("--reference", required=True,
                    help="XGBoost model file, Vertex AI response (.json/.jsonl), BigQuery export (.csv/.json), or .npy")
    ap.add_argument("--margin", action="store_true", help="compare raw margins")
    ap.add_argument("--leaf", action="store_true", help="compare leaf indices")
    ap.add_argument("--iteration-range", metavar="A:B", help="use boosting rounds A..B-1")
    ap.add_argument("--tolerance", type=float, help="relative tolerance (0 = identical bits)")
    ap.add_argument("--labels", help="comma-separated class labels of the model outputs, in order")
    ap.add_argument("--legacy-summation", action="store_true", help="reproduce the writing XGBoost version")
    ap.add_argument("--missing", type=float, default=math.nan, help="value treated as missing besides NaN")
    ap.add_argument("--worst", type=int, default=5, help="rows to list (default 5)")
    args = ap.parse_args(argv)
    try:
        model = load(args.model, missing=args.missing, legacy_summation=args.legacy_summation)
        X = _read_input(args.input) if args.input else None
        rng = None
        if args.iteration_range:
            a, _, b = args.iteration_range.partition(":")
            rng = (int(a or 0), int(b or 0))
        report = compare(
            model, X, args.reference,
            tolerance=args.tolerance, output_margin=args.margin, pred_leaf=args.leaf,
            iteration_range=rng, worst=args.worst,
            labels=args.labels.split(",") if args.labels else None,
        )
    except (QuercusError, OSError, ValueError, ImportError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(report)
    return 0 if report.passed else 1


if __name__ == "__main__":
    sys.exit(main())
