//! The XGBoost-shaped intermediate model every front-end (JSON, UBJSON, legacy
//! binary) produces. [`crate::convert`] turns it into a format-neutral
//! [`quercus_core::Forest`].

use std::collections::BTreeMap;

/// Which XGBoost wrote a file. Legacy binaries from before 1.0 carry no version:
/// they read as `0.0.0` with [`Version::is_pre_1_0`] true.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Version {
    /// Major version.
    pub major: u32,
    /// Minor version.
    pub minor: u32,
    /// Patch version (0 when the format does not store it).
    pub patch: u32,
}

impl Version {
    /// A version.
    pub const fn new(major: u32, minor: u32, patch: u32) -> Version {
        Version {
            major,
            minor,
            patch,
        }
    }

    /// True for files written before XGBoost 1.0 (legacy binary with no version).
    pub fn is_pre_1_0(&self) -> bool {
        self.major == 0
    }

    /// Whether this version is before `major.minor`.
    pub fn before(&self, major: u32, minor: u32) -> bool {
        (self.major, self.minor) < (major, minor)
    }
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.is_pre_1_0() {
            f.write_str("0.x")
        } else {
            write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
        }
    }
}

/// One tree as XGBoost stores it: parallel per-node arrays.
#[derive(Clone, Debug, Default)]
pub(crate) struct RawTree {
    /// Left child per node, -1 for leaves.
    pub left: Vec<i32>,
    /// Right child per node (-1 for scalar leaves; the leaf ordinal for 3.2+ vector leaves).
    pub right: Vec<i32>,
    /// Split feature per node (deleted nodes hold 0x7FFFFFFF; leaves anything).
    pub split_index: Vec<u32>,
    /// Threshold for splits, leaf value for scalar leaves.
    pub split_condition: Vec<f32>,
    /// Missing-value direction per node.
    pub default_left: Vec<bool>,
    /// 0 numerical, 1 categorical, per node; empty means all numerical.
    pub split_type: Vec<u8>,
    /// Categorical split sets, CSR-style (see the research note §1.6).
    pub categories: Vec<i32>,
    /// Node of each categorical set.
    pub categories_nodes: Vec<i32>,
    /// Start of each set in `categories`.
    pub categories_segments: Vec<i64>,
    /// Length of each set.
    pub categories_sizes: Vec<i64>,
    /// `tree_param.size_leaf_vector`: 0 or 1 for scalar leaves, K > 1 for vector leaves.
    pub size_leaf_vector: usize,
    /// Per-node weights; the leaf vectors of 2.0–3.1 multi-target trees (`K` per node).
    pub base_weights: Vec<f32>,
    /// 3.2+ multi-target trees: leaf vectors by leaf ordinal (`K` per leaf).
    pub leaf_weights: Option<Vec<f32>>,
}

/// The booster payload.
#[derive(Clone, Debug)]
pub(crate) enum RawBooster {
    /// `gbtree` or `dart`.
    Trees {
        trees: Vec<RawTree>,
        tree_info: Vec<i32>,
        /// `iteration_indptr` (2.0+ JSON/UBJSON), if stored.
        iteration_indptr: Option<Vec<i64>>,
        /// DART weights (`weight_drop`), if the booster is dart.
        weight_drop: Option<Vec<f32>>,
        /// `num_parallel_tree` (1 when not stored).
        num_parallel_tree: usize,
    },
    /// `gblinear`: `(num_feature + 1) * G` weights, biases last.
    Linear { weights: Vec<f32> },
}

/// A whole model as XGBoost stores it, before any semantic conversion.
#[derive(Clone, Debug)]
pub(crate) struct RawModel {
    /// Writer version.
    pub version: Version,
    /// `num_feature`.
    pub num_feature: usize,
    /// `num_class` (0 when not multiclass).
    pub num_class: usize,
    /// `num_target` (1 when not stored).
    pub num_target: usize,
    /// base_score as stored: one value, or one per output (3.1+).
    pub base_score: Vec<f32>,
    /// True when the stored base_score is already a margin (0.x legacy binaries).
    pub base_score_is_margin: bool,
    /// Objective name, e.g. `binary:logistic`.
    pub objective: String,
    /// Booster name: `gbtree`, `dart` or `gblinear`.
    pub booster_name: String,
    /// The payload.
    pub booster: RawBooster,
    /// Feature names (possibly empty).
    pub feature_names: Vec<String>,
    /// Feature types as stored (`q`, `float`, `int`, `i`, `c`), possibly empty.
    pub feature_types: Vec<String>,
    /// Learner attributes (`best_iteration`, `scikit_learn`, user attributes).
    pub attributes: BTreeMap<String, String>,
    /// 3.1+ `cats`: training categories per feature (empty when absent).
    pub categories: Vec<Option<quercus_core::Categories>>,
}
