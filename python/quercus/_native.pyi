"""Type stubs for the `quercus._native` extension module (crates/quercus-py).

The public API is :mod:`quercus`; this module is its thin native layer.
"""

from typing import Dict, List, Optional, Tuple

import numpy as np
import numpy.typing as npt

__version__: str

class Model:
    """A loaded model (immutable; safe to share between threads)."""

    @staticmethod
    def load(path: str, *, missing: float = ..., legacy_summation: bool = False) -> Model: ...
    @staticmethod
    def from_bytes(data: bytes, *, missing: float = ..., legacy_summation: bool = False) -> Model: ...
    def predict_dense(
        self,
        x: npt.NDArray[np.float32],
        *,
        output_margin: bool = False,
        pred_leaf: bool = False,
        iteration_range: Optional[Tuple[int, int]] = None,
        n_threads: Optional[int] = None,
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
    ) -> npt.NDArray[np.float32]:
        """Encodes raw BigQuery ML instances (a JSON array of objects) and
        predicts the encoded rows."""
    def predict_instances(self, instances_json: str, *, format: str = "vertex", n_threads: Optional[int] = None) -> str:
        """Predicts raw BigQuery ML instances; returns a JSON array."""
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
