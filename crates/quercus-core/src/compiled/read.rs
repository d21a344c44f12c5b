//! [`read()`]: the header, the checksum and the sections of a compiled file,
//! every count and offset checked, into a [`Forest`] whose arrays point into
//! the file; the packed trees are checked by [`super::verify`].

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use super::verify::{NodeChecks, NodeFailures, check_nodes, verify};
use super::{
    CHECKSUM_CHUNK, FLAG_FAST, FLAG_IMPLICIT, FLAG_IR_STORED, FLAG_NUMBERED_IN_ORDER, HEADER,
    MAX_SECTIONS, VERSION, checksum, combine_chunk_sums, id, is_compiled, xxh3_64,
};
use crate::buf::{Buf, Pod, StableBytes};
use crate::error::{Error, Result};
use crate::forest::{Booster, Categories, FeatureType, Forest, LinearModel, Semantics, Summation};
use crate::layout::{ImplicitNode, PackedForest, PackedNode, PackedTree};
use crate::objective::{Objective, Sigmoid};
use crate::tree::{CategoryOutOfRange, CategorySet, Node, Tree};

/// Opens compiled bytes: validates everything (see the module docs) and
/// returns the forest, whose arrays point into `owner`, and the byte range of
/// the `extra` section.
pub fn read(owner: Arc<dyn StableBytes>) -> Result<(Forest, std::ops::Range<usize>)> {
    if cfg!(target_endian = "big") {
        return Err(Error::unsupported(
            "compiled models are little-endian; this machine is big-endian",
        ));
    }
    let bytes = owner.bytes();
    let fail = |at: usize, msg: String| Error::format(msg).with_offset(at as u64);
    if bytes.len() < HEADER || !is_compiled(bytes) {
        return Err(fail(
            0,
            "not a compiled Quercus model (no QPACK header)".into(),
        ));
    }
    let u32_at = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap_or([0; 4]));
    let u64_at = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap_or([0; 8]));
    let version = u32_at(8);
    if version != VERSION {
        let why = if version < VERSION {
            "it was compiled by an older Quercus"
        } else {
            "it was compiled by a newer Quercus"
        };
        return Err(Error::unsupported(format!(
            "compiled model format version {version}, but this Quercus reads only version \
             {VERSION}: {why}; recompile it from the source model with `quercus compile` \
             (or `Model::save_compiled`)"
        ))
        .with_offset(8));
    }
    if u32_at(12) as usize != HEADER {
        return Err(fail(
            12,
            format!("header length {} is not {HEADER}", u32_at(12)),
        ));
    }
    if u64_at(16) != bytes.len() as u64 {
        return Err(fail(
            16,
            format!(
                "file is {} bytes but its header says {} (truncated or extended)",
                bytes.len(),
                u64_at(16)
            ),
        ));
    }
    let want = u64_at(24);
    let body = &bytes[32..];
    let failed = NodeFailures::new();
    let (got, opened) = if body.len() >= PARALLEL_CHECK_BYTES {
        // A second thread hashes chunks while this one parses the file; then
        // both take chunks from a shared counter, and after hashing a chunk
        // run the node checks of the trees and implicit nodes that start in
        // it, while its bytes are in cache (chunks hashed before the parse
        // was done are checked at the end). The work splits evenly whether
        // or not the other core is free. The checks are safe code: on a
        // corrupted file they fail or pass harmlessly, and a checksum
        // mismatch is reported first.
        let chunks: Vec<&[u8]> = body.chunks(CHECKSUM_CHUNK).collect();
        let n = chunks.len();
        let sums: Vec<AtomicU64> = chunks.iter().map(|_| AtomicU64::new(0)).collect();
        let next = AtomicUsize::new(0);
        let parsed = std::sync::OnceLock::new();
        let unchecked = std::sync::Mutex::new(Vec::new());
        let work = || {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(c) = chunks.get(i) else { break };
                sums[i].store(xxh3_64(c), Ordering::Relaxed);
                match parsed.get() {
                    Some((f, _, _)) => check_nodes(Forest::packed(f), bytes, Some((i, n)), &failed),
                    None => unchecked.lock().unwrap_or_else(|e| e.into_inner()).push(i),
                }
            }
        };
        let parse_and_share = || {
            let opened = match open_sections(&owner, bytes) {
                Ok(v) => parsed
                    .set(v)
                    .map_err(|_| Error::format("compiled model parsed twice")),
                Err(e) => Err(e),
            };
            work();
            opened
        };
        // The helper is a job on Quercus's thread pool (the one predictions
        // use, kept between calls), not a new thread each time; a thread of
        // its own when that pool has one thread or cannot start.
        let threads = crate::parallel::default_threads();
        let pool = (threads > 1)
            .then(|| crate::parallel::pool(threads).ok())
            .flatten();
        let opened = match pool {
            Some(pool) => pool.in_place_scope(|scope| {
                scope.spawn(|_| work());
                parse_and_share()
            }),
            None => std::thread::scope(|scope| {
                scope.spawn(work);
                parse_and_share()
            }),
        };
        // The scope has waited for the helper, whose stores are now visible.
        let got = combine_chunk_sums(sums.iter().map(|s| s.load(Ordering::Relaxed)));
        let opened = opened.and_then(|()| {
            parsed
                .into_inner()
                .ok_or_else(|| Error::format("compiled model not parsed"))
        });
        if let Ok((f, _, _)) = &opened {
            for i in unchecked.into_inner().unwrap_or_else(|e| e.into_inner()) {
                check_nodes(f.packed(), bytes, Some((i, n)), &failed);
            }
        }
        (got, opened)
    } else {
        let opened = open_sections(&owner, bytes);
        if let Ok((f, _, _)) = &opened {
            check_nodes(f.packed(), bytes, None, &failed);
        }
        (checksum(body), opened)
    };
    if want != got {
        return Err(fail(
            24,
            format!(
                "checksum mismatch (stored {want:016x}, computed {got:016x}): the file is corrupted"
            ),
        ));
    }
    let (forest, extra, checks) = opened?;
    failed.result(checks, forest.packed())?;
    Ok((forest, extra))
}

/// Files at least this large are checked on two threads.
pub(super) const PARALLEL_CHECK_BYTES: usize = 512 * 1024;

/// Everything [`read`] checks besides the header and the checksum. A file
/// with a valid checksum can still be hostile: every count, offset and tree
/// is checked here.
fn open_sections(
    owner: &Arc<dyn StableBytes>,
    bytes: &[u8],
) -> Result<(Forest, std::ops::Range<usize>, NodeChecks)> {
    let fail = |at: usize, msg: String| Error::format(msg).with_offset(at as u64);
    let u32_at = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap_or([0; 4]));
    let u64_at = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap_or([0; 8]));
    let count = u32_at(32) as usize;
    if count > MAX_SECTIONS || HEADER + count * 24 > bytes.len() {
        return Err(fail(32, format!("{count} sections do not fit the file")));
    }
    let mut sections = std::collections::BTreeMap::new();
    for i in 0..count {
        let at = HEADER + i * 24;
        let (sid, off, len) = (u32_at(at), u64_at(at + 8), u64_at(at + 16));
        let end = off.checked_add(len);
        if off < (HEADER + count * 24) as u64 || end.is_none_or(|e| e > bytes.len() as u64) {
            return Err(fail(
                at,
                format!("section {sid} ({off}+{len}) is outside the file"),
            ));
        }
        if sections.insert(sid, (off as usize, len as usize)).is_some() {
            return Err(fail(at, format!("section {sid} appears twice")));
        }
    }
    let section = |sid: u32| {
        sections
            .get(&sid)
            .copied()
            .ok_or_else(|| fail(HEADER, format!("section {sid} is missing")))
    };
    fn array<T: Pod>(
        owner: &Arc<dyn StableBytes>,
        (off, len): (usize, usize),
        what: &str,
    ) -> Result<Buf<T>> {
        let size = std::mem::size_of::<T>();
        if !len.is_multiple_of(size) {
            return Err(Error::format(format!(
                "{what}: {len} bytes is not a whole number of values"
            ))
            .with_offset(off as u64));
        }
        Buf::shared(Arc::clone(owner), off, len / size).ok_or_else(|| {
            Error::format(format!("{what}: section is misaligned")).with_offset(off as u64)
        })
    }

    let (moff, mlen) = section(id::META)?;
    let mut m = Reader::new(&bytes[moff..moff + mlen], moff);
    let num_features = m.u64()? as usize;
    let num_outputs = m.u64()? as usize;
    let base_margin = m.f32s()?;
    let objective = Objective::from_xgboost_name(&m.str()?)?;
    let summation = match m.u8()? {
        0 => Summation::Modern,
        1 => Summation::Legacy,
        v => return Err(m.bad(format!("summation {v}"))),
    };
    let sigmoid = match m.u8()? {
        0 => Sigmoid::Clamped,
        1 => Sigmoid::Plain,
        v => return Err(m.bad(format!("sigmoid {v}"))),
    };
    let category_out_of_range = match m.u8()? {
        0 => CategoryOutOfRange::Left,
        1 => CategoryOutOfRange::DefaultChild,
        v => return Err(m.bad(format!("category routing {v}"))),
    };
    let n = m.count(4)?;
    let feature_names = (0..n).map(|_| m.str()).collect::<Result<Vec<_>>>()?;
    let n = m.count(1)?;
    let feature_types = (0..n)
        .map(|_| match m.u8()? {
            0 => Ok(FeatureType::Numeric),
            1 => Ok(FeatureType::Categorical),
            v => Err(m.bad(format!("feature type {v}"))),
        })
        .collect::<Result<Vec<_>>>()?;
    let semantics = Semantics {
        summation,
        sigmoid,
        category_out_of_range,
    };
    let common = Common {
        num_features,
        num_outputs,
        base_margin,
        objective,
        semantics,
        feature_names,
        feature_types,
    };
    let extra = section(id::EXTRA)?;
    let extra = extra.0..extra.0 + extra.1;
    let forest = match m.u8()? {
        1 => {
            let weights = m.f32s()?;
            let forest =
                Forest::new(common.into_parts(Booster::Linear(LinearModel::new(weights))))?;
            return Ok((forest, extra, NodeChecks { all_nodes: false }));
        }
        0 => {
            let width_at = m.base + m.pos;
            let width = m.u64()?;
            let width = match usize::try_from(width) {
                Ok(w) if w <= num_features => w,
                _ => {
                    return Err(fail(
                        width_at,
                        format!("trees read {width} features but the model has {num_features}"),
                    ));
                }
            };
            let tree_outputs = m.u32s()?;
            let n = m.count(8)?;
            let round_ptr = (0..n)
                .map(|_| m.u64().map(|v| v as usize))
                .collect::<Result<Vec<_>>>()?;
            let weights = match m.u8()? {
                0 => None,
                _ => Some(m.f32s()?),
            };
            let (toff, tlen) = section(id::TREES)?;
            if tlen % 32 != 0 || tlen / 32 != tree_outputs.len() {
                return Err(fail(
                    toff,
                    format!(
                        "{tlen} bytes of tree records for {} trees",
                        tree_outputs.len()
                    ),
                ));
            }
            let mut stored_ir = Vec::new();
            let mut in_order = Vec::with_capacity(tlen / 32);
            let trees: Vec<PackedTree> = bytes[toff..toff + tlen]
                .chunks_exact(32)
                .enumerate()
                .map(|(t, r)| {
                    let f = |i: usize| {
                        u32::from_le_bytes(r[i * 4..i * 4 + 4].try_into().unwrap_or([0; 4]))
                    };
                    if f(4) & FLAG_IR_STORED != 0 {
                        stored_ir.push(t);
                    }
                    in_order.push(f(4) & FLAG_NUMBERED_IN_ORDER != 0);
                    PackedTree {
                        root: f(0),
                        len: f(1),
                        depth: f(2),
                        ir_len: f(3),
                        fast: f(4) & FLAG_FAST != 0,
                        implicit: (f(4) & FLAG_IMPLICIT != 0).then(|| (f(5), f(6))),
                    }
                })
                .collect();
            let nodes = array::<PackedNode>(owner, section(id::NODES)?, "nodes")?;
            let original = node_numbers(
                &trees,
                &in_order,
                nodes.len(),
                array(owner, section(id::ORIGINAL)?, "node numbers")?,
            )
            .map_err(|msg| fail(section(id::ORIGINAL).map_or(0, |s| s.0), msg))?;
            let mut p = PackedForest {
                nodes,
                leaf_value: array(owner, section(id::LEAF_VALUE)?, "leaf values")?,
                original,
                trees,
                num_features: width,
                slow_before: Vec::new(),
                imp_nodes: array::<ImplicitNode>(owner, section(id::IMP_NODES)?, "implicit nodes")?,
                imp_leaves: array(owner, section(id::IMP_LEAVES)?, "implicit leaves")?,
                tree_outputs,
                round_ptr,
                weighted: weights.is_some(),
            };
            p.index_slow();
            let (ioff, ilen) = section(id::IR_TREES)?;
            let mut r = Reader::new(&bytes[ioff..ioff + ilen], ioff);
            let n = r.count(4)?;
            let mut slow_trees = Vec::with_capacity(n);
            for _ in 0..n {
                let t = r.u32()? as usize;
                let tree = read_tree(&mut r, width).map_err(|e| e.with_tree(t))?;
                slow_trees.push((t, tree));
            }
            if slow_trees
                .iter()
                .map(|(t, _)| *t)
                .ne(stored_ir.iter().copied())
            {
                return Err(fail(
                    ioff,
                    "stored trees do not match the trees flagged as stored".into(),
                ));
            }
            let checks = verify(&p, &slow_trees, num_outputs)?;
            let forest = Forest::from_compiled(
                common.into_parts(Booster::Linear(LinearModel::new(vec![]))),
                p,
                slow_trees,
                weights,
            )?;
            (forest, checks)
        }
        v => return Err(m.bad(format!("booster kind {v}"))),
    };
    let (forest, checks) = forest;
    let forest = match sections.get(&id::CATEGORIES) {
        None => forest,
        Some(&(off, len)) => {
            let mut r = Reader::new(&bytes[off..off + len], off);
            let n = r.count(1)?;
            let mut cats = Vec::with_capacity(n);
            for _ in 0..n {
                cats.push(match r.u8()? {
                    0 => None,
                    1 => {
                        let k = r.count(4)?;
                        Some(Categories::Strings(
                            (0..k).map(|_| r.str()).collect::<Result<_>>()?,
                        ))
                    }
                    2 => {
                        let k = r.count(8)?;
                        Some(Categories::Numbers(
                            (0..k)
                                .map(|_| r.u64().map(f64::from_bits))
                                .collect::<Result<_>>()?,
                        ))
                    }
                    v => return Err(r.bad(format!("category kind {v}"))),
                });
            }
            forest
                .with_categories(cats)
                .map_err(|e| e.with_offset(off as u64))?
        }
    };
    Ok((forest, extra, checks))
}

/// The original node number of every packed node, built when first read
/// (leaf-index output and rebuilding the IR read it): `k` for node `root + k`
/// of a fast tree numbered in order, the stored numbers (`stored`, tree after
/// tree) for the other fast trees, 0 elsewhere. Errors when `stored` does not
/// hold exactly the numbers of the fast trees not numbered in order.
fn node_numbers(
    trees: &[PackedTree],
    in_order: &[bool],
    num_nodes: usize,
    stored: Buf<u32>,
) -> std::result::Result<Buf<u32>, String> {
    let mut spans = Vec::new();
    let mut need = 0usize;
    for (t, (pt, &in_order)) in trees.iter().zip(in_order).enumerate() {
        if in_order && !pt.fast {
            return Err(format!("tree {t} is numbered in order but not packed"));
        }
        if pt.fast {
            spans.push((pt.root as usize, pt.len as usize, in_order));
            need = need.saturating_add(if in_order { 0 } else { pt.len as usize });
        }
    }
    if stored.len() != need {
        return Err(format!(
            "{} stored node numbers for {need} nodes numbered out of order",
            stored.len()
        ));
    }
    Ok(Buf::lazy(move || {
        let mut numbers = vec![0u32; num_nodes];
        let mut at = 0;
        for &(root, len, in_order) in &spans {
            // The trees were verified in range before anything reads this;
            // a range outside is skipped rather than trusted.
            let Some(dst) = numbers.get_mut(root..root.saturating_add(len)) else {
                continue;
            };
            if in_order {
                dst.iter_mut().zip(0..).for_each(|(n, k)| *n = k);
            } else if let Some(src) = stored.get(at..at + len) {
                dst.copy_from_slice(src);
                at += len;
            }
        }
        numbers
    }))
}

/// The parts of a forest besides its booster.
struct Common {
    num_features: usize,
    num_outputs: usize,
    base_margin: Vec<f32>,
    objective: Objective,
    semantics: Semantics,
    feature_names: Vec<String>,
    feature_types: Vec<FeatureType>,
}

impl Common {
    fn into_parts(self, booster: Booster) -> crate::forest::ForestParts {
        crate::forest::ForestParts {
            num_features: self.num_features,
            num_outputs: self.num_outputs,
            base_margin: self.base_margin,
            objective: self.objective,
            booster,
            semantics: self.semantics,
            feature_names: self.feature_names,
            feature_types: self.feature_types,
        }
    }
}

fn read_tree(r: &mut Reader<'_>, num_features: usize) -> Result<Tree> {
    let leaf_width = r.u32()? as usize;
    let n = r.count(5)?;
    let mut nodes = Vec::with_capacity(n);
    for _ in 0..n {
        nodes.push(match r.u8()? {
            0 => Node::Split {
                feature: r.u32()?,
                threshold: r.f32()?,
                default_left: r.u8()? != 0,
                left: r.u32()?,
                right: r.u32()?,
                categories: Some(r.u32()?).filter(|&c| c != u32::MAX),
            },
            1 => Node::Leaf { value: r.f32()? },
            2 => Node::VectorLeaf { index: r.u32()? },
            v => return Err(r.bad(format!("node kind {v}"))),
        });
    }
    let n = r.count(4)?;
    let sets = (0..n)
        .map(|_| CategorySet::new(r.u32s()?))
        .collect::<Result<Vec<_>>>()?;
    let leaf_values = r.f32s()?;
    Tree::with_leaf_vectors(nodes, sets, leaf_width, leaf_values, num_features)
}

/// Bounds-checked little-endian decoder; errors carry the file offset.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    base: usize,
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8], base: usize) -> Reader<'a> {
        Reader {
            bytes,
            pos: 0,
            base,
        }
    }
    fn bad(&self, msg: String) -> Error {
        Error::format(format!("compiled model: {msg}")).with_offset((self.base + self.pos) as u64)
    }
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        match self.bytes.get(self.pos..self.pos.saturating_add(n)) {
            Some(s) if n <= self.bytes.len() => {
                self.pos += n;
                Ok(s)
            }
            _ => Err(self.bad(format!("{n} bytes needed, the section ends first"))),
        }
    }
    fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().unwrap_or([0; 4]),
        ))
    }
    fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(
            self.take(8)?.try_into().unwrap_or([0; 8]),
        ))
    }
    fn f32(&mut self) -> Result<f32> {
        Ok(f32::from_bits(self.u32()?))
    }
    /// A count of items of at least `min_size` bytes each, checked against
    /// the bytes left (so no allocation is sized by an unchecked count).
    fn count(&mut self, min_size: usize) -> Result<usize> {
        let n = self.u32()? as usize;
        if n.saturating_mul(min_size.max(1)) > self.bytes.len() - self.pos {
            return Err(self.bad(format!("count {n} is larger than the bytes that follow")));
        }
        Ok(n)
    }
    fn str(&mut self) -> Result<String> {
        let n = self.count(1)?;
        let b = self.take(n)?;
        String::from_utf8(b.to_vec()).map_err(|_| self.bad("a name is not UTF-8".into()))
    }
    fn u32s(&mut self) -> Result<Vec<u32>> {
        let n = self.count(4)?;
        (0..n).map(|_| self.u32()).collect()
    }
    fn f32s(&mut self) -> Result<Vec<f32>> {
        let n = self.count(4)?;
        (0..n).map(|_| self.f32()).collect()
    }
}

impl Forest {
    /// A forest from a compiled file: `parts` carries everything but the
    /// trees (its booster is ignored), `packed` the verified packed trees.
    pub(crate) fn from_compiled(
        parts: crate::forest::ForestParts,
        packed: PackedForest,
        slow_trees: Vec<(usize, Tree)>,
        weights: Option<Vec<f32>>,
    ) -> Result<Forest> {
        if weights
            .as_ref()
            .is_some_and(|w| w.len() != packed.trees.len())
        {
            return Err(Error::invalid_model(
                "compiled DART weights do not match the trees",
            ));
        }
        Forest::assemble(parts, packed, slow_trees, weights)
    }
}
