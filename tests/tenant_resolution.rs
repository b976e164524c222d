//! Which tenant serves a request: by the port it arrived on, or (on the shared
//! listener) by the user's mail domain; and who the user is in auth mode `none`.

use serde_json::json;
use xgate_tests::{
    Backend, BotSim, Lease, Shared, TenantSpec, XgateSpec, both_backends, old_client_create,
};

/// Two tenants on ports of their own plus the shared listener, one simulator.
struct Env {
    sim: BotSim,
    gw: xgate_tests::Xgate,
}

static ENV: Shared<Env> = Shared::new();

fn env(backend: Backend) -> Lease<Env> {
    ENV.get(backend, |backend| {
        let sim = BotSim::bearer();
        let gw = XgateSpec::new(backend)
            .tenant(
                TenantSpec::new("acme", "ACME Holding", &["acme.test", "corp.acme.test"])
                    .own_port()
                    .bot(&sim),
            )
            .tenant(
                TenantSpec::new("globex", "Globex Corporation", &["globex.test"])
                    .own_port()
                    .language("en")
                    .bot(&sim),
            )
            .start();
        Env { sim, gw }
    })
}

/// The tenant id `/api/settings` names for this caller.
async fn tenant_of(api: &xgate_tests::Api) -> String {
    let settings = api.get("/api/settings").await.expect(200);
    settings["tenant"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no tenant.id in {settings}"))
        .to_string()
}

/// How many of the simulator's conferences this user created.
async fn conferences_created_by(sim: &BotSim, mail: &str) -> usize {
    sim.conferences()
        .await
        .iter()
        .filter(|c| c["creator"]["email"] == mail)
        .count()
}

both_backends!(
    a_tenant_port_serves_its_tenant,
    the_shared_listener_resolves_by_mail_domain,
    domains_match_on_whole_labels,
    an_unknown_domain_is_tenant_not_found,
    a_foreign_user_on_a_tenant_port_is_domain_not_served,
    no_user_is_unauthenticated,
    the_creator_must_be_the_user,
);

async fn a_tenant_port_serves_its_tenant(backend: Backend) {
    let env = env(backend);
    let acme = env.gw.on_port("acme");
    let globex = env.gw.on_port("globex");
    assert_eq!(tenant_of(&acme.as_user("anna@acme.test")).await, "acme");
    assert_eq!(
        tenant_of(&acme.as_user("olga@corp.acme.test")).await,
        "acme"
    );
    assert_eq!(
        tenant_of(&globex.as_user("bob@globex.test")).await,
        "globex"
    );

    // The old client names the user only in the body.
    let meeting = acme.create_meeting("port-creator@acme.test").await;
    assert_eq!(meeting["creator"], "port-creator@acme.test");
    assert!(
        meeting["invitation"]["html"]
            .as_str()
            .unwrap()
            .contains("ACME Holding"),
        "rendered with acme's name: {meeting}"
    );
    assert_eq!(
        conferences_created_by(&env.sim, "port-creator@acme.test").await,
        1
    );
}

async fn the_shared_listener_resolves_by_mail_domain(backend: Backend) {
    let env = env(backend);
    let shared = env.gw.shared();
    assert_eq!(tenant_of(&shared.as_user("anna@acme.test")).await, "acme");
    assert_eq!(
        tenant_of(&shared.as_user("bob@globex.test")).await,
        "globex"
    );
    assert_eq!(
        tenant_of(&shared.as_user("olga@corp.acme.test")).await,
        "acme"
    );
    // A subdomain of a tenant's domain belongs to the tenant.
    assert_eq!(
        tenant_of(&shared.as_user("ivan@x.corp.acme.test")).await,
        "acme"
    );
    assert_eq!(
        tenant_of(&shared.as_user("ivan@mail.globex.test")).await,
        "globex"
    );
    // Addresses are matched case-insensitively.
    assert_eq!(
        tenant_of(&shared.as_user("Anna.Petrova@CORP.ACME.TEST")).await,
        "acme"
    );

    // A create names its user in `Creator` only; the meeting is acme's.
    let created = shared
        .post(
            "/api/meetings",
            &old_client_create("Shared.Creator@X.Corp.ACME.test", 1049),
        )
        .await
        .expect(201);
    assert_eq!(created["creator"], "shared.creator@x.corp.acme.test");
    let id = created["id"].as_str().unwrap();
    let via_acme = env
        .gw
        .on_port("acme")
        .as_user("shared.creator@x.corp.acme.test");
    assert_eq!(via_acme.meeting(id).await.expect(200)["id"], id);
    assert_eq!(
        conferences_created_by(&env.sim, "shared.creator@x.corp.acme.test").await,
        1
    );
}

async fn domains_match_on_whole_labels(backend: Backend) {
    let env = env(backend);
    let shared = env.gw.shared();
    for user in ["eve@notacme.test", "eve@acme.test.evil", "eve@xglobex.test"] {
        shared
            .as_user(user)
            .get("/api/settings")
            .await
            .expect_error(404, "tenant_not_found");
    }
}

async fn an_unknown_domain_is_tenant_not_found(backend: Backend) {
    let env = env(backend);
    let shared = env.gw.shared();
    let msg = shared
        .as_user("nobody@unknown.test")
        .get("/api/settings")
        .await
        .expect_error(404, "tenant_not_found");
    assert!(msg.contains("unknown.test"), "names the domain: {msg}");

    shared
        .post(
            "/api/meetings",
            &old_client_create("nobody@unknown.test", 1049),
        )
        .await
        .expect_error(404, "tenant_not_found");
    assert_eq!(
        conferences_created_by(&env.sim, "nobody@unknown.test").await,
        0
    );
}

async fn a_foreign_user_on_a_tenant_port_is_domain_not_served(backend: Backend) {
    let env = env(backend);
    let acme = env.gw.on_port("acme");
    acme.as_user("bob@globex.test")
        .get("/api/settings")
        .await
        .expect_error(403, "domain_not_served");
    acme.post(
        "/api/meetings",
        &old_client_create("intruder@globex.test", 1049),
    )
    .await
    .expect_error(403, "domain_not_served");
    assert_eq!(
        conferences_created_by(&env.sim, "intruder@globex.test").await,
        0
    );
    // Not even through the tenant's other port.
    env.gw
        .on_port("globex")
        .as_user("anna@acme.test")
        .get("/api/settings")
        .await
        .expect_error(403, "domain_not_served");
}

async fn no_user_is_unauthenticated(backend: Backend) {
    let env = env(backend);
    let acme = env.gw.on_port("acme");
    acme.get("/api/settings")
        .await
        .expect_error(401, "unauthenticated");
    acme.post("/api/meetings", &json!({}))
        .await
        .expect_error(401, "unauthenticated");
    acme.post(
        "/api/meetings",
        &json!({"LanguageId": 1049, "isRecurrent": false}),
    )
    .await
    .expect_error(401, "unauthenticated");
    env.gw
        .shared()
        .get("/api/settings")
        .await
        .expect_error(401, "unauthenticated");
}

async fn the_creator_must_be_the_user(backend: Backend) {
    let env = env(backend);
    let acme = env.gw.on_port("acme").as_user("signed-in@acme.test");
    acme.post(
        "/api/meetings",
        &old_client_create("someone-else@acme.test", 1049),
    )
    .await
    .expect_error(403, "creator_mismatch");
    assert_eq!(
        conferences_created_by(&env.sim, "someone-else@acme.test").await,
        0
    );
    assert_eq!(
        conferences_created_by(&env.sim, "signed-in@acme.test").await,
        0
    );

    // The same address in another case is the same user.
    let meeting = env
        .gw
        .on_port("acme")
        .as_user("Signed-In@ACME.test")
        .post(
            "/api/meetings",
            &old_client_create("signed-in@acme.test", 1049),
        )
        .await
        .expect(201);
    assert_eq!(meeting["creator"], "signed-in@acme.test");
}
