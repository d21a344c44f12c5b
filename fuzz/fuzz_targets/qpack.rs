//! Fuzzes the compiled-model reader past its checksum: the header's magic,
//! version, length and XXH3-64 checksum are rewritten to match the input, so
//! mutations reach the section table, the metadata and the packed trees. Any
//! input must open or fail with a typed error; an opened model must predict
//! with every kernel (and rebuild its IR) without panicking.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use quercus_core::compiled::{self, MAGIC, VERSION};
use quercus_core::{AlignedBytes, FeatureMatrix, Kernel, PredictOptions};

fuzz_target!(|data: &[u8]| {
    let mut b = data.to_vec();
    if b.len() >= 64 {
        b[..8].copy_from_slice(MAGIC);
        b[8..12].copy_from_slice(&VERSION.to_le_bytes());
        let len = b.len() as u64;
        b[16..24].copy_from_slice(&len.to_le_bytes());
        let sum = compiled::checksum(&b[32..]);
        b[24..32].copy_from_slice(&sum.to_le_bytes());
    }
    if let Ok((f, _)) = compiled::read(Arc::new(AlignedBytes::copy_from(&b))) {
        let n = f.num_features();
        if n <= 4096 {
            let rows: Vec<f32> = (0..9 * n).map(|i| (i % 7) as f32 - 2.0).collect();
            for r in [1, 9] {
                if let Ok(x) = FeatureMatrix::row_major(&rows[..r * n], r, n) {
                    for kernel in Kernel::available() {
                        for pred_leaf in [false, true] {
                            let o = PredictOptions {
                                kernel,
                                pred_leaf,
                                ..Default::default()
                            };
                            let _ = f.predict(&x, &o);
                        }
                    }
                }
            }
        }
        let _ = f.trees().len();
    }
});
