//! `model.bst` may declare more features than the assets encode. Google's
//! exported predictor gives XGBoost a dense matrix exactly as wide as the
//! encoding, XGBoost reads the features past it as missing, and the
//! predictions are those of the unmodified export. The opposite (more encoded
//! columns than declared features) fails every prediction there and is
//! refused at load here.

use std::path::{Path, PathBuf};

use quercus_bqml::{BqmlModel, BqmlOptions, LoadOptions};
use quercus_core::{FeatureMatrix, PredictOptions};
use serde_json::Value;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../models/bqml")
        .join(name)
}

/// A copy of a fixture export whose `model.bst` declares `num_feature`
/// features: the `u32` at byte 4 of `LearnerModelParam`, after the optional
/// `binf` prefix.
fn with_num_feature(name: &str, num_feature: u32) -> PathBuf {
    let dst = std::env::temp_dir().join(format!(
        "quercus-bqml-declared-{}-{name}-{num_feature}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dst);
    std::fs::create_dir_all(dst.join("assets")).unwrap();
    let src = fixture(name);
    for e in std::fs::read_dir(src.join("assets")).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, dst.join("assets").join(p.file_name().unwrap())).unwrap();
    }
    let mut bst = std::fs::read(src.join("model.bst")).unwrap();
    let at = if bst.starts_with(b"binf") { 8 } else { 4 };
    bst[at..at + 4].copy_from_slice(&num_feature.to_le_bytes());
    std::fs::write(dst.join("model.bst"), bst).unwrap();
    dst
}

fn cases(dir: &Path) -> Vec<Value> {
    std::fs::read_to_string(dir.join("cases.jsonl"))
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["instance"].clone())
        .collect()
}

/// Exact equality, numbers compared by their bits.
fn assert_identical(got: &Value, want: &Value, ctx: &str) {
    match (got, want) {
        (Value::Number(g), Value::Number(w)) => {
            let (g, w) = (g.as_f64().unwrap(), w.as_f64().unwrap());
            assert_eq!(g.to_bits(), w.to_bits(), "{ctx}: {g} != {w}");
        }
        (Value::Array(g), Value::Array(w)) => {
            assert_eq!(g.len(), w.len(), "{ctx}");
            for (i, (a, b)) in g.iter().zip(w).enumerate() {
                assert_identical(a, b, &format!("{ctx}[{i}]"));
            }
        }
        (Value::Object(g), Value::Object(w)) => {
            assert!(g.keys().eq(w.keys()), "{ctx}: keys differ");
            for (k, b) in w {
                assert_identical(&g[k], b, &format!("{ctx}.{k}"));
            }
        }
        _ => assert_eq!(got, want, "{ctx}"),
    }
}

const EXPORTS: [&str; 6] = [
    "boosted_tree_classifier_model",
    "sparse_feature_model_3",
    "boosted_tree_cox_model", // `binf` header
    "synth_regressor_arrays",
    "random_forest_classifier_model",
    "synth_aft_model", // `binf` header
];

#[test]
fn extra_declared_features_read_as_missing_and_change_nothing() {
    let opts = BqmlOptions::default();
    for name in EXPORTS {
        let original = BqmlModel::open(fixture(name), &LoadOptions::default()).unwrap();
        let width = original.num_columns();
        assert_eq!(original.declared_features(), width, "{name}");
        assert_eq!(original.width_note(), None, "{name}");
        let instances = cases(&fixture(name));
        for extra in [1, 5] {
            let dir = with_num_feature(name, (width + extra) as u32);
            let model = BqmlModel::open(&dir, &LoadOptions::default())
                .unwrap_or_else(|e| panic!("{name} +{extra}: {e}"));
            assert_eq!(model.num_columns(), width);
            assert_eq!(model.declared_features(), width + extra);
            assert_eq!(
                model.width_note().as_deref(),
                Some(
                    format!(
                        "model.bst declares {} features; the assets encode {width}; \
                         features {width}.. read as missing",
                        width + extra
                    )
                    .as_str()
                )
            );
            let mut good = Vec::new();
            for (i, inst) in instances.iter().enumerate() {
                let ctx = format!("{name} +{extra} case {i}");
                let one = std::slice::from_ref(inst);
                match (
                    original.predict_instances(one, &opts),
                    model.predict_instances(one, &opts),
                ) {
                    (Ok(w), Ok(g)) => {
                        assert_identical(&g[0], &w[0], &ctx);
                        good.push(inst.clone());
                    }
                    (Err(w), Err(g)) => assert_eq!(g.to_string(), w.to_string(), "{ctx}"),
                    (w, g) => panic!("{ctx}: {g:?} but the unmodified export gives {w:?}"),
                }
            }
            assert!(good.len() > 150, "{name}: {} predictions", good.len());
            // A batch, and the encoded rows through the engine.
            let want = original.predict_instances(&good, &opts).unwrap();
            let got = model.predict_instances(&good, &opts).unwrap();
            assert_identical(&Value::Array(got), &Value::Array(want), name);
            let rows = model.encode_instances(&good).unwrap();
            let x = FeatureMatrix::row_major(&rows, good.len(), width).unwrap();
            let popts = PredictOptions::default();
            let got = model.predict_encoded(&x, &popts).unwrap();
            let want = original.predict_encoded(&x, &popts).unwrap();
            assert_eq!(got.shape, want.shape);
            assert!(
                got.data
                    .iter()
                    .zip(&want.data)
                    .all(|(a, b)| a.to_bits() == b.to_bits()),
                "{name}"
            );
            // Rows as wide as the booster are not encoded rows.
            let wide = vec![0.0f32; width + extra];
            let x = FeatureMatrix::row_major(&wide, 1, width + extra).unwrap();
            let err = model.predict_encoded(&x, &popts).unwrap_err();
            assert!(err.to_string().contains(&width.to_string()), "{err}");
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
}

#[test]
fn fewer_declared_features_than_encoded_columns_is_refused() {
    // The random forest's trees are single leaves: the booster loads with
    // num_feature 2, and the export's check refuses its 3 encoded columns.
    let dir = with_num_feature("random_forest_classifier_model", 2);
    let err = BqmlModel::open(&dir, &LoadOptions::default()).unwrap_err();
    let msg = err.to_string();
    for needle in ["model.bst has 2 features", "3 encoded columns", "f2 1"] {
        assert!(msg.contains(needle), "`{needle}` missing from {msg}");
    }
    let _ = std::fs::remove_dir_all(&dir);

    // Here a tree splits on the last encoded column: the booster itself is
    // refused, naming its feature count.
    let dir = with_num_feature("boosted_tree_classifier_model", 5);
    let err = BqmlModel::open(&dir, &LoadOptions::default()).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("model.bst") && msg.contains("5 features"),
        "{msg}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
