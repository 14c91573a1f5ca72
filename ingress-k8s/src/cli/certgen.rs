//! `ingress-proxy certgen create|patch`: the webhook certificate Jobs (see
//! [`crate::certgen`]), run with the controller's own image.

use clap::Subcommand;

use crate::certgen;

/// `certgen`'s steps.
#[derive(Debug, Clone, Subcommand)]
pub enum CertgenCommand {
    /// Generate a CA and a serving certificate into a Secret, unless it exists.
    Create {
        /// The Secret's namespace.
        #[arg(long, env = "POD_NAMESPACE")]
        namespace: String,
        /// The Secret's name.
        #[arg(long)]
        secret_name: String,
        /// The webhook Service's DNS names (comma-separated or repeated).
        #[arg(long, value_delimiter = ',', required = true)]
        host: Vec<String>,
    },
    /// Put the Secret's CA into a ValidatingWebhookConfiguration's `caBundle`.
    Patch {
        /// The Secret's namespace.
        #[arg(long, env = "POD_NAMESPACE")]
        namespace: String,
        /// The Secret's name.
        #[arg(long)]
        secret_name: String,
        /// The ValidatingWebhookConfiguration's name.
        #[arg(long)]
        webhook_name: String,
    },
}

/// Runs one step against the cluster; returns whether it succeeded (errors are printed).
pub(super) async fn run(command: &CertgenCommand, client: kube::Client) -> bool {
    let done = match command {
        CertgenCommand::Create {
            namespace,
            secret_name,
            host,
        } => certgen::create(&client, namespace, secret_name, host)
            .await
            .map(|created| match created {
                true => format!("created Secret {namespace}/{secret_name}"),
                false => format!("Secret {namespace}/{secret_name} exists: left as it is"),
            }),
        CertgenCommand::Patch {
            namespace,
            secret_name,
            webhook_name,
        } => certgen::patch(&client, namespace, secret_name, webhook_name)
            .await
            .map(|count| format!("set caBundle of {count} webhook(s) in {webhook_name}")),
    };
    match done {
        Ok(message) => {
            println!("ingress-proxy certgen: {message}");
            true
        }
        Err(error) => {
            eprintln!("ingress-proxy certgen: {error}");
            false
        }
    }
}
