//! `custom-http-errors` and `default-backend`, as ingress-nginx serves them.
//!
//! - A path whose Service has no ready endpoints goes to the Ingress's `default-backend`
//!   Service instead, when it has one ([`ErrorBackend::fallback`]).
//! - An upstream response whose status is in the route's `custom-http-errors` (else the
//!   ConfigMap's) is discarded;
//!   a `GET /` goes to the error backend (the `default-backend` annotation's Service, else
//!   the controller's default backend) with ingress-nginx's headers — `X-Code`, `X-Format`
//!   (the client's `Accept`), `X-Original-URI`, `X-Namespace`, `X-Ingress-Name`,
//!   `X-Service-Name`, `X-Service-Port`, `X-Request-ID` — and its answer is the client's.

use std::sync::Arc;

use http::{HeaderMap, HeaderName, HeaderValue, Request, header};
use ingress_core::{Backend, MatchedRule, PortRef, RouteTable};

use crate::body::ClientBody;
use crate::request_id::X_REQUEST_ID;

/// The error backend of a route with `custom-http-errors`, chosen on the request's snapshot.
#[derive(Debug)]
pub(crate) struct ErrorBackend {
    pub(crate) backend: Arc<Backend>,
    rule: Arc<MatchedRule>,
    /// The statuses it answers: the route's, else the ConfigMap's `custom-http-errors`.
    codes: Arc<[u16]>,
}

/// What the error page request repeats of the client's request.
#[derive(Debug)]
pub(crate) struct ErrorPageRequest {
    error: ErrorBackend,
    original_uri: String,
    accept: Option<HeaderValue>,
    request_id: Option<HeaderValue>,
    /// The service the route sent the request to: `(name, port)`.
    service: (String, String),
}

impl ErrorBackend {
    /// The route's error backend, when it (or the ConfigMap) lists `custom-http-errors`.
    pub(crate) fn of(snapshot: &RouteTable, rule: &Arc<MatchedRule>) -> Option<ErrorBackend> {
        let codes: Arc<[u16]> = if rule.policy.custom_http_errors.is_empty() {
            let global = snapshot.global_config();
            if global.configmap.is_none() || global.custom_http_errors.is_empty() {
                return None;
            }
            global.custom_http_errors.clone()
        } else {
            rule.policy.custom_http_errors.clone()
        };
        let backend = match &rule.policy.default_backend_service {
            Some(service) => snapshot.backend(service),
            None => snapshot.controller_default_backend(),
        }?;
        Some(ErrorBackend {
            backend: backend.clone(),
            rule: rule.clone(),
            codes,
        })
    }

    /// The `default-backend` Service, for a path whose own Service has no ready endpoints.
    pub(crate) fn fallback(snapshot: &RouteTable, rule: &MatchedRule) -> Option<Arc<Backend>> {
        let service = rule.policy.default_backend_service.as_ref()?;
        snapshot.backend(service).cloned()
    }
}

impl ErrorPageRequest {
    /// Captures what the error page request needs from the client's request, sent to
    /// `backend` (the route's Service).
    pub(crate) fn capture<B>(
        error: ErrorBackend,
        request: &Request<B>,
        backend: &Backend,
    ) -> ErrorPageRequest {
        let headers = request.headers();
        let service = backend.service();
        let port = match &service.port {
            PortRef::Number(number) => number.to_string(),
            PortRef::Name(name) => name.to_string(),
        };
        ErrorPageRequest {
            error,
            original_uri: request
                .uri()
                .path_and_query()
                .map_or_else(|| "/".to_owned(), |p| p.as_str().to_owned()),
            accept: headers.get(header::ACCEPT).cloned(),
            request_id: headers.get(&X_REQUEST_ID).cloned(),
            service: (service.name.to_string(), port),
        }
    }

    /// Whether a response with `status` is replaced by the error page.
    pub(crate) fn replaces(&self, status: u16) -> bool {
        self.error.codes.contains(&status)
    }

    /// The error page request for `status`, and the backend it goes to.
    pub(crate) fn request(
        self,
        status: u16,
        host: Option<&HeaderValue>,
    ) -> (Arc<Backend>, Request<ClientBody>) {
        let mut request = Request::new(ClientBody::Empty);
        *request.uri_mut() = http::Uri::from_static("/");
        let headers = request.headers_mut();
        if let Some(host) = host {
            headers.insert(header::HOST, host.clone());
        }
        let ingress = &self.error.rule.ingress;
        let mut set = |name: &'static str, value: &str| {
            if let Ok(value) = HeaderValue::from_str(value) {
                headers.insert(HeaderName::from_static(name), value);
            }
        };
        set("x-code", &status.to_string());
        set("x-original-uri", &self.original_uri);
        set("x-namespace", &ingress.namespace);
        set("x-ingress-name", &ingress.name);
        set("x-service-name", &self.service.0);
        set("x-service-port", &self.service.1);
        copy(headers, "x-format", self.accept);
        copy(headers, "x-request-id", self.request_id);
        (self.error.backend, request)
    }
}

fn copy(headers: &mut HeaderMap, name: &'static str, value: Option<HeaderValue>) {
    if let Some(value) = value {
        headers.insert(HeaderName::from_static(name), value);
    }
}
