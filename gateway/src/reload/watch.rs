//! What starts a reload besides `POST /reload`: a change in the config tree, and SIGHUP.
//!
//! The watch is on directories, not files: editors save by writing a temp file and
//! renaming it over the original, and a Kubernetes ConfigMap swaps the whole directory
//! through its `..data` symlink; both replace the inode a file watch would follow.
//! Events are debounced (`batch.rs`: 250 ms of quiet) so that a save in several writes
//! is one reload, and the reload is told which paths changed: if they are all tenant
//! files it reads only those.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use notify::{EventKind, RecursiveMode, Watcher};
use tokio::sync::mpsc;
use tokio::time::Instant;
use xgate_tenants::config;

use super::Reloader;
use super::batch::{Change, debounce};

/// Directories to watch: the main file's, and the fixed part of every include glob.
pub fn watched_dirs(main: &Path, includes: &[String]) -> BTreeSet<PathBuf> {
    let dir = main
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut dirs = BTreeSet::from([dir.to_path_buf()]);
    for pattern in includes {
        let fixed: PathBuf = Path::new(pattern)
            .components()
            .take_while(|c| !config::is_glob(&c.as_os_str().to_string_lossy()))
            .collect();
        let candidate = dir.join(&fixed);
        // `tenants.d/acme.toml` (no glob) names a file: watch its directory.
        let candidate = if candidate.is_file() {
            candidate
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or(candidate)
        } else {
            candidate
        };
        // The main directory is watched recursively already: watching a directory inside
        // it again would walk (and, with 10,000 tenant files, register) everything twice.
        let inside_main = match (
            std::fs::canonicalize(&candidate),
            std::fs::canonicalize(dir),
        ) {
            (Ok(c), Ok(d)) => c.starts_with(d),
            _ => false,
        };
        if candidate.is_dir() && !inside_main {
            dirs.insert(candidate);
        }
    }
    dirs
}

/// Starts the watcher and the SIGHUP handler on the current runtime. The returned
/// watcher must be kept alive for as long as watching should go on.
pub fn spawn(
    reloader: Arc<Reloader>,
    dirs: BTreeSet<PathBuf>,
) -> notify::Result<notify::RecommendedWatcher> {
    let (tx, rx) = mpsc::unbounded_channel::<Change>();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        let at = Instant::now();
        let change = match event {
            // Events were lost (a queue overflow) or the watch failed: say nothing precise.
            Err(_) => Change::unknown(at),
            Ok(e) if e.need_rescan() => Change::unknown(at),
            Ok(e) if matches!(e.kind, EventKind::Access(_)) => return,
            Ok(e) => {
                let created = matches!(e.kind, EventKind::Create(_));
                let paths: Vec<PathBuf> =
                    e.paths.into_iter().filter(|p| is_config_path(p)).collect();
                if paths.is_empty() {
                    return;
                }
                Change::paths(at, paths, created)
            }
        };
        let _ = tx.send(change);
    })?;
    for dir in &dirs {
        // Recursive: a ConfigMap keeps its files under a timestamped subdirectory.
        watcher.watch(dir, RecursiveMode::Recursive)?;
        tracing::info!(dir = %dir.display(), "watching config directory");
    }
    tokio::spawn(debounce(reloader.clone(), rx));
    tokio::spawn(on_sighup(reloader));
    Ok(watcher)
}

/// What can change the config: TOML files, templates, secret files (by convention without
/// an extension or `.token`/`.key`/`.pem`), and ConfigMap's `..data` swaps. Anything else
/// in the tree (SQLite files, logs, an editor's swap files) must not start a reload per write.
fn is_config_path(path: &Path) -> bool {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    if name.starts_with("..") {
        return true;
    }
    match path.extension().and_then(|e| e.to_str()) {
        None => !name.starts_with('.') && !name.ends_with('~'),
        Some(ext) => matches!(ext, "toml" | "html" | "token" | "key" | "pem" | "secret"),
    }
}

async fn on_sighup(reloader: Arc<Reloader>) {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut hup) = signal(SignalKind::hangup()) else {
        tracing::warn!("cannot listen for SIGHUP; reload by file change or POST /reload");
        return;
    };
    while hup.recv().await.is_some() {
        reloader.reload("sighup").await;
    }
}
