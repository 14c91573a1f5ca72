//! The validating admission webhook: an `AdmissionReview` (`admission.k8s.io/v1`) for an
//! Ingress is answered with the verdict of the same validator the data plane uses, with the
//! same messages.
//!
//! # What is decided
//!
//! The Ingress under review is converted as a watched one would be, put into a copy of the
//! controller's current desired state (replacing its previous version), and the route table is
//! built from that copy ([`RouteTable::build`]). Then, for that Ingress only:
//!
//! | outcome | answer |
//! |---|---|
//! | not of this controller's class, or a `DELETE` | allowed, nothing checked (as ingress-nginx) |
//! | the object cannot be converted (a missing name, an unreadable port) | denied, naming the field |
//! | `Rejected` (an invalid host, path or backend) | denied with the diagnostic's message |
//! | `AnnotationInvalid` (a supported annotation with an invalid value) | denied |
//! | `RuleConflict` (the same host, path and type as an older Ingress) | denied, as ingress-nginx's admission refuses a host and path already defined |
//! | every other diagnostic (ignored annotation, missing TLS Secret, regex notes, …) | allowed, each as an admission **warning** (`kubectl` prints them) |
//!
//! # Why this webhook cannot be an IngressNightmare
//!
//! ingress-nginx's webhook rendered an nginx configuration from the Ingress under review and
//! ran `nginx -t` on it, so annotation text reached a configuration parser that could load
//! modules (CVE-2025-1974 and its siblings). Here the review is [`RouteTable::build`] over
//! typed values: nothing is rendered, nothing is written to disk, no process is started, and
//! the copy of the state is dropped after the answer. A hostile Ingress is denied or accepted
//! with no side effect (see the tests).
//!
//! ```
//! use ingress_core::{ClusterState, TableConfig};
//! use ingress_k8s::admission::review;
//! use serde_json::json;
//!
//! let ingress = json!({
//!     "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
//!     "metadata": {"name": "bad", "namespace": "default"},
//!     "spec": {"rules": [{"host": "Bad_Host", "http": {"paths": [{"path": "/", "pathType": "Prefix",
//!         "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]}
//! });
//! let request = json!({
//!     "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
//!     "request": {"uid": "705ab4f5", "operation": "CREATE", "object": ingress}
//! });
//! let config = TableConfig { classes: ingress_core::ClassSelection {
//!     watch_without_class: true, ..Default::default() }, ..TableConfig::default() };
//! let answer = review(&request, &ClusterState::default(), &config);
//! assert_eq!(answer["response"]["uid"], "705ab4f5");
//! assert_eq!(answer["response"]["allowed"], false);
//! assert!(answer["response"]["status"]["message"].as_str().unwrap().contains("Bad_Host"));
//! ```

use ingress_core::{Change, ClusterState, Diagnostic, Ingress, RouteTable, TableConfig};
use k8s_openapi::api::networking::v1 as net;
use serde_json::{Value, json};

use crate::convert::K8s;

/// The verdict on one Ingress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// Whether the API server may store it.
    pub allowed: bool,
    /// Why not, when denied.
    pub message: Option<String>,
    /// What the user should know even when allowed.
    pub warnings: Vec<String>,
}

impl Verdict {
    fn allow(warnings: Vec<String>) -> Self {
        Verdict {
            allowed: true,
            message: None,
            warnings,
        }
    }

    fn deny(message: String, warnings: Vec<String>) -> Self {
        Verdict {
            allowed: false,
            message: Some(message),
            warnings,
        }
    }
}

/// Answers an `AdmissionReview` request (the whole JSON document the API server posts). A
/// document that is not a review of an Ingress is denied with the reason; the answer always
/// carries the request's `uid` when it has one.
pub fn review(document: &Value, state: &ClusterState, config: &TableConfig) -> Value {
    let request = &document["request"];
    let uid = request["uid"].clone();
    let verdict = match request["operation"].as_str() {
        Some("DELETE") => Verdict::allow(Vec::new()),
        Some(_) => match serde_json::from_value::<net::Ingress>(request["object"].clone()) {
            Ok(ingress) => validate(&ingress, state, config),
            Err(error) => Verdict::deny(format!("not an Ingress: {error}"), Vec::new()),
        },
        None => Verdict::deny(
            "not an AdmissionReview request (no request.operation)".to_owned(),
            Vec::new(),
        ),
    };
    let mut response = json!({ "uid": uid, "allowed": verdict.allowed });
    if let Some(message) = verdict.message {
        response["status"] = json!({ "code": 400, "reason": "BadRequest", "message": message });
    }
    if !verdict.warnings.is_empty() {
        response["warnings"] = json!(verdict.warnings);
    }
    json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "response": response,
    })
}

/// The answer while the controller has not listed the cluster yet: allowed, with a warning
/// saying it was not checked.
pub fn not_synced_yet(document: &Value) -> Value {
    json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "response": {
            "uid": document["request"]["uid"].clone(),
            "allowed": true,
            "warnings": ["not validated: the ingress controller is still reading the cluster"],
        },
    })
}

/// The verdict on `ingress` if it joined `state` (see the [module docs](self)).
pub fn validate(ingress: &net::Ingress, state: &ClusterState, config: &TableConfig) -> Verdict {
    let mut converted = match Ingress::try_from(K8s(ingress)) {
        Ok(converted) => converted,
        Err(error) => return Verdict::deny(error.to_string(), Vec::new()),
    };
    // An object not created yet is the newest of all (conflicts go to the older ones).
    if converted.meta.creation_timestamp.is_none() {
        converted.meta.creation_timestamp = Some(ingress_core::Timestamp(i64::MAX));
    }
    if !config
        .classes
        .is_ours(&converted, state.ingress_classes.values())
    {
        return Verdict::allow(Vec::new());
    }
    let key = converted.meta.key();
    let mut candidate = state.clone();
    candidate.apply(Change::UpsertIngress(converted));
    let table = RouteTable::build(&candidate, config);
    let mut denials = Vec::new();
    let mut warnings = Vec::new();
    for diagnostic in table.diagnostics().iter().filter(|d| *d.object() == key) {
        match diagnostic {
            Diagnostic::Rejected(_)
            | Diagnostic::AnnotationInvalid { .. }
            | Diagnostic::RuleConflict { .. } => denials.push(diagnostic.to_string()),
            _ => warnings.push(diagnostic.to_string()),
        }
    }
    match denials.is_empty() {
        true => Verdict::allow(warnings),
        false => Verdict::deny(denials.join("; "), warnings),
    }
}

#[cfg(test)]
#[path = "admission_tests.rs"]
mod tests;
