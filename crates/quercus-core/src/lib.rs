//! # quercus-core
//!
//! The engine of Quercus, independent of any file format: a validated,
//! format-neutral tree-ensemble IR ([`Forest`]), the objectives' output
//! transforms, and the scalar reference predictor that every faster kernel
//! must match bit for bit.
//!
//! Loaders (XGBoost JSON, UBJSON, legacy binary, BigQuery ML exports) build a
//! [`Forest`] from [`ForestParts`]; the engine never learns where a tree came from.
//!
//! ## Example
//!
//! ```
//! use quercus_core::{
//!     Booster, FeatureMatrix, Forest, ForestParts, Node, Objective, Output, PredictOptions,
//!     Semantics, Tree, TreeEnsemble,
//! };
//!
//! // One stump: x0 < 0.5 goes left (leaf -1), else right (leaf +1); missing goes left.
//! let tree = Tree::new(
//!     vec![
//!         Node::Split { feature: 0, threshold: 0.5, default_left: true, left: 1, right: 2, categories: None },
//!         Node::Leaf { value: -1.0 },
//!         Node::Leaf { value: 1.0 },
//!     ],
//!     vec![],
//!     1,
//! )?;
//! let trees = TreeEnsemble::new(vec![tree], vec![0], None, vec![0, 1])?;
//! let forest = Forest::new(ForestParts {
//!     num_features: 1,
//!     num_outputs: 1,
//!     base_margin: vec![0.0],
//!     objective: Objective::from_xgboost_name("binary:logistic")?,
//!     booster: Booster::Trees(trees),
//!     semantics: Semantics::default(),
//!     feature_names: vec![],
//!     feature_types: vec![],
//! })?;
//!
//! let x = [0.2f32, 0.9, f32::NAN];
//! let input = FeatureMatrix::row_major(&x, 3, 1)?;
//! let margins = forest.predict(&input, &PredictOptions::default().with_output(Output::Margin))?;
//! assert_eq!(margins.data, vec![-1.0, 1.0, -1.0]);
//! # Ok::<(), quercus_core::Error>(())
//! ```
#![deny(missing_docs)]

mod arch;
mod buf;
pub mod compiled;
mod error;
mod forest;
mod input;
mod layout;
pub mod objective;
mod packed;
mod parallel;
mod predict;
mod tree;
mod verify;

pub use buf::{AlignedBytes, StableBytes};
pub use error::{Error, ErrorKind, Location, Result};
pub use forest::{
    Booster, Categories, FeatureType, Forest, ForestParts, LinearModel, Semantics, Summation,
};
pub use input::FeatureMatrix;
pub use objective::{Objective, Sigmoid};
pub use parallel::{MAX_THREADS, default_threads};
pub use predict::{Kernel, Output, PredictOptions, Predictions};
pub use tree::{CategoryOutOfRange, CategorySet, MAX_CATEGORY, Node, Tree, TreeEnsemble};
