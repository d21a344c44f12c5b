"""Type stubs for the `quercus._native` extension module (crates/quercus-py).

The public API is :mod:`quercus`; this module is its thin native layer.
"""

import os
from typing import Dict, List, Optional, Tuple, Union

import numpy as np
import numpy.typing as npt

__version__: str

_Path = Union[str, os.PathLike[str]]

def available_kernels() -> List[str]:
    """The kernels this CPU can run, the reference first."""
def registry_default_root() -> str: ...
def registry_upload(
    root: Optional[_Path],
    path: _Path,
    model_id: str,
    *,
    display_name: Optional[str] = None,
    description: Optional[str] = None,
    version_description: Optional[str] = None,
    labels: Optional[Dict[str, str]] = None,
    aliases: Optional[List[str]] = None,
    legacy_summation: bool = False,
) -> str:
    """Uploads a model; returns the new version's Model resource (JSON)."""
def registry_list(root: Optional[_Path], model_id: Optional[str] = None) -> str:
    """Every model's default version, or one model's versions (JSON list)."""
def registry_describe(root: Optional[_Path], reference: str) -> str:
    """A version's Model resource (JSON)."""
def registry_delete(root: Optional[_Path], reference: str, *, force: bool = False) -> None: ...
def registry_merge_aliases(root: Optional[_Path], reference: str, changes: List[str]) -> str:
    """Adds/removes (``-alias``) aliases; returns the version's resource (JSON)."""
def registry_verify(root: Optional[_Path], reference: str) -> None: ...
def registry_load(
    root: Optional[_Path], reference: str, *, missing: float = ..., legacy_summation: bool = False
) -> Model:
    """Loads a registry version after checking its hashes."""
def yaml_dump(json: str) -> str:
    """A JSON document as YAML, written like the schema files."""

class Model:
    """A loaded model (immutable; safe to share between threads)."""

    @staticmethod
    def load(
        path: str, *, missing: float = ..., legacy_summation: bool = False, mmap: bool = False, max_bytes: int = ...
    ) -> Model: ...
    @staticmethod
    def from_bytes(data: bytes, *, missing: float = ..., legacy_summation: bool = False) -> Model: ...
    @property
    def has_categorical_splits(self) -> bool: ...
    def predict_dense(
        self,
        x: npt.NDArray[np.float32],
        *,
        output_margin: bool = False,
        pred_leaf: bool = False,
        iteration_range: Optional[Tuple[int, int]] = None,
        n_threads: Optional[int] = None,
        kernel: Optional[str] = None,
    ) -> npt.NDArray[np.float32]:
        """Predicts a 2-D native-endian, aligned float32 array with non-negative
        strides, read in place with the GIL released."""
    def predict_csr(
        self,
        indptr: npt.NDArray[np.int64],
        indices: npt.NDArray[np.int64],
        data: npt.NDArray[np.float32],
        n_cols: int,
        *,
        output_margin: bool = False,
        pred_leaf: bool = False,
        iteration_range: Optional[Tuple[int, int]] = None,
        n_threads: Optional[int] = None,
        kernel: Optional[str] = None,
    ) -> npt.NDArray[np.float32]:
        """Predicts a CSR matrix given by its contiguous arrays; absent entries
        are missing."""
    def predict_bqml_columns(
        self,
        instances_json: str,
        *,
        output_margin: bool = False,
        pred_leaf: bool = False,
        iteration_range: Optional[Tuple[int, int]] = None,
        n_threads: Optional[int] = None,
        kernel: Optional[str] = None,
    ) -> npt.NDArray[np.float32]:
        """Encodes raw BigQuery ML instances (a JSON array of objects) and
        predicts the encoded rows."""
    def predict_instances(self, instances_json: str, *, format: str = "vertex", n_threads: Optional[int] = None) -> str:
        """Predicts raw BigQuery ML instances; returns a JSON array."""
    def predict_small(self, x: np.ndarray, output_margin: object, pred_leaf: object) -> Optional[npt.NDArray[np.float32]]:
        """The one-row latency path: a non-empty, aligned, C-contiguous native
        float32 2-D array, default threads and rounds, predicted straight into
        the returned array; None for any other ``x``."""
    def save_compiled(self, path: str) -> None:
        """Writes the compiled (.qpack) form of the model to ``path``."""
    def metadata_json(self) -> str:
        """The model's Vertex AI Model resource (JSON)."""
    def predict_schemata_json(self, *, yaml: bool = False) -> str:
        """The predict schemata (JSON), or their YAML files keyed by name."""
    @property
    def is_bqml(self) -> bool: ...
    @property
    def bqml_columns(self) -> List[str]: ...
    @property
    def class_names_json(self) -> str: ...
    @property
    def bqml_model_type(self) -> Optional[str]: ...
    @property
    def label_column(self) -> Optional[str]: ...
    @property
    def num_features(self) -> int: ...
    @property
    def num_outputs(self) -> int: ...
    @property
    def feature_names(self) -> List[str]: ...
    @property
    def feature_types(self) -> List[str]: ...
    def compiled_bytes(self) -> bytes: ...
    @property
    def categories(self) -> List[Optional[Union[List[str], List[float]]]]: ...
    @property
    def objective(self) -> str: ...
    @property
    def booster(self) -> str: ...
    @property
    def num_trees(self) -> int: ...
    @property
    def num_rounds(self) -> int: ...
    @property
    def best_iteration(self) -> Optional[int]: ...
    @property
    def attributes(self) -> Dict[str, str]: ...
    @property
    def xgboost_version(self) -> str: ...
    @property
    def format(self) -> str: ...
    @property
    def missing(self) -> float: ...
    @property
    def base_score(self) -> List[float]: ...
