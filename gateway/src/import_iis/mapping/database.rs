//! `DatabaseOptions.Connection`: the old add-in database, which xgate does not use.
//! The report describes it (never its password) and says, for each Npgsql option, why
//! it has no place in xgate, since the guide has operators tune some of them
//! (appendix 4: `Minimum Pool Size`, `Pooling`).

use super::{Context, KeyReport, Outcome, Role};
use crate::import_iis::jsonc::Entry;
use crate::import_iis::npgsql::{self, Connection};

/// `DatabaseOptions.Connection` and each of its Npgsql parts.
pub(super) fn connection(e: &Entry, ctx: &Context<'_>, out: &mut Vec<KeyReport>) {
    let conn = match Connection::parse(&e.value) {
        Ok(c) => c,
        Err(err) => {
            out.push(KeyReport {
                key: e.key.clone(),
                value: None,
                outcome: Outcome::NotMapped(format!(
                    "not a valid Npgsql connection string ({err}); not shown, it may hold a password"
                )),
            });
            return;
        }
    };
    let password = if conn.get(npgsql::Key::Password).is_some() {
        "password set, not shown"
    } else {
        "no password"
    };
    let mut why = format!(
        "PostgreSQL {} ({password}): the old add-in database; xgate keeps its own [database] \
         with one schema per tenant, and this import copies no tables",
        conn.describe()
    );
    if ctx.role == Role::Template {
        let shared: Vec<&str> = ctx
            .core_databases
            .iter()
            .filter(|(_, c)| c.same_database(&conn))
            .map(|(id, _)| id.as_str())
            .collect();
        if !shared.is_empty() {
            why.push_str(&format!(
                "; the same database as the core service of tenant(s) {}",
                shared.join(", ")
            ));
        }
    }
    out.push(KeyReport {
        key: e.key.clone(),
        value: None,
        outcome: Outcome::NotMapped(why),
    });
    for p in &conn.pairs {
        out.push(KeyReport {
            key: format!("{}: {}", e.key, p.key),
            value: (!npgsql::is_password(&p.key)).then(|| p.value.clone()),
            outcome: Outcome::NotMapped(npgsql_why(&p.key).into()),
        });
    }
}

fn npgsql_why(key: &str) -> &'static str {
    match key.trim().to_ascii_lowercase().as_str() {
        "host" | "server" | "port" | "database" | "db" | "username" | "user name" | "user id"
        | "userid" | "user" | "uid" => "part of the old database's address above",
        "password" | "psw" | "pwd" => "not shown; xgate does not need the old database's password",
        "pooling" => "xgate always pools: one pool for all tenants, [database] max_connections",
        "minimum pool size" | "min pool size" => {
            "xgate opens connections on demand; the guide's appendix 4 fix \
             (Minimum Pool Size=0) has nothing to carry over"
        }
        "maximum pool size" | "max pool size" => {
            "a per-service limit; xgate has one pool for all tenants: \
             [database] max_connections (default 20)"
        }
        "include error detail" => {
            "a .NET diagnostic switch; xgate logs database errors itself and never sends them to clients"
        }
        "ssl mode" | "sslmode" => {
            "if xgate's [database] uses this server, put `sslmode=` in its url"
        }
        _ => "an Npgsql option with no xgate equivalent",
    }
}
