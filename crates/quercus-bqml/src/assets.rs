//! The vocabulary and dimension files under `assets/`: which file belongs to
//! which feature and encoding, with the exported predictor's name patterns and
//! precedence, and their parsing.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use quercus_core::{Error, Result};

use crate::pystr;

/// The kind of asset file, in the order the exported predictor dispatches on
/// them when one feature has several (`Predictor._preprocess`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum AssetKind {
    CategoricalOneHot,
    CategoricalTarget,
    CategoricalLabel,
    ArrayOneHot,
    ArrayTarget,
    ArrayStruct,
    ArrayNumerical,
}

/// The file-name patterns of `Predictor.from_path`, in its `elif` order. Each is
/// the regular expression `(\d+)` followed by the suffix, in which `.` matches
/// any character, searched (not anchored) in the file name.
const PATTERNS: [(&str, AssetKind); 9] = [
    ("_categorical_one_hot.txt", AssetKind::CategoricalOneHot),
    ("_categorical_target.txt", AssetKind::CategoricalTarget),
    ("_categorical_label.txt", AssetKind::CategoricalLabel),
    (".txt", AssetKind::CategoricalLabel), // legacy `N.txt`
    ("_array_one_hot.txt", AssetKind::ArrayOneHot),
    ("_array.txt", AssetKind::ArrayOneHot), // legacy `N_array.txt`
    ("_array_target.txt", AssetKind::ArrayTarget),
    ("_array_struct_dimension.txt", AssetKind::ArrayStruct),
    ("_array_numerical_length.txt", AssetKind::ArrayNumerical),
];

/// Classifies a file name the way `Predictor.from_path` does: the first pattern
/// that matches wins. Returns the feature index as written (digits) and the kind.
pub(crate) fn classify(name: &str) -> Option<(&str, AssetKind)> {
    if !name.ends_with(".txt") || name.starts_with('.') {
        return None; // `glob('*.txt')` skips these
    }
    PATTERNS
        .iter()
        .find_map(|(suffix, kind)| search(name, suffix).map(|digits| (digits, *kind)))
}

/// `re.search(r'(\d+)' + suffix, name)` with `.` in `suffix` matching any
/// character: the leftmost match, digits greedy with backtracking. Returns the
/// digits.
fn search<'a>(name: &'a str, suffix: &str) -> Option<&'a str> {
    let b = name.as_bytes();
    let suffix = suffix.as_bytes();
    for start in 0..b.len() {
        if !b[start].is_ascii_digit() {
            continue;
        }
        let mut end = start;
        while end < b.len() && b[end].is_ascii_digit() {
            end += 1;
        }
        for stop in (start + 1..=end).rev() {
            if matches_at(b, stop, suffix) {
                return Some(&name[start..stop]);
            }
        }
    }
    None
}

/// Whether `pattern` (`.` = any character) matches `b` at byte `at`. Any
/// non-`.` pattern byte is ASCII, so comparing bytes is exact; a `.` must
/// consume a whole UTF-8 character.
fn matches_at(b: &[u8], mut at: usize, pattern: &[u8]) -> bool {
    for &p in pattern {
        let Some(&c) = b.get(at) else {
            return false;
        };
        if p == b'.' {
            at += utf8_len(c);
        } else if c == p {
            at += 1;
        } else {
            return false;
        }
    }
    true
}

fn utf8_len(first: u8) -> usize {
    match first {
        0xf0..=0xff => 4,
        0xe0..=0xef => 3,
        0xc0..=0xdf => 2,
        _ => 1,
    }
}

/// One asset file, read and parsed.
#[derive(Clone, Debug)]
pub(crate) struct Asset {
    pub path: PathBuf,
    pub kind: AssetKind,
    pub content: AssetContent,
}

/// What an asset file holds.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum AssetContent {
    /// One entry per line (one-hot, label, multi-hot vocabularies).
    Lines(Vec<String>),
    /// Target encoding: `value,t1,t2,...` per line, in file order, duplicates
    /// kept (the last one wins, as in a Python dict).
    Targets(Vec<(String, Vec<f64>)>),
    /// A single integer (ARRAY<STRUCT> dimension, ARRAY<numeric> length).
    Int(usize),
}

/// Reads `path` as UTF-8 text (what Python's `open()` does under a UTF-8 locale).
fn read_text(path: &Path) -> Result<String> {
    let bytes = quercus_xgboost::read_file(path, quercus_xgboost::DEFAULT_MAX_BYTES)?;
    String::from_utf8(bytes).map_err(|e| {
        Error::format(format!(
            "vocabulary file is not valid UTF-8 (invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        ))
        .with_path(path)
    })
}

/// Reads and parses one asset file.
pub(crate) fn read_asset(path: &Path, kind: AssetKind) -> Result<Asset> {
    let text = read_text(path)?;
    let content = match kind {
        AssetKind::CategoricalOneHot | AssetKind::CategoricalLabel | AssetKind::ArrayOneHot => {
            AssetContent::Lines(pystr::splitlines(&text))
        }
        AssetKind::CategoricalTarget | AssetKind::ArrayTarget => {
            AssetContent::Targets(parse_targets(&text).map_err(|e| e.with_path(path))?)
        }
        AssetKind::ArrayStruct | AssetKind::ArrayNumerical => {
            let what = if kind == AssetKind::ArrayStruct {
                "array struct dimension"
            } else {
                "array numerical length"
            };
            let n = pystr::parse_int(&text)
                .ok_or_else(|| {
                    Error::format(format!(
                        "expected one integer (the {what}), found {:?}",
                        truncate(text.trim(), 40)
                    ))
                })
                .and_then(|n| {
                    usize::try_from(n).map_err(|_| {
                        Error::format(format!("the {what} must not be negative, found {n}"))
                    })
                })
                .map_err(|e| e.with_path(path))?;
            AssetContent::Int(n)
        }
    };
    Ok(Asset {
        path: path.to_path_buf(),
        kind,
        content,
    })
}

/// Parses a target-encoding file: per line, `line.split(',')`, the first word
/// (not stripped) is the value, the rest Python floats. Every line must have
/// the same number of floats (else the predictor builds ragged rows).
fn parse_targets(text: &str) -> Result<Vec<(String, Vec<f64>)>> {
    let mut out: Vec<(String, Vec<f64>)> = Vec::new();
    for (i, line) in pystr::splitlines(text).into_iter().enumerate() {
        let mut words = line.split(',');
        let key = words.next().unwrap_or_default().to_string();
        let values = words
            .map(|w| {
                pystr::parse_float(w).ok_or_else(|| {
                    Error::format(format!(
                        "line {}: `{}` is not a number; this file does not have the right \
                         format for target encoding",
                        i + 1,
                        truncate(w, 40)
                    ))
                })
            })
            .collect::<Result<Vec<f64>>>()?;
        if let Some((_, first)) = out.first()
            && first.len() != values.len()
        {
            return Err(Error::format(format!(
                "line {}: {} target values where line 1 has {}",
                i + 1,
                values.len(),
                first.len()
            )));
        }
        out.push((key, values));
    }
    if out.is_empty() {
        return Err(Error::format("the target-encoding file is empty"));
    }
    Ok(out)
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n).collect();
        t.push('…');
        t
    }
}

/// Lists `assets/*.txt`, classifies each file and reads the ones that match a
/// pattern. Files for the same feature index and kind must agree.
pub(crate) fn discover(assets: &Path) -> Result<HashMap<(usize, AssetKind), Asset>> {
    let entries = std::fs::read_dir(assets).map_err(|e| Error::io(e).with_path(assets))?;
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(e).with_path(assets))?;
        // Non-UTF-8 names cannot match a pattern the predictor would use either
        // (it would see them as surrogate escapes); skip them.
        if let Ok(name) = entry.file_name().into_string() {
            names.push(name);
        }
    }
    names.sort();
    let mut found: HashMap<(usize, AssetKind), Asset> = HashMap::new();
    for name in names {
        let Some((digits, kind)) = classify(&name) else {
            continue;
        };
        let path = assets.join(&name);
        // An index too large for `usize` names no feature: reported by the
        // caller like any other out-of-range index.
        let index = digits.parse::<usize>().unwrap_or(usize::MAX);
        let asset = read_asset(&path, kind)?;
        if let Some(prev) = found.get(&(index, kind)) {
            if prev.content != asset.content {
                return Err(Error::invalid_model(format!(
                    "two different {} files for feature {index}: {} and {}",
                    kind_name(kind),
                    prev.path.display(),
                    path.display()
                ))
                .with_path(&path));
            }
            continue;
        }
        found.insert((index, kind), asset);
    }
    Ok(found)
}

/// The encoding name of an asset kind, as `encode_type` spells it.
pub(crate) fn kind_name(kind: AssetKind) -> &'static str {
    match kind {
        AssetKind::CategoricalOneHot => "categorical_one_hot",
        AssetKind::CategoricalTarget => "categorical_target",
        AssetKind::CategoricalLabel => "categorical_label",
        AssetKind::ArrayOneHot => "array_one_hot",
        AssetKind::ArrayTarget => "array_target",
        AssetKind::ArrayStruct => "array_struct",
        AssetKind::ArrayNumerical => "array_numerical",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_classified_like_the_predictor() {
        use AssetKind::*;
        let cases = [
            ("0.txt", Some((0, CategoricalLabel))),
            ("12.txt", Some((12, CategoricalLabel))),
            ("1_array.txt", Some((1, ArrayOneHot))),
            ("1_array_one_hot.txt", Some((1, ArrayOneHot))),
            ("3_categorical_one_hot.txt", Some((3, CategoricalOneHot))),
            ("3_categorical_target.txt", Some((3, CategoricalTarget))),
            ("10_categorical_label.txt", Some((10, CategoricalLabel))),
            ("2_array_target.txt", Some((2, ArrayTarget))),
            ("3_array_struct_dimension.txt", Some((3, ArrayStruct))),
            ("4_array_numerical_length.txt", Some((4, ArrayNumerical))),
            // unanchored search: a prefix is ignored
            ("v2_categorical_label.txt", Some((2, CategoricalLabel))),
            // the legacy pattern wins over `_array` when a digit precedes `.txt`
            ("0_array_1.txt", Some((1, CategoricalLabel))),
            ("model_metadata.json", None),
            ("notes.txt", None),
            (".0.txt", None),
        ];
        for (name, want) in cases {
            let got = classify(name).map(|(i, k)| (i.parse::<usize>().unwrap(), k));
            assert_eq!(got, want, "{name}");
        }
        assert_eq!(
            classify("99999999999999999999999.txt"),
            Some(("99999999999999999999999", CategoricalLabel))
        );
    }

    #[test]
    fn target_files() {
        let t = parse_targets("a, 0.5, 0.5\nb,1,0\n").unwrap();
        assert_eq!(t[0], ("a".to_string(), vec![0.5, 0.5]));
        assert_eq!(t[1], ("b".to_string(), vec![1.0, 0.0]));
        assert!(parse_targets("a,1\nb,1,2\n").is_err());
        assert!(parse_targets("a,x\n").is_err());
        assert!(parse_targets("").is_err());
    }
}
