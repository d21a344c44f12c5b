//! The scalar reference predictor: one row at a time, one tree at a time, in
//! exactly XGBoost's summation order. Every faster kernel is tested against it.

use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::forest::{Booster, Forest, LinearModel, Node, Summation, TreeEnsemble};
use crate::input::FeatureMatrix;
use crate::objective::{Objective, argmax_first, softmax_in_place};

/// Rows below this count are predicted on the calling thread.
const PARALLEL_MIN_ROWS: usize = 2048;
/// Rows per parallel work item.
const ROW_BLOCK: usize = 512;

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
}

impl Default for PredictOptions {
    fn default() -> Self {
        PredictOptions {
            output_margin: false,
            pred_leaf: false,
            missing: f32::NAN,
            iteration_range: None,
            n_threads: None,
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
    /// Predicts every row of `x` with the scalar reference predictor.
    pub fn predict(&self, x: &FeatureMatrix<'_>, opts: &PredictOptions) -> Result<Predictions> {
        if x.cols() != self.num_features() {
            return Err(Error::new(crate::ErrorKind::FeatureCount {
                expected: self.num_features(),
                found: x.cols(),
            }));
        }
        let plan = Plan::new(self, opts)?;
        let rows = x.rows();
        let width = plan.width;
        let len = rows
            .checked_mul(width)
            .ok_or_else(|| Error::input("output size overflows"))?;
        let mut data = vec![0.0f32; len];
        let threads = opts
            .n_threads
            .unwrap_or_else(crate::parallel::default_threads);
        if rows < PARALLEL_MIN_ROWS || threads <= 1 || width == 0 {
            plan.run(self, x, 0, &mut data);
        } else {
            crate::parallel::pool(threads)?.install(|| {
                data.par_chunks_mut(ROW_BLOCK * width)
                    .enumerate()
                    .for_each(|(b, chunk)| plan.run(self, x, b * ROW_BLOCK, chunk));
            });
        }
        let shape = if width == 1 {
            vec![rows]
        } else {
            vec![rows, width]
        };
        Ok(Predictions { data, shape })
    }
}

/// What a predict call computes, resolved once per call.
struct Plan<'f> {
    mode: Mode,
    trees: std::ops::Range<usize>,
    width: usize,
    missing: f32,
    objective: &'f Objective,
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
        })
    }

    /// Predicts rows `first..` of `x` into `out` (`out.len() / width` rows).
    fn run(&self, forest: &Forest, x: &FeatureMatrix<'_>, first: usize, out: &mut [f32]) {
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
            match self.mode {
                Mode::Transformed => match self.objective {
                    Objective::Softprob => {
                        softmax_in_place(&mut margin);
                        out_row.copy_from_slice(&margin);
                    }
                    Objective::Softmax => out_row[0] = argmax_first(&margin) as f32,
                    obj => {
                        for (o, &m) in out_row.iter_mut().zip(&margin) {
                            *o = obj.transform_scalar(m, sem.sigmoid);
                        }
                    }
                },
                _ => out_row.copy_from_slice(&margin),
            }
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
