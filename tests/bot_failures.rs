//! Every way a Conference Bot call can fail, as the add-in sees it: the bot's reason
//! passed through (400/404 as the bot said, `multiple_users_found_*` as 409), an empty
//! answer as `bot_auth_failed` (502), no answer as `bot_unavailable` (504); a failed
//! create stores nothing; messages in the request's language; the token never shown.
//!
//! Injected behaviour is per simulator, so each test has a tenant and a simulator of
//! its own, all behind one xgate.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use xgate_tests::bot_sim::new_token;
use xgate_tests::ports::closed_port;
use xgate_tests::{
    Api, Backend, BotSim, Lease, Shared, TenantSpec, Xgate, XgateSpec, both_backends, is_english,
    is_russian, old_client_create,
};

/// Tenants with a simulator each: `<id>` serves `@<id>.test` on the shared listener.
const WITH_SIM: &[&str] = &[
    "refused",
    "multiple",
    "gone",
    "empty",
    "wrongtoken",
    "killed",
    "slow",
    "english",
    "refuseddelete",
    "leak",
];
/// The bot timeout of tenant `slow`, and the delay its simulator is told to add.
const SLOW_TIMEOUT_MS: u64 = 300;
const SLOW_DELAY_MS: u64 = 2000;

struct Env {
    gw: Xgate,
    sims: HashMap<&'static str, BotSim>,
    /// The token tenant `wrongtoken` sends (its simulator wants another).
    wrong_token: String,
}

static ENV: Shared<Env> = Shared::new();

fn env(backend: Backend) -> Lease<Env> {
    ENV.get(backend, |backend| {
        let sims: HashMap<&'static str, BotSim> =
            WITH_SIM.iter().map(|id| (*id, BotSim::bearer())).collect();
        let wrong_token = new_token();
        let mut spec = XgateSpec::new(backend);
        for id in WITH_SIM {
            let mut t = TenantSpec::new(id, &format!("Tenant {id}"), &[&format!("{id}.test")])
                .bot(&sims[id]);
            match *id {
                "wrongtoken" => t = t.bearer(&wrong_token),
                "slow" => t = t.timeout_ms(SLOW_TIMEOUT_MS),
                "english" => t = t.language("en"),
                _ => {}
            }
            spec = spec.tenant(t);
        }
        // Nobody listens on this bot's port.
        let down = format!(
            "http://127.0.0.1:{}/api/v1/conference_bot/conferences/",
            closed_port()
        );
        spec = spec.tenant(
            TenantSpec::new("down", "Tenant down", &["down.test"])
                .bot_url(&down)
                .bearer(&new_token())
                .timeout_ms(2000),
        );
        Env {
            gw: spec.start(),
            sims,
            wrong_token,
        }
    })
}

impl Env {
    fn sim(&self, tenant: &str) -> &BotSim {
        &self.sims[tenant]
    }

    /// The shared listener, as a user of the tenant.
    fn api(&self, tenant: &str) -> Api {
        self.gw.shared().as_user(&format!("user@{tenant}.test"))
    }

    fn user(&self, tenant: &str) -> String {
        format!("user@{tenant}.test")
    }
}

fn fail(status: u16, reason: &str) -> Value {
    json!({"fail": {"status": status, "reason": reason}, "times": 1})
}

fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("`{key}` is not a string in {v}"))
}

both_backends!(
    a_refused_create_passes_the_reason_and_stores_nothing,
    multiple_users_found_is_a_conflict,
    a_lost_conference_is_404_on_update_and_cancels_on_delete,
    a_refused_delete_keeps_the_meeting,
    an_empty_bot_answer_is_bot_auth_failed,
    a_wrong_token_is_bot_auth_failed,
    a_bot_that_is_down_is_bot_unavailable,
    a_bot_killed_after_the_create_is_bot_unavailable,
    a_bot_slower_than_the_timeout_is_bot_unavailable_and_leaves_nothing,
    messages_follow_the_requests_language,
    the_bot_token_never_reaches_answers_or_logs,
);

async fn a_refused_create_passes_the_reason_and_stores_nothing(backend: Backend) {
    let env = env(backend);
    let (sim, api, user) = (env.sim("refused"), env.api("refused"), env.user("refused"));

    sim.behave(fail(400, "creator_not_found")).await;
    let reply = api
        .post("/api/meetings", &old_client_create(&user, 1049))
        .await;
    let msg = reply.expect_error(400, "creator_not_found");
    assert!(is_russian(&msg), "LanguageId 1049: {msg}");
    assert_eq!(reply.header("content-language"), Some("ru"));

    sim.behave(fail(400, "creator_not_found")).await;
    let reply = api
        .with_header("Accept-Language", "en-US,en;q=0.9")
        .post("/api/meetings", &json!({"Creator": user}))
        .await;
    let msg = reply.expect_error(400, "creator_not_found");
    assert!(is_english(&msg), "Accept-Language en: {msg}");
    assert_eq!(reply.header("content-language"), Some("en"));

    sim.behave(fail(400, "creator_not_found")).await;
    let msg = api
        .post("/api/meetings", &old_client_create(&user, 1033))
        .await
        .expect_error(400, "creator_not_found");
    assert!(is_english(&msg), "LanguageId 1033: {msg}");

    // Other 400 reasons pass through just the same.
    sim.behave(fail(400, "invalid_attributes")).await;
    api.post("/api/meetings", &old_client_create(&user, 1049))
        .await
        .expect_error(400, "invalid_attributes");

    assert_eq!(sim.stats().await["injected_failures"], 4);
    assert_eq!(env.gw.db.meeting_rows("refused").await, 0, "nothing stored");
    assert!(sim.conferences().await.is_empty());
}

async fn multiple_users_found_is_a_conflict(backend: Backend) {
    let env = env(backend);
    let (sim, api, user) = (
        env.sim("multiple"),
        env.api("multiple"),
        env.user("multiple"),
    );
    sim.behave(fail(503, "multiple_users_found_by_email")).await;
    let msg = api
        .post("/api/meetings", &old_client_create(&user, 1049))
        .await
        .expect_error(409, "multiple_users_found_by_email");
    assert!(is_russian(&msg), "{msg}");
    assert_eq!(
        env.gw.db.meeting_rows("multiple").await,
        0,
        "nothing stored"
    );

    // On an update too.
    let created = api.create_meeting(&user).await;
    sim.behave(fail(503, "multiple_users_found_by_ad_login"))
        .await;
    api.update_meeting(
        str_of(&created, "id"),
        &json!({"members": ["x@multiple.test"]}),
    )
    .await
    .expect_error(409, "multiple_users_found_by_ad_login");
}

async fn a_lost_conference_is_404_on_update_and_cancels_on_delete(backend: Backend) {
    let env = env(backend);
    let (sim, api, user) = (env.sim("gone"), env.api("gone"), env.user("gone"));
    let created = api.create_meeting(&user).await;
    let id = str_of(&created, "id");

    sim.behave(fail(404, "conference_not_found")).await;
    let msg = api
        .update_meeting(id, &json!({"name": "renamed"}))
        .await
        .expect_error(404, "conference_not_found");
    assert!(is_russian(&msg), "{msg}");
    let stored = api.meeting(id).await.expect(200);
    assert_eq!(stored["status"], "active");
    assert_eq!(stored["name"], created["name"], "unchanged");

    // Deleted in eXpress itself already: cancelling here is the truth.
    sim.behave(fail(404, "conference_not_found")).await;
    let reply = api.delete_meeting(id).await;
    assert_eq!(reply.status, 204, "{}", reply.body);
    assert_eq!(api.meeting(id).await.expect(200)["status"], "cancelled");
}

async fn a_refused_delete_keeps_the_meeting(backend: Backend) {
    let env = env(backend);
    let tenant = "refuseddelete";
    let (sim, api, user) = (env.sim(tenant), env.api(tenant), env.user(tenant));
    let created = api.create_meeting(&user).await;
    let id = str_of(&created, "id");
    let call_id = str_of(&created, "callId");

    sim.behave(fail(400, "actor_not_found")).await;
    api.delete_meeting(id)
        .await
        .expect_error(400, "actor_not_found");
    sim.behave(fail(400, "not_permitted")).await;
    api.delete_meeting(id)
        .await
        .expect_error(400, "not_permitted");
    assert_eq!(api.meeting(id).await.expect(200)["status"], "active");
    assert!(sim.conference(call_id).await.is_some());

    // And once the bot agrees, it goes.
    assert_eq!(api.delete_meeting(id).await.status, 204);
    assert!(sim.conference(call_id).await.is_none());
}

async fn an_empty_bot_answer_is_bot_auth_failed(backend: Backend) {
    let env = env(backend);
    let (sim, api, user) = (env.sim("empty"), env.api("empty"), env.user("empty"));
    for status in [401, 403, 500] {
        sim.behave(json!({"fail": {"status": status, "empty_body": true}, "times": 1}))
            .await;
        api.post("/api/meetings", &old_client_create(&user, 1049))
            .await
            .expect_error(502, "bot_auth_failed");
    }
    assert_eq!(env.gw.db.meeting_rows("empty").await, 0, "nothing stored");

    let created = api.create_meeting(&user).await;
    sim.behave(json!({"fail": {"status": 401}, "times": 1}))
        .await;
    api.update_meeting(str_of(&created, "id"), &json!({"name": "x"}))
        .await
        .expect_error(502, "bot_auth_failed");
}

async fn a_wrong_token_is_bot_auth_failed(backend: Backend) {
    let env = env(backend);
    let tenant = "wrongtoken";
    let (sim, api, user) = (env.sim(tenant), env.api(tenant), env.user(tenant));
    let msg = api
        .post("/api/meetings", &old_client_create(&user, 1033))
        .await
        .expect_error(502, "bot_auth_failed");
    assert!(is_english(&msg), "{msg}");
    assert!(!msg.contains(&env.wrong_token));
    let stats = sim.stats().await;
    assert!(
        stats["unauthorized"].as_u64() >= Some(1),
        "the bot refused it: {stats}"
    );
    assert_eq!(stats["last_auth_scheme"], "Bearer");
    assert!(sim.conferences().await.is_empty());
    assert_eq!(env.gw.db.meeting_rows(tenant).await, 0, "nothing stored");
}

async fn a_bot_that_is_down_is_bot_unavailable(backend: Backend) {
    let env = env(backend);
    let (api, user) = (env.api("down"), env.user("down"));
    let msg = api
        .post("/api/meetings", &old_client_create(&user, 1049))
        .await
        .expect_error(504, "bot_unavailable");
    assert!(is_russian(&msg), "{msg}");
    let msg = api
        .post("/api/meetings", &old_client_create(&user, 1033))
        .await
        .expect_error(504, "bot_unavailable");
    assert!(is_english(&msg), "{msg}");
    assert_eq!(env.gw.db.meeting_rows("down").await, 0, "nothing stored");
}

async fn a_bot_killed_after_the_create_is_bot_unavailable(backend: Backend) {
    let env = env(backend);
    let (sim, api, user) = (env.sim("killed"), env.api("killed"), env.user("killed"));
    let created = api.create_meeting(&user).await;
    let id = str_of(&created, "id");

    sim.kill();
    api.update_meeting(id, &json!({"name": "after the crash"}))
        .await
        .expect_error(504, "bot_unavailable");
    api.delete_meeting(id)
        .await
        .expect_error(504, "bot_unavailable");
    api.post("/api/meetings", &old_client_create(&user, 1049))
        .await
        .expect_error(504, "bot_unavailable");
    let stored = api.meeting(id).await.expect(200);
    assert_eq!(stored["status"], "active", "not cancelled without the bot");
    assert_eq!(
        stored["name"], created["name"],
        "not renamed without the bot"
    );
    assert_eq!(env.gw.db.meeting_rows("killed").await, 1);
}

async fn a_bot_slower_than_the_timeout_is_bot_unavailable_and_leaves_nothing(backend: Backend) {
    let env = env(backend);
    let (sim, api, user) = (env.sim("slow"), env.api("slow"), env.user("slow"));
    sim.behave(json!({"delay_ms": SLOW_DELAY_MS})).await;
    let started = Instant::now();
    api.post("/api/meetings", &old_client_create(&user, 1049))
        .await
        .expect_error(504, "bot_unavailable");
    let waited = started.elapsed();
    assert!(
        waited < Duration::from_millis(SLOW_DELAY_MS),
        "answered after the bot's delay ({waited:?}), not after timeout_ms = {SLOW_TIMEOUT_MS}"
    );
    assert!(
        waited >= Duration::from_millis(SLOW_TIMEOUT_MS),
        "{waited:?}"
    );
    assert_eq!(env.gw.db.meeting_rows("slow").await, 0, "nothing stored");
    api.meeting("00000000-0000-4000-8000-000000000000")
        .await
        .expect_error(404, "meeting_not_found");

    // Nothing half-made trips the next create up.
    sim.behave(json!({})).await;
    let created = api.create_meeting(&user).await;
    api.meeting(str_of(&created, "id")).await.expect(200);
    assert_eq!(env.gw.db.meeting_rows("slow").await, 1);
}

async fn messages_follow_the_requests_language(backend: Backend) {
    let env = env(backend);
    let (sim, api, user) = (env.sim("english"), env.api("english"), env.user("english"));
    let no_users = || json!({"fail": {"status": 400, "reason": "no_users_found"}, "times": 1});

    // An English tenant by default...
    sim.behave(no_users()).await;
    let reply = api.post("/api/meetings", &json!({"Creator": user})).await;
    assert!(is_english(&reply.expect_error(400, "no_users_found")));
    assert_eq!(reply.header("content-language"), Some("en"));
    // ...Russian when the client asks for it, by LanguageId or Accept-Language.
    sim.behave(no_users()).await;
    let msg = api
        .post("/api/meetings", &old_client_create(&user, 1049))
        .await
        .expect_error(400, "no_users_found");
    assert!(is_russian(&msg), "{msg}");
    sim.behave(no_users()).await;
    let reply = api
        .with_header("Accept-Language", "ru-RU,ru;q=0.9")
        .post("/api/meetings", &json!({"Creator": user}))
        .await;
    assert!(is_russian(&reply.expect_error(400, "no_users_found")));
    assert_eq!(reply.header("content-language"), Some("ru"));
    // LanguageId wins over Accept-Language.
    sim.behave(no_users()).await;
    let msg = api
        .with_header("Accept-Language", "ru")
        .post("/api/meetings", &old_client_create(&user, 1033))
        .await
        .expect_error(400, "no_users_found");
    assert!(is_english(&msg), "{msg}");
}

async fn the_bot_token_never_reaches_answers_or_logs(backend: Backend) {
    let env = env(backend);
    let (api, user) = (env.api("leak"), env.user("leak"));
    // A full round of successful calls, and failing ones on other tenants (every
    // answer is checked for every token by the harness).
    let created = api.create_meeting(&user).await;
    let id = str_of(&created, "id");
    api.update_meeting(id, &json!({"name": "secret-free"}))
        .await
        .expect(200);
    assert_eq!(api.delete_meeting(id).await.status, 204);
    env.api("wrongtoken")
        .post(
            "/api/meetings",
            &old_client_create(&env.user("wrongtoken"), 1049),
        )
        .await
        .expect_error(502, "bot_auth_failed");
    env.api("down")
        .post("/api/meetings", &old_client_create(&env.user("down"), 1049))
        .await
        .expect_error(504, "bot_unavailable");

    let log = env.gw.stderr();
    assert!(log.contains("bot call failed"), "the failures were logged");
    for token in env.gw.secrets() {
        assert!(
            !log.contains(token.as_str()),
            "a bot token is in xgate's log"
        );
    }
    for sim in env.sims.values() {
        if let Some(token) = sim.token() {
            assert!(
                !log.contains(token),
                "a simulator's token is in xgate's log"
            );
        }
    }
}
