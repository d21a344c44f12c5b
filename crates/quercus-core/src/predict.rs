//! Prediction: the batch driver (row blocks, threads) and its kernels.
//!
//! * [`Kernel::Reference`]: one row at a time, one tree at a time, straight off
//!   the IR, in exactly XGBoost's summation order. It is the reference every
//!   other kernel is tested against, and the fallback (`QUERCUS_FORCE_SCALAR=1`).
//! * [`Kernel::Interleaved`]: the packed layout, eight rows walked through a
//!   tree at once with a branch-free step, trees in cache-sized blocks while a
//!   block of rows streams through. Splits compare integer order keys of the
//!   values instead of floats, missing values included (on x86-64 one step
//!   is five instructions of assembly in the implicit layout, six in the
//!   pointer layout, see `arch::x86_64::walk`). Each row's leaf values are
//!   still added in tree order, so its output is bit-identical to the
//!   reference.

use std::sync::OnceLock;

use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::forest::{Booster, Forest, LinearModel, Summation};
use crate::input::FeatureMatrix;
use crate::layout::{
    Key, LANES, PackedForest, input_keys, offset_feature, row_key, row_keys, step,
};
use crate::objective::{Objective, argmax_first, softmax_in_place};
use crate::packed::fast;
use crate::tree::{Node, TreeEnsemble};

/// Rows below this count are predicted on the calling thread.
const PARALLEL_MIN_ROWS: usize = 2048;
/// Rows per work item (and per gathered input block).
const ROW_BLOCK: usize = 512;
/// Packed nodes per tree block (12 bytes each: 2048 nodes = 24 KiB, in L1).
const TREE_BLOCK_NODES: usize = 2048;

/// Which kernel computes tree outputs. All give bit-identical results.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Kernel {
    /// The fastest this CPU supports, chosen once per process, unless
    /// `QUERCUS_FORCE_SCALAR=1` is set in the environment (read once per
    /// process), which selects [`Kernel::Reference`].
    #[default]
    Auto,
    /// The scalar reference: one row, one tree at a time.
    Reference,
    /// The packed kernel: eight rows walked through a tree at once (one row:
    /// eight trees at once), trees in cache-sized blocks; no CPU feature
    /// beyond the baseline (on x86-64 its steps are baseline assembly, tested
    /// against the same steps in Rust).
    Interleaved,
    /// AVX-512 (F and CD; x86-64 only, an error where the CPU lacks them):
    /// sixteen rows at once; the top five levels of each tree with the
    /// implicit layout are evaluated by one vector compare of integer keys
    /// per node and 32-bit sets of reachable nodes per row (QuickScorer-style),
    /// the rest walked as in [`Kernel::Interleaved`]. Opt-in: [`Kernel::Auto`] does not pick it
    /// (no faster than [`Kernel::Interleaved`] where measured).
    Avx512,
}

impl Kernel {
    /// Every concrete kernel (some may not run on this CPU: see
    /// [`Kernel::available`]).
    pub const ALL: [Kernel; 3] = [Kernel::Reference, Kernel::Interleaved, Kernel::Avx512];

    /// The concrete kernels this CPU can run, the reference first: what a
    /// test that must run every kernel iterates over.
    pub fn available() -> Vec<Kernel> {
        Kernel::ALL.into_iter().filter(|k| k.supported()).collect()
    }

    /// The kernel's lowercase name: `auto`, `reference`, `interleaved`, `avx512`.
    pub fn name(self) -> &'static str {
        match self {
            Kernel::Auto => "auto",
            Kernel::Reference => "reference",
            Kernel::Interleaved => "interleaved",
            Kernel::Avx512 => "avx512",
        }
    }

    /// Parses [`Kernel::name`] (case-insensitive; `scalar` means `reference`).
    pub fn from_name(s: &str) -> Option<Kernel> {
        let s = s.to_ascii_lowercase();
        if s == "scalar" {
            return Some(Kernel::Reference);
        }
        [Kernel::Auto]
            .into_iter()
            .chain(Kernel::ALL)
            .find(|k| k.name() == s)
    }

    /// True when this CPU can run the kernel.
    pub fn supported(self) -> bool {
        match self {
            Kernel::Avx512 => has_avx512(),
            _ => true,
        }
    }

    fn resolve(self) -> Result<Kernel> {
        static FORCED: OnceLock<bool> = OnceLock::new();
        match self {
            Kernel::Auto => {
                let forced = *FORCED.get_or_init(|| {
                    std::env::var("QUERCUS_FORCE_SCALAR").is_ok_and(|v| v != "0" && !v.is_empty())
                });
                // The AVX-512 kernel measured no faster than the portable one
                // on an AVX-512 Xeon nor on an AMD EPYC (BENCHMARKS.md): never
                // chosen automatically.
                Ok(if forced {
                    Kernel::Reference
                } else {
                    Kernel::Interleaved
                })
            }
            k if !k.supported() => Err(Error::option(format!(
                "kernel {k:?} needs a CPU feature this machine lacks"
            ))),
            k => Ok(k),
        }
    }
}

/// AVX-512F and AVX-512CD, detected once.
fn has_avx512() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        static HAS: OnceLock<bool> = OnceLock::new();
        *HAS.get_or_init(crate::arch::x86_64::avx512::supported)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// What a prediction returns for each row.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Output {
    /// The objective's transformed output (probabilities, a class index, ...),
    /// as XGBoost's `Booster.predict` returns by default.
    #[default]
    Transformed,
    /// Raw margins (XGBoost's `output_margin=True`).
    Margin,
    /// The index of the leaf reached in each tree (XGBoost's `pred_leaf=True`).
    Leaf,
}

impl Output {
    /// XGBoost's two flags as one choice: `pred_leaf` wins over
    /// `output_margin`, as in `Booster.predict`.
    pub fn from_flags(output_margin: bool, pred_leaf: bool) -> Output {
        if pred_leaf {
            Output::Leaf
        } else if output_margin {
            Output::Margin
        } else {
            Output::Transformed
        }
    }
}

/// What to predict, and how. Build it from [`PredictOptions::default`] with
/// the `with_*` methods (or set its public fields): it is
/// `#[non_exhaustive]`, so new options do not break callers.
///
/// ```
/// use quercus_core::{Kernel, Output, PredictOptions};
/// let o = PredictOptions::default().with_output(Output::Margin).with_threads(Some(1));
/// assert_eq!(o.output, Output::Margin);
/// assert_eq!(o.kernel, Kernel::Auto);
/// ```
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct PredictOptions {
    /// What each row's prediction is: transformed, margins or leaf indices.
    pub output: Output,
    /// A value that counts as missing in addition to NaN (XGBoost's `missing`).
    pub missing: f32,
    /// Use only boosting rounds `begin..end`; `end == 0` means "to the last".
    pub iteration_range: Option<(usize, usize)>,
    /// Threads to use: `None` uses [`default_threads`](crate::default_threads)
    /// for large inputs, `Some(1)` stays on the calling thread. More than
    /// [`MAX_THREADS`](crate::MAX_THREADS) is an
    /// [`ErrorKind::Option`](crate::ErrorKind::Option) error. Quercus uses its
    /// own pools (the few most recently used thread counts are kept), never
    /// rayon's global one.
    pub n_threads: Option<usize>,
    /// Which kernel to use (all give bit-identical results).
    pub kernel: Kernel,
}

impl Default for PredictOptions {
    fn default() -> Self {
        PredictOptions {
            output: Output::Transformed,
            missing: f32::NAN,
            iteration_range: None,
            n_threads: None,
            kernel: Kernel::Auto,
        }
    }
}

impl PredictOptions {
    /// These options returning `output`.
    pub fn with_output(mut self, output: Output) -> Self {
        self.output = output;
        self
    }

    /// These options with `missing` as the extra missing value.
    pub fn with_missing(mut self, missing: f32) -> Self {
        self.missing = missing;
        self
    }

    /// These options restricted to boosting rounds `begin..end` (`end == 0`:
    /// to the last), or every round for `None`.
    pub fn with_iteration_range(mut self, range: Option<(usize, usize)>) -> Self {
        self.iteration_range = range;
        self
    }

    /// These options with a thread count (`None`: the default).
    pub fn with_threads(mut self, n_threads: Option<usize>) -> Self {
        self.n_threads = n_threads;
        self
    }

    /// These options with a kernel.
    pub fn with_kernel(mut self, kernel: Kernel) -> Self {
        self.kernel = kernel;
        self
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
        let mut data = alloc_output(rows, width)?;
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
        self.predict_read_width(x, opts, out)
    }

    /// Predicts rows that hold only the model's first `x.cols()` features
    /// (at most [`Forest::num_features`]); the features past them are
    /// missing. This is what XGBoost does with a `DMatrix` narrower than the
    /// booster, and how a sparse row or a BigQuery ML export whose assets
    /// encode fewer columns than `model.bst` declares is predicted: per-row
    /// scratch is bounded by [`Forest::features_read`], whatever the model
    /// declares.
    pub fn predict_leading(
        &self,
        x: &FeatureMatrix<'_>,
        opts: &PredictOptions,
    ) -> Result<Predictions> {
        let plan_width = self.output_width(opts)?;
        let rows = x.rows();
        if x.cols() > self.num_features() {
            return Err(Error::new(crate::ErrorKind::FeatureCount {
                expected: self.num_features(),
                found: x.cols(),
            }));
        }
        let mut data = alloc_output(rows, plan_width)?;
        let read = self.features_read();
        if x.cols() >= read {
            self.predict_read_width(x, opts, &mut data)?;
        } else {
            // Pad each block of rows with missing values up to the width read.
            let block = (PAD_BLOCK_FLOATS / read.max(1)).clamp(1, rows.max(1));
            let mut buf = vec![f32::NAN; block.min(rows) * read];
            let mut row = vec![0.0f32; x.cols()];
            for start in (0..rows).step_by(block) {
                let n = block.min(rows - start);
                for (i, dst) in buf.chunks_exact_mut(read).take(n).enumerate() {
                    x.copy_row(start + i, &mut row);
                    dst[..row.len()].copy_from_slice(&row);
                }
                let xb = FeatureMatrix::row_major(&buf[..n * read], n, read)?;
                let out = &mut data[start * plan_width..(start + n) * plan_width];
                self.predict_read_width(&xb, opts, out)?;
            }
        }
        let shape = if plan_width == 1 {
            vec![rows]
        } else {
            vec![rows, plan_width]
        };
        Ok(Predictions { data, shape })
    }

    /// [`Forest::predict_into`] for any `x` with at least
    /// [`Forest::features_read`] columns.
    fn predict_read_width(
        &self,
        x: &FeatureMatrix<'_>,
        opts: &PredictOptions,
        out: &mut [f32],
    ) -> Result<()> {
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
        // The kernels see only the features the model reads.
        let read = self.features_read();
        debug_assert!(x.cols() >= read);
        let narrowed;
        let x = if x.cols() > read {
            narrowed = x.first_cols(read);
            &narrowed
        } else {
            x
        };
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

/// Floats of padded rows held at once by [`Forest::predict_leading`].
const PAD_BLOCK_FLOATS: usize = 1 << 20;

/// A zeroed output of `rows * width` values, or a typed error when it cannot
/// be allocated (never an abort).
fn alloc_output(rows: usize, width: usize) -> Result<Vec<f32>> {
    let len = rows
        .checked_mul(width)
        .ok_or_else(|| Error::input(format!("{rows} rows x {width} values per row overflow")))?;
    let mut data = Vec::new();
    data.try_reserve_exact(len).map_err(|_| {
        Error::input(format!(
            "{rows} rows x {width} values per row do not fit in memory"
        ))
    })?;
    data.resize(len, 0.0);
    Ok(data)
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
        if let Some(n) = opts.n_threads {
            crate::parallel::check_threads(n)?;
        }
        let mode = match opts.output {
            Output::Leaf => Mode::Leaf,
            Output::Margin => Mode::Margin,
            Output::Transformed => Mode::Transformed,
        };
        let trees = if forest.is_linear() {
            if mode == Mode::Leaf {
                return Err(Error::option(
                    "leaf indices need a tree model (this is gblinear)",
                ));
            }
            0..0
        } else {
            tree_range(&forest.packed().round_ptr, opts.iteration_range)?
        };
        let width = match mode {
            Mode::Leaf => trees.len(),
            Mode::Transformed if *forest.objective() == Objective::Softmax => 1,
            _ => forest.num_outputs(),
        };
        Ok(Plan {
            mode,
            width,
            missing: opts.missing,
            objective: forest.objective(),
            trees,
            kernel: opts.kernel.resolve()?,
        })
    }

    /// Predicts rows `first..` of `x` into `out` (`out.len() / width` rows).
    fn run(&self, forest: &Forest, x: &FeatureMatrix<'_>, first: usize, out: &mut [f32]) {
        match self.kernel {
            Kernel::Interleaved | Kernel::Avx512 if !forest.is_linear() => {
                for (b, chunk) in out.chunks_mut(ROW_BLOCK * self.width).enumerate() {
                    self.run_interleaved(forest, x, first + b * ROW_BLOCK, chunk);
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
        x: &FeatureMatrix<'_>,
        first: usize,
        out: &mut [f32],
    ) {
        let n = out.len() / self.width;
        let f = x.cols();
        let packed = forest.packed();
        let fast =
            self.mode != Mode::Leaf && !packed.weighted && packed.all_fast(self.trees.clone());
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
        // The general path needs the IR (built on first use for a compiled model).
        let ensemble = || match forest.booster() {
            Booster::Trees(e) => e,
            Booster::Linear(_) => unreachable!("run_interleaved is for tree models"),
        };
        if self.mode == Mode::Leaf {
            let base = self.trees.start;
            let e = ensemble();
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
        if fast {
            let wide = self.kernel == Kernel::Avx512;
            sum_fast(packed, self.trees.clone(), xb, f, n, &mut acc, g, wide);
        } else {
            let e = ensemble();
            let weights = e.weights();
            let outputs = e.tree_outputs();
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
    /// each row walks [`LANES`] trees at once, on the stack when the row, its
    /// keys and its margins fit (up to 256 features, 64 outputs: no
    /// allocation).
    fn run_small(&self, forest: &Forest, x: &FeatureMatrix<'_>, first: usize, out: &mut [f32]) {
        let f = x.cols();
        let g = forest.num_outputs();
        let packed = forest.packed();
        let outputs = &packed.tree_outputs;
        let legacy = forest.semantics().summation == Summation::Legacy;
        // Scratch on the stack, sized (and zeroed: a 4 KiB memset was 5% of
        // a 100-tree call) for the row's features. A wider row is copied to
        // the heap only when it has to be copied at all.
        let (mut row_small, mut row_large): ([f32; 32], [f32; 256]);
        let mut row_heap = Vec::new();
        let mut row_stack: Option<&mut [f32]> = if f <= 32 {
            row_small = [0.0; 32];
            Some(&mut row_small[..f])
        } else if f <= 256 {
            row_large = [0.0; 256];
            Some(&mut row_large[..f])
        } else {
            None
        };
        // At least one feature's keys: a leaf's step loads them too.
        let kf = f.max(1);
        let (mut keys_small, mut keys_large, mut keys_heap): ([u64; 64], [u64; 512], Vec<u64>);
        let keys: &mut [u64] = if kf <= 32 {
            keys_small = [0; 64];
            &mut keys_small[..2 * kf]
        } else if kf <= 256 {
            keys_large = [0; 512];
            &mut keys_large[..2 * kf]
        } else {
            keys_heap = vec![0; 2 * kf];
            &mut keys_heap
        };
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
                    let buf: &mut [f32] = match row_stack.as_deref_mut() {
                        Some(b) => b,
                        None => {
                            row_heap.resize(f, 0.0);
                            &mut row_heap
                        }
                    };
                    x.copy_row(r, buf);
                    if !self.missing.is_nan() {
                        for v in buf.iter_mut() {
                            if *v == self.missing {
                                *v = f32::NAN;
                            }
                        }
                    }
                    &*buf
                }
            };
            if legacy {
                margin.fill(0.0);
            } else {
                margin.copy_from_slice(forest.base_margin());
            }
            row_keys(row, keys);
            fast::one_row(packed, self.trees.clone(), outputs, keys, margin);
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
    trees: std::ops::Range<usize>,
    xb: &[f32],
    f: usize,
    n: usize,
    acc: &mut [f32],
    g: usize,
    wide: bool,
) {
    #[cfg(target_arch = "x86_64")]
    if wide {
        use crate::arch::x86_64::avx512;
        let group = |trees, xk: &[u32], a: &mut [f32], k| {
            // SAFETY: `wide` is set only for `Kernel::Avx512`, which
            // `Kernel::resolve` grants only when the CPU has AVX-512F and
            // AVX-512CD.
            unsafe { avx512::group(packed, trees, &packed.tree_outputs, xk, a, g, k) }
        };
        return sum_groups::<{ avx512::LANES }, u32>(packed, trees, xb, f, n, acc, g, group);
    }
    let _ = wide;
    let group = |trees, xk: &[u64], a: &mut [f32], k| {
        fast::group(packed, trees, &packed.tree_outputs, xk, a, g, k)
    };
    sum_groups::<LANES, u64>(packed, trees, xb, f, n, acc, g, group)
}

/// The driver of [`sum_fast`] for groups of `L` rows with keys of type `K`:
/// `group(trees, xk, acc, k)` adds trees to one lane-major key group `xk`
/// (`xk[c * L + j]`: row `j`'s key of feature copy `c`, see
/// [`crate::layout::ImplicitNode`]).
#[allow(clippy::too_many_arguments)]
fn sum_groups<const L: usize, K: Key>(
    packed: &PackedForest,
    trees: std::ops::Range<usize>,
    xb: &[f32],
    f: usize,
    n: usize,
    acc: &mut [f32],
    g: usize,
    group: impl Fn(std::ops::Range<usize>, &[K], &mut [f32], usize),
) {
    const { assert!(L > 0) };
    let groups = n.div_ceil(L);
    // At least one feature's keys: a leaf's step loads them too.
    let size = 2 * f.max(1) * L;
    let mut xk = vec![K::default(); groups * size];
    for (grp, xg) in xk.chunks_exact_mut(size.max(1)).enumerate().take(groups) {
        for j in 0..L {
            // Lanes past the last row repeat it (their sums are not kept).
            let r = (grp * L + j).min(n - 1);
            for (c, &v) in xb[r * f..(r + 1) * f].iter().enumerate() {
                let [right, left] = input_keys(v);
                xg[2 * c * L + j] = K::from_key(right);
                xg[(2 * c + 1) * L + j] = K::from_key(left);
            }
        }
    }
    let mut start = trees.start;
    while start < trees.end {
        let end = tree_block_end(packed, start, trees.end);
        for grp in 0..groups {
            let r0 = grp * L;
            let k = (n - r0).min(L);
            let x = &xk[grp * size..(grp + 1) * size];
            group(start..end, x, &mut acc[r0 * g..(r0 + k) * g], k);
        }
        start = end;
    }
}

/// The end of the block of trees starting at `start` whose packed nodes fit
/// in L1 (at least one tree).
fn tree_block_end(packed: &PackedForest, start: usize, end: usize) -> usize {
    let mut stop = start;
    let mut nodes = 0;
    while stop < end && (stop == start || nodes < TREE_BLOCK_NODES) {
        nodes += packed.trees[stop].len.max(1) as usize;
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
        let end = tree_block_end(packed, start, trees.end);
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
                            let (feature, _) = offset_feature(node.fx);
                            let x = xb[base[j] + feature as usize];
                            idx[j] = step(node, row_key(x, node.fx));
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
fn tree_range(ptr: &[usize], range: Option<(usize, usize)>) -> Result<std::ops::Range<usize>> {
    let rounds = ptr.len().saturating_sub(1);
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
pub(crate) mod tests {
    use super::*;
    use crate::forest::{ForestParts, Semantics};
    use crate::tree::Tree;

    fn stump(feature: u32, thr: f32, l: f32, r: f32) -> Tree {
        stump_for(2, feature, thr, l, r)
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

    /// A forest of `stump(feature, ...)` trees declaring `declared` features.
    fn wide_forest(declared: usize, trees: Vec<Tree>) -> Forest {
        let n = trees.len();
        let e = TreeEnsemble::new(trees, vec![0; n], None, vec![0, n]).unwrap();
        Forest::new(ForestParts {
            num_features: declared,
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

    fn stump_for(declared: usize, feature: u32, thr: f32, l: f32, r: f32) -> Tree {
        let nodes = vec![
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
        ];
        Tree::new(nodes, vec![], declared).unwrap()
    }

    /// A model may declare any feature count (a JSON `num_feature` of 2^40
    /// loads); prediction reads, copies and allocates per row only the
    /// features its splits use. A zero-stride view of 2^40 columns (what
    /// numpy's `broadcast_to` hands over) must predict in a few bytes.
    #[test]
    #[cfg(target_pointer_width = "64")]
    fn a_huge_declared_feature_count_costs_only_the_features_read() {
        let declared = 1usize << 40;
        let f = wide_forest(
            declared,
            vec![
                stump_for(declared, 2, 0.5, 1.0, 2.0),
                stump_for(declared, 0, 0.5, 10.0, 20.0),
            ],
        );
        assert_eq!(f.features_read(), 3);
        let one = [0.75f32];
        for rows in [1usize, 7, 8, 300] {
            let x = FeatureMatrix::strided(&one, rows, declared, 0, 0).unwrap();
            for kernel in Kernel::available() {
                let opts = PredictOptions {
                    kernel,
                    ..Default::default()
                };
                let p = f.predict(&x, &opts).unwrap();
                assert_eq!(
                    p.data,
                    vec![0.5 + 2.0 + 20.0; rows],
                    "{kernel:?}, {rows} rows"
                );
            }
        }
    }

    /// `predict_leading`: the features past the matrix's columns are missing.
    #[test]
    fn leading_columns_read_the_rest_as_missing() {
        let declared = 1usize << 20;
        // Missing goes right in `stump` (default_left false).
        let f = wide_forest(
            declared,
            vec![
                stump_for(declared, 0, 0.5, 1.0, 2.0),
                stump_for(declared, 5, 0.5, 10.0, 20.0),
            ],
        );
        let x = [0.0f32, 1.0, 0.0, 1.0];
        for cols in [1usize, 2] {
            let rows = 4 / cols;
            let m = FeatureMatrix::row_major(&x[..rows * cols], rows, cols).unwrap();
            for kernel in Kernel::available() {
                let opts = PredictOptions {
                    kernel,
                    ..Default::default()
                };
                let p = f.predict_leading(&m, &opts).unwrap();
                let want: Vec<f32> = (0..rows)
                    .map(|r| 0.5 + if x[r * cols] < 0.5 { 1.0 } else { 2.0 } + 20.0)
                    .collect();
                assert_eq!(p.data, want, "{kernel:?}, {cols} columns");
            }
        }
        // Wider than the model: refused like `predict`.
        let small = wide_forest(2, vec![stump_for(2, 0, 0.5, 1.0, 2.0)]);
        let m = FeatureMatrix::row_major(&x[..3], 1, 3).unwrap();
        assert!(matches!(
            small
                .predict_leading(&m, &PredictOptions::default())
                .unwrap_err()
                .kind(),
            crate::ErrorKind::FeatureCount {
                expected: 2,
                found: 3
            }
        ));
    }

    /// A model with no features and leaf-only trees: every kernel predicts the
    /// leaves (the fast kernels load one feature's keys even at a leaf, so
    /// their scratch must hold one feature however few the model has).
    #[test]
    fn a_model_without_features_predicts_its_leaves() {
        let leaf = Tree::new(vec![Node::Leaf { value: 1.5 }], vec![], 0).unwrap();
        let f = wide_forest(0, vec![leaf.clone(), leaf]);
        for rows in [1usize, 9] {
            let x = FeatureMatrix::row_major(&[], rows, 0).unwrap();
            for kernel in Kernel::available() {
                let opts = PredictOptions {
                    kernel,
                    ..Default::default()
                };
                assert_eq!(
                    f.predict(&x, &opts).unwrap().data,
                    vec![3.5; rows],
                    "{kernel:?}"
                );
            }
        }
    }

    #[test]
    fn summation_orders_follow_their_definitions() {
        let x = [0.0f32, 2.0, 1.0, f32::NAN];
        let m = FeatureMatrix::row_major(&x, 2, 2).unwrap();
        let margin = PredictOptions {
            output: Output::Margin,
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
                    output: Output::Leaf,
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
            output: Output::Margin,
            iteration_range: Some((1, 0)),
            ..Default::default()
        };
        assert_eq!(f.predict(&m, &one).unwrap().data[0], 0.3 + 0.3);
    }

    /// The one-row path's scratch tiers (32 and 256 features, then the
    /// heap), with rows used in place (NaN missing) and copied (a sentinel).
    #[test]
    fn one_row_scratch_fits_every_width() {
        // Under Miri, one width in each tier.
        let widths: &[usize] = if cfg!(miri) {
            &[5, 33, 257]
        } else {
            &[5, 32, 33, 256, 257, 300]
        };
        for &nf in widths {
            let mut rng = nf as u64 * 7919 + 1;
            // Past one chunk of eight trees (fewer under Miri).
            let n = if cfg!(miri) { 10 } else { 20 };
            let trees: Vec<Tree> = (0..n).map(|_| random_tree(&mut rng, nf, 6)).collect();
            let e = TreeEnsemble::new(trees, vec![0; n], None, TreeEnsemble::uniform_rounds(n, 1))
                .unwrap();
            let forest = Forest::new(ForestParts {
                num_features: nf,
                num_outputs: 1,
                base_margin: vec![0.0],
                objective: Objective::from_xgboost_name("reg:squarederror").unwrap(),
                booster: Booster::Trees(e),
                semantics: Semantics::default(),
                feature_names: vec![],
                feature_types: vec![],
            })
            .unwrap();
            let rows = 3;
            let x: Vec<f32> = (0..rows * nf)
                .map(|i| match i % 11 {
                    0 => f32::NAN,
                    1 => -7.0,
                    v => v as f32 * 0.25 - 1.0,
                })
                .collect();
            let m = FeatureMatrix::row_major(&x, rows, nf).unwrap();
            for missing in [f32::NAN, -7.0] {
                let opts = |kernel| PredictOptions {
                    output: Output::Margin,
                    missing,
                    kernel,
                    ..Default::default()
                };
                let want = forest.predict(&m, &opts(Kernel::Reference)).unwrap();
                for kernel in Kernel::available() {
                    let got = forest.predict(&m, &opts(kernel)).unwrap();
                    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                    assert_eq!(
                        bits(&got.data),
                        bits(&want.data),
                        "{kernel:?}, {nf} features"
                    );
                }
            }
        }
    }

    #[test]
    fn threaded_equals_serial() {
        let f = forest(Summation::Modern);
        // At least `PARALLEL_MIN_ROWS`.
        let n = if cfg!(miri) { PARALLEL_MIN_ROWS } else { 5000 };
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

    /// Too many threads is an option error, whatever the batch size (no
    /// pool of that size is ever attempted).
    #[test]
    fn more_threads_than_the_maximum_is_an_option_error() {
        let f = forest(Summation::Modern);
        let x = [0.5f32, 0.25];
        let m = FeatureMatrix::row_major(&x, 1, 2).unwrap();
        let o = PredictOptions {
            n_threads: Some(crate::MAX_THREADS + 1),
            ..Default::default()
        };
        for e in [
            f.predict(&m, &o).unwrap_err(),
            f.output_width(&o).unwrap_err(),
        ] {
            assert!(matches!(e.kind(), crate::ErrorKind::Option(_)), "{e}");
        }
        let o = PredictOptions {
            n_threads: Some(crate::MAX_THREADS),
            ..o
        };
        assert!(f.predict(&m, &o).is_ok());
    }

    /// A random tree: splits on random features with thresholds from a small
    /// grid (so rows hit them exactly), random default directions, leaves at
    /// random depths up to `max_depth`.
    pub(crate) fn random_tree(rng: &mut u64, nf: usize, max_depth: usize) -> Tree {
        fn next(rng: &mut u64) -> u64 {
            *rng ^= *rng << 13;
            *rng ^= *rng >> 7;
            *rng ^= *rng << 17;
            *rng
        }
        fn grow(rng: &mut u64, nodes: &mut Vec<Node>, nf: usize, depth: usize, max: usize) -> u32 {
            let me = nodes.len() as u32;
            let r = next(rng);
            if depth >= max || (depth > 0 && r.is_multiple_of(5)) {
                let v = (next(rng) % 2001) as f32 / 1000.0 - 1.0;
                nodes.push(Node::Leaf { value: v });
                return me;
            }
            nodes.push(Node::Leaf { value: 0.0 });
            let left = grow(rng, nodes, nf, depth + 1, max);
            let right = grow(rng, nodes, nf, depth + 1, max);
            nodes[me as usize] = Node::Split {
                feature: (next(rng) % nf as u64) as u32,
                // Mostly a grid rows hit exactly; also the values whose
                // order keys are edge cases (signed zeros, infinities,
                // subnormals) and a NaN threshold (every value goes right).
                threshold: match next(rng) % 24 {
                    9 => -0.0,
                    10 => f32::INFINITY,
                    11 => f32::NEG_INFINITY,
                    12 => 1e-40,
                    13 => -1e-40,
                    14 => f32::NAN,
                    15 => -0.5,
                    v => (v % 9) as f32 * 0.25,
                },
                default_left: next(rng).is_multiple_of(2),
                left,
                right,
                categories: None,
            };
            me
        }
        let mut nodes = Vec::new();
        grow(rng, &mut nodes, nf, 0, max_depth);
        Tree::new(nodes, vec![], nf).unwrap()
    }

    proptest::proptest! {
        // Under Miri: a few small cases (no file of failed cases, which
        // Miri's isolation would refuse).
        #![proptest_config(if cfg!(miri) {
            proptest::prelude::ProptestConfig {
                cases: 4,
                failure_persistence: None,
                ..proptest::prelude::ProptestConfig::default()
            }
        } else {
            proptest::prelude::ProptestConfig::with_cases(48)
        })]

        /// Every kernel equals the reference bit for bit on random forests
        /// (shallow trees get the implicit layout, deep ones and lone leaves
        /// do not), with NaN and a `missing` sentinel in the rows, on batches
        /// of every path: one row, a short batch, lane groups, two threads;
        /// rows of up to 300 features.
        #[test]
        fn every_kernel_equals_the_reference(
            seed in 1u64..u64::MAX,
            // Wide rows too: the one-row path's scratch has tiers at 32 and
            // 256 features.
            nf in proptest::sample::select(if cfg!(miri) { vec![1usize, 3, 5, 40] } else { vec![1usize, 2, 3, 5, 40, 300] }),
            groups in 1usize..4,
            trees in 1usize..if cfg!(miri) { 12 } else { 30 },
            max_depth in 0usize..if cfg!(miri) { 8 } else { 15 },
            legacy: bool,
            weighted: bool,
            // 2100: two threads (the path `threaded_equals_serial` covers
            // under Miri).
            rows in proptest::sample::select(if cfg!(miri) { vec![1usize, 3, 8, 13] } else { vec![1usize, 3, 8, 13, 2100] }),
        ) {
            let mut rng = seed;
            let ts: Vec<Tree> = (0..trees)
                .map(|t| random_tree(&mut rng, nf, if t % 7 == 3 { 0 } else { max_depth }))
                .collect();
            let outputs: Vec<u32> = (0..trees).map(|t| (t % groups) as u32).collect();
            let weights = weighted.then(|| (0..trees).map(|t| 0.5 + t as f32 * 0.01).collect());
            let e = TreeEnsemble::new(ts, outputs, weights, TreeEnsemble::uniform_rounds(trees, groups))
                .unwrap();
            let objective = if groups > 1 { "multi:softprob" } else { "binary:logistic" };
            let forest = Forest::new(ForestParts {
                num_features: nf,
                num_outputs: groups,
                base_margin: (0..groups).map(|g| 0.1 * g as f32 - 0.3).collect(),
                objective: Objective::from_xgboost_name(objective).unwrap(),
                booster: Booster::Trees(e),
                semantics: Semantics {
                    summation: if legacy { Summation::Legacy } else { Summation::Modern },
                    ..Semantics::default()
                },
                feature_names: vec![],
                feature_types: vec![],
            })
            .unwrap();
            let x: Vec<f32> = (0..rows * nf)
                .map(|i| match (i as u64).wrapping_mul(seed) >> 59 {
                    0 => f32::NAN,
                    1 => -7.0, // the sentinel below
                    v => match v % 16 {
                        11 => -0.0,
                        12 => f32::INFINITY,
                        13 => f32::NEG_INFINITY,
                        14 => 1e-40,
                        15 => -1e-40,
                        w => w as f32 * 0.25 - 0.25,
                    },
                })
                .collect();
            let m = FeatureMatrix::row_major(&x, rows, nf).unwrap();
            for missing in [f32::NAN, -7.0] {
                for (margin, leaf) in [(true, false), (false, false), (false, true)] {
                    let opts = |kernel| PredictOptions { output: Output::from_flags(margin, leaf), missing, kernel, n_threads: Some(2), ..Default::default() };
                    let want = forest.predict(&m, &opts(Kernel::Reference)).unwrap();
                    for kernel in Kernel::available() {
                        let got = forest.predict(&m, &opts(kernel)).unwrap();
                        proptest::prop_assert_eq!(&got.shape, &want.shape);
                        for (i, (a, b)) in got.data.iter().zip(&want.data).enumerate() {
                            proptest::prop_assert!(
                                a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()),
                                "{:?} value {}: {} vs reference {}", kernel, i, a, b
                            );
                        }
                    }
                }
            }
        }
    }
}
