//! The scalar kernel's implicit-tree walk in x86-64 assembly (baseline
//! instructions only, so no run-time detection).
//!
//! One step of one row is five instructions, two of them loads:
//!
//! ```text
//! mov  node, [nodes + i*8 - 8]     ; the node as fx | key << 32 (i is 1-based)
//! mov  fx32, node32                ; its copy of the feature, zero-extended
//! add  i, i                        ; 2i: the left child
//! cmp  [xk + fx*8 + 8j], node      ; CF = the row's key is below the node's
//! sbb  i, -1                       ; 2i + 1 - CF: right child unless CF
//! ```
//!
//! LLVM compiles the same step written in Rust ([`implicit_steps`]) to seven
//! to nine instructions with a flag-to-register `setcc`, a three-operand
//! `lea`, and, for eight rows, spills to the stack. The portable walk stays the
//! reference (every kernel test compares this one with it) and is what other
//! architectures run.
//!
//! [`implicit_steps`]: crate::packed::fast::implicit_steps

use crate::packed::ImplicitNode;
use crate::packed::fast::LANES;

/// Walks the eight rows of the lane-major key group `xk` (64-bit keys, see
/// [`crate::packed::Key`]) through all `depth` levels of the implicit tree
/// whose nodes start at `nodes[0]`, and returns each row's tree-local node on
/// the last level (`2^depth - 1 ..= 2^(depth+1) - 2`), as [`implicit_steps`]
/// from the root does.
///
/// # Safety
/// `nodes` must hold at least the tree's `2^depth - 1` nodes and every one of
/// them must satisfy [`implicit_in_bounds`] for a `num_features` with
/// `xk.len() >= 2 * num_features * LANES` (both proved for every implicit
/// tree when a forest is packed or loaded).
///
/// [`implicit_steps`]: crate::packed::fast::implicit_steps
/// [`implicit_in_bounds`]: crate::packed::implicit_in_bounds
#[inline(always)]
pub(crate) unsafe fn implicit(nodes: &[ImplicitNode], depth: u32, xk: &[u64]) -> [usize; LANES] {
    const { assert!(LANES == 8) };
    debug_assert!(nodes.len() >= (1usize << depth) - 1);
    let tk = nodes.as_ptr();
    let xp = xk.as_ptr();
    // 1-based node numbers: the root is 1, the children of `i` are `2i` and
    // `2i + 1`, so one `add` and one `sbb` make the step.
    let [
        mut i0,
        mut i1,
        mut i2,
        mut i3,
        mut i4,
        mut i5,
        mut i6,
        mut i7,
    ] = [1usize; LANES];
    macro_rules! step {
        ($i:ident, $j:literal) => {
            // SAFETY: before step `s`, `1 <= $i < 2^(s+1)`, so the node read
            // (number `$i`, slot `$i - 1`) is one of the first `2^depth - 1`
            // for `s < depth`, inside `nodes` (the caller's contract); its
            // `fx + LANES <= 2 * num_features * LANES <= xk.len()`
            // (`implicit_in_bounds`), so the key read at `fx + $j` is inside
            // `xk`. Reads only; the flags are clobbered, which `asm!` assumes.
            unsafe {
                std::arch::asm!(
                    "mov {node}, qword ptr [{tk} + {i}*8 - 8]",
                    "mov {fx:e}, {node:e}",
                    "add {i}, {i}",
                    "cmp qword ptr [{xk} + {fx}*8 + {off}], {node}",
                    "sbb {i}, -1",
                    i = inout(reg) $i,
                    node = out(reg) _,
                    fx = out(reg) _,
                    tk = in(reg) tk,
                    xk = in(reg) xp,
                    off = const $j * 8,
                    options(pure, readonly, nostack),
                );
            }
        };
    }
    for _ in 0..depth {
        step!(i0, 0);
        step!(i1, 1);
        step!(i2, 2);
        step!(i3, 3);
        step!(i4, 4);
        step!(i5, 5);
        step!(i6, 6);
        step!(i7, 7);
    }
    // 1-based number `i` on level `depth` is tree-local slot `i - 1`.
    [i0, i1, i2, i3, i4, i5, i6, i7].map(|i| i - 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::forest::TreeEnsemble;
    use crate::packed::fast::implicit_steps;
    use crate::packed::{Key, PackedForest, input_keys};
    use crate::predict::tests::random_tree;

    /// The assembly walk ends every row on the node the portable walk does,
    /// on random implicit trees and key groups with missing values.
    #[test]
    fn assembly_walk_equals_the_portable_walk() {
        let mut rng = 7u64;
        let nf = 5;
        let trees: Vec<_> = (0..300).map(|_| random_tree(&mut rng, nf, 7)).collect();
        let n = trees.len();
        let e =
            TreeEnsemble::new(trees, vec![0; n], None, TreeEnsemble::uniform_rounds(n, 1)).unwrap();
        let p = PackedForest::new(&e, nf);
        let shallow: Vec<_> = p.trees.iter().filter(|t| t.implicit.is_some()).collect();
        assert!(shallow.len() > 100);
        for round in 0..50u64 {
            let mut xk = vec![0u64; 2 * nf * LANES];
            for c in 0..nf {
                for j in 0..LANES {
                    let h = (round * 131 + (c * LANES + j) as u64 * 7919) % 13;
                    let v = if h == 0 {
                        f32::NAN
                    } else {
                        h as f32 * 0.25 - 1.0
                    };
                    let [right, left] = input_keys(v);
                    xk[2 * c * LANES + j] = u64::from_key(right);
                    xk[(2 * c + 1) * LANES + j] = u64::from_key(left);
                }
            }
            for t in &shallow {
                let (n0, _) = t.implicit.unwrap();
                let mut want = [0usize; LANES];
                // SAFETY: `t` is implicit in `p` and `xk` holds both copies
                // of every feature.
                let got = unsafe {
                    implicit_steps::<LANES, u64>(&p, n0, 0..t.depth, &mut want, &xk);
                    implicit(&p.imp_nodes[n0 as usize..], t.depth, &xk)
                };
                assert_eq!(got, want, "tree at {n0}, round {round}");
            }
        }
    }
}
