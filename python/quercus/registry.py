"""A local model registry with the Vertex AI Model Registry's rules.

Models are stored under a root directory (``root=``, else
``$QUERCUS_REGISTRY``, else ``~/.quercus/registry``), each with numbered
versions (``"1"``, ``"2"``, ...) and aliases::

    import quercus

    v = quercus.registry.upload("model.json", "churn", aliases=["candidate"])
    v["versionId"]                                   # "1"; it also gets "default"
    quercus.registry.merge_aliases("churn@1", ["champion", "-candidate"])
    model = quercus.load("registry://churn@champion")  # content hash checked
    quercus.registry.describe("churn")               # the default version
    quercus.registry.delete("churn@1", force=True)   # last version: model gone

The rules are Vertex's:

* A model id is 1 to 63 characters ``[a-z0-9_-]``, not starting with a digit
  or ``-``; an alias matches ``[a-z][a-z0-9-]{0,126}[a-z0-9]`` (never a
  number); label keys and values are lowercase letters, digits, ``_`` and
  ``-`` (international letters too), at most 64 characters. A malformed one is
  an :class:`~quercus.OptionError`.
* The first version gets the alias ``default``; exactly one version carries
  it. An alias names one version: adding an alias another version carries
  moves it (adding ``default`` makes a version the default). Removing
  ``default`` is refused.
* Deleting the default version moves ``default`` to the newest remaining
  version; deleting a version that carries other aliases needs
  ``force=True``; deleting the last version deletes the model. Version ids are
  never reused while the model exists.

Every function returns what the Vertex REST API returns: a version's
``Model`` resource as a dict (``name``, ``versionId``, ``versionAliases``,
``versionCreateTime``, ``displayName``, ``labels``, ``artifactUri``,
``containerSpec``, ``predictSchemata``, ...). Several processes may use one
registry at once: changes are serialised by a lock file, and a version becomes
visible only once it is completely written.

Errors: :class:`~quercus.RegistryError` (no such model, version or alias; a
refused change), :class:`~quercus.IntegrityError` (a stored file does not
match the SHA-256 recorded at upload; ``path`` names it),
:class:`~quercus.OptionError` (a malformed id, alias or label), and the load
errors of :func:`quercus.load` for a file that is not a model.

This module is a thin layer over the Rust ``quercus::registry``; the
``quercus registry`` command does the same from a shell.
"""

from __future__ import annotations

import builtins
import json
import math
import os
from typing import Any, Dict, Iterable, Mapping, Optional, Union

from . import _native
from ._model import Model

PathLike = Union[str, "os.PathLike[str]"]

__all__ = [
    "upload",
    "list",
    "describe",
    "delete",
    "merge_aliases",
    "verify",
    "load",
    "default_root",
]


def _root(root: Optional[PathLike]) -> Optional[str]:
    return None if root is None else os.fspath(root)


def default_root() -> str:
    """The default registry root: ``$QUERCUS_REGISTRY``, else
    ``~/.quercus/registry``."""
    return str(_native.registry_default_root())


def upload(
    model: PathLike,
    model_id: str,
    *,
    display_name: Optional[str] = None,
    description: Optional[str] = None,
    version_description: Optional[str] = None,
    labels: Optional[Mapping[str, str]] = None,
    aliases: Optional[Iterable[str]] = None,
    root: Optional[PathLike] = None,
    legacy_summation: bool = False,
) -> Dict[str, Any]:
    """Copies a model file or BigQuery ML export directory into the registry
    as the next version of ``model_id`` (creating the model if it is new).

    The copy is hashed (SHA-256) and loaded to check that it is a model and to
    generate its predict schemata. Returns the new version's ``Model``
    resource. ``aliases`` are given to the new version (moved from any other
    version that has them); the model's first version also gets ``default``.
    ``labels`` are added to Quercus's default labels. ``display_name``
    defaults to the file or directory name.
    """
    out = _native.registry_upload(
        _root(root),
        os.fspath(model),
        str(model_id),
        display_name=display_name,
        description=description,
        version_description=version_description,
        labels=None if labels is None else {str(k): str(v) for k, v in labels.items()},
        aliases=None if aliases is None else [str(a) for a in aliases],
        legacy_summation=bool(legacy_summation),
    )
    return json.loads(out)


def list(model_id: Optional[str] = None, *, root: Optional[PathLike] = None) -> builtins.list:  # noqa: A001
    """Without ``model_id``: every model, as its default version's resource
    (like Vertex's ``models.list``), sorted by id. With it: every version of
    that model, oldest first (like ``models.listVersions``)."""
    return json.loads(_native.registry_list(_root(root), model_id))


def describe(reference: str, *, root: Optional[PathLike] = None) -> Dict[str, Any]:
    """The ``Model`` resource of ``"ID"`` (its default version),
    ``"ID@VERSION"`` or ``"ID@ALIAS"``."""
    return json.loads(_native.registry_describe(_root(root), str(reference)))


def delete(reference: str, *, force: bool = False, root: Optional[PathLike] = None) -> None:
    """Deletes version ``"ID@VERSION"``. If it carries ``default``, the newest
    remaining version gets it; if it carries other aliases, ``force=True`` is
    needed; if it is the last version, the model is deleted."""
    _native.registry_delete(_root(root), str(reference), force=bool(force))


def merge_aliases(reference: str, aliases: Iterable[str], *, root: Optional[PathLike] = None) -> Dict[str, Any]:
    """Adds and removes aliases of version ``"ID@VERSION"``, like Vertex's
    ``mergeVersionAliases``: ``"prod"`` adds ``prod`` (moving it from the
    version that has it), ``"-prod"`` removes it; adding and removing the same
    alias cancel out. Returns the version's resource."""
    if isinstance(aliases, str):
        aliases = [aliases]
    return json.loads(_native.registry_merge_aliases(_root(root), str(reference), [str(a) for a in aliases]))


def verify(reference: str, *, root: Optional[PathLike] = None) -> None:
    """Re-hashes the version's files; raises :class:`~quercus.IntegrityError`
    naming the first that does not match."""
    _native.registry_verify(_root(root), str(reference))


def load(
    reference: str,
    *,
    root: Optional[PathLike] = None,
    missing: float = math.nan,
    legacy_summation: bool = False,
) -> Model:
    """Loads ``"ID"``, ``"ID@VERSION"`` or ``"ID@ALIAS"`` (``registry://``
    optional) after checking its content hashes. ``quercus.load("registry://...")``
    does the same with the default root."""
    from . import _convert

    native = _native.registry_load(
        _root(root),
        str(reference),
        missing=_convert.missing_value(missing),
        legacy_summation=bool(legacy_summation),
    )
    ref = str(reference)
    return Model(native, ref if ref.startswith("registry://") else f"registry://{ref}")
