//! Registry references: `ID`, `ID@VERSION`, `ID@ALIAS`, with or without
//! `registry://`.

use quercus_core::{Error, Result};
use quercus_vertex as vertex;

use super::{DEFAULT_ALIAS, URI_PREFIX};

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
    pub(super) fn parse_version(text: &str, what: &str) -> Result<(String, u64)> {
        let r = Reference::parse(text)?;
        match r.version {
            VersionSelector::Id(n) if text.contains('@') => Ok((r.model_id, n)),
            _ => Err(Error::option(format!(
                "{what} needs a version id: `{}@VERSION`, not `{text}`",
                r.model_id
            ))),
        }
    }

    /// The default version of a model.
    pub(super) fn default_of(model_id: String) -> Reference {
        Reference {
            model_id,
            version: VersionSelector::Alias(DEFAULT_ALIAS.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quercus_core::ErrorKind;

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
        let r = Reference::parse("churn@9999999999999999999").unwrap();
        assert_eq!(r.version, VersionSelector::Id(9_999_999_999_999_999_999));
        for bad in [
            "",
            "Churn",
            "churn@",
            "churn@0",
            "churn@01",
            "churn@Prod",
            "churn@10000000000000000000",
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
}
