//! The packed layouts the fast kernels walk, as data: node types, the
//! integer keys splits compare, and the invariants the kernels' unchecked
//! loads rely on. [`crate::packed`] compiles the IR into these layouts (and
//! [`crate::compiled`] stores and memory-maps them); the kernels, portable
//! ([`crate::arch::portable`]) and arch-specific ([`crate::arch`]), walk
//! them. This module depends on neither, so both can depend on it.
//!
//! **Pointer layout** (every fast tree): each tree's nodes renumbered
//! breadth-first so the two children of a split are adjacent (`right == left +
//! 1`), 12 bytes a node ([`PackedNode`]: integer keys, as the implicit layout's),
//! all trees in one array. A leaf is a fixed point of the traversal step: its
//! key is [`PASS_KEY`] (so every value goes "right", a missing one too, by the
//! copy of feature 0 that sends it right), and its `left` is its own index
//! minus one (slot 0 is a placeholder that belongs to no tree). A tree can
//! therefore be walked for exactly `depth` steps with no per-row branch,
//! whatever depth each row's leaf is at.
//!
//! **Implicit layout** (fast trees with little padding): see [`ImplicitNode`].

use crate::buf::{Buf, Pod};

/// Rows (or trees) walked together.
pub(crate) const LANES: usize = 8;

/// One node of the pointer layout: a numeric split, or a leaf (see the
/// module docs). The split compares integer keys as an [`ImplicitNode`]
/// does, and its first eight bytes are laid out as one: read as a
/// little-endian `u64` they are `fx | key << 32`.
#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(C)]
pub(crate) struct PackedNode {
    /// The offset of the node's copy of its feature in a key group (see
    /// [`feature_offset`]); 0 for a leaf.
    pub fx: u32,
    /// [`threshold_key`] of the split threshold; [`PASS_KEY`] for a leaf.
    pub key: u32,
    /// Packed index of the left child (the right child is `left + 1`).
    pub left: u32,
}

// SAFETY: repr(C), three 4-byte fields, no padding; any bits are a value.
unsafe impl Pod for PackedNode {}

impl PackedNode {
    /// A leaf at packed index `slot >= 1`: every value goes right, to
    /// `left + 1 == slot`, itself.
    pub(crate) fn leaf(slot: u32) -> PackedNode {
        PackedNode {
            fx: 0,
            key: PASS_KEY,
            left: slot - 1,
        }
    }
}

/// The offset `(2 * feature + default_left) * LANES` of a split's copy of
/// its feature in a lane-major key group (see [`ImplicitNode`]).
pub(crate) fn feature_offset(feature: u32, default_left: bool) -> u32 {
    (2 * feature + u32::from(default_left)) * LANES as u32
}

/// The feature and default direction (true: left) of feature offset `fx`
/// (the inverse of [`feature_offset`]).
pub(crate) fn offset_feature(fx: u32) -> (u32, bool) {
    let c = fx / LANES as u32;
    (c / 2, c % 2 == 1)
}

/// The threshold a node compares against, from its key (the inverse of
/// [`threshold_key`] on valid keys).
pub(crate) fn key_threshold(key: u32) -> f32 {
    if key == PASS_KEY {
        f32::NAN
    } else if key & 0x8000_0000 != 0 {
        f32::from_bits(key & 0x7FFF_FFFF)
    } else {
        f32::from_bits(!key)
    }
}

/// The smallest and largest keys of a non-NaN value (of -inf and +inf).
pub(crate) const KEY_RANGE: (u32, u32) = (0x007F_FFFF, 0xFF80_0000);

/// True when a node's `fx` and `key` are what the kernels and the rebuilt IR
/// agree on: `fx` a multiple of [`LANES`] up to `fx_limit`, `key` the
/// key of a threshold ([`PASS_KEY`], or a non-NaN value's key). Branch-free.
#[inline(always)]
pub(crate) fn head_ok(fx: u32, key: u32, fx_limit: u32) -> bool {
    (fx <= fx_limit)
        & fx.is_multiple_of(LANES as u32)
        & ((key == PASS_KEY) | (key.wrapping_sub(KEY_RANGE.0) <= KEY_RANGE.1 - KEY_RANGE.0))
}

/// The largest valid `fx` for `num_features` features: the last copy's
/// [`LANES`] keys end the group of `2 * num_features * LANES` keys.
/// `None` when there are no features or the offset does not fit a `u32`.
pub(crate) fn fx_limit(num_features: usize) -> Option<u32> {
    num_features
        .checked_mul(2 * LANES)
        .and_then(|m| m.checked_sub(LANES))
        .and_then(|m| u32::try_from(m).ok())
}

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
    /// of its feature in a lane-major key group (see [`LANES`]).
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
    order_key(if x == 0.0 { 0.0 } else { x })
}

/// The sign-flip order of the bits of `x`: negative values (larger
/// magnitude, smaller key) below positive ones; -0 one below +0.
#[inline(always)]
fn order_key(x: f32) -> u32 {
    let b = x.to_bits();
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

/// The key a node compares against: [`PASS_KEY`] for NaN, else the
/// threshold's order key, -0 kept apart from +0 (so [`key_threshold`] gives
/// back its bits): no value has the key of -0, so `value_key(x) <
/// threshold_key(t)` exactly when `x < t` for either zero too.
pub(crate) fn threshold_key(t: f32) -> u32 {
    if t.is_nan() { PASS_KEY } else { order_key(t) }
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
/// kernel, which compares a node's first eight bytes read as `fx | key <<
/// 32` against `key << 32 | 0xFFFF_FFFF` (greater or equal exactly when the
/// input key is, as `fx < 2^32 - 1`).
pub(crate) trait Key: Copy + Default + Send + Sync {
    /// The stored form of key `k`.
    fn from_key(k: u32) -> Self;
    /// True when the value goes right at a node with feature offset `fx`
    /// and key `key`: its key is not below the node's.
    fn right(self, fx: u32, key: u32) -> bool;
    /// `keys` as 64-bit keys, when they are (what the x86-64 assembly walks
    /// read).
    fn as_u64(keys: &[Self]) -> Option<&[u64]>;
}

impl Key for u32 {
    #[inline(always)]
    fn from_key(k: u32) -> u32 {
        k
    }
    #[inline(always)]
    fn right(self, _fx: u32, key: u32) -> bool {
        self >= key
    }
    #[inline(always)]
    fn as_u64(_keys: &[u32]) -> Option<&[u64]> {
        None
    }
}

impl Key for u64 {
    #[inline(always)]
    fn from_key(k: u32) -> u64 {
        (u64::from(k) << 32) | 0xFFFF_FFFF
    }
    #[inline(always)]
    fn right(self, fx: u32, key: u32) -> bool {
        self >= (u64::from(key) << 32) | u64::from(fx)
    }
    #[inline(always)]
    fn as_u64(keys: &[u64]) -> Option<&[u64]> {
        Some(keys)
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

impl PackedForest {
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
}

/// The invariant the pointer-layout kernels' unchecked loads rely on, over
/// the whole node array: every node passes [`node_ok`]. A walk that starts
/// at a valid index therefore only ever loads valid nodes and keys, whatever
/// the input. One pass, no branches.
pub(crate) fn nodes_in_bounds(nodes: &[PackedNode], num_features: usize) -> bool {
    u32::try_from(nodes.len()).is_ok()
        && nodes
            .iter()
            .fold(true, |ok, n| ok & node_ok(n, nodes.len(), num_features))
}

/// One node of an array of `len` nodes, for `num_features` features: its
/// `left` and `left + 1` are indices of the array, and [`head_ok`] with the
/// [`fx_limit`] of `max(num_features, 1)` features (a step loads a leaf's
/// key too; a forest without features has only single-leaf trees, never
/// stepped). Branch-free.
#[inline(always)]
pub(crate) fn node_ok(n: &PackedNode, len: usize, num_features: usize) -> bool {
    let limit = fx_limit(num_features.max(1)).unwrap_or(0);
    ((n.left as usize) + 1 < len) & head_ok(n.fx, n.key, limit)
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
/// `num_features` features (two copies each), and every node passes
/// [`head_ok`]. One pass, no branches.
pub(crate) fn implicit_in_bounds(imp_nodes: &[ImplicitNode], num_features: usize) -> bool {
    let Some(limit) = fx_limit(num_features) else {
        return imp_nodes.is_empty();
    };
    imp_nodes
        .iter()
        .fold(true, |ok, n| ok & head_ok(n.fx, n.key, limit))
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

/// Fills `keys[c]` (`c < 2 * row.len()`) with the 64-bit key of feature
/// copy `c` of one row (see [`ImplicitNode`]): what [`one_row`]
/// reads, the key a node with feature offset `fx` compares against being
/// `keys[fx / LANES]`.
///
/// [`one_row`]: crate::packed::fast::one_row
pub(crate) fn row_keys(row: &[f32], keys: &mut [u64]) {
    for (k, &v) in keys.chunks_exact_mut(2).zip(row) {
        let [right, left] = input_keys(v);
        k[0] = u64::from_key(right);
        k[1] = u64::from_key(left);
    }
}

/// The next packed index for input key `x` (see [`Key`]) at `node`: `left`,
/// or `left + 1` when the key is not below the node's. A missing value's key
/// depends on the copy the node reads (see [`ImplicitNode`]).
#[inline(always)]
pub(crate) fn step<K: Key>(node: &PackedNode, x: K) -> u32 {
    node.left + u32::from(x.right(node.fx, node.key))
}

/// The key of row value `x` at a node with feature offset `fx`: the key of
/// the copy the node reads.
#[inline(always)]
pub(crate) fn row_key(x: f32, fx: u32) -> u32 {
    input_keys(x)[offset_feature(fx).1 as usize]
}
