//! `auth.mode = "kerberos+ldap"`: `Negotiate` tokens checked with the tenant's keytab
//! from a real MIT KDC, the user then read from the tenant's slapd; Basic as fallback.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::Value;
use xgate_tests::{
    Backend, BotSim, Kdc, LdapUser, Lease, Shared, Slapd, TenantSpec, Xgate, XgateSpec,
    old_client_create,
};

const KRB_PW: &str = "Alice-Krb-Passw0rd";
const LDAP_PW: &str = "Alice-Ldap-Passw0rd";

struct Env {
    kdc: Kdc,
    /// Another realm, with its own `alice` and its own `HTTP/localhost`.
    foreign: Kdc,
    _dir: Slapd,
    _globex_dir: Slapd,
    _sim: BotSim,
    gw: Xgate,
}

static ENV: Shared<Env> = Shared::new();

fn env() -> Lease<Env> {
    ENV.get(Backend::Sqlite, |backend| {
        let kdc = Kdc::start("TEST.XGATE", &[("alice", KRB_PW), ("nobody", KRB_PW)]);
        let foreign = Kdc::start("OTHER.XGATE", &[("alice", KRB_PW)]);
        let dir = Slapd::start(
            "dc=acme,dc=test",
            &[LdapUser::new("alice", LDAP_PW, "alice@acme.test")
                .name("Alice Liddell")
                .sip("4951234")],
        );
        // globex lives in the other forest: its own realm, keytab and directory.
        let globex_dir = Slapd::start(
            "dc=globex,dc=test",
            &[LdapUser::new("alice", LDAP_PW, "alice@globex.test").name("Alice of Globex")],
        );
        let sim = BotSim::bearer();
        let globex_auth = format!(
            "mode = \"kerberos+ldap\"\n\n[tenants.globex.auth.kerberos]\nkeytab = \"{}\"\n\
             service_principal = \"{}\"\n\n[tenants.globex.auth.ldap]\n{}",
            foreign.keytab().display(),
            foreign.service_principal(),
            globex_dir.ldap_section(&globex_dir.ldaps_url(), false)
        );
        let auth = format!(
            "mode = \"kerberos+ldap\"\n\n[tenants.acme.auth.kerberos]\nkeytab = \"{}\"\n\
             service_principal = \"{}\"\n\n[tenants.acme.auth.ldap]\n{}",
            kdc.keytab().display(),
            kdc.service_principal(),
            dir.ldap_section(&dir.ldaps_url(), false)
        );
        let gw = XgateSpec::new(backend)
            .tenant(
                TenantSpec::new("acme", "ACME", &["acme.test"])
                    .own_port()
                    .bot(&sim)
                    .auth_toml(auth),
            )
            .tenant(
                TenantSpec::new("globex", "Globex", &["globex.test"])
                    .bot(&sim)
                    .auth_toml(globex_auth),
            )
            .env("KRB5_CONFIG", &kdc.krb5_conf().display().to_string())
            .start();
        Env {
            kdc,
            foreign,
            _dir: dir,
            _globex_dir: globex_dir,
            _sim: sim,
            gw,
        }
    })
}

fn url(env: &Env, path: &str) -> String {
    // `localhost`: curl asks for a ticket to HTTP/<host of the URL>.
    format!(
        "http://localhost:{}{path}",
        env.gw.tenant_addr("acme").port()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_negotiate_request_is_accepted_as_the_ticket_holder() {
    let env = env();
    let cache = env.kdc.kinit("alice", KRB_PW);
    let body = old_client_create("alice@acme.test", 1049).to_string();
    let (status, text) = env
        .kdc
        .curl(&cache, "POST", &url(&env, "/api/meetings"), Some(&body));
    assert_eq!(status, 201, "{text}");
    let meeting: Value = serde_json::from_str(&text).expect("json");
    assert_eq!(meeting["creator"], "alice@acme.test");
    let html = meeting["invitation"]["html"].as_str().expect("html");
    assert!(
        html.contains("Alice Liddell") && html.contains("4951234"),
        "{html}"
    );
    // Kerberos proves alice; she still cannot create as someone else.
    let body = old_client_create("bob@acme.test", 1049).to_string();
    let (status, text) = env
        .kdc
        .curl(&cache, "POST", &url(&env, "/api/meetings"), Some(&body));
    assert_eq!(status, 403, "{text}");
    assert!(text.contains("creator_mismatch"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_and_tampered_tokens_are_refused() {
    let env = env();
    let acme = env.gw.on_port("acme");
    let negotiate = |token: &[u8]| format!("Negotiate {}", BASE64.encode(token));
    acme.with_header(
        "authorization",
        &negotiate(b"\x60\x82 not a kerberos token"),
    )
    .get("/api/settings")
    .await
    .expect_error(401, "invalid_credentials");
    let cache = env.kdc.kinit("alice", KRB_PW);
    let mut token = env.kdc.token(&cache);
    let last = token.len() - 8;
    token[last] ^= 0x55;
    acme.with_header("authorization", &negotiate(&token))
        .get("/api/settings")
        .await
        .expect_error(401, "invalid_credentials");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_of_a_foreign_realm_is_refused() {
    let env = env();
    // alice@OTHER.XGATE has a valid ticket for HTTP/localhost@OTHER.XGATE: not ours.
    let cache = env.foreign.kinit("alice", KRB_PW);
    let (status, text) = env
        .foreign
        .curl(&cache, "GET", &url(&env, "/api/settings"), None);
    assert_eq!(status, 401, "{text}");
    // A realm user the directory does not know is not a user either.
    let cache = env.kdc.kinit("nobody", KRB_PW);
    let (status, text) = env
        .kdc
        .curl(&cache, "GET", &url(&env, "/api/settings"), None);
    assert_eq!(status, 401, "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kerberos_plus_ldap_offers_both_and_accepts_basic() {
    let env = env();
    let acme = env.gw.on_port("acme");
    let r = acme.get("/api/settings").await;
    r.expect_error(401, "unauthenticated");
    let offers: Vec<&str> = r
        .headers
        .get_all("www-authenticate")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    assert!(offers.contains(&"Negotiate"), "{offers:?}");
    assert!(offers.iter().any(|o| o.starts_with("Basic")), "{offers:?}");
    let basic = format!("Basic {}", BASE64.encode(format!("alice:{LDAP_PW}")));
    acme.with_header("authorization", &basic)
        .get("/api/settings")
        .await
        .expect(200);
    assert_eq!(env.kdc.realm(), "TEST.XGATE");
}

/// A domain-joined Outlook on the shared listener sends its ticket and no address: the
/// ticket's realm and service pick the tenant, whose keytab then checks it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_the_shared_listener_the_ticket_picks_the_tenant() {
    let env = env();
    let shared = |path: &str| format!("http://localhost:{}{path}", env.gw.shared_addr().port());

    let acme = env.kdc.kinit("alice", KRB_PW);
    let (status, text) = env.kdc.curl(&acme, "GET", &shared("/api/settings"), None);
    assert_eq!(status, 200, "no address, the ticket names acme: {text}");
    let body = old_client_create("alice@acme.test", 1049).to_string();
    let (status, text) = env
        .kdc
        .curl(&acme, "POST", &shared("/api/meetings"), Some(&body));
    assert_eq!(status, 201, "{text}");

    let globex = env.foreign.kinit("alice", KRB_PW);
    let body = old_client_create("alice@globex.test", 1049).to_string();
    let (status, text) = env
        .foreign
        .curl(&globex, "POST", &shared("/api/meetings"), Some(&body));
    assert_eq!(
        status, 201,
        "the other realm's ticket goes to globex: {text}"
    );
    let meeting: Value = serde_json::from_str(&text).expect("json");
    assert_eq!(meeting["creator"], "alice@globex.test");
    let html = meeting["invitation"]["html"].as_str().expect("html");
    assert!(html.contains("Alice of Globex"), "{html}");

    // The ticket chose globex; its alice cannot create as acme's alice.
    let body = old_client_create("alice@acme.test", 1049).to_string();
    let (status, text) = env
        .foreign
        .curl(&globex, "POST", &shared("/api/meetings"), Some(&body));
    assert_eq!(status, 403, "{text}");
}

/// curl asks for mutual authentication, as Windows clients do: the accepted answer
/// carries the server's own Kerberos token, as IIS sent it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_answer_proves_the_server_to_the_client() {
    let env = env();
    let cache = env.kdc.kinit("alice", KRB_PW);
    let token = env.kdc.token(&cache);
    let reply = env
        .gw
        .on_port("acme")
        .with_header(
            "authorization",
            &format!("Negotiate {}", BASE64.encode(&token)),
        )
        .get("/api/settings")
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let proof = reply
        .header("www-authenticate")
        .and_then(|v| v.strip_prefix("Negotiate "))
        .unwrap_or_else(|| panic!("no Negotiate reply: {:?}", reply.headers));
    let proof = BASE64.decode(proof).expect("base64");
    assert!(proof.len() > 16, "a real AP-REP/SPNEGO answer: {proof:?}");
}
