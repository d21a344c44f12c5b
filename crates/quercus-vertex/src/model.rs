//! The `Model` resource of the Vertex AI Model Registry and what it holds
//! (REST `v1`, `projects.locations.models`).
//!
//! Every struct spells its fields in camelCase on the wire, leaves out fields
//! that are `None`, and keeps fields it does not know in `extra`, so a
//! document read and written again loses nothing.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::wire::{Int64, string_enum};

/// A model version in the Vertex AI Model Registry (`Model`, REST `v1`).
///
/// Fields Vertex computes (`name`, `versionId`, `versionCreateTime`,
/// `createTime`, `modelSourceInfo`, `supported*`, ...) are "output only":
/// [`Model::for_upload`] removes them for a `models:upload` body.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Model {
    /// The resource name, `projects/{project}/locations/{location}/models/{model}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Output only. The version: an auto-incrementing decimal number as a
    /// string (`"1"`, `"2"`, ...), never reused within a model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    /// Aliases of this version (`default`, `champion`, ...), each naming
    /// exactly one version of the model. See
    /// [`validate::version_alias`](crate::validate::version_alias).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_aliases: Option<Vec<String>>,
    /// Output only. When this version was created (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_create_time: Option<String>,
    /// Output only. When this version was last updated (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_update_time: Option<String>,
    /// Required. The display name: 1 to 128 UTF-8 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// A description of the model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// A description of this version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_description: Option<String>,
    /// The checkpoint used by default (models with checkpoints).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_checkpoint_id: Option<String>,
    /// Where the OpenAPI schemata of instances, parameters and predictions are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub predict_schemata: Option<PredictSchemata>,
    /// The schema of [`metadata`](Self::metadata) (an OpenAPI 3.0.2 Schema Object file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata_schema_uri: Option<String>,
    /// Immutable. Additional information about the model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
    /// Output only. The formats the model can be exported in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supported_export_formats: Option<Vec<ExportFormat>>,
    /// Output only. The training pipeline that produced the model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub training_pipeline: Option<String>,
    /// The pipeline job that produced the model, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pipeline_job: Option<String>,
    /// The container that serves predictions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_spec: Option<ModelContainerSpec>,
    /// Immutable. The directory holding the model artifact (`gs://...`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_uri: Option<String>,
    /// Output only. How the model can be deployed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supported_deployment_resources_types: Option<Vec<DeploymentResourcesType>>,
    /// Output only. Batch prediction input formats (`jsonl`, `csv`, `bigquery`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supported_input_storage_formats: Option<Vec<String>>,
    /// Output only. Batch prediction output formats (`jsonl`, `csv`, `bigquery`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supported_output_storage_formats: Option<Vec<String>>,
    /// Output only. When the model was uploaded (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_time: Option<String>,
    /// Output only. When the model was last updated (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_time: Option<String>,
    /// Output only. Where the model is deployed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployed_models: Option<Vec<DeployedModelRef>>,
    /// The default explanation specification (kept as JSON).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub explanation_spec: Option<Value>,
    /// Used for optimistic concurrency on updates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    /// User labels. See [`validate::labels`](crate::validate::labels).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
    /// Output only. Statistics of the training data (kept as JSON).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_stats: Option<Value>,
    /// Customer-managed encryption key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption_spec: Option<EncryptionSpec>,
    /// Output only. Where the model came from (`CUSTOM`, `BQML`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_source_info: Option<ModelSourceInfo>,
    /// Output only. For a copied model, the original.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original_model_info: Option<OriginalModelInfo>,
    /// Output only. The Vertex ML Metadata artifact of the model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata_artifact: Option<String>,
    /// The base model a tuned model was made from (kept as JSON).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_model_source: Option<Value>,
    /// Output only. Reserved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub satisfies_pzs: Option<bool>,
    /// Output only. Reserved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub satisfies_pzi: Option<bool>,
    /// Output only. The model's checkpoints.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoints: Option<Vec<Checkpoint>>,
    /// Fields this crate does not know, kept as they were received.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The fields of [`Model`] that Vertex computes and a `models:upload` body
/// must not carry.
pub const OUTPUT_ONLY_FIELDS: &[&str] = &[
    "name",
    "versionId",
    "versionCreateTime",
    "versionUpdateTime",
    "supportedExportFormats",
    "trainingPipeline",
    "supportedDeploymentResourcesTypes",
    "supportedInputStorageFormats",
    "supportedOutputStorageFormats",
    "createTime",
    "updateTime",
    "deployedModels",
    "etag",
    "dataStats",
    "modelSourceInfo",
    "originalModelInfo",
    "metadataArtifact",
    "satisfiesPzs",
    "satisfiesPzi",
    "checkpoints",
];

impl Model {
    /// This model as the `model` of a `models:upload` request: the
    /// [output-only fields](OUTPUT_ONLY_FIELDS) removed. `metadata` is kept
    /// only together with a `metadataSchemaUri` (Vertex interprets it through
    /// that schema). Unknown fields in `extra` are kept.
    pub fn for_upload(&self) -> Model {
        let mut m = self.clone();
        m.name = None;
        m.version_id = None;
        m.version_create_time = None;
        m.version_update_time = None;
        m.supported_export_formats = None;
        m.training_pipeline = None;
        m.supported_deployment_resources_types = None;
        m.supported_input_storage_formats = None;
        m.supported_output_storage_formats = None;
        m.create_time = None;
        m.update_time = None;
        m.deployed_models = None;
        m.etag = None;
        m.data_stats = None;
        m.model_source_info = None;
        m.original_model_info = None;
        m.metadata_artifact = None;
        m.satisfies_pzs = None;
        m.satisfies_pzi = None;
        m.checkpoints = None;
        if m.metadata_schema_uri.is_none() {
            m.metadata = None;
        }
        m
    }
}

/// Where the schemata of one prediction call are (`PredictSchemata`). Each URI
/// names a YAML file holding an OpenAPI 3.0.2 Schema Object describing one
/// element of `instances`, the `parameters`, and one element of `predictions`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PredictSchemata {
    /// The schema of one instance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_schema_uri: Option<String>,
    /// The schema of the `parameters` (absent: the model takes none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters_schema_uri: Option<String>,
    /// The schema of one prediction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prediction_schema_uri: Option<String>,
    /// Fields this crate does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The serving container (`ModelContainerSpec`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelContainerSpec {
    /// Required. The image: in Artifact Registry, or one of Google's prebuilt images.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_uri: Option<String>,
    /// Overrides the image's `ENTRYPOINT`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    /// Overrides the image's `CMD`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args: Option<Vec<String>>,
    /// Environment variables; later entries may refer to earlier ones as `$(NAME)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<Vec<EnvVar>>,
    /// The HTTP port (only the first is used; default 8080).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ports: Option<Vec<Port>>,
    /// The HTTP path that receives prediction requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub predict_route: Option<String>,
    /// The HTTP path that receives health checks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_route: Option<String>,
    /// `"/*"` enables `/invoke/...` routes on dedicated endpoints.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invoke_route_prefix: Option<String>,
    /// gRPC ports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grpc_ports: Option<Vec<Port>>,
    /// How long a deployment may take (a protobuf Duration, e.g. `"3600s"`; at most 2 h).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment_timeout: Option<String>,
    /// Size of `/dev/shm` in MB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shared_memory_size_mb: Option<Int64>,
    /// Probe that decides when the container has started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub startup_probe: Option<Probe>,
    /// Probe that decides whether the container is ready for traffic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_probe: Option<Probe>,
    /// Probe that decides whether the container must be restarted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub liveness_probe: Option<Probe>,
    /// Fields this crate does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// An environment variable of the serving container.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EnvVar {
    /// The variable's name.
    #[serde(default)]
    pub name: String,
    /// Its value (may refer to earlier variables as `$(NAME)`).
    #[serde(default)]
    pub value: String,
    /// Fields this crate does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A container port.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Port {
    /// The port number (1 to 65535).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_port: Option<i32>,
    /// Fields this crate does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A container probe (`Probe`): one action plus its timing.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Probe {
    /// Run a command in the container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exec: Option<ExecAction>,
    /// Send an HTTP GET.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_get: Option<HttpGetAction>,
    /// Call the gRPC health service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grpc: Option<GrpcAction>,
    /// Open a TCP connection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tcp_socket: Option<TcpSocketAction>,
    /// Seconds between probes (default 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period_seconds: Option<i32>,
    /// Seconds before a probe times out (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<i32>,
    /// Consecutive failures that count as failed (default 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_threshold: Option<i32>,
    /// Consecutive successes that count as succeeded (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success_threshold: Option<i32>,
    /// Seconds to wait before the first probe (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_delay_seconds: Option<i32>,
    /// Fields this crate does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A probe that runs a command.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecAction {
    /// The command line; exit status 0 is healthy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    /// Fields this crate does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A probe that sends an HTTP GET.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpGetAction {
    /// The path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// The port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<i32>,
    /// The host (default: the pod IP).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// `HTTP` or `HTTPS`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheme: Option<String>,
    /// Extra request headers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_headers: Option<Vec<HttpHeader>>,
    /// Fields this crate does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// An HTTP header of an [`HttpGetAction`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpHeader {
    /// Header name.
    #[serde(default)]
    pub name: String,
    /// Header value.
    #[serde(default)]
    pub value: String,
    /// Fields this crate does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A probe that calls the gRPC health-checking service.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GrpcAction {
    /// The port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<i32>,
    /// The service name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// Fields this crate does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A probe that opens a TCP connection.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TcpSocketAction {
    /// The port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<i32>,
    /// The host (default: the pod IP).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// Fields this crate does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// An export format of a model (`ExportFormat`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportFormat {
    /// `tflite`, `edgetpu-tflite`, `tf-saved-model`, `tf-js`, `core-ml`,
    /// `custom-trained`, `genie`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// What can be exported in this format.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exportable_contents: Option<Vec<ExportableContent>>,
    /// Fields this crate does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

string_enum! {
    /// What an [`ExportFormat`] exports.
    pub enum ExportableContent {
        /// Not specified.
        Unspecified => "EXPORTABLE_CONTENT_UNSPECIFIED",
        /// The model artifact.
        Artifact => "ARTIFACT",
        /// A container image.
        Image => "IMAGE",
    }
}

string_enum! {
    /// How a model can be deployed.
    pub enum DeploymentResourcesType {
        /// Not specified.
        Unspecified => "DEPLOYMENT_RESOURCES_TYPE_UNSPECIFIED",
        /// Dedicated machines.
        DedicatedResources => "DEDICATED_RESOURCES",
        /// Machines chosen by Vertex.
        AutomaticResources => "AUTOMATIC_RESOURCES",
        /// A shared deployment resource pool.
        SharedResources => "SHARED_RESOURCES",
    }
}

/// Where a model is deployed (`DeployedModelRef`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeployedModelRef {
    /// The endpoint's resource name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// The deployed model's id in that endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployed_model_id: Option<String>,
    /// The checkpoint deployed, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint_id: Option<String>,
    /// Fields this crate does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A customer-managed encryption key (`EncryptionSpec`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EncryptionSpec {
    /// The Cloud KMS key's resource name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key_name: Option<String>,
    /// Fields this crate does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Where a model came from (`ModelSourceInfo`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelSourceInfo {
    /// The kind of source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_type: Option<ModelSourceType>,
    /// Whether the model was copied from another model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub copy: Option<bool>,
    /// Fields this crate does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

string_enum! {
    /// The `sourceType` of a [`ModelSourceInfo`].
    pub enum ModelSourceType {
        /// Not specified.
        Unspecified => "MODEL_SOURCE_TYPE_UNSPECIFIED",
        /// Trained by AutoML.
        Automl => "AUTOML",
        /// Uploaded by a user (custom training, imported artifacts).
        Custom => "CUSTOM",
        /// Registered from BigQuery ML.
        Bqml => "BQML",
        /// From Model Garden.
        ModelGarden => "MODEL_GARDEN",
        /// From Genie.
        Genie => "GENIE",
        /// A custom text-embedding model.
        CustomTextEmbedding => "CUSTOM_TEXT_EMBEDDING",
        /// From Marketplace.
        Marketplace => "MARKETPLACE",
    }
}

/// For a copied model, the model it was copied from (`OriginalModelInfo`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OriginalModelInfo {
    /// The original model's resource name, with its version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Fields this crate does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A model checkpoint (`Checkpoint`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Checkpoint {
    /// The checkpoint's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint_id: Option<String>,
    /// The epoch it was taken at.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epoch: Option<Int64>,
    /// The step it was taken at.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<Int64>,
    /// Fields this crate does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The field names of the Vertex REST `Model` resource this crate models, in
/// the reference's order. Anything else lands in [`Model::extra`].
pub const MODEL_FIELDS: &[&str] = &[
    "name",
    "versionId",
    "versionAliases",
    "versionCreateTime",
    "versionUpdateTime",
    "displayName",
    "description",
    "versionDescription",
    "defaultCheckpointId",
    "predictSchemata",
    "metadataSchemaUri",
    "metadata",
    "supportedExportFormats",
    "trainingPipeline",
    "pipelineJob",
    "containerSpec",
    "artifactUri",
    "supportedDeploymentResourcesTypes",
    "supportedInputStorageFormats",
    "supportedOutputStorageFormats",
    "createTime",
    "updateTime",
    "deployedModels",
    "explanationSpec",
    "etag",
    "labels",
    "dataStats",
    "encryptionSpec",
    "modelSourceInfo",
    "originalModelInfo",
    "metadataArtifact",
    "baseModelSource",
    "satisfiesPzs",
    "satisfiesPzi",
    "checkpoints",
];
