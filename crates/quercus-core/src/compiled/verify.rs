//! The load-time checks of the packed trees of a compiled file: what the
//! fast kernels' unchecked loads rely on, proved for a file that may be
//! hostile even with a valid checksum (see [`crate::layout`]).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use super::CHECKSUM_CHUNK;
use crate::error::{Error, Result};
use crate::layout::{
    ImplicitNode, PackedForest, PackedNode, implicit_in_bounds, node_ok, nodes_in_bounds,
    verify_implicit_tree,
};
use crate::tree::Tree;
use crate::verify::pointer_tree_in_bounds;

/// Checks every packed tree of a compiled file (see the module docs), but
/// for the passes over every node, which it leaves to [`check_nodes`].
pub(super) fn verify(
    p: &PackedForest,
    slow: &[(usize, Tree)],
    num_outputs: usize,
) -> Result<NodeChecks> {
    let n = p.trees.len();
    let bad =
        |t: usize, msg: &str| Error::invalid_model(format!("compiled tree: {msg}")).with_tree(t);
    if p.round_ptr.first() != Some(&0)
        || p.round_ptr.last() != Some(&n)
        || p.round_ptr.windows(2).any(|w| w[0] > w[1])
    {
        return Err(Error::invalid_model(
            "compiled round boundaries do not cover the trees in order",
        ));
    }
    if p.leaf_value.len() != p.nodes.len() {
        return Err(Error::invalid_model(
            "compiled arrays have different lengths",
        ));
    }
    // (Without fast trees the node array is only the unused placeholder.)
    let any_fast = p.trees.iter().any(|t| t.fast);
    // The writer lays the fast trees out one after the other from slot 1.
    // Then the per-tree check below (`pointer_tree_in_bounds`) covers every
    // node but the placeholder, and together they prove `nodes_in_bounds`
    // without a second pass over the nodes; otherwise it runs in full.
    let mut next_root = 1usize;
    for pt in p.trees.iter().filter(|t| t.fast) {
        next_root = if pt.root as usize == next_root {
            next_root.saturating_add(pt.len as usize)
        } else {
            usize::MAX
        };
    }
    let placeholder_ok = p
        .nodes
        .first()
        .is_some_and(|n| node_ok(n, p.nodes.len(), p.num_features));
    let tiled = next_root == p.nodes.len() && placeholder_ok;
    let mut slow = slow.iter().peekable();
    for (t, pt) in p.trees.iter().enumerate() {
        let stored = slow.next_if(|(i, _)| *i == t);
        match stored {
            Some((_, tree)) if tree.leaf_width() > 1 && tree.leaf_width() != num_outputs => {
                return Err(bad(t, "leaf vectors do not match the outputs"));
            }
            None if !pt.fast => return Err(bad(t, "a tree is neither packed nor stored")),
            _ => {}
        }
        if tree_output_invalid(p, t, num_outputs, stored.map(|(_, tr)| tr)) {
            return Err(bad(t, "adds to an output the model does not have"));
        }
        if !pt.fast {
            continue;
        }
        if !verify_implicit_tree(p.imp_nodes.len(), p.imp_leaves.len(), pt) {
            return Err(bad(t, "implicit layout is out of range"));
        }
        // The IR is rebuilt from the packed nodes on demand, one node each
        // (`rebuild_tree` copes with any node numbers).
        if stored.is_none() && pt.ir_len != pt.len {
            return Err(bad(t, "node count is inconsistent"));
        }
    }
    Ok(NodeChecks {
        all_nodes: any_fast && !tiled,
    })
}

/// The passes over every node that [`verify`] leaves: each fast tree's
/// [`pointer_tree_in_bounds`], [`implicit_in_bounds`] over the implicit
/// nodes and, when the fast trees do not tile the node array,
/// [`nodes_in_bounds`] over all of it. They read most of the file, so for a
/// large file [`read`](super::read()) runs them a chunk at a time, right
/// after the checksum has read the same bytes.
#[derive(Clone, Copy)]
pub(super) struct NodeChecks {
    /// Run [`nodes_in_bounds`] over the whole node array.
    pub(super) all_nodes: bool,
}

/// Failures found by [`check_nodes`], from any thread.
pub(super) struct NodeFailures {
    /// The first tree that failed [`pointer_tree_in_bounds`] (`usize::MAX`:
    /// none).
    tree: AtomicUsize,
    /// Some node failed [`implicit_in_bounds`] or [`nodes_in_bounds`].
    nodes: AtomicBool,
}

impl NodeFailures {
    pub(super) fn new() -> NodeFailures {
        NodeFailures {
            tree: AtomicUsize::new(usize::MAX),
            nodes: AtomicBool::new(false),
        }
    }

    /// The error for what was found, if anything.
    pub(super) fn result(&self, checks: NodeChecks, p: &PackedForest) -> Result<()> {
        if self.nodes.load(Ordering::Relaxed)
            || (checks.all_nodes && !nodes_in_bounds(&p.nodes, p.num_features))
        {
            return Err(Error::invalid_model(
                "compiled nodes point outside the node array or use features the model does not have",
            ));
        }
        match self.tree.load(Ordering::Relaxed) {
            usize::MAX => {
                // What the fast kernels' unchecked loads rely on (see `verify`).
                debug_assert!(
                    !p.trees.iter().any(|t| t.fast) || nodes_in_bounds(&p.nodes, p.num_features)
                );
                Ok(())
            }
            t => Err(Error::invalid_model(
                "compiled tree: packed nodes are out of range or not a tree",
            )
            .with_tree(t)),
        }
    }
}

/// Runs the per-tree and implicit-node checks of part `part` of the file
/// (`(i, n)`: the trees and implicit nodes that start in checksum chunk `i`
/// of `n`, see [`CHECKSUM_CHUNK`]; `None`: all of them), recording failures
/// in `failed`. The parts of `0..n` partition the trees and the implicit
/// nodes, so running every part checks each exactly once.
pub(super) fn check_nodes(
    p: &PackedForest,
    file: &[u8],
    part: Option<(usize, usize)>,
    failed: &NodeFailures,
) {
    let base = file.as_ptr() as usize;
    // The chunk a byte address of the file falls in (the header's first 32
    // bytes count as chunk 0, anything outside the file as the nearest).
    let chunk_of = |at: usize, n: usize| {
        let at = at.wrapping_sub(base);
        (at.saturating_sub(32) / CHECKSUM_CHUNK).min(n - 1)
    };
    let nodes_at = p.nodes.as_ptr() as usize;
    let mine = |at: usize| part.is_none_or(|(i, n)| chunk_of(at, n) == i);
    for (t, pt) in p.trees.iter().enumerate() {
        let at = nodes_at.wrapping_add(pt.root as usize * std::mem::size_of::<PackedNode>());
        if pt.fast && mine(at) && !pointer_tree_in_bounds(&p.nodes, pt, p.num_features) {
            failed.tree.fetch_min(t, Ordering::Relaxed);
        }
    }
    // The implicit nodes starting in chunk `i`: a contiguous range, as the
    // nodes lie in order inside the file (if they did not, all go to part 0).
    let imp = &p.imp_nodes;
    let size = std::mem::size_of::<ImplicitNode>();
    let imp_at = imp.as_ptr() as usize;
    let inside = imp_at >= base && imp_at - base + imp.len() * size <= file.len();
    let first_in = |i: usize, n: usize| -> usize {
        if i == 0 {
            return 0;
        }
        let chunk = |k: usize| {
            if inside {
                chunk_of(imp_at + k * size, n)
            } else {
                0
            }
        };
        let (mut lo, mut hi) = (0, imp.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if chunk(mid) < i {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    };
    let range = match part {
        None => 0..imp.len(),
        Some((i, n)) => {
            first_in(i, n)..if i + 1 == n {
                imp.len()
            } else {
                first_in(i + 1, n)
            }
        }
    };
    if !implicit_in_bounds(&imp[range], p.num_features) {
        failed.nodes.store(true, Ordering::Relaxed);
    }
}

fn tree_output_invalid(
    p: &PackedForest,
    t: usize,
    num_outputs: usize,
    tree: Option<&Tree>,
) -> bool {
    let vector = tree.is_some_and(|tr| tr.leaf_width() > 1);
    !vector
        && p.tree_outputs
            .get(t)
            .is_none_or(|&o| o as usize >= num_outputs)
}
