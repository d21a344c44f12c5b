//! One decision tree ([`Tree`]) and an ensemble of them ([`TreeEnsemble`]):
//! the IR a loader builds, validated once, that the packed layouts are
//! compiled from and the reference predictor walks.

use crate::error::{Error, Result};

/// The largest category code XGBoost accepts (2^24, the last integer every
/// smaller one of which an `f32` holds exactly). Codes at or past it, and
/// negative codes, are out of range.
pub const MAX_CATEGORY: u32 = 1 << 24;

/// One node of a [`Tree`].
#[derive(Clone, Debug, PartialEq)]
pub enum Node {
    /// A leaf with one value (already scaled by the learning rate).
    Leaf {
        /// The value added to the tree's output column.
        value: f32,
    },
    /// A leaf of a multi-target tree: its values are
    /// `leaf_values[index * width .. (index + 1) * width]` of the tree.
    VectorLeaf {
        /// Row of the tree's leaf-value table.
        index: u32,
    },
    /// An internal node.
    Split {
        /// The feature (column) tested.
        feature: u32,
        /// Numeric splits go left when `x < threshold` (compared in `f32`).
        threshold: f32,
        /// Where a missing value goes.
        default_left: bool,
        /// Index of the left child.
        left: u32,
        /// Index of the right child.
        right: u32,
        /// For a categorical split, the index of its set in
        /// [`Tree::category_sets`]: a category in the set goes right, any other left.
        categories: Option<u32>,
    },
}

/// The categories of one categorical split, sorted and de-duplicated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CategorySet {
    codes: Vec<u32>,
    capacity: u32,
}

impl CategorySet {
    /// Builds a set from category codes. Codes must be below [`MAX_CATEGORY`].
    pub fn new(mut codes: Vec<u32>) -> Result<CategorySet> {
        codes.sort_unstable();
        codes.dedup();
        if let Some(&max) = codes.last()
            && max >= MAX_CATEGORY
        {
            return Err(Error::invalid_model(format!(
                "category {max} is not below the maximum {MAX_CATEGORY}"
            )));
        }
        // XGBoost stores each set as a bitset of 32-bit words just large enough
        // for its largest member; codes past the bitset are "out of range".
        let words = codes.last().map_or(0, |&m| m / 32 + 1);
        Ok(CategorySet {
            codes,
            capacity: words * 32,
        })
    }

    /// The sorted codes.
    pub fn codes(&self) -> &[u32] {
        &self.codes
    }

    /// Codes at or past this are out of range for this set (XGBoost's bitset size).
    pub fn capacity(&self) -> u32 {
        self.capacity
    }

    /// Whether `code` is in the set.
    pub fn contains(&self, code: u32) -> bool {
        self.codes.binary_search(&code).is_ok()
    }
}

/// Where a categorical value that cannot be looked up (negative, not below
/// [`MAX_CATEGORY`], or past the set's bitset) goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum CategoryOutOfRange {
    /// Left, as XGBoost 1.7 and later (and before 1.6) route it.
    #[default]
    Left,
    /// The node's default (missing-value) child, as XGBoost 1.6 routes it.
    DefaultChild,
}

/// One decision tree, validated: every child index is in range, every node is
/// reached from the root at most once, every split feature exists.
#[derive(Clone, Debug, PartialEq)]
pub struct Tree {
    nodes: Vec<Node>,
    category_sets: Vec<CategorySet>,
    leaf_width: usize,
    leaf_values: Vec<f32>,
    depth: usize,
    num_leaves: usize,
}

impl Tree {
    /// Builds and validates a tree with scalar leaves. Node 0 is the root.
    pub fn new(
        nodes: Vec<Node>,
        category_sets: Vec<CategorySet>,
        num_features: usize,
    ) -> Result<Tree> {
        Tree::with_leaf_vectors(nodes, category_sets, 1, Vec::new(), num_features)
    }

    /// Builds and validates a tree whose leaves may be [`Node::VectorLeaf`]s of
    /// `leaf_width` values each, stored row after row in `leaf_values`.
    pub fn with_leaf_vectors(
        nodes: Vec<Node>,
        category_sets: Vec<CategorySet>,
        leaf_width: usize,
        leaf_values: Vec<f32>,
        num_features: usize,
    ) -> Result<Tree> {
        if nodes.is_empty() {
            return Err(Error::invalid_model("tree has no nodes"));
        }
        if leaf_width == 0 {
            return Err(Error::invalid_model("leaf width is 0"));
        }
        let n = nodes.len();
        for (i, node) in nodes.iter().enumerate() {
            match *node {
                Node::Leaf { .. } => {
                    if leaf_width != 1 {
                        return Err(Error::invalid_model(format!(
                            "scalar leaf in a tree with {leaf_width}-wide leaves"
                        ))
                        .with_node(i));
                    }
                }
                Node::VectorLeaf { index } => {
                    let end = (index as usize + 1).checked_mul(leaf_width);
                    if end.is_none_or(|e| e > leaf_values.len()) {
                        return Err(Error::invalid_model(format!(
                            "leaf vector {index} is past the {} stored values",
                            leaf_values.len()
                        ))
                        .with_node(i));
                    }
                }
                Node::Split {
                    feature,
                    left,
                    right,
                    categories,
                    ..
                } => {
                    if feature as usize >= num_features {
                        return Err(Error::invalid_model(format!(
                            "split on feature {feature} but the model has {num_features} features"
                        ))
                        .with_node(i));
                    }
                    if left as usize >= n || right as usize >= n {
                        return Err(Error::invalid_model(format!(
                            "child index {} is past the {n} nodes",
                            left.max(right)
                        ))
                        .with_node(i));
                    }
                    if let Some(c) = categories
                        && c as usize >= category_sets.len()
                    {
                        return Err(Error::invalid_model(format!(
                            "category set {c} does not exist"
                        ))
                        .with_node(i));
                    }
                }
            }
        }
        // Walk from the root: each node may be reached once (no cycle, no
        // shared child). Unreached nodes (XGBoost's deleted nodes) are allowed.
        let mut seen = vec![false; n];
        let mut stack: Vec<(u32, usize)> = vec![(0, 1)];
        let mut depth = 0;
        let mut num_leaves = 0;
        while let Some((i, d)) = stack.pop() {
            let iu = i as usize;
            if std::mem::replace(&mut seen[iu], true) {
                return Err(Error::invalid_model(
                    "node is reached twice from the root (a cycle or a shared child)",
                )
                .with_node(iu));
            }
            depth = depth.max(d);
            match nodes[iu] {
                Node::Split { left, right, .. } => {
                    stack.push((right, d + 1));
                    stack.push((left, d + 1));
                }
                _ => num_leaves += 1,
            }
        }
        Ok(Tree {
            nodes,
            category_sets,
            leaf_width,
            leaf_values,
            depth: depth - 1,
            num_leaves,
        })
    }

    /// The nodes; node 0 is the root.
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// The category sets referenced by categorical splits.
    pub fn category_sets(&self) -> &[CategorySet] {
        &self.category_sets
    }

    /// Values per leaf: 1, or the number of targets for a multi-target tree.
    pub fn leaf_width(&self) -> usize {
        self.leaf_width
    }

    /// The leaf-vector table of a multi-target tree.
    pub fn leaf_values(&self) -> &[f32] {
        &self.leaf_values
    }

    /// Longest root-to-leaf path, in splits (a lone leaf has depth 0).
    pub fn depth(&self) -> usize {
        self.depth
    }

    /// Number of leaves reachable from the root.
    pub fn num_leaves(&self) -> usize {
        self.num_leaves
    }

    /// Whether the tree has categorical splits.
    pub fn has_categorical(&self) -> bool {
        !self.category_sets.is_empty()
    }

    /// Follows `row` from the root to a leaf and returns the leaf's node index.
    ///
    /// `is_missing` decides which values take the default child. The row must
    /// have at least as many values as the model has features (checked by the
    /// caller once per batch).
    #[inline]
    pub fn leaf_index(&self, row: &[f32], missing: f32, out_of_range: CategoryOutOfRange) -> usize {
        let mut i = 0usize;
        loop {
            match &self.nodes[i] {
                Node::Split {
                    feature,
                    threshold,
                    default_left,
                    left,
                    right,
                    categories,
                } => {
                    let x = row[*feature as usize];
                    let go_left = if x.is_nan() || x == missing {
                        *default_left
                    } else if let Some(set) = categories {
                        let set = &self.category_sets[*set as usize];
                        categorical_goes_left(set, x, *default_left, out_of_range)
                    } else {
                        x < *threshold
                    };
                    i = if go_left { *left } else { *right } as usize;
                }
                _ => return i,
            }
        }
    }
}

/// XGBoost's categorical decision for a present (non-missing) value.
#[inline]
fn categorical_goes_left(
    set: &CategorySet,
    x: f32,
    default_left: bool,
    out_of_range: CategoryOutOfRange,
) -> bool {
    let oor = match out_of_range {
        CategoryOutOfRange::Left => true,
        CategoryOutOfRange::DefaultChild => default_left,
    };
    if x < 0.0 || x >= MAX_CATEGORY as f32 {
        return oor;
    }
    let code = x as u32; // truncation toward zero, x in [0, 2^24)
    if code >= set.capacity() {
        return oor;
    }
    !set.contains(code)
}

/// A tree ensemble: trees, the output column each one adds to, DART weights and
/// the boosting-round boundaries.
#[derive(Clone, Debug, PartialEq)]
pub struct TreeEnsemble {
    trees: Vec<Tree>,
    tree_outputs: Vec<u32>,
    weights: Option<Vec<f32>>,
    round_ptr: Vec<usize>,
}

impl TreeEnsemble {
    /// Builds an ensemble. `tree_outputs[t]` is the output column of tree `t`
    /// (ignored for multi-target trees, which add to every column); `weights` are
    /// DART weights; `round_ptr` is a CSR pointer over boosting rounds (the
    /// trees of round `r` are `round_ptr[r]..round_ptr[r + 1]`).
    pub fn new(
        trees: Vec<Tree>,
        tree_outputs: Vec<u32>,
        weights: Option<Vec<f32>>,
        round_ptr: Vec<usize>,
    ) -> Result<TreeEnsemble> {
        if tree_outputs.len() != trees.len() {
            return Err(Error::invalid_model(format!(
                "{} trees but {} output-group entries (tree_info)",
                trees.len(),
                tree_outputs.len()
            )));
        }
        if let Some(w) = &weights
            && w.len() != trees.len()
        {
            return Err(Error::invalid_model(format!(
                "{} trees but {} DART weights",
                trees.len(),
                w.len()
            )));
        }
        if round_ptr.first() != Some(&0)
            || round_ptr.last() != Some(&trees.len())
            || round_ptr.windows(2).any(|w| w[0] > w[1])
        {
            return Err(Error::invalid_model(format!(
                "round boundaries {:?} do not cover the {} trees in order",
                round_ptr.iter().take(8).collect::<Vec<_>>(),
                trees.len()
            )));
        }
        Ok(TreeEnsemble {
            trees,
            tree_outputs,
            weights,
            round_ptr,
        })
    }

    /// Round boundaries with a constant number of trees per round (for formats
    /// that do not store them). A trailing partial round is kept.
    pub fn uniform_rounds(num_trees: usize, trees_per_round: usize) -> Vec<usize> {
        let step = trees_per_round.max(1);
        let mut ptr: Vec<usize> = (0..num_trees).step_by(step).collect();
        ptr.push(num_trees);
        ptr
    }

    /// The trees.
    pub fn trees(&self) -> &[Tree] {
        &self.trees
    }

    /// Output column of each tree.
    pub fn tree_outputs(&self) -> &[u32] {
        &self.tree_outputs
    }

    /// DART weights, if any.
    pub fn weights(&self) -> Option<&[f32]> {
        self.weights.as_deref()
    }

    /// Boosting-round boundaries.
    pub fn round_ptr(&self) -> &[usize] {
        &self.round_ptr
    }

    /// Number of boosting rounds.
    pub fn num_rounds(&self) -> usize {
        self.round_ptr.len() - 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(feature: u32, threshold: f32, left: u32, right: u32) -> Node {
        Node::Split {
            feature,
            threshold,
            default_left: true,
            left,
            right,
            categories: None,
        }
    }

    #[test]
    fn cycles_and_bad_indices_are_rejected() {
        let cyc = vec![
            split(0, 1.0, 1, 2),
            split(0, 1.0, 0, 2),
            Node::Leaf { value: 1.0 },
        ];
        let e = Tree::new(cyc, vec![], 1).unwrap_err();
        assert!(e.to_string().contains("reached twice"), "{e}");
        let oob = vec![split(0, 1.0, 1, 5), Node::Leaf { value: 1.0 }];
        assert!(Tree::new(oob, vec![], 1).is_err());
        let feat = vec![
            split(3, 1.0, 1, 2),
            Node::Leaf { value: 1.0 },
            Node::Leaf { value: 2.0 },
        ];
        assert!(Tree::new(feat, vec![], 2).is_err());
        assert!(Tree::new(vec![], vec![], 2).is_err());
    }

    #[test]
    fn deleted_nodes_are_allowed_and_depth_counts_splits() {
        let nodes = vec![
            split(0, 0.5, 1, 2),
            Node::Leaf { value: -1.0 },
            split(1, 0.5, 3, 4),
            Node::Leaf { value: 0.5 },
            Node::Leaf { value: 2.0 },
            Node::Leaf { value: 0.0 }, // unreachable (deleted)
        ];
        let t = Tree::new(nodes, vec![], 2).unwrap();
        assert_eq!(t.depth(), 2);
        assert_eq!(t.num_leaves(), 3);
        let oor = CategoryOutOfRange::Left;
        assert_eq!(t.leaf_index(&[0.0, 0.0], f32::NAN, oor), 1);
        assert_eq!(t.leaf_index(&[0.5, 0.0], f32::NAN, oor), 3);
        assert_eq!(t.leaf_index(&[f32::NAN, 9.0], f32::NAN, oor), 1);
        assert_eq!(t.leaf_index(&[-7.0, 9.0], -7.0, oor), 1);
    }

    #[test]
    fn categorical_routing_follows_xgboost() {
        let set = CategorySet::new(vec![3, 1]).unwrap();
        assert_eq!(set.capacity(), 32);
        let l = CategoryOutOfRange::Left;
        let d = CategoryOutOfRange::DefaultChild;
        assert!(!categorical_goes_left(&set, 1.0, false, l));
        assert!(!categorical_goes_left(&set, 3.7, false, l));
        assert!(categorical_goes_left(&set, 2.0, false, l));
        assert!(categorical_goes_left(&set, 40.0, false, l));
        assert!(!categorical_goes_left(&set, 40.0, false, d));
        assert!(categorical_goes_left(&set, 20.0, false, d));
        assert!(categorical_goes_left(&set, -1.0, true, d));
        assert!(!categorical_goes_left(&set, -1.0, false, d));
        assert!(categorical_goes_left(&set, 1e9, false, l));
        assert!(CategorySet::new(vec![MAX_CATEGORY]).is_err());
    }

    #[test]
    fn uniform_rounds_keep_a_partial_tail() {
        assert_eq!(TreeEnsemble::uniform_rounds(7, 3), vec![0, 3, 6, 7]);
        assert_eq!(TreeEnsemble::uniform_rounds(0, 3), vec![0]);
    }
}
