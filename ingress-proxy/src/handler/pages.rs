//! Small error pages and redirects that say what happened (and never echo request data).

use std::borrow::Cow;

use http::{HeaderValue, Response, StatusCode, header};

use super::response_body::ResponseBody;

/// Why the proxy answered itself instead of the upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    /// An HTTP/1.1 request without exactly one `Host`, or an HTTP/1.0 one with several
    /// (RFC 9112 §3.2).
    BadHost,
    /// `CONNECT`: this proxy routes requests, it does not open tunnels to named hosts.
    Connect,
    /// The client's request body could not be read (malformed framing, cut short).
    BadRequestBody,
    /// The request body is larger than the route's `proxy-body-size`.
    BodyTooLarge,
    /// The client's address is not allowed (`*-source-range`).
    Forbidden,
    /// The client went over `limit-rps`/`limit-rpm` or `limit-connections`: answered with the
    /// ConfigMap's `limit-req-status-code` or `limit-conn-status-code` (default `503`).
    Limited(StatusCode),
    /// The client stopped sending its request body (`client-body-timeout`).
    RequestTimeout,
    /// No Ingress rule and no default backend matched (built-in default backend).
    NoRoute,
    /// The matched Service, its port or its ready endpoints are missing.
    NoEndpoints,
    /// The matched path's Ingress has an annotation with an invalid value.
    PolicyInvalid,
    /// The `auth-url` service could not be asked, or answered something other than `2xx`,
    /// `401` or `403` (`500`, as ingress-nginx: never an allow).
    AuthUnavailable,
    /// A `resource` backend, which this data plane does not serve.
    ResourceBackend,
    /// Connecting to or reading from the upstream took too long.
    UpstreamTimeout,
    /// The upstream refused, reset or sent something unusable.
    UpstreamFailed,
    /// `auth-tls-verify-client: on` and no client certificate (nginx's `496`, sent as `400`).
    ClientCertificateMissing,
    /// A client certificate that does not verify (nginx's `495`, sent as `400`).
    ClientCertificateInvalid,
    /// The client certificate's subject does not match `auth-tls-match-cn`.
    ClientCertificateForbidden,
    /// The connection's TLS handshake was made for another host whose client-certificate
    /// settings differ from this request's host's.
    Misdirected,
}

impl Failure {
    pub(crate) fn status(self) -> StatusCode {
        match self {
            Failure::BadHost
            | Failure::BadRequestBody
            | Failure::ClientCertificateMissing
            | Failure::ClientCertificateInvalid => StatusCode::BAD_REQUEST,
            Failure::Misdirected => StatusCode::MISDIRECTED_REQUEST,
            Failure::Connect => StatusCode::METHOD_NOT_ALLOWED,
            Failure::BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Failure::Forbidden | Failure::ClientCertificateForbidden => StatusCode::FORBIDDEN,
            Failure::Limited(status) => status,
            Failure::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            Failure::NoRoute => StatusCode::NOT_FOUND,
            Failure::NoEndpoints | Failure::ResourceBackend | Failure::PolicyInvalid => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Failure::UpstreamTimeout => StatusCode::GATEWAY_TIMEOUT,
            Failure::UpstreamFailed => StatusCode::BAD_GATEWAY,
            Failure::AuthUnavailable => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn message(self) -> Cow<'static, str> {
        let text = match self {
            Failure::Limited(status) => {
                return Cow::Owned(format!(
                    "{status}: too many requests from this client address (limit-rps, limit-rpm or limit-connections)\n"
                ));
            }
            Failure::BadHost => {
                "400 Bad Request: an HTTP/1.1 request needs exactly one Host header field\n"
            }
            Failure::Connect => "405 Method Not Allowed: CONNECT is not supported here\n",
            Failure::BadRequestBody => {
                "400 Bad Request: the request body could not be read (malformed or cut short)\n"
            }
            Failure::BodyTooLarge => {
                "413 Payload Too Large: the request body is larger than this path allows (proxy-body-size)\n"
            }
            Failure::Forbidden => {
                "403 Forbidden: this client address may not use this path (source range)\n"
            }
            Failure::RequestTimeout => {
                "408 Request Timeout: the request body stopped arriving (client-body-timeout)\n"
            }
            Failure::NoRoute => {
                "404 Not Found: no Ingress rule matches this host and path (default backend)\n"
            }
            Failure::NoEndpoints => {
                "503 Service Unavailable: the backend Service has no ready endpoints\n"
            }
            Failure::PolicyInvalid => {
                "503 Service Unavailable: this path's Ingress has an annotation with an invalid value (see the controller's diagnostics)\n"
            }
            Failure::ResourceBackend => {
                "503 Service Unavailable: the backend is a resource this proxy does not serve\n"
            }
            Failure::UpstreamTimeout => {
                "504 Gateway Timeout: the upstream did not answer in time\n"
            }
            Failure::UpstreamFailed => {
                "502 Bad Gateway: the upstream connection failed or its response was invalid\n"
            }
            Failure::AuthUnavailable => {
                "500 Internal Server Error: the authentication service (auth-url) could not be asked or answered unexpectedly\n"
            }
            Failure::ClientCertificateMissing => {
                "400 Bad Request: No required SSL certificate was sent\n"
            }
            Failure::ClientCertificateInvalid => "400 Bad Request: The SSL certificate error\n",
            Failure::ClientCertificateForbidden => {
                "403 Forbidden: client certificate unauthorized (auth-tls-match-cn)\n"
            }
            Failure::Misdirected => {
                "421 Misdirected Request: this connection was set up for another host; open a new one for this host\n"
            }
        };
        Cow::Borrowed(text)
    }

    /// The error page.
    pub(crate) fn response(self) -> Response<ResponseBody> {
        let body = match self.message() {
            Cow::Borrowed(text) => ResponseBody::full(text),
            Cow::Owned(text) => ResponseBody::full(text),
        };
        let mut response = Response::new(body);
        *response.status_mut() = self.status();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        if self == Failure::Connect {
            // RFC 9110 §15.5.6: a 405 lists the methods the target supports.
            headers.insert(
                header::ALLOW,
                HeaderValue::from_static("GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"),
            );
        }
        response
    }
}

/// A redirect (`status`, a 3xx) to `location`.
pub(crate) fn redirect(status: StatusCode, location: HeaderValue) -> Response<ResponseBody> {
    let mut response = Response::new(ResponseBody::empty());
    *response.status_mut() = status;
    response.headers_mut().insert(header::LOCATION, location);
    response
}

/// `401 Unauthorized` with its `WWW-Authenticate` challenge (`auth-type: basic`).
pub(crate) fn unauthorized(challenge: HeaderValue) -> Response<ResponseBody> {
    let mut response = Response::new(ResponseBody::full(
        "401 Unauthorized: this path needs a user name and password (auth-type: basic)\n",
    ));
    *response.status_mut() = StatusCode::UNAUTHORIZED;
    let headers = response.headers_mut();
    headers.insert(header::WWW_AUTHENTICATE, challenge);
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// `204 No Content` (a CORS preflight's answer).
pub(crate) fn no_content() -> Response<ResponseBody> {
    let mut response = Response::new(ResponseBody::empty());
    *response.status_mut() = StatusCode::NO_CONTENT;
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_page_starts_with_its_status_code() {
        for failure in [
            Failure::BadHost,
            Failure::Connect,
            Failure::BadRequestBody,
            Failure::BodyTooLarge,
            Failure::Forbidden,
            Failure::Limited(StatusCode::SERVICE_UNAVAILABLE),
            Failure::Limited(StatusCode::TOO_MANY_REQUESTS),
            Failure::RequestTimeout,
            Failure::NoRoute,
            Failure::PolicyInvalid,
            Failure::NoEndpoints,
            Failure::ResourceBackend,
            Failure::UpstreamTimeout,
            Failure::UpstreamFailed,
            Failure::ClientCertificateMissing,
            Failure::ClientCertificateInvalid,
            Failure::ClientCertificateForbidden,
            Failure::Misdirected,
        ] {
            assert!(
                failure.message().starts_with(failure.status().as_str()),
                "{failure:?}"
            );
            assert!(failure.message().len() < 200, "{failure:?} page is small");
        }
    }
}
