"""Input conversion: every X that :meth:`quercus.Model.predict` accepts becomes
either a 2-D float32 numpy array (read by the native code in place, whatever
its strides) or the three arrays of a CSR matrix.

Values follow XGBoost's own conversion: float64 and integers are rounded to the
nearest float32, NaN (and a null in pandas or Arrow) is missing, and a pandas
``category`` column or an Arrow dictionary column contributes its integer codes,
re-coded by category to the model's training categories when the model stores
them (XGBoost 3.1+).
"""

from __future__ import annotations

import math
import sys
from typing import Any, List, Optional, Sequence, Tuple, Union

import numpy as np

from .errors import InputError, InputTypeError

Dense = np.ndarray
Csr = Tuple[np.ndarray, np.ndarray, np.ndarray, int]
Prepared = Tuple[str, Union[Dense, Csr]]

_NUMERIC_KINDS = "fiub"


def _module(name: str) -> Any:
    """A module if it is already imported (so Quercus never imports pandas,
    scipy or pyarrow just to find out that X is not one of theirs)."""
    return sys.modules.get(name)


def _is_pandas_frame(x: Any) -> bool:
    pd = _module("pandas")
    return pd is not None and isinstance(x, pd.DataFrame)


def _is_sparse(x: Any) -> bool:
    sp = _module("scipy.sparse")
    return sp is not None and sp.issparse(x)


def _is_arrow(x: Any) -> bool:
    pa = _module("pyarrow")
    if pa is not None and isinstance(x, (pa.Table, pa.RecordBatch)):
        return True
    return hasattr(x, "__arrow_c_stream__") or hasattr(x, "__arrow_c_array__")


def _fmt_value(v: Any) -> str:
    s = repr(v)
    return s if len(s) <= 40 else s[:37] + "..."


def _object_to_f32(values: np.ndarray, what: str) -> np.ndarray:
    """An object array of numbers (None is missing) as float32; any string or
    other non-number raises InputTypeError naming the first one."""
    out = np.empty(values.shape, dtype=np.float32)
    for idx, v in np.ndenumerate(values):
        if v is None:
            out[idx] = np.nan
            continue
        if isinstance(v, (str, bytes)) or not isinstance(v, (int, float, np.number, bool, np.bool_)):
            where = ", ".join(f"{n} {i}" for n, i in zip(("row", "column"), idx))
            raise InputTypeError(
                f"{what} has dtype object and holds {type(v).__name__} {_fmt_value(v)}"
                f"{' at ' + where if where else ''}; Quercus needs numbers "
                "(NaN or None for missing)"
            )
        try:
            out[idx] = v
        except (OverflowError, ValueError, TypeError) as e:
            where = ", ".join(f"{n} {i}" for n, i in zip(("row", "column"), idx))
            raise InputError(
                f"{what} holds {_fmt_value(v)}{' at ' + where if where else ''}, "
                f"which is not a float32 value ({e})"
            ) from None
    return out


def _check_dtype(dtype: np.dtype, what: str) -> None:
    if dtype.kind in _NUMERIC_KINDS or dtype.kind == "O":
        return
    kinds = {"U": "strings", "S": "bytes", "c": "complex numbers", "M": "datetimes", "m": "timedeltas"}
    raise InputTypeError(
        f"{what} has dtype {dtype} ({kinds.get(dtype.kind, 'not numbers')}); Quercus needs numbers"
    )


def dense_f32(x: np.ndarray, what: str = "X") -> np.ndarray:
    """A 2-D float32 array the native code can read in place: ``x`` itself when
    it already is one (C order, Fortran order or any non-negative strides),
    else a converted copy."""
    if x.ndim != 2:
        hint = " (use X.reshape(1, -1) for a single row)" if x.ndim == 1 else ""
        raise InputError(
            f"{what} must be 2-D (rows x features), got a {x.ndim}-D array of shape {x.shape}{hint}"
        )
    _check_dtype(x.dtype, what)
    if x.dtype.kind == "O":
        return _object_to_f32(x, what)
    if x.dtype == np.float32 and x.dtype.isnative and _readable_in_place(x):
        return x
    if x.dtype == np.float32 and x.dtype.isnative:
        # Negative or odd strides, or an unaligned buffer: one C-order copy.
        return np.array(x, dtype=np.float32, order="C")
    # float64, integers, bool, byte-swapped float32: rounded to the nearest
    # float32 as XGBoost does. Order "K" keeps C or Fortran order.
    return x.astype(np.float32, order="K")


def _readable_in_place(x: np.ndarray) -> bool:
    return x.flags.aligned and all(s >= 0 and s % 4 == 0 for s in x.strides)


def _column_f32(values: Any, name: str, dtype: Any) -> np.ndarray:
    """One pandas column as float32 (missing = NaN)."""
    pd = _module("pandas")
    if isinstance(dtype, pd.CategoricalDtype):
        codes = np.asarray(values.cat.codes)
        out = codes.astype(np.float32)
        out[codes < 0] = np.nan
        return out
    np_dtype = getattr(dtype, "numpy_dtype", None)  # nullable Int64 / Float32 / boolean
    if isinstance(dtype, np.dtype) and dtype.kind in _NUMERIC_KINDS:
        return np.asarray(values).astype(np.float32)
    if np_dtype is not None and np.dtype(np_dtype).kind in _NUMERIC_KINDS:
        mask = np.asarray(values.isna())
        out = values.to_numpy(dtype=np_dtype, na_value=0).astype(np.float32)
        out[mask] = np.nan
        return out
    arr = np.asarray(values)
    if arr.dtype.kind == "O":
        return _object_to_f32(arr, f"column {name!r}")
    _check_dtype(arr.dtype, f"column {name!r}")
    return arr.astype(np.float32)


def _match_columns(
    names: Sequence[str], model_names: Sequence[str], num_features: int, validate: bool, what: str
) -> List[int]:
    """Column index in the input of each model feature, in model order."""
    if validate and model_names:
        seen = {}
        dup = []
        for i, n in enumerate(names):
            if n in seen:
                dup.append(n)
            seen.setdefault(n, i)
        wanted = set(model_names)
        missing = [n for n in model_names if n not in seen]
        extra = [n for n in names if n not in wanted]
        if missing or extra or dup:
            parts = []
            if missing:
                parts.append(f"is missing feature column(s) {_names(missing)}")
            if extra:
                parts.append(f"has column(s) the model does not know {_names(extra)}")
            if dup:
                parts.append(f"repeats column(s) {_names(dup)}")
            raise InputError(
                f"{what} " + " and ".join(parts)
                + f" (the model has {len(model_names)} features; pass validate_features=False to match by position)"
            )
        return [seen[n] for n in model_names]
    if len(names) != num_features:
        raise InputError(
            f"{what} has {len(names)} columns but the model expects {num_features} features"
        )
    return list(range(len(names)))


def _names(names: Sequence[str]) -> str:
    shown = ", ".join(repr(n) for n in names[:8])
    more = f", ... ({len(names)} in all)" if len(names) > 8 else ""
    return f"[{shown}{more}]"


def _check_categorical(name: str, j: int, is_cat: bool, model: Any) -> None:
    """A categorical column (pandas ``category``, Arrow dictionary) feeds only
    a categorical feature: its integer codes are not values, and predicting
    them as numbers would be silently wrong (XGBoost refuses it too). Checked
    whether or not ``validate_features`` is on."""
    if not is_cat:
        return
    types = model.feature_types or []
    if types:
        if types[j] != "categorical":
            raise InputTypeError(
                f"column {name!r} is categorical (its values would be read as category codes) "
                f"but the model's feature {j} is numeric; convert it to numbers "
                "(e.g. df[col].astype(float)) or pass the model's categorical features"
            )
    elif not model.has_categorical_splits:
        raise InputTypeError(
            f"column {name!r} is categorical (its values would be read as category codes) "
            "but the model has no categorical features; convert it to numbers first"
        )


def _recode(codes: np.ndarray, categories: Sequence[Any], trained: Sequence[Any], name: str) -> np.ndarray:
    """A categorical column's codes (``-1`` = missing) re-coded from the
    column's own ``categories`` to the model's training categories, by
    category, as XGBoost 3.1+ does."""
    strings = isinstance(trained[0], str)
    position = {v: k for k, v in enumerate(trained)}
    table = np.full(len(categories) + 1, np.nan, dtype=np.float32)  # last: missing
    for k, v in enumerate(categories):
        if isinstance(v, str) != strings:
            raise InputTypeError(
                f"column {name!r} has {'text' if isinstance(v, str) else 'numeric'} categories; "
                f"the model was trained with {'text' if strings else 'numeric'} ones"
            )
        table[k] = position.get(v if strings else float(v), -1)
    out = table[np.where(codes < 0, len(categories), codes)]
    unseen = out == -1
    if unseen.any():
        row = int(np.argmax(unseen))
        raise InputError(
            f"row {row}: column {name!r} has category {_fmt_value(categories[codes[row]])}, "
            f"which the model was not trained with (it knows {len(trained)}: "
            f"{_names([str(t) for t in trained])})"
        )
    return out


def from_pandas(df: Any, model: Any, validate: bool) -> np.ndarray:
    pd = _module("pandas")
    names = [str(c) for c in df.columns]
    order = _match_columns(names, model.feature_names or [], model.num_features, validate, "the DataFrame")
    trained = model.categories or []
    out = np.empty((len(df), len(order)), dtype=np.float32, order="F")
    for j, i in enumerate(order):
        col = df.iloc[:, i]
        is_cat = isinstance(col.dtype, pd.CategoricalDtype)
        _check_categorical(names[i], j, is_cat, model)
        if is_cat and j < len(trained) and trained[j]:
            codes = np.asarray(col.cat.codes)
            out[:, j] = _recode(codes, list(col.cat.categories), trained[j], names[i])
        else:
            out[:, j] = _column_f32(col, names[i], col.dtype)
    return out


def _arrow_column_f32(col: Any, name: str) -> Tuple[np.ndarray, bool]:
    """One Arrow column (Array or ChunkedArray) as float32, and whether it is
    a dictionary (categorical) column."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(col, pa.ChunkedArray):
        if pa.types.is_dictionary(col.type):
            col = col.unify_dictionaries()
        col = col.combine_chunks() if col.num_chunks != 1 else col.chunk(0)
    t = col.type
    is_cat = pa.types.is_dictionary(t)
    if is_cat:
        col = col.indices
        t = col.type
    if not (pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t) or pa.types.is_null(t)):
        raise InputTypeError(f"column {name!r} has Arrow type {t}; Quercus needs numbers or a dictionary column")
    if pa.types.is_null(t):
        return np.full(len(col), np.nan, dtype=np.float32), is_cat
    nulls = col.null_count > 0
    mask = np.asarray(col.is_null()) if nulls else None
    if nulls:
        col = pc.fill_null(col, pa.scalar(0, type=t) if not pa.types.is_boolean(t) else False)
    out = np.asarray(col.to_numpy(zero_copy_only=False)).astype(np.float32)
    if mask is not None:
        out[mask] = np.nan
    return out, is_cat


def from_arrow(obj: Any, model: Any, validate: bool) -> np.ndarray:
    from ._optional import require

    pa = require("pyarrow", f"X as an Arrow object ({type(obj).__name__})")
    if not isinstance(obj, (pa.Table, pa.RecordBatch)):
        obj = pa.table(obj) if hasattr(obj, "__arrow_c_stream__") else pa.record_batch(obj)
    names = [str(n) for n in obj.schema.names]
    order = _match_columns(names, model.feature_names or [], model.num_features, validate, "the Arrow table")
    out = np.empty((obj.num_rows, len(order)), dtype=np.float32, order="F")
    trained = model.categories or []
    for j, i in enumerate(order):
        column = obj.column(i)
        values, is_cat = _arrow_column_f32(column, names[i])
        _check_categorical(names[i], j, is_cat, model)
        if is_cat and j < len(trained) and trained[j]:
            if isinstance(column, pa.ChunkedArray):
                column = column.unify_dictionaries().combine_chunks()
            codes = np.where(np.isnan(values), -1, values).astype(np.int64)
            values = _recode(codes, column.dictionary.to_pylist(), trained[j], names[i])
        out[:, j] = values
    return out


def from_sparse(x: Any) -> Csr:
    if x.ndim != 2:
        raise InputError(f"X must be 2-D (rows x features), got a sparse array of shape {x.shape}")
    if x.format != "csr":
        x = x.tocsr()
    _check_dtype(x.dtype, "the sparse matrix")
    data = np.ascontiguousarray(x.data, dtype=np.float32)
    indptr = np.ascontiguousarray(x.indptr, dtype=np.int64)
    indices = np.ascontiguousarray(x.indices, dtype=np.int64)
    return indptr, indices, data, int(x.shape[1])


def prepare(x: Any, model: Any, validate_features: bool) -> Prepared:
    """Classifies and converts X: ``("dense", array)`` or ``("csr", (indptr, indices, data, n_cols))``."""
    if isinstance(x, np.ndarray):
        return "dense", dense_f32(x)
    pd = _module("pandas")
    if pd is not None and isinstance(x, pd.Series):
        raise InputError("X is a pandas Series; pass a DataFrame (df[[...]] or series.to_frame().T)")
    if _is_pandas_frame(x):
        return "dense", from_pandas(x, model, validate_features)
    if _is_sparse(x):
        return "csr", from_sparse(x)
    if _is_arrow(x):
        return "dense", from_arrow(x, model, validate_features)
    if isinstance(x, (str, bytes, dict)) or x is None:
        raise InputTypeError(f"X must be an array, DataFrame, Arrow table or sparse matrix, not {type(x).__name__}")
    try:
        arr = np.asarray(x)
    except (TypeError, ValueError) as e:
        raise InputTypeError(f"X of type {type(x).__name__} cannot be read as an array: {e}") from None
    return "dense", dense_f32(arr)


def _jsonable(v: Any) -> Any:
    """A DataFrame / Arrow cell as a JSON value: numpy scalars to Python,
    NaN / NA / NaT to None, arrays to lists."""
    if v is None or isinstance(v, (str, bool, int)):
        return v
    if isinstance(v, float):
        return None if math.isnan(v) else v
    if isinstance(v, np.generic):
        return _jsonable(v.item())
    if isinstance(v, np.ndarray):
        return [_jsonable(e) for e in v.tolist()]
    if isinstance(v, (list, tuple)):
        return [_jsonable(e) for e in v]
    if isinstance(v, dict):
        return {str(k): _jsonable(e) for k, e in v.items()}
    pd = _module("pandas")
    if pd is not None:
        try:
            if pd.isna(v):
                return None
        except (TypeError, ValueError):
            pass
    return str(v)


def bqml_records(x: Any, columns: Sequence[str], validate: bool) -> Optional[List[dict]]:
    """Rows of raw BigQuery columns as JSON-ready dicts, when ``x`` is a
    DataFrame, an Arrow table or a list of dicts naming the export's input
    columns; ``None`` when it is something else (numeric, encoded input)."""
    if _is_pandas_frame(x):
        names = [str(c) for c in x.columns]
        if not set(columns) & set(names):
            return None
        order = _match_columns(names, columns, len(columns), validate, "the DataFrame")
        cols = [x.iloc[:, i].tolist() for i in order]
        return [
            {c: _jsonable(v) for c, v in zip(columns, row)} for row in zip(*cols)
        ] if cols else [{} for _ in range(len(x))]
    if _is_arrow(x) and not isinstance(x, np.ndarray):
        import pyarrow as pa

        if not isinstance(x, (pa.Table, pa.RecordBatch)):
            x = pa.table(x) if hasattr(x, "__arrow_c_stream__") else pa.record_batch(x)
        names = [str(n) for n in x.schema.names]
        if not set(columns) & set(names):
            return None
        order = _match_columns(names, columns, len(columns), validate, "the Arrow table")
        cols = [x.column(i).to_pylist() for i in order]
        return [{c: _jsonable(v) for c, v in zip(columns, row)} for row in zip(*cols)]
    if isinstance(x, (list, tuple)) and x and all(isinstance(r, dict) for r in x):
        return [{str(k): _jsonable(v) for k, v in r.items()} for r in x]
    return None


def iteration_range(r: Optional[Sequence[int]]) -> Optional[Tuple[int, int]]:
    """XGBoost's ``iteration_range``: ``(begin, end)``, ``end == 0`` meaning the
    last round; ``None`` or ``(0, 0)`` means every round."""
    from .errors import OptionError

    if r is None:
        return None
    try:
        begin, end = (int(v) for v in r)
    except (TypeError, ValueError):
        raise OptionError(f"iteration_range must be a pair of integers (begin, end), got {r!r}") from None
    if begin < 0 or end < 0:
        raise OptionError(f"iteration_range must not be negative, got {tuple(r)!r}")
    if max(begin, end) > 2**32:
        raise OptionError(f"iteration_range {tuple(r)!r} is past any model's rounds")
    if (begin, end) == (0, 0):
        return None
    return begin, end


#: The most threads a call may ask for.
MAX_THREADS = 1024


def n_threads(n: Optional[int]) -> Optional[int]:
    """``None``, 0 or a negative number mean "all cores" (as XGBoost's ``nthread``)."""
    from .errors import OptionError

    if n is None:
        return None
    try:
        n = int(n)
    except (TypeError, ValueError, OverflowError):
        raise OptionError(f"n_threads must be an integer, got {n!r}") from None
    if n > MAX_THREADS:
        raise OptionError(f"n_threads={n} is more than the {MAX_THREADS} threads a call may use")
    return n if n > 0 else None


def kernel(k: Any) -> Optional[str]:
    """A kernel name for the native layer, which checks that it is one."""
    if k is None:
        return None
    if not isinstance(k, str):
        from .errors import OptionTypeError

        raise OptionTypeError(f"kernel must be a kernel name such as 'interleaved', not {type(k).__name__}")
    return k


def missing_value(m: Any) -> float:
    """``missing`` as a float (like ``xgboost.DMatrix``'s)."""
    from .errors import OptionError

    try:
        m = float(m)
    except (TypeError, ValueError, OverflowError):
        raise OptionError(f"missing must be a number, got {_fmt_value(m)}") from None
    return m if not math.isnan(m) else float("nan")


def byte_limit(n: Any) -> int:
    """``max_model_bytes``: a positive integer number of bytes."""
    from .errors import OptionError

    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n <= 0:
        raise OptionError(f"max_model_bytes must be a positive integer, got {_fmt_value(n)}")
    return min(int(n), 2**64 - 1)
