//! The packed layouts the fast kernels walk, compiled once from the IR when a
//! [`Forest`](crate::Forest) is built (or memory-mapped from a compiled
//! `.qpack` file, see [`crate::compiled`]).
//!
//! **Pointer layout** (every fast tree): each tree's nodes renumbered
//! breadth-first so the two children of a split are adjacent (`right == left +
//! 1`), 12 bytes a node, all trees in one array. A leaf is a fixed point of the
//! traversal step: its threshold is NaN (so every value goes "right"), its
//! missing direction is right, and its `left` is its own index minus one (slot
//! 0 is a placeholder that belongs to no tree). A tree can therefore be walked
//! for exactly `depth` steps with no per-row branch, whatever depth each row's
//! leaf is at.
//!
//! **Implicit layout** (fast trees with little padding): see [`ImplicitNode`].

use crate::buf::{Buf, Pod};
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

// SAFETY: repr(C), three 4-byte fields, no padding; any bits are a value.
unsafe impl Pod for PackedNode {}

/// A node of the implicit layout: a fast tree of depth `d` padded to the
/// perfect binary tree of depth `d`, its `2^d - 1` internal nodes stored
/// breadth-first (the children of node `i` are `2i + 1` and `2i + 2`, tree-local),
/// its `2^d` leaves apart. A leaf above the last level becomes a node that
/// sends every value right down to the last level, where its value is
/// stored. No child index is stored, so a step loads only the node and the
/// feature's value.
///
/// Splits compare integer keys, not floats (see [`value_key`]): `x < t`
/// exactly when `key(x) < key(t)`. Missing values are handled by the input:
/// a key group holds two copies of each feature, one where a missing value
/// is the largest key (so it goes right at every node) and one where it is
/// the smallest (so it goes left), and each node reads the copy of its
/// default direction. A step is one compare, with no NaN test and no
/// default-direction load. Read as one little-endian `u64`, a node is `fx |
/// key << 32`, which the 64-bit keys of [`Key`] compare against directly.
#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(C)]
pub(crate) struct ImplicitNode {
    /// `(2 * feature + default_left) * LANES`: the offset of the node's copy
    /// of its feature in a lane-major key group (see [`fast::LANES`]).
    pub fx: u32,
    /// [`threshold_key`] of the split threshold ([`PASS_KEY`] for a
    /// pass-through node: every value goes right).
    pub key: u32,
}

// SAFETY: repr(C), two 4-byte fields, no padding; any bits are a value.
unsafe impl Pod for ImplicitNode {}

/// The order key of a non-NaN value: `value_key(a) < value_key(b)` exactly
/// when `a < b` (IEEE order; -0 and +0 are one key, as they compare equal).
/// Keys of non-NaN values lie in `0x007F_FFFF..=0xFF80_0000` (-inf to +inf).
#[inline(always)]
pub(crate) fn value_key(x: f32) -> u32 {
    let b = if x == 0.0 { 0 } else { x.to_bits() };
    // Negative values: larger magnitude, smaller key; positive ones above.
    if b & 0x8000_0000 != 0 {
        !b
    } else {
        b | 0x8000_0000
    }
}

/// The key of a missing input value in the copy read by nodes that send
/// missing values right: above every threshold key.
pub(crate) const MISSING_RIGHT: u32 = u32::MAX;
/// The key of a missing input value in the copy read by nodes that send
/// missing values left: below every threshold key.
pub(crate) const MISSING_LEFT: u32 = 0;
/// The threshold key of a pass-through node and of a NaN threshold: every
/// value goes right (`x < NaN` is false), a missing one by its copy.
pub(crate) const PASS_KEY: u32 = 1;

/// The key a node compares against: [`value_key`], or [`PASS_KEY`] for NaN.
pub(crate) fn threshold_key(t: f32) -> u32 {
    if t.is_nan() { PASS_KEY } else { value_key(t) }
}

/// The two keys of input value `x`: for its copy read by nodes whose missing
/// values go right, and by those whose missing values go left (equal unless
/// `x` is NaN).
#[inline(always)]
pub(crate) fn input_keys(x: f32) -> [u32; 2] {
    if x.is_nan() {
        [MISSING_RIGHT, MISSING_LEFT]
    } else {
        let k = value_key(x);
        [k, k]
    }
}

/// An input key as a kernel stores it: `u32`, or `u64` for the scalar
/// kernel, which compares a whole [`ImplicitNode`] read as `fx | key << 32`
/// against `key << 32 | 0xFFFF_FFFF` (greater or equal exactly when the
/// input key is, as `fx < 2^32 - 1`).
pub(crate) trait Key: Copy + Default + Send + Sync {
    /// The stored form of key `k`.
    fn from_key(k: u32) -> Self;
    /// True when the value goes right at `node`: its key is not below the
    /// node's.
    fn right(self, node: ImplicitNode) -> bool;
}

impl Key for u32 {
    #[inline(always)]
    fn from_key(k: u32) -> u32 {
        k
    }
    #[inline(always)]
    fn right(self, node: ImplicitNode) -> bool {
        self >= node.key
    }
}

impl Key for u64 {
    #[inline(always)]
    fn from_key(k: u32) -> u64 {
        (u64::from(k) << 32) | 0xFFFF_FFFF
    }
    #[inline(always)]
    fn right(self, node: ImplicitNode) -> bool {
        self >= (u64::from(node.key) << 32) | u64::from(node.fx)
    }
}

/// Deepest tree given the implicit layout (4095 internal nodes).
pub(crate) const IMPLICIT_MAX_DEPTH: usize = 12;

/// How one tree is packed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct PackedTree {
    /// Packed index of the root.
    pub root: u32,
    /// Packed nodes of the tree (`root..root + len`).
    pub len: u32,
    /// Steps from the root to the deepest leaf.
    pub depth: u32,
    /// Nodes of the tree in the IR (its original numbering, with any
    /// unreachable nodes), for rebuilding the IR from the packed layout.
    pub ir_len: u32,
    /// True when the fast kernels can walk it: numeric splits and scalar
    /// leaves only. Other trees are walked by the reference traversal.
    pub fast: bool,
    /// Where the tree's implicit layout starts in
    /// [`PackedForest::imp_nodes`] / [`PackedForest::imp_leaves`], if it has
    /// one (see [`ImplicitNode`]).
    pub implicit: Option<(u32, u32)>,
}

/// All trees of a forest in the packed layouts, with what prediction needs to
/// know about the ensemble without touching the IR.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct PackedForest {
    /// Pointer-layout nodes of every fast tree (slot 0: a placeholder).
    pub nodes: Buf<PackedNode>,
    /// Leaf value per packed node (0 for splits).
    pub leaf_value: Buf<f32>,
    /// Original node index per packed node (for leaf-index output).
    pub original: Buf<u32>,
    /// One entry per tree of the ensemble.
    pub trees: Vec<PackedTree>,
    /// Number of input features every packed split was checked against.
    pub num_features: usize,
    /// `slow_before[t]`: how many of trees `0..t` are not `fast`.
    pub slow_before: Vec<u32>,
    /// Internal nodes of the trees with an implicit layout.
    pub imp_nodes: Buf<ImplicitNode>,
    /// Last-level leaf values of the trees with an implicit layout.
    pub imp_leaves: Buf<f32>,
    /// Output column of each tree.
    pub tree_outputs: Vec<u32>,
    /// Boosting-round boundaries (CSR over trees).
    pub round_ptr: Vec<usize>,
    /// True when trees carry (DART) weights: the fast kernels do not apply
    /// them, so such models take the general path.
    pub weighted: bool,
}

/// The growable arrays [`PackedForest::new`] fills.
#[derive(Default)]
struct Builder {
    nodes: Vec<PackedNode>,
    leaf_value: Vec<f32>,
    original: Vec<u32>,
    imp_nodes: Vec<ImplicitNode>,
    imp_leaves: Vec<f32>,
    num_features: usize,
}

impl PackedForest {
    /// Packs validated trees whose splits use features `< num_features`.
    ///
    /// Every tree marked `fast` is then checked by [`verify_pointer_tree`]
    /// and [`verify_implicit_tree`]: the unchecked loads of the fast kernels
    /// rely on those checks.
    pub fn new(e: &crate::forest::TreeEnsemble, num_features: usize) -> PackedForest {
        let trees = e.trees();
        let total: usize = trees.iter().map(|t| t.num_leaves() * 2).sum();
        let mut b = Builder {
            nodes: Vec::with_capacity(total),
            leaf_value: Vec::with_capacity(total),
            original: Vec::with_capacity(total),
            num_features,
            ..Builder::default()
        };
        let mut meta = Vec::with_capacity(trees.len());
        // Slot 0 is never part of a tree, so every leaf's `left` (its own
        // index minus one) is a valid index.
        b.push_placeholder(0);
        for tree in trees {
            let mut pt = PackedTree {
                root: 0,
                len: 0,
                depth: tree.depth() as u32,
                ir_len: u32::try_from(tree.nodes().len()).unwrap_or(u32::MAX),
                fast: false,
                implicit: None,
            };
            let fast = tree.leaf_width() == 1
                && !tree.has_categorical()
                && u32::try_from(b.nodes.len() + tree.nodes().len()).is_ok();
            if fast {
                pt.root = b.nodes.len() as u32;
                b.push_pointer(tree);
                pt.len = b.nodes.len() as u32 - pt.root;
                pt.fast = true;
                pt.implicit = b.push_implicit(tree);
                let range = pt.root as usize..b.nodes.len();
                // `nodes_in_bounds` restricted to this tree's nodes.
                let in_bounds = b.nodes[range].iter().all(|n| {
                    (n.left as usize) + 1 < b.nodes.len()
                        && ((n.feature & FEATURE_MASK) as usize) < num_features.max(1)
                });
                if !in_bounds || !verify_pointer_tree(&b.nodes, &pt, num_features) {
                    // Cannot happen for a validated `Tree`; if it ever did,
                    // the tree is walked by the (bounds-checked) reference.
                    debug_assert!(false, "packed tree failed verification");
                    pt.fast = false;
                }
            }
            meta.push(pt);
        }
        let mut p = PackedForest {
            nodes: Buf::Owned(b.nodes),
            leaf_value: Buf::Owned(b.leaf_value),
            original: Buf::Owned(b.original),
            trees: meta,
            num_features,
            slow_before: Vec::new(),
            imp_nodes: Buf::Owned(b.imp_nodes),
            imp_leaves: Buf::Owned(b.imp_leaves),
            tree_outputs: e.tree_outputs().to_vec(),
            round_ptr: e.round_ptr().to_vec(),
            weighted: e.weights().is_some(),
        };
        p.index_slow();
        p
    }

    /// Fills `slow_before` from `trees`.
    pub(crate) fn index_slow(&mut self) {
        self.slow_before.clear();
        self.slow_before.push(0);
        for t in 0..self.trees.len() {
            let prev = self.slow_before[t];
            self.slow_before.push(prev + u32::from(!self.trees[t].fast));
        }
    }

    /// True when every tree in `trees` is `fast`.
    pub fn all_fast(&self, trees: std::ops::Range<usize>) -> bool {
        trees.is_empty() || self.slow_before[trees.end] == self.slow_before[trees.start]
    }

    /// Rebuilds the IR of fast tree `t` from the pointer layout, in its
    /// original node numbering (unreachable nodes become zero leaves). Used
    /// for forests loaded from a compiled file, whose IR is built on demand.
    pub(crate) fn rebuild_tree(&self, t: usize) -> crate::Result<Tree> {
        let pt = &self.trees[t];
        let bad = || crate::Error::invalid_model("compiled tree does not decode").with_tree(t);
        if !pt.fast {
            return Err(bad());
        }
        let range = pt.root as usize..(pt.root + pt.len) as usize;
        match self.rebuild_numbered(t, range.clone(), pt.ir_len as usize, |i| {
            self.original.get(i).copied()
        }) {
            Ok(tree) => Ok(tree),
            // Node numbers that do not form a tree (a hostile file with a
            // valid checksum): number breadth-first instead. The shape was
            // verified, so this cannot fail.
            Err(_) => self.rebuild_numbered(t, range.clone(), range.len(), |i| {
                i.checked_sub(range.start).map(|k| k as u32)
            }),
        }
    }

    /// [`PackedForest::rebuild_tree`] with node `i` numbered `number(i)`.
    fn rebuild_numbered(
        &self,
        t: usize,
        range: std::ops::Range<usize>,
        ir_len: usize,
        number: impl Fn(usize) -> Option<u32>,
    ) -> crate::Result<Tree> {
        let bad = || crate::Error::invalid_model("compiled tree does not decode").with_tree(t);
        let nodes = self.nodes.get(range.clone()).ok_or_else(bad)?;
        let mut ir = vec![Node::Leaf { value: 0.0 }; ir_len];
        for (k, n) in nodes.iter().enumerate() {
            let i = range.start + k;
            let orig = number(i).ok_or_else(bad)? as usize;
            let node = if n.left as usize + 1 == i {
                Node::Leaf {
                    value: *self.leaf_value.get(i).ok_or_else(bad)?,
                }
            } else {
                let l = n.left as usize;
                Node::Split {
                    feature: n.feature & FEATURE_MASK,
                    threshold: n.threshold,
                    default_left: n.feature & DEFAULT_LEFT != 0,
                    left: number(l).ok_or_else(bad)?,
                    right: number(l + 1).ok_or_else(bad)?,
                    categories: None,
                }
            };
            *ir.get_mut(orig).ok_or_else(bad)? = node;
        }
        Tree::new(ir, vec![], self.num_features).map_err(|e| e.with_tree(t))
    }
}

impl Builder {
    /// Appends the pointer layout of a fast tree, breadth-first: a split's
    /// children get two consecutive slots.
    fn push_pointer(&mut self, tree: &Tree) {
        let root = self.nodes.len() as u32;
        self.push_placeholder(0);
        let mut queue = std::collections::VecDeque::from([(0usize, root)]);
        while let Some((orig, slot)) = queue.pop_front() {
            let s = slot as usize;
            self.original[s] = orig as u32;
            match tree.nodes()[orig] {
                Node::Split {
                    feature,
                    threshold,
                    default_left,
                    left,
                    right,
                    ..
                } => {
                    let l = self.nodes.len() as u32;
                    self.push_placeholder(left);
                    self.push_placeholder(right);
                    self.nodes[s] = PackedNode {
                        threshold,
                        feature: feature | if default_left { DEFAULT_LEFT } else { 0 },
                        left: l,
                    };
                    queue.push_back((left as usize, l));
                    queue.push_back((right as usize, l + 1));
                }
                Node::Leaf { value } => {
                    self.leaf_value[s] = value;
                    self.nodes[s] = PackedNode {
                        threshold: f32::NAN,
                        feature: 0,
                        // Steps back to itself; `slot >= 1` (slot 0 is the
                        // placeholder).
                        left: slot - 1,
                    };
                }
                // Not a fast tree; never packed.
                Node::VectorLeaf { .. } => {}
            }
        }
    }

    /// Appends the implicit layout of a fast tree (numeric splits, scalar
    /// leaves) when its padding stays small; returns where it starts.
    fn push_implicit(&mut self, tree: &Tree) -> Option<(u32, u32)> {
        let d = tree.depth();
        // Padding doubles per level below a shallow leaf: only when the
        // perfect tree has at most 3x the real leaves (measured: 4x is slower).
        if d > IMPLICIT_MAX_DEPTH || (1usize << d) > 3 * tree.num_leaves() {
            return None;
        }
        let internal = (1usize << d) - 1;
        let n0 = self.imp_nodes.len();
        let l0 = self.imp_leaves.len();
        let fx_max = self.num_features.checked_mul(2 * fast::LANES)?;
        if u32::try_from(n0 + internal).is_err()
            || u32::try_from(l0 + internal + 1).is_err()
            || u32::try_from(fx_max).is_err()
        {
            return None;
        }
        // Right whatever the value: a missing one reads the copy of feature 0
        // where it goes right.
        let pass = ImplicitNode {
            fx: 0,
            key: PASS_KEY,
        };
        self.imp_nodes.resize(n0 + internal, pass);
        self.imp_leaves.resize(l0 + internal + 1, 0.0);
        // (original node, implicit slot, level)
        let mut stack = vec![(0usize, 0usize, 0usize)];
        while let Some((orig, slot, level)) = stack.pop() {
            match tree.nodes()[orig] {
                Node::Split {
                    feature,
                    threshold,
                    default_left,
                    left,
                    right,
                    ..
                } => {
                    // `level < d`: a split is never on the last level.
                    // `feature < num_features`, so no overflow (`fx_max` fits).
                    self.imp_nodes[n0 + slot] = ImplicitNode {
                        fx: (2 * feature + u32::from(default_left)) * fast::LANES as u32,
                        key: threshold_key(threshold),
                    };
                    stack.push((left as usize, 2 * slot + 1, level + 1));
                    stack.push((right as usize, 2 * slot + 2, level + 1));
                }
                Node::Leaf { value } => {
                    // Pass-through nodes (already in place) lead right to the
                    // last level.
                    let mut s = slot;
                    for _ in level..d {
                        s = 2 * s + 2;
                    }
                    self.imp_leaves[l0 + s - internal] = value;
                }
                Node::VectorLeaf { .. } => stack.clear(), // not a fast tree: rejected below
            }
        }
        let implicit = Some((n0 as u32, l0 as u32));
        let pt = PackedTree {
            root: 0,
            len: 0,
            depth: d as u32,
            ir_len: 0,
            fast: true,
            implicit,
        };
        if tree.leaf_width() != 1
            || !verify_implicit_tree(self.imp_nodes.len(), self.imp_leaves.len(), &pt)
            || !implicit_in_bounds(&self.imp_nodes[n0..], self.num_features)
        {
            self.imp_nodes.truncate(n0);
            self.imp_leaves.truncate(l0);
            return None;
        }
        implicit
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

/// The invariant the pointer-layout kernels' unchecked loads rely on, over
/// the whole node array: every node's `left` and `left + 1` are indices of the
/// array, and every node's feature is `< max(num_features, 1)` (a step loads
/// a leaf's feature too; a forest without features has only single-leaf
/// trees, never stepped). A walk that starts at a valid index therefore only
/// ever loads valid nodes and features, whatever the input. One pass, no
/// branches.
pub(crate) fn nodes_in_bounds(nodes: &[PackedNode], num_features: usize) -> bool {
    let Ok(len) = u32::try_from(nodes.len()) else {
        return false;
    };
    let limit = num_features.max(1) as u32;
    nodes.iter().fold(true, |ok, n| {
        ok & (n.left < len.saturating_sub(1)) & ((n.feature & FEATURE_MASK) < limit)
    })
}

/// Checks one fast tree's shape (what rebuilding its IR and walking it
/// correctly rely on; memory safety comes from [`nodes_in_bounds`]): its
/// nodes `root..root + len` lie inside `nodes`; a node whose `left + 1` is
/// itself is a leaf; every other node is a split whose two children are the
/// next two slots not yet claimed, after itself (the breadth-first layout,
/// which makes the nodes one tree); `depth` is below the node count (it only
/// sets how many steps a walk takes).
pub(crate) fn verify_pointer_tree(
    nodes: &[PackedNode],
    pt: &PackedTree,
    num_features: usize,
) -> bool {
    let Some((root, end)) = pointer_tree_span(nodes, pt, num_features) else {
        return false;
    };
    let mut next_child = root + 1;
    let mut ok = true;
    // Branch-free per node (leaves and splits alternate unpredictably).
    for (i, n) in (root..end).zip(&nodes[root..end]) {
        let l = n.left as usize;
        let leaf = l.wrapping_add(1) == i;
        ok &= leaf | ((l == next_child) & (l > i));
        next_child += 2 * usize::from(!leaf);
    }
    // Every split claimed two slots inside the tree, and only those exist.
    ok && next_child == end
}

/// The invariant of the implicit-layout kernels over all implicit nodes:
/// every feature offset leaves room for all lanes of a key group of
/// `num_features` features (two copies each). One pass, no branches.
pub(crate) fn implicit_in_bounds(imp_nodes: &[ImplicitNode], num_features: usize) -> bool {
    let Some(limit) = num_features
        .checked_mul(2 * fast::LANES)
        .and_then(|m| m.checked_sub(fast::LANES))
        .and_then(|m| u32::try_from(m).ok())
    else {
        return imp_nodes.is_empty();
    };
    imp_nodes.iter().fold(true, |ok, n| ok & (n.fx <= limit))
}

/// Checks one tree's implicit layout, given [`implicit_in_bounds`]:
/// `depth <= IMPLICIT_MAX_DEPTH`, and its `2^depth - 1` nodes and `2^depth`
/// leaves lie inside the arrays.
pub(crate) fn verify_implicit_tree(
    imp_nodes_len: usize,
    imp_leaves_len: usize,
    pt: &PackedTree,
) -> bool {
    let Some((n0, l0)) = pt.implicit else {
        return true;
    };
    let d = pt.depth as usize;
    if d > IMPLICIT_MAX_DEPTH {
        return false;
    }
    let internal = (1usize << d) - 1;
    (n0 as usize) + internal <= imp_nodes_len && (l0 as usize) + internal < imp_leaves_len
}

/// The checks of [`verify_pointer_tree`] that do not look at the nodes:
/// the tree's node range `root..end`, when it is non-empty, inside `nodes`
/// (slot 0 excluded), deeper than `depth`, and a lone leaf when there are no
/// features (without features there can be no split).
pub(crate) fn pointer_tree_span(
    nodes: &[PackedNode],
    pt: &PackedTree,
    num_features: usize,
) -> Option<(usize, usize)> {
    let (root, len) = (pt.root as usize, pt.len as usize);
    let end = root.checked_add(len)?;
    let ok = len > 0
        && root != 0
        && end <= nodes.len()
        && (pt.depth as usize) < len
        && (num_features > 0 || len == 1);
    ok.then_some((root, end))
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

/// [`step`] for inputs known to hold no NaN: one compare, one add.
#[inline(always)]
#[allow(clippy::neg_cmp_op_on_partial_ord)] // `!(x < t)` is meant: true for a NaN threshold
pub(crate) fn step_no_nan(node: &PackedNode, x: f32) -> u32 {
    node.left + u32::from(!(x < node.threshold))
}

/// The fast kernels: trees whose every node passed
/// [`PackedForest::verify_tree`], walked without bounds checks.
pub(crate) mod fast {
    use super::{FEATURE_MASK, Key, PackedForest, PackedNode, step, step_no_nan};

    /// Rows (or trees) walked together.
    pub(crate) const LANES: usize = 8;

    #[inline(always)]
    fn step_n<const NAN: bool>(node: &PackedNode, x: f32) -> u32 {
        if NAN {
            step(node, x)
        } else {
            step_no_nan(node, x)
        }
    }

    /// Walks levels `levels` of the implicit tree whose nodes start at
    /// `n0` for the `L` rows of a lane-major key group (`xk[c * L + j]`, `c`
    /// a feature copy, see [`super::ImplicitNode`]): `idx[j]` is row `j`'s
    /// tree-local node on level `levels.start` and becomes its node on level
    /// `levels.end`.
    ///
    /// The caller must ensure `n0` starts an implicit tree of depth `>=
    /// levels.end` that passed `verify_implicit_tree`, `idx[j] < 2^(s+1) -
    /// 1` for `s = levels.start` (a node of that level or above), and
    /// `xk.len() >= 2 * p.num_features * L`.
    #[inline(always)]
    pub(crate) unsafe fn implicit_steps<const L: usize, K: Key>(
        p: &PackedForest,
        n0: u32,
        levels: std::ops::Range<u32>,
        idx: &mut [usize; L],
        xk: &[K],
    ) {
        const { assert!(L.is_multiple_of(LANES) && L > 0) };
        let tree_nodes = &p.imp_nodes[n0 as usize..];
        for _ in levels {
            for (j, i) in idx.iter_mut().enumerate() {
                // SAFETY: before step `s` (0-based level) `*i < 2^(s+1) - 1`,
                // which is `<= internal` for `s < depth`, and
                // `verify_implicit_tree` proved `n0 + internal <=
                // imp_nodes.len()`, so the node load is in bounds;
                // `implicit_in_bounds` proved `fx + LANES <= 2 * num_features *
                // LANES` for every node (both checked when the forest was
                // packed or loaded), so `fx * (L / LANES) + j < 2 *
                // num_features * L <= xk.len()` (the caller's contract).
                unsafe {
                    let node = *tree_nodes.get_unchecked(*i);
                    let x = *xk.get_unchecked(node.fx as usize * (L / LANES) + j);
                    *i = 2 * *i + 1 + usize::from(x.right(node));
                }
            }
        }
    }

    /// The leaf values implicit tree `t` gives the [`LANES`] rows of the
    /// lane-major key group `xk` (`xk.len() >= 2 * num_features * LANES`),
    /// walking the rows together. On x86-64 the walk is
    /// [`crate::arch::x86_64::walk::implicit`] (five instructions a step);
    /// elsewhere [`implicit_steps`].
    ///
    /// The caller must ensure `t` is fast with an implicit layout and `xk` is
    /// long enough (the unchecked loads rely on both).
    #[inline(always)]
    pub(crate) unsafe fn implicit_values(
        p: &PackedForest,
        t: &super::PackedTree,
        xk: &[u64],
    ) -> [f32; LANES] {
        let Some((n0, l0)) = t.implicit else {
            unreachable!("implicit_values needs an implicit tree")
        };
        // `depth` steps from slot 0, each to `2i + 1` or `2i + 2`.
        let internal = (1usize << t.depth) - 1;
        let leaves = &p.imp_leaves[l0 as usize..l0 as usize + internal + 1];
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the caller's contract, and `verify_implicit_tree` proved
        // the tree's `internal` nodes lie in `imp_nodes` from `n0`.
        let idx = unsafe {
            crate::arch::x86_64::walk::implicit(&p.imp_nodes[n0 as usize..], t.depth, xk)
        };
        #[cfg(not(target_arch = "x86_64"))]
        let idx = {
            let mut idx = [0usize; LANES];
            // SAFETY: `t` has an implicit layout, every index starts at the
            // root, `xk` is long enough (the caller's contract).
            unsafe { implicit_steps::<LANES, u64>(p, n0, 0..t.depth, &mut idx, xk) };
            idx
        };
        let mut v = [0.0f32; LANES];
        for (v, &i) in v.iter_mut().zip(&idx) {
            *v = leaves[i - internal];
        }
        v
    }

    /// The leaf values pointer-layout tree `t` gives the `L` rows of a
    /// lane-major group (`xg[c * L + j]` is feature `c` of row `j`; `L` a
    /// multiple of [`LANES`]), walking the rows together.
    ///
    /// The caller must ensure `t` is `fast` and `xg.len() >= p.num_features
    /// * L` (the unchecked loads rely on both).
    #[inline(always)]
    pub(crate) unsafe fn pointer_values<const L: usize, const NAN: bool>(
        p: &PackedForest,
        t: &super::PackedTree,
        xg: &[f32],
    ) -> [f32; L] {
        const { assert!(L.is_multiple_of(LANES) && L > 0) };
        let nodes: &[PackedNode] = &p.nodes;
        let mut idx = [t.root; L];
        for _ in 0..t.depth {
            for (j, i) in idx.iter_mut().enumerate() {
                // SAFETY: `*i` starts at a fast tree's root, which
                // `verify_pointer_tree` proved `< nodes.len()`, and every
                // step moves to `left` or `left + 1` of the node, which
                // `nodes_in_bounds` proved `< nodes.len()` for every node
                // (checked when the forest was packed or loaded). Every
                // feature index was proved `< num_features`, so `f * L + j <
                // xg.len()` (the caller's contract).
                unsafe {
                    let node = nodes.get_unchecked(*i as usize);
                    let f = (node.feature & FEATURE_MASK) as usize;
                    *i = step_n::<NAN>(node, *xg.get_unchecked(f * L + j));
                }
            }
        }
        let mut v = [0.0f32; L];
        for (v, &i) in v.iter_mut().zip(&idx) {
            // SAFETY: `i` is a node index of a fast tree (see above);
            // `leaf_value` has one entry per node.
            *v = unsafe { *p.leaf_value.get_unchecked(i as usize) };
        }
        v
    }

    /// One lane-major group of rows in the two forms the kernels read:
    /// values for pointer-layout trees (`xg[c * L + j]`, feature `c` of row
    /// `j`, NaN = missing) and keys for implicit ones (`xk[c * L + j]`, `c`
    /// a feature copy: see [`super::ImplicitNode`]). A form no tree of the
    /// forest reads is left empty.
    #[derive(Clone, Copy)]
    pub(crate) struct Group<'a, K> {
        /// `num_features * L` values.
        pub xg: &'a [f32],
        /// `2 * num_features * L` keys.
        pub xk: &'a [K],
        /// True when some value in the group is NaN.
        pub nan: bool,
    }

    /// Adds the leaf values of trees `trees` to the [`LANES`] rows of one
    /// group, `acc[j * g + o]` being output `o` of row `j`; only the first
    /// `k` rows are written back. For each row the trees are added in
    /// increasing order, as the reference does.
    ///
    /// Every tree in `trees` must be `fast` (checked; panics otherwise).
    #[inline(never)]
    pub(crate) fn group<const NAN: bool>(
        p: &PackedForest,
        trees: std::ops::Range<usize>,
        outputs: &[u32],
        x: Group<'_, u64>,
        acc: &mut [f32],
        g: usize,
        k: usize,
    ) {
        assert!(acc.len() >= k * g && k <= LANES);
        assert!(p.all_fast(trees.clone()));
        let meta = &p.trees[trees.clone()];
        // A form is built only when some tree reads it: checked per tree.
        let values = |t: &super::PackedTree| {
            if t.implicit.is_some() {
                assert!(x.xk.len() >= 2 * p.num_features * LANES);
                // SAFETY: the tree is fast and implicit, `xk` long enough.
                unsafe { implicit_values(p, t, x.xk) }
            } else {
                assert!(x.xg.len() >= p.num_features * LANES);
                // SAFETY: the tree is fast, `xg` long enough.
                unsafe { pointer_values::<LANES, NAN>(p, t, x.xg) }
            }
        };
        if g == 1 {
            let mut s = [0.0f32; LANES];
            s[..k].copy_from_slice(&acc[..k]);
            for t in meta {
                for (sj, v) in s.iter_mut().zip(values(t)) {
                    *sj += v;
                }
            }
            acc[..k].copy_from_slice(&s[..k]);
        } else {
            for (t, meta) in trees.zip(meta) {
                let o = outputs[t] as usize;
                for (j, &v) in values(meta).iter().enumerate().take(k) {
                    acc[j * g + o] += v;
                }
            }
        }
    }

    /// Adds the leaf values of trees `trees` for one row (`row.len() ==
    /// num_features`) to `acc` (one value per output), walking [`LANES`]
    /// trees at once; each tree's value is added in increasing tree order.
    ///
    /// Every tree in `trees` must be `fast` (checked; panics otherwise).
    #[inline(never)]
    pub(crate) fn one_row<const NAN: bool>(
        p: &PackedForest,
        trees: std::ops::Range<usize>,
        outputs: &[u32],
        row: &[f32],
        acc: &mut [f32],
    ) {
        assert!(row.len() >= p.num_features);
        assert!(p.all_fast(trees.clone()));
        let meta = &p.trees[trees.clone()];
        let nodes: &[PackedNode] = &p.nodes;
        let leaf_value: &[f32] = &p.leaf_value;
        let single = acc.len() == 1;
        // One output: the sum stays in a register (the same additions in
        // the same order as into `acc[0]`).
        let mut sum = acc.first().copied().unwrap_or(0.0);
        let mut t0 = 0;
        while t0 < meta.len() {
            let chunk = &meta[t0..(t0 + LANES).min(meta.len())];
            let mut idx = [0u32; LANES];
            let mut depth = 0;
            for (j, i) in idx.iter_mut().enumerate() {
                // Lanes past the last tree repeat it (and are not added).
                let t = chunk[j.min(chunk.len() - 1)];
                *i = t.root;
                depth = depth.max(t.depth);
            }
            // A tree shallower than `depth` sits on its leaf, a fixed point.
            for _ in 0..depth {
                for i in idx.iter_mut() {
                    // SAFETY: as in `group`: indices stay inside their fast
                    // tree, features are `< num_features <= row.len()`.
                    unsafe {
                        let node = nodes.get_unchecked(*i as usize);
                        let f = (node.feature & FEATURE_MASK) as usize;
                        *i = step_n::<NAN>(node, *row.get_unchecked(f));
                    }
                }
            }
            if single {
                for &i in &idx[..chunk.len()] {
                    sum += leaf_value[i as usize];
                }
            } else {
                for (j, &i) in idx[..chunk.len()].iter().enumerate() {
                    acc[outputs[trees.start + t0 + j] as usize] += leaf_value[i as usize];
                }
            }
            t0 += chunk.len();
        }
        if single {
            acc[0] = sum;
        }
    }
}
