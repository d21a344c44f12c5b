//! The registry's JSON files (the layout marker, each model's mutable
//! `model.json`, each version's immutable `version.json`), their invariants,
//! and the RFC 3339 times they carry.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use quercus_core::{Error, Result};
use quercus_vertex as vertex;
use serde::{Deserialize, Serialize};

use super::reference::{Reference, VersionSelector};
use super::{DEFAULT_ALIAS, io_at};

pub(super) const LAYOUT_FILE: &str = "quercus-registry.json";
pub(super) const LAYOUT: u32 = 1;
pub(super) const STATE_FILE: &str = "model.json";
pub(super) const VERSION_FILE: &str = "version.json";
pub(super) const ARTIFACT_DIR: &str = "artifact";

/// The largest version id: Vertex's version ids have at most 19 digits (and
/// a reference cannot name a longer one).
pub(super) const MAX_VERSION_ID: u64 = 9_999_999_999_999_999_999;

/// The mutable state of a model (`models/ID/model.json`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ModelState {
    pub(super) model_id: String,
    pub(super) next_version_id: u64,
    pub(super) create_time: String,
    pub(super) update_time: String,
    pub(super) versions: Vec<VersionState>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct VersionState {
    pub(super) version_id: u64,
    pub(super) aliases: Vec<String>,
    pub(super) update_time: String,
}

/// The immutable record of a version (`versions/N/version.json`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct VersionRecord {
    pub(super) version_id: u64,
    pub(super) create_time: String,
    pub(super) artifact: ArtifactRecord,
    /// The Model resource as generated at upload (no name, version or times).
    pub(super) model: vertex::Model,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ArtifactRecord {
    /// `file` or `directory`.
    pub(super) kind: String,
    /// For a file: its name under `artifact/`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) file: Option<String>,
    pub(super) sha256: String,
    pub(super) files: Vec<FileRecord>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct FileRecord {
    pub(super) path: String,
    pub(super) size: u64,
    pub(super) sha256: String,
}

impl ModelState {
    /// The state of a model with no version yet.
    pub(super) fn new(model_id: &str, time: &str) -> ModelState {
        ModelState {
            model_id: model_id.to_string(),
            next_version_id: 1,
            create_time: time.to_string(),
            update_time: time.to_string(),
            versions: Vec::new(),
        }
    }

    /// The id the next upload gets, refused when the ids are used up (a
    /// hand-edited `nextVersionId` can be anything up to 2^64 - 1).
    pub(super) fn next_version(&self) -> Result<u64> {
        let v = self.next_version_id;
        if v == 0 || v > MAX_VERSION_ID {
            return Err(Error::registry(format!(
                "model `{}` has no version id left: the next version id would be {v}, and \
                 version ids go from 1 to {MAX_VERSION_ID}",
                self.model_id
            )));
        }
        Ok(v)
    }

    /// Which version a reference names.
    pub(super) fn resolve(&self, r: &Reference) -> Result<u64> {
        let found = match &r.version {
            VersionSelector::Id(n) => self.versions.iter().find(|v| v.version_id == *n),
            VersionSelector::Alias(a) => self.versions.iter().find(|v| v.aliases.contains(a)),
        };
        found.map(|v| v.version_id).ok_or_else(|| {
            Error::registry(match &r.version {
                VersionSelector::Id(n) => format!(
                    "model `{}` has no version {n} (versions: {})",
                    r.model_id,
                    self.versions
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
}

/// Checks the registry invariants of one model's state.
pub(super) fn check_invariants(s: &ModelState) -> Result<()> {
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

/// Reads a model's state file (`None`: no such model), checking it names
/// the model and keeps the invariants.
pub(super) fn read_state(path: &Path, id: &str) -> Result<Option<ModelState>> {
    let bytes = match fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(e).with_path(path)),
    };
    let s: ModelState = parse_json(&bytes, path)?;
    if s.model_id != id {
        return Err(Error::registry(format!(
            "the state file names model `{}`, not `{id}`",
            s.model_id
        ))
        .with_path(path));
    }
    check_invariants(&s).map_err(|e| e.with_path(path))?;
    Ok(Some(s))
}

pub(super) fn to_json<T: Serialize>(v: &T) -> Vec<u8> {
    let mut s = serde_json::to_vec_pretty(v).unwrap_or_default();
    s.push(b'\n');
    s
}

pub(super) fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T> {
    let bytes = fs::read(path).map_err(io_at(path))?;
    parse_json(&bytes, path)
}

fn parse_json<T: for<'de> Deserialize<'de>>(bytes: &[u8], path: &Path) -> Result<T> {
    serde_json::from_slice(bytes)
        .map_err(|e| Error::registry(format!("the registry file is corrupt: {e}")).with_path(path))
}

/// Checks the layout marker (`quercus-registry.json`).
pub(super) fn check_layout(bytes: &[u8], path: &Path) -> Result<()> {
    let v: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| {
        Error::registry(format!("not a Quercus registry file: {e}")).with_path(path)
    })?;
    if v.get("layout").and_then(serde_json::Value::as_u64) != Some(u64::from(LAYOUT)) {
        return Err(Error::registry(format!(
            "unsupported registry layout {} (this Quercus reads layout {LAYOUT})",
            v.get("layout").unwrap_or(&serde_json::Value::Null)
        ))
        .with_path(path));
    }
    Ok(())
}

/// The layout marker's contents.
pub(super) fn layout_json() -> Vec<u8> {
    to_json(&serde_json::json!({ "layout": LAYOUT }))
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

pub(super) fn now() -> String {
    rfc3339(SystemTime::now())
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

    #[test]
    fn version_ids_run_out_without_overflow() {
        let mut s = ModelState::new("m", "");
        assert_eq!(s.next_version().unwrap(), 1);
        s.next_version_id = MAX_VERSION_ID;
        assert_eq!(s.next_version().unwrap(), MAX_VERSION_ID);
        for next in [0, MAX_VERSION_ID + 1, u64::MAX] {
            s.next_version_id = next;
            let e = s.next_version().unwrap_err();
            assert!(e.to_string().contains("no version id left"), "{e}");
        }
    }
}
