//! Per-tenant storage: one [`Database`] handle for the process, one [`TenantStore`] per tenant.
//!
//! Design rules:
//! - Isolation is structural. A [`TenantStore`] is the only way to reach a tenant's rows and it
//!   carries its own precomputed SQL text naming that tenant's table (`"acme".meetings` on
//!   PostgreSQL, the tenant's own file on SQLite). Pooled connections never carry tenant
//!   state (no `SET search_path` outside migrations), so a connection handed from one tenant's
//!   request to another's cannot leak rows between them.
//! - One SQL text per statement for both backends (SQLite accepts `$N` parameters); only the
//!   table name and the encoding of ids and timestamps differ, see the `codec` functions in
//!   `postgres.rs` / `sqlite.rs`. Queries are runtime `sqlx::query` (no build-time database).
//! - Nothing connects eagerly: pools are lazy, so a [`Database`] may be built outside, or on a
//!   different tokio runtime than the one that later uses it. Connections are opened by the
//!   runtime that first needs them.
//! - Errors never contain the database URL (it may hold a password).
//! - Timestamps are kept to the microsecond on both backends (PostgreSQL's `TIMESTAMPTZ`
//!   precision); finer parts are truncated on write so both backends round-trip identically.

mod inspect;
mod postgres;
mod sqlite;

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use chrono::{DateTime, Utc};
use sqlx::AssertSqlSafe;
use sqlx::Row as _;
use sqlx::types::Json;
use uuid::Uuid;

use crate::meeting::Meeting;

pub use inspect::{Inspection, MigrationState};

pub use admin::{AdminRow, AuditEntry, DeleteAdmin, NewTemplate, StoredTemplate, TemplateImage};

/// Which database engine a [`Database`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        })
    }
}

/// Connection counts for metrics. For SQLite these are summed over the per-tenant pools.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PoolStats {
    /// Number of pools: 1 for PostgreSQL, tenants touched so far for SQLite.
    pub pools: u32,
    /// Open connections, idle or in use.
    pub size: u32,
    /// Open connections currently idle.
    pub idle: u32,
    /// Statements, since the start, that found every connection of their pool in use
    /// with the pool at its cap, so had to wait for one (appendix 4's pool exhaustion).
    pub waits: u64,
}

/// Process-wide: a process has one [`Database`], and a counter shared by its pools is what
/// the `xgate_db_pool_waits_total` metric reports.
static POOL_WAITS: AtomicU64 = AtomicU64::new(0);

/// Counts a statement that is about to wait for a connection. Read from the pool's own
/// counts just before the statement asks for one: cheap, and exact enough for a rate.
fn note_wait<DB: sqlx::Database>(pool: &sqlx::Pool<DB>) {
    if pool.num_idle() == 0 && pool.size() >= pool.options().get_max_connections() {
        POOL_WAITS.fetch_add(1, Ordering::Relaxed);
    }
}

fn pool_waits() -> u64 {
    POOL_WAITS.load(Ordering::Relaxed)
}

/// Storage failure. Messages are safe to log and to show operators: they never include the
/// database URL or its password.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database URL could not be used. The message describes the problem, not the URL.
    #[error("invalid database url: {0}")]
    InvalidUrl(String),
    #[error("invalid tenant id {id:?}: {reason}")]
    InvalidTenantId { id: String, reason: String },
    #[error("invalid schema name {schema:?}: {reason}")]
    InvalidSchema { schema: String, reason: String },
    #[error("meeting {0} not found")]
    NotFound(Uuid),
    #[error("meeting {0} already exists")]
    AlreadyExists(Uuid),
    /// A value the backend cannot store faithfully (e.g. a timestamp outside years 0–9999).
    #[error("cannot store {field}: {reason}")]
    InvalidValue { field: &'static str, reason: String },
    /// A stored row that does not decode into a [`Meeting`].
    #[error("corrupt stored {field}: {reason}")]
    Corrupt { field: &'static str, reason: String },
    #[error("storage directory {path}: {source}")]
    Io {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("database error: {0}")]
    Sqlx(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl StoreError {
    /// True for failures worth a retry / a 503 rather than a 500: the database is unreachable,
    /// overloaded (pool exhausted) or shutting down.
    pub fn is_unavailable(&self) -> bool {
        match self {
            StoreError::Sqlx(e) => matches!(
                e,
                sqlx::Error::PoolTimedOut
                    | sqlx::Error::PoolClosed
                    | sqlx::Error::Io(_)
                    | sqlx::Error::Tls(_)
                    | sqlx::Error::WorkerCrashed
            ),
            StoreError::Migrate(sqlx::migrate::MigrateError::Execute(e)) => matches!(
                e,
                sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_)
            ),
            StoreError::Io { .. } => true,
            _ => false,
        }
    }
}

/// Checks a PostgreSQL schema name: `[a-z_][a-z0-9_]{0,62}`, not `pg_*`, not
/// `information_schema` or `public`.
///
/// Lowercase-only so the quoted name used by the store is the same name an operator types
/// unquoted in `psql`; the shared `public` schema is refused so no tenant's tables can end
/// up where other tools (or a misconfigured second tenant) would look by default.
pub fn validate_schema_name(s: &str) -> Result<(), String> {
    let Some(first) = s.chars().next() else {
        return Err("must not be empty".into());
    };
    if s.len() > 63 {
        return Err(format!(
            "is {} characters long; PostgreSQL identifiers are at most 63",
            s.len()
        ));
    }
    if !(first.is_ascii_lowercase() || first == '_') {
        return Err(format!("must start with a-z or _, not {first:?}"));
    }
    if let Some(c) = s
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_'))
    {
        return Err(format!("contains {c:?}; only a-z, 0-9 and _ are allowed"));
    }
    if s.starts_with("pg_") {
        return Err("the pg_ prefix is reserved by PostgreSQL".into());
    }
    if s == "information_schema" || s == "public" {
        return Err("is a reserved schema".into());
    }
    Ok(())
}

/// Checks a tenant id used as a SQLite file name: `[A-Za-z0-9][A-Za-z0-9_-]{0,63}`.
///
/// No dots or separators, so the id can never climb out of the data directory or collide
/// with SQLite's `-wal`/`-shm` side files. Note that ids differing only in case map to
/// different files, which collide on case-insensitive file systems.
pub fn validate_tenant_id(s: &str) -> Result<(), String> {
    let Some(first) = s.chars().next() else {
        return Err("must not be empty".into());
    };
    if s.len() > 64 {
        return Err(format!(
            "is {} characters long; at most 64 allowed",
            s.len()
        ));
    }
    if !first.is_ascii_alphanumeric() {
        return Err(format!("must start with a letter or digit, not {first:?}"));
    }
    if let Some(c) = s
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '-'))
    {
        return Err(format!(
            "contains {c:?}; only A-Z, a-z, 0-9, _ and - are allowed"
        ));
    }
    Ok(())
}

/// Double-quotes an identifier for PostgreSQL. Names are validated first, so the escaping is
/// belt and braces.
fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The one shared handle to storage. Cloning is cheap (an `Arc`).
#[derive(Clone)]
pub struct Database {
    inner: Arc<Inner>,
}

#[allow(
    clippy::large_enum_variant,
    reason = "one instance per process, behind an Arc"
)]
enum Inner {
    Postgres(postgres::PgBackend),
    Sqlite(sqlite::SqliteBackend),
}

impl fmt::Debug for Database {
    // Hand-written so the connect options (which hold the password) are never printed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Database")
            .field("backend", &self.backend())
            .field("pool", &self.pool_stats())
            .finish()
    }
}

impl Database {
    /// Opens storage without connecting.
    ///
    /// `url` is either `sqlite://DIR` — a directory holding one `DIR/<tenant_id>.db` file per
    /// tenant (WAL mode), created if missing — or `postgres://…` / `postgresql://…`, one pool
    /// of at most `max_connections` connections shared by all tenants. For SQLite each
    /// tenant's pool holds at most `min(max_connections, 4)` connections.
    ///
    /// Migrations on PostgreSQL use one extra, short-lived connection outside the pool.
    pub fn open(url: &str, max_connections: u32) -> Result<Database, StoreError> {
        if max_connections == 0 {
            return Err(StoreError::InvalidUrl(
                "max_connections must be at least 1".into(),
            ));
        }
        let inner = if let Some(dir) = url.strip_prefix("sqlite://") {
            Inner::Sqlite(sqlite::SqliteBackend::open(dir, max_connections)?)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Inner::Postgres(postgres::PgBackend::open(url, max_connections)?)
        } else {
            // Only the scheme is echoed: the rest may hold credentials.
            let scheme = url.split_once(':').map_or("", |(s, _)| s);
            return Err(StoreError::InvalidUrl(format!(
                "unsupported scheme {scheme:?}; expected sqlite://DIR or postgres://…"
            )));
        };
        Ok(Database {
            inner: Arc::new(inner),
        })
    }

    pub fn backend(&self) -> Backend {
        match &*self.inner {
            Inner::Postgres(_) => Backend::Postgres,
            Inner::Sqlite(_) => Backend::Sqlite,
        }
    }

    /// Creates or updates one tenant's schema (PostgreSQL: `schema`, created if missing) or
    /// file (SQLite: `<tenant_id>.db`). Idempotent, and safe to run concurrently for the same
    /// tenant from several tasks or processes.
    ///
    /// PostgreSQL uses only `schema`; SQLite uses only `tenant_id`. Each is validated.
    pub async fn migrate_tenant(&self, tenant_id: &str, schema: &str) -> Result<(), StoreError> {
        match &*self.inner {
            Inner::Postgres(pg) => pg.migrate(tenant_id, schema).await,
            Inner::Sqlite(lite) => lite.migrate(tenant_id).await,
        }
    }

    /// Migrates every tenant not recorded as current (at most four at a time) and returns
    /// the failures. Tenants already at the latest migration cost nothing: the catalog is
    /// read once. If the catalog cannot be read, every tenant is migrated (idempotent).
    pub async fn migrate_tenants(&self, tenants: &[(String, String)]) -> Vec<(String, StoreError)> {
        use futures_util::StreamExt;
        let current = match &*self.inner {
            Inner::Postgres(pg) => pg.current().await,
            Inner::Sqlite(lite) => lite.current().await,
        }
        .unwrap_or_else(|e| {
            tracing::warn!(error = %e, "cannot read the migration catalog; migrating every tenant");
            Default::default()
        });
        let backend = self.backend();
        let todo = tenants.iter().filter(|(id, schema)| {
            let key = if backend == Backend::Postgres {
                schema
            } else {
                id
            };
            !current.contains(key)
        });
        futures_util::stream::iter(todo)
            .map(|(id, schema)| async move { (id.clone(), self.migrate_tenant(id, schema).await) })
            .buffer_unordered(4)
            .filter_map(|(id, r)| async move { r.err().map(|e| (id, e)) })
            .collect()
            .await
    }

    /// A cheap handle to one tenant's data. Never connects. An invalid `schema` (PostgreSQL) or
    /// `tenant_id` (SQLite) yields a store whose every call fails with the validation error.
    pub fn tenant(&self, tenant_id: &str, schema: &str) -> TenantStore {
        let target = match &*self.inner {
            Inner::Postgres(pg) => pg.target(schema),
            Inner::Sqlite(lite) => lite.target(tenant_id),
        };
        TenantStore {
            tenant_id: tenant_id.into(),
            target: target.unwrap_or_else(Target::Invalid),
        }
    }

    /// Readiness: PostgreSQL answers `SELECT 1`; for SQLite the data directory is a writable
    /// directory.
    pub async fn ping(&self) -> Result<(), StoreError> {
        match &*self.inner {
            Inner::Postgres(pg) => pg.ping().await,
            Inner::Sqlite(lite) => lite.ping().await,
        }
    }

    pub fn pool_stats(&self) -> PoolStats {
        match &*self.inner {
            Inner::Postgres(pg) => pg.stats(),
            Inner::Sqlite(lite) => lite.stats(),
        }
    }

    /// Closes every pool, waiting for checked-out connections to come back. Later calls fail
    /// with a pool-closed error. For graceful shutdown.
    pub async fn close(&self) {
        match &*self.inner {
            Inner::Postgres(pg) => pg.close().await,
            Inner::Sqlite(lite) => lite.close().await,
        }
    }
}

/// Where one tenant's storage stands, read without creating or changing anything: no
/// directory, file, schema or catalog row (see `inspect.rs`). For `xgate diagnose`.
///
/// PostgreSQL uses only `schema`; SQLite uses only `tenant_id`. Errors never hold the URL.
pub async fn inspect(url: &str, tenant_id: &str, schema: &str) -> Result<Inspection, StoreError> {
    if let Some(dir) = url.strip_prefix("sqlite://") {
        sqlite::inspect(dir, tenant_id).await
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        postgres::inspect(url, schema).await
    } else {
        let scheme = url.split_once(':').map_or("", |(s, _)| s);
        Err(StoreError::InvalidUrl(format!(
            "unsupported scheme {scheme:?}; expected sqlite://DIR or postgres://…"
        )))
    }
}

/// Whether sqlx may spawn its pool-maintenance task (idle timeout, max lifetime) right now:
/// it spawns onto the current tokio runtime and panics without one. Without a runtime the
/// pool simply keeps idle connections until they fail their pre-acquire ping.
fn can_spawn_maintenance() -> bool {
    tokio::runtime::Handle::try_current().is_ok()
}

/// A lock-protected cache that survives a panicking writer: the maps only ever gain complete
/// entries, so a poisoned lock still guards consistent data.
fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(PoisonError::into_inner)
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(PoisonError::into_inner)
}

type Cache<V> = RwLock<HashMap<String, V>>;

/// Returns the cached value for `key`, creating it under the write lock on first use.
/// The lock is never held across an await (the closure is synchronous).
fn cached<V: Clone>(cache: &Cache<V>, key: &str, make: impl FnOnce() -> V) -> V {
    if let Some(v) = read(cache).get(key) {
        return v.clone();
    }
    write(cache)
        .entry(key.to_owned())
        .or_insert_with(make)
        .clone()
}

const COLUMNS: &str = "id, call_id, creator, name, members, admins, start_at, end_at, link, \
     link_type, access_code, language, is_recurrent, status, created_at, updated_at";

/// A tenant's statements, built once with its table name baked in. The strings are `Arc`s
/// so each query borrows them without copying.
struct Statements {
    insert: Arc<str>,
    select: Arc<str>,
    update: Arc<str>,
    cancel: Arc<str>,
    count_since: Arc<str>,
    /// The admin UI's tables (`store/admin.rs`), under the same schema as `table`.
    admin: admin::AdminSql,
}

impl Statements {
    /// `table` must already be a safe SQL name (validated and quoted by the caller).
    fn for_table(table: &str) -> Statements {
        let s = |sql: String| -> Arc<str> { sql.into() };
        Statements {
            insert: s(format!(
                "INSERT INTO {table} ({COLUMNS}) VALUES \
                 ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)"
            )),
            select: s(format!("SELECT {COLUMNS} FROM {table} WHERE id = $1")),
            // created_at is deliberately absent: it records the insert and never changes.
            update: s(format!(
                "UPDATE {table} SET call_id = $2, creator = $3, name = $4, members = $5, \
                 admins = $6, start_at = $7, end_at = $8, link = $9, link_type = $10, \
                 access_code = $11, language = $12, is_recurrent = $13, status = $14, \
                 updated_at = $15 WHERE id = $1"
            )),
            cancel: s(format!(
                "UPDATE {table} SET status = 'cancelled', updated_at = $2 \
                 WHERE id = $1 AND status = 'active'"
            )),
            count_since: s(format!(
                "SELECT COUNT(*) FROM {table} WHERE created_at >= $1"
            )),
            // `table` is `"schema".meetings` or `meetings`: the admin tables share its prefix.
            admin: admin::AdminSql::with_prefix(table.strip_suffix("meetings").unwrap_or("")),
        }
    }
}

/// Why a [`TenantStore`] cannot be used; kept so every call can report it.
#[derive(Clone)]
enum Rejected {
    TenantId { id: String, reason: String },
    Schema { schema: String, reason: String },
}

impl Rejected {
    fn to_error(&self) -> StoreError {
        match self.clone() {
            Rejected::TenantId { id, reason } => StoreError::InvalidTenantId { id, reason },
            Rejected::Schema { schema, reason } => StoreError::InvalidSchema { schema, reason },
        }
    }
}

impl From<Rejected> for StoreError {
    fn from(r: Rejected) -> StoreError {
        r.to_error()
    }
}

#[derive(Clone)]
enum Target {
    Postgres {
        pool: sqlx::PgPool,
        sql: Arc<Statements>,
    },
    Sqlite {
        pool: sqlx::SqlitePool,
        sql: Arc<Statements>,
    },
    Invalid(Rejected),
}

/// One tenant's view of storage. Cheap to clone; holds no connection.
#[derive(Clone)]
pub struct TenantStore {
    tenant_id: Arc<str>,
    target: Target,
}

impl fmt::Debug for TenantStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let backend = match &self.target {
            Target::Postgres { .. } => "postgres",
            Target::Sqlite { .. } => "sqlite",
            Target::Invalid(_) => "invalid",
        };
        f.debug_struct("TenantStore")
            .field("tenant_id", &self.tenant_id)
            .field("backend", &backend)
            .finish()
    }
}

/// Runs `$body` against whichever backend the store targets, with `$pool`, `$sql` and the
/// backend's `codec` module in scope. The body is compiled once per backend, so the same
/// source serves both with their own types.
macro_rules! on_backend {
    ($store:expr, |$pool:ident, $sql:ident, $codec:ident| $body:block) => {
        match &$store.target {
            Target::Postgres {
                pool: $pool,
                sql: $sql,
            } => {
                #[allow(unused_imports, reason = "statements without ids or timestamps")]
                use crate::store::postgres::codec as $codec;
                crate::store::note_wait($pool);
                $body
            }
            Target::Sqlite {
                pool: $pool,
                sql: $sql,
            } => {
                #[allow(unused_imports, reason = "statements without ids or timestamps")]
                use crate::store::sqlite::codec as $codec;
                crate::store::note_wait($pool);
                $body
            }
            Target::Invalid(rejected) => Err(rejected.to_error()),
        }
    };
}

/// Decodes a `SELECT {COLUMNS}` row with the given backend codec.
macro_rules! meeting_from_row {
    ($row:expr, $codec:ident) => {{
        let row = $row;
        let status: String = row.try_get("status")?;
        let start_at: Option<$codec::Ts> = row.try_get("start_at")?;
        let end_at: Option<$codec::Ts> = row.try_get("end_at")?;
        let members: Json<Vec<String>> = row.try_get("members")?;
        let admins: Json<Vec<String>> = row.try_get("admins")?;
        Meeting {
            id: $codec::id_from(row.try_get("id")?)?,
            call_id: row.try_get("call_id")?,
            creator: row.try_get("creator")?,
            name: row.try_get("name")?,
            members: members.0,
            admins: admins.0,
            start_at: start_at
                .map(|t| $codec::ts_from(t, "start_at"))
                .transpose()?,
            end_at: end_at.map(|t| $codec::ts_from(t, "end_at")).transpose()?,
            link: row.try_get("link")?,
            link_type: row.try_get("link_type")?,
            access_code: row.try_get("access_code")?,
            language: row.try_get("language")?,
            is_recurrent: row.try_get("is_recurrent")?,
            status: status.parse().map_err(|e: crate::meeting::UnknownStatus| {
                StoreError::Corrupt {
                    field: "status",
                    reason: e.to_string(),
                }
            })?,
            created_at: $codec::ts_from(row.try_get("created_at")?, "created_at")?,
            updated_at: $codec::ts_from(row.try_get("updated_at")?, "updated_at")?,
        }
    }};
}

fn map_insert_error(e: sqlx::Error, id: Uuid) -> StoreError {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::AlreadyExists(id),
        _ => StoreError::Sqlx(e),
    }
}

impl TenantStore {
    pub fn tenant_id(&self) -> &str {
        &self.tenant_id
    }

    /// Inserts a new meeting; [`StoreError::AlreadyExists`] if its id is taken.
    pub async fn insert_meeting(&self, m: &Meeting) -> Result<(), StoreError> {
        on_backend!(self, |pool, sql, codec| {
            sqlx::query(AssertSqlSafe(sql.insert.clone()))
                .bind(codec::id(m.id))
                .bind(m.call_id.as_str())
                .bind(m.creator.as_str())
                .bind(m.name.as_deref())
                .bind(Json(&m.members))
                .bind(Json(&m.admins))
                .bind(m.start_at.map(|t| codec::ts(t, "start_at")).transpose()?)
                .bind(m.end_at.map(|t| codec::ts(t, "end_at")).transpose()?)
                .bind(m.link.as_str())
                .bind(m.link_type.as_str())
                .bind(m.access_code.as_deref())
                .bind(m.language.as_str())
                .bind(m.is_recurrent)
                .bind(m.status.as_str())
                .bind(codec::ts(m.created_at, "created_at")?)
                .bind(codec::ts(m.updated_at, "updated_at")?)
                .execute(pool)
                .await
                .map_err(|e| map_insert_error(e, m.id))?;
            Ok(())
        })
    }

    pub async fn meeting(&self, id: Uuid) -> Result<Option<Meeting>, StoreError> {
        on_backend!(self, |pool, sql, codec| {
            let row = sqlx::query(AssertSqlSafe(sql.select.clone()))
                .bind(codec::id(id))
                .fetch_optional(pool)
                .await?;
            Ok(match row {
                Some(row) => Some(meeting_from_row!(&row, codec)),
                None => None,
            })
        })
    }

    /// Overwrites the meeting with `m.id` with every field of `m` except `created_at`, which
    /// keeps its inserted value. [`StoreError::NotFound`] if there is no such meeting.
    pub async fn update_meeting(&self, m: &Meeting) -> Result<(), StoreError> {
        let updated = on_backend!(self, |pool, sql, codec| {
            let done = sqlx::query(AssertSqlSafe(sql.update.clone()))
                .bind(codec::id(m.id))
                .bind(m.call_id.as_str())
                .bind(m.creator.as_str())
                .bind(m.name.as_deref())
                .bind(Json(&m.members))
                .bind(Json(&m.admins))
                .bind(m.start_at.map(|t| codec::ts(t, "start_at")).transpose()?)
                .bind(m.end_at.map(|t| codec::ts(t, "end_at")).transpose()?)
                .bind(m.link.as_str())
                .bind(m.link_type.as_str())
                .bind(m.access_code.as_deref())
                .bind(m.language.as_str())
                .bind(m.is_recurrent)
                .bind(m.status.as_str())
                .bind(codec::ts(m.updated_at, "updated_at")?)
                .execute(pool)
                .await?;
            Ok::<_, StoreError>(done.rows_affected())
        })?;
        if updated == 0 {
            return Err(StoreError::NotFound(m.id));
        }
        Ok(())
    }

    /// Marks the meeting cancelled at `at`. Returns true if it was active (and now is not);
    /// false if it was already cancelled or does not exist.
    pub async fn cancel_meeting(&self, id: Uuid, at: DateTime<Utc>) -> Result<bool, StoreError> {
        on_backend!(self, |pool, sql, codec| {
            let done = sqlx::query(AssertSqlSafe(sql.cancel.clone()))
                .bind(codec::id(id))
                .bind(codec::ts(at, "updated_at")?)
                .execute(pool)
                .await?;
            Ok(done.rows_affected() > 0)
        })
    }

    /// Meetings created at or after `since`, cancelled ones included.
    pub async fn meetings_created_since(&self, since: DateTime<Utc>) -> Result<i64, StoreError> {
        on_backend!(self, |pool, sql, codec| {
            let n: i64 = sqlx::query_scalar(AssertSqlSafe(sql.count_since.clone()))
                .bind(codec::ts(since, "since")?)
                .fetch_one(pool)
                .await?;
            Ok(n)
        })
    }
}

// Declared after the macros above (`on_backend!`), which it uses.
mod admin;
