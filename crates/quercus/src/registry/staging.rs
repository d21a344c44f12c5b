//! Staging an upload in `ROOT/tmp/`: the artifact copied and hashed file by
//! file, each copy synced to disk.
//!
//! Only regular files and directories are copied: a symbolic link, FIFO,
//! socket or device anywhere in the artifact (the artifact itself included)
//! is refused, naming it. A copy is never more permissive than its source:
//! it gets read and write for its owner (the uploader, who just read the
//! source), the source's group read bit only when the copy has the source's
//! group, the source's other read bit, and nothing else (no execute bits);
//! the umask narrows that further. So a file that only its owner (or root)
//! can read stays that way in the registry.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use quercus_core::{Error, Result};

use super::integrity::{self, describe, directory_digest, hash_reader};
use super::io_at;
use super::state::{ArtifactRecord, FileRecord};

/// A directory in `tmp/` removed on drop unless it was moved away (so every
/// error path, and a panic, cleans up).
pub(super) struct Stage {
    dir: PathBuf,
}

impl Stage {
    pub(super) fn new(dir: PathBuf) -> Stage {
        Stage { dir }
    }

    pub(super) fn path(&self) -> &Path {
        &self.dir
    }
}

impl Drop for Stage {
    fn drop(&mut self) {
        if fs::symlink_metadata(&self.dir).is_ok() {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

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

/// The refusal of something in an uploaded artifact that is not a regular
/// file or a directory.
pub(super) fn refuse(path: &Path, kind: &str) -> Error {
    Error::registry(format!(
        "{} is {kind}: the registry stores regular files and directories only (upload the \
         file a link points to, not the link)",
        path.display()
    ))
    .with_path(path)
}

/// Creates `dst` for a copy of the file `src` (whose metadata is given)
/// with permissions no wider than the source's (see the module docs).
fn create_copy(dst: &Path, src_meta: &fs::Metadata) -> Result<File> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
        let mode = 0o600 | (src_meta.mode() & 0o044);
        let file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(dst)
            .map_err(io_at(dst))?;
        // The group read bit is for the source's group only (the copy gets
        // the uploader's group, or a setgid directory's).
        let created = file.metadata().map_err(io_at(dst))?;
        if created.gid() != src_meta.gid() && created.mode() & 0o070 != 0 {
            file.set_permissions(fs::Permissions::from_mode(created.mode() & 0o7707))
                .map_err(io_at(dst))?;
        }
        Ok(file)
    }
    #[cfg(not(unix))]
    {
        let _ = src_meta;
        fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(dst)
            .map_err(io_at(dst))
    }
}

/// Copies the regular file `src` to the new file `dst` while hashing it;
/// syncs `dst`. A `src` that is not a regular file is refused.
fn copy_hashed(src: &Path, dst: &Path) -> Result<(u64, String)> {
    let input = match integrity::open_regular(src) {
        Ok(Ok(f)) => f,
        Ok(Err(kind)) => return Err(refuse(src, kind)),
        Err(e) => return Err(Error::io(e).with_path(src)),
    };
    let src_meta = input.metadata().map_err(io_at(src))?;
    let mut output = create_copy(dst, &src_meta)?;
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
        for (rel, path) in integrity::list_files(src, &refuse)? {
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

/// The type of the artifact to upload, not following a link: a regular file
/// (`false`) or a directory (`true`); anything else is refused.
pub(super) fn artifact_kind(src: &Path) -> Result<bool> {
    let meta = fs::symlink_metadata(src).map_err(io_at(src))?;
    let t = meta.file_type();
    if t.is_dir() {
        Ok(true)
    } else if t.is_file() {
        Ok(false)
    } else {
        Err(refuse(src, describe(&t)))
    }
}
