//! Malformed exports fail at load, with a message naming the file at fault.

use std::path::{Path, PathBuf};

use quercus_bqml::{BqmlModel, BqmlOptions, LoadOptions};
use serde_json::json;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../models/bqml")
        .join(name)
}

/// A fresh copy of a fixture export in a temporary directory.
fn copy(name: &str, tag: &str) -> PathBuf {
    let dst = std::env::temp_dir().join(format!(
        "quercus-bqml-malformed-{}-{tag}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dst);
    std::fs::create_dir_all(dst.join("assets")).unwrap();
    let src = fixture(name);
    std::fs::copy(src.join("model.bst"), dst.join("model.bst")).unwrap();
    for e in std::fs::read_dir(src.join("assets")).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, dst.join("assets").join(p.file_name().unwrap())).unwrap();
    }
    dst
}

/// Opens `dir`, expects an error whose message contains every needle.
fn expect_error(dir: &Path, needles: &[&str]) -> String {
    let err = BqmlModel::open(dir, &LoadOptions::default())
        .expect_err("a malformed export must not load");
    let msg = err.to_string();
    for n in needles {
        assert!(msg.contains(n), "`{n}` missing from: {msg}");
    }
    let _ = std::fs::remove_dir_all(dir);
    msg
}

#[test]
fn copies_of_the_fixtures_load() {
    // The helpers themselves are sound.
    let dir = copy("synthetic_churn_classifier", "ok");
    BqmlModel::open(&dir, &LoadOptions::default()).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn missing_metadata() {
    let dir = copy("boosted_tree_classifier_model", "nometa");
    std::fs::remove_file(dir.join("assets/model_metadata.json")).unwrap();
    expect_error(&dir, &["model_metadata.json", "I/O error"]);
}

#[test]
fn missing_booster() {
    let dir = copy("boosted_tree_classifier_model", "nobst");
    std::fs::remove_file(dir.join("model.bst")).unwrap();
    expect_error(&dir, &["model.bst"]);
}

#[test]
fn vocabulary_for_a_feature_index_that_does_not_exist() {
    let dir = copy("synthetic_churn_classifier", "badindex");
    std::fs::write(
        dir.join("assets/10_categorical_label.txt"),
        "_null_filler\na\n",
    )
    .unwrap();
    expect_error(
        &dir,
        &[
            "10_categorical_label.txt",
            "feature index 10",
            "10 features",
        ],
    );

    let dir = copy("boosted_tree_regressor_model", "badindex2");
    std::fs::write(dir.join("assets/99999999999999999999999.txt"), "x\n").unwrap();
    expect_error(&dir, &["99999999999999999999999.txt"]);
}

#[test]
fn feature_count_disagrees_with_the_booster() {
    // One more one-hot slot: 19 encoded columns for an 18-feature booster.
    let dir = copy("synthetic_churn_classifier", "width");
    let p = dir.join("assets/3_categorical_one_hot.txt");
    let mut text = std::fs::read_to_string(&p).unwrap();
    text.push_str("oceania\n");
    std::fs::write(&p, text).unwrap();
    let msg = expect_error(
        &dir,
        &["model.bst", "model_metadata.json", "encoded columns"],
    );
    assert!(
        msg.contains("18 features") && msg.contains("region 6"),
        "{msg}"
    );

    // A feature dropped from the metadata: fewer encoded columns than the
    // booster's features is what the predictor accepts (the rest are missing).
    let dir = copy("boosted_tree_regressor_model", "width2");
    let p = dir.join("assets/model_metadata.json");
    let mut meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
    meta["feature_names"] = json!(["f1", "f2"]);
    std::fs::write(&p, meta.to_string()).unwrap();
    let model = BqmlModel::open(&dir, &LoadOptions::default()).unwrap();
    assert_eq!((model.num_columns(), model.declared_features()), (5, 6));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn non_utf8_vocabulary() {
    let dir = copy("synthetic_churn_classifier", "utf8");
    std::fs::write(
        dir.join("assets/6_categorical_label.txt"),
        b"_null_filler\ncard\n\xff\xfeinvoice\n",
    )
    .unwrap();
    expect_error(&dir, &["6_categorical_label.txt", "UTF-8"]);
}

#[test]
fn malformed_dimension_and_target_files() {
    let dir = copy("boosted_tree_mixed_feature_model", "dim");
    std::fs::write(dir.join("assets/3_array_struct_dimension.txt"), "five\n").unwrap();
    expect_error(&dir, &["3_array_struct_dimension.txt", "integer"]);

    let dir = copy("boosted_tree_mixed_feature_model", "negdim");
    std::fs::write(dir.join("assets/4_array_numerical_length.txt"), "-3\n").unwrap();
    expect_error(&dir, &["4_array_numerical_length.txt", "negative"]);

    let dir = copy("synth_target_classifier", "target");
    std::fs::write(
        dir.join("assets/1_categorical_target.txt"),
        "austin,0.1,0.2,0.7\nboston,0.5,x,0.5\n",
    )
    .unwrap();
    expect_error(
        &dir,
        &["1_categorical_target.txt", "line 2", "target encoding"],
    );

    let dir = copy("synth_target_classifier", "ragged");
    std::fs::write(
        dir.join("assets/1_categorical_target.txt"),
        "austin,0.1,0.2,0.7\nboston,0.5,0.5\n",
    )
    .unwrap();
    expect_error(&dir, &["1_categorical_target.txt", "line 2"]);
}

#[test]
fn bad_metadata() {
    let edit = |tag: &str, f: &dyn Fn(&mut serde_json::Value), needles: &[&str]| {
        let dir = copy("boosted_tree_classifier_model", tag);
        let p = dir.join("assets/model_metadata.json");
        let mut meta: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
        f(&mut meta);
        std::fs::write(&p, meta.to_string()).unwrap();
        let mut all = vec!["model_metadata.json"];
        all.extend_from_slice(needles);
        expect_error(&dir, &all);
    };
    edit(
        "type",
        &|m| m["model_type"] = json!("kmeans"),
        &["model_type", "kmeans"],
    );
    edit(
        "label",
        &|m| {
            m.as_object_mut().unwrap().remove("label_col");
        },
        &["label_col"],
    );
    edit(
        "classes",
        &|m| m["class_names"] = json!([]),
        &["class_names"],
    );
    edit(
        "nclasses",
        &|m| m["class_names"] = json!(["a", "b"]),
        &["3 classes", "lists 2"],
    );
    edit(
        "encode",
        &|m| m["features"]["f1"]["encode_type"] = json!("hashing"),
        &["invalid encode_type", "f1"],
    );
    edit(
        "nofile",
        &|m| m["features"]["f1"]["encode_type"] = json!("categorical_one_hot"),
        &["f1", "categorical_one_hot"],
    );
    edit(
        "nofeature",
        &|m| {
            m["features"].as_object_mut().unwrap().remove("f2");
        },
        &["f2"],
    );
    edit(
        "dup",
        &|m| m["feature_names"] = json!(["f1", "f1", "f3"]),
        &["f1", "twice"],
    );

    let dir = copy("boosted_tree_classifier_model", "json");
    std::fs::write(dir.join("assets/model_metadata.json"), "{\"model_type\": ").unwrap();
    expect_error(&dir, &["model_metadata.json", "not valid JSON"]);
}

#[test]
fn conflicting_duplicate_vocabularies() {
    // `0.txt` and `0_categorical_label.txt` both give feature 0 a label
    // vocabulary: the predictor would pick one by directory order.
    let dir = copy("boosted_tree_classifier_model", "dupvocab");
    std::fs::write(
        dir.join("assets/0_categorical_label.txt"),
        "_null_filler\nc\nb\na\n",
    )
    .unwrap();
    expect_error(&dir, &["0.txt", "0_categorical_label.txt", "two different"]);

    // Identical contents are not ambiguous.
    let dir = copy("boosted_tree_classifier_model", "samevocab");
    std::fs::copy(
        dir.join("assets/0.txt"),
        dir.join("assets/0_categorical_label.txt"),
    )
    .unwrap();
    BqmlModel::open(&dir, &LoadOptions::default()).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn instance_errors_name_the_instance_and_the_feature() {
    let model = BqmlModel::open(
        fixture("boosted_tree_mixed_feature_model"),
        &LoadOptions::default(),
    )
    .unwrap();
    let ok =
        json!({"f1": "a", "f2_foo": "k", "f2_bar": "v", "f3": [[1, 1.0]], "f4": [1.0, 2.0, 3.0]});
    let with = |k: &str, v: serde_json::Value| {
        let mut i = ok.clone();
        i[k] = v;
        i
    };
    let cases = [
        (with("f3", json!([[5, 1.0]])), "f3", "dimension 5"),
        (with("f3", json!([[-1, 1.0]])), "f3", "smaller than 0"),
        (with("f3", json!([[1.0, 1.0]])), "f3", "not an integer"),
        (with("f3", json!([[1]])), "f3", "no value"),
        (with("f3", json!(7)), "f3", "expected an array"),
        (
            with("f4", json!([1.0, 2.0])),
            "f4",
            "array_numerical_length is 3",
        ),
        (
            with("f4", json!([1.0, "x", 3.0])),
            "f4",
            "could not convert",
        ),
        (
            with("f4", json!([1e39, 2.0, 3.0])),
            "f4",
            "too large for float32",
        ),
    ];
    for (inst, feature, needle) in cases {
        let err = model
            .predict_instances(&[ok.clone(), inst.clone()], &BqmlOptions::default())
            .expect_err(&format!("{inst} must be rejected"));
        let msg = err.to_string();
        assert!(msg.contains("row 1"), "{msg}");
        assert!(msg.contains(&format!("feature `{feature}`")), "{msg}");
        assert!(msg.contains(needle), "`{needle}` missing from {msg}");
    }
    // Later pairs overwrite earlier ones; null values are missing.
    let out = model
        .predict_instances(
            &[with("f3", json!([[1, "x"], [1, 2.0], [2, null]]))],
            &BqmlOptions::default(),
        )
        .unwrap();
    assert!(out[0].is_number());
}

#[test]
fn a_directory_that_is_not_an_export() {
    let dir = std::env::temp_dir().join(format!("quercus-bqml-empty-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let msg = expect_error(&dir, &["not a BigQuery ML export", "model.bst"]);
    assert!(msg.contains("quercus-bqml-empty"), "{msg}");
}

#[test]
fn no_instances_no_predictions() {
    let model =
        BqmlModel::open(fixture("boosted_tree_cox_model"), &LoadOptions::default()).unwrap();
    let out = model
        .predict_instances(&[], &BqmlOptions::default())
        .unwrap();
    assert!(out.is_empty());
}

#[test]
fn a_batch_reports_the_error_the_predictor_reports() {
    // Google's predictor encodes every instance, then converts with NumPy
    // (ARRAY<STRUCT> values), then XGBoost checks for float32 infinities: an
    // encoding error in a later instance wins over a deferred one in an
    // earlier instance (checked against the predictor, batch by batch).
    let model =
        BqmlModel::open(fixture("synth_regressor_arrays"), &LoadOptions::default()).unwrap();
    let text =
        std::fs::read_to_string(fixture("synth_regressor_arrays").join("cases.jsonl")).unwrap();
    let line: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    let base = line["instance"].clone();
    let with = |k: &str, v: serde_json::Value| {
        let mut i = base.clone();
        i[k] = v;
        i
    };
    let cases = [
        // float32 overflow in row 0, a numeric string in row 1
        (
            [with("addr_zip", json!(1e39)), with("age", json!("abc"))],
            "feature `age`",
        ),
        // a struct value NumPy cannot convert in row 0, a number as an array in row 1
        (
            [with("clicks", json!([[1, "x"]])), with("kinds", json!(5))],
            "feature `kinds`",
        ),
        // float32 overflow in row 0, a struct value NumPy cannot convert in row 1
        (
            [
                with("addr_zip", json!(1e39)),
                with("clicks", json!([[1, "x"]])),
            ],
            "feature `clicks`",
        ),
    ];
    for (batch, needle) in cases {
        let err = model
            .predict_instances(&batch, &BqmlOptions::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("row 1") && err.contains(needle), "{err}");
    }
    // Alone, each deferred error is reported.
    let err = model
        .predict_instances(&[with("addr_zip", json!(1e39))], &BqmlOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("row 0") && err.contains("feature `addr_zip`"),
        "{err}"
    );
}
