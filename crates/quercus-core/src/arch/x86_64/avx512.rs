//! AVX-512 (F + CD): sixteen rows of a lane-major group at once.
//!
//! The top [`TOP_LEVELS`] levels of a tree with an implicit layout are not
//! walked: each of their (at most 31) nodes is compared against the sixteen
//! rows with one unsigned compare of 32-bit keys (the rows' keys of a feature
//! copy are contiguous in the group; see [`crate::layout::ImplicitNode`]), and each row keeps a 32-bit set of the level-5
//! nodes it can still reach (QuickScorer, Lucchese et al., SIGIR 2015): a row
//! that goes right at a node loses the nodes under its left child. The
//! leftmost one left is the one the walk would reach, since the nodes on the
//! walk's path are never removed and every one left of it is removed by the
//! node where the path turned right. The sixteen sets are one vector, updated
//! by one masked AND per node; a leading-zero count turns them into node
//! indices, from which the rows walk the remaining levels as in the portable
//! kernel ([`implicit_steps`]).
//!
//! Level-5 positions are numbered as in a tree of depth 5, leftmost in the
//! top bit: in a tree whose top part has depth `d <= 5`, position `j` is bit
//! `31 - j * 2^(5 - d)`, so the same left-subtree mask serves node `i` at
//! every depth and the leading-zero count, shifted right by `5 - d`, is the
//! position.
//!
//! Trees without an implicit layout are walked sixteen rows at a time by the
//! portable [`pointer_values`], on the same keys. Leaf values are added to each row in increasing
//! tree order with one f32 addition per tree, as the reference does, so the
//! sums are bit-identical.

use std::arch::x86_64::*;

use crate::arch::portable::{implicit_steps, pointer_values};
use crate::layout::{LANES as PORTABLE_LANES, PackedForest, PackedTree};

/// Rows evaluated together.
pub(crate) const LANES: usize = 16;

/// Levels evaluated by bitvectors (32 positions: one `u32` per row).
const TOP_LEVELS: u32 = 5;

/// `LEFT_MASK[i]`: every position bit except those under the left child of
/// node `i` (breadth-first) of the perfect tree of depth 5, position `j` in
/// bit `31 - j`.
const LEFT_MASK: [u32; 31] = {
    let mut m = [0u32; 31];
    let mut i: usize = 0;
    while i < 31 {
        // Node `i` sits on level `l` (`2^l - 1 <= i < 2^(l+1) - 1`) at
        // `pos = i - (2^l - 1)`; it covers `2^(5-l)` positions, the first
        // half of them on its left.
        let l = (usize::BITS - 1 - (i + 1).leading_zeros()) as usize;
        let pos = i + 1 - (1 << l);
        let span = 1usize << (5 - l);
        let first = pos * span;
        let half = span / 2;
        let bits = ((1u32 << half) - 1) << (32 - first - half);
        m[i] = !bits;
        i += 1;
    }
    m
};

/// True when this CPU runs this kernel: AVX-512F and AVX-512CD (the
/// leading-zero count of 32-bit lanes).
pub(crate) fn supported() -> bool {
    std::arch::is_x86_feature_detected!("avx512f")
        && std::arch::is_x86_feature_detected!("avx512cd")
}

/// [`crate::packed::fast::group`] for [`LANES`] rows with AVX-512 (32-bit
/// keys): adds the leaf values of `trees` to rows `0..k` of the lane-major
/// key group `xk` (`xk.len() >= 2 * num_features * LANES`), `acc[j * g + o]`
/// being output `o` of row `j`.
///
/// Every tree in `trees` must be `fast` (checked; panics otherwise).
///
/// # Safety
/// The CPU must support AVX-512F and AVX-512CD ([`supported`]).
#[target_feature(enable = "avx512f,avx512cd")]
pub(crate) unsafe fn group(
    p: &PackedForest,
    trees: std::ops::Range<usize>,
    outputs: &[u32],
    xk: &[u32],
    acc: &mut [f32],
    g: usize,
    k: usize,
) {
    assert!(acc.len() >= k * g && k <= LANES);
    assert!(p.all_fast(trees.clone()));
    assert!(xk.len() >= 2 * p.num_features.max(1) * LANES);
    let meta = &p.trees[trees.clone()];
    let values = |t: &PackedTree| -> __m512 {
        if t.implicit.is_some() {
            // SAFETY: `t` is fast with an implicit layout, and `xk` is long
            // enough; the CPU features are this function's contract.
            unsafe { implicit_values(p, t, xk) }
        } else {
            // SAFETY: `t` is fast and `xk` is long enough.
            let v = unsafe { walk_tree(p, t, xk) };
            // SAFETY: `v` holds sixteen f32.
            unsafe { _mm512_loadu_ps(v.as_ptr()) }
        }
    };
    if g == 1 {
        let kmask: __mmask16 = if k == LANES { !0 } else { (1u16 << k) - 1 };
        // SAFETY: `kmask` covers the first `k <= acc.len()` values.
        let mut s = unsafe { _mm512_maskz_loadu_ps(kmask, acc.as_ptr()) };
        for t in meta {
            s = _mm512_add_ps(s, values(t));
        }
        // SAFETY: as for the load.
        unsafe { _mm512_mask_storeu_ps(acc.as_mut_ptr(), kmask, s) };
    } else {
        let mut lanes = [0f32; LANES];
        for (t, meta) in trees.zip(meta) {
            // SAFETY: `lanes` holds sixteen f32.
            unsafe { _mm512_storeu_ps(lanes.as_mut_ptr(), values(meta)) };
            let o = outputs[t] as usize;
            for (j, &v) in lanes.iter().enumerate().take(k) {
                acc[j * g + o] += v;
            }
        }
    }
}

/// The leaf values of implicit tree `t` for the sixteen rows of the key group
/// `xk`: top levels by bitvectors, the rest walked (see the module docs).
///
/// # Safety
/// `t` must be fast with an implicit layout, `xk.len() >= 2 * p.num_features *
/// LANES`, and the CPU must support AVX-512F and AVX-512CD.
#[inline]
#[target_feature(enable = "avx512f,avx512cd")]
unsafe fn implicit_values(p: &PackedForest, t: &PackedTree, xk: &[u32]) -> __m512 {
    let Some((n0, l0)) = t.implicit else {
        unreachable!("implicit_values needs an implicit tree")
    };
    let d = t.depth;
    let top = d.min(TOP_LEVELS);
    let internal = (1usize << d) - 1;
    let top_nodes = (1usize << top) - 1;
    // In bounds: `verify_implicit_tree` proved `n0 + internal <=
    // imp_nodes.len()` and `l0 + internal < imp_leaves.len()` (checked when
    // the forest was packed or loaded), and `top_nodes <= internal`.
    let nodes = &p.imp_nodes[n0 as usize..n0 as usize + top_nodes];
    let leaves = &p.imp_leaves[l0 as usize..l0 as usize + internal + 1];
    let mut set = _mm512_set1_epi32(-1);
    for (i, node) in nodes.iter().enumerate() {
        // SAFETY: `implicit_in_bounds` proved `fx + PORTABLE_LANES <= 2 *
        // num_features * PORTABLE_LANES` for every implicit node, so the
        // sixteen keys at `fx * 2` end within `2 * num_features * LANES <=
        // xk.len()` (the caller's contract).
        let x = unsafe {
            _mm512_loadu_si512(
                xk.as_ptr().add(node.fx as usize * (LANES / PORTABLE_LANES)) as *const __m512i
            )
        };
        // Left: the row's key below the node's, exactly as the scalar step
        // (a missing value's key in this copy already says where it goes).
        let left = _mm512_cmplt_epu32_mask(x, _mm512_set1_epi32(node.key as i32));
        set = _mm512_mask_and_epi32(set, !left, set, _mm512_set1_epi32(LEFT_MASK[i] as i32));
    }
    // The leftmost position left, in depth-5 numbering, then on level `top`
    // (`min` keeps it below 2^top even for an empty set, which the argument
    // above rules out).
    let pos = _mm512_srlv_epi32(
        _mm512_min_epu32(_mm512_lzcnt_epi32(set), _mm512_set1_epi32(31)),
        _mm512_set1_epi32((TOP_LEVELS - top) as i32),
    );
    if d == top {
        // SAFETY: every position is `<= 31 >> (5 - d) = 2^d - 1 <
        // leaves.len()`.
        return unsafe { _mm512_i32gather_ps::<4>(pos, leaves.as_ptr()) };
    }
    let mut first = [0u32; LANES];
    // SAFETY: `first` holds sixteen u32.
    unsafe {
        _mm512_storeu_si512(
            first.as_mut_ptr() as *mut __m512i,
            _mm512_add_epi32(pos, _mm512_set1_epi32(top_nodes as i32)),
        )
    };
    let mut idx = [0usize; LANES];
    for (i, &f) in idx.iter_mut().zip(&first) {
        *i = f as usize;
    }
    // SAFETY: `t` is implicit of depth `d > top`; every `idx[j] = 2^top - 1
    // + pos` with `pos < 2^top` is a node of level `top`; `xk` is long
    // enough (the caller's contract).
    unsafe { walk_levels(p, n0, top..d, &mut idx, xk) };
    let mut v = [0f32; LANES];
    for (v, &i) in v.iter_mut().zip(&idx) {
        *v = leaves[i - internal];
    }
    // SAFETY: `v` holds sixteen f32.
    unsafe { _mm512_loadu_ps(v.as_ptr()) }
}

// The scalar walks, compiled outside this module's `target_feature`
// context: inlined here, LLVM turns their loop over the sixteen rows into
// AVX-512 gathers, which measured 1.6x slower than the scalar loads.

/// [`pointer_values`] for sixteen rows, not inlined.
///
/// # Safety
/// As [`pointer_values`].
#[inline(never)]
unsafe fn walk_tree(p: &PackedForest, t: &PackedTree, xk: &[u32]) -> [f32; LANES] {
    // SAFETY: the caller's contract is `pointer_values`'s.
    unsafe { pointer_values::<LANES, u32>(p, t, xk) }
}

/// [`implicit_steps`] for sixteen rows, not inlined.
///
/// # Safety
/// As [`implicit_steps`].
#[inline(never)]
unsafe fn walk_levels(
    p: &PackedForest,
    n0: u32,
    levels: std::ops::Range<u32>,
    idx: &mut [usize; LANES],
    xk: &[u32],
) {
    // SAFETY: the caller's contract is `implicit_steps`'s.
    unsafe { implicit_steps::<LANES, u32>(p, n0, levels, idx, xk) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn left_masks_clear_exactly_the_left_subtree() {
        // Root: the left 16 positions (top 16 bits).
        assert_eq!(LEFT_MASK[0], 0x0000_FFFF);
        // Node 2 (right child of the root): positions 16..24.
        assert_eq!(!LEFT_MASK[2], 0x0000_FF00);
        // Level-4 nodes 15..31 each own two positions, the left one cleared.
        for (i, &m) in LEFT_MASK.iter().enumerate().skip(15) {
            assert_eq!(!m, 1u32 << (31 - 2 * (i - 15)));
        }
    }
}
