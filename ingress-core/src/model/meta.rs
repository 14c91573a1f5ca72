//! Object identity and age.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

/// `namespace/name` of a namespaced object; the unit of identity for every object kind.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct ObjectKey {
    /// `metadata.namespace` (empty for cluster-scoped objects such as `IngressClass`).
    pub namespace: Arc<str>,
    /// `metadata.name`.
    pub name: Arc<str>,
}

/// An object's age: `metadata.creationTimestamp` in seconds since the Unix epoch.
///
/// Sources without timestamps (a manifest directory) assign a synthetic, monotonically
/// increasing timestamp in file order, so "older" means "earlier in the directory".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct Timestamp(pub i64);

/// The metadata every object carries that routing cares about.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct ObjectMeta {
    /// `metadata.namespace`.
    pub namespace: String,
    /// `metadata.name`.
    pub name: String,
    /// `metadata.creationTimestamp`; `None` sorts as the newest possible object.
    pub creation_timestamp: Option<Timestamp>,
    /// `metadata.annotations`.
    pub annotations: BTreeMap<String, String>,
}

impl ObjectKey {
    /// Builds a key from its parts.
    pub fn new(namespace: &str, name: &str) -> Self {
        ObjectKey {
            namespace: namespace.into(),
            name: name.into(),
        }
    }
}

impl ObjectMeta {
    /// Metadata with a namespace, a name and an age; no annotations.
    pub fn new(namespace: &str, name: &str, creation_timestamp: Option<i64>) -> Self {
        ObjectMeta {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            creation_timestamp: creation_timestamp.map(Timestamp),
            annotations: BTreeMap::new(),
        }
    }

    /// The object's `namespace/name` key.
    pub fn key(&self) -> ObjectKey {
        ObjectKey::new(&self.namespace, &self.name)
    }

    /// The order in which conflicts are decided: older first, then the smaller
    /// `namespace/name` (SEMANTICS §4). Objects without a timestamp count as newest.
    pub fn age_order(&self) -> (i64, &str, &str) {
        (
            self.creation_timestamp.map_or(i64::MAX, |t| t.0),
            &self.namespace,
            &self.name,
        )
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.namespace.is_empty() {
            f.write_str(&self.name)
        } else {
            write!(f, "{}/{}", self.namespace, self.name)
        }
    }
}
