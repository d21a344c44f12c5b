//! The `quercus` command.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use quercus::io::{Columns, read_input, write_output};
use quercus::{FeatureMatrix, LoadOptions, Model, PredictOptions};

const USAGE: &str = "\
quercus: exact, fast, in-process predictions for XGBoost tree models

USAGE:
    quercus inspect MODEL [--json] [--legacy-summation]
    quercus predict MODEL --input IN --output OUT [OPTIONS]

MODEL is an XGBoost model file in any format (JSON, UBJSON, legacy binary);
the format is detected from the bytes.

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
    --legacy-summation       reproduce the writing XGBoost version's arithmetic
                             exactly (summation order, base score, sigmoid)

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

fn usage(msg: impl Into<String>) -> anyhow::Error {
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
            eprintln!("error: {e:#}");
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
        other => Err(usage(format!("unknown command `{other}`"))),
    }
}

/// Parsed command-line arguments (one positional MODEL plus flags).
#[derive(Default)]
struct Args {
    model: Option<PathBuf>,
    input: Option<PathBuf>,
    output: Option<PathBuf>,
    json: bool,
    margin: bool,
    leaf: bool,
    legacy_summation: bool,
    missing: Option<f32>,
    iteration_range: Option<(usize, usize)>,
    threads: Option<usize>,
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
                "--margin" => a.margin = true,
                "--leaf" => a.leaf = true,
                "--legacy-summation" => a.legacy_summation = true,
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

    fn load(&self) -> Result<Model> {
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
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    let path = args.model.as_ref().map(|p| p.display().to_string());
    println!("model:          {}", path.unwrap_or_default());
    println!(
        "format:         {} (written by XGBoost {})",
        s.format, s.writer_version
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
            println!("  {i:>4}  {name:<24} {ty}");
        }
    }
    Ok(())
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
        ..Default::default()
    };
    let preds = model.predict(&x, &opts)?;
    write_output(output, &preds).with_context(|| format!("writing {}", output.display()))?;
    Ok(())
}
