//! Every case of `models/bqml/hostile/*.json`: wrong-typed and otherwise
//! hostile instances with the outputs of Google's exported predictor
//! (bigquery-ml-utils 1.5.0, XGBoost 3.0.1, numpy 1.26.4), written by
//! `models/gen/bqml_hostile_cases.py`. Some run on patched copies of an export
//! (a different `num_feature`, tree 0 rewritten, metadata edited, an asset
//! removed), built here as `python/tests/bqml_hostile.py` builds them.
//!
//! Where the predictor returns a prediction, Quercus must return the same
//! JSON, every number bit-identical; where it raises, Quercus must return an
//! input error naming the instance (row) and, when one column is at fault, that
//! column. An export Quercus refuses at load must be one on which the
//! predictor fails every instance.

use std::path::{Path, PathBuf};

use quercus_bqml::{BqmlModel, BqmlOptions, LoadOptions};
use quercus_core::ErrorKind;
use serde_json::{Map, Value};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/bqml")
}

fn case_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join("hostile"))
        .expect("models/bqml/hostile exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
}

/// Byte offset of tree 0's `TreeParam` in a legacy binary `model.bst`.
fn tree0_offset(bst: &[u8]) -> usize {
    let mut off = if bst.starts_with(b"binf") { 4 } else { 0 };
    off += 136; // LearnerModelParam
    for _ in 0..2 {
        // objective name, booster name
        let n = u64::from_le_bytes(bst[off..off + 8].try_into().unwrap()) as usize;
        off += 8 + n;
    }
    off + 160 // GBTreeModelParam
}

fn put_u32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

fn depth(nodes: &[Value], i: usize) -> i32 {
    let left = nodes[i][1].as_i64().unwrap();
    if left < 0 {
        return 0;
    }
    let right = nodes[i][2].as_i64().unwrap();
    1 + depth(nodes, left as usize).max(depth(nodes, right as usize))
}

/// `bqml_hostile.patch_bst`.
fn patch_bst(mut b: Vec<u8>, patch: &Map<String, Value>) -> Vec<u8> {
    let base = if b.starts_with(b"binf") { 4 } else { 0 };
    if let Some(n) = patch.get("num_feature") {
        put_u32(&mut b, base + 4, n.as_u64().unwrap() as u32);
    }
    if let Some(r) = patch.get("tree0_root") {
        let node0 = tree0_offset(&b) + 148;
        let feature = r["feature"].as_u64().unwrap() as u32;
        let dl = u32::from(r["default_left"].as_bool().unwrap());
        put_u32(&mut b, node0 + 12, feature | (dl << 31));
    }
    if let Some(Value::Array(nodes)) = patch.get("tree0_nodes") {
        let off = tree0_offset(&b);
        let mut tp: Vec<i32> = b[off..off + 148]
            .chunks_exact(4)
            .map(|c| i32::from_le_bytes(c.try_into().unwrap()))
            .collect();
        assert_eq!(tp[5], 0, "size_leaf_vector");
        let end = off + 148 + 36 * tp[1] as usize;
        let mut is_left = vec![false; nodes.len()];
        for n in nodes {
            let left = n[1].as_i64().unwrap();
            if left >= 0 {
                is_left[left as usize] = true;
            }
        }
        tp[1] = nodes.len() as i32;
        tp[2] = 0;
        tp[3] = depth(nodes, 0);
        let mut body: Vec<u8> = tp.iter().flat_map(|x| x.to_le_bytes()).collect();
        for (i, n) in nodes.iter().enumerate() {
            let parent = n[0].as_i64().unwrap();
            let p = if parent < 0 {
                u32::MAX
            } else {
                parent as u32 | if is_left[i] { 1 << 31 } else { 0 }
            };
            let sindex =
                n[3].as_u64().unwrap() as u32 | if n[4].as_bool().unwrap() { 1 << 31 } else { 0 };
            body.extend(p.to_le_bytes());
            body.extend((n[1].as_i64().unwrap() as i32).to_le_bytes());
            body.extend((n[2].as_i64().unwrap() as i32).to_le_bytes());
            body.extend(sindex.to_le_bytes());
            body.extend((n[5].as_f64().unwrap() as f32).to_le_bytes());
        }
        body.extend(vec![0u8; 16 * nodes.len()]); // RTreeNodeStat
        b.splice(off..end, body);
    }
    b
}

/// Whether `dir` is a patched copy made by [`build_export`] (which may be
/// removed), never a fixture itself: a checkout may live under the temporary
/// directory too (CI clones into one), so the location alone does not tell.
fn is_patched_copy(dir: &Path) -> bool {
    dir.starts_with(std::env::temp_dir())
        && dir.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
            n.starts_with(&format!("quercus-bqml-hostile-{}-", std::process::id()))
        })
}

/// `bqml_hostile.build_export`: the export itself, or a patched copy.
fn build_export(export: &str, patch: Option<&Map<String, Value>>, tag: &str) -> PathBuf {
    let src = root().join(export);
    let Some(patch) = patch else {
        return src;
    };
    let dst =
        std::env::temp_dir().join(format!("quercus-bqml-hostile-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dst);
    std::fs::create_dir_all(dst.join("assets")).unwrap();
    let removed: Vec<&str> = patch
        .get("remove_assets")
        .and_then(Value::as_array)
        .map(|a| a.iter().map(|v| v.as_str().unwrap()).collect())
        .unwrap_or_default();
    for e in std::fs::read_dir(src.join("assets")).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap();
        if !removed.contains(&name.to_str().unwrap()) {
            std::fs::copy(&p, dst.join("assets").join(name)).unwrap();
        }
    }
    let bst = patch_bst(std::fs::read(src.join("model.bst")).unwrap(), patch);
    std::fs::write(dst.join("model.bst"), bst).unwrap();
    if let Some(Value::Object(edits)) = patch.get("metadata") {
        let mp = dst.join("assets/model_metadata.json");
        let mut meta: Value = serde_json::from_str(&std::fs::read_to_string(&mp).unwrap()).unwrap();
        for (feature, fields) in edits {
            for (k, v) in fields.as_object().unwrap() {
                meta["features"][feature][k] = v.clone();
            }
        }
        std::fs::write(&mp, meta.to_string()).unwrap();
    }
    dst
}

/// Exact equality, numbers compared by their bits (so `-0.0 != 0.0`).
fn identical(got: &Value, want: &Value) -> bool {
    match (got, want) {
        (Value::Number(g), Value::Number(w)) => match (g.as_f64(), w.as_f64()) {
            (Some(a), Some(b)) => a.to_bits() == b.to_bits(),
            _ => false,
        },
        (Value::Array(g), Value::Array(w)) => {
            g.len() == w.len() && g.iter().zip(w).all(|(a, b)| identical(a, b))
        }
        (Value::Object(g), Value::Object(w)) => {
            g.keys().eq(w.keys()) && w.iter().all(|(k, b)| identical(&g[k], b))
        }
        _ => got == want,
    }
}

#[test]
fn every_hostile_case_matches_googles_predictor() {
    let files = case_files();
    assert!(
        files.len() >= 40,
        "expected the hostile case files, found {}",
        files.len()
    );
    let opts = BqmlOptions::default();
    let (mut n_ok, mut n_err, mut n_unparsable, mut n_refused) = (0, 0, 0, 0);
    let mut failures = Vec::new();
    for file in &files {
        let name = file.file_stem().unwrap().to_string_lossy().into_owned();
        let spec: Value = serde_json::from_str(&std::fs::read_to_string(file).unwrap())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let export = spec["export"].as_str().unwrap();
        let cases = spec["cases"].as_array().unwrap();
        let dir = build_export(export, spec.get("patch").and_then(Value::as_object), &name);
        let model = match BqmlModel::open(&dir, &LoadOptions::default()) {
            Ok(m) => m,
            Err(e) => {
                // Refusing an export at load is right only when the predictor
                // fails every instance with it.
                assert!(
                    cases.iter().all(|c| c.get("error").is_some()),
                    "{name}: Quercus refuses the export ({e}) but Google's predictor predicts with it"
                );
                n_refused += cases.len();
                if is_patched_copy(&dir) {
                    let _ = std::fs::remove_dir_all(&dir);
                }
                continue;
            }
        };
        for (i, case) in cases.iter().enumerate() {
            let ctx = format!("{name} case {i} ({})", case["label"].as_str().unwrap_or(""));
            let text = case["instance"].as_str().unwrap();
            let expected = case.get("expected");
            let instance: Value = match serde_json::from_str(text) {
                Ok(v) => v,
                Err(e) => {
                    // Numbers beyond float64 (10**400): JSON parsing fails
                    // before the encoder. Google's predictor must fail too.
                    if expected.is_some() {
                        failures.push(format!("{ctx}: unparsable here ({e}) but predicted there"));
                    }
                    n_unparsable += 1;
                    continue;
                }
            };
            let got = model.predict_instances(std::slice::from_ref(&instance), &opts);
            match (expected, got) {
                (Some(want), Ok(got)) => {
                    if !identical(&got[0], want) {
                        failures.push(format!("{ctx}: got {}, Google's predictor {want}", got[0]));
                    }
                    n_ok += 1;
                }
                (Some(want), Err(e)) => failures.push(format!(
                    "{ctx}: rejected ({e}), Google's predictor gives {want}"
                )),
                (None, Ok(got)) => failures.push(format!(
                    "{ctx}: predicted {}, Google's predictor raises {}",
                    got[0], case["error"]
                )),
                (None, Err(e)) => {
                    let msg = e.to_string();
                    let column = case.get("column").and_then(Value::as_str);
                    let names_column = column.is_none_or(|c| {
                        msg.contains(&format!("feature `{c}`"))
                            || msg.contains("differ from the model's") && msg.contains(c)
                    });
                    if !matches!(e.kind(), ErrorKind::Input(_))
                        || !msg.contains("row 0")
                        || !names_column
                    {
                        failures.push(format!(
                            "{ctx}: the error must be an input error naming row 0 and {column:?}: {msg}"
                        ));
                    }
                    n_err += 1;
                }
            }
        }
        if is_patched_copy(&dir) {
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
    println!(
        "{n_ok} identical predictions, {n_err} errors on both sides, {n_unparsable} instances \
         not JSON-parsable here (errors there), {n_refused} on exports refused at load"
    );
    assert!(
        failures.is_empty(),
        "{} differences:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(
        n_ok >= 900 && n_err >= 250,
        "{n_ok} predictions, {n_err} errors"
    );
}
