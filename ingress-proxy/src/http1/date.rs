//! The `Date` field value (RFC 9110 §6.6.1, IMF-fixdate), formatted at most once per second
//! per thread: a response head copies the cached text instead of formatting a date.

use std::cell::RefCell;
use std::time::{SystemTime, UNIX_EPOCH};

/// Writes the current `Date` value.
pub(crate) fn write_date(out: &mut Vec<u8>) {
    thread_local! {
        static CACHED: RefCell<(u64, String)> = const { RefCell::new((u64::MAX, String::new())) };
    }
    let now = SystemTime::now();
    let second = now
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());
    CACHED.with_borrow_mut(|(at, text)| {
        if *at != second {
            *text = httpdate::fmt_http_date(now);
            *at = second;
        }
        out.extend_from_slice(text.as_bytes());
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_date_is_an_imf_fixdate_of_now() {
        let before = SystemTime::now();
        let mut out = Vec::new();
        write_date(&mut out);
        let text = String::from_utf8(out).expect("ascii");
        assert_eq!(text.len(), "Thu, 01 Jan 1970 00:00:00 GMT".len(), "{text}");
        let parsed = httpdate::parse_http_date(&text).expect("an HTTP date");
        let drift = before
            .duration_since(parsed)
            .unwrap_or_else(|error| error.duration());
        assert!(drift.as_secs() <= 2, "{text} is not now");
    }
}
