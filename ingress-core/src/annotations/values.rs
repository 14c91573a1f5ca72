//! Reading annotation values with ingress-nginx's syntax: Go's `ParseBool`, integers, nginx
//! sizes and seconds, and the character classes ingress-nginx's validators allow. Every value
//! that does not parse is recorded as an [`InvalidAnnotation`], never silently dropped.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use super::PREFIX;
use super::policy::InvalidAnnotation;

/// Reads the annotations of one Ingress, collecting every invalid value.
pub(super) struct Reader<'a> {
    annotations: &'a BTreeMap<String, String>,
    pub(super) invalid: Vec<InvalidAnnotation>,
}

/// ingress-nginx's `alphaNumericChars` (its `parser/validators.go`): what its path-like
/// annotations (`rewrite-target`, `app-root`, `x-forwarded-prefix`) may contain, with `$` for
/// capture references.
fn is_path_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-._~/:$".contains(c)
}

/// ingress-nginx's `URLIsValidRegex`: what a redirect URL may contain.
fn is_url_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-._~/:,?&=".contains(c)
}

impl<'a> Reader<'a> {
    pub(super) fn new(annotations: &'a BTreeMap<String, String>) -> Self {
        Reader {
            annotations,
            invalid: Vec::new(),
        }
    }

    /// The raw value of `name` (the key after [`PREFIX`]).
    fn raw(&self, name: &str) -> Option<(String, &'a str)> {
        let key = format!("{PREFIX}{name}");
        let value = self.annotations.get(&key)?;
        Some((key, value.as_str()))
    }

    /// Parses `name` with `parse`, recording a failure with `reason`.
    pub(super) fn parse_value<T>(
        &mut self,
        name: &str,
        reason: &str,
        parse: impl FnOnce(&str) -> Option<T>,
    ) -> Option<T> {
        let (key, value) = self.raw(name)?;
        let parsed = parse(value);
        if parsed.is_none() {
            self.invalid.push(InvalidAnnotation {
                annotation: key,
                value: value.to_owned(),
                reason: reason.to_owned(),
            });
        }
        parsed
    }

    /// Parses `name` with `parse`, recording its error as the reason.
    pub(super) fn parse_result<T>(
        &mut self,
        name: &str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        let (key, value) = self.raw(name)?;
        match parse(value) {
            Ok(parsed) => Some(parsed),
            Err(reason) => {
                self.invalid.push(InvalidAnnotation {
                    annotation: key,
                    value: value.to_owned(),
                    reason,
                });
                None
            }
        }
    }

    /// Whether `name` is set (whatever its value).
    pub(super) fn is_set(&self, name: &str) -> bool {
        self.raw(name).is_some()
    }

    /// Records that `name`, which another annotation needs, is absent.
    pub(super) fn missing(&mut self, name: &str, reason: &str) {
        self.invalid.push(InvalidAnnotation {
            annotation: format!("{PREFIX}{name}"),
            value: String::new(),
            reason: reason.to_owned(),
        });
    }

    /// A boolean in Go's `strconv.ParseBool` syntax.
    pub(super) fn boolean(&mut self, name: &str) -> Option<bool> {
        self.parse_value(name, "expected \"true\" or \"false\"", parse_bool)
    }

    /// An integer.
    pub(super) fn integer(&mut self, name: &str) -> Option<i64> {
        self.parse_value(name, "expected an integer", |v| v.trim().parse().ok())
    }

    /// A path with optional `$n` capture references, in ingress-nginx's character set.
    pub(super) fn path(&mut self, name: &str) -> Option<Arc<str>> {
        self.parse_value(
            name,
            "expected a path of letters, digits and - . _ ~ / : $",
            |v| (!v.is_empty() && v.chars().all(is_path_char)).then(|| v.into()),
        )
    }

    /// An absolute `http` or `https` URL (ingress-nginx's `isValidURL`).
    pub(super) fn url(&mut self, name: &str) -> Option<Arc<str>> {
        self.parse_value(name, "expected an absolute http:// or https:// URL", |v| {
            let rest = v
                .strip_prefix("https://")
                .or_else(|| v.strip_prefix("http://"))?;
            (!rest.is_empty() && v.chars().all(is_url_char)).then(|| v.into())
        })
    }

    /// An nginx size (`1000`, `8k`, `1m`, `1g`; `0` means unlimited), in bytes.
    pub(super) fn size(&mut self, name: &str) -> Option<u64> {
        self.parse_value(
            name,
            "expected a size such as 1024, 8k, 1m or 1g",
            parse_size,
        )
    }

    /// Whole seconds, as ingress-nginx's timeout annotations take them.
    pub(super) fn seconds(&mut self, name: &str) -> Option<Duration> {
        self.parse_value(name, "expected a whole number of seconds", |v| {
            v.trim()
                .parse::<u32>()
                .ok()
                .map(|s| Duration::from_secs(s.into()))
        })
    }

    /// One of `options`, compared case-insensitively (as ingress-nginx compares them).
    pub(super) fn choice<T: Copy>(&mut self, name: &str, options: &[(&str, T)]) -> Option<T> {
        let reason = format!(
            "expected one of {}",
            options
                .iter()
                .map(|(o, _)| *o)
                .collect::<Vec<_>>()
                .join(", ")
        );
        self.parse_value(name, &reason, |v| {
            options
                .iter()
                .find(|(o, _)| o.eq_ignore_ascii_case(v.trim()))
                .map(|(_, t)| *t)
        })
    }

    /// A comma-separated list of 4xx and 5xx status codes (`custom-http-errors`).
    pub(super) fn status_list(&mut self, name: &str) -> Option<Vec<u16>> {
        self.parse_value(
            name,
            "expected a comma-separated list of 4xx and 5xx codes",
            |v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|code| !code.is_empty())
                    .map(|code| code.parse::<u16>().ok().filter(|c| (400..=599).contains(c)))
                    .collect()
            },
        )
    }

    /// A comma-separated list of names (`server-alias`), as ingress-nginx splits it: trimmed,
    /// without empty entries or repeats, sorted. Each is checked as a host where it is used.
    pub(super) fn name_list(&mut self, name: &str) -> Vec<Arc<str>> {
        let names = self.parse_value(name, "expected a comma-separated list of host names", |v| {
            let names: std::collections::BTreeSet<&str> = v
                .split(',')
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .collect();
            Some(names.into_iter().map(Arc::from).collect::<Vec<_>>())
        });
        names.unwrap_or_default()
    }

    /// A header or cookie name: letters, digits, `-` and `_`.
    pub(super) fn token(&mut self, name: &str) -> Option<Arc<str>> {
        self.parse_value(name, "expected a name of letters, digits, - and _", |v| {
            let ok = !v.is_empty()
                && v.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            ok.then(|| v.into())
        })
    }

    /// Any single-line text.
    pub(super) fn text(&mut self, name: &str) -> Option<Arc<str>> {
        self.parse_value(name, "expected text without line breaks", |v| {
            (!v.contains(['\r', '\n'])).then(|| v.into())
        })
    }

    /// A comma-separated list of CIDRs or addresses (`*-source-range`).
    pub(super) fn cidr_list(&mut self, name: &str) -> Option<crate::CidrList> {
        let mut reason = String::new();
        let (key, value) = self.raw(name)?;
        match crate::CidrList::parse(value) {
            Ok(list) => Some(list),
            Err(why) => {
                reason.push_str(&why);
                self.invalid.push(InvalidAnnotation {
                    annotation: key,
                    value: value.to_owned(),
                    reason,
                });
                None
            }
        }
    }

    /// A host name (`upstream-vhost`): letters, digits, `-`, `.` and an optional `:port`.
    pub(super) fn host(&mut self, name: &str) -> Option<Arc<str>> {
        self.parse_value(name, "expected a host name, optionally with :port", |v| {
            let ok = !v.is_empty()
                && v.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-.:_".contains(c));
            ok.then(|| v.into())
        })
    }
}

/// A boolean as ingress-nginx reads one (Go's `strconv.ParseBool`), shared with the
/// ConfigMap's keys.
fn parse_bool(value: &str) -> Option<bool> {
    crate::global_config::values::boolean(value).ok()
}

/// An nginx size, shared with the ConfigMap's keys (checked arithmetic).
fn parse_size(value: &str) -> Option<u64> {
    crate::global_config::values::size(value).ok()
}
