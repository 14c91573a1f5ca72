//! The line formats (see the parent module's docs): ingress-nginx's `upstreaminfo` text, a
//! ConfigMap's `log-format-upstream` (in [`template`]) and JSON. Runs on the writer thread
//! only.

use std::fmt::Write as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::HeaderValue;

use super::entry::{Entry, request_target};
use crate::config::AccessLogFormat;

/// Formats lines, caching the timestamps of the current second.
#[derive(Debug, Default)]
pub(crate) struct Formatter {
    /// Unix second the cached strings are for.
    second: Option<u64>,
    /// `03/Dec/2026:07:04:46 +0000`
    time_local: String,
    /// `2026-12-03T07:04:46+00:00`
    time_iso8601: String,
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

impl Formatter {
    /// Appends `entry` as one line (with its `\n`) to `out`.
    pub(crate) fn write(&mut self, format: AccessLogFormat, entry: &Entry, out: &mut String) {
        self.set_time(entry.time);
        match (format, &entry.custom) {
            (AccessLogFormat::Text, Some(custom)) => self.template(custom, entry, out),
            (AccessLogFormat::Text, None) => self.text(entry, out),
            (AccessLogFormat::Json, _) => self.json(entry, out),
        }
        out.push('\n');
    }

    fn text(&self, entry: &Entry, out: &mut String) {
        let _ = write!(out, "{} - - [{}] \"", entry.client, self.time_local);
        let mut request = String::with_capacity(64);
        request_line(entry, &mut request);
        escape_nginx(request.as_bytes(), out);
        let _ = write!(out, "\" {} {} \"", entry.status, entry.body_bytes_sent);
        escape_header_nginx(entry.referer.as_ref(), out);
        out.push_str("\" \"");
        escape_header_nginx(entry.user_agent.as_ref(), out);
        let _ = write!(out, "\" {} ", entry.request_length);
        seconds(entry.request_time, out);
        out.push_str(" [");
        entry.upstream_name.write_to(out);
        out.push_str("] [] ");
        let _ = match entry.upstream_addr {
            Some(address) => write!(out, "{address} "),
            None => write!(out, "- "),
        };
        let _ = match entry.upstream_response_length {
            Some(length) => write!(out, "{length} "),
            None => write!(out, "- "),
        };
        match entry.upstream_response_time {
            Some(time) => seconds(time, out),
            None => out.push('-'),
        }
        let _ = match entry.upstream_status {
            Some(status) => write!(out, " {status} "),
            None => write!(out, " - "),
        };
        escape_header_nginx(entry.request_id.as_ref(), out);
        if let Some(reason) = entry.denied {
            out.push_str(" denied=");
            out.push_str(reason);
        }
    }

    fn json(&self, entry: &Entry, out: &mut String) {
        let _ = write!(
            out,
            "{{\"time_iso8601\":\"{}\",\"remote_addr\":\"{}\",\"remote_user\":null,\"request\":",
            self.time_iso8601, entry.client
        );
        let mut request = String::with_capacity(64);
        request_line(entry, &mut request);
        json_string(request.as_bytes(), out);
        let _ = write!(
            out,
            ",\"status\":{},\"body_bytes_sent\":{},\"http_referer\":",
            entry.status, entry.body_bytes_sent
        );
        json_header(entry.referer.as_ref(), out);
        out.push_str(",\"http_user_agent\":");
        json_header(entry.user_agent.as_ref(), out);
        let _ = write!(
            out,
            ",\"request_length\":{},\"request_time\":",
            entry.request_length
        );
        seconds(entry.request_time, out);
        out.push_str(",\"proxy_upstream_name\":");
        let mut name = String::new();
        entry.upstream_name.write_to(&mut name);
        if name == "-" {
            out.push_str("null");
        } else {
            json_string(name.as_bytes(), out);
        }
        out.push_str(",\"proxy_alternative_upstream_name\":null,\"upstream_addr\":");
        let _ = match entry.upstream_addr {
            Some(address) => write!(out, "\"{address}\""),
            None => write!(out, "null"),
        };
        out.push_str(",\"upstream_response_length\":");
        let _ = match entry.upstream_response_length {
            Some(length) => write!(out, "{length}"),
            None => write!(out, "null"),
        };
        out.push_str(",\"upstream_response_time\":");
        match entry.upstream_response_time {
            Some(time) => seconds(time, out),
            None => out.push_str("null"),
        }
        out.push_str(",\"upstream_status\":");
        let _ = match entry.upstream_status {
            Some(status) => write!(out, "{status}"),
            None => write!(out, "null"),
        };
        out.push_str(",\"req_id\":");
        json_header(entry.request_id.as_ref(), out);
        out.push_str(",\"host\":");
        json_header(entry.host.as_ref(), out);
        out.push_str(",\"error\":");
        match &entry.error {
            Some(error) => json_string(error.as_bytes(), out),
            None => out.push_str("null"),
        }
        out.push_str(",\"denied\":");
        match entry.denied {
            Some(reason) => json_string(reason.as_bytes(), out),
            None => out.push_str("null"),
        }
        out.push('}');
    }

    fn set_time(&mut self, time: SystemTime) {
        let second = time
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_secs());
        if self.second == Some(second) {
            return;
        }
        self.second = Some(second);
        let (year, month, day) = civil_date(second / 86_400);
        let (hour, minute, sec) = (second / 3600 % 24, second / 60 % 60, second % 60);
        // `month` is 1..=12 by construction of `civil_date`.
        let month_name = MONTHS
            .get(month.saturating_sub(1) as usize)
            .unwrap_or(&"Jan");
        self.time_local.clear();
        let _ = write!(
            self.time_local,
            "{day:02}/{month_name}/{year:04}:{hour:02}:{minute:02}:{sec:02} +0000"
        );
        self.time_iso8601.clear();
        let _ = write!(
            self.time_iso8601,
            "{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{sec:02}+00:00"
        );
    }
}

/// `METHOD target VERSION`, as `$request`.
fn request_line(entry: &Entry, out: &mut String) {
    out.push_str(entry.method.as_str());
    out.push(' ');
    for piece in request_target(&entry.uri, entry.version) {
        out.push_str(piece);
    }
    let _ = write!(out, " {:?}", entry.version);
}

/// Seconds with millisecond precision, as nginx writes `$request_time`.
fn seconds(duration: Duration, out: &mut String) {
    let _ = write!(
        out,
        "{}.{:03}",
        duration.as_secs(),
        duration.subsec_millis()
    );
}

/// nginx's default log escaping: `"`, `\` and bytes outside printable ASCII become `\xHH`.
fn escape_nginx(bytes: &[u8], out: &mut String) {
    for &byte in bytes {
        if byte == b'"' || byte == b'\\' || !(0x20..=0x7e).contains(&byte) {
            let _ = write!(out, "\\x{byte:02X}");
        } else {
            out.push(char::from(byte));
        }
    }
}

fn escape_header_nginx(value: Option<&HeaderValue>, out: &mut String) {
    match value {
        Some(value) if !value.is_empty() => escape_nginx(value.as_bytes(), out),
        _ => out.push('-'),
    }
}

/// A JSON string; bytes that are not UTF-8 become U+FFFD.
fn json_string(bytes: &[u8], out: &mut String) {
    out.push('"');
    for c in String::from_utf8_lossy(bytes).chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if u32::from(c) < 0x20 || c == '\u{7f}' => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn json_header(value: Option<&HeaderValue>, out: &mut String) {
    match value {
        Some(value) if !value.is_empty() => json_string(value.as_bytes(), out),
        _ => out.push_str("null"),
    }
}

/// The proleptic Gregorian date of a day counted from 1970-01-01 (H. Hinnant's
/// `civil_from_days`, for days after the epoch).
fn civil_date(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[path = "template.rs"]
mod template;

#[cfg(test)]
#[path = "format_tests.rs"]
mod tests;
