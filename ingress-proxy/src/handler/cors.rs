//! `enable-cors`: the route's [`CorsPolicy`] applied to one request (see
//! `ingress_core::annotations::CorsPolicy` for which requests are allowed). Decided once,
//! before the request is forwarded; an allowed `OPTIONS` request is a preflight answered
//! `204` by the proxy ([`CorsAnswer::is_preflight`]); every response to an allowed request
//! gets the `Access-Control-*` fields ([`CorsAnswer::apply`]), replacing the upstream's own.

use std::sync::Arc;

use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, header};
use ingress_core::annotations::{CorsOrigins, CorsPolicy};

use super::Resolved;

/// An allowed cross-origin request: the route's policy and the `Access-Control-Allow-Origin`
/// value it gets.
pub(super) struct CorsAnswer {
    policy: Arc<CorsPolicy>,
    allow_origin: HeaderValue,
    preflight: bool,
}

impl CorsAnswer {
    /// The answer for `request` on its route, or `None` (no CORS policy, a denied path, or
    /// an `Origin` the policy does not list).
    pub(super) fn decide<B>(resolved: &Resolved, request: &Request<B>) -> Option<CorsAnswer> {
        let rule = resolved.rule.as_ref()?;
        // A denied path (an invalid annotation) answers 503 with no CORS field.
        if rule.policy.denied.is_some() {
            return None;
        }
        let policy = rule.policy.cors.as_ref()?;
        let origin = request
            .headers()
            .get(header::ORIGIN)
            .and_then(|value| value.to_str().ok());
        let allow_origin = HeaderValue::from_str(policy.allow_origin(origin)?).ok()?;
        Some(CorsAnswer {
            policy: policy.clone(),
            allow_origin,
            preflight: request.method() == Method::OPTIONS,
        })
    }

    /// An `OPTIONS` request: answered by the proxy, never sent upstream.
    pub(super) fn is_preflight(&self) -> bool {
        self.preflight
    }

    /// Sets the `Access-Control-*` fields on a response, in ingress-nginx's order; with a
    /// list of origins the answer depends on `Origin`, so `Vary: Origin` is added for caches.
    pub(super) fn apply(&self, headers: &mut HeaderMap) {
        let policy = &self.policy;
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            self.allow_origin.clone(),
        );
        if policy.allow_credentials {
            headers.insert(
                header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
                HeaderValue::from_static("true"),
            );
        }
        set(
            headers,
            header::ACCESS_CONTROL_ALLOW_METHODS,
            &policy.allow_methods,
        );
        set(
            headers,
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            &policy.allow_headers,
        );
        if let Some(expose) = &policy.expose_headers {
            set(headers, header::ACCESS_CONTROL_EXPOSE_HEADERS, expose);
        }
        headers.insert(header::ACCESS_CONTROL_MAX_AGE, policy.max_age.into());
        if matches!(policy.origins, CorsOrigins::List(_)) {
            headers.append(header::VARY, HeaderValue::from_static("Origin"));
        }
    }
}

/// Sets `name` to a value the core validated (names and `,`/spaces only, so always a valid
/// field value; skipped otherwise rather than sending something else).
fn set(headers: &mut HeaderMap, name: HeaderName, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        headers.insert(name, value);
    }
}
