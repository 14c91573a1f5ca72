//! ConfigMap values (and, for booleans and sizes, annotation values) in ingress-nginx's syntax: Go's `strconv.ParseBool`, whole numbers, nginx
//! sizes (`8k`, `1m`) and nginx times (`1h`, `90s`, `1h30m`). Every parser returns `Err` with
//! the reason, never a silent fallback; all arithmetic is checked.

use std::sync::Arc;
use std::time::Duration;

/// Why a value did not parse (shown in the diagnostic).
pub(crate) type Reason = &'static str;

/// A boolean as ingress-nginx reads one (Go's `strconv.ParseBool`).
pub(crate) fn boolean(value: &str) -> Result<bool, Reason> {
    match value.trim() {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
        _ => Err("expected a boolean (true, false, 1, 0, t, f)"),
    }
}

/// A non-negative whole number that fits `u32`.
pub(super) fn count(value: &str) -> Result<u32, Reason> {
    let value = value.trim();
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err("expected a non-negative whole number");
    }
    value.parse().map_err(|_| "the number is too large")
}

/// Whole seconds, as ingress-nginx writes its timeouts (`"60"`).
pub(super) fn seconds(value: &str) -> Result<Duration, Reason> {
    count(value)
        .map(|s| Duration::from_secs(s.into()))
        .map_err(|_| "expected a whole number of seconds")
}

/// An nginx size: digits with an optional `b`, `k`, `m` or `g` suffix (any case); `0` means
/// unlimited where the key says so.
pub(crate) fn size(value: &str) -> Result<u64, Reason> {
    const REASON: Reason = "expected a size such as 1024, 8k, 1m or 1g";
    let value = value.trim();
    let (digits, scale) = match value.as_bytes().last().map(u8::to_ascii_lowercase) {
        Some(b'b') => (&value[..value.len() - 1], 1u64),
        Some(b'k') => (&value[..value.len() - 1], 1 << 10),
        Some(b'm') => (&value[..value.len() - 1], 1 << 20),
        Some(b'g') => (&value[..value.len() - 1], 1 << 30),
        _ => (value, 1),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(REASON);
    }
    let number: u64 = digits.parse().map_err(|_| REASON)?;
    number.checked_mul(scale).ok_or("the size is too large")
}

/// An nginx time: one or more `<number><unit>` parts (`ms`, `s`, `m`, `h`, `d`, `w`, `M`,
/// `y`; no unit means seconds), such as `1h`, `75s` or `1h30m`.
pub(super) fn nginx_time(value: &str) -> Result<Duration, Reason> {
    const REASON: Reason = "expected an nginx time such as 60s, 1h or 1h30m";
    let mut rest = value.trim();
    if rest.is_empty() {
        return Err(REASON);
    }
    let mut total_ms: u64 = 0;
    while !rest.is_empty() {
        let digits_end = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits_end == 0 {
            return Err(REASON);
        }
        let number: u64 = rest[..digits_end].parse().map_err(|_| REASON)?;
        rest = &rest[digits_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit_ms: u64 = match &rest[..unit_end] {
            "ms" => 1,
            "" | "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "w" => 604_800_000,
            "M" => 2_592_000_000,
            "y" => 31_536_000_000,
            _ => return Err(REASON),
        };
        rest = &rest[unit_end..];
        let part = number.checked_mul(unit_ms).ok_or("the time is too long")?;
        total_ms = total_ms.checked_add(part).ok_or("the time is too long")?;
    }
    Ok(Duration::from_millis(total_ms))
}

/// An HTTP header name (RFC 9110 token characters).
pub(super) fn header_name(value: &str) -> Result<Arc<str>, Reason> {
    let value = value.trim();
    let is_token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if value.is_empty() || !value.chars().all(is_token) {
        return Err("expected an HTTP header name");
    }
    Ok(value.into())
}

/// A comma-separated list of paths (`no-auth-locations`); empty is an empty list.
pub(super) fn path_list(value: &str) -> Result<Arc<[Arc<str>]>, Reason> {
    let paths: Vec<Arc<str>> = value
        .split(',')
        .map(str::trim)
        .filter(|path| !path.is_empty())
        .map(Arc::from)
        .collect();
    if paths.iter().any(|path| !path.starts_with('/')) {
        return Err("expected comma-separated paths, each beginning with /");
    }
    Ok(paths.into())
}

/// Any single-line text.
pub(super) fn line(value: &str) -> Result<Arc<str>, Reason> {
    if value.contains(['\r', '\n']) {
        return Err("expected text without line breaks");
    }
    Ok(value.into())
}

/// One HTTP status code a denial is answered with (`limit-req-status-code`): 400-599.
pub(super) fn denial_status(value: &str) -> Result<u16, Reason> {
    count(value)
        .ok()
        .and_then(|c| u16::try_from(c).ok())
        .filter(|c| (400..=599).contains(c))
        .ok_or("expected an HTTP error status code (400-599)")
}

/// A comma-separated list of HTTP status codes (`404,503`); empty is an empty list.
pub(super) fn status_codes(value: &str) -> Result<Arc<[u16]>, Reason> {
    let mut codes = Vec::new();
    for part in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let code = count(part)
            .ok()
            .and_then(|c| u16::try_from(c).ok())
            .filter(|c| (100..=599).contains(c))
            .ok_or("expected comma-separated HTTP status codes (100-599)")?;
        codes.push(code);
    }
    codes.sort_unstable();
    codes.dedup();
    Ok(codes.into())
}
