//! `qbench`: times Quercus's Rust API on one model and prints one JSON object.
//! `benches/peer.py` runs it next to the peer engines; it is also handy alone.
//!
//! ```text
//! qbench batch  MODEL DATA --cols 28 [--rows N] [--batch B] [--threads T]
//!               [--kernel auto|reference|interleaved] [--repeats R] [--min-seconds S]
//! qbench single MODEL DATA --cols 28 [--calls N] [--distinct D] [--kernel K]
//! qbench load   MODEL [--repeats R]
//! qbench dump   MODEL DATA --cols 28 --out FILE [--margin] [--threads T] [--kernel K]
//! ```
//!
//! * `batch`: predicts the first N rows of DATA (raw float32, row-major) in
//!   consecutive calls of B rows; one repeat covers all N rows. After one
//!   warm-up repeat it repeats at least R times and until S seconds have passed;
//!   reports rows/s per repeat and their median.
//! * `single`: one-row calls (`Forest::predict_into` on a 1-row matrix, on the calling
//!   thread), each on the next of D distinct rows so the branch predictor cannot
//!   learn one path; reports median, p99 and mean in µs after 1,000 warm-up calls.
//! * `load`: `quercus::Model::load` (read, parse, convert, pack; for a `.qpack`:
//!   map, checksum, verify); median s.
//! * `dump`: writes the predictions of all rows as raw float32 to FILE (margins
//!   with `--margin`), for peer.py's agreement check.

use std::hint::black_box;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use quercus_benches::{kernel_name, load_model, median, parse_kernel, quantile, read_f32};
use quercus_core::{FeatureMatrix, Forest, Kernel, Output, PredictOptions};
use serde_json::json;

struct Args {
    mode: String,
    model: PathBuf,
    data: Option<PathBuf>,
    cols: usize,
    rows: Option<usize>,
    batch: usize,
    threads: usize,
    kernel: Kernel,
    repeats: usize,
    min_seconds: f64,
    calls: usize,
    distinct: usize,
    out: Option<PathBuf>,
    margin: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut it = std::env::args().skip(1);
    let mode = it
        .next()
        .ok_or("usage: qbench batch|single|load|dump MODEL [DATA] ...")?;
    let model = PathBuf::from(it.next().ok_or("missing MODEL")?);
    let mut a = Args {
        mode,
        model,
        data: None,
        cols: 0,
        rows: None,
        batch: 100_000,
        threads: 1,
        kernel: Kernel::Auto,
        repeats: 5,
        min_seconds: 1.0,
        calls: 20_000,
        distinct: 1000,
        out: None,
        margin: false,
    };
    while let Some(arg) = it.next() {
        let mut val = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        let num = |s: String| s.parse::<usize>().map_err(|e| format!("{s}: {e}"));
        match arg.as_str() {
            "--cols" => a.cols = num(val("--cols")?)?,
            "--rows" => a.rows = Some(num(val("--rows")?)?),
            "--batch" => a.batch = num(val("--batch")?)?.max(1),
            "--threads" => a.threads = num(val("--threads")?)?.max(1),
            "--repeats" => a.repeats = num(val("--repeats")?)?.max(1),
            "--calls" => a.calls = num(val("--calls")?)?.max(1),
            "--distinct" => a.distinct = num(val("--distinct")?)?.max(1),
            "--min-seconds" => {
                let s = val("--min-seconds")?;
                a.min_seconds = s.parse().map_err(|e| format!("{s}: {e}"))?;
            }
            "--kernel" => {
                let s = val("--kernel")?;
                a.kernel = parse_kernel(&s).ok_or(format!("unknown kernel {s}"))?;
            }
            "--out" => a.out = Some(PathBuf::from(val("--out")?)),
            "--margin" => a.margin = true,
            s if !s.starts_with("--") && a.data.is_none() => a.data = Some(PathBuf::from(s)),
            s => return Err(format!("unknown argument {s}")),
        }
    }
    Ok(a)
}

fn load_data(a: &Args, forest: &Forest) -> Result<(Vec<f32>, usize), String> {
    let path = a.data.as_ref().ok_or("missing DATA")?;
    let cols = if a.cols == 0 {
        forest.num_features()
    } else {
        a.cols
    };
    let len = std::fs::metadata(path)
        .map_err(|e| format!("{}: {e}", path.display()))?
        .len() as usize
        / 4;
    let total = len / cols.max(1);
    let x = read_f32(path, total * cols)?;
    let rows = a.rows.unwrap_or(total).min(total);
    Ok((x[..rows * cols].to_vec(), cols))
}

fn run() -> Result<serde_json::Value, String> {
    let a = parse_args()?;
    let t0 = Instant::now();
    let model = load_model(&a.model)?;
    let forest = model.forest();
    let load_s = t0.elapsed().as_secs_f64();
    let opts = PredictOptions::default()
        .with_output(Output::from_flags(a.margin, false))
        .with_threads(Some(a.threads))
        .with_kernel(a.kernel);
    let err = |e: quercus_core::Error| e.to_string();
    match a.mode.as_str() {
        "batch" => {
            let (x, cols) = load_data(&a, forest)?;
            let rows = x.len() / cols;
            let batch = a.batch.min(rows);
            let one_repeat = || -> Result<(), String> {
                for chunk in x.chunks(batch * cols) {
                    let m =
                        FeatureMatrix::row_major(chunk, chunk.len() / cols, cols).map_err(err)?;
                    black_box(forest.predict(black_box(&m), &opts).map_err(err)?);
                }
                Ok(())
            };
            one_repeat()?; // warm-up
            let mut rates = Vec::new();
            let start = Instant::now();
            while rates.len() < a.repeats
                || (start.elapsed().as_secs_f64() < a.min_seconds && rates.len() < 10_000)
            {
                let t = Instant::now();
                one_repeat()?;
                rates.push(rows as f64 / t.elapsed().as_secs_f64());
            }
            let all = rates.clone();
            Ok(json!({
                "mode": "batch", "model": a.model, "kernel": kernel_name(a.kernel),
                "threads": a.threads, "batch": batch, "rows": rows,
                "repeats": all.len(), "rows_per_s": median(&mut rates),
                "rows_per_s_all": all,
            }))
        }
        "single" => {
            let (x, cols) = load_data(&a, forest)?;
            let distinct = a.distinct.min(x.len() / cols).max(1);
            let opts = opts.with_threads(Some(1));
            // The allocation-free API, one reused output buffer.
            let mut out = vec![0.0f32; forest.output_width(&opts).map_err(err)?];
            let mut call = |i: usize| -> Result<(), String> {
                let r = i % distinct;
                let m =
                    FeatureMatrix::row_major(&x[r * cols..(r + 1) * cols], 1, cols).map_err(err)?;
                forest
                    .predict_into(black_box(&m), &opts, &mut out)
                    .map_err(err)?;
                black_box(&out);
                Ok(())
            };
            for i in 0..1000 {
                call(i)?;
            }
            let mut us = Vec::with_capacity(a.calls);
            for i in 0..a.calls {
                let t = Instant::now();
                call(i)?;
                us.push(t.elapsed().as_secs_f64() * 1e6);
            }
            let mean = us.iter().sum::<f64>() / us.len() as f64;
            Ok(json!({
                "mode": "single", "model": a.model, "kernel": kernel_name(a.kernel),
                "calls": a.calls, "distinct_rows": distinct,
                "median_us": median(&mut us), "p99_us": quantile(&mut us, 0.99), "mean_us": mean,
            }))
        }
        "load" => {
            let bytes = std::fs::metadata(&a.model).map(|m| m.len()).unwrap_or(0);
            let mut secs = vec![load_s];
            for _ in 1..a.repeats.max(3) {
                let t = Instant::now();
                black_box(load_model(&a.model)?);
                secs.push(t.elapsed().as_secs_f64());
            }
            let all = secs.clone();
            Ok(json!({
                "mode": "load", "model": a.model, "bytes": bytes,
                "median_s": median(&mut secs), "seconds_all": all,
            }))
        }
        "dump" => {
            let (x, cols) = load_data(&a, forest)?;
            let rows = x.len() / cols;
            let m = FeatureMatrix::row_major(&x, rows, cols).map_err(err)?;
            let p = forest.predict(&m, &opts).map_err(err)?;
            let out = a.out.as_ref().ok_or("dump needs --out")?;
            let bytes: Vec<u8> = p.data.iter().flat_map(|v| v.to_le_bytes()).collect();
            std::fs::write(out, bytes).map_err(|e| format!("{}: {e}", out.display()))?;
            Ok(json!({
                "mode": "dump", "model": a.model, "kernel": kernel_name(a.kernel),
                "margin": a.margin, "shape": p.shape, "out": out,
            }))
        }
        m => Err(format!("unknown mode {m} (batch, single, load, dump)")),
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(v) => {
            println!("{v}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("qbench: {e}");
            ExitCode::FAILURE
        }
    }
}
