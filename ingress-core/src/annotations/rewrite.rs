//! Regular-expression paths (`use-regex`) and path rewriting (`rewrite-target`), with
//! ingress-nginx's semantics and the `regex` crate (linear time: no pattern can make a lookup
//! take exponential time).
//!
//! A regex path matches a normalised request path when the pattern matches at its start,
//! case-insensitively: ingress-nginx writes it as `location ~* "^PATH"`. The anchor is
//! prepended as nginx does, without a group, so `/a|/b` matches `/b` anywhere, as it does
//! there. The `rewrite-target` replaces the **whole** path with the target, each `$n` replaced
//! by capture group `n` (empty when the group did not take part), as nginx's
//! `rewrite "(?i)PATH" TARGET break;` does; the query string is kept.
//!
//! ```
//! use ingress_core::annotations::{PathRegex, Rewrite};
//!
//! let path = PathRegex::new("/something(/|$)(.*)").unwrap();
//! assert!(path.is_match("/something/new") && path.is_match("/SOMETHING"));
//! assert!(!path.is_match("/other/something"));
//! let rewrite = Rewrite::new(path, "/$2".into());
//! assert_eq!(rewrite.apply("/something"), Some("/".to_owned()));
//! assert_eq!(rewrite.apply("/something/"), Some("/".to_owned()));
//! assert_eq!(rewrite.apply("/something/new"), Some("/new".to_owned()));
//! assert_eq!(rewrite.apply("/elsewhere"), None);
//! ```

use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

/// Largest compiled program one path pattern may take (the `regex` crate's size limit):
/// bounds the memory an Ingress can make the controller spend on one path.
const SIZE_LIMIT: usize = 1 << 20;

/// A compiled regex path: the pattern as written and its matcher (`(?i)^PATTERN`).
#[derive(Clone)]
pub struct PathRegex {
    pattern: Arc<str>,
    regex: regex::Regex,
}

impl PathRegex {
    /// Compiles `pattern` as ingress-nginx's `~* "^PATTERN"`; the error says why it is not a
    /// valid (RE2-syntax) regular expression.
    pub fn new(pattern: &str) -> Result<PathRegex, String> {
        Self::compile(pattern, &format!("^{pattern}"))
    }

    /// A literal path as a rewrite source: matched case-insensitively at the start, with no
    /// capture groups (a `Prefix` or `Exact` path of an Ingress with `rewrite-target`).
    pub(crate) fn literal(path: &str) -> Result<PathRegex, String> {
        Self::compile(path, &format!("^{}", regex::escape(path)))
    }

    fn compile(pattern: &str, anchored: &str) -> Result<PathRegex, String> {
        let regex = regex::RegexBuilder::new(anchored)
            .case_insensitive(true)
            .size_limit(SIZE_LIMIT)
            .build()
            .map_err(|e| match e {
                regex::Error::Syntax(syntax) => syntax
                    .lines()
                    .last()
                    .unwrap_or("invalid regular expression")
                    .trim_start_matches("error: ")
                    .to_owned(),
                regex::Error::CompiledTooBig(limit) => {
                    format!("the regular expression compiles to more than {limit} bytes")
                }
                other => other.to_string(),
            })?;
        Ok(PathRegex {
            pattern: pattern.into(),
            regex,
        })
    }

    /// Whether a normalised request path matches.
    pub fn is_match(&self, path: &str) -> bool {
        self.regex.is_match(path)
    }

    /// The pattern as written.
    pub fn pattern(&self) -> &str {
        &self.pattern
    }
}

impl PartialEq for PathRegex {
    fn eq(&self, other: &Self) -> bool {
        self.regex.as_str() == other.regex.as_str()
    }
}

impl Eq for PathRegex {}

impl Hash for PathRegex {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.regex.as_str().hash(state);
    }
}

impl fmt::Debug for PathRegex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PathRegex({:?})", self.regex.as_str())
    }
}

/// One path entry's `rewrite-target`: its path as a regex, and the target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rewrite {
    source: PathRegex,
    target: Arc<str>,
}

impl Rewrite {
    /// The rewrite of paths matching `source` to `target`.
    pub fn new(source: PathRegex, target: Arc<str>) -> Rewrite {
        Rewrite { source, target }
    }

    /// The target as written.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// The path a normalised request path is rewritten to, or `None` when the source does
    /// not match it (the request is then passed on unchanged, as nginx's `rewrite` does).
    pub fn apply(&self, path: &str) -> Option<String> {
        let captures = self.source.regex.captures(path)?;
        let mut out = String::with_capacity(self.target.len() + path.len());
        let mut rest = &*self.target;
        while let Some(at) = rest.find('$') {
            out.push_str(&rest[..at]);
            let after = &rest[at + 1..];
            let digits = after.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                out.push('$');
            } else if let Ok(group) = after[..digits].parse::<usize>() {
                out.push_str(captures.get(group).map_or("", |m| m.as_str()));
            }
            rest = &after[digits..];
        }
        out.push_str(rest);
        if !out.starts_with('/') {
            out.insert(0, '/');
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewrite(path: &str, target: &str) -> Rewrite {
        Rewrite::new(PathRegex::new(path).expect("valid"), target.into())
    }

    /// The examples of ingress-nginx's rewrite documentation, and nginx's replacement rules.
    #[test]
    fn rewrite_table() {
        let cases: &[(&str, &str, &str, Option<&str>)] = &[
            ("/something(/|$)(.*)", "/$2", "/something", Some("/")),
            ("/something(/|$)(.*)", "/$2", "/something/", Some("/")),
            ("/something(/|$)(.*)", "/$2", "/something/new", Some("/new")),
            ("/something(/|$)(.*)", "/$2", "/SomeThing/x", Some("/x")),
            (
                "/api(/|$)(.*)",
                "/v2/$2",
                "/api/users/1",
                Some("/v2/users/1"),
            ),
            ("/(.*)", "/$1", "/a/b", Some("/a/b")),
            ("/app", "/", "/app/deep/path", Some("/")),
            ("/a(.*)", "/$9", "/abc", Some("/")),
            ("/a(.*)", "/x$", "/abc", Some("/x$")),
            ("/a(.*)", "$1", "/abc", Some("/bc")),
            ("/a(.*)", "/$1$1", "/abc", Some("/bcbc")),
            ("/a(.*)", "/$10", "/abc", Some("/")),
            ("/a", "/b", "/b/a", None),
        ];
        for (path, target, request, expected) in cases {
            assert_eq!(
                rewrite(path, target).apply(request).as_deref(),
                *expected,
                "{path} -> {target} on {request}"
            );
        }
    }

    #[test]
    fn patterns_are_anchored_case_insensitive_and_alternation_is_nginx_s() {
        let p = PathRegex::new("/foo/bar/[A-Z0-9]{3}").unwrap();
        assert!(p.is_match("/foo/bar/bar") && p.is_match("/FOO/bar/x1y/more"));
        assert!(!p.is_match("/x/foo/bar/bar"));
        // `^/a|/b` is `(^/a)|(/b)` in PCRE and here alike.
        let alt = PathRegex::new("/a|/b").unwrap();
        assert!(alt.is_match("/x/b"));
    }

    #[test]
    fn invalid_and_oversized_patterns_say_why() {
        let unclosed = PathRegex::new("/a(").unwrap_err();
        assert!(unclosed.contains("unclosed"), "{unclosed}");
        let lookahead = PathRegex::new("/a(?=b)").unwrap_err();
        assert!(!lookahead.is_empty());
        let huge = PathRegex::new("/(a{1000}){1000}").unwrap_err();
        assert!(huge.contains("more than"), "{huge}");
    }

    #[test]
    fn a_literal_source_matches_its_path_only_as_text() {
        let literal = PathRegex::literal("/a.b").unwrap();
        assert!(literal.is_match("/A.B/c") && !literal.is_match("/axb"));
    }
}
