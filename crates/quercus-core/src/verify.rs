//! The load-time proof for one pointer-layout tree of a compiled file, in one
//! pass: [`verify_pointer_tree`] (the nodes form one breadth-first tree) and,
//! for the tree's own nodes, what [`nodes_in_bounds`] checks (children inside
//! the node array, feature offsets and keys valid).
//!
//! [`nodes_in_bounds`]: crate::layout::nodes_in_bounds

use crate::layout::{PackedNode, PackedTree, node_ok, verify_pointer_tree};

/// True when tree `pt` passes [`verify_pointer_tree`] and each of its nodes
/// `root..root + len` passes the [`nodes_in_bounds`] predicate ([`node_ok`])
/// against the whole array.
///
/// The shape check alone implies the children part (a leaf's `left + 1` is
/// itself, a split's children are claimed slots of the tree), so the fast
/// path checks the shape, the feature offsets and the keys; the portable
/// path checks everything literally. Both give the same answer for every
/// input (tested).
///
/// [`nodes_in_bounds`]: crate::layout::nodes_in_bounds
pub(crate) fn pointer_tree_in_bounds(
    nodes: &[PackedNode],
    pt: &PackedTree,
    num_features: usize,
) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2 (checked just above), the only
            // requirement of the `#[target_feature]` function.
            return unsafe { x86::pointer_tree_in_bounds(nodes, pt, num_features) };
        }
    }
    portable(nodes, pt, num_features)
}

/// The reference: the two checks as written in `packed`.
pub(crate) fn portable(nodes: &[PackedNode], pt: &PackedTree, num_features: usize) -> bool {
    if !verify_pointer_tree(nodes, pt, num_features) {
        return false;
    }
    let (root, end) = (pt.root as usize, pt.root as usize + pt.len as usize);
    nodes[root..end]
        .iter()
        .all(|n| node_ok(n, nodes.len(), num_features))
}

/// Exclusive prefix counts of the set bits of a byte: byte `j` of
/// `PREFIX[m]` is the number of bits of `m` below bit `j`.
const PREFIX: [u64; 256] = {
    let mut t = [0u64; 256];
    let mut m = 0;
    while m < 256 {
        let mut v = 0u64;
        let mut count = 0u64;
        let mut j = 0;
        while j < 8 {
            v |= count << (8 * j);
            count += (m >> j) as u64 & 1;
            j += 1;
        }
        t[m] = v;
        m += 1;
    }
    t
};

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    use super::PREFIX;
    use crate::layout::{
        KEY_RANGE, LANES, PASS_KEY, PackedNode, PackedTree, fx_limit, head_ok, pointer_tree_span,
    };

    /// [`super::pointer_tree_in_bounds`] eight nodes at a time: the serial
    /// "next unclaimed slot" of [`verify_pointer_tree`] becomes a prefix count
    /// of the splits among the eight (a table lookup on their mask).
    ///
    /// [`verify_pointer_tree`]: crate::layout::verify_pointer_tree
    #[target_feature(enable = "avx2")]
    pub(super) fn pointer_tree_in_bounds(
        nodes: &[PackedNode],
        pt: &PackedTree,
        num_features: usize,
    ) -> bool {
        let Some((root, end)) = pointer_tree_span(nodes, pt, num_features) else {
            return false;
        };
        // Node indices and `i + 1` below are u32 lanes.
        if end >= u32::MAX as usize {
            return super::portable(nodes, pt, num_features);
        }
        let Some(limit) = fx_limit(num_features.max(1)) else {
            return false;
        };
        // The next slot a split must claim (u64: a hostile tree can push it
        // past u32; then it can never come back to `end` and the tree fails).
        let mut next = root as u64 + 1;
        let mut i = root;
        let iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        let one = _mm256_set1_epi32(1);
        // Where the `fx`, `key` and `left` words of eight 12-byte nodes sit
        // in the three 32-byte loads that cover them.
        let fx_a = _mm256_setr_epi32(0, 3, 6, 0, 0, 0, 0, 0);
        let fx_b = _mm256_setr_epi32(0, 0, 0, 1, 4, 7, 0, 0);
        let fx_c = _mm256_setr_epi32(0, 0, 0, 0, 0, 0, 2, 5);
        let key_a = _mm256_setr_epi32(1, 4, 7, 0, 0, 0, 0, 0);
        let key_b = _mm256_setr_epi32(0, 0, 0, 2, 5, 0, 0, 0);
        let key_c = _mm256_setr_epi32(0, 0, 0, 0, 0, 0, 3, 6);
        let left_a = _mm256_setr_epi32(2, 5, 0, 0, 0, 0, 0, 0);
        let left_b = _mm256_setr_epi32(0, 0, 0, 3, 6, 0, 0, 0);
        let left_c = _mm256_setr_epi32(0, 0, 0, 0, 0, 1, 4, 7);
        let mut ok = _mm256_set1_epi32(-1);
        // The largest `fx`, the OR of all (for the low bits), and whether
        // every key was valid: `head_ok` over the lanes at the end.
        let mut fx_max = _mm256_setzero_si256();
        let mut fx_or = _mm256_setzero_si256();
        let (key_lo, key_hi) = KEY_RANGE;
        let lo = _mm256_set1_epi32(key_lo as i32);
        let span = _mm256_set1_epi32((key_hi - key_lo) as i32);
        let pass = _mm256_set1_epi32(PASS_KEY as i32);
        let base = nodes.as_ptr().cast::<u8>();
        while i + 8 <= end {
            // SAFETY: nodes `i..i + 8` are inside `nodes` (`i + 8 <= end <=
            // nodes.len()`), so the 96 bytes read are inside the slice; the
            // loads are unaligned loads of plain integers.
            let (a, b, c) = unsafe {
                let p = base.add(i * std::mem::size_of::<PackedNode>());
                (
                    _mm256_loadu_si256(p.cast()),
                    _mm256_loadu_si256(p.add(32).cast()),
                    _mm256_loadu_si256(p.add(64).cast()),
                )
            };
            // Node j's words: fx 3j, key 3j + 1, left 3j + 2.
            // Feature offsets: words 0, 3, 6 | 9, 12, 15 | 18, 21.
            let fx = _mm256_blend_epi32::<0b1100_0000>(
                _mm256_blend_epi32::<0b0011_1000>(
                    _mm256_permutevar8x32_epi32(a, fx_a),
                    _mm256_permutevar8x32_epi32(b, fx_b),
                ),
                _mm256_permutevar8x32_epi32(c, fx_c),
            );
            // Lefts: words 2, 5 | 8, 11, 14 | 17, 20, 23.
            let left = _mm256_blend_epi32::<0b1110_0000>(
                _mm256_blend_epi32::<0b0001_1100>(
                    _mm256_permutevar8x32_epi32(a, left_a),
                    _mm256_permutevar8x32_epi32(b, left_b),
                ),
                _mm256_permutevar8x32_epi32(c, left_c),
            );
            // Keys: words 1, 4, 7 | 10, 13 | 16, 19, 22.
            let key = _mm256_blend_epi32::<0b1110_0000>(
                _mm256_blend_epi32::<0b0001_1000>(
                    _mm256_permutevar8x32_epi32(a, key_a),
                    _mm256_permutevar8x32_epi32(b, key_b),
                ),
                _mm256_permutevar8x32_epi32(c, key_c),
            );
            let idx = _mm256_add_epi32(_mm256_set1_epi32(i as i32), iota);
            // A leaf's `left + 1` is itself.
            let leaf = _mm256_cmpeq_epi32(_mm256_add_epi32(left, one), idx);
            let leaves = _mm256_movemask_ps(_mm256_castsi256_ps(leaf)) as u32;
            let splits = !leaves & 0xff;
            // The slot split j must claim: `next` plus two per split before it.
            let before = _mm256_cvtepu8_epi32(_mm_cvtsi64_si128(PREFIX[splits as usize] as i64));
            let expected = _mm256_add_epi32(
                _mm256_set1_epi32(next as u32 as i32),
                _mm256_slli_epi32::<1>(before),
            );
            // ... and lies after the split (`left >= i + 1`, unsigned).
            let after =
                _mm256_cmpeq_epi32(_mm256_max_epu32(left, _mm256_add_epi32(idx, one)), left);
            let split_ok = _mm256_and_si256(_mm256_cmpeq_epi32(left, expected), after);
            ok = _mm256_and_si256(ok, _mm256_or_si256(leaf, split_ok));
            fx_max = _mm256_max_epu32(fx_max, fx);
            fx_or = _mm256_or_si256(fx_or, fx);
            // A key is PASS_KEY or `key - lo <= span` (unsigned).
            let d = _mm256_sub_epi32(key, lo);
            let in_range = _mm256_cmpeq_epi32(_mm256_min_epu32(d, span), d);
            ok = _mm256_and_si256(ok, _mm256_or_si256(in_range, _mm256_cmpeq_epi32(key, pass)));
            next += 2 * u64::from(splits.count_ones());
            i += 8;
        }
        let mut all = _mm256_movemask_ps(_mm256_castsi256_ps(ok)) == 0xff;
        let mut fmax = [0u32; 8];
        let mut f_or = [0u32; 8];
        // SAFETY: both arrays are 32 bytes; unaligned stores.
        unsafe {
            _mm256_storeu_si256(fmax.as_mut_ptr().cast(), fx_max);
            _mm256_storeu_si256(f_or.as_mut_ptr().cast(), fx_or);
        }
        // Every offset at most `limit` and a multiple of `LANES` (`head_ok`).
        let f_or = f_or.iter().fold(0, |o, &f| o | f);
        let fmax = fmax.iter().copied().max().unwrap_or(0);
        all &= (fmax <= limit) & f_or.is_multiple_of(LANES as u32);
        // The last `< 8` nodes, as `verify_pointer_tree` does them.
        for (i, n) in (i..end).zip(&nodes[i..end]) {
            let l = u64::from(n.left);
            let leaf = l + 1 == i as u64;
            all &= leaf | ((l == next) & (l > i as u64));
            all &= head_ok(n.fx, n.key, limit);
            next += 2 * u64::from(!leaf);
        }
        // Every split claimed two slots inside the tree, and only those exist.
        all && next == end as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::{LANES, PASS_KEY, feature_offset, threshold_key};

    /// A random full binary tree in the breadth-first pointer layout at
    /// `root`, after `root` filler nodes.
    fn tree(rng: &mut u64, root: usize, leaves_max: usize) -> (Vec<PackedNode>, PackedTree) {
        let mut next = || {
            *rng ^= *rng << 13;
            *rng ^= *rng >> 7;
            *rng ^= *rng << 17;
            *rng
        };
        let mut nodes: Vec<PackedNode> = (0..root)
            .map(|_| PackedNode {
                fx: 0,
                key: PASS_KEY,
                left: 0,
            })
            .collect();
        // Breadth-first: a queue of (slot, depth); splits claim the next two.
        let mut splits_left = next() as usize % leaves_max.max(1);
        nodes.push(PackedNode {
            fx: 0,
            key: PASS_KEY,
            left: 0,
        });
        let mut depth = vec![0u32; root + 1];
        let mut s = root;
        while s < nodes.len() {
            if splits_left > 0 && next() % 3 != 0 {
                splits_left -= 1;
                let l = nodes.len() as u32;
                let r = next();
                nodes[s] = PackedNode {
                    fx: feature_offset((r % 5) as u32, r & 8 != 0),
                    key: threshold_key((r >> 8) as u32 as f32 * 1e-3 - 2e6),
                    left: l,
                };
                for _ in 0..2 {
                    nodes.push(PackedNode {
                        fx: 0,
                        key: PASS_KEY,
                        left: 0,
                    });
                    depth.push(depth[s] + 1);
                }
            } else {
                nodes[s] = PackedNode::leaf(s as u32);
            }
            s += 1;
        }
        let len = (nodes.len() - root) as u32;
        let pt = PackedTree {
            root: root as u32,
            len,
            depth: depth.iter().copied().max().unwrap_or(0),
            ir_len: len,
            fast: true,
            implicit: None,
        };
        (nodes, pt)
    }

    #[test]
    fn the_fast_check_agrees_with_the_reference_on_valid_and_broken_trees() {
        let mut rng = 0x9E37_79B9_7F4A_7C15u64;
        let mut accepted = 0;
        for case in 0..if cfg!(miri) { 120 } else { 4000 } {
            let root = 1 + case % 11;
            let (mut nodes, pt) = tree(&mut rng, root, 1 + case % 90);
            assert!(
                portable(&nodes, &pt, 5),
                "case {case}: a valid tree is rejected"
            );
            assert!(pointer_tree_in_bounds(&nodes, &pt, 5), "case {case}");
            // Break it: one field of one node of the tree.
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            let k = root + rng as usize % pt.len as usize;
            let v = (rng >> 20) as u32;
            // Keys no threshold has (around the range of value keys).
            let bad_keys = [0, 2, 0x007F_FFFE, 0xFF80_0001, u32::MAX];
            match (rng >> 8) % 9 {
                0 => nodes[k].left = v % (nodes.len() as u32 + 3),
                1 => nodes[k].left = nodes[k].left.wrapping_add(1),
                2 => nodes[k].left = nodes[k].left.wrapping_sub(2),
                // Features 0..=6 of five, either direction.
                3 => nodes[k].fx = (v % 14) * LANES as u32,
                4 => nodes[k].left = u32::MAX - v % 3,
                5 => nodes[k].fx |= 1 << 31,
                6 => nodes[k].fx += 1 + v % (LANES as u32 - 1),
                7 => nodes[k].key = bad_keys[v as usize % bad_keys.len()],
                // Valid keys: -0, +inf, -inf, PASS_KEY.
                _ => nodes[k].key = [0x7FFF_FFFF, 0xFF80_0000, 0x007F_FFFF, 1][v as usize % 4],
            }
            let want = portable(&nodes, &pt, 5);
            accepted += usize::from(want);
            assert_eq!(pointer_tree_in_bounds(&nodes, &pt, 5), want, "case {case}");
            // And with the tree records themselves off.
            for pt in [
                PackedTree {
                    len: pt.len - 1,
                    ..pt
                },
                PackedTree {
                    len: pt.len + 1,
                    ..pt
                },
                PackedTree {
                    root: pt.root - 1,
                    ..pt
                },
                PackedTree {
                    depth: pt.len,
                    ..pt
                },
            ] {
                if pt.root as usize + pt.len as usize <= nodes.len() {
                    assert_eq!(
                        pointer_tree_in_bounds(&nodes, &pt, 5),
                        portable(&nodes, &pt, 5),
                        "case {case}"
                    );
                }
            }
            for nf in [0, 1, 3] {
                assert_eq!(
                    pointer_tree_in_bounds(&nodes, &pt, nf),
                    portable(&nodes, &pt, nf),
                    "case {case}"
                );
            }
        }
        // Some mutations keep a valid tree (a feature or key still valid).
        assert!(accepted > 0 && accepted < 4000, "{accepted}");
    }

    #[test]
    fn the_prefix_table_counts_the_bits_below() {
        for (m, counts) in PREFIX.iter().enumerate() {
            for j in 0..8 {
                let want = (m & ((1 << j) - 1)).count_ones() as u64;
                assert_eq!((counts >> (8 * j)) & 0xff, want);
            }
        }
    }
}
