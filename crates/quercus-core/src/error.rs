//! The one error type of Quercus: an [`ErrorKind`] saying *what* went wrong and a
//! [`Location`] saying *where* (file, byte offset, tree, node, row, column).

use std::fmt;
use std::path::{Path, PathBuf};

/// A specialised `Result` whose error is [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Where an error happened. Every field is optional; the ones that are set are
/// printed in front of the message, outermost first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Location {
    /// The file (or directory) being read.
    pub path: Option<PathBuf>,
    /// Byte offset in the file.
    pub offset: Option<u64>,
    /// A JSON-style path inside a document, e.g. `learner/gradient_booster/model/trees/3`.
    pub field: Option<String>,
    /// Tree index in the ensemble.
    pub tree: Option<usize>,
    /// Node index inside the tree.
    pub node: Option<usize>,
    /// Input row (0-based).
    pub row: Option<usize>,
    /// Input column (0-based) or feature index.
    pub column: Option<usize>,
}

impl Location {
    fn is_empty(&self) -> bool {
        *self == Location::default()
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts: Vec<String> = Vec::new();
        if let Some(p) = &self.path {
            parts.push(p.display().to_string());
        }
        if let Some(o) = self.offset {
            parts.push(format!("byte {o}"));
        }
        if let Some(s) = &self.field {
            parts.push(format!("at `{s}`"));
        }
        if let Some(t) = self.tree {
            parts.push(format!("tree {t}"));
        }
        if let Some(n) = self.node {
            parts.push(format!("node {n}"));
        }
        if let Some(r) = self.row {
            parts.push(format!("row {r}"));
        }
        if let Some(c) = self.column {
            parts.push(format!("column {c}"));
        }
        f.write_str(&parts.join(", "))
    }
}

/// What went wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Reading a file or stream failed.
    #[error("I/O error: {0}")]
    Io(#[source] std::io::Error),
    /// A model file (or stream) is larger than the limit it is read with
    /// (`LoadOptions::max_bytes`); nothing past the limit was read.
    #[error(
        "the model is larger than the {limit}-byte limit ({size} bytes or more); raise the \
         limit (LoadOptions::max_bytes, --max-model-bytes, max_model_bytes=) to load it"
    )]
    TooLarge {
        /// The file's size, or the bytes read before the limit was passed.
        size: u64,
        /// The limit in force.
        limit: u64,
    },
    /// The bytes are not in any model format Quercus recognises.
    #[error("unrecognised model format: {0}")]
    UnknownFormat(String),
    /// The file is not well-formed for its format: a syntax error, a truncated
    /// file, a count larger than the bytes that follow, a wrong type.
    #[error("malformed model: {0}")]
    Format(String),
    /// The file parses, but the model it describes is inconsistent: a child index
    /// out of range, a cycle in a tree, a split on a feature the model does not have.
    #[error("invalid model: {0}")]
    InvalidModel(String),
    /// The model is valid but uses something Quercus cannot reproduce exactly
    /// (an unknown objective or booster, for example). Loading refuses it rather
    /// than predict a silently wrong number.
    #[error("unsupported model: {0}")]
    Unsupported(String),
    /// The input has a different number of columns than the model has features.
    #[error("input has {found} columns but the model expects {expected} features")]
    FeatureCount {
        /// Features the model was trained on.
        expected: usize,
        /// Columns the input has.
        found: usize,
    },
    /// The input cannot be used: bad shape, a value that is not a number, a
    /// ragged row, an unknown column name.
    #[error("invalid input: {0}")]
    Input(String),
    /// A prediction or load option does not fit this model (an iteration range past
    /// the last round, leaf indices of a linear model, ...).
    #[error("invalid option: {0}")]
    Option(String),
    /// A model registry operation cannot be done: an unknown model, version or
    /// alias, a refused change (removing the `default` alias, deleting a
    /// version that still carries aliases), or a registry whose state files
    /// are unreadable.
    #[error("registry: {0}")]
    Registry(String),
    /// A stored artifact does not match the content hash recorded when it was
    /// stored: it was modified, truncated, or a file was added or removed. The
    /// message names the file.
    #[error("integrity check failed: {0}")]
    Integrity(String),
}

/// The error type of every Quercus crate: a kind plus where it happened.
/// Boxed, so a `Result` stays one pointer wide on the success path.
#[derive(Debug)]
pub struct Error {
    inner: Box<Inner>,
}

#[derive(Debug)]
struct Inner {
    kind: ErrorKind,
    location: Location,
}

impl Error {
    /// An error of this kind with no location yet.
    pub fn new(kind: ErrorKind) -> Error {
        Error {
            inner: Box::new(Inner {
                kind,
                location: Location::default(),
            }),
        }
    }

    /// Shorthand for [`ErrorKind::Format`].
    pub fn format(msg: impl Into<String>) -> Error {
        Error::new(ErrorKind::Format(msg.into()))
    }

    /// Shorthand for [`ErrorKind::InvalidModel`].
    pub fn invalid_model(msg: impl Into<String>) -> Error {
        Error::new(ErrorKind::InvalidModel(msg.into()))
    }

    /// Shorthand for [`ErrorKind::Unsupported`].
    pub fn unsupported(msg: impl Into<String>) -> Error {
        Error::new(ErrorKind::Unsupported(msg.into()))
    }

    /// Shorthand for [`ErrorKind::Input`].
    pub fn input(msg: impl Into<String>) -> Error {
        Error::new(ErrorKind::Input(msg.into()))
    }

    /// Shorthand for [`ErrorKind::Option`].
    pub fn option(msg: impl Into<String>) -> Error {
        Error::new(ErrorKind::Option(msg.into()))
    }

    /// Shorthand for [`ErrorKind::Registry`].
    pub fn registry(msg: impl Into<String>) -> Error {
        Error::new(ErrorKind::Registry(msg.into()))
    }

    /// Shorthand for [`ErrorKind::Integrity`].
    pub fn integrity(msg: impl Into<String>) -> Error {
        Error::new(ErrorKind::Integrity(msg.into()))
    }

    /// Shorthand for [`ErrorKind::Io`].
    pub fn io(err: std::io::Error) -> Error {
        Error::new(ErrorKind::Io(err))
    }

    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.inner.kind
    }

    /// Where it went wrong.
    pub fn location(&self) -> &Location {
        &self.inner.location
    }

    /// Sets the file path, unless one is already set.
    pub fn with_path(mut self, path: impl AsRef<Path>) -> Error {
        self.inner
            .location
            .path
            .get_or_insert_with(|| path.as_ref().to_path_buf());
        self
    }

    /// Sets the byte offset, unless one is already set.
    pub fn with_offset(mut self, offset: u64) -> Error {
        self.inner.location.offset.get_or_insert(offset);
        self
    }

    /// Sets the document path, unless one is already set.
    pub fn with_field(mut self, field: impl Into<String>) -> Error {
        if self.inner.location.field.is_none() {
            self.inner.location.field = Some(field.into());
        }
        self
    }

    /// Sets the tree index, unless one is already set.
    pub fn with_tree(mut self, tree: usize) -> Error {
        self.inner.location.tree.get_or_insert(tree);
        self
    }

    /// Sets the node index, unless one is already set.
    pub fn with_node(mut self, node: usize) -> Error {
        self.inner.location.node.get_or_insert(node);
        self
    }

    /// Sets the input row, unless one is already set.
    pub fn with_row(mut self, row: usize) -> Error {
        self.inner.location.row.get_or_insert(row);
        self
    }

    /// Sets the input column, unless one is already set.
    pub fn with_column(mut self, column: usize) -> Error {
        self.inner.location.column.get_or_insert(column);
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.inner.location.is_empty() {
            write!(f, "{}", self.inner.kind)
        } else {
            write!(f, "{}: {}", self.inner.location, self.inner.kind)
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.inner.kind {
            ErrorKind::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<ErrorKind> for Error {
    fn from(kind: ErrorKind) -> Error {
        Error::new(kind)
    }
}

impl From<std::io::Error> for Error {
    fn from(err: std::io::Error) -> Error {
        Error::io(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_puts_location_first() {
        let e = Error::format("count 99 exceeds the 12 bytes left")
            .with_offset(40)
            .with_path("m.bst")
            .with_tree(3)
            .with_node(7);
        assert_eq!(
            e.to_string(),
            "m.bst, byte 40, tree 3, node 7: malformed model: count 99 exceeds the 12 bytes left"
        );
    }

    #[test]
    fn outer_context_does_not_override_inner() {
        let e = Error::input("x").with_row(2).with_row(9);
        assert_eq!(e.location().row, Some(2));
    }
}
