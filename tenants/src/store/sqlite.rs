//! SQLite: one database file per tenant, `DIR/<tenant_id>.db`.
//!
//! - A file per tenant makes isolation physical and lets an operator back up, move or delete
//!   one tenant with `cp`/`rm`. Each file gets a small pool, created lazily on first use and
//!   cached for the life of the [`Database`](super::Database).
//! - WAL with `synchronous=NORMAL`: readers never block the writer and commits skip an
//!   fsync; a power loss can drop the last transactions but not corrupt the file. Writers
//!   are serialized by SQLite itself; `busy_timeout` makes them queue instead of failing.
//! - Ids are stored as hyphenated text and timestamps as fixed-width RFC 3339 UTC text with
//!   microseconds, so rows read naturally in the `sqlite3` shell and text comparison equals
//!   time comparison (see `migrations/sqlite/0001_meetings.sql`).
//! - Migrations run inside one `BEGIN IMMEDIATE` transaction: it takes SQLite's write lock
//!   up front, so concurrent migrations of the same file, from this process or another, run
//!   one after the other and the second finds nothing left to do.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, LazyLock, RwLock};
use std::time::{Duration, Instant};

use sqlx::migrate::Migrator;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Connection, SqliteConnection, SqlitePool};

use super::inspect::{Inspection, MigrationState, compare};
use super::{
    Backend, Cache, PoolStats, Rejected, Statements, StoreError, Target, cached,
    can_spawn_maintenance, read, validate_tenant_id,
};

static MIGRATOR: Migrator = sqlx::migrate!("../migrations/sqlite");

/// Tenant files share one set of statements: the table name is the same in every file.
static STATEMENTS: LazyLock<Arc<Statements>> =
    LazyLock::new(|| Arc::new(Statements::for_table("meetings")));

/// Per-tenant pool cap. SQLite has one writer at a time, so more connections only add
/// readers and open file handles (three per connection in WAL mode).
const MAX_PER_TENANT: u32 = 4;
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
fn latest_version() -> i64 {
    MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0)
}

/// Idle tenants give their file handles back.
const IDLE_TIMEOUT: Duration = Duration::from_secs(300);
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

pub(super) struct SqliteBackend {
    dir: PathBuf,
    max_per_tenant: u32,
    pools: Cache<SqlitePool>,
}

impl SqliteBackend {
    pub(super) fn open(dir: &str, max_connections: u32) -> Result<SqliteBackend, StoreError> {
        if dir.is_empty() {
            return Err(StoreError::InvalidUrl(
                "sqlite:// needs a directory, e.g. sqlite:///var/lib/xgate".into(),
            ));
        }
        let dir = PathBuf::from(dir);
        std::fs::create_dir_all(&dir).map_err(|source| StoreError::Io {
            path: dir.clone(),
            source,
        })?;
        Ok(SqliteBackend {
            dir,
            max_per_tenant: max_connections.clamp(1, MAX_PER_TENANT),
            pools: RwLock::new(HashMap::new()),
        })
    }

    fn pool(&self, tenant_id: &str) -> Result<SqlitePool, Rejected> {
        validate_tenant_id(tenant_id).map_err(|reason| Rejected::TenantId {
            id: tenant_id.to_owned(),
            reason,
        })?;
        Ok(cached(&self.pools, tenant_id, || {
            let connect = self.connect_options(tenant_id);
            let mut options = SqlitePoolOptions::new()
                .max_connections(self.max_per_tenant)
                .acquire_timeout(ACQUIRE_TIMEOUT)
                .idle_timeout(IDLE_TIMEOUT)
                .max_lifetime(None)
                .after_connect(|conn, _| Box::pin(ensure_wal(conn)));
            if !can_spawn_maintenance() {
                options = options.idle_timeout(None);
            }
            options.connect_lazy_with(connect)
        }))
    }

    pub(super) fn target(&self, tenant_id: &str) -> Result<Target, Rejected> {
        Ok(Target::Sqlite {
            pool: self.pool(tenant_id)?,
            sql: STATEMENTS.clone(),
        })
    }

    fn connect_options(&self, tenant_id: &str) -> SqliteConnectOptions {
        SqliteConnectOptions::new()
            .filename(self.dir.join(format!("{tenant_id}.db")))
            .create_if_missing(true)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true)
    }

    /// Migrates on a connection of its own, closed afterwards: migrating thousands of
    /// tenants at start must not leave thousands of pooled file handles open.
    pub(super) async fn migrate(&self, tenant_id: &str) -> Result<(), StoreError> {
        validate_tenant_id(tenant_id).map_err(|reason| StoreError::InvalidTenantId {
            id: tenant_id.to_owned(),
            reason,
        })?;
        let mut conn = SqliteConnection::connect_with(&self.connect_options(tenant_id)).await?;
        let result = self.migrate_on(&mut conn, tenant_id).await;
        let closed = conn.close().await;
        result?;
        closed?;
        self.record(tenant_id).await?;
        Ok(())
    }

    async fn migrate_on(
        &self,
        conn: &mut SqliteConnection,
        tenant_id: &str,
    ) -> Result<(), StoreError> {
        ensure_wal(conn).await?;
        let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;
        // The migrator nests its per-migration transactions as savepoints inside this one.
        // `run_direct` is sqlx's own way around "Acquire is not general enough", which
        // `run` triggers once this future is spawned (a reload migrating a new tenant).
        MIGRATOR.run_direct(None, &mut *tx, false).await?;
        tx.commit().await?;
        tracing::info!(tenant = tenant_id, "tenant database migrated");
        Ok(())
    }

    /// The catalog (`_catalog.db`, a name no tenant id can take) remembers which tenant
    /// files are at the latest migration, so a start with thousands of tenants opens one
    /// file instead of thousands.
    async fn catalog(&self) -> Result<SqliteConnection, StoreError> {
        let options = SqliteConnectOptions::new()
            .filename(self.dir.join("_catalog.db"))
            .create_if_missing(true)
            .busy_timeout(BUSY_TIMEOUT);
        let mut conn = SqliteConnection::connect_with(&options).await?;
        sqlx::query("CREATE TABLE IF NOT EXISTS tenants (tenant_id TEXT PRIMARY KEY, version INTEGER NOT NULL) STRICT")
            .execute(&mut conn)
            .await?;
        Ok(conn)
    }

    async fn record(&self, tenant_id: &str) -> Result<(), StoreError> {
        let mut conn = self.catalog().await?;
        sqlx::query(
            "INSERT INTO tenants (tenant_id, version) VALUES ($1, $2) \
             ON CONFLICT (tenant_id) DO UPDATE SET version = excluded.version",
        )
        .bind(tenant_id)
        .bind(latest_version())
        .execute(&mut conn)
        .await?;
        conn.close().await?;
        Ok(())
    }

    /// Tenant ids whose file exists and is recorded at the latest migration.
    pub(super) async fn current(&self) -> Result<std::collections::HashSet<String>, StoreError> {
        let mut conn = self.catalog().await?;
        let rows: Vec<(String,)> =
            sqlx::query_as("SELECT tenant_id FROM tenants WHERE version = $1")
                .bind(latest_version())
                .fetch_all(&mut conn)
                .await?;
        conn.close().await?;
        Ok(rows
            .into_iter()
            .map(|(id,)| id)
            .filter(|id| self.dir.join(format!("{id}.db")).is_file())
            .collect())
    }

    pub(super) async fn ping(&self) -> Result<(), StoreError> {
        writable_dir(&self.dir).await
    }

    pub(super) fn stats(&self) -> PoolStats {
        read(&self.pools).values().fold(
            PoolStats {
                waits: super::pool_waits(),
                ..PoolStats::default()
            },
            |acc, pool| PoolStats {
                pools: acc.pools + 1,
                size: acc.size + pool.size(),
                idle: acc.idle + u32::try_from(pool.num_idle()).unwrap_or(u32::MAX),
                waits: acc.waits,
            },
        )
    }

    pub(super) async fn close(&self) {
        // Collected first: the lock must not be held across the awaits below.
        let pools: Vec<SqlitePool> = read(&self.pools).values().cloned().collect();
        for pool in pools {
            pool.close().await;
        }
    }
}

/// The data directory exists, is a directory and is not read-only: what SQLite needs to
/// create a tenant's file and its WAL.
async fn writable_dir(dir: &std::path::Path) -> Result<(), StoreError> {
    let io = |source| StoreError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let meta = tokio::fs::metadata(dir).await.map_err(io)?;
    if !meta.is_dir() {
        return Err(io(std::io::Error::new(
            std::io::ErrorKind::NotADirectory,
            "not a directory",
        )));
    }
    if meta.permissions().readonly() {
        return Err(io(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            "read-only",
        )));
    }
    Ok(())
}

/// `inspect` for SQLite: the data directory must exist and be writable (xgate creates
/// files in it); the tenant's file is opened read-only, never created.
pub(super) async fn inspect(dir: &str, tenant_id: &str) -> Result<Inspection, StoreError> {
    if dir.is_empty() {
        return Err(StoreError::InvalidUrl(
            "sqlite:// needs a directory, e.g. sqlite:///var/lib/xgate".into(),
        ));
    }
    validate_tenant_id(tenant_id).map_err(|reason| StoreError::InvalidTenantId {
        id: tenant_id.to_owned(),
        reason,
    })?;
    let dir = PathBuf::from(dir);
    writable_dir(&dir).await?;
    let file = dir.join(format!("{tenant_id}.db"));
    let migrations = if !file.is_file() {
        MigrationState::Missing
    } else {
        let options = SqliteConnectOptions::new()
            .filename(&file)
            .read_only(true)
            .create_if_missing(false)
            .busy_timeout(BUSY_TIMEOUT);
        let mut conn = SqliteConnection::connect_with(&options).await?;
        let result = applied(&mut conn).await;
        let _ = conn.close().await;
        compare(&result?, &MIGRATOR)
    };
    Ok(Inspection {
        backend: Backend::Sqlite,
        server_version: None,
        server_max_connections: None,
        migrations,
    })
}

async fn applied(conn: &mut SqliteConnection) -> Result<Vec<(i64, bool, Vec<u8>)>, StoreError> {
    let has_table: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations')",
    )
    .fetch_one(&mut *conn)
    .await?;
    if !has_table {
        return Ok(Vec::new());
    }
    Ok(
        sqlx::query_as("SELECT version, success, checksum FROM _sqlx_migrations ORDER BY version")
            .fetch_all(&mut *conn)
            .await?,
    )
}

/// Switches the file to WAL (a persistent property of the file, so a no-op after the first
/// time). Not done through the connect options: converting a fresh file needs an exclusive
/// lock that SQLite does not wait for with `busy_timeout`, so connections racing to open a
/// new tenant file would fail with "database is locked". Here they retry instead.
async fn ensure_wal(conn: &mut SqliteConnection) -> Result<(), sqlx::Error> {
    let deadline = Instant::now() + BUSY_TIMEOUT;
    loop {
        let result: Result<String, _> = sqlx::query_scalar("PRAGMA journal_mode = WAL")
            .fetch_one(&mut *conn)
            .await;
        match result {
            Ok(mode) if mode.eq_ignore_ascii_case("wal") => return Ok(()),
            Ok(mode) => {
                return Err(sqlx::Error::Configuration(
                    format!("SQLite refused WAL mode (journal_mode is {mode})").into(),
                ));
            }
            Err(e) if is_busy(&e) && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            Err(e) => return Err(e),
        }
    }
}

fn is_busy(e: &sqlx::Error) -> bool {
    const SQLITE_BUSY: i32 = 5;
    match e {
        sqlx::Error::Database(db) => db
            .code()
            .and_then(|code| code.parse::<i32>().ok())
            // Extended codes (BUSY_RECOVERY, BUSY_SNAPSHOT…) keep the primary code in the low byte.
            .is_some_and(|code| code & 0xff == SQLITE_BUSY),
        _ => false,
    }
}

/// Encoding of ids and timestamps as text.
pub(super) mod codec {
    use chrono::{DateTime, Datelike, SubsecRound, Utc};
    use uuid::Uuid;

    use crate::store::StoreError;

    pub type Ts = String;

    pub fn id(id: Uuid) -> String {
        id.hyphenated().to_string()
    }

    pub fn id_from(text: String) -> Result<Uuid, StoreError> {
        Uuid::parse_str(&text).map_err(|e| StoreError::Corrupt {
            field: "id",
            reason: format!("{text:?}: {e}"),
        })
    }

    /// `YYYY-MM-DDTHH:MM:SS.ffffffZ`, always 27 characters, truncated to microseconds.
    pub fn ts(t: DateTime<Utc>, field: &'static str) -> Result<Ts, StoreError> {
        // Outside 0000–9999 the year gains a sign or a digit and text order breaks.
        if !(0..=9999).contains(&t.year()) {
            return Err(StoreError::InvalidValue {
                field,
                reason: format!("{t} is outside years 0000-9999"),
            });
        }
        Ok(t.trunc_subsecs(6)
            .format("%Y-%m-%dT%H:%M:%S%.6fZ")
            .to_string())
    }

    pub fn ts_from(text: Ts, field: &'static str) -> Result<DateTime<Utc>, StoreError> {
        DateTime::parse_from_rfc3339(&text)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| StoreError::Corrupt {
                field,
                reason: format!("{text:?}: {e}"),
            })
    }

    #[cfg(test)]
    mod tests {
        use chrono::{TimeZone, Utc};

        #[test]
        fn timestamps_are_fixed_width_and_truncated() {
            let t = Utc.with_ymd_and_hms(2025, 1, 31, 9, 30, 0).unwrap()
                + chrono::Duration::nanoseconds(123_456_789);
            let s = super::ts(t, "t").unwrap();
            assert_eq!(s, "2025-01-31T09:30:00.123456Z");
            let back = super::ts_from(s, "t").unwrap();
            assert_eq!(back, t - chrono::Duration::nanoseconds(789));
            assert_eq!(
                super::ts(Utc.with_ymd_and_hms(1, 1, 1, 0, 0, 0).unwrap(), "t").unwrap(),
                "0001-01-01T00:00:00.000000Z"
            );
            assert!(super::ts(Utc.with_ymd_and_hms(10000, 1, 1, 0, 0, 0).unwrap(), "t").is_err());
        }
    }
}

#[cfg(test)]
mod pool_tests {
    use std::pin::pin;
    use std::task::Poll;

    use crate::store::Database;

    /// A statement that finds the pool's only connection taken counts one wait; one that
    /// finds an idle connection counts none.
    #[tokio::test]
    async fn a_statement_that_must_wait_for_a_connection_is_counted() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(&format!("sqlite://{}", dir.path().display()), 1).unwrap();
        db.migrate_tenant("acme", "acme").await.unwrap();
        let store = db.tenant("acme", "acme");
        let id = uuid::Uuid::new_v4();

        let before = db.pool_stats().waits;
        assert_eq!(store.meeting(id).await.unwrap(), None);
        assert_eq!(db.pool_stats().waits, before, "an idle connection: no wait");

        let pool = match &store.target {
            super::Target::Sqlite { pool, .. } => pool.clone(),
            _ => unreachable!("a sqlite store"),
        };
        let held = pool.acquire().await.unwrap();
        let mut query = pin!(store.meeting(id));
        let polled = futures_util::poll!(query.as_mut());
        assert!(
            matches!(polled, Poll::Pending),
            "the only connection is held"
        );
        assert_eq!(db.pool_stats().waits, before + 1, "the wait is counted");
        drop(held);
        assert_eq!(query.await.unwrap(), None, "and the statement still runs");
    }
}
