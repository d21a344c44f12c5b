//! `quercus registry ...`: the local model registry.

use std::path::PathBuf;

use anyhow::Result;
use quercus::registry::{Registry, UploadOptions};
use quercus::{LoadOptions, vertex};

use crate::usage;
use crate::vertex::{flag_value, parse_labels, parse_list};

/// Parsed `quercus registry` arguments: positionals plus options.
#[derive(Default)]
struct RegArgs {
    root: Option<PathBuf>,
    positional: Vec<String>,
    json: bool,
    force: bool,
    legacy: bool,
    upload: UploadOptions,
}

impl RegArgs {
    /// Parses options anywhere. For `merge-aliases`, `-alias` (one dash) is a
    /// positional: an alias to remove.
    fn parse(args: &[String]) -> Result<RegArgs> {
        let mut a = RegArgs::default();
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            let (flag, inline) = match arg.split_once('=') {
                Some((f, v)) if f.starts_with("--") => (f, Some(v)),
                _ => (arg.as_str(), None),
            };
            let u = &mut a.upload;
            match flag {
                "--registry" => a.root = Some(flag_value(flag, inline, &mut it)?.into()),
                "--json" => a.json = true,
                "--force" => a.force = true,
                "--legacy-summation" => a.legacy = true,
                "--model-id" => u.model_id = flag_value(flag, inline, &mut it)?,
                "--display-name" => u.display_name = Some(flag_value(flag, inline, &mut it)?),
                "--description" => u.description = Some(flag_value(flag, inline, &mut it)?),
                "--version-description" => {
                    u.version_description = Some(flag_value(flag, inline, &mut it)?);
                }
                "--labels" => parse_labels(&flag_value(flag, inline, &mut it)?, &mut u.labels)?,
                "--aliases" => parse_list(&flag_value(flag, inline, &mut it)?, &mut u.aliases),
                "-h" | "--help" => return Err(usage("see the REGISTRY section of the usage")),
                f if f.starts_with("--") => {
                    return Err(usage(format!("unknown option `{f}`")));
                }
                _ => a.positional.push(arg.clone()),
            }
        }
        Ok(a)
    }

    fn registry(&self) -> Result<Registry> {
        Ok(match &self.root {
            Some(r) => Registry::open(r)?,
            None => Registry::open_default()?,
        })
    }

    /// Exactly `n` positionals after the command, named `what`.
    fn exactly(&self, n: usize, what: &str) -> Result<()> {
        if self.positional.len() != n {
            return Err(usage(format!(
                "`quercus registry {}` takes {what}",
                self.positional.first().map_or("", String::as_str)
            )));
        }
        Ok(())
    }
}

fn print_json<T: serde::Serialize>(v: &T) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

/// `quercus registry SUBCOMMAND ...`.
pub fn run(args: &[String]) -> Result<()> {
    let a = RegArgs::parse(args)?;
    let Some(cmd) = a.positional.first().cloned() else {
        return Err(usage(
            "`quercus registry` needs a command: upload, list, describe, delete, \
             merge-aliases, verify",
        ));
    };
    match cmd.as_str() {
        "upload" => {
            a.exactly(2, "one MODEL (and --model-id ID)")?;
            if a.upload.model_id.is_empty() {
                return Err(usage("upload needs --model-id ID"));
            }
            let mut opts = a.upload.clone();
            opts.load = LoadOptions::legacy_summation(a.legacy);
            let m = a.registry()?.upload(&a.positional[1], &opts)?;
            print_json(&m)
        }
        "list" => {
            let reg = a.registry()?;
            let models = match a.positional.len() {
                1 => reg.list()?,
                2 => reg.list_versions(&a.positional[1])?,
                _ => return Err(usage("`quercus registry list` takes at most one model id")),
            };
            if a.json {
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
        "describe" => {
            a.exactly(2, "one ID[@VERSION|@ALIAS]")?;
            print_json(&a.registry()?.describe(&a.positional[1])?)
        }
        "delete" => {
            a.exactly(2, "one ID@VERSION")?;
            a.registry()?.delete(&a.positional[1], a.force)?;
            println!("deleted {}", a.positional[1]);
            Ok(())
        }
        "merge-aliases" => {
            if a.positional.len() < 3 {
                return Err(usage(
                    "`quercus registry merge-aliases` takes ID@VERSION and at least one \
                     ALIAS (add) or -ALIAS (remove)",
                ));
            }
            print_json(
                &a.registry()?
                    .merge_aliases(&a.positional[1], &a.positional[2..])?,
            )
        }
        "verify" => {
            a.exactly(2, "one ID[@VERSION|@ALIAS]")?;
            let reg = a.registry()?;
            let (id, v) = reg.resolve(&a.positional[1])?;
            reg.verify(&format!("{id}@{v}"))?;
            println!("{id}@{v}: every file matches its recorded SHA-256");
            Ok(())
        }
        other => Err(usage(format!("unknown registry command `{other}`"))),
    }
}
