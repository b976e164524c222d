//! Debouncing the watcher's events into one reload per save.
//!
//! The window is trailing: the reload starts 250 ms after the last event, timed from when
//! notify delivered it (not from when this task got to it, which may have been busy
//! awaiting a reload), with a precise tokio timer; no polling tick adds to it. The reload
//! is told which paths changed, so that an edit of tenant files reads only those.
//!
//! A file rewritten in place (truncate, then write) can be read half-written if the new
//! write starts as the window closes, and a tenant would vanish until the next reload.
//! So the reload is also told when the last event was: if one of its files was written
//! after that, it applies nothing ("superseded"; that write's events are on their way)
//! and its paths carry over to the next window. At most `MAX_SUPERSEDED` in a row: then
//! the reload applies whatever it reads, so a writer that never stops cannot starve it.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::mpsc;
use tokio::time::Instant;

use super::Reloader;

pub const DEBOUNCE: Duration = Duration::from_millis(250);
const MAX_SUPERSEDED: u32 = 3;

/// One notify event as the debouncer sees it.
pub struct Change {
    at: Instant,
    /// The same moment by the wall clock, which file modification times use.
    wall: SystemTime,
    /// The config paths it names; `None`: unknown (events were lost), read the whole tree.
    paths: Option<Vec<PathBuf>>,
    /// A create event: the paths did not exist just before it.
    created: bool,
}

impl Change {
    pub fn paths(at: Instant, paths: Vec<PathBuf>, created: bool) -> Change {
        Change {
            at,
            wall: SystemTime::now(),
            paths: Some(paths),
            created,
        }
    }

    pub fn unknown(at: Instant) -> Change {
        Change {
            at,
            wall: SystemTime::now(),
            paths: None,
            created: false,
        }
    }
}

/// The events of one window.
struct Batch {
    last: Instant,
    last_wall: SystemTime,
    /// `None` once an event could not say what changed.
    paths: Option<BTreeSet<PathBuf>>,
    /// Paths whose first event in the window created them.
    fresh: BTreeSet<PathBuf>,
}

impl Batch {
    fn new(first: Change) -> Batch {
        let mut b = Batch {
            last: first.at,
            last_wall: first.wall,
            paths: Some(BTreeSet::new()),
            fresh: BTreeSet::new(),
        };
        b.add(first);
        b
    }

    fn add(&mut self, c: Change) {
        self.last = self.last.max(c.at);
        self.last_wall = self.last_wall.max(c.wall);
        let (Some(all), Some(paths)) = (&mut self.paths, c.paths) else {
            self.paths = None;
            return;
        };
        for p in paths {
            if !all.contains(&p) && c.created {
                self.fresh.insert(p.clone());
            }
            all.insert(p);
        }
    }

    /// Paths of a superseded reload, to be read with this window's.
    fn carry(&mut self, paths: BTreeSet<PathBuf>) {
        if let Some(all) = &mut self.paths {
            all.extend(paths);
        }
    }

    /// What the reload must look at. A path created within the window and gone again (an
    /// editor's or `sed -i`'s temp file, renamed over the real one) did not exist when the
    /// last reload read the tree and does not now: nothing that reload read changed there.
    fn into_paths(self) -> Option<BTreeSet<PathBuf>> {
        let fresh = self.fresh;
        self.paths.map(|mut paths| {
            paths.retain(|p| !fresh.contains(p) || std::fs::symlink_metadata(p).is_ok());
            paths
        })
    }
}

pub async fn debounce(reloader: Arc<Reloader>, mut rx: mpsc::UnboundedReceiver<Change>) {
    let mut carried: Option<BTreeSet<PathBuf>> = None;
    let mut superseded = 0;
    while let Some(first) = rx.recv().await {
        let mut batch = Batch::new(first);
        if let Some(paths) = carried.take() {
            batch.carry(paths);
        }
        loop {
            tokio::select! {
                // Events already queued count before the timer is looked at.
                biased;
                next = rx.recv() => match next {
                    Some(c) => batch.add(c),
                    None => return,
                },
                _ = tokio::time::sleep_until(batch.last + DEBOUNCE) => break,
            }
        }
        let quiet_since = (superseded < MAX_SUPERSEDED).then_some(batch.last_wall);
        match batch.into_paths() {
            None => {
                superseded = 0;
                reloader.reload("watch").await;
            }
            Some(paths) if paths.is_empty() => {
                tracing::debug!("only temporary files came and went; nothing to reload");
            }
            Some(paths) => match reloader.reload_changed(paths.clone(), quiet_since).await {
                Some(_) => superseded = 0,
                None => {
                    superseded += 1;
                    carried = Some(paths);
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temp_files_that_came_and_went_are_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("globex.toml");
        let temp = dir.path().join("sedAbC123");
        let older = dir.path().join("old.token");
        std::fs::write(&real, "x").unwrap();
        let now = Instant::now();
        // sed -i: create the temp file, rename it over the real one.
        let mut b = Batch::new(Change::paths(now, vec![temp.clone()], true));
        b.add(Change::paths(now, vec![temp.clone(), real.clone()], false));
        // A file that existed before the window and was removed in it stays named.
        b.add(Change::paths(now, vec![older.clone()], false));
        b.add(Change::paths(now, vec![older.clone()], true));
        assert_eq!(b.into_paths(), Some(BTreeSet::from([real.clone(), older])));

        // Carried paths join the window's.
        let mut b = Batch::new(Change::paths(now, vec![real.clone()], false));
        b.carry(BTreeSet::from([temp.clone()]));
        assert_eq!(b.into_paths(), Some(BTreeSet::from([real.clone(), temp])));

        let mut b = Batch::new(Change::paths(now, vec![real.clone()], false));
        b.add(Change::unknown(now + DEBOUNCE));
        assert_eq!(b.last, now + DEBOUNCE);
        assert_eq!(b.into_paths(), None);
    }
}
