//! [`write()`]: a [`Forest`] to the bytes of a compiled file.

use super::{
    ALIGN, FLAG_FAST, FLAG_IMPLICIT, FLAG_IR_STORED, FLAG_NUMBERED_IN_ORDER, HEADER, MAGIC,
    VERSION, checksum, id,
};
use crate::buf::as_bytes;
use crate::forest::{Booster, Categories, FeatureType, Forest, Summation};
use crate::objective::Sigmoid;
use crate::tree::{CategoryOutOfRange, Node, Tree};

/// Compiles `forest` to the `.qpack` bytes, with `extra` (the caller's
/// metadata, opaque here) stored alongside.
pub fn write(forest: &Forest, extra: &[u8]) -> Vec<u8> {
    let p = forest.packed();
    let mut meta = Writer::default();
    meta.u64(forest.num_features() as u64);
    meta.u64(forest.num_outputs() as u64);
    meta.f32s(forest.base_margin());
    meta.str(forest.objective().name());
    let sem = forest.semantics();
    meta.u8(match sem.summation {
        Summation::Modern => 0,
        Summation::Legacy => 1,
    });
    meta.u8(match sem.sigmoid {
        Sigmoid::Clamped => 0,
        Sigmoid::Plain => 1,
    });
    meta.u8(match sem.category_out_of_range {
        CategoryOutOfRange::Left => 0,
        CategoryOutOfRange::DefaultChild => 1,
    });
    meta.u32(forest.feature_names().len() as u32);
    for n in forest.feature_names() {
        meta.str(n);
    }
    meta.u32(forest.feature_types().len() as u32);
    for t in forest.feature_types() {
        meta.u8(match t {
            FeatureType::Numeric => 0,
            FeatureType::Categorical => 1,
        });
    }
    let mut trees = Writer::default();
    let mut ir = Writer::default();
    // Node numbers of the fast trees not numbered in order, tree after tree.
    let mut original = Vec::new();
    match forest.booster() {
        Booster::Linear(l) => {
            meta.u8(1);
            meta.f32s(l.weights());
        }
        Booster::Trees(e) => {
            meta.u8(0);
            // The features the packed splits were checked against (what the
            // kernels read), at most `num_features`.
            meta.u64(p.num_features as u64);
            meta.u32s(&p.tree_outputs);
            meta.u32(p.round_ptr.len() as u32);
            for &r in &p.round_ptr {
                meta.u64(r as u64);
            }
            match e.weights() {
                Some(w) => {
                    meta.u8(1);
                    meta.f32s(w);
                }
                None => meta.u8(0),
            }
            let stored: Vec<usize> = (0..p.trees.len())
                .filter(|&t| {
                    let pt = &p.trees[t];
                    // Unreachable nodes (pruned trees) are kept as they were.
                    !pt.fast || pt.ir_len != pt.len
                })
                .collect();
            for (t, pt) in p.trees.iter().enumerate() {
                let (n0, l0) = pt.implicit.unwrap_or((0, 0));
                let nodes = pt.root as usize..(pt.root + pt.len) as usize;
                let in_order =
                    pt.fast && (0..).zip(&p.original[nodes.clone()]).all(|(k, &o)| o == k);
                if pt.fast && !in_order {
                    original.extend_from_slice(as_bytes(&p.original[nodes]));
                }
                let flags = u32::from(pt.fast) * FLAG_FAST
                    + u32::from(pt.implicit.is_some()) * FLAG_IMPLICIT
                    + u32::from(stored.binary_search(&t).is_ok()) * FLAG_IR_STORED
                    + u32::from(in_order) * FLAG_NUMBERED_IN_ORDER;
                for v in [pt.root, pt.len, pt.depth, pt.ir_len, flags, n0, l0, 0] {
                    trees.u32(v);
                }
            }
            ir.u32(stored.len() as u32);
            for &t in &stored {
                ir.u32(t as u32);
                write_tree(&mut ir, &e.trees()[t]);
            }
        }
    }
    let mut cats = Writer::default();
    if !forest.categories().is_empty() {
        cats.u32(forest.categories().len() as u32);
        for c in forest.categories() {
            match c {
                None => cats.u8(0),
                Some(Categories::Strings(v)) => {
                    cats.u8(1);
                    cats.u32(v.len() as u32);
                    for s in v {
                        cats.str(s);
                    }
                }
                Some(Categories::Numbers(v)) => {
                    cats.u8(2);
                    cats.u32(v.len() as u32);
                    for x in v {
                        cats.u64(x.to_bits());
                    }
                }
            }
        }
    }
    let mut sections: Vec<(u32, &[u8])> = vec![
        (id::META, &meta.0),
        (id::NODES, as_bytes(&p.nodes)),
        (id::LEAF_VALUE, as_bytes(&p.leaf_value)),
        (id::ORIGINAL, &original),
        (id::TREES, &trees.0),
        (id::IMP_NODES, as_bytes(&p.imp_nodes)),
        (id::IMP_LEAVES, as_bytes(&p.imp_leaves)),
        (id::IR_TREES, &ir.0),
        (id::EXTRA, extra),
    ];
    if !cats.0.is_empty() {
        sections.push((id::CATEGORIES, &cats.0));
    }
    let mut out = vec![0u8; HEADER + sections.len() * 24];
    let mut table = Vec::new();
    for (sid, bytes) in &sections {
        out.resize(out.len().next_multiple_of(ALIGN), 0);
        table.push((*sid, out.len() as u64, bytes.len() as u64));
        out.extend_from_slice(bytes);
    }
    out[..8].copy_from_slice(MAGIC);
    out[8..12].copy_from_slice(&VERSION.to_le_bytes());
    out[12..16].copy_from_slice(&(HEADER as u32).to_le_bytes());
    let len = out.len() as u64;
    out[16..24].copy_from_slice(&len.to_le_bytes());
    out[32..36].copy_from_slice(&(sections.len() as u32).to_le_bytes());
    for (i, (sid, off, n)) in table.iter().enumerate() {
        let at = HEADER + i * 24;
        out[at..at + 4].copy_from_slice(&sid.to_le_bytes());
        out[at + 8..at + 16].copy_from_slice(&off.to_le_bytes());
        out[at + 16..at + 24].copy_from_slice(&n.to_le_bytes());
    }
    let sum = checksum(&out[32..]);
    out[24..32].copy_from_slice(&sum.to_le_bytes());
    out
}

fn write_tree(w: &mut Writer, tree: &Tree) {
    w.u32(tree.leaf_width() as u32);
    w.u32(tree.nodes().len() as u32);
    for n in tree.nodes() {
        match *n {
            Node::Split {
                feature,
                threshold,
                default_left,
                left,
                right,
                categories,
            } => {
                w.u8(0);
                w.u32(feature);
                w.f32(threshold);
                w.u8(u8::from(default_left));
                w.u32(left);
                w.u32(right);
                w.u32(categories.map_or(u32::MAX, |c| c));
            }
            Node::Leaf { value } => {
                w.u8(1);
                w.f32(value);
            }
            Node::VectorLeaf { index } => {
                w.u8(2);
                w.u32(index);
            }
        }
    }
    w.u32(tree.category_sets().len() as u32);
    for set in tree.category_sets() {
        w.u32s(set.codes());
    }
    w.f32s(tree.leaf_values());
}

/// Little-endian encoder.
#[derive(Default)]
struct Writer(Vec<u8>);

impl Writer {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn f32(&mut self, v: f32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn str(&mut self, s: &str) {
        self.u32(s.len() as u32);
        self.0.extend_from_slice(s.as_bytes());
    }
    fn u32s(&mut self, v: &[u32]) {
        self.u32(v.len() as u32);
        v.iter().for_each(|&x| self.u32(x));
    }
    fn f32s(&mut self, v: &[f32]) {
        self.u32(v.len() as u32);
        v.iter().for_each(|&x| self.f32(x));
    }
}
