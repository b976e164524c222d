//! The probes: is each tenant's Conference Bot reachable and does it accept xgate's
//! credentials? Is its directory reachable with the service account? They feed
//! `xgate_bot_up{tenant}` and `xgate_directory_up{tenant}` so an alert fires before
//! users notice, and the operator's view shows them.
//!
//! The spec has no health endpoint, so the probe asks for something harmless: deleting
//! a conference that cannot exist, as an actor that cannot exist. A bot that answers
//! with its JSON envelope (any reason) is up and took the token; an empty answer means
//! the credentials were refused; no answer means it is down. Nothing is ever changed.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;

use crate::bot::{BotClient, BotError};
use crate::directory::Directory;
use crate::state::Gateway;

const NO_CONFERENCE: &str = "00000000-0000-0000-0000-000000000000";
const NO_ACTOR: &str = "xgate-probe@probe.invalid";
/// Bots probed at once: many tenants often share one ETS.
const CONCURRENCY: usize = 16;
/// Probes start at most this far apart (a round of 100 tenants takes a second), and
/// closer only when the round would not fit in half the interval otherwise.
const MAX_SPACING: Duration = Duration::from_millis(10);

/// Probes every tenant of the snapshot in force, every `interval`, forever.
pub async fn run(gw: Arc<Gateway>, interval: Duration) {
    loop {
        probe_all(&gw, interval).await;
        tokio::time::sleep(interval).await;
    }
}

/// How far apart a round's probes start: spread over up to half the interval. Ten
/// thousand probes in one burst took a core for a second or two every round, and the
/// requests and reloads of that moment with it.
fn spacing(tenants: usize, interval: Duration) -> Duration {
    let share = interval / 2 / u32::try_from(tenants.max(1)).unwrap_or(u32::MAX);
    share.min(MAX_SPACING)
}

/// The round's items, the `k`-th due at `k * spacing` from now.
fn paced<T>(
    items: Vec<T>,
    interval: Duration,
) -> impl futures_util::Stream<Item = impl std::future::Future<Output = T>> {
    let spacing = spacing(items.len(), interval);
    let start = tokio::time::Instant::now();
    futures_util::stream::iter(items.into_iter().enumerate().map(move |(k, item)| {
        let at = start + spacing * u32::try_from(k).unwrap_or(u32::MAX);
        async move {
            tokio::time::sleep_until(at).await;
            item
        }
    }))
}

/// One round over every tenant of the snapshot in force.
pub async fn probe_all(gw: &Gateway, interval: Duration) {
    let snapshot = gw.snapshot();
    // Owned up front: the probes outlive no snapshot borrow, and a reload meanwhile is fine.
    let bots: Vec<(String, BotClient)> = snapshot
        .table
        .iter()
        .map(|t| (t.id().to_string(), snapshot.bot(t).clone()))
        .collect();
    let directories: Vec<(String, Arc<Directory>)> = snapshot
        .table
        .iter()
        .filter_map(|t| Some((t.id().to_string(), snapshot.directory_arc(t)?)))
        .collect();
    drop(snapshot);
    // Bots and directories are different servers: both rounds run side by side, and each
    // reports when it ends (a hanging directory does not hold back the bots' verdicts).
    let bots = async {
        let up: Vec<(String, bool)> = paced(bots, interval)
            .map(|due| async move {
                let (id, bot) = due.await;
                (id, ask(&bot).await.is_ok())
            })
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        gw.metrics.set_bot_up(&up);
    };
    let directories = async {
        let up: Vec<(String, bool)> = paced(directories, interval)
            .map(|due| async move {
                let (id, dir) = due.await;
                (id, dir.reachable().await)
            })
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        gw.metrics.set_directory_up(&up);
    };
    tokio::join!(bots, directories);
}

/// The bot's answer to the probe when it answered with its envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeAnswer {
    pub status: u16,
    /// What the bot said (`conference_not_found`, `actor_not_found`...); `None` if it
    /// claimed to have deleted the conference that cannot exist.
    pub reason: Option<String>,
}

/// One harmless question to one bot (see the module's comment). `Ok`: the bot is up and
/// took the credentials `bot` sends; `Err`: why not. `xgate diagnose` asks the same.
pub async fn ask(bot: &BotClient) -> Result<ProbeAnswer, BotError> {
    match bot.delete(NO_CONFERENCE, NO_ACTOR).await {
        Ok(()) => Ok(ProbeAnswer {
            status: 204,
            reason: None,
        }),
        Err(BotError::Rejected { status, reason, .. }) => Ok(ProbeAnswer {
            status,
            reason: Some(reason),
        }),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_round_is_spread_over_at_most_half_the_interval() {
        let interval = Duration::from_secs(30);
        // Ten thousand tenants: 1.5 ms apart, the round takes 15 s of the 30.
        assert_eq!(spacing(10_000, interval), Duration::from_micros(1_500));
        // A few tenants are not held back for seconds.
        assert_eq!(spacing(3, interval), MAX_SPACING);
        assert_eq!(spacing(0, interval), MAX_SPACING);
    }

    #[tokio::test(start_paused = true)]
    async fn the_kth_probe_starts_k_spacings_after_the_first() {
        let start = tokio::time::Instant::now();
        // Four tenants in 40 ms: spread over 20 ms, 5 ms apart.
        let started: Vec<Duration> = paced(vec![0, 1, 2, 3], Duration::from_millis(40))
            .map(|due| async move {
                due.await;
                start.elapsed()
            })
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        let mut started = started;
        started.sort();
        assert_eq!(started, [0, 5, 10, 15].map(Duration::from_millis).to_vec());
    }
}
