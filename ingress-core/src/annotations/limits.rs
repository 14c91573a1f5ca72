//! Per-client limits: `limit-rps`, `limit-rpm`, `limit-connections`, `limit-burst-multiplier`
//! and `limit-whitelist` (also read as `limit-allowlist`), with ingress-nginx's semantics.
//!
//! ingress-nginx turns these into nginx's `limit_conn` and `limit_req … burst=B nodelay`,
//! keyed by the client address (the one the realip rules resolved), in zones of their own for
//! each Ingress, in each replica. Here:
//!
//! - **`limit-rps: N` / `limit-rpm: N`:** a leaky bucket of rate `N` per second (per minute)
//!   that holds `N × limit-burst-multiplier` requests (multiplier default `5`): a client may
//!   send `burst + 1` requests at once, then `N` a second (a minute); the others are answered
//!   at once with `limit-req-status-code` (ConfigMap, default `503`), never delayed (nginx's
//!   `nodelay`). Both may be set; a request must pass both.
//! - **`limit-connections: N`:** at most `N` requests of one client in progress at a time on
//!   this Ingress's paths (nginx's `limit_conn`, which counts a request from the moment its
//!   head is read until its response is sent); the others get `limit-conn-status-code`
//!   (default `503`).
//! - **`limit-whitelist`:** clients in these ranges are never limited.
//! - `0` (the default) or a negative value means no limit, as in ingress-nginx.
//!
//! [`RequestRate::admit`] is the bucket, as a pure step function over a stored value and the
//! current time (the proxy keeps one value per client and zone, and says how its memory stays
//! bounded).
//!
//! ```
//! use ingress_core::annotations::RequestRate;
//! use std::time::Duration;
//!
//! // limit-rps: 2 with limit-burst-multiplier: 1: three at once, then one every 500 ms.
//! let rate = RequestRate::per_second(2, 1).unwrap();
//! let mut state = None;
//! let mut admitted = 0;
//! for _ in 0..10 {
//!     if let Some(next) = rate.admit(state, 0) {
//!         state = Some(next);
//!         admitted += 1;
//!     }
//! }
//! assert_eq!(admitted, 3);
//! let half_second = Duration::from_millis(500).as_nanos() as u64;
//! assert!(rate.admit(state, half_second - 1).is_none());
//! assert!(rate.admit(state, half_second).is_some());
//! ```

use std::sync::Arc;
use std::time::Duration;

use super::values::Reader;

/// ingress-nginx's default `limit-burst-multiplier`.
pub const DEFAULT_BURST_MULTIPLIER: u32 = 5;

/// One request-rate limit: the leaky bucket of nginx's `limit_req … burst=B nodelay`, in the
/// equivalent GCRA form (a "theoretical arrival time" per client instead of nginx's excess
/// counter; the same decisions, tested against nginx's formulation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RequestRate {
    /// Nanoseconds the bucket takes to drain one request (`1 s / N`, `1 min / N`).
    interval: u64,
    /// Nanoseconds of backlog tolerated: `burst × interval`.
    tolerance: u64,
    /// The limit as written, for messages.
    limit: u32,
    /// The burst, as ingress-nginx computes it (`limit × multiplier`).
    burst: u32,
}

impl RequestRate {
    /// `limit` requests a second with `limit × multiplier` in the bucket; `None` for `0`.
    pub fn per_second(limit: u32, multiplier: u32) -> Option<RequestRate> {
        RequestRate::new(limit, multiplier, Duration::from_secs(1))
    }

    /// `limit` requests a minute with `limit × multiplier` in the bucket; `None` for `0`.
    pub fn per_minute(limit: u32, multiplier: u32) -> Option<RequestRate> {
        RequestRate::new(limit, multiplier, Duration::from_secs(60))
    }

    fn new(limit: u32, multiplier: u32, period: Duration) -> Option<RequestRate> {
        if limit == 0 {
            return None;
        }
        // A period is at most a minute: 6e10 ns fits u64 with room.
        let period = u64::try_from(period.as_nanos()).unwrap_or(u64::MAX);
        let interval = (period / u64::from(limit)).max(1);
        let burst = limit.saturating_mul(multiplier);
        Some(RequestRate {
            interval,
            tolerance: interval.saturating_mul(u64::from(burst)),
            limit,
            burst,
        })
    }

    /// The limit as written (`limit-rps`, `limit-rpm`).
    pub fn limit(&self) -> u32 {
        self.limit
    }

    /// Requests accepted at once beyond the first (`limit × limit-burst-multiplier`).
    pub fn burst(&self) -> u32 {
        self.burst
    }

    /// One request at `now` (nanoseconds on any monotonic clock) against a client's stored
    /// value (`None`: never seen, or forgotten): `Some(value to store)` when admitted, `None`
    /// when over the limit (the stored value is then left as it was, as nginx leaves its
    /// excess). A stored value at or before `now` carries no backlog: dropping it changes no
    /// decision, which is what lets the proxy forget idle clients.
    pub fn admit(&self, stored: Option<u64>, now: u64) -> Option<u64> {
        let arrival = stored.map_or(now, |tat| tat.max(now));
        // Backlog already queued, beyond this request, may not exceed the tolerance.
        if arrival - now > self.tolerance {
            return None;
        }
        Some(arrival.saturating_add(self.interval))
    }
}

/// The limits of one Ingress's paths.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitPolicy {
    /// The zone the per-client state lives in: `namespace/name` of the Ingress (ingress-nginx
    /// names its zones after the Ingress too, so two Ingresses never share a client's count).
    pub zone: Arc<str>,
    /// `limit-rps`.
    pub rps: Option<RequestRate>,
    /// `limit-rpm`.
    pub rpm: Option<RequestRate>,
    /// `limit-connections`: requests of one client in progress at once.
    pub connections: Option<u32>,
    /// `limit-whitelist` / `limit-allowlist`: never limited.
    pub allowlist: crate::CidrList,
}

impl LimitPolicy {
    /// Whether `client` is subject to these limits.
    pub fn applies_to(&self, client: std::net::IpAddr) -> bool {
        !self.allowlist.contains(client)
    }
}

impl Reader<'_> {
    /// The `limit-*` annotations, when any limit is set (the zone is filled in by the caller).
    pub(super) fn limits(&mut self) -> Option<LimitPolicy> {
        // ingress-nginx limits only when the value is above 0: a negative one limits nothing.
        let count = |read: &mut Self, name: &str| {
            read.integer(name)
                .map(|value| u32::try_from(value.max(0)).unwrap_or(u32::MAX))
        };
        let multiplier = count(self, "limit-burst-multiplier")
            .filter(|&m| m > 0)
            .unwrap_or(DEFAULT_BURST_MULTIPLIER);
        let rps = count(self, "limit-rps").and_then(|n| RequestRate::per_second(n, multiplier));
        let rpm = count(self, "limit-rpm").and_then(|n| RequestRate::per_minute(n, multiplier));
        let connections = count(self, "limit-connections").filter(|&n| n > 0);
        let allowlist = self
            .cidr_list("limit-whitelist")
            .or_else(|| self.cidr_list("limit-allowlist"))
            .unwrap_or_default();
        if rps.is_none() && rpm.is_none() && connections.is_none() {
            return None;
        }
        Some(LimitPolicy {
            zone: Arc::from(""),
            rps,
            rpm,
            connections,
            allowlist,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// nginx's own formulation (`ngx_http_limit_req_lookup`, in nanoseconds instead of
    /// milliseconds): an excess counter that drains at the rate, `0` for a new client, `+1`
    /// request per admitted one, over `burst` refused.
    #[derive(Default)]
    struct NginxExcess {
        state: Option<(i128, u64)>,
    }

    impl NginxExcess {
        fn admit(&mut self, rate: &RequestRate, now: u64) -> bool {
            let interval = i128::from(rate.interval);
            let Some((excess, last)) = self.state else {
                self.state = Some((0, now));
                return true;
            };
            let elapsed = i128::from(now.saturating_sub(last));
            let excess = (excess - elapsed + interval).max(0);
            if excess > i128::from(rate.burst) * interval {
                return false;
            }
            self.state = Some((excess, now));
            true
        }
    }

    proptest! {
        #[test]
        fn the_bucket_decides_as_nginx_s_excess_counter_does(
            limit in 1u32..50,
            multiplier in 0u32..6,
            per_minute in any::<bool>(),
            gaps in proptest::collection::vec(0u64..400_000_000, 1..200),
        ) {
            let rate = match per_minute {
                true => RequestRate::per_minute(limit, multiplier),
                false => RequestRate::per_second(limit, multiplier),
            }
            .expect("limit > 0");
            let mut model = NginxExcess::default();
            let mut stored = None;
            let mut now = 1_000_000_000u64;
            for gap in gaps {
                now += gap;
                let ours = rate.admit(stored, now);
                prop_assert_eq!(ours.is_some(), model.admit(&rate, now), "at {}", now);
                if let Some(next) = ours {
                    stored = Some(next);
                }
            }
        }

        #[test]
        fn a_stored_value_in_the_past_decides_as_no_value(
            limit in 1u32..1000,
            multiplier in 0u32..10,
            stored in 0u64..1_000_000,
            now in 1_000_000u64..2_000_000,
        ) {
            let rate = RequestRate::per_second(limit, multiplier).expect("limit > 0");
            prop_assert_eq!(rate.admit(Some(stored), now), rate.admit(None, now));
        }
    }

    #[test]
    fn zero_is_no_limit_and_the_burst_is_the_limit_times_the_multiplier() {
        assert_eq!(RequestRate::per_second(0, 5), None);
        let rate = RequestRate::per_minute(300, 5).expect("limit");
        assert_eq!((rate.limit(), rate.burst()), (300, 1500));
        assert_eq!(rate.interval, 200_000_000);
    }
}
