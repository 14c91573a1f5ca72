//! The webhook's verdicts, one case per row of the module docs' table, and hostile input.

use super::*;
use ingress_core::ClassSelection;

fn config() -> TableConfig {
    TableConfig {
        classes: ClassSelection {
            class_names: vec!["nginx".into()],
            ..ClassSelection::default()
        },
        ..TableConfig::default()
    }
}

fn ingress(name: &str, host: &str, path: &str, annotations: &[(&str, &str)]) -> Value {
    let annotations: serde_json::Map<String, Value> = annotations
        .iter()
        .map(|(k, v)| (format!("nginx.ingress.kubernetes.io/{k}"), json!(v)))
        .collect();
    json!({
        "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": {"name": name, "namespace": "default", "annotations": annotations},
        "spec": {"ingressClassName": "nginx", "rules": [{"host": host, "http": {"paths": [
            {"path": path, "pathType": "Prefix",
             "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]}
    })
}

fn request(operation: &str, object: Value) -> Value {
    json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
           "request": {"uid": "u-1", "operation": operation, "object": object}})
}

/// The controller's state holding `objects`, created long ago.
fn state_with(objects: &[Value]) -> ClusterState {
    let mut state = ClusterState::default();
    for object in objects {
        let mut object = object.clone();
        object["metadata"]["creationTimestamp"] = json!("2024-01-01T00:00:00Z");
        let ingress: net::Ingress = serde_json::from_value(object).expect("ingress");
        state.apply(Change::UpsertIngress(
            Ingress::try_from(K8s(&ingress)).expect("converts"),
        ));
    }
    state
}

fn answer(operation: &str, object: Value, state: &ClusterState) -> Value {
    review(&request(operation, object), state, &config())["response"].clone()
}

#[test]
fn a_valid_ingress_is_allowed_without_warnings() {
    let response = answer(
        "CREATE",
        ingress("web", "a.example", "/", &[]),
        &ClusterState::default(),
    );
    assert_eq!(response, json!({"uid": "u-1", "allowed": true}));
}

#[test]
fn rejected_invalid_annotations_and_conflicts_are_denied_with_the_data_plane_s_messages() {
    let older = ingress("older", "a.example", "/", &[]);
    let state = state_with(std::slice::from_ref(&older));
    let cases = [
        (ingress("bad", "Bad_Host", "/", &[]), "Bad_Host"),
        (
            ingress("big", "b.example", "/", &[("proxy-body-size", "lots")]),
            "proxy-body-size",
        ),
        (ingress("dup", "a.example", "/", &[]), "older"),
    ];
    for (object, needle) in cases {
        let response = answer("CREATE", object.clone(), &state);
        assert_eq!(response["allowed"], false, "{object}");
        let message = response["status"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(needle), "{message}");
        // The same words the table gives (and `check` and the Events print).
        let mut with = state.clone();
        let converted: net::Ingress = serde_json::from_value(object).unwrap();
        let converted = Ingress::try_from(K8s(&converted)).unwrap();
        let key = converted.meta.key();
        with.apply(Change::UpsertIngress(converted));
        let table = RouteTable::build(&with, &config());
        let first = table
            .diagnostics()
            .iter()
            .find(|d| *d.object() == key)
            .expect("a diagnostic");
        assert!(message.contains(&first.to_string()), "{message}");
    }
    // Updating the older Ingress itself is not a conflict with itself.
    assert_eq!(answer("UPDATE", older, &state)["allowed"], true);
}

#[test]
fn other_diagnostics_are_warnings_on_an_allowed_ingress() {
    let response = answer(
        "CREATE",
        ingress(
            "w",
            "w.example",
            "/",
            &[("mirror-target", "https://m.example")],
        ),
        &ClusterState::default(),
    );
    assert_eq!(response["allowed"], true);
    let warnings = response["warnings"].as_array().expect("warnings");
    assert_eq!(warnings.len(), 1);
    assert!(warnings[0].as_str().unwrap().contains("mirror-target"));
}

#[test]
fn other_classes_deletions_and_unconvertible_objects() {
    let mut theirs = ingress("theirs", "Bad_Host", "/", &[]);
    theirs["spec"]["ingressClassName"] = json!("someone-else");
    let empty = ClusterState::default();
    assert_eq!(answer("CREATE", theirs, &empty)["allowed"], true);
    assert_eq!(answer("DELETE", Value::Null, &empty)["allowed"], true);
    let mut nameless = ingress("x", "a.example", "/", &[]);
    nameless["metadata"]["name"] = Value::Null;
    assert_eq!(answer("CREATE", nameless, &empty)["allowed"], false);
    let garbage = answer("CREATE", json!({"spec": "not an object"}), &empty);
    assert_eq!(garbage["allowed"], false);
    assert!(
        garbage["status"]["message"]
            .as_str()
            .unwrap()
            .contains("not an Ingress")
    );
    let not_a_review = review(&json!({"hello": 1}), &empty, &config());
    assert_eq!(not_a_review["response"]["allowed"], false);
}

#[test]
fn hostile_ingresses_are_judged_as_data_and_leave_the_state_unchanged() {
    // The IngressNightmare family put nginx directives and Lua into annotations and paths;
    // here they are text the validator reads, never configuration anything runs.
    let state = state_with(&[ingress("older", "a.example", "/", &[])]);
    let before = state.clone();
    let hostile = [
        ingress(
            "snippet",
            "h.example",
            "/",
            &[("configuration-snippet", "load_module /tmp/evil.so;")],
        ),
        ingress(
            "auth",
            "h2.example",
            "/",
            &[("auth-url", "http://x/#;\nload_module /tmp/evil.so;")],
        ),
        ingress(
            "path",
            "h3.example",
            "/x;}\nload_module /tmp/evil.so;#",
            &[],
        ),
        ingress(
            "uid",
            "h4.example",
            "/",
            &[("rewrite-target", "/$1 } server { listen 1; }")],
        ),
    ];
    let expected = [
        (true, "configuration-snippet"),
        // Read since auth-url is implemented: a line break is not a URL character.
        (false, "auth-url"),
        // A literal prefix no request line can carry: harmless, matched as text.
        (true, ""),
        (false, "rewrite-target"),
    ];
    for (object, (allowed, named)) in hostile.into_iter().zip(expected) {
        let response = answer("CREATE", object.clone(), &state);
        assert_eq!(response["uid"], "u-1");
        assert_eq!(response["allowed"], allowed, "{object}: {response}");
        let said = format!("{}{}", response["warnings"], response["status"]["message"]);
        assert!(said.contains(named), "{object}: {response}");
    }
    assert_eq!(state, before, "the controller's state is not touched");
}
