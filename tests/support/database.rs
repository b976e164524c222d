//! The two storage backends every behavioural test runs against, and direct access to
//! a tenant's rows for assertions the API cannot make ("nothing was stored").
//!
//! SQLite: a directory inside the test's tempdir, one file per tenant (`<id>.db`).
//! PostgreSQL: a fresh database on 127.0.0.1:5432 per xgate, dropped WITH (FORCE) when
//! the xgate is dropped or the test process exits; one schema per tenant inside it.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Once;
use std::sync::atomic::{AtomicU32, Ordering};

use sqlx::postgres::PgConnection;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{AssertSqlSafe, ConnectOptions, Connection};

use crate::reaper;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub const ALL: [Backend; 2] = [Backend::Sqlite, Backend::Postgres];

    pub fn index(self) -> usize {
        match self {
            Backend::Sqlite => 0,
            Backend::Postgres => 1,
        }
    }
}

const PG_SERVER: &str = "postgres://postgres@127.0.0.1:5432";
const PG_HINT: &str =
    "start it with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start";
/// Test databases are named `xgate_test_<host>_<pid>_<n>` so a later run can tell which
/// ones a dead test process left behind.
const PG_PREFIX: &str = "xgate_test_";

/// Where one xgate keeps its data.
pub enum Database {
    Sqlite { dir: PathBuf },
    Postgres(PgDatabase),
}

impl Database {
    /// SQLite under `dir`, or a fresh PostgreSQL database (panics with the way to start
    /// PostgreSQL when it is not reachable).
    pub fn create(backend: Backend, dir: &Path) -> Database {
        match backend {
            Backend::Sqlite => Database::Sqlite {
                dir: dir.join("data"),
            },
            Backend::Postgres => Database::Postgres(PgDatabase::create()),
        }
    }

    pub fn backend(&self) -> Backend {
        match self {
            Database::Sqlite { .. } => Backend::Sqlite,
            Database::Postgres(_) => Backend::Postgres,
        }
    }

    /// The `[database] url` for xgate's config.
    pub fn url(&self) -> String {
        match self {
            Database::Sqlite { dir } => format!("sqlite://{}", dir.display()),
            Database::Postgres(pg) => pg.url(),
        }
    }

    /// Rows in the tenant's `meetings` table, whatever their status. The tenant's
    /// storage must exist (xgate migrates every tenant at start).
    pub async fn meeting_rows(&self, tenant: &str) -> i64 {
        let sql = match self {
            Database::Sqlite { .. } => "SELECT count(*) FROM meetings".to_string(),
            Database::Postgres(_) => {
                format!("SELECT count(*) FROM \"{}\".meetings", schema(tenant))
            }
        };
        match self {
            Database::Sqlite { dir } => {
                let mut conn = sqlite(dir, tenant).await;
                sqlx::query_scalar(AssertSqlSafe(sql))
                    .fetch_one(&mut conn)
                    .await
                    .expect("count the tenant's meetings")
            }
            Database::Postgres(pg) => {
                let mut conn = pg.connect().await;
                sqlx::query_scalar(AssertSqlSafe(sql))
                    .fetch_one(&mut conn)
                    .await
                    .expect("count the tenant's meetings")
            }
        }
    }

    /// Writes a meeting row straight into the tenant's table, bypassing xgate: for
    /// isolation tests that need the same id in two tenants.
    pub async fn insert_meeting_row(&self, tenant: &str, row: &MeetingRow<'_>) {
        match self {
            Database::Sqlite { dir } => {
                let mut conn = sqlite(dir, tenant).await;
                sqlx::query(
                    "INSERT INTO meetings (id, call_id, creator, name, members, admins, link, \
                     link_type, language, is_recurrent, status, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $5, $6, $7, 'en', 0, 'active', \
                     '2030-01-01T00:00:00.000000Z', '2030-01-01T00:00:00.000000Z')",
                )
                .bind(row.id)
                .bind(row.call_id)
                .bind(row.creator)
                .bind(row.name)
                .bind(format!("[\"{}\"]", row.creator))
                .bind(row.link)
                .bind(row.link_type)
                .execute(&mut conn)
                .await
                .expect("insert a meeting row");
            }
            Database::Postgres(pg) => {
                let mut conn = pg.connect().await;
                let sql = format!(
                    "INSERT INTO \"{}\".meetings (id, call_id, creator, name, members, \
                     admins, link, link_type, language, is_recurrent, status, created_at, \
                     updated_at) VALUES ($1::uuid, $2, $3, $4, $5::jsonb, $5::jsonb, $6, $7, \
                     'en', false, 'active', now(), now())",
                    schema(tenant)
                );
                sqlx::query(AssertSqlSafe(sql))
                    .bind(row.id)
                    .bind(row.call_id)
                    .bind(row.creator)
                    .bind(row.name)
                    .bind(format!("[\"{}\"]", row.creator))
                    .bind(row.link)
                    .bind(row.link_type)
                    .execute(&mut conn)
                    .await
                    .expect("insert a meeting row");
            }
        }
    }
}

/// The columns `insert_meeting_row` sets; the rest get plain defaults.
pub struct MeetingRow<'a> {
    pub id: &'a str,
    pub call_id: &'a str,
    pub creator: &'a str,
    pub name: &'a str,
    pub link: &'a str,
    pub link_type: &'a str,
}

/// xgate's default schema for a tenant id.
fn schema(tenant: &str) -> String {
    tenant.replace('-', "_")
}

async fn sqlite(dir: &Path, tenant: &str) -> SqliteConnection {
    SqliteConnectOptions::new()
        .filename(dir.join(format!("{tenant}.db")))
        .create_if_missing(false)
        .connect()
        .await
        .unwrap_or_else(|e| panic!("open {tenant}.db in {}: {e}", dir.display()))
}

/// A PostgreSQL database created for one xgate.
pub struct PgDatabase {
    name: String,
}

impl PgDatabase {
    pub fn create() -> PgDatabase {
        static SEQ: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "{PG_PREFIX}{}_{}_{}",
            host_tag(),
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        );
        let sql = format!("CREATE DATABASE \"{name}\"");
        on_own_runtime(move || async move {
            let mut conn = admin_connection().await?;
            collect_stale(&mut conn).await;
            sqlx::raw_sql(AssertSqlSafe(sql))
                .execute(&mut conn)
                .await
                .map_err(|e| format!("CREATE DATABASE failed: {e}"))?;
            Ok::<_, String>(())
        })
        .unwrap_or_else(|e| panic!("{e}"));
        reaper::adopt_database(&name);
        PgDatabase { name }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn url(&self) -> String {
        format!("{PG_SERVER}/{}", self.name)
    }

    async fn connect(&self) -> PgConnection {
        PgConnection::connect(&self.url())
            .await
            .unwrap_or_else(|e| panic!("connect to {}: {e}", self.name))
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let sql = format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name);
        let dropped = on_own_runtime(move || async move {
            let mut conn = admin_connection().await?;
            sqlx::raw_sql(AssertSqlSafe(sql))
                .execute(&mut conn)
                .await
                .map_err(|e| e.to_string())?;
            Ok::<_, String>(())
        });
        match dropped {
            Ok(()) => reaper::forget_database(&self.name),
            // Left to the exit handler (and, failing that, to the next run).
            Err(e) => eprintln!("could not drop test database {}: {e}", self.name),
        }
    }
}

async fn admin_connection() -> Result<PgConnection, String> {
    PgConnection::connect(&format!("{PG_SERVER}/postgres"))
        .await
        .map_err(|e| format!("PostgreSQL is not reachable at {PG_SERVER} ({e}); {PG_HINT}"))
}

/// Drops databases left by test processes of this host that no longer run.
async fn collect_stale(conn: &mut PgConnection) {
    static ONCE: Once = Once::new();
    let mut first = false;
    ONCE.call_once(|| first = true);
    if !first {
        return;
    }
    let own = format!("{PG_PREFIX}{}_", host_tag());
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT datname::text FROM pg_database WHERE datname LIKE 'xgate\\_test\\_%'",
    )
    .fetch_all(&mut *conn)
    .await
    .unwrap_or_default();
    for name in names {
        let Some(rest) = name.strip_prefix(&own) else {
            continue;
        };
        let Some(pid) = rest.split('_').next() else {
            continue;
        };
        if Path::new("/proc").join(pid).exists() {
            continue;
        }
        let _ = sqlx::raw_sql(AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
        )))
        .execute(&mut *conn)
        .await;
    }
}

/// A short, identifier-safe tag of this host, so runs in other containers sharing the
/// same PostgreSQL are never mistaken for dead ones.
fn host_tag() -> String {
    let host = std::fs::read_to_string("/etc/hostname").unwrap_or_default();
    let tag: String = host
        .trim()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .take(12)
        .collect();
    if tag.is_empty() { "host".into() } else { tag }
}

/// Runs async setup or teardown from sync code that may itself be inside a tokio runtime
/// (fixture start, `Drop`): on a thread of its own with a runtime of its own.
fn on_own_runtime<T, F, Fut>(make: F) -> T
where
    T: Send + 'static,
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = T>,
{
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime for database setup")
            .block_on(make())
    })
    .join()
    .unwrap_or_else(|p| std::panic::resume_unwind(p))
}
