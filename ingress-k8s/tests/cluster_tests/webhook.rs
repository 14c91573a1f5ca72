//! The certgen Jobs and the validating webhook against the fake API server.

use super::*;

/// Posts `review` to the webhook at `address` over TLS, trusting only `ca_pem`, for the
/// Service name `host`; returns the status and the JSON body.
#[cfg(feature = "binary")]
async fn post_review(
    address: std::net::SocketAddr,
    ca_pem: &str,
    host: &str,
    review: &serde_json::Value,
) -> Result<(u16, serde_json::Value), String> {
    use http_body_util::BodyExt;
    use rustls_pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pki_types::CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(address).await.unwrap();
    let name = rustls_pki_types::ServerName::try_from(host.to_owned()).unwrap();
    let tls = connector
        .connect(name, tcp)
        .await
        .map_err(|e| e.to_string())?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls))
            .await
            .unwrap();
    tokio::spawn(connection);
    let request = http::Request::post("/networking/v1/ingresses")
        .header("host", host)
        .header("content-type", "application/json")
        .body(http_body_util::Full::new(bytes::Bytes::from(
            review.to_string(),
        )))
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    Ok((
        status,
        serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null),
    ))
}

#[cfg(feature = "binary")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certgen_jobs_and_the_webhook_work_together() {
    let fake = FakeApi::start().await;
    seed(&fake);
    let host = "ingress-engine-admission.ingress-engine.svc";
    let client = fake.client();

    // admission-create: a Secret with ca, cert and key; a second run leaves it alone.
    let created =
        ingress_k8s::certgen::create(&client, "ingress-engine", "admission", &[host.to_owned()])
            .await
            .unwrap();
    assert!(created);
    let secret = || {
        fake.store
            .lock()
            .unwrap()
            .writes
            .iter()
            .filter(|w| w.0 == "POST" && w.1 == "secrets")
            .count()
    };
    assert!(
        !ingress_k8s::certgen::create(&client, "ingress-engine", "admission", &[host.to_owned()])
            .await
            .unwrap()
    );
    assert_eq!(secret(), 1, "created once");
    let data = {
        let api: kube::Api<k8s_openapi::api::core::v1::Secret> =
            kube::Api::namespaced(fake.client(), "ingress-engine");
        api.get("admission").await.unwrap().data.unwrap()
    };
    let text = |key: &str| String::from_utf8(data[key].0.clone()).unwrap();
    let (ca, cert, key) = (text("ca"), text("cert"), text("key"));

    // admission-patch: every webhook's caBundle is the CA.
    fake.apply(
        "validatingwebhookconfigurations",
        json!({"metadata": {"name": "ingress-engine-admission"},
               "webhooks": [{"name": "validate.ingress-engine.dev", "admissionReviewVersions": ["v1"],
                             "sideEffects": "None",
                             "clientConfig": {"service": {"name": "ingress-engine-admission", "namespace": "ingress-engine",
                                                          "path": "/networking/v1/ingresses"}}}]}),
    );
    let patched = ingress_k8s::certgen::patch(
        &client,
        "ingress-engine",
        "admission",
        "ingress-engine-admission",
    )
    .await
    .unwrap();
    assert_eq!(patched, 1);
    let webhooks = {
        let api: kube::Api<
            k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration,
        > = kube::Api::all(fake.client());
        api.get("ingress-engine-admission").await.unwrap()
    };
    let bundle = webhooks.webhooks.unwrap()[0]
        .client_config
        .ca_bundle
        .clone()
        .unwrap();
    assert_eq!(bundle.0, ca.as_bytes());

    // The webhook serves with that certificate and answers from the controller's state.
    let dir = std::env::temp_dir().join(format!("ingress-k8s-webhook-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("cert"), &cert).unwrap();
    std::fs::write(dir.join("key"), &key).unwrap();
    let (writer, reader) = table(table_config());
    let source = ClusterSource::new(fake.client(), config("controller-a"));
    let webhook = ingress_k8s::webhook::WebhookConfig {
        addr: "127.0.0.1:0".parse().unwrap(),
        certificate: dir.join("cert"),
        key: dir.join("key"),
    };
    let (address, serving) = ingress_k8s::webhook::bind(&webhook, source.admission())
        .await
        .unwrap();
    let served = tokio::spawn(serving);
    let task = tokio::spawn(source.run(writer, std::future::pending()));
    tokio::time::timeout(Duration::from_secs(10), reader.wait_until_ready())
        .await
        .expect("ready");
    let review = |object: serde_json::Value| {
        json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
               "request": {"uid": "r-1", "operation": "CREATE", "object": object}})
    };
    let mut taken = ingress("copycat", "tomcat.lucky.com", "tomcat");
    taken["apiVersion"] = json!("networking.k8s.io/v1");
    taken["kind"] = json!("Ingress");
    taken["metadata"]["namespace"] = json!("default");
    let (status, answer) = post_review(address, &ca, host, &review(taken))
        .await
        .unwrap();
    assert_eq!(status, 200);
    assert_eq!(answer["response"]["uid"], "r-1");
    assert_eq!(answer["response"]["allowed"], false, "{answer}");
    assert!(
        answer["response"]["status"]["message"]
            .as_str()
            .unwrap()
            .contains("ingress-myapp"),
        "names the Ingress that has the host and path: {answer}"
    );
    let mut fresh = ingress("fresh", "fresh.lucky.com", "tomcat");
    fresh["metadata"]["namespace"] = json!("default");
    let (_, answer) = post_review(address, &ca, host, &review(fresh))
        .await
        .unwrap();
    assert_eq!(answer["response"]["allowed"], true, "{answer}");
    // A client that does not trust the CA, or asks for another name, gets no answer.
    let other = ingress_k8s::certgen::generate(&[host.to_owned()]).unwrap();
    assert!(
        post_review(address, &other.ca, host, &review(json!({})))
            .await
            .is_err()
    );
    assert!(
        post_review(address, &ca, "elsewhere.svc", &review(json!({})))
            .await
            .is_err()
    );
    task.abort();
    served.abort();
    let _ = std::fs::remove_dir_all(&dir);
}
