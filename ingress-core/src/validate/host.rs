//! Host patterns: an exact DNS name or a single-label wildcard.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use super::error::InvalidField;

/// A validated `rules[].host` or `tls[].hosts[]` entry.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum HostPattern {
    /// `foo.bar.com`: matches that name only.
    Exact(Arc<str>),
    /// `*.bar.com` (stored as written, see [`HostPattern::suffix`]): matches exactly one extra
    /// label.
    Wildcard(Arc<str>),
}

impl HostPattern {
    /// Parses a host as the API server does: a lower-case DNS-1123 subdomain, optionally with a
    /// leading `*.`, and never an IP address.
    pub fn parse(host: &str) -> Result<HostPattern, InvalidField> {
        // Only digits, dots, colons and hex letters can spell an IP address: skip the parse
        // for ordinary names.
        let maybe_ip = host
            .bytes()
            .all(|b| b.is_ascii_hexdigit() || b == b'.' || b == b':');
        if maybe_ip && host.parse::<IpAddr>().is_ok() {
            return Err(InvalidField::HostIsIpAddress(host.to_owned()));
        }
        let (wildcard, name) = match host.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, host),
        };
        if !is_dns1123_subdomain(name) || host.len() > 253 {
            return Err(InvalidField::HostNotDns1123(host.to_owned()));
        }
        Ok(if wildcard {
            HostPattern::Wildcard(host.into())
        } else {
            HostPattern::Exact(host.into())
        })
    }

    /// The host as written (`foo.bar.com` or `*.bar.com`); shared, so cloning is cheap.
    pub fn as_written(&self) -> &Arc<str> {
        match self {
            HostPattern::Exact(name) | HostPattern::Wildcard(name) => name,
        }
    }

    /// For a wildcard, the part after `*.`; for an exact host, the whole name.
    pub fn suffix(&self) -> &str {
        match self {
            HostPattern::Exact(name) => name,
            HostPattern::Wildcard(written) => written.get(2..).unwrap_or_default(),
        }
    }

    /// Whether a normalised request host matches this pattern.
    pub fn matches(&self, host: &str) -> bool {
        match self {
            HostPattern::Exact(name) => **name == *host,
            HostPattern::Wildcard(_) => {
                wildcard_suffix(host).is_some_and(|rest| rest == self.suffix())
            }
        }
    }
}

/// For `x.bar.com`, the suffix `bar.com` that a wildcard `*.bar.com` must equal; `None` for a
/// single-label name.
pub(crate) fn wildcard_suffix(host: &str) -> Option<&str> {
    let (first, rest) = host.split_once('.')?;
    (!first.is_empty() && !rest.is_empty()).then_some(rest)
}

/// RFC 1123 subdomain as Kubernetes checks it: at most 253 characters, dot-separated labels of
/// lower-case alphanumerics and `-`, each 1–63 long, starting and ending alphanumeric.
pub(crate) fn is_dns1123_subdomain(name: &str) -> bool {
    !name.is_empty() && name.len() <= 253 && name.split('.').all(is_dns1123_label)
}

fn is_dns1123_label(label: &str) -> bool {
    let bytes = label.as_bytes();
    let alnum = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes.first().is_some_and(alnum)
        && bytes.last().is_some_and(alnum)
        && bytes.iter().all(|b| alnum(b) || *b == b'-')
}

/// RFC 1035 label (Service names): like a DNS-1123 label but starting with a letter.
pub(crate) fn is_dns1035_label(name: &str) -> bool {
    is_dns1123_label(name) && name.as_bytes()[0].is_ascii_lowercase()
}

impl fmt::Display for HostPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_written())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_exact_and_single_label_wildcards() {
        assert_eq!(
            HostPattern::parse("foo.bar.com"),
            Ok(HostPattern::Exact("foo.bar.com".into()))
        );
        assert_eq!(
            HostPattern::parse("*.bar.com"),
            Ok(HostPattern::Wildcard("*.bar.com".into()))
        );
    }

    #[test]
    fn rejects_upper_case_ip_addresses_and_inner_wildcards() {
        for bad in [
            "Foo.com", "foo..com", "-a.com", "a-.com", "*", "*.", "a.*.com", "foo.com.",
        ] {
            assert!(
                matches!(
                    HostPattern::parse(bad),
                    Err(InvalidField::HostNotDns1123(_))
                ),
                "{bad}"
            );
        }
        assert!(matches!(
            HostPattern::parse("10.1.2.3"),
            Err(InvalidField::HostIsIpAddress(_))
        ));
        assert!(matches!(
            HostPattern::parse("::1"),
            Err(InvalidField::HostIsIpAddress(_))
        ));
    }

    #[test]
    fn wildcard_matches_exactly_one_extra_label() {
        let w = HostPattern::parse("*.bar.com").unwrap();
        assert!(w.matches("x.bar.com"));
        assert!(!w.matches("bar.com"));
        assert!(!w.matches("y.x.bar.com"));
    }
}
