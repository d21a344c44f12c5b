//! # quercus-vertex
//!
//! The Vertex AI Model Registry and online-prediction contract as plain serde
//! types, with no dependency on the rest of Quercus:
//!
//! * [`Model`] — the `Model` resource (REST `v1`) and everything it holds:
//!   [`ModelContainerSpec`] (image, command, args, env, ports, routes, probes,
//!   ...), [`PredictSchemata`], [`ModelSourceInfo`], [`ExportFormat`],
//!   [`DeployedModelRef`], [`EncryptionSpec`], [`Checkpoint`]...
//! * request and response bodies: [`UploadModelRequest`] (`models:upload`),
//!   [`MergeVersionAliasesRequest`], [`ListModelsResponse`],
//!   [`PredictRequest`] (`{"instances": [...], "parameters": ...}`) and
//!   [`PredictResponse`] (`{"predictions": [...], "deployedModelId": ...}`);
//! * [`validate`] — Vertex's rules for model ids, version aliases, version ids,
//!   labels and display names;
//! * [`yaml`] — a small YAML writer for the OpenAPI schema files that
//!   `predictSchemata` points to.
//!
//! Field names are camelCase on the wire; a field that is `None` is left out;
//! every struct keeps the fields it does not know in `extra`, so a document
//! written by a newer Vertex API survives a read–write round trip unchanged.
//! String enums keep unknown values the same way (`Other`), and proto3 `int64`
//! fields are [`Int64`], a decimal string on the wire.
//!
//! ## Example
//!
//! ```
//! use quercus_vertex::{Model, ModelSourceType, UploadModelRequest, validate};
//!
//! let json = r#"{
//!   "name": "projects/p/locations/us-central1/models/churn",
//!   "versionId": "3",
//!   "versionAliases": ["default", "champion"],
//!   "displayName": "churn",
//!   "containerSpec": {"imageUri": "us-docker.pkg.dev/p/r/quercus:1",
//!                     "ports": [{"containerPort": 8080}], "predictRoute": "/predict"},
//!   "modelSourceInfo": {"sourceType": "BQML"},
//!   "someFutureField": {"kept": true}
//! }"#;
//! let model: Model = serde_json::from_str(json)?;
//! assert_eq!(model.version_id.as_deref(), Some("3"));
//! assert_eq!(
//!     model.model_source_info.as_ref().and_then(|s| s.source_type.clone()),
//!     Some(ModelSourceType::Bqml)
//! );
//! // Unknown fields survive the round trip.
//! let back: serde_json::Value = serde_json::to_value(&model)?;
//! assert_eq!(back, serde_json::from_str::<serde_json::Value>(json)?);
//!
//! // An upload body carries no output-only fields.
//! let body = UploadModelRequest { model: model.for_upload(), ..Default::default() };
//! let body = serde_json::to_value(&body)?;
//! assert!(body["model"].get("versionId").is_none());
//! assert_eq!(body["model"]["displayName"], "churn");
//!
//! assert!(validate::version_alias("champion").is_ok());
//! assert!(validate::version_alias("42").is_err()); // aliases are never numeric
//! # Ok::<(), serde_json::Error>(())
//! ```
#![deny(missing_docs)]

mod api;
mod model;
pub mod validate;
mod wire;
pub mod yaml;

pub use api::{
    ListModelsResponse, MergeVersionAliasesRequest, PredictErrorBody, PredictRequest,
    PredictResponse, UploadModelRequest,
};
pub use model::{
    Checkpoint, DeployedModelRef, DeploymentResourcesType, EncryptionSpec, EnvVar, ExecAction,
    ExportFormat, ExportableContent, GrpcAction, HttpGetAction, HttpHeader, MODEL_FIELDS, Model,
    ModelContainerSpec, ModelSourceInfo, ModelSourceType, OUTPUT_ONLY_FIELDS, OriginalModelInfo,
    Port, PredictSchemata, Probe, TcpSocketAction,
};
pub use validate::ValidationError;
pub use wire::Int64;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    /// A Model resource with every documented field set, and unknown fields at
    /// every level.
    fn full() -> Value {
        json!({
            "name": "projects/123/locations/us-central1/models/churn",
            "versionId": "2",
            "versionAliases": ["default", "champion"],
            "versionCreateTime": "2026-01-02T03:04:05.123456Z",
            "versionUpdateTime": "2026-01-02T03:04:06Z",
            "displayName": "churn",
            "description": "Churn classifier",
            "versionDescription": "retrained in January",
            "defaultCheckpointId": "ckpt-1",
            "predictSchemata": {
                "instanceSchemaUri": "gs://b/instance.yaml",
                "parametersSchemaUri": "gs://b/parameters.yaml",
                "predictionSchemaUri": "gs://b/prediction.yaml",
                "futureSchema": "x"
            },
            "metadataSchemaUri": "gs://b/metadata.yaml",
            "metadata": {"anything": [1, 2, {"goes": null}]},
            "supportedExportFormats": [
                {"id": "custom-trained", "exportableContents": ["ARTIFACT", "IMAGE", "HOLOGRAM"]}
            ],
            "trainingPipeline": "projects/123/locations/us-central1/trainingPipelines/9",
            "pipelineJob": "projects/123/locations/us-central1/pipelineJobs/8",
            "containerSpec": {
                "imageUri": "us-docker.pkg.dev/vertex-ai/prediction/xgboost-cpu.2-1:latest",
                "command": ["/bin/serve"],
                "args": ["--port", "$(AIP_HTTP_PORT)"],
                "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "$(A)", "valueFrom": {}}],
                "ports": [{"containerPort": 8080}],
                "predictRoute": "/predict",
                "healthRoute": "/health",
                "invokeRoutePrefix": "/*",
                "grpcPorts": [{"containerPort": 8500}],
                "deploymentTimeout": "3600s",
                "sharedMemorySizeMb": "1024",
                "startupProbe": {"exec": {"command": ["true"]}, "periodSeconds": 10,
                                  "timeoutSeconds": 1, "failureThreshold": 3,
                                  "successThreshold": 1, "initialDelaySeconds": 0},
                "healthProbe": {"httpGet": {"path": "/health", "port": 8080, "host": "localhost",
                                             "scheme": "HTTP",
                                             "httpHeaders": [{"name": "X", "value": "y"}]}},
                "livenessProbe": {"grpc": {"port": 8500, "service": "svc"},
                                   "tcpSocket": {"port": 8080, "host": "h"}, "newKnob": 7},
                "futureField": [1]
            },
            "artifactUri": "gs://b/model/",
            "supportedDeploymentResourcesTypes": ["DEDICATED_RESOURCES", "SHARED_RESOURCES"],
            "supportedInputStorageFormats": ["jsonl", "csv", "bigquery"],
            "supportedOutputStorageFormats": ["jsonl", "bigquery"],
            "createTime": "2026-01-01T00:00:00Z",
            "updateTime": "2026-01-02T00:00:00Z",
            "deployedModels": [{"endpoint": "projects/1/locations/l/endpoints/2",
                                "deployedModelId": "3", "checkpointId": "c"}],
            "explanationSpec": {"parameters": {"sampledShapleyAttribution": {"pathCount": 10}}},
            "etag": "abc",
            "labels": {"env": "prod", "team": "risk"},
            "dataStats": {"trainingDataItemsCount": "10"},
            "encryptionSpec": {"kmsKeyName": "projects/p/locations/l/keyRings/r/cryptoKeys/k"},
            "modelSourceInfo": {"sourceType": "BQML", "copy": false},
            "originalModelInfo": {"model": "projects/1/locations/l/models/m@1"},
            "metadataArtifact": "projects/1/locations/l/metadataStores/default/artifacts/a",
            "baseModelSource": {"modelGardenSource": {"publicModelName": "x"}},
            "satisfiesPzs": false,
            "satisfiesPzi": true,
            "checkpoints": [{"checkpointId": "c", "epoch": "3", "step": "300"}],
            "aFieldFromTheFuture": {"nested": ["kept"]}
        })
    }

    #[test]
    fn every_field_round_trips_and_unknown_ones_survive() {
        let v = full();
        let m: Model = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(m.extra.len(), 1, "only the unknown field lands in extra");
        assert!(m.extra.contains_key("aFieldFromTheFuture"));
        let spec = m.container_spec.as_ref().unwrap();
        assert_eq!(spec.shared_memory_size_mb, Some(Int64(1024)));
        assert!(spec.extra.contains_key("futureField"));
        assert_eq!(
            m.supported_export_formats.as_ref().unwrap()[0]
                .exportable_contents
                .as_ref()
                .unwrap()[2],
            ExportableContent::Other("HOLOGRAM".into())
        );
        let back = serde_json::to_value(&m).unwrap();
        assert_eq!(back, v);
        // Every key of the document is a documented field, or kept in extra.
        for k in v.as_object().unwrap().keys() {
            assert!(
                MODEL_FIELDS.contains(&k.as_str()) || m.extra.contains_key(k),
                "{k}"
            );
        }
        // ...and every documented field is modelled (none of them lands in extra).
        assert_eq!(MODEL_FIELDS.len(), v.as_object().unwrap().len() - 1);
    }

    #[test]
    fn none_fields_are_left_out() {
        let m = Model {
            display_name: Some("x".into()),
            ..Model::default()
        };
        assert_eq!(serde_json::to_string(&m).unwrap(), r#"{"displayName":"x"}"#);
    }

    #[test]
    fn upload_body_has_no_output_only_fields() {
        let m: Model = serde_json::from_value(full()).unwrap();
        let up = serde_json::to_value(m.for_upload()).unwrap();
        let obj = up.as_object().unwrap();
        for f in OUTPUT_ONLY_FIELDS {
            assert!(!obj.contains_key(*f), "{f}");
        }
        for f in [
            "displayName",
            "containerSpec",
            "predictSchemata",
            "artifactUri",
            "labels",
        ] {
            assert!(obj.contains_key(f), "{f}");
        }
        // metadata is kept with its schema, dropped without one.
        assert!(obj.contains_key("metadata"));
        let mut m2 = m.clone();
        m2.metadata_schema_uri = None;
        assert!(m2.for_upload().metadata.is_none());
    }

    #[test]
    fn predict_bodies() {
        let req: PredictRequest =
            serde_json::from_str(r#"{"instances": [[1, 2], {"a": "b"}], "parameters": {"k": 1}}"#)
                .unwrap();
        assert_eq!(req.instances.len(), 2);
        assert_eq!(req.parameters, Some(json!({"k": 1})));
        let resp = json!({
            "predictions": [{"nearest_centroid_id": [3]}],
            "deployedModelId": "5967942407382106112",
            "model": "projects/591702499920/locations/us-central1/models/7915265461103624192",
            "modelDisplayName": "userclustermodel",
            "modelVersionId": "1"
        });
        let r: PredictResponse = serde_json::from_value(resp.clone()).unwrap();
        assert_eq!(r.model_version_id.as_deref(), Some("1"));
        assert_eq!(serde_json::to_value(&r).unwrap(), resp);
        assert!(serde_json::from_str::<PredictRequest>("{}").is_err());
    }

    #[test]
    fn merge_and_list_bodies() {
        let m: MergeVersionAliasesRequest =
            serde_json::from_str(r#"{"versionAliases": ["prod", "-golden"]}"#).unwrap();
        assert_eq!(m.version_aliases, ["prod", "-golden"]);
        let l: ListModelsResponse =
            serde_json::from_value(json!({"models": [full()], "nextPageToken": "t"})).unwrap();
        assert_eq!(l.models[0].version_id.as_deref(), Some("2"));
    }
}
