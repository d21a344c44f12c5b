//! JSON/UBJSON document → RawModel (placeholder).
use crate::raw::RawModel;
use crate::value::Value;
use quercus_core::{Error, Result};

pub(crate) fn model_from_value(_v: &Value) -> Result<RawModel> {
    Err(Error::unsupported(
        "JSON schema reading is not implemented yet",
    ))
}
