//! The packed layouts the fast kernels walk, compiled once from the IR when a
//! [`Forest`](crate::Forest) is built (or memory-mapped from a compiled
//! `.qpack` file, see [`crate::compiled`]).
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
use crate::forest::{Node, Tree};

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
    (2 * feature + u32::from(default_left)) * fast::LANES as u32
}

/// The feature and default direction (true: left) of feature offset `fx`
/// (the inverse of [`feature_offset`]).
pub(crate) fn offset_feature(fx: u32) -> (u32, bool) {
    let c = fx / fast::LANES as u32;
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
/// agree on: `fx` a multiple of [`fast::LANES`] up to `fx_limit`, `key` the
/// key of a threshold ([`PASS_KEY`], or a non-NaN value's key). Branch-free.
#[inline(always)]
pub(crate) fn head_ok(fx: u32, key: u32, fx_limit: u32) -> bool {
    (fx <= fx_limit)
        & fx.is_multiple_of(fast::LANES as u32)
        & ((key == PASS_KEY) | (key.wrapping_sub(KEY_RANGE.0) <= KEY_RANGE.1 - KEY_RANGE.0))
}

/// The largest valid `fx` for `num_features` features: the last copy's
/// [`fast::LANES`] keys end the group of `2 * num_features * LANES` keys.
/// `None` when there are no features or the offset does not fit a `u32`.
pub(crate) fn fx_limit(num_features: usize) -> Option<u32> {
    num_features
        .checked_mul(2 * fast::LANES)
        .and_then(|m| m.checked_sub(fast::LANES))
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
                && u32::try_from(b.nodes.len() + tree.nodes().len()).is_ok()
                && fx_limit(num_features.max(1)).is_some();
            if fast {
                pt.root = b.nodes.len() as u32;
                b.push_pointer(tree);
                pt.len = b.nodes.len() as u32 - pt.root;
                pt.fast = true;
                pt.implicit = b.push_implicit(tree);
                let range = pt.root as usize..b.nodes.len();
                // `nodes_in_bounds` restricted to this tree's nodes.
                let in_bounds = b.nodes[range]
                    .iter()
                    .all(|n| node_ok(n, b.nodes.len(), num_features));
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
                let (feature, default_left) = offset_feature(n.fx);
                Node::Split {
                    feature,
                    threshold: key_threshold(n.key),
                    default_left,
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
                    // `feature < num_features`, whose offsets fit a `u32`
                    // (checked by `new`).
                    self.nodes[s] = PackedNode {
                        fx: feature_offset(feature, default_left),
                        key: threshold_key(threshold),
                        left: l,
                    };
                    queue.push_back((left as usize, l));
                    queue.push_back((right as usize, l + 1));
                }
                Node::Leaf { value } => {
                    self.leaf_value[s] = value;
                    // `slot >= 1` (slot 0 is the placeholder).
                    self.nodes[s] = PackedNode::leaf(slot);
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
                        fx: feature_offset(feature, default_left),
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
            fx: 0,
            key: PASS_KEY,
            left: 0,
        });
        self.leaf_value.push(0.0);
        self.original.push(orig);
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

/// The fast kernels: trees whose every node passed [`nodes_in_bounds`] and
/// [`verify_pointer_tree`] (or [`implicit_in_bounds`] and
/// [`verify_implicit_tree`]), walked without bounds checks.
pub(crate) mod fast {
    use super::{Key, PackedForest, PackedNode, step};

    /// Rows (or trees) walked together.
    pub(crate) const LANES: usize = 8;

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
                    *i = 2 * *i + 1 + usize::from(x.right(node.fx, node.key));
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
    /// lane-major key group `xk` (`L` a multiple of [`LANES`]; see
    /// [`implicit_steps`] for the layout), walking the rows together. On
    /// x86-64 with eight 64-bit keys a row the walk is
    /// [`crate::arch::x86_64::walk::pointer`] (six instructions a step).
    ///
    /// The caller must ensure `t` is `fast` and `xk.len() >= 2 *
    /// p.num_features * L` (the unchecked loads rely on both).
    #[inline(always)]
    pub(crate) unsafe fn pointer_values<const L: usize, K: Key>(
        p: &PackedForest,
        t: &super::PackedTree,
        xk: &[K],
    ) -> [f32; L] {
        const { assert!(L.is_multiple_of(LANES) && L > 0) };
        let nodes: &[PackedNode] = &p.nodes;
        #[cfg(target_arch = "x86_64")]
        if let (LANES, Some(xk)) = (L, K::as_u64(xk)) {
            // SAFETY: the walk's contract is this function's (`t` fast: its
            // root is a valid index).
            let idx = unsafe { crate::arch::x86_64::walk::pointer(nodes, t.root, t.depth, xk) };
            let mut v = [0.0f32; L];
            for (v, &i) in v.iter_mut().zip(&idx) {
                // SAFETY: `i` is a node index of a fast tree (see below).
                *v = unsafe { *p.leaf_value.get_unchecked(i as usize) };
            }
            return v;
        }
        let mut idx = [t.root; L];
        for _ in 0..t.depth {
            for (j, i) in idx.iter_mut().enumerate() {
                // SAFETY: `*i` starts at a fast tree's root, which
                // `verify_pointer_tree` proved `< nodes.len()`, and every
                // step moves to `left` or `left + 1` of the node, which
                // `nodes_in_bounds` proved `< nodes.len()` for every node
                // (checked when the forest was packed or loaded). Every
                // `fx` was proved `<= (2 * num_features - 1) * LANES`, so
                // `fx * (L / LANES) + j < 2 * num_features * L <= xk.len()`
                // (the caller's contract).
                unsafe {
                    let node = nodes.get_unchecked(*i as usize);
                    *i = step(node, *xk.get_unchecked(node.fx as usize * (L / LANES) + j));
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

    /// Adds the leaf values of trees `trees` to the [`LANES`] rows of the
    /// lane-major key group `xk` (`xk.len() >= 2 * num_features * LANES`,
    /// see [`implicit_steps`]), `acc[j * g + o]` being output `o` of row `j`;
    /// only the first `k` rows are written back. For each row the trees are
    /// added in increasing order, as the reference does.
    ///
    /// Every tree in `trees` must be `fast` (checked; panics otherwise).
    #[inline(never)]
    pub(crate) fn group(
        p: &PackedForest,
        trees: std::ops::Range<usize>,
        outputs: &[u32],
        xk: &[u64],
        acc: &mut [f32],
        g: usize,
        k: usize,
    ) {
        assert!(acc.len() >= k * g && k <= LANES);
        assert!(p.all_fast(trees.clone()));
        assert!(xk.len() >= 2 * p.num_features.max(1) * LANES);
        let meta = &p.trees[trees.clone()];
        let values = |t: &super::PackedTree| {
            if t.implicit.is_some() {
                // SAFETY: the tree is fast and implicit, `xk` long enough.
                unsafe { implicit_values(p, t, xk) }
            } else {
                // SAFETY: the tree is fast, `xk` long enough.
                unsafe { pointer_values::<LANES, u64>(p, t, xk) }
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

    /// Fills `keys[c]` (`c < 2 * row.len()`) with the 64-bit key of feature
    /// copy `c` of one row (see [`super::ImplicitNode`]): what [`one_row`]
    /// reads, the key a node with feature offset `fx` compares against being
    /// `keys[fx / LANES]`.
    pub(crate) fn row_keys(row: &[f32], keys: &mut [u64]) {
        for (k, &v) in keys.chunks_exact_mut(2).zip(row) {
            let [right, left] = super::input_keys(v);
            k[0] = u64::from_key(right);
            k[1] = u64::from_key(left);
        }
    }

    /// Adds the leaf values of trees `trees` for one row to `acc` (one value
    /// per output), walking [`LANES`] trees at once; each tree's value is
    /// added in increasing tree order. `keys` holds the row's keys as
    /// [`row_keys`] writes them (`keys.len() >= 2 * num_features`).
    ///
    /// Every tree in `trees` must be `fast` (checked; panics otherwise).
    #[inline(never)]
    pub(crate) fn one_row(
        p: &PackedForest,
        trees: std::ops::Range<usize>,
        outputs: &[u32],
        keys: &[u64],
        acc: &mut [f32],
    ) {
        assert!(keys.len() >= 2 * p.num_features.max(1));
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
            let mut roots = [0u32; LANES];
            let mut depth = 0;
            for (j, i) in roots.iter_mut().enumerate() {
                // Lanes past the last tree repeat it (and are not added).
                let t = chunk[j.min(chunk.len() - 1)];
                *i = t.root;
                depth = depth.max(t.depth);
            }
            // A tree shallower than `depth` sits on its leaf, a fixed point.
            // SAFETY: every root is a fast tree's, `keys` is long enough.
            let idx = unsafe { one_row_walk(nodes, roots, depth, keys) };
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

    /// Walks one row (its keys as [`row_keys`] writes them) `depth` steps
    /// through the [`LANES`] fast trees whose roots are `idx`. On x86-64 the
    /// walk is [`crate::arch::x86_64::walk::one_row`].
    ///
    /// The caller must ensure every `idx[j]` is the root of a fast tree and
    /// `keys.len() >= 2 * num_features`.
    #[inline(always)]
    unsafe fn one_row_walk(
        nodes: &[PackedNode],
        idx: [u32; LANES],
        depth: u32,
        keys: &[u64],
    ) -> [u32; LANES] {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the caller's contract is the walk's.
        return unsafe { crate::arch::x86_64::walk::one_row(nodes, idx, depth, keys) };
        #[cfg(not(target_arch = "x86_64"))]
        {
            let mut idx = idx;
            // SAFETY: the caller's contract.
            unsafe { one_row_steps(nodes, &mut idx, depth, keys) };
            idx
        }
    }

    /// The portable [`one_row_walk`] (the reference of the assembly walk).
    ///
    /// The caller must ensure what [`one_row_walk`] requires.
    #[cfg_attr(all(target_arch = "x86_64", not(test)), allow(dead_code))]
    #[inline(always)]
    pub(crate) unsafe fn one_row_steps(
        nodes: &[PackedNode],
        idx: &mut [u32; LANES],
        depth: u32,
        keys: &[u64],
    ) {
        for _ in 0..depth {
            for i in idx.iter_mut() {
                // SAFETY: as in `pointer_values`: indices stay inside their
                // fast tree, and `fx / LANES < 2 * num_features <=
                // keys.len()`.
                unsafe {
                    let node = nodes.get_unchecked(*i as usize);
                    *i = step(node, *keys.get_unchecked(node.fx as usize / LANES));
                }
            }
        }
    }
}
