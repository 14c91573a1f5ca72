//! The per-request client-certificate check (`auth-tls-*`), with nginx's answers and the
//! `ssl-client-*` fields ingress-nginx sends upstream.
//!
//! The host's settings ([`ClientTlsPolicy`], the request's `Host`) are compared with what the
//! connection's handshake established ([`ClientTls`](crate::tls::ClientTls), see `tls::client_auth`):
//!
//! - `off`: no check; `ssl-client-verify: NONE` goes upstream.
//! - The Secret could not be used: `503`, never an unverified request.
//! - The handshake was made for another server name under other settings (a client reusing
//!   a connection for another host, or SNI and `Host` that disagree): `421 Misdirected
//!   Request`, as nginx answers when the `Host`'s server verifies clients.
//! - No certificate (none sent, no SNI so none was asked for, or plain HTTP): `on` answers
//!   `400` "No required SSL certificate was sent"; `optional` and `optional_no_ca` go on
//!   with `NONE`.
//! - A certificate that does not verify: `on` and `optional` answer `400` "The SSL
//!   certificate error"; `optional_no_ca` goes on with `FAILED:reason`.
//! - `auth-tls-error-page` turns either `400` into a `302` to that page.
//! - `auth-tls-match-cn`: a subject that does not match (or no certificate) gets `403`.
//!
//! Client-sent `ssl-client-cert`, `ssl-client-verify`, `ssl-client-subject-dn` and
//! `ssl-client-issuer-dn` never reach the upstream of such a host: they are replaced (nginx's
//! `proxy_set_header`). `ssl-client-cert` carries the URL-escaped PEM only with
//! `auth-tls-pass-certificate-to-upstream`.

use http::{HeaderMap, HeaderName, HeaderValue};
use ingress_core::annotations::{ClientTlsPolicy, VerifyClient};

use super::ClientConnection;
use super::checks::Answer;
use super::pages::Failure;
use crate::tls::{ClientPolicyKey, Verdict};

const CERT: HeaderName = HeaderName::from_static("ssl-client-cert");
const VERIFY: HeaderName = HeaderName::from_static("ssl-client-verify");
const SUBJECT_DN: HeaderName = HeaderName::from_static("ssl-client-subject-dn");
const ISSUER_DN: HeaderName = HeaderName::from_static("ssl-client-issuer-dn");

/// Checks the request's client certificate against its host's `auth-tls-*` settings and sets
/// the `ssl-client-*` fields for the upstream. `policy`: the host's settings, if any.
pub(super) fn check(
    connection: &ClientConnection,
    policy: Option<&ClientTlsPolicy>,
    headers: &mut HeaderMap,
) -> Result<(), Answer> {
    let Some(policy) = policy else {
        return Ok(());
    };
    for name in [&CERT, &VERIFY, &SUBJECT_DN, &ISSUER_DN] {
        headers.remove(name);
    }
    if policy.verify_client == VerifyClient::Off {
        headers.insert(VERIFY, HeaderValue::from_static("NONE"));
        return Ok(());
    }
    let Some(key) = ClientPolicyKey::of(policy) else {
        return Err(Answer::Failure(Failure::PolicyInvalid));
    };
    let verdict = verdict(connection, &key)?;
    let refused = match (&verdict, policy.verify_client) {
        (Verdict::Unusable(_), _) => return Err(Answer::Failure(Failure::PolicyInvalid)),
        (Verdict::NoCertificate, VerifyClient::On) => Some(Failure::ClientCertificateMissing),
        (Verdict::Failed(..), VerifyClient::On | VerifyClient::Optional) => {
            Some(Failure::ClientCertificateInvalid)
        }
        _ => None,
    };
    if let Some(failure) = refused {
        return Err(match &policy.error_page {
            Some(page) => match HeaderValue::from_str(page) {
                Ok(location) => Answer::ClientCertificateRedirect(location),
                Err(_) => Answer::Failure(failure),
            },
            None => Answer::Failure(failure),
        });
    }
    if let Some(pattern) = &policy.match_cn {
        let subject = verdict.facts().map_or("", |facts| &facts.subject_dn);
        if !pattern.is_match(subject) {
            return Err(Answer::Failure(Failure::ClientCertificateForbidden));
        }
    }
    if let Ok(status) = HeaderValue::from_str(&verdict.status()) {
        headers.insert(VERIFY, status);
    }
    if let Some(facts) = verdict.facts() {
        // Empty values are not sent, as nginx's `proxy_set_header` does not send them.
        let mut set = |name: HeaderName, value: &str| {
            if let Ok(value) = HeaderValue::from_bytes(value.as_bytes())
                && !value.is_empty()
            {
                headers.insert(name, value);
            }
        };
        set(SUBJECT_DN, &facts.subject_dn);
        set(ISSUER_DN, &facts.issuer_dn);
        if policy.pass_certificate {
            set(CERT, &facts.escaped_pem);
        }
    }
    Ok(())
}

/// The connection's verdict under `key`: its handshake's, when made under the same settings;
/// no certificate when none could have been asked for (plain HTTP, no SNI); else `421`.
fn verdict(connection: &ClientConnection, key: &ClientPolicyKey) -> Result<Verdict, Answer> {
    let Some(tls) = connection.client_tls.get().filter(|_| connection.https) else {
        return Ok(Verdict::NoCertificate);
    };
    match (&tls.checked, &tls.server_name) {
        (Some((checked_under, verdict)), _) if checked_under.same(key) => Ok(verdict.clone()),
        (_, None) => Ok(Verdict::NoCertificate),
        (_, Some(_)) => Err(Answer::Failure(Failure::Misdirected)),
    }
}
