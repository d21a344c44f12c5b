//! The `quercus` command.

mod bench;
mod registry;
mod vertex;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use quercus::io::{Columns, read_input, read_instances, write_output, write_predictions};
use quercus::{
    BqmlModel, BqmlOptions, Categories, FeatureMatrix, Kernel, LoadOptions, Model, OutputFormat,
    PredictOptions,
};

const USAGE: &str = "\
quercus: exact, fast, in-process predictions for XGBoost and BigQuery ML tree models

USAGE:
    quercus inspect MODEL [--json | --vertex] [--legacy-summation]
    quercus predict MODEL --input IN --output OUT [OPTIONS]
    quercus compile MODEL --output OUT.qpack [--legacy-summation]
    quercus bench MODEL [--input X] [--batch N] [--threads N] [--kernel K] [--runs R] [--json]
    quercus vertex upload-request MODEL -o DIR [--display-name N] [--model-id ID |
                   --parent-model NAME] [--artifact-uri gs://...] [--image-uri URI]
                   [--schemata-uri DIR] [--labels k=v,...] [--aliases a,b]
                   [--description D] [--version-description D]
    quercus registry upload MODEL --model-id ID [--display-name N] [--labels k=v,...]
                   [--aliases a,b] [--description D] [--version-description D]
    quercus registry list [ID] [--json]
    quercus registry describe ID[@VERSION|@ALIAS]
    quercus registry delete ID@VERSION [--force]
    quercus registry merge-aliases ID@VERSION ALIAS... -ALIAS...
    quercus registry verify ID[@VERSION|@ALIAS]

MODEL is an XGBoost model file in any format (JSON, UBJSON, legacy binary);
the format is detected from the bytes, or a compiled .qpack (`compile`:
loads by memory-mapping; the file must not change while loaded). It can also
be a BigQuery ML EXPORT
MODEL directory (model.bst + assets/): `predict` then reads raw instances,
.jsonl (one JSON object keyed by column name per line) or .json (a Vertex AI
request {\"instances\": [...]}), and writes what Google's exported predictor
returns, .jsonl (one prediction per line) or .json ({\"predictions\": [...]}).

MODEL can also be a version in the local registry: registry://ID,
registry://ID@VERSION or registry://ID@ALIAS (its content hash is checked).

VERTEX AI:
    inspect --vertex         print the model as a Vertex AI Model resource (JSON)
    vertex upload-request    write DIR/upload-request.json, the body of a
                             models:upload call, and the OpenAPI schemata
                             DIR/instance.yaml and DIR/prediction.yaml

REGISTRY (root: --registry DIR, else $QUERCUS_REGISTRY, else ~/.quercus/registry):
    upload                   copy the model in as the next version of ID (the
                             first version gets the alias `default`)
    list                     every model (its default version), or ID's versions
    describe                 that version's Model resource (Vertex REST JSON)
    delete                   delete a version (`default` moves to the newest
                             remaining one; --force to delete one with aliases)
    merge-aliases            add ALIAS, remove -ALIAS (an alias moves from the
                             version that has it; `default` cannot be removed)
    verify                   re-hash the version's files

PREDICT OPTIONS:
    --input IN               .npy (2-D float32/float64), .csv (header row of
                             feature names; an empty field is missing) or .jsonl
                             (one array of numbers, or one object keyed by
                             feature name, per line)
    --output OUT             .npy, .csv or .jsonl, chosen by extension
    --margin                 output raw margins (no objective transform)
    --leaf                   output the leaf index reached in each tree
    --missing V              treat V as missing, in addition to NaN
    --iteration-range A:B    use boosting rounds A..B only (B = 0: to the end)
    --threads N              threads to use (default: all cores for big inputs)
    --kernel K               auto (default), reference, interleaved or avx512;
                             all give identical results (also for bench)
    --legacy-summation       reproduce the writing XGBoost version's arithmetic
                             exactly (summation order, base score, sigmoid)
    --bigquery-format        (BigQuery ML exports) write BigQuery ML.PREDICT's
                             shape: predicted_<label> and, for classifiers,
                             predicted_<label>_probs: [{label, prob}, ...]

BENCH: rows/s predicting batches of N rows (default 100000; --input rows, or
rows drawn around the model's thresholds), median of R runs (default 5), and
the median and p99 latency of one-row calls on the calling thread.

    -h, --help               show this help
    -V, --version            show the version
";

/// A usage error: printed with the usage line, exit code 2.
#[derive(Debug)]
struct Usage(String);

impl std::fmt::Display for Usage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Usage {}

pub(crate) fn usage(msg: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(Usage(msg.into()))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.downcast_ref::<Usage>().is_some() => {
            eprintln!("error: {e}\n\nRun `quercus --help` for usage.");
            ExitCode::from(2)
        }
        Err(e) => {
            // The error and its causes on one line, without repeating a cause
            // the message already quotes (an I/O error's text, for example).
            let mut msg = e.to_string();
            for cause in e.chain().skip(1) {
                let c = cause.to_string();
                if !msg.contains(&c) {
                    msg.push_str(": ");
                    msg.push_str(&c);
                }
            }
            eprintln!("error: {msg}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Vec<String>) -> Result<()> {
    let Some(cmd) = args.first() else {
        print!("{USAGE}");
        return Ok(());
    };
    match cmd.as_str() {
        "-h" | "--help" | "help" => {
            print!("{USAGE}");
            Ok(())
        }
        "-V" | "--version" => {
            println!("quercus {}", env!("CARGO_PKG_VERSION"));
            Ok(())
        }
        "inspect" => inspect(Args::parse(&args[1..])?),
        "predict" => predict(Args::parse(&args[1..])?),
        "compile" => bench::compile(Args::parse(&args[1..])?),
        "bench" => bench::bench(Args::parse(&args[1..])?),
        "vertex" => vertex::run(&args[1..]),
        "registry" => registry::run(&args[1..]),
        // Not in the usage text: measures JSON instances -> JSON predictions
        // throughput in-process, for BENCHMARKS.md.
        "bench-instances" => bench_instances(Args::parse(&args[1..])?),
        other => Err(usage(format!("unknown command `{other}`"))),
    }
}

/// Parsed command-line arguments (one positional MODEL plus flags).
#[derive(Default)]
pub(crate) struct Args {
    pub(crate) model: Option<PathBuf>,
    pub(crate) input: Option<PathBuf>,
    pub(crate) output: Option<PathBuf>,
    pub(crate) json: bool,
    pub(crate) vertex: bool,
    pub(crate) margin: bool,
    pub(crate) leaf: bool,
    pub(crate) legacy_summation: bool,
    pub(crate) missing: Option<f32>,
    pub(crate) iteration_range: Option<(usize, usize)>,
    pub(crate) threads: Option<usize>,
    pub(crate) bigquery_format: bool,
    pub(crate) batch: Option<usize>,
    pub(crate) runs: Option<usize>,
    pub(crate) kernel: Kernel,
}

impl Args {
    fn parse(args: &[String]) -> Result<Args> {
        let mut a = Args::default();
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            let (flag, inline) = match arg.split_once('=') {
                Some((f, v)) if f.starts_with("--") => (f, Some(v.to_string())),
                _ => (arg.as_str(), None),
            };
            let mut value = |name: &str| -> Result<String> {
                match &inline {
                    Some(v) => Ok(v.clone()),
                    None => it
                        .next()
                        .cloned()
                        .ok_or_else(|| usage(format!("{name} needs a value"))),
                }
            };
            match flag {
                "--input" | "-i" => a.input = Some(value(flag)?.into()),
                "--output" | "-o" => a.output = Some(value(flag)?.into()),
                "--json" => a.json = true,
                "--vertex" => a.vertex = true,
                "--margin" => a.margin = true,
                "--leaf" => a.leaf = true,
                "--legacy-summation" => a.legacy_summation = true,
                "--bigquery-format" => a.bigquery_format = true,
                "--batch" | "--runs" => {
                    let v = value(flag)?;
                    let n: usize =
                        v.parse().ok().filter(|&n| n > 0).ok_or_else(|| {
                            usage(format!("{flag}: `{v}` is not a positive integer"))
                        })?;
                    if flag == "--batch" {
                        a.batch = Some(n);
                    } else {
                        a.runs = Some(n);
                    }
                }
                "--missing" => {
                    let v = value(flag)?;
                    a.missing = Some(
                        v.parse()
                            .map_err(|_| usage(format!("--missing: `{v}` is not a number")))?,
                    );
                }
                "--iteration-range" => {
                    let v = value(flag)?;
                    let parsed = v
                        .split_once(':')
                        .and_then(|(b, e)| Some((b.parse().ok()?, e.parse().ok()?)));
                    a.iteration_range = Some(parsed.ok_or_else(|| {
                        usage(format!("--iteration-range: `{v}` is not BEGIN:END"))
                    })?);
                }
                "--kernel" => {
                    let v = value(flag)?;
                    a.kernel = Kernel::from_name(&v).ok_or_else(|| {
                        usage(format!(
                            "--kernel: `{v}` is not one of auto, reference, interleaved, avx512"
                        ))
                    })?;
                }
                "--threads" => {
                    let v = value(flag)?;
                    let n: usize = v.parse().ok().filter(|&n| n > 0).ok_or_else(|| {
                        usage(format!("--threads: `{v}` is not a positive integer"))
                    })?;
                    a.threads = Some(n);
                }
                f if f.starts_with('-') && f.len() > 1 => {
                    return Err(usage(format!("unknown option `{f}`")));
                }
                _ => {
                    if a.model.is_some() {
                        return Err(usage(format!("unexpected argument `{arg}`")));
                    }
                    a.model = Some(arg.into());
                }
            }
        }
        Ok(a)
    }

    pub(crate) fn load(&self) -> Result<Model> {
        let path = self
            .model
            .as_ref()
            .ok_or_else(|| usage("MODEL is required"))?;
        Ok(Model::load_with(
            path,
            &LoadOptions::legacy_summation(self.legacy_summation),
        )?)
    }
}

fn inspect(args: Args) -> Result<()> {
    let model = args.load()?;
    if args.vertex {
        return vertex::inspect(&model);
    }
    if let Some(bq) = model.bqml() {
        return inspect_bqml(&args, &model, bq);
    }
    let s = model.summary();
    if args.json {
        let v = serde_json::json!({
            "path": args.model.as_ref().map(|p| p.display().to_string()),
            "format": s.format,
            "writer_version": s.writer_version,
            "booster": s.booster,
            "objective": s.objective,
            "num_trees": s.num_trees,
            "num_rounds": s.num_rounds,
            "num_parallel_tree": s.num_parallel_tree,
            "max_depth": s.max_depth,
            "num_leaves": s.num_leaves,
            "num_features": s.num_features,
            "feature_names": s.feature_names,
            "feature_types": s.feature_types,
            "num_outputs": s.num_outputs,
            "base_margin": s.base_margin,
            "categorical_splits": s.categorical_splits,
            "multi_target_leaves": s.multi_target_leaves,
            "best_iteration": s.best_iteration,
            "categories": categories_json(model.forest().categories()),
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    let path = args.model.as_ref().map(|p| p.display().to_string());
    println!("model:          {}", path.unwrap_or_default());
    let compiled = args
        .model
        .as_deref()
        .is_some_and(quercus::qpack::is_compiled_file);
    println!(
        "format:         {}{} (written by XGBoost {})",
        if compiled { "compiled .qpack of " } else { "" },
        s.format,
        s.writer_version
    );
    println!("booster:        {}", s.booster);
    println!("objective:      {}", s.objective);
    if s.booster != "gblinear" {
        println!(
            "trees:          {} ({} rounds, {} parallel), max depth {}, {} leaves",
            s.num_trees, s.num_rounds, s.num_parallel_tree, s.max_depth, s.num_leaves
        );
    }
    println!("outputs:        {}", s.num_outputs);
    println!("base margin:    {:?}", s.base_margin);
    if let Some(b) = s.best_iteration {
        println!("best iteration: {b}");
    }
    if s.categorical_splits {
        println!("categorical:    yes");
    }
    if s.multi_target_leaves {
        println!("multi-target:   vector leaves");
    }
    println!("features:       {}", s.num_features);
    if !s.feature_names.is_empty() || !s.feature_types.is_empty() {
        for i in 0..s.num_features {
            let name = s.feature_names.get(i).map_or("", String::as_str);
            let ty = s.feature_types.get(i).map_or("", String::as_str);
            let cats = match model.forest().categories().get(i) {
                Some(Some(c)) => format!("  {}", brief_categories(c)),
                _ => String::new(),
            };
            println!("  {i:>4}  {name:<24} {ty}{cats}");
        }
    }
    Ok(())
}

/// Training categories per feature as JSON (`null` when the model has none).
fn categories_json(cats: &[Option<Categories>]) -> serde_json::Value {
    if cats.is_empty() {
        return serde_json::Value::Null;
    }
    cats.iter()
        .map(|c| match c {
            Some(Categories::Strings(v)) => serde_json::json!(v),
            Some(Categories::Numbers(v)) => serde_json::json!(v),
            _ => serde_json::Value::Null,
        })
        .collect()
}

/// `3 categories: "blue", "green", "red"` (the first eight).
fn brief_categories(c: &Categories) -> String {
    let shown: Vec<String> = match c {
        Categories::Strings(v) => v.iter().take(8).map(|s| format!("{s:?}")).collect(),
        Categories::Numbers(v) => v.iter().take(8).map(|x| x.to_string()).collect(),
        _ => Vec::new(),
    };
    let more = if c.len() > shown.len() { ", ..." } else { "" };
    format!("{} categories: {}{more}", c.len(), shown.join(", "))
}

fn predict(args: Args) -> Result<()> {
    let input = args
        .input
        .as_ref()
        .ok_or_else(|| usage("--input is required"))?;
    let output = args
        .output
        .as_ref()
        .ok_or_else(|| usage("--output is required"))?;
    if args.margin && args.leaf {
        return Err(usage("--margin and --leaf cannot be combined"));
    }
    let model = args.load()?;
    if model.bqml().is_some() {
        return predict_bqml(&args, &model, input, output);
    }
    if args.bigquery_format {
        return Err(usage(
            "--bigquery-format applies to BigQuery ML export directories only",
        ));
    }
    let forest = model.forest();
    let table = read_input(
        input,
        Columns {
            names: forest.feature_names(),
            count: forest.num_features(),
        },
    )?;
    if table.cols != model.num_features() {
        bail!(
            "{}: input has {} columns but the model expects {} features",
            input.display(),
            table.cols,
            model.num_features()
        );
    }
    let x = FeatureMatrix::row_major(&table.data, table.rows, table.cols)?;
    let opts = PredictOptions {
        output_margin: args.margin,
        pred_leaf: args.leaf,
        missing: args.missing.unwrap_or(f32::NAN),
        iteration_range: args.iteration_range,
        n_threads: args.threads,
        kernel: args.kernel,
    };
    let preds = model.predict(&x, &opts)?;
    write_output(output, &preds).with_context(|| format!("writing {}", output.display()))?;
    Ok(())
}

/// The options of `predict` on a BigQuery ML export.
fn bqml_options(args: &Args) -> Result<BqmlOptions> {
    for (set, flag) in [
        (args.margin, "--margin"),
        (args.leaf, "--leaf"),
        (args.missing.is_some(), "--missing"),
        (args.iteration_range.is_some(), "--iteration-range"),
    ] {
        if set {
            return Err(usage(format!(
                "{flag} is not available for BigQuery ML exports (their predictions are \
                 those of Google's exported predictor)"
            )));
        }
    }
    Ok(BqmlOptions {
        format: if args.bigquery_format {
            OutputFormat::BigQuery
        } else {
            OutputFormat::Vertex
        },
        n_threads: args.threads,
    })
}

fn predict_bqml(args: &Args, model: &Model, input: &Path, output: &Path) -> Result<()> {
    let opts = bqml_options(args)?;
    let instances = read_instances(input)?;
    let preds = model
        .predict_instances_with(&instances, &opts)
        .map_err(|e| e.with_path(input))?;
    write_predictions(output, &preds)?;
    Ok(())
}

fn inspect_bqml(args: &Args, model: &Model, bq: &BqmlModel) -> Result<()> {
    let s = model.summary();
    if args.json {
        let features: Vec<serde_json::Value> = bq
            .features()
            .iter()
            .map(|f| {
                serde_json::json!({
                    "name": f.name,
                    "encoding": f.encoding.name(),
                    "encode_type": f.encode_type,
                    "columns": [f.columns.start, f.columns.end],
                    "vocabulary_size": f.vocabulary_size,
                    "mean": f.mean.and_then(serde_json::Number::from_f64),
                    "asset": f.asset.as_ref().map(|p| p.display().to_string()),
                    "unused_assets": f
                        .unused_assets
                        .iter()
                        .map(|p| p.display().to_string())
                        .collect::<Vec<_>>(),
                })
            })
            .collect();
        let v = serde_json::json!({
            "path": bq.dir().display().to_string(),
            "kind": "bigquery_ml_export",
            "model_type": bq.model_type().name(),
            "label_column": bq.label_column(),
            "class_names": bq.class_names(),
            "features": features,
            "num_columns": bq.num_columns(),
            "num_features": s.num_features,
            "width_note": bq.width_note(),
            "format": s.format,
            "writer_version": s.writer_version,
            "booster": s.booster,
            "objective": s.objective,
            "num_trees": s.num_trees,
            "num_rounds": s.num_rounds,
            "max_depth": s.max_depth,
            "num_outputs": s.num_outputs,
            "best_iteration": s.best_iteration,
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    println!("export:         {}", bq.dir().display());
    println!("model type:     {} (BigQuery ML)", bq.model_type().name());
    println!("label column:   {}", bq.label_column());
    if !bq.class_names().is_empty() {
        let classes: Vec<String> = bq
            .class_names()
            .iter()
            .map(|c| match c {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect();
        println!(
            "classes:        {} ({}), in output order",
            classes.len(),
            classes.join(", ")
        );
    }
    println!(
        "booster:        model.bst, {} written by XGBoost {}, {} {}",
        s.format, s.writer_version, s.booster, s.objective
    );
    println!(
        "trees:          {} ({} rounds), max depth {}, {} leaves",
        s.num_trees, s.num_rounds, s.max_depth, s.num_leaves
    );
    if let Some(b) = s.best_iteration {
        println!("best iteration: {b} (ignored: the exported predictor uses every tree)");
    }
    println!(
        "features:       {} columns, encoded into {} booster inputs",
        bq.features().len(),
        bq.num_columns()
    );
    if let Some(note) = bq.width_note() {
        println!("                {note}");
    }
    println!(
        "  {:<4} {:<28} {:<20} {:<9} {:>6}  detail",
        "#", "column", "encoding", "inputs", "vocab"
    );
    for (i, f) in bq.features().iter().enumerate() {
        let inputs = if f.columns.len() == 1 {
            f.columns.start.to_string()
        } else if f.columns.is_empty() {
            "-".to_string()
        } else {
            format!("{}..{}", f.columns.start, f.columns.end - 1)
        };
        let vocab = f.vocabulary_size.map_or("-".to_string(), |n| n.to_string());
        let mut detail = Vec::new();
        if let Some(m) = f.mean {
            detail.push(format!("mean {m} for \"\""));
        }
        if let Some(et) = &f.encode_type
            && et != f.encoding.name()
        {
            detail.push(format!("encode_type {et}"));
        }
        if let Some(a) = &f.asset {
            detail.push(a.display().to_string());
        }
        for a in &f.unused_assets {
            detail.push(format!("{} unused", a.display()));
        }
        println!(
            "  {i:<4} {:<28} {:<20} {inputs:<9} {vocab:>6}  {}",
            f.name,
            f.encoding.name(),
            detail.join(", ")
        );
    }
    Ok(())
}

/// Times JSON instances -> JSON predictions in-process: each run parses every
/// line of the input, predicts in batches of `--batch` instances (default: all)
/// and serialises every prediction to a JSON string. Prints one JSON object.
fn bench_instances(args: Args) -> Result<()> {
    let input = args
        .input
        .as_ref()
        .ok_or_else(|| usage("--input is required"))?;
    let model = args.load()?;
    if model.bqml().is_none() {
        return Err(usage(
            "bench-instances needs a BigQuery ML export directory",
        ));
    }
    let opts = bqml_options(&args)?;
    let text =
        std::fs::read_to_string(input).with_context(|| format!("reading {}", input.display()))?;
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let batch = args.batch.unwrap_or(lines.len()).max(1);
    let runs = args.runs.unwrap_or(5);
    let mut seconds = Vec::with_capacity(runs);
    let mut out_bytes = 0usize;
    for _ in 0..runs {
        let start = std::time::Instant::now();
        let mut out = String::new();
        for chunk in lines.chunks(batch) {
            let instances = chunk
                .iter()
                .map(|l| serde_json::from_str(l))
                .collect::<std::result::Result<Vec<serde_json::Value>, _>>()?;
            let preds = model.predict_instances_with(&instances, &opts)?;
            for p in &preds {
                out.push_str(&p.to_string());
                out.push('\n');
            }
        }
        seconds.push(start.elapsed().as_secs_f64());
        out_bytes = std::hint::black_box(out).len();
    }
    let mut sorted = seconds.clone();
    sorted.sort_by(f64::total_cmp);
    let median = sorted[sorted.len() / 2];
    let v = serde_json::json!({
        "instances": lines.len(),
        "batch": batch,
        "threads": args.threads,
        "runs_seconds": seconds,
        "median_seconds": median,
        "instances_per_second": lines.len() as f64 / median,
        "output_bytes": out_bytes,
    });
    println!("{v}");
    Ok(())
}
