//! The native side of `quercus.registry` and of `Model.metadata`: thin
//! wrappers over [`quercus::registry::Registry`] that move JSON text across
//! and release the GIL while the registry works.

use std::collections::BTreeMap;
use std::path::PathBuf;

use pyo3::prelude::*;

use quercus::registry::{Registry, UploadOptions};
use quercus::{LoadOptions, vertex};

use crate::PyModel;
use crate::errors::ToPyResult;

fn open(root: Option<PathBuf>) -> quercus::Result<Registry> {
    match root {
        Some(r) => Registry::open(r),
        None => Registry::open_default(),
    }
}

fn to_json<T: serde::Serialize>(v: &T) -> quercus::Result<String> {
    serde_json::to_string(v)
        .map_err(|e| quercus::Error::registry(format!("cannot write JSON: {e}")))
}

/// The default registry root (`$QUERCUS_REGISTRY`, else `~/.quercus/registry`).
#[pyfunction]
pub fn registry_default_root(py: Python<'_>) -> PyResult<PathBuf> {
    Registry::default_root().or_raise(py)
}

/// Uploads a model file or export directory; returns the new version's Model
/// resource as JSON.
#[pyfunction]
#[pyo3(signature = (root, path, model_id, *, display_name = None, description = None,
                    version_description = None, labels = None, aliases = None,
                    legacy_summation = false))]
#[allow(clippy::too_many_arguments)]
pub fn registry_upload(
    py: Python<'_>,
    root: Option<PathBuf>,
    path: PathBuf,
    model_id: String,
    display_name: Option<String>,
    description: Option<String>,
    version_description: Option<String>,
    labels: Option<BTreeMap<String, String>>,
    aliases: Option<Vec<String>>,
    legacy_summation: bool,
) -> PyResult<String> {
    let opts = UploadOptions {
        model_id,
        display_name,
        description,
        version_description,
        labels: labels.unwrap_or_default(),
        aliases: aliases.unwrap_or_default(),
        load: LoadOptions::legacy_summation(legacy_summation),
    };
    py.detach(|| to_json(&open(root)?.upload(&path, &opts)?))
        .or_raise(py)
}

/// Every model's default version, or one model's versions, as a JSON list.
#[pyfunction]
#[pyo3(signature = (root, model_id = None))]
pub fn registry_list(
    py: Python<'_>,
    root: Option<PathBuf>,
    model_id: Option<String>,
) -> PyResult<String> {
    py.detach(|| {
        let reg = open(root)?;
        let models: Vec<vertex::Model> = match model_id {
            Some(id) => reg.list_versions(&id)?,
            None => reg.list()?,
        };
        to_json(&models)
    })
    .or_raise(py)
}

/// A version's Model resource as JSON.
#[pyfunction]
pub fn registry_describe(
    py: Python<'_>,
    root: Option<PathBuf>,
    reference: String,
) -> PyResult<String> {
    py.detach(|| to_json(&open(root)?.describe(&reference)?))
        .or_raise(py)
}

/// Deletes a version.
#[pyfunction]
#[pyo3(signature = (root, reference, *, force = false))]
pub fn registry_delete(
    py: Python<'_>,
    root: Option<PathBuf>,
    reference: String,
    force: bool,
) -> PyResult<()> {
    py.detach(|| open(root)?.delete(&reference, force))
        .or_raise(py)
}

/// Adds and removes aliases; returns the version's Model resource as JSON.
#[pyfunction]
pub fn registry_merge_aliases(
    py: Python<'_>,
    root: Option<PathBuf>,
    reference: String,
    changes: Vec<String>,
) -> PyResult<String> {
    py.detach(|| to_json(&open(root)?.merge_aliases(&reference, &changes)?))
        .or_raise(py)
}

/// Re-hashes a version's artifact.
#[pyfunction]
pub fn registry_verify(py: Python<'_>, root: Option<PathBuf>, reference: String) -> PyResult<()> {
    py.detach(|| open(root)?.verify(&reference)).or_raise(py)
}

/// Loads a version (hashes checked).
#[pyfunction]
#[pyo3(signature = (root, reference, *, missing = f32::NAN, legacy_summation = false))]
pub fn registry_load(
    py: Python<'_>,
    root: Option<PathBuf>,
    reference: String,
    missing: f32,
    legacy_summation: bool,
) -> PyResult<PyModel> {
    let opts = LoadOptions::legacy_summation(legacy_summation);
    let inner = py
        .detach(|| open(root)?.load(&reference, &opts))
        .or_raise(py)?;
    Ok(PyModel::new(inner, missing))
}

/// A JSON document as YAML, with the writer the schema files use (exposed for
/// tests of that writer).
#[pyfunction]
pub fn yaml_dump(py: Python<'_>, json: &str) -> PyResult<String> {
    let v: serde_json::Value = serde_json::from_str(json)
        .map_err(|e| quercus::Error::input(format!("not JSON: {e}")))
        .or_raise(py)?;
    Ok(vertex::yaml::to_string(&v))
}
