//! Text JSON reader (placeholder).
use crate::value::Value;
use quercus_core::{Error, Result};

pub(crate) fn parse(_bytes: &[u8]) -> Result<Value> {
    Err(Error::unsupported("JSON loading is not implemented yet"))
}
