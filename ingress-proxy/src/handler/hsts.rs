//! `Strict-Transport-Security` on HTTPS responses, as ingress-nginx sends it: only on a TLS
//! connection, only for a host with a `tls` entry, `max-age=N` with `; includeSubDomains`
//! and `; preload` as the `hsts-*` keys say. Without a ConfigMap, the embedder's
//! [`ProxyConfig::hsts`](crate::ProxyConfig) value is sent instead (see [`super::global`]).

use http::{HeaderValue, Response, header};

use super::global::GlobalSettings;
use ingress_core::GlobalConfig;

/// Adds the header to `response` when the request came over TLS to a host with a `tls`
/// entry. `embedder` is the pre-built `ProxyConfig::hsts` value.
pub(super) fn add<B>(
    response: &mut Response<B>,
    over_tls_to_tls_host: bool,
    global: &GlobalSettings,
    embedder: Option<&HeaderValue>,
) {
    if !over_tls_to_tls_host {
        return;
    }
    let value = match global.configmap() {
        Some(config) => value_of(config),
        None => embedder.cloned(),
    };
    if let Some(value) = value {
        response
            .headers_mut()
            .insert(header::STRICT_TRANSPORT_SECURITY, value);
    }
}

/// The header value the `hsts*` keys ask for; `None` when `hsts` is off.
fn value_of(config: &GlobalConfig) -> Option<HeaderValue> {
    if !config.hsts {
        return None;
    }
    let mut value = format!("max-age={}", config.hsts_max_age);
    if config.hsts_include_subdomains {
        value.push_str("; includeSubDomains");
    }
    if config.hsts_preload {
        value.push_str("; preload");
    }
    // Digits and fixed ASCII words only: always a valid header value.
    HeaderValue::from_str(&value).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> GlobalConfig {
        let data = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let key = ingress_core::ObjectKey::new("ns", "cm");
        GlobalConfig::default().updated_from(&key, &data).0
    }

    /// ConfigMap data and the header it must produce.
    type Case<'a> = (&'a [(&'a str, &'a str)], Option<&'a str>);

    #[test]
    fn header_follows_the_hsts_keys() {
        let table: &[Case<'_>] = &[
            (&[], Some("max-age=31536000; includeSubDomains")),
            (
                &[("hsts-max-age", "100")],
                Some("max-age=100; includeSubDomains"),
            ),
            (
                &[
                    ("hsts-include-subdomains", "false"),
                    ("hsts-preload", "true"),
                ],
                Some("max-age=31536000; preload"),
            ),
            (&[("hsts", "false"), ("hsts-max-age", "100")], None),
        ];
        for (pairs, expected) in table {
            let value = value_of(&config(pairs));
            assert_eq!(
                value.as_ref().map(|v| v.to_str().unwrap_or("?")),
                *expected,
                "{pairs:?}"
            );
        }
    }
}
