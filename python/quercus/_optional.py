"""Optional dependencies: imported on first use, and when one is missing the
error names the package and the extra that installs it, rather than a bare
``No module named 'xgboost'``."""

from __future__ import annotations

import importlib
from typing import Any

from .errors import MissingDependencyError

#: module -> (PyPI package, quercus extra)
_EXTRAS = {
    "xgboost": ("xgboost", "parity"),
    "pandas": ("pandas", "pandas"),
    "pyarrow": ("pyarrow", "arrow"),
    "pyarrow.parquet": ("pyarrow", "arrow"),
    "pyarrow.compute": ("pyarrow", "arrow"),
    "scipy.sparse": ("scipy", "sparse"),
}


def require(module: str, purpose: str) -> Any:
    """The module, or a :class:`MissingDependencyError` saying what needs it
    and how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        top = module.split(".")[0]
        package, extra = _EXTRAS.get(module) or _EXTRAS.get(top) or (top, None)
        how = f"pip install 'quercus[{extra}]' (or pip install {package})" if extra else f"pip install {package}"
        raise MissingDependencyError(
            f"{purpose} needs the Python package {package!r}, which is not installed here ({e}); "
            f"install it with: {how}"
        ) from None
