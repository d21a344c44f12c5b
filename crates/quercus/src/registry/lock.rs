//! The registry lock: `ROOT/.lock`, `flock`ed exclusively by changes and
//! shared by reads.

use std::fs::{self, File};
use std::path::Path;

use quercus_core::Result;

use super::io_at;

pub(super) const LOCK_FILE: &str = ".lock";

/// A held lock, released on drop.
pub(super) struct Lock {
    _file: File,
}

fn lock(root: &Path, exclusive: bool) -> Result<Lock> {
    let path = root.join(LOCK_FILE);
    let file = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(io_at(&path))?;
    if exclusive {
        file.lock()
    } else {
        file.lock_shared()
    }
    .map_err(io_at(&path))?;
    Ok(Lock { _file: file })
}

/// The exclusive lock, for a change.
pub(super) fn exclusive(root: &Path) -> Result<Lock> {
    lock(root, true)
}

/// A shared lock, for a read.
pub(super) fn shared(root: &Path) -> Result<Lock> {
    lock(root, false)
}
