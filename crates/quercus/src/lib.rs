//! # quercus
//!
//! Run XGBoost and BigQuery ML tree models in-process, predicting exactly what
//! the reference implementation predicts.
//!
//! [`Model::load`] reads a model file in any supported format — XGBoost JSON,
//! UBJSON or the legacy binary, from any XGBoost version 0.82 through 3.2 — by
//! looking at its bytes, not its name. [`Model::predict`] takes a dense `f32`
//! matrix (NaN is missing) and returns what XGBoost's Python
//! `Booster.predict` returns, with the same shape.
//!
//! Given a directory, [`Model::load`] opens a BigQuery ML `EXPORT MODEL`
//! export (`model.bst` + `assets/`), and [`Model::predict_instances`] takes the
//! JSON instances Vertex AI would send and returns what Google's exported
//! predictor returns:
//!
//! ```
//! use quercus::Model;
//! use serde_json::json;
//!
//! let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../models/bqml/boosted_tree_regressor_model");
//! let model = Model::load(dir)?;
//! let out = model.predict_instances(&[json!({"f1": "b", "f2": ["a"], "f3": 3})])?;
//! assert!((out[0].as_f64().unwrap() - 1.0370053052902222).abs() < 1e-6);
//! # Ok::<(), quercus::Error>(())
//! ```
//!
//! [`Model::metadata`] describes a model as a Vertex AI Model Registry
//! resource with generated OpenAPI predict schemata ([`metadata`]), and
//! [`registry`] keeps versions of models on disk with the Model Registry's
//! version and alias rules (`Model::load("registry://churn@champion")`).
//!
//! ## Example
//!
//! ```no_run
//! use quercus::{FeatureMatrix, Model, PredictOptions};
//!
//! let model = Model::load("models/xgboost/3.2.0/binary_logistic.json")?;
//! let rows = vec![0.5f32; 2 * model.num_features()];
//! let x = FeatureMatrix::row_major(&rows, 2, model.num_features())?;
//! let p = model.predict(&x, &PredictOptions::default())?;
//! println!("{:?} {:?}", p.shape, p.data);
//! # Ok::<(), quercus::Error>(())
//! ```
#![deny(missing_docs)]

use std::path::Path;

pub mod io;
pub mod qpack;

pub mod metadata;
pub mod registry;

pub use metadata::{MetadataOptions, Schemata, UploadRequestOptions};
/// Vertex AI Model Registry and prediction wire types (`quercus-vertex`).
pub use quercus_vertex as vertex;
pub use registry::Registry;

pub use quercus_bqml::{BqmlModel, BqmlOptions, OutputFormat};
pub use quercus_core::{
    Categories, Error, ErrorKind, FeatureMatrix, FeatureType, Forest, Kernel, Location,
    MAX_THREADS, Node, Objective, Output, PredictOptions, Predictions, Result, default_threads,
};
pub use quercus_xgboost::{Compat, DEFAULT_MAX_BYTES, Format, LoadOptions, ModelInfo, Version};

/// BigQuery ML export directories: schema, encoder, Vertex-style outputs.
pub mod bqml {
    pub use quercus_bqml::*;
}

/// A loaded model, ready to predict. Immutable, `Send + Sync`: share it
/// between threads behind an `Arc`.
///
/// It is either a single XGBoost model file or a BigQuery ML export directory
/// (see [`bqml`]); [`Model::predict`] works on both (for an export, on the
/// already-encoded columns), [`Model::predict_instances`] on exports.
#[derive(Clone, Debug)]
pub struct Model {
    kind: Kind,
    origin: metadata::Origin,
}

/// What was loaded.
#[derive(Clone, Debug)]
enum Kind {
    /// An XGBoost model file (JSON, UBJSON or legacy binary).
    Xgboost(Box<quercus_xgboost::XgbModel>),
    /// A BigQuery ML `EXPORT MODEL` directory.
    Bqml(Box<BqmlModel>),
}

impl Model {
    /// Loads a model: an XGBoost model file (the format is detected from its
    /// bytes) or a BigQuery ML export directory (`model.bst` + `assets/`), or
    /// a version of the default registry, `registry://ID[@VERSION|@ALIAS]`
    /// (see [`registry`]).
    pub fn load(path: impl AsRef<Path>) -> Result<Model> {
        Model::load_with(path, &LoadOptions::default())
    }

    /// Loads a model file or export directory with options (e.g.
    /// [`LoadOptions::legacy_summation`]).
    pub fn load_with(path: impl AsRef<Path>, opts: &LoadOptions) -> Result<Model> {
        let path = path.as_ref();
        if let Some(r) = path
            .to_str()
            .filter(|p| p.starts_with(registry::URI_PREFIX))
        {
            return Model::load_from_registry_with(r, opts);
        }
        let origin = metadata::Origin::Path(path.to_path_buf());
        if path.is_dir() {
            return Ok(Model {
                kind: Kind::Bqml(Box::new(BqmlModel::open(path, opts)?)),
                origin,
            });
        }
        // Read once, then sniff: a FIFO or `<(...)` cannot be reopened.
        let bytes = quercus_xgboost::read_file(path, opts.max_bytes)?;
        if quercus_core::compiled::is_compiled(&bytes) {
            return Model::from_compiled(
                std::sync::Arc::new(quercus_core::AlignedBytes::copy_from(&bytes)),
                origin,
            )
            .map_err(|e| e.with_path(path));
        }
        let m = quercus_xgboost::load_bytes(&bytes, opts).map_err(|e| e.with_path(path))?;
        Ok(Model {
            kind: Kind::Xgboost(Box::new(m)),
            origin,
        })
    }

    /// Loads an XGBoost model from bytes already in memory.
    pub fn from_bytes(bytes: &[u8], opts: &LoadOptions) -> Result<Model> {
        if quercus_core::compiled::is_compiled(bytes) {
            return Model::from_compiled_bytes(bytes);
        }
        let m = quercus_xgboost::load_bytes(bytes, opts)?;
        Ok(Model {
            kind: Kind::Xgboost(Box::new(m)),
            origin: metadata::Origin::Bytes,
        })
    }

    /// Predicts every row of `x` (for a BigQuery ML export: rows of encoded
    /// columns, see [`BqmlModel::encode_instances`]).
    pub fn predict(&self, x: &FeatureMatrix<'_>, opts: &PredictOptions) -> Result<Predictions> {
        match &self.kind {
            Kind::Bqml(m) => m.predict_encoded(x, opts),
            Kind::Xgboost(m) => m.forest.predict(x, opts),
        }
    }

    /// Predicts into a caller-provided buffer of exactly
    /// `x.rows() * self.output_width(opts)?` values (row-major), without
    /// allocating for small batches: see [`Forest::predict_into`].
    pub fn predict_into(
        &self,
        x: &FeatureMatrix<'_>,
        opts: &PredictOptions,
        out: &mut [f32],
    ) -> Result<()> {
        match &self.kind {
            // An export whose model.bst declares more features than its assets
            // encode: its rows are narrower than the booster.
            Kind::Bqml(m) if m.num_columns() != m.declared_features() => {
                let p = m.predict_encoded(x, opts)?;
                if out.len() != p.data.len() {
                    return Err(Error::input(format!(
                        "output buffer holds {} values; {} rows x {} values per row needed",
                        out.len(),
                        x.rows(),
                        p.data.len() / x.rows().max(1)
                    )));
                }
                out.copy_from_slice(&p.data);
                Ok(())
            }
            _ => self.forest().predict_into(x, opts, out),
        }
    }

    /// Values per row that [`Model::predict`] returns with `opts`.
    pub fn output_width(&self, opts: &PredictOptions) -> Result<usize> {
        self.forest().output_width(opts)
    }

    /// Predicts raw instances of a BigQuery ML export (JSON objects keyed by
    /// column name, as Vertex AI sends them) and returns the exported
    /// predictor's JSON predictions. See [`BqmlModel::predict_instances`].
    pub fn predict_instances(
        &self,
        instances: &[serde_json::Value],
    ) -> Result<Vec<serde_json::Value>> {
        self.predict_instances_with(instances, &BqmlOptions::default())
    }

    /// [`Model::predict_instances`] with options (output shape, threads).
    pub fn predict_instances_with(
        &self,
        instances: &[serde_json::Value],
        opts: &BqmlOptions,
    ) -> Result<Vec<serde_json::Value>> {
        match &self.kind {
            Kind::Bqml(m) => m.predict_instances(instances, opts),
            Kind::Xgboost(_) => Err(Error::option(
                "predict_instances needs a BigQuery ML export directory; an XGBoost model \
                 file predicts a numeric matrix (Model::predict)",
            )),
        }
    }

    /// The BigQuery ML export, when this model is one.
    pub fn bqml(&self) -> Option<&BqmlModel> {
        match &self.kind {
            Kind::Bqml(m) => Some(m),
            Kind::Xgboost(_) => None,
        }
    }

    /// The format-neutral model.
    pub fn forest(&self) -> &Forest {
        match &self.kind {
            Kind::Xgboost(m) => &m.forest,
            Kind::Bqml(m) => m.forest(),
        }
    }

    /// What the model file says about itself: format, writer version,
    /// attributes... (for an export, its `model.bst`).
    pub fn info(&self) -> &ModelInfo {
        match &self.kind {
            Kind::Xgboost(m) => &m.info,
            Kind::Bqml(m) => m.info(),
        }
    }

    /// Number of input features (for an export, encoded columns, which may be
    /// fewer than its `model.bst` declares: see [`BqmlModel::width_note`]).
    pub fn num_features(&self) -> usize {
        match &self.kind {
            Kind::Bqml(m) => m.num_columns(),
            Kind::Xgboost(m) => m.forest.num_features(),
        }
    }

    /// A summary for display (`quercus inspect`).
    pub fn summary(&self) -> Summary {
        let f = self.forest();
        let info = self.info();
        Summary {
            format: info.format.name().to_string(),
            writer_version: info.version.to_string(),
            booster: info.booster.clone(),
            objective: info.objective.clone(),
            num_trees: f.trees().len(),
            num_rounds: f.num_rounds(),
            num_parallel_tree: info.num_parallel_tree,
            max_depth: f.max_depth(),
            num_leaves: f.trees().iter().map(|t| t.num_leaves()).sum(),
            num_features: f.num_features(),
            encoded_columns: self.bqml().map(BqmlModel::num_columns),
            feature_names: f.feature_names().to_vec(),
            feature_types: f
                .feature_types()
                .iter()
                .map(|t| match t {
                    FeatureType::Numeric => "numeric",
                    FeatureType::Categorical => "categorical",
                })
                .map(String::from)
                .collect(),
            num_outputs: f.num_outputs(),
            base_margin: f.base_margin().to_vec(),
            categorical_splits: f.trees().iter().any(|t| t.has_categorical()),
            multi_target_leaves: f.trees().iter().any(|t| t.leaf_width() > 1),
            best_iteration: info.best_iteration(),
        }
    }
}

/// The facts `quercus inspect` shows.
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    /// `json`, `ubjson` or `binary`.
    pub format: String,
    /// Writer version (`0.x` for pre-1.0 binaries).
    pub writer_version: String,
    /// `gbtree`, `dart` or `gblinear`.
    pub booster: String,
    /// Objective name as stored.
    pub objective: String,
    /// Number of trees.
    pub num_trees: usize,
    /// Number of boosting rounds.
    pub num_rounds: usize,
    /// Trees per round per output (random forests).
    pub num_parallel_tree: usize,
    /// Largest tree depth.
    pub max_depth: usize,
    /// Total reachable leaves.
    pub num_leaves: usize,
    /// Number of input features the booster declares.
    pub num_features: usize,
    /// For a BigQuery ML export, the columns its assets encode (the rows the
    /// booster is given): at most `num_features`, the rest read as missing.
    pub encoded_columns: Option<usize>,
    /// Feature names, if stored.
    pub feature_names: Vec<String>,
    /// `numeric` / `categorical` per feature, if stored.
    pub feature_types: Vec<String>,
    /// Margins per row (classes or targets).
    pub num_outputs: usize,
    /// Starting margin per output.
    pub base_margin: Vec<f32>,
    /// Whether any tree has categorical splits.
    pub categorical_splits: bool,
    /// Whether trees have vector leaves (multi-target).
    pub multi_target_leaves: bool,
    /// The `best_iteration` attribute.
    pub best_iteration: Option<usize>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bqml(name: &str) -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../models/bqml")
            .join(name)
    }

    /// A copy of an export whose model.bst declares `num_feature` features.
    fn with_num_feature(name: &str, num_feature: u32) -> std::path::PathBuf {
        let dst = std::env::temp_dir().join(format!(
            "quercus-lib-declared-{}-{name}-{num_feature}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dst);
        std::fs::create_dir_all(dst.join("assets")).unwrap();
        let src = bqml(name);
        for e in std::fs::read_dir(src.join("assets")).unwrap() {
            let p = e.unwrap().path();
            std::fs::copy(&p, dst.join("assets").join(p.file_name().unwrap())).unwrap();
        }
        let mut bst = std::fs::read(src.join("model.bst")).unwrap();
        let at = if bst.starts_with(b"binf") { 8 } else { 4 };
        bst[at..at + 4].copy_from_slice(&num_feature.to_le_bytes());
        std::fs::write(dst.join("model.bst"), bst).unwrap();
        dst
    }

    #[test]
    fn an_export_declaring_more_features_predicts_its_encoded_rows() {
        let original = Model::load(bqml("boosted_tree_classifier_model")).unwrap();
        let dir = with_num_feature("boosted_tree_classifier_model", 9);
        let model = Model::load(&dir).unwrap();
        let b = model.bqml().unwrap();
        assert_eq!((b.num_columns(), b.declared_features()), (6, 9));
        assert_eq!(model.num_features(), 6);
        let s = model.summary();
        assert_eq!((s.num_features, s.encoded_columns), (9, Some(6)));
        assert_eq!(original.summary().encoded_columns, Some(6));
        assert_eq!(
            b.width_note().unwrap(),
            "model.bst declares 9 features; the assets encode 6; features 6.. read as missing"
        );

        let instances = [
            serde_json::json!({"f1": "b", "f2": ["a", "b"], "f3": 25.8}),
            serde_json::json!({"f1": "zz", "f2": [], "f3": ""}),
        ];
        let rows = b.encode_instances(&instances).unwrap();
        let x = FeatureMatrix::row_major(&rows, 2, model.num_features()).unwrap();
        let opts = PredictOptions::default();
        let want = original.predict(&x, &opts).unwrap();
        let got = model.predict(&x, &opts).unwrap();
        assert_eq!(got.shape, want.shape);
        let bits = |d: &[f32]| d.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&got.data), bits(&want.data));
        let mut out = vec![0.0f32; want.data.len()];
        model.predict_into(&x, &opts, &mut out).unwrap();
        assert_eq!(bits(&out), bits(&want.data));
        assert!(model.predict_into(&x, &opts, &mut out[1..]).is_err());
        assert_eq!(
            model.predict_instances(&instances).unwrap(),
            original.predict_instances(&instances).unwrap()
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
