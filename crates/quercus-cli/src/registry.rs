//! `quercus registry ...`: the local model registry.

use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, Subcommand, ValueHint};
use quercus::registry::{Registry, UploadOptions};
use quercus::vertex;

use crate::cli::ModelArgs;
use crate::usage;
use crate::vertex::{Labels, merge_labels, merge_list, parse_labels};

/// `quercus registry`.
#[derive(Args)]
#[command(subcommand_required = true)]
pub(crate) struct RegistryArgs {
    /// The registry's root directory [default: $QUERCUS_REGISTRY, else ~/.quercus/registry]
    #[arg(long, global = true, value_name = "DIR", value_hint = ValueHint::DirPath)]
    registry: Option<PathBuf>,

    #[command(subcommand)]
    cmd: RegCmd,
}

#[derive(Subcommand)]
enum RegCmd {
    /// Copy a model in as the next version of ID (the first version gets the alias
    /// `default`) and print its Model resource
    #[command(
        override_usage = "quercus registry upload <MODEL> --model-id <ID> [OPTIONS]",
        after_help = "\
Example:
  quercus registry upload models/example/model.json --model-id churn --labels env=dev
  quercus registry upload retrained.json --model-id churn --aliases champion \\
      --version-description \"retrained in May\""
    )]
    Upload(UploadArgs),

    /// List every model (its default version), or the versions of ID
    #[command(after_help = "\
Example:
  quercus registry list
  quercus registry list churn --json")]
    List {
        /// A model id: list its versions and aliases
        #[arg(value_name = "ID")]
        id: Option<String>,

        /// Print a Vertex AI ListModelsResponse (JSON)
        #[arg(long)]
        json: bool,
    },

    /// Print a version's Model resource (the Vertex AI REST API's JSON)
    #[command(after_help = "\
Example:
  quercus registry describe churn             the default version
  quercus registry describe churn@champion")]
    Describe {
        /// ID, ID@VERSION or ID@ALIAS
        #[arg(value_name = "ID[@VERSION|@ALIAS]")]
        target: String,
    },

    /// Delete a version (`default` moves to the newest remaining one; deleting the last
    /// version deletes the model)
    #[command(after_help = "\
Example:
  quercus registry delete churn@1
  quercus registry delete churn@2 --force     it carries aliases")]
    Delete {
        /// The version to delete
        #[arg(value_name = "ID@VERSION")]
        target: String,

        /// Delete a version that carries aliases other than `default`
        #[arg(long)]
        force: bool,
    },

    /// Add aliases to a version, or remove them (-ALIAS); an added alias moves from the
    /// version that has it, and `default` cannot be removed
    #[command(after_help = "\
Example:
  quercus registry merge-aliases churn@2 default champion -canary")]
    MergeAliases {
        /// The version to change
        #[arg(value_name = "ID@VERSION")]
        target: String,

        /// ALIAS adds, -ALIAS removes
        #[arg(
            value_name = "ALIAS|-ALIAS",
            required = true,
            num_args = 1..,
            allow_hyphen_values = true
        )]
        aliases: Vec<String>,
    },

    /// Re-hash a version's files and compare with the SHA-256 recorded at upload
    #[command(after_help = "\
Example:
  quercus registry verify churn@2")]
    Verify {
        /// ID, ID@VERSION or ID@ALIAS
        #[arg(value_name = "ID[@VERSION|@ALIAS]")]
        target: String,
    },
}

/// `quercus registry upload`.
#[derive(Args)]
struct UploadArgs {
    #[command(flatten)]
    model: ModelArgs,

    /// The model id (`[a-z0-9_-]`, at most 63, no leading digit or `-`); created if new
    #[arg(long, value_name = "ID")]
    model_id: String,

    /// The display name [default: the file or directory name]
    #[arg(long, value_name = "NAME", allow_hyphen_values = true)]
    display_name: Option<String>,

    /// Labels, KEY=VALUE separated by commas (repeatable; a later key wins)
    #[arg(long, value_name = "K=V,...", value_parser = parse_labels)]
    labels: Vec<Labels>,

    /// Aliases of the new version, separated by commas (repeatable); moved from the
    /// versions that carry them
    #[arg(long, value_name = "A,B,...")]
    aliases: Vec<String>,

    /// The model's description
    #[arg(long, value_name = "TEXT", allow_hyphen_values = true)]
    description: Option<String>,

    /// The new version's description
    #[arg(long, value_name = "TEXT", allow_hyphen_values = true)]
    version_description: Option<String>,
}

fn print_json<T: serde::Serialize>(v: &T) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

/// `quercus registry SUBCOMMAND ...`.
pub(crate) fn run(args: RegistryArgs) -> Result<()> {
    let mut root = args.registry;
    let registry = |root: &Option<PathBuf>| -> Result<Registry> {
        Ok(match root {
            Some(r) => Registry::open(r)?,
            None => Registry::open_default()?,
        })
    };
    match args.cmd {
        RegCmd::Upload(a) => {
            let mut opts = UploadOptions::new(a.model_id);
            opts.display_name = a.display_name;
            opts.description = a.description;
            opts.version_description = a.version_description;
            opts.labels = merge_labels(&a.labels);
            opts.aliases = merge_list(&a.aliases);
            opts.load = a.model.options();
            let m = registry(&root)?.upload(&a.model.model, &opts)?;
            print_json(&m)
        }
        RegCmd::List { id, json } => {
            let reg = registry(&root)?;
            let models = match &id {
                None => reg.list()?,
                Some(id) => reg.list_versions(id)?,
            };
            if json {
                return print_json(&vertex::ListModelsResponse {
                    models,
                    ..Default::default()
                });
            }
            println!(
                "{:<24} {:>7}  {:<28} {:<28} DISPLAY NAME",
                "MODEL", "VERSION", "ALIASES", "CREATED"
            );
            for m in &models {
                let id = m
                    .name
                    .as_deref()
                    .and_then(|n| n.rsplit('/').next())
                    .unwrap_or("");
                println!(
                    "{:<24} {:>7}  {:<28} {:<28} {}",
                    id,
                    m.version_id.as_deref().unwrap_or(""),
                    m.version_aliases.clone().unwrap_or_default().join(","),
                    m.version_create_time.as_deref().unwrap_or(""),
                    m.display_name.as_deref().unwrap_or("")
                );
            }
            Ok(())
        }
        RegCmd::Describe { target } => print_json(&registry(&root)?.describe(&target)?),
        RegCmd::Delete { target, force } => {
            registry(&root)?.delete(&target, force)?;
            println!("deleted {target}");
            Ok(())
        }
        RegCmd::MergeAliases { target, aliases } => {
            // ALIAS takes hyphenated values (-ALIAS removes), so an option
            // written after the aliases arrives among them: take it out.
            let mut kept = Vec::new();
            let mut it = aliases.into_iter();
            while let Some(a) = it.next() {
                match a.as_str() {
                    "-h" | "--help" => {
                        return crate::print_help("registry merge-aliases", a == "--help");
                    }
                    "--registry" => {
                        let dir = it.next().ok_or_else(|| {
                            usage("registry merge-aliases", "--registry needs a value DIR")
                        })?;
                        root = Some(dir.into());
                    }
                    _ if a.starts_with("--registry=") => {
                        root = Some(a["--registry=".len()..].into());
                    }
                    _ if a.starts_with("--") => {
                        return Err(usage(
                            "registry merge-aliases",
                            format!("unexpected argument `{a}` after the aliases"),
                        ));
                    }
                    _ => kept.push(a),
                }
            }
            print_json(&registry(&root)?.merge_aliases(&target, &kept)?)
        }
        RegCmd::Verify { target } => {
            let reg = registry(&root)?;
            let (id, v) = reg.resolve(&target)?;
            reg.verify(&format!("{id}@{v}"))?;
            println!("{id}@{v}: every file matches its recorded SHA-256");
            Ok(())
        }
    }
}
