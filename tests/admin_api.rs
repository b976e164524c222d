//! The tenant admin API (`/api/admin`): first login, tokens bound to one tenant, CSRF,
//! logout, throttling, admins, templates (sanitised, validated, one default per language,
//! used by the meetings API), images, the audit log, and the operator's password reset.

use std::process::Command;

use base64::Engine as _;
use serde_json::{Value, json};
use tokio::sync::OnceCell;
use xgate_tests::admin::{ADMIN_PASSWORD, Session, audit_actions, first_login, login};
use xgate_tests::{Api, Backend, BotSim, Lease, Shared, TenantSpec, XgateSpec, both_backends};

const KEY_A: &str = "acme and globex share this key: 0123456789";
const KEY_B: &str = "hooli and umbrella have their own key 987654";

struct Env {
    sim: BotSim,
    gw: xgate_tests::Xgate,
    /// acme's first login is done once, by whichever test needs it first.
    acme: OnceCell<Session>,
}

static ENV: Shared<Env> = Shared::new();

fn env(backend: Backend) -> Lease<Env> {
    ENV.get(backend, |backend| {
        let sim = BotSim::bearer();
        let tenant = |id: &str, name: &str| {
            TenantSpec::new(id, name, &[&format!("{id}.test")])
                .own_port()
                .bot(&sim)
        };
        let gw = XgateSpec::new(backend)
            .tenant(tenant("acme", "ACME").jwt(KEY_A))
            .tenant(tenant("globex", "Globex").jwt(KEY_A))
            .tenant(tenant("hooli", "Hooli").jwt(KEY_B))
            .tenant(tenant("umbrella", "Umbrella").jwt(KEY_B))
            .tenant(tenant("initech", "Initech"))
            .start();
        Env {
            sim,
            gw,
            acme: OnceCell::new(),
        }
    })
}

impl Env {
    fn port(&self, tenant: &str) -> Api {
        self.gw.on_port(tenant)
    }

    /// acme's admin, logged in (cookie + CSRF).
    async fn acme(&self) -> Api {
        let api = self.port("acme");
        self.acme
            .get_or_init(|| async { first_login(&api, ADMIN_PASSWORD).await })
            .await;
        Session::from_reply(&login(&api, "admin", ADMIN_PASSWORD).await).cookie(&api)
    }
}

both_backends!(
    a_new_tenant_starts_with_admin_who_may_only_set_a_password,
    a_token_of_one_tenant_is_refused_by_another_with_the_same_key,
    tampered_expired_and_foreign_algorithm_tokens_are_refused,
    state_changes_with_the_cookie_need_the_csrf_token,
    logout_revokes_the_token,
    failed_logins_are_throttled_with_a_generic_message,
    admins_are_unique_and_you_cannot_delete_yourself,
    templates_are_sanitised_and_sql_looking_text_is_kept_verbatim,
    a_template_that_does_not_render_is_refused_with_its_line,
    one_default_per_language_and_the_meetings_api_renders_it,
    images_are_checked_and_sent_inline,
    a_tenant_without_jwt_has_no_admin_ui,
    the_shared_listener_serves_the_admin_ui_under_the_tenant_path,
    the_operator_resets_a_password_from_the_command_line,
);

async fn a_new_tenant_starts_with_admin_who_may_only_set_a_password(backend: Backend) {
    let env = env(backend);
    let api = env.port("hooli");
    let setup = Session::from_reply(&login(&api, "admin", "").await);
    let body = login(&api, "admin", "").await.expect(200);
    assert_eq!(body["setup"], true);
    let as_setup = setup.cookie(&api);
    as_setup
        .get("/api/admin/admins")
        .await
        .expect_error(403, "password_change_required");
    as_setup
        .get("/api/admin/templates")
        .await
        .expect_error(403, "password_change_required");
    as_setup.get("/api/admin/session").await.expect(200);
    as_setup
        .post(
            "/api/admin/password",
            &json!({ "password": "short", "password_confirm": "short" }),
        )
        .await
        .expect_error(422, "password_too_short");
    as_setup
        .post(
            "/api/admin/password",
            &json!({ "password": "long enough password", "password_confirm": "another one here" }),
        )
        .await
        .expect_error(422, "password_mismatch");
    let reply = as_setup
        .post(
            "/api/admin/password",
            &json!({ "password": ADMIN_PASSWORD, "password_confirm": ADMIN_PASSWORD }),
        )
        .await;
    let session = Session::from_reply(&reply);
    assert_eq!(reply.json()["setup"], false);
    // The setup token is spent; the empty password no longer works.
    as_setup
        .get("/api/admin/session")
        .await
        .expect_error(401, "unauthenticated");
    login(&api, "admin", "")
        .await
        .expect_error(401, "invalid_credentials");
    let admin = session.cookie(&api);
    let admins = admin.get("/api/admin/admins").await.expect(200);
    assert_eq!(admins["admins"][0]["login"], "admin");
    assert_eq!(admins["admins"][0]["has_password"], true);
    // The config's template set seeded the first templates.
    let templates = admin.get("/api/admin/templates").await.expect(200);
    assert!(
        templates["templates"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["is_default"] == true && t["language"] == "ru"),
        "{templates}"
    );
    // The only admin cannot delete itself.
    admin
        .delete("/api/admin/admins/admin")
        .await
        .expect_error(409, "cannot_delete_self");
    let actions: Vec<String> = audit_actions(&admin)
        .await
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_string())
        .collect();
    assert!(actions.contains(&"password_set".to_string()), "{actions:?}");
}

async fn a_token_of_one_tenant_is_refused_by_another_with_the_same_key(backend: Backend) {
    let env = env(backend);
    let acme = env.acme().await;
    acme.get("/api/admin/admins").await.expect(200);
    let token = Session::from_reply(&login(&env.port("acme"), "admin", ADMIN_PASSWORD).await);
    // globex shares acme's key, but the audience is the tenant.
    let globex = env.port("globex");
    token
        .bearer(&globex)
        .get("/api/admin/admins")
        .await
        .expect_error(401, "unauthenticated");
    token
        .cookie(&globex)
        .get("/api/admin/session")
        .await
        .expect_error(401, "unauthenticated");
    let shared_globex = Api::new(
        format!("http://{}/t/globex", env.gw.shared_addr()),
        Default::default(),
    );
    token
        .bearer(&shared_globex)
        .get("/api/admin/admins")
        .await
        .expect_error(401, "unauthenticated");
    // acme's own port accepts it, as a Bearer token too.
    token
        .bearer(&env.port("acme"))
        .get("/api/admin/admins")
        .await
        .expect(200);
    // Another tenant's path on acme's own port is not a way in.
    env.port("acme")
        .get("/t/globex/api/admin/session")
        .await
        .expect_error(404, "not_found");
}

fn forge(claims: &Value, key: &str, alg: jsonwebtoken::Algorithm) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(alg),
        claims,
        &jsonwebtoken::EncodingKey::from_secret(key.as_bytes()).unwrap(),
    )
    .unwrap()
}

fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

async fn tampered_expired_and_foreign_algorithm_tokens_are_refused(backend: Backend) {
    let env = env(backend);
    env.acme().await;
    let api = env.port("acme");
    let good = Session::from_reply(&login(&api, "admin", ADMIN_PASSWORD).await);
    let claims = claims_of(&good.token);
    let refused = |token: String| {
        let api = api.clone();
        async move {
            api.with_header("authorization", &format!("Bearer {token}"))
                .get("/api/admin/admins")
                .await
                .expect_error(401, "unauthenticated");
        }
    };
    // A re-signed copy of the real claims is accepted: the forging below is faithful.
    api.with_header(
        "authorization",
        &format!(
            "Bearer {}",
            forge(&claims, KEY_A, jsonwebtoken::Algorithm::HS256)
        ),
    )
    .get("/api/admin/admins")
    .await
    .expect(200);

    // Payload changed, signature kept.
    let mut other = claims.clone();
    other["sub"] = json!("root");
    let parts: Vec<&str> = good.token.split('.').collect();
    let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(serde_json::to_vec(&other).unwrap());
    refused(format!("{}.{payload}.{}", parts[0], parts[2])).await;
    // Signature flipped.
    let mut sig = parts[2].to_string();
    let last = if sig.ends_with('A') { "B" } else { "A" };
    sig.replace_range(sig.len() - 1.., last);
    refused(format!("{}.{}.{sig}", parts[0], parts[1])).await;
    // Expired.
    let mut expired = claims.clone();
    expired["exp"] = json!(unix_now() - 3600);
    refused(forge(&expired, KEY_A, jsonwebtoken::Algorithm::HS256)).await;
    // Missing required claims.
    for claim in ["exp", "iss", "aud", "sub"] {
        let mut c = claims.clone();
        c.as_object_mut().unwrap().remove(claim);
        refused(forge(&c, KEY_A, jsonwebtoken::Algorithm::HS256)).await;
    }
    // Wrong issuer; another key; another HMAC algorithm with the right key.
    let mut iss = claims.clone();
    iss["iss"] = json!("someone-else");
    refused(forge(&iss, KEY_A, jsonwebtoken::Algorithm::HS256)).await;
    refused(forge(&claims, KEY_B, jsonwebtoken::Algorithm::HS256)).await;
    refused(forge(&claims, KEY_A, jsonwebtoken::Algorithm::HS512)).await;
    // alg: none, unsigned.
    let b64 = |v: &Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
    };
    let none = json!({ "alg": "none", "typ": "JWT" });
    refused(format!("{}.{}.", b64(&none), b64(&claims))).await;
    refused(format!("{}.{}", b64(&none), b64(&claims))).await;
    refused("not a token".into()).await;
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

async fn state_changes_with_the_cookie_need_the_csrf_token(backend: Backend) {
    let env = env(backend);
    env.acme().await;
    let api = env.port("acme");
    let s = Session::from_reply(&login(&api, "admin", ADMIN_PASSWORD).await);
    let body = json!({
        "login": "csrf-victim", "full_name": "X",
        "password": ADMIN_PASSWORD, "password_confirm": ADMIN_PASSWORD,
    });
    let bare = s.cookie_without_csrf(&api);
    bare.get("/api/admin/admins").await.expect(200);
    bare.post("/api/admin/admins", &body)
        .await
        .expect_error(403, "csrf");
    bare.with_header("x-csrf-token", "0000")
        .post("/api/admin/admins", &body)
        .await
        .expect_error(403, "csrf");
    bare.delete("/api/admin/admins/admin")
        .await
        .expect_error(403, "csrf");
    bare.post("/api/admin/logout", &json!({}))
        .await
        .expect_error(403, "csrf");
    let admins = bare.get("/api/admin/admins").await.expect(200);
    assert!(!admins.to_string().contains("csrf-victim"), "{admins}");
    // A Bearer token is never sent by a browser on its own: no CSRF needed.
    s.bearer(&api)
        .post("/api/admin/admins", &body)
        .await
        .expect(201);
}

async fn logout_revokes_the_token(backend: Backend) {
    let env = env(backend);
    let acme = env.acme().await;
    let api = env.port("acme");
    acme.post(
        "/api/admin/admins",
        &json!({ "login": "leaver", "full_name": "Leaves Soon",
                 "password": ADMIN_PASSWORD, "password_confirm": ADMIN_PASSWORD }),
    )
    .await
    .expect(201);
    let s = Session::from_reply(&login(&api, "leaver", ADMIN_PASSWORD).await);
    s.cookie(&api).get("/api/admin/session").await.expect(200);
    let out = s.cookie(&api).post("/api/admin/logout", &json!({})).await;
    out.expect(204);
    let cleared = out.header("set-cookie").unwrap_or_default();
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    s.cookie(&api)
        .get("/api/admin/session")
        .await
        .expect_error(401, "unauthenticated");
    s.bearer(&api)
        .get("/api/admin/admins")
        .await
        .expect_error(401, "unauthenticated");
}

async fn failed_logins_are_throttled_with_a_generic_message(backend: Backend) {
    let env = env(backend);
    let api = env.port("umbrella");
    first_login(&api, ADMIN_PASSWORD).await;
    let wrong_password = login(&api, "admin", "not the password at all")
        .await
        .expect_error(401, "invalid_credentials");
    let unknown_login = login(&api, "nobody", "not the password at all")
        .await
        .expect_error(401, "invalid_credentials");
    assert_eq!(
        wrong_password, unknown_login,
        "the message says nothing about which"
    );
    for _ in 0..4 {
        login(&api, "admin", "still not it, sorry")
            .await
            .expect_error(401, "invalid_credentials");
    }
    // Five failures for `admin`: even the right password waits now.
    login(&api, "admin", ADMIN_PASSWORD)
        .await
        .expect_error(429, "too_many_attempts");
    // Per address: 20 failures over any logins close it for every login.
    for i in 0..14 {
        login(&api, &format!("guess{i}"), "wrong")
            .await
            .expect_error(401, "invalid_credentials");
    }
    login(&api, "another", "wrong")
        .await
        .expect_error(429, "too_many_attempts");
    // Another tenant is not affected.
    env.acme().await;
    login(&env.port("acme"), "admin", ADMIN_PASSWORD)
        .await
        .expect(200);
}

async fn admins_are_unique_and_you_cannot_delete_yourself(backend: Backend) {
    let env = env(backend);
    let acme = env.acme().await;
    let api = env.port("acme");
    let new = |login: &str, password: &str, confirm: &str| {
        json!({ "login": login, "full_name": "Мария Иванова",
                "password": password, "password_confirm": confirm })
    };
    acme.post(
        "/api/admin/admins",
        &new("maria", ADMIN_PASSWORD, ADMIN_PASSWORD),
    )
    .await
    .expect(201);
    acme.post(
        "/api/admin/admins",
        &new("maria", ADMIN_PASSWORD, ADMIN_PASSWORD),
    )
    .await
    .expect_error(409, "login_taken");
    acme.post(
        "/api/admin/admins",
        &new("short", "elevenchars", "elevenchars"),
    )
    .await
    .expect_error(422, "password_too_short");
    acme.post(
        "/api/admin/admins",
        &new("typo", ADMIN_PASSWORD, "something else entirely"),
    )
    .await
    .expect_error(422, "password_mismatch");
    acme.post(
        "/api/admin/admins",
        &new("with space", ADMIN_PASSWORD, ADMIN_PASSWORD),
    )
    .await
    .expect_error(422, "invalid_field");
    // A body that is not JSON gets the one error shape too.
    acme.post_raw("/api/admin/admins", "{not json")
        .await
        .expect_error(422, "invalid_field");
    // An empty password keeps the old one.
    acme.put(
        "/api/admin/admins/maria",
        &json!({ "full_name": "Мария И.", "password": "" }),
    )
    .await
    .expect(200);
    let maria = Session::from_reply(&login(&api, "maria", ADMIN_PASSWORD).await);
    acme.put(
        "/api/admin/admins/maria",
        &json!({ "full_name": "Мария И.", "password": "a brand new password", "password_confirm": "a brand new password" }),
    )
    .await
    .expect(200);
    // A new password logs maria out everywhere.
    maria
        .cookie(&api)
        .get("/api/admin/session")
        .await
        .expect_error(401, "unauthenticated");
    login(&api, "maria", ADMIN_PASSWORD)
        .await
        .expect_error(401, "invalid_credentials");
    let maria = Session::from_reply(&login(&api, "maria", "a brand new password").await);
    maria
        .cookie(&api)
        .delete("/api/admin/admins/maria")
        .await
        .expect_error(409, "cannot_delete_self");
    acme.delete("/api/admin/admins/maria").await.expect(204);
    acme.delete("/api/admin/admins/maria")
        .await
        .expect_error(404, "not_found");
    let log = audit_actions(&acme).await;
    let has = |action: &str, detail: &str| {
        log.iter().any(|e| {
            e["action"] == action
                && e["actor"] == "admin"
                && e["detail"].as_str().unwrap_or_default().contains(detail)
        })
    };
    assert!(has("admin_created", "maria"), "{log:?}");
    assert!(has("admin_updated", "maria: name, password"), "{log:?}");
    assert!(has("admin_deleted", "maria"), "{log:?}");
    // Errors in English when asked.
    let en = acme
        .with_header("accept-language", "en")
        .delete("/api/admin/admins/admin")
        .await
        .expect_error(409, "cannot_delete_self");
    assert!(xgate_tests::is_english(&en), "{en}");
}

async fn templates_are_sanitised_and_sql_looking_text_is_kept_verbatim(backend: Backend) {
    let env = env(backend);
    let acme = env.acme().await;
    let sql = "'; DROP TABLE templates; -- \" OR 1=1";
    let dirty = r#"<p>Hello <b>{{ user.name }}</b><script>alert(1)</script></p>
<img src="x" onerror="alert(1)"><a href="javascript:alert(1)">click</a>
<a href="JaVaScRiPt:alert(1)">2</a><a href=" javascript:alert(1)">3</a>
<svg onload="alert(1)"><script>alert(1)</script></svg><math><mi xlink:href="javascript:alert(1)">m</mi></math>
<div style="color: #c00; background: url(javascript:alert(1)); width: expression(alert(1))">styled</div>
<iframe src="https://evil.test"></iframe><object data="x"></object><form action="https://evil.test"><input></form>
<table border="1"><tr><td style="padding: 4px">cell</td></tr></table>
<a href="{{ conference.link }}">join</a> <img src="data:image/svg+xml;base64,PHN2Zz4=">"#;
    let created = acme
        .post(
            "/api/admin/templates",
            &json!({ "language": "en", "name": sql, "subject": sql, "html": dirty }),
        )
        .await
        .expect(201);
    let html = created["html"].as_str().unwrap().to_lowercase();
    for bad in [
        "<script",
        "onerror",
        "onload",
        "javascript",
        "<svg",
        "<math",
        "url(",
        "expression",
        "<iframe",
        "<object",
        "<form",
        "<input",
        "data:image",
    ] {
        assert!(!html.contains(bad), "{bad} survived: {html}");
    }
    for kept in [
        "<b>{{ user.name }}</b>",
        "href=\"{{ conference.link }}\"",
        "color: #c00",
        "<table border=\"1\">",
        "padding: 4px",
    ] {
        assert!(html.contains(&kept.to_lowercase()), "{kept} lost: {html}");
    }
    assert_eq!(created["name"], sql);
    assert_eq!(created["subject"], sql);
    let id = created["id"].as_str().unwrap();
    let back = acme
        .get(&format!("/api/admin/templates/{id}"))
        .await
        .expect(200);
    assert_eq!(back["name"], sql, "stored verbatim");
    // The tables are all still there.
    acme.get("/api/admin/templates").await.expect(200);
    acme.get("/api/admin/admins").await.expect(200);
    // The preview sanitises the same way and fills in the sample data.
    let preview = acme
        .post(
            "/api/admin/preview",
            &json!({ "subject": "Hi {{ user.name }}", "html": dirty }),
        )
        .await
        .expect(200);
    let shown = preview["html"].as_str().unwrap();
    assert!(!shown.contains("<script"), "{shown}");
    assert!(shown.contains("https://xlnk.ms/join/sample/"), "{shown}");
    assert_eq!(preview["subject"], "Hi Иван Петров");
}

async fn a_template_that_does_not_render_is_refused_with_its_line(backend: Backend) {
    let env = env(backend);
    let acme = env.acme().await;
    let before = acme.get("/api/admin/templates").await.expect(200);
    for (html, line) in [
        ("<p>one</p>\n<p>two</p>\n<p>{% if %}</p>", 3),
        ("<p>one</p>\n{{ 1 / 0 }}", 2),
        ("<p>{% for x in conference %}</p>", 1),
    ] {
        let reply = acme
            .post(
                "/api/admin/templates",
                &json!({ "language": "ru", "name": "broken", "subject": "s", "html": html }),
            )
            .await;
        let body = reply.expect(422);
        assert_eq!(body["error"]["code"], "template_invalid", "{body}");
        assert_eq!(body["error"]["line"], line, "{body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains(&format!("строка {line}")), "{message}");
        acme.post("/api/admin/preview", &json!({ "html": html }))
            .await
            .expect(422);
    }
    let after = acme.get("/api/admin/templates").await.expect(200);
    assert_eq!(before, after, "nothing was stored");
}

/// The default ru template of acme, whatever earlier tests did.
async fn default_of(acme: &Api, lang: &str) -> Value {
    let list = acme.get("/api/admin/templates").await.expect(200);
    list["templates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["language"] == lang && t["is_default"] == true)
        .cloned()
        .unwrap_or(Value::Null)
}

async fn one_default_per_language_and_the_meetings_api_renders_it(backend: Backend) {
    let env = env(backend);
    // globex: this test alone changes its defaults.
    let api = env.port("globex");
    let first = first_login(&api, ADMIN_PASSWORD).await;
    let admin = first.cookie(&api);
    let seeded = default_of(&admin, "ru").await;
    assert!(seeded.is_object(), "the config seeded a ru default");
    let created = admin
        .post(
            "/api/admin/templates",
            &json!({
                "language": "ru", "name": "Новый", "is_default": true,
                "subject": "Встреча: {{ conference.name }}",
                "html": "<p><b>Ссылка</b>: <a href=\"{{ conference.link }}\">{{ conference.link }}</a> marker-4711</p>",
            }),
        )
        .await
        .expect(201);
    let now_default = default_of(&admin, "ru").await;
    assert_eq!(now_default["id"], created["id"]);
    let list = admin.get("/api/admin/templates").await.expect(200);
    let defaults = list["templates"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["language"] == "ru" && t["is_default"] == true)
        .count();
    assert_eq!(defaults, 1, "{list}");
    // The default cannot be deleted; the former one can.
    admin
        .delete(&format!(
            "/api/admin/templates/{}",
            created["id"].as_str().unwrap()
        ))
        .await
        .expect_error(409, "default_template");
    admin
        .delete(&format!(
            "/api/admin/templates/{}",
            seeded["id"].as_str().unwrap()
        ))
        .await
        .expect(204);
    // The meetings API renders the tenant's default from its database.
    let meeting = api
        .as_user("anna@globex.test")
        .create_meeting("anna@globex.test")
        .await;
    let html = meeting["invitation"]["html"].as_str().unwrap();
    assert!(html.contains("marker-4711"), "{meeting}");
    assert!(html.contains("<b>Ссылка</b>"), "{html}");
    let link = meeting["link"].as_str().unwrap();
    assert!(html.contains(link), "{html}");
    // acme still uses its own.
    env.acme().await;
    let other = env
        .port("acme")
        .as_user("anna@acme.test")
        .create_meeting("anna@acme.test")
        .await;
    assert!(
        !other["invitation"]["html"]
            .as_str()
            .unwrap()
            .contains("marker-4711")
    );
}

const PNG: &[u8] = &[
    0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d, b'I', b'H', b'D', b'R', 0, 0, 0,
    1, 0, 0, 0, 1, 8, 6, 0, 0, 0, 0x1f, 0x15, 0xc4, 0x89,
];

async fn images_are_checked_and_sent_inline(backend: Backend) {
    let env = env(backend);
    let acme = env.acme().await;
    let created = acme
        .post(
            "/api/admin/templates",
            &json!({ "language": "en", "name": "with logo",
                     "subject": "s", "html": "<p><img src=\"{{ images.logo }}\" alt=\"logo\"></p>" }),
        )
        .await
        .expect(201);
    let id = created["id"].as_str().unwrap();
    let path = format!("/api/admin/templates/{id}/images/logo");
    let put = |ct: &'static str, body: Vec<u8>| {
        let acme = acme.clone();
        let path = path.clone();
        async move {
            acme.send(
                acme.request(reqwest::Method::PUT, &path)
                    .header("content-type", ct)
                    .body(body),
            )
            .await
        }
    };
    put("image/svg+xml", b"<svg onload=alert(1)></svg>".to_vec())
        .await
        .expect_error(422, "invalid_field");
    put("image/png", b"<script>alert(1)</script>".to_vec())
        .await
        .expect_error(422, "invalid_field");
    put("image/png", PNG.to_vec()).await.expect(204);
    let t = acme
        .get(&format!("/api/admin/templates/{id}"))
        .await
        .expect(200);
    assert_eq!(t["images"], json!(["logo"]));
    let image = acme.get(&path).await;
    assert_eq!(image.status, 200);
    assert_eq!(image.header("content-type"), Some("image/png"));
    let preview = acme
        .post(
            "/api/admin/preview",
            &json!({ "html": "<img src=\"{{ images.logo }}\">", "template_id": id }),
        )
        .await
        .expect(200);
    assert!(
        preview["html"]
            .as_str()
            .unwrap()
            .contains("src=\"data:image/png;base64,iVBORw0KGgo"),
        "{preview}"
    );
    acme.delete(&path).await.expect(204);
    acme.get(&path).await.expect_error(404, "not_found");
}

async fn a_tenant_without_jwt_has_no_admin_ui(backend: Backend) {
    let env = env(backend);
    login(&env.port("initech"), "admin", "")
        .await
        .expect_error(404, "admin_disabled");
}

async fn the_shared_listener_serves_the_admin_ui_under_the_tenant_path(backend: Backend) {
    let env = env(backend);
    env.acme().await;
    let shared = Api::new(
        format!("http://{}/t/acme", env.gw.shared_addr()),
        Default::default(),
    );
    let reply = login(&shared, "admin", ADMIN_PASSWORD).await;
    let cookie = reply.header("set-cookie").unwrap().to_string();
    assert!(cookie.contains("Path=/t/acme/"), "{cookie}");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Strict"), "{cookie}");
    let s = Session::from_reply(&reply);
    s.cookie(&shared).get("/api/admin/admins").await.expect(200);
    let page = shared.get("/front").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("front/app.js"), "{}", page.body);
    let csp = page.header("content-security-policy").unwrap_or_default();
    assert!(csp.contains("script-src 'self'"), "{csp}");
    assert!(
        !page.body.contains("http://") && !page.body.contains("https://"),
        "no CDN"
    );
    Api::new(
        format!("http://{}/t/nosuch", env.gw.shared_addr()),
        Default::default(),
    )
    .get("/front")
    .await
    .expect_error(404, "tenant_not_found");
    // Not on the shared listener without the tenant's path, nor on the ops listener.
    env.gw
        .shared()
        .get("/front")
        .await
        .expect_error(404, "not_found");
    assert_eq!(env.gw.ops().get("/front").await.status, 404);
}

async fn the_operator_resets_a_password_from_the_command_line(backend: Backend) {
    let env = env(backend);
    let acme = env.acme().await;
    let out = Command::new(xgate_tests::binaries::xgate())
        .args([
            "admin",
            "reset-password",
            "--tenant",
            "acme",
            "--login",
            "rescue",
            "--config",
        ])
        .arg(env.gw.config_path())
        .env_remove("RUST_LOG")
        .env("XGATE_TEST_JWT_ACME", KEY_A)
        .env("XGATE_TEST_TOKEN_ACME", env.sim.token().unwrap_or_default())
        .output()
        .expect("xgate admin reset-password");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let password = stdout
        .lines()
        .find_map(|l| l.rsplit_once(": ").map(|(_, p)| p.trim().to_string()))
        .expect("the new password");
    assert!(password.chars().count() >= 12);
    login(&env.port("acme"), "rescue", &password)
        .await
        .expect(200);
    let log = audit_actions(&acme).await;
    assert!(
        log.iter()
            .any(|e| e["action"] == "password_reset" && e["actor"] == "operator"),
        "{log:?}"
    );
}

/// `/ops/` on the ops listener: the operator's own login from `[server.ops_admin]`, every
/// tenant with its ports and domains, read-only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_view_needs_its_own_login_and_lists_every_tenant() {
    use std::io::Write as _;
    let mut child = Command::new(xgate_tests::binaries::xgate())
        .args(["admin", "hash-password"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("xgate admin hash-password");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"operator password 42\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let hash = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    let sim = BotSim::bearer();
    let gw = XgateSpec::new(Backend::Sqlite)
        .server(&format!(
            "ops_admin = {{ login = \"ops\", password_hash = \"{hash}\" }}"
        ))
        .tenant(
            TenantSpec::new("acme", "ACME <b>Holding</b>", &["acme.test"])
                .own_port()
                .bot(&sim)
                .jwt(KEY_A),
        )
        .tenant(TenantSpec::new("globex", "Globex", &["globex.test"]).bot(&sim))
        .start();
    let ops = gw.ops();
    let basic = |login: &str, password: &str| {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{login}:{password}"))
        )
    };
    let anonymous = ops.get("/ops/").await;
    assert_eq!(anonymous.status, 401);
    assert!(
        anonymous
            .header("www-authenticate")
            .unwrap_or_default()
            .starts_with("Basic")
    );
    let wrong = ops
        .with_header("authorization", &basic("ops", "not the password"))
        .get("/ops/")
        .await;
    assert_eq!(wrong.status, 401);
    let operator = ops.with_header("authorization", &basic("ops", "operator password 42"));
    let page = operator.get("/ops/").await;
    assert_eq!(page.status, 200, "{}", page.body);
    let port = gw.tenant_addr("acme").port().to_string();
    for expected in [
        "acme",
        "globex",
        "acme.test",
        "globex.test",
        port.as_str(),
        "ACME &lt;b&gt;Holding",
    ] {
        assert!(
            page.body.contains(expected),
            "{expected} missing: {}",
            page.body
        );
    }
    assert_eq!(
        operator.post("/ops/", &json!({})).await.status,
        405,
        "read-only"
    );
    // Tenant admins' tokens are no way in, and the page is not on tenant ports.
    assert_eq!(gw.on_port("acme").get("/ops/").await.status, 404);
}

/// A new JWT key for one tenant, applied by a reload, logs out that tenant's admins and
/// nobody else's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_key_on_reload_logs_out_that_tenant_only() {
    let sim = BotSim::bearer();
    let gw = XgateSpec::new(Backend::Sqlite)
        .tenant(
            TenantSpec::new("acme", "ACME", &["acme.test"])
                .own_port()
                .bot(&sim)
                .jwt(KEY_A),
        )
        .tenant(
            TenantSpec::new("globex", "Globex", &["globex.test"])
                .own_port()
                .bot(&sim)
                .jwt(KEY_A),
        )
        .start();
    let (acme, globex) = (gw.on_port("acme"), gw.on_port("globex"));
    let a = first_login(&acme, ADMIN_PASSWORD).await;
    let g = first_login(&globex, ADMIN_PASSWORD).await;

    let key_file = gw.dir().join("acme-new.key");
    std::fs::write(&key_file, "a brand new key for acme only, 32+ bytes").unwrap();
    let tenant_file = gw
        .config_path()
        .parent()
        .unwrap()
        .join("tenants.d/acme.toml");
    let text = std::fs::read_to_string(&tenant_file).unwrap();
    let changed = text.replace(
        "key = \"env:XGATE_TEST_JWT_ACME\"",
        &format!("key = \"file:{}\"", key_file.display()),
    );
    assert_ne!(text, changed, "the tenant file names its key");
    std::fs::write(&tenant_file, changed).unwrap();
    let report = gw.ops().post("/reload", &json!({})).await.expect(200);
    assert!(report["changed"].to_string().contains("acme"), "{report}");

    a.bearer(&acme)
        .get("/api/admin/session")
        .await
        .expect_error(401, "unauthenticated");
    g.bearer(&globex)
        .get("/api/admin/session")
        .await
        .expect(200);
    login(&acme, "admin", ADMIN_PASSWORD).await.expect(200);
}

/// `[tenants.X.jwt]` is checked when the config loads: the key only from `env:`/`file:`,
/// never echoed, at least 32 bytes; no algorithm to choose.
#[test]
fn jwt_settings_are_checked_with_the_config() {
    let main = "[server]\nlisten = [\"127.0.0.1:18080\"]\nops_listen = \"127.0.0.1:19100\"\n\
                include = [\"tenants.d/*.toml\"]\n\n[database]\nurl = \"sqlite://data\"\n";
    let tenant = |jwt: &str| {
        format!(
            "[tenants.acme]\nname = \"ACME\"\nmail_domains = [\"acme.test\"]\ntemplate_set = \"test\"\n\n\
             [tenants.acme.bot]\nurl = \"https://cts.acme.test/\"\nauth = \"none\"\n\n\
             [tenants.acme.jwt]\n{jwt}\n"
        )
    };
    let long = "0123456789abcdef0123456789abcdef-long";
    let check = |jwt: &str| {
        let tree = xgate_tests::ConfigTree::new();
        tree.main(main).write("tenants.d/acme.toml", &tenant(jwt));
        tree.check(&[("ACME_JWT", long), ("ACME_SHORT_JWT", "short")])
    };
    assert!(check("key = \"env:ACME_JWT\"").success);
    let literal = check(&format!("key = \"{long}\""));
    assert!(!literal.success);
    assert!(literal.output().contains("jwt.key"), "{}", literal.output());
    assert!(!literal.output().contains(long), "the key is never printed");
    let short = check("key = \"env:ACME_SHORT_JWT\"");
    assert!(
        !short.success && short.output().contains("32 bytes"),
        "{}",
        short.output()
    );
    let unset = check("key = \"env:ACME_NOT_SET\"");
    assert!(
        !unset.success && unset.output().contains("ACME_NOT_SET"),
        "{}",
        unset.output()
    );
    let lifetime = check("key = \"env:ACME_JWT\"\nlifetime_minutes = 0");
    assert!(!lifetime.success && lifetime.output().contains("jwt.lifetime_minutes"));
    let algorithm = check("key = \"env:ACME_JWT\"\nalgorithm = \"none\"");
    assert!(!algorithm.success && algorithm.output().contains("algorithm"));
}
