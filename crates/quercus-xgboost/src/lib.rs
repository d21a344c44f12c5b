//! # quercus-xgboost
//!
//! Loaders for XGBoost models in every format real users have, from every
//! version that wrote them (0.82 through 3.2):
//!
//! * **JSON** (`save_model("m.json")`, 1.0+), with XGBoost's bare `NaN` /
//!   `Infinity` tokens and floats parsed straight to `f32`;
//! * **UBJSON** (`m.ubj`, 1.6+, the default since 2.1);
//! * the **legacy binary** (`m.bst`, `m.model`; 0.82 through 3.0, what BigQuery ML
//!   exports), with or without the `binf` prefix.
//!
//! Each front-end produces the same XGBoost-shaped intermediate model, which is
//! converted into a format-neutral [`quercus_core::Forest`]. The format is
//! detected from the bytes, never from the file name.
//!
//! ## Example
//!
//! ```
//! use quercus_xgboost::{Format, LoadOptions, detect, load_bytes};
//!
//! // A complete JSON model: one stump on feature 0, logistic objective.
//! let json = br#"{"version":[2,1,4],"learner":{
//!   "attributes":{},"feature_names":[],"feature_types":[],
//!   "learner_model_param":{"base_score":"5E-1","num_class":"0","num_feature":"1","num_target":"1"},
//!   "objective":{"name":"binary:logistic","reg_loss_param":{"scale_pos_weight":"1"}},
//!   "gradient_booster":{"name":"gbtree","model":{
//!     "gbtree_model_param":{"num_trees":"1","num_parallel_tree":"1"},
//!     "iteration_indptr":[0,1],"tree_info":[0],
//!     "trees":[{"id":0,"tree_param":{"num_nodes":"3","size_leaf_vector":"1","num_feature":"1","num_deleted":"0"},
//!       "left_children":[1,-1,-1],"right_children":[2,-1,-1],"parents":[2147483647,0,0],
//!       "split_indices":[0,0,0],"split_conditions":[5E-1,-1E0,1E0],"default_left":[1,0,0],
//!       "split_type":[0,0,0],"categories":[],"categories_nodes":[],"categories_segments":[],
//!       "categories_sizes":[],"base_weights":[0E0,-1E0,1E0],"loss_changes":[1E0,0E0,0E0],
//!       "sum_hessian":[2E0,1E0,1E0]}]}}}}"#;
//! assert_eq!(detect(json), Some(Format::Json));
//! let model = load_bytes(json, &LoadOptions::default())?;
//! assert_eq!(model.info.version.to_string(), "2.1.4");
//! assert_eq!(model.forest.num_features(), 1);
//! # Ok::<(), quercus_core::Error>(())
//! ```
#![deny(missing_docs)]

use std::collections::BTreeMap;
use std::path::Path;

use quercus_core::{Error, Forest, Result};

mod convert;
mod json;
mod legacy;
mod raw;
mod schema;
mod ubjson;
mod value;

pub use raw::Version;

/// An XGBoost model file format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Text JSON (`save_model("*.json")`).
    Json,
    /// Universal Binary JSON (`*.ubj`).
    Ubjson,
    /// The legacy binary format (`*.bst`, `*.model`, `*.deprecated`).
    LegacyBinary,
}

impl Format {
    /// A short lowercase name: `json`, `ubjson`, `binary`.
    pub fn name(&self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Ubjson => "ubjson",
            Format::LegacyBinary => "binary",
        }
    }
}

/// Whose arithmetic to reproduce when versions disagree.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Compat {
    /// What current XGBoost (3.x) computes when it loads this file: the modern
    /// summation order, the clamped sigmoid, the 1.1+ base-score round trip for
    /// 0.x binaries, out-of-range categories to the left.
    #[default]
    Current,
    /// What the XGBoost version that wrote the file computed: the ≤ 1.2 summation
    /// order (≤ 1.3 for DART), the ≤ 1.5 sigmoid, 1.6's out-of-range categorical
    /// routing, 0.x base scores used as stored. This is the `legacy_summation`
    /// option of the CLI and Python API.
    Writer,
}

/// The largest model file read unless [`LoadOptions::max_bytes`] says
/// otherwise: 1 GiB, several times the largest XGBoost models seen in use.
pub const DEFAULT_MAX_BYTES: u64 = 1 << 30;

/// Options for loading.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadOptions {
    /// Whose arithmetic to reproduce.
    pub compat: Compat,
    /// The largest file (or stream) read, in bytes; a larger one is an error
    /// before it is read, or as soon as a stream passes it. Default
    /// [`DEFAULT_MAX_BYTES`].
    pub max_bytes: u64,
}

impl Default for LoadOptions {
    fn default() -> LoadOptions {
        LoadOptions {
            compat: Compat::default(),
            max_bytes: DEFAULT_MAX_BYTES,
        }
    }
}

impl LoadOptions {
    /// Options with `legacy_summation` on or off (on = [`Compat::Writer`]).
    pub fn legacy_summation(on: bool) -> LoadOptions {
        LoadOptions {
            compat: if on { Compat::Writer } else { Compat::Current },
            ..LoadOptions::default()
        }
    }

    /// These options with another size limit (see [`LoadOptions::max_bytes`]).
    pub fn with_max_bytes(mut self, max_bytes: u64) -> LoadOptions {
        self.max_bytes = max_bytes;
        self
    }
}

/// What a model file says about itself beyond what prediction needs.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelInfo {
    /// The file format.
    pub format: Format,
    /// The XGBoost version that wrote it.
    pub version: Version,
    /// `gbtree`, `dart` or `gblinear`.
    pub booster: String,
    /// The objective as stored (e.g. `reg:linear` stays `reg:linear`).
    pub objective: String,
    /// `num_parallel_tree` (1 when not stored).
    pub num_parallel_tree: usize,
    /// The base score(s) as stored in the file.
    pub base_score: Vec<f32>,
    /// Learner attributes (`best_iteration`, `scikit_learn`, user attributes).
    pub attributes: BTreeMap<String, String>,
}

impl ModelInfo {
    /// The `best_iteration` attribute, when present and numeric.
    pub fn best_iteration(&self) -> Option<usize> {
        self.attributes.get("best_iteration")?.trim().parse().ok()
    }
}

/// A loaded XGBoost model: the forest to predict with, and its metadata.
#[derive(Clone, Debug)]
pub struct XgbModel {
    /// The format-neutral model.
    pub forest: Forest,
    /// Metadata.
    pub info: ModelInfo,
}

/// Detects the format from the first bytes (research note §0.1). Returns `None`
/// only for an empty input; anything not JSON-like is taken as legacy binary.
pub fn detect(bytes: &[u8]) -> Option<Format> {
    let body = bytes.strip_prefix(b"binf").unwrap_or(bytes);
    if bytes.starts_with(b"binf") {
        return Some(Format::LegacyBinary);
    }
    let first = *body.first()?;
    if first != b'{' {
        return Some(Format::LegacyBinary);
    }
    let next = body[1..].iter().find(|b| !b.is_ascii_whitespace());
    match next {
        Some(b'"') | Some(b'}') => Some(Format::Json),
        Some(b'L' | b'i' | b'U' | b'I' | b'l') => Some(Format::Ubjson),
        _ => Some(Format::LegacyBinary),
    }
}

/// Loads a model from bytes in any supported format.
pub fn load_bytes(bytes: &[u8], opts: &LoadOptions) -> Result<XgbModel> {
    let format = detect(bytes).ok_or_else(|| Error::format("the file is empty"))?;
    match load_as(bytes, format, opts) {
        Ok(m) => Ok(m),
        // A 0.x binary whose base_score happens to start with `{` looks like
        // JSON; XGBoost would misroute it, we retry as binary.
        Err(e) if format != Format::LegacyBinary => {
            load_as(bytes, Format::LegacyBinary, opts).map_err(|_| e)
        }
        Err(e) => Err(e),
    }
}

/// Loads a model from bytes in the given format.
pub fn load_as(bytes: &[u8], format: Format, opts: &LoadOptions) -> Result<XgbModel> {
    let raw = match format {
        Format::Json => schema::model_from_value(&json::parse(bytes)?)?,
        Format::Ubjson => schema::model_from_value(&ubjson::parse(bytes)?)?,
        Format::LegacyBinary => legacy::parse(bytes)?,
    };
    // Every output needs at least one tree or linear weight in the file, so
    // its length bounds the counts that size per-row outputs (the legacy
    // parser checks this too, with the byte offset).
    for (name, value) in [("num_class", raw.num_class), ("num_target", raw.num_target)] {
        if value > bytes.len() {
            return Err(Error::format(format!(
                "{name} {value} is implausible for a {}-byte file",
                bytes.len()
            ))
            .with_field(format!("learner/learner_model_param/{name}")));
        }
    }
    let forest = convert::to_forest(&raw, opts)?;
    let num_parallel_tree = match &raw.booster {
        raw::RawBooster::Trees {
            num_parallel_tree, ..
        } => *num_parallel_tree,
        raw::RawBooster::Linear { .. } => 1,
    };
    Ok(XgbModel {
        forest,
        info: ModelInfo {
            format,
            version: raw.version,
            booster: raw.booster_name,
            objective: raw.objective,
            num_parallel_tree,
            base_score: raw.base_score,
            attributes: raw.attributes,
        },
    })
}

/// Reads and loads a model file. Errors name the file.
pub fn load_path(path: impl AsRef<Path>, opts: &LoadOptions) -> Result<XgbModel> {
    let path = path.as_ref();
    let bytes = read_file(path, opts.max_bytes)?;
    load_bytes(&bytes, opts).map_err(|e| e.with_path(path))
}

/// Reads a whole model file, once, refusing more than `max_bytes`.
///
/// A regular file larger than the limit is refused before it is read. A FIFO
/// or pipe (`<(...)`, `/dev/stdin`) is read whole, once, so callers sniff the
/// format from the bytes rather than reopen it; one with no writer reads as
/// empty instead of waiting for one. Devices and sockets are refused
/// (`/dev/zero` would never end). Errors name the file.
pub fn read_file(path: &Path, max_bytes: u64) -> Result<Vec<u8>> {
    use std::io::Read;
    let fail = |e: Error| e.with_path(path);
    let meta = std::fs::metadata(path).map_err(|e| fail(Error::io(e)))?;
    let kind = meta.file_type();
    let fifo = is_fifo(&kind);
    if !kind.is_file() && !fifo {
        let what = if kind.is_dir() {
            "a directory"
        } else {
            "something that is not a regular file (a device or socket)"
        };
        return Err(fail(io_error(
            std::io::ErrorKind::InvalidInput,
            format!("cannot read a model from {what}"),
        )));
    }
    if kind.is_file() && meta.len() > max_bytes {
        return Err(fail(too_large(meta.len(), max_bytes)));
    }
    let mut file = open_for_reading(path, fifo).map_err(|e| fail(Error::io(e)))?;
    let mut bytes = Vec::new();
    if kind.is_file() {
        // The size is known (and within the limit): one allocation, read in
        // as few calls as the kernel allows. A file that grew since is cut at
        // the limit below like a stream.
        let len = usize::try_from(meta.len()).unwrap_or(usize::MAX);
        bytes
            .try_reserve_exact(len.saturating_add(1))
            .map_err(|_| fail(too_large(meta.len(), max_bytes)))?;
        file.by_ref()
            .take(max_bytes.saturating_add(1))
            .read_to_end(&mut bytes)
            .map_err(|e| fail(Error::io(e)))?;
    } else {
        let mut limited = file.take(max_bytes.saturating_add(1));
        read_to_end_waiting(&mut limited, &mut bytes, fifo).map_err(|e| fail(Error::io(e)))?;
    }
    if fifo && bytes.is_empty() {
        return Err(fail(io_error(
            std::io::ErrorKind::UnexpectedEof,
            format!(
                "a FIFO that gave no bytes within {} s (no writer?)",
                FIFO_WRITER_WAIT.as_secs()
            ),
        )));
    }
    if bytes.len() as u64 > max_bytes {
        return Err(fail(too_large(bytes.len() as u64, max_bytes)));
    }
    Ok(bytes)
}

fn too_large(size: u64, limit: u64) -> Error {
    Error::new(quercus_core::ErrorKind::TooLarge { size, limit })
}

fn io_error(kind: std::io::ErrorKind, msg: String) -> Error {
    Error::io(std::io::Error::new(kind, msg))
}

#[cfg(unix)]
fn is_fifo(kind: &std::fs::FileType) -> bool {
    use std::os::unix::fs::FileTypeExt;
    kind.is_fifo()
}

#[cfg(not(unix))]
fn is_fifo(_: &std::fs::FileType) -> bool {
    false
}

/// Opens `path`; a FIFO without blocking until a writer appears.
fn open_for_reading(path: &Path, fifo: bool) -> std::io::Result<std::fs::File> {
    let mut o = std::fs::OpenOptions::new();
    o.read(true);
    #[cfg(unix)]
    if fifo {
        use std::os::unix::fs::OpenOptionsExt;
        o.custom_flags(libc::O_NONBLOCK);
    }
    let _ = fifo;
    o.open(path)
}

/// How long a FIFO may have no writer before it reads as empty.
const FIFO_WRITER_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

/// `read_to_end`, waiting out `WouldBlock` (a non-blocking FIFO whose writer
/// has not written yet). End of file comes when no writer is left; for a
/// FIFO (`fifo`), an end before any byte may mean no writer has opened it
/// yet, so it is retried for up to [`FIFO_WRITER_WAIT`].
fn read_to_end_waiting(
    r: &mut impl std::io::Read,
    out: &mut Vec<u8>,
    fifo: bool,
) -> std::io::Result<()> {
    let mut buf = vec![0u8; 1 << 16];
    let start = std::time::Instant::now();
    loop {
        match r.read(&mut buf) {
            Ok(0) if fifo && out.is_empty() && start.elapsed() < FIFO_WRITER_WAIT => {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            Ok(0) => return Ok(()),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            Err(e) => return Err(e),
        }
    }
}
