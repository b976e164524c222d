//! The meetings API as the add-in uses it: a draft on the button press, filled in when
//! the letter is sent, cancelled with the meeting; each step checked on the bot too.

use serde_json::{Value, json};
use xgate_tests::xgate::{EN_TEMPLATE_MARK, RU_TEMPLATE_MARK};
use xgate_tests::{
    Backend, BotSim, Lease, Shared, TenantSpec, Xgate, XgateSpec, both_backends, is_english,
    is_russian, old_client_create,
};

/// acme: Russian, the `test` templates, a PIN for `trusts` and more public links.
/// globex: English, the shipped `default` templates, only corporate and server links,
/// its bot URL written without the trailing slash and with the guide's `conference_Bot`.
/// initech: a bot behind HTTP Basic auth. hooli: a bot without auth that knows users by
/// their AD login.
struct Env {
    sim: BotSim,
    basic_sim: BotSim,
    open_sim: BotSim,
    gw: Xgate,
}

static ENV: Shared<Env> = Shared::new();

fn env(backend: Backend) -> Lease<Env> {
    ENV.get(backend, |backend| {
        let sim = BotSim::bearer();
        let basic_sim = BotSim::basic();
        let open_sim = BotSim::open();
        let gw = XgateSpec::new(backend)
            .tenant(
                TenantSpec::new("acme", "ACME Holding", &["acme.test"])
                    .own_port()
                    .policy(&["public", "corporate", "trusts"], Some("trusts"))
                    .bot(&sim),
            )
            .tenant(
                TenantSpec::new("globex", "Globex Corporation", &["globex.test"])
                    .own_port()
                    .language("en")
                    .template_set("default")
                    .policy(&["corporate", "server"], None)
                    .bot(&sim)
                    .bot_url(&format!("{}/api/v1/conference_Bot/conferences", sim.url())),
            )
            .tenant(TenantSpec::new("initech", "Initech", &["initech.test"]).bot(&basic_sim))
            .tenant(
                TenantSpec::new("hooli", "Hooli", &["hooli.test"])
                    .contact_type("ad_login")
                    .bot(&open_sim),
            )
            .start();
        Env {
            sim,
            basic_sim,
            open_sim,
            gw,
        }
    })
}

fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("`{key}` is not a string in {v}"))
}

fn html(meeting: &Value) -> &str {
    meeting["invitation"]["html"]
        .as_str()
        .unwrap_or_else(|| panic!("no invitation.html in {meeting}"))
}

fn subject(meeting: &Value) -> &str {
    meeting["invitation"]["subject"]
        .as_str()
        .unwrap_or_else(|| panic!("no invitation.subject in {meeting}"))
}

fn emails(users: &Value) -> Vec<String> {
    let mut v: Vec<String> = users
        .as_array()
        .unwrap_or_else(|| panic!("not a list of users: {users}"))
        .iter()
        .map(|u| u["email"].as_str().unwrap_or_default().to_string())
        .collect();
    v.sort();
    v
}

fn sorted(list: &Value) -> Vec<String> {
    let mut v: Vec<String> = list
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .map(|s| s.as_str().unwrap_or_default().to_string())
        .collect();
    v.sort();
    v
}

both_backends!(
    a_create_with_the_old_clients_body_makes_a_draft,
    language_id_1033_renders_the_english_template,
    the_shipped_templates_render_link_and_tenant,
    settings_publish_the_tenants_policy,
    an_update_reaches_the_bot_in_utc_and_rerenders,
    a_link_type_outside_the_policy_is_refused,
    a_required_access_code_cannot_be_empty,
    an_end_before_the_start_is_the_bots_reason,
    only_the_creator_and_admins_may_act,
    a_delete_cancels_the_meeting,
    a_bot_url_without_trailing_slash_serves_every_call,
    basic_and_no_auth_bots_are_reached,
    an_ad_login_bot_knows_users_by_login,
);

fn logins(users: &Value) -> Vec<String> {
    let mut v: Vec<String> = users
        .as_array()
        .unwrap_or_else(|| panic!("not a list of users: {users}"))
        .iter()
        .map(|u| u["ad_login"].as_str().unwrap_or_default().to_string())
        .collect();
    v.sort();
    v
}

async fn a_create_with_the_old_clients_body_makes_a_draft(backend: Backend) {
    let env = env(backend);
    let user = "draft@acme.test";
    // No X-Xgate-User: the old client names the user only in the body.
    let created = env
        .gw
        .on_port("acme")
        .post("/api/meetings", &old_client_create(user, 1049))
        .await
        .expect(201);

    let id = str_of(&created, "id");
    assert_eq!(id.len(), 36, "a UUID: {id}");
    let call_id = str_of(&created, "callId");
    let link = str_of(&created, "link");
    assert!(link.starts_with("https://xlnk.ms/join/room/"), "{link}");
    assert_eq!(created["linkType"], "public");
    let pin = str_of(&created, "accessCode");
    assert!(!pin.is_empty(), "public needs a PIN under acme's policy");
    assert_eq!(created["language"], "ru");
    assert_eq!(created["creator"], user);
    assert_eq!(created["status"], "active");

    let html = html(&created);
    assert!(html.contains(RU_TEMPLATE_MARK), "the ru template: {html}");
    assert!(!html.contains(EN_TEMPLATE_MARK));
    assert!(html.contains(link), "the join link: {html}");
    assert!(html.contains("ACME Holding"), "the tenant's name: {html}");
    assert!(
        html.contains(&format!("[{pin}]")),
        "the access code: {html}"
    );
    assert!(html.contains(user), "the organizer: {html}");
    assert!(subject(&created).starts_with("Приглашение: "), "{created}");

    // The bot holds the same conference, made by and for the user alone.
    let conf = env
        .sim
        .conference(call_id)
        .await
        .expect("the bot holds the conference");
    assert_eq!(conf["link"]["link"], link);
    assert_eq!(conf["link"]["link_type"], "public");
    assert_eq!(conf["link"]["access_code"], pin);
    assert_eq!(conf["creator"]["email"], user);
    assert_eq!(emails(&conf["members"]), [user]);
    assert_eq!(emails(&conf["admins"]), [user]);
    assert_eq!(env.sim.stats().await["last_auth_scheme"], "Bearer");

    // And xgate stored what it answered.
    let stored = env
        .gw
        .on_port("acme")
        .as_user(user)
        .meeting(id)
        .await
        .expect(200);
    for key in [
        "id",
        "callId",
        "link",
        "linkType",
        "accessCode",
        "language",
        "status",
    ] {
        assert_eq!(stored[key], created[key], "`{key}` as stored");
    }
    assert_eq!(html_of(&stored), html_of(&created));
}

fn html_of(v: &Value) -> String {
    html(v).to_string()
}

async fn language_id_1033_renders_the_english_template(backend: Backend) {
    let env = env(backend);
    let created = env
        .gw
        .on_port("acme")
        .post(
            "/api/meetings",
            &old_client_create("english@acme.test", 1033),
        )
        .await
        .expect(201);
    assert_eq!(created["language"], "en");
    let html = html(&created);
    assert!(html.contains(EN_TEMPLATE_MARK), "the en template: {html}");
    assert!(!html.contains(RU_TEMPLATE_MARK));
    assert!(html.contains(str_of(&created, "link")));
    assert!(html.contains("ACME Holding"));
    assert!(subject(&created).starts_with("Invitation: "), "{created}");
}

async fn the_shipped_templates_render_link_and_tenant(backend: Backend) {
    let env = env(backend);
    let globex = env.gw.on_port("globex");
    let en = globex
        .post("/api/meetings", &old_client_create("bob@globex.test", 1033))
        .await
        .expect(201);
    // Public is not allowed: the draft gets the most public allowed type, no PIN.
    assert_eq!(en["linkType"], "corporate");
    assert!(en["accessCode"].is_null(), "no PIN needed: {en}");
    let conf = env.sim.conference(str_of(&en, "callId")).await.unwrap();
    assert_eq!(conf["link"]["link_type"], "corporate");
    assert!(conf["link"]["access_code"].is_null());
    assert!(html(&en).contains(str_of(&en, "link")), "{en}");
    assert!(html(&en).contains("Globex Corporation"), "{en}");
    assert!(subject(&en).contains("video conference"), "{en}");

    let ru = globex
        .post("/api/meetings", &old_client_create("bob@globex.test", 1049))
        .await
        .expect(201);
    assert_eq!(ru["language"], "ru");
    assert!(subject(&ru).contains("Видеоконференция"), "{ru}");
    assert!(html(&ru).contains(str_of(&ru, "link")), "{ru}");
}

async fn settings_publish_the_tenants_policy(backend: Backend) {
    let env = env(backend);
    let acme = env
        .gw
        .on_port("acme")
        .as_user("anna@acme.test")
        .get("/api/settings")
        .await
        .expect(200);
    assert_eq!(acme["linkTypes"], json!(["public", "trusts", "corporate"]));
    assert_eq!(acme["accessCodeRequiredFor"], json!(["public", "trusts"]));
    assert_eq!(acme["defaultLanguage"], "ru");
    let globex = env
        .gw
        .on_port("globex")
        .as_user("bob@globex.test")
        .get("/api/settings")
        .await
        .expect(200);
    assert_eq!(globex["linkTypes"], json!(["corporate", "server"]));
    assert_eq!(globex["accessCodeRequiredFor"], json!([]));
    assert_eq!(globex["defaultLanguage"], "en");
}

async fn an_update_reaches_the_bot_in_utc_and_rerenders(backend: Backend) {
    let env = env(backend);
    let user = "updater@acme.test";
    let acme = env.gw.on_port("acme").as_user(user);
    let created = acme.create_meeting(user).await;
    let id = str_of(&created, "id");

    let updated = acme
        .update_meeting(
            id,
            &json!({
                "name": "Планёрка <отдела>",
                "members": ["b@acme.test", "C@Acme.Test"],
                "startAt": "2030-03-01T10:00:00+03:00",
                "endAt": "2030-03-01T11:30:00+03:00",
                "isRecurrent": true,
            }),
        )
        .await
        .expect(200);
    assert_eq!(updated["id"], id);
    assert_eq!(updated["name"], "Планёрка <отдела>");
    assert_eq!(updated["startAt"], "2030-03-01T07:00:00Z");
    assert_eq!(updated["endAt"], "2030-03-01T08:30:00Z");
    assert_eq!(updated["isRecurrent"], true);
    assert_eq!(
        sorted(&updated["members"]),
        ["b@acme.test", "c@acme.test", user],
        "the creator stays a member"
    );
    // A fresh invitation, the name HTML-escaped in the body.
    assert!(subject(&updated).contains("Планёрка <отдела>"), "{updated}");
    let html = html(&updated);
    assert!(html.contains("Планёрка &lt;отдела&gt;"), "escaped: {html}");
    assert!(!html.contains("<отдела>"), "never raw: {html}");
    assert!(
        html.contains("2030-03-01 07:00 UTC"),
        "start in UTC: {html}"
    );
    assert!(html.contains("2030-03-01 08:30 UTC"), "end in UTC: {html}");
    assert!(html.contains(str_of(&created, "link")));

    let conf = env
        .sim
        .conference(str_of(&created, "callId"))
        .await
        .unwrap();
    assert_eq!(conf["name"], "Планёрка <отдела>");
    assert_eq!(conf["start_at"], "2030-03-01T07:00:00.000000Z");
    assert_eq!(conf["end_at"], "2030-03-01T08:30:00.000000Z");
    assert_eq!(
        emails(&conf["members"]),
        ["b@acme.test", "c@acme.test", user]
    );

    let stored = acme.meeting(id).await.expect(200);
    for key in ["name", "startAt", "endAt", "members", "isRecurrent"] {
        assert_eq!(stored[key], updated[key], "`{key}` as stored");
    }
}

async fn a_link_type_outside_the_policy_is_refused(backend: Backend) {
    let env = env(backend);
    let user = "policy@acme.test";
    let acme = env.gw.on_port("acme").as_user(user);
    let created = acme.create_meeting(user).await;
    let id = str_of(&created, "id");

    let msg = acme
        .update_meeting(id, &json!({"linkType": "server", "accessCode": "1234"}))
        .await
        .expect_error(400, "policy_violation");
    assert!(is_russian(&msg), "acme speaks Russian: {msg}");
    for allowed in ["public", "trusts", "corporate"] {
        assert!(msg.contains(allowed), "lists `{allowed}`: {msg}");
    }
    let msg = acme
        .with_header("Accept-Language", "en")
        .update_meeting(id, &json!({"linkType": "server"}))
        .await
        .expect_error(400, "policy_violation");
    assert!(is_english(&msg), "{msg}");
    assert!(msg.contains("public, trusts, corporate"), "{msg}");

    // The bot was never asked.
    let conf = env
        .sim
        .conference(str_of(&created, "callId"))
        .await
        .unwrap();
    assert_eq!(conf["link"]["link_type"], "public");
    assert_eq!(conf["update_count"], 0);
    assert_eq!(acme.meeting(id).await.expect(200)["linkType"], "public");
}

async fn a_required_access_code_cannot_be_empty(backend: Backend) {
    let env = env(backend);
    let user = "pin@acme.test";
    let acme = env.gw.on_port("acme").as_user(user);
    let created = acme.create_meeting(user).await;
    let id = str_of(&created, "id");
    let call_id = str_of(&created, "callId");

    acme.update_meeting(id, &json!({"linkType": "trusts", "accessCode": ""}))
        .await
        .expect_error(400, "policy_violation");
    acme.update_meeting(id, &json!({"accessCode": "  "}))
        .await
        .expect_error(400, "policy_violation");
    assert_eq!(
        env.sim.conference(call_id).await.unwrap()["update_count"],
        0
    );

    // Corporate needs none; trusts with a PIN is fine.
    let corporate = acme
        .update_meeting(id, &json!({"linkType": "corporate", "accessCode": ""}))
        .await
        .expect(200);
    assert_eq!(corporate["linkType"], "corporate");
    assert_eq!(
        env.sim.conference(call_id).await.unwrap()["link"]["link_type"],
        "corporate"
    );
    let trusts = acme
        .update_meeting(id, &json!({"linkType": "trusts", "accessCode": "4321"}))
        .await
        .expect(200);
    assert_eq!(trusts["linkType"], "trusts");
    assert_eq!(trusts["accessCode"], "4321");
    assert!(html(&trusts).contains("[4321]"), "{trusts}");
    let conf = env.sim.conference(call_id).await.unwrap();
    assert_eq!(conf["link"]["link_type"], "trusts");
    assert_eq!(conf["link"]["access_code"], "4321");
}

async fn an_end_before_the_start_is_the_bots_reason(backend: Backend) {
    let env = env(backend);
    let user = "clock@acme.test";
    let acme = env.gw.on_port("acme").as_user(user);
    let created = acme.create_meeting(user).await;
    let id = str_of(&created, "id");

    let msg = acme
        .update_meeting(
            id,
            &json!({"startAt": "2030-03-01T12:00:00Z", "endAt": "2030-03-01T13:00:00+03:00"}),
        )
        .await
        .expect_error(400, "start_at_later_than_end_at");
    assert!(is_russian(&msg), "{msg}");
    let stored = acme.meeting(id).await.expect(200);
    assert_eq!(stored["startAt"], created["startAt"], "nothing changed");
    assert!(stored["endAt"].is_null());
}

async fn only_the_creator_and_admins_may_act(backend: Backend) {
    let env = env(backend);
    let owner = "owner@acme.test";
    let colleague = "colleague@acme.test";
    let acme = env.gw.on_port("acme");
    let created = acme.as_user(owner).create_meeting(owner).await;
    let id = str_of(&created, "id");
    let call_id = str_of(&created, "callId");

    let other = acme.as_user(colleague);
    other.meeting(id).await.expect_error(403, "forbidden");
    other
        .update_meeting(id, &json!({"name": "mine now"}))
        .await
        .expect_error(403, "forbidden");
    other
        .delete_meeting(id)
        .await
        .expect_error(403, "forbidden");
    let conf = env.sim.conference(call_id).await.expect("not deleted");
    assert_eq!(conf["update_count"], 0);

    // Made an admin, the colleague may read and change it (the bot agrees).
    let updated = acme
        .as_user(owner)
        .update_meeting(id, &json!({"admins": [colleague]}))
        .await
        .expect(200);
    assert_eq!(sorted(&updated["admins"]), [colleague, owner]);
    assert_eq!(
        emails(&env.sim.conference(call_id).await.unwrap()["admins"]),
        [colleague, owner]
    );
    other.meeting(id).await.expect(200);
    let renamed = other
        .update_meeting(id, &json!({"name": "Ретро"}))
        .await
        .expect(200);
    assert_eq!(renamed["name"], "Ретро");
    assert_eq!(env.sim.conference(call_id).await.unwrap()["name"], "Ретро");
}

async fn a_delete_cancels_the_meeting(backend: Backend) {
    let env = env(backend);
    let user = "cancel@acme.test";
    let acme = env.gw.on_port("acme").as_user(user);
    let created = acme.create_meeting(user).await;
    let id = str_of(&created, "id");
    let call_id = str_of(&created, "callId");

    let gone = acme.delete_meeting(id).await;
    assert_eq!(gone.status, 204, "{}", gone.body);
    assert!(gone.body.is_empty());
    assert!(
        env.sim.conference(call_id).await.is_none(),
        "gone on the bot"
    );

    acme.delete_meeting(id)
        .await
        .expect_error(404, "meeting_not_found");
    // The record stays, cancelled; it can no longer be changed.
    let stored = acme.meeting(id).await.expect(200);
    assert_eq!(stored["status"], "cancelled");
    acme.update_meeting(id, &json!({"name": "again"}))
        .await
        .expect_error(404, "meeting_not_found");
}

async fn a_bot_url_without_trailing_slash_serves_every_call(backend: Backend) {
    let env = env(backend);
    let user = "slash@globex.test";
    let globex = env.gw.on_port("globex").as_user(user);
    let created = globex.create_meeting(user).await;
    let id = str_of(&created, "id");
    let call_id = str_of(&created, "callId");
    assert!(env.sim.conference(call_id).await.is_some());
    globex
        .update_meeting(id, &json!({"name": "No slash"}))
        .await
        .expect(200);
    assert_eq!(
        env.sim.conference(call_id).await.unwrap()["name"],
        "No slash"
    );
    assert_eq!(globex.delete_meeting(id).await.status, 204);
    assert!(env.sim.conference(call_id).await.is_none());
}

async fn basic_and_no_auth_bots_are_reached(backend: Backend) {
    let env = env(backend);
    let basic = env.gw.shared().create_meeting("basic@initech.test").await;
    let stats = env.basic_sim.stats().await;
    assert_eq!(stats["last_auth_scheme"], "Basic", "{stats}");
    assert_eq!(stats["unauthorized"], 0, "{stats}");
    assert!(
        env.basic_sim
            .conference(str_of(&basic, "callId"))
            .await
            .is_some()
    );

    let open = env.gw.shared().create_meeting("open@hooli.test").await;
    let stats = env.open_sim.stats().await;
    assert!(
        stats["last_auth_scheme"].is_null(),
        "no credentials sent: {stats}"
    );
    assert!(
        env.open_sim
            .conference(str_of(&open, "callId"))
            .await
            .is_some()
    );
}

async fn an_ad_login_bot_knows_users_by_login(backend: Backend) {
    let env = env(backend);
    let user = "anna.k@hooli.test";
    let hooli = env.gw.shared().as_user(user);
    let created = hooli.create_meeting(user).await;
    let id = str_of(&created, "id");
    let call_id = str_of(&created, "callId");
    assert_eq!(created["creator"], user, "xgate keeps the address");

    let conf = env.open_sim.conference(call_id).await.unwrap();
    assert_eq!(conf["creator"]["ad_login"], "anna.k", "{conf}");
    assert!(conf["creator"]["email"].is_null(), "{conf}");
    assert_eq!(logins(&conf["admins"]), ["anna.k"]);

    hooli
        .update_meeting(id, &json!({"members": ["boris@hooli.test"]}))
        .await
        .expect(200);
    let conf = env.open_sim.conference(call_id).await.unwrap();
    assert_eq!(logins(&conf["members"]), ["anna.k", "boris"]);
    assert_eq!(hooli.delete_meeting(id).await.status, 204);
    assert!(env.open_sim.conference(call_id).await.is_none());
}
