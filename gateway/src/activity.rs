//! When the last request arrived, so that background work (the reload thread) rests only
//! while requests are around and runs at full speed on an idle gateway.
//!
//! One process-wide timestamp in milliseconds: the request path pays one relaxed load per
//! request and a store at most once per millisecond.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// Requests that arrived this recently count as "around".
const RECENT_MS: u64 = 10;

/// Milliseconds since `epoch()` at the last request, plus one (0: none yet).
static LAST: AtomicU64 = AtomicU64::new(0);

fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fn now_ms() -> u64 {
    epoch().elapsed().as_millis() as u64 + 1
}

/// Called by the bridge for every request.
pub fn note_request() {
    note_at(now_ms());
}

/// Whether a request arrived within the last few milliseconds.
pub fn requests_around() -> bool {
    around_at(now_ms())
}

fn note_at(ms: u64) {
    // Read first: cores serving requests in the same millisecond share the line read-only.
    if LAST.load(Ordering::Relaxed) != ms {
        LAST.store(ms, Ordering::Relaxed);
    }
}

fn around_at(ms: u64) -> bool {
    let last = LAST.load(Ordering::Relaxed);
    last != 0 && ms.saturating_sub(last) <= RECENT_MS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_counts_for_a_few_milliseconds() {
        note_at(1_000);
        assert!(around_at(1_000));
        assert!(around_at(1_000 + RECENT_MS));
        assert!(!around_at(1_001 + RECENT_MS));
        note_at(5_000);
        assert!(around_at(5_003));
    }
}
