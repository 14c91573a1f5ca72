//! Reloading the configuration file on SIGHUP and when the file changes (its modification
//! time or length, polled), without dropping established connections. A file that does not
//! parse or check is reported (with line and column) and the running configuration stays.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::config::Config;
use crate::server::Server;

/// How the binary polls the file by default.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(1);

/// What identifies a version of the file cheaply.
type Stamp = Option<(SystemTime, u64)>;

fn stamp(path: &Path) -> Stamp {
    let metadata = std::fs::metadata(path).ok()?;
    Some((metadata.modified().ok()?, metadata.len()))
}

impl Server {
    /// Watches `path` until the server shuts down: reloads on SIGHUP and whenever the file's
    /// modification time or length changes (checked every `poll_interval`).
    pub fn watch_config(
        &self,
        path: PathBuf,
        poll_interval: Duration,
    ) -> Result<(), std::io::Error> {
        let mut hangups = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
        let server = self.clone();
        let cancel = self.cancellation();
        let mut seen = stamp(&path);
        self.spawn(async move {
            let mut interval = tokio::time::interval(poll_interval);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                let reason = tokio::select! {
                    () = cancel.cancelled() => return,
                    _ = hangups.recv() => "SIGHUP",
                    _ = interval.tick() => {
                        let now = stamp(&path);
                        if now == seen { continue }
                        seen = now;
                        "file changed"
                    }
                };
                server.reload_file(&path, reason);
            }
        });
        Ok(())
    }

    /// Loads `path` and applies it, logging the outcome.
    fn reload_file(&self, path: &Path, reason: &str) {
        let result = match Config::load(path) {
            Ok(config) => self.reload(config),
            Err(error) => {
                self.count_reload(false);
                Err(crate::ServerError::Config(error.to_string()))
            }
        };
        match result {
            Ok(generation) => {
                tracing::info!(path = %path.display(), reason, generation, "configuration reloaded")
            }
            Err(error) => {
                tracing::error!(path = %path.display(), reason, %error, "configuration rejected; keeping the running one")
            }
        }
    }
}
