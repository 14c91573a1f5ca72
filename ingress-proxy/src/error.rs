//! Errors of starting and running the proxy (per-request failures become error pages instead).

/// Why the proxy could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProxyError {
    /// The rustls server configuration was rejected.
    #[error("TLS configuration of the HTTPS listener: {0}")]
    Tls(#[source] rustls::Error),
    /// The rustls client configuration for TLS upstreams was rejected.
    #[error("TLS configuration for upstream connections: {0}")]
    UpstreamTls(#[source] rustls::Error),
    /// The self-signed default certificate could not be generated.
    #[error("generating the self-signed default certificate: {0}")]
    SelfSigned(String),
    /// A TLS Secret's certificate chain or key could not be used.
    #[error("TLS Secret {secret}: field {field}: {reason}")]
    Certificate {
        /// `namespace/name` of the Secret.
        secret: String,
        /// `tls.crt` or `tls.key`.
        field: &'static str,
        /// What was wrong.
        reason: String,
    },
    /// A listener's local address could not be read.
    #[error("{listener} listener: {source}")]
    Listener {
        /// `http`, `https` or `admin`.
        listener: &'static str,
        /// The socket error.
        #[source]
        source: std::io::Error,
    },
    /// The access log could not be started.
    #[error(transparent)]
    AccessLog(#[from] crate::access_log::AccessLogError),
}
