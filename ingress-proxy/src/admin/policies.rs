//! The policies that apply to one path rule, as short labels for `/api/routes` and the
//! dashboard's route table (`redirect 301 → https://…`, `rewrite → /$2`, `canary → Service
//! default/v2:80 (weight 10/100)`, `basic auth`, `limit-rps`, …). Only what differs from the
//! defaults is listed; never a credential or a Secret's contents.

use ingress_core::MatchedRule;
use ingress_core::annotations::RoutePolicy;

/// The labels of `rule`'s policies, in the order the pipeline applies them.
pub(crate) fn labels(rule: &MatchedRule) -> Vec<String> {
    let policy: &RoutePolicy = &rule.policy;
    let mut out = Vec::new();
    if let Some(why) = &policy.denied {
        out.push(format!("denied (503): {why}"));
    }
    if policy.allow_source_range.is_some() {
        out.push("allow source ranges".to_owned());
    }
    if policy.deny_source_range.is_some() {
        out.push("deny source ranges".to_owned());
    }
    if let Some(limits) = &policy.limits {
        if limits.rps.is_some() {
            out.push("limit-rps".to_owned());
        }
        if limits.rpm.is_some() {
            out.push("limit-rpm".to_owned());
        }
        if let Some(connections) = limits.connections {
            out.push(format!("limit-connections {connections}"));
        }
    }
    if policy.basic_auth.is_some() {
        out.push("basic auth".to_owned());
    }
    if let Some(auth) = &policy.external_auth {
        out.push(match auth.signin {
            Some(_) => "external auth (auth-url, auth-signin)".to_owned(),
            None => "external auth (auth-url)".to_owned(),
        });
    }
    if policy.global_auth_disabled {
        out.push("no global auth".to_owned());
    }
    if policy.ssl_passthrough {
        out.push("ssl-passthrough".to_owned());
    }
    if policy.cors.is_some() {
        out.push("CORS".to_owned());
    }
    if policy.force_ssl_redirect == Some(true) {
        out.push("force HTTPS redirect".to_owned());
    } else if policy.ssl_redirect == Some(false) {
        out.push("no HTTPS redirect".to_owned());
    }
    if let Some(redirect) = &policy.redirect {
        out.push(format!(
            "redirect {} → {}",
            redirect.code, redirect.location
        ));
    }
    if let Some(root) = &policy.app_root {
        out.push(format!("app-root {root}"));
    }
    if let Some(target) = &policy.rewrite_target {
        out.push(format!("rewrite → {target}"));
    }
    if let Some(vhost) = &policy.upstream_vhost {
        out.push(format!("upstream-vhost {vhost}"));
    }
    if let Some(protocol) = policy.backend_protocol {
        out.push(format!("backend-protocol {protocol:?}"));
    }
    if let Some(size) = policy.proxy_body_size {
        out.push(format!("proxy-body-size {size}"));
    }
    if !policy.custom_http_errors.is_empty() {
        out.push("custom-http-errors".to_owned());
    }
    if let Some(canary) = &rule.canary {
        let backend = match &canary.backend {
            ingress_core::BackendRef::Service(service) => format!("Service {service}"),
            ingress_core::BackendRef::Resource(resource) => {
                format!("resource {}/{}", resource.kind, resource.name)
            }
        };
        let p = &canary.policy;
        let mut how = Vec::new();
        if let Some(header) = &p.header {
            how.push(format!("header {header}"));
        }
        if let Some(cookie) = &p.cookie {
            how.push(format!("cookie {cookie}"));
        }
        if p.weight > 0 {
            how.push(format!("weight {}/{}", p.weight, p.weight_total));
        }
        out.push(format!(
            "canary {} → {backend} ({})",
            canary.ingress,
            how.join(", ")
        ));
    }
    out
}
