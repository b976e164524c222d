//! PostgreSQL: one database, one schema per tenant, one bounded pool shared by all tenants.
//!
//! - Queries are schema-qualified (`"acme".meetings`), never routed with `SET search_path`:
//!   a pooled connection then holds no tenant state, and which tenant a statement touches is
//!   fixed by the [`TenantStore`](super::TenantStore) that issued it. sqlx's per-connection
//!   statement cache is keyed by SQL text, which includes the schema, so cached statements
//!   cannot cross tenants either. (With many tenants, raise `statement_cache_capacity` in the
//!   URL: each tenant adds five statements.)
//! - Migrations run on a dedicated connection opened just for them and closed afterwards,
//!   because they *do* set `search_path` (so the unqualified migration files and sqlx's
//!   `_sqlx_migrations` table land in the tenant's schema) and that must never reach the pool.
//! - Concurrent migrations are safe: schema creation is serialized by a transaction-scoped
//!   advisory lock keyed by schema name, and the migrator holds its own advisory lock
//!   (per database) while applying migrations, which themselves use `IF NOT EXISTS`.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{AssertSqlSafe, Connection, PgConnection, PgPool};

use super::inspect::{Inspection, MigrationState, compare};
use super::{
    Backend, Cache, PoolStats, Rejected, Statements, StoreError, Target, cached,
    can_spawn_maintenance, quote_ident, validate_schema_name,
};

static MIGRATOR: Migrator = sqlx::migrate!("../migrations/postgres");

/// A request waiting longer than this for a pooled connection fails (and can be answered
/// with 503) instead of piling up behind an exhausted or unreachable database.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// First key of the two-key advisory lock around `CREATE SCHEMA`; the second is the hashed
/// schema name. Arbitrary, distinct from sqlx's single-key migration lock space.
const SCHEMA_LOCK_NAMESPACE: i32 = 0x7867_7465; // "xgte"

pub(super) struct PgBackend {
    pool: PgPool,
    connect: PgConnectOptions,
    statements: Cache<Arc<Statements>>,
}

impl PgBackend {
    pub(super) fn open(url: &str, max_connections: u32) -> Result<PgBackend, StoreError> {
        // sqlx's parse errors describe the fault ("invalid port number"), not the URL.
        let mut connect = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::InvalidUrl(redact(e.to_string(), url)))?;
        if connect.get_application_name().is_none() {
            // So operators can tell xgate's sessions apart in pg_stat_activity.
            connect = connect.application_name("xgate");
        }
        let mut options = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(ACQUIRE_TIMEOUT);
        if !can_spawn_maintenance() {
            options = options.idle_timeout(None).max_lifetime(None);
        }
        Ok(PgBackend {
            pool: options.connect_lazy_with(connect.clone()),
            connect,
            statements: RwLock::new(HashMap::new()),
        })
    }

    pub(super) fn target(&self, schema: &str) -> Result<Target, Rejected> {
        validate_schema_name(schema).map_err(|reason| Rejected::Schema {
            schema: schema.to_owned(),
            reason,
        })?;
        let sql = cached(&self.statements, schema, || {
            Arc::new(Statements::for_table(&format!(
                "{}.meetings",
                quote_ident(schema)
            )))
        });
        Ok(Target::Postgres {
            pool: self.pool.clone(),
            sql,
        })
    }

    pub(super) async fn migrate(&self, tenant_id: &str, schema: &str) -> Result<(), StoreError> {
        validate_schema_name(schema).map_err(|reason| StoreError::InvalidSchema {
            schema: schema.to_owned(),
            reason,
        })?;
        let mut conn = PgConnection::connect_with(&self.connect).await?;
        let result = match migrate_on(&mut conn, schema).await {
            Ok(()) => record(&mut conn, schema).await,
            Err(e) => Err(e),
        };
        // Close even after a failure so the search_path'd session ends now, not at drop.
        let closed = conn.close().await;
        result?;
        closed?;
        tracing::info!(tenant = tenant_id, schema, "tenant schema migrated");
        Ok(())
    }

    /// Schemas that exist and are recorded at the latest migration, so a start with
    /// thousands of tenants runs two queries instead of thousands of migrations.
    pub(super) async fn current(&self) -> Result<std::collections::HashSet<String>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        let has_catalog: bool =
            sqlx::query_scalar("SELECT to_regclass('xgate_catalog.tenant_schemas') IS NOT NULL")
                .fetch_one(&mut *conn)
                .await?;
        if !has_catalog {
            return Ok(Default::default());
        }
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT c.schema_name FROM xgate_catalog.tenant_schemas c \
             JOIN pg_namespace n ON n.nspname = c.schema_name WHERE c.version = $1",
        )
        .bind(latest_version())
        .fetch_all(&mut *conn)
        .await?;
        Ok(rows.into_iter().map(|(s,)| s).collect())
    }

    pub(super) async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub(super) fn stats(&self) -> PoolStats {
        PoolStats {
            pools: 1,
            size: self.pool.size(),
            idle: u32::try_from(self.pool.num_idle()).unwrap_or(u32::MAX),
            waits: super::pool_waits(),
        }
    }

    pub(super) async fn close(&self) {
        self.pool.close().await;
    }
}

fn latest_version() -> i64 {
    MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0)
}

/// `inspect` for PostgreSQL: one connection of its own, read-only queries, closed after.
pub(super) async fn inspect(url: &str, schema: &str) -> Result<Inspection, StoreError> {
    validate_schema_name(schema).map_err(|reason| StoreError::InvalidSchema {
        schema: schema.to_owned(),
        reason,
    })?;
    let connect = PgConnectOptions::from_str(url)
        .map_err(|e| StoreError::InvalidUrl(redact(e.to_string(), url)))?
        .application_name("xgate diagnose");
    let mut conn = PgConnection::connect_with(&connect).await?;
    let result = inspect_on(&mut conn, schema).await;
    let _ = conn.close().await;
    result
}

async fn inspect_on(conn: &mut PgConnection, schema: &str) -> Result<Inspection, StoreError> {
    let server_version: String = sqlx::query_scalar("SHOW server_version")
        .fetch_one(&mut *conn)
        .await?;
    let max: String = sqlx::query_scalar("SHOW max_connections")
        .fetch_one(&mut *conn)
        .await?;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)")
            .bind(schema)
            .fetch_one(&mut *conn)
            .await?;
    let quoted = quote_ident(schema);
    let migrations = if !exists {
        MigrationState::Missing
    } else {
        let has_table: bool = sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL")
            .bind(format!("{quoted}._sqlx_migrations"))
            .fetch_one(&mut *conn)
            .await?;
        let applied: Vec<(i64, bool, Vec<u8>)> = if has_table {
            sqlx::query_as(AssertSqlSafe(format!(
                "SELECT version, success, checksum FROM {quoted}._sqlx_migrations ORDER BY version"
            )))
            .fetch_all(&mut *conn)
            .await?
        } else {
            // A schema a DBA created and nobody migrated yet.
            Vec::new()
        };
        compare(&applied, &MIGRATOR)
    };
    Ok(Inspection {
        backend: Backend::Postgres,
        server_version: Some(server_version),
        server_max_connections: max.trim().parse().ok(),
        migrations,
    })
}

/// The catalog lives in a schema of its own: no tenant schema and nothing in `public`.
/// `search_path` is set on this (dedicated, soon closed) connection, so names are qualified.
async fn record(conn: &mut PgConnection, schema: &str) -> Result<(), StoreError> {
    let mut tx = conn.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1, hashtext('xgate_catalog'))")
        .bind(SCHEMA_LOCK_NAMESPACE)
        .execute(&mut *tx)
        .await?;
    sqlx::query("CREATE SCHEMA IF NOT EXISTS xgate_catalog")
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS xgate_catalog.tenant_schemas \
         (schema_name TEXT PRIMARY KEY, version BIGINT NOT NULL, migrated_at TIMESTAMPTZ NOT NULL DEFAULT now())",
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO xgate_catalog.tenant_schemas (schema_name, version) VALUES ($1, $2) \
         ON CONFLICT (schema_name) DO UPDATE SET version = excluded.version, migrated_at = now()",
    )
    .bind(schema)
    .bind(latest_version())
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

async fn migrate_on(conn: &mut PgConnection, schema: &str) -> Result<(), StoreError> {
    let quoted = quote_ident(schema);

    // Concurrent `CREATE SCHEMA IF NOT EXISTS` can still fail on the catalog's unique index,
    // hence the lock. Existence is checked first so a role without CREATE on the database
    // can migrate a schema a DBA created for it.
    let mut tx = conn.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1, hashtext($2))")
        .bind(SCHEMA_LOCK_NAMESPACE)
        .bind(schema)
        .execute(&mut *tx)
        .await?;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)")
            .bind(schema)
            .fetch_one(&mut *tx)
            .await?;
    if !exists {
        sqlx::query(AssertSqlSafe(format!(
            "CREATE SCHEMA IF NOT EXISTS {quoted}"
        )))
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;

    // Only this connection sees the search_path, and it is closed right after.
    sqlx::query(AssertSqlSafe(format!("SET search_path TO {quoted}")))
        .execute(&mut *conn)
        .await?;
    // `run_direct`: see the note in sqlite.rs.
    MIGRATOR.run_direct(None, &mut *conn, false).await?;
    Ok(())
}

/// Defense in depth: should a driver error ever quote the URL, drop the password from it.
fn redact(message: String, url: &str) -> String {
    let password = url
        .split_once("://")
        .and_then(|(_, rest)| rest.split(['/', '?', '#']).next())
        .and_then(|authority| authority.rsplit_once('@'))
        .and_then(|(userinfo, _)| userinfo.split_once(':'))
        .map(|(_, password)| password)
        .filter(|p| !p.is_empty());
    match password {
        Some(p) => message.replace(p, "***"),
        None => message,
    }
}

/// Encoding of ids and timestamps: native `UUID` and `TIMESTAMPTZ`.
pub(super) mod codec {
    use chrono::{DateTime, SubsecRound, Utc};
    use uuid::Uuid;

    use crate::store::StoreError;

    pub type Ts = DateTime<Utc>;

    pub fn id(id: Uuid) -> Uuid {
        id
    }

    pub fn id_from(id: Uuid) -> Result<Uuid, StoreError> {
        Ok(id)
    }

    /// Truncated (not rounded) to microseconds, matching the SQLite codec.
    pub fn ts(t: DateTime<Utc>, _field: &'static str) -> Result<Ts, StoreError> {
        Ok(t.trunc_subsecs(6))
    }

    pub fn ts_from(t: Ts, _field: &'static str) -> Result<DateTime<Utc>, StoreError> {
        Ok(t)
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn redacts_password() {
        let url = "postgres://xgate:s3cr%40t@db:5432/xgate?sslmode=require";
        assert_eq!(
            redact(format!("boom near {url}"), url),
            "boom near postgres://xgate:***@db:5432/xgate?sslmode=require"
        );
        assert_eq!(redact("no url".into(), url), "no url");
        assert_eq!(redact("x".into(), "postgres://db/x"), "x");
    }
}
