//! What starts a reload, and what a bad reload leaves in force.
//!
//! Saves are seen however they happen (in place, renamed over, a Kubernetes ConfigMap
//! swapping its `..data` link); SIGHUP reloads; a broken tree, an unknown key, a bad
//! tenant, a port conflict or a missing secret each keep the last good version, show on
//! `GET /reload` and in the metrics, and the fix applies on the next save.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use xgate_tests::{Api, Backend, BotSim, TenantSpec, Xgate, XgateSpec};

/// Long enough for the 250 ms debounce on a loaded CI machine; the wait ends as soon as
/// the condition holds.
const WAIT: Duration = Duration::from_secs(15);

struct Env {
    sim: BotSim,
    xg: Xgate,
}

fn start() -> Env {
    let sim = BotSim::bearer();
    let xg = XgateSpec::new(Backend::Sqlite)
        .tenant(
            TenantSpec::new("acme", "ACME", &["acme.test"])
                .own_port()
                .bot(&sim),
        )
        .tenant(TenantSpec::new("globex", "Globex 0", &["globex.test"]).bot(&sim))
        .start();
    Env { sim, xg }
}

impl Env {
    fn tenants_d(&self) -> PathBuf {
        self.xg.config_path().parent().unwrap().join("tenants.d")
    }

    fn globex(&self) -> Api {
        self.xg.shared().as_user("u@globex.test")
    }

    /// globex's file with a name, a token reference and extra lines.
    fn globex_file(&self, name: &str, token: &str, extra: &str) -> String {
        format!(
            "[tenants.globex]\nname = \"{name}\"\nmail_domains = [\"globex.test\"]\ntemplate_set = \"test\"\n{extra}\n\
             [tenants.globex.bot]\nurl = \"{}\"\nauth = \"bearer\"\ntoken = \"{token}\"\n\
             [tenants.globex.auth]\nmode = \"none\"\n",
            self.sim.bot_url()
        )
    }

    fn globex_token_env(&self) -> String {
        "env:XGATE_TEST_TOKEN_GLOBEX".into()
    }

    async fn globex_name(&self) -> String {
        let s = self.globex().get("/api/settings").await.expect(200);
        s["tenant"]["name"].as_str().unwrap().to_string()
    }

    /// Waits until globex is served under `name`.
    async fn served_as(&self, name: &str) {
        let started = Instant::now();
        loop {
            if self.globex_name().await == name {
                return;
            }
            assert!(
                started.elapsed() < WAIT,
                "globex never served as {name:?}; stderr:\n{}",
                self.xg.stderr()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn reload_report(&self) -> Value {
        self.xg.ops().get("/reload").await.expect(200)
    }

    /// Waits for a reload attempt by `trigger` that finished after `since`.
    async fn attempt_after(&self, trigger: &str, since: DateTime<Utc>) -> Value {
        let started = Instant::now();
        loop {
            let r = self.reload_report().await;
            if r["trigger"] == trigger && after(&r["at"], since) {
                return r;
            }
            assert!(
                started.elapsed() < WAIT,
                "no {trigger} reload after {since:?}: {r}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn metric(&self, line_prefix: &str) -> f64 {
        let text = self.xg.ops().get("/metrics").await.body;
        text.lines()
            .find(|l| l.starts_with(line_prefix))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no metric {line_prefix} in:\n{text}"))
    }
}

/// Whether a report's `at` is later than `since`.
fn after(at: &Value, since: DateTime<Utc>) -> bool {
    at.as_str()
        .and_then(|a| DateTime::parse_from_rfc3339(a).ok())
        .is_some_and(|t| t.with_timezone(&Utc) > since)
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
}

fn rename_over(path: &Path, text: &str) {
    let tmp = path.with_file_name(".globex.toml.swp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn saves_are_seen_in_place_renamed_over_and_through_a_configmap_swap() {
    let env = start();
    let file = env.tenants_d().join("globex.toml");
    let token = env.globex_token_env();

    write(&file, &env.globex_file("Globex in place", &token, ""));
    env.served_as("Globex in place").await;

    rename_over(&file, &env.globex_file("Globex renamed over", &token, ""));
    env.served_as("Globex renamed over").await;

    // Kubernetes: files are links into `..data`, itself a link to a timestamped dir that
    // is replaced whole by renaming a new link over `..data`.
    let d = env.tenants_d();
    std::fs::create_dir(d.join("..2026_01")).unwrap();
    for f in ["acme.toml", "globex.toml"] {
        std::fs::rename(d.join(f), d.join("..2026_01").join(f)).unwrap();
    }
    std::os::unix::fs::symlink("..2026_01", d.join("..data")).unwrap();
    for f in ["acme.toml", "globex.toml"] {
        std::os::unix::fs::symlink(format!("..data/{f}"), d.join(f)).unwrap();
    }
    env.served_as("Globex renamed over").await;
    std::fs::create_dir(d.join("..2026_02")).unwrap();
    std::fs::copy(d.join("..2026_01/acme.toml"), d.join("..2026_02/acme.toml")).unwrap();
    write(
        &d.join("..2026_02/globex.toml"),
        &env.globex_file("Globex from a ConfigMap", &token, ""),
    );
    std::os::unix::fs::symlink("..2026_02", d.join("..data_tmp")).unwrap();
    std::fs::rename(d.join("..data_tmp"), d.join("..data")).unwrap();
    std::fs::remove_dir_all(d.join("..2026_01")).unwrap();
    env.served_as("Globex from a ConfigMap").await;
    // acme kept serving on its own port through all of it.
    let a = env
        .xg
        .on_port("acme")
        .as_user("a@acme.test")
        .get("/api/settings")
        .await
        .expect(200);
    assert_eq!(a["tenant"]["name"], "ACME");
}

/// SIGHUP reloads, and a token kept in a file is read again: the token is rotated in a
/// file outside the watched tree, so nothing but the signal can pick it up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_and_rotates_a_file_token() {
    let env = start();
    let secret = env.xg.dir().join("globex.token");
    write(&secret, "not-the-token-0123456789abcdefghijklmnopq");
    let since = Utc::now();
    write(
        &env.tenants_d().join("globex.toml"),
        &env.globex_file(
            "Globex file token",
            &format!("file:{}", secret.display()),
            "",
        ),
    );
    env.attempt_after("watch", since).await;
    env.served_as("Globex file token").await;
    env.globex()
        .post("/api/meetings", &json!({}))
        .await
        .expect_error(502, "bot_auth_failed");

    write(&secret, env.sim.token().unwrap());
    // Nothing reloads by itself: the secret file is not in the config tree.
    env.globex()
        .post("/api/meetings", &json!({}))
        .await
        .expect_error(502, "bot_auth_failed");
    let since = Utc::now();
    let status = std::process::Command::new("kill")
        .args(["-HUP", &env.xg.pid().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let report = env.attempt_after("sighup", since).await;
    assert_eq!(report["changed"], json!(["globex"]), "{report}");
    env.globex()
        .post("/api/meetings", &json!({}))
        .await
        .expect(201);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_tree_keeps_everything_and_the_fix_applies_on_save() {
    let env = start();
    let file = env.tenants_d().join("globex.toml");
    let token = env.globex_token_env();
    let version = env.reload_report().await["version"].as_u64().unwrap();

    write(
        &file,
        "[tenants.globex]\nname = \"Globex broken\"\nmail_domains = [\"globex.test\"\n",
    );
    let r = env.xg.ops().post("/reload", &json!({})).await.expect(422);
    assert_eq!(r["result"], "failure");
    assert_eq!(r["version"].as_u64(), Some(version), "nothing applied: {r}");
    let e = &r["errors"][0];
    assert!(e["file"].as_str().unwrap().ends_with("globex.toml"), "{r}");
    assert!(e["line"].as_u64().is_some(), "{r}");
    assert_eq!(env.globex_name().await, "Globex 0");
    assert_eq!(env.metric("xgate_config_last_reload_successful").await, 0.0);
    assert!(
        env.metric("xgate_config_reloads_total{result=\"failure\"}")
            .await
            >= 1.0
    );

    write(&file, &env.globex_file("Globex fixed", &token, ""));
    env.served_as("Globex fixed").await;
    assert_eq!(env.reload_report().await["result"], "success");
    assert_eq!(env.metric("xgate_config_last_reload_successful").await, 1.0);
}

/// An unknown key, a bad bot URL and a missing secret each leave globex on its last good
/// definition (stale), named on `GET /reload` with file, tenant and key, and counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_tenant_stays_on_its_last_good_version() {
    let env = start();
    let file = env.tenants_d().join("globex.toml");
    let token = env.globex_token_env();
    let cases = [
        (env.globex_file("Globex typo", &token, "tokn = 1"), "tokn"),
        (
            env.globex_file("Globex bad url", &token, "")
                .replace(env.sim.bot_url().as_str(), "ftp://nowhere"),
            "bot.url",
        ),
        (
            env.globex_file("Globex no secret", "env:XGATE_RELOAD_TEST_UNSET", ""),
            "bot.token",
        ),
    ];
    for (text, key) in cases {
        write(&file, &text);
        let r = env.xg.ops().post("/reload", &json!({})).await.expect(200);
        assert_eq!(r["result"], "partial", "{r}");
        let errors = &r["stale"]["globex"];
        let e = &errors[0];
        assert!(e["key"].as_str().unwrap().contains(key), "{key}: {r}");
        assert_eq!(e["tenant"], "globex");
        assert!(e["file"].as_str().unwrap().ends_with("globex.toml"));
        assert_eq!(
            env.globex_name().await,
            "Globex 0",
            "the last good definition serves"
        );
        assert_eq!(env.metric("xgate_tenant_config_errors").await, 1.0);
        assert_eq!(env.metric("xgate_config_last_reload_successful").await, 0.0);
        assert!(
            !r.to_string().contains(env.sim.token().unwrap()),
            "no secret in the report"
        );
    }
    assert!(
        env.metric("xgate_config_reloads_total{result=\"partial\"}")
            .await
            >= 3.0
    );
    write(&file, &env.globex_file("Globex good again", &token, ""));
    env.served_as("Globex good again").await;
    assert_eq!(env.metric("xgate_tenant_config_errors").await, 0.0);
}

/// A new tenant claiming acme's port is refused; acme keeps its port and its users.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_port_conflict_refuses_the_newer_claimant() {
    let env = start();
    let port = env.xg.tenant_addr("acme").port();
    write(
        &env.tenants_d().join("initech.toml"),
        &format!(
            "[tenants.initech]\nname = \"Initech\"\nmail_domains = [\"initech.test\"]\nports = [{port}]\n\
             [tenants.initech.bot]\nurl = \"{}\"\nauth = \"none\"\n",
            env.sim.bot_url()
        ),
    );
    let r = env.xg.ops().post("/reload", &json!({})).await.expect(200);
    assert_eq!(r["result"], "partial", "{r}");
    let why = r["rejected"]["initech"][0]["message"].as_str().unwrap();
    assert!(
        why.contains(&port.to_string()) && why.contains("acme"),
        "{why}"
    );
    let a = env
        .xg
        .on_port("acme")
        .as_user("a@acme.test")
        .get("/api/settings")
        .await
        .expect(200);
    assert_eq!(a["tenant"]["id"], "acme");
    env.xg
        .shared()
        .as_user("u@initech.test")
        .get("/api/settings")
        .await
        .expect_error(404, "tenant_not_found");
}

/// The watcher's fast path: an edit of tenant files is read alone (`read` is
/// `changed-files`) with every rule of a full reload: only that tenant changes, a new
/// tenant taking a claim is rejected and an edit taking one goes stale (the newer
/// claimant loses), and the rotation of a watched `file:` secret still applies (it is
/// not a tenant file, so the whole tree is read, every secret with it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_file_edit_is_read_alone_and_keeps_every_rule() {
    let env = start();
    let d = env.tenants_d();
    let globex = d.join("globex.toml");
    let token = env.globex_token_env();
    let acme_port = env.xg.tenant_addr("acme").port();

    let since = Utc::now();
    write(&globex, &env.globex_file("Globex fast", &token, ""));
    let r = env.attempt_after("watch", since).await;
    assert_eq!(r["read"], "changed-files", "{r}");
    assert_eq!(r["result"], "success", "{r}");
    assert_eq!(r["changed"], json!(["globex"]), "only globex: {r}");
    assert_eq!(r["tenants"], 2, "{r}");
    env.served_as("Globex fast").await;

    // A new tenant claiming acme's port is refused; acme keeps it.
    let since = Utc::now();
    write(
        &d.join("initech.toml"),
        &format!(
            "[tenants.initech]\nname = \"Initech\"\nmail_domains = [\"initech.test\"]\nports = [{acme_port}]\n\
             [tenants.initech.bot]\nurl = \"{}\"\nauth = \"none\"\n",
            env.sim.bot_url()
        ),
    );
    let r = env.attempt_after("watch", since).await;
    assert_eq!(r["read"], "changed-files", "{r}");
    assert_eq!(r["result"], "partial", "{r}");
    let why = r["rejected"]["initech"][0]["message"].as_str().unwrap();
    assert!(why.contains("already held by tenant `acme`"), "{why}");

    // In one save: initech goes, globex claims acme's mail domain. globex is refused
    // and keeps serving its last good definition; acme keeps its users.
    let since = Utc::now();
    std::fs::remove_file(d.join("initech.toml")).unwrap();
    write(
        &globex,
        &env.globex_file("Globex greedy", &token, "").replace(
            "mail_domains = [\"globex.test\"]",
            "mail_domains = [\"globex.test\", \"acme.test\"]",
        ),
    );
    let r = env.attempt_after("watch", since).await;
    assert_eq!(r["read"], "changed-files", "{r}");
    assert_eq!(r["result"], "partial", "{r}");
    assert_eq!(r["rejected"], json!({}), "initech is gone: {r}");
    let why = r["stale"]["globex"][0]["message"].as_str().unwrap();
    assert!(
        why.contains("mail domain `acme.test` is already held by tenant `acme`"),
        "{why}"
    );
    assert_eq!(env.globex_name().await, "Globex fast");
    let a = env
        .xg
        .shared()
        .as_user("u@acme.test")
        .get("/api/settings")
        .await
        .expect(200);
    assert_eq!(a["tenant"]["id"], "acme");

    // A token in a file inside the watched tree: its rotation alone reloads and applies.
    let secret = env.xg.config_path().parent().unwrap().join("globex.token");
    write(&secret, "not-the-token-0123456789abcdefghijklmnopq");
    write(
        &globex,
        &env.globex_file("Globex file token", "file:globex.token", ""),
    );
    env.served_as("Globex file token").await;
    env.globex()
        .post("/api/meetings", &json!({}))
        .await
        .expect_error(502, "bot_auth_failed");
    tokio::time::sleep(Duration::from_millis(400)).await;
    let since = Utc::now();
    write(&secret, env.sim.token().unwrap());
    let r = env.attempt_after("watch", since).await;
    assert_eq!(r["read"], "tree", "{r}");
    assert_eq!(r["changed"], json!(["globex"]), "{r}");
    env.globex()
        .post("/api/meetings", &json!({}))
        .await
        .expect(201);
}
