//! Validation: raw Ingresses become validated routes, or typed errors naming object and field.
//!
//! The rules repeat the API server's (the manifest-directory source has no API server in front
//! of it), SEMANTICS §4:
//! - hosts are lower-case DNS-1123 subdomains, optionally with a leading `*.`, never IP
//!   addresses;
//! - paths are absolute; `Exact` and `Prefix` paths contain none of `//`, `/./`, `/../`, `%2f`,
//!   `%2F` and do not end in `/..` or `/.`;
//! - a backend is exactly one of `service` or `resource`; a service port is exactly one of
//!   `name` or `number` (1–65535).
//!
//! ```
//! use ingress_core::{Ingress, PathType, ServiceBackend, ValidIngress};
//!
//! let bad = Ingress::new("default", "shop", Some(1))
//!     .with_path(Some("Shop.example.com"), PathType::Prefix, "/", ServiceBackend::number("web", 80));
//! let errors = ValidIngress::try_from(&bad).unwrap_err();
//! assert_eq!(
//!     errors[0].to_string(),
//!     "Ingress default/shop: spec.rules[0].host: \"Shop.example.com\" is not a lower-case DNS-1123 subdomain"
//! );
//! ```

mod alias;
mod canary;
mod error;
mod host;
mod ingress;
mod path;
mod regex;

pub(crate) use alias::www_redirects;
pub use canary::CanaryBackend;
pub use error::{InvalidField, InvalidIngress};
pub use host::HostPattern;
pub(crate) use host::wildcard_suffix;
pub use ingress::{BackendRef, ValidIngress, ValidPath, ValidRule, ValidTls};
pub use path::{PathType, RulePath};
pub(crate) use regex::rewrite_of;
