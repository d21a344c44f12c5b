//! The compiled form of a [`Forest`] (`.qpack`): the packed layouts the fast
//! kernels walk, stored so that loading is a check and a memory map, not a
//! parse.
//!
//! Layout (all integers little-endian):
//!
//! | bytes | field |
//! |---|---|
//! | 0..8 | magic `\x89QPACK\r\n` |
//! | 8..12 | format version ([`VERSION`]) |
//! | 12..16 | header length (64) |
//! | 16..24 | file length |
//! | 24..32 | [`checksum`] of bytes `32..file length` (XXH3-64 of the XXH3-64 of each 256 KiB) |
//! | 32..36 | number of sections |
//! | 36..64 | zero |
//! | 64.. | section table: per section `id: u32, 0: u32, offset: u64, length: u64` |
//!
//! Sections start at multiples of 64 bytes. The big arrays (nodes, leaf values,
//! ...) are used in place. Each tree has a 32-byte record (root, node count,
//! depth, IR node count, flags, implicit-layout offsets); the node-number
//! section holds the original node numbers only of the fast trees whose
//! packed order is not their IR order (flag 8 clear; XGBoost's depthwise
//! trees are numbered breadth-first, so usually none), and the numbers are
//! rebuilt on first use. Everything is validated when the file is opened:
//! the checksum, every offset and count, and every packed tree (each step stays
//! inside its tree, every feature exists, the nodes form a tree), so a
//! corrupted or hostile file is an error, never a wrong read. The IR of the
//! trees is rebuilt from the packed layout only when something needs it (the
//! reference kernel, [`Forest::trees`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use crate::buf::{Buf, Pod, StableBytes, as_bytes};
use crate::error::{Error, Result};
use crate::forest::{Booster, Categories, FeatureType, Forest, LinearModel, Semantics, Summation};
use crate::layout::{
    ImplicitNode, PackedForest, PackedNode, PackedTree, implicit_in_bounds, node_ok,
    nodes_in_bounds, verify_implicit_tree,
};
use crate::objective::{Objective, Sigmoid};
use crate::tree::{CategoryOutOfRange, CategorySet, Node, Tree};
use crate::verify::pointer_tree_in_bounds;
pub use crate::xxh3::xxh3_64;

/// The first bytes of every compiled file.
pub const MAGIC: &[u8; 8] = b"\x89QPACK\r\n";
/// The format version this build writes and reads.
///
/// Version 2 replaced version 1's XXH64 of the whole file with [`checksum`]
/// (XXH3-64 over 256 KiB chunks, which two threads can share) and stores node
/// numbers only for trees not numbered in order. Version 3 stores
/// implicit-layout splits as integer keys with the default direction folded
/// into the feature offset (no separate default-direction section). Version 4
/// does the same for the pointer layout. Version 5 (this one) records how many
/// features the trees read apart from how many the model declares, so a
/// model declaring far more features than its splits use is walked (and its
/// rows copied) at the width it reads. Older files are refused with a message
/// to recompile them.
pub const VERSION: u32 = 5;
const HEADER: usize = 64;
const ALIGN: usize = 64;
const MAX_SECTIONS: usize = 64;

mod id {
    pub const META: u32 = 1;
    pub const NODES: u32 = 2;
    pub const LEAF_VALUE: u32 = 3;
    pub const ORIGINAL: u32 = 4;
    pub const TREES: u32 = 5;
    pub const IMP_NODES: u32 = 6;
    // 7: implicit default directions, up to version 2.
    pub const IMP_LEAVES: u32 = 8;
    pub const IR_TREES: u32 = 9;
    pub const EXTRA: u32 = 10;
    /// Optional: training categories (absent when the model has none).
    pub const CATEGORIES: u32 = 11;
}

const FLAG_FAST: u32 = 1;
const FLAG_IMPLICIT: u32 = 2;
const FLAG_IR_STORED: u32 = 4;
/// The tree's packed node `root + k` is node `k` of its IR (breadth-first
/// numbering, as XGBoost numbers depthwise trees): its node numbers are not
/// stored.
const FLAG_NUMBERED_IN_ORDER: u32 = 8;

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

/// True when `bytes` start like a compiled file.
pub fn is_compiled(bytes: &[u8]) -> bool {
    bytes.starts_with(MAGIC)
}

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
const PARALLEL_CHECK_BYTES: usize = 512 * 1024;

/// The checksum hashes the file in chunks of this many bytes (so that two
/// threads can share the work), then hashes the chunks' hashes.
pub const CHECKSUM_CHUNK: usize = 256 * 1024;

/// The checksum stored at bytes 24..32 of a compiled file, over `body` (the
/// file from byte 32 on): [`xxh3_64`] of the little-endian [`xxh3_64`] of
/// each [`CHECKSUM_CHUNK`] bytes of `body` in order (the last chunk may be
/// shorter; an empty body has no chunks).
pub fn checksum(body: &[u8]) -> u64 {
    combine_chunk_sums(body.chunks(CHECKSUM_CHUNK).map(xxh3_64))
}

fn combine_chunk_sums(sums: impl Iterator<Item = u64>) -> u64 {
    let bytes: Vec<u8> = sums.flat_map(u64::to_le_bytes).collect();
    xxh3_64(&bytes)
}

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

/// Checks every packed tree of a compiled file (see the module docs), but
/// for the passes over every node, which it leaves to [`check_nodes`].
fn verify(p: &PackedForest, slow: &[(usize, Tree)], num_outputs: usize) -> Result<NodeChecks> {
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
/// large file [`read`] runs them a chunk at a time, right after the checksum
/// has read the same bytes.
#[derive(Clone, Copy)]
struct NodeChecks {
    /// Run [`nodes_in_bounds`] over the whole node array.
    all_nodes: bool,
}

/// Failures found by [`check_nodes`], from any thread.
struct NodeFailures {
    /// The first tree that failed [`pointer_tree_in_bounds`] (`usize::MAX`:
    /// none).
    tree: AtomicUsize,
    /// Some node failed [`implicit_in_bounds`] or [`nodes_in_bounds`].
    nodes: std::sync::atomic::AtomicBool,
}

impl NodeFailures {
    fn new() -> NodeFailures {
        NodeFailures {
            tree: AtomicUsize::new(usize::MAX),
            nodes: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// The error for what was found, if anything.
    fn result(&self, checks: NodeChecks, p: &PackedForest) -> Result<()> {
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
fn check_nodes(p: &PackedForest, file: &[u8], part: Option<(usize, usize)>, failed: &NodeFailures) {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A one-output regression forest of `trees`, one per round.
    fn regression(trees: Vec<Tree>, num_features: usize) -> Forest {
        let n = trees.len();
        let e =
            TreeEnsemble::new(trees, vec![0; n], None, TreeEnsemble::uniform_rounds(n, 1)).unwrap();
        Forest::new(ForestParts {
            num_features,
            num_outputs: 1,
            base_margin: vec![0.5],
            objective: Objective::from_xgboost_name("reg:squarederror").unwrap(),
            booster: Booster::Trees(e),
            semantics: Semantics::default(),
            feature_names: vec![],
            feature_types: vec![],
        })
        .unwrap()
    }
    use crate::buf::AlignedBytes;
    use crate::forest::ForestParts;
    use crate::layout::LANES;
    use crate::predict::tests::random_tree;
    use crate::tree::TreeEnsemble;
    use crate::{FeatureMatrix, Kernel, PredictOptions};

    fn forest(seed: u64, groups: usize, weighted: bool, deepest: usize) -> Forest {
        let mut rng = seed;
        let nf = 4;
        let n = 24;
        let mut trees: Vec<Tree> = (0..n)
            .map(|t| random_tree(&mut rng, nf, [0, 3, 6, deepest][t % 4]))
            .collect();
        // A categorical tree: stored as IR, not packed.
        trees[5] = Tree::new(
            vec![
                Node::Split {
                    feature: 1,
                    threshold: f32::NAN,
                    default_left: true,
                    left: 1,
                    right: 2,
                    categories: Some(0),
                },
                Node::Leaf { value: 0.25 },
                Node::Leaf { value: -0.5 },
            ],
            vec![CategorySet::new(vec![1, 3]).unwrap()],
            nf,
        )
        .unwrap();
        let outputs = (0..n).map(|t| (t % groups) as u32).collect();
        let weights = weighted.then(|| (0..n).map(|t| 1.0 - t as f32 / 64.0).collect());
        let e = TreeEnsemble::new(
            trees,
            outputs,
            weights,
            TreeEnsemble::uniform_rounds(n, groups),
        )
        .unwrap();
        Forest::new(ForestParts {
            num_features: nf,
            num_outputs: groups,
            base_margin: vec![0.5; groups],
            objective: Objective::from_xgboost_name(if groups > 1 {
                "multi:softprob"
            } else {
                "binary:logistic"
            })
            .unwrap(),
            booster: Booster::Trees(e),
            semantics: Semantics::default(),
            feature_names: (0..nf).map(|i| format!("f{i}")).collect(),
            feature_types: vec![],
        })
        .unwrap()
    }

    fn open(bytes: &[u8]) -> Result<(Forest, std::ops::Range<usize>)> {
        read(Arc::new(AlignedBytes::copy_from(bytes)))
    }

    #[test]
    fn a_compiled_forest_predicts_and_rebuilds_exactly() {
        for (groups, weighted) in [(1, false), (3, false), (1, true)] {
            let f = forest(42 + groups as u64, groups, weighted, 14);
            let bytes = write(&f, b"extra!");
            let (g, extra) = open(&bytes).unwrap();
            assert_eq!(&bytes[extra], b"extra!");
            let x: Vec<f32> = (0..4 * 300)
                .map(|i| {
                    if i % 13 == 0 {
                        f32::NAN
                    } else {
                        (i % 9) as f32 * 0.25
                    }
                })
                .collect();
            let m = FeatureMatrix::row_major(&x, 300, 4).unwrap();
            for kernel in Kernel::available() {
                for leaf in [false, true] {
                    let o = PredictOptions {
                        kernel,
                        pred_leaf: leaf,
                        ..Default::default()
                    };
                    assert_eq!(f.predict(&m, &o).unwrap(), g.predict(&m, &o).unwrap());
                }
            }
            // The IR rebuilt from the packed layout is the original one.
            // (Debug, because the categorical split's NaN threshold is != itself.)
            assert_eq!(format!("{:?}", f.booster()), format!("{:?}", g.booster()));
            assert_eq!(f.feature_names(), g.feature_names());
        }
    }

    #[test]
    fn every_corruption_is_rejected_and_nothing_panics() {
        let f = forest(7, 2, false, 4);
        let bytes = write(&f, b"");
        // Any one changed byte: the header checks or the checksum catch it.
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 0x5a;
            assert!(open(&b).is_err(), "byte {i} flipped was accepted");
        }
        for n in 0..bytes.len() {
            assert!(open(&bytes[..n]).is_err(), "truncated to {n} accepted");
        }
        // A hostile file carries a valid checksum: loading must still check
        // every count and index (an error or a consistent model, no panic).
        let mut rng = 99u64;
        for _ in 0..20000 {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            let mut b = bytes.clone();
            let i = 32 + (rng as usize % (b.len() - 32));
            b[i] = (rng >> 32) as u8;
            let sum = checksum(&b[32..]);
            b[24..32].copy_from_slice(&sum.to_le_bytes());
            if let Ok((g, _)) = open(&b) {
                let x: Vec<f32> = (0..36).map(|i| (i % 5) as f32 * 0.5).collect();
                for rows in [2, 9] {
                    let m = FeatureMatrix::row_major(&x[..rows * 4], rows, 4).unwrap();
                    for kernel in Kernel::available() {
                        for pred_leaf in [false, true] {
                            let o = PredictOptions {
                                kernel,
                                pred_leaf,
                                ..Default::default()
                            };
                            let _ = g.predict(&m, &o);
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn a_version_1_file_asks_to_be_recompiled() {
        let f = forest(3, 1, false, 4);
        let mut bytes = write(&f, b"");
        assert_eq!(
            u32::from_le_bytes(bytes[8..12].try_into().unwrap()),
            VERSION
        );
        bytes[8..12].copy_from_slice(&1u32.to_le_bytes());
        let e = open(&bytes).unwrap_err().to_string();
        assert!(
            e.contains("version 1") && e.contains("older") && e.contains("quercus compile"),
            "{e}"
        );
        bytes[8..12].copy_from_slice(&(VERSION + 1).to_le_bytes());
        let e = open(&bytes).unwrap_err().to_string();
        assert!(e.contains("newer") && e.contains("quercus compile"), "{e}");
    }

    #[test]
    fn the_checksum_covers_everything_after_it_in_chunks() {
        let bytes = write(&forest(5, 2, true, 6), b"meta");
        let stored = u64::from_le_bytes(bytes[24..32].try_into().unwrap());
        assert!(bytes.len() - 32 < CHECKSUM_CHUNK);
        assert_eq!(stored, xxh3_64(&xxh3_64(&bytes[32..]).to_le_bytes()));
        // Several chunks, the last one short: the parallel path (a file of
        // at least `PARALLEL_CHECK_BYTES`) and the definition agree.
        let body: Vec<u8> = (0..2 * CHECKSUM_CHUNK + 1000)
            .map(|i| (i * 7 % 251) as u8)
            .collect();
        let sums: Vec<u8> = body
            .chunks(CHECKSUM_CHUNK)
            .flat_map(|c| xxh3_64(c).to_le_bytes())
            .collect();
        assert_eq!(checksum(&body), xxh3_64(&sums));
        assert_eq!(checksum(&[]), xxh3_64(&[]));
        let big = write(&forest(5, 2, true, 6), &body);
        assert!(big.len() >= PARALLEL_CHECK_BYTES);
        assert!(open(&big).is_ok());
        for at in [40, 5000, big.len() / 2, big.len() - 1] {
            let mut b = big.clone();
            b[at] ^= 1;
            assert!(
                open(&b).unwrap_err().to_string().contains("checksum"),
                "{at}"
            );
        }
    }

    /// The length of section `sid` of a compiled file.
    fn section_len(bytes: &[u8], sid: u32) -> usize {
        let count = u32::from_le_bytes(bytes[32..36].try_into().unwrap()) as usize;
        (0..count)
            .map(|i| HEADER + i * 24)
            .find(|&at| u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) == sid)
            .map(|at| u64::from_le_bytes(bytes[at + 16..at + 24].try_into().unwrap()) as usize)
            .unwrap()
    }

    #[test]
    fn trees_numbered_in_order_store_no_node_numbers() {
        // Breadth-first numbering (XGBoost's depthwise trees) next to
        // depth-first numbering (like lossguide trees, and `random_tree`).
        let split = |feature, left| Node::Split {
            feature,
            threshold: 0.5,
            default_left: feature == 1,
            left,
            right: left + 1,
            categories: None,
        };
        let leaf = |value| Node::Leaf { value };
        let bfs = Tree::new(
            vec![
                split(0, 1),
                split(1, 3),
                split(2, 5),
                leaf(1.0),
                leaf(2.0),
                leaf(3.0),
                leaf(4.0),
            ],
            vec![],
            4,
        )
        .unwrap();
        // Node 0's children are 1 and 4, node 1's are 2 and 3.
        let dfs = Tree::new(
            vec![
                Node::Split {
                    feature: 0,
                    threshold: 0.5,
                    default_left: false,
                    left: 1,
                    right: 4,
                    categories: None,
                },
                split(1, 2),
                leaf(1.0),
                leaf(2.0),
                leaf(3.0),
            ],
            vec![],
            4,
        )
        .unwrap();
        let mut rng = 5u64;
        let trees = vec![bfs.clone(), dfs.clone(), random_tree(&mut rng, 4, 6), bfs];
        let f = regression(trees, 4);
        let bytes = write(&f, b"");
        let p = f.packed();
        let out_of_order: u32 = p.trees[1..3].iter().map(|t| t.len).sum();
        assert_eq!(section_len(&bytes, id::ORIGINAL), 4 * out_of_order as usize);
        let (g, _) = open(&bytes).unwrap();
        assert!(g.packed().original.is_pending());
        let x: Vec<f32> = (0..4 * 40)
            .map(|i| {
                if i % 11 == 0 {
                    f32::NAN
                } else {
                    (i % 7) as f32 * 0.2
                }
            })
            .collect();
        let m = FeatureMatrix::row_major(&x, 40, 4).unwrap();
        for kernel in Kernel::available() {
            let o = PredictOptions {
                kernel,
                pred_leaf: true,
                ..Default::default()
            };
            assert_eq!(f.predict(&m, &o).unwrap(), g.predict(&m, &o).unwrap());
        }
        assert!(!g.packed().original.is_pending());
        assert_eq!(&*g.packed().original, &*p.original);
        assert_eq!(format!("{:?}", f.booster()), format!("{:?}", g.booster()));
        // The stored numbers must cover exactly the trees out of order.
        for flip in [0u32, 1] {
            let mut b = bytes.clone();
            let toff = (0..10)
                .map(|i| HEADER + i * 24)
                .find(|&at| u32::from_le_bytes(b[at..at + 4].try_into().unwrap()) == id::TREES)
                .map(|at| u64::from_le_bytes(b[at + 8..at + 16].try_into().unwrap()) as usize)
                .unwrap();
            let at = toff + 32 * flip as usize + 16;
            b[at] ^= FLAG_NUMBERED_IN_ORDER as u8;
            let sum = checksum(&b[32..]);
            b[24..32].copy_from_slice(&sum.to_le_bytes());
            let e = open(&b).unwrap_err().to_string();
            assert!(e.contains("node numbers"), "{e}");
        }
    }

    /// The offset of section `sid` of a compiled file.
    fn section_offset(bytes: &[u8], sid: u32) -> usize {
        let count = u32::from_le_bytes(bytes[32..36].try_into().unwrap()) as usize;
        (0..count)
            .map(|i| HEADER + i * 24)
            .find(|&at| u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) == sid)
            .map(|at| u64::from_le_bytes(bytes[at + 8..at + 16].try_into().unwrap()) as usize)
            .unwrap()
    }

    #[test]
    fn node_checks_beside_the_checksum_cover_every_chunk() {
        // Enough trees for the nodes to span several checksum chunks, so the
        // checks run in parts on two threads.
        let mut rng = 11u64;
        let n = 1200;
        let trees: Vec<Tree> = (0..n).map(|_| random_tree(&mut rng, 6, 9)).collect();
        let f = regression(trees, 6);
        let bytes = write(&f, b"");
        let p = f.packed();
        let nodes_at = section_offset(&bytes, id::NODES);
        let imp_at = section_offset(&bytes, id::IMP_NODES);
        assert!(nodes_at + 12 * p.nodes.len() > 32 + 3 * CHECKSUM_CHUNK);
        assert!(p.imp_nodes.len() > 1000);
        let (g, _) = open(&bytes).unwrap();
        let x: Vec<f32> = (0..6 * 20).map(|i| (i % 9) as f32 * 0.25).collect();
        let m = FeatureMatrix::row_major(&x, 20, 6).unwrap();
        let o = PredictOptions::default();
        assert_eq!(f.predict(&m, &o).unwrap(), g.predict(&m, &o).unwrap());
        let reseal = |b: &mut Vec<u8>| {
            let sum = checksum(&b[32..]);
            b[24..32].copy_from_slice(&sum.to_le_bytes());
        };
        // A broken tree in every region of the node array is found, and the
        // error names it (the first broken one when there are several).
        let fast: Vec<usize> = (0..n)
            .filter(|&t| p.trees[t].fast && p.trees[t].len > 1)
            .collect();
        for &t in [
            fast[0],
            fast[fast.len() / 3],
            fast[fast.len() / 2],
            fast[fast.len() - 1],
        ]
        .iter()
        {
            let mut b = bytes.clone();
            let root = p.trees[t].root as usize;
            // The root's left child becomes the root itself: a cycle.
            b[nodes_at + 12 * root + 8..nodes_at + 12 * root + 12]
                .copy_from_slice(&(root as u32).to_le_bytes());
            reseal(&mut b);
            let err = open(&b).unwrap_err();
            assert!(err.to_string().contains(&format!("tree {t}")), "{t}: {err}");
            let later = *fast.last().unwrap();
            if later != t {
                let root = p.trees[later].root as usize;
                b[nodes_at + 12 * root + 8..nodes_at + 12 * root + 12]
                    .copy_from_slice(&(root as u32).to_le_bytes());
                reseal(&mut b);
                let err = open(&b).unwrap_err();
                assert!(err.to_string().contains(&format!("tree {t}")), "{t}: {err}");
            }
        }
        // An implicit node anywhere with a feature the model does not have
        // (`fx`, the first field, past the two copies of the six features).
        for k in [0, p.imp_nodes.len() / 2, p.imp_nodes.len() - 1] {
            let mut b = bytes.clone();
            let at = imp_at + 8 * k;
            b[at..at + 4].copy_from_slice(&(2 * 6 * LANES as u32).to_le_bytes());
            reseal(&mut b);
            let err = open(&b).unwrap_err().to_string();
            assert!(err.contains("outside the node array"), "{k}: {err}");
        }
    }
}
