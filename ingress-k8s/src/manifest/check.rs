//! `ingress-proxy check`: what `nginx -t` is to nginx. Reads manifests the way `--manifests`
//! does and reports, without serving anything, every problem the controller would log: files
//! that do not parse or convert (file, document, line, field), Ingresses the route table
//! rejects (object and field), conflict losers, missing Secrets, and Ingresses that are not
//! this controller's (their class). [`CheckReport::passed`] is false when any object would be
//! rejected or skipped.
//!
//! ```
//! use ingress_core::{ClassSelection, TableConfig};
//! use ingress_k8s::manifest::{CheckInput, check};
//!
//! let ingress = "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: web}\n\
//!     spec:\n  ingressClassName: nginx\n  rules:\n  - host: web.example\n    http:\n      paths:\n\
//!     \x20     - {path: api, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}\n";
//! let config = TableConfig {
//!     classes: ClassSelection { controller_name: "x".into(), class_names: vec!["nginx".into()], watch_without_class: false },
//!     default_backend: None,
//!     default_certificate: None,
//!     ssl_passthrough: false,
//! };
//! let report = check(&[CheckInput::new("web.yaml", ingress)], config);
//! assert!(!report.passed());
//! let text = report.to_string();
//! assert!(text.contains("web.yaml: document 0: line 1: Ingress default/web: spec.rules[0].http.paths[0].path"), "{text}");
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use ingress_core::{Diagnostic, Ingress, ObjectKey, TableConfig};

use super::directory::{ModelObject, read_text, state_of};
use super::parse::{ManifestError, is_manifest_file};

/// One manifest file's name and text.
#[derive(Debug, Clone)]
pub struct CheckInput {
    /// The file (or `-` for standard input), as it is to be reported.
    pub file: PathBuf,
    /// Its content.
    pub text: String,
}

/// Where an object was read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The file.
    pub file: PathBuf,
    /// 0-based document index in the file.
    pub document: usize,
    /// 1-based line where the object starts.
    pub line: u64,
}

/// An Ingress of a class this controller does not serve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotOurs {
    /// The Ingress.
    pub ingress: ObjectKey,
    /// The class it asks for (`spec.ingressClassName`, else the legacy annotation).
    pub class: Option<String>,
    /// Where it was read from.
    pub origin: Option<Origin>,
}

/// Everything `check` found.
#[derive(Debug, Clone, Default)]
pub struct CheckReport {
    /// Files read.
    pub files: usize,
    /// Objects read from the files that parsed.
    pub objects: usize,
    /// Files that could not be read, parsed or converted (none of their objects would apply).
    pub errors: Vec<ManifestError>,
    /// The route table's diagnostics, with where each object came from.
    pub diagnostics: Vec<(Diagnostic, Option<Origin>)>,
    /// Ingresses this controller would not serve (another class, or none).
    pub not_ours: Vec<NotOurs>,
    /// Ingresses that would serve.
    pub accepted: usize,
    /// The `--configmap` ConfigMap, when no manifest defines it (ingress-nginx's defaults
    /// apply): a warning, so a misspelt namespace or name is not silent.
    pub missing_configmap: Option<ObjectKey>,
}

impl CheckInput {
    /// An input from its name and text.
    pub fn new(file: impl Into<PathBuf>, text: impl Into<String>) -> Self {
        CheckInput {
            file: file.into(),
            text: text.into(),
        }
    }
}

impl CheckReport {
    /// Whether every object would apply: no file error and no rejected Ingress.
    pub fn passed(&self) -> bool {
        self.errors.is_empty()
            && !self
                .diagnostics
                .iter()
                .any(|(diagnostic, _)| matches!(diagnostic, Diagnostic::Rejected(_)))
    }
}

/// Reads `paths` (files, directories — their `*.yaml`, `*.yml` and `*.json` files, not
/// recursively — or `-` for standard input, read by the caller into `stdin`) into inputs, in
/// order; a path that cannot be read is an error in the report.
pub fn read_inputs(
    paths: &[PathBuf],
    stdin: Option<&str>,
) -> (Vec<CheckInput>, Vec<ManifestError>) {
    let mut inputs = Vec::new();
    let mut errors = Vec::new();
    let unreadable = |path: &Path, error: std::io::Error| ManifestError {
        file: path.to_owned(),
        document: None,
        position: None,
        field: None,
        message: format!("cannot read: {error}"),
    };
    for path in paths {
        if path.as_os_str() == "-" {
            inputs.push(CheckInput::new("-", stdin.unwrap_or_default()));
            continue;
        }
        let files = if path.is_dir() {
            match std::fs::read_dir(path) {
                Ok(entries) => {
                    let mut files: Vec<PathBuf> = entries
                        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
                        .filter(|file| is_manifest_file(file) && file.is_file())
                        .collect();
                    files.sort();
                    files
                }
                Err(error) => {
                    errors.push(unreadable(path, error));
                    continue;
                }
            }
        } else {
            vec![path.clone()]
        };
        for file in files {
            match std::fs::read_to_string(&file) {
                Ok(text) => inputs.push(CheckInput::new(file, text)),
                Err(error) => errors.push(unreadable(&file, error)),
            }
        }
    }
    (inputs, errors)
}

/// Manifest inputs read as one set: the cluster state they describe, where each Ingress came
/// from, and the files that failed.
#[derive(Debug, Default)]
pub(super) struct LoadedSet {
    pub(super) state: ingress_core::ClusterState,
    pub(super) origins: BTreeMap<ObjectKey, Origin>,
    pub(super) errors: Vec<ManifestError>,
    pub(super) objects: usize,
}

/// Reads `inputs` as one manifest set, in order (earlier objects are older, as in a manifest
/// directory); the ConfigMap `global_configmap` is the global configuration.
pub(super) fn load(inputs: &[CheckInput], global_configmap: Option<&ObjectKey>) -> LoadedSet {
    let mut loaded = LoadedSet::default();
    let mut objects: Vec<ModelObject> = Vec::new();
    for input in inputs {
        match read_text(&input.file, &input.text) {
            Ok(read) => {
                for (parsed, object) in read {
                    let key = match &object {
                        ModelObject::Ingress(ingress) => Some(ingress.meta.key()),
                        ModelObject::ConfigMap { key, .. } if Some(key) == global_configmap => {
                            Some(key.clone())
                        }
                        _ => None,
                    };
                    if let Some(key) = key {
                        let origin = Origin {
                            file: input.file.clone(),
                            document: parsed.document,
                            line: parsed.line,
                        };
                        loaded.origins.insert(key, origin);
                    }
                    objects.push(object);
                }
            }
            Err(error) => loaded.errors.push(error),
        }
    }
    loaded.objects = objects.len();
    loaded.state = state_of(&objects, global_configmap);
    loaded
}

/// Checks `inputs` as one manifest set, in order (earlier objects are older, as in a
/// manifest directory), against the controller configuration `config`.
pub fn check(inputs: &[CheckInput], config: TableConfig) -> CheckReport {
    check_with_configmap(inputs, config, None)
}

/// [`check`], with the ConfigMap `global_configmap` (`--configmap`) read as the global
/// configuration: its ignored keys and invalid values are reported as warnings.
pub fn check_with_configmap(
    inputs: &[CheckInput],
    config: TableConfig,
    global_configmap: Option<&ObjectKey>,
) -> CheckReport {
    let LoadedSet {
        state,
        origins,
        errors,
        objects,
    } = load(inputs, global_configmap);
    let mut report = CheckReport {
        files: inputs.len(),
        objects,
        errors,
        missing_configmap: global_configmap
            .filter(|_| state.global_config.source().is_none())
            .cloned(),
        ..CheckReport::default()
    };
    let ingresses: Vec<(ObjectKey, Option<String>)> = state
        .ingresses
        .iter()
        .map(|(key, ingress)| {
            let legacy = ingress
                .meta
                .annotations
                .get(Ingress::LEGACY_CLASS_ANNOTATION);
            (
                key.clone(),
                ingress.spec.ingress_class_name.clone().or(legacy.cloned()),
            )
        })
        .collect();
    let (mut writer, _reader) = ingress_core::table(config);
    writer.replace(state);
    let table = writer.commit().table;
    let origin = |key: &ObjectKey| origins.get(key).cloned();
    report.diagnostics = table
        .diagnostics()
        .iter()
        .map(|diagnostic| (diagnostic.clone(), origin(diagnostic.object())))
        .collect();
    let accepted = table.accepted_ingresses();
    report.accepted = accepted.len();
    let rejected = |key: &ObjectKey| {
        report.diagnostics.iter().any(|(diagnostic, _)| {
            matches!(diagnostic, Diagnostic::Rejected(_)) && diagnostic.object() == key
        })
    };
    report.not_ours = ingresses
        .into_iter()
        .filter(|(key, _)| !accepted.contains(key) && !rejected(key))
        .map(|(ingress, class)| NotOurs {
            origin: origin(&ingress),
            ingress,
            class,
        })
        .collect();
    report
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: document {}: line {}",
            self.file.display(),
            self.document,
            self.line
        )
    }
}

impl fmt::Display for CheckReport {
    /// One line per problem (`error:` for what would not apply, `warning:` for conflicts and
    /// missing Secrets, `note:` for Ingresses of another class), then a summary line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for error in &self.errors {
            writeln!(f, "error: {error}")?;
        }
        for (diagnostic, origin) in &self.diagnostics {
            let level = match diagnostic {
                Diagnostic::Rejected(_) => "error",
                _ => "warning",
            };
            match origin {
                Some(origin) => writeln!(
                    f,
                    "{level}: {origin}: {diagnostic} [{}]",
                    diagnostic.reason()
                )?,
                None => writeln!(f, "{level}: {diagnostic} [{}]", diagnostic.reason())?,
            }
        }
        if let Some(configmap) = &self.missing_configmap {
            writeln!(
                f,
                "warning: ConfigMap {configmap} (--configmap) is not in the manifests: every key takes ingress-nginx's default"
            )?;
        }
        for skipped in &self.not_ours {
            let at = skipped
                .origin
                .as_ref()
                .map(|o| format!("{o}: "))
                .unwrap_or_default();
            let class = match &skipped.class {
                Some(class) => format!("ingress class {class:?} is not one of ours"),
                None => "it names no ingress class, and Ingresses without one are not watched"
                    .to_owned(),
            };
            writeln!(
                f,
                "note: {at}Ingress {} is not served by this controller: {class}",
                skipped.ingress
            )?;
        }
        let rejected = self
            .diagnostics
            .iter()
            .filter(|(d, _)| matches!(d, Diagnostic::Rejected(_)))
            .count();
        write!(
            f,
            "check {}: {} files, {} objects, {} Ingresses served, {} rejected, {} files skipped, {} warnings",
            if self.passed() { "passed" } else { "failed" },
            self.files,
            self.objects,
            self.accepted,
            rejected,
            self.errors.len(),
            self.diagnostics.len() - rejected + usize::from(self.missing_configmap.is_some()),
        )
    }
}
