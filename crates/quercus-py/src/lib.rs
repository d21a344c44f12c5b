//! # quercus-py
//!
//! The `quercus._native` extension module behind the Python package
//! `quercus` (`python/quercus/`). It is deliberately thin:
//!
//! * **conversion**: numpy `float32` arrays are read in place through a
//!   strided [`quercus::FeatureMatrix`] (C order, Fortran order or any
//!   non-negative strides: no copy of `X`), sparse CSR parts are densified in
//!   bounded row blocks, and predictions move into numpy without a copy;
//! * **GIL release**: every load and prediction runs inside `py.detach`, so
//!   other Python threads run meanwhile and one model serves many threads;
//! * **registry and metadata**: `quercus.registry` and `Model.metadata` call
//!   [`quercus::registry::Registry`] and [`quercus::Model::metadata`] and get
//!   JSON text back;
//! * **error mapping**, in one place ([`errors`]): each
//!   [`quercus::ErrorKind`] becomes one class of `quercus.errors`.
//!
//! Everything else — accepted input types, column matching, docstrings,
//! parity reports — lives in the Python package.
#![deny(missing_docs)]

use pyo3::prelude::*;

pub mod convert;
pub mod errors;
mod model;
mod registry;

pub use model::PyModel;

/// The `quercus._native` module.
#[pymodule(gil_used = false)]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyModel>()?;
    m.add_function(wrap_pyfunction!(model::available_kernels, m)?)?;
    m.add_function(wrap_pyfunction!(registry::registry_default_root, m)?)?;
    m.add_function(wrap_pyfunction!(registry::registry_upload, m)?)?;
    m.add_function(wrap_pyfunction!(registry::registry_list, m)?)?;
    m.add_function(wrap_pyfunction!(registry::registry_describe, m)?)?;
    m.add_function(wrap_pyfunction!(registry::registry_delete, m)?)?;
    m.add_function(wrap_pyfunction!(registry::registry_merge_aliases, m)?)?;
    m.add_function(wrap_pyfunction!(registry::registry_verify, m)?)?;
    m.add_function(wrap_pyfunction!(registry::registry_load, m)?)?;
    m.add_function(wrap_pyfunction!(registry::yaml_dump, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
