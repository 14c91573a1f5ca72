//! Watching a manifest directory: re-read on change, publish through the table's writer.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ingress_core::{ObjectKey, TableWriter};
use notify::{PollWatcher, RecommendedWatcher, RecursiveMode, Watcher};
use tokio::sync::{mpsc, watch};

use super::directory::ManifestDirectory;
use super::parse::ManifestError;
use crate::DiagnosticLog;

/// How long to wait for more file events after the first one, so an editor's
/// write-rename-chmod sequence (or `cp *.yaml`) becomes one reload.
const DEBOUNCE: Duration = Duration::from_millis(100);
/// Poll interval when the platform's file notifications are unavailable.
const POLL_INTERVAL: Duration = Duration::from_millis(500);

/// Whether a file event can change what the directory says. Accesses (opens, reads, closes
/// without writing) cannot — and a reload's own reads produce them: reacting to those would
/// re-read the directory every debounce interval, forever.
fn changes_content(kind: &notify::EventKind) -> bool {
    use notify::EventKind;
    use notify::event::{AccessKind, AccessMode};
    match kind {
        // A file closed after writing is the end of an edit.
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) => false,
        EventKind::Any | EventKind::Create(_) | EventKind::Modify(_) | EventKind::Remove(_) => true,
        EventKind::Other => true,
    }
}

/// Re-reads a manifest directory whenever a file in it changes and publishes the result: a full
/// re-read, `TableWriter::replace`, then `commit` (skipped when nothing changed), so established
/// connections keep going and new requests see the new table.
#[derive(Debug)]
pub struct ManifestSource {
    /// Last good content per file.
    directory: ManifestDirectory,
    /// Outcome of the latest reload, for logs, tests and the admin endpoint.
    status: watch::Sender<ReloadStatus>,
    /// Logs each rejected object and conflict once, when it appears.
    diagnostics: DiagnosticLog,
}

/// The outcome of the latest reload.
#[derive(Debug, Clone, Default)]
pub struct ReloadStatus {
    /// Reloads done so far (1 after the initial read).
    pub reloads: u64,
    /// The table generation in force after this reload.
    pub generation: u64,
    /// Files skipped by this reload (their previous content stays in force).
    pub errors: Arc<[ManifestError]>,
}

impl ManifestSource {
    /// A source for `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        ManifestSource {
            directory: ManifestDirectory::new(dir),
            status: watch::Sender::new(ReloadStatus::default()),
            diagnostics: DiagnosticLog::new(),
        }
    }

    /// Reads the ConfigMap `key` (`--configmap`) as the global configuration; a change to
    /// its file applies like any other.
    pub fn with_global_configmap(mut self, key: Option<ObjectKey>) -> Self {
        self.directory = self.directory.with_global_configmap(key);
        self
    }

    /// Follows the outcome of every reload.
    pub fn subscribe(&self) -> watch::Receiver<ReloadStatus> {
        self.status.subscribe()
    }

    /// Reads the directory once and publishes it (the first call opens the table's readiness).
    pub fn reload(&mut self, writer: &mut TableWriter) -> ReloadStatus {
        let reload = self.directory.reload();
        let state = self.directory.state();
        if let Some(configmap) = self.directory.global_configmap()
            && state.global_config.source().is_none()
        {
            tracing::warn!(%configmap, "the --configmap ConfigMap is not in the manifest directory: every key takes ingress-nginx's default");
        }
        let first = self.status.borrow().reloads == 0;
        let generation = if first || &state != writer.state() {
            writer.replace(state);
            let commit = writer.commit();
            tracing::info!(
                dir = %self.directory.dir().display(),
                files = reload.files,
                failed = reload.errors.len(),
                generation = commit.generation,
                "manifests published"
            );
            self.diagnostics.report(&commit.table);
            commit.generation
        } else {
            tracing::debug!("manifests unchanged");
            writer.reader().load().generation()
        };
        for error in &reload.errors {
            tracing::warn!(%error, "manifest file skipped");
        }
        let status = ReloadStatus {
            reloads: self.status.borrow().reloads + 1,
            generation,
            errors: reload.errors.into(),
        };
        self.status.send_replace(status.clone());
        status
    }

    /// Publishes the directory, then re-reads it within about 100 ms of every change
    /// until `shutdown` completes.
    ///
    /// Uses the platform's file notifications, or polls every 500 ms where they are unavailable.
    pub async fn run(
        mut self,
        mut writer: TableWriter,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), notify::Error> {
        let (events, mut changed) = mpsc::unbounded_channel::<()>();
        let handler = move |event: notify::Result<notify::Event>| {
            if event.is_ok_and(|event| changes_content(&event.kind)) {
                // A closed channel means `run` returned; nothing left to notify.
                let _ = events.send(());
            }
        };
        let dir = self.directory.dir().to_owned();
        let _watcher: Box<dyn Watcher + Send> =
            match RecommendedWatcher::new(handler.clone(), notify::Config::default()) {
                Ok(mut watcher) => {
                    watcher.watch(&dir, RecursiveMode::NonRecursive)?;
                    Box::new(watcher)
                }
                Err(error) => {
                    tracing::warn!(%error, "file notifications unavailable; polling the directory");
                    let config = notify::Config::default().with_poll_interval(POLL_INTERVAL);
                    let mut watcher = PollWatcher::new(handler, config)?;
                    watcher.watch(&dir, RecursiveMode::NonRecursive)?;
                    Box::new(watcher)
                }
            };
        // The watch is registered before the first read, so no change can fall in between.
        self.reload(&mut writer);
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => return Ok(()),
                event = changed.recv() => {
                    if event.is_none() {
                        return Ok(());
                    }
                }
            }
            // Coalesce the burst of events one save produces.
            let deadline = tokio::time::Instant::now() + DEBOUNCE;
            while let Ok(Some(())) = tokio::time::timeout_at(deadline, changed.recv()).await {}
            self.reload(&mut writer);
        }
    }
}

#[cfg(test)]
mod tests {
    use notify::EventKind;
    use notify::event::{AccessKind, AccessMode, CreateKind, ModifyKind, RemoveKind};

    use super::changes_content;

    #[test]
    fn reads_do_not_trigger_a_reload_and_edits_do() {
        let reads = [
            EventKind::Access(AccessKind::Open(AccessMode::Read)),
            EventKind::Access(AccessKind::Read),
            EventKind::Access(AccessKind::Close(AccessMode::Read)),
            EventKind::Access(AccessKind::Any),
        ];
        assert!(reads.iter().all(|kind| !changes_content(kind)));
        let edits = [
            EventKind::Create(CreateKind::File),
            EventKind::Modify(ModifyKind::Any),
            EventKind::Remove(RemoveKind::File),
            EventKind::Access(AccessKind::Close(AccessMode::Write)),
        ];
        assert!(edits.iter().all(changes_content));
    }
}
