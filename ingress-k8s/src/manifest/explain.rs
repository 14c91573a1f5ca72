//! `ingress-proxy explain`: which rule a request would take in a set of manifests, what the
//! other candidates were and why each lost (see `ingress_core::explain`), and which endpoints
//! the chosen Service has.

use std::fmt;

use ingress_core::explain::{CanaryAnswer, ExplainRequest, Explanation, describe_target};
use ingress_core::{Endpoints, TableConfig, Target};

use super::check::{CheckInput, LoadedSet, Origin, load};
use super::parse::ManifestError;

/// The explanation of one request against a manifest set.
#[derive(Debug, Clone)]
pub struct ExplainReport {
    /// The rule-by-rule explanation.
    pub explanation: Explanation,
    /// Where the chosen rule's Ingress was read from.
    pub origin: Option<Origin>,
    /// The chosen Service's endpoints, as the data plane would see them (`None`: no Service).
    pub endpoints: Option<Endpoints>,
    /// The chosen rule's canary and what it does with this request's headers and cookies (the
    /// same answer as the admin API's `/api/explain`).
    pub canary: Option<CanaryAnswer>,
    /// Whether the request arrives over HTTPS (a plain-HTTP request to a TLS host is
    /// redirected instead of routed).
    pub https: bool,
    /// Files that could not be read (their objects are not part of the answer).
    pub errors: Vec<ManifestError>,
}

/// Explains how `request` (over HTTPS when `https`) routes in `inputs`.
pub fn explain(
    inputs: &[CheckInput],
    config: TableConfig,
    request: &ExplainRequest<'_>,
    https: bool,
) -> ExplainReport {
    let (host, path) = (request.host, request.path);
    let LoadedSet {
        state,
        origins,
        errors,
        ..
    } = load(inputs, None);
    let explanation = ingress_core::explain::explain(&state, &config, host, path);
    let table = ingress_core::RouteTable::build(&state, &config);
    let canary = ingress_core::explain::explain_snapshot(&table, request).canary;
    let route = table.route(host, path);
    let endpoints = match route.target {
        Target::Service(backend) => Some((*backend.endpoints()).clone()),
        Target::Resource(_) | Target::NotFound => None,
    };
    let origin = explanation
        .decision
        .rule
        .as_ref()
        .and_then(|(ingress, _, _)| origins.get(ingress).cloned());
    ExplainReport {
        explanation,
        origin,
        endpoints,
        canary,
        https,
        errors,
    }
}

impl fmt::Display for ExplainReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for error in &self.errors {
            writeln!(f, "error: {error} (its objects are left out)")?;
        }
        write!(f, "{}", self.explanation)?;
        if let Some(origin) = &self.origin {
            writeln!(f, "chosen rule's Ingress read from {origin}")?;
        }
        if let Some(canary) = &self.canary {
            writeln!(
                f,
                "canary {} → {}: {}",
                canary.ingress,
                describe_target(&canary.backend),
                canary.outcome
            )?;
        }
        if self.explanation.decision.https_redirect && !self.https {
            writeln!(
                f,
                "over plain HTTP this request is answered 308 (redirect to https); with --scheme https it is routed as above"
            )?;
        }
        match &self.endpoints {
            Some(Endpoints::Ready(addresses)) => {
                let list: Vec<String> = addresses.iter().map(ToString::to_string).collect();
                write!(f, "eligible endpoints: {}", list.join(", "))
            }
            Some(Endpoints::External { host, port }) => {
                write!(f, "endpoint: ExternalName {host}:{port}")
            }
            Some(Endpoints::Unavailable(why)) => {
                write!(f, "no eligible endpoint (the request gets 503): {why:?}")
            }
            None => write!(f, "no Service endpoints involved"),
        }
    }
}
