//! The `quercus` command.

mod bench;
mod cli;
mod registry;
mod vertex;

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{CommandFactory, Parser};
use quercus::io::{Columns, read_input, read_instances, write_output, write_predictions};
use quercus::{
    BqmlModel, BqmlOptions, Categories, FeatureMatrix, Model, Output, OutputFormat, PredictOptions,
};

use cli::{BenchInstancesArgs, Cli, Cmd, InspectArgs, PredictArgs};

/// A usage error found after parsing (an option that does not fit the
/// model, for example): reported like clap's own, with the usage of
/// `command` (a path such as `predict` or `registry merge-aliases`), exit 2.
#[derive(Debug)]
pub(crate) struct Usage {
    command: &'static str,
    msg: String,
}

impl std::fmt::Display for Usage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.msg)
    }
}

impl std::error::Error for Usage {}

/// A usage error of the subcommand `command` (see [`Usage`]).
pub(crate) fn usage(command: &'static str, msg: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(Usage {
        command,
        msg: msg.into(),
    })
}

fn main() -> ExitCode {
    // Help, version and clap's usage errors print and exit here (0 or 2).
    let cli = Cli::try_parse().unwrap_or_else(|e| model_first(e).exit());
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.downcast_ref::<Usage>().is_some() => {
            let u = e.downcast_ref::<Usage>().expect("checked");
            let mut cmd = Cli::command();
            cmd.build();
            let mut sub = &mut cmd;
            for name in u.command.split_whitespace() {
                sub = sub.find_subcommand_mut(name).expect("a subcommand path");
            }
            let _ = sub.error(ErrorKind::ArgumentConflict, &u.msg).print();
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

/// Clap lists missing required options before missing positionals; the
/// positional (MODEL) comes first on the command line, so ask for it first.
fn model_first(mut e: clap::Error) -> clap::Error {
    if e.kind() == ErrorKind::MissingRequiredArgument
        && let Some(ContextValue::Strings(missing)) = e.get(ContextKind::InvalidArg)
    {
        let (mut first, options): (Vec<String>, Vec<String>) =
            missing.iter().cloned().partition(|a| a.starts_with('<'));
        first.extend(options);
        e.insert(ContextKind::InvalidArg, ContextValue::Strings(first));
    }
    e
}

fn run(cli: Cli) -> Result<()> {
    let Some(command) = cli.command else {
        // `quercus` alone: the help, exit 0.
        Cli::command().print_help()?;
        return Ok(());
    };
    match command {
        Cmd::Inspect(a) => inspect(a),
        Cmd::Predict(a) => predict(a),
        Cmd::Compile(a) => bench::compile(a),
        Cmd::Bench(a) => bench::bench(a),
        Cmd::Vertex(a) => vertex::run(a),
        Cmd::Registry(a) => registry::run(a),
        Cmd::BenchInstances(a) => bench_instances(a),
        Cmd::Completions(a) => {
            let mut cmd = Cli::command();
            clap_complete::generate(a.shell, &mut cmd, "quercus", &mut std::io::stdout());
            Ok(())
        }
        Cmd::Man(a) => man(&a.command),
    }
}

/// Prints the help of the subcommand at `path` (e.g. `registry merge-aliases`):
/// `--help` (`long`) or `-h`.
pub(crate) fn print_help(path: &str, long: bool) -> Result<()> {
    let mut cmd = Cli::command();
    cmd.build();
    let mut sub = &mut cmd;
    for name in path.split_whitespace() {
        sub = sub.find_subcommand_mut(name).expect("a subcommand path");
    }
    if long {
        sub.print_long_help()?;
    } else {
        sub.print_help()?;
    }
    Ok(())
}

/// `quercus man [COMMAND...]`: the roff page of quercus or of a subcommand.
fn man(path: &[String]) -> Result<()> {
    // `quercus help` is not a page of its own.
    let mut page = Cli::command().disable_help_subcommand(true);
    page.build();
    for name in path {
        let Some(sub) = page.find_subcommand(name).filter(|c| !c.is_hide_set()) else {
            let known: Vec<&str> = page
                .get_subcommands()
                .filter(|c| !c.is_hide_set() && c.get_name() != "help")
                .map(|c| c.get_name())
                .collect();
            return Err(usage(
                "man",
                format!(
                    "`{}` has no command `{name}` (its commands: {})",
                    page.get_display_name().unwrap_or(page.get_name()),
                    known.join(", ")
                ),
            ));
        };
        page = sub.clone();
    }
    let mut out = Vec::new();
    clap_mangen::Man::new(page)
        .source(format!("quercus {}", env!("CARGO_PKG_VERSION")))
        .render(&mut out)?;
    std::io::stdout().write_all(&out)?;
    Ok(())
}

fn inspect(args: InspectArgs) -> Result<()> {
    let model = args.model.load()?;
    if args.vertex {
        return vertex::inspect(&model);
    }
    if let Some(bq) = model.bqml() {
        return inspect_bqml(&args, &model, bq);
    }
    let s = model.summary();
    if args.json {
        let v = serde_json::json!({
            "path": args.model.model.display().to_string(),
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
    println!("model:          {}", args.model.model.display());
    let compiled = quercus::qpack::is_compiled_file(&args.model.model);
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
            let line = format!("  {i:>4}  {name:<24} {ty}{cats}");
            println!("{}", line.trim_end());
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

fn predict(args: PredictArgs) -> Result<()> {
    let (input, output) = (&args.input, &args.output);
    refuse_overwriting_input(input, output)?;
    let model = args.model.load()?;
    if model.bqml().is_some() {
        return predict_bqml(&args, &model, input, output);
    }
    if args.bigquery_format {
        return Err(usage(
            "predict",
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
    let opts = PredictOptions::default()
        .with_output(Output::from_flags(args.margin, args.leaf))
        .with_missing(args.missing.unwrap_or(f32::NAN))
        .with_iteration_range(args.iteration_range)
        .with_threads(args.threads)
        .with_kernel(args.kernel);
    let preds = model.predict(&x, &opts)?;
    write_output(output, &preds)?;
    Ok(())
}

/// Refuses `--output` naming the `--input` file (through any spelling of
/// its path, a symbolic link or, on Unix, a hard link) before anything is
/// read or written: the prediction would replace the rows it came from.
fn refuse_overwriting_input(input: &Path, output: &Path) -> Result<()> {
    if same_file(input, output) {
        bail!(
            "--output {} is the input file {}: refusing to overwrite the input",
            output.display(),
            input.display()
        );
    }
    Ok(())
}

/// True when `a` and `b` name the same existing file.
fn same_file(a: &Path, b: &Path) -> bool {
    if let (Ok(ca), Ok(cb)) = (std::fs::canonicalize(a), std::fs::canonicalize(b))
        && ca == cb
    {
        return true;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if let (Ok(ma), Ok(mb)) = (std::fs::metadata(a), std::fs::metadata(b)) {
            return ma.dev() == mb.dev() && ma.ino() == mb.ino();
        }
    }
    false
}

/// The options of `predict` on a BigQuery ML export.
fn bqml_options(args: &PredictArgs) -> Result<BqmlOptions> {
    for (set, flag) in [
        (args.margin, "--margin"),
        (args.leaf, "--leaf"),
        (args.missing.is_some(), "--missing"),
        (args.iteration_range.is_some(), "--iteration-range"),
    ] {
        if set {
            return Err(usage(
                "predict",
                format!(
                    "{flag} is not available for BigQuery ML exports (their predictions are \
                     those of Google's exported predictor)"
                ),
            ));
        }
    }
    Ok(BqmlOptions {
        format: output_format(args.bigquery_format),
        n_threads: args.threads,
    })
}

fn output_format(bigquery: bool) -> OutputFormat {
    if bigquery {
        OutputFormat::BigQuery
    } else {
        OutputFormat::Vertex
    }
}

fn predict_bqml(args: &PredictArgs, model: &Model, input: &Path, output: &Path) -> Result<()> {
    let opts = bqml_options(args)?;
    let instances = read_instances(input)?;
    let preds = model
        .predict_instances_with(&instances, &opts)
        .map_err(|e| e.with_path(input))?;
    write_predictions(output, &preds)?;
    Ok(())
}

fn inspect_bqml(args: &InspectArgs, model: &Model, bq: &BqmlModel) -> Result<()> {
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
fn bench_instances(args: BenchInstancesArgs) -> Result<()> {
    let input = &args.input;
    let model = args.model.load()?;
    if model.bqml().is_none() {
        return Err(usage(
            "bench-instances",
            "bench-instances needs a BigQuery ML export directory",
        ));
    }
    let opts = BqmlOptions {
        format: output_format(args.bigquery_format),
        n_threads: args.threads,
    };
    let text =
        std::fs::read_to_string(input).with_context(|| format!("reading {}", input.display()))?;
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let batch = args.batch.unwrap_or(lines.len()).max(1);
    let runs = args.runs;
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
