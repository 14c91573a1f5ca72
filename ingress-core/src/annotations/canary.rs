//! Canary releases (`canary: "true"`): a second Ingress for the same host and path whose
//! backend takes part of the main Ingress's traffic, decided per request in ingress-nginx's
//! order — the header, then the cookie, then the weight.
//!
//! - `canary-by-header: NAME`: a request whose header `NAME` is `always` goes to the canary,
//!   `never` to the main backend. With `canary-by-header-value: V`, only the value `V` selects
//!   the canary; with `canary-by-header-pattern: RE` (when no value is set), a value the
//!   regular expression matches anywhere. Any other value falls through to the next rule.
//! - `canary-by-cookie: NAME`: cookie `NAME` with `always` or `never`, the same way.
//! - `canary-weight: W` of `canary-weight-total: T` (default 100): the canary gets a request
//!   when a roll in `1..=T` is at most `W`.
//!
//! ```
//! use ingress_core::annotations::CanaryPolicy;
//! use std::collections::BTreeMap;
//!
//! let annotations: BTreeMap<String, String> = [
//!     ("canary", "true"), ("canary-by-header", "X-Canary"), ("canary-weight", "10"),
//! ].iter().map(|(k, v)| (format!("nginx.ingress.kubernetes.io/{k}"), v.to_string())).collect();
//! let (canary, invalid) = CanaryPolicy::parse(&annotations);
//! let canary = canary.expect("a canary");
//! assert!(invalid.is_empty());
//! // The header decides first; a value other than always/never falls through to the weight.
//! assert!(canary.selects(Some("always"), None, || 100));
//! assert!(!canary.selects(Some("never"), None, || 1));
//! assert!(canary.selects(Some("maybe"), None, || 10));
//! assert!(!canary.selects(None, None, || 11));
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use super::policy::InvalidAnnotation;
use super::values::Reader;

/// When a request goes to the canary backend instead of the main one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CanaryPolicy {
    /// `canary-by-header`, lower-cased.
    pub header: Option<Arc<str>>,
    /// `canary-by-header-value`.
    pub header_value: Option<Arc<str>>,
    /// `canary-by-header-pattern` (used only without a header value).
    pub header_pattern: Option<HeaderPattern>,
    /// `canary-by-cookie`.
    pub cookie: Option<Arc<str>>,
    /// `canary-weight`.
    pub weight: u32,
    /// `canary-weight-total` (default 100; ingress-nginx uses 100 for anything smaller).
    pub weight_total: u32,
}

/// A compiled `canary-by-header-pattern` (the `regex` crate; case-sensitive, unanchored, as
/// `ngx.re.match` without options).
#[derive(Clone)]
pub struct HeaderPattern(regex::Regex);

impl HeaderPattern {
    /// Whether the pattern matches anywhere in `value`.
    pub fn is_match(&self, value: &str) -> bool {
        self.0.is_match(value)
    }
}

impl PartialEq for HeaderPattern {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_str() == other.0.as_str()
    }
}

impl Eq for HeaderPattern {}

impl fmt::Debug for HeaderPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HeaderPattern({:?})", self.0.as_str())
    }
}

impl CanaryPolicy {
    /// The canary policy of an Ingress, if it is one (`canary: "true"`), and every invalid
    /// value among the canary annotations.
    pub fn parse(
        annotations: &BTreeMap<String, String>,
    ) -> (Option<CanaryPolicy>, Vec<InvalidAnnotation>) {
        let mut read = Reader::new(annotations);
        let policy = read.canary();
        (policy, read.invalid)
    }

    /// Whether this request goes to the canary: `header` is the value of the
    /// `canary-by-header` field, `cookie` that of the `canary-by-cookie` cookie, and `roll`
    /// draws a number in `1..=weight_total` (called only when the weight decides).
    pub fn selects(
        &self,
        header: Option<&str>,
        cookie: Option<&str>,
        roll: impl FnOnce() -> u32,
    ) -> bool {
        if let Some(value) = header.filter(|_| self.header.is_some()) {
            if let Some(wanted) = &self.header_value {
                if **wanted == *value {
                    return true;
                }
            } else if let Some(pattern) = &self.header_pattern {
                if pattern.is_match(value) {
                    return true;
                }
            } else if value == "always" {
                return true;
            } else if value == "never" {
                return false;
            }
        }
        match cookie.filter(|_| self.cookie.is_some()) {
            Some("always") => return true,
            Some("never") => return false,
            _ => {}
        }
        self.weight > 0 && roll() <= self.weight
    }
}

impl Reader<'_> {
    /// The canary annotations, when `canary` is true.
    fn canary(&mut self) -> Option<CanaryPolicy> {
        if !self.boolean("canary").unwrap_or(false) {
            return None;
        }
        let weight_total = self
            .integer("canary-weight-total")
            .and_then(|t| u32::try_from(t).ok())
            .filter(|t| *t > 100)
            .unwrap_or(100);
        let weight = self
            .integer("canary-weight")
            .and_then(|w| u32::try_from(w).ok())
            .unwrap_or(0)
            .min(weight_total);
        let header_pattern = self.parse_value(
            "canary-by-header-pattern",
            "expected a regular expression",
            |v| regex::Regex::new(v).ok().map(HeaderPattern),
        );
        Some(CanaryPolicy {
            header: self
                .token("canary-by-header")
                .map(|h| h.to_ascii_lowercase().into()),
            header_value: self.text("canary-by-header-value"),
            header_pattern,
            cookie: self.token("canary-by-cookie"),
            weight,
            weight_total,
        })
    }
}
