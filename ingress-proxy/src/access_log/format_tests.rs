use std::sync::Arc;

use http::{HeaderValue, Uri, Version};
use ingress_core::{PortRef, ServiceRef};

use super::*;
use crate::access_log::entry::UpstreamName;

const SECONDS: u64 = Entry::SAMPLE_SECONDS;

fn entry() -> Entry {
    Entry::sample()
}

fn text(entry: &Entry) -> String {
    let mut out = String::new();
    Formatter::default().write(AccessLogFormat::Text, entry, &mut out);
    out
}

fn json(entry: &Entry) -> String {
    let mut out = String::new();
    Formatter::default().write(AccessLogFormat::Json, entry, &mut out);
    out
}

#[test]
fn text_is_ingress_nginx_upstreaminfo() {
    assert_eq!(
        text(&entry()),
        "10.0.0.7 - - [03/Dec/2026:07:04:46 +0000] \"GET /api?q=1 HTTP/1.1\" 200 612 \"-\" \
         \"curl/8.5.0\" 78 0.004 [default-web-80] [] 10.1.2.3:8080 612 0.003 200 \
         0af1c2d3e4f5a6b7c8d9e0f1a2b3c4d5\n"
    );
}

#[test]
fn a_refused_request_says_why_after_the_upstreaminfo_fields() {
    let mut entry = entry();
    entry.status = 403;
    entry.upstream_addr = None;
    entry.upstream_status = None;
    entry.upstream_response_time = None;
    entry.upstream_response_length = None;
    entry.denied = Some("source_range");
    let line = text(&entry);
    assert!(
        line.ends_with(" - - - - 0af1c2d3e4f5a6b7c8d9e0f1a2b3c4d5 denied=source_range\n"),
        "{line}"
    );
    assert!(
        json(&entry).ends_with(",\"error\":null,\"denied\":\"source_range\"}\n"),
        "{}",
        json(&entry)
    );
}

#[test]
fn text_without_upstream_uses_dashes_and_the_default_backend_name() {
    let mut entry = entry();
    entry.upstream_name = UpstreamName::DefaultBackend;
    entry.upstream_addr = None;
    entry.upstream_response_length = None;
    entry.upstream_status = None;
    entry.upstream_response_time = None;
    entry.request_id = None;
    entry.user_agent = None;
    entry.status = 404;
    let line = text(&entry);
    assert!(
        line.ends_with("404 612 \"-\" \"-\" 78 0.004 [upstream-default-backend] [] - - - - -\n"),
        "{line}"
    );
}

#[test]
fn text_escapes_quotes_backslashes_and_non_printable_bytes_as_nginx() {
    let mut entry = entry();
    entry.user_agent =
        Some(HeaderValue::from_bytes(b"evil\" \\ \t\xe9").expect("obs-text is a valid value"));
    let line = text(&entry);
    assert!(line.contains("\"evil\\x22 \\x5C \\x09\\xE9\""), "{line}");
}

#[test]
fn text_names_a_port_by_name_and_http2_requests_by_path() {
    let mut entry = entry();
    entry.upstream_name = UpstreamName::Service(ServiceRef {
        namespace: Arc::from("shop"),
        name: Arc::from("api"),
        port: PortRef::Name(Arc::from("grpc")),
    });
    entry.version = Version::HTTP_2;
    entry.uri = Uri::from_static("https://web.example/api?q=1");
    let line = text(&entry);
    assert!(line.contains("\"GET /api?q=1 HTTP/2.0\""), "{line}");
    assert!(line.contains("[shop-api-grpc] []"), "{line}");
}

#[test]
fn json_has_the_same_fields_under_nginx_names() {
    assert_eq!(
        json(&entry()),
        "{\"time_iso8601\":\"2026-12-03T07:04:46+00:00\",\"remote_addr\":\"10.0.0.7\",\
         \"remote_user\":null,\"request\":\"GET /api?q=1 HTTP/1.1\",\"status\":200,\
         \"body_bytes_sent\":612,\"http_referer\":null,\"http_user_agent\":\"curl/8.5.0\",\
         \"request_length\":78,\"request_time\":0.004,\"proxy_upstream_name\":\"default-web-80\",\
         \"proxy_alternative_upstream_name\":null,\"upstream_addr\":\"10.1.2.3:8080\",\
         \"upstream_response_length\":612,\"upstream_response_time\":0.003,\
         \"upstream_status\":200,\"req_id\":\"0af1c2d3e4f5a6b7c8d9e0f1a2b3c4d5\",\
         \"host\":\"web.example\",\"error\":null,\"denied\":null}\n"
    );
}

#[test]
fn json_escapes_strings_and_writes_missing_values_as_null() {
    let mut entry = entry();
    entry.user_agent = Some(HeaderValue::from_bytes(b"a\"b\\c\td").expect("valid value"));
    entry.upstream_name = UpstreamName::None;
    entry.upstream_status = None;
    entry.error = Some("upstream said \"no\"".to_owned());
    let line = json(&entry);
    assert!(
        line.contains("\"http_user_agent\":\"a\\\"b\\\\c\\u0009d\""),
        "{line}"
    );
    assert!(line.contains("\"proxy_upstream_name\":null"), "{line}");
    assert!(line.contains("\"upstream_status\":null"), "{line}");
    assert!(
        line.contains("\"error\":\"upstream said \\\"no\\\"\",\"denied\":null}"),
        "{line}"
    );
}

#[test]
fn dates_are_gregorian_across_leap_years_and_centuries() {
    assert_eq!(civil_date(0), (1970, 1, 1));
    assert_eq!(civil_date(11_016), (2000, 2, 29));
    assert_eq!(civil_date(11_017), (2000, 3, 1));
    assert_eq!(civil_date(SECONDS / 86_400), (2026, 12, 3));
    assert_eq!(civil_date(47_540), (2100, 2, 28));
    assert_eq!(civil_date(47_541), (2100, 3, 1));
}

/// `entry` written with `format` as a ConfigMap's `log-format-upstream`, with `headers` the
/// values of its `$http_*` variables.
fn custom(entry: &Entry, format: &str, headers: &[Option<&'static str>]) -> String {
    let (format, _) = ingress_core::global_config::LogFormat::compile(format);
    let custom = crate::access_log::CustomFields {
        format: Arc::new(format),
        headers: headers
            .iter()
            .map(|h| h.map(HeaderValue::from_static))
            .collect(),
        ingress: Some("site".into()),
    };
    let mut out = String::new();
    let mut formatter = Formatter::default();
    formatter.set_time(entry.time);
    formatter.template(&custom, entry, &mut out);
    out
}

#[test]
fn the_default_format_as_a_template_writes_what_the_built_in_text_writes() {
    let sample = entry();
    let built_in = text(&sample);
    let templated = custom(
        &sample,
        ingress_core::global_config::DEFAULT_LOG_FORMAT_UPSTREAM,
        &[None, Some("curl/8.5.0")],
    );
    assert_eq!(format!("{templated}\n"), built_in);
}

#[test]
fn a_custom_format_logs_variables_headers_and_dashes() {
    let line = custom(
        &entry(),
        "$host|$uri|$args|$request_method|$server_protocol|$namespace/$ingress_name/$service_name:$service_port|$http_x_user|$http_x_missing|$pid|${status}",
        &[Some("alice \"the\" admin"), None],
    );
    assert_eq!(
        line,
        "web.example|/api|q=1|GET|HTTP/1.1|default/site/web:80|alice \\x22the\\x22 admin|-|-|200"
    );
}
