//! Parity with real XGBoost: every model under `models/xgboost/` was written by
//! a pip-installed XGBoost (0.82 … 3.2.0), and its reference outputs were
//! produced by that same version loading the file back (`models/gen/`).
//!
//! * margins must be bit-identical,
//! * transformed outputs within 1 ulp of f32,
//! * `pred_leaf` identical,
//! * output shapes identical to what `Booster.predict` returned.
//!
//! Reproducing the writing version uses `legacy_summation` ([`Compat::Writer`]);
//! the `modern_*` references (XGBoost 3.0.5 loading 0.x/1.0 binaries) are
//! checked with the default, [`Compat::Current`].

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use quercus::io::{read_npy, read_npy_any};
use quercus::{Compat, FeatureMatrix, Kernel, LoadOptions, Model, Output, PredictOptions};
use serde_json::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/xgboost")
}

fn manifest() -> Vec<Value> {
    let text = std::fs::read_to_string(root().join("manifest.json"))
        .expect("models/xgboost/manifest.json");
    let v: Value = serde_json::from_str(&text).expect("manifest parses");
    v["cases"].as_array().expect("cases").clone()
}

fn npy(rel: &str) -> (Vec<f32>, Vec<usize>) {
    let bytes = std::fs::read(root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
    read_npy_any(&bytes).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// Distance in units in the last place between two f32s (0 for equal bits or two NaNs).
fn ulps(a: f32, b: f32) -> u64 {
    if a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()) {
        return 0;
    }
    if a.is_nan() || b.is_nan() {
        return u64::MAX;
    }
    let key = |x: f32| {
        let i = x.to_bits() as i32;
        if i < 0 {
            i64::from(i32::MIN) - i64::from(i)
        } else {
            i64::from(i)
        }
    };
    (key(a) - key(b)).unsigned_abs()
}

struct Check<'a> {
    id: &'a str,
    failures: Vec<String>,
    compared: usize,
    inexact: usize,
}

impl Check<'_> {
    fn compare(
        &mut self,
        what: &str,
        got: &quercus::Predictions,
        want: &(Vec<f32>, Vec<usize>),
        max_ulps: u64,
    ) {
        self.compared += 1;
        if got.shape != want.1 {
            self.failures.push(format!(
                "{}: {what}: shape {:?}, XGBoost {:?}",
                self.id, got.shape, want.1
            ));
            return;
        }
        let mut worst = (0u64, 0usize);
        let mut differing = 0;
        for (i, (&g, &w)) in got.data.iter().zip(&want.0).enumerate() {
            let d = ulps(g, w);
            if d > 0 {
                differing += 1;
            }
            if d > worst.0 {
                worst = (d, i);
            }
        }
        if differing > 0 {
            self.inexact += 1;
        }
        if worst.0 > max_ulps {
            let i = worst.1;
            self.failures.push(format!(
                "{}: {what}: {differing} values differ; worst at flat index {i}: quercus {:e} vs XGBoost {:e} ({} ulp)",
                self.id, got.data[i], want.0[i], worst.0
            ));
        }
    }
}

/// Predicts with every kernel; all must agree bit for bit with the reference
/// kernel, whose result is returned.
fn predict(
    model: &Model,
    x: &FeatureMatrix<'_>,
    missing: f32,
    f: impl Fn(&mut PredictOptions),
) -> Result<quercus::Predictions, quercus::Error> {
    let mut results = Vec::new();
    for kernel in Kernel::available() {
        let mut o = PredictOptions::default()
            .with_missing(missing)
            .with_kernel(kernel);
        f(&mut o);
        results.push((kernel, model.predict(x, &o)?));
        if kernel == Kernel::Reference {
            continue;
        }
        // The same kernel on other paths: each row alone (the one-row path,
        // into a reused buffer), the first three rows (a short batch), and the
        // rows repeated past the threading threshold on two threads.
        let width = model.output_width(&o)?;
        let mut rowwise = vec![0.0f32; x.rows() * width];
        for (r, out) in rowwise.chunks_exact_mut(width.max(1)).enumerate() {
            model.predict_into(&x.slice_rows(r, r + 1), &o, out)?;
        }
        let shape = results.last().unwrap().1.shape.clone();
        results.push((
            kernel,
            quercus::Predictions {
                data: rowwise,
                shape,
            },
        ));
        let head = x.rows().min(3);
        let mut short = model.predict(&x.slice_rows(0, head), &o)?;
        short
            .data
            .extend_from_slice(&results.last().unwrap().1.data[head * width..]);
        short.shape = results.last().unwrap().1.shape.clone();
        results.push((kernel, short));
        let reps = 2100usize.div_ceil(x.rows().max(1));
        let (data, cols) = dense(x);
        let tiled: Vec<f32> = std::iter::repeat_n(data.as_slice(), reps)
            .flatten()
            .copied()
            .collect();
        let big = FeatureMatrix::row_major(&tiled, x.rows() * reps, cols)?;
        let threaded = model.predict(&big, &o.clone().with_threads(Some(2)))?;
        for (i, chunk) in threaded
            .data
            .chunks_exact(x.rows() * width.max(1))
            .enumerate()
        {
            if chunk
                .iter()
                .zip(&results[0].1.data)
                .any(|(a, b)| !same_bits(*a, *b))
            {
                return Err(quercus::Error::option(format!(
                    "kernel {kernel:?} on 2 threads differs from the reference in copy {i}"
                )));
            }
        }
    }
    let (_, reference) = &results[0];
    for (kernel, r) in &results[1..] {
        let same = r.shape == reference.shape
            && r.data.len() == reference.data.len()
            && r.data
                .iter()
                .zip(&reference.data)
                .all(|(a, b)| same_bits(*a, *b));
        if !same {
            return Err(quercus::Error::option(format!(
                "kernel {kernel:?} differs from the reference kernel"
            )));
        }
    }
    Ok(results.swap_remove(0).1)
}

fn same_bits(a: f32, b: f32) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

/// The matrix as a dense row-major copy, and its column count.
fn dense(x: &FeatureMatrix<'_>) -> (Vec<f32>, usize) {
    let mut data = vec![0.0f32; x.rows() * x.cols()];
    for (r, row) in data
        .chunks_exact_mut(x.cols().max(1))
        .enumerate()
        .take(x.rows())
    {
        x.copy_row(r, row);
    }
    (data, x.cols())
}

#[test]
fn every_fixture_matches_the_xgboost_that_wrote_it() {
    let cases = manifest();
    let mut failures = Vec::new();
    let mut versions: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let (mut compared, mut inexact_transformed) = (0, 0);
    for case in &cases {
        let id = case["id"].as_str().unwrap();
        let version = case["version"].as_str().unwrap().to_string();
        versions
            .entry(version)
            .or_default()
            .insert(case["format"].as_str().unwrap().to_string());
        let model_path = root().join(case["model"].as_str().unwrap());
        let writer = match Model::load_with(
            &model_path,
            &LoadOptions {
                compat: Compat::Writer,
                ..LoadOptions::default()
            },
        ) {
            Ok(m) => m,
            Err(e) => {
                failures.push(format!("{id}: load failed: {e}"));
                continue;
            }
        };
        let x_bytes = std::fs::read(root().join(case["input"].as_str().unwrap())).unwrap();
        let table = read_npy(&x_bytes).unwrap();
        let x = FeatureMatrix::row_major(&table.data, table.rows, table.cols).unwrap();
        let missing = case["missing"].as_f64().map_or(f32::NAN, |m| m as f32);
        let mut check = Check {
            id,
            failures: Vec::new(),
            compared: 0,
            inexact: 0,
        };

        let run = |check: &mut Check,
                   model: &Model,
                   what: &str,
                   key: &str,
                   max_ulps: u64,
                   f: &dyn Fn(&mut PredictOptions)| {
            let Some(rel) = case[key].as_str() else {
                return;
            };
            let want = npy(rel);
            match predict(model, &x, missing, f) {
                Ok(got) => check.compare(what, &got, &want, max_ulps),
                Err(e) => check.failures.push(format!("{id}: {what}: {e}")),
            }
        };
        run(&mut check, &writer, "margin", "margin", 0, &|o| {
            o.output = Output::Margin
        });
        let before = check.inexact;
        run(&mut check, &writer, "predict", "predict", 1, &|_| {});
        inexact_transformed += check.inexact - before;
        run(&mut check, &writer, "leaf", "leaf", 0, &|o| {
            o.output = Output::Leaf
        });
        if let Some(r) = case["iteration_range"].as_array() {
            let range = (
                r[0].as_u64().unwrap() as usize,
                r[1].as_u64().unwrap() as usize,
            );
            run(
                &mut check,
                &writer,
                "margin (iteration_range)",
                "margin_range",
                0,
                &|o| {
                    o.output = Output::Margin;
                    o.iteration_range = Some(range);
                },
            );
            run(
                &mut check,
                &writer,
                "predict (iteration_range)",
                "predict_range",
                1,
                &|o| {
                    o.iteration_range = Some(range);
                },
            );
        }
        if case["modern_margin"].is_string() {
            // 3.0.5 rejects ±inf: its outputs cover only the rows in `modern_rows`.
            let subset: Vec<f32>;
            let x = match case["modern_rows"].as_str() {
                Some(rel) => {
                    let rows: Vec<usize> = npy(rel).0.iter().map(|&r| r as usize).collect();
                    subset = rows
                        .iter()
                        .flat_map(|&r| {
                            table.data[r * table.cols..(r + 1) * table.cols]
                                .iter()
                                .copied()
                        })
                        .collect();
                    FeatureMatrix::row_major(&subset, rows.len(), table.cols).unwrap()
                }
                None => x,
            };
            let run = |check: &mut Check,
                       model: &Model,
                       what: &str,
                       key: &str,
                       max_ulps: u64,
                       f: &dyn Fn(&mut PredictOptions)| {
                let want = npy(case[key].as_str().unwrap());
                match predict(model, &x, missing, f) {
                    Ok(got) => check.compare(what, &got, &want, max_ulps),
                    Err(e) => check.failures.push(format!("{id}: {what}: {e}")),
                }
            };
            match Model::load(&model_path) {
                Ok(current) => {
                    run(
                        &mut check,
                        &current,
                        "margin (3.0.5 loading it)",
                        "modern_margin",
                        0,
                        &|o| o.output = Output::Margin,
                    );
                    run(
                        &mut check,
                        &current,
                        "predict (3.0.5 loading it)",
                        "modern_predict",
                        1,
                        &|_| {},
                    );
                }
                Err(e) => check
                    .failures
                    .push(format!("{id}: default load failed: {e}")),
            }
        }
        compared += check.compared;
        failures.extend(check.failures);
    }
    eprintln!(
        "parity: {} cases, {compared} comparisons, {} transformed outputs not bit-exact (≤1 ulp allowed)",
        cases.len(),
        inexact_transformed
    );
    for (v, f) in &versions {
        eprintln!(
            "  {v}: {}",
            f.iter().cloned().collect::<Vec<_>>().join(", ")
        );
    }
    assert!(
        failures.is_empty(),
        "{} parity failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // The suite must really have run: every version, hundreds of comparisons.
    for v in [
        "0.82", "0.90", "1.0.2", "1.3.3", "1.5.2", "1.6.2", "1.7.6", "2.0.3", "2.1.4", "3.0.5",
        "3.1.3", "3.2.0",
    ] {
        assert!(versions.contains_key(v), "no fixtures from XGBoost {v}");
    }
    assert!(compared >= 300, "only {compared} comparisons ran");
}

/// Every fixture, compiled to `.qpack` and opened again (from memory and
/// memory-mapped from a file), predicts bit for bit what the model it was
/// compiled from predicts, with every kernel, and rebuilds the same IR.
#[test]
fn compiled_fixtures_predict_exactly_like_their_source() {
    let dir = std::env::temp_dir().join(format!("quercus-qpack-parity-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut failures = Vec::new();
    let mut checked = 0;
    for case in manifest() {
        let id = case["id"].as_str().unwrap();
        let opts = LoadOptions {
            compat: Compat::Writer,
            ..LoadOptions::default()
        };
        let Ok(model) = Model::load_with(root().join(case["model"].as_str().unwrap()), &opts)
        else {
            continue; // load failures are reported by the test above
        };
        let bytes = model.compile().unwrap();
        let path = dir.join("m.qpack");
        std::fs::write(&path, &bytes).unwrap();
        let from_file = Model::load(&path).unwrap();
        let from_bytes = Model::from_bytes(&bytes, &opts).unwrap();
        let x_bytes = std::fs::read(root().join(case["input"].as_str().unwrap())).unwrap();
        let table = read_npy(&x_bytes).unwrap();
        let x = FeatureMatrix::row_major(&table.data, table.rows, table.cols).unwrap();
        let missing = case["missing"].as_f64().map_or(f32::NAN, |m| m as f32);
        for compiled in [&from_file, &from_bytes] {
            for kernel in Kernel::available() {
                for (margin, leaf) in [(true, false), (false, false), (false, true)] {
                    let o = PredictOptions::default()
                        .with_output(Output::from_flags(margin, leaf))
                        .with_missing(missing)
                        .with_kernel(kernel);
                    let want = model.predict(&x, &o);
                    let got = compiled.predict(&x, &o);
                    let same = match (&want, &got) {
                        (Ok(a), Ok(b)) => {
                            a.shape == b.shape
                                && a.data.iter().zip(&b.data).all(|(a, b)| same_bits(*a, *b))
                        }
                        (Err(a), Err(b)) => a.to_string() == b.to_string(),
                        _ => false,
                    };
                    if !same {
                        failures.push(format!("{id}: {kernel:?} margin={margin} leaf={leaf}"));
                    }
                    checked += 1;
                }
            }
            if format!("{:?}", compiled.forest().booster())
                != format!("{:?}", model.forest().booster())
            {
                failures.push(format!("{id}: rebuilt IR differs"));
            }
            if compiled.info() != model.info() {
                failures.push(format!("{id}: metadata differs"));
            }
        }
    }
    std::fs::remove_dir_all(&dir).ok();
    assert!(checked > 5000, "only {checked} comparisons");
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
