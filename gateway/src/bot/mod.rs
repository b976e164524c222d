//! The client for a tenant's eXpress Conference Bot (see `shared/specs/conference-bot-api.md`).
//!
//! One `BotClient` per tenant: its URI, its credentials, its timeouts, its own
//! connection pool. It knows the wire format and the bot's failure modes and nothing
//! about meetings, users or HTTP answers to the add-in.

mod client;
mod wire;

pub use client::{BotClient, BotError};
pub use wire::{Conference, ConferenceChange, ConferenceDraft, LinkChange};
