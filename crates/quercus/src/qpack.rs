//! Compiled models (`.qpack`): compile once, load in well under a millisecond.
//!
//! `quercus compile model.json -o model.qpack` (or [`Model::save_compiled`])
//! writes the packed layouts the fast kernels walk, plus the model's metadata.
//! [`Model::load`] recognises the file by its first bytes and reads it into
//! memory once; loading is then a checksum over the whole file and a bounds
//! check of every packed tree. A corrupted or hostile file is an error, never
//! a wrong answer or a crash, and the file may change or vanish afterwards.
//!
//! **Memory-mapping is an opt-in, and `unsafe`.**
//! [`Model::load_compiled_mmap`] uses the file's pages in place (no copy,
//! pages shared between processes), but the checks run once, at load: if
//! another process truncates or rewrites the file in place while the model
//! lives, reads see the new bytes (or fault). That cannot be made safe from
//! inside the process, so the caller promises it, as with `memmap2` itself.
//! Write new versions under a new name and rename them over the old one (a
//! rename leaves the mapped old file intact), as `quercus compile` does.
//!
//! The compiled form records the arithmetic chosen when it was compiled
//! (`legacy_summation`); load options do not change it afterwards.
//!
//! ```
//! use quercus::{FeatureMatrix, Model, PredictOptions};
//! # let dir = std::env::temp_dir().join(format!("qpack-doc-{}", std::process::id()));
//! # std::fs::create_dir_all(&dir)?;
//! let model = Model::load(concat!(env!("CARGO_MANIFEST_DIR"), "/../../models/example/model.json"))?;
//! let path = dir.join("model.qpack");
//! model.save_compiled(&path)?;
//! let compiled = Model::load(&path)?;
//! let x = vec![0.5f32; model.num_features()];
//! let x = FeatureMatrix::row_major(&x, 1, model.num_features())?;
//! let o = PredictOptions::default();
//! assert_eq!(model.predict(&x, &o)?, compiled.predict(&x, &o)?);
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use quercus_core::compiled;
use quercus_core::{AlignedBytes, StableBytes};
use quercus_xgboost::{Format, ModelInfo, Version, XgbModel};
use serde_json::{Value, json};

use crate::{Error, Kind, Model, Result};

/// A read-only memory map of a compiled file.
struct MappedFile(memmap2::Mmap);

// SAFETY: a read-only private mapping keeps its address for its lifetime; its
// contents stay the same as long as no one modifies the file while it is
// mapped, which the caller of the `unsafe` `Model::load_compiled_mmap` promises.
unsafe impl StableBytes for MappedFile {
    fn bytes(&self) -> &[u8] {
        &self.0
    }
}

impl Model {
    /// The compiled form of this model (see [`crate::qpack`]). Only XGBoost
    /// models can be compiled; a BigQuery ML export is an error.
    pub fn compile(&self) -> Result<Vec<u8>> {
        let m = match &self.kind {
            Kind::Xgboost(m) => m,
            Kind::Bqml(_) => {
                return Err(Error::option(
                    "compiling a BigQuery ML export is not supported yet; compile its model.bst \
                     only if you encode the rows yourself",
                ));
            }
        };
        let extra = serde_json::to_vec(&info_to_json(&m.info))
            .map_err(|e| Error::format(format!("model metadata: {e}")))?;
        Ok(compiled::write(&m.forest, &extra))
    }

    /// Compiles the model and writes it to `path` atomically (a temporary file
    /// in the same directory, renamed over `path`).
    pub fn save_compiled(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let bytes = self.compile()?;
        crate::io::write_atomic(path, &bytes)
    }

    /// Loads a compiled file (see [`crate::qpack`]), read into memory once:
    /// the file may change or be removed afterwards.
    pub fn load_compiled(path: impl AsRef<Path>) -> Result<Model> {
        let path = path.as_ref();
        let bytes = quercus_xgboost::read_file(path, u64::MAX)?;
        Model::from_compiled(
            Arc::new(AlignedBytes::copy_from(&bytes)),
            crate::metadata::Origin::Path(path.to_path_buf()),
        )
        .map_err(|e| e.with_path(path))
    }

    /// Loads a compiled file by memory-mapping it: no copy, the pages shared
    /// with other processes that map it.
    ///
    /// # Safety
    ///
    /// The file must not be modified or truncated, by this or any other
    /// process, while the returned model or any clone of it is alive. Its
    /// bytes are checked once, here; a later change in place makes reads of
    /// the mapping undefined behaviour (wrong answers, SIGBUS). Replacing the
    /// file by renaming another over it is fine.
    pub unsafe fn load_compiled_mmap(path: impl AsRef<Path>) -> Result<Model> {
        let path = path.as_ref();
        let file = std::fs::File::open(path).map_err(|e| Error::io(e).with_path(path))?;
        // SAFETY: the caller promises the file is not modified while mapped
        // (this function's contract); the checks below run on the mapped
        // bytes once.
        let map = unsafe { memmap2::MmapOptions::new().populate().map(&file) }
            .map_err(|e| Error::io(e).with_path(path))?;
        let owner: Arc<dyn StableBytes> = Arc::new(MappedFile(map));
        Model::from_compiled(owner, crate::metadata::Origin::Path(path.to_path_buf()))
            .map_err(|e| e.with_path(path))
    }

    /// Opens compiled bytes held by `owner`.
    pub(crate) fn from_compiled(
        owner: Arc<dyn StableBytes>,
        origin: crate::metadata::Origin,
    ) -> Result<Model> {
        let (forest, extra) = compiled::read(Arc::clone(&owner))?;
        let meta: Value = serde_json::from_slice(&owner.bytes()[extra.clone()]).map_err(|e| {
            Error::format(format!("compiled model metadata: {e}")).with_offset(extra.start as u64)
        })?;
        let info = info_from_json(&meta).ok_or_else(|| {
            Error::format("compiled model metadata is incomplete").with_offset(extra.start as u64)
        })?;
        Ok(Model {
            kind: Kind::Xgboost(Box::new(XgbModel { forest, info })),
            origin,
        })
    }

    /// Opens compiled bytes already in memory (copied once into an aligned
    /// buffer).
    pub fn from_compiled_bytes(bytes: &[u8]) -> Result<Model> {
        Model::from_compiled(
            Arc::new(AlignedBytes::copy_from(bytes)),
            crate::metadata::Origin::Bytes,
        )
    }
}

/// True when the file at `path` starts like a compiled model.
pub fn is_compiled_file(path: &Path) -> bool {
    use std::io::Read;
    let mut head = [0u8; 8];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok_and(|()| compiled::is_compiled(&head))
}

fn info_to_json(info: &ModelInfo) -> Value {
    json!({
        "format": info.format.name(),
        "version": [info.version.major, info.version.minor, info.version.patch],
        "booster": info.booster,
        "objective": info.objective,
        "num_parallel_tree": info.num_parallel_tree,
        "base_score": info.base_score,
        "attributes": info.attributes,
    })
}

fn info_from_json(v: &Value) -> Option<ModelInfo> {
    let format = match v["format"].as_str()? {
        "json" => Format::Json,
        "ubjson" => Format::Ubjson,
        "binary" => Format::LegacyBinary,
        _ => return None,
    };
    let ver = v["version"].as_array()?;
    let part = |i: usize| ver.get(i)?.as_u64().and_then(|x| u32::try_from(x).ok());
    let attributes: BTreeMap<String, String> = v["attributes"]
        .as_object()?
        .iter()
        .map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
        .collect::<Option<_>>()?;
    Some(ModelInfo {
        format,
        version: Version::new(part(0)?, part(1)?, part(2)?),
        booster: v["booster"].as_str()?.to_string(),
        objective: v["objective"].as_str()?.to_string(),
        num_parallel_tree: usize::try_from(v["num_parallel_tree"].as_u64()?).ok()?,
        base_score: v["base_score"]
            .as_array()?
            .iter()
            .map(|x| x.as_f64().map(|x| x as f32))
            .collect::<Option<_>>()?,
        attributes,
    })
}
