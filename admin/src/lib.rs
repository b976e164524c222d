//! The tenant admin side of xgate: invitation rendering (the one path by which both the
//! meetings API and the admin preview turn a template into a letter), and each tenant's
//! admin UI (`/front`) with its JSON API (`/api/admin/...`).
//!
//! This crate never resolves a tenant: the gateway does (by port, or `/t/{tenant}` on the
//! shared listener) and hands the admin [`router`] an [`AdminRequest`] extension. Nothing
//! here reaches another tenant's data: every handler works on `AdminRequest::tenant`'s
//! store, and every token is checked against that tenant's id.

pub mod auth;
pub mod error;
pub mod invitation;
pub mod ops_view;
mod routes;
pub mod templates;
mod ui;

use std::net::IpAddr;
use std::sync::Arc;

use xgate_tenants::Tenant;

pub use error::AdminError;
pub use invitation::{Invitation, InvitationContext, RenderError, render};
pub use routes::router;

/// Set by the gateway on every request it routes to [`router`].
#[derive(Clone)]
pub struct AdminRequest {
    pub tenant: Arc<Tenant>,
    /// The client's address, for login throttling.
    pub peer: Option<IpAddr>,
    /// The path prefix the tenant was reached under: `""` on its own port, `/t/{id}` on
    /// the shared listener. Cookies are scoped to it.
    pub base: String,
}

/// `xgate admin reset-password`: a new random password for `login` (created if missing),
/// every token of that login revoked. Returns the password to show the operator once.
pub async fn reset_password(tenant: &Tenant, login: &str) -> Result<String, AdminError> {
    use rand::Rng;
    templates::bootstrap(tenant).await?;
    const ALPHABET: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rng();
    let password: String = (0..20)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect();
    let hash = auth::hash_password(password.clone()).await?;
    let now = chrono::Utc::now();
    let store = &tenant.store;
    match store.admin(login).await? {
        Some(a) => {
            store
                .update_admin(login, &a.full_name, Some(&hash), now)
                .await?;
        }
        None => {
            store.insert_admin(login, "", &hash, now).await?;
        }
    }
    store
        .audit("operator", "password_reset", login, now)
        .await?;
    Ok(password)
}
