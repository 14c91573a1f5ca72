//! A directory of manifest files → one `ClusterState`, file by file, keeping the last good
//! content of a file that stops parsing.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use ingress_core::{
    Change, ClusterState, EndpointSlice, Ingress, IngressClass, ObjectKey, OpaqueSecret, Service,
    Timestamp, TlsSecret,
};

use super::parse::{ManifestError, ManifestObject, ParsedObject, is_manifest_file, parse_manifest};
use crate::convert::{ConvertError, DEFAULT_NAMESPACE, K8s, OPAQUE_SECRET_TYPE, TLS_SECRET_TYPE};

/// The manifests of one directory, as last read.
///
/// [`reload`](Self::reload) re-reads every file. A file that fails to parse or convert is
/// reported and its previous content stays in force (or it contributes nothing, if it never
/// parsed); no other file is affected. A deleted file's objects go away.
#[derive(Debug)]
pub struct ManifestDirectory {
    /// The directory read.
    dir: PathBuf,
    /// Last good objects per file name, in directory order (file name, then document).
    files: BTreeMap<PathBuf, Vec<ModelObject>>,
    /// The ConfigMap that is the global configuration (`--configmap`); other ConfigMaps are
    /// ignored.
    global_configmap: Option<ObjectKey>,
}

/// What a reload found.
#[derive(Debug, Clone, Default)]
pub struct Reload {
    /// Manifest files read (parsed or not).
    pub files: usize,
    /// Files skipped because they failed (their previous content stays in force).
    pub errors: Vec<ManifestError>,
}

/// One converted object, before synthetic ages are assigned.
#[derive(Debug, Clone)]
pub(super) enum ModelObject {
    Ingress(Ingress),
    IngressClass(IngressClass),
    Service(Service),
    EndpointSlice(EndpointSlice),
    TlsSecret(TlsSecret),
    OpaqueSecret(OpaqueSecret),
    ConfigMap {
        key: ObjectKey,
        data: BTreeMap<String, String>,
    },
}

impl ManifestDirectory {
    /// A source for `dir`; nothing is read until [`reload`](Self::reload).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        ManifestDirectory {
            dir: dir.into(),
            files: BTreeMap::new(),
            global_configmap: None,
        }
    }

    /// Reads the ConfigMap `key` (`--configmap`), when the directory has one, as the global
    /// configuration; every other ConfigMap is ignored.
    pub fn with_global_configmap(mut self, key: Option<ObjectKey>) -> Self {
        self.global_configmap = key;
        self
    }

    /// The ConfigMap read as the global configuration, if any.
    pub fn global_configmap(&self) -> Option<&ObjectKey> {
        self.global_configmap.as_ref()
    }

    /// The directory this source reads.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Re-reads every `*.yaml`, `*.yml` and `*.json` file of the directory (not recursively).
    ///
    /// An unreadable directory is one error; the previous state stays in force.
    pub fn reload(&mut self) -> Reload {
        let mut reload = Reload::default();
        let entries = match fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(error) => {
                reload.errors.push(ManifestError {
                    file: self.dir.clone(),
                    document: None,
                    position: None,
                    field: None,
                    message: format!("cannot read the directory: {error}"),
                });
                return reload;
            }
        };
        let mut names: Vec<PathBuf> = entries
            .filter_map(|entry| entry.ok())
            .map(|entry| entry.path())
            .filter(|path| is_manifest_file(path) && path.is_file())
            .collect();
        names.sort();
        let mut files = BTreeMap::new();
        for path in names {
            reload.files += 1;
            let name = PathBuf::from(path.file_name().unwrap_or(path.as_os_str()));
            match read_file(&path) {
                Ok(objects) => {
                    files.insert(name, objects);
                }
                Err(error) => {
                    tracing::warn!(%error, "manifest file skipped; its previous content stays");
                    if let Some(previous) = self.files.remove(&name) {
                        files.insert(name, previous);
                    }
                    reload.errors.push(error);
                }
            }
        }
        self.files = files;
        reload
    }

    /// The state of every file as last read, in directory order.
    ///
    /// Objects without `creationTimestamp` get a synthetic one from their position (file name,
    /// then document), so earlier in the directory means older. If two files define the same
    /// object, the later one wins, as with `kubectl apply` of both in that order.
    pub fn state(&self) -> ClusterState {
        state_of(
            self.files.values().flatten(),
            self.global_configmap.as_ref(),
        )
    }
}

/// The cluster state of `objects`, in order: objects without `creationTimestamp` get a
/// synthetic one from their position, so earlier means older; a later definition of the same
/// object wins. The ConfigMap named `global_configmap` is the global configuration; other
/// ConfigMaps are ignored.
pub(super) fn state_of<'a>(
    objects: impl IntoIterator<Item = &'a ModelObject>,
    global_configmap: Option<&ObjectKey>,
) -> ClusterState {
    let mut state = ClusterState::default();
    let mut age = 0i64;
    let mut next_age = |slot: &mut Option<Timestamp>| {
        age += 1;
        slot.get_or_insert(Timestamp(age));
    };
    for object in objects {
        match object.clone() {
            ModelObject::Ingress(mut ingress) => {
                next_age(&mut ingress.meta.creation_timestamp);
                state.ingresses.insert(ingress.meta.key(), ingress);
            }
            ModelObject::IngressClass(mut class) => {
                next_age(&mut class.meta.creation_timestamp);
                state.ingress_classes.insert(class.meta.key(), class);
            }
            ModelObject::Service(mut service) => {
                next_age(&mut service.meta.creation_timestamp);
                state.services.insert(service.meta.key(), service);
            }
            ModelObject::EndpointSlice(mut slice) => {
                next_age(&mut slice.meta.creation_timestamp);
                state.endpoint_slices.insert(slice.meta.key(), slice);
            }
            ModelObject::TlsSecret(mut secret) => {
                next_age(&mut secret.meta.creation_timestamp);
                state.tls_secrets.insert(secret.meta.key(), secret);
            }
            ModelObject::OpaqueSecret(mut secret) => {
                next_age(&mut secret.meta.creation_timestamp);
                state.opaque_secrets.insert(secret.meta.key(), secret);
            }
            ModelObject::ConfigMap { key, data } if Some(&key) == global_configmap => {
                state.apply(Change::UpsertGlobalConfig { source: key, data });
            }
            ModelObject::ConfigMap { .. } => {}
        }
    }
    state
}

/// A ConfigMap's name (namespace defaulted as for every namespaced kind) and `data`; one
/// without a name cannot be the `--configmap` one and keeps an empty name.
fn configmap(o: &k8s_openapi::api::core::v1::ConfigMap) -> ModelObject {
    let namespace = o.metadata.namespace.as_deref().unwrap_or(DEFAULT_NAMESPACE);
    let name = o.metadata.name.as_deref().unwrap_or_default();
    ModelObject::ConfigMap {
        key: ObjectKey::new(namespace, name),
        data: o.data.clone().unwrap_or_default(),
    }
}

/// Reads, parses and converts one file.
fn read_file(path: &Path) -> Result<Vec<ModelObject>, ManifestError> {
    let text = fs::read_to_string(path).map_err(|error| ManifestError {
        file: path.to_owned(),
        document: None,
        position: None,
        field: None,
        message: format!("cannot read the file: {error}"),
    })?;
    Ok(read_text(path, &text)?
        .into_iter()
        .map(|(_, object)| object)
        .collect())
}

/// Parses and converts one file's text; each object with where it was parsed from.
pub(super) fn read_text(
    path: &Path,
    text: &str,
) -> Result<Vec<(ParsedObject, ModelObject)>, ManifestError> {
    let parsed = parse_manifest(path, text)?;
    let mut objects = Vec::with_capacity(parsed.len());
    for parsed_object in parsed {
        let as_error = |error: ConvertError| ManifestError {
            file: path.to_owned(),
            document: Some(parsed_object.document),
            position: Some((parsed_object.line, 1)),
            field: Some(error.field.clone()),
            message: error.to_string(),
        };
        let mut converted = Vec::new();
        convert(&parsed_object, &mut converted).map_err(as_error)?;
        for object in converted {
            objects.push((parsed_object.clone(), object));
        }
    }
    Ok(objects)
}

fn convert(parsed: &ParsedObject, out: &mut Vec<ModelObject>) -> Result<(), ConvertError> {
    match &parsed.object {
        ManifestObject::Ingress(o) => out.push(ModelObject::Ingress(K8s(o).try_into()?)),
        ManifestObject::IngressClass(o) => {
            out.push(ModelObject::IngressClass(K8s(o).try_into()?));
        }
        ManifestObject::Service(o) => out.push(ModelObject::Service(K8s(o).try_into()?)),
        ManifestObject::EndpointSlice(o) => {
            out.push(ModelObject::EndpointSlice(K8s(o).try_into()?));
        }
        ManifestObject::Endpoints(o) => {
            let slices: Vec<EndpointSlice> = K8s(o).try_into()?;
            out.extend(slices.into_iter().map(ModelObject::EndpointSlice));
        }
        // TLS Secrets serve certificates, Opaque ones (no type means Opaque) hold `auth-secret`
        // users; other types (docker config, service account tokens, …) are not the route
        // table's business.
        ManifestObject::Secret(o) => match o.type_.as_deref().unwrap_or(OPAQUE_SECRET_TYPE) {
            TLS_SECRET_TYPE => out.push(ModelObject::TlsSecret(K8s(o).try_into()?)),
            OPAQUE_SECRET_TYPE => out.push(ModelObject::OpaqueSecret(K8s(o).try_into()?)),
            _ => {}
        },
        ManifestObject::ConfigMap(o) => out.push(configmap(o)),
    }
    Ok(())
}
