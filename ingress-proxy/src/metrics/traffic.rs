//! Recent traffic per Ingress and per Service, for `/api/traffic` and the dashboard's charts:
//! the proxy's own counters, sampled once a second into a bounded ring, so no Prometheus
//! server is needed to see where the requests, the errors and the latency are right now.
//!
//! Each route's series ([`super::RouteLabels`]) counts requests, errors (responses with a
//! `5xx` status) and a latency histogram in [`BUCKET_BOUNDS`] (the same bounds as
//! `ingress_request_duration_seconds`). Every second [`TrafficHistory::sample`] takes the
//! difference since the last second, sums it per Ingress (`namespace/name`) and per Service
//! (`namespace/name`; `-` for requests no Ingress rule or no Service took: the default
//! backend, the built-in `404`), and appends one [`Sample`]: requests, errors, and p50/p99 estimated
//! from the second's histogram as Prometheus's `histogram_quantile` does (linear within the
//! bucket).
//!
//! Memory is bounded: each series keeps the last [`WINDOW`] samples; a series idle for a whole
//! window is dropped; at most [`MAX_SERIES`] series of each kind are kept (the oldest-named
//! beyond are not sampled, which the response says with `truncated`).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Mutex;
use std::sync::PoisonError;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{Value, json};

use super::RouteLabels;

/// Upper bounds of the latency buckets, in seconds (0.5 ms doubling to ≈16 s); one more
/// bucket counts everything slower.
pub(crate) const BUCKET_BOUNDS: [f64; 16] = {
    let mut bounds = [0.0005; 16];
    let mut i = 1;
    while i < 16 {
        bounds[i] = bounds[i - 1] * 2.0;
        i += 1;
    }
    bounds
};

/// Samples kept per series: five minutes at one a second.
pub(crate) const WINDOW: usize = 300;

/// Most series of each kind (Ingresses, Services) sampled.
pub(crate) const MAX_SERIES: usize = 1024;

const BUCKETS: usize = BUCKET_BOUNDS.len() + 1;

/// One route's cumulative counters, updated on every finished request.
#[derive(Debug, Default)]
pub(crate) struct RouteTraffic {
    requests: AtomicU64,
    errors: AtomicU64,
    buckets: [AtomicU64; BUCKETS],
}

/// A snapshot of [`RouteTraffic`] (or a difference of two).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Totals {
    requests: u64,
    errors: u64,
    buckets: [u64; BUCKETS],
}

/// One second of one series.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Sample {
    /// Unix time (seconds) at the end of the second.
    pub(crate) time: u64,
    /// Requests finished in the second.
    pub(crate) requests: u64,
    /// Of which answered `5xx`.
    pub(crate) errors: u64,
    /// Median latency (seconds); `None` without requests.
    pub(crate) p50: Option<f64>,
    /// 99th percentile latency (seconds); `None` without requests.
    pub(crate) p99: Option<f64>,
}

#[derive(Debug, Default)]
struct Series {
    /// Requests and errors since the series started.
    total: (u64, u64),
    samples: VecDeque<Sample>,
}

#[derive(Debug, Default)]
struct History {
    /// Each route's counters at the previous sample.
    last: HashMap<RouteLabels, Totals, foldhash::fast::RandomState>,
    ingresses: BTreeMap<String, Series>,
    services: BTreeMap<String, Series>,
    truncated: bool,
    /// The previous sample's time: sample times strictly increase, so a poller's `since`
    /// never skips one (a wall clock may repeat a second).
    last_time: Option<u64>,
}

/// The sampled history (one lock, taken once a second and per `/api/traffic` request).
#[derive(Debug, Default)]
pub(crate) struct TrafficHistory {
    history: Mutex<History>,
}

impl RouteTraffic {
    /// Counts one finished request.
    pub(crate) fn record(&self, status: u16, seconds: f64) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        if status >= 500 {
            self.errors.fetch_add(1, Ordering::Relaxed);
        }
        let bucket = BUCKET_BOUNDS
            .iter()
            .position(|bound| seconds <= *bound)
            .unwrap_or(BUCKET_BOUNDS.len());
        self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
    }

    fn totals(&self) -> Totals {
        Totals {
            requests: self.requests.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
            buckets: std::array::from_fn(|i| self.buckets[i].load(Ordering::Relaxed)),
        }
    }
}

impl Totals {
    fn since(&self, earlier: &Totals) -> Totals {
        Totals {
            requests: self.requests.saturating_sub(earlier.requests),
            errors: self.errors.saturating_sub(earlier.errors),
            buckets: std::array::from_fn(|i| self.buckets[i].saturating_sub(earlier.buckets[i])),
        }
    }

    fn add(&mut self, other: &Totals) {
        self.requests = self.requests.saturating_add(other.requests);
        self.errors = self.errors.saturating_add(other.errors);
        for (mine, theirs) in self.buckets.iter_mut().zip(other.buckets) {
            *mine = mine.saturating_add(theirs);
        }
    }

    /// The `q` quantile (0..=1) of the histogram, linear within its bucket.
    fn quantile(&self, q: f64) -> Option<f64> {
        let count: u64 = self.buckets.iter().sum();
        if count == 0 {
            return None;
        }
        let rank = q * count as f64;
        let mut below = 0u64;
        for (i, in_bucket) in self.buckets.iter().enumerate() {
            let reached = below.saturating_add(*in_bucket);
            if *in_bucket > 0 && reached as f64 >= rank {
                let Some(upper) = BUCKET_BOUNDS.get(i) else {
                    // The overflow bucket has no upper bound: its lower bound is the answer.
                    return BUCKET_BOUNDS.last().copied();
                };
                let lower = if i == 0 { 0.0 } else { BUCKET_BOUNDS[i - 1] };
                let within = (rank - below as f64) / *in_bucket as f64;
                return Some(lower + (upper - lower) * within.clamp(0.0, 1.0));
            }
            below = reached;
        }
        BUCKET_BOUNDS.last().copied()
    }
}

impl Series {
    fn push(&mut self, time: u64, second: &Totals) {
        self.total.0 = self.total.0.saturating_add(second.requests);
        self.total.1 = self.total.1.saturating_add(second.errors);
        if self.samples.len() == WINDOW {
            self.samples.pop_front();
        }
        self.samples.push_back(Sample {
            time,
            requests: second.requests,
            errors: second.errors,
            p50: second.quantile(0.5),
            p99: second.quantile(0.99),
        });
    }

    /// Idle for a whole window: nothing worth drawing.
    fn idle(&self) -> bool {
        self.samples.len() == WINDOW && self.samples.iter().all(|s| s.requests == 0)
    }

    fn to_json(&self, name: &str, since: u64) -> Value {
        let samples: Vec<Value> = self
            .samples
            .iter()
            .filter(|s| s.time > since)
            .map(|s| {
                json!({
                    "time": s.time,
                    "requests": s.requests,
                    "errors": s.errors,
                    "p50": s.p50,
                    "p99": s.p99,
                })
            })
            .collect();
        json!({
            "name": name,
            "requests_total": self.total.0,
            "errors_total": self.total.1,
            "samples": samples,
        })
    }
}

impl TrafficHistory {
    /// Appends one sample per series: what `routes` counted since the previous call.
    pub(crate) fn sample<'a>(
        &self,
        time: u64,
        routes: impl IntoIterator<Item = (&'a RouteLabels, &'a RouteTraffic)>,
    ) {
        let mut history = self.history.lock().unwrap_or_else(PoisonError::into_inner);
        let time = match history.last_time {
            Some(last) if time <= last => last.saturating_add(1),
            _ => time,
        };
        history.last_time = Some(time);
        let mut by_ingress: BTreeMap<String, Totals> = BTreeMap::new();
        let mut by_service: BTreeMap<String, Totals> = BTreeMap::new();
        for (labels, traffic) in routes {
            let now = traffic.totals();
            let before = history.last.insert(labels.clone(), now).unwrap_or_default();
            let second = now.since(&before);
            let ingress = series_name(&labels.namespace, &labels.ingress);
            let service = series_name(&labels.namespace, &labels.service);
            by_ingress.entry(ingress).or_default().add(&second);
            by_service.entry(service).or_default().add(&second);
        }
        let History {
            ingresses,
            services,
            truncated,
            ..
        } = &mut *history;
        for (series, seconds) in [(ingresses, by_ingress), (services, by_service)] {
            for (name, second) in seconds {
                if !series.contains_key(&name) {
                    if second.requests == 0 {
                        continue;
                    }
                    if series.len() >= MAX_SERIES {
                        *truncated = true;
                        continue;
                    }
                }
                series.entry(name).or_default().push(time, &second);
            }
            series.retain(|_, s| !s.idle());
        }
    }

    /// `/api/traffic`: every series with its samples newer than `since` (Unix seconds).
    pub(crate) fn to_json(&self, since: u64) -> Value {
        let history = self.history.lock().unwrap_or_else(PoisonError::into_inner);
        let list = |series: &BTreeMap<String, Series>| -> Vec<Value> {
            series
                .iter()
                .map(|(name, s)| s.to_json(name, since))
                .collect()
        };
        json!({
            "interval_seconds": 1,
            "window": WINDOW,
            "truncated": history.truncated,
            "ingresses": list(&history.ingresses),
            "services": list(&history.services),
        })
    }
}

/// `namespace/name`, or `-` for requests no Ingress rule (or no Service) took.
fn series_name(namespace: &str, name: &str) -> String {
    if name == "-" {
        "-".to_owned()
    } else {
        format!("{namespace}/{name}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(ingress: &str, service: &str) -> RouteLabels {
        RouteLabels {
            namespace: "default".into(),
            ingress: ingress.into(),
            service: service.into(),
        }
    }

    #[test]
    fn each_second_holds_that_second_s_requests_errors_and_quantiles() {
        let history = TrafficHistory::default();
        let (a, b) = (labels("web", "svc"), labels("api", "svc"));
        let (ta, tb) = (RouteTraffic::default(), RouteTraffic::default());
        for _ in 0..99 {
            ta.record(200, 0.0004);
        }
        ta.record(502, 3.0);
        tb.record(200, 0.0004);
        history.sample(10, [(&a, &ta), (&b, &tb)]);
        ta.record(200, 0.0004);
        history.sample(11, [(&a, &ta), (&b, &tb)]);

        let json = history.to_json(0);
        let web = &json["ingresses"][1];
        assert_eq!(web["name"], "default/web", "{json}");
        assert_eq!(web["requests_total"], 101);
        assert_eq!(web["errors_total"], 1);
        let first = &web["samples"][0];
        assert_eq!(
            (first["requests"].as_u64(), first["errors"].as_u64()),
            (Some(100), Some(1))
        );
        assert!(
            first["p50"].as_f64().is_some_and(|p| p <= 0.0005),
            "{first}"
        );
        assert!(
            first["p99"].as_f64().is_some_and(|p| p <= 0.0005),
            "{first}"
        );
        assert_eq!(web["samples"][1]["requests"], 1);
        // The Service sums both Ingresses' routes.
        assert_eq!(json["services"][0]["name"], "default/svc");
        assert_eq!(json["services"][0]["samples"][0]["requests"], 101);
        // `since` leaves out what a poller already has.
        assert_eq!(
            history.to_json(10)["ingresses"][1]["samples"]
                .as_array()
                .map(Vec::len),
            Some(1)
        );
    }

    #[test]
    fn requests_no_rule_took_are_one_series_named_dash() {
        let history = TrafficHistory::default();
        let unmatched = RouteLabels {
            namespace: "-".into(),
            ingress: "-".into(),
            service: "-".into(),
        };
        let traffic = RouteTraffic::default();
        traffic.record(404, 0.0001);
        history.sample(1, [(&unmatched, &traffic)]);
        let json = history.to_json(0);
        assert_eq!(json["ingresses"][0]["name"], "-", "{json}");
        assert_eq!(json["services"][0]["name"], "-", "{json}");
        assert_eq!(
            json["ingresses"][0]["errors_total"], 0,
            "a 404 is not a 5xx"
        );
    }

    #[test]
    fn quantiles_interpolate_within_the_bucket_and_cap_at_the_last_bound() {
        let mut totals = Totals::default();
        totals.buckets[0] = 50;
        totals.buckets[1] = 50;
        assert_eq!(totals.quantile(0.5), Some(0.0005));
        assert_eq!(totals.quantile(1.0), Some(0.001));
        let mut slow = Totals::default();
        slow.buckets[BUCKETS - 1] = 1;
        assert_eq!(slow.quantile(0.99), BUCKET_BOUNDS.last().copied());
        assert_eq!(Totals::default().quantile(0.5), None);
    }

    #[test]
    fn memory_is_bounded_by_the_window_and_idle_series_are_dropped() {
        let history = TrafficHistory::default();
        let route = labels("web", "svc");
        let traffic = RouteTraffic::default();
        traffic.record(200, 0.01);
        for second in 0..(WINDOW as u64 * 2) {
            history.sample(second, [(&route, &traffic)]);
            let json = history.to_json(0);
            let kept = json["ingresses"]
                .as_array()
                .and_then(|list| list.first())
                .and_then(|s| s["samples"].as_array())
                .map_or(0, Vec::len);
            assert!(kept <= WINDOW);
        }
        // One request, then a whole window of silence: the series is gone.
        assert_eq!(
            history.to_json(0)["ingresses"].as_array().map(Vec::len),
            Some(0)
        );
    }
}
