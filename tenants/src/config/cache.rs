//! What earlier loads read, kept between reloads so that a reload of a 10,000-file tree
//! reads what changed: every included file parsed, by the stamp it was read at, and the
//! global sections of the last load that succeeded (which the fast path of
//! `load_changed` checks changed tenants against).

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::SystemTime;

use super::{ConfigError, DatabaseSection, ServerSection, TenantEntry, parse_included};

/// Modification time and size: a file whose stamp is unchanged is not parsed again.
pub(crate) type Stamp = (SystemTime, u64);

#[derive(Default)]
pub struct LoadCache {
    files: Mutex<HashMap<PathBuf, CachedFile>>,
    /// `None` until a load of the whole tree succeeds, and again after one fails.
    tree: Mutex<Option<LastTree>>,
}

struct CachedFile {
    stamp: Stamp,
    entries: Vec<TenantEntry>,
    errors: Vec<ConfigError>,
}

/// `[server]` and `[database]` as the last successful load resolved them (not the ones
/// in force, which wait for a restart): tenants are built and checked against these.
#[derive(Clone)]
pub(crate) struct LastTree {
    pub server: ServerSection,
    pub database: DatabaseSection,
}

pub(crate) fn stamp_of(file: &Path) -> Option<Stamp> {
    stamp_from(&std::fs::metadata(file).ok()?)
}

pub(crate) fn stamp_from(m: &std::fs::Metadata) -> Option<Stamp> {
    Some((m.modified().ok()?, m.len()))
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl LoadCache {
    /// The tenants and errors of one included file whose stamp was just read, parsed now
    /// or earlier.
    pub(crate) fn included(
        &self,
        file: &Path,
        stamp: Option<Stamp>,
    ) -> (Vec<TenantEntry>, Vec<ConfigError>) {
        let mut files = lock(&self.files);
        if let (Some(stamp), Some(cached)) = (stamp, files.get(file))
            && cached.stamp == stamp
        {
            return (cached.entries.clone(), cached.errors.clone());
        }
        let (entries, errors) = parse_included(file);
        if let Some(stamp) = stamp {
            files.insert(
                file.to_path_buf(),
                CachedFile {
                    stamp,
                    entries: entries.clone(),
                    errors: errors.clone(),
                },
            );
        }
        (entries, errors)
    }

    /// Records a file the fast path parsed (without errors) at a stamp, or forgets it
    /// (`None`: removed, or written while it was read).
    pub(crate) fn store(&self, file: &Path, read: Option<(Stamp, Vec<TenantEntry>)>) {
        let mut files = lock(&self.files);
        match read {
            Some((stamp, entries)) => {
                files.insert(
                    file.to_path_buf(),
                    CachedFile {
                        stamp,
                        entries,
                        errors: Vec::new(),
                    },
                );
            }
            None => {
                files.remove(file);
            }
        }
    }

    /// Makes the next load parse these files whatever their stamp says. A watcher named
    /// them: a rewrite of the same size within one timestamp tick keeps its stamp.
    pub fn forget<'p>(&self, files: impl IntoIterator<Item = &'p PathBuf>) {
        let mut cached = lock(&self.files);
        for f in files {
            cached.remove(f);
        }
    }

    pub(crate) fn keep_only(&self, files: &[PathBuf]) {
        let keep: HashSet<&PathBuf> = files.iter().collect();
        lock(&self.files).retain(|f, _| keep.contains(f));
    }

    pub(crate) fn tree(&self) -> Option<LastTree> {
        lock(&self.tree).clone()
    }

    pub(crate) fn set_tree(&self, tree: Option<LastTree>) {
        *lock(&self.tree) = tree;
    }

    /// Makes the next reload read the whole tree: the last one read was not applied.
    pub fn forget_tree(&self) {
        self.set_tree(None);
    }
}
