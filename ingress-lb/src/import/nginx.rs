//! nginx's `stream` block → `[upstreams.*]` and `[[listeners]]`.

use std::fmt::Write as _;
use std::net::SocketAddr;

use super::{Directive, Report, quoted};

/// Process-level directives outside `stream`: read, left out (this process has its own).
const PROCESS_LEVEL: &[&str] = &[
    "user",
    "worker_processes",
    "worker_rlimit_nofile",
    "error_log",
    "pid",
    "include",
    "load_module",
    "events",
    "http",
    "daemon",
];

pub(super) fn translate(tree: &[Directive], report: &mut Report<'_>, out: &mut String) {
    let mut streams = 0;
    for directive in tree {
        match (directive.name.as_str(), &directive.block) {
            ("stream", Some(block)) => {
                streams += 1;
                stream(block, report, out);
            }
            (name, _) if PROCESS_LEVEL.contains(&name) => {
                report.note(directive, "is process-level nginx configuration: left out");
            }
            _ => report.error(directive, "not supported outside `stream`"),
        }
    }
    if streams == 0 {
        report
            .errors
            .push(format!("{}: no `stream` block", report.file));
    }
}

fn stream(block: &[Directive], report: &mut Report<'_>, out: &mut String) {
    for directive in block {
        match (directive.name.as_str(), &directive.block) {
            ("upstream", Some(servers)) => upstream(directive, servers, report, out),
            ("server", Some(server)) => listener(server, directive, report, out),
            ("log_format" | "access_log", None) => report.note(
                directive,
                "left out: ingress-lb logs each connection through tracing (target ingress_lb::access)",
            ),
            _ => report.error(directive, "not supported in `stream`"),
        }
    }
}

fn upstream(directive: &Directive, block: &[Directive], report: &mut Report<'_>, out: &mut String) {
    let [name] = directive.args.as_slice() else {
        report.error(directive, "expected one name");
        return;
    };
    let _ = writeln!(out, "[upstreams.{}]", quoted(name));
    let mut servers = Vec::new();
    for entry in block {
        match (entry.name.as_str(), entry.args.as_slice()) {
            ("least_conn", []) => {
                let _ = writeln!(out, "algorithm = \"least_conn\"");
            }
            ("hash", [key, consistent]) if key == "$remote_addr" && consistent == "consistent" => {
                let _ = writeln!(out, "algorithm = \"hash\"");
            }
            ("hash", _) => report.error(entry, "only `hash $remote_addr consistent` is supported"),
            ("server", [address, params @ ..]) => match server(address, params) {
                Ok(server) => servers.push(server),
                Err(reason) => report.error(entry, reason),
            },
            _ => report.error(entry, "not supported in `upstream`"),
        }
    }
    if servers.is_empty() {
        report.error(directive, "no `server`");
    }
    let _ = writeln!(out, "servers = [\n{}]\n", servers.join(""));
}

/// One `server` line of an upstream, as a TOML inline table.
fn server(address: &str, params: &[String]) -> Result<String, String> {
    let address: SocketAddr = address
        .parse()
        .map_err(|_| format!("{address}: an IP:port is needed (names are not resolved)"))?;
    let mut table = format!("  {{ address = \"{address}\"");
    for param in params {
        match param.split_once('=') {
            Some(("weight" | "max_fails", value)) if value.parse::<u32>().is_ok() => {
                let key = param.split_once('=').map_or("", |(k, _)| k);
                let _ = write!(table, ", {key} = {value}");
            }
            Some(("fail_timeout", value)) => {
                value
                    .parse::<crate::config::NginxDuration>()
                    .map_err(|_| format!("fail_timeout={value}: not an nginx time"))?;
                let _ = write!(table, ", fail_timeout = {}", quoted(value));
            }
            None if param == "backup" || param == "down" => {
                let _ = write!(table, ", {param} = true");
            }
            _ => return Err(format!("server parameter `{param}` is not supported")),
        }
    }
    table.push_str(" },\n");
    Ok(table)
}

fn listener(block: &[Directive], directive: &Directive, report: &mut Report<'_>, out: &mut String) {
    let mut lines = Vec::new();
    let mut listen = None;
    let mut upstream = None;
    for entry in block {
        match (entry.name.as_str(), entry.args.as_slice()) {
            ("listen", [address]) => match listen_address(address) {
                Some(address) => listen = Some(address),
                None => report.error(entry, format!("{address}: expected PORT or IP:PORT")),
            },
            ("listen", _) => report.error(
                entry,
                "only `listen [IP:]PORT;` is supported (no listen parameters, no PROXY protocol from clients)",
            ),
            ("proxy_pass", [name]) => upstream = Some(name.clone()),
            ("proxy_connect_timeout" | "proxy_timeout", [value]) => {
                if value.parse::<crate::config::NginxDuration>().is_err() {
                    report.error(entry, format!("{value}: not an nginx time"));
                    continue;
                }
                let key = match entry.name.as_str() {
                    "proxy_connect_timeout" => "connect_timeout",
                    _ => "timeout",
                };
                lines.push(format!("{key} = {}", quoted(value)));
            }
            ("proxy_protocol", [on]) if on == "on" => {
                lines.push("proxy_protocol = \"v1\"".to_owned());
            }
            ("proxy_protocol", [off]) if off == "off" => {}
            ("proxy_next_upstream", [value]) if value == "on" || value == "off" => {
                lines.push(format!("next_upstream = {}", value == "on"));
            }
            ("proxy_next_upstream_tries", [value]) if value.parse::<u32>().is_ok() => {
                lines.push(format!("next_upstream_tries = {value}"));
            }
            _ => report.error(entry, "not supported in a stream `server`"),
        }
    }
    let (Some(listen), Some(upstream)) = (listen, upstream) else {
        report.error(directive, "needs `listen` and `proxy_pass`");
        return;
    };
    let _ = writeln!(out, "[[listeners]]");
    let _ = writeln!(out, "address = \"{listen}\"");
    let _ = writeln!(out, "upstream = {}", quoted(&upstream));
    for line in lines {
        let _ = writeln!(out, "{line}");
    }
    out.push('\n');
}

/// nginx's `listen`: a port alone means every IPv4 address.
fn listen_address(text: &str) -> Option<SocketAddr> {
    match text.parse::<u16>() {
        Ok(port) => Some(SocketAddr::from(([0, 0, 0, 0], port))),
        Err(_) => text.parse().ok(),
    }
}
