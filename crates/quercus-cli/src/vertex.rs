//! `quercus vertex ...` and `quercus inspect --vertex`: Vertex AI Model
//! Registry metadata of a model.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Result, bail};
use clap::{Args, Subcommand, ValueHint};
use quercus::{MetadataOptions, Model, UploadRequestOptions};

use crate::cli::ModelArgs;

/// `quercus vertex`.
#[derive(Args)]
#[command(subcommand_required = true)]
pub(crate) struct VertexArgs {
    #[command(subcommand)]
    cmd: VertexCmd,
}

#[derive(Subcommand)]
enum VertexCmd {
    /// Write the body of a Vertex AI models:upload call and the OpenAPI schemata it
    /// points to
    #[command(
        override_usage = "quercus vertex upload-request <MODEL> --output <DIR> [OPTIONS]",
        long_about = "Write DIR/upload-request.json, the body of a Vertex AI models:upload call \
                      ({\"modelId\": ..., \"model\": {...}}), and the OpenAPI 3.0 schemata it \
                      points to, DIR/instance.yaml and DIR/prediction.yaml, generated from the \
                      model. Labels, aliases, model ids and display names are checked against \
                      Vertex's rules before anything is written.",
        after_help = "\
Example:
  quercus vertex upload-request models/bqml/synthetic_churn_classifier -o upload/ \\
      --display-name Churn --model-id churn --artifact-uri gs://my-bucket/churn/ \\
      --labels team=risk"
    )]
    UploadRequest(UploadRequestArgs),
}

/// `quercus vertex upload-request`.
#[derive(Args)]
struct UploadRequestArgs {
    #[command(flatten)]
    model: ModelArgs,

    /// The directory to write upload-request.json, instance.yaml and prediction.yaml to
    #[arg(short, long, value_name = "DIR", value_hint = ValueHint::DirPath)]
    output: PathBuf,

    /// The model's display name [default: from the model file's name]
    #[arg(long, value_name = "NAME", allow_hyphen_values = true)]
    display_name: Option<String>,

    /// The model's description
    #[arg(long, value_name = "TEXT", allow_hyphen_values = true)]
    description: Option<String>,

    /// The version's description
    #[arg(long, value_name = "TEXT", allow_hyphen_values = true)]
    version_description: Option<String>,

    /// Where the model's files will be in Cloud Storage (gs://...)
    #[arg(long, value_name = "URI")]
    artifact_uri: Option<String>,

    /// A custom serving container [default: Google's prebuilt one for the model]
    #[arg(long, value_name = "URI")]
    image_uri: Option<String>,

    /// Where the schemata will be [default: the artifact URI]
    #[arg(long, value_name = "DIR")]
    schemata_uri: Option<String>,

    /// Labels, KEY=VALUE separated by commas (repeatable; a later key wins)
    #[arg(long, value_name = "K=V,...", value_parser = parse_labels)]
    labels: Vec<Labels>,

    /// Version aliases, separated by commas (repeatable)
    #[arg(long, value_name = "A,B,...")]
    aliases: Vec<String>,

    /// The id of the new model
    #[arg(long, value_name = "ID")]
    model_id: Option<String>,

    /// Upload as a new version of this model (projects/.../models/ID)
    #[arg(long, value_name = "NAME")]
    parent_model: Option<String>,
}

/// Prints the model's `Model` resource (`quercus inspect --vertex MODEL`).
pub fn inspect(model: &Model) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(&model.metadata())?);
    Ok(())
}

/// The pairs of one `--labels k=v,k2=v2`.
#[derive(Clone, Debug)]
pub(crate) struct Labels(Vec<(String, String)>);

/// Parses `k=v,k2=v2` (a value parser: `--labels`).
pub(crate) fn parse_labels(text: &str) -> Result<Labels, String> {
    text.split(',')
        .filter(|s| !s.is_empty())
        .map(|item| {
            item.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .ok_or_else(|| format!("`{item}` is not KEY=VALUE"))
        })
        .collect::<Result<_, _>>()
        .map(Labels)
}

/// Every `--labels` in one map (later keys win).
pub(crate) fn merge_labels(all: &[Labels]) -> BTreeMap<String, String> {
    all.iter().flat_map(|l| l.0.iter().cloned()).collect()
}

/// Every `--aliases a,b` in one list.
pub(crate) fn merge_list(all: &[String]) -> Vec<String> {
    all.iter()
        .flat_map(|text| text.split(','))
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// `quercus vertex SUBCOMMAND ...`.
pub(crate) fn run(args: VertexArgs) -> Result<()> {
    match args.cmd {
        VertexCmd::UploadRequest(a) => upload_request(a),
    }
}

/// `quercus vertex upload-request MODEL [OPTIONS] -o DIR`.
fn upload_request(a: UploadRequestArgs) -> Result<()> {
    let mut opts = UploadRequestOptions::default();
    let m = &mut opts.metadata;
    m.display_name = a.display_name;
    m.description = a.description;
    m.version_description = a.version_description;
    m.artifact_uri = a.artifact_uri;
    m.image_uri = a.image_uri;
    m.schemata_uri = a.schemata_uri;
    m.labels = merge_labels(&a.labels);
    m.version_aliases = merge_list(&a.aliases);
    opts.model_id = a.model_id;
    opts.parent_model = a.parent_model;
    // Check the options before loading, so a typo fails fast.
    check(&opts.metadata)?;
    let m = &opts.metadata;
    if m.artifact_uri.is_none() && m.image_uri.is_none() {
        bail!(
            "--artifact-uri gs://BUCKET/DIR/ is required: Vertex's prebuilt serving containers \
             read the model from it, and the schema URIs are made absolute under it (with a \
             custom --image-uri, pass --schemata-uri gs://... instead)"
        );
    }
    if m.artifact_uri.is_none() && m.schemata_uri.is_none() {
        bail!(
            "the predict schemata need an absolute location: pass --artifact-uri gs://... or \
             --schemata-uri gs://..."
        );
    }
    if let Some(uri) = m
        .artifact_uri
        .as_deref()
        .filter(|u| !u.starts_with("gs://"))
    {
        eprintln!(
            "warning: artifact URI {uri} is not a gs:// URI; Vertex AI reads artifacts from Cloud Storage"
        );
    }
    let model = a.model.load()?;
    for path in model.write_upload_request(&a.output, &opts)? {
        println!("{}", path.display());
    }
    if model.bqml().is_none()
        && opts.metadata.image_uri.is_none()
        && model.info().format != quercus::Format::LegacyBinary
    {
        eprintln!(
            "warning: Vertex's prebuilt XGBoost container ({}) loads a file named model.bst from \
             the artifact URI; this model is {} ({}). Save it as model.bst with the XGBoost that \
             serves it (Booster.save_model(\"model.bst\")), or serve this file with a custom \
             container (--image-uri, e.g. one running `quercus serve`)",
            quercus::metadata::XGBOOST_IMAGE,
            a.model.model.display(),
            model.info().format.name(),
        );
    }
    Ok(())
}

fn check(m: &MetadataOptions) -> Result<()> {
    m.validate()?;
    Ok(())
}
