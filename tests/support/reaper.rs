//! Shared fixtures live as long as the test process (libtest never drops statics), so
//! what they start must be stopped when it exits: every child process is registered
//! here and killed from an `atexit` handler, and every PostgreSQL database is dropped
//! there too. Fixtures that are dropped normally unregister themselves first.
//!
//! The handler runs after thread-local destructors, so it only makes plain libc calls
//! and spawns `psql`; a database it cannot drop (no `psql`, a killed test process) is
//! collected by the next run (see `database::collect_stale`).

use std::process::{Command, Stdio};
use std::sync::{Mutex, Once};

struct Registry {
    pids: Vec<u32>,
    databases: Vec<String>,
}

static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    pids: Vec::new(),
    databases: Vec::new(),
});
static INSTALL: Once = Once::new();

fn registry() -> std::sync::MutexGuard<'static, Registry> {
    REGISTRY.lock().unwrap_or_else(|e| e.into_inner())
}

fn install() {
    INSTALL.call_once(|| {
        // SAFETY: `at_exit` is a plain `extern "C" fn` without arguments, as atexit wants.
        let rc = unsafe { libc::atexit(at_exit) };
        assert_eq!(rc, 0, "atexit failed");
    });
}

/// Kills `pid` when the test process exits, unless `release`d first.
pub fn adopt(pid: u32) {
    install();
    registry().pids.push(pid);
}

pub fn release(pid: u32) {
    registry().pids.retain(|p| *p != pid);
}

/// Drops the PostgreSQL database `name` when the test process exits, unless `forget`ten.
pub fn adopt_database(name: &str) {
    install();
    registry().databases.push(name.to_string());
}

pub fn forget_database(name: &str) {
    registry().databases.retain(|d| d != name);
}

extern "C" fn at_exit() {
    let (pids, databases) = {
        let mut r = registry();
        (
            std::mem::take(&mut r.pids),
            std::mem::take(&mut r.databases),
        )
    };
    for pid in pids {
        if let Ok(pid) = libc::pid_t::try_from(pid) {
            // SAFETY: kill(2) with a pid this process spawned; failure is harmless.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
            }
        }
    }
    for db in databases {
        let _ = Command::new("psql")
            .args([
                "-h",
                "127.0.0.1",
                "-U",
                "postgres",
                "-d",
                "postgres",
                "-q",
                "-c",
            ])
            .arg(format!("DROP DATABASE IF EXISTS \"{db}\" WITH (FORCE)"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}
