//! The global configuration as part of the desired state: the ConfigMap's raw data, and what
//! was parsed from it on top of the configuration in force before.
//!
//! "Keeps its previous value" must survive a whole-state replacement (a re-read manifest
//! directory, a relist): [`GlobalConfigState::succeeded_by`] re-parses a new state's raw
//! data on top of the configuration in force, so an invalid edit never resets other keys.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::GlobalConfig;
use crate::diagnostics::Diagnostic;
use crate::model::ObjectKey;

/// The ConfigMap in force (if any), the configuration parsed from it, and its diagnostics.
///
/// Two states are equal when their ConfigMaps are (name and `data`): what is parsed from
/// them also depends on the configuration in force before, which is not the desired state.
#[derive(Debug, Clone, Default)]
pub struct GlobalConfigState {
    /// The ConfigMap and its `data`, as last received; `None`: none (all defaults).
    source: Option<(ObjectKey, BTreeMap<String, String>)>,
    config: Arc<GlobalConfig>,
    diagnostics: Vec<Diagnostic>,
}

impl PartialEq for GlobalConfigState {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl Eq for GlobalConfigState {}

impl GlobalConfigState {
    /// The ConfigMap and its `data`, as last received.
    pub fn source(&self) -> Option<&(ObjectKey, BTreeMap<String, String>)> {
        self.source.as_ref()
    }

    /// The configuration in force.
    pub fn config(&self) -> &Arc<GlobalConfig> {
        &self.config
    }

    /// What parsing the ConfigMap reported (ignored keys, invalid values).
    pub fn diagnostics(&self) -> &[Diagnostic] {
        &self.diagnostics
    }

    /// The state after receiving `source` (`None`: the ConfigMap was deleted, so every key
    /// takes its default). Returns `None` when `source` is what is already in force.
    pub(crate) fn received(
        &self,
        source: Option<(ObjectKey, BTreeMap<String, String>)>,
    ) -> Option<GlobalConfigState> {
        if source == self.source {
            return None;
        }
        let (config, diagnostics) = match &source {
            Some((configmap, data)) => self.config.updated_from(configmap, data),
            None => (GlobalConfig::default(), Vec::new()),
        };
        Some(GlobalConfigState {
            source,
            config: Arc::new(config),
            diagnostics,
        })
    }

    /// `next`'s ConfigMap parsed on top of `self`'s configuration (for a whole-state
    /// replacement, whose own parse started from the defaults).
    pub(crate) fn succeeded_by(&self, next: &GlobalConfigState) -> GlobalConfigState {
        self.received(next.source.clone())
            .unwrap_or_else(|| self.clone())
    }
}
