//! keepalived.conf → `[vrrp]` (one `vrrp_instance`).

use std::fmt::Write as _;
use std::net::Ipv4Addr;

use super::{Directive, Report, quoted};

pub(super) fn translate(tree: &[Directive], report: &mut Report<'_>, out: &mut String) {
    let scripts: Vec<&str> = tree
        .iter()
        .filter(|d| d.name == "vrrp_script")
        .filter_map(|d| d.args.first().map(String::as_str))
        .collect();
    let mut instances = 0;
    for directive in tree {
        match (directive.name.as_str(), &directive.block) {
            ("global_defs", Some(_)) => report.note(
                directive,
                "left out (router_id, notification e-mail): ingress-lb has no equivalent",
            ),
            ("vrrp_script", Some(_)) => report.note(
                directive,
                "replaced: a tracking instance gets `track_balancer = true` (the balancer's own health)",
            ),
            ("vrrp_instance", Some(block)) => {
                instances += 1;
                if instances > 1 {
                    report.error(directive, "ingress-lb holds one VRRP instance");
                    continue;
                }
                instance(block, &scripts, report, out);
            }
            _ => report.error(directive, "not supported"),
        }
    }
}

fn instance(block: &[Directive], scripts: &[&str], report: &mut Report<'_>, out: &mut String) {
    let mut lines = vec![
        "[vrrp]".to_owned(),
        // keepalived's default vrrp_version.
        "version = 2".to_owned(),
    ];
    for entry in block {
        let args = entry.args.as_slice();
        match (entry.name.as_str(), args) {
            ("state", [state]) if state == "MASTER" || state == "BACKUP" => {
                lines.push(format!("state = \"{state}\""));
            }
            ("interface", [name]) => lines.push(format!("interface = {}", quoted(name))),
            ("virtual_router_id" | "priority", [value]) if value.parse::<u8>().is_ok() => {
                lines.push(format!("{} = {value}", entry.name));
            }
            ("advert_int" | "preempt_delay", [value]) if value.parse::<f64>().is_ok() => {
                lines.push(format!("{} = {value}", entry.name));
            }
            ("nopreempt", []) => lines.push("preempt = false".to_owned()),
            ("unicast_src_ip", [ip]) if ip.parse::<Ipv4Addr>().is_ok() => {
                lines.push(format!("unicast_src_ip = \"{ip}\""));
            }
            ("authentication", []) => match &entry.block {
                Some(auth) => authentication(entry, auth, report, &mut lines),
                None => report.error(entry, "expected a block"),
            },
            ("virtual_ipaddress" | "unicast_peer" | "track_script", []) => {
                let Some(items) = &entry.block else {
                    report.error(entry, "expected a block");
                    continue;
                };
                list(entry, items, scripts, report, &mut lines);
            }
            _ => report.error(entry, "not supported in `vrrp_instance`"),
        }
    }
    for line in lines {
        let _ = writeln!(out, "{line}");
    }
}

fn authentication(
    entry: &Directive,
    block: &[Directive],
    report: &mut Report<'_>,
    lines: &mut Vec<String>,
) {
    let (mut kind, mut pass) = (None, None);
    for item in block {
        match (item.name.as_str(), item.args.as_slice()) {
            ("auth_type", [value]) => kind = Some(value.clone()),
            ("auth_pass", [value]) => pass = Some(value.clone()),
            _ => report.error(item, "not supported in `authentication`"),
        }
    }
    match (kind, pass) {
        (Some(kind), Some(pass)) => lines.push(format!(
            "authentication = {{ auth_type = {}, auth_pass = {} }}",
            quoted(&kind),
            quoted(&pass)
        )),
        _ => report.error(entry, "needs auth_type and auth_pass"),
    }
}

/// `virtual_ipaddress`, `unicast_peer` and `track_script` blocks: one item per line.
fn list(
    entry: &Directive,
    items: &[Directive],
    scripts: &[&str],
    report: &mut Report<'_>,
    lines: &mut Vec<String>,
) {
    match entry.name.as_str() {
        "track_script" => {
            for item in items {
                if !scripts.contains(&item.name.as_str()) {
                    report.error(item, "no `vrrp_script` of this name");
                }
            }
            lines.push("track_balancer = true".to_owned());
        }
        name => {
            let mut values = Vec::new();
            for item in items {
                if !item.args.is_empty() {
                    report.error(
                        item,
                        "only an address per line is supported (no `dev`/`label`)",
                    );
                    continue;
                }
                let valid = match name {
                    "virtual_ipaddress" => item.name.split_once('/').map_or(
                        item.name.parse::<Ipv4Addr>().is_ok(),
                        |(ip, prefix)| {
                            ip.parse::<Ipv4Addr>().is_ok()
                                && prefix.parse::<u8>().is_ok_and(|p| p <= 32)
                        },
                    ),
                    _ => item.name.parse::<Ipv4Addr>().is_ok(),
                };
                if valid {
                    values.push(quoted(&item.name));
                } else {
                    report.error(item, "not an IPv4 address");
                }
            }
            lines.push(format!("{name} = [{}]", values.join(", ")));
        }
    }
}
