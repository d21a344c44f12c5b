//! Shared helpers for the Quercus benchmarks: finding the models and test data
//! that `benches/gen_models.py` writes into `target/bench-models/`, reading
//! them, and small statistics.
//!
//! The models are not committed (about 120 MB); every bench skips with a
//! message when they are absent.

use std::path::{Path, PathBuf};

use quercus_core::Kernel;
use serde_json::Value;

/// One benchmark model with its test matrix, as listed in `manifest.json`.
#[derive(Clone, Debug)]
pub struct BenchModel {
    /// `M1` .. `M5`.
    pub id: String,
    /// A short description ("500 trees, depth 8").
    pub description: String,
    /// The model saved as JSON.
    pub json: PathBuf,
    /// The model saved as UBJSON.
    pub ubj: PathBuf,
    /// The test matrix: `rows x cols` float32, row-major, little-endian.
    pub data: PathBuf,
    /// Rows of the test matrix.
    pub rows: usize,
    /// Columns (features).
    pub cols: usize,
    /// Mean internal nodes visited per row (over all trees).
    pub visits_per_row: f64,
}

/// The directory holding the generated models: `$QUERCUS_BENCH_MODELS_DIR`, or
/// `target/bench-models` in the workspace.
pub fn models_dir() -> PathBuf {
    match std::env::var_os("QUERCUS_BENCH_MODELS_DIR") {
        Some(d) => PathBuf::from(d),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench-models"),
    }
}

/// Reads `manifest.json` in `dir`. The error says how to generate the models.
pub fn read_manifest(dir: &Path) -> Result<Vec<BenchModel>, String> {
    let path = dir.join("manifest.json");
    let text = std::fs::read_to_string(&path).map_err(|e| {
        format!(
            "no benchmark models ({}: {e}); generate them with \
             `.venv/bin/python benches/gen_models.py`",
            path.display()
        )
    })?;
    let m: Value = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let bad = |what: &str| format!("{}: bad or missing {what}", path.display());
    let models = m["models"].as_object().ok_or_else(|| bad("models"))?;
    let mut out = Vec::new();
    for (id, e) in models {
        let kind = e["data"].as_str().ok_or_else(|| bad("data"))?;
        let d = &m["data"][kind];
        let s = |v: &Value, what: &str| v.as_str().map(str::to_owned).ok_or_else(|| bad(what));
        let n = |v: &Value, what: &str| {
            v.as_u64()
                .and_then(|x| usize::try_from(x).ok())
                .ok_or_else(|| bad(what))
        };
        out.push(BenchModel {
            id: id.clone(),
            description: s(&e["description"], "description")?,
            json: dir.join(s(&e["json"], "json")?),
            ubj: dir.join(s(&e["ubj"], "ubj")?),
            data: dir.join(s(&d["file"], "data file")?),
            rows: n(&d["rows"], "rows")?,
            cols: n(&d["cols"], "cols")?,
            visits_per_row: e["visits_per_row"].as_f64().unwrap_or(f64::NAN),
        });
    }
    out.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(out)
}

/// The models to benchmark: all those in the manifest whose files exist,
/// restricted to `$QUERCUS_BENCH_ONLY` (comma-separated ids) when set. Prints
/// why and returns nothing when the models have not been generated.
pub fn selected_models() -> Vec<BenchModel> {
    let dir = models_dir();
    let models = match read_manifest(&dir) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("skipping: {e}");
            return Vec::new();
        }
    };
    let only = std::env::var("QUERCUS_BENCH_ONLY").ok();
    models
        .into_iter()
        .filter(|m| {
            only.as_deref()
                .is_none_or(|o| o.split(',').any(|x| x.trim() == m.id))
        })
        .filter(|m| {
            let ok = m.json.exists() && m.ubj.exists() && m.data.exists();
            if !ok {
                eprintln!("skipping {}: files missing in {}", m.id, dir.display());
            }
            ok
        })
        .collect()
}

/// Reads a raw little-endian float32 file of exactly `len` values.
pub fn read_f32(path: &Path, len: usize) -> Result<Vec<f32>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if bytes.len() != len * 4 {
        return Err(format!(
            "{}: {} bytes, expected {len} float32 values",
            path.display(),
            bytes.len()
        ));
    }
    Ok(bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}

/// Loads an XGBoost model file (any format) with the default options.
///
/// With `QBENCH_MMAP=1` in the environment, a `.qpack` is memory-mapped
/// (`Model::load_compiled_mmap`) instead of read, to measure what the copy
/// costs.
pub fn load_model(path: &Path) -> Result<quercus::Model, String> {
    let is_qpack = path.extension().is_some_and(|e| e == "qpack");
    if is_qpack && std::env::var_os("QBENCH_MMAP").is_some_and(|v| v == "1") {
        // SAFETY: benchmark files are not modified while the benchmark runs.
        return unsafe { quercus::Model::load_compiled_mmap(path) }.map_err(|e| e.to_string());
    }
    quercus::Model::load(path).map_err(|e| e.to_string())
}

/// Parses a kernel name (see [`Kernel::from_name`]).
pub fn parse_kernel(s: &str) -> Option<Kernel> {
    Kernel::from_name(s)
}

/// The lowercase name of a kernel, as [`parse_kernel`] reads it.
pub fn kernel_name(k: Kernel) -> &'static str {
    k.name()
}

/// The `q`-quantile (0..=1) of `v` by the nearest-rank method; sorts `v`.
/// NaN for an empty slice.
pub fn quantile(v: &mut [f64], q: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let rank = (q * v.len() as f64).ceil() as usize;
    v[rank.clamp(1, v.len()) - 1]
}

/// The median of `v` (the mean of the two middle values for an even count);
/// sorts `v`. NaN for an empty slice.
pub fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}
