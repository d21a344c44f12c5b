//! Vertex AI's naming rules, checked before anything is written.
//!
//! | what | rule | source |
//! |---|---|---|
//! | model id | 1 to 63 characters `[a-z0-9_-]`, not starting with a digit or `-` | `models:upload`, `modelId` |
//! | version alias | `[a-z][a-z0-9-]{0,126}[a-z0-9]` (2 to 128 characters), hence never numeric | the alias guide (strictest of the three published patterns) |
//! | version id | a decimal number ≥ 1 without leading zeros | `Model.versionId` |
//! | label key | 1 to 64 characters: lowercase letters, digits, `_`, `-`, international characters; starts with a lowercase or international letter | `Model.labels` |
//! | label value | 0 to 64 characters of the same set | `Model.labels` |
//! | labels | at most 64 per model | Google Cloud label limits |
//! | display name | 1 to 128 characters | `Model.displayName` |
//!
//! The REST reference gives two looser alias patterns
//! (`[a-z][a-zA-Z0-9-]{0,126}[a-z0-9]` and `[a-z][a-zA-Z0-9-]{0,126}[a-z-0-9]`);
//! an alias that passes the strict one passes all three.
//! "International characters" are taken as non-ASCII letters and digits that
//! are not uppercase (`é`, `ß`, `日本`); Vertex lowercases nothing for you.

use std::collections::BTreeMap;

/// A name that breaks one of Vertex's rules.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what} {shown}: {reason}")]
pub struct ValidationError {
    /// What was checked: `model id`, `version alias`, `label key`...
    pub what: &'static str,
    /// The value, quoted and shortened for display.
    pub shown: String,
    /// The rule it breaks.
    pub reason: String,
}

fn err(what: &'static str, value: &str, reason: impl Into<String>) -> ValidationError {
    let mut shown: String = value.chars().take(80).collect();
    if value.chars().count() > 80 {
        shown.push('…');
    }
    ValidationError {
        what,
        shown: format!("{shown:?}"),
        reason: reason.into(),
    }
}

/// Checks a model id (`modelId` of `models:upload`): 1 to 63 characters from
/// `[a-z0-9_-]`, the first not a digit or `-`.
pub fn model_id(id: &str) -> Result<(), ValidationError> {
    const WHAT: &str = "model id";
    if id.is_empty() {
        return Err(err(WHAT, id, "it is empty"));
    }
    if id.len() > 63 {
        return Err(err(
            WHAT,
            id,
            format!(
                "it has {} characters, at most 63 are allowed",
                id.chars().count()
            ),
        ));
    }
    if let Some(c) = id
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_' || *c == '-'))
    {
        return Err(err(
            WHAT,
            id,
            format!("{c:?} is not allowed (only a-z, 0-9, `_` and `-`)"),
        ));
    }
    if id.starts_with(|c: char| c.is_ascii_digit() || c == '-') {
        return Err(err(WHAT, id, "it must not start with a digit or `-`"));
    }
    Ok(())
}

/// Checks a version alias: `[a-z][a-z0-9-]{0,126}[a-z0-9]`.
pub fn version_alias(alias: &str) -> Result<(), ValidationError> {
    const WHAT: &str = "version alias";
    const RULE: &str = "an alias is 2 to 128 characters `[a-z][a-z0-9-]{0,126}[a-z0-9]`: \
                        lowercase letters, digits and `-`, starting with a letter and not \
                        ending with `-`";
    let b = alias.as_bytes();
    let ok = (2..=128).contains(&b.len())
        && b[0].is_ascii_lowercase()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[b.len() - 1] != b'-';
    if ok {
        Ok(())
    } else {
        Err(err(WHAT, alias, RULE))
    }
}

/// One change of a `mergeVersionAliases` call: `"prod"` adds `prod`,
/// `"-prod"` removes it. Returns `(remove, alias)` with the alias checked by
/// [`version_alias`].
pub fn alias_change(change: &str) -> Result<(bool, &str), ValidationError> {
    match change.strip_prefix('-') {
        Some(alias) => version_alias(alias).map(|()| (true, alias)),
        None => version_alias(change).map(|()| (false, change)),
    }
}

/// Checks a version id: a decimal number ≥ 1 without leading zeros.
pub fn version_id(id: &str) -> Result<(), ValidationError> {
    let ok = !id.is_empty()
        && id.len() <= 19
        && id.bytes().all(|c| c.is_ascii_digit())
        && !id.starts_with('0');
    if ok {
        Ok(())
    } else {
        Err(err(
            "version id",
            id,
            "a version id is a decimal number from 1, without leading zeros",
        ))
    }
}

fn label_char(c: char) -> bool {
    c.is_ascii_lowercase()
        || c.is_ascii_digit()
        || c == '_'
        || c == '-'
        || (!c.is_ascii() && c.is_alphanumeric() && !c.is_uppercase())
}

fn label_chars(what: &'static str, s: &str) -> Result<(), ValidationError> {
    let n = s.chars().count();
    if n > 64 {
        return Err(err(
            what,
            s,
            format!("it has {n} characters, at most 64 are allowed"),
        ));
    }
    if let Some(c) = s.chars().find(|c| !label_char(*c)) {
        return Err(err(
            what,
            s,
            format!(
                "{c:?} is not allowed (lowercase letters, digits, `_`, `-` and international \
                 characters only)"
            ),
        ));
    }
    Ok(())
}

/// Checks a label key: 1 to 64 characters, lowercase letters, digits, `_`,
/// `-` and international characters, starting with a lowercase or
/// international letter.
pub fn label_key(key: &str) -> Result<(), ValidationError> {
    const WHAT: &str = "label key";
    let Some(first) = key.chars().next() else {
        return Err(err(WHAT, key, "it is empty"));
    };
    label_chars(WHAT, key)?;
    if !(first.is_ascii_lowercase() || (!first.is_ascii() && first.is_alphabetic())) {
        return Err(err(
            WHAT,
            key,
            "a label key must start with a lowercase letter",
        ));
    }
    Ok(())
}

/// Checks a label value: 0 to 64 characters of the label key's set.
pub fn label_value(value: &str) -> Result<(), ValidationError> {
    label_chars("label value", value)
}

/// Checks a set of labels: at most 64, every key and value valid.
pub fn labels(labels: &BTreeMap<String, String>) -> Result<(), ValidationError> {
    if labels.len() > 64 {
        return Err(ValidationError {
            what: "labels",
            shown: format!("({} labels)", labels.len()),
            reason: "a model has at most 64 labels".into(),
        });
    }
    for (k, v) in labels {
        label_key(k)?;
        label_value(v).map_err(|mut e| {
            e.reason = format!("{} (label `{k}`)", e.reason);
            e
        })?;
    }
    Ok(())
}

/// Checks a display name: 1 to 128 characters.
pub fn display_name(name: &str) -> Result<(), ValidationError> {
    let n = name.chars().count();
    if n == 0 || name.trim().is_empty() {
        return Err(err("display name", name, "it is empty"));
    }
    if n > 128 {
        return Err(err(
            "display name",
            name,
            format!("it has {n} characters, at most 128 are allowed"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_ids() {
        for ok in ["churn", "a", "_x", "churn-bt_2", &"a".repeat(63)] {
            assert!(model_id(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "1abc",
            "-abc",
            "Churn",
            "a.b",
            "a b",
            "é",
            &"a".repeat(64),
        ] {
            assert!(model_id(bad).is_err(), "{bad}");
        }
        let e = model_id("Churn").unwrap_err();
        assert_eq!(e.what, "model id");
        assert!(e.to_string().contains("'C' is not allowed"), "{e}");
    }

    #[test]
    fn aliases() {
        for ok in [
            "default",
            "champion",
            "v2",
            "prod-eu",
            "ab",
            &"a".repeat(128),
        ] {
            assert!(version_alias(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "a",
            "1",
            "12",
            "2a",
            "-a",
            "a-",
            "Prod",
            "pRod",
            "pr_od",
            "pr od",
            "é1",
            &"a".repeat(129),
        ] {
            assert!(version_alias(bad).is_err(), "{bad}");
        }
        assert_eq!(alias_change("-golden").unwrap(), (true, "golden"));
        assert_eq!(alias_change("golden").unwrap(), (false, "golden"));
        assert!(alias_change("--golden").is_err());
        assert!(alias_change("-").is_err());
    }

    #[test]
    fn version_ids() {
        for ok in ["1", "9", "10", "123"] {
            assert!(version_id(ok).is_ok(), "{ok}");
        }
        for bad in ["", "0", "01", "-1", "1a", "x", "99999999999999999999"] {
            assert!(version_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn labels_follow_the_rules() {
        for ok in ["env", "e", "team_1", "a-b", "é", "日本", "straße"] {
            assert!(label_key(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "Env",
            "1env",
            "_env",
            "-env",
            "e.v",
            "e/v",
            "eÉ",
            &"a".repeat(65),
        ] {
            assert!(label_key(bad).is_err(), "{bad}");
        }
        for ok in ["", "prod", "1", "_x", "v-1_2", "日本", &"a".repeat(64)] {
            assert!(label_value(ok).is_ok(), "{ok}");
        }
        for bad in ["Prod", "a b", "a:b", "a.b", "😀", &"a".repeat(65)] {
            assert!(label_value(bad).is_err(), "{bad}");
        }
        let mut m = BTreeMap::new();
        m.insert("env".to_string(), "Prod".to_string());
        let e = labels(&m).unwrap_err();
        assert!(e.to_string().contains("label `env`"), "{e}");
        let many: BTreeMap<String, String> =
            (0..65).map(|i| (format!("k{i}"), String::new())).collect();
        assert!(labels(&many).is_err());
    }

    #[test]
    fn display_names() {
        assert!(display_name("Churn model (v2) — EU").is_ok());
        assert!(display_name(&"é".repeat(128)).is_ok());
        assert!(display_name(&"é".repeat(129)).is_err());
        assert!(display_name("").is_err());
        assert!(display_name("  ").is_err());
    }

    #[test]
    fn long_values_are_shortened_in_messages() {
        let e = model_id(&"A".repeat(500)).unwrap_err();
        assert!(e.to_string().len() < 250, "{e}");
    }
}
