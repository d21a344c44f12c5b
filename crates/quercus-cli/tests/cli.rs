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
    assert!(
        text.lines().all(|l| !l.ends_with(' ')),
        "trailing blanks:\n{text}"
    );
    let r = quercus(&["inspect", MODEL, "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&r.stdout).unwrap();
    assert_eq!(v["num_trees"], 30);
    assert_eq!(v["num_features"], 4);
}

/// Runs a failing prediction: non-zero exit, one line on stderr containing
/// every needle, and no output file.
fn expect_failure(input_name: &str, content: impl AsRef<[u8]>, needles: &[&str]) {
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
        &[
            "bad_cell.csv",
            "line 3, column `monthly_charges`",
            "`abc` is not a number",
        ],
    );
    expect_failure(
        "ragged.jsonl",
        "[1,2,3,4]\n[1,2]\n",
        &["ragged.jsonl", "line 2", "2 values", "4 features"],
    );
    expect_failure(
        "missing_col.csv",
        "tenure_months,monthly_charges,support_calls\n1,2,3\n",
        &["missing feature column(s): contract_years"],
    );
    expect_failure(
        "unknown.jsonl",
        "{\"tenure\": 3}\n",
        &["line 1", "`tenure` is not a feature"],
    );
}

const HEADER: &str = "tenure_months,monthly_charges,support_calls,contract_years";

/// Predicts `input` (written with `content`) with MODEL into a CSV and
/// returns the predictions.
fn predict_ok(input_name: &str, content: impl AsRef<[u8]>) -> String {
    let input = tmp(input_name);
    std::fs::write(&input, content).unwrap();
    let out = tmp(&format!("{input_name}.out.csv"));
    let r = quercus(&[
        "predict",
        MODEL,
        "--input",
        input.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
    ]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    std::fs::read_to_string(&out).unwrap()
}

/// The first `n` rows of models/example/input.csv (header included) and
/// their expected predictions.
fn example_rows(n: usize) -> (String, String) {
    let input = std::fs::read_to_string(repo().join("models/example/input.csv")).unwrap();
    let want = std::fs::read_to_string(repo().join("models/example/expected.csv")).unwrap();
    let take = |t: &str| t.lines().take(n + 1).map(|l| format!("{l}\n")).collect();
    (take(&input), take(&want))
}

#[test]
fn a_byte_order_mark_is_skipped() {
    // Excel's "CSV UTF-8" and Notepad write one; it used to make the first
    // column's name unknown.
    let (csv, want) = example_rows(3);
    assert_eq!(predict_ok("bom.csv", format!("\u{feff}{csv}")), want);
    let jsonl: String = csv
        .lines()
        .skip(1)
        .map(|l| format!("[{}]\n", l.replace(",,", ",null,")))
        .collect();
    assert_eq!(predict_ok("bom.jsonl", format!("\u{feff}{jsonl}")), want);
}

#[test]
fn quoted_csv_fields_may_hold_commas_and_line_breaks() {
    let (csv, want) = example_rows(2);
    // Every field quoted, one spanning two lines (blanks and a line break:
    // missing), the header's too.
    let mut rows = csv.lines().skip(1);
    let quoted = |l: &str| {
        l.split(',')
            .map(|f| format!("\"{f}\""))
            .collect::<Vec<_>>()
            .join(",")
    };
    let text = format!(
        "{}\n{}\n{}\n",
        quoted(HEADER),
        quoted(rows.next().unwrap()),
        quoted(rows.next().unwrap())
    );
    assert_eq!(predict_ok("quoted.csv", text), want);
    // A value holding a comma and a line break is one field: the error is
    // about that value, not a ragged row, and names its line.
    expect_failure(
        "quoted_value.csv",
        format!("{HEADER}\n1,2,3,4\n\"5,\n6\",2,3,4\n"),
        &["line 3, column `tenure_months`", "`5,\\n6` is not a number"],
    );
    // Lines after a record spanning lines are counted as lines of the file.
    expect_failure(
        "quoted_lines.csv",
        format!("{HEADER}\n\"1\n\",2,3,4\n1,2,x,4\n"),
        &["line 4, column `support_calls`", "`x` is not a number"],
    );
    // A header name holding a comma is one name (and not a feature here).
    expect_failure(
        "quoted_header.csv",
        "\"tenure,\nmonths\",monthly_charges,support_calls,contract_years\n1,2,3,4\n",
        &["line 1: column `tenure,\\nmonths` is not a feature"],
    );
}

#[test]
fn input_that_is_not_utf8_names_the_line_and_column() {
    let mut csv = format!("{HEADER}\n1,2,3,4\n5,6,").into_bytes();
    csv.extend_from_slice(b"\xFF7,8\n");
    expect_failure(
        "latin.csv",
        csv,
        &[
            "latin.csv",
            "line 3, column `support_calls`",
            "invalid UTF-8 (byte 0xFF)",
        ],
    );
    let mut jsonl = b"[1,2,3,4]\n{\"tenure_months\": 1, \"".to_vec();
    jsonl.extend_from_slice(b"caf\xE9\": 2}\n");
    expect_failure(
        "latin.jsonl",
        jsonl,
        &[
            "latin.jsonl",
            "line 2, column 26",
            "invalid UTF-8 (byte 0xE9)",
        ],
    );
}

#[test]
fn a_jsonl_key_given_twice_is_an_error() {
    // serde_json's map keeps the last value: 1 was silently dropped.
    expect_failure(
        "dup.jsonl",
        "{\"tenure_months\": 1, \"monthly_charges\": 2}\n\
         {\"tenure_months\": 1, \"monthly_charges\": 2, \"tenure_months\": 3}\n",
        &["dup.jsonl", "line 2", "duplicate key `tenure_months`"],
    );
}

/// `predict --output` naming the input is refused, whatever the spelling,
/// and the input is left as it was.
#[test]
fn predict_refuses_to_overwrite_its_input() {
    let (csv, _) = example_rows(2);
    let dir = tmp("same");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let input = dir.join("rows.csv");
    std::fs::write(&input, &csv).unwrap();
    let run = |output: &str| {
        Command::new(env!("CARGO_BIN_EXE_quercus"))
            .args(["predict", &repo().join(MODEL).display().to_string()])
            .args(["--input", "rows.csv", "--output", output])
            .current_dir(&dir)
            .output()
            .unwrap()
    };
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink("rows.csv", dir.join("link.csv")).unwrap();
        std::fs::hard_link(&input, dir.join("hard.csv")).unwrap();
    }
    let abs = input.display().to_string();
    let mut spellings = vec!["rows.csv", "./rows.csv", "../same/rows.csv", abs.as_str()];
    if cfg!(unix) {
        spellings.extend(["link.csv", "hard.csv"]);
    }
    for output in spellings {
        let r = run(output);
        let err = String::from_utf8_lossy(&r.stderr);
        assert_eq!(r.status.code(), Some(1), "{output}: {err}");
        assert_eq!(err.lines().count(), 1, "{output}: {err}");
        assert!(err.contains("is the input file"), "{output}: {err}");
        assert_eq!(std::fs::read_to_string(&input).unwrap(), csv, "{output}");
    }
    // Another file is fine.
    let r = run("p.csv");
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
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
    assert_eq!(r.status.code(), Some(2));
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(
        err.contains("'fastest'") && err.contains("--kernel"),
        "{err}"
    );
    // Case-insensitive, and `scalar` is the reference kernel, as before.
    let out = tmp("kernel-scalar.csv");
    for k in ["Interleaved", "scalar"] {
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
        assert!(
            r.status.success(),
            "{k}: {}",
            String::from_utf8_lossy(&r.stderr)
        );
    }
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

// ---- The command line: help, usage errors, completions, man page -------------

/// Every subcommand, as its argument path.
const SUBCOMMANDS: &[&[&str]] = &[
    &["inspect"],
    &["predict"],
    &["compile"],
    &["bench"],
    &["vertex"],
    &["vertex", "upload-request"],
    &["registry"],
    &["registry", "upload"],
    &["registry", "list"],
    &["registry", "describe"],
    &["registry", "delete"],
    &["registry", "merge-aliases"],
    &["registry", "verify"],
    &["completions"],
    &["man"],
    &["bench-instances"],
];

#[test]
fn every_subcommand_has_help_with_an_example() {
    for path in SUBCOMMANDS {
        for flag in ["--help", "-h"] {
            let args: Vec<&str> = path.iter().copied().chain([flag]).collect();
            let r = quercus(&args);
            let out = String::from_utf8_lossy(&r.stdout);
            assert_eq!(
                r.status.code(),
                Some(0),
                "{args:?}: {}",
                String::from_utf8_lossy(&r.stderr)
            );
            assert!(out.contains("Usage: quercus"), "{args:?}: {out}");
            assert!(out.contains("Example:\n  quercus "), "{args:?}: {out}");
        }
        // `quercus help SUBCOMMAND` too.
        let args: Vec<&str> = ["help"].into_iter().chain(path.iter().copied()).collect();
        let r = quercus(&args);
        assert_eq!(r.status.code(), Some(0), "{args:?}");
        assert!(
            String::from_utf8_lossy(&r.stdout).contains("Example:"),
            "{args:?}"
        );
    }
    // Options, their defaults and values are shown.
    let r = quercus(&["predict", "--help"]);
    let out = String::from_utf8_lossy(&r.stdout);
    for needle in [
        "<MODEL>",
        "--input <IN>",
        "--iteration-range <A:B>",
        "[default: auto]",
        "avx512",
    ] {
        assert!(out.contains(needle), "{needle}: {out}");
    }
    let out = String::from_utf8(quercus(&["bench", "-h"]).stdout).unwrap();
    assert!(
        out.contains("[default: 100000]") && out.contains("[default: 5]"),
        "{out}"
    );
    // The top level: help with no arguments too, exit 0.
    for args in [&["--help"][..], &[]] {
        let r = quercus(args);
        assert_eq!(r.status.code(), Some(0));
        let out = String::from_utf8_lossy(&r.stdout);
        assert!(
            out.contains("Examples:") && out.contains("registry"),
            "{out}"
        );
        assert!(!out.contains("bench-instances"), "hidden: {out}");
    }
    let r = quercus(&["--version"]);
    assert_eq!(
        String::from_utf8_lossy(&r.stdout).trim(),
        format!("quercus {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn unknown_flags_are_rejected_per_subcommand() {
    for path in SUBCOMMANDS {
        let args: Vec<&str> = path.iter().copied().chain(["--frobnicate"]).collect();
        let r = quercus(&args);
        let err = String::from_utf8_lossy(&r.stderr);
        assert_eq!(r.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains("--frobnicate"), "{args:?}: {err}");
        assert!(r.stdout.is_empty(), "{args:?}");
    }
    // A flag of another subcommand is unknown here: `inspect` has no
    // `--margin` (the hand-written parser used to accept and ignore it).
    let r = quercus(&["inspect", MODEL, "--margin"]);
    assert_eq!(r.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&r.stderr).contains("'--margin'"));
    // After merge-aliases' aliases (which may start with `-`), too.
    let r = quercus(&[
        "registry",
        "merge-aliases",
        "m@1",
        "a",
        "-b",
        "--frobnicate",
    ]);
    assert_eq!(r.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&r.stderr).contains("--frobnicate"));
    // Unknown subcommands.
    for args in [
        &["frobnicate"][..],
        &["registry", "frobnicate"],
        &["vertex", "frobnicate"],
    ] {
        let r = quercus(args);
        assert_eq!(r.status.code(), Some(2), "{args:?}");
        assert!(
            String::from_utf8_lossy(&r.stderr).contains("'frobnicate'"),
            "{args:?}"
        );
    }
}

#[test]
fn predict_without_model_asks_for_model_first() {
    for args in [
        &["predict"][..],
        &["predict", "--input", "x.csv", "--output", "y.csv"],
        &["predict", "--input", "x.csv"],
    ] {
        let r = quercus(args);
        let err = String::from_utf8_lossy(&r.stderr);
        assert_eq!(r.status.code(), Some(2), "{args:?}");
        let first = err
            .lines()
            .skip_while(|l| !l.contains("required arguments were not provided"))
            .nth(1);
        assert_eq!(first.map(str::trim), Some("<MODEL>"), "{args:?}: {err}");
        assert!(err.contains("Usage: quercus predict <MODEL>"), "{err}");
    }
    // With MODEL, the missing options are named.
    let r = quercus(&["predict", MODEL]);
    let err = String::from_utf8_lossy(&r.stderr);
    assert_eq!(r.status.code(), Some(2));
    assert!(
        err.contains("--input <IN>") && err.contains("--output <OUT>"),
        "{err}"
    );
    for args in [
        &["inspect"][..],
        &["compile"],
        &["bench"],
        &["vertex", "upload-request"],
        &["registry", "upload"],
    ] {
        let r = quercus(args);
        assert_eq!(r.status.code(), Some(2), "{args:?}");
        assert!(
            String::from_utf8_lossy(&r.stderr).contains("<MODEL>"),
            "{args:?}"
        );
    }
}

#[test]
fn option_values_are_checked() {
    let input = "models/example/input.csv";
    let out = tmp("checked.csv");
    let out = out.to_str().unwrap();
    for (bad, needle) in [
        (&["--threads", "0"][..], "--threads"),
        (&["--threads", "two"], "--threads"),
        (&["--iteration-range", "3"], "BEGIN:END"),
        (&["--missing", "x"], "--missing"),
        (&["--margin", "--leaf"], "cannot be used with"),
    ] {
        let args: Vec<&str> = ["predict", MODEL, "-i", input, "-o", out]
            .into_iter()
            .chain(bad.iter().copied())
            .collect();
        let r = quercus(&args);
        let err = String::from_utf8_lossy(&r.stderr);
        assert_eq!(r.status.code(), Some(2), "{bad:?}: {err}");
        assert!(err.contains(needle), "{bad:?}: {err}");
    }
    // A negative --missing is a value, not a flag; `--flag=value` works.
    for extra in [
        &["--missing", "-999"][..],
        &["--missing=-1.5", "--threads=1", "--iteration-range=0:0"],
    ] {
        let args: Vec<&str> = ["predict", MODEL, "-i", input, "-o", out]
            .into_iter()
            .chain(extra.iter().copied())
            .collect();
        let r = quercus(&args);
        assert!(
            r.status.success(),
            "{extra:?}: {}",
            String::from_utf8_lossy(&r.stderr)
        );
    }
    // An option that does not fit the model: a usage error (exit 2).
    let r = quercus(&[
        "predict",
        MODEL,
        "-i",
        input,
        "-o",
        out,
        "--bigquery-format",
    ]);
    assert_eq!(r.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&r.stderr).contains("BigQuery ML export directories only"));
}

#[test]
fn completions_and_man_page_come_from_the_same_definitions() {
    for shell in ["bash", "zsh", "fish"] {
        let r = quercus(&["completions", shell]);
        assert!(r.status.success(), "{shell}");
        let out = String::from_utf8(r.stdout).unwrap();
        assert!(out.contains("quercus"), "{shell}");
        for word in ["predict", "merge-aliases", "iteration-range"] {
            assert!(out.contains(word), "{shell}: {word}");
        }
    }
    let r = quercus(&["completions", "tcsh"]);
    assert_eq!(r.status.code(), Some(2));

    let r = quercus(&["man"]);
    assert!(r.status.success());
    let page = String::from_utf8(r.stdout).unwrap();
    let th = page
        .lines()
        .find(|l| !l.starts_with(".ie") && !l.starts_with(".el"));
    assert!(page.starts_with('.'), "{page}");
    assert_eq!(
        th,
        Some(&*format!(
            ".TH quercus 1  \"quercus {}\" ",
            env!("CARGO_PKG_VERSION")
        ))
    );
    for section in [
        ".SH NAME",
        ".SH SYNOPSIS",
        ".SH DESCRIPTION",
        ".SH SUBCOMMANDS",
        "Examples:",
    ] {
        assert!(page.contains(section), "{section}");
    }
    let r = quercus(&["man", "registry", "upload"]);
    assert!(r.status.success());
    let page = String::from_utf8(r.stdout).unwrap();
    assert!(page.contains(".TH quercus-registry-upload 1"), "{page}");
    assert!(page.contains("model\\-id"), "{page}");
    let r = quercus(&["man", "frobnicate"]);
    assert_eq!(r.status.code(), Some(2));
}

/// The example model with its header rewritten (names dropped) by `edit`.
fn edited_model(name: &str, edit: impl FnOnce(&mut serde_json::Value)) -> PathBuf {
    let text = std::fs::read_to_string(repo().join(MODEL)).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["learner"]["feature_names"] = serde_json::json!([]);
    v["learner"]["feature_types"] = serde_json::json!([]);
    edit(&mut v);
    let p = tmp(name);
    std::fs::write(&p, v.to_string()).unwrap();
    p
}

/// Hardening items 1, 2 and 5 through the binary: absurd declared counts and
/// oversized files are one-line errors (exit 1), never a panic (exit 101) or
/// an allocation abort; a model declaring 2^40 features still inspects.
#[test]
fn absurd_counts_and_sizes_are_one_line_errors() {
    let classes = edited_model("classes.json", |v| {
        v["learner"]["learner_model_param"]["num_class"] = serde_json::json!("2147483648");
    });
    let r = quercus(&["inspect", classes.to_str().unwrap()]);
    assert_eq!(r.status.code(), Some(1));
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(err.contains("num_class 2147483648 is implausible"), "{err}");

    let wide = edited_model("wide.json", |v| {
        v["learner"]["learner_model_param"]["num_feature"] = serde_json::json!("1099511627776");
    });
    let wide = wide.to_str().unwrap();
    let r = quercus(&["inspect", wide, "--vertex"]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let r = quercus(&["bench", wide, "--runs", "1"]);
    assert_eq!(
        r.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&r.stderr)
    );
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(err.contains("use a smaller --batch"), "{err}");

    let r = quercus(&["inspect", MODEL, "--max-model-bytes", "100"]);
    assert_eq!(r.status.code(), Some(1));
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(err.contains("100-byte limit"), "{err}");
}
