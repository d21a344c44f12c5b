//! Prediction: the batch driver (row blocks, threads) and its kernels.
//!
//! * [`Kernel::Reference`]: one row at a time, one tree at a time, straight off
//!   the IR, in exactly XGBoost's summation order. It is the reference every
//!   other kernel is tested against, and the fallback (`QUERCUS_FORCE_SCALAR=1`).
//! * [`Kernel::Interleaved`]: the packed layout, eight rows walked through a
//!   tree at once with a branch-free step, trees in cache-sized blocks while a
//!   block of rows streams through. Each row's leaf values are still added in
//!   tree order, so its output is bit-identical to the reference.

use std::sync::OnceLock;

use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::forest::{Booster, Forest, LinearModel, Node, Summation, TreeEnsemble};
use crate::input::FeatureMatrix;
use crate::objective::{Objective, argmax_first, softmax_in_place};
use crate::packed::fast::{self, LANES};
use crate::packed::{FEATURE_MASK, PackedForest, step};

/// Rows below this count are predicted on the calling thread.
const PARALLEL_MIN_ROWS: usize = 2048;
/// Rows per work item (and per gathered input block).
const ROW_BLOCK: usize = 512;
/// Packed nodes per tree block (12 bytes each: 2048 nodes = 24 KiB, in L1).
const TREE_BLOCK_NODES: usize = 2048;

/// Which kernel computes tree outputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Kernel {
    /// The fastest available, unless `QUERCUS_FORCE_SCALAR=1` is set in the
    /// environment (read once per process), which selects [`Kernel::Reference`].
    #[default]
    Auto,
    /// The scalar reference: one row, one tree at a time.
    Reference,
    /// The packed, row-interleaved, tree-blocked kernel.
    Interleaved,
}

impl Kernel {
    /// Every concrete kernel, for tests that must run them all.
    pub const ALL: [Kernel; 2] = [Kernel::Reference, Kernel::Interleaved];

    fn resolve(self) -> Kernel {
        static FORCED: OnceLock<bool> = OnceLock::new();
        match self {
            Kernel::Auto => {
                let forced = *FORCED.get_or_init(|| {
                    std::env::var("QUERCUS_FORCE_SCALAR").is_ok_and(|v| v != "0" && !v.is_empty())
                });
                if forced {
                    Kernel::Reference
                } else {
                    Kernel::Interleaved
                }
            }
            k => k,
        }
    }
}

/// What to predict, and how.
#[derive(Clone, Debug, PartialEq)]
pub struct PredictOptions {
    /// Return raw margins instead of the objective's transformed output.
    pub output_margin: bool,
    /// Return the leaf node index reached in each tree instead of a prediction.
    pub pred_leaf: bool,
    /// A value that counts as missing in addition to NaN (XGBoost's `missing`).
    pub missing: f32,
    /// Use only boosting rounds `begin..end`; `end == 0` means "to the last".
    pub iteration_range: Option<(usize, usize)>,
    /// Threads to use: `None` uses [`default_threads`](crate::default_threads)
    /// for large inputs, `Some(1)` stays on the calling thread. Quercus uses its
    /// own pools, never rayon's global one.
    pub n_threads: Option<usize>,
    /// Which kernel to use (all give bit-identical results).
    pub kernel: Kernel,
}

impl Default for PredictOptions {
    fn default() -> Self {
        PredictOptions {
            output_margin: false,
            pred_leaf: false,
            missing: f32::NAN,
            iteration_range: None,
            n_threads: None,
            kernel: Kernel::Auto,
        }
    }
}

/// Predictions: a row-major array with the shape XGBoost's Python
/// `Booster.predict` returns for the same model and options.
#[derive(Clone, Debug, PartialEq)]
pub struct Predictions {
    /// The values, row-major.
    pub data: Vec<f32>,
    /// `[rows]` when each row has one value, else `[rows, width]`.
    pub shape: Vec<usize>,
}

impl Predictions {
    /// Number of values per row.
    pub fn width(&self) -> usize {
        self.shape.get(1).copied().unwrap_or(1)
    }
}

impl Forest {
    /// Predicts every row of `x`.
    ///
    /// Each kernel returns bit-identical values; see [`Kernel`]. Large inputs
    /// are split into row blocks predicted on Quercus's own thread pool (see
    /// [`PredictOptions::n_threads`]).
    pub fn predict(&self, x: &FeatureMatrix<'_>, opts: &PredictOptions) -> Result<Predictions> {
        let width = self.output_width(opts)?;
        let rows = x.rows();
        let len = rows
            .checked_mul(width)
            .ok_or_else(|| Error::input("output size overflows"))?;
        let mut data = vec![0.0f32; len];
        self.predict_into(x, opts, &mut data)?;
        let shape = if width == 1 {
            vec![rows]
        } else {
            vec![rows, width]
        };
        Ok(Predictions { data, shape })
    }

    /// Number of values per row that [`Forest::predict`] returns with `opts`
    /// (the second dimension of its shape, or 1).
    pub fn output_width(&self, opts: &PredictOptions) -> Result<usize> {
        Ok(Plan::new(self, opts)?.width)
    }

    /// Predicts every row of `x` into `out`, row-major, which must hold exactly
    /// `x.rows() * self.output_width(opts)` values.
    ///
    /// For callers that predict in a loop: with fewer than 8 rows of
    /// row-contiguous input (up to 256 features, 64 outputs) it runs on the
    /// calling thread and allocates nothing.
    ///
    /// ```
    /// # use quercus_core::*;
    /// # let tree = Tree::new(vec![
    /// #     Node::Split { feature: 0, threshold: 0.5, default_left: true, left: 1, right: 2, categories: None },
    /// #     Node::Leaf { value: -1.0 }, Node::Leaf { value: 1.0 }], vec![], 1)?;
    /// # let forest = Forest::new(ForestParts {
    /// #     num_features: 1, num_outputs: 1, base_margin: vec![0.0],
    /// #     objective: Objective::from_xgboost_name("reg:squarederror")?,
    /// #     booster: Booster::Trees(TreeEnsemble::new(vec![tree], vec![0], None, vec![0, 1])?),
    /// #     semantics: Semantics::default(), feature_names: vec![], feature_types: vec![] })?;
    /// let opts = PredictOptions::default();
    /// let mut out = [0.0f32; 1];
    /// for x in [0.2f32, 0.9] {
    ///     forest.predict_into(&FeatureMatrix::row_major(&[x], 1, 1)?, &opts, &mut out)?;
    ///     println!("{}", out[0]);
    /// }
    /// # Ok::<(), quercus_core::Error>(())
    /// ```
    pub fn predict_into(
        &self,
        x: &FeatureMatrix<'_>,
        opts: &PredictOptions,
        out: &mut [f32],
    ) -> Result<()> {
        if x.cols() != self.num_features() {
            return Err(Error::new(crate::ErrorKind::FeatureCount {
                expected: self.num_features(),
                found: x.cols(),
            }));
        }
        let plan = Plan::new(self, opts)?;
        let rows = x.rows();
        let width = plan.width;
        if rows.checked_mul(width) != Some(out.len()) {
            return Err(Error::input(format!(
                "output buffer holds {} values; {rows} rows x {width} values per row needed",
                out.len()
            )));
        }
        if width == 0 || rows == 0 {
            return Ok(());
        }
        let threads = opts
            .n_threads
            .unwrap_or_else(crate::parallel::default_threads);
        if rows < PARALLEL_MIN_ROWS || threads <= 1 {
            plan.run(self, x, 0, out);
        } else {
            crate::parallel::pool(threads)?.install(|| {
                out.par_chunks_mut(ROW_BLOCK * width)
                    .enumerate()
                    .for_each(|(b, chunk)| plan.run(self, x, b * ROW_BLOCK, chunk));
            });
        }
        Ok(())
    }
}

/// What a predict call computes, resolved once per call.
struct Plan<'f> {
    mode: Mode,
    trees: std::ops::Range<usize>,
    width: usize,
    missing: f32,
    objective: &'f Objective,
    kernel: Kernel,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Leaf,
    Margin,
    Transformed,
}

impl<'f> Plan<'f> {
    fn new(forest: &'f Forest, opts: &PredictOptions) -> Result<Plan<'f>> {
        let mode = if opts.pred_leaf {
            Mode::Leaf
        } else if opts.output_margin {
            Mode::Margin
        } else {
            Mode::Transformed
        };
        let trees = match forest.booster() {
            Booster::Trees(e) => tree_range(e, opts.iteration_range)?,
            Booster::Linear(_) => {
                if mode == Mode::Leaf {
                    return Err(Error::option(
                        "leaf indices need a tree model (this is gblinear)",
                    ));
                }
                0..0
            }
        };
        let width = match mode {
            Mode::Leaf => trees.len(),
            Mode::Transformed if *forest.objective() == Objective::Softmax => 1,
            _ => forest.num_outputs(),
        };
        Ok(Plan {
            mode,
            trees,
            width,
            missing: opts.missing,
            objective: forest.objective(),
            kernel: opts.kernel.resolve(),
        })
    }

    /// Predicts rows `first..` of `x` into `out` (`out.len() / width` rows).
    fn run(&self, forest: &Forest, x: &FeatureMatrix<'_>, first: usize, out: &mut [f32]) {
        match (self.kernel, forest.booster()) {
            (Kernel::Interleaved, Booster::Trees(e)) => {
                for (b, chunk) in out.chunks_mut(ROW_BLOCK * self.width).enumerate() {
                    self.run_interleaved(forest, e, x, first + b * ROW_BLOCK, chunk);
                }
            }
            _ => self.run_reference(forest, x, first, out),
        }
    }

    /// The reference kernel.
    fn run_reference(&self, forest: &Forest, x: &FeatureMatrix<'_>, first: usize, out: &mut [f32]) {
        let g = forest.num_outputs();
        let mut row_buf = vec![0.0f32; x.cols()];
        let mut margin = vec![0.0f32; g];
        let mut psum = vec![0.0f32; g];
        let sem = forest.semantics();
        for (i, out_row) in out.chunks_exact_mut(self.width).enumerate() {
            let r = first + i;
            let row: &[f32] = match x.row_slice(r) {
                Some(s) => s,
                None => {
                    x.copy_row(r, &mut row_buf);
                    &row_buf
                }
            };
            match forest.booster() {
                Booster::Trees(e) => {
                    if self.mode == Mode::Leaf {
                        for (o, tree) in out_row.iter_mut().zip(&e.trees()[self.trees.clone()]) {
                            *o = tree.leaf_index(row, self.missing, sem.category_out_of_range)
                                as f32;
                        }
                        continue;
                    }
                    self.tree_margin(forest, e, row, &mut margin, &mut psum);
                }
                Booster::Linear(l) => linear_margin(forest, l, row, self.missing, &mut margin),
            }
            self.finish_row(forest, &mut margin, out_row);
        }
    }

    /// Turns one row's margins into its output (transform, or a copy).
    #[inline]
    fn finish_row(&self, forest: &Forest, margin: &mut [f32], out_row: &mut [f32]) {
        match self.mode {
            Mode::Transformed => match self.objective {
                Objective::Softprob => {
                    softmax_in_place(margin);
                    out_row.copy_from_slice(margin);
                }
                Objective::Softmax => out_row[0] = argmax_first(margin) as f32,
                obj => {
                    let sigmoid = forest.semantics().sigmoid;
                    for (o, &m) in out_row.iter_mut().zip(margin.iter()) {
                        *o = obj.transform_scalar(m, sigmoid);
                    }
                }
            },
            _ => out_row.copy_from_slice(margin),
        }
    }

    /// The interleaved kernel over one block of at most [`ROW_BLOCK`] rows.
    fn run_interleaved(
        &self,
        forest: &Forest,
        e: &TreeEnsemble,
        x: &FeatureMatrix<'_>,
        first: usize,
        out: &mut [f32],
    ) {
        let n = out.len() / self.width;
        let f = x.cols();
        let packed = forest.packed();
        let fast =
            self.mode != Mode::Leaf && e.weights().is_none() && packed.all_fast(self.trees.clone());
        if fast && n < LANES {
            self.run_small(forest, x, first, out);
            return;
        }
        // Gather the block row-major, turning the `missing` sentinel into NaN,
        // unless the caller's rows can be used as they are.
        let gathered: Vec<f32>;
        let xb: &[f32] = match x.row_slice(first) {
            Some(_) if self.missing.is_nan() && x.is_dense_row_major() => {
                x.rows_slice(first, first + n)
            }
            _ => {
                let mut buf = vec![0.0f32; n * f];
                for (i, row) in buf.chunks_exact_mut(f.max(1)).enumerate().take(n) {
                    x.copy_row(first + i, row);
                    if !self.missing.is_nan() {
                        for v in row.iter_mut() {
                            if *v == self.missing {
                                *v = f32::NAN;
                            }
                        }
                    }
                }
                gathered = buf;
                &gathered
            }
        };
        let sem = forest.semantics();
        if self.mode == Mode::Leaf {
            let base = self.trees.start;
            walk_blocked(
                packed,
                e,
                self.trees.clone(),
                xb,
                f,
                n,
                sem,
                |t, r, leaf| {
                    out[r * self.width + (t - base)] = leaf.index as f32;
                },
            );
            return;
        }
        let g = forest.num_outputs();
        let legacy = sem.summation == Summation::Legacy;
        let mut acc = vec![0.0f32; n * g];
        if !legacy {
            for row in acc.chunks_exact_mut(g) {
                row.copy_from_slice(forest.base_margin());
            }
        }
        let weights = e.weights();
        let outputs = e.tree_outputs();
        if fast {
            sum_fast(packed, e, self.trees.clone(), xb, f, n, &mut acc, g);
        } else {
            walk_blocked(
                packed,
                e,
                self.trees.clone(),
                xb,
                f,
                n,
                sem,
                |t, r, leaf| {
                    let row = &mut acc[r * g..(r + 1) * g];
                    let w = weights.map(|w| w[t]);
                    match leaf.values {
                        None => {
                            row[outputs[t] as usize] += w.map_or(leaf.value, |w| leaf.value * w)
                        }
                        Some(vals) => {
                            for (a, &v) in row.iter_mut().zip(vals) {
                                *a += w.map_or(v, |w| v * w);
                            }
                        }
                    }
                },
            );
        }
        let mut margin = vec![0.0f32; g];
        for (row, out_row) in acc.chunks_exact(g).zip(out.chunks_exact_mut(self.width)) {
            if legacy {
                for ((m, &b), &p) in margin.iter_mut().zip(forest.base_margin()).zip(row) {
                    *m = b + p;
                }
            } else {
                margin.copy_from_slice(row);
            }
            self.finish_row(forest, &mut margin, out_row);
        }
    }

    /// Fewer than [`LANES`] rows, every planned tree `fast`, no tree weights:
    /// each row walks [`LANES`] trees at once, on the stack when the row and
    /// its margins fit (no allocation).
    fn run_small(&self, forest: &Forest, x: &FeatureMatrix<'_>, first: usize, out: &mut [f32]) {
        let f = x.cols();
        let g = forest.num_outputs();
        let packed = forest.packed();
        let outputs = match forest.booster() {
            Booster::Trees(e) => e.tree_outputs(),
            Booster::Linear(_) => unreachable!("run_small is for tree models"),
        };
        let legacy = forest.semantics().summation == Summation::Legacy;
        let mut row_stack = [0.0f32; 256];
        let mut row_heap = Vec::new();
        let mut margin_stack = [0.0f32; 64];
        let mut margin_heap = Vec::new();
        let margin: &mut [f32] = if g <= margin_stack.len() {
            &mut margin_stack[..g]
        } else {
            margin_heap.resize(g, 0.0);
            &mut margin_heap
        };
        for (i, out_row) in out.chunks_exact_mut(self.width).enumerate() {
            let r = first + i;
            let row: &[f32] = match x.row_slice(r) {
                Some(s) if self.missing.is_nan() => s,
                _ => {
                    let buf: &mut [f32] = if f <= row_stack.len() {
                        &mut row_stack[..f]
                    } else {
                        row_heap.resize(f, 0.0);
                        &mut row_heap
                    };
                    x.copy_row(r, buf);
                    if !self.missing.is_nan() {
                        for v in buf.iter_mut() {
                            if *v == self.missing {
                                *v = f32::NAN;
                            }
                        }
                    }
                    buf
                }
            };
            if legacy {
                margin.fill(0.0);
            } else {
                margin.copy_from_slice(forest.base_margin());
            }
            if row.iter().any(|v| v.is_nan()) {
                fast::one_row::<true>(packed, self.trees.clone(), outputs, row, margin);
            } else {
                fast::one_row::<false>(packed, self.trees.clone(), outputs, row, margin);
            }
            if legacy {
                for (m, &b) in margin.iter_mut().zip(forest.base_margin()) {
                    *m += b;
                }
            }
            self.finish_row(forest, margin, out_row);
        }
    }

    /// The margins of one row over the planned trees, in the forest's summation order.
    #[inline]
    fn tree_margin(
        &self,
        forest: &Forest,
        e: &TreeEnsemble,
        row: &[f32],
        margin: &mut [f32],
        psum: &mut [f32],
    ) {
        let sem = forest.semantics();
        let weights = e.weights();
        let legacy = sem.summation == Summation::Legacy;
        let acc: &mut [f32] = if legacy {
            psum.fill(0.0);
            psum
        } else {
            margin.copy_from_slice(forest.base_margin());
            margin
        };
        for t in self.trees.clone() {
            let tree = &e.trees()[t];
            let leaf = tree.leaf_index(row, self.missing, sem.category_out_of_range);
            let w = weights.map(|w| w[t]);
            match tree.nodes()[leaf] {
                Node::Leaf { value } => {
                    let g = e.tree_outputs()[t] as usize;
                    acc[g] += match w {
                        Some(w) if legacy => w * value,
                        Some(w) => value * w,
                        None => value,
                    };
                }
                Node::VectorLeaf { index } => {
                    let k = tree.leaf_width();
                    let vals = &tree.leaf_values()[index as usize * k..][..k];
                    for (a, &v) in acc.iter_mut().zip(vals) {
                        *a += w.map_or(v, |w| v * w);
                    }
                }
                Node::Split { .. } => unreachable!("leaf_index returns a leaf"),
            }
        }
        if legacy {
            for ((m, &b), &p) in margin.iter_mut().zip(forest.base_margin()).zip(psum.iter()) {
                *m = b + p;
            }
        }
    }
}

/// Adds the leaf values of `trees` (all `fast`) for rows `0..n` of the
/// row-major block `xb` (NaN = missing) to `acc` (`n * g`, row-major): the
/// rows are copied lane-major in groups of [`LANES`]; tree blocks outermost,
/// so a block's nodes stay in cache while every group walks it. For each row
/// the trees are added in increasing order, as the reference does.
#[allow(clippy::too_many_arguments)]
fn sum_fast(
    packed: &PackedForest,
    e: &TreeEnsemble,
    trees: std::ops::Range<usize>,
    xb: &[f32],
    f: usize,
    n: usize,
    acc: &mut [f32],
    g: usize,
) {
    let groups = n.div_ceil(LANES);
    let mut xt = vec![0.0f32; groups * f * LANES];
    let mut has_nan = vec![false; groups];
    for (grp, (xg, nan)) in xt
        .chunks_exact_mut((f * LANES).max(1))
        .zip(has_nan.iter_mut())
        .enumerate()
    {
        for j in 0..LANES {
            // Lanes past the last row repeat it (their sums are not kept).
            let r = (grp * LANES + j).min(n - 1);
            for (c, &v) in xb[r * f..(r + 1) * f].iter().enumerate() {
                xg[c * LANES + j] = v;
                *nan |= v.is_nan();
            }
        }
    }
    let outputs = e.tree_outputs();
    let mut start = trees.start;
    while start < trees.end {
        let end = tree_block_end(e, start, trees.end);
        for (grp, &nan) in has_nan.iter().enumerate() {
            let r0 = grp * LANES;
            let k = (n - r0).min(LANES);
            let xg = &xt[grp * f * LANES..(grp + 1) * f * LANES];
            let a = &mut acc[r0 * g..(r0 + k) * g];
            if nan {
                fast::group::<true>(packed, start..end, outputs, xg, a, g, k);
            } else {
                fast::group::<false>(packed, start..end, outputs, xg, a, g, k);
            }
        }
        start = end;
    }
}

/// The end of the block of trees starting at `start` whose packed nodes fit
/// in L1 (at least one tree).
fn tree_block_end(e: &TreeEnsemble, start: usize, end: usize) -> usize {
    let mut stop = start;
    let mut nodes = 0;
    while stop < end && (stop == start || nodes < TREE_BLOCK_NODES) {
        nodes += 2 * e.trees()[stop].num_leaves();
        stop += 1;
    }
    stop
}

/// The leaf a row reached in one tree.
struct Leaf<'a> {
    /// Original node index.
    index: usize,
    /// Scalar leaf value.
    value: f32,
    /// The leaf vector of a multi-target tree.
    values: Option<&'a [f32]>,
}

/// Walks rows `0..n` of the row-major block `xb` through trees `trees`, tree
/// blocks outermost, then groups of [`LANES`] rows, then the trees of the block
/// in order, and calls `visit(tree, row, leaf)`. For any one row the trees are
/// visited in increasing order, which keeps the summation order exact.
#[allow(clippy::too_many_arguments)]
fn walk_blocked<'f>(
    packed: &PackedForest,
    e: &'f TreeEnsemble,
    trees: std::ops::Range<usize>,
    xb: &[f32],
    f: usize,
    n: usize,
    sem: crate::forest::Semantics,
    mut visit: impl FnMut(usize, usize, Leaf<'f>),
) {
    let mut start = trees.start;
    while start < trees.end {
        let end = tree_block_end(e, start, trees.end);
        let mut r0 = 0;
        while r0 < n {
            let k = (n - r0).min(LANES);
            for t in start..end {
                let tree = &e.trees()[t];
                let pt = packed.trees[t];
                if pt.fast {
                    let mut idx = [pt.root; LANES];
                    let mut base = [0usize; LANES];
                    for (j, b) in base.iter_mut().enumerate() {
                        *b = (r0 + j.min(k - 1)) * f;
                    }
                    for _ in 0..pt.depth {
                        for j in 0..LANES {
                            let node = &packed.nodes[idx[j] as usize];
                            let x = xb[base[j] + (node.feature & FEATURE_MASK) as usize];
                            idx[j] = step(node, x);
                        }
                    }
                    for (j, &i) in idx.iter().enumerate().take(k) {
                        let i = i as usize;
                        visit(
                            t,
                            r0 + j,
                            Leaf {
                                index: packed.original[i] as usize,
                                value: packed.leaf_value[i],
                                values: None,
                            },
                        );
                    }
                } else {
                    for r in r0..r0 + k {
                        let row = &xb[r * f..(r + 1) * f];
                        let leaf = tree.leaf_index(row, f32::NAN, sem.category_out_of_range);
                        let (value, values) = match tree.nodes()[leaf] {
                            Node::Leaf { value } => (value, None),
                            Node::VectorLeaf { index } => {
                                let w = tree.leaf_width();
                                (0.0, Some(&tree.leaf_values()[index as usize * w..][..w]))
                            }
                            Node::Split { .. } => unreachable!("leaf_index returns a leaf"),
                        };
                        visit(
                            t,
                            r,
                            Leaf {
                                index: leaf,
                                value,
                                values,
                            },
                        );
                    }
                }
            }
            r0 += LANES;
        }
        start = end;
    }
}

/// `gblinear`: bias + base, then each present feature in ascending order.
fn linear_margin(forest: &Forest, l: &LinearModel, row: &[f32], missing: f32, margin: &mut [f32]) {
    let g_count = forest.num_outputs();
    let w = l.weights();
    let nf = forest.num_features();
    for (g, m) in margin.iter_mut().enumerate() {
        let mut psum = w[nf * g_count + g] + forest.base_margin()[g];
        for (f, &x) in row.iter().enumerate().take(nf) {
            if !(x.is_nan() || x == missing) {
                psum += x * w[f * g_count + g];
            }
        }
        *m = psum;
    }
}

/// Trees covered by an iteration range (XGBoost's `LayerToTree`).
fn tree_range(e: &TreeEnsemble, range: Option<(usize, usize)>) -> Result<std::ops::Range<usize>> {
    let ptr = e.round_ptr();
    let rounds = e.num_rounds();
    let (begin, end) = match range {
        None => (0, rounds),
        Some((b, 0)) => (b, rounds),
        Some((b, e)) => (b, e),
    };
    if begin > end || end > rounds {
        return Err(Error::option(format!(
            "iteration range {begin}..{end} does not fit the model's {rounds} rounds"
        )));
    }
    Ok(ptr[begin]..ptr[end])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::forest::{ForestParts, Semantics, Tree};

    fn stump(feature: u32, thr: f32, l: f32, r: f32) -> Tree {
        Tree::new(
            vec![
                Node::Split {
                    feature,
                    threshold: thr,
                    default_left: false,
                    left: 1,
                    right: 2,
                    categories: None,
                },
                Node::Leaf { value: l },
                Node::Leaf { value: r },
            ],
            vec![],
            2,
        )
        .unwrap()
    }

    fn forest(summation: Summation) -> Forest {
        let trees = vec![stump(0, 0.5, 0.1, 0.2), stump(1, 1.0, 0.3, 0.4)];
        let e = TreeEnsemble::new(trees, vec![0, 0], None, vec![0, 1, 2]).unwrap();
        Forest::new(ForestParts {
            num_features: 2,
            num_outputs: 1,
            base_margin: vec![0.3],
            objective: Objective::from_xgboost_name("binary:logistic").unwrap(),
            booster: Booster::Trees(e),
            semantics: Semantics {
                summation,
                ..Semantics::default()
            },
            feature_names: vec![],
            feature_types: vec![],
        })
        .unwrap()
    }

    #[test]
    fn summation_orders_follow_their_definitions() {
        let x = [0.0f32, 2.0, 1.0, f32::NAN];
        let m = FeatureMatrix::row_major(&x, 2, 2).unwrap();
        let margin = PredictOptions {
            output_margin: true,
            ..Default::default()
        };
        let modern = forest(Summation::Modern).predict(&m, &margin).unwrap();
        assert_eq!(modern.shape, vec![2]);
        assert_eq!(modern.data[0].to_bits(), ((0.3f32 + 0.1) + 0.4).to_bits());
        let legacy = forest(Summation::Legacy).predict(&m, &margin).unwrap();
        assert_eq!(legacy.data[0].to_bits(), (0.3f32 + (0.1 + 0.4)).to_bits());
        let leaf = forest(Summation::Modern)
            .predict(
                &m,
                &PredictOptions {
                    pred_leaf: true,
                    ..Default::default()
                },
            )
            .unwrap();
        assert_eq!(leaf.shape, vec![2, 2]);
        assert_eq!(leaf.data, vec![1.0, 2.0, 2.0, 2.0]);
    }

    #[test]
    fn wrong_width_and_bad_ranges_are_errors() {
        let f = forest(Summation::Modern);
        let x = [0.0f32; 3];
        let m = FeatureMatrix::row_major(&x, 1, 3).unwrap();
        assert!(f.predict(&m, &PredictOptions::default()).is_err());
        let m = FeatureMatrix::row_major(&x[..2], 1, 2).unwrap();
        let bad = PredictOptions {
            iteration_range: Some((1, 3)),
            ..Default::default()
        };
        assert!(f.predict(&m, &bad).is_err());
        let one = PredictOptions {
            iteration_range: Some((1, 0)),
            output_margin: true,
            ..Default::default()
        };
        assert_eq!(f.predict(&m, &one).unwrap().data[0], 0.3 + 0.3);
    }

    #[test]
    fn threaded_equals_serial() {
        let f = forest(Summation::Modern);
        let n = 5000;
        let x: Vec<f32> = (0..2 * n).map(|i| (i % 7) as f32 * 0.3).collect();
        let m = FeatureMatrix::row_major(&x, n, 2).unwrap();
        let serial = f
            .predict(
                &m,
                &PredictOptions {
                    n_threads: Some(1),
                    ..Default::default()
                },
            )
            .unwrap();
        let par = f
            .predict(
                &m,
                &PredictOptions {
                    n_threads: Some(2),
                    ..Default::default()
                },
            )
            .unwrap();
        assert_eq!(serial, par);
    }
}
