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
    let directories: Vec<(String, Arc<Directory>)> = snapshot
        .table
        .iter()
        .filter_map(|t| Some((t.id().to_string(), snapshot.directory_arc(t)?)))
        .collect();
    drop(snapshot);
    let results: Vec<(String, bool)> = futures_util::stream::iter(bots)
        .map(|(id, bot)| async move { (id, ask(&bot).await.is_ok()) })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    gw.metrics.set_bot_up(&results);
    let results: Vec<(String, bool)> = futures_util::stream::iter(directories)
        .map(|(id, dir)| async move { (id, dir.reachable().await) })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    gw.metrics.set_directory_up(&results);
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
