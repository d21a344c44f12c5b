//! The local model registry: its alias and version rules (property test
//! against a reference model of the rules), tamper detection, crash debris
//! and concurrent uploads from many threads.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use proptest::prelude::*;
use quercus::registry::{Registry, UploadOptions};
use quercus::{ErrorKind, LoadOptions};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A small XGBoost model, so property tests can upload often.
fn small_model() -> PathBuf {
    repo().join("models/xgboost/3.2.0/binary_logistic_extreme.json")
}

/// A fresh, empty directory under the system temp dir.
fn fresh_dir(tag: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let d = std::env::temp_dir().join(format!(
        "quercus-registry-test-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn aliases_of(m: &quercus::vertex::Model) -> BTreeSet<String> {
    m.version_aliases
        .clone()
        .unwrap_or_default()
        .into_iter()
        .collect()
}

/// The registry's view of one model: version id -> aliases (None: no model).
fn observed(reg: &Registry, id: &str) -> Option<BTreeMap<u64, BTreeSet<String>>> {
    match reg.list_versions(id) {
        Ok(vs) => Some(
            vs.iter()
                .map(|m| {
                    (
                        m.version_id.as_ref().unwrap().parse().unwrap(),
                        aliases_of(m),
                    )
                })
                .collect(),
        ),
        Err(e) => {
            assert!(matches!(e.kind(), ErrorKind::Registry(_)), "{e}");
            None
        }
    }
}

// ---------------------------------------------------------------------------
// A reference model of the rules, written from the Vertex documentation.

#[derive(Clone, Debug, Default)]
struct RefModel {
    next: u64,
    versions: BTreeMap<u64, BTreeSet<String>>,
}

#[derive(Clone, Debug)]
enum Op {
    Upload {
        model: usize,
        aliases: Vec<&'static str>,
    },
    Merge {
        model: usize,
        pick: usize,
        changes: Vec<(bool, &'static str)>,
    },
    Delete {
        model: usize,
        pick: usize,
        force: bool,
    },
}

const MODELS: [&str; 2] = ["m0", "m_1"];
const ALIASES: [&str; 4] = ["default", "champion", "prod", "canary"];

fn op_strategy() -> impl Strategy<Value = Op> {
    let model = 0..MODELS.len();
    let alias = proptest::sample::select(ALIASES.to_vec());
    prop_oneof![
        3 => (model.clone(), proptest::collection::vec(alias.clone(), 0..3))
            .prop_map(|(model, aliases)| Op::Upload { model, aliases }),
        4 => (model.clone(), 0..6usize, proptest::collection::vec((any::<bool>(), alias), 1..4))
            .prop_map(|(model, pick, changes)| Op::Merge { model, pick, changes }),
        3 => (model, 0..6usize, any::<bool>())
            .prop_map(|(model, pick, force)| Op::Delete { model, pick, force }),
    ]
}

/// A version id to act on: mostly an existing one, sometimes one that is not.
fn pick_version(m: Option<&RefModel>, pick: usize) -> u64 {
    match m {
        Some(m) if pick < 5 && !m.versions.is_empty() => {
            *m.versions.keys().nth(pick % m.versions.len()).unwrap()
        }
        Some(m) => m.next + 3,
        None => 1,
    }
}

/// Applies `op` to the reference; returns whether it must succeed.
fn apply_ref(models: &mut [Option<RefModel>], op: &Op) -> bool {
    match op {
        Op::Upload { model, aliases } => {
            let m = models[*model].get_or_insert_with(|| RefModel {
                next: 1,
                ..RefModel::default()
            });
            let id = m.next;
            m.next += 1;
            let mut mine: BTreeSet<String> = aliases.iter().map(|a| a.to_string()).collect();
            if m.versions.is_empty() {
                mine.insert("default".into());
            }
            for a in m.versions.values_mut() {
                a.retain(|x| !mine.contains(x));
            }
            m.versions.insert(id, mine);
            true
        }
        Op::Merge {
            model,
            pick,
            changes,
        } => {
            let v = pick_version(models[*model].as_ref(), *pick);
            let mut add: BTreeSet<&str> = changes.iter().filter(|c| !c.0).map(|c| c.1).collect();
            let mut remove: BTreeSet<&str> = changes.iter().filter(|c| c.0).map(|c| c.1).collect();
            let both: Vec<&str> = add.intersection(&remove).copied().collect();
            for a in both {
                add.remove(a);
                remove.remove(a);
            }
            if remove.contains("default") {
                return false;
            }
            let Some(m) = models[*model].as_mut() else {
                return false;
            };
            let Some(mine) = m.versions.get(&v) else {
                return false;
            };
            if remove.iter().any(|a| !mine.contains(*a)) {
                return false;
            }
            for (id, al) in m.versions.iter_mut() {
                if *id == v {
                    al.retain(|a| !remove.contains(a.as_str()));
                    al.extend(add.iter().map(|a| a.to_string()));
                } else {
                    al.retain(|a| !add.contains(a.as_str()));
                }
            }
            true
        }
        Op::Delete { model, pick, force } => {
            let v = pick_version(models[*model].as_ref(), *pick);
            let Some(m) = models[*model].as_mut() else {
                return false;
            };
            let Some(al) = m.versions.get(&v) else {
                return false;
            };
            if al.iter().any(|a| a != "default") && !force {
                return false;
            }
            let had_default = al.contains("default");
            m.versions.remove(&v);
            if m.versions.is_empty() {
                models[*model] = None;
            } else if had_default {
                m.versions
                    .values_mut()
                    .last()
                    .unwrap()
                    .insert("default".into());
            }
            true
        }
    }
}

fn apply_registry(reg: &Registry, models: &[Option<RefModel>], op: &Op) -> quercus::Result<()> {
    match op {
        Op::Upload { model, aliases } => {
            let mut o = UploadOptions::new(MODELS[*model]);
            o.aliases = aliases.iter().map(|a| a.to_string()).collect();
            reg.upload(small_model(), &o).map(|_| ())
        }
        Op::Merge {
            model,
            pick,
            changes,
        } => {
            let v = pick_version(models[*model].as_ref(), *pick);
            let ch: Vec<String> = changes
                .iter()
                .map(|(rm, a)| if *rm { format!("-{a}") } else { a.to_string() })
                .collect();
            reg.merge_aliases(&format!("{}@{v}", MODELS[*model]), &ch)
                .map(|_| ())
        }
        Op::Delete { model, pick, force } => {
            let v = pick_version(models[*model].as_ref(), *pick);
            reg.delete(&format!("{}@{v}", MODELS[*model]), *force)
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, ..ProptestConfig::default() })]

    /// Random sequences of upload / merge-aliases / delete: the registry does
    /// what the reference model of the rules does, and every invariant holds
    /// after every step.
    #[test]
    fn alias_and_version_rules_hold(ops in proptest::collection::vec(op_strategy(), 1..14)) {
        let root = fresh_dir("prop");
        let reg = Registry::open(&root).unwrap();
        let mut reference: Vec<Option<RefModel>> = vec![None; MODELS.len()];
        // Version ids issued in each model's current lifetime.
        let mut issued: Vec<BTreeSet<u64>> = vec![BTreeSet::new(); MODELS.len()];
        for op in &ops {
            let before = reference.clone();
            let want_ok = apply_ref(&mut reference, op);
            let got = apply_registry(&reg, &before, op);
            match (&got, want_ok) {
                (Ok(()), true) => {}
                (Err(e), false) => prop_assert!(
                    matches!(e.kind(), ErrorKind::Registry(_)),
                    "{op:?}: wrong error kind: {e}"
                ),
                _ => prop_assert!(false, "{op:?}: got {got:?}, reference says ok={want_ok}"),
            }
            for (i, id) in MODELS.iter().enumerate() {
                let seen = observed(&reg, id);
                let want = reference[i].as_ref().map(|m| m.versions.clone());
                prop_assert_eq!(&seen, &want, "after {:?}", op);
                match &seen {
                    None => issued[i].clear(),
                    Some(vs) => {
                        // Exactly one version carries `default`.
                        let defaults = vs.values().filter(|a| a.contains("default")).count();
                        prop_assert_eq!(defaults, 1);
                        // Each alias names at most one version.
                        let mut all = BTreeSet::new();
                        for al in vs.values() {
                            for a in al {
                                prop_assert!(all.insert(a.clone()), "alias {} twice", a);
                            }
                        }
                        // Ids increase; a new id was never issued before.
                        if let Op::Upload { model, .. } = op
                            && *model == i
                        {
                            let newest = *vs.keys().last().unwrap();
                            prop_assert!(issued[i].iter().all(|&v| v < newest));
                            issued[i].insert(newest);
                        }
                        prop_assert!(vs.keys().all(|v| issued[i].contains(v)));
                    }
                }
            }
        }
        std::fs::remove_dir_all(&root).ok();
    }
}

// ---------------------------------------------------------------------------

#[test]
fn first_version_is_default_and_describe_is_vertex_shaped() {
    let root = fresh_dir("describe");
    let reg = Registry::open(&root).unwrap();
    let mut o = UploadOptions::new("churn");
    o.labels.insert("env".into(), "dev".into());
    o.aliases = vec!["candidate".into()];
    o.version_description = Some("first".into());
    let v1 = reg.upload(small_model(), &o).unwrap();
    assert_eq!(v1.version_id.as_deref(), Some("1"));
    assert_eq!(
        v1.version_aliases.as_deref(),
        Some(&["default".to_string(), "candidate".to_string()][..])
    );
    assert_eq!(
        v1.name.as_deref(),
        Some("projects/local/locations/local/models/churn")
    );
    assert_eq!(v1.display_name.as_deref(), Some("binary_logistic_extreme"));
    assert_eq!(v1.labels.as_ref().unwrap()["env"], "dev");
    assert_eq!(v1.labels.as_ref().unwrap()["runtime"], "quercus");
    let t = v1.version_create_time.as_deref().unwrap();
    assert!(
        t.len() == 27 && t.ends_with('Z') && &t[10..11] == "T",
        "{t}"
    );
    let uri = v1.artifact_uri.as_deref().unwrap();
    assert!(uri.starts_with("file:///") && uri.ends_with("/models/churn/versions/1/artifact"));
    let schema = v1
        .predict_schemata
        .as_ref()
        .unwrap()
        .instance_schema_uri
        .as_deref()
        .unwrap();
    assert!(Path::new(schema.strip_prefix("file://").unwrap()).is_file());

    // The JSON is the Vertex REST shape: every key a documented Model field.
    let json = serde_json::to_value(reg.describe("churn@candidate").unwrap()).unwrap();
    for k in json.as_object().unwrap().keys() {
        assert!(quercus::vertex::MODEL_FIELDS.contains(&k.as_str()), "{k}");
    }

    // The loaded model's metadata is the registry's resource.
    let m = reg
        .load("churn@candidate", &LoadOptions::default())
        .unwrap();
    assert_eq!(m.metadata().version_id.as_deref(), Some("1"));
    std::fs::remove_dir_all(&root).ok();
}

#[test]
fn bad_names_are_option_errors_and_nothing_is_written() {
    let root = fresh_dir("names");
    let reg = Registry::open(&root).unwrap();
    let cases: Vec<(UploadOptions, &str)> = vec![
        (UploadOptions::new("Churn"), "model id"),
        (UploadOptions::new("9lives"), "model id"),
        (
            UploadOptions {
                aliases: vec!["42".into()],
                ..UploadOptions::new("churn")
            },
            "version alias",
        ),
        (
            UploadOptions {
                labels: [("Env".to_string(), "x".to_string())].into(),
                ..UploadOptions::new("churn")
            },
            "label key",
        ),
        (
            UploadOptions {
                display_name: Some("x".repeat(129)),
                ..UploadOptions::new("churn")
            },
            "display name",
        ),
    ];
    for (o, what) in cases {
        let e = reg.upload(small_model(), &o).unwrap_err();
        assert!(matches!(e.kind(), ErrorKind::Option(_)), "{e}");
        assert!(e.to_string().contains(what), "{e}");
    }
    assert!(reg.list().unwrap().is_empty());
    // Not a model: refused, and no version appears.
    let e = reg
        .upload(
            repo().join("models/example/input.csv"),
            &UploadOptions::new("churn"),
        )
        .unwrap_err();
    assert!(e.to_string().contains("input.csv"), "{e}");
    assert!(reg.list().unwrap().is_empty());
    // A directory that is not an export: refused before anything is copied.
    let e = reg
        .upload(repo().join("models"), &UploadOptions::new("churn"))
        .unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::UnknownFormat(_)), "{e}");
    assert!(reg.list().unwrap().is_empty());
    assert_eq!(std::fs::read_dir(root.join("tmp")).unwrap().count(), 0);
    std::fs::remove_dir_all(&root).ok();
}

fn expect_integrity(reg: &Registry, reference: &str, file: &str) {
    let e = reg.load(reference, &LoadOptions::default()).unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::Integrity(_)), "{e}");
    let p = e.location().path.as_ref().expect("names the file");
    assert!(p.ends_with(file), "{} vs {file}", p.display());
    assert!(e.to_string().contains(file), "{e}");
    let e = reg.verify(reference).unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::Integrity(_)), "{e}");
}

#[test]
fn tampered_artifacts_are_refused() {
    let root = fresh_dir("tamper");
    let reg = Registry::open(&root).unwrap();
    reg.upload(small_model(), &UploadOptions::new("xgb"))
        .unwrap();
    let export = repo().join("models/bqml/boosted_tree_classifier_model");
    reg.upload(&export, &UploadOptions::new("bq")).unwrap();
    reg.upload(&export, &UploadOptions::new("bq")).unwrap();
    reg.upload(&export, &UploadOptions::new("bq")).unwrap();
    assert!(reg.load("xgb", &LoadOptions::default()).is_ok());
    assert!(reg.load("bq@2", &LoadOptions::default()).is_ok());

    // One byte changed in a model file (still valid JSON).
    let f = root.join("models/xgb/versions/1/artifact/binary_logistic_extreme.json");
    let mut bytes = std::fs::read(&f).unwrap();
    let pos = bytes.iter().position(|b| b.is_ascii_digit()).unwrap();
    bytes[pos] = if bytes[pos] == b'9' {
        b'8'
    } else {
        bytes[pos] + 1
    };
    std::fs::write(&f, &bytes).unwrap();
    expect_integrity(&reg, "xgb@1", "binary_logistic_extreme.json");

    // A vocabulary file of an export changed, a file added, a file removed.
    let v = root.join("models/bq/versions");
    std::fs::write(v.join("1/artifact/assets/0.txt"), "_null_filler\nb\na\n").unwrap();
    expect_integrity(&reg, "bq@1", "assets/0.txt");
    std::fs::write(v.join("2/artifact/assets/9.txt"), "x\n").unwrap();
    expect_integrity(&reg, "bq@2", "assets/9.txt");
    std::fs::remove_file(v.join("3/artifact/model.bst")).unwrap();
    expect_integrity(&reg, "bq@3", "model.bst");
    std::fs::remove_dir_all(&root).ok();
}

#[test]
fn recorded_hashes_are_the_files_sha256() {
    let root = fresh_dir("hash");
    let reg = Registry::open(&root).unwrap();
    reg.upload(small_model(), &UploadOptions::new("xgb"))
        .unwrap();
    let rec: serde_json::Value = serde_json::from_slice(
        &std::fs::read(root.join("models/xgb/versions/1/version.json")).unwrap(),
    )
    .unwrap();
    let art = &rec["artifact"];
    assert_eq!(art["kind"], "file");
    assert_eq!(
        art["files"][0]["size"],
        std::fs::metadata(small_model()).unwrap().len()
    );
    assert_eq!(art["sha256"], art["files"][0]["sha256"]);
    assert_eq!(art["sha256"].as_str().unwrap().len(), 64);
    // (python/tests/test_registry.py checks these digests against hashlib.)
    std::fs::remove_dir_all(&root).ok();
}

#[test]
fn crash_debris_is_invisible_and_cleaned_up() {
    let root = fresh_dir("crash");
    let reg = Registry::open(&root).unwrap();
    reg.upload(small_model(), &UploadOptions::new("m")).unwrap();
    // A crash after the version directory was renamed into place but before
    // model.json was rewritten: version 2 exists on disk, unrecorded.
    let v2 = root.join("models/m/versions/2");
    std::fs::create_dir_all(v2.join("artifact")).unwrap();
    std::fs::write(v2.join("version.json"), "half-written").unwrap();
    // A model directory from a crash before its first version was recorded.
    std::fs::create_dir_all(root.join("models/ghost/versions/1")).unwrap();
    // A staged upload that never finished.
    std::fs::create_dir_all(root.join("tmp/upload-1-2-3/artifact")).unwrap();

    assert_eq!(observed(&reg, "m").unwrap().len(), 1);
    assert!(observed(&reg, "ghost").is_none());
    assert_eq!(reg.list().unwrap().len(), 1);
    let e = reg.describe("m@2").unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::Registry(_)), "{e}");

    let v = reg.upload(small_model(), &UploadOptions::new("m")).unwrap();
    assert_eq!(v.version_id.as_deref(), Some("2"));
    assert!(reg.load("m@2", &LoadOptions::default()).is_ok());
    let v = reg
        .upload(small_model(), &UploadOptions::new("ghost"))
        .unwrap();
    assert_eq!(v.version_id.as_deref(), Some("1"));
    std::fs::remove_dir_all(&root).ok();
}

#[test]
fn a_corrupt_state_file_is_a_registry_error_naming_it() {
    let root = fresh_dir("corrupt");
    let reg = Registry::open(&root).unwrap();
    reg.upload(small_model(), &UploadOptions::new("m")).unwrap();
    let state = root.join("models/m/model.json");
    std::fs::write(&state, "{").unwrap();
    let e = reg.describe("m").unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::Registry(_)), "{e}");
    assert_eq!(e.location().path.as_deref(), Some(state.as_path()));
    // Two defaults: the invariant check refuses the state.
    std::fs::write(
        &state,
        r#"{"modelId":"m","nextVersionId":3,"createTime":"","updateTime":"",
            "versions":[{"versionId":1,"aliases":["default"],"updateTime":""},
                        {"versionId":2,"aliases":["default"],"updateTime":""}]}"#,
    )
    .unwrap();
    let e = reg.describe("m").unwrap_err();
    assert!(e.to_string().contains("default"), "{e}");
    std::fs::remove_dir_all(&root).ok();
}

/// Eight threads upload to one model id at once. Each holds the lock for
/// 100 ms (the `test-hooks` seam), so without the lock they would all read
/// the same next version id; with it they get 1..8 and take at least
/// 8 x 100 ms in total.
#[test]
fn concurrent_uploads_from_threads_get_distinct_versions() {
    const PAUSE: std::time::Duration = std::time::Duration::from_millis(100);
    let root = fresh_dir("threads");
    let reg = Registry::open(&root).unwrap().with_upload_pause(PAUSE);
    let start = std::time::Instant::now();
    let ids: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let reg = reg.clone();
                s.spawn(move || {
                    reg.upload(small_model(), &UploadOptions::new("same"))
                        .unwrap()
                        .version_id
                        .unwrap()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let elapsed = start.elapsed();
    let mut got: Vec<u64> = ids.iter().map(|v| v.parse().unwrap()).collect();
    got.sort();
    assert_eq!(got, (1..=8).collect::<Vec<_>>());
    assert!(
        elapsed >= 8 * PAUSE,
        "the uploads overlapped inside the lock ({elapsed:?})"
    );
    for v in 1..=8 {
        reg.verify(&format!("same@{v}")).unwrap();
    }
    std::fs::remove_dir_all(&root).ok();
}

// ---------------------------------------------------------------------------
// Regression tests: symbolic links and special files, permissions.

/// Copies a directory tree (regular files and directories only).
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dst = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &dst);
        } else {
            std::fs::copy(e.path(), &dst).unwrap();
        }
    }
}

#[cfg(unix)]
fn mode_of(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777
}

#[cfg(unix)]
fn chmod(p: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// An upload refused for a non-regular file: a registry error naming it,
/// and nothing stored.
#[cfg(unix)]
fn expect_refused(reg: &Registry, root: &Path, artifact: &Path, bad: &Path) {
    let e = reg
        .upload(artifact, &UploadOptions::new("sneaky"))
        .unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::Registry(_)), "{e}");
    assert_eq!(e.location().path.as_deref(), Some(bad), "{e}");
    assert!(e.to_string().contains("regular file"), "{e}");
    assert!(reg.list().unwrap().is_empty());
    assert!(!root.join("models/sneaky").exists());
    assert_eq!(std::fs::read_dir(root.join("tmp")).unwrap().count(), 0);
}

/// Bug 6: a symbolic link in an uploaded directory was followed (copying,
/// say, a root-only file into the registry); FIFOs and sockets are not files.
#[cfg(unix)]
#[test]
fn uploads_refuse_symlinks_and_special_files() {
    use std::os::unix::fs::symlink;
    let root = fresh_dir("symlink-upload");
    let work = fresh_dir("symlink-src");
    let reg = Registry::open(root.join("reg")).unwrap();
    let root = reg.root().to_path_buf();
    let secret = work.join("secret.txt");
    std::fs::write(&secret, "a\n").unwrap();
    chmod(&secret, 0o600);

    // A symbolic link to a file, inside the export.
    let export = work.join("export-link");
    copy_tree(&export_dir(), &export);
    let link = export.join("assets/extra.txt");
    symlink(&secret, &link).unwrap();
    expect_refused(&reg, &root, &export, &link);

    // A symbolic link replacing a file the export needs (identical content).
    let export = work.join("export-swap");
    copy_tree(&export_dir(), &export);
    let bst = export.join("model.bst");
    std::fs::rename(&bst, work.join("model.bst")).unwrap();
    symlink(work.join("model.bst"), &bst).unwrap();
    expect_refused(&reg, &root, &export, &bst);

    // A symbolic link to a directory.
    let export = work.join("export-dirlink");
    copy_tree(&export_dir(), &export);
    let assets = export.join("assets");
    std::fs::rename(&assets, work.join("assets")).unwrap();
    symlink(work.join("assets"), &assets).unwrap();
    expect_refused(&reg, &root, &export, &assets);

    // A FIFO (reading it would block forever).
    let export = work.join("export-fifo");
    copy_tree(&export_dir(), &export);
    let fifo = export.join("assets/pipe");
    let st = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(st.success());
    expect_refused(&reg, &root, &export, &fifo);

    // A socket.
    let export = work.join("export-socket");
    copy_tree(&export_dir(), &export);
    let sock = export.join("assets/sock");
    let _listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    expect_refused(&reg, &root, &export, &sock);

    // The artifact itself a symbolic link to a model file.
    let link = work.join("model-link.json");
    symlink(small_model(), &link).unwrap();
    expect_refused(&reg, &root, &link, &link);

    std::fs::remove_dir_all(&root).ok();
    std::fs::remove_dir_all(&work).ok();
}

/// Bug 6: copies are never more permissive than their source: read and
/// write bits only (`0o644` at most), no bit the source lacks, and the
/// umask applies.
#[cfg(unix)]
#[test]
fn uploaded_copies_never_widen_permissions() {
    let root = fresh_dir("perms");
    let work = fresh_dir("perms-src");
    let reg = Registry::open(&root).unwrap();
    let export = work.join("export");
    copy_tree(&export_dir(), &export);
    chmod(&export.join("model.bst"), 0o600);
    chmod(&export.join("assets/0.txt"), 0o640);
    chmod(&export.join("assets/model_metadata.json"), 0o755);
    reg.upload(&export, &UploadOptions::new("bq")).unwrap();
    let art = root.join("models/bq/versions/1/artifact");
    assert_eq!(mode_of(&art.join("model.bst")), 0o600);
    assert_eq!(mode_of(&art.join("assets/0.txt")) & 0o077, 0o040 & 0o077);
    assert_eq!(mode_of(&art.join("assets/model_metadata.json")) & 0o111, 0);
    assert!(mode_of(&art.join("assets/model_metadata.json")) & !0o644 == 0);

    let file = work.join("private.json");
    std::fs::copy(small_model(), &file).unwrap();
    chmod(&file, 0o400);
    reg.upload(&file, &UploadOptions::new("xgb")).unwrap();
    let copy = root.join("models/xgb/versions/1/artifact/private.json");
    assert_eq!(mode_of(&copy) & 0o077, 0, "{:o}", mode_of(&copy));
    reg.verify("xgb@1").unwrap();
    reg.verify("bq@1").unwrap();
    std::fs::remove_dir_all(&root).ok();
    std::fs::remove_dir_all(&work).ok();
}

/// Bug 7: a stored file or directory replaced by a symbolic link, even to
/// identical content, is refused on load and on verify.
#[cfg(unix)]
#[test]
fn symlinks_in_stored_versions_are_refused() {
    use std::os::unix::fs::symlink;
    let root = fresh_dir("symlink-stored");
    let work = fresh_dir("symlink-stored-src");
    let reg = Registry::open(&root).unwrap();
    for _ in 0..4 {
        reg.upload(export_dir(), &UploadOptions::new("bq")).unwrap();
    }
    reg.upload(small_model(), &UploadOptions::new("xgb"))
        .unwrap();
    let swap = |path: &Path, tag: &str| {
        let aside = work.join(tag);
        std::fs::rename(path, &aside).unwrap();
        symlink(&aside, path).unwrap();
    };

    // The model file of a file artifact.
    swap(
        &root.join("models/xgb/versions/1/artifact/binary_logistic_extreme.json"),
        "xgb.json",
    );
    expect_integrity(&reg, "xgb@1", "binary_logistic_extreme.json");
    // A file of an export.
    swap(&root.join("models/bq/versions/1/artifact/model.bst"), "bst");
    expect_integrity(&reg, "bq@1", "model.bst");
    // A directory of an export.
    swap(&root.join("models/bq/versions/2/artifact/assets"), "assets");
    expect_integrity(&reg, "bq@2", "assets");
    // The artifact directory itself.
    swap(&root.join("models/bq/versions/3/artifact"), "artifact");
    expect_integrity(&reg, "bq@3", "artifact");
    // The untouched version still loads.
    reg.load("bq@4", &LoadOptions::default()).unwrap();
    std::fs::remove_dir_all(&root).ok();
    std::fs::remove_dir_all(&work).ok();
}

fn export_dir() -> PathBuf {
    repo().join("models/bqml/boosted_tree_classifier_model")
}

/// The digests stored by earlier Quercus versions (its own SHA-256) are the
/// ones recorded now: a file's `sha256sum`, and the directory digest of the
/// classifier export, pinned.
#[test]
fn stored_digests_are_stable() {
    let root = fresh_dir("digests");
    let reg = Registry::open(&root).unwrap();
    reg.upload(small_model(), &UploadOptions::new("xgb"))
        .unwrap();
    reg.upload(export_dir(), &UploadOptions::new("bq")).unwrap();
    let rec = |id: &str| -> serde_json::Value {
        serde_json::from_slice(
            &std::fs::read(root.join(format!("models/{id}/versions/1/version.json"))).unwrap(),
        )
        .unwrap()
    };
    assert_eq!(rec("xgb")["artifact"]["sha256"], XGB_SHA256);
    assert_eq!(rec("bq")["artifact"]["sha256"], EXPORT_DIGEST);
    std::fs::remove_dir_all(&root).ok();
}

/// `sha256sum models/xgboost/3.2.0/binary_logistic_extreme.json`.
const XGB_SHA256: &str = "34f84b216e1b0611233a53ef6ab313e119e45bacd1cb5e94d8046fb3296871c1";
/// The directory digest of models/bqml/boosted_tree_classifier_model, as
/// recorded by the hand-written SHA-256 that `sha2` replaced.
const EXPORT_DIGEST: &str = "7aff4cd5a0bb519474cb53df44b409d197af72c7f3d0dbfb40f753b116e10b2b";

// ---------------------------------------------------------------------------
// Regression tests: read-only registries, exhausted version ids.

/// Every path under `dir` with its metadata (not following links), sorted.
#[cfg(unix)]
fn snapshot(dir: &Path) -> Vec<(PathBuf, u32, u64, Option<std::time::SystemTime>)> {
    use std::os::unix::fs::MetadataExt;
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let m = std::fs::symlink_metadata(&p).unwrap();
            if m.is_dir() {
                stack.push(p.clone());
            }
            out.push((p, m.mode(), m.len(), m.modified().ok()));
        }
    }
    out.sort();
    out
}

/// Bug 8: reading a registry writes nothing and needs no write access: no
/// `.lock` is created, nothing changes. (As root the permission bits are
/// not enforced, so the test also checks that nothing at all was written.)
#[cfg(unix)]
#[test]
fn a_read_only_registry_can_be_read() {
    let root = fresh_dir("read-only");
    {
        let reg = Registry::open(&root).unwrap();
        reg.upload(small_model(), &UploadOptions::new("xgb"))
            .unwrap();
        reg.upload(export_dir(), &UploadOptions::new("bq")).unwrap();
        reg.upload(export_dir(), &UploadOptions::new("bq")).unwrap();
    }
    let _ = std::fs::remove_file(root.join(".lock"));
    std::fs::remove_dir(root.join("tmp")).unwrap();
    let tree = snapshot(&root);
    let set_modes = |file: u32, dir: u32| {
        for (p, mode, ..) in &tree {
            if mode & 0o170000 == 0o040000 {
                chmod(p, dir);
            } else {
                chmod(p, file);
            }
        }
        chmod(&root, dir);
    };
    set_modes(0o444, 0o555);
    let tree = snapshot(&root);

    let reg = Registry::open(&root).unwrap();
    assert_eq!(reg.list().unwrap().len(), 2);
    assert_eq!(reg.list_versions("bq").unwrap().len(), 2);
    assert_eq!(
        reg.describe("bq@2").unwrap().version_id.as_deref(),
        Some("2")
    );
    assert_eq!(reg.resolve("bq").unwrap(), ("bq".to_string(), 1));
    reg.verify("xgb").unwrap();
    reg.verify("bq@2").unwrap();
    reg.load("xgb", &LoadOptions::default()).unwrap();
    reg.load("bq@2", &LoadOptions::default()).unwrap();
    assert!(!root.join(".lock").exists());
    assert_eq!(snapshot(&root), tree);

    set_modes(0o644, 0o755);
    std::fs::remove_dir_all(&root).ok();
}

/// Bug 8: a hand-edited `nextVersionId` at the end of the id space is refused
/// before anything is staged or moved, and leaves nothing behind. Version ids
/// have at most 19 digits (Vertex's), so 9999999999999999999 is the last.
#[test]
fn exhausted_version_ids_leave_nothing_behind() {
    let root = fresh_dir("exhausted");
    let reg = Registry::open(&root).unwrap();
    reg.upload(small_model(), &UploadOptions::new("m")).unwrap();
    let state = root.join("models/m/model.json");
    let edit = |next: &str| {
        let text = std::fs::read_to_string(&state).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let old = v["nextVersionId"].to_string();
        let text = text.replacen(
            &format!("\"nextVersionId\": {old}"),
            &format!("\"nextVersionId\": {next}"),
            1,
        );
        std::fs::write(&state, text).unwrap();
    };
    for next in ["18446744073709551615", "10000000000000000000"] {
        edit(next);
        let before = std::fs::read(&state).unwrap();
        let e = reg
            .upload(small_model(), &UploadOptions::new("m"))
            .unwrap_err();
        assert!(matches!(e.kind(), ErrorKind::Registry(_)), "{e}");
        assert!(e.to_string().contains("version id"), "{e}");
        assert_eq!(std::fs::read(&state).unwrap(), before);
        let versions: Vec<_> = std::fs::read_dir(root.join("models/m/versions"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(versions, ["1"], "orphan version directory");
        assert_eq!(std::fs::read_dir(root.join("tmp")).unwrap().count(), 0);
        reg.verify("m@1").unwrap();
    }
    // The last id is still usable, and can be named.
    edit("9999999999999999999");
    let v = reg.upload(small_model(), &UploadOptions::new("m")).unwrap();
    assert_eq!(v.version_id.as_deref(), Some("9999999999999999999"));
    reg.load("m@9999999999999999999", &LoadOptions::default())
        .unwrap();
    let e = reg
        .upload(small_model(), &UploadOptions::new("m"))
        .unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::Registry(_)), "{e}");
    assert_eq!(std::fs::read_dir(root.join("tmp")).unwrap().count(), 0);
    std::fs::remove_dir_all(&root).ok();
}
