//! [`RawModel`] → [`Forest`]: XGBoost's per-version semantics resolved into the
//! format-neutral IR.

use quercus_core::{
    Booster, CategoryOutOfRange, CategorySet, Error, FeatureType, Forest, ForestParts, LinearModel,
    Node, Objective, Result, Semantics, Sigmoid, Summation, Tree, TreeEnsemble,
};

use crate::raw::{RawBooster, RawModel, RawTree};
use crate::{Compat, LoadOptions};

/// Builds the forest, choosing the arithmetic by writer version and `opts`.
pub(crate) fn to_forest(raw: &RawModel, opts: &LoadOptions) -> Result<Forest> {
    let objective = Objective::from_xgboost_name(&raw.objective)?;
    let num_outputs = raw.num_class.max(raw.num_target).max(1);
    let writer = matches!(opts.compat, Compat::Writer);
    let is_dart = raw.booster_name == "dart";
    let v = raw.version;
    let semantics = Semantics {
        summation: if writer && (v.before(1, 3) || (is_dart && v.before(1, 4))) {
            Summation::Legacy
        } else {
            Summation::Modern
        },
        sigmoid: if writer && v.before(1, 6) {
            Sigmoid::Plain
        } else {
            Sigmoid::Clamped
        },
        category_out_of_range: if writer && v.major == 1 && v.minor == 6 {
            CategoryOutOfRange::DefaultChild
        } else {
            CategoryOutOfRange::Left
        },
    };
    let base_margin = base_margin(raw, &objective, num_outputs, writer)?;

    let booster = match &raw.booster {
        RawBooster::Linear { weights } => Booster::Linear(LinearModel::new(weights.clone())),
        RawBooster::Trees {
            trees,
            tree_info,
            iteration_indptr,
            weight_drop,
            num_parallel_tree,
        } => {
            let mut out = Vec::with_capacity(trees.len());
            let mut vector_leaves = false;
            for (t, rt) in trees.iter().enumerate() {
                let tree = to_tree(rt, raw.num_feature).map_err(|e| e.with_tree(t))?;
                vector_leaves |= tree.leaf_width() > 1;
                out.push(tree);
            }
            let mut outputs = Vec::with_capacity(tree_info.len());
            for (t, &g) in tree_info.iter().enumerate() {
                let g = u32::try_from(g).map_err(|_| {
                    Error::invalid_model(format!("negative output group {g}")).with_tree(t)
                })?;
                outputs.push(g);
            }
            let round_ptr = match iteration_indptr {
                Some(ptr) => ptr
                    .iter()
                    .map(|&p| {
                        usize::try_from(p).map_err(|_| {
                            Error::invalid_model(format!("negative iteration_indptr entry {p}"))
                        })
                    })
                    .collect::<Result<Vec<_>>>()?,
                None => {
                    let groups = if vector_leaves {
                        1
                    } else {
                        outputs.iter().max().map_or(1, |&m| m as usize + 1)
                    };
                    TreeEnsemble::uniform_rounds(
                        out.len(),
                        groups.saturating_mul((*num_parallel_tree).max(1)),
                    )
                }
            };
            let weights = if is_dart {
                weight_drop.clone()
            } else {
                weight_drop.clone().filter(|w| w.iter().any(|&x| x != 1.0))
            };
            Booster::Trees(TreeEnsemble::new(out, outputs, weights, round_ptr)?)
        }
    };

    let feature_types = raw
        .feature_types
        .iter()
        .map(|t| match t.as_str() {
            "c" => FeatureType::Categorical,
            _ => FeatureType::Numeric,
        })
        .collect();

    Forest::new(ForestParts {
        num_features: raw.num_feature,
        num_outputs,
        base_margin,
        objective,
        booster,
        semantics,
        feature_names: raw.feature_names.clone(),
        feature_types,
    })?
    .with_categories(raw.categories.clone())
}

/// The starting margin of each output (research note §3.11, §4.4).
fn base_margin(
    raw: &RawModel,
    objective: &Objective,
    num_outputs: usize,
    writer: bool,
) -> Result<Vec<f32>> {
    let stored: Vec<f32> = match raw.base_score.len() {
        1 => vec![raw.base_score[0]; num_outputs],
        n if n == num_outputs => raw.base_score.clone(),
        n => {
            return Err(Error::invalid_model(format!(
                "{n} base scores for a model with {num_outputs} outputs"
            )));
        }
    };
    // gblinear adds the first output's base score to every output (XGBoost 3.1+
    // stores one per class, but its linear predictor reads only the first).
    let stored = if matches!(raw.booster, RawBooster::Linear { .. }) {
        vec![stored[0]; num_outputs]
    } else {
        stored
    };
    // XGBoost 1.0.x converted binary:logitraw's base score with the logistic
    // ProbToMargin; 1.3 and later treat it as a margin already.
    let logistic = Objective::from_xgboost_name("binary:logistic")?;
    let to_margin = if writer && raw.version.before(1, 3) && raw.objective == "binary:logitraw" {
        &logistic
    } else {
        objective
    };
    stored
        .into_iter()
        .map(|b| {
            if !raw.base_score_is_margin {
                return to_margin.prob_to_margin(b);
            }
            if writer || objective.is_multiclass() {
                // 0.x and 1.0.x use the stored margin as is.
                return Ok(b);
            }
            // XGBoost 1.1+ loading a 0.x binary: back to response space with the
            // output transform, then forward with ProbToMargin, all in f32.
            let p = objective.transform_scalar(b, Sigmoid::Clamped);
            objective.prob_to_margin(p)
        })
        .collect()
}

/// One raw tree → a validated [`Tree`].
fn to_tree(rt: &RawTree, num_feature: usize) -> Result<Tree> {
    let n = rt.left.len();
    if rt.right.len() != n
        || rt.split_index.len() != n
        || rt.split_condition.len() != n
        || rt.default_left.len() != n
        || (!rt.split_type.is_empty() && rt.split_type.len() != n)
    {
        return Err(Error::invalid_model(format!(
            "per-node arrays differ in length (left {n}, right {}, split_indices {}, \
             split_conditions {}, default_left {}, split_type {})",
            rt.right.len(),
            rt.split_index.len(),
            rt.split_condition.len(),
            rt.default_left.len(),
            rt.split_type.len()
        )));
    }
    let k = rt.size_leaf_vector.max(1);

    // Categorical sets, keyed by node.
    let c = rt.categories_nodes.len();
    if rt.categories_segments.len() != c || rt.categories_sizes.len() != c {
        return Err(Error::invalid_model(format!(
            "{c} categorical nodes but {} segments and {} sizes",
            rt.categories_segments.len(),
            rt.categories_sizes.len()
        )));
    }
    let mut set_of_node: Vec<Option<u32>> = vec![None; n];
    let mut sets = Vec::with_capacity(c);
    for k_set in 0..c {
        let node = rt.categories_nodes[k_set];
        let node = usize::try_from(node)
            .ok()
            .filter(|&i| i < n)
            .ok_or_else(|| Error::invalid_model(format!("categorical node {node} out of range")))?;
        let start = usize::try_from(rt.categories_segments[k_set]).ok();
        let len = usize::try_from(rt.categories_sizes[k_set]).ok();
        let slice = match (start, len) {
            (Some(s), Some(l)) => s.checked_add(l).and_then(|e| rt.categories.get(s..e)),
            _ => None,
        }
        .ok_or_else(|| {
            Error::invalid_model(format!(
                "category segment {}+{} is outside the {} stored categories",
                rt.categories_segments[k_set],
                rt.categories_sizes[k_set],
                rt.categories.len()
            ))
            .with_node(node)
        })?;
        let codes = slice
            .iter()
            .map(|&v| {
                u32::try_from(v).map_err(|_| Error::invalid_model(format!("negative category {v}")))
            })
            .collect::<Result<Vec<_>>>()
            .map_err(|e| e.with_node(node))?;
        sets.push(CategorySet::new(codes).map_err(|e| e.with_node(node))?);
        set_of_node[node] = Some(k_set as u32);
    }

    // Leaf vectors: 3.2+ index `leaf_weights` by the ordinal in `right`;
    // 2.0–3.1 keep each leaf's vector at its node id in `base_weights`.
    let (leaf_values, by_ordinal) = if k > 1 {
        match &rt.leaf_weights {
            Some(lw) => (lw.clone(), true),
            None => (rt.base_weights.clone(), false),
        }
    } else {
        (Vec::new(), false)
    };

    let mut nodes = Vec::with_capacity(n);
    for (i, &left) in rt.left.iter().enumerate() {
        if left == -1 {
            if k > 1 {
                let index = if by_ordinal { rt.right[i] } else { i as i32 };
                let index = u32::try_from(index).map_err(|_| {
                    Error::invalid_model(format!("negative leaf index {index}")).with_node(i)
                })?;
                nodes.push(Node::VectorLeaf { index });
            } else {
                nodes.push(Node::Leaf {
                    value: rt.split_condition[i],
                });
            }
            continue;
        }
        let right = rt.right[i];
        let (Ok(l), Ok(r)) = (u32::try_from(left), u32::try_from(right)) else {
            return Err(Error::invalid_model(format!("bad children {left}, {right}")).with_node(i));
        };
        let categorical = rt.split_type.get(i).copied().unwrap_or(0) == 1;
        let categories = if categorical {
            Some(set_of_node[i].ok_or_else(|| {
                Error::invalid_model("categorical split without a category set").with_node(i)
            })?)
        } else {
            None
        };
        nodes.push(Node::Split {
            feature: rt.split_index[i],
            threshold: rt.split_condition[i],
            default_left: rt.default_left[i],
            left: l,
            right: r,
            categories,
        });
    }
    if k > 1 {
        Tree::with_leaf_vectors(nodes, sets, k, leaf_values, num_feature)
    } else {
        Tree::new(nodes, sets, num_feature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raw::Version;
    use std::collections::BTreeMap;

    fn raw(version: Version, base: f32, is_margin: bool) -> RawModel {
        RawModel {
            version,
            num_feature: 1,
            num_class: 0,
            num_target: 1,
            base_score: vec![base],
            base_score_is_margin: is_margin,
            objective: "binary:logistic".into(),
            booster_name: "gbtree".into(),
            booster: RawBooster::Trees {
                trees: vec![RawTree {
                    left: vec![-1],
                    right: vec![-1],
                    split_index: vec![0],
                    split_condition: vec![0.25],
                    default_left: vec![false],
                    ..RawTree::default()
                }],
                tree_info: vec![0],
                iteration_indptr: None,
                weight_drop: None,
                num_parallel_tree: 1,
            },
            feature_names: vec![],
            feature_types: vec![],
            attributes: BTreeMap::new(),
            categories: vec![],
        }
    }

    #[test]
    fn old_binary_base_score_round_trips_only_in_current_mode() {
        // 0.82 stored logit(0.127792626) = -1.9206184; 1.1+ reloads it as -1.9206185.
        let stored = -1.920_618_4_f32;
        let r = raw(Version::default(), stored, true);
        let cur = to_forest(&r, &LoadOptions::default()).unwrap();
        let old = to_forest(
            &r,
            &LoadOptions {
                compat: Compat::Writer,
                ..LoadOptions::default()
            },
        )
        .unwrap();
        assert_eq!(old.base_margin()[0], stored);
        let p = 1.0f32 / ((-(-1.920_618_4_f32)).min(88.7).exp() + 1.0 + 1e-16);
        assert_eq!(cur.base_margin()[0], -(1.0 / p - 1.0f32).ln());
        assert_eq!(old.semantics().summation, Summation::Legacy);
        assert_eq!(cur.semantics().summation, Summation::Modern);
    }

    #[test]
    fn probability_base_score_becomes_a_margin() {
        let r = raw(Version::new(1, 7, 6), 0.5, false);
        assert_eq!(
            to_forest(&r, &LoadOptions::default())
                .unwrap()
                .base_margin(),
            &[0.0]
        );
    }
}
