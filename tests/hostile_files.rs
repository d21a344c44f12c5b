//! Model files as a hostile or careless user hands them over: changed in
//! place while loaded, FIFOs, devices, files over the size limit, absurd
//! declared counts (issue: hardening, items 1–3 and 5).

use std::path::{Path, PathBuf};

use quercus::{ErrorKind, FeatureMatrix, LoadOptions, Model, PredictOptions};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn example() -> PathBuf {
    root().join("models/example/model.json")
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("quercus-hostile-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn predict(m: &Model) -> Vec<f32> {
    let n = m.num_features();
    let rows: Vec<f32> = (0..4 * n).map(|i| (i % 7) as f32 * 0.5).collect();
    let x = FeatureMatrix::row_major(&rows, 4, n).unwrap();
    m.predict(&x, &PredictOptions::default()).unwrap().data
}

/// Item 3: `Model::load` of a `.qpack` copies it, so a file truncated and
/// rewritten in place by another process changes nothing (with a memory map
/// this was SIGBUS or silently different predictions).
#[test]
fn a_compiled_file_changed_in_place_after_load_changes_nothing() {
    let dir = scratch("qpack");
    let path = dir.join("m.qpack");
    let source = Model::load(example()).unwrap();
    source.save_compiled(&path).unwrap();
    let want = predict(&source);
    for loaded in [
        Model::load(&path).unwrap(),
        Model::load_compiled(&path).unwrap(),
    ] {
        // Truncate, then fill with other bytes, in place (same inode).
        let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        f.set_len(0).unwrap();
        f.set_len(4096).unwrap();
        std::fs::write(&path, vec![0xA5u8; 100]).unwrap();
        assert_eq!(predict(&loaded), want);
        source.save_compiled(&path).unwrap();
    }
    // The opt-in mapping still loads and predicts (its caveat is documented).
    // SAFETY: nothing modifies the file while `mapped` lives.
    let mapped = unsafe { Model::load_compiled_mmap(&path) }.unwrap();
    assert_eq!(predict(&mapped), want);
    drop(mapped);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Item 5: a FIFO is read whole once and then sniffed (the first bytes used
/// to be lost to format detection); one with no writer is an error, not a hang.
#[cfg(unix)]
#[test]
fn a_fifo_model_is_read_once_and_one_without_writer_does_not_hang() {
    let dir = scratch("fifo");
    let fifo = dir.join("model.fifo");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc_mkfifo(c.as_ptr(), 0o600) }, 0);
    let bytes = std::fs::read(example()).unwrap();
    let writer = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::write(&fifo, &bytes).unwrap())
    };
    let m = Model::load(&fifo).unwrap();
    writer.join().unwrap();
    assert_eq!(predict(&m), predict(&Model::load(example()).unwrap()));

    // No writer at all: an error naming the file, promptly.
    let t = std::time::Instant::now();
    let e = Model::load(&fifo).unwrap_err();
    assert!(t.elapsed() < std::time::Duration::from_secs(5));
    assert_eq!(e.location().path.as_deref(), Some(fifo.as_path()), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[cfg(unix)]
unsafe extern "C" {
    #[link_name = "mkfifo"]
    fn libc_mkfifo(path: *const std::ffi::c_char, mode: u32) -> i32;
}

/// Item 5: a device is refused at once (`/dev/zero` never ends), and a file
/// over the size limit is refused before it is read.
#[test]
fn devices_and_files_over_the_limit_are_refused() {
    if Path::new("/dev/zero").exists() {
        let e = Model::load("/dev/zero").unwrap_err();
        assert!(
            matches!(e.kind(), ErrorKind::Io(m) if m.to_string().contains("not a regular file")),
            "{e}"
        );
    }
    let dir = scratch("limit");
    let big = dir.join("big.json");
    let f = std::fs::File::create(&big).unwrap();
    f.set_len(3 << 30).unwrap(); // sparse: 3 GiB of holes, nothing written
    let e = Model::load(&big).unwrap_err();
    assert!(
        matches!(e.kind(), ErrorKind::TooLarge { size, limit } if *size == 3 << 30 && *limit == 1 << 30),
        "{e}"
    );
    // The limit is an option: raised, the same file is read (and is not a model).
    let small = LoadOptions::default().with_max_bytes(100);
    let e = Model::load_with(example(), &small).unwrap_err();
    assert!(
        matches!(e.kind(), ErrorKind::TooLarge { limit: 100, .. }),
        "{e}"
    );
    assert!(e.to_string().contains("100-byte limit"), "{e}");
    assert!(Model::load_with(example(), &LoadOptions::default().with_max_bytes(1 << 20)).is_ok());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Items 1–2 end to end: a legacy binary declaring 0xFFFFFFFF features loads,
/// compiles, and predicts a zero-stride view of all its columns in a few
/// bytes; `inspect --vertex`'s schema does not allocate by the count either.
#[test]
fn a_declared_feature_count_of_2_pow_32_predicts_in_bounded_memory() {
    let mut text = std::fs::read_to_string(example()).unwrap();
    let m0 = Model::load(example()).unwrap();
    let n = m0.num_features();
    // Drop the names and types (they must match the count) and declare 2^32 - 1.
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut v = v;
    v["learner"]["feature_names"] = serde_json::json!([]);
    v["learner"]["feature_types"] = serde_json::json!([]);
    v["learner"]["learner_model_param"]["num_feature"] = serde_json::json!("4294967295");
    text = v.to_string();
    let m = Model::from_bytes(text.as_bytes(), &LoadOptions::default()).unwrap();
    assert_eq!(m.num_features(), 4294967295);
    assert!(m.forest().features_read() <= n);
    let dir = scratch("wide");
    let q = dir.join("wide.qpack");
    m.save_compiled(&q).unwrap();
    let compiled = Model::load(&q).unwrap();
    let one = [0.25f32];
    let x = FeatureMatrix::strided(&one, 20, m.num_features(), 0, 0).unwrap();
    let narrow = vec![0.25f32; 20 * n];
    let xn = FeatureMatrix::row_major(&narrow, 20, n).unwrap();
    let want = m0.predict(&xn, &PredictOptions::default()).unwrap().data;
    for model in [&m, &compiled] {
        assert_eq!(
            model.predict(&x, &PredictOptions::default()).unwrap().data,
            want
        );
    }
    let meta = m.metadata();
    assert!(serde_json::to_string(&meta).unwrap().contains("4294967295"));
    std::fs::remove_dir_all(&dir).unwrap();
}
