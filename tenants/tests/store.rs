//! Per-tenant storage, run case by case against both backends: SQLite in a temp dir and a
//! real PostgreSQL at 127.0.0.1:5432 (a fresh database per test, dropped afterwards).
//!
//! PostgreSQL being unreachable is a failure, not a skip: isolation on PostgreSQL is the part
//! most worth testing.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use uuid::Uuid;
use xgate_tenants::meeting::{Meeting, MeetingStatus};
use xgate_tenants::store::{Backend, Database, StoreError, TenantStore, validate_schema_name};

const PG_SERVER: &str = "postgres://postgres@127.0.0.1:5432";
const PG_HOW_TO_START: &str =
    "start it with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start";

/// A database for one test; dropped (best effort) when the test ends, even by panic.
enum TestDb {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres(String),
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let TestDb::Postgres(name) = self else {
            return;
        };
        let name = name.clone();
        // Own thread and runtime: Drop may run inside (or after) the test's runtime.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                if let Ok(admin) = admin_connection().await {
                    let mut admin = admin;
                    let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                    )))
                    .execute(&mut admin)
                    .await;
                }
            })
        })
        .join();
    }
}

async fn admin_connection() -> Result<sqlx::PgConnection, sqlx::Error> {
    use sqlx::Connection;
    let url = format!("{PG_SERVER}/postgres");
    match tokio::time::timeout(Duration::from_secs(10), sqlx::PgConnection::connect(&url)).await {
        Ok(r) => r,
        Err(_) => Err(sqlx::Error::PoolTimedOut),
    }
}

fn sqlite_db(max_connections: u32) -> (Database, TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("tenants").display());
    let db = Database::open(&url, max_connections).unwrap();
    assert_eq!(db.backend(), Backend::Sqlite);
    (db, TestDb::Sqlite(dir))
}

async fn postgres_db(max_connections: u32) -> (Database, TestDb) {
    static SEQ: AtomicU32 = AtomicU32::new(0);
    let name = format!(
        "xgate_test_{}_{}_{}",
        std::process::id(),
        Utc::now().timestamp_micros(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    );
    let mut admin = admin_connection().await.unwrap_or_else(|e| {
        panic!("PostgreSQL at {PG_SERVER} is unreachable ({e}); {PG_HOW_TO_START}")
    });
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
        .execute(&mut admin)
        .await
        .unwrap();
    let guard = TestDb::Postgres(name.clone());
    let db = Database::open(&format!("{PG_SERVER}/{name}"), max_connections).unwrap();
    assert_eq!(db.backend(), Backend::Postgres);
    (db, guard)
}

/// Each case runs once per backend, as `<case>::sqlite` and `<case>::postgres`.
macro_rules! on_both_backends {
    ($($case:ident(max_connections = $max:expr);)*) => {$(
        mod $case {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let (db, _guard) = super::sqlite_db($max);
                super::$case(&db).await;
                db.close().await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let (db, _guard) = super::postgres_db($max).await;
                super::$case(&db).await;
                db.close().await;
            }
        }
    )*};
}

on_both_backends! {
    migrate_is_idempotent(max_connections = 4);
    roundtrip_preserves_every_field(max_connections = 4);
    update_and_cancel(max_connections = 4);
    tenants_do_not_see_each_other(max_connections = 4);
    interleaved_tenants_on_one_connection(max_connections = 1);
    invalid_names_are_rejected(max_connections = 2);
    duplicate_insert_is_rejected(max_connections = 2);
}

/// Microsecond-precise, so every backend stores it exactly.
fn at(secs: i64, micros: u32) -> DateTime<Utc> {
    Utc.timestamp_opt(secs, micros * 1000).unwrap()
}

fn sample(seed: u32) -> Meeting {
    let created = at(1_735_689_600 + i64::from(seed), 123_456 + seed);
    Meeting {
        id: Uuid::new_v4(),
        call_id: format!("call-{seed}"),
        creator: "ivan.petrov@example.ru".into(),
        name: Some("Совещание по бюджету 📅".into()),
        members: vec!["a@example.ru".into(), "Пётр@пример.рф".into()],
        admins: vec!["ivan.petrov@example.ru".into()],
        start_at: Some(at(1_736_000_000, 999_999)),
        end_at: Some(at(1_736_003_600, 1)),
        link: "https://express.example.ru/join/abc?x=1&y='2'".into(),
        link_type: "public".into(),
        access_code: Some("0042".into()),
        language: "ru".into(),
        is_recurrent: seed.is_multiple_of(2),
        status: MeetingStatus::Active,
        created_at: created,
        updated_at: created,
    }
}

async fn migrated(db: &Database, tenant: &str) -> TenantStore {
    let schema = format!("t_{}", tenant.replace('-', "_"));
    db.migrate_tenant(tenant, &schema).await.unwrap();
    db.tenant(tenant, &schema)
}

async fn migrate_is_idempotent(db: &Database) {
    db.migrate_tenant("acme", "t_acme").await.unwrap();
    db.migrate_tenant("acme", "t_acme").await.unwrap();
    // Concurrent first migrations of one tenant must not trip over each other.
    let (a, b, c) = tokio::join!(
        db.migrate_tenant("globex", "t_globex"),
        db.migrate_tenant("globex", "t_globex"),
        db.migrate_tenant("globex", "t_globex"),
    );
    a.unwrap();
    b.unwrap();
    c.unwrap();

    let store = db.tenant("acme", "t_acme");
    let m = sample(1);
    store.insert_meeting(&m).await.unwrap();
    // Re-running migrations keeps data.
    db.migrate_tenant("acme", "t_acme").await.unwrap();
    assert_eq!(store.meeting(m.id).await.unwrap(), Some(m));
    db.ping().await.unwrap();
}

async fn roundtrip_preserves_every_field(db: &Database) {
    let store = migrated(db, "acme").await;
    let full = sample(7);
    let mut sparse = sample(8);
    sparse.name = None;
    sparse.members = vec![];
    sparse.admins = vec![];
    sparse.start_at = None;
    sparse.end_at = None;
    sparse.access_code = None;
    sparse.language = "en".into();
    let mut hostile = sample(9);
    hostile.name = Some("'); DROP TABLE meetings;--".into());
    hostile.call_id = "\"; DELETE FROM meetings; --".into();
    hostile.members = vec!["'); DROP TABLE meetings;--".into(), "\\\"]".into()];
    hostile.access_code = Some("$1".into());

    for m in [&full, &sparse, &hostile] {
        store.insert_meeting(m).await.unwrap();
    }
    for m in [&full, &sparse, &hostile] {
        assert_eq!(store.meeting(m.id).await.unwrap().as_ref(), Some(m));
    }
    assert_eq!(store.meeting(Uuid::new_v4()).await.unwrap(), None);

    // Sub-microsecond precision is truncated, identically on both backends.
    let mut nanos = sample(10);
    nanos.start_at = Some(at(1_736_000_000, 5) + chrono::Duration::nanoseconds(999));
    store.insert_meeting(&nanos).await.unwrap();
    let got = store.meeting(nanos.id).await.unwrap().unwrap();
    assert_eq!(got.start_at, Some(at(1_736_000_000, 5)));

    // created_at counting: inclusive lower bound, at microsecond resolution.
    assert_eq!(store.meetings_created_since(at(0, 0)).await.unwrap(), 4);
    assert_eq!(
        store
            .meetings_created_since(hostile.created_at)
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        store
            .meetings_created_since(hostile.created_at + chrono::Duration::microseconds(1))
            .await
            .unwrap(),
        1
    );
}

async fn update_and_cancel(db: &Database) {
    let store = migrated(db, "acme").await;
    let mut m = sample(3);
    store.insert_meeting(&m).await.unwrap();

    m.name = Some("Перенесённое совещание".into());
    m.members.push("new@example.ru".into());
    m.start_at = None;
    m.is_recurrent = !m.is_recurrent;
    m.updated_at = at(1_800_000_000, 42);
    let original_created = m.created_at;
    m.created_at = at(1_900_000_000, 0); // ignored: created_at is immutable
    store.update_meeting(&m).await.unwrap();
    let got = store.meeting(m.id).await.unwrap().unwrap();
    assert_eq!(got.created_at, original_created);
    m.created_at = original_created;
    assert_eq!(got, m);

    let mut missing = sample(4);
    missing.id = Uuid::new_v4();
    assert!(matches!(
        store.update_meeting(&missing).await,
        Err(StoreError::NotFound(id)) if id == missing.id
    ));

    let cancelled_at = at(1_800_000_100, 7);
    assert!(store.cancel_meeting(m.id, cancelled_at).await.unwrap());
    assert!(
        !store
            .cancel_meeting(m.id, at(1_800_000_200, 0))
            .await
            .unwrap()
    );
    let got = store.meeting(m.id).await.unwrap().unwrap();
    assert_eq!(got.status, MeetingStatus::Cancelled);
    assert_eq!(got.updated_at, cancelled_at);
    assert!(
        !store
            .cancel_meeting(Uuid::new_v4(), cancelled_at)
            .await
            .unwrap()
    );
}

async fn tenants_do_not_see_each_other(db: &Database) {
    let a = migrated(db, "tenant-a").await;
    let b = migrated(db, "tenant-b").await;
    let m = sample(5);
    a.insert_meeting(&m).await.unwrap();

    assert_eq!(b.meeting(m.id).await.unwrap(), None);
    assert!(!b.cancel_meeting(m.id, Utc::now()).await.unwrap());
    assert!(matches!(
        b.update_meeting(&m).await,
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(b.meetings_created_since(at(0, 0)).await.unwrap(), 0);
    // The same id may exist independently in another tenant.
    let mut other = sample(6);
    other.id = m.id;
    b.insert_meeting(&other).await.unwrap();
    assert_eq!(a.meeting(m.id).await.unwrap(), Some(m.clone()));
    assert_eq!(b.meeting(m.id).await.unwrap(), Some(other));
    assert!(a.cancel_meeting(m.id, Utc::now()).await.unwrap());
    assert!(b.meeting(m.id).await.unwrap().unwrap().is_active());
}

/// With a single pooled connection every request of both tenants goes through the same
/// session, so any tenant state left on a connection would show up here.
async fn interleaved_tenants_on_one_connection(db: &Database) {
    let a = migrated(db, "tenant-a").await;
    let b = migrated(db, "tenant-b").await;
    const N: u32 = 25;

    let run = |store: TenantStore, base: u32| {
        tokio::spawn(async move {
            let mut ids = Vec::new();
            for i in 0..N {
                let m = sample(base + i);
                store.insert_meeting(&m).await.unwrap();
                assert_eq!(store.meeting(m.id).await.unwrap(), Some(m.clone()));
                tokio::task::yield_now().await;
                ids.push(m.id);
            }
            ids
        })
    };
    let (ids_a, ids_b) = tokio::join!(run(a.clone(), 1000), run(b.clone(), 2000));
    let (ids_a, ids_b) = (ids_a.unwrap(), ids_b.unwrap());

    let since = at(0, 0);
    let (count_a, count_b) = tokio::join!(
        a.meetings_created_since(since),
        b.meetings_created_since(since)
    );
    assert_eq!(count_a.unwrap(), i64::from(N));
    assert_eq!(count_b.unwrap(), i64::from(N));
    for (id_a, id_b) in ids_a.iter().zip(&ids_b) {
        let (a_sees_b, b_sees_a, a_own, b_own) = tokio::join!(
            a.meeting(*id_b),
            b.meeting(*id_a),
            a.meeting(*id_a),
            b.meeting(*id_b)
        );
        assert_eq!(a_sees_b.unwrap(), None);
        assert_eq!(b_sees_a.unwrap(), None);
        assert!(a_own.unwrap().is_some());
        assert!(b_own.unwrap().is_some());
    }
    let stats = db.pool_stats();
    assert!(stats.size <= stats.pools, "{stats:?}");
}

async fn invalid_names_are_rejected(db: &Database) {
    let bad_schemas = [
        "",
        "Acme",
        "1acme",
        "acme-corp",
        "acme\"; DROP SCHEMA public; --",
        "pg_catalog",
        "pg_acme",
        "public",
        "information_schema",
        &"a".repeat(64),
    ];
    let bad_tenants = ["", "../etc", "a/b", "a.b", "-a", "a b", &"a".repeat(65)];

    for schema in bad_schemas {
        assert!(validate_schema_name(schema).is_err(), "{schema:?}");
    }
    assert!(validate_schema_name("acme").is_ok());
    assert!(validate_schema_name("_acme_2").is_ok());
    assert!(validate_schema_name(&"a".repeat(63)).is_ok());

    match db.backend() {
        Backend::Postgres => {
            for schema in bad_schemas {
                let err = db.migrate_tenant("acme", schema).await.unwrap_err();
                assert!(
                    matches!(err, StoreError::InvalidSchema { .. }),
                    "{schema:?}: {err}"
                );
                let err = db.tenant("acme", schema).meeting(Uuid::nil()).await;
                assert!(
                    matches!(err, Err(StoreError::InvalidSchema { .. })),
                    "{schema:?}"
                );
            }
        }
        Backend::Sqlite => {
            for tenant in bad_tenants {
                let err = db.migrate_tenant(tenant, "t_acme").await.unwrap_err();
                assert!(
                    matches!(err, StoreError::InvalidTenantId { .. }),
                    "{tenant:?}: {err}"
                );
                let err = db.tenant(tenant, "t_acme").insert_meeting(&sample(1)).await;
                assert!(
                    matches!(err, Err(StoreError::InvalidTenantId { .. })),
                    "{tenant:?}"
                );
            }
        }
    }
}

async fn duplicate_insert_is_rejected(db: &Database) {
    let store = migrated(db, "acme").await;
    let m = sample(1);
    store.insert_meeting(&m).await.unwrap();
    let mut again = sample(2);
    again.id = m.id;
    assert!(matches!(
        store.insert_meeting(&again).await,
        Err(StoreError::AlreadyExists(id)) if id == m.id
    ));
    assert_eq!(store.meeting(m.id).await.unwrap(), Some(m));
}

/// Opening never connects, so the handle can be made without a runtime (or on one runtime)
/// and used on another.
#[test]
fn open_without_runtime_and_use_on_another() {
    let dir = tempfile::tempdir().unwrap();
    let lite = Database::open(&format!("sqlite://{}", dir.path().display()), 2).unwrap();
    let pg_rt = tokio::runtime::Runtime::new().unwrap();
    let (pg_name_guard, pg) = pg_rt.block_on(async {
        let (db, guard) = postgres_db(2).await;
        (guard, db)
    });
    // Re-open the same database with no runtime current.
    let TestDb::Postgres(name) = &pg_name_guard else {
        unreachable!()
    };
    let pg_no_rt = Database::open(&format!("{PG_SERVER}/{name}"), 2).unwrap();
    drop(pg);
    drop(pg_rt);
    // Neither handle has connected yet.
    assert_eq!(lite.pool_stats().size, 0);
    assert_eq!(pg_no_rt.pool_stats().size, 0);

    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        for db in [&lite, &pg_no_rt] {
            db.ping().await.unwrap();
            let store = migrated(db, "acme").await;
            let m = sample(1);
            store.insert_meeting(&m).await.unwrap();
            assert_eq!(store.meeting(m.id).await.unwrap(), Some(m));
            db.close().await;
        }
    });
}

#[test]
fn open_rejects_bad_urls_without_leaking_passwords() {
    for url in [
        "postgres://xgate:s3cretpw@db.example:notaport/xgate",
        "mysql://xgate:s3cretpw@db.example/xgate",
        "xgate:s3cretpw@db.example",
    ] {
        let err = Database::open(url, 4).unwrap_err();
        let text = format!("{err} {err:?}");
        assert!(matches!(err, StoreError::InvalidUrl(_)), "{text}");
        assert!(!text.contains("s3cretpw"), "{text}");
    }
    assert!(matches!(
        Database::open("sqlite://", 4),
        Err(StoreError::InvalidUrl(_))
    ));
    let dir = tempfile::tempdir().unwrap();
    assert!(matches!(
        Database::open(&format!("sqlite://{}", dir.path().display()), 0),
        Err(StoreError::InvalidUrl(_))
    ));
    let db = Database::open("postgres://xgate:s3cretpw@127.0.0.1:1/xgate", 1).unwrap();
    assert!(!format!("{db:?}").contains("s3cretpw"));
}

#[tokio::test]
async fn unreachable_postgres_is_unavailable_not_leaking() {
    // Port 1: nothing listens, the connection is refused at once.
    let db = Database::open("postgres://xgate:s3cretpw@127.0.0.1:1/xgate", 1).unwrap();
    let err = db.ping().await.unwrap_err();
    assert!(err.is_unavailable(), "{err:?}");
    assert!(!format!("{err} {err:?}").contains("s3cretpw"));
    let err = db.migrate_tenant("acme", "t_acme").await.unwrap_err();
    assert!(err.is_unavailable(), "{err:?}");
}

#[test]
fn meeting_serializes_camel_case() {
    let m = sample(1);
    let v = serde_json::to_value(&m).unwrap();
    assert_eq!(v["callId"], "call-1");
    assert_eq!(v["isRecurrent"], false);
    assert_eq!(v["status"], "active");
    assert!(v.get("startAt").is_some() && v.get("accessCode").is_some());
    let back: Meeting = serde_json::from_value(v).unwrap();
    assert_eq!(back, m);
}

/// The tenant's tables, sqlx's bookkeeping included, live in its own schema; `public` stays
/// empty; the migration catalog has a schema of its own.
#[tokio::test]
async fn postgres_tables_live_in_the_tenant_schema() {
    use sqlx::Connection;
    let (db, guard) = postgres_db(1).await;
    let store = migrated(&db, "acme").await;
    store.insert_meeting(&sample(1)).await.unwrap();
    let TestDb::Postgres(name) = &guard else {
        unreachable!()
    };
    let mut conn = sqlx::PgConnection::connect(&format!("{PG_SERVER}/{name}"))
        .await
        .unwrap();
    let tables: Vec<(String, String)> = sqlx::query_as(
        "SELECT table_schema::text, table_name::text FROM information_schema.tables \
         WHERE table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    assert_eq!(
        tables,
        [
            ("t_acme".to_string(), "_sqlx_migrations".to_string()),
            ("t_acme".to_string(), "admin_meta".to_string()),
            ("t_acme".to_string(), "admins".to_string()),
            ("t_acme".to_string(), "audit_log".to_string()),
            ("t_acme".to_string(), "meetings".to_string()),
            ("t_acme".to_string(), "template_images".to_string()),
            ("t_acme".to_string(), "templates".to_string()),
            ("xgate_catalog".to_string(), "tenant_schemas".to_string()),
        ]
    );
    conn.close().await.unwrap();
    db.close().await;
}

const START_SET: &[(&str, &str)] = &[("acme", "t_acme"), ("globex", "t_globex")];

fn start_set() -> Vec<(String, String)> {
    START_SET
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

/// A start migrates what is missing and trusts the catalog for the rest: a tenant whose
/// storage vanished is recreated, one recorded as current is not opened at all (shown
/// here by a table dropped behind xgate's back staying dropped).
#[tokio::test]
async fn sqlite_start_migrates_only_what_the_catalog_lacks() {
    use sqlx::{Connection, Executor};
    let (db, guard) = sqlite_db(2);
    let TestDb::Sqlite(dir) = &guard else {
        unreachable!()
    };
    let dir = dir.path().join("tenants");
    assert!(db.migrate_tenants(&start_set()).await.is_empty());
    for f in ["globex.db", "globex.db-wal", "globex.db-shm"] {
        let _ = std::fs::remove_file(dir.join(f));
    }
    let mut acme =
        sqlx::SqliteConnection::connect(&format!("sqlite://{}", dir.join("acme.db").display()))
            .await
            .unwrap();
    acme.execute("DROP TABLE meetings").await.unwrap();
    acme.close().await.unwrap();

    assert!(db.migrate_tenants(&start_set()).await.is_empty());
    db.tenant("globex", "t_globex")
        .insert_meeting(&sample(1))
        .await
        .unwrap();
    assert!(
        db.tenant("acme", "t_acme")
            .insert_meeting(&sample(2))
            .await
            .is_err()
    );
    db.close().await;
}

#[tokio::test]
async fn postgres_start_migrates_only_what_the_catalog_lacks() {
    use sqlx::{Connection, Executor};
    let (db, guard) = postgres_db(2).await;
    let TestDb::Postgres(name) = &guard else {
        unreachable!()
    };
    assert!(db.migrate_tenants(&start_set()).await.is_empty());
    let mut conn = sqlx::PgConnection::connect(&format!("{PG_SERVER}/{name}"))
        .await
        .unwrap();
    conn.execute("DROP SCHEMA t_globex CASCADE; DROP TABLE t_acme.meetings")
        .await
        .unwrap();
    conn.close().await.unwrap();

    assert!(db.migrate_tenants(&start_set()).await.is_empty());
    db.tenant("globex", "t_globex")
        .insert_meeting(&sample(1))
        .await
        .unwrap();
    assert!(
        db.tenant("acme", "t_acme")
            .insert_meeting(&sample(2))
            .await
            .is_err()
    );
    db.close().await;
}

/// `inspect` (for `xgate diagnose`) reports a tenant never migrated as missing without
/// creating its file, schema or catalog entry, and a migrated tenant as current.
async fn inspect_reads_without_creating(url: &str, db: &Database) {
    use xgate_tenants::store::{MigrationState, inspect};
    let before = inspect(url, "acme", "t_acme").await.unwrap();
    assert_eq!(before.migrations, MigrationState::Missing);
    // Still missing: looking did not create it.
    let again = inspect(url, "acme", "t_acme").await.unwrap();
    assert_eq!(again.migrations, MigrationState::Missing);
    db.migrate_tenant("acme", "t_acme").await.unwrap();
    let after = inspect(url, "acme", "t_acme").await.unwrap();
    assert!(
        matches!(after.migrations, MigrationState::Current { version } if version >= 2),
        "{after:?}"
    );
    assert_eq!(after.backend, db.backend());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inspect_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("tenants");
    let url = format!("sqlite://{}", data.display());
    let db = Database::open(&url, 2).unwrap();
    inspect_reads_without_creating(&url, &db).await;
    db.close().await;
    // A data directory that does not exist is an error, and is not created.
    let gone = dir.path().join("nowhere");
    let err = xgate_tenants::store::inspect(&format!("sqlite://{}", gone.display()), "acme", "x")
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Io { .. }), "{err:?}");
    assert!(!gone.exists());
    let files: Vec<_> = std::fs::read_dir(&data)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        files
            .iter()
            .all(|f| f.starts_with("acme.db") || f.starts_with("_catalog")),
        "{files:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inspect_postgres() {
    let (db, guard) = postgres_db(2).await;
    let TestDb::Postgres(name) = &guard else {
        unreachable!()
    };
    let url = format!("{PG_SERVER}/{name}");
    inspect_reads_without_creating(&url, &db).await;
    db.close().await;
    let err =
        xgate_tenants::store::inspect("postgres://xgate:s3cretpw@127.0.0.1:1/x", "acme", "acme")
            .await
            .unwrap_err();
    assert!(err.is_unavailable(), "{err:?}");
    assert!(!format!("{err} {err:?}").contains("s3cretpw"));
}
