//! End-to-end tests of `quercus inspect --vertex`, `quercus vertex
//! upload-request` and `quercus registry ...`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("quercus-cli-vr-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs `quercus` with the registry rooted at `registry`.
fn quercus_in(registry: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_quercus"))
        .args(args)
        .env("QUERCUS_REGISTRY", registry)
        .current_dir(repo())
        .output()
        .expect("runs")
}

fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "exit {:?}: {}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout.clone()).unwrap()
}

/// A failure: exit 1, one line on stderr containing every needle.
fn fails(o: &Output, needles: &[&str]) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    for n in needles {
        assert!(err.contains(n), "{n:?} not in {err}");
    }
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

const MODEL: &str = "models/example/model.json";
const EXPORT: &str = "models/bqml/boosted_tree_classifier_model";

#[test]
fn inspect_vertex_prints_a_model_resource() {
    let reg = tmp("inspect");
    for (model, source, image) in [
        (MODEL, "CUSTOM", "prediction/xgboost-cpu.2-1"),
        (EXPORT, "BQML", "bigquery-ml/xgboost-cpu.1-0"),
    ] {
        let v = json(&ok(&quercus_in(&reg, &["inspect", model, "--vertex"])));
        for k in v.as_object().unwrap().keys() {
            assert!(quercus::vertex::MODEL_FIELDS.contains(&k.as_str()), "{k}");
        }
        assert_eq!(v["modelSourceInfo"]["sourceType"], source);
        assert!(
            v["containerSpec"]["imageUri"]
                .as_str()
                .unwrap()
                .contains(image),
            "{v}"
        );
        assert_eq!(v["predictSchemata"]["instanceSchemaUri"], "instance.yaml");
        let m: quercus::vertex::Model = serde_json::from_value(v.clone()).unwrap();
        assert!(m.extra.is_empty());
    }
}

#[test]
fn upload_request_writes_the_body_and_the_schemata() {
    let reg = tmp("upload-request-reg");
    let out = tmp("upload-request");
    let o = quercus_in(
        &reg,
        &[
            "vertex",
            "upload-request",
            EXPORT,
            "--display-name",
            "Churn (BT)",
            "--model-id",
            "churn-bt",
            "--artifact-uri",
            "gs://bucket/churn/",
            "--labels",
            "env=prod,team=risk",
            "--aliases",
            "candidate",
            "--description",
            "a classifier",
            "-o",
            out.to_str().unwrap(),
        ],
    );
    ok(&o);
    let body = json(&std::fs::read_to_string(out.join("upload-request.json")).unwrap());
    assert_eq!(body["modelId"], "churn-bt");
    assert!(body.get("parentModel").is_none());
    let model = &body["model"];
    assert_eq!(model["displayName"], "Churn (BT)");
    assert_eq!(model["artifactUri"], "gs://bucket/churn/");
    assert_eq!(model["versionAliases"], serde_json::json!(["candidate"]));
    assert_eq!(model["labels"]["env"], "prod");
    assert_eq!(model["labels"]["runtime"], "quercus");
    assert_eq!(
        model["predictSchemata"]["instanceSchemaUri"],
        "gs://bucket/churn/instance.yaml"
    );
    for f in quercus::vertex::OUTPUT_ONLY_FIELDS {
        assert!(model.get(*f).is_none(), "{f}");
    }
    let req: quercus::vertex::UploadModelRequest = serde_json::from_value(body).unwrap();
    assert!(req.extra.is_empty() && req.model.extra.is_empty());
    let inst = std::fs::read_to_string(out.join("instance.yaml")).unwrap();
    assert!(inst.starts_with("type: object\n"), "{inst}");
    assert!(inst.contains("required:\n- f1\n- f2\n- f3\n"), "{inst}");
    let pred = std::fs::read_to_string(out.join("prediction.yaml")).unwrap();
    assert!(pred.contains("label_probs:"), "{pred}");

    // Vertex's rules are checked before anything is written.
    let bad = tmp("upload-request-bad");
    let o = quercus_in(
        &reg,
        &[
            "vertex",
            "upload-request",
            MODEL,
            "--labels",
            "Env=x",
            "-o",
            bad.to_str().unwrap(),
        ],
    );
    fails(&o, &["label key", "Env"]);
    assert_eq!(std::fs::read_dir(&bad).unwrap().count(), 0);
    let o = quercus_in(
        &reg,
        &[
            "vertex",
            "upload-request",
            MODEL,
            "--artifact-uri",
            "gs://b/m/",
            "--model-id",
            "1x",
            "-o",
            bad.to_str().unwrap(),
        ],
    );
    fails(&o, &["model id", "1x"]);
    let o = quercus_in(&reg, &["vertex", "upload-request", MODEL]);
    assert_eq!(o.status.code(), Some(2));

    // No artifact URI: a body Vertex would refuse is not written (newcomer
    // issue, item 6); with only a custom image, the schemata need a location.
    let o = quercus_in(
        &reg,
        &[
            "vertex",
            "upload-request",
            MODEL,
            "-o",
            bad.to_str().unwrap(),
        ],
    );
    fails(&o, &["--artifact-uri gs://BUCKET/DIR/ is required"]);
    let o = quercus_in(
        &reg,
        &[
            "vertex",
            "upload-request",
            MODEL,
            "--image-uri",
            "x/y:1",
            "-o",
            bad.to_str().unwrap(),
        ],
    );
    fails(&o, &["--schemata-uri"]);
    assert_eq!(std::fs::read_dir(&bad).unwrap().count(), 0);
    // A JSON model for the prebuilt container, which reads model.bst: a warning saying what to do.
    let o = quercus_in(
        &reg,
        &[
            "vertex",
            "upload-request",
            MODEL,
            "--artifact-uri",
            "gs://b/m/",
            "-o",
            tmp("upload-request-json").to_str().unwrap(),
        ],
    );
    ok(&o);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("loads a file named model.bst") && err.contains("--image-uri"),
        "{err}"
    );
}

#[test]
fn registry_workflow() {
    let reg = tmp("workflow");
    let v1 = json(&ok(&quercus_in(
        &reg,
        &[
            "registry",
            "upload",
            MODEL,
            "--model-id",
            "churn",
            "--labels",
            "env=dev",
        ],
    )));
    assert_eq!(v1["versionId"], "1");
    assert_eq!(v1["versionAliases"], serde_json::json!(["default"]));
    let v2 = json(&ok(&quercus_in(
        &reg,
        &[
            "registry",
            "upload",
            MODEL,
            "--model-id",
            "churn",
            "--aliases",
            "champion,canary",
            "--version-description",
            "retrained",
        ],
    )));
    assert_eq!(v2["versionId"], "2");
    assert_eq!(v2["versionDescription"], "retrained");

    let list = ok(&quercus_in(&reg, &["registry", "list", "churn"]));
    assert_eq!(list.lines().count(), 3, "{list}");
    let list = json(&ok(&quercus_in(&reg, &["registry", "list", "--json"])));
    assert_eq!(list["models"][0]["versionId"], "1");

    let d = json(&ok(&quercus_in(
        &reg,
        &["registry", "describe", "churn@champion"],
    )));
    assert_eq!(d["versionId"], "2");
    assert_eq!(d["name"], "projects/local/locations/local/models/churn");

    // Predict through the registry, as from the file.
    let out = tmp("workflow-out");
    let pred = out.join("p.csv");
    ok(&quercus_in(
        &reg,
        &[
            "predict",
            "registry://churn@champion",
            "--input",
            "models/example/input.csv",
            "--output",
            pred.to_str().unwrap(),
        ],
    ));
    assert_eq!(
        std::fs::read_to_string(&pred).unwrap(),
        std::fs::read_to_string(repo().join("models/example/expected.csv")).unwrap()
    );

    // A leading `-` removes; `default` moves; removing `default` is refused.
    // Options may follow the aliases (here --registry, overriding
    // $QUERCUS_REGISTRY, which names an empty registry).
    let elsewhere = tmp("workflow-elsewhere");
    let m = json(&ok(&quercus_in(
        &elsewhere,
        &[
            "registry",
            "merge-aliases",
            "churn@2",
            "default",
            "-canary",
            "--registry",
            reg.to_str().unwrap(),
        ],
    )));
    assert_eq!(
        m["versionAliases"],
        serde_json::json!(["default", "champion"])
    );
    let o = quercus_in(&reg, &["registry", "merge-aliases", "churn@2", "-default"]);
    fails(&o, &["`default` alias cannot be removed"]);
    let o = quercus_in(&reg, &["registry", "merge-aliases", "churn@2", "Prod"]);
    fails(&o, &["version alias", "Prod"]);

    // A version with aliases is not deleted without --force.
    let o = quercus_in(&reg, &["registry", "delete", "churn@2"]);
    fails(&o, &["champion", "force"]);
    ok(&quercus_in(
        &reg,
        &["registry", "delete", "churn@2", "--force"],
    ));
    let d = json(&ok(&quercus_in(&reg, &["registry", "describe", "churn"])));
    assert_eq!(d["versionId"], "1", "default moved to the newest remaining");
    ok(&quercus_in(&reg, &["registry", "verify", "churn"]));

    // Tampering is caught on load, naming the file.
    let f = reg.join("models/churn/versions/1/artifact/model.json");
    let mut bytes = std::fs::read(&f).unwrap();
    let pos = bytes.iter().rposition(|b| b.is_ascii_digit()).unwrap();
    bytes[pos] = if bytes[pos] == b'9' {
        b'8'
    } else {
        bytes[pos] + 1
    };
    std::fs::write(&f, bytes).unwrap();
    let o = quercus_in(&reg, &["inspect", "registry://churn"]);
    fails(&o, &["integrity check failed", "model.json"]);
    let o = quercus_in(&reg, &["registry", "verify", "churn@1"]);
    fails(&o, &["integrity check failed", "model.json"]);

    // The last version: the model goes.
    ok(&quercus_in(&reg, &["registry", "delete", "churn@1"]));
    let o = quercus_in(&reg, &["registry", "describe", "churn"]);
    fails(&o, &["no model `churn`"]);
    let o = quercus_in(&reg, &["registry", "delete", "churn"]);
    fails(&o, &["needs a version id"]);
}

/// Eight processes upload the same model id at once while this test holds
/// the registry's lock: each stages its copy, then waits for the lock (none
/// finishes, no version appears). Released, they take it one at a time and
/// get versions 1..8.
#[test]
fn eight_processes_upload_at_once() {
    let reg = tmp("eight");
    ok(&quercus_in(&reg, &["registry", "list"])); // creates the registry
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(reg.join(".lock"))
        .unwrap();
    lock.lock().unwrap();
    let mut children: Vec<_> = (0..8)
        .map(|i| {
            let model = if i % 2 == 0 { MODEL } else { EXPORT };
            Command::new(env!("CARGO_BIN_EXE_quercus"))
                .args(["registry", "upload", model, "--model-id", "same"])
                .env("QUERCUS_REGISTRY", &reg)
                .current_dir(repo())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let none_finished = |children: &mut Vec<std::process::Child>| {
        for c in children.iter_mut() {
            assert!(
                c.try_wait().unwrap().is_none(),
                "an upload finished while the registry was locked"
            );
        }
    };
    // An upload writes its schemata (prediction.yaml last) just before it
    // asks for the lock.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let staged = std::fs::read_dir(reg.join("tmp"))
            .unwrap()
            .filter(|e| e.as_ref().unwrap().path().join("prediction.yaml").exists())
            .count();
        if staged == 8 {
            break;
        }
        assert!(Instant::now() < deadline, "{staged} of 8 uploads staged");
        none_finished(&mut children);
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    none_finished(&mut children);
    assert!(!reg.join("models/same").exists());
    drop(lock);
    let mut versions: Vec<u64> = children
        .into_iter()
        .map(|c| {
            let o = c.wait_with_output().unwrap();
            json(&ok(&o))["versionId"]
                .as_str()
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();
    versions.sort();
    assert_eq!(versions, (1..=8).collect::<Vec<_>>());
    let list = json(&ok(&quercus_in(
        &reg,
        &["registry", "list", "same", "--json"],
    )));
    assert_eq!(list["models"].as_array().unwrap().len(), 8);
    let defaults: Vec<_> = list["models"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| {
            m["versionAliases"]
                .as_array()
                .unwrap()
                .contains(&"default".into())
        })
        .collect();
    assert_eq!(defaults.len(), 1);
    assert_eq!(defaults[0]["versionId"], "1");
    for v in 1..=8 {
        let r = format!("same@{v}");
        ok(&quercus_in(&reg, &["registry", "verify", &r]));
        let r = format!("registry://same@{v}");
        ok(&quercus_in(&reg, &["inspect", &r, "--json"]));
    }
    assert_eq!(std::fs::read_dir(reg.join("tmp")).unwrap().count(), 0);
}

/// `registry upload` refuses a directory containing a symbolic link (it
/// used to copy the link's target into the registry, readable by all).
#[cfg(unix)]
#[test]
fn upload_refuses_a_symbolic_link() {
    let reg = tmp("symlink");
    let src = tmp("symlink-src");
    let export = src.join("export");
    std::fs::create_dir_all(export.join("assets")).unwrap();
    for e in std::fs::read_dir(repo().join(EXPORT).join("assets")).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, export.join("assets").join(p.file_name().unwrap())).unwrap();
    }
    std::fs::copy(
        repo().join(EXPORT).join("model.bst"),
        export.join("model.bst"),
    )
    .unwrap();
    std::os::unix::fs::symlink("/etc/hostname", export.join("assets/host.txt")).unwrap();
    let o = quercus_in(
        &reg,
        &[
            "registry",
            "upload",
            export.to_str().unwrap(),
            "--model-id",
            "x",
        ],
    );
    fails(&o, &["host.txt", "symbolic link"]);
    let o = quercus_in(&reg, &["registry", "describe", "x"]);
    fails(&o, &["no model `x`"]);
    std::fs::remove_dir_all(&src).ok();
}

/// Sets the permissions of every file and directory under `dir` (and of
/// `dir`).
#[cfg(unix)]
fn chmod_tree(dir: &Path, file_mode: u32, dir_mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    let set =
        |p: &Path, m: u32| std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if std::fs::symlink_metadata(&p).unwrap().is_dir() {
            chmod_tree(&p, file_mode, dir_mode);
        } else {
            set(&p, file_mode);
        }
    }
    set(dir, dir_mode);
}

/// A registry its reader may not write (a shared or read-only mounted one):
/// list, describe, verify and loading work, and nothing is created. Root
/// ignores permission bits, so as root the reads run as `nobody` (setpriv).
#[cfg(unix)]
#[test]
fn a_registry_the_reader_cannot_write_is_readable() {
    let reg = tmp("read-only");
    ok(&quercus_in(
        &reg,
        &["registry", "upload", MODEL, "--model-id", "churn"],
    ));
    ok(&quercus_in(
        &reg,
        &["registry", "upload", EXPORT, "--model-id", "bq"],
    ));
    chmod_tree(&reg, 0o444, 0o555);
    let probe = reg.join("probe");
    let privileged = std::fs::File::create(&probe).is_ok();
    let _ = std::fs::remove_file(&probe);
    let reader = |args: &[&str]| -> Output {
        let mut c = if privileged {
            let mut c = Command::new("setpriv");
            c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
                .arg(env!("CARGO_BIN_EXE_quercus"));
            c
        } else {
            Command::new(env!("CARGO_BIN_EXE_quercus"))
        };
        c.args(args)
            .env("QUERCUS_REGISTRY", &reg)
            .current_dir(&reg)
            .output()
            .expect("runs")
    };
    if privileged && !reader(&["--version"]).status.success() {
        eprintln!("skipped: cannot run the quercus binary as nobody (setpriv)");
        chmod_tree(&reg, 0o644, 0o755);
        return;
    }
    let before = ok(&reader(&["registry", "list", "--json"]));
    assert_eq!(json(&before)["models"].as_array().unwrap().len(), 2);
    let d = json(&ok(&reader(&["registry", "describe", "bq"])));
    assert_eq!(d["versionId"], "1");
    ok(&reader(&["registry", "list", "churn"]));
    ok(&reader(&["registry", "verify", "churn@1"]));
    ok(&reader(&["registry", "verify", "bq"]));
    ok(&reader(&["inspect", "registry://churn", "--json"]));
    ok(&reader(&["inspect", "registry://bq@1", "--json"]));
    // A change needs write access.
    if privileged {
        let o = reader(&["registry", "merge-aliases", "churn@1", "prod"]);
        assert_eq!(o.status.code(), Some(1));
    }
    chmod_tree(&reg, 0o644, 0o755);
    std::fs::remove_dir_all(&reg).ok();
}
