//! Diagnostics logged once, when they appear: every table a source publishes is compared with
//! the previous one, and only what is new (a rejected Ingress, a conflict loser, a missing
//! Secret) is logged as a warning naming the object, the reason and the field; what went away
//! is logged once as resolved. Shared by the manifest directory and the cluster watches.

use std::collections::BTreeSet;

use ingress_core::{Diagnostic, RouteTable};

/// What the previous table said, to log only the difference.
#[derive(Debug, Default)]
pub struct DiagnosticLog {
    current: BTreeSet<Diagnostic>,
}

/// What changed between two tables' diagnostics.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct DiagnosticChanges {
    /// Diagnostics the new table has and the previous did not.
    pub appeared: Vec<Diagnostic>,
    /// Diagnostics the previous table had and the new one does not.
    pub resolved: Vec<Diagnostic>,
}

impl DiagnosticLog {
    /// A log that has seen nothing yet.
    pub fn new() -> Self {
        DiagnosticLog::default()
    }

    /// Logs what is new and what was resolved in `table`, and returns both.
    pub fn report(&mut self, table: &RouteTable) -> DiagnosticChanges {
        let changes = self.compare(table.diagnostics());
        for diagnostic in &changes.appeared {
            tracing::warn!(
                object = %diagnostic.object(),
                reason = diagnostic.reason(),
                "{diagnostic}"
            );
        }
        for diagnostic in &changes.resolved {
            tracing::info!(
                object = %diagnostic.object(),
                reason = diagnostic.reason(),
                "resolved: {diagnostic}"
            );
        }
        changes
    }

    fn compare(&mut self, diagnostics: &[Diagnostic]) -> DiagnosticChanges {
        let now: BTreeSet<Diagnostic> = diagnostics.iter().cloned().collect();
        let changes = DiagnosticChanges {
            appeared: now.difference(&self.current).cloned().collect(),
            resolved: self.current.difference(&now).cloned().collect(),
        };
        self.current = now;
        changes
    }
}

#[cfg(test)]
mod tests {
    use ingress_core::{Diagnostic, ObjectKey};

    use super::*;

    fn missing(secret: &str) -> Diagnostic {
        Diagnostic::TlsSecretMissing {
            ingress: ObjectKey::new("default", "web"),
            secret: ObjectKey::new("default", secret),
        }
    }

    #[test]
    fn each_diagnostic_is_reported_once_when_it_appears_and_once_when_it_goes() {
        let mut log = DiagnosticLog::new();
        let first = log.compare(&[missing("a")]);
        assert_eq!(first.appeared, [missing("a")]);
        assert!(first.resolved.is_empty());
        let again = log.compare(&[missing("a")]);
        assert_eq!(again, DiagnosticChanges::default(), "no repeat");
        let next = log.compare(&[missing("b")]);
        assert_eq!(next.appeared, [missing("b")]);
        assert_eq!(next.resolved, [missing("a")]);
    }
}
