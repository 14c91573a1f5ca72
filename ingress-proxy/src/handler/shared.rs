//! The state every connection of every listener shares: the route table, the configuration,
//! the metrics, the upstream layer and endpoint picker, the access log's queue, and the
//! per-client state of the access checks (limits, remembered basic-auth successes).

use std::sync::Arc;
use std::time::Instant;

use http::HeaderValue;
use ingress_core::{Backend, PortRef, TableReader};

use super::balance::{self, EndpointPicker};
use super::upstream::{self, Upstream};
use super::{auth_answers, basic_auth, limits};
use crate::access_log::AccessLogSink;
use crate::coarse_timer::CoarseTimer;
use crate::config::{ProxyConfig, UpstreamProtocol};
use crate::error::ProxyError;
use crate::metrics::Metrics;

/// State shared by every connection of every listener.
#[derive(Debug)]
pub(crate) struct Shared {
    /// Source of the current route table.
    pub(crate) table: TableReader,
    pub(crate) config: ProxyConfig,
    pub(crate) metrics: Arc<Metrics>,
    pub(super) upstream: Upstream,
    pub(super) picker: EndpointPicker,
    /// Pre-built `Strict-Transport-Security` value (checked once at start).
    pub(super) hsts: Option<HeaderValue>,
    /// Label value for "none".
    pub(super) none: Arc<str>,
    /// An empty label value.
    pub(super) empty: Arc<str>,
    /// The access log's queue; `None` when it is off.
    pub(super) access_log: Option<AccessLogSink>,
    /// The coarse timer (request body idle timeouts).
    pub(super) timer: CoarseTimer,
    /// Per-client state of `limit-rps`, `limit-rpm` and `limit-connections`.
    pub(super) limiter: Arc<limits::Limiter>,
    /// Successful bcrypt checks of `auth-type: basic`, remembered.
    pub(super) auth_cache: basic_auth::AuthCache,
    /// Answers of `auth-url` services, remembered (`auth-cache-key`).
    pub(super) auth_answers: auth_answers::AuthAnswers,
    /// When each diagnostic in force first appeared (`/api/diagnostics`, newest first).
    pub(crate) diagnostic_ages: crate::admin::DiagnosticAges,
}

impl Shared {
    pub(crate) fn new(
        table: TableReader,
        config: ProxyConfig,
        metrics: Arc<Metrics>,
        timer: CoarseTimer,
        access_log: Option<AccessLogSink>,
    ) -> Result<Self, ProxyError> {
        let hsts = config.hsts.as_deref().and_then(|value| match HeaderValue::from_str(value) {
            Ok(value) => Some(value),
            Err(error) => {
                tracing::warn!(%error, "config field hsts is not a valid header value; HSTS disabled");
                None
            }
        });
        Ok(Shared {
            upstream: Upstream::new(&config, table.clone(), timer.clone())
                .map_err(ProxyError::UpstreamTls)?,
            timer,
            picker: EndpointPicker::new(config.passive_health_ejection),
            table,
            config,
            limiter: Arc::new(limits::Limiter::new(metrics.rate_limit_evictions.clone())),
            auth_cache: basic_auth::AuthCache::default(),
            auth_answers: auth_answers::AuthAnswers::default(),
            diagnostic_ages: crate::admin::DiagnosticAges::default(),
            metrics,
            hsts,
            none: Arc::from("-"),
            empty: Arc::from(""),
            access_log,
        })
    }

    /// Passive health of `backend`'s endpoints (see [`EndpointPicker::health`]).
    pub(crate) fn endpoint_health(
        &self,
        backend: &Arc<Backend>,
    ) -> Option<Vec<balance::EndpointHealth>> {
        self.picker.health(backend, Instant::now())
    }

    /// Starts choosing among `backend`'s ready endpoints round robin, with passive health
    /// (the same picker requests use): for connections passed through by `ssl-passthrough`.
    pub(crate) fn pick_endpoints(&self, backend: &Arc<Backend>) -> Option<balance::Pick> {
        let endpoints = backend.endpoints();
        match &*endpoints {
            ingress_core::Endpoints::Ready(addresses) if !addresses.is_empty() => {
                Some(self.picker.start(
                    backend,
                    &endpoints,
                    addresses,
                    balance::Strategy::RoundRobin,
                    Vec::new(),
                ))
            }
            _ => None,
        }
    }

    /// The upstream connection pool (swept periodically by the server).
    pub(crate) fn upstream_pool(&self) -> Arc<upstream::Pool> {
        self.upstream.pool().clone()
    }

    pub(super) fn protocol(&self, backend: &Backend) -> UpstreamProtocol {
        let service = backend.service();
        if !self.config.upstream_protocols.is_empty() {
            let key = format!("{}/{}", service.namespace, service.name);
            if let Some(protocol) = self.config.upstream_protocols.get(&key) {
                return *protocol;
            }
        }
        if let Some(protocol) = backend
            .app_protocol()
            .and_then(UpstreamProtocol::from_app_protocol)
        {
            return protocol;
        }
        match &service.port {
            PortRef::Name(name) => UpstreamProtocol::from_port_name(name).unwrap_or_default(),
            PortRef::Number(_) => UpstreamProtocol::Http1,
        }
    }
}
