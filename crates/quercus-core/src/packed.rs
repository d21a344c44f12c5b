//! The packed layout the fast kernel walks: each tree's nodes renumbered so the
//! two children of a split are adjacent (`right == left + 1`), 12 bytes a node,
//! all trees in one array, compiled once when a [`Forest`](crate::Forest) is built.
//!
//! A leaf is a fixed point of the traversal step: its threshold is NaN (so every
//! value goes "right"), its missing direction is right, and its `left` is its own
//! index minus one. A tree can therefore be walked for exactly `depth` steps with
//! no per-row branch, whatever depth each row's leaf is at.

use crate::forest::{Node, Tree};

/// Bit of [`PackedNode::feature`] set when missing values go left.
pub(crate) const DEFAULT_LEFT: u32 = 1 << 31;
/// Mask of the feature index in [`PackedNode::feature`].
pub(crate) const FEATURE_MASK: u32 = !DEFAULT_LEFT;

/// One node: a numeric split, or a leaf (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(C)]
pub(crate) struct PackedNode {
    /// Split threshold; NaN for a leaf.
    pub threshold: f32,
    /// Feature index, with [`DEFAULT_LEFT`] as the top bit.
    pub feature: u32,
    /// Packed index of the left child (the right child is `left + 1`).
    pub left: u32,
}

/// How one tree is packed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct PackedTree {
    /// Packed index of the root.
    pub root: u32,
    /// Steps from the root to the deepest leaf.
    pub depth: u32,
    /// True when the fast kernel can walk it: numeric splits and scalar leaves
    /// only. Other trees are walked by the reference traversal.
    pub fast: bool,
}

/// All trees of a forest in the packed layout.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct PackedForest {
    pub nodes: Vec<PackedNode>,
    /// Leaf value per packed node (0 for splits).
    pub leaf_value: Vec<f32>,
    /// Original node index per packed node (for leaf-index output).
    pub original: Vec<u32>,
    pub trees: Vec<PackedTree>,
}

impl PackedForest {
    /// Packs validated trees.
    pub fn new(trees: &[Tree]) -> PackedForest {
        let total: usize = trees.iter().map(|t| t.num_leaves() * 2).sum();
        let mut p = PackedForest {
            nodes: Vec::with_capacity(total),
            leaf_value: Vec::with_capacity(total),
            original: Vec::with_capacity(total),
            trees: Vec::with_capacity(trees.len()),
        };
        for tree in trees {
            let fast = tree.leaf_width() == 1
                && !tree.has_categorical()
                && u32::try_from(p.nodes.len() + tree.nodes().len()).is_ok();
            if !fast {
                p.trees.push(PackedTree {
                    root: 0,
                    depth: 0,
                    fast: false,
                });
                continue;
            }
            let root = p.nodes.len() as u32;
            p.trees.push(PackedTree {
                root,
                depth: tree.depth() as u32,
                fast: true,
            });
            // Breadth-first: a split's children get two consecutive slots.
            p.push_placeholder(0); // the root
            let mut queue = std::collections::VecDeque::from([(0usize, root)]);
            while let Some((orig, slot)) = queue.pop_front() {
                let s = slot as usize;
                match tree.nodes()[orig] {
                    Node::Split {
                        feature,
                        threshold,
                        default_left,
                        left,
                        right,
                        ..
                    } => {
                        let l = p.nodes.len() as u32;
                        p.push_placeholder(left);
                        p.push_placeholder(right);
                        p.nodes[s] = PackedNode {
                            threshold,
                            feature: feature | if default_left { DEFAULT_LEFT } else { 0 },
                            left: l,
                        };
                        queue.push_back((left as usize, l));
                        queue.push_back((right as usize, l + 1));
                    }
                    Node::Leaf { value } => {
                        p.leaf_value[s] = value;
                        p.nodes[s] = PackedNode {
                            threshold: f32::NAN,
                            feature: 0,
                            // A lone-leaf tree (slot == root) has depth 0 and
                            // is never stepped.
                            left: slot.saturating_sub(1),
                        };
                    }
                    Node::VectorLeaf { .. } => unreachable!("vector-leaf trees are not packed"),
                }
            }
        }
        p
    }

    fn push_placeholder(&mut self, orig: u32) {
        self.nodes.push(PackedNode {
            threshold: f32::NAN,
            feature: 0,
            left: 0,
        });
        self.leaf_value.push(0.0);
        self.original.push(orig);
    }
}

/// One traversal step: the next packed index for value `x` at `node`.
/// Branch-free: `x < t` is false for NaN, so NaN goes right unless the
/// node sends missing values left.
#[inline(always)]
#[allow(clippy::neg_cmp_op_on_partial_ord)] // `!(x < t)` is meant: true for NaN
pub(crate) fn step(node: &PackedNode, x: f32) -> u32 {
    let right = !(x < node.threshold);
    let missing_left = x.is_nan() & (node.feature & DEFAULT_LEFT != 0);
    node.left + u32::from(right & !missing_left)
}
