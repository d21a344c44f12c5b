//! Content hashes (SHA-256, by the `sha2` crate) and the checks of what is
//! on disk: only regular files and real directories, never a symbolic link,
//! FIFO, socket or device, whether uploading an artifact or reading a stored
//! one.

use std::collections::BTreeSet;
use std::fs::{self, File, FileType};
use std::io::Read;
use std::path::{Component, Path, PathBuf};

use quercus_core::{Error, ErrorKind, Result};
use sha2::Digest;

use super::io_at;
use super::state::{ARTIFACT_DIR, ArtifactRecord, FileRecord, VERSION_FILE};

/// An incremental SHA-256.
#[derive(Clone, Default)]
pub(super) struct Hasher(sha2::Sha256);

impl Hasher {
    pub(super) fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }

    /// The digest as 64 lowercase hex digits.
    pub(super) fn finish_hex(self) -> String {
        hex(&self.0.finalize())
    }
}

/// Lowercase hex.
fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 15)] as char);
    }
    s
}

/// The SHA-256 of `data` as hex.
pub(super) fn sha256_hex(data: &[u8]) -> String {
    let mut h = Hasher::default();
    h.update(data);
    h.finish_hex()
}

/// The digest of a directory artifact from its file records: the SHA-256 of
/// `PATH\0SIZE\0SHA256-HEX\n` per file, in byte order of the paths.
pub(super) fn directory_digest(files: &[FileRecord]) -> String {
    let mut h = Hasher::default();
    for f in files {
        h.update(f.path.as_bytes());
        h.update(b"\0");
        h.update(f.size.to_string().as_bytes());
        h.update(b"\0");
        h.update(f.sha256.as_bytes());
        h.update(b"\n");
    }
    h.finish_hex()
}

/// What a file type is, for messages.
pub(super) fn describe(t: &FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return "a FIFO";
        }
        if t.is_socket() {
            return "a socket";
        }
        if t.is_block_device() || t.is_char_device() {
            return "a device";
        }
    }
    if t.is_symlink() {
        "a symbolic link"
    } else if t.is_dir() {
        "a directory"
    } else if t.is_file() {
        "a regular file"
    } else {
        "not a regular file"
    }
}

/// Opens a regular file for reading without following a symbolic link in
/// its last component and without blocking on a FIFO. `Ok(Err(what))`: the
/// path is something else (`what` says what).
pub(super) fn open_regular(
    path: &Path,
) -> std::io::Result<std::result::Result<File, &'static str>> {
    #[cfg(unix)]
    let opened = {
        use std::os::unix::fs::OpenOptionsExt;
        fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(path)
    };
    #[cfg(not(unix))]
    let opened = match fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => return Ok(Err("a symbolic link")),
        Ok(_) => File::open(path),
        Err(e) => Err(e),
    };
    match opened {
        Ok(f) => {
            let t = f.metadata()?.file_type();
            Ok(if t.is_file() {
                Ok(f)
            } else {
                Err(describe(&t))
            })
        }
        Err(e) => match fs::symlink_metadata(path) {
            // O_NOFOLLOW fails with ELOOP on a link.
            Ok(m) if m.file_type().is_symlink() => Ok(Err("a symbolic link")),
            _ => Err(e),
        },
    }
}

/// Reads from `input` to its end, hashing, passing each chunk to `sink`.
pub(super) fn hash_reader(
    mut input: impl Read,
    path: &Path,
    mut sink: impl FnMut(&[u8]) -> Result<()>,
) -> Result<(u64, String)> {
    let mut hasher = Hasher::default();
    let mut buf = vec![0u8; 1 << 16];
    let mut size = 0u64;
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::io(e).with_path(path)),
        };
        hasher.update(&buf[..n]);
        sink(&buf[..n])?;
        size += n as u64;
    }
    Ok((size, hasher.finish_hex()))
}

/// A relative path as `/`-separated UTF-8.
fn rel_string(rel: &Path) -> Result<String> {
    let mut parts = Vec::new();
    for c in rel.components() {
        match c {
            Component::Normal(s) => parts.push(s.to_str().ok_or_else(|| {
                Error::option(format!(
                    "file name {} is not UTF-8; the registry stores UTF-8 names only",
                    rel.display()
                ))
            })?),
            _ => {
                return Err(Error::option(format!(
                    "unexpected path component in {}",
                    rel.display()
                )));
            }
        }
    }
    Ok(parts.join("/"))
}

/// Every regular file under `dir`, as sorted `/`-separated relative paths,
/// never following a symbolic link. Anything but a regular file or a
/// directory (a symbolic link, FIFO, socket, device) is `refuse(path, what)`.
pub(super) fn list_files(
    dir: &Path,
    refuse: &dyn Fn(&Path, &str) -> Error,
) -> Result<Vec<(String, PathBuf)>> {
    fn walk(
        base: &Path,
        dir: &Path,
        out: &mut Vec<(String, PathBuf)>,
        depth: usize,
        refuse: &dyn Fn(&Path, &str) -> Error,
    ) -> Result<()> {
        if depth > 64 {
            return Err(Error::option(format!(
                "{} is nested too deeply",
                dir.display()
            )));
        }
        for entry in fs::read_dir(dir).map_err(io_at(dir))? {
            let entry = entry.map_err(io_at(dir))?;
            let path = entry.path();
            // Not followed: the type of the entry itself.
            let t = entry.file_type().map_err(io_at(&path))?;
            if t.is_dir() {
                walk(base, &path, out, depth + 1, refuse)?;
            } else if t.is_file() {
                let rel = path.strip_prefix(base).unwrap_or(&path);
                out.push((rel_string(rel)?, path));
            } else {
                return Err(refuse(&path, describe(&t)));
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out, 0, refuse)?;
    out.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    Ok(out)
}

fn is_not_found(e: &Error) -> bool {
    matches!(e.kind(), ErrorKind::Io(io) if io.kind() == std::io::ErrorKind::NotFound)
}

/// Reads a stored file (the artifact of a file version) for loading, refusing
/// a symbolic link or anything else that is not a regular file.
pub(super) fn read_stored(path: &Path, what: &str, name: &str) -> Result<Vec<u8>> {
    let file = match open_regular(path) {
        Ok(Ok(f)) => f,
        Ok(Err(kind)) => return Err(not_regular(what, name, kind).with_path(path)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(missing(what, name).with_path(path));
        }
        Err(e) => return Err(Error::io(e).with_path(path)),
    };
    let mut bytes = Vec::new();
    hash_reader(file, path, |chunk| {
        bytes.extend_from_slice(chunk);
        Ok(())
    })?;
    Ok(bytes)
}

fn not_regular(what: &str, name: &str, kind: &str) -> Error {
    Error::integrity(format!(
        "{what}: {name} is {kind}, not a regular file: the stored artifact was changed after \
         upload"
    ))
}

fn missing(what: &str, name: &str) -> Error {
    Error::integrity(format!("{what}: file {name} is missing"))
}

/// Checks a stored version's artifact against its record: the version and
/// artifact directories are real directories, every file is a regular file
/// (no symbolic link anywhere), the files are exactly the recorded ones and
/// have their recorded SHA-256. `preloaded`: the bytes of a file artifact
/// already read (with [`read_stored`]), hashed instead of re-reading it.
/// An [`ErrorKind::Integrity`] error names the first file that differs.
pub(super) fn verify_artifact(
    version_dir: &Path,
    what: &str,
    art: &ArtifactRecord,
    preloaded: Option<&[u8]>,
) -> Result<()> {
    let dir = version_dir.join(ARTIFACT_DIR);
    for (d, name) in [(version_dir, "the version directory"), (&dir, ARTIFACT_DIR)] {
        match fs::symlink_metadata(d) {
            Ok(m) if m.is_dir() => {}
            Ok(m) => {
                return Err(Error::integrity(format!(
                    "{what}: {name} is {}, not a directory: the stored artifact was changed \
                     after upload",
                    describe(&m.file_type())
                ))
                .with_path(d));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(missing(what, name).with_path(d));
            }
            Err(e) => return Err(Error::io(e).with_path(d)),
        }
    }
    let refuse = |path: &Path, kind: &str| {
        let rel = path.strip_prefix(&dir).unwrap_or(path);
        not_regular(what, &rel.display().to_string(), kind).with_path(path)
    };
    let present = list_files(&dir, &refuse)?;
    let recorded: BTreeSet<&str> = art.files.iter().map(|f| f.path.as_str()).collect();
    for (rel, path) in &present {
        if !recorded.contains(rel.as_str()) {
            return Err(
                Error::integrity(format!("{what}: file {rel} was added after upload"))
                    .with_path(path),
            );
        }
    }
    let present: BTreeSet<&str> = present.iter().map(|(rel, _)| rel.as_str()).collect();
    for f in &art.files {
        let path = dir.join(&f.path);
        if !present.contains(f.path.as_str()) {
            return Err(missing(what, &f.path).with_path(&path));
        }
        let (size, sha) = match preloaded {
            Some(bytes) => (bytes.len() as u64, sha256_hex(bytes)),
            None => match open_regular(&path) {
                Ok(Ok(file)) => hash_reader(file, &path, |_| Ok(()))?,
                Ok(Err(kind)) => return Err(not_regular(what, &f.path, kind).with_path(&path)),
                Err(e) => {
                    let e = Error::io(e).with_path(&path);
                    return Err(if is_not_found(&e) {
                        missing(what, &f.path).with_path(&path)
                    } else {
                        e
                    });
                }
            },
        };
        if sha != f.sha256 {
            return Err(Error::integrity(format!(
                "{what}: file {} has SHA-256 {sha} ({size} bytes) but {} ({} bytes) was \
                 recorded at upload: it was modified",
                f.path, f.sha256, f.size
            ))
            .with_path(&path));
        }
    }
    if art.kind == "directory" && directory_digest(&art.files) != art.sha256 {
        return Err(Error::integrity(format!(
            "{what}: the recorded file list does not match the recorded digest"
        ))
        .with_path(version_dir.join(VERSION_FILE)));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    // FIPS 180-4 / NIST CSRC "SHA256.pdf" example vectors: the digests the
    // hand-written SHA-256 that `sha2` replaced was tested against.
    #[test]
    fn fips_vectors() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            sha256_hex(b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
        );
        assert_eq!(
            sha256_hex(
                b"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu"
            ),
            "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"
        );
        let million_a = vec![b'a'; 1_000_000];
        assert_eq!(
            sha256_hex(&million_a),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"
        );
    }

    #[test]
    fn incremental_equals_one_shot() {
        let data: Vec<u8> = (0..300u32).map(|i| (i * 7 + 3) as u8).collect();
        let whole = sha256_hex(&data);
        for split in [0, 1, 55, 56, 63, 64, 65, 128, 299] {
            let mut h = Hasher::default();
            h.update(&data[..split]);
            h.update(&data[split..]);
            assert_eq!(h.finish_hex(), whole, "split {split}");
        }
    }

    /// A directory digest recorded by the hand-written SHA-256 (of two file
    /// records), unchanged.
    #[test]
    fn directory_digest_is_stable() {
        let files = [
            FileRecord {
                path: "a.txt".into(),
                size: 3,
                sha256: sha256_hex(b"abc"),
            },
            FileRecord {
                path: "d/e.bin".into(),
                size: 0,
                sha256: sha256_hex(b""),
            },
        ];
        assert_eq!(
            directory_digest(&files),
            "0d0617bbdb7019e1a947a5c016139dd332362b66d5f24032eea58d2c79feb17f"
        );
    }
}
