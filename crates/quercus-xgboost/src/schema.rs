//! A parsed JSON/UBJSON document → [`RawModel`], for every writer from 1.0 to
//! 3.4 (research note §1.1–§1.10).
//!
//! Only what prediction and [`crate::ModelInfo`] need is read; unknown keys are
//! ignored, as XGBoost ignores them. Every error names the document path of the
//! offending field (and the tree, for tree fields).

use std::collections::BTreeMap;
use std::str::FromStr;

use quercus_core::{Categories, Error, Result};

use crate::raw::{RawBooster, RawModel, RawTree, Version};
use crate::value::Value;

/// Reads an XGBoost model document.
pub(crate) fn model_from_value(doc: &Value) -> Result<RawModel> {
    if doc.as_object().is_none() {
        return Err(wrong_type("an object", doc, "(document)"));
    }
    let version = read_version(req(doc, "version", "")?)?;
    let learner = req_object(doc, "learner", "")?;

    let lp_path = "learner/learner_model_param";
    let lp = req_object(learner, "learner_model_param", "learner")?;
    let num_feature = param::<usize>(lp, "num_feature", lp_path)?
        .ok_or_else(|| missing("learner/learner_model_param/num_feature"))?;
    let num_class = param::<usize>(lp, "num_class", lp_path)?.unwrap_or(0);
    let num_target = param::<usize>(lp, "num_target", lp_path)?.unwrap_or(1);
    let base_score = match opt(lp, "base_score") {
        // XGBoost's parameter default.
        None => vec![0.5],
        Some(v) => read_base_score(v).map_err(|e| e.with_field(format!("{lp_path}/base_score")))?,
    };

    let objective = req_object(learner, "objective", "learner")?;
    let objective = req_str(objective, "name", "learner/objective")?.to_owned();
    let feature_names = opt_strings(learner, "feature_names", "learner")?;
    let feature_types = opt_strings(learner, "feature_types", "learner")?;
    let attributes = read_attributes(learner)?;

    let gb_path = "learner/gradient_booster";
    let gb = req_object(learner, "gradient_booster", "learner")?;
    let name = req_str(gb, "name", gb_path)?;
    let booster = match name {
        // 3.3 keeps DART's weights next to `model`, 3.4 inside it.
        "gbtree" => read_trees(
            req_object(gb, "model", gb_path)?,
            &format!("{gb_path}/model"),
            opt(gb, "weight_drop").map(|w| (w, format!("{gb_path}/weight_drop"))),
        )?,
        // 1.0–3.2: {"name":"dart","gbtree":{"name":"gbtree","model":{...}},"weight_drop":[...]}
        "dart" => {
            let inner = req_object(gb, "gbtree", gb_path)?;
            let path = format!("{gb_path}/gbtree/model");
            let weights = req(gb, "weight_drop", gb_path)?;
            read_trees(
                req_object(inner, "model", &format!("{gb_path}/gbtree"))?,
                &path,
                Some((weights, format!("{gb_path}/weight_drop"))),
            )?
        }
        "gblinear" => {
            let path = format!("{gb_path}/model");
            let model = req_object(gb, "model", gb_path)?;
            RawBooster::Linear {
                weights: f32s(req(model, "weights", &path)?, &format!("{path}/weights"))?,
            }
        }
        other => {
            return Err(Error::unsupported(format!("unknown booster `{other}`"))
                .with_field(format!("{gb_path}/name")));
        }
    };

    // 3.1+: the training categories, inside the gbtree model.
    let tree_model = match name {
        "gbtree" => Some((opt(gb, "model"), format!("{gb_path}/model"))),
        "dart" => Some((
            opt(gb, "gbtree").and_then(|g| opt(g, "model")),
            format!("{gb_path}/gbtree/model"),
        )),
        _ => None,
    };
    let categories = match tree_model {
        Some((Some(model), path)) => match opt(model, "cats") {
            Some(cats) => read_cats(cats, &format!("{path}/cats"))?,
            None => Vec::new(),
        },
        _ => Vec::new(),
    };

    Ok(RawModel {
        version,
        num_feature,
        num_class,
        num_target,
        base_score,
        base_score_is_margin: false,
        objective,
        booster_name: name.to_owned(),
        booster,
        feature_names,
        feature_types,
        attributes,
        categories,
    })
}

/// The `cats` object at `path` (3.1+, research note §1.9): per feature, its
/// training categories in code order; `enc[f]` is `{"offsets", "values"}`
/// (UTF-8 bytes, `offsets` with one entry more than there are strings) or
/// `{"type", "values"}` (numbers). An empty entry is a feature without
/// categories.
fn read_cats(cats: &Value, path: &str) -> Result<Vec<Option<Categories>>> {
    let enc_path = format!("{path}/enc");
    let Some(enc) = opt(cats, "enc") else {
        return Ok(Vec::new());
    };
    let items = enc
        .as_array()
        .ok_or_else(|| wrong_type("an array", enc, &enc_path))?;
    items
        .iter()
        .enumerate()
        .map(|(f, e)| {
            let ep = format!("{enc_path}/{f}");
            let values = req(e, "values", &ep)?;
            let vp = format!("{ep}/values");
            let Some(offsets) = opt(e, "offsets") else {
                let numbers = values
                    .to_f64_vec()
                    .ok_or_else(|| wrong_type("an array of numbers", values, &vp))?;
                return Ok((!numbers.is_empty()).then_some(Categories::Numbers(numbers)));
            };
            let op = format!("{ep}/offsets");
            let offsets = i64s(offsets, &op)?;
            let bytes = i64s(values, &vp)?
                .into_iter()
                .map(|b| u8::try_from(b).map_err(|_| out_of_range(b, "byte").with_field(&vp)))
                .collect::<Result<Vec<u8>>>()?;
            if offsets.is_empty() {
                return Ok(None);
            }
            let sane = offsets[0] == 0
                && offsets.windows(2).all(|w| w[0] <= w[1])
                && offsets.last() == Some(&(bytes.len() as i64));
            if !sane {
                return Err(Error::invalid_model(format!(
                    "string offsets do not cover the {} bytes of the categories in order",
                    bytes.len()
                ))
                .with_field(op));
            }
            offsets
                .windows(2)
                .enumerate()
                .map(|(i, w)| {
                    std::str::from_utf8(&bytes[w[0] as usize..w[1] as usize])
                        .map(str::to_owned)
                        .map_err(|_| {
                            Error::invalid_model(format!("category {i} is not UTF-8"))
                                .with_field(&vp)
                        })
                })
                .collect::<Result<Vec<String>>>()
                .map(|s| Some(Categories::Strings(s)))
        })
        .collect()
}

// ---------------------------------------------------------------------------
// Boosters and trees
// ---------------------------------------------------------------------------

/// A gbtree `model` object at `path`; `outer_weights` is a `weight_drop` found
/// outside it (DART ≤ 3.2, gbtree 3.3).
fn read_trees(
    model: &Value,
    path: &str,
    outer_weights: Option<(&Value, String)>,
) -> Result<RawBooster> {
    let (num_trees, num_parallel_tree) = match opt(model, "gbtree_model_param") {
        Some(p) => {
            let pp = format!("{path}/gbtree_model_param");
            (
                param::<usize>(p, "num_trees", &pp)?,
                // Only stored since 1.6; 1 before, as XGBoost assumes.
                param::<usize>(p, "num_parallel_tree", &pp)?.unwrap_or(1),
            )
        }
        None => (None, 1),
    };

    let trees_path = format!("{path}/trees");
    let items = req(model, "trees", path)?;
    let items = items
        .as_array()
        .ok_or_else(|| wrong_type("an array", items, &trees_path))?;
    if let Some(n) = num_trees.filter(|&n| n != items.len()) {
        return Err(Error::invalid_model(format!(
            "num_trees is {n} but {} trees are stored",
            items.len()
        ))
        .with_field(format!("{path}/gbtree_model_param/num_trees")));
    }

    // Place each tree by its `id` (3.4 requires id == index; earlier readers
    // place by id), rejecting duplicates and ids out of range.
    let mut slots: Vec<Option<RawTree>> = (0..items.len()).map(|_| None).collect();
    for (i, item) in items.iter().enumerate() {
        let tpath = format!("{trees_path}/{i}");
        let id = match opt(item, "id") {
            None => i,
            Some(v) => v
                .as_i64()
                .and_then(|id| usize::try_from(id).ok())
                .filter(|&id| id < items.len())
                .ok_or_else(|| {
                    Error::invalid_model(format!(
                        "tree id {} is not an index below {}",
                        brief(v),
                        items.len()
                    ))
                    .with_field(format!("{tpath}/id"))
                    .with_tree(i)
                })?,
        };
        let tree = read_tree(item, &tpath).map_err(|e| e.with_tree(i))?;
        let slot = &mut slots[id];
        if slot.is_some() {
            return Err(Error::invalid_model(format!("duplicate tree id {id}"))
                .with_field(format!("{tpath}/id"))
                .with_tree(i));
        }
        *slot = Some(tree);
    }
    // n distinct ids below n fill every slot.
    let trees = slots
        .into_iter()
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| Error::invalid_model("missing tree ids").with_field(trees_path))?;

    let info_path = format!("{path}/tree_info");
    let tree_info = i32s(req(model, "tree_info", path)?, &info_path)?;
    if tree_info.len() != trees.len() {
        return Err(Error::invalid_model(format!(
            "{} entries for {} trees",
            tree_info.len(),
            trees.len()
        ))
        .with_field(info_path));
    }
    let iteration_indptr = match opt(model, "iteration_indptr") {
        Some(v) => Some(i64s(v, &format!("{path}/iteration_indptr"))?),
        None => None,
    };
    let weight_drop = match opt(model, "weight_drop")
        .map(|w| (w, format!("{path}/weight_drop")))
        .or(outer_weights)
    {
        Some((w, wpath)) => Some(f32s(w, &wpath)?),
        None => None,
    };
    Ok(RawBooster::Trees {
        trees,
        tree_info,
        iteration_indptr,
        weight_drop,
        num_parallel_tree,
    })
}

/// One tree object at `path`.
fn read_tree(t: &Value, path: &str) -> Result<RawTree> {
    if t.as_object().is_none() {
        return Err(wrong_type("an object", t, path));
    }
    let (num_nodes, size_leaf_vector) = match opt(t, "tree_param") {
        Some(p) => {
            let pp = format!("{path}/tree_param");
            (
                param::<usize>(p, "num_nodes", &pp)?,
                param::<usize>(p, "size_leaf_vector", &pp)?.unwrap_or(0),
            )
        }
        None => (None, 0),
    };
    let sub = |key: &str| format!("{path}/{key}");
    let arr = |key: &str| req(t, key, path);

    let left = i32s(arr("left_children")?, &sub("left_children"))?;
    let n = left.len();
    if let Some(nn) = num_nodes.filter(|&nn| nn != n) {
        return Err(Error::invalid_model(format!(
            "num_nodes is {nn} but left_children has {n} entries"
        ))
        .with_field(sub("tree_param/num_nodes")));
    }
    let right = i32s(arr("right_children")?, &sub("right_children"))?;
    let split_index = i64s(arr("split_indices")?, &sub("split_indices"))?
        .into_iter()
        .map(|x| u32::try_from(x).map_err(|_| out_of_range(x, "feature index")))
        .collect::<Result<Vec<_>>>()
        .map_err(|e| e.with_field(sub("split_indices")))?;
    let split_condition = f32s(arr("split_conditions")?, &sub("split_conditions"))?;
    let default_left = {
        let v = arr("default_left")?;
        v.to_bool_vec()
            .ok_or_else(|| wrong_type("an array of 0/1 flags", v, &sub("default_left")))?
    };
    let split_type = match opt(t, "split_type") {
        Some(v) => i64s(v, &sub("split_type"))?
            .into_iter()
            .map(|x| match x {
                0 | 1 => Ok(x as u8),
                _ => Err(Error::invalid_model(format!(
                    "split type {x} is neither 0 (numerical) nor 1 (categorical)"
                ))),
            })
            .collect::<Result<Vec<_>>>()
            .map_err(|e| e.with_field(sub("split_type")))?,
        None => Vec::new(),
    };
    for (key, len) in [
        ("right_children", right.len()),
        ("split_indices", split_index.len()),
        ("split_conditions", split_condition.len()),
        ("default_left", default_left.len()),
        (
            "split_type",
            if split_type.is_empty() {
                n
            } else {
                split_type.len()
            },
        ),
    ] {
        if len != n {
            return Err(
                Error::invalid_model(format!("{len} entries, but the tree has {n} nodes"))
                    .with_field(sub(key)),
            );
        }
    }

    let opt_i32s = |key: &str| match opt(t, key) {
        Some(v) => i32s(v, &sub(key)),
        None => Ok(Vec::new()),
    };
    let opt_i64s = |key: &str| match opt(t, key) {
        Some(v) => i64s(v, &sub(key)),
        None => Ok(Vec::new()),
    };
    let categories = opt_i32s("categories")?;
    let categories_nodes = opt_i32s("categories_nodes")?;
    let categories_segments = opt_i64s("categories_segments")?;
    let categories_sizes = opt_i64s("categories_sizes")?;
    let base_weights = match opt(t, "base_weights") {
        Some(v) => f32s(v, &sub("base_weights"))?,
        None => Vec::new(),
    };
    let leaf_weights = match opt(t, "leaf_weights") {
        Some(v) => Some(f32s(v, &sub("leaf_weights"))?),
        None => None,
    };

    Ok(RawTree {
        left,
        right,
        split_index,
        split_condition,
        default_left,
        split_type,
        categories,
        categories_nodes,
        categories_segments,
        categories_sizes,
        size_leaf_vector,
        base_weights,
        leaf_weights,
    })
}

// ---------------------------------------------------------------------------
// Learner fields
// ---------------------------------------------------------------------------

fn read_version(v: &Value) -> Result<Version> {
    let parts = i64s(v, "version")?;
    let [major, minor, patch] = parts[..] else {
        return Err(Error::format(format!(
            "expected [major, minor, patch], found {} numbers",
            parts.len()
        ))
        .with_field("version"));
    };
    let part = |x: i64| {
        u32::try_from(x).map_err(|_| out_of_range(x, "version number").with_field("version"))
    };
    Ok(Version::new(part(major)?, part(minor)?, part(patch)?))
}

/// `base_score`: a number string (1.0–3.0: `"0.500000"`, `"5E-1"`), or, from 3.1,
/// a JSON array inside the string (`"[4.935E-1]"`, `"(..)"`, or a bare number).
/// Every element is parsed straight to f32.
fn read_base_score(v: &Value) -> Result<Vec<f32>> {
    match v {
        Value::Str(s) => parse_base_score(s).ok_or_else(|| {
            Error::format(format!(
                "`{}` is not a number or an array of numbers",
                s.escape_debug()
            ))
        }),
        // Not what XGBoost writes, but unambiguous.
        Value::Float(f) => Ok(vec![*f]),
        Value::Int(i) => Ok(vec![*i as f32]),
        _ => v
            .to_f32_vec()
            .filter(|v| !v.is_empty())
            .ok_or_else(|| Error::format(format!("expected a string, found {}", v.kind()))),
    }
}

fn parse_base_score(s: &str) -> Option<Vec<f32>> {
    let s = s.trim();
    let inner = match s.as_bytes().first() {
        Some(b'[') => s.strip_prefix('[')?.strip_suffix(']')?,
        Some(b'(') => s.strip_prefix('(')?.strip_suffix(')')?,
        _ => return number(s).map(|x| vec![x]),
    };
    if inner.trim().is_empty() {
        return None;
    }
    inner.split(',').map(|e| number(e.trim())).collect()
}

/// One number of a parameter string, straight to f32. XGBoost's own tokens
/// `NaN`/`Infinity` are accepted; Rust's extra spellings (`inf`, `+1`) are not.
fn number(s: &str) -> Option<f32> {
    match s {
        "NaN" => Some(f32::NAN),
        "Infinity" => Some(f32::INFINITY),
        "-Infinity" => Some(f32::NEG_INFINITY),
        _ if s.starts_with(|c: char| c == '-' || c == '.' || c.is_ascii_digit())
            && s.bytes().all(|c| b"0123456789+-.eE".contains(&c)) =>
        {
            s.parse().ok()
        }
        _ => None,
    }
}

fn read_attributes(learner: &Value) -> Result<BTreeMap<String, String>> {
    let path = "learner/attributes";
    let Some(attrs) = opt(learner, "attributes") else {
        return Ok(BTreeMap::new());
    };
    let members = attrs
        .as_object()
        .ok_or_else(|| wrong_type("an object", attrs, path))?;
    members
        .iter()
        .map(|(k, v)| match v.as_str() {
            Some(s) => Ok((k.clone(), s.to_owned())),
            None => Err(wrong_type("a string", v, &format!("{path}/{k}"))),
        })
        .collect()
}

fn opt_strings(obj: &Value, key: &str, path: &str) -> Result<Vec<String>> {
    let path = format!("{path}/{key}");
    let Some(v) = opt(obj, key) else {
        return Ok(Vec::new());
    };
    let items = v
        .as_array()
        .ok_or_else(|| wrong_type("an array of strings", v, &path))?;
    items
        .iter()
        .enumerate()
        .map(|(i, x)| {
            x.as_str()
                .map(str::to_owned)
                .ok_or_else(|| wrong_type("a string", x, &format!("{path}/{i}")))
        })
        .collect()
}

// ---------------------------------------------------------------------------
// Field access with errors that name the path
// ---------------------------------------------------------------------------

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}/{key}")
    }
}

/// A member; `null` counts as absent (a 1.3 writer could emit null arrays, #6936).
fn opt<'a>(obj: &'a Value, key: &str) -> Option<&'a Value> {
    obj.get(key).filter(|v| **v != Value::Null)
}

fn missing(path: &str) -> Error {
    Error::format("required field is missing or null").with_field(path)
}

/// A required member of the object at `path`.
fn req<'a>(obj: &'a Value, key: &str, path: &str) -> Result<&'a Value> {
    opt(obj, key).ok_or_else(|| missing(&join(path, key)))
}

fn req_object<'a>(obj: &'a Value, key: &str, path: &str) -> Result<&'a Value> {
    let v = req(obj, key, path)?;
    match v {
        Value::Object(_) => Ok(v),
        _ => Err(wrong_type("an object", v, &join(path, key))),
    }
}

fn req_str<'a>(obj: &'a Value, key: &str, path: &str) -> Result<&'a str> {
    let v = req(obj, key, path)?;
    v.as_str()
        .ok_or_else(|| wrong_type("a string", v, &join(path, key)))
}

/// A parameter of a `*_param` object: XGBoost stores them as strings; plain
/// integers are accepted too. `None` when absent.
fn param<T: FromStr>(obj: &Value, key: &str, path: &str) -> Result<Option<T>> {
    let Some(v) = opt(obj, key) else {
        return Ok(None);
    };
    let text = match v {
        Value::Str(s) => s.trim().to_owned(),
        Value::Int(i) => i.to_string(),
        _ => return Err(wrong_type("a string", v, &join(path, key))),
    };
    text.parse().map(Some).map_err(|_| {
        Error::format(format!("`{}` is not a valid value", text.escape_debug()))
            .with_field(join(path, key))
    })
}

fn wrong_type(expected: &str, found: &Value, path: &str) -> Error {
    Error::format(format!("expected {expected}, found {}", found.kind())).with_field(path)
}

fn out_of_range(x: i64, what: &str) -> Error {
    Error::invalid_model(format!("{what} {x} is out of range"))
}

/// A short rendering of a scalar for messages.
fn brief(v: &Value) -> String {
    match v {
        Value::Int(i) => i.to_string(),
        Value::Float(f) => f.to_string(),
        Value::Str(s) => format!("{:?}", s.chars().take(20).collect::<String>()),
        other => other.kind().to_owned(),
    }
}

fn f32s(v: &Value, path: &str) -> Result<Vec<f32>> {
    v.to_f32_vec()
        .ok_or_else(|| wrong_type("an array of numbers", v, path))
}

fn i64s(v: &Value, path: &str) -> Result<Vec<i64>> {
    v.to_i64_vec()
        .ok_or_else(|| wrong_type("an array of integers", v, path))
}

fn i32s(v: &Value, path: &str) -> Result<Vec<i32>> {
    i64s(v, path)?
        .into_iter()
        .map(|x| i32::try_from(x).map_err(|_| out_of_range(x, "value").with_field(path)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Format, LoadOptions, json, load_as, load_bytes, ubjson};
    use proptest::prelude::*;

    /// A stump tree object (JSON text) with the given id and leaf values.
    fn stump(id: usize, lo: &str, hi: &str) -> String {
        format!(
            r#"{{"id":{id},"tree_param":{{"num_nodes":"3","size_leaf_vector":"1","num_feature":"2","num_deleted":"0"}},
            "left_children":[1,-1,-1],"right_children":[2,-1,-1],"parents":[2147483647,0,0],
            "split_indices":[1,0,0],"split_conditions":[5E-1,{lo},{hi}],"default_left":[1,0,0],
            "split_type":[0,0,0],"categories":[],"categories_nodes":[],"categories_segments":[],
            "categories_sizes":[],"base_weights":[0E0,-1E0,1E0],"loss_changes":[1E0,0E0,0E0],
            "sum_hessian":[2E0,1E0,1E0]}}"#
        )
    }

    fn doc(version: &str, base_score: &str, extra_lp: &str, gb: &str) -> String {
        format!(
            r#"{{"version":{version},"learner":{{"attributes":{{"best_iteration":"1"}},
            "feature_names":["a","b"],"feature_types":["q","c"],
            "learner_model_param":{{"base_score":"{base_score}","num_class":"0","num_feature":"2"{extra_lp}}},
            "objective":{{"name":"reg:squarederror","reg_loss_param":{{"scale_pos_weight":"1"}}}},
            "gradient_booster":{gb}}}}}"#
        )
    }

    fn gbtree_model(trees: &[String], extra: &str) -> String {
        let info = vec!["0"; trees.len()].join(",");
        format!(
            r#"{{"gbtree_model_param":{{"num_trees":"{}","num_parallel_tree":"1"}},
            "trees":[{}],"tree_info":[{info}]{extra}}}"#,
            trees.len(),
            trees.join(",")
        )
    }

    fn replace_last(s: &str, from: &str, to: &str) -> String {
        let i = s.rfind(from).unwrap();
        format!("{}{to}{}", &s[..i], &s[i + from.len()..])
    }

    fn read(text: &str) -> Result<RawModel> {
        model_from_value(&json::parse(text.as_bytes())?)
    }

    fn trees_of(m: &RawModel) -> (&[RawTree], Option<&Vec<f32>>) {
        match &m.booster {
            RawBooster::Trees {
                trees, weight_drop, ..
            } => (trees, weight_drop.as_ref()),
            RawBooster::Linear { .. } => panic!("linear"),
        }
    }

    /// A `num_class` or `num_target` that sizes per-row outputs is checked
    /// against the file's length in JSON and UBJSON as in the legacy binary
    /// (2^31 used to abort on allocation, 2^24 to write 64 MB per row).
    #[test]
    fn absurd_output_counts_are_refused_in_json_and_ubjson() {
        let gb = format!(
            r#"{{"name":"gbtree","model":{}}}"#,
            gbtree_model(&[stump(0, "-1E0", "1E0")], "")
        );
        let ok = doc("[2,1,4]", "5E-1", "", &gb);
        assert!(load_bytes(ok.as_bytes(), &LoadOptions::default()).is_ok());
        for (field, value) in [
            ("num_class", "2147483648"),
            ("num_class", "16777216"),
            ("num_target", "4294967296"),
        ] {
            let text = if field == "num_class" {
                ok.replace(r#""num_class":"0""#, &format!(r#""num_class":"{value}""#))
            } else {
                ok.replace(
                    r#""num_feature":"2""#,
                    &format!(r#""num_feature":"2","num_target":"{value}""#),
                )
            };
            let ubj = ubjson::encode(&json::parse(text.as_bytes()).unwrap());
            for (format, bytes) in [(Format::Json, text.as_bytes()), (Format::Ubjson, &ubj[..])] {
                let e = load_as(bytes, format, &LoadOptions::default()).unwrap_err();
                assert!(
                    matches!(e.kind(), quercus_core::ErrorKind::Format(m) if m.contains(field) && m.contains("implausible")),
                    "{format:?} {field}={value}: {e}"
                );
                assert_eq!(
                    e.location().field.as_deref(),
                    Some(&*format!("learner/learner_model_param/{field}"))
                );
            }
        }
    }

    #[test]
    fn training_categories_3_1() {
        let with_cats = |cats: &str| {
            let gb = format!(
                r#"{{"name":"gbtree","model":{}}}"#,
                gbtree_model(&[stump(0, "-1E0", "1E0")], &format!(r#","cats":{cats}"#))
            );
            read(&doc("[3,2,0]", "5E-1", "", &gb))
        };
        // "blue", "red" as UTF-8 bytes; feature 0 numeric (no categories).
        let m = with_cats(
            r#"{"enc":[{"offsets":[],"values":[]},{"offsets":[0,4,7],"values":[98,108,117,101,114,101,100]}],
            "feature_segments":[0,0,2],"sorted_idx":[0,1]}"#,
        )
        .unwrap();
        assert_eq!(
            m.categories,
            vec![
                None,
                Some(Categories::Strings(vec!["blue".into(), "red".into()]))
            ]
        );
        let m =
            with_cats(r#"{"enc":[{"offsets":[],"values":[]},{"type":15,"values":[10,2.5E0]}]}"#)
                .unwrap();
        assert_eq!(m.categories[1], Some(Categories::Numbers(vec![10.0, 2.5])));
        // Hostile: offsets past the bytes, out of order, not UTF-8, not bytes.
        for (cats, needle) in [
            (r#"{"enc":[{"offsets":[0,9],"values":[98]}]}"#, "offsets"),
            (
                r#"{"enc":[{"offsets":[0,1,0,1],"values":[98]}]}"#,
                "offsets",
            ),
            (r#"{"enc":[{"offsets":[1,1],"values":[98]}]}"#, "offsets"),
            (r#"{"enc":[{"offsets":[0,1],"values":[255]}]}"#, "UTF-8"),
            (r#"{"enc":[{"offsets":[0,1],"values":[256]}]}"#, "byte 256"),
            (r#"{"enc":[{"type":15,"values":["a"]}]}"#, "numbers"),
            (r#"{"enc":{}}"#, "an array"),
        ] {
            let e = with_cats(cats).unwrap_err().to_string();
            assert!(e.contains(needle) && e.contains("cats/enc"), "{cats}: {e}");
        }
    }

    #[test]
    fn gbtree_2_1() {
        let gb = format!(
            r#"{{"name":"gbtree","model":{}}}"#,
            gbtree_model(
                &[stump(0, "-1E0", "1E0"), stump(1, "NaN", "-Infinity")],
                r#","iteration_indptr":[0,1,2]"#
            )
        );
        let m = read(&doc("[2,1,4]", "5E-1", "", &gb)).unwrap();
        assert_eq!(m.version, Version::new(2, 1, 4));
        assert_eq!((m.num_feature, m.num_class, m.num_target), (2, 0, 1));
        assert_eq!(m.base_score, vec![0.5]);
        assert!(!m.base_score_is_margin);
        assert_eq!(m.objective, "reg:squarederror");
        assert_eq!(m.booster_name, "gbtree");
        assert_eq!(m.feature_names, vec!["a", "b"]);
        assert_eq!(m.feature_types, vec!["q", "c"]);
        assert_eq!(m.attributes["best_iteration"], "1");
        let RawBooster::Trees {
            trees,
            tree_info,
            iteration_indptr,
            weight_drop,
            num_parallel_tree,
        } = &m.booster
        else {
            panic!()
        };
        assert_eq!(trees.len(), 2);
        assert_eq!(tree_info, &[0, 0]);
        assert_eq!(iteration_indptr.as_deref(), Some(&[0, 1, 2][..]));
        assert_eq!(*weight_drop, None);
        assert_eq!(*num_parallel_tree, 1);
        let t = &trees[1];
        assert_eq!(t.left, vec![1, -1, -1]);
        assert_eq!(t.split_index, vec![1, 0, 0]);
        assert!(t.split_condition[1].is_nan());
        assert_eq!(t.split_condition[2], f32::NEG_INFINITY);
        assert_eq!(t.default_left, vec![true, false, false]);
        assert_eq!(t.size_leaf_vector, 1);

        // The same document through UBJSON loads to the same model.
        let ubj = ubjson::encode(&json::parse(doc("[2,1,4]", "5E-1", "", &gb).as_bytes()).unwrap());
        let u = model_from_value(&ubjson::parse(&ubj).unwrap()).unwrap();
        assert_eq!(format!("{:?}", u.booster), format!("{:?}", m.booster));
    }

    #[test]
    fn one_zero_layout_without_optional_fields() {
        // 1.0: 6-decimal base_score, no feature names, no categorical fields or
        // split_type, size_leaf_vector "0", no num_parallel_tree.
        let tree = r#"{"id":0,"tree_param":{"num_feature":"2","num_nodes":"1","size_leaf_vector":"0"},
            "left_children":[-1],"right_children":[-1],"parents":[2147483647],"split_indices":[0],
            "split_conditions":[1.50000000000000000e+00],"default_left":[0],"base_weights":[1.5],
            "loss_changes":[0.0],"sum_hessian":[1.0],"leaf_child_counts":[0]}"#;
        let text = format!(
            r#"{{"version":[1,0,2],"learner":{{"attributes":{{}},
            "learner_model_param":{{"base_score":"0.500000","num_class":"0","num_feature":"2"}},
            "objective":{{"name":"binary:logistic","reg_loss_param":{{"scale_pos_weight":"1"}}}},
            "gradient_booster":{{"name":"gbtree","model":{{"gbtree_model_param":{{"num_trees":"1","size_leaf_vector":"0"}},
            "trees":[{tree}],"tree_info":[0]}}}}}}}}"#
        );
        let m = read(&text).unwrap();
        assert_eq!(m.base_score, vec![0.5]);
        assert!(m.feature_names.is_empty());
        let (trees, _) = trees_of(&m);
        assert_eq!(trees[0].split_condition, vec![1.5]);
        assert!(trees[0].split_type.is_empty() && trees[0].categories_nodes.is_empty());
        let RawBooster::Trees {
            num_parallel_tree,
            iteration_indptr,
            ..
        } = &m.booster
        else {
            panic!()
        };
        assert_eq!((*num_parallel_tree, iteration_indptr.is_none()), (1, true));
    }

    #[test]
    fn array_base_score_3_1() {
        for (s, want) in [
            ("[4.935E-1]", vec![0.4935]),
            ("[2.84E-1,4.555E-1,2.605E-1]", vec![0.284, 0.4555, 0.2605]),
            ("(1E0, -2E0)", vec![1.0, -2.0]),
            (" 5E-1 ", vec![0.5]),
            ("[1]", vec![1.0]),
        ] {
            assert_eq!(parse_base_score(s), Some(want), "{s}");
        }
        for bad in ["[]", "[1,]", "[1)", "abc", "inf", "+1", "[1 2]", ""] {
            assert_eq!(parse_base_score(bad), None, "{bad}");
        }
        // Straight to f32: the same decimal that double-rounds through f64.
        let tricky = "1.00000005960464477539062501";
        assert_eq!(
            parse_base_score(&format!("[{tricky}]")).unwrap()[0].to_bits(),
            0x3F80_0001
        );

        let gb = format!(
            r#"{{"name":"gbtree","model":{}}}"#,
            gbtree_model(&[stump(0, "-1E0", "1E0")], "")
        );
        let m = read(&doc(
            "[3,1,3]",
            "[2.84E-1,4.555E-1]",
            r#","num_target":"2""#,
            &gb,
        ))
        .unwrap();
        assert_eq!(m.base_score, vec![0.284, 0.4555]);
        assert_eq!(m.num_target, 2);
        let e = read(&doc("[3,1,3]", "[x]", "", &gb)).unwrap_err();
        assert_eq!(
            e.location().field.as_deref(),
            Some("learner/learner_model_param/base_score")
        );
    }

    #[test]
    fn dart_layouts() {
        let trees = [stump(0, "-1E0", "1E0"), stump(1, "-2E0", "2E0")];
        let model = gbtree_model(&trees, "");
        // 1.0–3.2
        let dart = format!(
            r#"{{"name":"dart","gbtree":{{"name":"gbtree","model":{model}}},"weight_drop":[1E0,5E-1]}}"#
        );
        // 3.3: gbtree with a sibling weight_drop
        let v33 = format!(r#"{{"name":"gbtree","model":{model},"weight_drop":[1E0,5E-1]}}"#);
        // 3.4: inside the model
        let v34 = format!(
            r#"{{"name":"gbtree","model":{}}}"#,
            gbtree_model(&trees, r#","weight_drop":[1E0,5E-1]"#)
        );
        for (gb, name) in [(dart, "dart"), (v33, "gbtree"), (v34, "gbtree")] {
            let m = read(&doc("[3,2,0]", "5E-1", "", &gb)).unwrap();
            assert_eq!(m.booster_name, name);
            let (trees, w) = trees_of(&m);
            assert_eq!(trees.len(), 2);
            assert_eq!(w, Some(&vec![1.0, 0.5]));
        }
        // DART without weights is malformed.
        let e = read(&doc(
            "[1,7,6]",
            "5E-1",
            "",
            &format!(r#"{{"name":"dart","gbtree":{{"model":{model}}}}}"#),
        ))
        .unwrap_err();
        assert_eq!(
            e.location().field.as_deref(),
            Some("learner/gradient_booster/weight_drop")
        );
        // Errors inside DART trees name the nested path.
        let bad = model.replacen("[1,-1,-1]", "[1,-1]", 1);
        let e = read(&doc(
            "[1,7,6]",
            "5E-1",
            "",
            &format!(r#"{{"name":"dart","gbtree":{{"model":{bad}}},"weight_drop":[1,1]}}"#),
        ))
        .unwrap_err();
        assert_eq!(
            e.location().field.as_deref(),
            Some("learner/gradient_booster/gbtree/model/trees/0/tree_param/num_nodes")
        );
        assert_eq!(e.location().tree, Some(0));
    }

    #[test]
    fn gblinear() {
        let gb = r#"{"name":"gblinear","model":{"weights":[1E0,2E0,5E-1],"boosted_rounds":3}}"#;
        let m = read(&doc("[1,7,6]", "5E-1", "", gb)).unwrap();
        assert_eq!(m.booster_name, "gblinear");
        match m.booster {
            RawBooster::Linear { weights } => assert_eq!(weights, vec![1.0, 2.0, 0.5]),
            _ => panic!(),
        }
        let e = read(&doc(
            "[1,7,6]",
            "5E-1",
            "",
            r#"{"name":"gblinear","model":{}}"#,
        ))
        .unwrap_err();
        assert_eq!(
            e.location().field.as_deref(),
            Some("learner/gradient_booster/model/weights")
        );
    }

    #[test]
    fn vector_leaf_layouts() {
        // 2.0–3.1: leaf vectors at node ids in base_weights (K = 2).
        let old = r#"{"id":0,"tree_param":{"num_nodes":"3","size_leaf_vector":"2","num_feature":"2"},
            "left_children":[1,-1,-1],"right_children":[2,-1,-1],"parents":[2147483647,0,0],
            "split_indices":[0,0,0],"split_conditions":[5E-1,NaN,NaN],"default_left":[0,0,0],
            "split_type":[0,0,0],"categories":[],"categories_nodes":[],"categories_segments":[],
            "categories_sizes":[],"base_weights":[0E0,0E0,1E0,2E0,3E0,4E0]}"#;
        // 3.2+: right_children of a leaf is its ordinal into leaf_weights.
        let new = r#"{"id":0,"tree_param":{"num_nodes":"3","size_leaf_vector":"2","num_feature":"2"},
            "left_children":[1,-1,-1],"right_children":[2,0,1],"parents":[2147483647,0,0],
            "split_indices":[0,0,0],"split_conditions":[5E-1,1E-45,1E-45],"default_left":[0,0,0],
            "split_type":[0,0,0],"categories":[],"categories_nodes":[],"categories_segments":[],
            "categories_sizes":[],"base_weights":[0E0,0E0,0E0],"leaf_weights":[1E0,2E0,3E0,4E0],
            "loss_changes":[1E0,0E0,0E0],"sum_hessian":[2E0,1E0,1E0]}"#;
        for (tree, version) in [(old, "[2,1,4]"), (new, "[3,2,0]")] {
            let gb = format!(
                r#"{{"name":"gbtree","model":{}}}"#,
                gbtree_model(&[tree.to_owned()], r#","iteration_indptr":[0,1]"#)
            );
            let text = doc(version, "[5E-1,5E-1]", r#","num_target":"2""#, &gb);
            let m = read(&text).unwrap();
            let (trees, _) = trees_of(&m);
            assert_eq!(trees[0].size_leaf_vector, 2);
            // And the whole pipeline accepts both.
            let fm = load_bytes(text.as_bytes(), &LoadOptions::default()).unwrap();
            assert_eq!(fm.forest.num_outputs(), 2);
        }
        let m = read(&doc(
            "[3,2,0]",
            "5E-1",
            r#","num_target":"2""#,
            &format!(
                r#"{{"name":"gbtree","model":{}}}"#,
                gbtree_model(&[new.to_owned()], "")
            ),
        ))
        .unwrap();
        assert_eq!(
            trees_of(&m).0[0].leaf_weights,
            Some(vec![1.0, 2.0, 3.0, 4.0])
        );
        assert_eq!(trees_of(&m).0[0].right, vec![2, 0, 1]);
    }

    #[test]
    fn categorical_fields() {
        let tree = r#"{"id":0,"tree_param":{"num_nodes":"3","size_leaf_vector":"1"},
            "left_children":[1,-1,-1],"right_children":[2,-1,-1],
            "split_indices":[1,0,0],"split_conditions":[0E0,-1E0,1E0],"default_left":[false,false,false],
            "split_type":[1,0,0],"categories":[0,3,7],"categories_nodes":[0],"categories_segments":[0],
            "categories_sizes":[3],"base_weights":[0E0,-1E0,1E0]}"#;
        let gb = format!(
            r#"{{"name":"gbtree","model":{}}}"#,
            gbtree_model(&[tree.to_owned()], "")
        );
        let m = read(&doc("[1,7,6]", "5E-1", "", &gb)).unwrap();
        let t = &trees_of(&m).0[0];
        assert_eq!(t.split_type, vec![1, 0, 0]);
        assert_eq!(t.categories, vec![0, 3, 7]);
        assert_eq!(t.categories_sizes, vec![3]);
        assert_eq!(t.default_left, vec![false; 3]);
        let bad = gb.replace(r#""split_type":[1,0,0]"#, r#""split_type":[2,0,0]"#);
        let e = read(&doc("[1,7,6]", "5E-1", "", &bad)).unwrap_err();
        assert_eq!(
            e.location().field.as_deref(),
            Some("learner/gradient_booster/model/trees/0/split_type")
        );
    }

    #[test]
    fn trees_are_placed_by_id() {
        let gb = format!(
            r#"{{"name":"gbtree","model":{}}}"#,
            gbtree_model(&[stump(1, "-2E0", "2E0"), stump(0, "-1E0", "1E0")], "")
        );
        let m = read(&doc("[1,3,3]", "5E-1", "", &gb)).unwrap();
        let (trees, _) = trees_of(&m);
        assert_eq!(trees[0].split_condition[1], -1.0);
        assert_eq!(trees[1].split_condition[1], -2.0);

        for (a, b, msg) in [
            (0, 0, "duplicate"),
            (0, 2, "not an index"),
            (0, 5, "not an index"),
        ] {
            let gb = format!(
                r#"{{"name":"gbtree","model":{}}}"#,
                gbtree_model(&[stump(a, "0", "0"), stump(b, "0", "0")], "")
            );
            let e = read(&doc("[1,3,3]", "5E-1", "", &gb)).unwrap_err();
            assert!(e.to_string().contains(msg), "{e}");
            assert_eq!(
                e.location().field.as_deref(),
                Some("learner/gradient_booster/model/trees/1/id")
            );
            assert_eq!(e.location().tree, Some(1));
        }
    }

    #[test]
    fn errors_name_the_field_and_tree() {
        let good = doc(
            "[2,1,4]",
            "5E-1",
            "",
            &format!(
                r#"{{"name":"gbtree","model":{}}}"#,
                gbtree_model(&[stump(0, "-1E0", "1E0"), stump(1, "-1E0", "1E0")], "")
            ),
        );
        let m = "learner/gradient_booster/model";
        let cases: Vec<(String, String, Option<usize>)> = vec![
            (
                replace_last(
                    &good,
                    r#""left_children":[1,-1,-1]"#,
                    r#""left_children":[1,-1,"x"]"#,
                ),
                format!("{m}/trees/1/left_children"),
                Some(1),
            ),
            (
                good.replacen(r#""default_left":[1,0,0]"#, r#""default_left":[1,0]"#, 1),
                format!("{m}/trees/0/default_left"),
                Some(0),
            ),
            (
                good.replacen(
                    r#""split_indices":[1,0,0]"#,
                    r#""split_indices":[-1,0,0]"#,
                    1,
                ),
                format!("{m}/trees/0/split_indices"),
                Some(0),
            ),
            (
                good.replacen(
                    r#""right_children":[2,-1,-1]"#,
                    r#""right_children":[4294967296,-1,-1]"#,
                    1,
                ),
                format!("{m}/trees/0/right_children"),
                Some(0),
            ),
            (
                good.replacen(
                    r#""split_conditions":[5E-1,"#,
                    r#""split_conditions":[true,"#,
                    1,
                ),
                format!("{m}/trees/0/split_conditions"),
                Some(0),
            ),
            (
                good.replace(r#""num_trees":"2""#, r#""num_trees":"3""#),
                format!("{m}/gbtree_model_param/num_trees"),
                None,
            ),
            (
                good.replace(r#""tree_info":[0,0]"#, r#""tree_info":[0]"#),
                format!("{m}/tree_info"),
                None,
            ),
            (
                good.replace(r#""num_feature":"2"}"#, r#""num_feature":"two"}"#),
                "learner/learner_model_param/num_feature".into(),
                None,
            ),
            (
                good.replace(r#""version":[2,1,4]"#, r#""version":[2,1]"#),
                "version".into(),
                None,
            ),
            (
                good.replace(r#""name":"gbtree""#, r#""name":"gbforest""#),
                "learner/gradient_booster/name".into(),
                None,
            ),
            (
                good.replace(r#""best_iteration":"1""#, r#""best_iteration":1"#),
                "learner/attributes/best_iteration".into(),
                None,
            ),
            (
                good.replace(
                    r#""objective":{"name":"reg:squarederror","#,
                    r#""objective":{"#,
                ),
                "learner/objective/name".into(),
                None,
            ),
        ];
        for (text, field, tree) in cases {
            let e = read(&text).unwrap_err();
            assert_eq!(e.location().field.as_deref(), Some(field.as_str()), "{e}");
            assert_eq!(e.location().tree, tree, "{e}");
        }
    }

    #[test]
    fn tolerated_variations() {
        // Missing/extra objective param blocks, null feature names, no tree_param,
        // no ids, integer thresholds, unknown keys.
        let tree = r#"{"left_children":[-1],"right_children":[-1],"split_indices":[0],
            "split_conditions":[2],"default_left":[0],"new_field":{"x":[1,2]}}"#;
        let text = format!(
            r#"{{"version":[1,3,3],"learner":{{"feature_names":null,
            "learner_model_param":{{"base_score":"5E-1","num_class":"0","num_feature":"1"}},
            "objective":{{"name":"reg:gamma"}},"future":[],
            "gradient_booster":{{"name":"gbtree","model":{{"trees":[{tree}],"tree_info":[0]}}}}}}}}"#
        );
        let m = read(&text).unwrap();
        assert!(m.attributes.is_empty() && m.feature_names.is_empty());
        assert_eq!(trees_of(&m).0[0].split_condition, vec![2.0]);
        assert_eq!(m.objective, "reg:gamma");
    }

    #[test]
    fn real_pipeline_on_the_crate_example_shape() {
        let gb = format!(
            r#"{{"name":"gbtree","model":{}}}"#,
            gbtree_model(&[stump(0, "-1E0", "1E0")], r#","iteration_indptr":[0,1]"#)
        );
        let text = doc("[2,1,4]", "5E-1", "", &gb);
        let m = load_bytes(text.as_bytes(), &LoadOptions::default()).unwrap();
        assert_eq!(m.info.booster, "gbtree");
        assert_eq!(m.info.best_iteration(), Some(1));
        let ubj = ubjson::encode(&json::parse(text.as_bytes()).unwrap());
        let u = load_bytes(&ubj, &LoadOptions::default()).unwrap();
        assert_eq!(u.info.format, crate::Format::Ubjson);
        assert_eq!(u.info.base_score, m.info.base_score);
    }

    fn sample_ubj() -> Vec<u8> {
        let gb = format!(
            r#"{{"name":"dart","gbtree":{{"model":{}}},"weight_drop":[1E0]}}"#,
            gbtree_model(&[stump(0, "-1E0", "1E0")], "")
        );
        ubjson::encode(&json::parse(doc("[2,1,4]", "[5E-1]", "", &gb).as_bytes()).unwrap())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn mutated_json_never_panics(
            edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        ) {
            let gb = format!(
                r#"{{"name":"gbtree","model":{}}}"#,
                gbtree_model(&[stump(0, "-1E0", "1E0"), stump(1, "NaN", "1E0")], "")
            );
            let mut bytes = doc("[2,1,4]", "5E-1", "", &gb).into_bytes();
            for (i, b) in edits {
                let i = i.index(bytes.len());
                bytes[i] = b;
            }
            if let Ok(v) = json::parse(&bytes) {
                let _ = model_from_value(&v);
            }
            let _ = load_as(&bytes, Format::Json, &LoadOptions::default());
        }

        #[test]
        fn mutated_ubjson_never_panics(
            edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        ) {
            let mut bytes = sample_ubj();
            for (i, b) in edits {
                let i = i.index(bytes.len());
                bytes[i] = b;
            }
            if let Ok(v) = ubjson::parse(&bytes) {
                let _ = model_from_value(&v);
            }
            let _ = load_as(&bytes, Format::Ubjson, &LoadOptions::default());
        }

        #[test]
        fn truncated_ubjson_is_an_error(cut in any::<prop::sample::Index>()) {
            let bytes = sample_ubj();
            prop_assert!(model_from_value(&ubjson::parse(&bytes).unwrap()).is_ok());
            let cut = cut.index(bytes.len());
            prop_assert!(ubjson::parse(&bytes[..cut]).is_err());
        }
    }
}
