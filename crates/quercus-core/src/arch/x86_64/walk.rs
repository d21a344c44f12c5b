//! The scalar kernel's walks in x86-64 assembly (baseline instructions only,
//! so no run-time detection): implicit trees ([`implicit`]), pointer-layout
//! trees for a key group ([`pointer()`]) and for one row ([`one_row`]).
//!
//! One step of one row through an implicit tree is five instructions, two of
//! them loads:
//!
//! ```text
//! mov  node, [nodes + i*8 - 8]     ; the node as fx | key << 32 (i is 1-based)
//! mov  fx32, node32                ; its copy of the feature, zero-extended
//! add  i, i                        ; 2i: the left child
//! cmp  [xk + fx*8 + 8j], node      ; CF = the row's key is below the node's
//! sbb  i, -1                       ; 2i + 1 - CF: right child unless CF
//! ```
//!
//! The first step of every row is at the root, whose head is loaded once for
//! the eight rows: four instructions, one load (`mov i, 3`, `mov fx32,
//! root32`, `cmp`, `sbb i, 0`).
//!
//! LLVM compiles the same step written in Rust ([`implicit_steps`]) to seven
//! to nine instructions with a flag-to-register `setcc`, a three-operand
//! `lea`, and, for eight rows, spills to the stack. The portable walks stay the
//! reference (a test here compares each assembly walk with its portable twin,
//! and the kernel tests compare every kernel with the IR traversal) and are
//! what other architectures run.
//!
//! Miri cannot run `asm!`: under `cfg(miri)` each assembly step is replaced
//! by its Rust stand-in (`stand_in`), which reads the same bytes (so Miri
//! checks every read the assembly makes) and takes the portable walks' step.
//!
//! [`implicit_steps`]: crate::arch::portable::implicit_steps

use crate::layout::{ImplicitNode, LANES, PackedNode};

/// Walks the eight rows of the lane-major key group `xk` (64-bit keys, see
/// [`crate::layout::Key`]) through all `depth` levels of the implicit tree
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
/// [`implicit_steps`]: crate::arch::portable::implicit_steps
/// [`implicit_in_bounds`]: crate::layout::implicit_in_bounds
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
            #[cfg(not(miri))]
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
            // SAFETY: the same reads as the assembly's (see above).
            #[cfg(miri)]
            {
                $i = unsafe { stand_in::implicit_step(tk, $i, xp, $j) };
            }
        };
    }
    // Every row starts at the root: its head is loaded once, and the first
    // step of a row reads only the row's key (one load fewer a row).
    let mut levels = depth;
    if depth >= 1 {
        // SAFETY: a tree of depth >= 1 has its root, `nodes[0]`.
        let root = unsafe { nodes.as_ptr().cast::<u64>().read_unaligned() };
        macro_rules! first {
            ($i:ident, $j:literal) => {
                // SAFETY: the root's `fx + LANES <= xk.len()`
                // (`implicit_in_bounds` and the caller's contract); the
                // root's children are numbers 2 and 3.
                $i = unsafe { root_step::<$j>(root, 3, xp) };
            };
        }
        first!(i0, 0);
        first!(i1, 1);
        first!(i2, 2);
        first!(i3, 3);
        first!(i4, 4);
        first!(i5, 5);
        first!(i6, 6);
        first!(i7, 7);
        levels -= 1;
    }
    for _ in 0..levels {
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

/// Walks the eight rows of the lane-major key group `xk` (64-bit keys, see
/// [`crate::layout::Key`]) `depth` steps through the pointer-layout tree
/// whose root is `nodes[root]`, and returns each row's packed index, as
/// [`pointer_values`]'s portable walk does. One step of one row is six
/// instructions, three of them loads:
///
/// ```text
/// lea  t, [i + 2*i]              ; 3i: the node's offset in 4-byte words
/// mov  node, [nodes + t*4]       ; fx | key << 32
/// mov  i32, [nodes + t*4 + 8]    ; left, zero-extended
/// mov  t32, node32               ; fx
/// cmp  [xk + t*8 + 8j], node     ; CF = the row's key is below the node's
/// sbb  i, -1                     ; left + 1 - CF: right child unless CF
/// ```
///
/// # Safety
/// `root` must be the root of a tree that passed [`verify_pointer_tree`]
/// in `nodes`, every node of `nodes` must pass [`nodes_in_bounds`] for a
/// `num_features` with `xk.len() >= 2 * num_features * LANES` (all proved
/// for every fast tree when a forest is packed or loaded).
///
/// [`pointer_values`]: crate::arch::portable::pointer_values
/// [`verify_pointer_tree`]: crate::layout::verify_pointer_tree
/// [`nodes_in_bounds`]: crate::layout::nodes_in_bounds
#[inline(always)]
pub(crate) unsafe fn pointer(
    nodes: &[PackedNode],
    root: u32,
    depth: u32,
    xk: &[u64],
) -> [u32; LANES] {
    // SAFETY: the caller's contract; every lane reads its key at `8j`.
    unsafe { walk_pointer::<true>(nodes, [root; LANES], depth, xk.as_ptr()) }
}

/// Walks one row (its keys as [`row_keys`] writes them, `keys[fx / LANES]`
/// being the key a node with feature offset `fx` reads) `depth` steps through
/// the eight pointer-layout trees whose roots are `roots`, as the portable
/// [`one_row_steps`] does: [`pointer()`]'s step with the key at byte offset
/// `fx` (`8 * fx / LANES`, as `LANES == 8`).
///
/// # Safety
/// Every `roots[j]` must be the root of a fast tree of `nodes` (see
/// [`pointer()`]) and `keys.len() >= 2 * num_features`.
///
/// [`row_keys`]: crate::layout::row_keys
/// [`one_row_steps`]: crate::arch::portable::one_row_steps
#[inline(always)]
pub(crate) unsafe fn one_row(
    nodes: &[PackedNode],
    roots: [u32; LANES],
    depth: u32,
    keys: &[u64],
) -> [u32; LANES] {
    // SAFETY: the caller's contract.
    unsafe { walk_pointer::<false>(nodes, roots, depth, keys.as_ptr()) }
}

/// The walk of [`pointer()`] (`GROUP`: every lane starts at `idx[0]`, the
/// tree's root, and lane `j` reads `xk[fx + j]`, lane-major keys) and
/// [`one_row`] (every lane reads `xk[fx / LANES]`).
///
/// # Safety
/// As [`pointer()`] (`GROUP`) or [`one_row`].
#[inline(always)]
unsafe fn walk_pointer<const GROUP: bool>(
    nodes: &[PackedNode],
    idx: [u32; LANES],
    depth: u32,
    xk: *const u64,
) -> [u32; LANES] {
    const { assert!(LANES == 8 && std::mem::size_of::<PackedNode>() == 12) };
    let np = nodes.as_ptr();
    let [
        mut i0,
        mut i1,
        mut i2,
        mut i3,
        mut i4,
        mut i5,
        mut i6,
        mut i7,
    ] = idx.map(|i| i as usize);
    macro_rules! step {
        ($i:ident, $j:literal) => {
            // SAFETY: `$i` is a node index of a fast tree: the root, then
            // `left` or `left + 1` of a node, which `nodes_in_bounds` proved
            // `< nodes.len()`; so the 12 bytes read at `3 * $i` words are
            // inside `nodes`. Its `fx <= (2 * num_features - 1) * LANES`, a
            // multiple of `LANES` (`nodes_in_bounds`), so the key read is
            // inside `xk` (the caller's contract): `xk[fx + $j]` for a group,
            // the 8 bytes at byte `fx` (`xk[fx / 8]`) for one row. Reads
            // only; the flags are clobbered, which `asm!` assumes.
            #[cfg(not(miri))]
            unsafe {
                if GROUP {
                    std::arch::asm!(
                        "lea {t}, [{i} + {i}*2]",
                        "mov {node}, qword ptr [{np} + {t}*4]",
                        "mov {i:e}, dword ptr [{np} + {t}*4 + 8]",
                        "mov {t:e}, {node:e}",
                        "cmp qword ptr [{xk} + {t}*8 + {off}], {node}",
                        "sbb {i}, -1",
                        i = inout(reg) $i,
                        node = out(reg) _,
                        t = out(reg) _,
                        np = in(reg) np,
                        xk = in(reg) xk,
                        off = const $j * 8,
                        options(pure, readonly, nostack),
                    );
                } else {
                    std::arch::asm!(
                        "lea {t}, [{i} + {i}*2]",
                        "mov {node}, qword ptr [{np} + {t}*4]",
                        "mov {i:e}, dword ptr [{np} + {t}*4 + 8]",
                        "mov {t:e}, {node:e}",
                        "cmp qword ptr [{xk} + {t}], {node}",
                        "sbb {i}, -1",
                        i = inout(reg) $i,
                        node = out(reg) _,
                        t = out(reg) _,
                        np = in(reg) np,
                        xk = in(reg) xk,
                        options(pure, readonly, nostack),
                    );
                }
            }
            // SAFETY: the same reads as the assembly's (see above).
            #[cfg(miri)]
            {
                $i = unsafe { stand_in::pointer_step::<GROUP>(np, $i, xk, $j) };
            }
        };
    }
    // A group's rows all start at the root (`pointer`): its head and `left`
    // are loaded once, and the first step of a row reads only its key.
    let mut levels = depth;
    if GROUP && depth >= 1 {
        let r = idx[0] as usize;
        // SAFETY: `r` is a fast tree's root, a node of `nodes`.
        let (root, right) = unsafe {
            let n = &*np.add(r);
            (
                np.add(r).cast::<u64>().read_unaligned(),
                n.left as usize + 1,
            )
        };
        macro_rules! first {
            ($i:ident, $j:literal) => {
                // SAFETY: the root's `fx` passed `nodes_in_bounds`, so
                // `fx + LANES <= xk.len()` (the caller's contract).
                $i = unsafe { root_step::<$j>(root, right, xk) };
            };
        }
        first!(i0, 0);
        first!(i1, 1);
        first!(i2, 2);
        first!(i3, 3);
        first!(i4, 4);
        first!(i5, 5);
        first!(i6, 6);
        first!(i7, 7);
        levels -= 1;
    }
    for _ in 0..levels {
        step!(i0, 0);
        step!(i1, 1);
        step!(i2, 2);
        step!(i3, 3);
        step!(i4, 4);
        step!(i5, 5);
        step!(i6, 6);
        step!(i7, 7);
    }
    [i0, i1, i2, i3, i4, i5, i6, i7].map(|i| i as u32)
}

/// The first step of lane `J` from a root shared by every lane: compares the
/// row's key `xk[fx + J]` with the root's head `root` (`fx | key << 32`) and
/// returns `right` when the key is not below the root's, `right - 1`
/// otherwise. Four instructions, one load.
///
/// # Safety
/// `xk` must be valid for reads of `fx + J + 1` keys, `fx` being `root`'s low
/// half.
#[inline(always)]
unsafe fn root_step<const J: usize>(root: u64, right: usize, xk: *const u64) -> usize {
    #[cfg(miri)]
    // SAFETY: the read of the assembly below (the caller's contract).
    return unsafe { stand_in::root_step::<J>(root, right, xk) };
    #[cfg(not(miri))]
    {
        let mut i = right;
        // SAFETY: the key read is `xk[fx + J]` (the caller's contract). Reads
        // only; the flags are clobbered, which `asm!` assumes.
        unsafe {
            std::arch::asm!(
                "mov {t:e}, {root:e}",
                "cmp qword ptr [{xk} + {t}*8 + {off}], {root}",
                // right - CF: the left child when the key is below.
                "sbb {i}, 0",
                i = inout(reg) i,
                t = out(reg) _,
                root = in(reg) root,
                xk = in(reg) xk,
                off = const J * 8,
                options(pure, readonly, nostack),
            );
        }
        i
    }
}

/// The assembly steps in Rust, for Miri, which cannot run `asm!`: each
/// reads the bytes its assembly reads (so Miri checks those reads) and
/// computes the step of the portable walks (the one the assembly is tested
/// against): [`Key::right`] of the row's 64-bit key at the node, the
/// comparison the assembly's `cmp` / `sbb` make.
#[cfg(miri)]
mod stand_in {
    use crate::layout::{ImplicitNode, Key, PackedNode, step};

    /// [`super::implicit`]'s step: node number `i` (1-based, slot `i - 1`
    /// of `tk`) to `2i` (left) or `2i + 1`, reading lane `j`'s key of the
    /// node's feature copy.
    ///
    /// # Safety
    /// The reads of the assembly step: node slot `i - 1` of `tk` and key
    /// `fx + j` of `xk` are valid.
    #[inline(always)]
    pub(super) unsafe fn implicit_step(
        tk: *const ImplicitNode,
        i: usize,
        xk: *const u64,
        j: usize,
    ) -> usize {
        // SAFETY: the caller's contract.
        unsafe {
            let node = tk.add(i - 1).read();
            let x = xk.add(node.fx as usize + j).read();
            2 * i + usize::from(x.right(node.fx, node.key))
        }
    }

    /// [`super::walk_pointer`]'s step: node `i` of `np` to `left` or `left +
    /// 1`, reading lane `j`'s key `xk[fx + j]` (`GROUP`) or the row's key
    /// at byte `fx` of `xk`.
    ///
    /// # Safety
    /// The reads of the assembly step: node `i` of `np`, and that key.
    #[inline(always)]
    pub(super) unsafe fn pointer_step<const GROUP: bool>(
        np: *const PackedNode,
        i: usize,
        xk: *const u64,
        j: usize,
    ) -> usize {
        // SAFETY: the caller's contract.
        unsafe {
            let node = np.add(i).read();
            let x = if GROUP {
                xk.add(node.fx as usize + j).read()
            } else {
                xk.byte_add(node.fx as usize).read_unaligned()
            };
            step(&node, x) as usize
        }
    }

    /// [`super::root_step`]: `right`, or `right - 1` when lane `J`'s key
    /// `xk[fx + J]` is below the root's head `root` (`fx | key << 32`).
    ///
    /// # Safety
    /// As [`super::root_step`]'s.
    #[inline(always)]
    pub(super) unsafe fn root_step<const J: usize>(
        root: u64,
        right: usize,
        xk: *const u64,
    ) -> usize {
        // SAFETY: the caller's contract.
        let x = unsafe { xk.add(root as u32 as usize + J).read() };
        right - usize::from(x < root)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arch::portable::{implicit_steps, one_row_steps};
    use crate::layout::{Key, PackedForest, input_keys, row_keys, step};
    use crate::predict::tests::random_tree;
    use crate::tree::TreeEnsemble;

    /// Random trees and key groups (fewer under Miri, which runs the
    /// assembly's Rust stand-ins about a thousand times slower).
    const TREES: usize = if cfg!(miri) { 30 } else { 300 };
    const ROUNDS: u64 = if cfg!(miri) { 2 } else { 50 };

    /// Random trees (implicit and pointer layout) over `nf` features.
    fn forest(rng: &mut u64, nf: usize) -> PackedForest {
        let trees: Vec<_> = (0..TREES).map(|_| random_tree(rng, nf, 7)).collect();
        let n = trees.len();
        let e =
            TreeEnsemble::new(trees, vec![0; n], None, TreeEnsemble::uniform_rounds(n, 1)).unwrap();
        PackedForest::new(&e, nf)
    }

    /// Feature `c` of row `j` in round `round`: a grid with missing values.
    fn value(round: u64, c: usize, j: usize) -> f32 {
        let h = (round * 131 + (c * LANES + j) as u64 * 7919) % 13;
        if h == 0 {
            f32::NAN
        } else {
            h as f32 * 0.25 - 1.0
        }
    }

    /// The lane-major 64-bit key group of `LANES` rows of `nf` features.
    fn key_group(round: u64, nf: usize) -> Vec<u64> {
        let mut xk = vec![0u64; 2 * nf * LANES];
        for c in 0..nf {
            for j in 0..LANES {
                let [right, left] = input_keys(value(round, c, j));
                xk[2 * c * LANES + j] = u64::from_key(right);
                xk[(2 * c + 1) * LANES + j] = u64::from_key(left);
            }
        }
        xk
    }

    /// Both pointer-layout walks end where the portable steps do: eight rows
    /// through one tree, and one row through eight trees at once.
    #[test]
    fn pointer_walks_equal_the_portable_walks() {
        let mut rng = 11u64;
        let nf = 5;
        let p = forest(&mut rng, nf);
        let trees: Vec<_> = p.trees.iter().filter(|t| t.fast).collect();
        assert!(trees.iter().any(|t| t.implicit.is_none() && t.depth >= 7));
        for round in 0..ROUNDS {
            let xk = key_group(round, nf);
            for t in &trees {
                let mut want = [t.root; LANES];
                for _ in 0..t.depth {
                    for (j, i) in want.iter_mut().enumerate() {
                        let node = &p.nodes[*i as usize];
                        *i = step(node, xk[node.fx as usize + j]);
                    }
                }
                // SAFETY: `t` is a fast tree of `p`, `xk` holds both copies
                // of every feature for eight rows.
                let got = unsafe { pointer(&p.nodes, t.root, t.depth, &xk) };
                assert_eq!(got, want, "tree at {}, round {round}", t.root);
            }
            let row: Vec<f32> = (0..nf).map(|c| value(round, c, 3)).collect();
            let mut keys = vec![0u64; 2 * nf];
            row_keys(&row, &mut keys);
            for chunk in trees.chunks(LANES).filter(|c| c.len() == LANES) {
                let roots: [u32; LANES] = std::array::from_fn(|j| chunk[j].root);
                let depth = chunk.iter().map(|t| t.depth).max().unwrap();
                let mut want = roots;
                // SAFETY: every root is a fast tree's, `keys` holds both
                // copies of every feature.
                let got = unsafe {
                    one_row_steps(&p.nodes, &mut want, depth, &keys);
                    one_row(&p.nodes, roots, depth, &keys)
                };
                assert_eq!(got, want, "round {round}");
            }
        }
    }

    /// The assembly walk ends every row on the node the portable walk does,
    /// on random implicit trees and key groups with missing values.
    #[test]
    fn assembly_walk_equals_the_portable_walk() {
        let mut rng = 7u64;
        let nf = 5;
        let p = forest(&mut rng, nf);
        let shallow: Vec<_> = p.trees.iter().filter(|t| t.implicit.is_some()).collect();
        assert!(shallow.len() > TREES / 3);
        for round in 0..ROUNDS {
            let xk = key_group(round, nf);
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
