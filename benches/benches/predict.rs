//! Prediction throughput (rows/s) of every benchmark model in
//! `target/bench-models/` (made by `benches/gen_models.py`; skipped with a
//! message when absent), for each kernel, at batch sizes 1, 64, 4096 and
//! 100,000 on one thread, and 100,000 on two threads.
//!
//! ```text
//! cargo bench -p quercus-benches --bench predict
//! QUERCUS_BENCH_ONLY=M2 cargo bench -p quercus-benches --bench predict -- interleaved/1t
//! ```
//!
//! Benchmark ids: `predict/<model>/<kernel>/<threads>t/<batch>`. Batches of 1
//! and 64 rows walk through the first 1,000 (or 64,000) test rows, one batch per
//! iteration, so the branch predictor cannot learn a single path.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use quercus_benches::{kernel_name, load_model, read_f32, selected_models};
use quercus_core::{FeatureMatrix, Kernel, PredictOptions};

const BATCHES: [usize; 4] = [1, 64, 4096, 100_000];

fn predict(c: &mut Criterion) {
    for bm in selected_models() {
        let model = load_model(&bm.json).expect("load model");
        let forest = model.forest();
        let x = read_f32(&bm.data, bm.rows * bm.cols).expect("read test data");
        let cols = bm.cols;
        let mut g = c.benchmark_group(format!("predict/{}", bm.id));
        for kernel in Kernel::available() {
            let mut cases: Vec<(usize, usize)> = BATCHES.iter().map(|&b| (b, 1)).collect();
            cases.push((100_000, 2));
            for (batch, threads) in cases {
                let batch = batch.min(bm.rows);
                let opts = PredictOptions::default()
                    .with_threads(Some(threads))
                    .with_kernel(kernel);
                // Large batches take up to seconds per call: fewer, longer samples.
                if batch >= 4096 {
                    g.sample_size(10).measurement_time(Duration::from_secs(10));
                } else {
                    g.sample_size(50).measurement_time(Duration::from_secs(3));
                }
                g.throughput(Throughput::Elements(batch as u64));
                let span = (batch * 1000).min(bm.rows) / batch * batch;
                let id = format!("{}/{threads}t/{batch}", kernel_name(kernel));
                g.bench_function(id, |b| {
                    let mut start = 0;
                    b.iter(|| {
                        let rows = &x[start * cols..(start + batch) * cols];
                        start = (start + batch) % span;
                        let m = FeatureMatrix::row_major(rows, batch, cols).unwrap();
                        black_box(forest.predict(black_box(&m), &opts).unwrap())
                    })
                });
            }
        }
        g.finish();
    }
}

criterion_group!(benches, predict);
criterion_main!(benches);
