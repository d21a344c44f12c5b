//! Fuzzes BigQuery ML instance encoding: arbitrary bytes are parsed as JSON
//! instances (a Vertex AI request `{"instances": [...]}` or a bare array,
//! else JSON Lines) and predicted with every export under `models/bqml/`.
//! Any error is fine; a panic, a hang or an out-of-memory is a bug.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use quercus::Model;
use quercus::io::{parse_instances_json, parse_instances_jsonl};

/// Every export, loaded once per fuzzing process.
static MODELS: LazyLock<Vec<Model>> = LazyLock::new(|| {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../models/bqml");
    let mut dirs: Vec<_> = std::fs::read_dir(root)
        .expect("models/bqml")
        .map(|e| e.expect("models/bqml entry").path())
        .filter(|p| p.join("model.bst").is_file())
        .collect();
    dirs.sort();
    assert!(!dirs.is_empty(), "no exports under {root}");
    dirs.iter()
        .map(|d| Model::load(d).unwrap_or_else(|e| panic!("{}: {e}", d.display())))
        .collect()
});

fuzz_target!(|data: &[u8]| {
    let models = &*MODELS;
    let Ok(instances) = parse_instances_json(data).or_else(|_| parse_instances_jsonl(data)) else {
        return;
    };
    for m in models {
        if let Ok(out) = m.predict_instances(&instances) {
            assert_eq!(out.len(), instances.len(), "one prediction per instance");
        }
    }
});
