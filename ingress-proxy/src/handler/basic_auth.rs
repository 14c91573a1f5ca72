//! `auth-type: basic` in the pipeline (the rules are
//! [`ingress_core::annotations::BasicAuthPolicy`]'s): the `Authorization: Basic` credentials
//! checked against the route's users, `401` with `WWW-Authenticate: Basic realm="…"` when they
//! are missing or wrong.
//!
//! bcrypt is slow on purpose (milliseconds of CPU per check), so a bcrypt check runs on
//! tokio's blocking pool, never on the event loop, and a successful one is remembered: the
//! next request with the same user and password against the same users (the same
//! `Arc<Credentials>`, pinned by the entry so its address cannot be reused) is answered from
//! memory. At most [`REMEMBERED`] successes are kept; when full, the memory starts over. A
//! Secret change builds new credentials, so a rotated password is checked afresh.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use base64::Engine as _;
use http::{HeaderMap, HeaderValue, header};
use ingress_core::annotations::{BasicAuthPolicy, Credentials};

/// Successful checks remembered at once.
pub(crate) const REMEMBERED: usize = 4096;

/// (credentials' address, user, password) → the credentials, pinned.
type Remembered =
    HashMap<(usize, Box<str>, Box<[u8]>), Arc<Credentials>, foldhash::fast::RandomState>;

/// The memory of successful bcrypt checks.
#[derive(Debug, Default)]
pub(crate) struct AuthCache {
    remembered: Mutex<Remembered>,
}

/// Why a request is not let through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// No or wrong credentials: `401` with this `WWW-Authenticate` value.
    Unauthorized(HeaderValue),
}

impl AuthCache {
    fn remembers(&self, key: &(usize, Box<str>, Box<[u8]>)) -> bool {
        self.remembered
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains_key(key)
    }

    fn remember(&self, key: (usize, Box<str>, Box<[u8]>), credentials: Arc<Credentials>) {
        let mut remembered = self
            .remembered
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if remembered.len() >= REMEMBERED {
            remembered.clear();
        }
        remembered.insert(key, credentials);
    }
}

/// The matched rule's `auth-type: basic`, if any.
pub(super) fn policy(resolved: &super::Resolved) -> Option<&BasicAuthPolicy> {
    let rule = resolved.rule.as_deref()?;
    if resolved.global.skips_auth(&rule.path) {
        return None;
    }
    rule.policy.basic_auth.as_deref()
}

/// `user:password` from an `Authorization: Basic …` field (scheme case-insensitive).
fn credentials_of(headers: &HeaderMap) -> Option<(String, Vec<u8>)> {
    let value = headers.get(header::AUTHORIZATION)?.as_bytes();
    let (scheme, rest) = value.split_at_checked(6)?;
    if !scheme.eq_ignore_ascii_case(b"basic ") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(rest.trim_ascii())
        .ok()?;
    let colon = decoded.iter().position(|&b| b == b':')?;
    let user = String::from_utf8(decoded[..colon].to_vec()).ok()?;
    Some((user, decoded[colon + 1..].to_vec()))
}

/// `Basic realm="REALM"` (quotes and backslashes escaped).
fn challenge(realm: &str) -> HeaderValue {
    let escaped = realm.replace('\\', "\\\\").replace('"', "\\\"");
    HeaderValue::from_str(&format!("Basic realm=\"{escaped}\""))
        .unwrap_or_else(|_| HeaderValue::from_static("Basic realm=\"\""))
}

/// Checks one request against `policy`.
pub(crate) async fn check(
    cache: &AuthCache,
    policy: &BasicAuthPolicy,
    headers: &HeaderMap,
) -> Result<(), Refusal> {
    let refuse = || Refusal::Unauthorized(challenge(&policy.realm));
    // Validation never publishes a policy without credentials (the path is denied instead);
    // were one to get here, it refuses.
    let Some(users) = &policy.credentials else {
        return Err(refuse());
    };
    let Some((user, password)) = credentials_of(headers) else {
        return Err(refuse());
    };
    if !users.is_costly(&user) {
        return match users.verify(&user, &password) {
            true => Ok(()),
            false => Err(refuse()),
        };
    }
    let key = (
        Arc::as_ptr(users) as usize,
        user.clone().into_boxed_str(),
        password.clone().into_boxed_slice(),
    );
    if cache.remembers(&key) {
        return Ok(());
    }
    let checked = Arc::clone(users);
    let verified = tokio::task::spawn_blocking(move || checked.verify(&user, &password))
        .await
        .unwrap_or(false);
    if !verified {
        return Err(refuse());
    }
    cache.remember(key, Arc::clone(users));
    Ok(())
}
