//! Long reload work gives way to requests: after a short grace it rests as long as it
//! worked, in slices of a millisecond.
//!
//! Why rests, when the reload thread already runs at the lowest CPU priority: on the
//! 2-core machines xgate was measured on, *any* thread that fills the idle gaps between
//! requests (even a bare `SCHED_IDLE` spin loop) doubles the requests' p99 latency,
//! because a request then has to preempt it instead of waking an idle core. A thread that
//! works half the time costs them about half of that. A one-tenant edit ends within
//! the grace and is not slowed; a full reload of 10,000 tenants takes about twice as long,
//! still well under the one-second target.
//!
//! Only threads that asked for it (`enable`: the reload thread) ever rest; everywhere else
//! `point` is a thread-local read.

use std::cell::Cell;
use std::time::{Duration, Instant};

/// Work this long runs unpaced: a one-tenant edit (about 10 ms at 10,000 tenants).
const GRACE: Duration = Duration::from_millis(20);
/// Then: work this long, rest as long.
const SLICE: Duration = Duration::from_millis(1);

#[derive(Clone, Copy)]
struct Pacing {
    began: Instant,
    slice_began: Instant,
    rested: Duration,
}

thread_local! {
    /// `None` on threads that never rest.
    static PACING: Cell<Option<Pacing>> = const { Cell::new(None) };
}

/// Makes the calling thread rest at `point`s from now on.
pub fn enable() {
    PACING.with(|p| p.set(Some(fresh())));
}

/// Starts a new piece of work on a pacing thread: it gets its grace again. Elsewhere it
/// does nothing.
pub fn begin() {
    PACING.with(|p| {
        if p.get().is_some() {
            p.set(Some(fresh()));
        }
    });
}

fn fresh() -> Pacing {
    let now = Instant::now();
    Pacing {
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
        std::thread::sleep(SLICE);
        let after = Instant::now();
        p.rested += after.duration_since(now);
        p.slice_began = after;
        cell.set(Some(p));
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn busy(d: Duration) {
        let t = Instant::now();
        while t.elapsed() < d {
            std::hint::spin_loop();
        }
    }

    #[test]
    fn work_within_the_grace_does_not_rest() {
        std::thread::spawn(|| {
            enable();
            for _ in 0..10 {
                busy(Duration::from_micros(200));
                point();
            }
            assert_eq!(rested(), Duration::ZERO);
        })
        .join()
        .unwrap();
    }

    #[test]
    fn begin_does_not_make_other_threads_rest() {
        std::thread::spawn(|| {
            begin();
            point();
            assert!(PACING.with(|p| p.get().is_none()));
        })
        .join()
        .unwrap();
    }

    #[test]
    fn long_work_rests_about_as_long_as_it_works_past_the_grace() {
        std::thread::spawn(|| {
            enable();
            let worked = GRACE + Duration::from_millis(40);
            let mut done = Duration::ZERO;
            while done < worked {
                busy(Duration::from_micros(200));
                done += Duration::from_micros(200);
                point();
            }
            let rested = rested();
            // 40 ms past the grace in 1 ms slices: about 40 rests of 1 ms or more.
            assert!(rested >= Duration::from_millis(30), "rested {rested:?}");
            begin();
            assert_eq!(
                super::rested(),
                Duration::ZERO,
                "a new piece of work starts afresh"
            );
        })
        .join()
        .unwrap();
    }
}
