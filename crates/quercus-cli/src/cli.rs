//! The command line, declared once with `clap`: parsing, `--help`, the shell
//! completions (`quercus completions`) and the man page (`quercus man`) are
//! all generated from these definitions.

use std::path::PathBuf;

use anyhow::Result;
use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
use clap::{Args, Parser, Subcommand, ValueHint};
use quercus::{Kernel, LoadOptions, Model};

use crate::{bench, registry, vertex};

const LONG_ABOUT: &str = "\
Exact, fast, in-process predictions for XGBoost and BigQuery ML tree models.

MODEL is an XGBoost model file in any format (JSON, UBJSON, legacy binary; the
format is detected from the bytes), a compiled .qpack (`quercus compile`:
loaded by memory-mapping, so the file must not change while it is loaded), a
BigQuery ML EXPORT MODEL directory (model.bst + assets/), or a version in the
local registry: registry://ID, registry://ID@VERSION or registry://ID@ALIAS
(its content hash is checked).

Errors print one line naming the file, the line and the column, exit 1, and
write nothing; command-line mistakes exit 2.";

const EXAMPLES: &str = "\
Examples:
  quercus inspect models/example/model.json
  quercus predict models/example/model.json --input rows.csv --output predictions.csv
  quercus predict registry://churn@champion -i rows.jsonl -o predictions.npy --margin
  quercus registry upload model.json --model-id churn
  quercus <COMMAND> --help          the options of one command";

/// `quercus`: the top-level command.
#[derive(Parser)]
#[command(
    name = "quercus",
    version,
    about = "Exact, fast, in-process predictions for XGBoost and BigQuery ML tree models",
    long_about = LONG_ABOUT,
    after_help = EXAMPLES,
    max_term_width = 100
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Option<Cmd>,
}

/// The subcommands, in the order `--help` lists them.
#[derive(Subcommand)]
pub(crate) enum Cmd {
    /// Show a model's format, objective, trees, features and outputs
    #[command(
        override_usage = "quercus inspect <MODEL> [OPTIONS]",
        long_about = "Show a model's format, the XGBoost version that wrote it, the booster, \
                      objective, trees, depth, features (names and types) and outputs. For a \
                      BigQuery ML export: each input column's encoding, its booster inputs, \
                      vocabulary size and asset file, and the label classes.",
        after_help = "\
Example:
  quercus inspect models/example/model.json
  quercus inspect models/bqml/synthetic_churn_classifier --json
  quercus inspect --vertex registry://churn@champion"
    )]
    Inspect(InspectArgs),

    /// Predict every row of a file and write the predictions to another
    #[command(
        override_usage = "quercus predict <MODEL> --input <IN> --output <OUT> [OPTIONS]",
        long_about = "Predict every row of --input and write the predictions to --output, in \
                      the format its extension names. NaN is always missing; --missing V makes \
                      V missing too, like XGBoost's `missing`. On any error nothing is written.",
        after_help = "\
Example:
  quercus predict models/example/model.json --input models/example/input.csv --output p.csv
  quercus predict model.json -i rows.npy -o margins.npy --margin --iteration-range 0:50
  quercus predict models/bqml/synthetic_churn_classifier -i instances.jsonl -o p.jsonl"
    )]
    Predict(PredictArgs),

    /// Write the packed .qpack form the prediction kernels walk
    #[command(
        override_usage = "quercus compile <MODEL> --output <OUT.qpack> [OPTIONS]",
        long_about = "Write the packed .qpack form the prediction kernels walk. Every command \
                      recognises a .qpack by its first bytes and memory-maps it: loading is a \
                      checksum plus a bounds check of every tree. The compiled form keeps the \
                      arithmetic chosen at compile time (--legacy-summation). The file is \
                      written to a temporary name and renamed into place.",
        after_help = "\
Example:
  quercus compile models/example/model.json --output model.qpack"
    )]
    Compile(bench::CompileArgs),

    /// Measure rows per second for batches and the latency of one-row calls
    #[command(
        override_usage = "quercus bench <MODEL> [OPTIONS]",
        long_about = "Measure rows per second predicting batches of --batch rows (the median of \
                      --runs runs) and the median and p99 latency of one-row calls on the \
                      calling thread, on --input rows or on rows drawn around the model's own \
                      split thresholds.",
        after_help = "\
Example:
  quercus bench models/example/model.json --batch 10000 --threads 1 --json"
    )]
    Bench(bench::BenchArgs),

    /// Vertex AI Model Registry metadata: `vertex upload-request`
    #[command(after_help = "\
Example:
  quercus vertex upload-request models/bqml/synthetic_churn_classifier -o upload/ \\
      --display-name Churn --model-id churn --artifact-uri gs://my-bucket/churn/")]
    Vertex(vertex::VertexArgs),

    /// The local model registry: upload, list, describe, delete, merge-aliases, verify
    #[command(
        long_about = "The local model registry, with the Vertex AI Model Registry's semantics. \
                      It lives in --registry DIR, else $QUERCUS_REGISTRY, else \
                      ~/.quercus/registry. Predict from it with MODEL = registry://ID[@VERSION|@ALIAS].",
        after_help = "\
Example:
  quercus registry upload models/example/model.json --model-id churn --labels env=dev
  quercus registry list churn
  quercus registry merge-aliases churn@2 champion -canary
  quercus predict registry://churn@champion --input rows.csv --output p.csv"
    )]
    Registry(registry::RegistryArgs),

    /// Times JSON instances -> JSON predictions in-process (for BENCHMARKS.md)
    #[command(
        hide = true,
        after_help = "\
Example:
  quercus bench-instances models/bqml/synthetic_churn_classifier --input instances.jsonl --batch 1"
    )]
    BenchInstances(BenchInstancesArgs),

    /// Print a shell completion script (bash, zsh, fish, elvish, powershell)
    #[command(after_help = "\
Example:
  quercus completions bash > ~/.local/share/bash-completion/completions/quercus
  quercus completions zsh > ~/.zfunc/_quercus
  quercus completions fish > ~/.config/fish/completions/quercus.fish")]
    Completions(CompletionsArgs),

    /// Print the man page (roff), of quercus or of one of its commands
    #[command(after_help = "\
Example:
  quercus man > quercus.1 && man ./quercus.1
  quercus man predict | man -l -")]
    Man(ManArgs),
}

/// MODEL and how to load it: shared by every command that loads a model.
#[derive(Args)]
pub(crate) struct ModelArgs {
    #[arg(
        value_name = "MODEL",
        value_hint = ValueHint::AnyPath,
        help = "An XGBoost model file, a compiled .qpack, a BigQuery ML export directory, or \
                registry://ID[@VERSION|@ALIAS]"
    )]
    pub(crate) model: PathBuf,

    /// Reproduce the arithmetic of the XGBoost version that wrote the file exactly
    /// (summation order, base score, sigmoid)
    #[arg(long)]
    pub(crate) legacy_summation: bool,

    /// The largest model file read, in bytes (a larger one is refused before
    /// it is read)
    #[arg(long, value_name = "BYTES", default_value_t = quercus::DEFAULT_MAX_BYTES)]
    pub(crate) max_model_bytes: u64,
}

impl ModelArgs {
    pub(crate) fn options(&self) -> LoadOptions {
        LoadOptions::legacy_summation(self.legacy_summation).with_max_bytes(self.max_model_bytes)
    }

    pub(crate) fn load(&self) -> Result<Model> {
        Ok(Model::load_with(&self.model, &self.options())?)
    }
}

/// `quercus inspect`.
#[derive(Args)]
pub(crate) struct InspectArgs {
    #[command(flatten)]
    pub(crate) model: ModelArgs,

    /// Print the summary as JSON
    #[arg(long)]
    pub(crate) json: bool,

    /// Print the model as a Vertex AI Model resource (the REST API's JSON) instead of
    /// the summary
    #[arg(long)]
    pub(crate) vertex: bool,
}

/// `quercus predict`.
#[derive(Args)]
pub(crate) struct PredictArgs {
    #[command(flatten)]
    pub(crate) model: ModelArgs,

    /// Rows to predict: .npy (2-D float32/float64), .csv (a header row of feature
    /// names; an empty field is missing) or .jsonl (one array of numbers, or one object
    /// keyed by feature name, per line). For a BigQuery ML export: .jsonl instances or a
    /// .json Vertex AI request {"instances": [...]}
    #[arg(short, long, value_name = "IN", value_hint = ValueHint::FilePath)]
    pub(crate) input: PathBuf,

    /// Where to write the predictions: .npy, .csv or .jsonl, chosen by the extension
    /// (.jsonl or .json for a BigQuery ML export). Must not be the input file
    #[arg(short, long, value_name = "OUT", value_hint = ValueHint::FilePath)]
    pub(crate) output: PathBuf,

    /// Output raw margins (no objective transform)
    #[arg(long, conflicts_with = "leaf")]
    pub(crate) margin: bool,

    /// Output the index of the leaf reached in each tree
    #[arg(long)]
    pub(crate) leaf: bool,

    /// Treat V as missing, in addition to NaN
    #[arg(long, value_name = "V", allow_hyphen_values = true)]
    pub(crate) missing: Option<f32>,

    /// Use boosting rounds A..B only (B = 0: to the end)
    #[arg(long, value_name = "A:B", value_parser = parse_iteration_range)]
    pub(crate) iteration_range: Option<(usize, usize)>,

    /// Threads to use [default: all cores for big inputs]
    #[arg(long, value_name = "N", value_parser = parse_positive)]
    pub(crate) threads: Option<usize>,

    /// The prediction kernel; all give identical results
    #[arg(long, value_name = "K", default_value = "auto", ignore_case = true, value_parser = kernel_parser())]
    pub(crate) kernel: Kernel,

    #[arg(
        long,
        help = "(BigQuery ML exports) write BigQuery ML.PREDICT's shape: predicted_<label> \
                and, for classifiers, predicted_<label>_probs: [{label, prob}, ...]"
    )]
    pub(crate) bigquery_format: bool,
}

/// `quercus bench-instances` (hidden).
#[derive(Args)]
pub(crate) struct BenchInstancesArgs {
    #[command(flatten)]
    pub(crate) model: ModelArgs,

    /// JSON Lines instances
    #[arg(short, long, value_name = "IN", value_hint = ValueHint::FilePath)]
    pub(crate) input: PathBuf,

    /// Instances per prediction call [default: all]
    #[arg(long, value_name = "N", value_parser = parse_positive)]
    pub(crate) batch: Option<usize>,

    /// Runs to time
    #[arg(long, value_name = "R", default_value_t = 5, value_parser = parse_positive)]
    pub(crate) runs: usize,

    /// Threads to use
    #[arg(long, value_name = "N", value_parser = parse_positive)]
    pub(crate) threads: Option<usize>,

    /// Write BigQuery ML.PREDICT's shape
    #[arg(long)]
    pub(crate) bigquery_format: bool,
}

/// `quercus completions`.
#[derive(Args)]
pub(crate) struct CompletionsArgs {
    /// The shell to complete for
    #[arg(value_name = "SHELL")]
    pub(crate) shell: clap_complete::Shell,
}

/// `quercus man`.
#[derive(Args)]
pub(crate) struct ManArgs {
    /// The command whose page to print, e.g. `predict` or `registry upload`
    /// [default: quercus itself]
    #[arg(value_name = "COMMAND")]
    pub(crate) command: Vec<String>,
}

/// A positive integer (`--threads`, `--batch`, `--runs`).
pub(crate) fn parse_positive(s: &str) -> Result<usize, String> {
    s.parse()
        .ok()
        .filter(|&n| n > 0)
        .ok_or_else(|| format!("`{s}` is not a positive integer"))
}

/// `A:B` (`--iteration-range`).
fn parse_iteration_range(s: &str) -> Result<(usize, usize), String> {
    s.split_once(':')
        .and_then(|(b, e)| Some((b.parse().ok()?, e.parse().ok()?)))
        .ok_or_else(|| format!("`{s}` is not BEGIN:END"))
}

/// `--kernel`: a kernel name, case-insensitive (`scalar` means `reference`).
pub(crate) fn kernel_parser() -> impl TypedValueParser<Value = Kernel> {
    let names = [Kernel::Auto]
        .into_iter()
        .chain(Kernel::ALL)
        .map(|k| match k {
            Kernel::Reference => PossibleValue::new(k.name()).alias("scalar"),
            _ => PossibleValue::new(k.name()),
        });
    PossibleValuesParser::new(names).map(|s| Kernel::from_name(&s).unwrap_or_default())
}
