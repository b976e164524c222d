//! Crate root of the Conference Bot API simulator: wires the modules into one axum app.

pub mod api;
pub mod auth;
pub mod conference;
pub mod control;
pub mod envelope;
pub mod state;
pub mod users;

use std::sync::Arc;

use axum::Router;

pub use auth::Auth;
pub use state::{Config, Sim};

/// The whole simulator: `/_sim/...` control routes, everything else goes to the bot API.
pub fn app(sim: Arc<Sim>) -> Router {
    control::routes().fallback(api::handle).with_state(sim)
}
