//! Objectives: how a margin becomes a prediction, and how a stored base score
//! becomes a margin. Every transform is computed in `f32` with the platform's
//! `expf`/`logf` (Rust's `f32::exp`/`f32::ln`), exactly as XGBoost does.

use crate::error::{Error, Result};

/// The learning objective of a model, reduced to what prediction needs.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Objective {
    /// Identity output: `reg:squarederror`/`reg:linear`, `reg:squaredlogerror`,
    /// `reg:pseudohubererror`, `reg:absoluteerror`, `reg:quantileerror`,
    /// `binary:logitraw` and the `rank:*` objectives. The name is kept for display.
    Identity(String),
    /// `reg:logistic` and `binary:logistic`: the sigmoid of the margin.
    Logistic(String),
    /// `binary:hinge`: 1 if the margin is positive, else 0.
    Hinge,
    /// `count:poisson`, `reg:gamma`, `reg:tweedie`, `survival:cox`,
    /// `survival:aft`: `expf(margin)`.
    Exp(String),
    /// `multi:softprob`: a softmax over the classes.
    Softprob,
    /// `multi:softmax`: the index of the largest margin.
    Softmax,
}

/// Which sigmoid formula to use. They differ only for margins below -88.7.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Sigmoid {
    /// XGBoost 1.6 and later: `1 / (expf(min(-x, 88.7)) + 1 + 1e-16)`.
    #[default]
    Clamped,
    /// XGBoost 1.5 and earlier: `1 / (1 + expf(-x))`.
    Plain,
}

impl Objective {
    /// Maps an XGBoost objective name to an [`Objective`]. `gpu:` prefixes (0.82)
    /// are accepted. An objective whose output we cannot reproduce is an
    /// [`ErrorKind::Unsupported`](crate::ErrorKind::Unsupported) error.
    pub fn from_xgboost_name(name: &str) -> Result<Objective> {
        let name = name.strip_prefix("gpu:").unwrap_or(name);
        Ok(match name {
            "reg:squarederror"
            | "reg:linear"
            | "reg:squaredlogerror"
            | "reg:pseudohubererror"
            | "reg:absoluteerror"
            | "reg:quantileerror"
            | "reg:expectileerror"
            | "binary:logitraw"
            | "rank:pairwise"
            | "rank:ndcg"
            | "rank:map" => Objective::Identity(name.to_string()),
            "reg:logistic" | "binary:logistic" => Objective::Logistic(name.to_string()),
            "binary:hinge" => Objective::Hinge,
            "count:poisson" | "reg:gamma" | "reg:tweedie" | "survival:cox" | "survival:aft" => {
                Objective::Exp(name.to_string())
            }
            "multi:softprob" => Objective::Softprob,
            "multi:softmax" => Objective::Softmax,
            other => {
                return Err(Error::unsupported(format!(
                    "objective `{other}` is not one Quercus can reproduce"
                )));
            }
        })
    }

    /// The objective's name as XGBoost spells it.
    pub fn name(&self) -> &str {
        match self {
            Objective::Identity(n) | Objective::Logistic(n) | Objective::Exp(n) => n,
            Objective::Hinge => "binary:hinge",
            Objective::Softprob => "multi:softprob",
            Objective::Softmax => "multi:softmax",
        }
    }

    /// True for the `multi:*` objectives, whose transform works across a row's
    /// outputs rather than on each output alone.
    pub fn is_multiclass(&self) -> bool {
        matches!(self, Objective::Softprob | Objective::Softmax)
    }

    /// XGBoost's `ProbToMargin`: turns a base score stored in response space into
    /// a margin.
    pub fn prob_to_margin(&self, base_score: f32) -> Result<f32> {
        match self {
            Objective::Logistic(_) => {
                if !(base_score > 0.0 && base_score < 1.0) {
                    return Err(Error::invalid_model(format!(
                        "base_score {base_score} must lie in (0, 1) for a logistic objective"
                    )));
                }
                Ok(-(1.0f32 / base_score - 1.0f32).ln())
            }
            Objective::Exp(_) => {
                if base_score <= 0.0 || base_score.is_nan() {
                    return Err(Error::invalid_model(format!(
                        "base_score {base_score} must be positive for objective {}",
                        self.name()
                    )));
                }
                Ok(base_score.ln())
            }
            _ => Ok(base_score),
        }
    }

    /// XGBoost's element-wise `PredTransform` for one margin (not for the
    /// multiclass objectives, whose transform needs the whole row).
    pub fn transform_scalar(&self, margin: f32, sigmoid: Sigmoid) -> f32 {
        match self {
            Objective::Identity(_) | Objective::Softprob | Objective::Softmax => margin,
            Objective::Logistic(_) => sigmoid_f32(margin, sigmoid),
            Objective::Hinge => {
                if margin > 0.0 {
                    1.0
                } else {
                    0.0
                }
            }
            Objective::Exp(_) => margin.exp(),
        }
    }
}

/// The logistic function in `f32`, in the requested XGBoost formula.
pub fn sigmoid_f32(x: f32, kind: Sigmoid) -> f32 {
    match kind {
        Sigmoid::Plain => 1.0f32 / (1.0f32 + (-x).exp()),
        Sigmoid::Clamped => {
            // C++'s `std::min(-x, 88.7f)` is `88.7f < -x ? 88.7f : -x`: a NaN
            // margin stays NaN (Rust's `f32::min` would drop it).
            let t = if 88.7f32 < -x { 88.7f32 } else { -x };
            1.0f32 / (t.exp() + 1.0f32 + 1e-16f32)
        }
    }
}

/// XGBoost's `Softmax`: the maximum subtracted, `expf` in `f32`, the sum
/// accumulated in `f64`, each term divided by the sum cast back to `f32`.
pub fn softmax_in_place(row: &mut [f32]) {
    let Some(&first) = row.first() else { return };
    let mut wmax = first;
    for &v in &row[1..] {
        wmax = fmaxf(v, wmax);
    }
    let mut wsum = 0.0f64;
    for v in row.iter_mut() {
        *v = (*v - wmax).exp();
        wsum += f64::from(*v);
    }
    let s = wsum as f32;
    for v in row.iter_mut() {
        *v /= s;
    }
}

/// The index of the first maximum (`>` comparison), as XGBoost's `FindMaxIndex`.
pub fn argmax_first(row: &[f32]) -> usize {
    let mut best = 0;
    for (i, &v) in row.iter().enumerate().skip(1) {
        if v > row[best] {
            best = i;
        }
    }
    best
}

/// C's `fmaxf`: NaN-ignoring maximum.
fn fmaxf(a: f32, b: f32) -> f32 {
    a.max(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_map_and_unknown_is_an_error() {
        assert_eq!(
            Objective::from_xgboost_name("gpu:binary:logistic").unwrap(),
            Objective::Logistic("binary:logistic".into())
        );
        assert!(Objective::from_xgboost_name("reg:made-up").is_err());
    }

    #[test]
    fn sigmoid_formulas_differ_only_far_left() {
        for x in [-5.0f32, 0.0, 3.25, 40.0] {
            assert_eq!(
                sigmoid_f32(x, Sigmoid::Plain).to_bits(),
                sigmoid_f32(x, Sigmoid::Clamped).to_bits()
            );
        }
        assert_eq!(sigmoid_f32(-100.0, Sigmoid::Plain), 0.0);
        assert!(sigmoid_f32(-100.0, Sigmoid::Clamped) > 0.0);
    }

    /// NaN and infinite margins through every element-wise transform, as
    /// XGBoost's C++ computes them (`std::min` keeps a NaN first argument).
    #[test]
    fn nan_and_infinite_margins_follow_xgboost() {
        for kind in [Sigmoid::Plain, Sigmoid::Clamped] {
            assert!(sigmoid_f32(f32::NAN, kind).is_nan(), "{kind:?}");
            assert_eq!(sigmoid_f32(f32::INFINITY, kind), 1.0, "{kind:?}");
        }
        assert_eq!(sigmoid_f32(f32::NEG_INFINITY, Sigmoid::Plain), 0.0);
        // exp(88.7) + 1 + 1e-16 in f32, inverted.
        let far = 1.0f32 / (88.7f32.exp() + 1.0 + 1e-16);
        assert_eq!(sigmoid_f32(f32::NEG_INFINITY, Sigmoid::Clamped), far);
        let logistic = Objective::from_xgboost_name("binary:logistic").unwrap();
        let exp = Objective::from_xgboost_name("count:poisson").unwrap();
        let hinge = Objective::from_xgboost_name("binary:hinge").unwrap();
        let identity = Objective::from_xgboost_name("reg:squarederror").unwrap();
        let s = Sigmoid::Clamped;
        assert!(logistic.transform_scalar(f32::NAN, s).is_nan());
        assert!(exp.transform_scalar(f32::NAN, s).is_nan());
        assert_eq!(exp.transform_scalar(f32::INFINITY, s), f32::INFINITY);
        assert_eq!(exp.transform_scalar(f32::NEG_INFINITY, s), 0.0);
        // `preds[i] > 0 ? 1 : 0`
        assert_eq!(hinge.transform_scalar(f32::NAN, s), 0.0);
        assert_eq!(hinge.transform_scalar(f32::INFINITY, s), 1.0);
        assert!(identity.transform_scalar(f32::NAN, s).is_nan());
        // Softmax: `fmaxf` skips NaN for the maximum, then every expf(NaN - max) is NaN.
        let mut row = [f32::NAN, 1.0, 2.0];
        softmax_in_place(&mut row);
        assert!(row.iter().all(|v| v.is_nan()));
        // `if (*it > *maxit) maxit = it`: nothing is greater than a NaN first.
        assert_eq!(argmax_first(&[f32::NAN, 1.0, f32::INFINITY]), 0);
        assert_eq!(argmax_first(&[1.0, f32::NAN, f32::INFINITY]), 2);
        assert_eq!(argmax_first(&[f32::NAN, f32::NAN]), 0);
    }

    #[test]
    fn logistic_base_score_round_trips_half() {
        let o = Objective::from_xgboost_name("binary:logistic").unwrap();
        assert_eq!(o.prob_to_margin(0.5).unwrap(), 0.0);
        assert!(o.prob_to_margin(1.5).is_err());
    }

    #[test]
    fn softmax_sums_to_one_and_argmax_takes_first() {
        let mut r = [1.0f32, 3.0, 3.0];
        assert_eq!(argmax_first(&r), 1);
        softmax_in_place(&mut r);
        assert!((r.iter().sum::<f32>() - 1.0).abs() < 1e-6);
    }
}
