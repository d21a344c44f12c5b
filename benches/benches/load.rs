//! Model load time: JSON and UBJSON files of every benchmark model in
//! `target/bench-models/` (skipped with a message when absent), from bytes
//! already in memory through parse, conversion to the IR and packing, i.e.
//! everything `quercus_xgboost::load_path` does after reading the file.
//!
//! ```text
//! cargo bench -p quercus-benches --bench load
//! ```
//!
//! Benchmark ids: `load/<model>/<json|ubj>`, with throughput in bytes/s.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use quercus_benches::selected_models;
use quercus_xgboost::{LoadOptions, load_bytes};

fn load(c: &mut Criterion) {
    for bm in selected_models() {
        let mut g = c.benchmark_group(format!("load/{}", bm.id));
        g.sample_size(10).measurement_time(Duration::from_secs(10));
        for (name, path) in [("json", &bm.json), ("ubj", &bm.ubj)] {
            let bytes = std::fs::read(path).expect("read model");
            g.throughput(Throughput::Bytes(bytes.len() as u64));
            g.bench_function(name, |b| {
                b.iter(|| load_bytes(black_box(&bytes), &LoadOptions::default()).unwrap())
            });
        }
        g.finish();
    }
}

criterion_group!(benches, load);
criterion_main!(benches);
