//! The ConfigMap keys this engine reads: name, ingress-nginx's default as ingress-nginx writes
//! it, and how a value sets its [`GlobalConfig`] field.

use super::values::{self, Reason};
use super::{GlobalConfig, tls};

/// What a valid value may add: a warning that part of it is not applied.
pub(super) type Note = Option<String>;

/// One supported key.
pub(super) struct KeySpec {
    /// The key, as ingress-nginx names it.
    pub(super) key: &'static str,
    /// ingress-nginx's default, in the ConfigMap's own syntax (applied when the key is absent).
    pub(super) default: &'static str,
    /// Parses a value into its field; on `Err` the field is left untouched.
    pub(super) set: fn(&mut GlobalConfig, &str) -> Result<Note, Reason>,
}

/// Sets a field from a parser that never adds a note.
macro_rules! key {
    ($key:literal, $default:expr, $field:ident, $parse:expr) => {
        KeySpec {
            key: $key,
            default: $default,
            set: |config, value| {
                config.$field = $parse(value)?;
                Ok(None)
            },
        }
    };
}

/// A `global-auth-*` key: read with the others after every key (see `updated_from`).
macro_rules! global_auth_key {
    ($key:literal) => {
        KeySpec {
            key: $key,
            default: "",
            set: |_, _| Ok(None),
        }
    };
}

/// Every supported key, sorted by name.
pub(super) const KEYS: &[KeySpec] = &[
    KeySpec {
        key: "allow-snippet-annotations",
        default: "false",
        // Accepted for compatibility, never honoured: snippets are raw nginx configuration.
        set: |config, value| {
            config.allow_snippet_annotations = false;
            Ok(values::boolean(value)?.then(|| {
                "snippet annotations are never applied by this engine: treated as false".to_owned()
            }))
        },
    },
    key!(
        "client-body-timeout",
        "60",
        client_body_timeout,
        values::seconds
    ),
    key!(
        "client-header-timeout",
        "60",
        client_header_timeout,
        values::seconds
    ),
    key!(
        "compute-full-forwarded-for",
        "false",
        compute_full_forwarded_for,
        values::boolean
    ),
    key!(
        "custom-http-errors",
        "",
        custom_http_errors,
        values::status_codes
    ),
    key!(
        "denylist-source-range",
        "",
        denylist_source_range,
        |value: &str| crate::CidrList::parse(value)
            .map_err(|_| "not a comma-separated list of CIDRs or IP addresses")
    ),
    key!(
        "enable-underscores-in-headers",
        "false",
        enable_underscores_in_headers,
        values::boolean
    ),
    key!(
        "force-ssl-redirect",
        "false",
        force_ssl_redirect,
        values::boolean
    ),
    key!(
        "forwarded-for-header",
        "X-Forwarded-For",
        forwarded_for_header,
        values::header_name
    ),
    global_auth_key!("global-auth-always-set-cookie"),
    global_auth_key!("global-auth-cache-duration"),
    global_auth_key!("global-auth-cache-key"),
    global_auth_key!("global-auth-method"),
    global_auth_key!("global-auth-request-redirect"),
    global_auth_key!("global-auth-response-headers"),
    global_auth_key!("global-auth-signin"),
    global_auth_key!("global-auth-signin-redirect-param"),
    global_auth_key!("global-auth-url"),
    key!("hsts", "true", hsts, values::boolean),
    key!(
        "hsts-include-subdomains",
        "true",
        hsts_include_subdomains,
        values::boolean
    ),
    key!("hsts-max-age", "31536000", hsts_max_age, |v| values::count(
        v
    )
    .map(u64::from)),
    key!("hsts-preload", "false", hsts_preload, values::boolean),
    key!("keep-alive", "75", keep_alive, values::seconds),
    key!(
        "keep-alive-requests",
        "1000",
        keep_alive_requests,
        values::count
    ),
    key!(
        "limit-conn-status-code",
        "503",
        limit_conn_status_code,
        values::denial_status
    ),
    key!(
        "limit-req-status-code",
        "503",
        limit_req_status_code,
        values::denial_status
    ),
    KeySpec {
        key: "log-format-upstream",
        default: super::DEFAULT_LOG_FORMAT_UPSTREAM,
        // Compiled once here; a variable this engine cannot fill is logged as `-`.
        set: |config, value| {
            let line = values::line(value)?;
            let (format, unknown) = super::LogFormat::compile(&line);
            config.log_format_upstream = line;
            config.log_format = std::sync::Arc::new(format);
            Ok((!unknown.is_empty()).then(|| {
                format!(
                    "variables not filled by this engine, logged as -: ${}",
                    unknown.join(", $")
                )
            }))
        },
    },
    key!(
        "no-auth-locations",
        "/.well-known/acme-challenge",
        no_auth_locations,
        values::path_list
    ),
    key!("proxy-body-size", "1m", proxy_body_size, values::size),
    key!(
        "proxy-connect-timeout",
        "5",
        proxy_connect_timeout,
        values::seconds
    ),
    KeySpec {
        key: "proxy-next-upstream",
        default: "error timeout",
        set: |config, value| {
            config.proxy_next_upstream = super::next_upstream(value)?;
            Ok(None)
        },
    },
    key!(
        "proxy-next-upstream-timeout",
        "0",
        proxy_next_upstream_timeout,
        values::seconds
    ),
    key!(
        "proxy-next-upstream-tries",
        "3",
        proxy_next_upstream_tries,
        values::count
    ),
    key!(
        "proxy-read-timeout",
        "60",
        proxy_read_timeout,
        values::seconds
    ),
    key!(
        "proxy-real-ip-cidr",
        "0.0.0.0/0",
        proxy_real_ip_cidr,
        |value: &str| crate::CidrList::parse(value)
            .map_err(|_| "not a comma-separated list of CIDRs or IP addresses")
    ),
    key!(
        "proxy-send-timeout",
        "60",
        proxy_send_timeout,
        values::seconds
    ),
    KeySpec {
        key: "ssl-ciphers",
        default: super::DEFAULT_SSL_CIPHERS,
        set: |config, value| {
            let (ciphers, note) = tls::ciphers(value)?;
            config.ssl_ciphers = ciphers;
            Ok(note)
        },
    },
    KeySpec {
        key: "ssl-protocols",
        default: "TLSv1.2 TLSv1.3",
        set: |config, value| {
            let (protocols, note) = tls::protocols(value)?;
            config.ssl_protocols = protocols;
            Ok(note)
        },
    },
    key!("ssl-redirect", "true", ssl_redirect, values::boolean),
    key!(
        "strict-validate-path-type",
        "true",
        strict_validate_path_type,
        values::boolean
    ),
    key!(
        "upstream-keepalive-connections",
        "320",
        upstream_keepalive_connections,
        values::count
    ),
    key!(
        "upstream-keepalive-requests",
        "10000",
        upstream_keepalive_requests,
        values::count
    ),
    key!(
        "upstream-keepalive-time",
        "1h",
        upstream_keepalive_time,
        values::nginx_time
    ),
    key!(
        "upstream-keepalive-timeout",
        "60",
        upstream_keepalive_timeout,
        values::seconds
    ),
    key!(
        "use-forwarded-headers",
        "false",
        use_forwarded_headers,
        values::boolean
    ),
    key!(
        "use-proxy-protocol",
        "false",
        use_proxy_protocol,
        values::boolean
    ),
    key!(
        "whitelist-source-range",
        "",
        whitelist_source_range,
        |value: &str| crate::CidrList::parse(value)
            .map_err(|_| "not a comma-separated list of CIDRs or IP addresses")
    ),
];

/// The spec of a supported key.
pub(super) fn spec(key: &str) -> Option<&'static KeySpec> {
    KEYS.binary_search_by(|spec| spec.key.cmp(key))
        .ok()
        .map(|at| &KEYS[at])
}
