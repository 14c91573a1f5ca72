//! Endpoint choice and passive health.
//!
//! Interim policy until `ingress_core::balance` lands: round-robin over the ready endpoints,
//! skipping endpoints that recently failed to connect (passive health) while any other remains.
//! Everything the request path needs goes through [`EndpointPicker`], so switching to the
//! core's policies changes only this file.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

/// Picks an endpoint per attempt and remembers failed ones for a while.
#[derive(Debug)]
pub(crate) struct EndpointPicker {
    /// Round-robin position, shared by all Services (only fairness matters, not per-Service order).
    next: AtomicUsize,
    /// Endpoints that failed to connect, with the time until which they are skipped.
    ejected: Mutex<HashMap<SocketAddr, Instant>>,
    /// Lets the hot path skip the lock while nothing is ejected.
    ejected_count: AtomicUsize,
    ejection: Duration,
}

impl EndpointPicker {
    pub(crate) fn new(ejection: Duration) -> Self {
        EndpointPicker {
            next: AtomicUsize::new(0),
            ejected: Mutex::new(HashMap::new()),
            ejected_count: AtomicUsize::new(0),
            ejection,
        }
    }

    /// The next endpoint, never `exclude` (the endpoint that just failed) when another exists,
    /// preferring endpoints not ejected.
    pub(crate) fn pick(
        &self,
        endpoints: &[SocketAddr],
        exclude: Option<SocketAddr>,
        now: Instant,
    ) -> Option<SocketAddr> {
        let len = endpoints.len();
        if len == 0 {
            return None;
        }
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let candidates = (0..len).map(|offset| endpoints[(start + offset) % len]);
        if self.ejected_count.load(Ordering::Relaxed) == 0 {
            return candidates
                .clone()
                .find(|address| Some(*address) != exclude)
                .or_else(|| candidates.clone().next());
        }
        let ejected = self.ejected.lock().unwrap_or_else(PoisonError::into_inner);
        let healthy = |address: &SocketAddr| ejected.get(address).is_none_or(|until| *until <= now);
        candidates
            .clone()
            .find(|address| Some(*address) != exclude && healthy(address))
            .or_else(|| candidates.clone().find(|address| Some(*address) != exclude))
            .or_else(|| candidates.clone().next())
    }

    /// An attempt to `address` failed before the request was sent.
    pub(crate) fn report_failure(&self, address: SocketAddr, now: Instant) {
        let mut ejected = self.ejected.lock().unwrap_or_else(PoisonError::into_inner);
        ejected.retain(|_, until| *until > now);
        ejected.insert(address, now + self.ejection);
        self.ejected_count.store(ejected.len(), Ordering::Relaxed);
    }

    /// `address` answered: it is healthy again.
    pub(crate) fn report_success(&self, address: SocketAddr) {
        if self.ejected_count.load(Ordering::Relaxed) == 0 {
            return;
        }
        let mut ejected = self.ejected.lock().unwrap_or_else(PoisonError::into_inner);
        ejected.remove(&address);
        self.ejected_count.store(ejected.len(), Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addresses(n: u16) -> Vec<SocketAddr> {
        (0..n)
            .map(|i| SocketAddr::from(([127, 0, 0, 1], 8000 + i)))
            .collect()
    }

    #[test]
    fn round_robin_visits_every_endpoint() {
        let picker = EndpointPicker::new(Duration::from_secs(10));
        let endpoints = addresses(3);
        let now = Instant::now();
        let mut seen: Vec<_> = (0..3)
            .filter_map(|_| picker.pick(&endpoints, None, now))
            .collect();
        seen.sort();
        assert_eq!(seen, endpoints);
    }

    #[test]
    fn the_failed_endpoint_is_excluded_from_the_retry() {
        let picker = EndpointPicker::new(Duration::from_secs(10));
        let endpoints = addresses(2);
        let now = Instant::now();
        for _ in 0..4 {
            assert_eq!(
                picker.pick(&endpoints, Some(endpoints[0]), now),
                Some(endpoints[1])
            );
        }
    }

    #[test]
    fn ejected_endpoints_are_skipped_until_the_ejection_ends_or_they_answer() {
        let picker = EndpointPicker::new(Duration::from_secs(10));
        let endpoints = addresses(2);
        let now = Instant::now();
        picker.report_failure(endpoints[0], now);
        for _ in 0..4 {
            assert_eq!(picker.pick(&endpoints, None, now), Some(endpoints[1]));
        }
        let later = now + Duration::from_secs(11);
        let mut seen: Vec<_> = (0..2)
            .filter_map(|_| picker.pick(&endpoints, None, later))
            .collect();
        seen.sort();
        assert_eq!(seen, endpoints);
        picker.report_failure(endpoints[0], now);
        picker.report_success(endpoints[0]);
        let mut seen: Vec<_> = (0..2)
            .filter_map(|_| picker.pick(&endpoints, None, now))
            .collect();
        seen.sort();
        assert_eq!(seen, endpoints);
    }

    #[test]
    fn a_single_ejected_endpoint_is_still_used() {
        let picker = EndpointPicker::new(Duration::from_secs(10));
        let endpoints = addresses(1);
        let now = Instant::now();
        picker.report_failure(endpoints[0], now);
        assert_eq!(picker.pick(&endpoints, None, now), Some(endpoints[0]));
    }
}
