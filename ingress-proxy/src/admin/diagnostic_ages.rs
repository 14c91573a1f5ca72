//! When each diagnostic of the table in force first appeared, so `/api/diagnostics` (and the
//! dashboard) can list them newest first. The route table has no clock (the core is
//! sans-IO): the proxy notes each generation's diagnostics when it first serves it (checked
//! every second) and when the API is asked. Only the diagnostics in force are remembered.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use ingress_core::{Diagnostic, RouteTable};

/// First-seen times (Unix seconds) of the diagnostics in force.
#[derive(Debug, Default)]
pub(crate) struct DiagnosticAges {
    seen: Mutex<Seen>,
}

#[derive(Debug, Default)]
struct Seen {
    /// The generation last noted: nothing to do while it is unchanged.
    generation: Option<u64>,
    first_seen: HashMap<String, u64>,
}

impl DiagnosticAges {
    /// Notes `table`'s diagnostics at `now` (Unix seconds) and returns each one's first-seen
    /// time, in the table's order.
    pub(crate) fn observe(&self, table: &RouteTable, now: u64) -> Vec<u64> {
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        if seen.generation != Some(table.generation()) {
            seen.generation = Some(table.generation());
            let current: HashMap<String, u64> = table
                .diagnostics()
                .iter()
                .map(|diagnostic| {
                    let key = key(diagnostic);
                    let first = seen.first_seen.get(&key).copied().unwrap_or(now);
                    (key, first)
                })
                .collect();
            seen.first_seen = current;
        }
        table
            .diagnostics()
            .iter()
            .map(|diagnostic| {
                seen.first_seen
                    .get(&key(diagnostic))
                    .copied()
                    .unwrap_or(now)
            })
            .collect()
    }
}

fn key(diagnostic: &Diagnostic) -> String {
    format!(
        "{}\u{0}{}\u{0}{diagnostic}",
        diagnostic.object(),
        diagnostic.reason()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use ingress_core::{
        Change, ClassSelection, Ingress, ObjectKey, PathType, ServiceBackend, TableConfig,
    };

    /// An Ingress rejected for its host (upper case is not a DNS-1123 name).
    fn rejected(name: &str) -> Ingress {
        Ingress::new("default", name, Some(1))
            .with_class(ClassSelection::DEFAULT_CLASS)
            .with_path(
                Some("Bad.example"),
                PathType::Prefix,
                "/",
                ServiceBackend::number("web", 80),
            )
    }

    #[test]
    fn each_diagnostic_keeps_the_time_it_first_appeared_until_it_goes() {
        let (mut writer, reader) = ingress_core::table(TableConfig::default());
        let ages = DiagnosticAges::default();
        writer.apply(Change::UpsertIngress(rejected("a")));
        writer.commit();
        assert_eq!(ages.observe(&reader.load_full(), 100), [100]);
        // The same generation again: nothing changes, whatever the clock says.
        assert_eq!(ages.observe(&reader.load_full(), 150), [100]);
        writer.apply(Change::UpsertIngress(rejected("b")));
        writer.commit();
        assert_eq!(ages.observe(&reader.load_full(), 200), [100, 200]);
        writer.apply(Change::DeleteIngress(ObjectKey::new("default", "a")));
        writer.commit();
        assert_eq!(ages.observe(&reader.load_full(), 300), [200]);
        // Gone and back: it is new again.
        writer.apply(Change::UpsertIngress(rejected("a")));
        writer.commit();
        let table = reader.load_full();
        let times = ages.observe(&table, 400);
        let a = table
            .diagnostics()
            .iter()
            .position(|d| d.object().name.as_ref() == "a")
            .expect("a is rejected");
        assert_eq!(times[a], 400);
        assert_eq!(times.len(), 2);
    }
}
