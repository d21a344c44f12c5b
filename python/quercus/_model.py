"""The :class:`Model` class and :func:`load`."""

from __future__ import annotations

import json
import math
import os
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from . import _convert
from . import _native
from .errors import OptionError


PathLike = Union[str, "os.PathLike[str]"]


class Model:
    """A loaded tree model, ready to predict.

    Create one with :func:`quercus.load`. A model is immutable: share one
    instance between threads freely; predictions of more than a few thousand
    values release the GIL, so threads predict in parallel (tiny ones keep
    it: releasing it would cost more than the prediction). A process that forks after loading (or
    predicting) keeps working in the child. A model pickles (for
    ``multiprocessing``, joblib, ...) as its compiled form, which predicts
    exactly the same; a BigQuery ML export does not pickle yet.
    """

    __slots__ = ("_native", "_path", "_numeric")

    def __init__(self, native: "_native.Model", path: Optional[str] = None) -> None:
        self._native = native
        self._path = path
        # Not a BigQuery ML export: a float32 numpy array can go straight
        # to the native predictor (the one-row latency path).
        self._numeric = not native.is_bqml

    def __reduce__(self) -> Tuple[Any, Tuple[Any, ...]]:
        # Pickled as its compiled form (exactly the same predictions); a
        # BigQuery ML export cannot be compiled yet.
        try:
            data = self._native.compiled_bytes()
        except OptionError as e:
            raise TypeError(
                f"this model cannot be pickled ({e}); pickle its path and call quercus.load in the other process"
            ) from e
        return (_unpickle, (data, self._native.missing, self._path))

    def predict(
        self,
        X: Any,
        *,
        output_margin: bool = False,
        pred_leaf: bool = False,
        iteration_range: Optional[Tuple[int, int]] = None,
        n_threads: Optional[int] = None,
        validate_features: bool = True,
        kernel: Optional[str] = None,
    ) -> np.ndarray:
        """Predicts every row of ``X``.

        Returns the numpy array that ``xgboost.Booster.predict`` returns for
        this model and these options: float32, shape ``(rows,)`` when each row
        has one value, else ``(rows, k)`` (classes for ``multi:softprob``,
        targets for multi-target models, trees for ``pred_leaf``). Margins are
        bit-identical to XGBoost's.

        Parameters
        ----------
        X
            The rows to predict. One of:

            * a 2-D numpy array. ``float32`` is read in place, without a
              copy, in C order, Fortran order or any strides; ``float64``,
              integer and bool arrays are rounded to float32 as XGBoost does.
              Columns are taken by position. NaN is missing.
            * a pandas DataFrame. Columns are matched to the model's
              ``feature_names`` by name and reordered as needed; a missing or
              unexpected column is an :class:`InputError`. A ``category``
              column contributes its codes (for categorical features),
              re-coded by category to :attr:`categories` when the model
              stores them (XGBoost 3.1+), as XGBoost does. Nullable columns'
              ``NA`` is missing.
            * a pyarrow ``Table`` / ``RecordBatch``, or any object with the
              Arrow PyCapsule interface (``__arrow_c_stream__`` /
              ``__arrow_c_array__``, e.g. a polars DataFrame; needs pyarrow).
              Matched by name like a DataFrame; nulls are missing;
              dictionary columns contribute their indices.
            * a scipy.sparse matrix or array (CSR, CSC, ...). As in XGBoost,
              an entry that is not stored is missing (not zero).

            For a BigQuery ML export directory, a DataFrame, Arrow table or
            list of dicts with the export's raw input columns (strings,
            arrays, STRUCT fields as ``<struct>_<field>``) is encoded the way
            the exported predictor encodes it, and the booster's output for
            the encoded rows is returned; a numeric array is taken as already
            encoded.
        output_margin
            Return raw margins (before the objective's transformation).
        pred_leaf
            Return the index of the leaf each row reaches in each tree.
        iteration_range
            ``(begin, end)``: use only boosting rounds ``begin`` to ``end - 1``
            (``end == 0`` means to the last). Default: every round.
            Like ``Booster.predict``, ``best_iteration`` is not applied
            implicitly.
        n_threads
            Threads to use. Default: all cores for large inputs
            (``QUERCUS_NUM_THREADS`` overrides), 1 for small ones.
        validate_features
            Match DataFrame and Arrow columns to the model's feature names
            (default). ``False`` takes them by position.
        kernel
            Which prediction kernel to run: ``"reference"`` (the scalar
            reference, one row and one tree at a time), ``"interleaved"``
            (eight rows or eight trees at once: what the default picks),
            ``"avx512"`` (only where the CPU has AVX-512F and CD). Every
            kernel gives bit-identical results; this is for checking that,
            and for benchmarks. :func:`quercus.kernels` lists the kernels this
            CPU can run. Default: ``"auto"``, the fastest (or the reference
            when ``QUERCUS_FORCE_SCALAR=1`` is set).

        A float32 ``X`` is read in place while the GIL is released: do not
        modify it from another thread until ``predict`` returns.

        Raises
        ------
        InputError
            Wrong number of columns, a missing or unexpected column, a 1-D or
            3-D array. :class:`InputTypeError` (also a ``TypeError``) for
            strings, objects or other non-numeric data.
        OptionError
            An iteration range outside the model, leaf indices of a linear
            model, an unknown kernel or one this CPU cannot run.
        """
        if (
            type(X) is np.ndarray
            and self._numeric
            and iteration_range is None
            and n_threads is None
            and kernel is None
        ):
            # The one-row latency path: a non-empty, aligned, C-contiguous
            # native float32 array goes straight to the native predictor,
            # which checks that (cheaper there than here) and returns None
            # for anything else.
            out = self._native.predict_small(X, output_margin, pred_leaf)
            if out is not None:
                return out
        opts = dict(
            output_margin=bool(output_margin),
            pred_leaf=bool(pred_leaf),
            iteration_range=_convert.iteration_range(iteration_range),
            n_threads=_convert.n_threads(n_threads),
            kernel=_convert.kernel(kernel),
        )
        records = (
            _convert.bqml_records(X, self._native.bqml_columns, validate_features)
            if self._native.is_bqml
            else None
        )
        if records is not None:
            out = self._native.predict_bqml_columns(_dumps(records), **opts)
            return out.reshape(0) if out.shape[0] == 0 else out
        kind, payload = _convert.prepare(X, self, validate_features)
        if kind == "csr":
            indptr, indices, data, n_cols = payload  # type: ignore[misc]
            out = self._native.predict_csr(indptr, indices, data, n_cols, **opts)
        else:
            out = self._native.predict_dense(payload, **opts)
        if out.shape[0] == 0:
            # Booster.predict returns shape (0,) for no rows, whatever the width.
            out = out.reshape(0)
        return out

    def predict_instances(
        self, instances: Sequence[Dict[str, Any]], *, format: str = "vertex", n_threads: Optional[int] = None
    ) -> List[Any]:
        """Predicts raw instances of a BigQuery ML export, as Vertex AI does.

        ``instances`` are dicts keyed by the export's input column names (what
        you send to a Vertex AI endpoint's ``:predict`` as ``"instances"``).
        Returns one prediction per instance, shaped like Google's exported
        predictor (``format="vertex"``: ``{"predicted_<label>": ...,
        "<label>_values": [...], "<label>_probs": [...]}`` for classifiers, a
        number for regressors) or like ``ML.PREDICT``'s columns
        (``format="bigquery"``: ``predicted_<label>`` and
        ``predicted_<label>_probs`` = ``[{"label", "prob"}, ...]``).

        Raises :class:`OptionError` for a model that is not a BigQuery ML
        export, :class:`InputError` naming the instance and column for an
        instance that cannot be encoded.
        """
        if _convert._is_pandas_frame(instances):
            recs = _convert.bqml_records(instances, self._native.bqml_columns, True) or []
        else:
            recs = [{str(k): _convert._jsonable(v) for k, v in r.items()} for r in instances]
        out = self._native.predict_instances(_dumps(recs), format=format, n_threads=_convert.n_threads(n_threads))
        return json.loads(out)

    def save_compiled(self, path: Union[str, "os.PathLike[str]"]) -> None:
        """Writes the compiled form of this model (a ``.qpack`` file) to ``path``.

        :func:`quercus.load` recognises the file by its first bytes and maps it
        into memory: loading checks a checksum of the whole file and every
        packed tree, and takes about a millisecond where parsing the JSON or
        UBJSON it came from takes tens. The file must not change while a model
        loaded from it is in use (write a new file and rename it over the old
        one, as this method does). A corrupted file raises
        :class:`ModelFormatError`. BigQuery ML exports cannot be compiled yet
        (:class:`OptionError`).
        """
        self._native.save_compiled(os.fspath(path))

    @property
    def metadata(self) -> Dict[str, Any]:
        """This model as a Vertex AI Model Registry ``Model`` resource (a dict
        in the REST API's camelCase JSON shape).

        It holds the display name (the file or directory name), labels
        (``runtime``, ``framework``, ``format``, ``objective``...), the serving
        container (Google's prebuilt image for this kind of model), the
        ``predictSchemata`` file names (see :meth:`predict_schemata`), the
        ``modelSourceInfo`` (``BQML`` for a BigQuery ML export, ``CUSTOM``
        otherwise) and, under ``metadata``, what the model says about itself:
        format, XGBoost version, objective, features, trees, classes.

        For a model loaded from a registry (``registry://...``) it is the
        registry's resource for that version (``versionId``,
        ``versionAliases``, times...). A new dict on every access.
        """
        return json.loads(self._native.metadata_json())

    def predict_schemata(self, *, yaml: bool = False) -> Dict[str, Any]:
        """The OpenAPI 3.0 schemata of one instance and one prediction,
        generated from the model.

        Returns ``{"instance": {...}, "prediction": {...}}`` (Schema Objects
        as dicts), or with ``yaml=True`` the files Vertex AI's
        ``predictSchemata`` point to: ``{"instance.yaml": text,
        "prediction.yaml": text}``.

        For a BigQuery ML export the instance is an object with one property
        per input column, typed from its encoding (number, string, array of
        strings, array of ``[index, value]`` pairs, array of numbers) and
        required in feature order; the prediction is what
        :meth:`predict_instances` returns. For an XGBoost model the instance
        is an array of ``num_features`` numbers (``null`` or ``"NaN"`` for
        missing), or also an object keyed by feature name when the model has
        names; the prediction is one row of :meth:`predict`'s output.
        """
        return json.loads(self._native.predict_schemata_json(yaml=bool(yaml)))

    @property
    def is_bqml(self) -> bool:
        """True for a BigQuery ML export directory (``model.bst`` + ``assets/``)."""
        return self._native.is_bqml

    @property
    def class_names(self) -> Optional[List[Any]]:
        """A BigQuery ML classifier's class labels in output order (output
        ``i`` is the probability of ``class_names[i]``), else ``None``."""
        names = json.loads(self._native.class_names_json)
        return names or None

    @property
    def label_column(self) -> Optional[str]:
        """A BigQuery ML export's label column, else ``None``."""
        return self._native.label_column

    @property
    def input_columns(self) -> Optional[List[str]]:
        """A BigQuery ML export's raw input columns, else ``None``."""
        return list(self._native.bqml_columns) or None

    @property
    def num_features(self) -> int:
        """Number of input features (columns of ``X``)."""
        return self._native.num_features

    @property
    def num_outputs(self) -> int:
        """Margins per row: the number of classes of a multi-class model, of
        targets of a multi-target model, else 1. (``multi:softmax`` still
        predicts one class index per row.)"""
        return self._native.num_outputs

    @property
    def feature_names(self) -> Optional[List[str]]:
        """Feature names stored in the model, or ``None`` when it has none
        (as ``Booster.feature_names``)."""
        return self._native.feature_names or None

    @property
    def has_categorical_splits(self) -> bool:
        """Whether any tree splits on a categorical feature."""
        return self._native.has_categorical_splits

    @property
    def feature_types(self) -> Optional[List[str]]:
        """``"numeric"`` or ``"categorical"`` for each feature, or ``None``
        when the model does not store feature types."""
        return self._native.feature_types or None

    @property
    def categories(self) -> Optional[List[Optional[Union[List[str], List[float]]]]]:
        """The categories each categorical feature was trained with, in code
        order (a category's code is its position), ``None`` for other
        features; ``None`` when the model stores none. XGBoost 3.1+ saves them
        when trained on named categories (a pandas ``category`` column), and
        Quercus then re-codes such columns by category, as XGBoost does: a
        DataFrame whose categories are ordered differently, or are a subset,
        predicts the same. A category the model was not trained with, in a
        row, is an :class:`InputError` (XGBoost 3.2 silently keeps the
        DataFrame's code for it, which names another category)."""
        return self._native.categories or None

    @property
    def objective(self) -> str:
        """The objective, as stored (``reg:linear`` stays ``reg:linear``)."""
        return self._native.objective

    @property
    def booster(self) -> str:
        """``"gbtree"``, ``"dart"`` or ``"gblinear"``."""
        return self._native.booster

    @property
    def num_trees(self) -> int:
        """Number of trees (0 for ``gblinear``)."""
        return self._native.num_trees

    @property
    def num_rounds(self) -> int:
        """Number of boosting rounds (``iteration_range`` counts these)."""
        return self._native.num_rounds

    @property
    def best_iteration(self) -> Optional[int]:
        """The ``best_iteration`` attribute saved by early stopping, or ``None``."""
        return self._native.best_iteration

    @property
    def attributes(self) -> Dict[str, str]:
        """The learner attributes stored in the file (``best_iteration``,
        ``best_score``, user attributes, ...)."""
        return dict(self._native.attributes)

    @property
    def xgboost_version(self) -> str:
        """Version of the XGBoost that wrote the file, e.g. ``"2.1.4"``
        (``"0.x"`` for a pre-1.0 binary, which does not record it)."""
        return self._native.xgboost_version

    @property
    def format(self) -> str:
        """File format: ``"json"``, ``"ubjson"`` or ``"binary"``."""
        return self._native.format

    @property
    def missing(self) -> float:
        """The value treated as missing besides NaN (``load(missing=...)``)."""
        return self._native.missing

    @property
    def base_score(self) -> List[float]:
        """The base score(s) as stored in the file."""
        return list(self._native.base_score)

    def __repr__(self) -> str:
        what = f"{self.num_trees} trees" if self.booster != "gblinear" else "linear"
        return (
            f"<quercus.Model {self.booster} {self.objective}, {what}, "
            f"{self.num_features} features, {self.num_outputs} output(s), "
            f"written by XGBoost {self.xgboost_version}>"
        )


def _dumps(records: Any) -> str:
    from .errors import InputError

    try:
        return json.dumps(records, allow_nan=False)
    except (TypeError, ValueError) as e:
        raise InputError(f"instances cannot be written as JSON: {e}") from None


def _unpickle(data: bytes, missing: float, path: Optional[str]) -> Model:
    return Model(_native.Model.from_bytes(data, missing=missing), path)


#: The largest model file :func:`load` reads unless told otherwise (1 GiB).
DEFAULT_MAX_MODEL_BYTES = 1 << 30


def load(
    path: PathLike,
    *,
    missing: float = math.nan,
    legacy_summation: bool = False,
    mmap: bool = False,
    max_model_bytes: int = DEFAULT_MAX_MODEL_BYTES,
) -> Model:
    """Loads a model file, a BigQuery ML export directory, or a registry version.

    The format is detected from the bytes, not the name: XGBoost JSON
    (1.0+), UBJSON (1.6+) or the legacy binary (``.bst``/``.model``, 0.82
    through 3.0). A directory is read as a BigQuery ML ``EXPORT MODEL``
    output (``model.bst`` plus ``assets/``); see :meth:`Model.predict_instances`.
    ``"registry://ID"``, ``"registry://ID@VERSION"`` or
    ``"registry://ID@ALIAS"`` loads a version from the default registry
    (``$QUERCUS_REGISTRY``, else ``~/.quercus/registry``) after checking its
    content hashes; see :mod:`quercus.registry`.

    Parameters
    ----------
    path
        The model file or export directory, or a ``registry://`` reference.
    missing
        A value treated as missing in addition to NaN, like the ``missing``
        argument of ``xgboost.DMatrix``.
    legacy_summation
        Reproduce the arithmetic of the XGBoost version that *wrote* the file
        (its summation order, sigmoid and base score handling) instead of what
        current XGBoost computes when it loads it. The two differ in the last
        bits for files written by XGBoost < 1.3 (e.g. BigQuery ML's 0.82).
    mmap
        For a compiled ``.qpack`` file only: memory-map it instead of reading
        it into memory (no copy; the pages are shared with every process
        that maps the same file). **The file must then not be changed in
        place while the model is alive**: its bytes are checked once, at
        load, and a later in-place write or truncation is undefined
        behaviour (wrong predictions or a crash with SIGBUS), as with
        ``numpy.memmap``. Replace such files by renaming a new one over them,
        as ``quercus compile`` does. By default (``False``) every file is
        read into memory once and may change afterwards.
    max_model_bytes
        The largest file (or FIFO stream) read; a larger one is a
        :class:`ModelReadError` before it is read. Default 1 GiB.

    Raises
    ------
    ModelReadError
        The file cannot be read (also an ``OSError``).
    ModelFormatError
        Not a valid model in any supported format.
    UnsupportedModelError
        A valid model that Quercus cannot reproduce exactly.
    RegistryError, IntegrityError
        (``registry://``) No such model, version or alias; an artifact that
        does not match the hash recorded at upload.
    """
    p = os.fspath(path)
    if not isinstance(p, str):
        raise OptionError(f"path must be a str or os.PathLike of str, not {type(p).__name__}")
    limit = _convert.byte_limit(max_model_bytes)
    native = _native.Model.load(
        p,
        missing=_convert.missing_value(missing),
        legacy_summation=bool(legacy_summation),
        mmap=bool(mmap),
        max_bytes=limit,
    )
    return Model(native, p)


def loads(data: bytes, *, missing: float = math.nan, legacy_summation: bool = False) -> Model:
    """Loads a model from the bytes of a model file (see :func:`load`)."""
    native = _native.Model.from_bytes(
        bytes(data), missing=_convert.missing_value(missing), legacy_summation=bool(legacy_summation)
    )
    return Model(native)


__all__: Sequence[str] = ["Model", "load", "loads"]
