//! Untrusted model files: every fixture under `models/xgboost/` truncated at
//! every byte, and thousands of random byte flips. Each load must end in a typed
//! error or a valid model — no panic, no hang — and never allocate more than a
//! small multiple of the file size.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use quercus::{FeatureMatrix, LoadOptions, Model, PredictOptions};

/// Counts live and peak heap bytes per thread.
struct Counting;

thread_local! {
    static LIVE: Cell<usize> = const { Cell::new(0) };
    static PEAK: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: defers every allocation to `System` and only updates thread-local counters.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let _ = LIVE.try_with(|l| {
                let v = l.get() + layout.size();
                l.set(v);
                let _ = PEAK.try_with(|pk| pk.set(pk.get().max(v)));
            });
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) };
        let _ = LIVE.try_with(|l| l.set(l.get().saturating_sub(layout.size())));
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Every model file of the parity manifest.
fn fixtures() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/xgboost");
    let text = std::fs::read_to_string(root.join("manifest.json")).expect("manifest");
    let manifest: serde_json::Value = serde_json::from_str(&text).expect("manifest parses");
    let mut files: Vec<PathBuf> = manifest["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .map(|c| root.join(c["model"].as_str().expect("model path")))
        .collect();
    files.sort();
    files.dedup();
    // QUERCUS_ROBUSTNESS_FILTER=substring narrows the run (for debugging).
    if let Ok(filter) = std::env::var("QUERCUS_ROBUSTNESS_FILTER") {
        files.retain(|f| f.to_string_lossy().contains(&filter));
    }
    files
}

/// Loads `bytes`, returning the peak extra heap bytes used and the time taken.
/// A successfully loaded model must also predict without panicking.
fn load_once(bytes: &[u8]) -> (usize, Duration) {
    let base = LIVE.with(Cell::get);
    PEAK.with(|p| p.set(base));
    let t = Instant::now();
    let result = Model::from_bytes(bytes, &LoadOptions::default());
    let elapsed = t.elapsed();
    let peak = PEAK.with(Cell::get) - base;
    if let Ok(model) = result {
        let n = model.num_features();
        // A mutated header can declare billions of features; the row below is
        // this test's own allocation (a 4-byte value per feature), so cap it
        // like the fuzz targets do (a clean-clone CI run was OOM-killed here).
        if n > 1 << 16 {
            return (peak, elapsed);
        }
        let row = vec![0.5f32; n];
        let x = FeatureMatrix::row_major(&row, 1, n).unwrap();
        let _ = model.predict(&x, &PredictOptions::default());
    }
    (peak, elapsed)
}

/// Peak heap allowed for loading a file of `len` bytes.
fn budget(len: usize) -> usize {
    64 * len + (1 << 20)
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

fn check_file(path: &Path, mutations: usize) -> Vec<String> {
    let bytes = std::fs::read(path).unwrap();
    let mut problems = Vec::new();
    let check = |data: &[u8], what: &dyn Fn() -> String| -> Option<String> {
        match std::panic::catch_unwind(|| load_once(data)) {
            Err(_) => Some(format!("{}: {}: panicked", path.display(), what())),
            Ok((peak, _)) if peak > budget(bytes.len()) => Some(format!(
                "{}: {}: allocated {peak} bytes for a {}-byte file",
                path.display(),
                what(),
                bytes.len()
            )),
            Ok((_, t)) if t > Duration::from_secs(2) => {
                Some(format!("{}: {}: took {t:?}", path.display(), what()))
            }
            Ok(_) => None,
        }
    };
    // The intact file must load.
    if let Err(e) = Model::from_bytes(&bytes, &LoadOptions::default()) {
        problems.push(format!("{}: intact file fails: {e}", path.display()));
    }
    for k in 0..bytes.len() {
        problems.extend(check(&bytes[..k], &|| format!("truncated at byte {k}")));
        if problems.len() > 5 {
            return problems;
        }
    }
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ bytes.len() as u64);
    let mut buf = bytes.clone();
    for m in 0..mutations {
        buf.copy_from_slice(&bytes);
        let flips = 1 + (rng.next() % 8) as usize;
        for _ in 0..flips {
            let i = (rng.next() % bytes.len() as u64) as usize;
            buf[i] = match rng.next() % 4 {
                0 => buf[i] ^ (1 << (rng.next() % 8)),
                1 => 0xFF,
                2 => 0,
                _ => rng.next() as u8,
            };
        }
        problems.extend(check(&buf, &|| format!("mutation {m}")));
        if problems.len() > 5 {
            break;
        }
    }
    problems
}

#[test]
fn truncated_and_mutated_fixtures_never_panic_or_balloon() {
    let files = fixtures();
    if std::env::var("QUERCUS_ROBUSTNESS_FILTER").is_err() {
        assert!(
            files.len() >= 800,
            "only {} fixture files found",
            files.len()
        );
    }
    // Silence the default hook's backtraces for the panics we catch and report.
    std::panic::set_hook(Box::new(|_| {}));
    let next = std::sync::atomic::AtomicUsize::new(0);
    let problems = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(f) = files.get(i) else { break };
                    let p = check_file(f, 20);
                    problems.lock().unwrap().extend(p);
                }
            });
        }
    });
    let _ = std::panic::take_hook();
    let problems = problems.into_inner().unwrap();
    eprintln!(
        "robustness: {} files, every truncation plus {} mutations",
        files.len(),
        files.len() * 20
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
