//! The database step: the tenant's storage is reachable and at this build's latest
//! migration, read with `store::inspect`, which creates and migrates nothing (a check
//! that repaired would hide the fault it was run to find).
//!
//! The fixes follow the guide where it has one: appendix 3 (PostgreSQL on 5432/TCP from
//! the server) and appendix 4 (the Npgsql pool error: too many connections).

use std::io::Write;
use std::time::Duration;

use xgate_tenants::config::{Config, TenantConfig};
use xgate_tenants::store::{self, Backend, Inspection, MigrationState, StoreError};

use super::report::{Outcome, Report};
use super::{migrate_command, redact_url};

/// sqlx has no connect timeout of its own; a host that drops packets would hang the
/// check for the kernel's two minutes.
const TIMEOUT: Duration = Duration::from_secs(10);

pub(super) async fn check<W: Write>(
    report: &mut Report<W>,
    config: &Config,
    tenant: &TenantConfig,
) {
    let url = &config.database.url;
    let shown = redact_url(url);
    let migrate = migrate_command(&config.path);
    let outcome = match tokio::time::timeout(
        TIMEOUT,
        store::inspect(url, &tenant.id, &tenant.schema),
    )
    .await
    {
        Err(_) => Outcome::fail(
            format!("no answer from {shown} within {} s", TIMEOUT.as_secs()),
            network_fix(),
        ),
        Ok(Ok(found)) => verdict(&found, config, tenant, &migrate),
        Ok(Err(e)) => failure(&e, config, &shown, &migrate),
    };
    report.step("database", outcome);
}

fn verdict(found: &Inspection, config: &Config, tenant: &TenantConfig, migrate: &str) -> Outcome {
    let place = match found.backend {
        Backend::Postgres => format!("schema \"{}\"", tenant.schema),
        Backend::Sqlite => format!(
            "file {}/{}.db",
            config
                .database
                .url
                .trim_start_matches("sqlite://")
                .trim_end_matches('/'),
            tenant.id
        ),
    };
    let server = match (&found.server_version, found.server_max_connections) {
        (Some(v), Some(max)) => {
            let pool = config.database.max_connections;
            let warning = if pool >= max {
                "; xgate's pool alone could use up the server: lower `[database] \
                 max_connections`"
            } else {
                ""
            };
            format!(
                "PostgreSQL {v} (max_connections {max}; xgate's pool {pool} per process{warning}), "
            )
        }
        _ => format!("{}, ", found.backend),
    };
    let migrate_fix = format!(
        "run `{migrate}`: it creates or updates every tenant's schema (PostgreSQL) or file \
         (SQLite); `xgate serve` does the same at start unless run with --no-migrate"
    );
    match &found.migrations {
        MigrationState::Current { version } => Outcome::ok(format!(
            "{server}{place} is at migration {version}, the latest"
        )),
        MigrationState::Missing => Outcome::fail(
            format!("{server}{place} does not exist: the tenant was never migrated"),
            migrate_fix,
        ),
        MigrationState::Behind { applied, latest } => Outcome::fail(
            format!(
                "{server}{place} is at migration {} of {latest}",
                applied.map_or("none".to_string(), |v| v.to_string())
            ),
            migrate_fix,
        ),
        MigrationState::Broken { version, why } => Outcome::fail(
            format!("{server}{place}: migration {version} {why}"),
            format!(
                "restore the tenant's storage from a backup; if the failed migration left \
                 nothing behind, delete its row from `_sqlx_migrations` and run `{migrate}`"
            ),
        ),
        MigrationState::Ahead { applied, latest } => Outcome::fail(
            format!(
                "{server}{place} was migrated by a newer xgate (migration {applied}; this one \
                 knows up to {latest})"
            ),
            "run the xgate version that migrated it, or a newer one",
        ),
    }
}

fn failure(e: &StoreError, config: &Config, shown: &str, migrate: &str) -> Outcome {
    let pool = config.database.max_connections;
    match e {
        StoreError::InvalidUrl(m) => Outcome::fail(
            format!("`[database] url` is unusable: {m}"),
            "write it as sqlite:///DIR (a file per tenant) or \
             postgres://USER:PASSWORD@HOST:5432/DATABASE",
        ),
        StoreError::Io { path, source } if source.kind() == std::io::ErrorKind::NotFound => {
            Outcome::fail(
                format!("the data directory {} does not exist", path.display()),
                format!("run `{migrate}`: it creates the directory and the tenants' files"),
            )
        }
        StoreError::Io { path, source } => Outcome::fail(
            format!("data directory {}: {source}", path.display()),
            "xgate creates and writes the tenants' files there: check the directory's owner \
             and rights",
        ),
        StoreError::Sqlx(sqlx::Error::PoolTimedOut) => Outcome::fail(
            format!("no connection to {shown} in time: {e}"),
            pool_fix(pool),
        ),
        StoreError::Sqlx(sqlx::Error::Database(db)) => {
            let code = db.code().unwrap_or_default().to_string();
            let said = format!(
                "PostgreSQL at {shown} said: {} (SQLSTATE {code})",
                db.message()
            );
            match code.as_str() {
                // too_many_connections: "sorry, too many clients already", and the
                // slots reserved for superusers.
                "53300" => Outcome::fail(said, pool_fix(pool)),
                "28P01" | "28000" => Outcome::fail(
                    said,
                    "check the user and password of `[database] url` (the old service's \
                     Username/Password in DatabaseOptions.Connection) and pg_hba.conf",
                ),
                "3D000" => Outcome::fail(
                    said,
                    "create the database (CREATE DATABASE … OWNER <xgate's user>) or correct \
                     its name in `[database] url`",
                ),
                "42501" => Outcome::fail(
                    said,
                    "grant xgate's user CONNECT on the database and USAGE on the tenant's \
                     schema (or let it own them)",
                ),
                _ => Outcome::fail(said, network_fix()),
            }
        }
        StoreError::Sqlx(sqlx::Error::Io(io)) => {
            Outcome::fail(format!("cannot connect to {shown}: {io}"), network_fix())
        }
        StoreError::Sqlx(sqlx::Error::Tls(t)) => Outcome::fail(
            format!("TLS with {shown} failed: {t}"),
            "check `sslmode` (and `sslrootcert` for an internal CA) in `[database] url`",
        ),
        other => Outcome::fail(format!("{shown}: {other}"), network_fix()),
    }
}

fn network_fix() -> String {
    "check host, port and database name in `[database] url`, that PostgreSQL runs and \
     listens there (listen_addresses, pg_hba.conf), and that this host reaches it on \
     5432/TCP (guide, appendix 3)"
        .into()
}

/// Appendix 4's "Npgsql.NpgsqlException … transient failure": the old service's pool
/// (Minimum Pool Size=50) used up the server. xgate's pool is lazy and one per process,
/// so its size is the only knob.
fn pool_fix(pool: u32) -> String {
    format!(
        "PostgreSQL's max_connections is used up (xgate's pools in every process, and every \
         other client, count). Lower `[database] max_connections` (now {pool} per xgate \
         process) so that all together stay below PostgreSQL's max_connections, or raise \
         max_connections in postgresql.conf; when it says \"for role\" or \"for database\", \
         it is that role's or database's CONNECTION LIMIT (ALTER ROLE / ALTER DATABASE). \
         This is the guide's appendix 4 error \
         (Npgsql.NpgsqlException in the old service, fixed there with `Minimum Pool \
         Size=0` or `Pooling=False`); xgate opens connections only when needed"
    )
}
