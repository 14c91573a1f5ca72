//! `GET /api/explain`: which rule a request takes in the table in force and why every other
//! rule lost — [`ingress_core::explain::explain_snapshot`], worded as `ingress-proxy explain`
//! words it (`text` is that report), plus the chosen Service's endpoints and their health.
//!
//! Query: `host`, `path` (default `/`), `scheme` (`http` default, or `https`: plain HTTP to a
//! host with a `tls` entry is redirected, not routed), `header=Name:Value` and
//! `cookie=name=value`, each repeatable (they matter to canary rules).

use serde_json::{Value, json};

use ingress_core::RouteTable;
use ingress_core::Target;
use ingress_core::explain::{
    CanaryOutcome, ExplainRequest, describe_source, describe_target, explain_snapshot,
};
use ingress_core::reference::DecisionTarget;

use super::api;
use super::query;
use crate::handler::Shared;

/// `/api/explain?…`.
pub(crate) fn explain(shared: &Shared, table: &RouteTable, raw_query: Option<&str>) -> Value {
    let pairs = query::pairs(raw_query);
    let host = query::first(&pairs, "host").filter(|h| !h.is_empty());
    let path = query::first(&pairs, "path")
        .filter(|p| !p.is_empty())
        .unwrap_or("/");
    let https = query::first(&pairs, "scheme") == Some("https");
    let headers: Vec<(&str, &str)> = values(&pairs, "header", ':');
    let cookies: Vec<(&str, &str)> = values(&pairs, "cookie", '=');
    let request = ExplainRequest {
        host,
        path,
        headers: &headers,
        cookies: &cookies,
    };
    let answer = explain_snapshot(table, &request);
    let explanation = &answer.explanation;
    let decision = &explanation.decision;
    let candidates: Vec<Value> = explanation
        .candidates
        .iter()
        .map(|c| {
            json!({
                "ingress": c.rule.ingress.to_string(),
                "rule": [c.rule.rule_index, c.rule.path_index],
                "host": c.rule.host.as_deref(),
                "path": &*c.rule.path,
                "path_type": c.rule.path_type.as_str(),
                "backend": describe_target(&c.backend),
                "chosen": matches!(c.verdict, ingress_core::explain::Verdict::Chosen),
                "verdict": c.verdict.to_string(),
            })
        })
        .collect();
    let route = table.route(host, path);
    let endpoints = match route.target {
        Target::Service(backend) => api::endpoints(shared, backend),
        Target::Resource(_) | Target::NotFound => Value::Null,
    };
    let canary = answer.canary.as_ref().map(|canary| {
        let outcome = match canary.outcome {
            CanaryOutcome::Selected => "selected",
            CanaryOutcome::ByWeight { .. } => "by_weight",
            _ => "not_selected",
        };
        let detail = canary.outcome.to_string();
        json!({
            "ingress": canary.ingress.to_string(),
            "backend": describe_target(&canary.backend),
            "outcome": outcome,
            "detail": detail,
        })
    });
    let redirected = decision.https_redirect && !https;
    json!({
        "generation": table.generation(),
        "request": {
            "host": explanation.host,
            "path": explanation.path,
            "scheme": if https { "https" } else { "http" },
        },
        "host_entry": match &explanation.host_entry {
            Some(Some(entry)) => json!(entry),
            Some(None) => json!("(host-less rules)"),
            None => Value::Null,
        },
        "decision": {
            "target": describe_target(&decision.target),
            "service": match &decision.target {
                DecisionTarget::Service(service) => json!(service.to_string()),
                _ => Value::Null,
            },
            "source": describe_source(decision.source),
            "rule": decision.rule.as_ref().map(|(ingress, r, p)| json!({
                "ingress": ingress.to_string(),
                "rule": [r, p],
            })),
            "https_redirect": decision.https_redirect,
            "redirected": redirected,
        },
        "candidates": candidates,
        "canary": canary,
        "endpoints": endpoints,
        "text": explanation.to_string(),
    })
}

/// The `name` parameters split at the first `separator` (`Name:Value`, `name=value`); a
/// parameter without one is ignored.
fn values<'a>(
    pairs: &'a [(String, String)],
    name: &str,
    separator: char,
) -> Vec<(&'a str, &'a str)> {
    pairs
        .iter()
        .filter(|(n, _)| n == name)
        .filter_map(|(_, v)| v.split_once(separator))
        .map(|(n, v)| (n.trim(), v.trim()))
        .collect()
}
