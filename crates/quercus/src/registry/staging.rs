//! Staging an upload in `ROOT/tmp/`: the artifact copied and hashed file by
//! file, each copy synced to disk.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use quercus_core::Result;

use super::integrity::{self, directory_digest, hash_reader};
use super::io_at;
use super::state::{ArtifactRecord, FileRecord};

static SEQ: AtomicU64 = AtomicU64::new(0);

/// A name unique to this process and call, for temporary files.
pub(super) fn unique(prefix: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "{prefix}-{}-{nanos}-{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    )
}

/// Syncs a directory, so a rename inside it is durable.
pub(super) fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|f| f.sync_all())
        .map_err(io_at(dir))
}

/// Writes a new file and syncs it.
pub(super) fn write_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut f = File::create(path).map_err(io_at(path))?;
    f.write_all(bytes).map_err(io_at(path))?;
    f.sync_all().map_err(io_at(path))
}

/// Copies `src` to `dst` while hashing it; syncs `dst`.
fn copy_hashed(src: &Path, dst: &Path) -> Result<(u64, String)> {
    let input = File::open(src).map_err(io_at(src))?;
    let mut output = File::create(dst).map_err(io_at(dst))?;
    let hashed = hash_reader(input, src, |chunk| {
        output.write_all(chunk).map_err(io_at(dst))
    })?;
    output.sync_all().map_err(io_at(dst))?;
    Ok(hashed)
}

/// Copies the artifact `src` (a file, or a directory when `is_dir`) into
/// `art`, hashing it. Returns its record and the path to load the copy from.
pub(super) fn stage_artifact(
    src: &Path,
    is_dir: bool,
    art: &Path,
) -> Result<(ArtifactRecord, PathBuf)> {
    fs::create_dir_all(art).map_err(io_at(art))?;
    if is_dir {
        let mut files = Vec::new();
        for (rel, path) in integrity::list_files(src)? {
            let dst = art.join(&rel);
            if let Some(parent) = dst.parent() {
                fs::create_dir_all(parent).map_err(io_at(parent))?;
            }
            let (size, sha256) = copy_hashed(&path, &dst)?;
            files.push(FileRecord {
                path: rel,
                size,
                sha256,
            });
        }
        let rec = ArtifactRecord {
            kind: "directory".into(),
            file: None,
            sha256: directory_digest(&files),
            files,
        };
        Ok((rec, art.to_path_buf()))
    } else {
        let name = src
            .file_name()
            .and_then(|n| n.to_str())
            .filter(|n| !n.starts_with('.'))
            .unwrap_or("model.bin")
            .to_string();
        let dst = art.join(&name);
        let (size, sha256) = copy_hashed(src, &dst)?;
        let rec = ArtifactRecord {
            kind: "file".into(),
            file: Some(name.clone()),
            sha256: sha256.clone(),
            files: vec![FileRecord {
                path: name,
                size,
                sha256,
            }],
        };
        Ok((rec, dst))
    }
}
