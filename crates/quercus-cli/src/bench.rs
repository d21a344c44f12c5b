//! `quercus compile` and `quercus bench`.

use std::hint::black_box;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::{Args, ValueHint};
use quercus::{FeatureMatrix, Kernel, Model, PredictOptions};
use serde_json::json;

use crate::cli::{ModelArgs, kernel_parser, parse_positive};

/// `quercus compile`.
#[derive(Args)]
pub(crate) struct CompileArgs {
    #[command(flatten)]
    model: ModelArgs,

    /// The .qpack file to write
    #[arg(short, long, value_name = "OUT.qpack", value_hint = ValueHint::FilePath)]
    output: PathBuf,
}

/// `quercus bench`.
#[derive(Args)]
pub(crate) struct BenchArgs {
    #[command(flatten)]
    model: ModelArgs,

    /// Rows to predict (.npy, .csv or .jsonl, as for `predict`) [default: rows drawn
    /// around the model's split thresholds]
    #[arg(short, long, value_name = "X", value_hint = ValueHint::FilePath)]
    input: Option<PathBuf>,

    /// Rows per batch
    #[arg(long, value_name = "N", default_value_t = 100_000, value_parser = parse_positive)]
    batch: usize,

    /// Threads to use for batches [default: all cores]
    #[arg(long, value_name = "N", value_parser = parse_positive)]
    threads: Option<usize>,

    /// The prediction kernel
    #[arg(long, value_name = "K", default_value = "auto", ignore_case = true, value_parser = kernel_parser())]
    kernel: Kernel,

    /// Batch runs to time (the median is reported)
    #[arg(long, value_name = "R", default_value_t = 5, value_parser = parse_positive)]
    runs: usize,

    /// Print one JSON object
    #[arg(long)]
    json: bool,
}

/// `quercus compile MODEL -o OUT.qpack`.
pub(crate) fn compile(args: CompileArgs) -> Result<()> {
    let model = args.model.load()?;
    let out = &args.output;
    let t = Instant::now();
    model.save_compiled(out)?;
    let size = std::fs::metadata(out).map(|m| m.len()).unwrap_or(0);
    eprintln!(
        "wrote {} ({}) in {:.0} ms",
        out.display(),
        human_size(size),
        t.elapsed().as_secs_f64() * 1e3
    );
    Ok(())
}

/// `quercus bench MODEL [--input X] [--batch N] [--threads N] [--runs R] [--json]`:
/// rows/s for batches of N rows and the latency of one-row calls.
pub(crate) fn bench(args: BenchArgs) -> Result<()> {
    let path = args.model.model.clone();
    let t = Instant::now();
    let model = args.model.load()?;
    let load_s = t.elapsed().as_secs_f64();
    if model.bqml().is_some() {
        bail!("bench measures numeric prediction; for a BigQuery ML export bench its model.bst");
    }
    let cols = model.num_features();
    let (batch, runs) = (args.batch, args.runs);
    // The batch is materialised: a model may declare any feature count, so
    // its size is checked before anything is allocated.
    match batch.max(1000).checked_mul(cols) {
        Some(n) if n <= MAX_BENCH_VALUES => {}
        _ => bail!(
            "a batch of {} rows x {cols} features is more than the {MAX_BENCH_VALUES} values \
             bench holds in memory; use a smaller --batch",
            batch.max(1000)
        ),
    }
    let data: Vec<f32> = match &args.input {
        Some(p) => {
            let columns = quercus::io::Columns {
                names: model.forest().feature_names(),
                count: cols,
            };
            let input = quercus::io::read_input(p, columns)
                .with_context(|| format!("reading {}", p.display()))?;
            if input.cols != cols {
                bail!(
                    "{} has {} columns; the model has {cols} features",
                    p.display(),
                    input.cols
                );
            }
            input.data
        }
        None => synthetic_rows(&model, batch.max(1000)),
    };
    let rows = data.len() / cols.max(1);
    if rows == 0 {
        bail!("no rows to predict");
    }
    let opts = PredictOptions::default()
        .with_threads(args.threads)
        .with_kernel(args.kernel);
    // Batches: cycle through the rows, `batch` at a time (repeating them when
    // there are fewer).
    let tiled: Vec<f32> = data.iter().copied().cycle().take(batch * cols).collect();
    let x = FeatureMatrix::row_major(&tiled, batch, cols)?;
    let width = model.output_width(&opts)?;
    let mut out = vec![0.0f32; batch * width];
    model.predict_into(&x, &opts, &mut out)?; // warm-up
    let mut rates = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = Instant::now();
        model.predict_into(&x, &opts, &mut out)?;
        rates.push(batch as f64 / t.elapsed().as_secs_f64());
        black_box(&out);
    }
    // One row per call, on the calling thread, cycling through distinct rows.
    let one = opts.clone().with_threads(Some(1));
    let mut row_out = vec![0.0f32; width];
    let calls = 20_000usize.min(2_000_000 / (batch / 1000).max(1));
    let mut lat = Vec::with_capacity(calls);
    for i in 0..calls + 1000 {
        let r = i % rows;
        let x = FeatureMatrix::row_major(&data[r * cols..(r + 1) * cols], 1, cols)?;
        let t = Instant::now();
        model.predict_into(&x, &one, &mut row_out)?;
        let dt = t.elapsed().as_secs_f64() * 1e6;
        black_box(&row_out);
        if i >= 1000 {
            lat.push(dt);
        }
    }
    rates.sort_by(f64::total_cmp);
    lat.sort_by(f64::total_cmp);
    let q = |v: &[f64], p: f64| v[((v.len() - 1) as f64 * p).round() as usize];
    let threads = args.threads.unwrap_or_else(quercus::default_threads);
    let report = json!({
        "model": path.display().to_string(),
        "load_seconds": sig4(load_s),
        "batch": batch,
        "threads": threads,
        "runs": runs,
        "rows_per_second_median": sig4(q(&rates, 0.5)),
        "rows_per_second_min": sig4(rates[0]),
        "rows_per_second_max": sig4(rates[rates.len() - 1]),
        "one_row_us_median": sig4(q(&lat, 0.5)),
        "one_row_us_p99": sig4(q(&lat, 0.99)),
        "one_row_calls": calls,
        "input": args.input.as_ref().map_or("synthetic".to_string(), |p| p.display().to_string()),
    });
    if args.json {
        println!("{report}");
    } else {
        println!("model            {}", path.display());
        println!("load             {:.2} ms", load_s * 1e3);
        println!(
            "batch            {batch} rows, {threads} thread(s): {:.0} rows/s median of {runs} (min {:.0}, max {:.0})",
            q(&rates, 0.5),
            rates[0],
            rates[rates.len() - 1]
        );
        println!(
            "one row          {:.2} us median, {:.2} us p99 ({calls} calls)",
            q(&lat, 0.5),
            q(&lat, 0.99)
        );
    }
    Ok(())
}

/// `12 B`, `20.3 kB`, `4.1 MB`, `1.2 GB` (decimal units, three significant digits).
fn human_size(bytes: u64) -> String {
    let b = bytes as f64;
    match bytes {
        0..1_000 => format!("{bytes} B"),
        1_000..1_000_000 => format!("{:.1} kB", b / 1e3),
        1_000_000..1_000_000_000 => format!("{:.1} MB", b / 1e6),
        _ => format!("{:.1} GB", b / 1e9),
    }
}

/// A measurement rounded to 4 significant digits for the JSON report: the
/// timer's noise is far larger, and `0.34099999999999997` reads as a bug.
fn sig4(x: f64) -> f64 {
    if x == 0.0 || !x.is_finite() {
        return x;
    }
    let scale = 10f64.powi(3 - x.abs().log10().floor() as i32);
    (x * scale).round() / scale
}

/// The most input values `bench` materialises (1 GiB of `f32`).
const MAX_BENCH_VALUES: usize = 1 << 28;

/// Rows whose values sit at and around the model's split thresholds, so the
/// walks take varied paths (deterministic).
fn synthetic_rows(model: &Model, rows: usize) -> Vec<f32> {
    let cols = model.num_features();
    let mut thresholds: Vec<Vec<f32>> = vec![Vec::new(); cols];
    for tree in model.forest().trees() {
        for node in tree.nodes() {
            if let quercus::Node::Split {
                feature, threshold, ..
            } = node
                && threshold.is_finite()
            {
                thresholds[*feature as usize].push(*threshold);
            }
        }
    }
    let mut rng = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    (0..rows * cols)
        .map(|i| {
            let t = &thresholds[i % cols];
            let r = next();
            if t.is_empty() {
                (r % 1000) as f32 / 100.0 - 5.0
            } else {
                let v = t[(r % t.len() as u64) as usize];
                v + ((r >> 40) % 201) as f32 / 100.0 - 1.0
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_figures_read_as_a_person_writes_them() {
        assert_eq!(human_size(20_480), "20.5 kB");
        assert_eq!(human_size(999), "999 B");
        assert_eq!(human_size(2_724_956), "2.7 MB");
        assert_eq!(sig4(0.34099999999999997), 0.341);
        assert_eq!(sig4(1_234_567.0), 1_235_000.0);
        assert_eq!(sig4(0.0), 0.0);
        assert_eq!(
            serde_json::to_string(&sig4(0.000123456)).unwrap(),
            "0.0001235"
        );
    }
}
