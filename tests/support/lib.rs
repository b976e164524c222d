//! The end-to-end harness: starts the real `xgate` and `xgate-bot-sim` binaries on free
//! loopback ports, over SQLite or a fresh PostgreSQL database, and speaks HTTP to them.
//!
//! - `binaries`: where the built binaries are (never builds them).
//! - `bot_sim`: the Conference Bot simulator and its `/_sim` control plane.
//! - `xgate`: a config tree in a tempdir (main file, `tenants.d/`, templates) and the
//!   `xgate serve` process on it, ready when `/readyz` says so.
//! - `database`: the two backends, and direct row counts for "nothing was stored".
//! - `api`, `raw_http`: the add-in API through reqwest, and raw HTTP/1.1 for keep-alive
//!   and chunked bodies.
//! - `admin`, `browser`: the tenant admin API, and a real headless Chromium for its UI.
//! - `slapd`, `kdc`: a real OpenLDAP directory and a real MIT Kerberos KDC, each with
//!   its own temporary config on free loopback ports, for the authentication tests.
//! - `shared`: one fixture per test file and backend; `reaper`: nothing outlives the
//!   test process.
//!
//! Network only to 127.0.0.1; no sleep is used to wait for anything but a polled
//! condition.

pub mod admin;
pub mod api;
pub mod binaries;
pub mod bot_sim;
pub mod browser;
pub mod certs;
pub mod config_tree;
pub mod database;
pub mod kdc;
pub mod ports;
pub mod raw_http;
pub mod reaper;
pub mod shared;
pub mod slapd;
pub mod xgate;

pub use api::{Api, Reply, is_english, is_russian, old_client_create};
pub use bot_sim::BotSim;
pub use config_tree::{ConfigTree, Outcome};
pub use database::{Backend, Database};
pub use kdc::Kdc;
pub use shared::{Lease, Shared};
pub use slapd::{LdapUser, Slapd};
pub use xgate::{TenantSpec, Xgate, XgateSpec};

/// Expands each named `async fn name(backend: Backend)` into a module `name` with two
/// tests, `sqlite` and `postgres`, so every behaviour is checked on both backends.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),+ $(,)?) => {$(
        mod $name {
            #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::Backend::Sqlite).await
            }
            #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name($crate::Backend::Postgres).await
            }
        }
    )+};
}
