//! Compiles the IR into the packed layouts of [`crate::layout`] when a
//! [`Forest`](crate::Forest) is built, rebuilds the IR from them (for a
//! forest loaded from a compiled `.qpack` file, see [`crate::compiled`]), and
//! the fast kernels that walk them ([`fast`]): portable Rust
//! ([`crate::arch::portable`]) or, where an architecture has one, its own
//! walk ([`crate::arch`]).

use crate::buf::Buf;
use crate::layout::{
    IMPLICIT_MAX_DEPTH, ImplicitNode, LANES, PASS_KEY, PackedForest, PackedNode, PackedTree,
    feature_offset, fx_limit, implicit_in_bounds, key_threshold, node_ok, offset_feature,
    threshold_key, verify_implicit_tree, verify_pointer_tree,
};
use crate::tree::{Node, Tree};

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
    pub fn new(e: &crate::tree::TreeEnsemble, num_features: usize) -> PackedForest {
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
        let fx_max = self.num_features.checked_mul(2 * LANES)?;
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

/// The fast kernels: trees whose every node passed [`nodes_in_bounds`] and
/// [`verify_pointer_tree`] (or [`implicit_in_bounds`] and
/// [`verify_implicit_tree`]), walked without bounds checks.
///
/// [`nodes_in_bounds`]: crate::layout::nodes_in_bounds
pub(crate) mod fast {
    use crate::arch::portable;
    #[cfg(not(target_arch = "x86_64"))]
    use crate::arch::portable::{implicit_steps, one_row_steps};
    use crate::layout::{Key, LANES, PackedForest, PackedNode, PackedTree};

    /// The leaf values implicit tree `t` gives the [`LANES`] rows of the
    /// lane-major key group `xk` (`xk.len() >= 2 * num_features * LANES`),
    /// walking the rows together. On x86-64 the walk is
    /// [`crate::arch::x86_64::walk::implicit`] (five instructions a step);
    /// elsewhere [`implicit_steps`](portable::implicit_steps).
    ///
    /// The caller must ensure `t` is fast with an implicit layout and `xk` is
    /// long enough (the unchecked loads rely on both).
    #[inline(always)]
    pub(crate) unsafe fn implicit_values(
        p: &PackedForest,
        t: &PackedTree,
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
    /// [`implicit_steps`](portable::implicit_steps) for the layout), walking the rows together. On
    /// x86-64 with eight 64-bit keys a row the walk is
    /// [`crate::arch::x86_64::walk::pointer`] (six instructions a step);
    /// otherwise [`portable::pointer_values`].
    ///
    /// The caller must ensure `t` is `fast` and `xk.len() >= 2 *
    /// p.num_features * L` (the unchecked loads rely on both).
    #[inline(always)]
    pub(crate) unsafe fn pointer_values<const L: usize, K: Key>(
        p: &PackedForest,
        t: &PackedTree,
        xk: &[K],
    ) -> [f32; L] {
        const { assert!(L.is_multiple_of(LANES) && L > 0) };
        #[cfg(target_arch = "x86_64")]
        if let (LANES, Some(xk)) = (L, K::as_u64(xk)) {
            let nodes: &[PackedNode] = &p.nodes;
            // SAFETY: the walk's contract is this function's (`t` fast: its
            // root is a valid index).
            let idx = unsafe { crate::arch::x86_64::walk::pointer(nodes, t.root, t.depth, xk) };
            let mut v = [0.0f32; L];
            for (v, &i) in v.iter_mut().zip(&idx) {
                // SAFETY: `i` is a node index of a fast tree, the walk's
                // result; `leaf_value` has one entry per node.
                *v = unsafe { *p.leaf_value.get_unchecked(i as usize) };
            }
            return v;
        }
        // SAFETY: the caller's contract is the portable walk's.
        unsafe { portable::pointer_values::<L, K>(p, t, xk) }
    }

    /// Adds the leaf values of trees `trees` to the [`LANES`] rows of the
    /// lane-major key group `xk` (`xk.len() >= 2 * num_features * LANES`,
    /// see [`implicit_steps`](portable::implicit_steps)), `acc[j * g + o]` being output `o` of row `j`;
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
        let values = |t: &PackedTree| {
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

    /// Adds the leaf values of trees `trees` for one row to `acc` (one value
    /// per output), walking [`LANES`] trees at once; each tree's value is
    /// added in increasing tree order. `keys` holds the row's keys as
    /// [`row_keys`](crate::layout::row_keys) writes them (`keys.len() >= 2 * num_features`).
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

    /// Walks one row (its keys as [`row_keys`](crate::layout::row_keys) writes them) `depth` steps
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
}
