//! # quercus
//!
//! Run XGBoost (and, soon, BigQuery ML) tree models in-process, predicting
//! exactly what the reference library predicts.
//!
//! [`Model::load`] reads a model file in any supported format — XGBoost JSON,
//! UBJSON or the legacy binary, from any XGBoost version 0.82 through 3.2 — by
//! looking at its bytes, not its name. [`Model::predict`] takes a dense `f32`
//! matrix (NaN is missing) and returns what XGBoost's Python
//! `Booster.predict` returns, with the same shape.
//!
//! ## Example
//!
//! ```no_run
//! use quercus::{FeatureMatrix, Model, PredictOptions};
//!
//! let model = Model::load("models/xgboost/3.2.0/binary_logistic.json")?;
//! let rows = vec![0.5f32; 2 * model.num_features()];
//! let x = FeatureMatrix::row_major(&rows, 2, model.num_features())?;
//! let p = model.predict(&x, &PredictOptions::default())?;
//! println!("{:?} {:?}", p.shape, p.data);
//! # Ok::<(), quercus::Error>(())
//! ```
#![deny(missing_docs)]

use std::path::Path;

pub mod io;

pub use quercus_core::{
    Error, ErrorKind, FeatureMatrix, FeatureType, Forest, Location, Objective, PredictOptions,
    Predictions, Result,
};
pub use quercus_xgboost::{Compat, Format, LoadOptions, ModelInfo, Version};

/// A loaded model, ready to predict. Immutable, `Send + Sync`: share it
/// between threads behind an `Arc`.
#[derive(Clone, Debug)]
pub struct Model {
    forest: Forest,
    info: ModelInfo,
}

impl Model {
    /// Loads a model file, detecting the format from its bytes.
    pub fn load(path: impl AsRef<Path>) -> Result<Model> {
        Model::load_with(path, &LoadOptions::default())
    }

    /// Loads a model file with options (e.g. [`LoadOptions::legacy_summation`]).
    pub fn load_with(path: impl AsRef<Path>, opts: &LoadOptions) -> Result<Model> {
        let m = quercus_xgboost::load_path(path, opts)?;
        Ok(Model {
            forest: m.forest,
            info: m.info,
        })
    }

    /// Loads a model from bytes already in memory.
    pub fn from_bytes(bytes: &[u8], opts: &LoadOptions) -> Result<Model> {
        let m = quercus_xgboost::load_bytes(bytes, opts)?;
        Ok(Model {
            forest: m.forest,
            info: m.info,
        })
    }

    /// Predicts every row of `x`.
    pub fn predict(&self, x: &FeatureMatrix<'_>, opts: &PredictOptions) -> Result<Predictions> {
        self.forest.predict(x, opts)
    }

    /// The format-neutral model.
    pub fn forest(&self) -> &Forest {
        &self.forest
    }

    /// What the file says about itself: format, writer version, attributes...
    pub fn info(&self) -> &ModelInfo {
        &self.info
    }

    /// Number of input features.
    pub fn num_features(&self) -> usize {
        self.forest.num_features()
    }

    /// A summary for display (`quercus inspect`).
    pub fn summary(&self) -> Summary {
        let f = &self.forest;
        Summary {
            format: self.info.format.name().to_string(),
            writer_version: self.info.version.to_string(),
            booster: self.info.booster.clone(),
            objective: self.info.objective.clone(),
            num_trees: f.trees().len(),
            num_rounds: f.num_rounds(),
            num_parallel_tree: self.info.num_parallel_tree,
            max_depth: f.max_depth(),
            num_leaves: f.trees().iter().map(|t| t.num_leaves()).sum(),
            num_features: f.num_features(),
            feature_names: f.feature_names().to_vec(),
            feature_types: f
                .feature_types()
                .iter()
                .map(|t| match t {
                    FeatureType::Numeric => "numeric",
                    FeatureType::Categorical => "categorical",
                })
                .map(String::from)
                .collect(),
            num_outputs: f.num_outputs(),
            base_margin: f.base_margin().to_vec(),
            categorical_splits: f.trees().iter().any(|t| t.has_categorical()),
            multi_target_leaves: f.trees().iter().any(|t| t.leaf_width() > 1),
            best_iteration: self.info.best_iteration(),
        }
    }
}

/// The facts `quercus inspect` shows.
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    /// `json`, `ubjson` or `binary`.
    pub format: String,
    /// Writer version (`0.x` for pre-1.0 binaries).
    pub writer_version: String,
    /// `gbtree`, `dart` or `gblinear`.
    pub booster: String,
    /// Objective name as stored.
    pub objective: String,
    /// Number of trees.
    pub num_trees: usize,
    /// Number of boosting rounds.
    pub num_rounds: usize,
    /// Trees per round per output (random forests).
    pub num_parallel_tree: usize,
    /// Largest tree depth.
    pub max_depth: usize,
    /// Total reachable leaves.
    pub num_leaves: usize,
    /// Number of input features.
    pub num_features: usize,
    /// Feature names, if stored.
    pub feature_names: Vec<String>,
    /// `numeric` / `categorical` per feature, if stored.
    pub feature_types: Vec<String>,
    /// Margins per row (classes or targets).
    pub num_outputs: usize,
    /// Starting margin per output.
    pub base_margin: Vec<f32>,
    /// Whether any tree has categorical splits.
    pub categorical_splits: bool,
    /// Whether trees have vector leaves (multi-target).
    pub multi_target_leaves: bool,
    /// The `best_iteration` attribute.
    pub best_iteration: Option<usize>,
}
