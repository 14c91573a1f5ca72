//! `ingress-proxy certgen`: the webhook's certificates without an extra image, doing what the
//! tutorial's `admission-create` and `admission-patch` Jobs (kube-webhook-certgen) do.
//!
//! - `certgen create --namespace NS --secret-name NAME --host HOST[,HOST]`: unless the Secret
//!   exists, generates a CA and a serving certificate for the hosts (the webhook Service's DNS
//!   names), signed by that CA, and stores them in an `Opaque` Secret with kube-webhook-certgen's
//!   keys: `ca` (the CA certificate), `cert` (the serving certificate) and `key` (its private
//!   key), PEM. An existing Secret is left alone, so re-running the Job changes nothing.
//! - `certgen patch --namespace NS --secret-name NAME --webhook-name NAME`: sets every webhook's
//!   `clientConfig.caBundle` in that `ValidatingWebhookConfiguration` to the Secret's `ca`.
//!
//! Certificates: ECDSA P-256, valid without a practical end (rcgen's default span, as
//! kube-webhook-certgen's are valid for a century): rotation is deleting the Secret and running
//! both Jobs again.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::PostParams;
use kube::{Api, Client};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

/// Why a certgen step failed.
#[derive(Debug, thiserror::Error)]
pub enum CertgenError {
    /// Talking to the API server failed.
    #[error("API server: {0}")]
    Api(#[from] kube::Error),
    /// Generating the certificates failed.
    #[error("generating certificates: {0}")]
    Generate(#[from] rcgen::Error),
    /// The Secret exists but has no `ca` key.
    #[error("Secret {0} has no `ca` key")]
    NoCa(String),
    /// No host name was given.
    #[error("at least one --host is needed (the webhook Service's DNS name)")]
    NoHost,
}

/// The PEM files of a generated CA and serving certificate.
#[derive(Debug, Clone)]
pub struct Generated {
    /// The CA certificate.
    pub ca: String,
    /// The serving certificate.
    pub cert: String,
    /// The serving certificate's private key.
    pub key: String,
}

/// Generates a CA and a serving certificate for `hosts`.
pub fn generate(hosts: &[String]) -> Result<Generated, CertgenError> {
    let first = hosts.first().ok_or(CertgenError::NoHost)?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca_params.distinguished_name = DistinguishedName::new();
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "ingress-proxy webhook CA");
    let ca_key = KeyPair::generate()?;
    let ca_cert = ca_params.self_signed(&ca_key)?;
    let issuer = Issuer::new(ca_params, ca_key);

    let mut params = CertificateParams::new(hosts.to_vec())?;
    params.distinguished_name = DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, first);
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    let key = KeyPair::generate()?;
    let cert = params.signed_by(&key, &issuer)?;
    Ok(Generated {
        ca: ca_cert.pem(),
        cert: cert.pem(),
        key: key.serialize_pem(),
    })
}

/// `certgen create`: stores a new CA and serving certificate in the Secret unless it exists.
/// Returns whether it created the Secret.
pub async fn create(
    client: &Client,
    namespace: &str,
    secret_name: &str,
    hosts: &[String],
) -> Result<bool, CertgenError> {
    let secrets: Api<Secret> = Api::namespaced(client.clone(), namespace);
    if secrets.get_opt(secret_name).await?.is_some() {
        tracing::info!(
            secret = secret_name,
            "the webhook Secret exists: left as it is"
        );
        return Ok(false);
    }
    let generated = generate(hosts)?;
    let data: BTreeMap<String, ByteString> = [
        ("ca", generated.ca),
        ("cert", generated.cert),
        ("key", generated.key),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), ByteString(v.into_bytes())))
    .collect();
    let secret = Secret {
        metadata: ObjectMeta {
            name: Some(secret_name.to_owned()),
            namespace: Some(namespace.to_owned()),
            ..ObjectMeta::default()
        },
        type_: Some("Opaque".to_owned()),
        data: Some(data),
        ..Secret::default()
    };
    match secrets.create(&post_params(), &secret).await {
        Ok(_) => Ok(true),
        // Another run created it meanwhile: that one stands.
        Err(kube::Error::Api(status)) if status.code == 409 => Ok(false),
        Err(error) => Err(error.into()),
    }
}

/// `certgen patch`: sets the `caBundle` of every webhook in `webhook_name` to the Secret's CA.
/// Returns how many webhooks it set.
pub async fn patch(
    client: &Client,
    namespace: &str,
    secret_name: &str,
    webhook_name: &str,
) -> Result<usize, CertgenError> {
    let secrets: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let secret = secrets.get(secret_name).await?;
    let ca = secret
        .data
        .and_then(|mut data| data.remove("ca"))
        .ok_or_else(|| CertgenError::NoCa(format!("{namespace}/{secret_name}")))?;
    let configs: Api<ValidatingWebhookConfiguration> = Api::all(client.clone());
    let mut config = configs.get(webhook_name).await?;
    let mut count = 0;
    for webhook in config.webhooks.iter_mut().flatten() {
        webhook.client_config.ca_bundle = Some(ca.clone());
        count += 1;
    }
    configs
        .replace(webhook_name, &post_params(), &config)
        .await?;
    Ok(count)
}

fn post_params() -> PostParams {
    PostParams {
        field_manager: Some(crate::cluster::FIELD_MANAGER.to_owned()),
        ..PostParams::default()
    }
}
