//! Fuzzes the ubjson loader: any input must load or fail with a typed error, and a
//! loaded model must predict without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use quercus_core::{FeatureMatrix, PredictOptions};
use quercus_xgboost::{Format, LoadOptions, load_as};

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = load_as(data, Format::Ubjson, &LoadOptions::default()) {
        let n = m.forest.num_features();
        if n <= 4096 {
            let row = vec![0.5f32; n];
            if let Ok(x) = FeatureMatrix::row_major(&row, 1, n) {
                let _ = m.forest.predict(&x, &PredictOptions::default());
            }
        }
    }
});
