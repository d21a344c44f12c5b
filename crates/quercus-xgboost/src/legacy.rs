//! The legacy XGBoost binary format (`*.bst`, `*.model`, `*.deprecated`), as
//! written by XGBoost 0.82 through 3.0 and exported by BigQuery ML (0.82).
//!
//! The layout is specified in the research note `xgboost-formats.md` §3; every
//! section number below refers to it. In short (§3.2):
//!
//! ```text
//! ["binf"]                       present iff written by 1.1 .. 3.0
//! LearnerModelParam              136 bytes (§3.3)
//! string name_obj                with the old 64-bit length quirk (§3.1)
//! string name_gbm                gbtree | dart | gblinear
//! booster payload                §3.5 – §3.9
//! [vector<pair<string,string>>]  iff contain_extra_attrs != 0
//! [0.82 trailing items]          ignored, like every 1.0+ reader does
//! ```
//!
//! Files are untrusted. Every count read from the file is checked against the
//! bytes that remain *before* anything is allocated for it, so a corrupt or
//! hostile file fails fast with an error that names the byte offset (and the
//! tree) of the bad item; no input can make this reader panic, overflow, hang or
//! allocate much more than the file's own size.

use std::collections::BTreeMap;

use quercus_core::{Error, Result};

use crate::raw::{RawBooster, RawModel, RawTree, Version};

/// `sizeof(LearnerModelParam)` (§3.3).
const LEARNER_PARAM_SIZE: usize = 136;
/// `sizeof(GBTreeModelParam)` (§3.5).
const GBTREE_PARAM_SIZE: usize = 160;
/// `sizeof(TreeParam)` (§3.6).
const TREE_PARAM_SIZE: usize = 148;
/// `sizeof(RegTree::Node)` (§3.7).
const NODE_SIZE: usize = 20;
/// `sizeof(RTreeNodeStat)` (§3.8).
const STAT_SIZE: usize = 16;
/// `sizeof(GBLinearModelParam)` (§3.9).
const GBLINEAR_PARAM_SIZE: usize = 136;
/// The fewest bytes one tree can take: its param and one node with its stat,
/// plus its `tree_info` entry. Used to reject an absurd `num_trees` up front.
const MIN_TREE_BYTES: usize = TREE_PARAM_SIZE + NODE_SIZE + STAT_SIZE + 4;

/// Parses a legacy binary model (§3).
pub(crate) fn parse(bytes: &[u8]) -> Result<RawModel> {
    let mut cur = Cursor::new(bytes);

    // §0.1: an optional 4-byte magic. `binf` is written by 1.1–3.0 (and
    // skipped by every reader); `bs64` marks an old base64 wrapper that every
    // XGBoost from 0.82 on refuses too ("Base64 format is no longer supported").
    match bytes.get(..4) {
        Some(b"bs64") => {
            return Err(Error::format(
                "base64-wrapped (`bs64`) XGBoost models are not supported (XGBoost itself \
                 dropped them); load the model in an old XGBoost and save it again",
            )
            .with_offset(0));
        }
        Some(b"binf") => cur.skip(4, "the `binf` magic")?,
        _ => {}
    }

    let header = LearnerParam::read(&mut cur, bytes.len())?;

    // §3.1/§3.2: name_obj, read with the pre-0.82 length quirk, then name_gbm.
    let obj_at = cur.offset();
    let objective = utf8(cur.name_obj()?, "objective name", obj_at)?;
    let gbm_at = cur.offset();
    let booster_name = utf8(cur.string("booster name")?, "booster name", gbm_at)?;

    let booster = match booster_name.as_str() {
        "gbtree" => read_gbtree(&mut cur, &header, false)?,
        "dart" => read_gbtree(&mut cur, &header, true)?,
        "gblinear" => read_gblinear(&mut cur, &header)?,
        other => {
            return Err(Error::unsupported(format!(
                "booster `{}` (expected gbtree, dart or gblinear)",
                other.escape_debug()
            ))
            .with_offset(gbm_at));
        }
    };

    let attributes = if header.contain_extra_attrs != 0 {
        read_attributes(&mut cur)?
    } else {
        BTreeMap::new()
    };

    // §3.2: 0.82 may follow with `max_delta_step` (count:poisson) and the eval
    // metric names. 1.0+ readers stop here, and so do we: anything left over
    // is ignored rather than rejected.

    Ok(RawModel {
        version: header.version,
        num_feature: header.num_feature,
        num_class: header.num_class,
        num_target: header.num_target,
        base_score: vec![header.base_score],
        base_score_is_margin: header.version.is_pre_1_0(),
        objective,
        booster_name,
        booster,
        // §3.10: the binary cannot hold feature names or types.
        feature_names: Vec::new(),
        feature_types: Vec::new(),
        attributes,
        categories: Vec::new(),
    })
}

/// The fields of `LearnerModelParam` (§3.3) that matter for loading.
#[derive(Debug)]
struct LearnerParam {
    base_score: f32,
    num_feature: usize,
    num_class: usize,
    num_target: usize,
    contain_extra_attrs: i32,
    version: Version,
}

impl LearnerParam {
    fn read(cur: &mut Cursor<'_>, file_len: usize) -> Result<LearnerParam> {
        let mut p = cur.sub(LEARNER_PARAM_SIZE, "LearnerModelParam")?;
        let base_score = p.f32("base_score")?;
        let num_feature = p.u32("num_feature")?;
        let num_class_at = p.offset();
        let num_class = p.i32("num_class")?;
        let contain_extra_attrs = p.i32("contain_extra_attrs")?;
        let _contain_eval_metrics = p.i32("contain_eval_metrics")?;
        // 0.82/0.90 have `reserved` (zeros) here; 1.0+ store the writer version.
        let major = p.u32("major_version")?;
        let minor = p.u32("minor_version")?;
        let num_target_at = p.offset();
        let raw_num_target = p.u32("num_target")?;

        let version = if major == 0 {
            Version::default()
        } else {
            Version::new(major, minor, 0)
        };
        let num_class = usize::try_from(num_class).map_err(|_| {
            Error::format(format!("negative num_class {num_class}")).with_offset(num_class_at)
        })?;
        // num_target exists from 1.6 on; before, offset 28 is reserved. XGBoost
        // treats a stored 0 as 1.
        let num_target = if is_1_6_or_later(version) {
            (raw_num_target as usize).max(1)
        } else {
            1
        };
        // convert.rs allocates one base margin per output, so an absurd count
        // must not get that far. Every real output needs at least one tree or
        // one linear weight in the file, so the file length bounds it.
        for (name, value, off) in [
            ("num_class", num_class, num_class_at),
            ("num_target", num_target, num_target_at),
        ] {
            if value > file_len {
                return Err(Error::format(format!(
                    "{name} {value} is implausible for a {file_len}-byte file"
                ))
                .with_offset(off));
            }
        }
        Ok(LearnerParam {
            base_score,
            num_feature: num_feature as usize,
            num_class,
            num_target,
            contain_extra_attrs,
            version,
        })
    }
}

/// 1.6 moved `num_parallel_tree` into `GBTreeModelParam` and added
/// `num_target` to `LearnerModelParam` (§3.3, §3.5).
fn is_1_6_or_later(v: Version) -> bool {
    !v.before(1, 6)
}

/// `gbtree` / `dart` payload (§3.5 – §3.8).
fn read_gbtree(cur: &mut Cursor<'_>, header: &LearnerParam, dart: bool) -> Result<RawBooster> {
    let param_at = cur.offset();
    let mut p = cur.sub(GBTREE_PARAM_SIZE, "GBTreeModelParam")?;
    let num_trees = p.i32("num_trees")?;
    let npt_at = p.offset();
    // 0.82–1.5: num_roots / deprecated_num_roots (always 1), *not*
    // num_parallel_tree; 1.6+: num_parallel_tree.
    let raw_npt = p.i32("num_parallel_tree")?;

    let num_trees = usize::try_from(num_trees).map_err(|_| {
        Error::format(format!("negative num_trees {num_trees}")).with_offset(param_at)
    })?;
    let num_parallel_tree = if is_1_6_or_later(header.version) {
        let n = usize::try_from(raw_npt).map_err(|_| {
            Error::format(format!("negative num_parallel_tree {raw_npt}")).with_offset(npt_at)
        })?;
        n.max(1)
    } else {
        1
    };

    // Every tree takes at least MIN_TREE_BYTES: refuse a count the file cannot
    // hold before reserving anything for it.
    if num_trees
        .checked_mul(MIN_TREE_BYTES)
        .is_none_or(|need| need > cur.remaining())
    {
        return Err(Error::format(format!(
            "num_trees {num_trees} needs at least {} bytes but only {} remain \
             (truncated or corrupt file)",
            num_trees as u128 * MIN_TREE_BYTES as u128,
            cur.remaining()
        ))
        .with_offset(param_at));
    }

    let mut trees = Vec::with_capacity(num_trees);
    for t in 0..num_trees {
        trees.push(read_tree(cur, header.version).map_err(|e| e.with_tree(t))?);
    }

    // tree_info: num_trees × i32, no length prefix (§3.5).
    let info = cur.take(num_trees.saturating_mul(4), "tree_info")?;
    let tree_info: Vec<i32> = words(info).iter().map(|&w| i32::from_le_bytes(w)).collect();

    // DART: vector<f32> weight_drop, written only when there are trees (§3.5).
    let weight_drop = if dart {
        if num_trees > 0 {
            let at = cur.offset();
            let w = cur.f32_vec("weight_drop")?;
            if w.len() != num_trees {
                return Err(Error::invalid_model(format!(
                    "{} DART weights for {num_trees} trees",
                    w.len()
                ))
                .with_offset(at));
            }
            Some(w)
        } else {
            Some(Vec::new())
        }
    } else {
        None
    };

    Ok(RawBooster::Trees {
        trees,
        tree_info,
        iteration_indptr: None,
        weight_drop,
        num_parallel_tree,
    })
}

/// One `RegTree` (§3.6 – §3.8). Errors carry the offset; the caller adds the tree.
fn read_tree(cur: &mut Cursor<'_>, version: Version) -> Result<RawTree> {
    let mut p = cur.sub(TREE_PARAM_SIZE, "TreeParam")?;
    let _num_roots = p.i32("num_roots")?;
    let num_nodes_at = p.offset();
    let num_nodes = p.i32("num_nodes")?;
    // num_deleted (offset 8), max_depth (12) and num_feature (16) do not
    // affect prediction. XGBoost cross-checks num_deleted against the nodes
    // marked deleted; we tolerate a mismatch, since deleted nodes are
    // unreachable from the root anyway.
    p.skip(12, "TreeParam fields")?;
    let slv_at = p.offset();
    let size_leaf_vector = p.i32("size_leaf_vector")?;

    let n = match usize::try_from(num_nodes) {
        Ok(n) if n > 0 => n,
        _ => {
            return Err(Error::format(format!(
                "tree has num_nodes {num_nodes} (must be at least 1)"
            ))
            .with_offset(num_nodes_at));
        }
    };
    let size_leaf_vector = usize::try_from(size_leaf_vector).map_err(|_| {
        Error::format(format!("negative size_leaf_vector {size_leaf_vector}")).with_offset(slv_at)
    })?;
    let per_node = NODE_SIZE + STAT_SIZE;
    if n.checked_mul(per_node)
        .is_none_or(|need| need > cur.remaining())
    {
        return Err(Error::format(format!(
            "num_nodes {n} needs {} bytes but only {} remain",
            (n as u128) * per_node as u128,
            cur.remaining()
        ))
        .with_offset(num_nodes_at));
    }

    // §3.7: Node = parent_ i32, cleft_ i32, cright_ i32, sindex_ u32, info_ f32.
    let node_bytes = cur.take(n * NODE_SIZE, "tree nodes")?;
    let mut left = Vec::with_capacity(n);
    let mut right = Vec::with_capacity(n);
    let mut split_index = Vec::with_capacity(n);
    let mut split_condition = Vec::with_capacity(n);
    let mut default_left = Vec::with_capacity(n);
    // Little-endian words, five per node; destructuring the fixed-size arrays
    // cannot fail.
    let (nodes, _) = words(node_bytes).as_chunks::<5>();
    for &[_parent, l, r, sindex, info] in nodes {
        let sindex = u32::from_le_bytes(sindex);
        left.push(i32::from_le_bytes(l));
        right.push(i32::from_le_bytes(r));
        split_index.push(sindex & 0x7FFF_FFFF);
        default_left.push(sindex >> 31 != 0);
        split_condition.push(f32::from_le_bytes(info));
    }

    // §3.8: RTreeNodeStat = loss_chg, sum_hess, base_weight, leaf_child_cnt.
    let stat_bytes = cur.take(n * STAT_SIZE, "tree node statistics")?;
    let (stats, _) = words(stat_bytes).as_chunks::<4>();
    let base_weights: Vec<f32> = stats
        .iter()
        .map(|&[_loss_chg, _sum_hess, base_weight, _leaf_child_cnt]| {
            f32::from_le_bytes(base_weight)
        })
        .collect();

    let size_leaf_vector = if version.is_pre_1_0() {
        // §3.6: ≤ 0.81 wrote a trailing vector<f32> leaf_vector when
        // size_leaf_vector != 0. Prediction never used it (leaves are
        // scalar), so it is skipped and the tree is treated as scalar.
        if size_leaf_vector != 0 {
            let count = cur.count(4, "leaf_vector")?;
            cur.skip(count * 4, "leaf_vector")?;
        }
        0
    } else if size_leaf_vector > 1 {
        // §3.10: 1.0–3.0 refuse to write multi-target trees to the binary.
        return Err(Error::unsupported(format!(
            "size_leaf_vector {size_leaf_vector}: the legacy binary format cannot hold \
             multi-target trees"
        ))
        .with_offset(slv_at));
    } else {
        // 0 (1.x) or 1 (2.0–3.0): scalar leaves either way.
        size_leaf_vector
    };
    Ok(RawTree {
        left,
        right,
        split_index,
        split_condition,
        default_left,
        split_type: Vec::new(),
        categories: Vec::new(),
        categories_nodes: Vec::new(),
        categories_segments: Vec::new(),
        categories_sizes: Vec::new(),
        size_leaf_vector,
        base_weights,
        leaf_weights: None,
    })
}

/// `gblinear` payload (§3.9): a 136-byte param, then vector<f32> weights.
fn read_gblinear(cur: &mut Cursor<'_>, header: &LearnerParam) -> Result<RawBooster> {
    // The param's num_feature / num_output_group are deprecated in 1.0+; the
    // dimensions come from LearnerModelParam.
    cur.skip(GBLINEAR_PARAM_SIZE, "GBLinearModelParam")?;
    let at = cur.offset();
    let weights = cur.f32_vec("gblinear weights")?;
    let groups = header.num_class.max(header.num_target).max(1);
    let want = header
        .num_feature
        .checked_add(1)
        .and_then(|f| f.checked_mul(groups));
    if want != Some(weights.len()) {
        return Err(Error::invalid_model(format!(
            "gblinear has {} weights, expected ({} features + 1) × {groups} outputs",
            weights.len(),
            header.num_feature
        ))
        .with_offset(at));
    }
    Ok(RawBooster::Linear { weights })
}

/// `vector<pair<string, string>>` learner attributes (§3.2). 1.0+ also store
/// the objective config (`objective`) and `metrics` here; they are kept as is.
fn read_attributes(cur: &mut Cursor<'_>) -> Result<BTreeMap<String, String>> {
    // Each pair holds two u64 string lengths at least.
    let count = cur.count(16, "attribute count")?;
    let mut out = BTreeMap::new();
    for _ in 0..count {
        let key = cur.string("attribute name")?;
        let value = cur.string("attribute value")?;
        // XGBoost builds a std::map from the pairs, so the first of duplicate
        // keys wins. Attributes are free-form metadata: invalid UTF-8 is
        // replaced rather than rejected.
        out.entry(String::from_utf8_lossy(key).into_owned())
            .or_insert_with(|| String::from_utf8_lossy(value).into_owned());
    }
    Ok(out)
}

/// The 4-byte words of a slice (a trailing partial word is dropped; callers
/// pass whole multiples of 4).
fn words(bytes: &[u8]) -> &[[u8; 4]] {
    bytes.as_chunks::<4>().0
}

/// A name that must be UTF-8 (objective, booster).
fn utf8(bytes: &[u8], what: &str, at: u64) -> Result<String> {
    String::from_utf8(bytes.to_vec())
        .map_err(|_| Error::format(format!("the {what} is not valid UTF-8")).with_offset(at))
}

/// A bounds-checked little-endian reader over a byte slice (§3.1). Offsets in
/// errors are absolute file offsets (`base` is the slice's offset in the file).
struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
    base: usize,
}

impl<'a> Cursor<'a> {
    fn new(bytes: &'a [u8]) -> Cursor<'a> {
        Cursor {
            bytes,
            pos: 0,
            base: 0,
        }
    }

    /// The absolute file offset of the next byte.
    fn offset(&self) -> u64 {
        (self.base + self.pos) as u64
    }

    fn remaining(&self) -> usize {
        self.bytes.len().saturating_sub(self.pos)
    }

    fn truncated(&self, what: &str, need: u128) -> Error {
        Error::format(format!(
            "truncated file: {what} needs {need} bytes but only {} remain",
            self.remaining()
        ))
        .with_offset(self.offset())
    }

    /// The next `n` bytes.
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8]> {
        let bytes = self.bytes;
        match bytes.get(self.pos..).and_then(|rest| rest.get(..n)) {
            Some(s) => {
                self.pos += n;
                Ok(s)
            }
            None => Err(self.truncated(what, n as u128)),
        }
    }

    fn skip(&mut self, n: usize, what: &str) -> Result<()> {
        self.take(n, what).map(|_| ())
    }

    /// A cursor over the next `n` bytes (a fixed-size struct), so that the
    /// whole struct is checked once and a truncation is reported at its start.
    fn sub(&mut self, n: usize, what: &str) -> Result<Cursor<'a>> {
        let start = self.base + self.pos;
        let bytes = self.take(n, what)?;
        Ok(Cursor {
            bytes,
            pos: 0,
            base: start,
        })
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N]> {
        let bytes = self.bytes;
        match bytes
            .get(self.pos..)
            .and_then(|rest| rest.first_chunk::<N>())
        {
            Some(a) => {
                self.pos += N;
                Ok(*a)
            }
            None => Err(self.truncated(what, N as u128)),
        }
    }

    fn u32(&mut self, what: &str) -> Result<u32> {
        self.array(what).map(u32::from_le_bytes)
    }

    fn i32(&mut self, what: &str) -> Result<i32> {
        self.array(what).map(i32::from_le_bytes)
    }

    fn f32(&mut self, what: &str) -> Result<f32> {
        self.array(what).map(f32::from_le_bytes)
    }

    fn u64(&mut self, what: &str) -> Result<u64> {
        self.array(what).map(u64::from_le_bytes)
    }

    /// A `u64` element count whose `count × elem_size` bytes must fit in what
    /// remains after it. Errors point at the count.
    fn count(&mut self, elem_size: usize, what: &str) -> Result<usize> {
        let at = self.offset();
        let n = self.u64(what)?;
        self.check_count(n, elem_size, what, at)
    }

    fn check_count(&self, n: u64, elem_size: usize, what: &str, at: u64) -> Result<usize> {
        match usize::try_from(n)
            .ok()
            .and_then(|c| Some((c, c.checked_mul(elem_size)?)))
        {
            Some((c, need)) if need <= self.remaining() => Ok(c),
            _ => Err(Error::format(format!(
                "{what} {n} needs {} bytes but only {} remain",
                u128::from(n) * elem_size as u128,
                self.remaining()
            ))
            .with_offset(at)),
        }
    }

    /// `std::string`: u64 length + bytes (§3.1).
    fn string(&mut self, what: &str) -> Result<&'a [u8]> {
        let len = self.count(1, what)?;
        self.take(len, what)
    }

    /// `name_obj`, read like `Learner::Load` of every version: a u64 length
    /// ≥ 0xFFFFFFFF comes from a very old writer and is followed by 4 ignored
    /// bytes, with the real length in the high half (§3.1).
    fn name_obj(&mut self) -> Result<&'a [u8]> {
        let at = self.offset();
        let mut len = self.u64("objective name length")?;
        if len >= u64::from(u32::MAX) {
            self.skip(4, "objective name length gap")?;
            len >>= 32;
        }
        let len = self.check_count(len, 1, "objective name length", at)?;
        self.take(len, "objective name")
    }

    /// `std::vector<float>`: u64 count + `count` little-endian f32s (§3.1).
    fn f32_vec(&mut self, what: &str) -> Result<Vec<f32>> {
        let n = self.count(4, what)?;
        let bytes = self.take(n * 4, what)?;
        Ok(words(bytes)
            .iter()
            .map(|&w| f32::from_le_bytes(w))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Compat, LoadOptions, load_bytes};
    use quercus_core::{ErrorKind, FeatureMatrix, Output, PredictOptions};

    /// A little-endian writer for hand-built model files.
    #[derive(Default)]
    struct W(Vec<u8>);

    impl W {
        fn pos(&self) -> usize {
            self.0.len()
        }
        fn raw(&mut self, b: &[u8]) {
            self.0.extend_from_slice(b);
        }
        fn i32(&mut self, v: i32) {
            self.raw(&v.to_le_bytes());
        }
        fn u32(&mut self, v: u32) {
            self.raw(&v.to_le_bytes());
        }
        fn f32(&mut self, v: f32) {
            self.raw(&v.to_le_bytes());
        }
        fn u64(&mut self, v: u64) {
            self.raw(&v.to_le_bytes());
        }
        fn zeros(&mut self, n: usize) {
            self.0.resize(self.0.len() + n, 0);
        }
        fn string(&mut self, s: &str) {
            self.u64(s.len() as u64);
            self.raw(s.as_bytes());
        }
        fn f32_vec(&mut self, v: &[f32]) {
            self.u64(v.len() as u64);
            for &x in v {
                self.f32(x);
            }
        }
    }

    /// A node of a hand-built tree.
    #[derive(Clone, Copy)]
    enum N {
        Split {
            f: u32,
            thr: f32,
            dl: bool,
            l: i32,
            r: i32,
        },
        Leaf(f32),
        Deleted,
    }

    /// What to write. `Default` is a 0.82-style binary:logistic gbtree.
    #[derive(Clone)]
    struct Spec {
        binf: bool,
        base_score: f32,
        num_feature: u32,
        num_class: i32,
        eval_metrics: bool,
        major: u32,
        minor: u32,
        num_target: u32,
        objective: String,
        booster: &'static str,
        trees: Vec<Vec<N>>,
        tree_info: Vec<i32>,
        /// Offset 4 of GBTreeModelParam (num_roots before 1.6).
        gbtree_word1: i32,
        size_leaf_vector: i32,
        leaf_vector: Option<Vec<f32>>,
        weight_drop: Option<Vec<f32>>,
        linear: Vec<f32>,
        attrs: Option<Vec<(String, String)>>,
        trailing: Vec<u8>,
    }

    impl Default for Spec {
        fn default() -> Spec {
            Spec {
                binf: false,
                base_score: -0.847_297_85, // logit(0.3), stored as a margin (§3.4)
                num_feature: 2,
                num_class: 0,
                eval_metrics: false,
                major: 0,
                minor: 0,
                num_target: 0,
                objective: "binary:logistic".into(),
                booster: "gbtree",
                trees: vec![
                    vec![
                        N::Split {
                            f: 0,
                            thr: 0.5,
                            dl: true,
                            l: 1,
                            r: 2,
                        },
                        N::Leaf(-0.5),
                        N::Leaf(0.25),
                    ],
                    vec![
                        N::Split {
                            f: 1,
                            thr: 1.5,
                            dl: false,
                            l: 1,
                            r: 2,
                        },
                        N::Leaf(0.125),
                        N::Split {
                            f: 0,
                            thr: -1.0,
                            dl: true,
                            l: 3,
                            r: 4,
                        },
                        N::Leaf(-0.0625),
                        N::Leaf(0.75),
                    ],
                ],
                tree_info: vec![0, 0],
                gbtree_word1: 1,
                size_leaf_vector: 0,
                leaf_vector: None,
                weight_drop: None,
                linear: vec![],
                attrs: None,
                trailing: vec![],
            }
        }
    }

    /// Where things landed in a built file.
    struct Built {
        bytes: Vec<u8>,
        /// Bytes a reader must have: everything but the ignored trailing items.
        required: usize,
        learner_at: usize,
        gbm_param_at: usize,
        tree_at: Vec<usize>,
        after_trees: usize,
        attrs_at: usize,
    }

    fn build(s: &Spec) -> Built {
        let mut w = W::default();
        if s.binf {
            w.raw(b"binf");
        }
        let learner_at = w.pos();
        w.f32(s.base_score);
        w.u32(s.num_feature);
        w.i32(s.num_class);
        w.i32(i32::from(s.attrs.is_some()));
        w.i32(i32::from(s.eval_metrics));
        w.u32(s.major);
        w.u32(s.minor);
        w.u32(s.num_target);
        w.zeros(LEARNER_PARAM_SIZE - 32);
        w.string(&s.objective);
        w.string(s.booster);
        let gbm_param_at = w.pos();
        let mut tree_at = vec![];
        if s.booster == "gblinear" {
            w.zeros(GBLINEAR_PARAM_SIZE);
            w.f32_vec(&s.linear);
        } else {
            w.i32(s.trees.len() as i32);
            w.i32(s.gbtree_word1);
            w.zeros(GBTREE_PARAM_SIZE - 8);
            for nodes in &s.trees {
                tree_at.push(w.pos());
                let deleted = nodes.iter().filter(|n| matches!(n, N::Deleted)).count();
                w.i32(1);
                w.i32(nodes.len() as i32);
                w.i32(deleted as i32);
                w.i32(0);
                w.u32(s.num_feature);
                w.i32(s.size_leaf_vector);
                w.zeros(TREE_PARAM_SIZE - 24);
                let mut parent = vec![-1i32; nodes.len()];
                for (i, n) in nodes.iter().enumerate() {
                    if let N::Split { l, r, .. } = *n {
                        parent[l as usize] = i as i32 | i32::MIN;
                        parent[r as usize] = i as i32;
                    }
                }
                for (i, n) in nodes.iter().enumerate() {
                    w.i32(parent[i]);
                    match *n {
                        N::Split { f, thr, dl, l, r } => {
                            w.i32(l);
                            w.i32(r);
                            w.u32(f | if dl { 1 << 31 } else { 0 });
                            w.f32(thr);
                        }
                        N::Leaf(v) => {
                            w.i32(-1);
                            w.i32(-1);
                            w.u32(0);
                            w.f32(v);
                        }
                        N::Deleted => {
                            w.i32(-1);
                            w.i32(-1);
                            w.u32(u32::MAX);
                            w.f32(0.0);
                        }
                    }
                }
                for (i, n) in nodes.iter().enumerate() {
                    w.f32(i as f32); // loss_chg
                    w.f32(1.0); // sum_hess
                    w.f32(match *n {
                        N::Leaf(v) => v * 2.0,
                        _ => -(i as f32),
                    });
                    w.i32(0);
                }
                if let Some(lv) = &s.leaf_vector {
                    w.f32_vec(lv);
                }
            }
            for &g in &s.tree_info {
                w.i32(g);
            }
            if let Some(wd) = &s.weight_drop {
                w.f32_vec(wd);
            }
        }
        let after_trees = w.pos();
        let attrs_at = w.pos();
        if let Some(attrs) = &s.attrs {
            w.u64(attrs.len() as u64);
            for (k, v) in attrs {
                w.string(k);
                w.string(v);
            }
        }
        let required = w.pos();
        w.raw(&s.trailing);
        Built {
            bytes: w.0,
            required,
            learner_at,
            gbm_param_at,
            tree_at,
            after_trees,
            attrs_at,
        }
    }

    fn patch(bytes: &mut [u8], at: usize, v: &[u8]) {
        bytes[at..at + v.len()].copy_from_slice(v);
    }

    /// 0.82 as BigQuery ML exports it: no magic, margin base score, eval
    /// metrics and the count:poisson item trailing (§3.2).
    fn spec_082() -> Spec {
        let mut t = W::default();
        t.u64(2);
        t.string("auc");
        t.string("logloss");
        Spec {
            eval_metrics: true,
            trailing: t.0,
            ..Spec::default()
        }
    }

    /// 1.7 with `binf`, a probability base score and the attributes 1.0+ write.
    fn spec_17() -> Spec {
        Spec {
            binf: true,
            base_score: 0.5,
            major: 1,
            minor: 7,
            num_target: 1,
            objective: "binary:logistic".into(),
            attrs: Some(vec![
                (
                    "objective".into(),
                    r#"{"name":"binary:logistic","reg_loss_param":{"scale_pos_weight":"1"}}"#
                        .into(),
                ),
                ("metrics".into(), "logloss;".into()),
                ("best_iteration".into(), "1".into()),
                ("best_iteration".into(), "7".into()), // duplicate: first wins
            ]),
            ..Spec::default()
        }
    }

    /// 2.0 dart: size_leaf_vector 1, DART weights.
    fn spec_dart() -> Spec {
        Spec {
            binf: true,
            base_score: 0.25,
            major: 2,
            minor: 0,
            num_target: 1,
            objective: "reg:squarederror".into(),
            booster: "dart",
            size_leaf_vector: 1,
            weight_drop: Some(vec![1.0, 0.5]),
            attrs: Some(vec![]),
            ..Spec::default()
        }
    }

    /// 1.0 gblinear: no magic, versioned.
    fn spec_linear() -> Spec {
        Spec {
            base_score: 0.5,
            major: 1,
            minor: 0,
            objective: "reg:linear".into(),
            booster: "gblinear",
            trees: vec![],
            tree_info: vec![],
            linear: vec![0.5, -0.25, 0.125],
            attrs: Some(vec![("scikit_learn".into(), "{}".into())]),
            ..Spec::default()
        }
    }

    /// 3.0 multiclass with a deleted node, 3 outputs.
    fn spec_multi() -> Spec {
        let stump = |v: f32| {
            vec![
                N::Split {
                    f: 1,
                    thr: 0.0,
                    dl: false,
                    l: 1,
                    r: 2,
                },
                N::Leaf(-v),
                N::Leaf(v),
                N::Deleted,
            ]
        };
        Spec {
            binf: true,
            base_score: 0.5,
            num_class: 3,
            major: 3,
            minor: 0,
            num_target: 1,
            objective: "multi:softprob".into(),
            size_leaf_vector: 1,
            trees: vec![stump(0.5), stump(0.25), stump(0.125)],
            tree_info: vec![0, 1, 2],
            attrs: Some(vec![]),
            ..Spec::default()
        }
    }

    fn all_specs() -> Vec<(&'static str, Spec)> {
        vec![
            ("0.82", spec_082()),
            ("1.7", spec_17()),
            ("dart", spec_dart()),
            ("gblinear", spec_linear()),
            ("multiclass", spec_multi()),
        ]
    }

    fn trees(m: &RawModel) -> (&[RawTree], &[i32], Option<&[f32]>, usize) {
        match &m.booster {
            RawBooster::Trees {
                trees,
                tree_info,
                weight_drop,
                num_parallel_tree,
                iteration_indptr,
            } => {
                assert!(iteration_indptr.is_none());
                (trees, tree_info, weight_drop.as_deref(), *num_parallel_tree)
            }
            RawBooster::Linear { .. } => panic!("not a tree model"),
        }
    }

    fn is_format(e: &Error) -> bool {
        matches!(e.kind(), ErrorKind::Format(_))
    }

    #[test]
    fn reads_082_binary() {
        let b = build(&spec_082());
        let m = parse(&b.bytes).unwrap();
        assert_eq!(m.version, Version::default());
        assert!(m.version.is_pre_1_0());
        assert!(m.base_score_is_margin);
        assert_eq!(m.base_score, vec![-0.847_297_85]);
        assert_eq!((m.num_feature, m.num_class, m.num_target), (2, 0, 1));
        assert_eq!(m.objective, "binary:logistic");
        assert_eq!(m.booster_name, "gbtree");
        assert!(m.attributes.is_empty());
        let (ts, info, wd, npt) = trees(&m);
        assert_eq!((info, wd, npt), (&[0, 0][..], None, 1));
        assert_eq!(ts.len(), 2);
        let t = &ts[1];
        assert_eq!(t.left, vec![1, -1, 3, -1, -1]);
        assert_eq!(t.right, vec![2, -1, 4, -1, -1]);
        assert_eq!(t.split_index, vec![1, 0, 0, 0, 0]);
        assert_eq!(t.default_left, vec![false, false, true, false, false]);
        assert_eq!(t.split_condition, vec![1.5, 0.125, -1.0, -0.0625, 0.75]);
        assert_eq!(t.base_weights, vec![-0.0, 0.25, -2.0, -0.125, 1.5]);
        assert_eq!(t.size_leaf_vector, 0);
        assert!(t.split_type.is_empty() && t.categories.is_empty());
        assert!(t.leaf_weights.is_none());
    }

    #[test]
    fn reads_1x_binary_with_attributes() {
        let b = build(&spec_17());
        assert!(b.bytes.starts_with(b"binf"));
        let m = parse(&b.bytes).unwrap();
        assert_eq!(m.version, Version::new(1, 7, 0));
        assert!(!m.base_score_is_margin);
        assert_eq!(m.base_score, vec![0.5]);
        assert_eq!(m.attributes.len(), 3);
        assert_eq!(m.attributes["best_iteration"], "1");
        assert_eq!(m.attributes["metrics"], "logloss;");
        assert!(m.attributes["objective"].starts_with(r#"{"name":"binary:logistic""#));
        let (ts, _, _, npt) = trees(&m);
        assert_eq!((ts.len(), npt), (2, 1));
        // Loads end to end, with `best_iteration` visible.
        let x = load_bytes(&b.bytes, &LoadOptions::default()).unwrap();
        assert_eq!(x.info.best_iteration(), Some(1));
        assert_eq!(x.info.version.to_string(), "1.7.0");
    }

    #[test]
    fn predicts_082_file_end_to_end() {
        let b = build(&spec_082());
        let opts = LoadOptions {
            compat: Compat::Writer,
            ..LoadOptions::default()
        };
        let m = load_bytes(&b.bytes, &opts).unwrap();
        assert_eq!(m.info.version.to_string(), "0.x");
        let rows = [0.0f32, 0.0, 1.0, 2.0, -2.0, 2.0, f32::NAN, f32::NAN];
        let x = FeatureMatrix::row_major(&rows, 4, 2).unwrap();
        let p = m
            .forest
            .predict(&x, &PredictOptions::default().with_output(Output::Margin))
            .unwrap();
        let base = -0.847_297_85f32;
        // Row by row: tree 0 (f0 < 0.5, NaN left), tree 1 (f1 < 1.5, NaN right; then f0 < -1, NaN left).
        let want = [
            base + (-0.5 + 0.125),
            base + (0.25 + 0.75),
            base + (-0.5 + -0.0625),
            base + (-0.5 + -0.0625),
        ];
        assert_eq!(p.data, want);
    }

    #[test]
    fn dart_weights_and_2x_leaf_size() {
        let m = parse(&build(&spec_dart()).bytes).unwrap();
        assert_eq!(m.version, Version::new(2, 0, 0));
        assert_eq!(m.booster_name, "dart");
        let (ts, _, wd, _) = trees(&m);
        assert_eq!(wd, Some(&[1.0, 0.5][..]));
        assert!(ts.iter().all(|t| t.size_leaf_vector == 1));
        load_bytes(&build(&spec_dart()).bytes, &LoadOptions::default()).unwrap();

        // A dart model with no trees stores no weight vector.
        let empty = Spec {
            trees: vec![],
            tree_info: vec![],
            weight_drop: None,
            ..spec_dart()
        };
        let m = parse(&build(&empty).bytes).unwrap();
        assert_eq!(trees(&m).2, Some(&[][..]));

        // Weight count must match the tree count.
        let bad = Spec {
            weight_drop: Some(vec![1.0]),
            ..spec_dart()
        };
        let b = build(&bad);
        let e = parse(&b.bytes).unwrap_err();
        assert!(matches!(e.kind(), ErrorKind::InvalidModel(_)), "{e}");
        assert_eq!(e.location().offset, Some(b.after_trees as u64 - 12));
    }

    #[test]
    fn reads_gblinear() {
        let b = build(&spec_linear());
        let m = parse(&b.bytes).unwrap();
        assert_eq!(m.booster_name, "gblinear");
        assert_eq!(m.version, Version::new(1, 0, 0));
        assert!(!m.base_score_is_margin);
        assert_eq!(m.attributes["scikit_learn"], "{}");
        match &m.booster {
            RawBooster::Linear { weights } => assert_eq!(weights, &[0.5, -0.25, 0.125]),
            RawBooster::Trees { .. } => panic!("expected gblinear"),
        }
        load_bytes(&b.bytes, &LoadOptions::default()).unwrap();

        let bad = Spec {
            linear: vec![0.5, 1.0],
            ..spec_linear()
        };
        let b = build(&bad);
        let e = parse(&b.bytes).unwrap_err();
        assert!(matches!(e.kind(), ErrorKind::InvalidModel(_)), "{e}");
        assert_eq!(
            e.location().offset,
            Some((b.gbm_param_at + GBLINEAR_PARAM_SIZE) as u64)
        );
    }

    #[test]
    fn multiclass_with_deleted_node_loads() {
        let b = build(&spec_multi());
        let m = parse(&b.bytes).unwrap();
        assert_eq!(m.num_class, 3);
        let (ts, info, _, _) = trees(&m);
        assert_eq!(info, &[0, 1, 2]);
        // A deleted node: sindex_ 0xFFFFFFFF (§3.7).
        assert_eq!(ts[0].split_index[3], 0x7FFF_FFFF);
        assert!(ts[0].default_left[3]);
        let x = load_bytes(&b.bytes, &LoadOptions::default()).unwrap();
        assert_eq!(x.forest.num_outputs(), 3);
    }

    #[test]
    fn num_parallel_tree_and_num_target_only_from_1_6() {
        for (major, minor, npt, nt) in [(1, 5, 1, 1), (1, 6, 4, 2), (2, 1, 4, 2), (0, 0, 1, 1)] {
            let s = Spec {
                major,
                minor,
                gbtree_word1: 4,
                num_target: 2,
                ..Spec::default()
            };
            let m = parse(&build(&s).bytes).unwrap();
            assert_eq!(trees(&m).3, npt, "{major}.{minor}");
            assert_eq!(m.num_target, nt, "{major}.{minor}");
        }
        // A stored num_target of 0 means 1.
        let s = Spec {
            major: 1,
            minor: 6,
            num_target: 0,
            ..Spec::default()
        };
        assert_eq!(parse(&build(&s).bytes).unwrap().num_target, 1);
        // A negative num_parallel_tree is refused where it is meaningful.
        let s = Spec {
            major: 1,
            minor: 6,
            gbtree_word1: -3,
            ..Spec::default()
        };
        let b = build(&s);
        let e = parse(&b.bytes).unwrap_err();
        assert_eq!(e.location().offset, Some(b.gbm_param_at as u64 + 4));
    }

    #[test]
    fn skips_081_leaf_vector_only_for_0x() {
        let s = Spec {
            size_leaf_vector: 2,
            leaf_vector: Some(vec![1.0, 2.0, 3.0]),
            ..Spec::default()
        };
        let m = parse(&build(&s).bytes).unwrap();
        let (ts, info, _, _) = trees(&m);
        assert_eq!(info, &[0, 0]);
        assert!(ts.iter().all(|t| t.size_leaf_vector == 0));
        assert_eq!(ts[1].left.len(), 5);

        // 1.0+ never writes a leaf vector; K > 1 would be a multi-target tree.
        let s = Spec {
            major: 2,
            minor: 0,
            size_leaf_vector: 3,
            ..Spec::default()
        };
        let b = build(&s);
        let e = parse(&b.bytes).unwrap_err();
        assert!(matches!(e.kind(), ErrorKind::Unsupported(_)), "{e}");
        assert_eq!(e.location().tree, Some(0));
        assert_eq!(e.location().offset, Some(b.tree_at[0] as u64 + 20));
    }

    #[test]
    fn old_objective_length_quirk() {
        // §3.1: a length ≥ 0xFFFFFFFF is followed by 4 ignored bytes and the
        // real length is its high half.
        let good = build(&spec_082()).bytes;
        let mut w = W::default();
        w.raw(&good[..LEARNER_PARAM_SIZE]);
        w.u64((15u64 << 32) | 0xFFFF_FFFF);
        w.u32(0xDEAD_BEEF);
        w.raw(&good[LEARNER_PARAM_SIZE + 8..]);
        let m = parse(&w.0).unwrap();
        assert_eq!(m.objective, "binary:logistic");
        assert_eq!(trees(&m).0.len(), 2);
    }

    #[test]
    fn rejects_bs64_and_unknown_boosters() {
        let e = parse(b"bs64AAAAAAAAAAAAAAAAAAAA").unwrap_err();
        assert!(is_format(&e) && e.to_string().contains("bs64"), "{e}");
        assert_eq!(e.location().offset, Some(0));
        let e = load_bytes(b"bs64AAAA", &LoadOptions::default()).unwrap_err();
        assert!(e.to_string().contains("bs64"), "{e}");

        let s = Spec {
            booster: "gbforest",
            ..Spec::default()
        };
        let e = parse(&build(&s).bytes).unwrap_err();
        assert!(matches!(e.kind(), ErrorKind::Unsupported(_)), "{e}");
        assert_eq!(
            e.location().offset,
            Some((LEARNER_PARAM_SIZE + 8 + "binary:logistic".len()) as u64)
        );

        let mut bytes = build(&Spec::default()).bytes;
        patch(&mut bytes, LEARNER_PARAM_SIZE + 8, &[0xFF]);
        let e = parse(&bytes).unwrap_err();
        assert!(e.to_string().contains("UTF-8"), "{e}");
    }

    #[test]
    fn trailing_bytes_are_ignored() {
        for (name, s) in all_specs() {
            let mut b = build(&s).bytes;
            b.extend_from_slice(&[0xAB; 37]);
            parse(&b).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }

    #[test]
    fn truncation_at_every_byte_is_an_error() {
        for (name, s) in all_specs() {
            let b = build(&s);
            for cut in 0..b.bytes.len() {
                let r = parse(&b.bytes[..cut]);
                if cut < b.required {
                    let e = r
                        .err()
                        .unwrap_or_else(|| panic!("{name}: cut {cut} parsed"));
                    assert!(is_format(&e), "{name}: cut {cut}: {e}");
                    assert!(e.location().offset.is_some(), "{name}: cut {cut}: {e}");
                    // And the full loader fails cleanly too.
                    assert!(load_bytes(&b.bytes[..cut], &LoadOptions::default()).is_err());
                } else {
                    // Only the 0.82 trailing items are missing.
                    r.unwrap_or_else(|e| panic!("{name}: cut {cut}: {e}"));
                }
            }
        }
    }

    #[test]
    fn truncation_inside_a_tree_names_the_tree() {
        // Enough trees that the up-front num_trees check passes at tree 5.
        let s = Spec {
            trees: vec![spec_17().trees[1].clone(); 6],
            tree_info: vec![0; 6],
            ..spec_17()
        };
        let b = build(&s);
        let e = parse(&b.bytes[..b.tree_at[5] + 40]).unwrap_err();
        assert_eq!(e.location().tree, Some(5), "{e}");
        assert_eq!(e.location().offset, Some(b.tree_at[5] as u64));
        let e = parse(&b.bytes[..b.tree_at[5] + TREE_PARAM_SIZE + 3]).unwrap_err();
        assert_eq!(e.location().tree, Some(5), "{e}");
        assert_eq!(e.location().offset, Some(b.tree_at[5] as u64 + 4));
        // A truncated file with too little left for its trees fails at num_trees.
        let e = parse(&b.bytes[..b.tree_at[1] + 40]).unwrap_err();
        assert_eq!(e.location().offset, Some(b.gbm_param_at as u64), "{e}");
    }

    #[test]
    fn huge_and_negative_counts_fail_fast() {
        let b = build(&spec_dart());
        let expect = |bytes: &[u8], off: usize, tree: Option<usize>| {
            let e = parse(bytes).unwrap_err();
            assert!(is_format(&e), "{e}");
            assert_eq!(e.location().offset, Some(off as u64), "{e}");
            assert_eq!(e.location().tree, tree, "{e}");
        };
        let g = b.gbm_param_at;
        let t0 = b.tree_at[0];
        let cases: Vec<(usize, Vec<u8>, usize, Option<usize>)> = vec![
            // num_trees
            (g, i32::MAX.to_le_bytes().to_vec(), g, None),
            (g, (-1i32).to_le_bytes().to_vec(), g, None),
            (g, 1_000_000i32.to_le_bytes().to_vec(), g, None),
            // num_nodes
            (t0 + 4, i32::MAX.to_le_bytes().to_vec(), t0 + 4, Some(0)),
            (t0 + 4, i32::MIN.to_le_bytes().to_vec(), t0 + 4, Some(0)),
            (t0 + 4, 0i32.to_le_bytes().to_vec(), t0 + 4, Some(0)),
            (
                b.tree_at[1] + 4,
                1000i32.to_le_bytes().to_vec(),
                b.tree_at[1] + 4,
                Some(1),
            ),
            // size_leaf_vector
            (t0 + 20, (-1i32).to_le_bytes().to_vec(), t0 + 20, Some(0)),
            // weight_drop count
            (
                b.after_trees - 16,
                u64::MAX.to_le_bytes().to_vec(),
                b.after_trees - 16,
                None,
            ),
            (
                b.after_trees - 16,
                (1u64 << 62).to_le_bytes().to_vec(),
                b.after_trees - 16,
                None,
            ),
            // attribute count
            (
                b.attrs_at,
                u64::MAX.to_le_bytes().to_vec(),
                b.attrs_at,
                None,
            ),
            (b.attrs_at, 3u64.to_le_bytes().to_vec(), b.attrs_at, None),
            // objective name: plain huge, and huge through the quirk
            (140, (1u64 << 31).to_le_bytes().to_vec(), 140, None),
            (140, (u64::MAX - 1).to_le_bytes().to_vec(), 140, None),
            // num_class
            (
                b.learner_at + 8,
                (-2i32).to_le_bytes().to_vec(),
                b.learner_at + 8,
                None,
            ),
            (
                b.learner_at + 8,
                i32::MAX.to_le_bytes().to_vec(),
                b.learner_at + 8,
                None,
            ),
            // num_target (2.0 file)
            (
                b.learner_at + 28,
                u32::MAX.to_le_bytes().to_vec(),
                b.learner_at + 28,
                None,
            ),
        ];
        for (at, v, off, tree) in cases {
            let mut bytes = b.bytes.clone();
            patch(&mut bytes, at, &v);
            let r = std::panic::catch_unwind(|| expect(&bytes, off, tree));
            assert!(r.is_ok(), "patch at {at} with {v:?}");
        }

        // The booster name length, the gblinear weight count, a leaf_vector count.
        let mut bytes = build(&Spec::default()).bytes;
        let gbm_len_at = LEARNER_PARAM_SIZE + 8 + 15;
        patch(&mut bytes, gbm_len_at, &u64::MAX.to_le_bytes());
        expect(&bytes, gbm_len_at, None);

        let b = build(&spec_linear());
        let mut bytes = b.bytes.clone();
        let at = b.gbm_param_at + GBLINEAR_PARAM_SIZE;
        patch(&mut bytes, at, &(u64::MAX / 2).to_le_bytes());
        expect(&bytes, at, None);

        let s = Spec {
            size_leaf_vector: 2,
            leaf_vector: Some(vec![1.0]),
            ..Spec::default()
        };
        let b = build(&s);
        let mut bytes = b.bytes.clone();
        let at = b.tree_at[1] - 12;
        patch(&mut bytes, at, &u64::MAX.to_le_bytes());
        expect(&bytes, at, Some(0));
    }

    /// Every legacy binary under `models/xgboost/<version>/` (written by real
    /// XGBoost 0.82 … 3.0.5, see `models/gen/`) loads. Prediction parity is
    /// checked by the workspace test `tests/parity_xgboost.rs`.
    #[test]
    fn real_binaries_load() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/xgboost");
        let Ok(versions) = std::fs::read_dir(&root) else {
            return; // fixtures not generated in this checkout
        };
        let mut failures = vec![];
        let mut loaded = 0;
        for dir in versions.flatten() {
            let Ok(files) = std::fs::read_dir(dir.path()) else {
                continue;
            };
            for file in files.flatten() {
                let path = file.path();
                // Only files the generator recorded references for: a failed
                // save (e.g. categorical splits, §3.10) leaves a truncated file.
                let mut reference = path.clone().into_os_string();
                reference.push(".margin.npy");
                if path.extension().is_none_or(|e| e != "bst")
                    || !std::path::Path::new(&reference).exists()
                {
                    continue;
                }
                let Ok(bytes) = std::fs::read(&path) else {
                    continue;
                };
                if crate::detect(&bytes) != Some(crate::Format::LegacyBinary) {
                    continue; // e.g. 2.1's `save_model("x.bst")` writes UBJSON
                }
                for opts in [LoadOptions::default(), LoadOptions::legacy_summation(true)] {
                    match load_bytes(&bytes, &opts) {
                        Ok(_) => loaded += 1,
                        Err(e) => failures.push(format!("{}: {e}", path.display())),
                    }
                }
            }
        }
        assert!(failures.is_empty(), "{failures:#?}");
        eprintln!("loaded {} legacy binaries", loaded / 2);
    }

    mod fuzz {
        use super::*;
        use proptest::prelude::*;

        fn mutate(mut bytes: Vec<u8>, edits: &[(usize, u8, u8)], cut: Option<usize>) -> Vec<u8> {
            for &(pos, byte, kind) in edits {
                if bytes.is_empty() {
                    break;
                }
                let p = pos % bytes.len();
                match kind % 4 {
                    0 => bytes[p] = byte,
                    1 => bytes[p] ^= 1 << (byte % 8),
                    2 => bytes.insert(p, byte),
                    // Make a count-sized word huge.
                    _ => {
                        let end = (p + 4).min(bytes.len());
                        bytes[p..end].fill(0xFF ^ (byte & 0x80));
                    }
                }
            }
            if let Some(c) = cut {
                bytes.truncate(c % (bytes.len() + 1));
            }
            bytes
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(512))]

            #[test]
            fn random_mutations_never_panic(
                which in 0usize..5,
                edits in prop::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 1..8),
                cut in prop::option::of(any::<usize>()),
            ) {
                let (_, spec) = all_specs().swap_remove(which);
                let bytes = mutate(build(&spec).bytes, &edits, cut);
                let _ = parse(&bytes);
                let _ = load_bytes(&bytes, &LoadOptions::default());
                let _ = load_bytes(&bytes, &LoadOptions::legacy_summation(true));
            }

            #[test]
            fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
                let _ = parse(&bytes);
                let mut b = b"binf".to_vec();
                b.extend_from_slice(&bytes);
                let _ = parse(&b);
            }
        }
    }
}
