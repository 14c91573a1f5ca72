//! Basic authentication: `auth-type: basic` with `auth-secret` (`name` or `namespace/name`,
//! in the Ingress's own namespace), `auth-secret-type` (`auth-file`, the default: the
//! Secret's `auth` key in htpasswd format; `auth-map`: one key per user, the value its hash)
//! and `auth-realm` (default empty, as ingress-nginx).
//!
//! A request without valid credentials gets `401` with `WWW-Authenticate: Basic
//! realm="REALM"`. Nothing here ever allows by default: `auth-type: digest` (not implemented),
//! a missing Secret, a Secret without the key, or a line this engine cannot verify makes the
//! Ingress's paths answer `503` with a diagnostic naming the Ingress, the annotation and the
//! reason; a Secret change (rotation) rebuilds the routes like any other change.
//!
//! Hashes (what `htpasswd` writes): bcrypt (`$2y$`, `$2b$`, `$2a$`; `htpasswd -B`), Apache's
//! MD5 (`$apr1$`, htpasswd's default) and the MD5 crypt it derives from (`$1$`), and SHA-1
//! (`{SHA}`, `htpasswd -s`). DES crypt (`htpasswd -d`), plain text and SHA-256/512 crypt are
//! refused with a reason (re-create the line with `htpasswd -B`).
//!
//! ```
//! use ingress_core::annotations::Credentials;
//!
//! let credentials = Credentials::from_htpasswd(
//!     "# made by: htpasswd -nbm user password\nuser:$apr1$lZL6V/ci$eIMz/iKDkbtys/uU7LEK00\n",
//! )
//! .unwrap();
//! assert!(credentials.verify("user", b"password"));
//! assert!(!credentials.verify("user", b"Password"));
//! assert!(!credentials.verify("someone", b"password"));
//! assert!(Credentials::from_htpasswd("user:plain-text").unwrap_err().contains("line 1"));
//! ```

use std::collections::BTreeMap;
use std::sync::Arc;

use md5::{Digest, Md5};
use sha1::Sha1;

use super::values::Reader;
use crate::model::ObjectKey;

/// `auth-secret-type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthSecretType {
    /// `auth-file`: the Secret's `auth` key holds an htpasswd file.
    AuthFile,
    /// `auth-map`: each key is a user name, its value that user's hash.
    AuthMap,
}

/// What a path's `auth-type: basic` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BasicAuthPolicy {
    /// `auth-realm`.
    pub realm: Arc<str>,
    /// `auth-secret`, as written (resolved against the Ingress's namespace by validation).
    pub secret_name: Arc<str>,
    /// `auth-secret-type`.
    pub secret_type: AuthSecretType,
    /// The users, read from the Secret when the routes were built. `None` only before
    /// validation resolved the Secret: a route never carries an unresolved policy (an
    /// unusable Secret makes the policy [`denied`](super::RoutePolicy::denied)).
    pub credentials: Option<Arc<Credentials>>,
}

/// Users and their password hashes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Credentials {
    users: BTreeMap<Arc<str>, PasswordHash>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum PasswordHash {
    /// bcrypt, verified by the `bcrypt` crate.
    Bcrypt(Arc<str>),
    /// MD5 crypt with its magic (`$apr1$` or `$1$`), salt and 22-character digest.
    Md5Crypt {
        magic: &'static str,
        salt: Arc<str>,
        digest: Arc<str>,
    },
    /// `{SHA}` and the Base64 of the password's SHA-1.
    Sha1([u8; 20]),
}

impl Credentials {
    /// Reads an htpasswd file (`user:hash` lines; blank lines and `#` comments skipped). The
    /// error names the first line that cannot be used and why.
    pub fn from_htpasswd(text: &str) -> Result<Credentials, String> {
        let mut credentials = Credentials::default();
        for (index, line) in text.lines().enumerate() {
            let line = line.trim_end_matches('\r').trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let line_number = index + 1;
            let (user, hash) = line
                .split_once(':')
                .ok_or_else(|| format!("line {line_number}: expected user:hash"))?;
            credentials
                .add(user, hash)
                .map_err(|reason| format!("line {line_number} (user {user:?}): {reason}"))?;
        }
        if credentials.users.is_empty() {
            return Err("no user".to_owned());
        }
        Ok(credentials)
    }

    /// Reads `auth-map` entries (user name → hash).
    pub fn from_map<'a>(
        entries: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Credentials, String> {
        let mut credentials = Credentials::default();
        for (user, hash) in entries {
            credentials
                .add(user, hash.trim())
                .map_err(|reason| format!("user {user:?}: {reason}"))?;
        }
        if credentials.users.is_empty() {
            return Err("no user".to_owned());
        }
        Ok(credentials)
    }

    fn add(&mut self, user: &str, hash: &str) -> Result<(), String> {
        if user.is_empty() || user.contains(':') || user.chars().any(char::is_control) {
            return Err("not a user name".to_owned());
        }
        self.users.insert(user.into(), PasswordHash::parse(hash)?);
        Ok(())
    }

    /// Users listed.
    pub fn len(&self) -> usize {
        self.users.len()
    }

    /// Whether no user is listed (never true for parsed credentials).
    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }

    /// Whether `password` is `user`'s. A bcrypt check costs milliseconds of CPU by design
    /// ([`Credentials::is_costly`]): callers on an event loop run it off the loop.
    pub fn verify(&self, user: &str, password: &[u8]) -> bool {
        self.users
            .get(user)
            .is_some_and(|hash| hash.verify(password))
    }

    /// Whether verifying `user` costs more than a hash (bcrypt).
    pub fn is_costly(&self, user: &str) -> bool {
        matches!(self.users.get(user), Some(PasswordHash::Bcrypt(_)))
    }
}

const CRYPT64: &[u8; 64] = b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

impl PasswordHash {
    fn parse(hash: &str) -> Result<PasswordHash, String> {
        if ["$2y$", "$2b$", "$2a$"].iter().any(|p| hash.starts_with(p)) {
            // bcrypt: `$2y$` + 2-digit cost + `$` + 53 characters of salt and hash.
            if hash.len() != 60 || !hash.is_ascii() {
                return Err("a bcrypt hash is 60 characters".to_owned());
            }
            return Ok(PasswordHash::Bcrypt(hash.into()));
        }
        for magic in ["$apr1$", "$1$"] {
            if let Some(rest) = hash.strip_prefix(magic) {
                let (salt, digest) = rest
                    .split_once('$')
                    .ok_or_else(|| format!("expected {magic}SALT$DIGEST"))?;
                if salt.len() > 8
                    || digest.len() != 22
                    || !digest.bytes().all(|b| CRYPT64.contains(&b))
                {
                    return Err(format!(
                        "expected {magic}SALT$DIGEST (salt up to 8 characters, digest 22)"
                    ));
                }
                return Ok(PasswordHash::Md5Crypt {
                    magic,
                    salt: salt.into(),
                    digest: digest.into(),
                });
            }
        }
        if let Some(encoded) = hash.strip_prefix("{SHA}") {
            let digest = base64_decode(encoded)
                .and_then(|bytes| <[u8; 20]>::try_from(bytes).ok())
                .ok_or_else(|| "expected {SHA} and the Base64 of 20 bytes".to_owned())?;
            return Ok(PasswordHash::Sha1(digest));
        }
        let format = if hash.starts_with("$5$") || hash.starts_with("$6$") {
            "SHA-256/512 crypt"
        } else if hash.len() == 13 && hash.bytes().all(|b| CRYPT64.contains(&b)) {
            "DES crypt"
        } else {
            "plain text or an unknown format"
        };
        Err(format!(
            "{format} is not supported: use bcrypt (htpasswd -B), $apr1$ (htpasswd -m) or {{SHA}} (htpasswd -s)"
        ))
    }

    fn verify(&self, password: &[u8]) -> bool {
        match self {
            PasswordHash::Bcrypt(hash) => bcrypt::verify(password, hash).unwrap_or(false),
            PasswordHash::Md5Crypt {
                magic,
                salt,
                digest,
            } => constant_time_eq(
                md5_crypt(password, salt.as_bytes(), magic).as_bytes(),
                digest.as_bytes(),
            ),
            PasswordHash::Sha1(digest) => {
                constant_time_eq(Sha1::digest(password).as_slice(), digest)
            }
        }
    }
}

/// Compares without an early exit (lengths are public).
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Poul-Henning Kamp's MD5 crypt, as `htpasswd -m` (`$apr1$`) and glibc (`$1$`) compute it:
/// the 22-character digest for `password` and `salt` under `magic`.
fn md5_crypt(password: &[u8], salt: &[u8], magic: &str) -> String {
    let alternate = Md5::new()
        .chain_update(password)
        .chain_update(salt)
        .chain_update(password)
        .finalize();
    let mut context = Md5::new()
        .chain_update(password)
        .chain_update(magic.as_bytes())
        .chain_update(salt);
    for chunk in password.chunks(16) {
        context.update(&alternate[..chunk.len()]);
    }
    let mut length = password.len();
    while length > 0 {
        match length & 1 {
            1 => context.update([0u8]),
            _ => context.update(&password[..1]),
        }
        length >>= 1;
    }
    let mut digest = context.finalize();
    for round in 0..1000 {
        let mut context = Md5::new();
        match round & 1 {
            1 => context.update(password),
            _ => context.update(digest),
        }
        if round % 3 != 0 {
            context.update(salt);
        }
        if round % 7 != 0 {
            context.update(password);
        }
        match round & 1 {
            1 => context.update(digest),
            _ => context.update(password),
        }
        digest = context.finalize();
    }
    let mut out = String::with_capacity(22);
    let mut push = |value: u32, count: usize| {
        let mut value = value;
        for _ in 0..count {
            out.push(char::from(CRYPT64[(value & 0x3f) as usize]));
            value >>= 6;
        }
    };
    let d = |i: usize| u32::from(digest[i]);
    for (a, b, c) in [(0, 6, 12), (1, 7, 13), (2, 8, 14), (3, 9, 15), (4, 10, 5)] {
        push((d(a) << 16) | (d(b) << 8) | d(c), 4);
    }
    push(d(11), 2);
    out
}

/// Standard Base64 with padding (what `htpasswd -s` writes).
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(text).ok()
}

impl Reader<'_> {
    /// `auth-type`, `auth-secret`, `auth-secret-type`, `auth-realm`: `None` without
    /// `auth-type`; an invalid value is recorded (and denies).
    pub(super) fn basic_auth(&mut self) -> Option<BasicAuthPolicy> {
        let kind = self.parse_value(
            "auth-type",
            "expected \"basic\" (\"digest\" is not implemented by this engine)",
            |value| (value.trim() == "basic").then_some(()),
        );
        let secret_type = self
            .choice(
                "auth-secret-type",
                &[
                    ("auth-file", AuthSecretType::AuthFile),
                    ("auth-map", AuthSecretType::AuthMap),
                ],
            )
            .unwrap_or(AuthSecretType::AuthFile);
        let realm = self.text("auth-realm").unwrap_or_else(|| Arc::from(""));
        let secret_name = self.parse_value(
            "auth-secret",
            "expected a Secret name or namespace/name",
            |value| {
                let value = value.trim();
                let valid = !value.is_empty()
                    && value.split('/').count() <= 2
                    && value.split('/').all(|part| {
                        !part.is_empty()
                            && part.bytes().all(|b| {
                                b.is_ascii_lowercase()
                                    || b.is_ascii_digit()
                                    || b == b'-'
                                    || b == b'.'
                            })
                    });
                valid.then(|| Arc::<str>::from(value))
            },
        );
        kind?;
        let Some(secret_name) = secret_name else {
            self.missing("auth-secret", "auth-type: basic needs auth-secret");
            return None;
        };
        Some(BasicAuthPolicy {
            realm,
            secret_name,
            secret_type,
            credentials: None,
        })
    }
}

/// Where `auth-secret` points from an Ingress in `namespace`: `Err` for another namespace.
pub(crate) fn secret_key(namespace: &str, written: &str) -> Result<ObjectKey, String> {
    match written.split_once('/') {
        None => Ok(ObjectKey::new(namespace, written)),
        Some((ns, name)) if ns == namespace => Ok(ObjectKey::new(ns, name)),
        Some((ns, _)) => Err(format!(
            "the Secret is in namespace {ns:?}, not the Ingress's ({namespace:?}): cross-namespace auth Secrets are not allowed"
        )),
    }
}

/// The users an `auth-secret` holds, read as `secret_type` says.
pub(crate) fn credentials_of(
    secret: &crate::model::OpaqueSecret,
    secret_type: AuthSecretType,
) -> Result<Credentials, String> {
    fn text<'a>(key: &str, bytes: &'a [u8]) -> Result<&'a str, String> {
        std::str::from_utf8(bytes).map_err(|_| format!("key {key:?} is not UTF-8 text"))
    }
    match secret_type {
        AuthSecretType::AuthFile => {
            let file = secret
                .data
                .get("auth")
                .ok_or_else(|| "has no key \"auth\" (auth-secret-type: auth-file)".to_owned())?;
            Credentials::from_htpasswd(text("auth", file)?)
        }
        AuthSecretType::AuthMap => {
            let entries = secret
                .data
                .iter()
                .map(|(user, hash)| Ok((user.as_str(), text(user, hash)?)))
                .collect::<Result<Vec<_>, String>>()?;
            Credentials::from_map(entries)
        }
    }
}

#[cfg(test)]
#[path = "auth_tests.rs"]
mod tests;
