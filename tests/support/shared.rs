//! One fixture per test file and backend, shared by the tests that do not interfere.
//!
//! A fixture starts on first use and lives until the test process exits (its child
//! processes and database are then cleaned up by `reaper`): libtest runs a file's
//! tests on a few threads in an order of its own, so "the last test out stops it"
//! would restart it over and over. Each test holds a `Lease`, which prints what xgate
//! and the simulators logged during the test when the test fails.

use std::cell::RefCell;
use std::path::PathBuf;
use std::sync::OnceLock;

use crate::Backend;

pub struct Shared<T: 'static> {
    slots: [OnceLock<Started<T>>; 2],
}

struct Started<T: 'static> {
    fixture: &'static T,
    /// The logs of the processes started for this fixture.
    logs: Vec<Log>,
}

/// A process's log file: `(what, path)`.
type Log = (String, PathBuf);

impl<T: Sync + 'static> Shared<T> {
    #[allow(clippy::new_without_default)]
    pub const fn new() -> Shared<T> {
        Shared {
            slots: [OnceLock::new(), OnceLock::new()],
        }
    }

    /// The fixture for `backend`, started by `start` if no test started it yet. A start
    /// that panics leaves the slot empty: the next test tries again (and fails the same
    /// way, with the same message, when PostgreSQL is down).
    pub fn get(&'static self, backend: Backend, start: impl FnOnce(Backend) -> T) -> Lease<T> {
        let started = self.slots[backend.index()].get_or_init(|| {
            COLLECTING.with(|c| *c.borrow_mut() = Some(Vec::new()));
            let fixture = start(backend);
            let logs = COLLECTING
                .with(|c| c.borrow_mut().take())
                .unwrap_or_default();
            Started {
                fixture: Box::leak(Box::new(fixture)),
                logs,
            }
        });
        Lease {
            fixture: started.fixture,
            marks: marks(&started.logs),
        }
    }
}

/// A test's hold on a shared fixture.
pub struct Lease<T: 'static> {
    fixture: &'static T,
    /// The fixture's logs and their lengths when the test began.
    marks: Vec<(String, PathBuf, u64)>,
}

impl<T> std::ops::Deref for Lease<T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.fixture
    }
}

impl<T> Drop for Lease<T> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            print_logs_since(&self.marks);
        }
    }
}

thread_local! {
    /// While a fixture starts on this thread: the logs of what it starts.
    static COLLECTING: RefCell<Option<Vec<Log>>> = const { RefCell::new(None) };
}

/// Called by what starts a process: its log belongs to the fixture being started.
pub(crate) fn register_log(what: String, path: PathBuf) {
    COLLECTING.with(|c| {
        if let Some(logs) = c.borrow_mut().as_mut() {
            logs.push((what, path));
        }
    });
}

fn marks(logs: &[Log]) -> Vec<(String, PathBuf, u64)> {
    logs.iter()
        .map(|(what, path)| {
            let len = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
            (what.clone(), path.clone(), len)
        })
        .collect()
}

/// Prints (to the test's captured output) what each log got since its mark.
pub fn print_logs_since(marks: &[(String, PathBuf, u64)]) {
    for (what, path, from) in marks {
        let Ok(bytes) = std::fs::read(path) else {
            continue;
        };
        let start = usize::try_from(*from).unwrap_or(0).min(bytes.len());
        let text = String::from_utf8_lossy(&bytes[start..]);
        if text.trim().is_empty() {
            continue;
        }
        let lines: Vec<&str> = text.lines().collect();
        let tail = &lines[lines.len().saturating_sub(80)..];
        eprintln!(
            "----- {what} ({}), during this test{} -----\n{}",
            path.display(),
            if tail.len() < lines.len() {
                ", last 80 lines"
            } else {
                ""
            },
            tail.join("\n")
        );
    }
}
