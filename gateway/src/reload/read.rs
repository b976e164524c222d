//! The read step of a reload, on the reload thread (`worker.rs`): only the files the watcher named
//! when the fast path takes them (`config::load_changed`), else the whole tree; and the
//! check that none of the watched files was written again while it was read.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use xgate_tenants::config::{self, Config, ConfigError, Merged};

/// Beyond this many files a watch batch is a bulk change (a deploy rewriting the tree):
/// reading the whole tree with its stamp cache costs no more than the fast path, and
/// allocates less.
const FAST_PATH_MAX_FILES: usize = 500;

/// What the watcher asks to reload.
pub struct Watched {
    pub paths: BTreeSet<PathBuf>,
    /// The wall-clock time of the window's last event; `None` on a retry.
    pub quiet_since: Option<SystemTime>,
}

/// The outcome of reading for a reload.
pub enum Read {
    Merged(Box<Merged>),
    /// The tree is unusable: nothing applies.
    Failed(Vec<ConfigError>),
    /// A watched file was written again while being read: apply nothing, the watcher
    /// reads it again (see `batch.rs`).
    Superseded,
}

/// Reads and merges over `current`, the config in force; `refused` are the errors of its
/// stale and rejected tenants.
pub async fn read(
    path: PathBuf,
    current: Arc<Config>,
    refused: Vec<ConfigError>,
    cache: Arc<config::LoadCache>,
    watched: Option<Watched>,
) -> Read {
    let main = path.clone();
    let read = move || {
        let read = match &watched {
            Some(w) if w.paths.len() > FAST_PATH_MAX_FILES => load_tree(&path, &current, &cache),
            Some(w) => match config::load_changed(&current, &refused, &cache, &w.paths) {
                Ok(merged) => Ok(merged),
                Err(why) => {
                    tracing::debug!(reason = %why, "reading the whole tree");
                    cache.forget(&w.paths);
                    load_tree(&path, &current, &cache)
                }
            },
            None => load_tree(&path, &current, &cache),
        };
        if let Some(w) = &watched
            && let Some(since) = w.quiet_since
            && w.paths.iter().any(|p| written_after(p, since))
        {
            if !matches!(&read, Ok(m) if m.scope.is_some()) {
                // That whole-tree read set what the fast path builds on.
                cache.forget_tree();
            }
            return Read::Superseded;
        }
        match read {
            Ok(merged) => Read::Merged(Box::new(merged)),
            Err(errors) => Read::Failed(errors),
        }
    };
    super::worker::run(read).await.unwrap_or_else(|| {
        Read::Failed(vec![ConfigError::file(
            &main,
            "the reload read failed (a bug: see the log)".to_string(),
        )])
    })
}

fn load_tree(
    path: &Path,
    current: &Config,
    cache: &config::LoadCache,
) -> Result<Merged, Vec<ConfigError>> {
    config::load_cached(path, Some(current), cache)
        .map(|loaded| config::merge(current, loaded))
        .map_err(|e| e.0)
}

/// Whether `path` was written after `since`, by its modification time. One in the future
/// does not count: a clock ahead on a network filesystem must not make every reload look
/// superseded.
fn written_after(path: &Path, since: SystemTime) -> bool {
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .is_ok_and(|m| m > since && m <= SystemTime::now())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn written_after_ignores_the_future() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("acme.toml");
        let before = SystemTime::now() - Duration::from_secs(10);
        std::fs::write(&f, "x").unwrap();
        assert!(written_after(&f, before));
        assert!(!written_after(
            &f,
            SystemTime::now() + Duration::from_secs(1)
        ));
        assert!(!written_after(&dir.path().join("gone.toml"), before));
        // A modification time ahead of the clock (a network filesystem's) never counts.
        let file = std::fs::File::options().write(true).open(&f).unwrap();
        file.set_modified(SystemTime::now() + Duration::from_secs(60))
            .unwrap();
        assert!(!written_after(&f, before));
    }
}
