//! Fuzzes the CLI's CSV reader (`quercus::io::read_csv`) with the example
//! model's columns, named (its feature names) and unnamed (`count` only), and
//! predicts whatever table it reads. Any error is fine; a panic, a hang or an
//! out-of-memory is a bug.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use quercus::io::{Columns, Table, read_csv};
use quercus::{FeatureMatrix, Model, PredictOptions};

static MODEL: LazyLock<Model> = LazyLock::new(|| {
    Model::load(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../models/example/model.json"
    ))
    .expect("models/example/model.json")
});

fn check(model: &Model, t: &Table) {
    assert_eq!(t.data.len(), t.rows * t.cols, "table size");
    assert_eq!(t.cols, model.num_features());
    if let Ok(x) = FeatureMatrix::row_major(&t.data, t.rows, t.cols) {
        let _ = model.predict(&x, &PredictOptions::default());
    }
}

fuzz_target!(|data: &[u8]| {
    let model = &*MODEL;
    let names = model.forest().feature_names();
    let count = model.num_features();
    for names in [names, &[][..]] {
        if let Ok(t) = read_csv(data, Columns { names, count }) {
            check(model, &t);
        }
    }
});
