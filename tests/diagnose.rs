//! `xgate diagnose --tenant T`: the guide's manual checks as one command. The real binary
//! against the real simulator, SQLite and PostgreSQL, and a real slapd; each failure
//! must land on the right step with the guide's fix, and no secret may be printed.

use std::future::Future;

use sqlx::{AssertSqlSafe, Connection, PgConnection};
use xgate_tests::bot_sim::new_token;
use xgate_tests::config_tree::run;
use xgate_tests::database::PgDatabase;
use xgate_tests::ports::closed_port;
use xgate_tests::slapd::SERVICE_PASSWORD;
use xgate_tests::{BotSim, ConfigTree, Kdc, LdapUser, Outcome, Slapd, TenantSpec};

/// A config tree with tenants and the environment their secrets come from.
struct Tree {
    tree: ConfigTree,
    env: Vec<(String, String)>,
}

impl Tree {
    /// The tree over `database_url`, or over SQLite in the tree's `data/` when `None`.
    fn new(database_url: Option<&str>) -> Tree {
        let tree = ConfigTree::new();
        let url = database_url
            .map(str::to_string)
            .unwrap_or_else(|| format!("sqlite://{}", tree.dir().join("data").display()));
        tree.main(&format!(
            "[server]\ninclude = [\"tenants.d/*.toml\"]\n\n[database]\nurl = \"{url}\"\n\
             max_connections = 4\n"
        ));
        Tree {
            tree,
            env: Vec::new(),
        }
    }

    /// Adds the tenant; `secret` is what its bot token (or password) variable holds.
    fn tenant(mut self, spec: &TenantSpec, secret: Option<&str>) -> Tree {
        self.tree
            .write(&format!("tenants.d/{}.toml", spec.id()), &spec.toml(None));
        if let Some(s) = secret {
            self.env.push((spec.token_env(), s.to_string()));
        }
        self
    }

    /// An environment variable of every xgate command (e.g. `KRB5_CONFIG`).
    fn env(mut self, name: &str, value: &str) -> Tree {
        self.env.push((name.to_string(), value.to_string()));
        self
    }

    fn env_refs(&self) -> Vec<(&str, &str)> {
        self.env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }

    fn migrate(self) -> Tree {
        let out = self.tree.migrate(&self.env_refs());
        assert!(out.success, "xgate migrate failed: {out:?}");
        self
    }

    fn diagnose(&self, tenant: &str, extra: &[&str]) -> Outcome {
        let mut args = vec!["diagnose", "--tenant", tenant];
        args.extend_from_slice(extra);
        let out = run(
            &args,
            &self.tree.main_path(),
            self.tree.dir(),
            &self.env_refs(),
        );
        assert_report_shape(&out);
        out
    }
}

/// Every step line is OK/FAIL/SKIP, every FAIL has its fix on the next line, the count
/// agrees with the exit status.
fn assert_report_shape(out: &Outcome) {
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert!(
        lines
            .first()
            .is_some_and(|l| l.starts_with("xgate diagnose:")),
        "{out:?}"
    );
    for (i, l) in lines.iter().enumerate() {
        if l.starts_with("FAIL ") {
            assert!(
                !fix_after(&lines, i).is_empty(),
                "a FAIL without its fix:\n{}",
                out.stdout
            );
        }
    }
    let fails = lines.iter().filter(|l| l.starts_with("FAIL ")).count();
    assert_eq!(out.success, fails == 0, "{out:?}");
    let last = lines.last().copied().unwrap_or_default();
    assert!(
        last.contains(&format!("{fails} failed")),
        "the count disagrees: {last}\n{}",
        out.stdout
    );
}

/// The line of `step` with `status` (`OK`, `FAIL`, `SKIP`), and the fix under it.
fn step<'a>(out: &'a Outcome, status: &str, name: &str) -> (&'a str, &'a str) {
    let prefix = format!("{status:<4} {name}: ");
    let lines: Vec<&str> = out.stdout.lines().collect();
    let i = lines
        .iter()
        .position(|l| l.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no `{prefix}` line in:\n{}", out.stdout));
    (lines[i], fix_after(&lines, i))
}

/// The `fix:` line of the step on line `i`: after its continuation lines, before the
/// next step; empty when there is none.
fn fix_after<'a>(lines: &[&'a str], i: usize) -> &'a str {
    lines[i + 1..]
        .iter()
        .take_while(|l| l.starts_with("     "))
        .find(|l| l.starts_with("     fix: "))
        .copied()
        .unwrap_or_default()
}

fn assert_hidden(out: &Outcome, secrets: &[&str]) {
    let text = out.output();
    for s in secrets {
        assert!(!text.contains(s), "a secret was printed:\n{text}");
    }
}

/// A tenant whose bot token variable is never set: invalid (`bot.token`).
fn broken() -> TenantSpec {
    TenantSpec::new("broken", "Broken", &["broken.test"])
        .bot_url("https://cts.broken.test/api/v1/conference_bot/conferences/")
        .bearer("never-set")
}

fn acme() -> TenantSpec {
    TenantSpec::new("acme", "ACME", &["acme.test"])
}

#[tokio::test]
async fn a_healthy_tenant_passes_every_step() {
    let sim = BotSim::bearer();
    let token = sim.token().expect("a bearer simulator").to_string();
    // Another tenant whose token variable is not set: invalid, but not acme's problem.
    let broken = broken();
    let tree = Tree::new(None)
        .tenant(&acme().bot(&sim), Some(&token))
        .tenant(&broken, None)
        .migrate_tenant_only();
    let out = tree.diagnose("acme", &[]);
    assert!(out.success, "{out:?}");
    assert!(
        out.stdout.lines().skip(1).all(|l| l.starts_with("OK   ")
            || l.starts_with("SKIP ")
            || l.contains("other tenant")
            || l.ends_with("no step failed")),
        "{}",
        out.stdout
    );
    let (config, _) = step(&out, "OK", "config");
    assert!(config.contains("tenant `acme` (ACME) is valid"), "{config}");
    assert!(
        out.stdout.contains("1 other tenant(s) have errors"),
        "{}",
        out.stdout
    );
    let (bot, _) = step(&out, "OK", "bot");
    assert!(bot.contains("token accepted"), "{bot}");
    step(&out, "OK", "bot without token");
    step(&out, "SKIP", "test conference");
    let (db, _) = step(&out, "OK", "database");
    assert!(db.contains("acme.db is at migration"), "{db}");
    step(&out, "SKIP", "directory");
    assert_hidden(&out, &[&token]);
    // The "without token" step really asked without one: the simulator refused it once.
    let stats = sim.stats().await;
    assert_eq!(stats["unauthorized"], 1, "{stats}");
    // Nothing was created on the bot.
    assert!(sim.conferences().await.is_empty());
}

impl Tree {
    /// `xgate migrate` refuses a tree with an invalid tenant; migrate acme alone through
    /// a tree without the broken one, over the same data directory.
    fn migrate_tenant_only(self) -> Tree {
        let only = ConfigTree::new();
        only.main(
            &std::fs::read_to_string(self.tree.main_path())
                .expect("main file")
                .replace(
                    "include = [\"tenants.d/*.toml\"]",
                    "include = [\"t/*.toml\"]",
                ),
        );
        only.write(
            "t/acme.toml",
            &std::fs::read_to_string(self.tree.dir().join("tenants.d/acme.toml"))
                .expect("acme's file"),
        );
        let out = only.migrate(&self.env_refs());
        assert!(out.success, "xgate migrate failed: {out:?}");
        self
    }
}

#[tokio::test]
async fn the_test_conference_is_created_updated_and_deleted() {
    let sim = BotSim::bearer();
    let token = sim.token().expect("token").to_string();
    let tree = Tree::new(None)
        .tenant(&acme().bot(&sim), Some(&token))
        .migrate();
    let out = tree.diagnose(
        "acme",
        &["--create-test-conference", "--user", "Alice@acme.test"],
    );
    assert!(out.success, "{out:?}");
    let (created, _) = step(&out, "OK", "test conference create");
    let call_id = created
        .split("call_id ")
        .nth(1)
        .and_then(|rest| rest.split(':').next())
        .unwrap_or_else(|| panic!("no call_id in {created}"));
    assert_eq!(call_id.len(), 36, "{created}");
    assert!(created.contains("creator alice@acme.test"), "{created}");
    step(&out, "OK", "test conference update");
    step(&out, "OK", "test conference delete");
    let stats = sim.stats().await;
    assert_eq!(stats["calls"]["create"], 1, "{stats}");
    assert_eq!(stats["calls"]["update"], 1, "{stats}");
    // Created (the simulator counted it and named it), then deleted: nothing is left.
    assert!(sim.conference(call_id).await.is_none());
    assert!(sim.conferences().await.is_empty());
    assert_hidden(&out, &[&token]);
}

#[tokio::test]
async fn a_stopped_bot_fails_the_bot_step() {
    let sim = BotSim::bearer();
    let token = sim.token().expect("token").to_string();
    let tree = Tree::new(None)
        .tenant(&acme().bot(&sim), Some(&token))
        .migrate();
    sim.kill();
    let out = tree.diagnose("acme", &["--create-test-conference"]);
    assert!(!out.success);
    let (bot, fix) = step(&out, "FAIL", "bot");
    assert!(bot.contains("cannot reach"), "{bot}");
    assert!(bot.contains("Connection refused"), "{bot}");
    // The guide's checks: the address, the firewall, the container.
    assert!(
        fix.contains("bot.url") && fix.contains("docker ps"),
        "{fix}"
    );
    step(&out, "SKIP", "bot without token");
    step(&out, "SKIP", "test conference");
    // The other steps still ran.
    step(&out, "OK", "database");
    assert_hidden(&out, &[&token]);
}

#[tokio::test]
async fn tls_to_a_plain_http_bot_is_named_tls() {
    let sim = BotSim::bearer();
    let token = sim.token().expect("token").to_string();
    let https = sim.bot_url().replace("http://", "https://");
    let tree = Tree::new(None).tenant(&acme().bot(&sim).bot_url(&https), Some(&token));
    let out = tree.diagnose("acme", &[]);
    let (bot, fix) = step(&out, "FAIL", "bot");
    assert!(bot.contains("TLS with"), "{bot}");
    assert!(fix.contains("bot.ca_file"), "{fix}");
}

#[tokio::test]
async fn a_wrong_token_fails_the_bot_step_with_the_token_hint() {
    let sim = BotSim::bearer();
    let right = sim.token().expect("token").to_string();
    let wrong = new_token();
    let tree = Tree::new(None)
        .tenant(&acme().bot(&sim), Some(&wrong))
        .migrate();
    let out = tree.diagnose("acme", &["--create-test-conference"]);
    assert!(!out.success);
    let (bot, fix) = step(&out, "FAIL", "bot");
    assert!(bot.contains("refused xgate's credentials"), "{bot}");
    assert!(bot.contains("HTTP 401"), "{bot}");
    assert!(
        fix.contains("BEARER_TOKEN") && fix.contains("bot.token"),
        "{fix}"
    );
    step(&out, "SKIP", "test conference");
    assert_hidden(&out, &[&wrong, &right]);
    assert!(sim.conferences().await.is_empty());
}

#[tokio::test]
async fn a_token_with_the_old_bearer_prefix_is_pointed_out() {
    let sim = BotSim::bearer();
    let token = sim.token().expect("token").to_string();
    let prefixed = format!("Bearer {token}");
    let tree = Tree::new(None).tenant(&acme().bot(&sim), Some(&prefixed));
    let out = tree.diagnose("acme", &[]);
    let (_, fix) = step(&out, "FAIL", "bot");
    assert!(
        out.stdout
            .contains("starts with `Bearer `: leave the prefix out"),
        "{fix}\n{}",
        out.stdout
    );
    assert_hidden(&out, &[&token]);
}

#[tokio::test]
async fn an_open_bot_fails_the_refused_without_token_step() {
    let sim = BotSim::open();
    let token = new_token();
    let tenant = acme().bot_url(&sim.bot_url()).bearer(&token);
    let tree = Tree::new(None).tenant(&tenant, Some(&token)).migrate();
    let out = tree.diagnose("acme", &[]);
    assert!(!out.success);
    step(&out, "OK", "bot");
    let (open, fix) = step(&out, "FAIL", "bot without token");
    assert!(
        open.contains("accepted a request without a token"),
        "{open}"
    );
    assert!(fix.contains("API_AUTH_METHOD: BEARER_TOKEN"), "{fix}");
    assert_hidden(&out, &[&token]);
}

#[tokio::test]
async fn an_unreachable_database_fails_the_database_step_without_its_password() {
    let sim = BotSim::bearer();
    let token = sim.token().expect("token").to_string();
    let password = "Db-Passw0rd-Not-For-Print";
    let url = format!(
        "postgres://xgate:{password}@127.0.0.1:{}/xgate",
        closed_port()
    );
    let tree = Tree::new(Some(&url)).tenant(&acme().bot(&sim), Some(&token));
    let out = tree.diagnose("acme", &[]);
    assert!(!out.success);
    let (db, fix) = step(&out, "FAIL", "database");
    assert!(db.contains("cannot connect"), "{db}");
    assert!(db.contains("postgres://xgate:***@127.0.0.1"), "{db}");
    assert!(fix.contains("5432/TCP"), "{fix}");
    // The bot is fine: only the database step failed.
    step(&out, "OK", "bot");
    assert_hidden(&out, &[password, &token]);
}

#[tokio::test]
async fn a_sqlite_tenant_not_migrated_gets_the_migrate_hint_and_nothing_is_created() {
    let sim = BotSim::bearer();
    let token = sim.token().expect("token").to_string();
    let tree = Tree::new(None).tenant(&acme().bot(&sim), Some(&token));
    let data = tree.tree.dir().join("data");
    let out = tree.diagnose("acme", &[]);
    let (db, fix) = step(&out, "FAIL", "database");
    assert!(db.contains("does not exist"), "{db}");
    assert!(fix.contains("xgate migrate --config"), "{fix}");
    assert!(!data.exists(), "diagnose created {}", data.display());
    // With the directory (another tenant was migrated) but not acme's file.
    std::fs::create_dir_all(&data).expect("data dir");
    let out = tree.diagnose("acme", &[]);
    let (db, fix) = step(&out, "FAIL", "database");
    assert!(db.contains("never migrated"), "{db}");
    assert!(fix.contains("xgate migrate --config"), "{fix}");
    assert!(!data.join("acme.db").exists());
    let tree = tree.migrate();
    let out = tree.diagnose("acme", &[]);
    assert!(out.success, "{out:?}");
}

#[tokio::test]
async fn a_postgres_tenant_not_migrated_gets_the_migrate_hint() {
    let sim = BotSim::bearer();
    let token = sim.token().expect("token").to_string();
    let pg = PgDatabase::create();
    let tree = Tree::new(Some(&pg.url())).tenant(&acme().bot(&sim), Some(&token));
    for _ in 0..2 {
        // Twice: looking must not have created the schema.
        let out = tree.diagnose("acme", &[]);
        let (db, fix) = step(&out, "FAIL", "database");
        assert!(db.contains("schema \"acme\" does not exist"), "{db}");
        assert!(db.contains("PostgreSQL"), "{db}");
        assert!(fix.contains("xgate migrate --config"), "{fix}");
    }
    let tree = tree.migrate();
    let out = tree.diagnose("acme", &[]);
    assert!(out.success, "{out:?}");
    let (db, _) = step(&out, "OK", "database");
    assert!(db.contains("schema \"acme\" is at migration"), "{db}");
    assert!(db.contains("max_connections"), "{db}");
}

/// A role PostgreSQL allows no connection: its refusal is the "too many connections"
/// error (SQLSTATE 53300) that appendix 4's Npgsql pool error is, and the fix must say so.
#[tokio::test]
async fn too_many_connections_gets_the_pool_size_hint() {
    let sim = BotSim::bearer();
    let token = sim.token().expect("token").to_string();
    let pg = PgDatabase::create();
    let role = Role::create(&format!("xgate_diag_{}", std::process::id()));
    let url = pg
        .url()
        .replace("postgres://postgres@", &format!("postgres://{}@", role.0));
    let tree = Tree::new(Some(&url)).tenant(&acme().bot(&sim), Some(&token));
    let out = tree.diagnose("acme", &[]);
    let (db, fix) = step(&out, "FAIL", "database");
    assert!(db.contains("53300"), "{db}");
    assert!(fix.contains("`[database] max_connections`"), "{fix}");
    assert!(
        fix.contains("appendix 4") && fix.contains("Npgsql"),
        "{fix}"
    );
}

/// A login role with `CONNECTION LIMIT 0`, dropped at the end of the test.
struct Role(String);

impl Role {
    fn create(name: &str) -> Role {
        let sql = format!(
            "DROP ROLE IF EXISTS \"{name}\"; CREATE ROLE \"{name}\" LOGIN CONNECTION LIMIT 0"
        );
        admin(sql);
        Role(name.to_string())
    }
}

impl Drop for Role {
    fn drop(&mut self) {
        admin(format!("DROP ROLE IF EXISTS \"{}\"", self.0));
    }
}

/// Runs SQL as the superuser, on a thread and runtime of its own (Drop may run anywhere).
fn admin(sql: String) {
    on_own_runtime(move || async move {
        let mut conn = PgConnection::connect("postgres://postgres@127.0.0.1:5432/postgres")
            .await
            .expect("PostgreSQL on 127.0.0.1:5432");
        sqlx::raw_sql(AssertSqlSafe(sql))
            .execute(&mut conn)
            .await
            .expect("admin SQL");
    });
}

fn on_own_runtime<F, Fut>(make: F)
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = ()>,
{
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(make())
    })
    .join()
    .unwrap_or_else(|p| std::panic::resume_unwind(p));
}

fn directory_users() -> Vec<LdapUser> {
    vec![
        LdapUser::new("alice", "Alice-Passw0rd", "alice@acme.test")
            .name("Alice Liddell")
            .sip("4951234"),
    ]
}

/// `[tenants.<id>.auth]` in mode ldap against `dir` over `url`.
fn ldap_auth(id: &str, dir: &Slapd, url: &str) -> String {
    format!(
        "mode = \"ldap\"\n\n[tenants.{id}.auth.ldap]\n{}",
        dir.ldap_section(url, true)
    )
}

#[tokio::test]
async fn ldap_service_bind_and_user_lookup() {
    let sim = BotSim::bearer();
    let token = sim.token().expect("token").to_string();
    let dir = Slapd::start("dc=acme,dc=test", &directory_users());
    let starttls = acme()
        .bot(&sim)
        .auth_toml(ldap_auth("acme", &dir, &dir.ldap_url()));
    let ldaps = TenantSpec::new("globex", "Globex", &["globex.test"])
        .bot(&sim)
        .auth_toml(ldap_auth("globex", &dir, &dir.ldaps_url()));
    // The directory's CA not configured: the certificate cannot be verified.
    let no_ca = TenantSpec::new("noca", "No CA", &["noca.test"])
        .bot(&sim)
        .auth_toml(
            ldap_auth("noca", &dir, &dir.ldaps_url())
                .lines()
                .filter(|l| !l.starts_with("ca_file"))
                .collect::<Vec<_>>()
                .join("\n"),
        );
    let tree = Tree::new(None)
        .tenant(&starttls, Some(&token))
        .tenant(&ldaps, Some(&token))
        .tenant(&no_ca, Some(&token))
        .migrate();

    let out = tree.diagnose("acme", &["--user", "alice"]);
    assert!(out.success, "{out:?}");
    step(&out, "OK", "directory connect");
    let (tls, _) = step(&out, "OK", "directory tls");
    assert!(
        tls.contains("StartTLS") && tls.contains("certificate verified"),
        "{tls}"
    );
    let (bind, _) = step(&out, "OK", "directory bind");
    assert!(bind.contains("cn=xgate-svc,dc=acme,dc=test"), "{bind}");
    let (user, _) = step(&out, "OK", "directory user");
    assert!(user.contains("`alice` is alice@acme.test"), "{user}");
    assert!(
        user.contains("Alice Liddell") && user.contains("SIP 4951234"),
        "{user}"
    );
    assert_hidden(&out, &[SERVICE_PASSWORD, &token, "Alice-Passw0rd"]);

    // The test conference's creator is the login's mail, found in the directory.
    let out = tree.diagnose("acme", &["--user", "alice", "--create-test-conference"]);
    let (created, _) = step(&out, "OK", "test conference create");
    assert!(created.contains("creator alice@acme.test"), "{created}");
    step(&out, "OK", "test conference delete");
    assert!(sim.conferences().await.is_empty());

    // Without --user the lookup is skipped, not failed.
    let out = tree.diagnose("acme", &[]);
    assert!(out.success, "{out:?}");
    step(&out, "SKIP", "directory user");

    // A user the directory does not have.
    let out = tree.diagnose("acme", &["--user", "mallory"]);
    let (user, fix) = step(&out, "FAIL", "directory user");
    assert!(user.contains("mallory"), "{user}");
    assert!(fix.contains("base_dn"), "{fix}");

    // LDAPS; alice's mail is not in globex's domains.
    let out = tree.diagnose("globex", &["--user", "alice"]);
    let (tls, _) = step(&out, "OK", "directory tls");
    assert!(tls.contains("LDAPS"), "{tls}");
    let (user, _) = step(&out, "FAIL", "directory user");
    assert!(
        user.contains("not among the tenant's mail_domains"),
        "{user}"
    );

    let out = tree.diagnose("noca", &[]);
    let (tls, fix) = step(&out, "FAIL", "directory tls");
    assert!(tls.contains("LDAPS"), "{tls}");
    assert!(fix.contains("auth.ldap.ca_file"), "{fix}");
}

#[tokio::test]
async fn a_wrong_bind_password_fails_the_bind_step_unprinted() {
    let sim = BotSim::bearer();
    let token = sim.token().expect("token").to_string();
    let dir = Slapd::start("dc=acme,dc=test", &directory_users());
    let wrong = "Wrong-Svc-Passw0rd-42";
    let auth = ldap_auth("acme", &dir, &dir.ldap_url()).replace(
        &format!("bind_password = \"{SERVICE_PASSWORD}\""),
        "bind_password = \"env:XGATE_DIAG_BIND_PASSWORD\"",
    );
    assert!(auth.contains("env:XGATE_DIAG_BIND_PASSWORD"), "{auth}");
    let tree = Tree::new(None)
        .tenant(&acme().bot(&sim).auth_toml(auth), Some(&token))
        .env("XGATE_DIAG_BIND_PASSWORD", wrong)
        .migrate();
    let out = tree.diagnose("acme", &["--user", "alice"]);
    assert!(!out.success);
    step(&out, "OK", "directory tls");
    let (bind, fix) = step(&out, "FAIL", "directory bind");
    assert!(bind.contains("invalid credentials (49"), "{bind}");
    assert!(fix.contains("auth.ldap.bind_password"), "{fix}");
    step(&out, "SKIP", "directory user");
    assert_hidden(&out, &[wrong, SERVICE_PASSWORD, &token]);
}

#[tokio::test]
async fn an_unknown_or_invalid_tenant_fails_the_config_step() {
    let sim = BotSim::bearer();
    let token = sim.token().expect("token").to_string();
    let broken = broken();
    let tree = Tree::new(None)
        .tenant(&acme().bot(&sim), Some(&token))
        .tenant(&broken, None);
    let out = tree.diagnose("nope", &[]);
    assert!(!out.success);
    let (config, fix) = step(&out, "FAIL", "config");
    assert!(config.contains("no tenant `nope`"), "{config}");
    assert!(config.contains("acme"), "{config}");
    assert!(fix.contains("--tenant"), "{fix}");
    // Nothing else is tried without a tenant: the config step is the only step.
    let steps = out
        .stdout
        .lines()
        .filter(|l| ["OK   ", "FAIL ", "SKIP "].iter().any(|p| l.starts_with(p)))
        .count();
    assert_eq!(steps, 1, "{}", out.stdout);

    let out = tree.diagnose("broken", &[]);
    assert!(!out.success);
    step(&out, "FAIL", "config");
    assert!(out.stdout.contains("bot.token"), "{}", out.stdout);
    assert_hidden(&out, &[&token]);
}

#[tokio::test]
async fn kerberos_keytab_is_checked() {
    let sim = BotSim::bearer();
    let token = sim.token().expect("token").to_string();
    let kdc = Kdc::start("TEST.XGATE", &[("alice", "Alice-Krb-Passw0rd")]);
    let dir = Slapd::start("dc=acme,dc=test", &directory_users());
    let auth = |id: &str, keytab: &std::path::Path| {
        format!(
            "mode = \"kerberos+ldap\"\n\n[tenants.{id}.auth.kerberos]\nkeytab = \"{}\"\n\
             service_principal = \"{}\"\n\n[tenants.{id}.auth.ldap]\n{}",
            keytab.display(),
            kdc.service_principal(),
            dir.ldap_section(&dir.ldaps_url(), false)
        )
    };
    let tree = Tree::new(None);
    // A keytab that exists (so the config is valid) but holds no key.
    let empty = tree.tree.dir().join("empty.keytab");
    std::fs::write(&empty, b"").expect("empty keytab");
    let empty_kt = TenantSpec::new("emptykt", "Empty keytab", &["emptykt.test"])
        .bot(&sim)
        .auth_toml(auth("emptykt", &empty));
    let tree = tree
        .tenant(
            &acme().bot(&sim).auth_toml(auth("acme", &kdc.keytab())),
            Some(&token),
        )
        .tenant(&empty_kt, Some(&token))
        .env("KRB5_CONFIG", &kdc.krb5_conf().display().to_string())
        .migrate();

    let out = tree.diagnose("acme", &["--user", "alice"]);
    assert!(out.success, "{out:?}");
    let (keytab, _) = step(&out, "OK", "kerberos keytab");
    assert!(keytab.contains("realm TEST.XGATE"), "{keytab}");
    step(&out, "OK", "directory user");

    let out = tree.diagnose("emptykt", &[]);
    let (keytab, fix) = step(&out, "FAIL", "kerberos keytab");
    assert!(keytab.contains("unusable"), "{keytab}");
    assert!(fix.contains("ktpass"), "{fix}");
}
