//! # quercus-xgboost
//!
//! Loaders for XGBoost models in every format real users have, from every
//! version that wrote them (0.82 through 3.2):
//!
//! * **JSON** (`save_model("m.json")`, 1.0+), with XGBoost's bare `NaN` /
//!   `Infinity` tokens and floats parsed straight to `f32`;
//! * **UBJSON** (`m.ubj`, 1.6+, the default since 2.1);
//! * the **legacy binary** (`m.bst`, `m.model`; 0.82 through 3.0, what BigQuery ML
//!   exports), with or without the `binf` prefix.
//!
//! Each front-end produces the same XGBoost-shaped intermediate model, which is
//! converted into a format-neutral [`quercus_core::Forest`]. The format is
//! detected from the bytes, never from the file name.
//!
//! ## Example
//!
//! ```
//! use quercus_xgboost::{Format, LoadOptions, detect, load_bytes};
//!
//! // A complete JSON model: one stump on feature 0, logistic objective.
//! let json = br#"{"version":[2,1,4],"learner":{
//!   "attributes":{},"feature_names":[],"feature_types":[],
//!   "learner_model_param":{"base_score":"5E-1","num_class":"0","num_feature":"1","num_target":"1"},
//!   "objective":{"name":"binary:logistic","reg_loss_param":{"scale_pos_weight":"1"}},
//!   "gradient_booster":{"name":"gbtree","model":{
//!     "gbtree_model_param":{"num_trees":"1","num_parallel_tree":"1"},
//!     "iteration_indptr":[0,1],"tree_info":[0],
//!     "trees":[{"id":0,"tree_param":{"num_nodes":"3","size_leaf_vector":"1","num_feature":"1","num_deleted":"0"},
//!       "left_children":[1,-1,-1],"right_children":[2,-1,-1],"parents":[2147483647,0,0],
//!       "split_indices":[0,0,0],"split_conditions":[5E-1,-1E0,1E0],"default_left":[1,0,0],
//!       "split_type":[0,0,0],"categories":[],"categories_nodes":[],"categories_segments":[],
//!       "categories_sizes":[],"base_weights":[0E0,-1E0,1E0],"loss_changes":[1E0,0E0,0E0],
//!       "sum_hessian":[2E0,1E0,1E0]}]}}}}"#;
//! assert_eq!(detect(json), Some(Format::Json));
//! let model = load_bytes(json, &LoadOptions::default())?;
//! assert_eq!(model.info.version.to_string(), "2.1.4");
//! assert_eq!(model.forest.num_features(), 1);
//! # Ok::<(), quercus_core::Error>(())
//! ```
#![deny(missing_docs)]

use std::collections::BTreeMap;
use std::path::Path;

use quercus_core::{Error, Forest, Result};

mod convert;
mod json;
mod legacy;
mod raw;
mod schema;
mod ubjson;
mod value;

pub use raw::Version;

/// An XGBoost model file format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Text JSON (`save_model("*.json")`).
    Json,
    /// Universal Binary JSON (`*.ubj`).
    Ubjson,
    /// The legacy binary format (`*.bst`, `*.model`, `*.deprecated`).
    LegacyBinary,
}

impl Format {
    /// A short lowercase name: `json`, `ubjson`, `binary`.
    pub fn name(&self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Ubjson => "ubjson",
            Format::LegacyBinary => "binary",
        }
    }
}

/// Whose arithmetic to reproduce when versions disagree.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Compat {
    /// What current XGBoost (3.x) computes when it loads this file: the modern
    /// summation order, the clamped sigmoid, the 1.1+ base-score round trip for
    /// 0.x binaries, out-of-range categories to the left.
    #[default]
    Current,
    /// What the XGBoost version that wrote the file computed: the ≤ 1.2 summation
    /// order (≤ 1.3 for DART), the ≤ 1.5 sigmoid, 1.6's out-of-range categorical
    /// routing, 0.x base scores used as stored. This is the `legacy_summation`
    /// option of the CLI and Python API.
    Writer,
}

/// Options for loading.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LoadOptions {
    /// Whose arithmetic to reproduce.
    pub compat: Compat,
}

impl LoadOptions {
    /// Options with `legacy_summation` on or off (on = [`Compat::Writer`]).
    pub fn legacy_summation(on: bool) -> LoadOptions {
        LoadOptions {
            compat: if on { Compat::Writer } else { Compat::Current },
        }
    }
}

/// What a model file says about itself beyond what prediction needs.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelInfo {
    /// The file format.
    pub format: Format,
    /// The XGBoost version that wrote it.
    pub version: Version,
    /// `gbtree`, `dart` or `gblinear`.
    pub booster: String,
    /// The objective as stored (e.g. `reg:linear` stays `reg:linear`).
    pub objective: String,
    /// `num_parallel_tree` (1 when not stored).
    pub num_parallel_tree: usize,
    /// The base score(s) as stored in the file.
    pub base_score: Vec<f32>,
    /// Learner attributes (`best_iteration`, `scikit_learn`, user attributes).
    pub attributes: BTreeMap<String, String>,
}

impl ModelInfo {
    /// The `best_iteration` attribute, when present and numeric.
    pub fn best_iteration(&self) -> Option<usize> {
        self.attributes.get("best_iteration")?.trim().parse().ok()
    }
}

/// A loaded XGBoost model: the forest to predict with, and its metadata.
#[derive(Clone, Debug)]
pub struct XgbModel {
    /// The format-neutral model.
    pub forest: Forest,
    /// Metadata.
    pub info: ModelInfo,
}

/// Detects the format from the first bytes (research note §0.1). Returns `None`
/// only for an empty input; anything not JSON-like is taken as legacy binary.
pub fn detect(bytes: &[u8]) -> Option<Format> {
    let body = bytes.strip_prefix(b"binf").unwrap_or(bytes);
    if bytes.starts_with(b"binf") {
        return Some(Format::LegacyBinary);
    }
    let first = *body.first()?;
    if first != b'{' {
        return Some(Format::LegacyBinary);
    }
    let next = body[1..].iter().find(|b| !b.is_ascii_whitespace());
    match next {
        Some(b'"') | Some(b'}') => Some(Format::Json),
        Some(b'L' | b'i' | b'U' | b'I' | b'l') => Some(Format::Ubjson),
        _ => Some(Format::LegacyBinary),
    }
}

/// Loads a model from bytes in any supported format.
pub fn load_bytes(bytes: &[u8], opts: &LoadOptions) -> Result<XgbModel> {
    let format = detect(bytes).ok_or_else(|| Error::format("the file is empty"))?;
    match load_as(bytes, format, opts) {
        Ok(m) => Ok(m),
        // A 0.x binary whose base_score happens to start with `{` looks like
        // JSON; XGBoost would misroute it, we retry as binary.
        Err(e) if format != Format::LegacyBinary => {
            load_as(bytes, Format::LegacyBinary, opts).map_err(|_| e)
        }
        Err(e) => Err(e),
    }
}

/// Loads a model from bytes in the given format.
pub fn load_as(bytes: &[u8], format: Format, opts: &LoadOptions) -> Result<XgbModel> {
    let raw = match format {
        Format::Json => schema::model_from_value(&json::parse(bytes)?)?,
        Format::Ubjson => schema::model_from_value(&ubjson::parse(bytes)?)?,
        Format::LegacyBinary => legacy::parse(bytes)?,
    };
    let forest = convert::to_forest(&raw, opts)?;
    let num_parallel_tree = match &raw.booster {
        raw::RawBooster::Trees {
            num_parallel_tree, ..
        } => *num_parallel_tree,
        raw::RawBooster::Linear { .. } => 1,
    };
    Ok(XgbModel {
        forest,
        info: ModelInfo {
            format,
            version: raw.version,
            booster: raw.booster_name,
            objective: raw.objective,
            num_parallel_tree,
            base_score: raw.base_score,
            attributes: raw.attributes,
        },
    })
}

/// Reads and loads a model file. Errors name the file.
pub fn load_path(path: impl AsRef<Path>, opts: &LoadOptions) -> Result<XgbModel> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|e| Error::io(e).with_path(path))?;
    load_bytes(&bytes, opts).map_err(|e| e.with_path(path))
}
