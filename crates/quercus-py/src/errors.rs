//! The one place where a Rust [`quercus::Error`] becomes a Python exception.
//!
//! The exception classes are defined in Python (`python/quercus/errors.py`),
//! because several of them have two bases (`InputError` is both a
//! `QuercusError` and a `ValueError`), which `create_exception!` cannot
//! express. Each [`ErrorKind`] maps to exactly one class:
//!
//! | `ErrorKind` | Python class |
//! |---|---|
//! | `Io` | `quercus.ModelReadError` (also `OSError`) |
//! | `UnknownFormat`, `Format`, `InvalidModel` | `quercus.ModelFormatError` (also `ValueError`) |
//! | `Unsupported` | `quercus.UnsupportedModelError` (also `ValueError`) |
//! | `FeatureCount`, `Input` | `quercus.InputError` (also `ValueError`) |
//! | `Option` | `quercus.OptionError` (also `ValueError`) |
//! | `Registry` | `quercus.RegistryError` (also `ValueError`) |
//! | `Integrity` | `quercus.IntegrityError` (also `ValueError`) |
//! | anything newer | `quercus.QuercusError` |
//!
//! The exception's message is the error's one-line `Display`; its attributes
//! `kind`, `path`, `offset`, `field`, `tree`, `node`, `row` and `column` carry
//! the structured [`quercus::Location`].

use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyType;

use quercus::ErrorKind;

/// The Python module that defines the exception classes.
const ERRORS_MODULE: &str = "quercus.errors";

/// Turns a `quercus::Result` into a `PyResult`, raising the mapped exception.
pub trait ToPyResult<T> {
    /// The value, or the Python exception for the error.
    fn or_raise(self, py: Python<'_>) -> PyResult<T>;
}

impl<T> ToPyResult<T> for quercus::Result<T> {
    fn or_raise(self, py: Python<'_>) -> PyResult<T> {
        self.map_err(|e| to_pyerr(py, &e))
    }
}

/// The Python class name and the stable `kind` string of an error kind.
pub fn class_and_kind(kind: &ErrorKind) -> (&'static str, &'static str) {
    match kind {
        ErrorKind::Io(_) => ("ModelReadError", "io"),
        ErrorKind::TooLarge { .. } => ("ModelReadError", "too_large"),
        ErrorKind::UnknownFormat(_) => ("ModelFormatError", "unknown_format"),
        ErrorKind::Format(_) => ("ModelFormatError", "format"),
        ErrorKind::InvalidModel(_) => ("ModelFormatError", "invalid_model"),
        ErrorKind::Unsupported(_) => ("UnsupportedModelError", "unsupported"),
        ErrorKind::FeatureCount { .. } => ("InputError", "feature_count"),
        ErrorKind::Input(_) => ("InputError", "input"),
        ErrorKind::Option(_) => ("OptionError", "option"),
        ErrorKind::Registry(_) => ("RegistryError", "registry"),
        ErrorKind::Integrity(_) => ("IntegrityError", "integrity"),
        _ => ("QuercusError", "other"),
    }
}

/// The classes of `quercus.errors` that errors map to.
const CLASSES: [&str; 8] = [
    "QuercusError",
    "ModelReadError",
    "ModelFormatError",
    "UnsupportedModelError",
    "InputError",
    "OptionError",
    "RegistryError",
    "IntegrityError",
];

/// Looks up an exception class of `quercus.errors`, once per class.
fn exception_class<'py>(py: Python<'py>, name: &str) -> PyResult<&'py Bound<'py, PyType>> {
    static CELLS: [PyOnceLock<Py<PyType>>; CLASSES.len()] =
        [const { PyOnceLock::new() }; CLASSES.len()];
    let i = CLASSES.iter().position(|c| *c == name).unwrap_or(0);
    CELLS[i].import(py, ERRORS_MODULE, CLASSES[i])
}

/// Builds the Python exception for `err`.
pub fn to_pyerr(py: Python<'_>, err: &quercus::Error) -> PyErr {
    let (class, kind) = class_and_kind(err.kind());
    let message = err.to_string();
    match build(py, class, kind, &message, err) {
        Ok(e) => e,
        // `quercus.errors` is not importable (the extension module was loaded
        // outside its package): still raise something a caller can catch.
        Err(_) if class == "ModelReadError" => PyRuntimeError::new_err(message),
        Err(_) => PyValueError::new_err(message),
    }
}

fn build(
    py: Python<'_>,
    class: &str,
    kind: &str,
    message: &str,
    err: &quercus::Error,
) -> PyResult<PyErr> {
    let cls = exception_class(py, class)?;
    let exc = cls.call1((message,))?;
    let loc = err.location();
    exc.setattr("kind", kind)?;
    exc.setattr("path", loc.path.as_ref().map(|p| p.display().to_string()))?;
    exc.setattr("offset", loc.offset)?;
    exc.setattr("field", loc.field.clone())?;
    exc.setattr("tree", loc.tree)?;
    exc.setattr("node", loc.node)?;
    exc.setattr("row", loc.row)?;
    exc.setattr("column", loc.column)?;
    if let ErrorKind::Io(io) = err.kind() {
        exc.setattr("errno", io.raw_os_error())?;
        exc.setattr(
            "filename",
            loc.path.as_ref().map(|p| p.display().to_string()),
        )?;
    }
    Ok(PyErr::from_value(exc))
}

/// An [`ErrorKind::Input`] error as a Python exception, for conversion code
/// that rejects an input before it reaches the engine.
pub fn input_error(py: Python<'_>, msg: impl Into<String>) -> PyErr {
    to_pyerr(py, &quercus::Error::input(msg))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_a_class() {
        let cases = [
            (quercus::Error::format("x"), "ModelFormatError"),
            (quercus::Error::invalid_model("x"), "ModelFormatError"),
            (quercus::Error::unsupported("x"), "UnsupportedModelError"),
            (quercus::Error::input("x"), "InputError"),
            (quercus::Error::option("x"), "OptionError"),
            (quercus::Error::registry("x"), "RegistryError"),
            (quercus::Error::integrity("x"), "IntegrityError"),
            (
                quercus::Error::io(std::io::Error::from(std::io::ErrorKind::NotFound)),
                "ModelReadError",
            ),
            (
                quercus::Error::new(ErrorKind::FeatureCount {
                    expected: 2,
                    found: 3,
                }),
                "InputError",
            ),
        ];
        for (e, class) in cases {
            assert_eq!(class_and_kind(e.kind()).0, class, "{e}");
        }
    }
}
