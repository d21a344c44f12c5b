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
//!   ids are `1`, `2`, ... (at most 19 digits, as on Vertex) and are never
//!   reused while the model exists (after its last version is deleted the
//!   model is gone, and a new upload starts a new model at `1`, as on Vertex).
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
//! half-written visible version; an upload that fails removes what it
//! staged or moved. Every load re-hashes the artifact and refuses it
//! ([`ErrorKind::Integrity`], naming the file) if a file changed,
//! disappeared or appeared, or was replaced by a symbolic link (or anything
//! else that is not a regular file, or a directory by a link).
//!
//! Only regular files and directories are uploaded: a symbolic link, FIFO,
//! socket or device anywhere in the artifact, the artifact itself included,
//! is refused ([`ErrorKind::Registry`], naming it). Copies are never more
//! permissive than their source: read and write for the uploader, read for
//! the source's group (only when the copy has that group) and for others
//! only when the source allows it, no execute bits, then the umask.
//!
//! Reads (`list`, `describe`, `resolve`, `verify`, `load`) write nothing and
//! need no write access: they take the shared lock through a read-only
//! descriptor of `.lock` (or no lock when it is absent or unreadable), so a
//! registry on a read-only mount can be read.
//!
//! A file artifact's `sha256` is the SHA-256 of its bytes (what `sha256sum`
//! prints). A directory's is the SHA-256 of one line per file, in byte order
//! of the relative paths (`/`-separated): `PATH\0SIZE\0SHA256-HEX\n`.
//!
//! `describe` gives a version's `Model` resource in the Vertex REST shape:
//! `name` is `projects/local/locations/local/models/ID` (the version is in
//! `versionId`, as on Vertex), `artifactUri` and the schema URIs are `file://`
//! URIs inside the registry, times are RFC 3339 UTC.

mod integrity;
mod lock;
mod reference;
mod staging;
mod state;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
#[cfg(feature = "test-hooks")]
use std::time::Duration;

use quercus_core::{Error, ErrorKind, Result};
use quercus_vertex as vertex;

pub use reference::{Reference, VersionSelector};

use crate::metadata::{MetadataOptions, Origin};
use crate::{LoadOptions, Model};
use staging::Stage;
use state::{
    ARTIFACT_DIR, LAYOUT_FILE, ModelState, STATE_FILE, VERSION_FILE, VersionRecord, VersionState,
};

/// The environment variable naming the default registry's root.
pub const ENV_VAR: &str = "QUERCUS_REGISTRY";
/// The prefix of registry references accepted by [`Model::load`]:
/// `registry://ID`, `registry://ID@VERSION`, `registry://ID@ALIAS`.
pub const URI_PREFIX: &str = "registry://";
/// The alias every model has exactly once.
pub const DEFAULT_ALIAS: &str = "default";
/// The `projects/.../locations/...` part of resource names in a local registry.
pub const RESOURCE_PREFIX: &str = "projects/local/locations/local/models/";

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
    /// Test seam: how long an upload waits while holding the lock.
    #[cfg(feature = "test-hooks")]
    upload_pause: Duration,
}

fn io_at(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |e| Error::io(e).with_path(path)
}

fn file_uri(path: &Path) -> String {
    format!("file://{}", path.display())
}

impl Registry {
    /// Opens the registry rooted at `root`, creating it if there is none.
    /// Opening an existing registry writes nothing (it may be read-only).
    pub fn open(root: impl AsRef<Path>) -> Result<Registry> {
        let root = root.as_ref();
        let layout = root.join(LAYOUT_FILE);
        match fs::read(&layout) {
            Ok(bytes) => state::check_layout(&bytes, &layout)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                for d in [root.join("models"), root.join("tmp")] {
                    fs::create_dir_all(&d).map_err(io_at(&d))?;
                }
                lock::create(root)?;
                crate::io::write_atomic(&layout, &state::layout_json())?;
            }
            Err(e) => return Err(Error::io(e).with_path(&layout)),
        }
        let root = fs::canonicalize(root).map_err(io_at(root))?;
        Ok(Registry {
            root,
            #[cfg(feature = "test-hooks")]
            upload_pause: Duration::ZERO,
        })
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

    /// Test seam (cargo feature `test-hooks`, never in release builds): each
    /// upload through this handle waits `pause` while holding the lock,
    /// after reading the model's state and before writing it, so tests can
    /// prove that concurrent uploads are serialised.
    #[cfg(feature = "test-hooks")]
    #[doc(hidden)]
    pub fn with_upload_pause(mut self, pause: Duration) -> Registry {
        self.upload_pause = pause;
        self
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
        state::read_state(&self.model_dir(id).join(STATE_FILE), id)
    }

    fn existing_state(&self, id: &str) -> Result<ModelState> {
        self.state(id)?
            .ok_or_else(|| Error::registry(format!("no model `{id}` in {}", self.root.display())))
    }

    fn write_state(&self, s: &ModelState) -> Result<()> {
        state::check_invariants(s)?;
        crate::io::write_atomic(
            &self.model_dir(&s.model_id).join(STATE_FILE),
            &state::to_json(s),
        )
    }

    /// Moves `path` into `tmp/` and deletes it there (the rename is atomic, so
    /// nothing half-deleted is ever visible).
    fn discard(&self, path: &Path) -> Result<()> {
        let tmp = self.root.join("tmp");
        fs::create_dir_all(&tmp).map_err(io_at(&tmp))?;
        let trash = tmp.join(staging::unique("trash"));
        fs::rename(path, &trash).map_err(io_at(path))?;
        let _ = staging::sync_dir(path.parent().unwrap_or(&self.root));
        fs::remove_dir_all(&trash).map_err(io_at(&trash))
    }

    fn record(&self, id: &str, version: u64) -> Result<VersionRecord> {
        state::read_json(&self.version_dir(id, version).join(VERSION_FILE))
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
    /// the new version's Model resource. A symbolic link, FIFO, socket or
    /// device in the artifact (or as the artifact) is refused.
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
        let is_dir = staging::artifact_kind(src)?;
        if is_dir
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
        // Nor is anything copied for a model whose version ids are used up
        // (checked again under the lock; the state file is replaced
        // atomically, so reading it unlocked is safe).
        if let Ok(Some(s)) = self.state(&opts.model_id) {
            s.next_version()?;
        }

        let tmp = self.root.join("tmp");
        fs::create_dir_all(&tmp).map_err(io_at(&tmp))?;
        let stage = Stage::new(tmp.join(staging::unique("upload")));
        self.upload_staged(src, is_dir, &stage, opts, meta_opts)
    }

    fn upload_staged(
        &self,
        src: &Path,
        is_dir: bool,
        stage: &Stage,
        opts: &UploadOptions,
        mut meta_opts: MetadataOptions,
    ) -> Result<vertex::Model> {
        // 1. Copy and hash, outside the lock.
        let art = stage.path().join(ARTIFACT_DIR);
        let (artifact, model_path) = staging::stage_artifact(src, is_dir, &art)?;
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
            staging::write_synced(&stage.path().join(name), text.as_bytes())?;
        }

        // 3. Under the lock: number the version, move it into place, record it.
        let _lock = lock::exclusive(&self.root)?;
        let id = &opts.model_id;
        let mdir = self.model_dir(id);
        let time = state::now();
        let mut state = match self.state(id)? {
            Some(s) => s,
            None => {
                if mdir.exists() {
                    // A model directory without a state file: debris of a
                    // crash before the first version was recorded.
                    self.discard(&mdir)?;
                }
                ModelState::new(id, &time)
            }
        };
        #[cfg(feature = "test-hooks")]
        std::thread::sleep(self.upload_pause);
        // Before anything is moved into the model's directory.
        let version = state.next_version()?;
        let vdir = self.version_dir(id, version);
        meta_opts.artifact_uri = Some(file_uri(&vdir.join(ARTIFACT_DIR)));
        meta_opts.schemata_uri = Some(file_uri(&vdir));
        let mut resource = model.build_metadata(&meta_opts);
        resource.version_aliases = None;
        let record = VersionRecord {
            version_id: version,
            create_time: time.clone(),
            artifact,
            model: resource,
        };
        staging::write_synced(&stage.path().join(VERSION_FILE), &state::to_json(&record))?;
        staging::sync_dir(&art)?;
        staging::sync_dir(stage.path())?;

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
        state.next_version_id = version + 1; // <= MAX_VERSION_ID + 1
        state.update_time = time;
        state::check_invariants(&state)?;

        let new_model = !mdir.exists();
        let placed = self.place_version(stage, &vdir).and_then(|()| {
            self.write_state(&state).inspect_err(|_| {
                // Unless the state was written after all (only syncing its
                // directory failed), the moved version is an orphan.
                if !matches!(self.state(id), Ok(Some(s)) if s.versions.iter().any(|v| v.version_id == version))
                {
                    let _ = self.discard(&vdir);
                }
            })
        });
        if let Err(e) = placed {
            if new_model && fs::symlink_metadata(mdir.join(STATE_FILE)).is_err() {
                let _ = self.discard(&mdir);
            }
            return Err(e);
        }
        self.resource(&state, version)
    }

    /// Moves a staged version to `vdir`, replacing debris of a crash.
    fn place_version(&self, stage: &Stage, vdir: &Path) -> Result<()> {
        let versions_dir = vdir.parent().unwrap_or(&self.root);
        fs::create_dir_all(versions_dir).map_err(io_at(versions_dir))?;
        if fs::symlink_metadata(vdir).is_ok() {
            // Debris of a crash between the rename and the state update.
            self.discard(vdir)?;
        }
        fs::rename(stage.path(), vdir).map_err(io_at(vdir))?;
        staging::sync_dir(versions_dir)
    }

    /// Every model, as the Model resource of its default version (like
    /// Vertex's `models.list`), sorted by model id.
    pub fn list(&self) -> Result<Vec<vertex::Model>> {
        let _lock = lock::shared(&self.root)?;
        let dir = self.root.join("models");
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::io(e).with_path(&dir)),
        };
        let mut ids: Vec<String> = entries
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().to_str().map(str::to_string))
            .filter(|id| vertex::validate::model_id(id).is_ok())
            .collect();
        ids.sort();
        let mut out = Vec::new();
        for id in ids {
            if let Some(s) = self.state(&id)? {
                let v = s.resolve(&Reference::default_of(id))?;
                out.push(self.resource(&s, v)?);
            }
        }
        Ok(out)
    }

    /// Every version of a model, oldest first (like `models.listVersions`).
    pub fn list_versions(&self, model_id: &str) -> Result<Vec<vertex::Model>> {
        vertex::validate::model_id(model_id).map_err(|e| Error::option(e.to_string()))?;
        let _lock = lock::shared(&self.root)?;
        let s = self.existing_state(model_id)?;
        s.versions
            .iter()
            .map(|v| self.resource(&s, v.version_id))
            .collect()
    }

    /// Which version a reference (`ID`, `ID@VERSION`, `ID@ALIAS`) names now.
    pub fn resolve(&self, reference: &str) -> Result<(String, u64)> {
        let r = Reference::parse(reference)?;
        let _lock = lock::shared(&self.root)?;
        let s = self.existing_state(&r.model_id)?;
        let v = s.resolve(&r)?;
        Ok((r.model_id, v))
    }

    /// The Model resource of the version a reference names.
    pub fn describe(&self, reference: &str) -> Result<vertex::Model> {
        let r = Reference::parse(reference)?;
        let _lock = lock::shared(&self.root)?;
        let s = self.existing_state(&r.model_id)?;
        let v = s.resolve(&r)?;
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
        let _lock = lock::exclusive(&self.root)?;
        let mut s = self.existing_state(&id)?;
        s.resolve(&Reference {
            model_id: id.clone(),
            version: VersionSelector::Id(version),
        })?;
        let time = state::now();
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
        let _lock = lock::exclusive(&self.root)?;
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
        let time = state::now();
        if removed.aliases.iter().any(|a| a == DEFAULT_ALIAS)
            && let Some(newest) = s.versions.last_mut()
        {
            newest.aliases.push(DEFAULT_ALIAS.to_string());
            newest.update_time = time.clone();
        }
        s.update_time = time;
        self.write_state(&s)?;
        let vdir = self.version_dir(&id, version);
        if fs::symlink_metadata(&vdir).is_ok() {
            self.discard(&vdir)?;
        }
        Ok(())
    }

    /// Re-hashes the artifact of the version a reference names; an
    /// [`ErrorKind::Integrity`] error names the first file that differs (or
    /// that is a symbolic link, or not a regular file).
    pub fn verify(&self, reference: &str) -> Result<()> {
        let r = Reference::parse(reference)?;
        let _lock = lock::shared(&self.root)?;
        let s = self.existing_state(&r.model_id)?;
        let v = s.resolve(&r)?;
        let rec = self.record(&r.model_id, v)?;
        let what = format!("`{}` version {v}", r.model_id);
        integrity::verify_artifact(
            &self.version_dir(&r.model_id, v),
            &what,
            &rec.artifact,
            None,
        )
    }

    /// Loads the version a reference names, after checking its artifact
    /// against the hashes recorded at upload.
    pub fn load(&self, reference: &str, opts: &LoadOptions) -> Result<Model> {
        let r = Reference::parse(reference)?;
        let _lock = lock::shared(&self.root)?;
        let s = self.existing_state(&r.model_id)?;
        let v = s.resolve(&r)?;
        let rec = self.record(&r.model_id, v)?;
        let vdir = self.version_dir(&r.model_id, v);
        let dir = vdir.join(ARTIFACT_DIR);
        let what = format!("`{}` version {v}", r.model_id);
        let mut model = match (rec.artifact.kind.as_str(), &rec.artifact.file) {
            ("file", Some(name)) => {
                let path = dir.join(name);
                let bytes = integrity::read_stored(&path, &what, name)?;
                integrity::verify_artifact(&vdir, &what, &rec.artifact, Some(&bytes))?;
                Model::from_bytes(&bytes, opts).map_err(|e| e.with_path(&path))?
            }
            ("directory", None) => {
                integrity::verify_artifact(&vdir, &what, &rec.artifact, None)?;
                Model::load_with(&dir, opts)?
            }
            _ => {
                return Err(Error::registry(format!(
                    "unknown artifact kind `{}`",
                    rec.artifact.kind
                ))
                .with_path(vdir.join(VERSION_FILE)));
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
