//! The bot probe: is each tenant's Conference Bot reachable and does it accept xgate's
//! credentials? Feeds `xgate_bot_up{tenant}` so an alert fires before users notice.
//!
//! The spec has no health endpoint, so the probe asks for something harmless: deleting
//! a conference that cannot exist, as an actor that cannot exist. A bot that answers
//! with its JSON envelope (any reason) is up and took the token; an empty answer means
//! the credentials were refused; no answer means it is down. Nothing is ever changed.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;

use crate::bot::{BotClient, BotError};
use crate::state::Gateway;

const NO_CONFERENCE: &str = "00000000-0000-0000-0000-000000000000";
const NO_ACTOR: &str = "xgate-probe@probe.invalid";
/// Bots probed at once: many tenants often share one ETS.
const CONCURRENCY: usize = 16;

/// Probes every tenant of the snapshot in force, every `interval`, forever.
pub async fn run(gw: Arc<Gateway>, interval: Duration) {
    loop {
        probe_all(&gw).await;
        tokio::time::sleep(interval).await;
    }
}

pub async fn probe_all(gw: &Gateway) {
    let snapshot = gw.snapshot();
    // Owned up front: the probes outlive no snapshot borrow, and a reload meanwhile is fine.
    let bots: Vec<(String, BotClient)> = snapshot
        .table
        .iter()
        .map(|t| (t.id().to_string(), snapshot.bot(t).clone()))
        .collect();
    let results: Vec<(String, bool)> = futures_util::stream::iter(bots)
        .map(|(id, bot)| async move {
            let up = match bot.delete(NO_CONFERENCE, NO_ACTOR).await {
                Ok(()) | Err(BotError::Rejected { .. }) => true,
                Err(_) => false,
            };
            (id, up)
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    gw.metrics.set_bot_up(&results);
}
