//! `ssl-protocols` and `ssl-ciphers`, checked against what a rustls server can offer.
//!
//! rustls speaks TLS 1.2 and 1.3 only, and for TLS 1.2 only ECDHE key exchange with AEAD
//! ciphers. A value naming something it cannot offer is taken with a warning listing what is
//! dropped; a value naming nothing it can offer is invalid (the key keeps its previous value).
//! As with nginx's `ssl_ciphers`, the cipher list does not restrict TLS 1.3's suites.

use std::sync::Arc;

use super::values::Reason;

/// The TLS versions `ssl-protocols` enables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TlsProtocols {
    /// `TLSv1.2`.
    pub tls12: bool,
    /// `TLSv1.3`.
    pub tls13: bool,
}

/// The TLS 1.2 ciphers rustls implements, by their OpenSSL names (what nginx's
/// `ssl_ciphers` takes).
pub const RUSTLS_TLS12_CIPHERS: &[&str] = &[
    "ECDHE-ECDSA-AES128-GCM-SHA256",
    "ECDHE-ECDSA-AES256-GCM-SHA384",
    "ECDHE-ECDSA-CHACHA20-POLY1305",
    "ECDHE-RSA-AES128-GCM-SHA256",
    "ECDHE-RSA-AES256-GCM-SHA384",
    "ECDHE-RSA-CHACHA20-POLY1305",
];

/// Protocol names nginx knows but rustls does not implement.
const UNSUPPORTED_PROTOCOLS: &[&str] = &["SSLv2", "SSLv3", "TLSv1", "TLSv1.1"];

/// Parses `ssl-protocols` (space-separated, as nginx's `ssl_protocols`). `Ok` carries a
/// warning when some named protocols are dropped.
pub(crate) fn protocols(value: &str) -> Result<(TlsProtocols, Option<String>), Reason> {
    let mut enabled = TlsProtocols {
        tls12: false,
        tls13: false,
    };
    let mut dropped = Vec::new();
    for name in value.split_ascii_whitespace() {
        match name {
            "TLSv1.2" => enabled.tls12 = true,
            "TLSv1.3" => enabled.tls13 = true,
            _ if UNSUPPORTED_PROTOCOLS.contains(&name) => dropped.push(name),
            _ => return Err("expected protocols among SSLv2 SSLv3 TLSv1 TLSv1.1 TLSv1.2 TLSv1.3"),
        }
    }
    if !enabled.tls12 && !enabled.tls13 {
        return Err("names no protocol rustls implements (TLSv1.2, TLSv1.3)");
    }
    let warning = (!dropped.is_empty()).then(|| {
        format!(
            "rustls does not implement {}: not offered",
            dropped.join(" ")
        )
    });
    Ok((enabled, warning))
}

/// Parses `ssl-ciphers` (colon-separated OpenSSL names). The value is kept as written;
/// `Ok` carries a warning naming the ciphers rustls cannot offer.
pub(crate) fn ciphers(value: &str) -> Result<(Arc<str>, Option<String>), Reason> {
    let value = value.trim();
    let names: Vec<&str> = value
        .split(':')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .collect();
    if value.contains(['\r', '\n']) || names.is_empty() {
        return Err("expected colon-separated OpenSSL cipher names");
    }
    let (offered, dropped): (Vec<&str>, Vec<&str>) = names
        .iter()
        .partition(|name| RUSTLS_TLS12_CIPHERS.contains(name));
    if offered.is_empty() {
        return Err(
            "names no TLS 1.2 cipher rustls implements (ECDHE with AES-GCM or CHACHA20-POLY1305)",
        );
    }
    let warning = (!dropped.is_empty()).then(|| {
        format!(
            "rustls does not implement {}: not offered",
            dropped.join(":")
        )
    });
    Ok((value.into(), warning))
}
