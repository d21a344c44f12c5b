//! A parsed JSON/UBJSON document (placeholder; written by the JSON/UBJSON work).
#![allow(dead_code)]

/// A document value.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Value {
    /// `null`
    Null,
}
