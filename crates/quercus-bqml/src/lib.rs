//! # quercus-bqml
//!
//! BigQuery ML `EXPORT MODEL` directories as local, in-process models.
//!
//! A boosted-tree or random-forest model exported from BigQuery ML
//! (`BOOSTED_TREE_CLASSIFIER`/`REGRESSOR`, `RANDOM_FOREST_CLASSIFIER`/`REGRESSOR`,
//! `boosted_tree_cox`, `boosted_tree_aft`) is a directory:
//!
//! ```text
//! model.bst                      XGBoost legacy binary (0.82 writer, or `binf` + 1.5)
//! assets/model_metadata.json     model type, label column, class names, features
//! assets/N_<encoding>.txt        vocabularies and dimensions, N = feature index
//! ```
//!
//! [`BqmlModel::open`] reads all of it once, checks that it is consistent (every
//! vocabulary file belongs to a feature, the encoded width is at most the
//! booster's feature count) and builds a feature encoder backed by hash maps.
//! When `model.bst` declares more features than the assets encode, the
//! features past the encoded columns read as missing, as they do in the
//! predictor (its XGBoost `DMatrix` is exactly as wide as the encoding):
//! [`BqmlModel::width_note`] says so.
//! [`BqmlModel::predict_instances`] takes the instances Vertex AI would send —
//! JSON objects keyed by column name, STRUCT fields flattened to
//! `<struct>_<field>` — encodes them straight into the engine's `f32` matrix and
//! returns what Google's exported predictor (`bigquery_ml_utils`'
//! `xgboost_predictor.Predictor`) returns: for classifiers
//! `{"predicted_<label>": ..., "<label>_values": [...], "<label>_probs": [...]}`,
//! for regressors and survival models a number. [`OutputFormat::BigQuery`]
//! gives BigQuery's `ML.PREDICT` shape instead.
//!
//! The encoding follows the exported predictor to the letter, including its
//! Python-isms: vocabulary look-ups use Python's `str()` of the value (`1.0`
//! is `"1.0"`, `true` is `"True"`), an unseen category or an unset one-hot slot
//! is a *missing* value (not 0), an empty string in a numeric column takes the
//! stored mean, and an instance with a missing or an extra column is rejected.
//! Which file a feature uses is decided by the file names, with the predictor's
//! precedence (one-hot, target, label, legacy `N.txt`, array one-hot, legacy
//! `N_array.txt`, array target, `ARRAY<STRUCT>` dimension, `ARRAY<numeric>` length).
//!
//! Predictions use every tree (the predictor ignores `best_iteration`) and
//! current XGBoost's arithmetic ([`Compat::Current`], the default): the
//! predictor runs XGBoost 3.0. On every fixture under `models/bqml/` the
//! outputs are bit-identical to the predictor's.
//!
//! ## Where Quercus is stricter or differs
//!
//! * An export the predictor would only fail on at request time fails at load
//!   time: an invalid `model_type` or `encode_type`, a missing vocabulary file
//!   for a declared encoding, a malformed target or dimension file, an encoded
//!   width larger than the booster's feature count.
//! * Exports the predictor silently accepts are refused: a vocabulary file for
//!   a feature index that does not exist, two different files of one kind for
//!   one feature (the predictor would pick one by directory order), class
//!   names that do not match the booster's classes, a non-UTF-8 vocabulary.
//! * File names are matched on the name only; the predictor searches its
//!   patterns in the whole path, so a directory name such as `run2_txt` can
//!   change which files it reads.
//! * JSON cannot tell Python's `-0` (an int) from `-0.0`, or keep integers
//!   beyond 64 bits exact, so such values used as *categories* are looked up
//!   as `-0.0` / a float. A number beyond `float64`'s range (`1e400`, a
//!   400-digit integer) is invalid JSON here; the predictor raises for it in a
//!   numeric column but looks it up (as `inf`, or its digits) in a categorical
//!   one.
//!
//! ## Wrong-typed values
//!
//! There is no type check in the predictor, only Python: a value of the wrong
//! JSON type does what Python does with it, and so it does here (the tests in
//! `tests/hostile.rs` hold Google's outputs for every JSON type in every
//! encoding). Categories are looked up by `str()` (an array `["a"]` as
//! `"['a']"`, usually missing); numbers go through `float()` (booleans are 0
//! and 1, `" 3 "`, `"1_000"` and Unicode digits parse, `"nan"` is missing,
//! `null`, arrays and objects are errors); ARRAY columns iterate their value
//! (a string's characters, an object's keys; a number or `null` is an error);
//! a value that is infinite in `float32` is an error. Where the predictor
//! raises, the error is an input error naming the instance and the column.
//! When several values are bad, the one reported is the one the predictor
//! reports: encoding errors first (in instance, then column order), then
//! `ARRAY<STRUCT>` values NumPy cannot convert, then values infinite in
//! `float32`.
//!
//! ## Example
//!
//! ```
//! use quercus_bqml::{BqmlModel, BqmlOptions, LoadOptions};
//! use serde_json::json;
//!
//! let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../models/bqml/boosted_tree_classifier_model");
//! let model = BqmlModel::open(dir, &LoadOptions::default())?;
//! assert_eq!(model.label_column(), "label");
//!
//! let instances = [json!({"f1": "b", "f2": ["a", "b", "a"], "f3": 25.80013})];
//! let out = model.predict_instances(&instances, &BqmlOptions::default())?;
//! assert_eq!(out[0]["predicted_label"], "2");
//! assert_eq!(out[0]["label_values"], json!(["3", "2", "1"]));
//! let probs = out[0]["label_probs"].as_array().unwrap();
//! assert!((probs[1].as_f64().unwrap() - 0.5752021670341492).abs() < 1e-6);
//!
//! // A missing column is an error that names it and the instance.
//! let err = model
//!     .predict_instances(&[json!({"f2": [], "f3": 1})], &BqmlOptions::default())
//!     .unwrap_err();
//! assert!(err.to_string().contains("missing feature(s) f1"), "{err}");
//! # Ok::<(), quercus_core::Error>(())
//! ```
#![deny(missing_docs)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use quercus_core::{Error, ErrorKind, FeatureMatrix, Forest, Objective, PredictOptions, Result};
use serde_json::{Map, Value};

mod assets;
mod encoder;
mod pystr;

use assets::{AssetContent, AssetKind};
use encoder::{Enc, Encoder, FeatureEnc, Scratch};

pub use quercus_xgboost::{Compat, LoadOptions, ModelInfo};

/// Batches below this many instances are encoded on the calling thread.
const PARALLEL_MIN_INSTANCES: usize = 2048;

/// The `model_type` of an export.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModelType {
    /// `boosted_tree_regressor`.
    BoostedTreeRegressor,
    /// `boosted_tree_classifier`.
    BoostedTreeClassifier,
    /// `random_forest_regressor`.
    RandomForestRegressor,
    /// `random_forest_classifier`.
    RandomForestClassifier,
    /// `boosted_tree_cox` (survival, `survival:cox`).
    BoostedTreeCox,
    /// `boosted_tree_aft` (survival, `survival:aft`).
    BoostedTreeAft,
}

impl ModelType {
    /// Parses the metadata's `model_type`.
    pub fn from_name(name: &str) -> Option<ModelType> {
        Some(match name {
            "boosted_tree_regressor" => ModelType::BoostedTreeRegressor,
            "boosted_tree_classifier" => ModelType::BoostedTreeClassifier,
            "random_forest_regressor" => ModelType::RandomForestRegressor,
            "random_forest_classifier" => ModelType::RandomForestClassifier,
            "boosted_tree_cox" => ModelType::BoostedTreeCox,
            "boosted_tree_aft" => ModelType::BoostedTreeAft,
            _ => return None,
        })
    }

    /// The metadata spelling, e.g. `boosted_tree_classifier`.
    pub fn name(&self) -> &'static str {
        match self {
            ModelType::BoostedTreeRegressor => "boosted_tree_regressor",
            ModelType::BoostedTreeClassifier => "boosted_tree_classifier",
            ModelType::RandomForestRegressor => "random_forest_regressor",
            ModelType::RandomForestClassifier => "random_forest_classifier",
            ModelType::BoostedTreeCox => "boosted_tree_cox",
            ModelType::BoostedTreeAft => "boosted_tree_aft",
        }
    }

    /// Whether predictions are class probabilities.
    pub fn is_classifier(&self) -> bool {
        matches!(
            self,
            ModelType::BoostedTreeClassifier | ModelType::RandomForestClassifier
        )
    }
}

/// How a feature is encoded: decided, as in the exported predictor, by which
/// vocabulary file exists for its index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    /// A number (one column); an empty string takes the stored mean.
    Numeric,
    /// One-hot over a vocabulary (`N_categorical_one_hot.txt`).
    CategoricalOneHot,
    /// Target encoding (`N_categorical_target.txt`), one column per class.
    CategoricalTarget,
    /// Label (ordinal) encoding (`N_categorical_label.txt`, legacy `N.txt`).
    CategoricalLabel,
    /// Multi-hot over a vocabulary for ARRAY columns (`N_array_one_hot.txt`,
    /// legacy `N_array.txt`).
    ArrayOneHot,
    /// Mean target encoding of ARRAY items (`N_array_target.txt`).
    ArrayTarget,
    /// `ARRAY<STRUCT<INT64, FLOAT64>>` as a sparse vector (`N_array_struct_dimension.txt`).
    ArrayStruct,
    /// `ARRAY<numeric>` of fixed length (`N_array_numerical_length.txt`).
    ArrayNumerical,
}

impl Encoding {
    /// The `encode_type` spelling (`numerical_identity` for numbers).
    pub fn name(&self) -> &'static str {
        match self {
            Encoding::Numeric => "numerical_identity",
            Encoding::CategoricalOneHot => "categorical_one_hot",
            Encoding::CategoricalTarget => "categorical_target",
            Encoding::CategoricalLabel => "categorical_label",
            Encoding::ArrayOneHot => "array_one_hot",
            Encoding::ArrayTarget => "array_target",
            Encoding::ArrayStruct => "array_struct",
            Encoding::ArrayNumerical => "array_numerical",
        }
    }
}

fn encoding_of(kind: AssetKind) -> Encoding {
    match kind {
        AssetKind::CategoricalOneHot => Encoding::CategoricalOneHot,
        AssetKind::CategoricalTarget => Encoding::CategoricalTarget,
        AssetKind::CategoricalLabel => Encoding::CategoricalLabel,
        AssetKind::ArrayOneHot => Encoding::ArrayOneHot,
        AssetKind::ArrayTarget => Encoding::ArrayTarget,
        AssetKind::ArrayStruct => Encoding::ArrayStruct,
        AssetKind::ArrayNumerical => Encoding::ArrayNumerical,
    }
}

/// One input column of the export, as `quercus inspect` shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct FeatureInfo {
    /// Column name (STRUCT fields are `<struct>_<field>`).
    pub name: String,
    /// How instances are encoded.
    pub encoding: Encoding,
    /// The metadata's `encode_type`, if any (`ohe` and `mhe` are legacy names).
    pub encode_type: Option<String>,
    /// The engine columns this feature fills (`start..end`).
    pub columns: std::ops::Range<usize>,
    /// Vocabulary entries (lines, including `_null_filler`) or target-encoded
    /// values; `None` for numeric, `ARRAY<STRUCT>` and `ARRAY<numeric>` features.
    pub vocabulary_size: Option<usize>,
    /// The stored mean that replaces an empty string (numeric features).
    pub mean: Option<f64>,
    /// The asset file used, relative to the export directory.
    pub asset: Option<PathBuf>,
    /// Other asset files for this feature's index, which the predictor reads
    /// but never uses: a file of a kind it dispatches on first wins (for
    /// example `1_categorical_label.txt` over `1_array_one_hot.txt`), whatever
    /// the metadata's `encode_type` says.
    pub unused_assets: Vec<PathBuf>,
}

/// The shape of the predictions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OutputFormat {
    /// What Google's exported predictor (and so a Vertex AI endpoint serving the
    /// export) returns: classifiers `{"predicted_<label>": class,
    /// "<label>_values": [classes], "<label>_probs": [probabilities]}`,
    /// regressors and survival models a bare number.
    #[default]
    Vertex,
    /// BigQuery's `ML.PREDICT` columns: `{"predicted_<label>": class,
    /// "predicted_<label>_probs": [{"label": class, "prob": p}, ...]}` for
    /// classifiers, `{"predicted_<label>": value}` otherwise.
    BigQuery,
}

/// Options for [`BqmlModel::predict_instances`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BqmlOptions {
    /// The output shape.
    pub format: OutputFormat,
    /// Threads for the engine (see [`PredictOptions::n_threads`]).
    pub n_threads: Option<usize>,
}

/// A loaded BigQuery ML export: the booster, the encoder and the output schema.
/// Immutable and `Send + Sync`.
#[derive(Clone, Debug)]
pub struct BqmlModel {
    dir: PathBuf,
    forest: Forest,
    info: ModelInfo,
    model_type: ModelType,
    label: String,
    class_names: Vec<Value>,
    features: Vec<FeatureInfo>,
    encoder: Encoder,
    /// Output keys, formatted once.
    keys: OutputKeys,
}

#[derive(Clone, Debug)]
struct OutputKeys {
    predicted: String,
    values: String,
    probs: String,
    predicted_probs: String,
}

/// Context for metadata errors.
fn meta_err(path: &Path, field: &str, msg: impl Into<String>) -> Error {
    let e = Error::invalid_model(msg.into());
    let e = if field.is_empty() {
        e
    } else {
        e.with_field(field)
    };
    e.with_path(path)
}

/// Python truthiness of a JSON value.
fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(m) => !m.is_empty(),
    }
}

impl BqmlModel {
    /// Opens an export directory: `model.bst`, `assets/model_metadata.json` and
    /// the vocabulary files. Every error names the file at fault.
    pub fn open(dir: impl AsRef<Path>, opts: &LoadOptions) -> Result<BqmlModel> {
        let dir = dir.as_ref();
        let assets_dir = dir.join("assets");
        let meta_path = assets_dir.join("model_metadata.json");
        let bst_path = dir.join("model.bst");

        if !bst_path.exists() && !meta_path.exists() {
            return Err(Error::new(ErrorKind::UnknownFormat(
                "a directory, but not a BigQuery ML export: it has neither model.bst nor \
                 assets/model_metadata.json"
                    .into(),
            ))
            .with_path(dir));
        }
        let meta_bytes = quercus_xgboost::read_file(&meta_path, opts.max_bytes)?;
        let meta: Value = serde_json::from_slice(&meta_bytes).map_err(|e| {
            Error::format(format!("model_metadata.json is not valid JSON: {e}"))
                .with_path(&meta_path)
        })?;
        let Value::Object(meta) = meta else {
            return Err(meta_err(
                &meta_path,
                "",
                "the metadata is not a JSON object",
            ));
        };

        let xgb = quercus_xgboost::load_path(&bst_path, opts)?;
        let found = assets::discover(&assets_dir)?;
        Self::build(dir, &meta_path, &bst_path, &meta, xgb, found)
    }

    fn build(
        dir: &Path,
        meta_path: &Path,
        bst_path: &Path,
        meta: &Map<String, Value>,
        xgb: quercus_xgboost::XgbModel,
        found: HashMap<(usize, AssetKind), assets::Asset>,
    ) -> Result<BqmlModel> {
        // `_extract_model_metadata`, checked once here instead of per request.
        let model_type = meta
            .get("model_type")
            .and_then(Value::as_str)
            .and_then(ModelType::from_name)
            .ok_or_else(|| {
                meta_err(
                    meta_path,
                    "model_type",
                    format!(
                        "invalid model_type {}: expected one of boosted_tree_regressor, \
                         boosted_tree_classifier, random_forest_regressor, \
                         random_forest_classifier, boosted_tree_cox, boosted_tree_aft",
                        meta.get("model_type")
                            .map_or("(absent)".into(), Value::to_string)
                    ),
                )
            })?;
        let label = match meta.get("label_col") {
            None => return Err(meta_err(meta_path, "label_col", "label_col not found")),
            Some(v) => {
                let mut s = String::new();
                pystr::push_str(v, &mut s);
                s
            }
        };
        let features_meta = match meta.get("features") {
            Some(Value::Object(m)) if !m.is_empty() => m,
            Some(v) if truthy(v) => {
                return Err(meta_err(
                    meta_path,
                    "features",
                    "features is not a JSON object",
                ));
            }
            _ => return Err(meta_err(meta_path, "features", "no feature found")),
        };
        let names: Vec<String> = match meta.get("feature_names") {
            Some(Value::Array(a)) => a
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    v.as_str().map(str::to_string).ok_or_else(|| {
                        meta_err(
                            meta_path,
                            &format!("feature_names/{i}"),
                            format!("feature name {v} is not a string"),
                        )
                    })
                })
                .collect::<Result<_>>()?,
            _ => {
                return Err(meta_err(
                    meta_path,
                    "feature_names",
                    "feature_names (a list of column names) not found",
                ));
            }
        };
        let class_names: Vec<Value> = if model_type.is_classifier() {
            match meta.get("class_names") {
                Some(Value::Array(a)) if !a.is_empty() => a.clone(),
                _ => {
                    return Err(meta_err(
                        meta_path,
                        "class_names",
                        "no class_names found (a classifier needs them)",
                    ));
                }
            }
        } else {
            Vec::new()
        };

        // Every asset file must belong to a feature.
        let mut by_index: HashMap<usize, Vec<&assets::Asset>> = HashMap::new();
        for ((index, _), asset) in &found {
            if *index >= names.len() {
                let idx = asset
                    .path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                return Err(Error::invalid_model(format!(
                    "vocabulary file {idx} is for feature index {} but the model has {} \
                     features (indices 0..{})",
                    if *index == usize::MAX {
                        "(too large)".to_string()
                    } else {
                        index.to_string()
                    },
                    names.len(),
                    names.len().saturating_sub(1)
                ))
                .with_path(&asset.path));
            }
            by_index.entry(*index).or_default().push(asset);
        }

        let mut by_name = HashMap::with_capacity(names.len());
        let mut infos = Vec::with_capacity(names.len());
        let mut encs = Vec::with_capacity(names.len());
        let mut offset = 0usize;
        for (i, name) in names.iter().enumerate() {
            let field = format!("features/{name}");
            if by_name.insert(name.clone(), i).is_some() {
                return Err(meta_err(
                    meta_path,
                    "feature_names",
                    format!("feature `{name}` is listed twice"),
                ));
            }
            let fmeta = match features_meta.get(name) {
                Some(Value::Object(m)) => m,
                Some(_) => return Err(meta_err(meta_path, &field, "not a JSON object")),
                None => {
                    return Err(meta_err(
                        meta_path,
                        "features",
                        format!("feature `{name}` (from feature_names) has no entry in features"),
                    ));
                }
            };
            // The file with the highest precedence decides the encoding.
            let mut mine = by_index.remove(&i).unwrap_or_default();
            mine.sort_by_key(|a| a.kind);
            let chosen = mine.first().copied();

            let encode_type = fmeta.get("encode_type");
            if !fmeta.contains_key("mean") {
                check_encode_type(meta_path, &field, name, encode_type, &mine, &found)?;
            }
            let mean = match fmeta.get("mean") {
                None => None,
                Some(Value::Null) => Some(f64::NAN),
                Some(Value::Number(n)) => n.as_f64(),
                Some(Value::Bool(b)) => Some(f64::from(u8::from(*b))),
                Some(v) => {
                    return Err(meta_err(
                        meta_path,
                        &format!("{field}/mean"),
                        format!("mean {v} is not a number"),
                    ));
                }
            };

            let (enc, width, vocab_size) = match chosen {
                None => (
                    Enc::Numeric {
                        empty: mean.unwrap_or(0.0),
                    },
                    1,
                    None,
                ),
                Some(asset) => build_enc(asset)?,
            };
            let start = offset;
            offset = offset.checked_add(width).ok_or_else(|| {
                Error::invalid_model("the encoded width overflows").with_path(meta_path)
            })?;
            let relative = |a: &assets::Asset| {
                a.path
                    .strip_prefix(dir)
                    .map(Path::to_path_buf)
                    .unwrap_or_else(|_| a.path.clone())
            };
            infos.push(FeatureInfo {
                name: name.clone(),
                encoding: chosen.map_or(Encoding::Numeric, |a| encoding_of(a.kind)),
                encode_type: encode_type.map(|v| match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                }),
                columns: start..offset,
                vocabulary_size: vocab_size,
                mean,
                asset: chosen.map(relative),
                unused_assets: mine.iter().skip(1).map(|a| relative(a)).collect(),
            });
            encs.push(FeatureEnc {
                name: name.clone(),
                offset: start,
                width,
                enc,
            });
        }

        let forest = xgb.forest;
        // The predictor hands XGBoost a dense matrix exactly as wide as the
        // encoding. XGBoost accepts one narrower than the booster (the
        // trailing features are missing) and refuses a wider one on every
        // predict: so must we, the latter at load.
        if offset > forest.num_features() {
            let widths: Vec<String> = infos
                .iter()
                .map(|f| format!("{} {}", f.name, f.columns.len()))
                .collect();
            return Err(Error::invalid_model(format!(
                "model.bst has {} features but assets/model_metadata.json and the vocabulary \
                 files describe {offset} encoded columns ({}); the exported predictor fails \
                 every prediction of such an export (XGBoost refuses more columns than the \
                 booster's features)",
                forest.num_features(),
                widths.join(", ")
            ))
            .with_path(bst_path));
        }
        if model_type.is_classifier() {
            if *forest.objective() != Objective::Softprob {
                return Err(Error::unsupported(format!(
                    "a {} needs a multi:softprob booster, model.bst has {}",
                    model_type.name(),
                    forest.objective().name()
                ))
                .with_path(bst_path));
            }
            if forest.num_outputs() != class_names.len() {
                return Err(Error::invalid_model(format!(
                    "model.bst has {} classes but class_names in assets/model_metadata.json \
                     lists {}",
                    forest.num_outputs(),
                    class_names.len()
                ))
                .with_path(bst_path));
            }
        } else if forest.num_outputs() != 1 || *forest.objective() == Objective::Softmax {
            return Err(Error::invalid_model(format!(
                "a {} needs a booster with one output, model.bst has {} ({})",
                model_type.name(),
                forest.num_outputs(),
                forest.objective().name()
            ))
            .with_path(bst_path));
        }

        let keys = OutputKeys {
            predicted: format!("predicted_{label}"),
            values: format!("{label}_values"),
            probs: format!("{label}_probs"),
            predicted_probs: format!("predicted_{label}_probs"),
        };
        Ok(BqmlModel {
            dir: dir.to_path_buf(),
            forest,
            info: xgb.info,
            model_type,
            label,
            class_names,
            features: infos,
            encoder: Encoder {
                features: encs,
                by_name,
                width: offset,
            },
            keys,
        })
    }

    /// Encodes instances into a row-major `f32` matrix of
    /// [`num_columns`](Self::num_columns) columns (NaN = missing), exactly as the
    /// exported predictor feeds XGBoost. Errors name the instance (row) and the
    /// feature.
    pub fn encode_instances(&self, instances: &[Value]) -> Result<Vec<f32>> {
        self.encode_with_threads(instances, 1)
    }

    /// [`encode_instances`](Self::encode_instances) on up to `threads` threads
    /// for large batches. The error reported is the first instance's, as when
    /// encoding in order.
    fn encode_with_threads(&self, instances: &[Value], threads: usize) -> Result<Vec<f32>> {
        let width = self.encoder.width;
        let len = instances
            .len()
            .checked_mul(width)
            .ok_or_else(|| Error::input("too many instances"))?;
        let mut data = vec![f32::NAN; len];
        let threads = threads.clamp(
            1,
            instances.len().div_ceil(PARALLEL_MIN_INSTANCES / 2).max(1),
        );
        if threads <= 1 || instances.len() < PARALLEL_MIN_INSTANCES || width == 0 {
            self.encode_into(instances, &mut data, 0)?.into_result()?;
            return Ok(data);
        }
        let per = instances.len().div_ceil(threads);
        let results: Vec<Result<encoder::Deferred>> = std::thread::scope(|s| {
            let handles: Vec<_> = instances
                .chunks(per)
                .zip(data.chunks_mut(per * width))
                .enumerate()
                .map(|(i, (chunk, out))| s.spawn(move || self.encode_into(chunk, out, i * per)))
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err(Error::input("an encoding thread panicked")))
                })
                .collect()
        });
        // An encoding error of any instance comes before the deferred ones.
        let mut deferred = encoder::Deferred::default();
        for r in results {
            deferred.merge(r?);
        }
        deferred.into_result()?;
        Ok(data)
    }

    /// Encodes `instances` (whose first one is instance number `first`) into
    /// `out`. Returns the first encoding error, else the errors the predictor
    /// raises only after encoding every instance.
    fn encode_into(
        &self,
        instances: &[Value],
        out: &mut [f32],
        first: usize,
    ) -> Result<encoder::Deferred> {
        let width = self.encoder.width;
        let mut scratch = Scratch::default();
        for (i, inst) in instances.iter().enumerate() {
            let row = if width == 0 {
                &mut []
            } else {
                &mut out[i * width..(i + 1) * width]
            };
            scratch.row = first + i;
            self.encoder
                .encode(inst, row, &mut scratch)
                .map_err(|e| e.with_row(first + i))?;
        }
        Ok(scratch.deferred)
    }

    /// Predicts JSON instances (objects keyed by column name, as Vertex AI sends
    /// them) and returns one JSON prediction per instance, in the exported
    /// predictor's format or BigQuery's (see [`OutputFormat`]). Probabilities and
    /// values are the engine's `f32` results widened to `f64`, as the predictor's
    /// `tolist()` gives them. Any invalid instance fails the whole call, with an
    /// error naming the instance index (row) and the feature.
    pub fn predict_instances(&self, instances: &[Value], opts: &BqmlOptions) -> Result<Vec<Value>> {
        // Small batches stay on the calling thread (as the engine would too):
        // asking the system for its parallelism costs more than predicting one
        // instance.
        let threads = match opts.n_threads {
            Some(n) => n,
            None if instances.len() < PARALLEL_MIN_INSTANCES => 1,
            None => quercus_core::default_threads(),
        };
        let data = self.encode_with_threads(instances, threads)?;
        let x = FeatureMatrix::row_major(&data, instances.len(), self.encoder.width)?;
        let preds =
            self.predict_encoded(&x, &PredictOptions::default().with_threads(Some(threads)))?;
        let width = preds.width().max(1);
        let k = &self.keys;
        let out = preds
            .data
            .chunks(width)
            .take(instances.len())
            .map(|row| self.format_row(row, opts.format, k))
            .collect();
        Ok(out)
    }

    /// Predicts rows of encoded columns ([`num_columns`](Self::num_columns)
    /// wide, as [`encode_instances`](Self::encode_instances) makes them): the
    /// booster's raw outputs, with `opts` applied. When `model.bst` declares
    /// more features than the assets encode, the features past the encoded
    /// columns are missing, as in the exported predictor's XGBoost call.
    pub fn predict_encoded(
        &self,
        x: &FeatureMatrix<'_>,
        opts: &PredictOptions,
    ) -> Result<quercus_core::Predictions> {
        if x.cols() != self.encoder.width {
            return Err(Error::new(ErrorKind::FeatureCount {
                expected: self.encoder.width,
                found: x.cols(),
            }));
        }
        if self.encoder.width == self.forest.num_features() {
            self.forest.predict(x, opts)
        } else {
            self.forest.predict_leading(x, opts)
        }
    }

    fn format_row(&self, row: &[f32], format: OutputFormat, k: &OutputKeys) -> Value {
        let num =
            |v: f32| serde_json::Number::from_f64(f64::from(v)).map_or(Value::Null, Value::Number);
        if !self.model_type.is_classifier() {
            let v = num(row.first().copied().unwrap_or(f32::NAN));
            return match format {
                OutputFormat::Vertex => v,
                OutputFormat::BigQuery => {
                    let mut m = Map::with_capacity(1);
                    m.insert(k.predicted.clone(), v);
                    Value::Object(m)
                }
            };
        }
        let best = quercus_core::objective::argmax_first(row);
        let predicted = self.class_names.get(best).cloned().unwrap_or(Value::Null);
        let mut m = Map::with_capacity(3);
        match format {
            OutputFormat::Vertex => {
                m.insert(k.predicted.clone(), predicted);
                m.insert(k.values.clone(), Value::Array(self.class_names.clone()));
                m.insert(k.probs.clone(), row.iter().map(|&p| num(p)).collect());
            }
            OutputFormat::BigQuery => {
                m.insert(k.predicted.clone(), predicted);
                let probs = self
                    .class_names
                    .iter()
                    .zip(row)
                    .map(|(c, &p)| {
                        let mut e = Map::with_capacity(2);
                        e.insert("label".to_string(), c.clone());
                        e.insert("prob".to_string(), num(p));
                        Value::Object(e)
                    })
                    .collect();
                m.insert(k.predicted_probs.clone(), Value::Array(probs));
            }
        }
        Value::Object(m)
    }

    /// The export directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The booster, as the engine sees it (its inputs are the encoded columns).
    pub fn forest(&self) -> &Forest {
        &self.forest
    }

    /// What `model.bst` says about itself (format, writer version, objective...).
    pub fn info(&self) -> &ModelInfo {
        &self.info
    }

    /// The metadata's `model_type`.
    pub fn model_type(&self) -> ModelType {
        self.model_type
    }

    /// The label column (`label_col`), which names the outputs.
    pub fn label_column(&self) -> &str {
        &self.label
    }

    /// The class labels of a classifier, in output order (empty otherwise).
    pub fn class_names(&self) -> &[Value] {
        &self.class_names
    }

    /// The input columns, in the order of the encoded blocks.
    pub fn features(&self) -> &[FeatureInfo] {
        &self.features
    }

    /// Number of encoded columns: the width of the rows the exported predictor
    /// gives XGBoost. It is at most [`declared_features`](Self::declared_features),
    /// usually equal.
    pub fn num_columns(&self) -> usize {
        self.encoder.width
    }

    /// The number of features `model.bst` declares (`num_feature`). When it
    /// exceeds [`num_columns`](Self::num_columns), the features from
    /// `num_columns()` on are never encoded and always read as missing.
    pub fn declared_features(&self) -> usize {
        self.forest.num_features()
    }

    /// A note when `model.bst` declares more features than the assets encode,
    /// e.g. "model.bst declares 7 features; the assets encode 6; features
    /// 6.. read as missing"; `None` when the counts agree.
    pub fn width_note(&self) -> Option<String> {
        let (declared, encoded) = (self.declared_features(), self.num_columns());
        (declared > encoded).then(|| {
            format!(
                "model.bst declares {declared} features; the assets encode {encoded}; \
                 features {encoded}.. read as missing"
            )
        })
    }
}

/// `_extract_model_metadata`'s check that a declared `encode_type` has its
/// vocabulary file.
fn check_encode_type(
    meta_path: &Path,
    field: &str,
    name: &str,
    encode_type: Option<&Value>,
    mine: &[&assets::Asset],
    all: &HashMap<(usize, AssetKind), assets::Asset>,
) -> Result<()> {
    let Some(et) = encode_type.filter(|v| truthy(v)) else {
        return Ok(());
    };
    let has = |k: AssetKind| mine.iter().any(|a| a.kind == k);
    let any_of_kind = |k: AssetKind| all.keys().any(|(_, kind)| *kind == k);
    let (ok, need) = match et.as_str() {
        Some("numerical_identity") => (true, ""),
        Some("categorical_one_hot") => (
            has(AssetKind::CategoricalOneHot),
            "N_categorical_one_hot.txt",
        ),
        Some("categorical_target") => (
            has(AssetKind::CategoricalTarget),
            "N_categorical_target.txt",
        ),
        Some("categorical_label" | "ohe") => (
            has(AssetKind::CategoricalLabel),
            "N_categorical_label.txt (or N.txt)",
        ),
        Some("array_one_hot" | "mhe") => (
            has(AssetKind::ArrayOneHot),
            "N_array_one_hot.txt (or N_array.txt)",
        ),
        Some("array_target") => (has(AssetKind::ArrayTarget), "N_array_target.txt"),
        // The predictor only requires these when the export has any such file.
        Some("array_struct") => (
            has(AssetKind::ArrayStruct) || !any_of_kind(AssetKind::ArrayStruct),
            "N_array_struct_dimension.txt",
        ),
        Some("array_numerical") => (
            has(AssetKind::ArrayNumerical) || !any_of_kind(AssetKind::ArrayNumerical),
            "N_array_numerical_length.txt",
        ),
        _ => {
            return Err(meta_err(
                meta_path,
                &format!("{field}/encode_type"),
                format!("invalid encode_type {et} for feature `{name}`"),
            ));
        }
    };
    if ok {
        Ok(())
    } else {
        Err(meta_err(
            meta_path,
            &format!("{field}/encode_type"),
            format!(
                "feature `{name}` has encode_type {et} but assets/ has no {need} for it \
                 (N = its index in feature_names)"
            ),
        ))
    }
}

/// Builds the encoder of one feature from its asset: (encoder, width, vocabulary size).
fn build_enc(asset: &assets::Asset) -> Result<(Enc, usize, Option<usize>)> {
    Ok(match (&asset.content, asset.kind) {
        (AssetContent::Lines(lines), AssetKind::CategoricalOneHot) => (
            Enc::CatOneHot {
                index: Enc::first_index(lines),
            },
            lines.len(),
            Some(lines.len()),
        ),
        (AssetContent::Lines(lines), AssetKind::ArrayOneHot) => (
            Enc::ArrOneHot {
                index: Enc::first_index(lines),
            },
            lines.len(),
            Some(lines.len()),
        ),
        (AssetContent::Lines(lines), _) => {
            let index = Enc::first_index(lines)
                .into_iter()
                .map(|(k, i)| (k, i as f32))
                .collect();
            (Enc::CatLabel { index }, 1, Some(lines.len()))
        }
        (AssetContent::Targets(rows), kind) => {
            // Python's `len(list(vocab.values())[0])`; every row has it (checked).
            let width = rows.first().map_or(0, |r| r.1.len());
            let mut map: HashMap<String, Vec<f64>> = HashMap::with_capacity(rows.len());
            for (k, v) in rows {
                map.insert(k.clone(), v.clone()); // the last duplicate wins, as in a dict
            }
            let n = map.len();
            if kind == AssetKind::ArrayTarget {
                (Enc::ArrTarget { table: map, width }, width, Some(n))
            } else {
                let table = map
                    .into_iter()
                    .map(|(k, v)| {
                        let enc = v
                            .iter()
                            .map(|&x| {
                                if width > 1 && x == 0.0 {
                                    f32::NAN
                                } else {
                                    x as f32
                                }
                            })
                            .collect();
                        (k, enc)
                    })
                    .collect();
                (Enc::CatTarget { table }, width, Some(n))
            }
        }
        (AssetContent::Int(n), AssetKind::ArrayStruct) => (Enc::ArrStruct { dim: *n }, *n, None),
        (AssetContent::Int(n), _) => (Enc::ArrNumerical { len: *n }, *n, None),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_types_round_trip() {
        for t in [
            ModelType::BoostedTreeRegressor,
            ModelType::BoostedTreeClassifier,
            ModelType::RandomForestRegressor,
            ModelType::RandomForestClassifier,
            ModelType::BoostedTreeCox,
            ModelType::BoostedTreeAft,
        ] {
            assert_eq!(ModelType::from_name(t.name()), Some(t));
        }
        assert_eq!(ModelType::from_name("kmeans"), None);
    }
}
