//! `auth.mode = "ldap"`: HTTP Basic checked against each tenant's own directory, a real
//! OpenLDAP slapd per tenant (acme over StartTLS, globex over LDAPS), and the user's
//! mail, aliases, name and SIP number read from it.

use std::net::TcpListener;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use reqwest::Method;
use xgate_tests::{
    Api, Backend, BotSim, LdapUser, Lease, Shared, Slapd, TenantSpec, Xgate, XgateSpec,
    both_backends, old_client_create,
};

const ADDIN_ORIGIN: &str = "https://addin.acme.test";
const ALICE_PW: &str = "Alice-Passw0rd";

struct Env {
    sim: BotSim,
    acme_dir: Slapd,
    _globex_dir: Slapd,
    gw: Xgate,
    /// Accepts connections and never answers: a directory that hangs.
    _black_hole: TcpListener,
}

static ENV: Shared<Env> = Shared::new();

fn acme_users() -> Vec<LdapUser> {
    vec![
        LdapUser::new("alice", ALICE_PW, "alice@acme.test")
            .name("Alice Liddell")
            .sip("4951234")
            .alias("a.liddell@acme.test"),
        LdapUser::new("bob", "Bob-Passw0rd", "bob@acme.test").outside_group(),
        LdapUser::new("dave", "Dave-Passw0rd", "dave@acme.test"),
        LdapUser::new("frank", "Frank-Passw0rd", "frank@acme.test"),
    ]
}

/// `[auth]` of a tenant in mode ldap over `url` of `dir`, with extra top-level lines.
fn ldap_auth(id: &str, dir: &Slapd, url: &str, group: bool, extra: &str) -> String {
    format!(
        "mode = \"ldap\"\n{extra}\n[tenants.{id}.auth.ldap]\n{}",
        dir.ldap_section(url, group)
    )
}

fn env(backend: Backend) -> Lease<Env> {
    ENV.get(backend, |backend| {
        let sim = BotSim::bearer();
        let acme_dir = Slapd::start("dc=acme,dc=test", &acme_users());
        let globex_dir = Slapd::start(
            "dc=globex,dc=test",
            &[LdapUser::new("gina", "Gina-Passw0rd", "gina@globex.test")],
        );
        let black_hole = TcpListener::bind("127.0.0.1:0").expect("bind");
        let hole_url = format!("ldap://{}", black_hole.local_addr().expect("addr"));
        let gw = XgateSpec::new(backend)
            .tenant(
                TenantSpec::new("acme", "ACME", &["acme.test"])
                    .own_port()
                    .bot(&sim)
                    .auth_toml(ldap_auth(
                        "acme",
                        &acme_dir,
                        &acme_dir.ldap_url(),
                        true,
                        &format!(
                            "cors_origins = [\"{ADDIN_ORIGIN}\"]\nmax_failures_per_user = 3\n\
                             max_failures_per_client = 1000"
                        ),
                    )),
            )
            .tenant(
                TenantSpec::new("globex", "Globex", &["globex.test"])
                    .own_port()
                    .language("en")
                    .bot(&sim)
                    .auth_toml(ldap_auth(
                        "globex",
                        &globex_dir,
                        &globex_dir.ldaps_url(),
                        false,
                        "max_failures_per_client = 1000",
                    )),
            )
            .tenant(
                TenantSpec::new("nested", "Nested Groups", &["nested.test"])
                    .own_port()
                    .bot(&sim)
                    .auth_toml(format!(
                        "mode = \"ldap\"\n[tenants.nested.auth.ldap]\n{}nested_groups = true\n",
                        acme_dir.ldap_section(&acme_dir.ldap_url(), true)
                    )),
            )
            .tenant(
                TenantSpec::new("slow", "Slow Directory", &["slow.test"])
                    .own_port()
                    .bot(&sim)
                    .auth_toml(format!(
                        "mode = \"ldap\"\ntimeout_ms = 700\n[tenants.slow.auth.ldap]\n\
                         url = \"{hole_url}\"\nbind_dn = \"cn=x\"\nbind_password = \"x\"\n\
                         base_dn = \"dc=slow\"\n"
                    )),
            )
            .start();
        Env {
            sim,
            acme_dir,
            _globex_dir: globex_dir,
            gw,
            _black_hole: black_hole,
        }
    })
}

fn basic(login: &str, password: &str) -> String {
    format!("Basic {}", BASE64.encode(format!("{login}:{password}")))
}

fn as_login(api: &Api, login: &str, password: &str) -> Api {
    api.with_header("authorization", &basic(login, password))
}

async fn good_login_creates_as_the_directory_user(backend: Backend) {
    let env = env(backend);
    let api = as_login(&env.gw.on_port("acme"), "alice", ALICE_PW);
    let meeting = api.create_meeting("alice@acme.test").await;
    let html = meeting["invitation"]["html"].as_str().expect("invitation");
    // user.name and user.sip come from the directory, not from the request.
    assert!(html.contains("Alice Liddell"), "{html}");
    assert!(html.contains("4951234"), "{html}");
    let id = meeting["id"].as_str().expect("id");
    api.meeting(id).await.expect(200);
    // The UPN and DOMAIN\login forms name the same account.
    as_login(&env.gw.on_port("acme"), "alice@acme.test", ALICE_PW)
        .meeting(id)
        .await
        .expect(200);
    as_login(&env.gw.on_port("acme"), "ACME\\alice", ALICE_PW)
        .meeting(id)
        .await
        .expect(200);
    assert!(
        env.sim
            .conferences()
            .await
            .iter()
            .any(|c| c["creator"]["email"] == "alice@acme.test")
    );
}

async fn a_proxy_address_is_accepted_as_the_creator(backend: Backend) {
    let env = env(backend);
    let api = as_login(&env.gw.on_port("acme"), "alice", ALICE_PW);
    let meeting = api.create_meeting("A.Liddell@acme.test").await;
    assert_eq!(meeting["creator"], "alice@acme.test", "{meeting}");
}

both_backends!(
    good_login_creates_as_the_directory_user,
    a_proxy_address_is_accepted_as_the_creator,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_creator_other_than_the_user_is_refused() {
    let env = env(Backend::Sqlite);
    let api = as_login(&env.gw.on_port("acme"), "alice", ALICE_PW);
    api.post("/api/meetings", &old_client_create("dave@acme.test", 1049))
        .await
        .expect_error(403, "creator_mismatch");
    // X-Xgate-User means nothing in a directory mode.
    api.as_user("dave@acme.test")
        .post("/api/meetings", &old_client_create("dave@acme.test", 1049))
        .await
        .expect_error(403, "creator_mismatch");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_unknown_user_and_no_credentials_are_refused() {
    let env = env(Backend::Sqlite);
    let acme = env.gw.on_port("acme");
    let r = as_login(&acme, "frank", "not-franks-password")
        .get("/api/settings")
        .await;
    r.expect_error(401, "invalid_credentials");
    let challenge = r.header("www-authenticate").unwrap_or_default();
    assert!(challenge.starts_with("Basic"), "{challenge}");
    as_login(&acme, "nobody", "whatever")
        .get("/api/settings")
        .await
        .expect_error(401, "invalid_credentials");
    acme.as_user("frank@acme.test")
        .get("/api/settings")
        .await
        .expect_error(401, "unauthenticated");
    as_login(&acme, "frank", "Frank-Passw0rd")
        .get("/api/settings")
        .await
        .expect(200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_password_never_binds() {
    let env = env(Backend::Sqlite);
    let before = env.acme_dir.binds_of("uid=frank");
    // This slapd, like AD, lets a DN with an empty password bind "unauthenticated".
    as_login(&env.gw.on_port("acme"), "frank", "")
        .get("/api/settings")
        .await
        .expect_error(401, "invalid_credentials");
    assert_eq!(
        env.acme_dir.binds_of("uid=frank"),
        before,
        "{}",
        env.acme_dir.log()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filter_injection_finds_and_binds_nobody() {
    let env = env(Backend::Sqlite);
    let acme = env.gw.on_port("acme");
    // With the right password, an unescaped `al*` would match alice and bind as her.
    for login in [
        "al*",
        "*",
        "*)(uid=*",
        "alice)(|(uid=*",
        "*)(sAMAccountName=alice",
        "alice\\00",
    ] {
        as_login(&acme, login, ALICE_PW)
            .get("/api/settings")
            .await
            .expect_error(401, "invalid_credentials");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_outside_the_required_group_is_refused() {
    let env = env(Backend::Sqlite);
    as_login(&env.gw.on_port("acme"), "bob", "Bob-Passw0rd")
        .get("/api/settings")
        .await
        .expect_error(403, "not_in_group");
}

/// `nested_groups` asks with AD's LDAP_MATCHING_RULE_IN_CHAIN. OpenLDAP does not know the
/// rule, so the membership is undefined there and the user is refused: it fails closed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nested_groups_ask_with_the_in_chain_rule_and_fail_closed_without_it() {
    let env = env(Backend::Sqlite);
    as_login(&env.gw.on_port("nested"), "dave", "Dave-Passw0rd")
        .get("/api/settings")
        .await
        .expect_error(403, "not_in_group");
    // slapd logs a filter with a matching rule it does not know as undefined; the plain
    // `(memberOf=...)` the other tenants ask with is logged as it is.
    let log = env.acme_dir.log();
    assert!(
        log.contains(
            "SRCH base=\"uid=dave,ou=people,dc=acme,dc=test\" scope=0 deref=0 filter=\"(?=undefined)\""
        ),
        "the in-chain rule was asked for:\n{log}"
    );
}

/// The periodic probe binds as each tenant's service account: up where slapd answers,
/// down where the directory hangs, without any user logging in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_probe_reports_each_directory_up_or_down() {
    let env = env(Backend::Sqlite);
    let deadline = Instant::now() + Duration::from_secs(30);
    let (mut acme, mut slow) = (None, None);
    while Instant::now() < deadline {
        let text = env.gw.ops().get("/metrics").await.body;
        let value = |tenant: &str| {
            let prefix = format!("xgate_directory_up{{tenant=\"{tenant}\"}} ");
            text.lines()
                .find_map(|l| l.strip_prefix(prefix.as_str()))
                .map(str::to_string)
        };
        (acme, slow) = (value("acme"), value("slow"));
        if acme.is_some() && slow.is_some() {
            break;
        }
        // Polling interval, not synchronisation: the loop ends on the condition above.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(acme.as_deref(), Some("1"), "acme's slapd answers the probe");
    assert_eq!(slow.as_deref(), Some("0"), "a directory that hangs is down");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_request_is_answered_from_the_cache() {
    let env = env(Backend::Sqlite);
    let acme = env.gw.on_port("acme");
    as_login(&acme, "dave", "Dave-Passw0rd")
        .get("/api/settings")
        .await
        .expect(200);
    let binds = env.acme_dir.binds_of("uid=dave");
    assert!(binds >= 1, "{}", env.acme_dir.log());
    for _ in 0..3 {
        as_login(&acme, "dave", "Dave-Passw0rd")
            .get("/api/settings")
            .await
            .expect(200);
    }
    assert_eq!(
        env.acme_dir.binds_of("uid=dave"),
        binds,
        "the cache was not used"
    );
    // A different password is not the cached one.
    as_login(&acme, "dave", "Dave-Passw0rd-2")
        .get("/api/settings")
        .await
        .expect_error(401, "invalid_credentials");
    assert_eq!(env.acme_dir.binds_of("uid=dave"), binds + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_directory_is_503_in_time_and_other_tenants_go_on() {
    let env = env(Backend::Sqlite);
    let slow = as_login(&env.gw.on_port("slow"), "someone", "pw");
    let acme = as_login(&env.gw.on_port("acme"), "alice", ALICE_PW);
    let started = Instant::now();
    let (slow_reply, acme_reply) = tokio::join!(slow.get("/api/settings"), async {
        acme.get("/api/settings").await
    });
    slow_reply.expect_error(503, "directory_unavailable");
    let took = started.elapsed();
    assert!(took < Duration::from_millis(700 + 1500), "took {took:?}");
    acme_reply.expect(200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_of_one_directory_cannot_act_in_another_tenant() {
    let env = env(Backend::Sqlite);
    // gina is real in globex's directory, not in acme's.
    as_login(&env.gw.on_port("acme"), "gina", "Gina-Passw0rd")
        .get("/api/settings")
        .await
        .expect_error(401, "invalid_credentials");
    as_login(&env.gw.on_port("globex"), "alice", ALICE_PW)
        .get("/api/settings")
        .await
        .expect_error(401, "invalid_credentials");
    // On the shared listener the login's domain picks globex; gina cannot create as alice.
    let shared = as_login(&env.gw.shared(), "gina@globex.test", "Gina-Passw0rd");
    shared
        .post("/api/meetings", &old_client_create("alice@acme.test", 1033))
        .await
        .expect_error(403, "creator_mismatch");
    shared.create_meeting("gina@globex.test").await;
    // Naming an acme user in the header sends alice's password to acme's directory only.
    as_login(&env.gw.shared(), "alice", ALICE_PW)
        .as_user("gina@globex.test")
        .get("/api/settings")
        .await
        .expect_error(401, "invalid_credentials");
    // alice's meeting is not gina's to see, whatever the listener.
    let meeting = as_login(&env.gw.on_port("acme"), "alice", ALICE_PW)
        .create_meeting("alice@acme.test")
        .await;
    let id = meeting["id"].as_str().expect("id");
    let r = shared.meeting(id).await;
    assert!(matches!(r.status, 403 | 404), "{r:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_preflight_allows_the_tenants_add_in_origin_only() {
    let env = env(Backend::Sqlite);
    let acme = env.gw.on_port("acme");
    let preflight = |origin: &'static str| {
        acme.request(Method::OPTIONS, "/api/meetings")
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization, content-type",
            )
    };
    let ok = acme.send(preflight(ADDIN_ORIGIN)).await;
    assert_eq!(ok.status, 204, "{ok:?}");
    assert_eq!(ok.header("access-control-allow-origin"), Some(ADDIN_ORIGIN));
    assert_eq!(ok.header("access-control-allow-credentials"), Some("true"));
    let foreign = acme.send(preflight("https://evil.example")).await;
    assert_eq!(foreign.status, 403);
    assert_eq!(foreign.header("access-control-allow-origin"), None);
    // The actual answer carries the grant too, and only for the listed origin.
    let api = as_login(&acme, "alice", ALICE_PW);
    let r = api
        .send(
            api.request(Method::GET, "/api/settings")
                .header("origin", ADDIN_ORIGIN),
        )
        .await;
    assert_eq!(r.header("access-control-allow-origin"), Some(ADDIN_ORIGIN));
    let r = api
        .send(
            api.request(Method::GET, "/api/settings")
                .header("origin", "https://evil.example"),
        )
        .await;
    assert_eq!(r.header("access-control-allow-origin"), None);
    // globex lists no origin.
    let r = env
        .gw
        .on_port("globex")
        .send(
            env.gw
                .on_port("globex")
                .request(Method::OPTIONS, "/api/meetings")
                .header("origin", ADDIN_ORIGIN)
                .header("access-control-request-method", "POST"),
        )
        .await;
    assert_eq!(r.status, 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_password_reaches_the_log() {
    let env = env(Backend::Sqlite);
    let acme = env.gw.on_port("acme");
    as_login(&acme, "frank", "Leaky-Wrong-Passw0rd")
        .get("/api/settings")
        .await
        .expect_error(401, "invalid_credentials");
    as_login(&acme, "frank", "Frank-Passw0rd")
        .get("/api/settings")
        .await
        .expect(200);
    let log = env.gw.stderr();
    assert!(log.contains("login failed"), "the failure is logged: {log}");
    for pw in [
        "Leaky-Wrong-Passw0rd",
        "Frank-Passw0rd",
        ALICE_PW,
        "svc-Passw0rd",
    ] {
        assert!(!log.contains(pw), "a password is in xgate's log");
    }
}

/// Failed logins of one user make that user wait for the window, but never longer, and
/// a user whose right password is cached is not slowed at all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_logins_are_throttled_per_user_for_one_window_only() {
    let dir = Slapd::start("dc=acme,dc=test", &acme_users());
    let sim = BotSim::bearer();
    let gw = XgateSpec::new(Backend::Sqlite)
        .tenant(
            TenantSpec::new("acme", "ACME", &["acme.test"])
                .own_port()
                .bot(&sim)
                .auth_toml(ldap_auth(
                    "acme",
                    &dir,
                    &dir.ldaps_url(),
                    false,
                    "max_failures_per_user = 3\nmax_failures_per_client = 1000\n\
                     failure_window_seconds = 2\nnegative_cache_ttl_seconds = 0",
                )),
        )
        .start();
    let acme = gw.on_port("acme");
    as_login(&acme, "alice", ALICE_PW)
        .get("/api/settings")
        .await
        .expect(200);
    for _ in 0..3 {
        as_login(&acme, "dave", "guess")
            .get("/api/settings")
            .await
            .expect_error(401, "invalid_credentials");
        as_login(&acme, "alice", "guess")
            .get("/api/settings")
            .await
            .expect_error(401, "invalid_credentials");
    }
    let binds = dir.binds_of("uid=dave");
    let r = as_login(&acme, "dave", "Dave-Passw0rd")
        .get("/api/settings")
        .await;
    r.expect_error(429, "too_many_attempts");
    assert!(r.header("retry-after").is_some());
    assert_eq!(
        dir.binds_of("uid=dave"),
        binds,
        "a throttled login reached the directory"
    );
    // alice's right password is cached: the attacker's guesses do not lock her out.
    as_login(&acme, "alice", ALICE_PW)
        .get("/api/settings")
        .await
        .expect(200);
    // After the window dave gets in (polled: the window is the only wait).
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = as_login(&acme, "dave", "Dave-Passw0rd")
            .get("/api/settings")
            .await;
        if r.status == 200 {
            break;
        }
        r.expect_error(429, "too_many_attempts");
        assert!(
            Instant::now() < deadline,
            "still throttled after the window"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_logins_are_throttled_per_client_address() {
    let dir = Slapd::start("dc=acme,dc=test", &acme_users());
    let sim = BotSim::bearer();
    let gw = XgateSpec::new(Backend::Sqlite)
        .tenant(
            TenantSpec::new("acme", "ACME", &["acme.test"])
                .own_port()
                .bot(&sim)
                .auth_toml(ldap_auth(
                    "acme",
                    &dir,
                    &dir.ldap_url(),
                    false,
                    "max_failures_per_user = 100\nmax_failures_per_client = 4",
                )),
        )
        .start();
    let acme = gw.on_port("acme");
    for user in ["u1", "u2", "u3", "u4"] {
        as_login(&acme, user, "guess")
            .get("/api/settings")
            .await
            .expect_error(401, "invalid_credentials");
    }
    as_login(&acme, "frank", "Frank-Passw0rd")
        .get("/api/settings")
        .await
        .expect_error(429, "too_many_attempts");
}

/// The directory goes down: users already checked go on from the cache, others get a
/// 503 at once; when it comes back, everyone gets in again without a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_directory_is_503_cached_users_go_on_and_it_recovers() {
    let dir = Slapd::start("dc=acme,dc=test", &acme_users());
    let sim = BotSim::bearer();
    let gw = XgateSpec::new(Backend::Sqlite)
        .tenant(
            TenantSpec::new("acme", "ACME", &["acme.test"])
                .own_port()
                .bot(&sim)
                .auth_toml(ldap_auth(
                    "acme",
                    &dir,
                    &dir.ldap_url(),
                    true,
                    "timeout_ms = 1500",
                )),
        )
        .start();
    let acme = gw.on_port("acme");
    as_login(&acme, "alice", ALICE_PW)
        .get("/api/settings")
        .await
        .expect(200);
    dir.stop();
    as_login(&acme, "alice", ALICE_PW)
        .get("/api/settings")
        .await
        .expect(200);
    let started = Instant::now();
    as_login(&acme, "dave", "Dave-Passw0rd")
        .get("/api/settings")
        .await
        .expect_error(503, "directory_unavailable");
    assert!(started.elapsed() < Duration::from_millis(1500 + 1500));
    dir.resume();
    as_login(&acme, "dave", "Dave-Passw0rd")
        .get("/api/settings")
        .await
        .expect(200);
    let metrics = gw.ops().get("/metrics").await.body;
    assert!(
        metrics.contains("xgate_directory_calls_total{outcome=\"unavailable\",tenant=\"acme\"}"),
        "{metrics}"
    );
}

/// The cache lives as long as the tenant's `[auth]`: a reload that changes something
/// else keeps it; a reload that changes `[auth]` drops it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_that_changes_auth_drops_the_cache_and_no_other_does() {
    let dir = Slapd::start("dc=acme,dc=test", &acme_users());
    let sim = BotSim::bearer();
    let tenant = |name: &str, timeout_ms: u64| {
        TenantSpec::new("acme", name, &["acme.test"])
            .own_port()
            .bot(&sim)
            .auth_toml(ldap_auth(
                "acme",
                &dir,
                &dir.ldap_url(),
                false,
                &format!("timeout_ms = {timeout_ms}"),
            ))
    };
    let gw = XgateSpec::new(Backend::Sqlite)
        .tenant(tenant("ACME", 1500))
        .start();
    let port = gw.tenant_addr("acme").port();
    let file = gw
        .config_path()
        .with_file_name("tenants.d")
        .join("acme.toml");
    let reload = |spec: TenantSpec| {
        let gw = &gw;
        let file = file.clone();
        async move {
            std::fs::write(&file, spec.toml(Some(port))).expect("rewrite the tenant");
            let report = gw
                .ops()
                .post("/reload", &serde_json::json!({}))
                .await
                .expect(200);
            assert_eq!(report["result"], "success", "{report}");
        }
    };
    let acme = gw.on_port("acme");
    as_login(&acme, "alice", ALICE_PW)
        .get("/api/settings")
        .await
        .expect(200);
    dir.stop();
    reload(tenant("ACME Renamed", 1500)).await;
    as_login(&acme, "alice", ALICE_PW)
        .get("/api/settings")
        .await
        .expect(200);
    reload(tenant("ACME Renamed", 1400)).await;
    as_login(&acme, "alice", ALICE_PW)
        .get("/api/settings")
        .await
        .expect_error(503, "directory_unavailable");
    dir.resume();
    as_login(&acme, "alice", ALICE_PW)
        .get("/api/settings")
        .await
        .expect(200);
}
