//! Vertex AI Model Registry metadata for a loaded model: the `Model` resource
//! ([`Model::metadata`]), the OpenAPI predict schemata generated from the model
//! itself ([`Model::predict_schemata`]) and the body of a `models:upload` call
//! ([`Model::upload_request`], [`Model::write_upload_request`]).
//!
//! ```
//! use quercus::vertex::ModelSourceType;
//! use quercus::{MetadataOptions, Model, UploadRequestOptions};
//! use serde_json::json;
//!
//! let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../models/bqml/boosted_tree_classifier_model");
//! let model = Model::load(dir)?;
//! let md = model.metadata();
//! assert_eq!(md.display_name.as_deref(), Some("boosted_tree_classifier_model"));
//! assert_eq!(md.model_source_info.unwrap().source_type, Some(ModelSourceType::Bqml));
//!
//! let schemata = model.predict_schemata();
//! assert_eq!(schemata.instance["required"], json!(["f1", "f2", "f3"]));
//! assert_eq!(schemata.instance["properties"]["f2"]["type"], "array");
//! assert_eq!(schemata.prediction["required"][2], "label_probs");
//! let files = schemata.yaml_files(); // instance.yaml, prediction.yaml
//! assert!(files[0].1.starts_with("type: object\n"));
//!
//! // The body of `POST .../models:upload`, ready for REST or gcloud.
//! let mut opts = UploadRequestOptions::default();
//! opts.model_id = Some("churn-bt".into());
//! opts.metadata = MetadataOptions {
//!     artifact_uri: Some("gs://bucket/churn/".into()),
//!     ..MetadataOptions::default()
//! };
//! let body = serde_json::to_value(model.upload_request(&opts)?).unwrap();
//! assert_eq!(body["model"]["predictSchemata"]["instanceSchemaUri"], "gs://bucket/churn/instance.yaml");
//! assert!(body["model"].get("modelSourceInfo").is_none()); // output only
//! # Ok::<(), quercus::Error>(())
//! ```
//!
//! ## The schemata
//!
//! Each is an OpenAPI 3.0 Schema Object describing **one** element of
//! `instances` or `predictions`, written as YAML (`instance.yaml`,
//! `prediction.yaml`). No model here takes `parameters`, so there is no
//! parameters schema.
//!
//! BigQuery ML export, instance: an object with one property per input column,
//! `required` in the export's feature order, no other properties:
//!
//! | encoding | schema |
//! |---|---|
//! | numeric | a number within float32 range, or `""` (the exported predictor's spelling of NULL: the stored mean) |
//! | categorical (one-hot, label, target) | a string (`null` allowed: looked up as `"None"`, normally an unseen category, i.e. missing; an array or object is looked up by its Python `str()` and reads as missing too) |
//! | ARRAY (multi-hot, target) | an array of strings |
//! | `ARRAY<STRUCT<INT64, FLOAT64>>` | an array of `[index, value]` pairs of numbers |
//! | `ARRAY<numeric>` | an array of exactly `length` numbers |
//!
//! Google's predictor also takes numbers and booleans as categories (it looks
//! up their Python `str()`); the schema describes the column types BigQuery
//! exports, and is stricter there.
//!
//! A column's type follows the encoding the predictor actually uses, which the
//! asset files decide (in its dispatch order: one-hot, target, label, array
//! one-hot, array target, `ARRAY<STRUCT>`, `ARRAY<numeric>`), not the
//! metadata's `encode_type`: `random_forest_classifier_model`'s `f2` has both
//! `1_categorical_label.txt` and `1_array_one_hot.txt` and is a string, and its
//! description names the unused file.
//!
//! BigQuery ML export, prediction: for a classifier an object
//! `{"predicted_<label>": class, "<label>_values": [classes], "<label>_probs": [p...]}`
//! with the classes in output order; for a regressor a number; for a survival
//! model a number ≥ 0 — what [`Model::predict_instances`] returns.
//!
//! XGBoost model, instance: an array of exactly `num_features` values in
//! feature order, each a number, `null` or `"NaN"` (missing; `"NaN"` is how
//! Google's prebuilt XGBoost container spells it). When the model stores
//! feature names, an object keyed by feature name (every name required; `null`
//! is missing) is accepted too — `anyOf` the two forms, because Google's
//! prebuilt container only takes arrays while Quercus takes both.
//!
//! XGBoost model, prediction: what `Booster.predict` (and so Google's prebuilt
//! container and [`Model::predict`]) gives per row — a number when a row has
//! one output (probability in `[0, 1]` for `binary:logistic`, class index for
//! `multi:softmax`, ≥ 0 for `count:poisson` and the other `exp` objectives),
//! else an array of exactly that many numbers (class probabilities for
//! `multi:softprob`, one value per target for multi-target models).
//!
//! ## The container
//!
//! Without an image URI the container is Google's prebuilt one for the kind of
//! model: `us-docker.pkg.dev/vertex-ai/bigquery-ml/xgboost-cpu.1-0:latest` for a
//! BigQuery ML export (its documented serving image), and
//! `us-docker.pkg.dev/vertex-ai/prediction/xgboost-cpu.2-1:latest` for an
//! XGBoost file (the newest prebuilt XGBoost image; it loads the artifact
//! named `model.bst` under `artifactUri`). With an image URI (a custom
//! container, such as a Quercus server) the spec is the one a custom container
//! needs: port 8080, `predictRoute` `/predict`, `healthRoute` `/health`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use quercus_bqml::{BqmlModel, Encoding, ModelType};
use quercus_core::{Error, FeatureType, Objective, PredictOptions, Result};
use quercus_vertex as vertex;
use serde_json::{Map, Value, json};

use crate::{Kind, Model};

/// The serving image of a BigQuery ML export on Vertex AI.
pub const BQML_IMAGE: &str = "us-docker.pkg.dev/vertex-ai/bigquery-ml/xgboost-cpu.1-0:latest";
/// Google's newest prebuilt XGBoost serving image.
pub const XGBOOST_IMAGE: &str = "us-docker.pkg.dev/vertex-ai/prediction/xgboost-cpu.2-1:latest";
/// File name of the instance schema.
pub const INSTANCE_SCHEMA_FILE: &str = "instance.yaml";
/// File name of the prediction schema.
pub const PREDICTION_SCHEMA_FILE: &str = "prediction.yaml";
/// File name of the `models:upload` body written by [`Model::write_upload_request`].
pub const UPLOAD_REQUEST_FILE: &str = "upload-request.json";

/// Where a model was loaded from; decides the default display name, and for a
/// registry version, what [`Model::metadata`] returns.
#[derive(Clone, Debug)]
pub(crate) enum Origin {
    /// A file or export directory.
    Path(PathBuf),
    /// Bytes in memory.
    Bytes,
    /// A version of a local registry, with its Model resource.
    Registry(Box<vertex::Model>),
}

/// What to put in a model's registry metadata besides what the model says
/// about itself. Every field is optional.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MetadataOptions {
    /// The display name (default: the file name without extension, or the
    /// export directory's name).
    pub display_name: Option<String>,
    /// The model's description.
    pub description: Option<String>,
    /// This version's description.
    pub version_description: Option<String>,
    /// Labels, added to (and overriding) the defaults `runtime`, `framework`,
    /// `format` and `objective` (`model-type` for BigQuery ML exports).
    pub labels: BTreeMap<String, String>,
    /// Version aliases.
    pub version_aliases: Vec<String>,
    /// The artifact directory (`gs://...`).
    pub artifact_uri: Option<String>,
    /// A custom serving image; default: Google's prebuilt image for the model.
    pub image_uri: Option<String>,
    /// The directory the schema files are in (`gs://.../`); default: the
    /// artifact URI, else bare file names.
    pub schemata_uri: Option<String>,
}

impl MetadataOptions {
    /// Checks the options against Vertex's rules (labels, aliases, display name).
    pub fn validate(&self) -> Result<()> {
        let bad = |e: vertex::ValidationError| Error::option(e.to_string());
        if let Some(n) = &self.display_name {
            vertex::validate::display_name(n).map_err(bad)?;
        }
        vertex::validate::labels(&self.labels).map_err(bad)?;
        for a in &self.version_aliases {
            vertex::validate::version_alias(a).map_err(bad)?;
        }
        Ok(())
    }
}

/// The options of a `models:upload` request body.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct UploadRequestOptions {
    /// The model's metadata.
    pub metadata: MetadataOptions,
    /// `modelId`: the id of the new model.
    pub model_id: Option<String>,
    /// `parentModel`: upload a new version of this model instead.
    pub parent_model: Option<String>,
}

/// The generated predict schemata of a model, as JSON values of OpenAPI 3.0
/// Schema Objects.
#[derive(Clone, Debug, PartialEq)]
pub struct Schemata {
    /// One element of `instances`.
    pub instance: Value,
    /// The `parameters` (`None`: the model takes none).
    pub parameters: Option<Value>,
    /// One element of `predictions`.
    pub prediction: Value,
}

impl Schemata {
    /// The schema files: `(file name, YAML text)`.
    pub fn yaml_files(&self) -> Vec<(&'static str, String)> {
        let mut out = vec![(
            INSTANCE_SCHEMA_FILE,
            vertex::yaml::to_string(&self.instance),
        )];
        if let Some(p) = &self.parameters {
            out.push(("parameters.yaml", vertex::yaml::to_string(p)));
        }
        out.push((
            PREDICTION_SCHEMA_FILE,
            vertex::yaml::to_string(&self.prediction),
        ));
        out
    }
}

/// Joins a directory URI and a file name.
fn join_uri(dir: &str, file: &str) -> String {
    if dir.is_empty() {
        file.to_string()
    } else if dir.ends_with('/') {
        format!("{dir}{file}")
    } else {
        format!("{dir}/{file}")
    }
}

/// A label value from free text: lowercase, invalid characters as `_`, at most
/// 64 characters.
fn label_value(s: &str) -> String {
    s.chars()
        .flat_map(char::to_lowercase)
        .map(|c| {
            if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(64)
        .collect()
}

/// The default display name of a path: the file stem or directory name.
pub(crate) fn display_name_of(path: &Path) -> String {
    let name = if path.is_dir() {
        path.file_name()
    } else {
        path.file_stem()
    };
    let name = name
        .map(|n| n.to_string_lossy().into_owned())
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| "model".to_string());
    name.chars().take(128).collect()
}

const F32_MAX: f64 = f32::MAX as f64;

impl Model {
    /// This model as a Vertex AI `Model` resource: display name, labels,
    /// container spec, predict schemata (file names), model source (`BQML` for
    /// an export, `CUSTOM` otherwise) and, in `metadata`, what the model says
    /// about itself (format, XGBoost version, objective, features, trees...).
    ///
    /// For a model loaded from a registry (`registry://...`), the registry's
    /// resource for that version.
    pub fn metadata(&self) -> vertex::Model {
        if let crate::metadata::Origin::Registry(m) = &self.origin {
            return (**m).clone();
        }
        self.build_metadata(&MetadataOptions::default())
    }

    /// [`Model::metadata`] with a display name, labels, artifact and image URIs
    /// of your choice. The options are checked against Vertex's rules first.
    pub fn metadata_with(&self, opts: &MetadataOptions) -> Result<vertex::Model> {
        opts.validate()?;
        Ok(self.build_metadata(opts))
    }

    pub(crate) fn build_metadata(&self, opts: &MetadataOptions) -> vertex::Model {
        let info = self.info();
        let forest = self.forest();
        let bq = self.bqml();

        let display_name = opts
            .display_name
            .clone()
            .unwrap_or_else(|| match &self.origin {
                Origin::Path(p) => display_name_of(p),
                Origin::Registry(m) => m.display_name.clone().unwrap_or_else(|| "model".into()),
                Origin::Bytes => "model".to_string(),
            });

        let mut labels = BTreeMap::new();
        labels.insert("runtime".to_string(), "quercus".to_string());
        labels.insert("framework".to_string(), "xgboost".to_string());
        match bq {
            Some(b) => {
                labels.insert("format".into(), "bigquery-ml-export".into());
                labels.insert("model-type".into(), label_value(b.model_type().name()));
            }
            None => {
                labels.insert("format".into(), label_value(info.format.name()));
            }
        }
        labels.insert("objective".into(), label_value(&info.objective));
        labels.extend(opts.labels.clone());

        let container_spec = match &opts.image_uri {
            Some(image) => vertex::ModelContainerSpec {
                image_uri: Some(image.clone()),
                ports: Some(vec![vertex::Port {
                    container_port: Some(8080),
                    ..Default::default()
                }]),
                predict_route: Some("/predict".into()),
                health_route: Some("/health".into()),
                ..Default::default()
            },
            None => vertex::ModelContainerSpec {
                image_uri: Some(
                    if bq.is_some() {
                        BQML_IMAGE
                    } else {
                        XGBOOST_IMAGE
                    }
                    .into(),
                ),
                ..Default::default()
            },
        };

        let schema_dir = opts
            .schemata_uri
            .clone()
            .or_else(|| opts.artifact_uri.clone())
            .unwrap_or_default();
        let predict_schemata = vertex::PredictSchemata {
            instance_schema_uri: Some(join_uri(&schema_dir, INSTANCE_SCHEMA_FILE)),
            parameters_schema_uri: None,
            prediction_schema_uri: Some(join_uri(&schema_dir, PREDICTION_SCHEMA_FILE)),
            ..Default::default()
        };

        let mut meta = Map::new();
        meta.insert(
            "runtime".into(),
            json!(concat!("quercus ", env!("CARGO_PKG_VERSION"))),
        );
        meta.insert("format".into(), json!(info.format.name()));
        meta.insert("xgboostVersion".into(), json!(info.version.to_string()));
        meta.insert("booster".into(), json!(info.booster));
        meta.insert("objective".into(), json!(info.objective));
        meta.insert("numFeatures".into(), json!(forest.num_features()));
        if !forest.feature_names().is_empty() {
            meta.insert("featureNames".into(), json!(forest.feature_names()));
        }
        if !forest.feature_types().is_empty() {
            let types: Vec<&str> = forest
                .feature_types()
                .iter()
                .map(|t| match t {
                    FeatureType::Numeric => "numeric",
                    FeatureType::Categorical => "categorical",
                })
                .collect();
            meta.insert("featureTypes".into(), json!(types));
        }
        meta.insert("numTrees".into(), json!(forest.trees().len()));
        meta.insert("numRounds".into(), json!(forest.num_rounds()));
        meta.insert("numOutputs".into(), json!(forest.num_outputs()));
        if let Some(b) = info.best_iteration() {
            meta.insert("bestIteration".into(), json!(b));
        }
        if let Some(b) = bq {
            let columns: Vec<Value> = b
                .features()
                .iter()
                .map(|f| json!({"name": f.name, "encoding": f.encoding.name()}))
                .collect();
            let mut bm = Map::new();
            bm.insert("modelType".into(), json!(b.model_type().name()));
            bm.insert("labelColumn".into(), json!(b.label_column()));
            if !b.class_names().is_empty() {
                bm.insert("classNames".into(), Value::Array(b.class_names().to_vec()));
            }
            bm.insert("inputColumns".into(), Value::Array(columns));
            meta.insert("bigqueryMl".into(), Value::Object(bm));
        }

        vertex::Model {
            display_name: Some(display_name),
            description: opts.description.clone(),
            version_description: opts.version_description.clone(),
            version_aliases: (!opts.version_aliases.is_empty())
                .then(|| opts.version_aliases.clone()),
            predict_schemata: Some(predict_schemata),
            metadata: Some(Value::Object(meta)),
            container_spec: Some(container_spec),
            artifact_uri: opts.artifact_uri.clone(),
            labels: Some(labels),
            model_source_info: Some(vertex::ModelSourceInfo {
                source_type: Some(if bq.is_some() {
                    vertex::ModelSourceType::Bqml
                } else {
                    vertex::ModelSourceType::Custom
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    /// The predict schemata generated from the model (see the [module
    /// documentation](crate::metadata) for what they contain).
    pub fn predict_schemata(&self) -> Schemata {
        match &self.kind {
            Kind::Bqml(b) => Schemata {
                instance: bqml_instance_schema(b),
                parameters: None,
                prediction: bqml_prediction_schema(b),
            },
            Kind::Xgboost(_) => Schemata {
                instance: xgboost_instance_schema(self),
                parameters: None,
                prediction: xgboost_prediction_schema(self),
            },
        }
    }

    /// The JSON body of a Vertex AI `models:upload` call for this model:
    /// `{"model": {...}, "modelId": ..., "parentModel": ...}`, the model
    /// without output-only fields (see [`vertex::Model::for_upload`]).
    pub fn upload_request(
        &self,
        opts: &UploadRequestOptions,
    ) -> Result<vertex::UploadModelRequest> {
        if let Some(id) = &opts.model_id {
            vertex::validate::model_id(id).map_err(|e| Error::option(e.to_string()))?;
        }
        if opts.model_id.is_some() && opts.parent_model.is_some() {
            return Err(Error::option(
                "give a model id (a new model) or a parent model (a new version), not both",
            ));
        }
        let model = self.metadata_with(&opts.metadata)?.for_upload();
        Ok(vertex::UploadModelRequest {
            parent_model: opts.parent_model.clone(),
            model_id: opts.model_id.clone(),
            model,
            ..Default::default()
        })
    }

    /// Writes [`Model::upload_request`] to `dir/upload-request.json` and the
    /// schema files (`instance.yaml`, `prediction.yaml`) next to it, creating
    /// `dir` if needed. Returns the paths written.
    pub fn write_upload_request(
        &self,
        dir: impl AsRef<Path>,
        opts: &UploadRequestOptions,
    ) -> Result<Vec<PathBuf>> {
        let dir = dir.as_ref();
        let request = self.upload_request(opts)?;
        std::fs::create_dir_all(dir).map_err(|e| Error::io(e).with_path(dir))?;
        let mut written = Vec::new();
        let mut body = serde_json::to_string_pretty(&request)
            .map_err(|e| Error::option(format!("cannot write the request: {e}")))?;
        body.push('\n');
        let path = dir.join(UPLOAD_REQUEST_FILE);
        std::fs::write(&path, body).map_err(|e| Error::io(e).with_path(&path))?;
        written.push(path);
        for (name, text) in self.predict_schemata().yaml_files() {
            let path = dir.join(name);
            std::fs::write(&path, text).map_err(|e| Error::io(e).with_path(&path))?;
            written.push(path);
        }
        Ok(written)
    }
}

fn bqml_column_schema(f: &quercus_bqml::FeatureInfo) -> Value {
    let vocab = f
        .vocabulary_size
        .map(|n| format!(" ({n} vocabulary entries)"))
        .unwrap_or_default();
    let width = f.columns.len();
    match f.encoding {
        Encoding::Numeric => {
            let empty = match f.mean {
                Some(m) if m.is_finite() => format!("the stored mean {m}"),
                Some(_) => "a missing value".to_string(),
                None => "0.0".to_string(),
            };
            json!({
                "anyOf": [
                    {"type": "number", "minimum": -F32_MAX, "maximum": F32_MAX},
                    {"type": "string", "enum": [""]},
                ],
                "description": format!("numeric; an empty string stands for {empty}"),
            })
        }
        Encoding::CategoricalOneHot | Encoding::CategoricalLabel | Encoding::CategoricalTarget => {
            // A feature may have files of several kinds (the real
            // random_forest_classifier_model's f2 has a label and an array
            // one-hot vocabulary): the predictor encodes it by the first kind
            // it dispatches on, and so does this schema.
            let unused = if f.unused_assets.is_empty() {
                String::new()
            } else {
                let files: Vec<String> = f
                    .unused_assets
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect();
                format!(
                    "; {} not used (the exported predictor encodes this column by {})",
                    files.join(", "),
                    f.asset
                        .as_ref()
                        .map_or_else(String::new, |p| p.display().to_string())
                )
            };
            json!({
                "type": "string",
                "nullable": true,
                "description": format!(
                    "categorical, {}{vocab}; an unseen category is a missing value, and so is \
                     any other JSON value whose Python str() is not in the vocabulary (an \
                     array or an object, null as \"None\"){unused}",
                    f.encoding.name()
                ),
            })
        }
        Encoding::ArrayOneHot | Encoding::ArrayTarget => json!({
            "type": "array",
            "items": {"type": "string", "nullable": true},
            "description": format!("ARRAY of categories, {}{vocab}", f.encoding.name()),
        }),
        Encoding::ArrayStruct => json!({
            "type": "array",
            "items": {
                "type": "array",
                "minItems": 2,
                "maxItems": 2,
                "items": {"type": "number", "minimum": -F32_MAX, "maximum": F32_MAX},
            },
            "description": format!(
                "ARRAY<STRUCT<INT64, FLOAT64>>: [index, value] pairs, index 0 to {}",
                width.saturating_sub(1)
            ),
        }),
        Encoding::ArrayNumerical => json!({
            "type": "array",
            "minItems": width,
            "maxItems": width,
            "items": {"type": "number", "minimum": -F32_MAX, "maximum": F32_MAX},
            "description": format!("ARRAY<FLOAT64> of exactly {width} numbers"),
        }),
    }
}

fn bqml_instance_schema(b: &BqmlModel) -> Value {
    let mut props = Map::new();
    for f in b.features() {
        props.insert(f.name.clone(), bqml_column_schema(f));
    }
    let required: Vec<&str> = b.features().iter().map(|f| f.name.as_str()).collect();
    json!({
        "type": "object",
        "description": format!(
            "One instance of the BigQuery ML {} (label column `{}`): every input column, \
             STRUCT fields as <struct>_<field>",
            b.model_type().name(),
            b.label_column()
        ),
        "properties": props,
        "required": required,
        "additionalProperties": false,
    })
}

/// The schema of a value that is one of `values` (with their JSON type when
/// they share one).
fn enum_schema(values: &[Value]) -> Value {
    let mut s = Map::new();
    let ty = if values.iter().all(Value::is_string) {
        Some("string")
    } else if values.iter().all(Value::is_number) {
        Some("number")
    } else if values.iter().all(Value::is_boolean) {
        Some("boolean")
    } else {
        None
    };
    if let Some(t) = ty {
        s.insert("type".into(), json!(t));
    }
    s.insert("enum".into(), Value::Array(values.to_vec()));
    Value::Object(s)
}

fn bqml_prediction_schema(b: &BqmlModel) -> Value {
    if b.model_type().is_classifier() {
        let label = b.label_column();
        let k = b.class_names().len();
        let mut props = Map::new();
        let mut predicted = enum_schema(b.class_names());
        if let Value::Object(m) = &mut predicted {
            m.insert(
                "description".into(),
                json!("the class with the highest probability"),
            );
        }
        props.insert(format!("predicted_{label}"), predicted);
        props.insert(
            format!("{label}_values"),
            json!({
                "type": "array",
                "minItems": k,
                "maxItems": k,
                "items": enum_schema(b.class_names()),
                "description": "the classes, in the order of the probabilities",
            }),
        );
        props.insert(
            format!("{label}_probs"),
            json!({
                "type": "array",
                "minItems": k,
                "maxItems": k,
                "items": {"type": "number", "minimum": 0, "maximum": 1},
                "description": "the probability of each class",
            }),
        );
        return json!({
            "type": "object",
            "properties": props,
            "required": [format!("predicted_{label}"), format!("{label}_values"), format!("{label}_probs")],
            "additionalProperties": false,
        });
    }
    match b.model_type() {
        ModelType::BoostedTreeCox | ModelType::BoostedTreeAft => json!({
            "type": "number",
            "minimum": 0,
            "description": format!("the predicted {} (exp of the margin)", b.label_column()),
        }),
        _ => json!({
            "type": "number",
            "description": format!("the predicted {}", b.label_column()),
        }),
    }
}

fn xgboost_instance_schema(model: &Model) -> Value {
    let forest = model.forest();
    let n = forest.num_features();
    let names = forest.feature_names();
    let types = forest.feature_types();
    let array = json!({
        "type": "array",
        "minItems": n,
        "maxItems": n,
        "items": {
            "anyOf": [
                {"type": "number", "nullable": true},
                {"type": "string", "enum": ["NaN"]},
            ],
        },
        "description": format!(
            "the {n} feature values in order; null or \"NaN\" is a missing value"
        ),
    });
    if names.is_empty() {
        return array;
    }
    let mut props = Map::new();
    for (i, name) in names.iter().enumerate() {
        let kind = match types.get(i) {
            Some(FeatureType::Categorical) => "categorical (the category code)",
            _ => "numeric",
        };
        props.insert(
            name.clone(),
            json!({
                "type": "number",
                "nullable": true,
                "description": format!("feature {i}, {kind}; null is a missing value"),
            }),
        );
    }
    let object = json!({
        "type": "object",
        "properties": props,
        "required": names,
        "additionalProperties": false,
        "description": "the features by name; null is a missing value",
    });
    json!({"anyOf": [object, array]})
}

/// Values per prediction row of the default (transformed) output.
fn output_width(model: &Model) -> usize {
    model
        .output_width(&PredictOptions::default())
        .unwrap_or_else(|_| model.forest().num_outputs())
}

fn xgboost_prediction_schema(model: &Model) -> Value {
    let forest = model.forest();
    let objective = forest.objective();
    let width = output_width(model);
    let mut item = Map::new();
    item.insert("type".into(), json!("number"));
    let what = match objective {
        Objective::Logistic(_) | Objective::Softprob | Objective::Hinge => {
            item.insert("minimum".into(), json!(0));
            item.insert("maximum".into(), json!(1));
            match objective {
                Objective::Hinge => "the predicted class, 0 or 1",
                Objective::Softprob => "the probability of each class",
                _ => "the probability of the positive class",
            }
        }
        Objective::Exp(_) => {
            item.insert("minimum".into(), json!(0));
            "the prediction, exp of the margin"
        }
        Objective::Softmax => {
            item.insert("minimum".into(), json!(0));
            item.insert(
                "maximum".into(),
                json!(forest.num_outputs().saturating_sub(1)),
            );
            "the predicted class index"
        }
        _ => "the prediction",
    };
    let description = format!("{what} ({})", objective.name());
    if width == 1 {
        item.insert("description".into(), json!(description));
        return Value::Object(item);
    }
    json!({
        "type": "array",
        "minItems": width,
        "maxItems": width,
        "items": item,
        "description": description,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_column_with_two_vocabularies_is_typed_by_the_one_the_predictor_uses() {
        // random_forest_classifier_model's f2 has 1_categorical_label.txt and
        // 1_array_one_hot.txt: the predictor label-encodes it.
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../models/bqml/random_forest_classifier_model");
        let model = Model::load(dir).unwrap();
        let f2 = &model.predict_schemata().instance["properties"]["f2"];
        assert_eq!(f2["type"], "string");
        let d = f2["description"].as_str().unwrap();
        for needle in [
            "categorical_label",
            "an array or an object",
            "assets/1_array_one_hot.txt not used",
            "by assets/1_categorical_label.txt",
        ] {
            assert!(d.contains(needle), "`{needle}` missing from {d}");
        }
        let f1 = model.predict_schemata().instance["properties"]["f1"]["description"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(!f1.contains("not used"), "{f1}");
    }
}
