//! Remembered answers of `auth-url` services (`auth-cache-key`, `auth-cache-duration`).
//!
//! An answer is kept for the time its status is given by `auth-cache-duration`, as nginx's
//! `proxy_cache_valid`, unless the answer itself forbids it as nginx honours by default: a
//! `Set-Cookie` field, or `Cache-Control` with `no-store`, `no-cache` or `private` (its
//! `max-age`, when given, replaces the duration). `Expires` and `X-Accel-Expires` are not
//! read. At most [`CAPACITY`] answers are kept: when full, expired ones are dropped first,
//! then the one closest to expiry.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use http::{HeaderMap, StatusCode, header};

/// Answers kept at once.
pub(crate) const CAPACITY: usize = 4096;

/// One answer of an authentication service: its status and fields (the body is not kept).
#[derive(Debug, Clone)]
pub(crate) struct AuthAnswer {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
}

/// Rendered key → (expiry, answer).
type Entries = HashMap<Box<str>, (Instant, Arc<AuthAnswer>), foldhash::fast::RandomState>;

/// The remembered answers, by rendered key.
#[derive(Debug, Default)]
pub(crate) struct AuthAnswers {
    entries: Mutex<Entries>,
}

impl AuthAnswers {
    /// The answer kept for `key`, if it has not expired at `now`.
    pub(crate) fn get(&self, key: &str, now: Instant) -> Option<Arc<AuthAnswer>> {
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        let (expires, answer) = entries.get(key)?;
        (*expires > now).then(|| answer.clone())
    }

    /// Keeps `answer` under `key` for `ttl` from `now`, if the answer allows it.
    pub(crate) fn put(&self, key: &str, answer: Arc<AuthAnswer>, ttl: Duration, now: Instant) {
        let Some(ttl) = cacheable_for(&answer.headers, ttl) else {
            return;
        };
        let Some(expires) = now.checked_add(ttl) else {
            return;
        };
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if entries.len() >= CAPACITY && !entries.contains_key(key) {
            entries.retain(|_, (expires, _)| *expires > now);
            if entries.len() >= CAPACITY {
                let soonest = entries
                    .iter()
                    .min_by_key(|(_, (expires, _))| *expires)
                    .map(|(key, _)| key.clone());
                if let Some(soonest) = soonest {
                    entries.remove(&soonest);
                }
            }
        }
        entries.insert(key.into(), (expires, answer));
    }

    /// Answers currently kept (expired ones included until they are dropped).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

/// How long an answer with `headers` may be kept, given `configured` (nginx's defaults:
/// `Set-Cookie` and `Cache-Control: no-store/no-cache/private` forbid it, `max-age` decides).
fn cacheable_for(headers: &HeaderMap, configured: Duration) -> Option<Duration> {
    if headers.contains_key(header::SET_COOKIE) {
        return None;
    }
    let mut ttl = configured;
    for value in headers.get_all(header::CACHE_CONTROL) {
        let Ok(value) = value.to_str() else {
            return None;
        };
        for directive in value.split(',').map(str::trim) {
            let lower = directive.to_ascii_lowercase();
            if ["no-store", "no-cache", "private"].contains(&lower.as_str()) {
                return None;
            }
            if let Some(seconds) = lower.strip_prefix("max-age=") {
                ttl = Duration::from_secs(seconds.trim_matches('"').parse().ok()?);
            }
        }
    }
    (!ttl.is_zero()).then_some(ttl)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn answer(fields: &[(&'static str, &'static str)]) -> Arc<AuthAnswer> {
        let mut headers = HeaderMap::new();
        for (name, value) in fields {
            headers.append(*name, HeaderValue::from_static(value));
        }
        Arc::new(AuthAnswer {
            status: StatusCode::OK,
            headers,
        })
    }

    #[test]
    fn answers_expire_and_respect_the_services_cache_fields() {
        let answers = AuthAnswers::default();
        let now = Instant::now();
        let minute = Duration::from_secs(60);
        answers.put("a", answer(&[]), minute, now);
        assert!(answers.get("a", now + Duration::from_secs(59)).is_some());
        assert!(answers.get("a", now + minute).is_none());
        answers.put("cookie", answer(&[("set-cookie", "s=1")]), minute, now);
        answers.put(
            "private",
            answer(&[("cache-control", "Private")]),
            minute,
            now,
        );
        answers.put(
            "zero",
            answer(&[("cache-control", "max-age=0")]),
            minute,
            now,
        );
        for key in ["cookie", "private", "zero"] {
            assert!(answers.get(key, now).is_none(), "{key} must not be kept");
        }
        answers.put(
            "short",
            answer(&[("cache-control", "public, max-age=5")]),
            minute,
            now,
        );
        assert!(answers.get("short", now + Duration::from_secs(4)).is_some());
        assert!(answers.get("short", now + Duration::from_secs(5)).is_none());
    }

    #[test]
    fn the_store_is_bounded() {
        let answers = AuthAnswers::default();
        let now = Instant::now();
        for i in 0..CAPACITY + 100 {
            let ttl = Duration::from_secs(1 + u64::try_from(i).unwrap());
            answers.put(&i.to_string(), answer(&[]), ttl, now);
        }
        assert_eq!(answers.len(), CAPACITY);
        // The ones closest to expiry made room; the newest are kept.
        assert!(answers.get("0", now).is_none());
        assert!(answers.get(&(CAPACITY + 99).to_string(), now).is_some());
    }
}
