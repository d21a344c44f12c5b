"""The exceptions Quercus raises.

Every error is a :class:`QuercusError`. Each subclass is also the built-in
exception Python code already expects for that situation, so
``except ValueError`` keeps working::

    QuercusError(Exception)
    ├── ModelReadError(QuercusError, OSError)          the file cannot be read
    ├── ModelFormatError(QuercusError, ValueError)     not a valid model file
    ├── UnsupportedModelError(QuercusError, ValueError) valid, but Quercus cannot reproduce it
    ├── InputError(QuercusError, ValueError)           X has the wrong shape, columns or values
    │   └── InputTypeError(InputError, TypeError)      X has a type or dtype that is not numeric
    ├── OptionError(QuercusError, ValueError)          a predict option does not fit the model
    │   └── OptionTypeError(OptionError, TypeError)    an option of the wrong type
    ├── RegistryError(QuercusError, ValueError)        a registry operation cannot be done
    ├── IntegrityError(QuercusError, ValueError)       a registry artifact does not match its hash
    └── MissingDependencyError(QuercusError, ImportError) an optional package is not installed

The message is one line naming what is wrong and where. Errors raised by the
Rust core also carry the location as attributes: ``kind`` (a stable string
such as ``"format"`` or ``"feature_count"``), ``path``, ``offset``, ``field``,
``tree``, ``node``, ``row`` and ``column`` (``None`` when not known).
"""

from __future__ import annotations

from typing import Optional

__all__ = [
    "QuercusError",
    "ModelReadError",
    "ModelFormatError",
    "UnsupportedModelError",
    "InputError",
    "InputTypeError",
    "OptionError",
    "OptionTypeError",
    "RegistryError",
    "IntegrityError",
    "MissingDependencyError",
]


class QuercusError(Exception):
    """Base class of every error Quercus raises."""

    kind: Optional[str] = None
    path: Optional[str] = None
    offset: Optional[int] = None
    field: Optional[str] = None
    tree: Optional[int] = None
    node: Optional[int] = None
    row: Optional[int] = None
    column: Optional[int] = None


class ModelReadError(QuercusError, OSError):
    """The model file could not be read (missing, unreadable, ...)."""

    def __str__(self) -> str:  # OSError's own __str__ would show "[Errno ...]"
        return str(self.args[0]) if self.args else ""


class ModelFormatError(QuercusError, ValueError):
    """The bytes are not a well-formed model in any supported format, or the
    model they describe is inconsistent."""


class UnsupportedModelError(QuercusError, ValueError):
    """The model is valid but uses something Quercus cannot reproduce exactly,
    so it refuses to predict rather than give a silently wrong number."""


class InputError(QuercusError, ValueError):
    """The input cannot be predicted: wrong shape or number of columns, a
    missing or unexpected column, a value that is not a number."""


class InputTypeError(InputError, TypeError):
    """The input's type or dtype is not numeric (strings, objects, complex)."""


class OptionError(QuercusError, ValueError):
    """A prediction option does not fit the model (an iteration range past the
    last round, leaf indices of a linear model, ...)."""


class OptionTypeError(OptionError, TypeError):
    """An option of the wrong type (a kernel name that is not a string, ...)."""


class RegistryError(QuercusError, ValueError):
    """A model registry operation cannot be done: no such model, version or
    alias; removing the ``default`` alias; deleting a version that still
    carries aliases (without ``force``); a registry whose files are corrupt.
    (A malformed model id, alias or label is an :class:`OptionError`.)"""


class IntegrityError(QuercusError, ValueError):
    """A registry artifact does not match the SHA-256 recorded when it was
    uploaded: a file was modified, removed or added. ``path`` names the file."""


class MissingDependencyError(QuercusError, ImportError):
    """An optional Python package a feature needs is not installed; the
    message names it and the ``quercus[...]`` extra that installs it."""
