//! Request and response bodies of the Vertex AI REST calls Quercus speaks:
//! `models:upload`, `models.mergeVersionAliases`, `models.list` /
//! `models.listVersions`, and online prediction (`endpoints.predict`, which is
//! also what a custom serving container receives and returns).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::model::Model;

/// The body of `POST .../locations/{location}/models:upload`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UploadModelRequest {
    /// Upload a new version of this model
    /// (`projects/{project}/locations/{location}/models/{model}`) instead of a
    /// new model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_model: Option<String>,
    /// The id of the new model: up to 63 characters `[a-z0-9_-]`, not starting
    /// with a digit or a hyphen (see [`validate::model_id`](crate::validate::model_id)).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_id: Option<String>,
    /// The model (without output-only fields: see [`Model::for_upload`]).
    pub model: Model,
    /// The service account the serving container runs as.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account: Option<String>,
    /// Fields this crate does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The body of `POST {name}@{version}:mergeVersionAliases`: aliases to add,
/// and aliases to remove written with a leading `-` (`["prod", "-golden"]`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MergeVersionAliasesRequest {
    /// The changes.
    #[serde(default)]
    pub version_aliases: Vec<String>,
    /// Fields this crate does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The response of `models.list` and `models.listVersions`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListModelsResponse {
    /// The models (or versions), one resource each.
    #[serde(default)]
    pub models: Vec<Model>,
    /// The token of the next page, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
    /// Fields this crate does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The body of an online prediction request (`endpoints.predict`), and what a
/// custom container's predict route receives.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PredictRequest {
    /// The instances, each described by the model's instance schema.
    pub instances: Vec<Value>,
    /// Parameters, described by the model's parameters schema.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Value>,
    /// Request labels (used by some Google models only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
    /// Fields this crate does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The response of an online prediction (`PredictResponse`). A container
/// returns `predictions`; Vertex adds the other fields.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PredictResponse {
    /// One prediction per instance, in order, each described by the model's
    /// prediction schema.
    pub predictions: Vec<Value>,
    /// The deployed model that served the request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployed_model_id: Option<String>,
    /// The model's resource name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// The model version that served the request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_version_id: Option<String>,
    /// The model's display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_display_name: Option<String>,
    /// Request-level metadata some models return.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
    /// Fields this crate does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The model-level error body Google's prebuilt containers return instead of
/// `predictions` when an instance fails: `{"error": "..."}`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PredictErrorBody {
    /// What went wrong.
    pub error: String,
}
