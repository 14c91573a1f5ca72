//! Every Warning reason of the core reaches the API server as an Event on its object.

use super::*;

/// An Ingress of our class named `name` with `annotations` (keys after the
/// `nginx.ingress.kubernetes.io/` prefix) and `spec` fields merged over one rule.
fn ingress_with(
    name: &str,
    annotations: &[(&str, &str)],
    spec: serde_json::Value,
) -> serde_json::Value {
    let annotations: serde_json::Map<String, serde_json::Value> = annotations
        .iter()
        .map(|(k, v)| (format!("nginx.ingress.kubernetes.io/{k}"), json!(v)))
        .collect();
    let mut spec_out = json!({"ingressClassName": "ours"});
    for (key, value) in spec.as_object().unwrap() {
        spec_out[key] = value.clone();
    }
    json!({"metadata": {"name": name, "annotations": annotations}, "spec": spec_out})
}

fn rule(host: &str, path: &str, path_type: &str) -> serde_json::Value {
    json!([{"host": host, "http": {"paths": [{"path": path, "pathType": path_type,
        "backend": {"service": {"name": "tomcat", "port": {"name": "http"}}}}]}}])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_warning_reason_reaches_the_cluster_as_an_event_on_its_object() {
    let fake = FakeApi::start().await;
    seed(&fake);
    let backend = json!({"service": {"name": "tomcat", "port": {"name": "http"}}});
    let objects = [
        ingress_with(
            "rejected",
            &[],
            json!({"rules": rule("Bad_Host", "/", "Prefix")}),
        ),
        ingress_with(
            "first",
            &[],
            json!({"rules": rule("dup.lucky.com", "/", "Prefix")}),
        ),
        ingress_with(
            "second",
            &[],
            json!({"rules": rule("dup.lucky.com", "/", "Prefix")}),
        ),
        ingress_with("default-a", &[], json!({"defaultBackend": backend})),
        ingress_with("default-b", &[], json!({"defaultBackend": backend})),
        ingress_with(
            "tls-a",
            &[],
            json!({"rules": rule("tls.lucky.com", "/a", "Prefix"),
            "tls": [{"hosts": ["tls.lucky.com"], "secretName": "cert-a"}]}),
        ),
        ingress_with(
            "tls-b",
            &[],
            json!({"rules": rule("tls.lucky.com", "/b", "Prefix"),
            "tls": [{"hosts": ["tls.lucky.com"], "secretName": "cert-b"}]}),
        ),
        ingress_with(
            "ignored",
            &[("mirror-target", "https://m.example")],
            json!({"rules": rule("ignored.lucky.com", "/", "Prefix")}),
        ),
        ingress_with(
            "invalid",
            &[("proxy-body-size", "lots")],
            json!({"rules": rule("invalid.lucky.com", "/", "Prefix")}),
        ),
        ingress_with(
            "regex",
            &[("use-regex", "true")],
            json!({"rules": rule("regex.lucky.com", "/api/(.*)", "ImplementationSpecific")}),
        ),
        ingress_with(
            "regex-other",
            &[],
            json!({"rules": rule("regex.lucky.com", "/other", "ImplementationSpecific")}),
        ),
        ingress_with(
            "regex-prefix",
            &[("use-regex", "true")],
            json!({"rules": rule("prefix.lucky.com", "/v[0-9]+", "Prefix")}),
        ),
        ingress_with(
            "lonely-canary",
            &[("canary", "true"), ("canary-weight", "10")],
            json!({"rules": rule("nomain.lucky.com", "/", "Prefix")}),
        ),
        ingress_with(
            "alias",
            &[("server-alias", "dup.lucky.com")],
            json!({"rules": rule("alias.lucky.com", "/", "Prefix")}),
        ),
    ];
    for object in objects {
        fake.apply("ingresses", object);
    }
    fake.apply(
        "configmaps",
        json!({"metadata": {"name": "ingress-config", "namespace": "ingress-engine"},
               "data": {"no-such-key": "1", "hsts-max-age": "forever", "allow-snippet-annotations": "true"}}),
    );
    let source = ClusterSource::new(
        fake.client(),
        ClusterConfig {
            configmap: Some(ObjectKey::new("ingress-engine", "ingress-config")),
            ..config("controller-a")
        },
    );
    let (writer, reader) = table(table_config());
    let task = tokio::spawn(source.run(writer, std::future::pending()));
    tokio::time::timeout(Duration::from_secs(10), reader.wait_until_ready())
        .await
        .expect("ready");

    // (regarding kind, regarding name, reason)
    let expected: std::collections::BTreeSet<(&str, &str, &str)> = [
        ("Ingress", "rejected", "Rejected"),
        ("Ingress", "second", "RuleConflict"),
        ("Ingress", "default-b", "DefaultBackendConflict"),
        ("Ingress", "tls-b", "TLSConflict"),
        ("Ingress", "tls-a", "TLSSecretMissing"),
        ("Ingress", "ignored", "AnnotationIgnored"),
        ("Ingress", "invalid", "AnnotationInvalid"),
        ("Ingress", "regex-other", "RegexEnforced"),
        ("Ingress", "regex-prefix", "RegexNotApplied"),
        ("Ingress", "lonely-canary", "CanaryNotApplied"),
        ("Ingress", "alias", "ServerAliasNotApplied"),
        ("ConfigMap", "ingress-config", "ConfigKeyIgnored"),
        ("ConfigMap", "ingress-config", "ConfigValueInvalid"),
        ("ConfigMap", "ingress-config", "ConfigValueAdjusted"),
    ]
    .into_iter()
    .collect();
    let warnings = || -> std::collections::BTreeSet<(String, String, String)> {
        fake.store
            .lock()
            .unwrap()
            .events
            .iter()
            .filter(|e| e["type"] == "Warning")
            .map(|e| {
                let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_owned();
                (
                    text(&e["regarding"]["kind"]),
                    text(&e["regarding"]["name"]),
                    text(&e["reason"]),
                )
            })
            .collect()
    };
    let all_seen = eventually(Duration::from_secs(10), || {
        let seen = warnings();
        expected
            .iter()
            .all(|(k, n, r)| seen.contains(&((*k).to_owned(), (*n).to_owned(), (*r).to_owned())))
    })
    .await;
    let missing: Vec<_> = expected
        .iter()
        .filter(|(k, n, r)| {
            !warnings().contains(&((*k).to_owned(), (*n).to_owned(), (*r).to_owned()))
        })
        .collect();
    assert!(all_seen, "missing {missing:?}; seen {:?}", warnings());
    task.abort();
}
