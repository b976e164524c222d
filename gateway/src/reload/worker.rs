//! The thread that reads the config tree for a reload, at a lower CPU priority.
//!
//! A full read of 10,000 tenant files keeps a core busy for a few hundred milliseconds.
//! On a small machine that core is one the requests need: "requests keep their latency
//! during a reload" means the reload yields, not the requests. So the read runs on its
//! own thread with `nice` 10 (Linux applies it to that thread alone): idle cores serve it
//! at full speed, busy ones give requests ten times its share. It is a thread of its own,
//! not one of tokio's blocking threads, because those also open database connections
//! whose worker threads would inherit the priority.
//!
//! The priority is not enough on its own: while requests arrive (`activity.rs`), the
//! thread also rests between slices of a long job (`xgate_tenants::pace`, called between
//! tenants), so that cores fall idle between requests instead of having to be taken back
//! from it.

use std::sync::OnceLock;
use std::sync::mpsc;

type Job = Box<dyn FnOnce() + Send>;

/// How much less CPU the reload read gets than a request when both want it.
const NICE: libc::c_int = 10;

fn sender() -> &'static mpsc::Sender<Job> {
    static WORKER: OnceLock<mpsc::Sender<Job>> = OnceLock::new();
    WORKER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("xgate-reload".into())
            .spawn(move || {
                lower_priority();
                xgate_tenants::pace::enable(crate::activity::requests_around);
                for job in rx {
                    // A read that panics fails that reload only (its answer is dropped),
                    // not every later one.
                    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                }
            })
            .expect("spawn the reload thread");
        tx
    })
}

/// Runs `work` on the reload thread; reloads are serialised by the reloader already.
/// `None` if it panicked.
pub async fn run<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let job: Job = Box::new(move || {
        let _ = tx.send(work());
    });
    sender().send(job).ok()?;
    rx.await.ok()
}

/// Runs `work` on the reload thread without waiting for it.
pub fn spawn(work: impl FnOnce() + Send + 'static) {
    let _ = sender().send(Box::new(work));
}

/// Starts a reload's pacing: its jobs share one grace (`xgate_tenants::pace`), so a
/// one-tenant edit runs unpaced and a full reload rests from 20 ms of work on, whatever
/// job it is in.
pub fn begin_reload() {
    spawn(xgate_tenants::pace::begin);
}

/// Frees `items` one at a time, resting between them when due: freeing 10,000 tenant
/// definitions in one go would hold a core for milliseconds.
pub fn free_gradually<I: IntoIterator>(items: I) {
    for item in items {
        drop(item);
        xgate_tenants::pace::point();
    }
}

/// Drops `value` once this is its last handle: requests that started before the swap
/// finish within moments and drop their clones first. Bounded: after two seconds (a
/// request stuck on a slow bot) whoever holds the last clone frees it.
pub fn drop_when_unshared<T>(value: std::sync::Arc<T>) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    while std::sync::Arc::strong_count(&value) > 1 && std::time::Instant::now() < deadline {
        // Waiting out other threads' handles: std has no wait on a reference count.
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    drop(value);
}

fn lower_priority() {
    // SCHED_IDLE: a request thread that wakes up preempts this one at once, instead of
    // waiting out its time slice as under a mere nice value. CFS still gives it a small
    // share, so a reload finishes even on a saturated machine.
    let param = libc::sched_param { sched_priority: 0 };
    // SAFETY: both calls name the calling thread (0) on Linux and touch nothing else; a
    // failure (a sandbox forbidding it) only leaves the priority as it was.
    let rc = unsafe { libc::sched_setscheduler(0, libc::SCHED_IDLE, &param) };
    if rc != 0 {
        tracing::debug!(error = %std::io::Error::last_os_error(), "reload thread keeps its policy");
    }
    let rc = unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, NICE) };
    if rc != 0 {
        tracing::debug!(error = %std::io::Error::last_os_error(), "reload thread keeps its priority");
    }
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn work_runs_on_the_lower_priority_thread() {
        let (name, nice) = super::run(|| {
            let name = std::thread::current().name().map(str::to_string);
            // SAFETY: reads the calling thread's own priority.
            let nice = unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) };
            (name, nice)
        })
        .await
        .expect("the worker answers");
        assert_eq!(name.as_deref(), Some("xgate-reload"));
        assert!(nice >= super::NICE, "nice {nice}");
    }

    /// A long job rests at its `pace::point`s while requests arrive; the next reload gets
    /// its grace again.
    #[tokio::test]
    async fn long_jobs_rest_and_each_reload_starts_afresh() {
        use std::time::{Duration, Instant};
        use xgate_tenants::pace;
        super::begin_reload();
        let rested = super::run(|| {
            // 60 ms of work: 40 ms past the grace, in 1 ms slices.
            let t = Instant::now();
            while t.elapsed() < Duration::from_millis(60) + pace::rested() {
                std::hint::spin_loop();
                crate::activity::note_request();
                pace::point();
            }
            pace::rested()
        })
        .await
        .expect("the worker answers");
        assert!(rested >= Duration::from_millis(20), "rested {rested:?}");
        let same = super::run(pace::rested).await.expect("the worker answers");
        assert_eq!(same, rested, "jobs of one reload share its pacing");
        super::begin_reload();
        let next = super::run(pace::rested).await.expect("the worker answers");
        assert_eq!(next, Duration::ZERO);
    }

    #[tokio::test]
    async fn a_panic_fails_one_job_only() {
        assert_eq!(super::run(|| -> u8 { panic!("a bad read") }).await, None);
        assert_eq!(super::run(|| 7).await, Some(7));
    }
}
