//! The format-neutral model: a [`Forest`] of [`Tree`]s (or a linear model), built
//! by a loader and validated once, so the predictors never check an index again.

use std::sync::OnceLock;

use crate::error::{Error, Result};
use crate::layout::PackedForest;
use crate::objective::{Objective, Sigmoid};
use crate::tree::{CategoryOutOfRange, Node, Tree, TreeEnsemble};

/// The order in which a row's leaf values are added up. Floating-point addition
/// is not associative, so this decides the last bits of every margin.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Summation {
    /// XGBoost 1.3 and later: the output starts at the base margin and each tree's
    /// leaf (times its DART weight) is added to it in tree order.
    #[default]
    Modern,
    /// XGBoost 1.2 and earlier (and DART before 1.4): the leaves of each output
    /// are summed from zero, and the base margin is added last.
    Legacy,
}

/// The version-dependent arithmetic a forest is evaluated with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Semantics {
    /// Summation order of leaf values.
    pub summation: Summation,
    /// Which logistic formula the objective uses.
    pub sigmoid: Sigmoid,
    /// Routing of categorical values that cannot be looked up.
    pub category_out_of_range: CategoryOutOfRange,
}

/// Whether a feature is numeric or categorical.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FeatureType {
    /// Compared against thresholds.
    Numeric,
    /// Integer category codes, looked up in sets.
    Categorical,
}

/// The categories a categorical feature was trained with, in training order:
/// a category's code (the value the model's splits look up) is its position.
/// XGBoost 3.1+ stores them (`cats`) when the training data had named
/// categories (a pandas `category` column, an Arrow dictionary), and re-codes
/// such inputs by category at prediction time.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Categories {
    /// Text categories.
    Strings(Vec<String>),
    /// Numeric categories.
    Numbers(Vec<f64>),
}

impl Categories {
    /// Number of categories.
    pub fn len(&self) -> usize {
        match self {
            Categories::Strings(v) => v.len(),
            Categories::Numbers(v) => v.len(),
        }
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A linear booster (`gblinear`): weight of feature `f` for output `g` at
/// `weights[f * G + g]`, the bias of output `g` at `weights[F * G + g]`.
#[derive(Clone, Debug, PartialEq)]
pub struct LinearModel {
    weights: Vec<f32>,
}

impl LinearModel {
    /// Wraps the weight table (checked against the forest's shape by [`Forest::new`]).
    pub fn new(weights: Vec<f32>) -> LinearModel {
        LinearModel { weights }
    }

    /// The weight table.
    pub fn weights(&self) -> &[f32] {
        &self.weights
    }
}

/// What a model adds up.
#[derive(Clone, Debug, PartialEq)]
pub enum Booster {
    /// Decision trees (`gbtree`, `dart`, random forests).
    Trees(TreeEnsemble),
    /// A linear model (`gblinear`).
    Linear(LinearModel),
}

/// One more than the largest feature index a split of `e` uses, at least 1
/// (the fast kernels load one feature's keys even at a leaf).
fn features_read(e: &TreeEnsemble) -> usize {
    e.trees()
        .iter()
        .flat_map(|t| t.nodes().iter())
        .filter_map(|n| match n {
            Node::Split { feature, .. } => Some(*feature as usize + 1),
            _ => None,
        })
        .max()
        .unwrap_or(0)
        .max(1)
}

/// A complete, validated model in Quercus's format-neutral form.
#[derive(Clone, Debug, PartialEq)]
pub struct Forest {
    num_features: usize,
    num_outputs: usize,
    base_margin: Vec<f32>,
    objective: Objective,
    /// The IR; built on first use for a forest loaded from a compiled file
    /// (from `packed` and `slow_trees`), always present otherwise.
    booster: OnceLock<Booster>,
    semantics: Semantics,
    feature_names: Vec<String>,
    feature_types: Vec<FeatureType>,
    /// Training categories per feature (empty when the model has none).
    categories: Vec<Option<Categories>>,
    packed: PackedForest,
    /// For a forest loaded from a compiled file: the IR of the trees the
    /// packed layout cannot describe (categorical splits, leaf vectors).
    slow_trees: Vec<(usize, Tree)>,
    /// DART weights, for rebuilding the IR.
    weights: Option<Vec<f32>>,
}

/// The parts of a [`Forest`], given to [`Forest::new`].
#[derive(Clone, Debug)]
pub struct ForestParts {
    /// Number of input columns.
    pub num_features: usize,
    /// Number of outputs per row before the objective's transform (classes or targets).
    pub num_outputs: usize,
    /// The starting margin of each output.
    pub base_margin: Vec<f32>,
    /// The objective.
    pub objective: Objective,
    /// Trees or linear weights.
    pub booster: Booster,
    /// Version-dependent arithmetic.
    pub semantics: Semantics,
    /// Feature names (empty, or one per feature).
    pub feature_names: Vec<String>,
    /// Feature types (empty, or one per feature).
    pub feature_types: Vec<FeatureType>,
}

impl Forest {
    /// A forest loaded from a compiled file: checks the parts besides the
    /// trees (the caller verified `packed`); the IR is built on first use.
    pub(crate) fn assemble(
        parts: ForestParts,
        packed: PackedForest,
        slow_trees: Vec<(usize, Tree)>,
        weights: Option<Vec<f32>>,
    ) -> Result<Forest> {
        Forest::check_common(&parts)?;
        if packed.num_features > parts.num_features {
            return Err(Error::invalid_model(format!(
                "compiled trees read {} features but the model has {}",
                packed.num_features, parts.num_features
            )));
        }
        Ok(Forest {
            num_features: parts.num_features,
            num_outputs: parts.num_outputs,
            base_margin: parts.base_margin,
            objective: parts.objective,
            booster: OnceLock::new(),
            semantics: parts.semantics,
            feature_names: parts.feature_names,
            feature_types: parts.feature_types,
            categories: Vec::new(),
            packed,
            slow_trees,
            weights,
        })
    }

    /// The checks of [`Forest::new`] that do not look at the trees.
    fn check_common(parts: &ForestParts) -> Result<()> {
        let ForestParts {
            num_features,
            num_outputs,
            base_margin,
            objective,
            feature_names,
            feature_types,
            ..
        } = parts;
        let (num_features, num_outputs) = (*num_features, *num_outputs);
        if num_outputs == 0 {
            return Err(Error::invalid_model("model has 0 outputs"));
        }
        if base_margin.len() != num_outputs {
            return Err(Error::invalid_model(format!(
                "{} base scores for {num_outputs} outputs",
                base_margin.len()
            )));
        }
        if objective.is_multiclass() && num_outputs < 2 {
            return Err(Error::invalid_model(format!(
                "objective {} needs at least 2 classes",
                objective.name()
            )));
        }
        if !feature_names.is_empty() && feature_names.len() != num_features {
            return Err(Error::invalid_model(format!(
                "{} feature names for {num_features} features",
                feature_names.len()
            )));
        }
        if !feature_types.is_empty() && feature_types.len() != num_features {
            return Err(Error::invalid_model(format!(
                "{} feature types for {num_features} features",
                feature_types.len()
            )));
        }
        Ok(())
    }

    /// Checks the parts against each other and builds the forest.
    pub fn new(parts: ForestParts) -> Result<Forest> {
        Forest::check_common(&parts)?;
        let ForestParts {
            num_features,
            num_outputs,
            base_margin,
            objective,
            booster,
            semantics,
            feature_names,
            feature_types,
        } = parts;
        match &booster {
            Booster::Trees(e) => {
                for (t, tree) in e.trees().iter().enumerate() {
                    if tree.leaf_width() > 1 {
                        if tree.leaf_width() != num_outputs {
                            return Err(Error::invalid_model(format!(
                                "leaves hold {} values but the model has {num_outputs} outputs",
                                tree.leaf_width()
                            ))
                            .with_tree(t));
                        }
                    } else if e.tree_outputs()[t] as usize >= num_outputs {
                        return Err(Error::invalid_model(format!(
                            "tree adds to output {} but the model has {num_outputs}",
                            e.tree_outputs()[t]
                        ))
                        .with_tree(t));
                    }
                    if let Some((node, Node::Split { feature, .. })) =
                        tree.nodes().iter().enumerate().find(|(_, n)| {
                            matches!(n, Node::Split { feature, .. } if *feature as usize >= num_features)
                        })
                    {
                        return Err(Error::invalid_model(format!(
                            "split on feature {feature} but the model has {num_features} features"
                        ))
                        .with_tree(t)
                        .with_node(node));
                    }
                }
            }
            Booster::Linear(l) => {
                let want = (num_features + 1).checked_mul(num_outputs);
                if want != Some(l.weights.len()) {
                    return Err(Error::invalid_model(format!(
                        "linear model has {} weights, expected ({num_features} + 1) x {num_outputs}",
                        l.weights.len()
                    )));
                }
            }
        }
        let packed = match &booster {
            // The kernels read (and copy, per row) only the features the
            // splits use: a model that declares 2^40 features but splits on
            // three must not cost 2^40 floats a row.
            Booster::Trees(e) => PackedForest::new(e, features_read(e).min(num_features)),
            Booster::Linear(_) => PackedForest::default(),
        };
        Ok(Forest {
            num_features,
            num_outputs,
            base_margin,
            objective,
            booster: OnceLock::from(booster),
            semantics,
            feature_names,
            feature_types,
            categories: Vec::new(),
            packed,
            slow_trees: Vec::new(),
            weights: None,
        })
    }

    /// Number of input columns.
    pub fn num_features(&self) -> usize {
        self.num_features
    }

    /// How many leading features prediction reads: one more than the largest
    /// feature index any split uses (every feature for a linear model). The
    /// columns past it are never read, and per-row scratch is sized by this,
    /// never by [`Forest::num_features`] alone (a file may declare any count).
    pub fn features_read(&self) -> usize {
        if self.is_linear() {
            self.num_features
        } else {
            self.packed.num_features
        }
    }

    /// The packed layout of the trees.
    pub(crate) fn packed(&self) -> &PackedForest {
        &self.packed
    }

    /// Number of margins per row (classes, targets or 1).
    pub fn num_outputs(&self) -> usize {
        self.num_outputs
    }

    /// The starting margin of each output.
    pub fn base_margin(&self) -> &[f32] {
        &self.base_margin
    }

    /// The objective.
    pub fn objective(&self) -> &Objective {
        &self.objective
    }

    /// Trees or linear weights.
    ///
    /// For a forest loaded from a compiled file this builds the IR on first
    /// use (prediction with the fast kernels does not need it).
    pub fn booster(&self) -> &Booster {
        self.booster.get_or_init(|| self.rebuild_booster())
    }

    /// The IR of a forest loaded from a compiled file, from its packed layout.
    /// Loading verified every packed tree (see `compiled`), so rebuilding
    /// cannot fail for a file Quercus wrote; a failure would be a bug.
    fn rebuild_booster(&self) -> Booster {
        let p = &self.packed;
        let mut slow = self.slow_trees.iter().peekable();
        let trees: Vec<Tree> = (0..p.trees.len())
            .map(|t| match slow.next_if(|(i, _)| *i == t) {
                Some((_, tree)) => tree.clone(),
                None => p
                    .rebuild_tree(t)
                    .expect("compiled trees are verified when the file is loaded"),
            })
            .collect();
        let e = TreeEnsemble::new(
            trees,
            p.tree_outputs.clone(),
            self.weights.clone(),
            p.round_ptr.clone(),
        )
        .expect("compiled ensembles are verified when the file is loaded");
        Booster::Trees(e)
    }

    /// True for a `gblinear` model.
    pub fn is_linear(&self) -> bool {
        matches!(self.booster.get(), Some(Booster::Linear(_)))
    }

    /// Number of trees (0 for a linear model), without building the IR.
    pub fn num_trees(&self) -> usize {
        self.packed.trees.len()
    }

    /// The version-dependent arithmetic.
    pub fn semantics(&self) -> Semantics {
        self.semantics
    }

    /// Feature names (empty when the model has none).
    pub fn feature_names(&self) -> &[String] {
        &self.feature_names
    }

    /// Feature types (empty when the model has none).
    pub fn feature_types(&self) -> &[FeatureType] {
        &self.feature_types
    }

    /// The training categories of each feature (`None` for a feature without
    /// them); empty when the model stores none. See [`Categories`].
    pub fn categories(&self) -> &[Option<Categories>] {
        &self.categories
    }

    /// The forest with training categories attached: one entry per feature
    /// (or none at all), only on categorical features.
    pub fn with_categories(mut self, categories: Vec<Option<Categories>>) -> Result<Forest> {
        if categories.iter().all(Option::is_none) {
            self.categories = Vec::new();
            return Ok(self);
        }
        if categories.len() != self.num_features {
            return Err(Error::invalid_model(format!(
                "categories for {} features but the model has {}",
                categories.len(),
                self.num_features
            )));
        }
        for (f, c) in categories.iter().enumerate() {
            if c.is_some() && self.feature_types.get(f) != Some(&FeatureType::Categorical) {
                return Err(Error::invalid_model(format!(
                    "feature {f} has training categories but is not categorical"
                )));
            }
        }
        self.categories = categories;
        Ok(self)
    }

    /// The trees, or an empty slice for a linear model.
    pub fn trees(&self) -> &[Tree] {
        match self.booster() {
            Booster::Trees(e) => e.trees(),
            Booster::Linear(_) => &[],
        }
    }

    /// Largest tree depth (0 for a linear model).
    pub fn max_depth(&self) -> usize {
        self.trees().iter().map(Tree::depth).max().unwrap_or(0)
    }

    /// Number of boosting rounds (0 for a linear model).
    pub fn num_rounds(&self) -> usize {
        self.packed.round_ptr.len().saturating_sub(1)
    }
}
