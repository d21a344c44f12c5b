//! `quercus._native.Model`: a loaded [`quercus::Model`] and the predict entry
//! points the Python `quercus.Model` calls after converting its input.

use std::collections::BTreeMap;
use std::path::PathBuf;

use numpy::{PyArray2, PyArrayDyn, PyArrayMethods, PyReadonlyArray1, PyUntypedArrayMethods};
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use quercus::{
    BqmlOptions, Categories, FeatureMatrix, FeatureType, Kernel, LoadOptions, Output, OutputFormat,
    PredictOptions,
};

use crate::convert::{self, Csr};
use crate::errors::ToPyResult;

/// A loaded model. Immutable (`frozen`), so one instance can be used from many
/// Python threads at once; every prediction runs with the GIL released.
#[pyclass(frozen, module = "quercus._native", name = "Model")]
pub struct PyModel {
    inner: quercus::Model,
    missing: f32,
}

/// Inputs with at most this many values are predicted without releasing
/// the GIL.
const SMALL_VALUES: usize = 4096;

impl PyModel {
    /// Wraps a loaded model.
    pub(crate) fn new(inner: quercus::Model, missing: f32) -> PyModel {
        PyModel { inner, missing }
    }
}

/// Prediction options as the Python layer passes them (`kernel`: a
/// [`Kernel::name`], `None` for [`Kernel::Auto`]).
fn options(
    missing: f32,
    output_margin: bool,
    pred_leaf: bool,
    iteration_range: Option<(usize, usize)>,
    n_threads: Option<usize>,
    kernel: Option<&str>,
) -> quercus::Result<PredictOptions> {
    let kernel = match kernel {
        None => Kernel::Auto,
        Some(name) => Kernel::from_name(name).ok_or_else(|| {
            quercus::Error::option(format!(
                "kernel `{name}` is not one of auto, {}",
                Kernel::ALL.map(Kernel::name).join(", ")
            ))
        })?,
    };
    Ok(PredictOptions::default()
        .with_output(Output::from_flags(output_margin, pred_leaf))
        .with_missing(missing)
        .with_iteration_range(iteration_range)
        .with_threads(n_threads)
        .with_kernel(kernel))
}

/// The names of the kernels this CPU can run, the reference first
/// ([`Kernel::available`]).
#[pyfunction]
pub(crate) fn available_kernels() -> Vec<&'static str> {
    Kernel::available().into_iter().map(Kernel::name).collect()
}

/// Parses a JSON array of instances.
fn parse_instances(json: &str) -> quercus::Result<Vec<serde_json::Value>> {
    match serde_json::from_str(json) {
        Ok(serde_json::Value::Array(v)) => Ok(v),
        Ok(_) => Err(quercus::Error::input("instances must be a list")),
        Err(e) => Err(quercus::Error::input(format!(
            "instances are not valid JSON: {e}"
        ))),
    }
}

/// The elements of a contiguous 1-D array.
fn contiguous<'a, T: numpy::Element>(
    py: Python<'_>,
    name: &str,
    a: &'a PyReadonlyArray1<'_, T>,
) -> PyResult<&'a [T]> {
    a.as_slice().map_err(|_| {
        crate::errors::input_error(
            py,
            format!("the sparse matrix's {name} array is not contiguous"),
        )
    })
}

#[pymethods]
impl PyModel {
    /// Loads a model file (XGBoost JSON, UBJSON or legacy binary).
    #[staticmethod]
    #[pyo3(signature = (path, *, missing = f32::NAN, legacy_summation = false, mmap = false, max_bytes = quercus::DEFAULT_MAX_BYTES))]
    fn load(
        py: Python<'_>,
        path: PathBuf,
        missing: f32,
        legacy_summation: bool,
        mmap: bool,
        max_bytes: u64,
    ) -> PyResult<Self> {
        let opts = LoadOptions::legacy_summation(legacy_summation).with_max_bytes(max_bytes);
        let inner = py
            .detach(|| {
                if mmap {
                    // SAFETY: `quercus.load(..., mmap=True)` documents the
                    // contract — the file is not changed in place while the
                    // model lives — and the Python caller takes it on, as
                    // numpy.memmap's users do.
                    unsafe { quercus::Model::load_compiled_mmap(&path) }
                } else {
                    quercus::Model::load_with(&path, &opts)
                }
            })
            .or_raise(py)?;
        Ok(PyModel { inner, missing })
    }

    /// Whether any tree splits on a categorical feature.
    #[getter]
    fn has_categorical_splits(&self) -> bool {
        self.inner.summary().categorical_splits
    }

    /// Loads a model from the bytes of a model file.
    #[staticmethod]
    #[pyo3(signature = (data, *, missing = f32::NAN, legacy_summation = false))]
    fn from_bytes(
        py: Python<'_>,
        data: &Bound<'_, PyBytes>,
        missing: f32,
        legacy_summation: bool,
    ) -> PyResult<Self> {
        let opts = LoadOptions::legacy_summation(legacy_summation);
        let bytes = data.as_bytes();
        let inner = py
            .detach(|| quercus::Model::from_bytes(bytes, &opts))
            .or_raise(py)?;
        Ok(PyModel { inner, missing })
    }

    /// The latency path: a non-empty, aligned, C-contiguous 2-D native
    /// float32 array with default threads and rounds, predicted straight
    /// into the output array (one allocation); `None` for any other `x`,
    /// which the caller then converts and predicts the general way. The
    /// checks are here rather than in Python because each attribute read
    /// there costs about 0.1 µs of a one-row call's 3. Inputs under
    /// [`SMALL_VALUES`] values keep the GIL (releasing and taking it back
    /// costs more than predicting them).
    #[pyo3(signature = (x, output_margin, pred_leaf))]
    fn predict_small<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        output_margin: &Bound<'py, PyAny>,
        pred_leaf: &Bound<'py, PyAny>,
    ) -> PyResult<Option<Bound<'py, PyArrayDyn<f32>>>> {
        let Ok(arr) = x.cast::<PyArray2<f32>>() else {
            return Ok(None);
        };
        if !arr.is_c_contiguous() || !arr.is_aligned() || arr.shape()[0] == 0 {
            return Ok(None);
        }
        let opts = options(
            self.missing,
            output_margin.is_truthy()?,
            pred_leaf.is_truthy()?,
            None,
            None,
            None,
        )
        .or_raise(py)?;
        let model = &self.inner;
        convert::with_matrix(py, x, |m| {
            let width = model.output_width(&opts).or_raise(py)?;
            let rows = m.rows();
            let shape = if width == 1 {
                vec![rows]
            } else {
                vec![rows, width]
            };
            let out = PyArrayDyn::<f32>::zeros(py, shape, false);
            // SAFETY: `out` was created just above, is C-contiguous and not
            // yet visible to any Python code, so nothing else reads or writes
            // it while this slice lives.
            let slice = unsafe { out.as_slice_mut() }
                .map_err(|e| pyo3::exceptions::PyRuntimeError::new_err(e.to_string()))?;
            if rows * m.cols() <= SMALL_VALUES {
                model.predict_into(&m, &opts, slice).or_raise(py)?;
            } else {
                py.detach(|| model.predict_into(&m, &opts, slice))
                    .or_raise(py)?;
            }
            Ok(Some(out))
        })
    }

    /// Predicts a 2-D float32 array (any non-negative strides), zero-copy.
    #[allow(clippy::too_many_arguments)]
    #[pyo3(signature = (x, *, output_margin = false, pred_leaf = false, iteration_range = None, n_threads = None, kernel = None))]
    fn predict_dense<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        output_margin: bool,
        pred_leaf: bool,
        iteration_range: Option<(usize, usize)>,
        n_threads: Option<usize>,
        kernel: Option<&str>,
    ) -> PyResult<Bound<'py, PyArrayDyn<f32>>> {
        let opts = options(
            self.missing,
            output_margin,
            pred_leaf,
            iteration_range,
            n_threads,
            kernel,
        )
        .or_raise(py)?;
        let model = &self.inner;
        let p = convert::with_matrix(py, x, |m| {
            py.detach(|| model.predict(&m, &opts)).or_raise(py)
        })?;
        convert::to_numpy(py, p)
    }

    /// Predicts a CSR matrix given as its three arrays; absent entries are missing.
    #[allow(clippy::too_many_arguments)]
    #[pyo3(signature = (indptr, indices, data, n_cols, *, output_margin = false, pred_leaf = false, iteration_range = None, n_threads = None, kernel = None))]
    fn predict_csr<'py>(
        &self,
        py: Python<'py>,
        indptr: PyReadonlyArray1<'py, i64>,
        indices: PyReadonlyArray1<'py, i64>,
        data: PyReadonlyArray1<'py, f32>,
        n_cols: usize,
        output_margin: bool,
        pred_leaf: bool,
        iteration_range: Option<(usize, usize)>,
        n_threads: Option<usize>,
        kernel: Option<&str>,
    ) -> PyResult<Bound<'py, PyArrayDyn<f32>>> {
        let opts = options(
            self.missing,
            output_margin,
            pred_leaf,
            iteration_range,
            n_threads,
            kernel,
        )
        .or_raise(py)?;
        let csr = Csr {
            indptr: contiguous(py, "indptr", &indptr)?,
            indices: contiguous(py, "indices", &indices)?,
            data: contiguous(py, "data", &data)?,
            cols: n_cols,
        };
        let model = &self.inner;
        let p = py
            .detach(|| convert::predict_csr(model, csr, &opts))
            .or_raise(py)?;
        convert::to_numpy(py, p)
    }

    /// Encodes raw instances of a BigQuery ML export (a JSON array of objects
    /// keyed by column name) into the booster's numeric columns, and predicts
    /// those like [`predict_dense`](Self::predict_dense).
    #[allow(clippy::too_many_arguments)]
    #[pyo3(signature = (instances_json, *, output_margin = false, pred_leaf = false, iteration_range = None, n_threads = None, kernel = None))]
    fn predict_bqml_columns<'py>(
        &self,
        py: Python<'py>,
        instances_json: &str,
        output_margin: bool,
        pred_leaf: bool,
        iteration_range: Option<(usize, usize)>,
        n_threads: Option<usize>,
        kernel: Option<&str>,
    ) -> PyResult<Bound<'py, PyArrayDyn<f32>>> {
        let opts = options(
            self.missing,
            output_margin,
            pred_leaf,
            iteration_range,
            n_threads,
            kernel,
        )
        .or_raise(py)?;
        let model = &self.inner;
        let p = py
            .detach(|| {
                let bqml = model.bqml().ok_or_else(|| {
                    quercus::Error::option(
                        "raw BigQuery columns need a BigQuery ML export directory",
                    )
                })?;
                let instances = parse_instances(instances_json)?;
                let data = bqml.encode_instances(&instances)?;
                let x = FeatureMatrix::row_major(&data, instances.len(), bqml.num_columns())?;
                model.predict(&x, &opts)
            })
            .or_raise(py)?;
        convert::to_numpy(py, p)
    }

    /// Predicts raw instances of a BigQuery ML export (a JSON array of objects
    /// keyed by column name) and returns the JSON array of predictions, shaped
    /// like Vertex AI's (`format="vertex"`) or `ML.PREDICT`'s (`"bigquery"`).
    #[pyo3(signature = (instances_json, *, format = "vertex", n_threads = None))]
    fn predict_instances(
        &self,
        py: Python<'_>,
        instances_json: &str,
        format: &str,
        n_threads: Option<usize>,
    ) -> PyResult<String> {
        let format = match format {
            "vertex" => OutputFormat::Vertex,
            "bigquery" => OutputFormat::BigQuery,
            other => {
                return Err(crate::errors::to_pyerr(
                    py,
                    &quercus::Error::option(format!(
                        "format must be \"vertex\" or \"bigquery\", not {other:?}"
                    )),
                ));
            }
        };
        let opts = BqmlOptions { format, n_threads };
        let model = &self.inner;
        py.detach(|| {
            let instances = parse_instances(instances_json)?;
            let out = model.predict_instances_with(&instances, &opts)?;
            serde_json::to_string(&out)
                .map_err(|e| quercus::Error::input(format!("cannot write predictions: {e}")))
        })
        .or_raise(py)
    }

    /// The model's Vertex AI `Model` resource, as JSON (see
    /// `quercus::Model::metadata`).
    fn metadata_json(&self, py: Python<'_>) -> PyResult<String> {
        serde_json::to_string(&self.inner.metadata())
            .map_err(|e| quercus::Error::option(format!("cannot write JSON: {e}")))
            .or_raise(py)
    }

    /// The generated predict schemata: `{"instance": ..., "prediction": ...}`
    /// as JSON, or with `yaml=True` the YAML text of each file keyed by file
    /// name.
    #[pyo3(signature = (*, yaml = false))]
    fn predict_schemata_json(&self, py: Python<'_>, yaml: bool) -> PyResult<String> {
        let s = self.inner.predict_schemata();
        let v = if yaml {
            let files: serde_json::Map<String, serde_json::Value> = s
                .yaml_files()
                .into_iter()
                .map(|(name, text)| (name.to_string(), serde_json::Value::String(text)))
                .collect();
            serde_json::Value::Object(files)
        } else {
            let mut m = serde_json::Map::new();
            m.insert("instance".into(), s.instance);
            if let Some(p) = s.parameters {
                m.insert("parameters".into(), p);
            }
            m.insert("prediction".into(), s.prediction);
            serde_json::Value::Object(m)
        };
        serde_json::to_string(&v)
            .map_err(|e| quercus::Error::option(format!("cannot write JSON: {e}")))
            .or_raise(py)
    }

    /// Compiles the model to a `.qpack` file at `path` (atomically).
    fn save_compiled(&self, py: Python<'_>, path: PathBuf) -> PyResult<()> {
        let model = &self.inner;
        py.detach(|| model.save_compiled(&path)).or_raise(py)
    }

    /// The compiled form of the model (`.qpack` bytes), for pickling.
    fn compiled_bytes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let model = &self.inner;
        let bytes = py.detach(|| model.compile()).or_raise(py)?;
        Ok(PyBytes::new(py, &bytes))
    }

    /// True when this is a BigQuery ML export directory.
    #[getter]
    fn is_bqml(&self) -> bool {
        self.inner.bqml().is_some()
    }

    /// The export's input columns (BigQuery ML exports; empty otherwise).
    #[getter]
    fn bqml_columns(&self) -> Vec<String> {
        self.inner
            .bqml()
            .map(|b| b.features().iter().map(|f| f.name.clone()).collect())
            .unwrap_or_default()
    }

    /// The class labels of a BigQuery ML classifier in output order, as a JSON
    /// array (`"[]"` otherwise).
    #[getter]
    fn class_names_json(&self) -> String {
        let names = self
            .inner
            .bqml()
            .map(|b| b.class_names().to_vec())
            .unwrap_or_default();
        serde_json::Value::Array(names).to_string()
    }

    /// The export's `model_type` (BigQuery ML exports), else `None`.
    #[getter]
    fn bqml_model_type(&self) -> Option<&'static str> {
        self.inner.bqml().map(|b| b.model_type().name())
    }

    /// The export's label column (BigQuery ML exports), else `None`.
    #[getter]
    fn label_column(&self) -> Option<String> {
        self.inner.bqml().map(|b| b.label_column().to_string())
    }

    /// Number of input features.
    #[getter]
    fn num_features(&self) -> usize {
        self.inner.num_features()
    }

    /// Margins per row: classes for multi-class models, targets for
    /// multi-target models, else 1.
    #[getter]
    fn num_outputs(&self) -> usize {
        self.inner.forest().num_outputs()
    }

    /// Feature names stored in the model (empty when none are).
    #[getter]
    fn feature_names(&self) -> Vec<String> {
        self.inner.forest().feature_names().to_vec()
    }

    /// `"numeric"` or `"categorical"` per feature (empty when not stored).
    #[getter]
    fn feature_types(&self) -> Vec<&'static str> {
        self.inner
            .forest()
            .feature_types()
            .iter()
            .map(|t| match t {
                FeatureType::Numeric => "numeric",
                FeatureType::Categorical => "categorical",
            })
            .collect()
    }

    /// Training categories per feature: `None`, a list of str or a list of
    /// float (empty when the model stores none).
    #[getter]
    fn categories<'py>(&self, py: Python<'py>) -> PyResult<Vec<Option<Bound<'py, PyAny>>>> {
        self.inner
            .forest()
            .categories()
            .iter()
            .map(|c| {
                Ok(match c {
                    Some(Categories::Strings(v)) => Some(v.clone().into_pyobject(py)?.into_any()),
                    Some(Categories::Numbers(v)) => Some(v.clone().into_pyobject(py)?.into_any()),
                    _ => None,
                })
            })
            .collect()
    }

    /// The objective as stored in the file.
    #[getter]
    fn objective(&self) -> String {
        self.inner.info().objective.clone()
    }

    /// `gbtree`, `dart` or `gblinear`.
    #[getter]
    fn booster(&self) -> String {
        self.inner.info().booster.clone()
    }

    /// Number of trees (0 for `gblinear`).
    #[getter]
    fn num_trees(&self) -> usize {
        self.inner.forest().trees().len()
    }

    /// Number of boosting rounds.
    #[getter]
    fn num_rounds(&self) -> usize {
        self.inner.forest().num_rounds()
    }

    /// The `best_iteration` attribute, if stored.
    #[getter]
    fn best_iteration(&self) -> Option<usize> {
        self.inner.info().best_iteration()
    }

    /// Learner attributes stored in the file.
    #[getter]
    fn attributes(&self) -> BTreeMap<String, String> {
        self.inner.info().attributes.clone()
    }

    /// Version of the XGBoost that wrote the file (`0.x` for pre-1.0 binaries).
    #[getter]
    fn xgboost_version(&self) -> String {
        self.inner.info().version.to_string()
    }

    /// `json`, `ubjson` or `binary`.
    #[getter]
    fn format(&self) -> &'static str {
        self.inner.info().format.name()
    }

    /// The value treated as missing in addition to NaN.
    #[getter]
    fn missing(&self) -> f32 {
        self.missing
    }

    /// The base score(s) as stored in the file.
    #[getter]
    fn base_score(&self) -> Vec<f32> {
        self.inner.info().base_score.clone()
    }
}
