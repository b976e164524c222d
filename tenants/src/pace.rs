//! Long reload work gives way to requests: after a short grace, while requests are
//! around, it works a millisecond and rests two.
//!
//! Why rests, when the reload thread already runs at the lowest CPU priority: on the
//! 2-core machines xgate was measured on, *any* thread that fills the idle gaps between
//! requests (even a bare `SCHED_IDLE` spin loop) doubles the requests' p99 latency,
//! because a request then has to preempt it instead of waking an idle core. A thread that
//! works half the time costs them about half of that, one that works a third of the time
//! less still. A one-tenant edit ends within the grace and is not slowed; with no request
//! around (the caller says how to tell) nothing rests, so a reload on an idle gateway runs
//! at full speed.
//!
//! Only threads that asked for it (`enable`: the reload thread) ever rest; everywhere else
//! `point` is a thread-local read.

use std::cell::Cell;
use std::time::{Duration, Instant};

/// Work this long runs unpaced: a one-tenant edit (about 10 ms at 10,000 tenants).
const GRACE: Duration = Duration::from_millis(20);
/// Then: work this long...
const SLICE: Duration = Duration::from_millis(1);
/// ...and rest this long, if requests are around.
const REST: Duration = Duration::from_millis(2);

#[derive(Clone, Copy)]
struct Pacing {
    /// Whether requests are around now: resting only helps them.
    busy: fn() -> bool,
    began: Instant,
    slice_began: Instant,
    rested: Duration,
}

thread_local! {
    /// `None` on threads that never rest.
    static PACING: Cell<Option<Pacing>> = const { Cell::new(None) };
}

/// Makes the calling thread rest at `point`s from now on, whenever `busy` says requests
/// are around.
pub fn enable(busy: fn() -> bool) {
    PACING.with(|p| p.set(Some(fresh(busy))));
}

/// Starts a new piece of work on a pacing thread: it gets its grace again. Elsewhere it
/// does nothing.
pub fn begin() {
    PACING.with(|p| {
        if let Some(old) = p.get() {
            p.set(Some(fresh(old.busy)));
        }
    });
}

fn fresh(busy: fn() -> bool) -> Pacing {
    let now = Instant::now();
    Pacing {
        busy,
        began: now,
        slice_began: now,
        rested: Duration::ZERO,
    }
}

/// Time spent resting since `begin`.
pub fn rested() -> Duration {
    PACING.with(|p| p.get().map_or(Duration::ZERO, |p| p.rested))
}

/// Call between small units of work (a file, a tenant). Rests when due.
pub fn point() {
    PACING.with(|cell| {
        let Some(mut p) = cell.get() else { return };
        let now = Instant::now();
        if now.duration_since(p.began) < GRACE + p.rested {
            p.slice_began = now;
            cell.set(Some(p));
            return;
        }
        if now.duration_since(p.slice_began) < SLICE {
            return;
        }
        if !(p.busy)() {
            p.slice_began = now;
            cell.set(Some(p));
            return;
        }
        std::thread::sleep(REST);
        let after = Instant::now();
        p.rested += after.duration_since(now);
        p.slice_began = after;
        cell.set(Some(p));
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spin(d: Duration) {
        let t = Instant::now();
        while t.elapsed() < d {
            std::hint::spin_loop();
        }
    }

    /// Works `total` (rests not counted), calling `point` every 200 µs; returns the rest.
    fn work(total: Duration) -> Duration {
        let mut done = Duration::ZERO;
        while done < total {
            spin(Duration::from_micros(200));
            done += Duration::from_micros(200);
            point();
        }
        rested()
    }

    fn on_a_thread<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
        std::thread::spawn(f).join().unwrap()
    }

    #[test]
    fn work_within_the_grace_does_not_rest() {
        let rested = on_a_thread(|| {
            enable(|| true);
            work(Duration::from_millis(2))
        });
        assert_eq!(rested, Duration::ZERO);
    }

    #[test]
    fn begin_does_not_make_other_threads_rest() {
        let paced = on_a_thread(|| {
            begin();
            point();
            PACING.with(|p| p.get().is_some())
        });
        assert!(!paced);
    }

    #[test]
    fn long_work_rests_twice_as_long_as_it_works_past_the_grace() {
        let (rested, after_begin) = on_a_thread(|| {
            enable(|| true);
            let rested = work(GRACE + Duration::from_millis(40));
            begin();
            (rested, super::rested())
        });
        // 40 ms past the grace in 1 ms slices: about 40 rests of 2 ms or more.
        assert!(rested >= Duration::from_millis(60), "rested {rested:?}");
        assert_eq!(
            after_begin,
            Duration::ZERO,
            "a new piece of work starts afresh"
        );
    }

    #[test]
    fn nothing_rests_while_no_request_is_around() {
        let rested = on_a_thread(|| {
            enable(|| false);
            work(GRACE + Duration::from_millis(40))
        });
        assert_eq!(rested, Duration::ZERO);
    }
}
