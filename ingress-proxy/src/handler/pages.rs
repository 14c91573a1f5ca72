//! Small error pages and redirects that say what happened (and never echo request data).

use http::{HeaderValue, Response, StatusCode, header};

use crate::body::ResponseBody;

/// Why the proxy answered itself instead of the upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    /// No Ingress rule and no default backend matched (built-in default backend).
    NoRoute,
    /// The matched Service, its port or its ready endpoints are missing.
    NoEndpoints,
    /// A `resource` backend, which this data plane does not serve.
    ResourceBackend,
    /// Connecting to or reading from the upstream took too long.
    UpstreamTimeout,
    /// The upstream refused, reset or sent something unusable.
    UpstreamFailed,
}

impl Failure {
    pub(crate) fn status(self) -> StatusCode {
        match self {
            Failure::NoRoute => StatusCode::NOT_FOUND,
            Failure::NoEndpoints | Failure::ResourceBackend => StatusCode::SERVICE_UNAVAILABLE,
            Failure::UpstreamTimeout => StatusCode::GATEWAY_TIMEOUT,
            Failure::UpstreamFailed => StatusCode::BAD_GATEWAY,
        }
    }

    fn message(self) -> &'static str {
        match self {
            Failure::NoRoute => {
                "404 Not Found: no Ingress rule matches this host and path (default backend)\n"
            }
            Failure::NoEndpoints => {
                "503 Service Unavailable: the backend Service has no ready endpoints\n"
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
        }
    }

    /// The error page.
    pub(crate) fn response(self) -> Response<ResponseBody> {
        let mut response = Response::new(ResponseBody::full(self.message()));
        *response.status_mut() = self.status();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        response
    }
}

/// `308 Permanent Redirect` to `location`.
pub(crate) fn redirect(location: HeaderValue) -> Response<ResponseBody> {
    let mut response = Response::new(ResponseBody::empty());
    *response.status_mut() = StatusCode::PERMANENT_REDIRECT;
    response.headers_mut().insert(header::LOCATION, location);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_page_starts_with_its_status_code() {
        for failure in [
            Failure::NoRoute,
            Failure::NoEndpoints,
            Failure::ResourceBackend,
            Failure::UpstreamTimeout,
            Failure::UpstreamFailed,
        ] {
            assert!(
                failure.message().starts_with(failure.status().as_str()),
                "{failure:?}"
            );
            assert!(failure.message().len() < 200, "{failure:?} page is small");
        }
    }
}
