//! End-to-end tests of the `quercus` binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn quercus(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_quercus"))
        .args(args)
        .current_dir(repo())
        .output()
        .expect("runs")
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("quercus-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

const MODEL: &str = "models/example/model.json";

#[test]
fn quick_start_prediction_equals_xgboost() {
    let out = tmp("quick.csv");
    let r = quercus(&[
        "predict",
        MODEL,
        "--input",
        "models/example/input.csv",
        "--output",
        out.to_str().unwrap(),
    ]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let got = std::fs::read_to_string(&out).unwrap();
    let want = std::fs::read_to_string(repo().join("models/example/expected.csv")).unwrap();
    assert_eq!(
        got, want,
        "shortest-repr float32 outputs must match XGBoost's"
    );
}

#[test]
fn inspect_shows_the_schema() {
    let r = quercus(&["inspect", MODEL]);
    assert!(r.status.success());
    let text = String::from_utf8(r.stdout).unwrap();
    for needle in [
        "binary:logistic",
        "gbtree",
        "tenure_months",
        "3.2.0",
        "features:       4",
    ] {
        assert!(text.contains(needle), "{needle} missing from:\n{text}");
    }
    let r = quercus(&["inspect", MODEL, "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&r.stdout).unwrap();
    assert_eq!(v["num_trees"], 30);
    assert_eq!(v["num_features"], 4);
}

/// Runs a failing prediction: non-zero exit, one line on stderr containing
/// every needle, and no output file.
fn expect_failure(input_name: &str, content: &str, needles: &[&str]) {
    let input = tmp(input_name);
    std::fs::write(&input, content).unwrap();
    let out = tmp(&format!("{input_name}.out.csv"));
    let _ = std::fs::remove_file(&out);
    let r = quercus(&[
        "predict",
        MODEL,
        "--input",
        input.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
    ]);
    let err = String::from_utf8(r.stderr).unwrap();
    assert!(!r.status.success());
    assert_eq!(err.lines().count(), 1, "one line expected: {err}");
    for n in needles {
        assert!(err.contains(n), "`{n}` missing from: {err}");
    }
    assert!(!out.exists(), "nothing may be written on failure");
}

#[test]
fn bad_inputs_fail_with_one_line_naming_row_and_column() {
    expect_failure(
        "bad_cell.csv",
        "tenure_months,monthly_charges,support_calls,contract_years\n1,2,3,4\n5,abc,7,8\n",
        &["row 1", "column 1", "`abc` is not a number"],
    );
    expect_failure(
        "ragged.jsonl",
        "[1,2,3,4]\n[1,2]\n",
        &["row 1", "2 values", "4 features"],
    );
    expect_failure(
        "missing_col.csv",
        "tenure_months,monthly_charges,support_calls\n1,2,3\n",
        &["missing feature column(s): contract_years"],
    );
    expect_failure(
        "unknown.jsonl",
        "{\"tenure\": 3}\n",
        &["row 0", "`tenure` is not a feature"],
    );
}

#[test]
fn wrong_width_npy_is_rejected() {
    let input = tmp("wide.npy");
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    let mut header = "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 5), }".to_string();
    header.push_str(&" ".repeat(64 - (10 + header.len() + 1) % 64));
    header.push('\n');
    bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    bytes.extend_from_slice(&[0u8; 20]);
    std::fs::write(&input, bytes).unwrap();
    let out = tmp("wide.out.npy");
    let r = quercus(&[
        "predict",
        MODEL,
        "--input",
        input.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
    ]);
    assert!(!r.status.success());
    assert!(String::from_utf8_lossy(&r.stderr).contains("expects 4 features"));
    assert!(!out.exists());
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(quercus(&["predict", MODEL]).status.code(), Some(2));
    assert_eq!(quercus(&["frobnicate"]).status.code(), Some(2));
    assert_eq!(
        quercus(&["predict", MODEL, "--threads", "0"]).status.code(),
        Some(2)
    );
}

// ---- BigQuery ML export directories -------------------------------------------

const EXPORT: &str = "models/bqml/synthetic_churn_classifier";

/// The first `n` accepted instances of an export's `cases.jsonl` and the
/// predictions of Google's exported predictor for them.
fn golden(export: &str, n: usize) -> (Vec<serde_json::Value>, Vec<serde_json::Value>) {
    let text = std::fs::read_to_string(repo().join(export).join("cases.jsonl")).unwrap();
    text.lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|c| c.get("expected").is_some())
        .take(n)
        .map(|c| (c["instance"].clone(), c["expected"].clone()))
        .unzip()
}

#[test]
fn predict_on_an_export_directory_matches_googles_predictor() {
    let (instances, expected) = golden(EXPORT, 40);
    let input = tmp("bq.jsonl");
    let text: String = instances.iter().map(|i| format!("{i}\n")).collect();
    std::fs::write(&input, text).unwrap();
    let out = tmp("bq.out.jsonl");
    let r = quercus(&[
        "predict",
        EXPORT,
        "--input",
        input.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
    ]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let got: Vec<serde_json::Value> = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // Same keys in the same order, same labels, same float32 probabilities.
    assert_eq!(got, expected);

    // A Vertex AI request body in, a response body out.
    let input = tmp("bq.json");
    std::fs::write(
        &input,
        serde_json::json!({"instances": instances, "parameters": {}}).to_string(),
    )
    .unwrap();
    let out = tmp("bq.out.json");
    let r = quercus(&[
        "predict",
        EXPORT,
        "--input",
        input.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
    ]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(v["predictions"], serde_json::Value::Array(expected.clone()));

    // BigQuery's ML.PREDICT shape.
    let out = tmp("bq.out.bq.jsonl");
    let r = quercus(&[
        "predict",
        EXPORT,
        "--input",
        input.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
        "--bigquery-format",
    ]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let first: serde_json::Value = serde_json::from_str(
        std::fs::read_to_string(&out)
            .unwrap()
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(first["predicted_churned"], expected[0]["predicted_churned"]);
    assert_eq!(
        first["predicted_churned_probs"][1],
        serde_json::json!({"label": expected[0]["churned_values"][1],
                           "prob": expected[0]["churned_probs"][1]})
    );
}

#[test]
fn a_bad_instance_fails_with_one_line_naming_row_and_feature() {
    let (instances, _) = golden(EXPORT, 3);
    let mut bad = instances[2].clone();
    bad["devices"] = serde_json::json!(7);
    let input = tmp("bq_bad.jsonl");
    std::fs::write(
        &input,
        format!("{}\n{}\n{}\n", instances[0], instances[1], bad),
    )
    .unwrap();
    let out = tmp("bq_bad.out.jsonl");
    let _ = std::fs::remove_file(&out);
    let r = quercus(&[
        "predict",
        EXPORT,
        "--input",
        input.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
    ]);
    let err = String::from_utf8(r.stderr).unwrap();
    assert!(!r.status.success());
    assert_eq!(err.lines().count(), 1, "{err}");
    for n in [
        "bq_bad.jsonl",
        "row 2",
        "feature `devices`",
        "expected an array",
    ] {
        assert!(err.contains(n), "`{n}` missing from: {err}");
    }
    assert!(!out.exists());

    // Options of numeric models make no sense for an export.
    let r = quercus(&[
        "predict",
        EXPORT,
        "--input",
        input.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
        "--margin",
    ]);
    assert_eq!(r.status.code(), Some(2));
}

#[test]
fn inspect_shows_the_export_schema() {
    let r = quercus(&["inspect", "models/bqml/synth_target_classifier"]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let text = String::from_utf8(r.stdout).unwrap();
    for needle in [
        "boosted_tree_classifier",
        "label column:   segment",
        "gold, silver, bronze",
        "categorical_target",
        "array_target",
        "categorical_label",
        "encode_type ohe",
        "assets/5_array.txt",
        "8 columns, encoded into 19 booster inputs",
    ] {
        assert!(text.contains(needle), "{needle} missing from:\n{text}");
    }
    let r = quercus(&["inspect", "models/bqml/boosted_tree_cox_model", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&r.stdout).unwrap();
    assert_eq!(v["model_type"], "boosted_tree_cox");
    assert_eq!(v["features"].as_array().unwrap().len(), 12);
    assert_eq!(v["features"][11]["encoding"], "categorical_one_hot");
    assert_eq!(v["features"][11]["vocabulary_size"], 10);
    assert_eq!(v["num_columns"], 35);
}

#[test]
fn compiled_model_predicts_the_same_and_a_corrupted_one_is_refused() {
    let qpack = tmp("model.qpack");
    let r = quercus(&["compile", MODEL, "-o", qpack.to_str().unwrap()]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let out = tmp("from_qpack.csv");
    let r = quercus(&[
        "predict",
        qpack.to_str().unwrap(),
        "--input",
        "models/example/input.csv",
        "--output",
        out.to_str().unwrap(),
    ]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let want = std::fs::read_to_string(repo().join("models/example/expected.csv")).unwrap();
    assert_eq!(std::fs::read_to_string(&out).unwrap(), want);

    // One flipped byte in the middle of the file: refused, naming the file
    // and the checksum; nothing written.
    let mut bytes = std::fs::read(&qpack).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x10;
    let bad = tmp("corrupt.qpack");
    std::fs::write(&bad, &bytes).unwrap();
    let out = tmp("never.csv");
    let r = quercus(&[
        "predict",
        bad.to_str().unwrap(),
        "--input",
        "models/example/input.csv",
        "--output",
        out.to_str().unwrap(),
    ]);
    assert!(!r.status.success());
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(
        err.contains("checksum") && err.contains("corrupt.qpack"),
        "{err}"
    );
    assert!(!out.exists());
    // Truncated: refused too.
    std::fs::write(&bad, &bytes[..bytes.len() - 7]).unwrap();
    let r = quercus(&["inspect", bad.to_str().unwrap()]);
    assert!(!r.status.success());
    assert!(String::from_utf8_lossy(&r.stderr).contains("truncated"));
}

#[test]
fn bench_reports_batch_and_one_row_figures() {
    let r = quercus(&[
        "bench",
        MODEL,
        "--batch",
        "5000",
        "--runs",
        "2",
        "--threads",
        "1",
        "--json",
    ]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let v: serde_json::Value =
        serde_json::from_str(String::from_utf8(r.stdout).unwrap().trim()).unwrap();
    assert!(v["rows_per_second_median"].as_f64().unwrap() > 0.0);
    assert!(v["one_row_us_median"].as_f64().unwrap() > 0.0);
    assert_eq!(v["batch"], 5000);
}

#[test]
fn every_kernel_predicts_the_same_bytes() {
    let kernels = ["auto", "reference", "interleaved", "avx512"];
    let mut outputs = Vec::new();
    for k in kernels {
        let out = tmp(&format!("kernel-{k}.csv"));
        let r = quercus(&[
            "predict",
            MODEL,
            "--input",
            "models/example/input.csv",
            "--output",
            out.to_str().unwrap(),
            "--kernel",
            k,
        ]);
        let err = String::from_utf8_lossy(&r.stderr);
        if k == "avx512" && !r.status.success() {
            // A CPU without AVX-512: a clear error, not a silent fallback.
            assert!(err.contains("needs a CPU feature"), "{err}");
            continue;
        }
        assert!(r.status.success(), "{k}: {err}");
        outputs.push((k, std::fs::read(&out).unwrap()));
    }
    let want = std::fs::read(repo().join("models/example/expected.csv")).unwrap();
    for (k, got) in outputs {
        assert_eq!(got, want, "kernel {k}");
    }
    let r = quercus(&["bench", MODEL, "--kernel", "fastest"]);
    assert!(!r.status.success());
    assert!(String::from_utf8_lossy(&r.stderr).contains("--kernel: `fastest`"));
}

#[test]
fn inspect_shows_training_categories() {
    // Written by XGBoost 3.1.3 from a DataFrame with integer categories 0..12
    // in features c0 and c1 (models/gen/xgboost_models.py).
    let r = quercus(&["inspect", "models/xgboost/3.1.3/categorical.json", "--json"]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let v: serde_json::Value = serde_json::from_slice(&r.stdout).unwrap();
    let cats = v["categories"].as_array().expect("categories");
    assert_eq!(cats.len(), 5);
    let want: Vec<serde_json::Value> = (0..12).map(|i| serde_json::json!(f64::from(i))).collect();
    for (i, c) in cats.iter().enumerate() {
        match i {
            1 | 3 => assert_eq!(c.as_array().unwrap(), &want),
            _ => assert!(c.is_null()),
        }
    }
    let r = quercus(&["inspect", "models/xgboost/3.1.3/categorical.json"]);
    let text = String::from_utf8(r.stdout).unwrap();
    assert!(
        text.contains("12 categories: 0, 1, 2, 3, 4, 5, 6, 7, ..."),
        "{text}"
    );
    let r = quercus(&["inspect", MODEL, "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&r.stdout).unwrap();
    assert!(v["categories"].is_null());
}
