//! When a request goes on to another endpoint: `proxy-next-upstream` (nginx's
//! `proxy_next_upstream`), `proxy-next-upstream-tries` and `proxy-next-upstream-timeout`.
//!
//! ```
//! use ingress_core::annotations::NextUpstream;
//!
//! let next = NextUpstream::parse_conditions("error timeout http_503").unwrap();
//! assert!(next.error && next.timeout && next.retries_status(503));
//! assert!(!next.retries_status(502) && !next.non_idempotent);
//! assert!(NextUpstream::parse_conditions("error sometimes").is_err());
//! let off = NextUpstream::parse_conditions("off").unwrap();
//! assert!(!off.error && !off.timeout);
//! ```

use std::time::Duration;

use super::values::Reader;

/// The retry conditions and budget of a route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NextUpstream {
    /// `error`: the endpoint could not be connected to, or failed before the request went
    /// out.
    pub error: bool,
    /// `timeout`: connecting to the endpoint timed out.
    pub timeout: bool,
    /// `http_500`, `http_502`, `http_503`, `http_504`, `http_403`, `http_404`, `http_429`: a
    /// response with this status is discarded and the request sent to the next endpoint (when
    /// it has no body, so it can be sent again).
    pub statuses: Vec<u16>,
    /// `non_idempotent`: also retry `POST`, `PATCH` and other non-idempotent methods.
    pub non_idempotent: bool,
    /// `proxy-next-upstream-tries`: attempts in all, the first included; `0` is no limit.
    /// `None`: the global default (ingress-nginx's `3`).
    pub tries: Option<u32>,
    /// `proxy-next-upstream-timeout`: no new attempt after this long; `None` or zero: no limit.
    pub timeout_total: Option<Duration>,
}

/// ingress-nginx's default `proxy-next-upstream`: `error timeout`, 3 tries, no time limit.
impl Default for NextUpstream {
    fn default() -> Self {
        NextUpstream {
            error: true,
            timeout: true,
            statuses: Vec::new(),
            non_idempotent: false,
            tries: None,
            timeout_total: None,
        }
    }
}

const STATUSES: &[u16] = &[500, 502, 503, 504, 403, 404, 429];

impl NextUpstream {
    /// Parses a space-separated `proxy-next-upstream` list; the error names the token it
    /// does not know. `off` alone retries nothing.
    pub fn parse_conditions(value: &str) -> Result<NextUpstream, String> {
        let mut next = NextUpstream {
            error: false,
            timeout: false,
            ..NextUpstream::default()
        };
        for token in value.split_ascii_whitespace() {
            match token {
                "error" => next.error = true,
                "timeout" => next.timeout = true,
                "non_idempotent" => next.non_idempotent = true,
                "off" => {}
                // nginx's `invalid_header`: this proxy reports an invalid response head as
                // an error of the attempt, so `error` covers it.
                "invalid_header" => next.error = true,
                other => {
                    let status = other
                        .strip_prefix("http_")
                        .and_then(|code| code.parse::<u16>().ok())
                        .filter(|code| STATUSES.contains(code))
                        .ok_or_else(|| {
                            format!("{other:?} is not a proxy-next-upstream condition")
                        })?;
                    next.statuses.push(status);
                }
            }
        }
        Ok(next)
    }

    /// Whether a response with `status` goes on to the next endpoint.
    pub fn retries_status(&self, status: u16) -> bool {
        self.statuses.contains(&status)
    }

    /// Attempts allowed in all (`tries`, else 3; `0` is no limit).
    pub fn max_attempts(&self) -> u32 {
        match self.tries.unwrap_or(3) {
            0 => u32::MAX,
            tries => tries,
        }
    }
}

impl Reader<'_> {
    /// The `proxy-next-upstream*` annotations, when any is set.
    pub(super) fn next_upstream(&mut self) -> Option<NextUpstream> {
        let conditions = self.parse_value(
            "proxy-next-upstream",
            "expected conditions among error, timeout, invalid_header, http_500, http_502, http_503, http_504, http_403, http_404, http_429, non_idempotent, off",
            |v| NextUpstream::parse_conditions(v).ok(),
        );
        let tries = self
            .integer("proxy-next-upstream-tries")
            .and_then(|t| u32::try_from(t).ok());
        let timeout_total = self.seconds("proxy-next-upstream-timeout");
        if conditions.is_none() && tries.is_none() && timeout_total.is_none() {
            return None;
        }
        Some(NextUpstream {
            tries,
            timeout_total: timeout_total.filter(|t| !t.is_zero()),
            ..conditions.unwrap_or_default()
        })
    }
}
