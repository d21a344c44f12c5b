"""Quercus: run XGBoost and BigQuery ML tree models in-process, predicting
exactly what XGBoost predicts.

>>> import quercus
>>> model = quercus.load("model.json")          # doctest: +SKIP
>>> model.predict(X)                             # doctest: +SKIP

:func:`load` reads XGBoost JSON, UBJSON and legacy binary files from any
XGBoost version 0.82 through 3.2. :meth:`Model.predict` takes numpy arrays,
pandas DataFrames, Arrow tables and scipy.sparse matrices, and returns what
``xgboost.Booster.predict`` returns. :mod:`quercus.parity` checks that claim
against XGBoost, a Vertex AI response or a BigQuery ``ML.PREDICT`` export.
:attr:`Model.metadata` describes a model as a Vertex AI Model Registry
resource, and :mod:`quercus.registry` keeps versions of models on your disk
with the Model Registry's rules (``quercus.load("registry://churn@champion")``).
"""

from __future__ import annotations

from typing import Any

from . import registry
from ._model import Model, load, loads
from ._native import __version__
from ._native import available_kernels as _available_kernels
from .errors import (
    InputError,
    InputTypeError,
    IntegrityError,
    ModelFormatError,
    ModelReadError,
    OptionError,
    OptionTypeError,
    MissingDependencyError,
    QuercusError,
    RegistryError,
    UnsupportedModelError,
)

__all__ = [
    "Model",
    "load",
    "loads",
    "QuercusError",
    "ModelReadError",
    "ModelFormatError",
    "UnsupportedModelError",
    "InputError",
    "InputTypeError",
    "OptionError",
    "OptionTypeError",
    "MissingDependencyError",
    "RegistryError",
    "IntegrityError",
    "registry",
    "kernels",
    "__version__",
]


def kernels() -> list[str]:
    """The names of the prediction kernels this CPU can run, the scalar
    reference first: ``["reference", "interleaved"]``, plus ``"avx512"`` where
    the CPU has AVX-512F and CD. Each is a value for
    ``Model.predict(..., kernel=...)``; all give bit-identical results.
    """
    return _available_kernels()


def __getattr__(name: str) -> Any:
    # `quercus.parity` is imported on first use, so that `import quercus` stays
    # light and `python -m quercus.parity` does not find it pre-imported.
    if name == "parity":
        import importlib

        return importlib.import_module(".parity", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
