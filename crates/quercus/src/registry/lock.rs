//! The registry lock: `ROOT/.lock`, `flock`ed exclusively by changes and
//! shared by reads.
//!
//! Only changes create the lock file or open it for writing. A read opens it
//! read-only (a shared `flock` needs no write access), so a registry on a
//! read-only mount, or one the reader may not write, can be read. When the
//! file is absent or unreadable a read goes on without it: writers create the
//! file before their first change, so its absence means no writer has used
//! this registry, and every change is a rename, never a partial write.

use std::fs::{self, File};
use std::path::Path;

use quercus_core::Result;

use super::io_at;

pub(super) const LOCK_FILE: &str = ".lock";

/// A held lock, released on drop (or no lock, for a read without one).
pub(super) struct Lock {
    _file: Option<File>,
}

/// The exclusive lock, for a change; creates the lock file if needed.
pub(super) fn exclusive(root: &Path) -> Result<Lock> {
    let path = root.join(LOCK_FILE);
    let file = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(io_at(&path))?;
    file.lock().map_err(io_at(&path))?;
    Ok(Lock { _file: Some(file) })
}

/// A shared lock, for a read: never creates or writes anything.
pub(super) fn shared(root: &Path) -> Result<Lock> {
    let path = root.join(LOCK_FILE);
    let file = match File::open(&path) {
        Ok(f) => f,
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::PermissionDenied
            ) =>
        {
            return Ok(Lock { _file: None });
        }
        Err(e) => return Err(io_at(&path)(e)),
    };
    file.lock_shared().map_err(io_at(&path))?;
    Ok(Lock { _file: Some(file) })
}

/// Creates the lock file of a new registry.
pub(super) fn create(root: &Path) -> Result<()> {
    let path = root.join(LOCK_FILE);
    fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map(drop)
        .map_err(io_at(&path))
}
