//! Leader election on a coordination.k8s.io/v1 Lease, the way client-go's `leaderelection` does
//! it: read the Lease, take it if it is free or its holder has not renewed within
//! `leaseDurationSeconds` (measured on our own clock from when we saw the record change, so
//! clock skew between nodes does not matter), and write with the read `resourceVersion` so two
//! candidates cannot both win (the loser gets 409 Conflict).
//!
//! Timing, as client-go's (`LeaseDuration`, `RenewDeadline`, `RetryPeriod`):
//! - every replica tries every `retry_period` (2 s by default): the leader renews, a standby
//!   reads the Lease, so it takes a released Lease within one period and an expired one
//!   within `duration` + two periods of the leader's last renewal;
//! - a leader whose renewals keep failing (API errors, conflicts, timeouts) keeps leading until
//!   `renew_deadline` has passed since its last successful renewal, then steps down (it must be
//!   less than `duration`, so it stops before anyone else may take over);
//! - on shutdown the leader hands the Lease back.
//!
//! kube-lease-manager (which supports kube 5) decides conflicts through server-side-apply field
//! ownership instead; this module needs only GET, POST and PUT with optimistic concurrency.

use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::api::PostParams;
use kube::{Api, Client};
use tokio::sync::watch;

/// Lease timing and identity.
#[derive(Debug, Clone)]
pub struct LeaseConfig {
    /// Lease name (one per controller deployment).
    pub name: String,
    /// Namespace of the Lease (the controller's own).
    pub namespace: String,
    /// This replica's identity (the pod name).
    pub identity: String,
    /// How long a holder's claim lasts without renewal (`--election-ttl`, 30 s as
    /// ingress-nginx).
    pub duration: Duration,
    /// How long a leader keeps leading while its renewals fail (15 s by default: half the
    /// TTL, as ingress-nginx).
    pub renew_deadline: Duration,
    /// How often the leader renews and the others retry (2 s by default, client-go's).
    pub retry_period: Duration,
}

impl LeaseConfig {
    /// The timings for `duration` (`--election-ttl`): a renew deadline of half of it, as
    /// ingress-nginx, and client-go's 2 s retry period (less when the TTL is very short).
    pub fn timings(duration: Duration) -> (Duration, Duration) {
        let renew_deadline = duration / 2;
        let retry_period = Duration::from_secs(2).min(duration / 4);
        (renew_deadline, retry_period)
    }
}

/// Whether a leader whose last attempt failed still leads: only until `renew_deadline` has
/// passed since its last successful renewal.
fn still_leading(last_renewed: Option<Instant>, now: Instant, renew_deadline: Duration) -> bool {
    last_renewed.is_some_and(|at| now.duration_since(at) < renew_deadline)
}

/// One attempt's result.
enum Attempt {
    /// We hold the Lease (taken or renewed).
    Holding,
    /// Another replica holds an unexpired Lease.
    HeldByOther,
    /// Our write lost a race (409): decided by the next attempt.
    Conflict,
}

/// What we last saw of the Lease, and when (on our clock).
struct Observed {
    holder: Option<String>,
    renew_time: Option<MicroTime>,
    duration: Duration,
    at: Instant,
}

/// Runs the election until `shutdown`, publishing whether we lead on `leading`. On shutdown a
/// leader gives the Lease up, so another replica takes over without waiting for it to expire.
pub(crate) async fn run_election(
    client: Client,
    config: LeaseConfig,
    leading: watch::Sender<bool>,
    mut shutdown: watch::Receiver<bool>,
) {
    let api: Api<Lease> = Api::namespaced(client, &config.namespace);
    let mut observed: Option<Observed> = None;
    let mut last_renewed: Option<Instant> = None;
    loop {
        // Bounded: a hung request must not keep a leader leading past its deadline.
        let attempt = tokio::time::timeout(
            config.renew_deadline.max(config.retry_period),
            try_acquire_or_renew(&api, &config, &mut observed),
        )
        .await;
        let now = Instant::now();
        let now_leading = match attempt {
            Ok(Ok(Attempt::Holding)) => {
                last_renewed = Some(now);
                true
            }
            Ok(Ok(Attempt::HeldByOther)) => {
                last_renewed = None;
                false
            }
            Ok(Ok(Attempt::Conflict)) => still_leading(last_renewed, now, config.renew_deadline),
            Ok(Err(error)) => {
                tracing::warn!(%error, lease = %config.name, "lease update failed");
                still_leading(last_renewed, now, config.renew_deadline)
            }
            Err(_timeout) => {
                tracing::warn!(lease = %config.name, "lease update timed out");
                still_leading(last_renewed, now, config.renew_deadline)
            }
        };
        if !now_leading {
            last_renewed = None;
        }
        if *leading.borrow() != now_leading {
            tracing::info!(identity = %config.identity, leading = now_leading, "leadership changed");
            leading.send_replace(now_leading);
        }
        tokio::select! {
            _ = tokio::time::sleep(config.retry_period) => {}
            _ = shutdown.wait_for(|stop| *stop) => break,
        }
    }
    if *leading.borrow() {
        leading.send_replace(false);
        if let Err(error) = release(&api, &config).await {
            tracing::warn!(%error, "releasing the lease failed; it will expire");
        }
    }
}

async fn try_acquire_or_renew(
    api: &Api<Lease>,
    config: &LeaseConfig,
    observed: &mut Option<Observed>,
) -> Result<Attempt, kube::Error> {
    let now = Instant::now();
    let lease = match api.get_opt(&config.name).await? {
        Some(lease) => lease,
        None => {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(config.name.clone()),
                    namespace: Some(config.namespace.clone()),
                    ..ObjectMeta::default()
                },
                spec: Some(claim(config, None, 0)),
            };
            return match api.create(&write_params(), &lease).await {
                Ok(_) => Ok(Attempt::Holding),
                Err(kube::Error::Api(status)) if status.code == 409 => Ok(Attempt::Conflict),
                Err(error) => Err(error),
            };
        }
    };
    let spec = lease.spec.clone().unwrap_or_default();
    let holder = spec.holder_identity.clone().filter(|h| !h.is_empty());
    let changed = observed
        .as_ref()
        .is_none_or(|o| o.holder != holder || o.renew_time != spec.renew_time);
    if changed {
        *observed = Some(Observed {
            holder: holder.clone(),
            renew_time: spec.renew_time.clone(),
            duration: Duration::from_secs(
                spec.lease_duration_seconds
                    .unwrap_or(0)
                    .max(0)
                    .unsigned_abs()
                    .into(),
            ),
            at: now,
        });
    }
    let ours = holder.as_deref() == Some(config.identity.as_str());
    let expired = observed
        .as_ref()
        .is_some_and(|o| now.duration_since(o.at) > o.duration);
    if !(ours || holder.is_none() || expired) {
        return Ok(Attempt::HeldByOther);
    }
    let transitions = spec.lease_transitions.unwrap_or(0) + i32::from(!ours);
    let mut updated = lease;
    updated.spec = Some(claim(
        config,
        if ours { spec.acquire_time } else { None },
        transitions,
    ));
    // `replace` sends the resourceVersion we read: a concurrent writer makes this a 409.
    match api.replace(&config.name, &write_params(), &updated).await {
        Ok(written) => {
            let spec = written.spec.unwrap_or_default();
            *observed = Some(Observed {
                holder: spec.holder_identity,
                renew_time: spec.renew_time,
                duration: config.duration,
                at: Instant::now(),
            });
            Ok(Attempt::Holding)
        }
        Err(kube::Error::Api(status)) if status.code == 409 => Ok(Attempt::Conflict),
        Err(error) => Err(error),
    }
}

fn claim(config: &LeaseConfig, acquired: Option<MicroTime>, transitions: i32) -> LeaseSpec {
    let now = MicroTime(Timestamp::now());
    LeaseSpec {
        holder_identity: Some(config.identity.clone()),
        lease_duration_seconds: Some(duration_seconds(config.duration)),
        acquire_time: Some(acquired.unwrap_or_else(|| now.clone())),
        renew_time: Some(now),
        lease_transitions: Some(transitions),
        ..LeaseSpec::default()
    }
}

/// Whole seconds, rounded up, at least 1 (the Lease field's unit).
fn duration_seconds(duration: Duration) -> i32 {
    let seconds = duration.as_secs() + u64::from(duration.subsec_nanos() > 0);
    i32::try_from(seconds.max(1)).unwrap_or(i32::MAX)
}

async fn release(api: &Api<Lease>, config: &LeaseConfig) -> Result<(), kube::Error> {
    let Some(mut lease) = api.get_opt(&config.name).await? else {
        return Ok(());
    };
    let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
    if spec.holder_identity.as_deref() != Some(config.identity.as_str()) {
        return Ok(());
    }
    spec.holder_identity = None;
    spec.renew_time = None;
    spec.acquire_time = None;
    api.replace(&config.name, &write_params(), &lease).await?;
    Ok(())
}

/// Lease writes name this controller as their field manager.
fn write_params() -> PostParams {
    PostParams {
        field_manager: Some(super::FIELD_MANAGER.to_owned()),
        ..PostParams::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failing_leader_leads_until_its_renew_deadline() {
        let renewed = Instant::now();
        let deadline = Duration::from_secs(15);
        let after = |s| renewed + Duration::from_secs(s);
        assert!(still_leading(Some(renewed), after(1), deadline));
        assert!(still_leading(Some(renewed), after(14), deadline));
        assert!(!still_leading(Some(renewed), after(15), deadline));
        assert!(!still_leading(None, after(1), deadline), "never renewed");
    }

    #[test]
    fn timings_follow_ingress_nginx_and_client_go() {
        let (deadline, retry) = LeaseConfig::timings(Duration::from_secs(30));
        assert_eq!(
            (deadline, retry),
            (Duration::from_secs(15), Duration::from_secs(2))
        );
        let (deadline, retry) = LeaseConfig::timings(Duration::from_secs(1));
        assert_eq!(
            (deadline, retry),
            (Duration::from_millis(500), Duration::from_millis(250))
        );
    }
}
