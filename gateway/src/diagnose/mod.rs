//! `xgate diagnose --tenant T`: the installation guide's manual checks (chapter 3's
//! curl requests, chapter 6, the scripts of appendices 1 and 2, the typical errors of
//! appendix 4) for one tenant, as one command an operator can run and paste.
//!
//! Steps, in order, each one line `OK`/`FAIL`/`SKIP` (see `report.rs`):
//! 1. config: the tree loads and the tenant is valid (`config`);
//! 2. the bot answers with the tenant's credentials, and refuses without them (`bot.rs`);
//! 3. only with `--create-test-conference`: create, update, delete a real conference;
//! 4. the tenant's storage is reachable and migrated, read without changing it
//!    (`database.rs`);
//! 5. the directory: TCP, TLS, service bind, and `--user` found with a mail
//!    (`directory.rs`), and the keytab for Kerberos.
//!
//! A failed step does not stop the independent ones after it (an operator wants every
//! fault in one run); steps that need it are skipped with the reason. Nothing is
//! created or changed except the opt-in test conference, which is deleted again.
//! Secrets are never printed: the report masks every secret of the tenant and the
//! database password on every line.

mod bot;
mod database;
mod directory;
mod report;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use xgate_tenants::config::{self, BotCredentials, Config, TenantConfig};

use report::{Outcome, Report};

/// Check one tenant's setup step by step: config, bot (with and without its token),
/// database, directory; what the installation guide has operators check by hand.
#[derive(clap::Args, Debug, Clone)]
pub struct DiagnoseArgs {
    #[arg(long, short, default_value = "config/xgate.toml", env = "XGATE_CONFIG")]
    pub config: PathBuf,
    /// The tenant id (`[tenants.<id>]`).
    #[arg(long)]
    pub tenant: String,
    /// Also create, update and delete a real conference on the bot, printing its
    /// call_id (the guide's appendix 1 script). Off by default: it is a real conference.
    #[arg(long)]
    pub create_test_conference: bool,
    /// A user's login or mail: looked up in the tenant's directory, and the creator of
    /// the test conference.
    #[arg(long, value_name = "LOGIN_OR_MAIL")]
    pub user: Option<String>,
}

pub fn run(args: &DiagnoseArgs) -> ExitCode {
    // As in `serve`: reqwest is built without a TLS provider of its own.
    #[allow(deprecated)]
    let _ = rustls::crypto::ring::default_provider().install_default();
    let Some(rt) = crate::cli::command_runtime() else {
        return ExitCode::FAILURE;
    };
    let failed = rt.block_on(diagnose(args, std::io::stdout().lock()));
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Runs every step, writing the report to `out`; the number of failed steps.
pub async fn diagnose<W: Write>(args: &DiagnoseArgs, out: W) -> usize {
    let mut report = Report::new(out);
    report.note(&format!(
        "xgate diagnose: tenant `{}`, config {}",
        args.tenant,
        args.config.display()
    ));
    let Some((config, tenant)) = load(args, &mut report) else {
        return report.finish();
    };
    let bot = bot::reachable(&mut report, &tenant).await;
    bot::refuses_anonymous(&mut report, &tenant, bot.is_some()).await;
    match (&bot, args.create_test_conference) {
        (Some(client), true) => {
            bot::test_conference(&mut report, client, &tenant, args.user.as_deref()).await
        }
        (None, true) => {
            report.step(
                "test conference",
                Outcome::skip("the bot is not reachable with the tenant's credentials (above)"),
            );
        }
        (_, false) => {
            report.step(
                "test conference",
                Outcome::skip(
                    "it creates a real conference: run with --create-test-conference \
                     (and --user <a real user's mail>) to create, update and delete one, as \
                     the guide's appendix 1 script does",
                ),
            );
        }
    }
    database::check(&mut report, &config, &tenant).await;
    directory::check(&mut report, &tenant, args.user.as_deref()).await;
    report.finish()
}

/// Step 1: the tree, then the tenant. Errors in other tenants are mentioned, not failed:
/// `serve` refuses such a tree, but this tenant's checks still mean something.
fn load<W: Write>(args: &DiagnoseArgs, report: &mut Report<W>) -> Option<(Config, TenantConfig)> {
    let id = args.tenant.as_str();
    let loaded = match config::load(&args.config, None) {
        Ok(l) => l,
        Err(errors) => {
            report.step(
                "config",
                Outcome::fail(
                    format!(
                        "the config tree is unusable ({} error(s)):\n{errors}",
                        errors.0.len()
                    ),
                    "fix the errors above (`xgate check` lists the same); nothing else can be \
                     checked until the tree loads",
                ),
            );
            return None;
        }
    };
    if let Some(errors) = loaded.tenant_errors.get(id) {
        let errors = config::ConfigErrors(errors.clone());
        report.step(
            "config",
            Outcome::fail(
                format!(
                    "tenant `{id}` is invalid ({} error(s)):\n{errors}",
                    errors.0.len()
                ),
                "fix the keys named above in the tenant's file; `xgate check` checks the whole \
                 tree",
            ),
        );
        return None;
    }
    let Some(tenant) = loaded.config.tenants.get(id).cloned() else {
        report.step(
            "config",
            Outcome::fail(
                format!(
                    "no tenant `{id}` in {}; tenants: {}",
                    args.config.display(),
                    some_ids(loaded.config.tenants.keys())
                ),
                "give --tenant the id of a `[tenants.<id>]` table, in the main file or in a \
                 file `server.include` names",
            ),
        );
        return None;
    };
    report.hide(secrets(&tenant, &loaded.config.database.url));
    let others = if loaded.tenant_errors.is_empty() {
        String::new()
    } else {
        format!(
            "\nnote: {} other tenant(s) have errors (`xgate check` lists them); `xgate serve` \
             refuses the tree until they are fixed",
            loaded.tenant_errors.len()
        )
    };
    report.step(
        "config",
        Outcome::ok(format!(
            "tenant `{id}` ({}) is valid: bot {} (auth {}, contact_type {}), users' auth \
             {}, database {}{others}",
            tenant.name,
            tenant.bot.url,
            credentials_kind(&tenant.bot.credentials),
            tenant.bot.contact_type.as_str(),
            tenant.auth.mode.as_str(),
            redact_url(&loaded.config.database.url),
        )),
    );
    Some((loaded.config, tenant))
}

/// At most ten ids: a tree may hold thousands of tenants.
fn some_ids<'a>(ids: impl ExactSizeIterator<Item = &'a String>) -> String {
    let total = ids.len();
    if total == 0 {
        return "none".into();
    }
    let shown: Vec<&str> = ids.take(10).map(String::as_str).collect();
    let more = total - shown.len();
    let mut text = shown.join(", ");
    if more > 0 {
        text.push_str(&format!(" and {more} more"));
    }
    text
}

fn credentials_kind(c: &BotCredentials) -> &'static str {
    match c {
        BotCredentials::Bearer(_) => "bearer",
        BotCredentials::Basic { .. } => "basic",
        BotCredentials::None => "none",
    }
}

/// Every secret the tenant's config resolved, and the database password.
fn secrets(tenant: &TenantConfig, database_url: &str) -> Vec<String> {
    let mut out = Vec::new();
    match &tenant.bot.credentials {
        BotCredentials::Bearer(t) => out.push(t.expose().to_string()),
        BotCredentials::Basic { password, .. } => out.push(password.expose().to_string()),
        BotCredentials::None => {}
    }
    if let Some(l) = &tenant.auth.ldap {
        out.push(l.bind_password.expose().to_string());
    }
    if let Some(j) = &tenant.jwt {
        out.push(j.key.expose().to_string());
    }
    if let Some(p) = url_password(database_url) {
        out.push(percent_decode(p));
        out.push(p.to_string());
    }
    out
}

/// The password of `scheme://user:password@host/...`, as written.
fn url_password(url: &str) -> Option<&str> {
    let (_, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let (userinfo, _) = authority.rsplit_once('@')?;
    let (_, password) = userinfo.split_once(':')?;
    (!password.is_empty()).then_some(password)
}

/// `postgres://user:***@host/db`: the URL an operator recognises, without its password.
pub(crate) fn redact_url(url: &str) -> String {
    match url_password(url) {
        Some(p) => {
            let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
            let at = rest.find(['/', '?', '#']).unwrap_or(rest.len());
            let authority = rest[..at].replacen(&format!(":{p}@"), ":***@", 1);
            format!("{scheme}://{authority}{}", &rest[at..])
        }
        None => url.to_string(),
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && let (Some(h), Some(l)) = (
                bytes.get(i + 1).copied().and_then(hex),
                bytes.get(i + 2).copied().and_then(hex),
            )
        {
            out.push((h * 16 + l) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `xgate migrate` for this config, as the fix to print.
fn migrate_command(config: &Path) -> String {
    format!("xgate migrate --config {}", config.display())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_passwords_are_masked() {
        assert_eq!(
            redact_url("postgres://xgate:s3cr%40t@db:5432/x?sslmode=require"),
            "postgres://xgate:***@db:5432/x?sslmode=require"
        );
        assert_eq!(redact_url("postgres://xgate@db/x"), "postgres://xgate@db/x");
        assert_eq!(
            redact_url("sqlite:///var/lib/xgate"),
            "sqlite:///var/lib/xgate"
        );
        assert_eq!(url_password("postgres://u:p%40ss@h/d"), Some("p%40ss"));
        assert_eq!(percent_decode("p%40ss%zz"), "p@ss%zz");
    }

    #[test]
    fn long_tenant_lists_are_cut() {
        let ids: Vec<String> = (0..12).map(|i| format!("t{i:02}")).collect();
        let text = some_ids(ids.iter());
        assert!(text.starts_with("t00, t01"), "{text}");
        assert!(text.ends_with("t09 and 2 more"), "{text}");
        assert_eq!(some_ids(Vec::<String>::new().iter()), "none");
    }
}
