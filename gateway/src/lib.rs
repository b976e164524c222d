//! xgate: one process serving the eXpress Outlook add-in API for many CTS/ETS tenants.
//! See ARCHITECTURE.md for the request's path through the crates.

pub mod activity;
pub mod body;
pub mod bot;
pub mod bridge;
pub mod cli;
pub mod diagnose;
pub mod directory;
pub mod error;
pub mod handover;
pub mod import_iis;
pub mod logging;
mod messages;
pub mod metric_names;
pub mod metrics;
pub mod ports;
pub mod principal;
pub mod probe;
pub mod reload;
pub mod request;
pub mod routes;
pub mod scope;
pub mod serve;
pub mod state;
pub mod tls;
