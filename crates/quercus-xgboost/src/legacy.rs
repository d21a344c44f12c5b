//! Legacy binary reader (placeholder).
use crate::raw::RawModel;
use quercus_core::{Error, Result};

pub(crate) fn parse(_bytes: &[u8]) -> Result<RawModel> {
    Err(Error::unsupported(
        "legacy binary loading is not implemented yet",
    ))
}
