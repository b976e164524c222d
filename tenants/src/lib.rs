//! The tenant side of xgate: what a tenant is (config model and validation), the
//! table that finds a tenant for a request, and each tenant's storage.
//!
//! This crate never speaks HTTP and never calls a bot: it is the domain the gateway
//! and the admin UI stand on. Dependencies point here, never out of here.

pub mod config;
pub mod language;
pub mod meeting;
pub mod pace;
pub mod policy;
pub mod secret;
pub mod store;
pub mod table;
pub mod templates;

pub use config::{Config, ConfigError, ConfigErrors};
pub use language::Language;
pub use policy::{LinkType, Policy};
pub use secret::Secret;
pub use table::{Tenant, TenantTable};
