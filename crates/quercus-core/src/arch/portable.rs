//! The portable walks: plain Rust over the layouts of [`crate::layout`].
//! They are the reference every architecture-specific walk is tested
//! against, what other architectures run, and what the arch-specific
//! kernels use for the parts they do not accelerate.

use crate::layout::{Key, LANES, PackedForest, PackedNode, PackedTree, step};

/// Walks levels `levels` of the implicit tree whose nodes start at
/// `n0` for the `L` rows of a lane-major key group (`xk[c * L + j]`, `c`
/// a feature copy, see [`ImplicitNode`]): `idx[j]` is row `j`'s
/// tree-local node on level `levels.start` and becomes its node on level
/// `levels.end`.
///
/// The caller must ensure `n0` starts an implicit tree of depth `>=
/// levels.end` that passed `verify_implicit_tree`, `idx[j] < 2^(s+1) -
/// 1` for `s = levels.start` (a node of that level or above), and
/// `xk.len() >= 2 * p.num_features * L`.
///
/// [`ImplicitNode`]: crate::layout::ImplicitNode
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

/// The leaf values pointer-layout tree `t` gives the `L` rows of a
/// lane-major key group `xk` (`L` a multiple of [`LANES`]; see
/// [`implicit_steps`] for the layout), walking the rows together.
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
    let nodes: &[PackedNode] = &p.nodes;
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

/// Walks one row (its keys as [`row_keys`] writes them, `keys[fx / LANES]`
/// being the key a node with feature offset `fx` reads) `depth` steps
/// through the [`LANES`] fast trees whose roots are `idx`: the portable
/// walk of [`one_row`] (the reference of the assembly walk).
///
/// The caller must ensure every `idx[j]` is the root of a fast tree and
/// `keys.len() >= 2 * num_features`.
///
/// [`row_keys`]: crate::layout::row_keys
/// [`one_row`]: crate::packed::fast::one_row
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
            // SAFETY: as in [`pointer_values`]: indices stay inside their
            // fast tree, and `fx / LANES < 2 * num_features <=
            // keys.len()`.
            unsafe {
                let node = nodes.get_unchecked(*i as usize);
                *i = step(node, *keys.get_unchecked(node.fx as usize / LANES));
            }
        }
    }
}
