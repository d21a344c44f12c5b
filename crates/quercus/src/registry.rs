//! A local model registry with the Vertex AI Model Registry's semantics:
//! models, numbered versions, aliases, labels, content-hashed artifacts.
//!
//! ```
//! use quercus::registry::{Registry, UploadOptions};
//!
//! # let root = std::env::temp_dir().join(format!("quercus-doc-registry-{}", std::process::id()));
//! # let _ = std::fs::remove_dir_all(&root);
//! let model = concat!(env!("CARGO_MANIFEST_DIR"), "/../../models/example/model.json");
//! let reg = Registry::open(&root)?;
//! let v1 = reg.upload(model, &UploadOptions::new("churn"))?;
//! assert_eq!(v1.version_id.as_deref(), Some("1"));
//! assert_eq!(v1.version_aliases, Some(vec!["default".to_string()])); // the first version
//!
//! let mut opts = UploadOptions::new("churn");
//! opts.aliases = vec!["champion".into()];
//! let v2 = reg.upload(model, &opts)?;
//! assert_eq!(v2.version_id.as_deref(), Some("2"));
//!
//! // Move `default` to version 2 and drop `champion` from it.
//! let v2 = reg.merge_aliases("churn@2", &["default", "-champion"])?;
//! assert_eq!(v2.version_aliases, Some(vec!["default".to_string()]));
//!
//! let m = reg.load("churn@default", &Default::default())?; // hash verified
//! assert_eq!(m.num_features(), 4);
//! reg.delete("churn@1", false)?;
//! # std::fs::remove_dir_all(&root).ok();
//! # Ok::<(), quercus::Error>(())
//! ```
//!
//! ## Rules (Vertex's)
//!
//! * A model id is 1–63 characters `[a-z0-9_-]`, not starting with a digit or
//!   `-`; an alias matches `[a-z][a-z0-9-]{0,126}[a-z0-9]` (so it is never a
//!   number); labels follow [`quercus_vertex::validate`].
//! * Uploading to a model id creates the model, or its next version. Version
//!   ids are `1`, `2`, ... and are never reused while the model exists (after
//!   its last version is deleted the model is gone, and a new upload starts a
//!   new model at `1`, as on Vertex).
//! * The first version gets the alias `default`. Exactly one version carries
//!   `default`. An alias names one version within a model: adding an alias
//!   that another version carries moves it (so adding `default` to a version
//!   makes it the default). Removing `default` is refused.
//! * Deleting the version that carries `default` moves `default` to the newest
//!   remaining version. Deleting a version that carries other aliases is
//!   refused unless forced. Deleting the last version deletes the model.
//!
//! ## On disk
//!
//! ```text
//! ROOT/quercus-registry.json             {"layout": 1}
//! ROOT/.lock                             flock: exclusive for changes, shared for reads
//! ROOT/tmp/                              uploads being staged; deleted versions
//! ROOT/models/ID/model.json              versions, aliases, next version id
//! ROOT/models/ID/versions/N/version.json the version's record: artifact hashes, Model resource
//! ROOT/models/ID/versions/N/artifact/    the model file, or the export directory's files
//! ROOT/models/ID/versions/N/instance.yaml, prediction.yaml
//! ```
//!
//! An upload copies the artifact into `tmp/`, hashing every file (SHA-256) and
//! syncing it to disk, loads the copy to check it and generate its schemata,
//! then — holding the lock — takes the next version id, renames the staged
//! directory into place and rewrites `model.json` (write to a temporary file,
//! fsync, rename). A crash leaves at most an unreferenced directory, never a
//! half-written visible version. Every load re-hashes the artifact and
//! refuses it ([`ErrorKind::Integrity`], naming
//! the file) if a file changed, disappeared or appeared.
//!
//! A file artifact's `sha256` is the SHA-256 of its bytes (what `sha256sum`
//! prints). A directory's is the SHA-256 of one line per file, in byte order
//! of the relative paths (`/`-separated): `PATH\0SIZE\0SHA256-HEX\n`.
//!
//! `describe` gives a version's `Model` resource in the Vertex REST shape:
//! `name` is `projects/local/locations/local/models/ID` (the version is in
//! `versionId`, as on Vertex), `artifactUri` and the schema URIs are `file://`
//! URIs inside the registry, times are RFC 3339 UTC.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use quercus_core::{Error, ErrorKind, Result};
use quercus_vertex as vertex;
use serde::{Deserialize, Serialize};

use crate::metadata::{MetadataOptions, Origin};
use crate::{LoadOptions, Model};

/// The environment variable naming the default registry's root.
pub const ENV_VAR: &str = "QUERCUS_REGISTRY";
/// The prefix of registry references accepted by [`Model::load`]:
/// `registry://ID`, `registry://ID@VERSION`, `registry://ID@ALIAS`.
pub const URI_PREFIX: &str = "registry://";
/// The alias every model has exactly once.
pub const DEFAULT_ALIAS: &str = "default";
/// The `projects/.../locations/...` part of resource names in a local registry.
pub const RESOURCE_PREFIX: &str = "projects/local/locations/local/models/";

/// Testing knob: milliseconds an upload waits while holding the lock, after
/// reading the model's state and before writing it (so tests can prove that
/// concurrent uploads are serialised). Not for production use.
const TEST_PAUSE_VAR: &str = "QUERCUS_REGISTRY_TEST_PAUSE_MS";

const LAYOUT_FILE: &str = "quercus-registry.json";
const LAYOUT: u32 = 1;
const STATE_FILE: &str = "model.json";
const VERSION_FILE: &str = "version.json";
const ARTIFACT_DIR: &str = "artifact";

/// Which version a reference names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VersionSelector {
    /// A version id.
    Id(u64),
    /// An alias (`default` when the reference has none).
    Alias(String),
}

/// A parsed reference: `ID`, `ID@VERSION` or `ID@ALIAS`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reference {
    /// The model id.
    pub model_id: String,
    /// The version.
    pub version: VersionSelector,
}

impl Reference {
    /// Parses `ID`, `ID@VERSION` or `ID@ALIAS` (a leading `registry://` is
    /// accepted), checking the id, version and alias against Vertex's rules.
    pub fn parse(text: &str) -> Result<Reference> {
        let t = text.strip_prefix(URI_PREFIX).unwrap_or(text);
        let bad =
            |e: vertex::ValidationError| Error::option(format!("registry reference `{text}`: {e}"));
        let (id, version) = match t.split_once('@') {
            None => (t, VersionSelector::Alias(DEFAULT_ALIAS.to_string())),
            Some((id, v)) if !v.is_empty() && v.bytes().all(|c| c.is_ascii_digit()) => {
                vertex::validate::version_id(v).map_err(bad)?;
                let n = v.parse().map_err(|_| {
                    Error::option(format!("registry reference `{text}`: bad version id"))
                })?;
                (id, VersionSelector::Id(n))
            }
            Some((id, alias)) => {
                vertex::validate::version_alias(alias).map_err(bad)?;
                (id, VersionSelector::Alias(alias.to_string()))
            }
        };
        vertex::validate::model_id(id).map_err(bad)?;
        Ok(Reference {
            model_id: id.to_string(),
            version,
        })
    }

    /// Parses a reference that must name a version by its id (`ID@VERSION`).
    fn parse_version(text: &str, what: &str) -> Result<(String, u64)> {
        let r = Reference::parse(text)?;
        match r.version {
            VersionSelector::Id(n) if text.contains('@') => Ok((r.model_id, n)),
            _ => Err(Error::option(format!(
                "{what} needs a version id: `{}@VERSION`, not `{text}`",
                r.model_id
            ))),
        }
    }
}

/// What to record with an upload.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct UploadOptions {
    /// The model id (created if new).
    pub model_id: String,
    /// The display name (default: the artifact's file or directory name).
    pub display_name: Option<String>,
    /// The model's description.
    pub description: Option<String>,
    /// This version's description.
    pub version_description: Option<String>,
    /// Labels (added to Quercus's default labels).
    pub labels: BTreeMap<String, String>,
    /// Aliases for the new version (moved from other versions that carry
    /// them; `default` makes it the default version).
    pub aliases: Vec<String>,
    /// How to load the artifact when checking it.
    pub load: LoadOptions,
}

impl UploadOptions {
    /// Options for an upload to `model_id`, nothing else set.
    pub fn new(model_id: impl Into<String>) -> UploadOptions {
        UploadOptions {
            model_id: model_id.into(),
            ..UploadOptions::default()
        }
    }
}

/// A registry rooted at a directory. Cheap to create; every operation takes
/// the registry's lock for as long as it needs it, so several processes can
/// share one registry.
#[derive(Clone, Debug)]
pub struct Registry {
    root: PathBuf,
}

/// The mutable state of a model (`models/ID/model.json`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ModelState {
    model_id: String,
    next_version_id: u64,
    create_time: String,
    update_time: String,
    versions: Vec<VersionState>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct VersionState {
    version_id: u64,
    aliases: Vec<String>,
    update_time: String,
}

/// The immutable record of a version (`versions/N/version.json`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct VersionRecord {
    version_id: u64,
    create_time: String,
    artifact: ArtifactRecord,
    /// The Model resource as generated at upload (no name, version or times).
    model: vertex::Model,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ArtifactRecord {
    /// `file` or `directory`.
    kind: String,
    /// For a file: its name under `artifact/`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    file: Option<String>,
    sha256: String,
    files: Vec<FileRecord>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct FileRecord {
    path: String,
    size: u64,
    sha256: String,
}

/// The registry lock, released on drop.
struct Lock {
    _file: File,
}

static SEQ: AtomicU64 = AtomicU64::new(0);

/// A name unique to this process and call, for temporary files.
fn unique(prefix: &str) -> String {
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

fn io_at(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |e| Error::io(e).with_path(path)
}

/// Syncs a directory, so a rename inside it is durable.
fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|f| f.sync_all())
        .map_err(io_at(dir))
}

fn to_json<T: Serialize>(v: &T) -> Vec<u8> {
    let mut s = serde_json::to_vec_pretty(v).unwrap_or_default();
    s.push(b'\n');
    s
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T> {
    let bytes = fs::read(path).map_err(io_at(path))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| Error::registry(format!("the registry file is corrupt: {e}")).with_path(path))
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// A time as RFC 3339 UTC with microseconds, e.g. `2026-01-02T03:04:05.000006Z`.
fn rfc3339(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
    let secs = d.as_secs() as i64;
    let (y, mo, da) = civil_from_days(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{mo:02}-{da:02}T{:02}:{:02}:{:02}.{:06}Z",
        s / 3600,
        s / 60 % 60,
        s % 60,
        d.subsec_micros()
    )
}

fn now() -> String {
    rfc3339(SystemTime::now())
}

/// A relative path as `/`-separated UTF-8.
fn rel_string(rel: &Path) -> Result<String> {
    let mut parts = Vec::new();
    for c in rel.components() {
        match c {
            std::path::Component::Normal(s) => parts.push(s.to_str().ok_or_else(|| {
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

/// Copies `src` to `dst` while hashing it; syncs `dst`.
fn copy_hashed(src: &Path, dst: &Path) -> Result<(u64, String)> {
    let mut input = File::open(src).map_err(io_at(src))?;
    let mut output = File::create(dst).map_err(io_at(dst))?;
    let mut hasher = crate::sha256::Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut size = 0u64;
    loop {
        let n = input.read(&mut buf).map_err(io_at(src))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        output.write_all(&buf[..n]).map_err(io_at(dst))?;
        size += n as u64;
    }
    output.sync_all().map_err(io_at(dst))?;
    Ok((size, hasher.finish_hex()))
}

/// Hashes a file.
fn hash_file(path: &Path) -> Result<(u64, String)> {
    let mut input = File::open(path).map_err(io_at(path))?;
    let mut hasher = crate::sha256::Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut size = 0u64;
    loop {
        let n = input.read(&mut buf).map_err(io_at(path))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        size += n as u64;
    }
    Ok((size, hasher.finish_hex()))
}

/// Every regular file under `dir` (following symbolic links), as sorted
/// `/`-separated relative paths. Anything else (sockets, devices) is an error.
fn list_files(dir: &Path) -> Result<Vec<(String, PathBuf)>> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>, depth: usize) -> Result<()> {
        if depth > 64 {
            return Err(Error::option(format!(
                "{} is nested too deeply (a symbolic link loop?)",
                dir.display()
            )));
        }
        for entry in fs::read_dir(dir).map_err(io_at(dir))? {
            let entry = entry.map_err(io_at(dir))?;
            let path = entry.path();
            let meta = fs::metadata(&path).map_err(io_at(&path))?;
            if meta.is_dir() {
                walk(base, &path, out, depth + 1)?;
            } else if meta.is_file() {
                let rel = path.strip_prefix(base).unwrap_or(&path);
                out.push((rel_string(rel)?, path));
            } else {
                return Err(Error::option(format!(
                    "{} is neither a file nor a directory",
                    path.display()
                )));
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out, 0)?;
    out.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    Ok(out)
}

/// The digest of a directory artifact from its file records.
fn directory_digest(files: &[FileRecord]) -> String {
    let mut h = crate::sha256::Sha256::new();
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

fn file_uri(path: &Path) -> String {
    format!("file://{}", path.display())
}

/// Checks the registry invariants of one model's state.
fn check_invariants(s: &ModelState) -> Result<()> {
    let bad = |msg: String| Err(Error::registry(format!("model `{}`: {msg}", s.model_id)));
    if s.versions.is_empty() {
        return bad("no versions".into());
    }
    let mut last = 0;
    let mut seen = BTreeSet::new();
    let mut defaults = 0;
    for v in &s.versions {
        if v.version_id <= last || v.version_id >= s.next_version_id {
            return bad(format!("version {} is out of order", v.version_id));
        }
        last = v.version_id;
        for a in &v.aliases {
            if !seen.insert(a.as_str()) {
                return bad(format!("alias `{a}` is on two versions"));
            }
            defaults += usize::from(a == DEFAULT_ALIAS);
        }
    }
    if defaults != 1 {
        return bad(format!(
            "{defaults} versions carry the `default` alias instead of one"
        ));
    }
    Ok(())
}

impl Registry {
    /// Opens (creating it if needed) the registry rooted at `root`.
    pub fn open(root: impl AsRef<Path>) -> Result<Registry> {
        let root = root.as_ref();
        for d in [root.join("models"), root.join("tmp")] {
            fs::create_dir_all(&d).map_err(io_at(&d))?;
        }
        let root = fs::canonicalize(root).map_err(io_at(root))?;
        let layout = root.join(LAYOUT_FILE);
        match fs::read(&layout) {
            Ok(bytes) => {
                let v: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| {
                    Error::registry(format!("not a Quercus registry file: {e}")).with_path(&layout)
                })?;
                if v.get("layout").and_then(serde_json::Value::as_u64) != Some(u64::from(LAYOUT)) {
                    return Err(Error::registry(format!(
                        "unsupported registry layout {} (this Quercus reads layout {LAYOUT})",
                        v.get("layout").unwrap_or(&serde_json::Value::Null)
                    ))
                    .with_path(&layout));
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                crate::io::write_atomic(&layout, &to_json(&serde_json::json!({"layout": LAYOUT})))?;
            }
            Err(e) => return Err(Error::io(e).with_path(&layout)),
        }
        Ok(Registry { root })
    }

    /// The default registry's root: `$QUERCUS_REGISTRY`, else
    /// `~/.quercus/registry`.
    pub fn default_root() -> Result<PathBuf> {
        if let Some(r) = std::env::var_os(ENV_VAR).filter(|r| !r.is_empty()) {
            return Ok(PathBuf::from(r));
        }
        match std::env::var_os("HOME").filter(|h| !h.is_empty()) {
            Some(home) => Ok(PathBuf::from(home).join(".quercus").join("registry")),
            None => Err(Error::registry(format!(
                "no registry: set ${ENV_VAR} (or $HOME, for ~/.quercus/registry)"
            ))),
        }
    }

    /// Opens the default registry ([`Registry::default_root`]).
    pub fn open_default() -> Result<Registry> {
        Registry::open(Registry::default_root()?)
    }

    /// The registry's root directory (absolute).
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn lock(&self, exclusive: bool) -> Result<Lock> {
        let path = self.root.join(".lock");
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

    fn model_dir(&self, id: &str) -> PathBuf {
        self.root.join("models").join(id)
    }

    fn version_dir(&self, id: &str, version: u64) -> PathBuf {
        self.model_dir(id)
            .join("versions")
            .join(version.to_string())
    }

    fn state(&self, id: &str) -> Result<Option<ModelState>> {
        let path = self.model_dir(id).join(STATE_FILE);
        if !path.exists() {
            return Ok(None);
        }
        let s: ModelState = read_json(&path)?;
        if s.model_id != id {
            return Err(Error::registry(format!(
                "the state file names model `{}`, not `{id}`",
                s.model_id
            ))
            .with_path(&path));
        }
        check_invariants(&s).map_err(|e| e.with_path(&path))?;
        Ok(Some(s))
    }

    fn existing_state(&self, id: &str) -> Result<ModelState> {
        self.state(id)?
            .ok_or_else(|| Error::registry(format!("no model `{id}` in {}", self.root.display())))
    }

    fn write_state(&self, s: &ModelState) -> Result<()> {
        check_invariants(s)?;
        crate::io::write_atomic(&self.model_dir(&s.model_id).join(STATE_FILE), &to_json(s))
    }

    /// Moves `path` into `tmp/` and deletes it there (the rename is atomic, so
    /// nothing half-deleted is ever visible).
    fn discard(&self, path: &Path) -> Result<()> {
        let trash = self.root.join("tmp").join(unique("trash"));
        fs::rename(path, &trash).map_err(io_at(path))?;
        let _ = sync_dir(path.parent().unwrap_or(&self.root));
        fs::remove_dir_all(&trash).map_err(io_at(&trash))
    }

    fn resolve_in(s: &ModelState, r: &Reference) -> Result<u64> {
        let found = match &r.version {
            VersionSelector::Id(n) => s.versions.iter().find(|v| v.version_id == *n),
            VersionSelector::Alias(a) => s.versions.iter().find(|v| v.aliases.contains(a)),
        };
        found.map(|v| v.version_id).ok_or_else(|| {
            Error::registry(match &r.version {
                VersionSelector::Id(n) => format!(
                    "model `{}` has no version {n} (versions: {})",
                    r.model_id,
                    s.versions
                        .iter()
                        .map(|v| v.version_id.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                VersionSelector::Alias(a) => {
                    format!("model `{}` has no version with alias `{a}`", r.model_id)
                }
            })
        })
    }

    fn record(&self, id: &str, version: u64) -> Result<VersionRecord> {
        read_json(&self.version_dir(id, version).join(VERSION_FILE))
    }

    /// The Model resource of a version: the stored record plus its current
    /// aliases and times.
    fn resource(&self, s: &ModelState, version: u64) -> Result<vertex::Model> {
        let rec = self.record(&s.model_id, version)?;
        let vs = s
            .versions
            .iter()
            .find(|v| v.version_id == version)
            .ok_or_else(|| Error::registry(format!("no version {version}")))?;
        let mut m = rec.model;
        m.name = Some(format!("{RESOURCE_PREFIX}{}", s.model_id));
        m.version_id = Some(version.to_string());
        let mut aliases = vs.aliases.clone();
        aliases.sort_by(|a, b| (a != DEFAULT_ALIAS, a).cmp(&(b != DEFAULT_ALIAS, b)));
        m.version_aliases = Some(aliases);
        m.version_create_time = Some(rec.create_time);
        m.version_update_time = Some(vs.update_time.clone());
        m.create_time = Some(s.create_time.clone());
        m.update_time = Some(s.update_time.clone());
        Ok(m)
    }

    /// Uploads a model file or BigQuery ML export directory as the next
    /// version of `opts.model_id` (creating the model if needed) and returns
    /// the new version's Model resource.
    pub fn upload(
        &self,
        artifact: impl AsRef<Path>,
        opts: &UploadOptions,
    ) -> Result<vertex::Model> {
        let src = artifact.as_ref();
        let bad = |e: vertex::ValidationError| Error::option(e.to_string());
        vertex::validate::model_id(&opts.model_id).map_err(bad)?;
        for a in &opts.aliases {
            vertex::validate::version_alias(a).map_err(bad)?;
        }
        let meta_opts = MetadataOptions {
            display_name: opts.display_name.clone(),
            description: opts.description.clone(),
            version_description: opts.version_description.clone(),
            labels: opts.labels.clone(),
            ..MetadataOptions::default()
        };
        meta_opts.validate()?;
        let src_meta = fs::metadata(src).map_err(io_at(src))?;
        if src_meta.is_dir()
            && !src.join("model.bst").is_file()
            && !src.join("assets").join("model_metadata.json").is_file()
        {
            // Checked before copying anything: the directory could be large.
            return Err(Error::new(ErrorKind::UnknownFormat(
                "a directory, but not a BigQuery ML export: it has neither model.bst nor \
                 assets/model_metadata.json"
                    .into(),
            ))
            .with_path(src));
        }

        let stage = self.root.join("tmp").join(unique("upload"));
        let result = self.upload_staged(src, src_meta.is_dir(), &stage, opts, meta_opts);
        if stage.exists() {
            let _ = fs::remove_dir_all(&stage);
        }
        result
    }

    fn upload_staged(
        &self,
        src: &Path,
        is_dir: bool,
        stage: &Path,
        opts: &UploadOptions,
        mut meta_opts: MetadataOptions,
    ) -> Result<vertex::Model> {
        let art = stage.join(ARTIFACT_DIR);
        fs::create_dir_all(&art).map_err(io_at(&art))?;
        // 1. Copy and hash, outside the lock.
        let (artifact, model_path) = if is_dir {
            let mut files = Vec::new();
            for (rel, path) in list_files(src)? {
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
            (rec, art.clone())
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
            (rec, dst)
        };
        // 2. Check that the copy is a model and describe it.
        let model = Model::load_with(&model_path, &opts.load).map_err(|e| {
            if e.location().path.is_some() {
                e
            } else {
                e.with_path(src)
            }
        })?;
        if meta_opts.display_name.is_none() {
            meta_opts.display_name = Some(crate::metadata::display_name_of(src));
        }
        for (name, text) in model.predict_schemata().yaml_files() {
            let p = stage.join(name);
            let mut f = File::create(&p).map_err(io_at(&p))?;
            f.write_all(text.as_bytes()).map_err(io_at(&p))?;
            f.sync_all().map_err(io_at(&p))?;
        }

        // 3. Under the lock: number the version, move it into place, record it.
        let _lock = self.lock(true)?;
        let id = &opts.model_id;
        let mdir = self.model_dir(id);
        let time = now();
        let mut state = match self.state(id)? {
            Some(s) => s,
            None => {
                if mdir.exists() {
                    // A model directory without a state file: debris of a
                    // crash before the first version was recorded.
                    self.discard(&mdir)?;
                }
                ModelState {
                    model_id: id.clone(),
                    next_version_id: 1,
                    create_time: time.clone(),
                    update_time: time.clone(),
                    versions: Vec::new(),
                }
            }
        };
        if let Some(ms) = std::env::var(TEST_PAUSE_VAR)
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
        {
            std::thread::sleep(Duration::from_millis(ms.min(60_000)));
        }
        let version = state.next_version_id;
        let vdir = self.version_dir(id, version);
        let final_dir = vdir.clone();
        meta_opts.artifact_uri = Some(file_uri(&final_dir.join(ARTIFACT_DIR)));
        meta_opts.schemata_uri = Some(file_uri(&final_dir));
        let mut resource = model.build_metadata(&meta_opts);
        resource.version_aliases = None;
        let record = VersionRecord {
            version_id: version,
            create_time: time.clone(),
            artifact,
            model: resource,
        };
        let rec_path = stage.join(VERSION_FILE);
        {
            let mut f = File::create(&rec_path).map_err(io_at(&rec_path))?;
            f.write_all(&to_json(&record)).map_err(io_at(&rec_path))?;
            f.sync_all().map_err(io_at(&rec_path))?;
        }
        sync_dir(&art)?;
        sync_dir(stage)?;
        let versions_dir = mdir.join("versions");
        fs::create_dir_all(&versions_dir).map_err(io_at(&versions_dir))?;
        if vdir.exists() {
            // Debris of a crash between the rename and the state update.
            self.discard(&vdir)?;
        }
        fs::rename(stage, &vdir).map_err(io_at(&vdir))?;
        sync_dir(&versions_dir)?;

        let mut aliases: Vec<String> = Vec::new();
        if state.versions.is_empty() {
            aliases.push(DEFAULT_ALIAS.to_string());
        }
        for a in &opts.aliases {
            if !aliases.contains(a) {
                aliases.push(a.clone());
            }
        }
        for v in &mut state.versions {
            let before = v.aliases.len();
            v.aliases.retain(|a| !aliases.contains(a));
            if v.aliases.len() != before {
                v.update_time = time.clone();
            }
        }
        state.versions.push(VersionState {
            version_id: version,
            aliases,
            update_time: time.clone(),
        });
        state.next_version_id = version + 1;
        state.update_time = time;
        self.write_state(&state)?;
        self.resource(&state, version)
    }

    /// Every model, as the Model resource of its default version (like
    /// Vertex's `models.list`), sorted by model id.
    pub fn list(&self) -> Result<Vec<vertex::Model>> {
        let _lock = self.lock(false)?;
        let dir = self.root.join("models");
        let mut ids: Vec<String> = fs::read_dir(&dir)
            .map_err(io_at(&dir))?
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().to_str().map(str::to_string))
            .filter(|id| vertex::validate::model_id(id).is_ok())
            .collect();
        ids.sort();
        let mut out = Vec::new();
        for id in ids {
            if let Some(s) = self.state(&id)? {
                let r = Reference {
                    model_id: id,
                    version: VersionSelector::Alias(DEFAULT_ALIAS.into()),
                };
                out.push(self.resource(&s, Self::resolve_in(&s, &r)?)?);
            }
        }
        Ok(out)
    }

    /// Every version of a model, oldest first (like `models.listVersions`).
    pub fn list_versions(&self, model_id: &str) -> Result<Vec<vertex::Model>> {
        vertex::validate::model_id(model_id).map_err(|e| Error::option(e.to_string()))?;
        let _lock = self.lock(false)?;
        let s = self.existing_state(model_id)?;
        s.versions
            .iter()
            .map(|v| self.resource(&s, v.version_id))
            .collect()
    }

    /// Which version a reference (`ID`, `ID@VERSION`, `ID@ALIAS`) names now.
    pub fn resolve(&self, reference: &str) -> Result<(String, u64)> {
        let r = Reference::parse(reference)?;
        let _lock = self.lock(false)?;
        let s = self.existing_state(&r.model_id)?;
        let v = Self::resolve_in(&s, &r)?;
        Ok((r.model_id, v))
    }

    /// The Model resource of the version a reference names.
    pub fn describe(&self, reference: &str) -> Result<vertex::Model> {
        let r = Reference::parse(reference)?;
        let _lock = self.lock(false)?;
        let s = self.existing_state(&r.model_id)?;
        let v = Self::resolve_in(&s, &r)?;
        self.resource(&s, v)
    }

    /// Adds and removes aliases of one version (`ID@VERSION`), like Vertex's
    /// `mergeVersionAliases`: `"prod"` adds `prod` (moving it from the version
    /// that has it), `"-prod"` removes it. Adding and removing the same alias
    /// cancel out. Removing `default`, or an alias the version does not
    /// carry, is refused. Returns the version's Model resource.
    pub fn merge_aliases<S: AsRef<str>>(
        &self,
        reference: &str,
        changes: &[S],
    ) -> Result<vertex::Model> {
        let (id, version) = Reference::parse_version(reference, "merge-aliases")?;
        let mut add = BTreeSet::new();
        let mut remove = BTreeSet::new();
        for c in changes {
            let (is_remove, alias) = vertex::validate::alias_change(c.as_ref())
                .map_err(|e| Error::option(e.to_string()))?;
            if is_remove {
                remove.insert(alias.to_string());
            } else {
                add.insert(alias.to_string());
            }
        }
        let both: Vec<String> = add.intersection(&remove).cloned().collect();
        for a in &both {
            add.remove(a);
            remove.remove(a);
        }
        if changes.is_empty() {
            return Err(Error::option(
                "merge-aliases needs at least one alias change",
            ));
        }
        if remove.contains(DEFAULT_ALIAS) {
            return Err(Error::registry(format!(
                "the `default` alias cannot be removed; make another version the default \
                 instead (merge-aliases {id}@N default)"
            )));
        }
        let _lock = self.lock(true)?;
        let mut s = self.existing_state(&id)?;
        Self::resolve_in(
            &s,
            &Reference {
                model_id: id.clone(),
                version: VersionSelector::Id(version),
            },
        )?;
        let time = now();
        for v in &mut s.versions {
            if v.version_id == version {
                for a in &remove {
                    if !v.aliases.contains(a) {
                        return Err(Error::registry(format!(
                            "version {version} of `{id}` has no alias `{a}`"
                        )));
                    }
                }
                v.aliases.retain(|a| !remove.contains(a));
                for a in &add {
                    if !v.aliases.contains(a) {
                        v.aliases.push(a.clone());
                    }
                }
                v.update_time = time.clone();
            } else {
                let before = v.aliases.len();
                v.aliases.retain(|a| !add.contains(a));
                if v.aliases.len() != before {
                    v.update_time = time.clone();
                }
            }
        }
        s.update_time = time;
        self.write_state(&s)?;
        self.resource(&s, version)
    }

    /// Deletes a version (`ID@VERSION`). Deleting the default version moves
    /// `default` to the newest remaining version; a version carrying other
    /// aliases is refused unless `force`; deleting the last version deletes
    /// the model.
    pub fn delete(&self, reference: &str, force: bool) -> Result<()> {
        let (id, version) = Reference::parse_version(reference, "delete")?;
        let _lock = self.lock(true)?;
        let mut s = self.existing_state(&id)?;
        let pos = s
            .versions
            .iter()
            .position(|v| v.version_id == version)
            .ok_or_else(|| Error::registry(format!("model `{id}` has no version {version}")))?;
        let others: Vec<&String> = s.versions[pos]
            .aliases
            .iter()
            .filter(|a| *a != DEFAULT_ALIAS)
            .collect();
        if !others.is_empty() && !force {
            let list: Vec<&str> = others.iter().map(|a| a.as_str()).collect();
            return Err(Error::registry(format!(
                "version {version} of `{id}` carries the alias(es) {}; remove them first \
                 (merge-aliases {id}@{version} {}) or force the deletion",
                list.join(", "),
                list.iter()
                    .map(|a| format!("-{a}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            )));
        }
        let removed = s.versions.remove(pos);
        if s.versions.is_empty() {
            return self.discard(&self.model_dir(&id));
        }
        let time = now();
        if removed.aliases.iter().any(|a| a == DEFAULT_ALIAS)
            && let Some(newest) = s.versions.last_mut()
        {
            newest.aliases.push(DEFAULT_ALIAS.to_string());
            newest.update_time = time.clone();
        }
        s.update_time = time;
        self.write_state(&s)?;
        let vdir = self.version_dir(&id, version);
        if vdir.exists() {
            self.discard(&vdir)?;
        }
        Ok(())
    }

    /// Re-hashes the artifact of the version a reference names; an
    /// [`ErrorKind::Integrity`] error names the first file that differs.
    pub fn verify(&self, reference: &str) -> Result<()> {
        let r = Reference::parse(reference)?;
        let _lock = self.lock(false)?;
        let s = self.existing_state(&r.model_id)?;
        let v = Self::resolve_in(&s, &r)?;
        let rec = self.record(&r.model_id, v)?;
        self.verify_files(&r.model_id, v, &rec.artifact, None)
    }

    /// Checks every recorded file (and that no file was added). `preloaded`
    /// is the bytes of a file artifact already read, hashed instead of
    /// re-reading it.
    fn verify_files(
        &self,
        id: &str,
        version: u64,
        art: &ArtifactRecord,
        preloaded: Option<&[u8]>,
    ) -> Result<()> {
        let dir = self.version_dir(id, version).join(ARTIFACT_DIR);
        let what = format!("`{id}` version {version}");
        let present = list_files(&dir)?;
        let recorded: BTreeSet<&str> = art.files.iter().map(|f| f.path.as_str()).collect();
        for (rel, path) in &present {
            if !recorded.contains(rel.as_str()) {
                return Err(
                    Error::integrity(format!("{what}: file {rel} was added after upload"))
                        .with_path(path),
                );
            }
        }
        for f in &art.files {
            let path = dir.join(&f.path);
            let (size, sha) = match preloaded {
                Some(bytes) => (bytes.len() as u64, crate::sha256::sha256_hex(bytes)),
                None => match hash_file(&path) {
                    Ok(h) => h,
                    Err(e) if matches!(e.kind(), ErrorKind::Io(io) if io.kind() == std::io::ErrorKind::NotFound) =>
                    {
                        return Err(Error::integrity(format!(
                            "{what}: file {} is missing",
                            f.path
                        ))
                        .with_path(&path));
                    }
                    Err(e) => return Err(e),
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
            .with_path(self.version_dir(id, version).join(VERSION_FILE)));
        }
        Ok(())
    }

    /// Loads the version a reference names, after checking its artifact
    /// against the hashes recorded at upload.
    pub fn load(&self, reference: &str, opts: &LoadOptions) -> Result<Model> {
        let r = Reference::parse(reference)?;
        let _lock = self.lock(false)?;
        let s = self.existing_state(&r.model_id)?;
        let v = Self::resolve_in(&s, &r)?;
        let rec = self.record(&r.model_id, v)?;
        let dir = self.version_dir(&r.model_id, v).join(ARTIFACT_DIR);
        let mut model = match (rec.artifact.kind.as_str(), &rec.artifact.file) {
            ("file", Some(name)) => {
                let path = dir.join(name);
                let bytes = match fs::read(&path) {
                    Ok(b) => b,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                        return Err(Error::integrity(format!(
                            "`{}` version {v}: file {name} is missing",
                            r.model_id
                        ))
                        .with_path(&path));
                    }
                    Err(e) => return Err(Error::io(e).with_path(&path)),
                };
                self.verify_files(&r.model_id, v, &rec.artifact, Some(&bytes))?;
                Model::from_bytes(&bytes, opts).map_err(|e| e.with_path(&path))?
            }
            ("directory", None) => {
                self.verify_files(&r.model_id, v, &rec.artifact, None)?;
                Model::load_with(&dir, opts)?
            }
            _ => {
                return Err(Error::registry(format!(
                    "unknown artifact kind `{}`",
                    rec.artifact.kind
                ))
                .with_path(self.version_dir(&r.model_id, v).join(VERSION_FILE)));
            }
        };
        model.origin = Origin::Registry(Box::new(self.resource(&s, v)?));
        Ok(model)
    }
}

impl Model {
    /// Loads a version from the default registry (`$QUERCUS_REGISTRY`, else
    /// `~/.quercus/registry`): `ID`, `ID@VERSION` or `ID@ALIAS`, with or
    /// without `registry://`. The artifact's hashes are checked first.
    pub fn load_from_registry(reference: &str) -> Result<Model> {
        Model::load_from_registry_with(reference, &LoadOptions::default())
    }

    /// [`Model::load_from_registry`] with load options.
    pub fn load_from_registry_with(reference: &str, opts: &LoadOptions) -> Result<Model> {
        Registry::open_default()?.load(reference, opts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_matches_known_dates() {
        let at = |s: u64, micros: u32| {
            rfc3339(UNIX_EPOCH + Duration::from_secs(s) + Duration::from_micros(micros.into()))
        };
        assert_eq!(at(0, 0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(at(951_782_400, 5), "2000-02-29T00:00:00.000005Z");
        assert_eq!(at(1_767_323_045, 123_456), "2026-01-02T03:04:05.123456Z");
        assert_eq!(at(4_107_542_399, 0), "2100-02-28T23:59:59.000000Z");
    }

    #[test]
    fn references() {
        let r = Reference::parse("churn").unwrap();
        assert_eq!(r.version, VersionSelector::Alias("default".into()));
        let r = Reference::parse("registry://churn@12").unwrap();
        assert_eq!(
            (r.model_id.as_str(), r.version),
            ("churn", VersionSelector::Id(12))
        );
        let r = Reference::parse("churn@champion").unwrap();
        assert_eq!(r.version, VersionSelector::Alias("champion".into()));
        for bad in [
            "",
            "Churn",
            "churn@",
            "churn@0",
            "churn@01",
            "churn@Prod",
            "1x@1",
            "a@b@c",
        ] {
            let e = Reference::parse(bad).unwrap_err();
            assert!(matches!(e.kind(), ErrorKind::Option(_)), "{bad}: {e}");
        }
        assert!(Reference::parse_version("churn", "delete").is_err());
        assert!(Reference::parse_version("churn@prod", "delete").is_err());
        assert_eq!(
            Reference::parse_version("churn@3", "delete").unwrap(),
            ("churn".to_string(), 3)
        );
    }

    #[test]
    fn invariants_are_checked() {
        let v = |id, aliases: &[&str]| VersionState {
            version_id: id,
            aliases: aliases.iter().map(|a| a.to_string()).collect(),
            update_time: String::new(),
        };
        let mut s = ModelState {
            model_id: "m".into(),
            next_version_id: 4,
            create_time: String::new(),
            update_time: String::new(),
            versions: vec![v(1, &["default"]), v(3, &["a"])],
        };
        assert!(check_invariants(&s).is_ok());
        s.versions[1].aliases.push("default".into());
        assert!(check_invariants(&s).is_err());
        s.versions[1].aliases = vec!["a".into()];
        s.versions[0].aliases = vec!["a".into()];
        assert!(check_invariants(&s).is_err());
        s.versions[0].aliases = vec!["default".into()];
        s.next_version_id = 3;
        assert!(check_invariants(&s).is_err());
        s.next_version_id = 4;
        s.versions.swap(0, 1);
        assert!(check_invariants(&s).is_err());
    }
}
