//! Rule paths and path types.

use std::cmp::Ordering;
use std::fmt;
use std::sync::Arc;

use super::error::InvalidField;
use crate::annotations::PathRegex;
use crate::normalize;

/// `pathType` of an Ingress path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum PathType {
    /// The whole normalised path equals the rule's path.
    Exact,
    /// Element-wise prefix on `/`-separated elements.
    Prefix,
    /// Treated as `Prefix` (what ingress-nginx does without its regex annotations).
    ImplementationSpecific,
}

/// A validated rule path, with the key it is matched by.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RulePath {
    /// The path as written (`/` when an `ImplementationSpecific` entry has none).
    raw: Arc<str>,
    /// The normalised path, when it differs from `raw` (rarely: one allocation saved per path).
    normalized: Option<Arc<str>>,
    /// Length of the matching key, a prefix of the normalised path: prefix-like paths drop
    /// their trailing `/` (so the root prefix is the empty string, which every path extends).
    key_len: usize,
    path_type: PathType,
    /// Set for an `ImplementationSpecific` path on a host where regular expressions are
    /// enforced ([`RulePath::to_regex`]): it matches by this instead of as a prefix.
    regex: Option<PathRegex>,
}

impl PathType {
    /// Parses `pathType` as written in a manifest.
    pub fn parse(value: &str) -> Result<PathType, InvalidField> {
        match value {
            "Exact" => Ok(PathType::Exact),
            "Prefix" => Ok(PathType::Prefix),
            "ImplementationSpecific" => Ok(PathType::ImplementationSpecific),
            other => Err(InvalidField::UnknownPathType(other.to_owned())),
        }
    }

    /// The name used in manifests.
    pub fn as_str(self) -> &'static str {
        match self {
            PathType::Exact => "Exact",
            PathType::Prefix => "Prefix",
            PathType::ImplementationSpecific => "ImplementationSpecific",
        }
    }

    /// Whether the type matches by element-wise prefix (`Prefix`, `ImplementationSpecific`).
    pub fn is_prefix(self) -> bool {
        !matches!(self, PathType::Exact)
    }
}

/// Sequences the API server forbids in `Exact` and `Prefix` paths.
const INVALID_SEQUENCES: [&str; 5] = ["//", "/./", "/../", "%2f", "%2F"];
const INVALID_SUFFIXES: [&str; 2] = ["/..", "/."];

impl RulePath {
    /// Validates a path entry's `path` for its `pathType` (SEMANTICS §4).
    pub fn parse(path: Option<&str>, path_type: PathType) -> Result<RulePath, InvalidField> {
        let raw = match (path, path_type) {
            (Some(p), _) => p,
            (None, PathType::ImplementationSpecific) => "/",
            (None, _) => return Err(InvalidField::PathMissing),
        };
        if !raw.starts_with('/') {
            return Err(InvalidField::PathNotAbsolute(raw.to_owned()));
        }
        if path_type != PathType::ImplementationSpecific {
            let forbidden = INVALID_SEQUENCES
                .iter()
                .find(|s| raw.contains(**s))
                .or_else(|| INVALID_SUFFIXES.iter().find(|s| raw.ends_with(**s)));
            if let Some(sequence) = forbidden {
                return Err(InvalidField::PathHasInvalidSequence {
                    path: raw.to_owned(),
                    sequence,
                });
            }
        }
        let normalised = normalize::path(raw);
        let key_len = if path_type.is_prefix() {
            normalised.trim_end_matches('/').len()
        } else {
            normalised.len()
        };
        let normalized = match normalised {
            std::borrow::Cow::Borrowed(_) => None,
            std::borrow::Cow::Owned(owned) => Some(owned.into()),
        };
        Ok(RulePath {
            raw: raw.into(),
            normalized,
            key_len,
            path_type,
            regex: None,
        })
    }

    /// This `ImplementationSpecific` path as a regular expression (ingress-nginx's
    /// `~* "^PATH"`); `None` for other path types, which never change meaning; the error says
    /// why the path is not a valid expression.
    pub fn to_regex(&self) -> Option<Result<RulePath, String>> {
        if self.path_type != PathType::ImplementationSpecific || self.regex.is_some() {
            return None;
        }
        Some(PathRegex::new(&self.raw).map(|regex| RulePath {
            raw: self.raw.clone(),
            normalized: None,
            key_len: self.raw.len(),
            path_type: self.path_type,
            regex: Some(regex),
        }))
    }

    /// The regular expression this path matches by, if it is one.
    pub fn regex(&self) -> Option<&PathRegex> {
        self.regex.as_ref()
    }

    /// How the path matches: the rank of its kind at equal length (SEMANTICS §2.4, with
    /// regular expressions after both).
    fn kind_rank(&self) -> u8 {
        match (&self.regex, self.path_type.is_prefix()) {
            (None, false) => 0,
            (None, true) => 1,
            (Some(_), _) => 2,
        }
    }

    /// The path as written.
    pub fn raw(&self) -> &Arc<str> {
        &self.raw
    }

    /// The normalised matching key (prefix-like paths without their trailing `/`; a regular
    /// expression's pattern as written).
    pub fn key(&self) -> &str {
        let normalized = self.normalized.as_deref().unwrap_or(&self.raw);
        // `key_len` was measured on this very string, at a `/` boundary or its end.
        normalized.get(..self.key_len).unwrap_or(normalized)
    }

    /// The path type.
    pub fn path_type(&self) -> PathType {
        self.path_type
    }

    /// Whether a normalised request path matches (SEMANTICS §2.3).
    pub fn matches(&self, request_path: &str) -> bool {
        if let Some(regex) = &self.regex {
            regex.is_match(request_path)
        } else if self.path_type.is_prefix() {
            request_path
                .strip_prefix(self.key())
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
        } else {
            request_path == self.key()
        }
    }

    /// Precedence among paths that match the same request (SEMANTICS §2.4), best first: longer
    /// key, then `Exact` before prefix-like before a regular expression (whose length is its
    /// pattern's: ingress-nginx orders regex locations by descending length), then the longer
    /// raw path. Equal means the two entries can never be told apart by a request: a conflict
    /// decided by age.
    pub fn precedence(&self, other: &RulePath) -> Ordering {
        other
            .key_len
            .cmp(&self.key_len)
            .then_with(|| self.kind_rank().cmp(&other.kind_rank()))
            .then_with(|| other.raw.len().cmp(&self.raw.len()))
    }

    /// Whether two entries are indistinguishable for routing (same key, same match kind, same
    /// raw length): the younger one can never be chosen, so it is reported as a conflict.
    pub fn shadows(&self, other: &RulePath) -> bool {
        self.key() == other.key()
            && self.kind_rank() == other.kind_rank()
            && self.raw.len() == other.raw.len()
    }
}

impl fmt::Display for PathType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prefix(p: &str) -> RulePath {
        RulePath::parse(Some(p), PathType::Prefix).unwrap()
    }

    fn exact(p: &str) -> RulePath {
        RulePath::parse(Some(p), PathType::Exact).unwrap()
    }

    #[test]
    fn forbidden_sequences_are_rejected_for_exact_and_prefix_only() {
        for bad in [
            "/a//b", "/a/./b", "/a/../b", "/a%2fb", "/a%2Fb", "/a/..", "/a/.",
        ] {
            for t in [PathType::Exact, PathType::Prefix] {
                assert!(
                    matches!(
                        RulePath::parse(Some(bad), t),
                        Err(InvalidField::PathHasInvalidSequence { .. })
                    ),
                    "{bad} {t}"
                );
            }
            assert!(RulePath::parse(Some(bad), PathType::ImplementationSpecific).is_ok());
        }
    }

    #[test]
    fn relative_and_missing_paths_are_rejected() {
        assert_eq!(
            RulePath::parse(Some("foo"), PathType::Prefix),
            Err(InvalidField::PathNotAbsolute("foo".into()))
        );
        assert_eq!(
            RulePath::parse(None, PathType::Exact),
            Err(InvalidField::PathMissing)
        );
        assert_eq!(
            RulePath::parse(None, PathType::ImplementationSpecific).map(|p| p.raw().clone()),
            Ok("/".into())
        );
    }

    #[test]
    fn prefix_does_not_match_string_prefix() {
        assert!(!prefix("/aaa/bbb").matches("/aaa/bbbxyz"));
        assert!(!prefix("/aaa/bb").matches("/aaa/bbb"));
        assert!(prefix("/aaa/bbb/").matches("/aaa/bbb"));
        assert!(prefix("/").matches("/anything/at/all"));
    }

    #[test]
    fn exact_beats_prefix_of_equal_length_and_longer_raw_prefix_beats_shorter() {
        assert_eq!(exact("/foo").precedence(&prefix("/foo")), Ordering::Less);
        assert_eq!(prefix("/foo/").precedence(&prefix("/foo")), Ordering::Less);
        assert_eq!(
            prefix("/foo/bar").precedence(&exact("/foo")),
            Ordering::Less
        );
    }
}
