//! `quercus vertex ...` and `quercus inspect --vertex`: Vertex AI Model
//! Registry metadata of a model.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::Result;
use quercus::{LoadOptions, MetadataOptions, Model, UploadRequestOptions};

use crate::usage;

/// Prints the model's `Model` resource (`quercus inspect --vertex MODEL`).
pub fn inspect(model: &Model) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(&model.metadata())?);
    Ok(())
}

/// Parses `k=v,k2=v2` into `labels` (later keys win).
pub fn parse_labels(text: &str, labels: &mut BTreeMap<String, String>) -> Result<()> {
    for item in text.split(',').filter(|s| !s.is_empty()) {
        let (k, v) = item
            .split_once('=')
            .ok_or_else(|| usage(format!("--labels: `{item}` is not KEY=VALUE")))?;
        labels.insert(k.to_string(), v.to_string());
    }
    Ok(())
}

/// Parses `a,b` into `list`.
pub fn parse_list(text: &str, list: &mut Vec<String>) {
    list.extend(
        text.split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_string),
    );
}

/// Takes the value of `flag`: `--flag=value` or `--flag value`.
pub fn flag_value(
    flag: &str,
    inline: Option<&str>,
    it: &mut std::slice::Iter<'_, String>,
) -> Result<String> {
    match inline {
        Some(v) => Ok(v.to_string()),
        None => it
            .next()
            .cloned()
            .ok_or_else(|| usage(format!("{flag} needs a value"))),
    }
}

/// `quercus vertex SUBCOMMAND ...`.
pub fn run(args: &[String]) -> Result<()> {
    match args.first().map(String::as_str) {
        Some("upload-request") => upload_request(&args[1..]),
        Some(other) => Err(usage(format!("unknown vertex command `{other}`"))),
        None => Err(usage("`quercus vertex` needs a command: upload-request")),
    }
}

/// `quercus vertex upload-request MODEL [OPTIONS] -o DIR`.
fn upload_request(args: &[String]) -> Result<()> {
    let mut model: Option<PathBuf> = None;
    let mut out: Option<PathBuf> = None;
    let mut legacy = false;
    let mut opts = UploadRequestOptions::default();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v)),
            _ => (arg.as_str(), None),
        };
        let m = &mut opts.metadata;
        match flag {
            "--output" | "-o" => out = Some(flag_value(flag, inline, &mut it)?.into()),
            "--display-name" => m.display_name = Some(flag_value(flag, inline, &mut it)?),
            "--description" => m.description = Some(flag_value(flag, inline, &mut it)?),
            "--version-description" => {
                m.version_description = Some(flag_value(flag, inline, &mut it)?);
            }
            "--artifact-uri" => m.artifact_uri = Some(flag_value(flag, inline, &mut it)?),
            "--image-uri" => m.image_uri = Some(flag_value(flag, inline, &mut it)?),
            "--schemata-uri" => m.schemata_uri = Some(flag_value(flag, inline, &mut it)?),
            "--labels" => parse_labels(&flag_value(flag, inline, &mut it)?, &mut m.labels)?,
            "--aliases" => parse_list(&flag_value(flag, inline, &mut it)?, &mut m.version_aliases),
            "--model-id" => opts.model_id = Some(flag_value(flag, inline, &mut it)?),
            "--parent-model" => opts.parent_model = Some(flag_value(flag, inline, &mut it)?),
            "--legacy-summation" => legacy = true,
            f if f.starts_with('-') && f.len() > 1 => {
                return Err(usage(format!("unknown option `{f}`")));
            }
            _ if model.is_none() => model = Some(arg.into()),
            _ => return Err(usage(format!("unexpected argument `{arg}`"))),
        }
    }
    let model_path = model.ok_or_else(|| usage("MODEL is required"))?;
    let out = out.ok_or_else(|| usage("--output DIR (-o DIR) is required"))?;
    // Check the options before loading, so a typo fails fast.
    check(&opts.metadata)?;
    let model = Model::load_with(&model_path, &LoadOptions::legacy_summation(legacy))?;
    for path in model.write_upload_request(&out, &opts)? {
        println!("{}", path.display());
    }
    Ok(())
}

fn check(m: &MetadataOptions) -> Result<()> {
    m.validate()?;
    Ok(())
}
