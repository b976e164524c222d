//! A tenant's meetings are reachable only through that tenant: another tenant's port or
//! users never see, change or cancel them, even when both hold the same id.

use serde_json::json;
use xgate_tests::database::MeetingRow;
use xgate_tests::{Backend, BotSim, Lease, Shared, TenantSpec, Xgate, XgateSpec, both_backends};

struct Env {
    sim: BotSim,
    gw: Xgate,
}

static ENV: Shared<Env> = Shared::new();

fn env(backend: Backend) -> Lease<Env> {
    ENV.get(backend, |backend| {
        let sim = BotSim::bearer();
        let gw = XgateSpec::new(backend)
            .tenant(
                TenantSpec::new("acme", "ACME Holding", &["acme.test"])
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

both_backends!(
    another_tenant_never_finds_a_meeting,
    the_same_id_in_two_tenants_stays_apart,
    interleaved_requests_of_two_tenants_stay_apart,
);

async fn another_tenant_never_finds_a_meeting(backend: Backend) {
    let env = env(backend);
    let owner = "owner@acme.test";
    let acme = env.gw.on_port("acme").as_user(owner);
    let created = acme.create_meeting(owner).await;
    let id = created["id"].as_str().unwrap();
    let call_id = created["callId"].as_str().unwrap();

    let by_port = env.gw.on_port("globex").as_user("bob@globex.test");
    let by_domain = env.gw.shared().as_user("bob@globex.test");
    for api in [&by_port, &by_domain] {
        api.meeting(id).await.expect_error(404, "meeting_not_found");
        api.update_meeting(id, &json!({"name": "taken over"}))
            .await
            .expect_error(404, "meeting_not_found");
        api.delete_meeting(id)
            .await
            .expect_error(404, "meeting_not_found");
    }
    // The owner's own address does not open it through another tenant's port.
    env.gw
        .on_port("globex")
        .as_user(owner)
        .meeting(id)
        .await
        .expect_error(403, "domain_not_served");

    let stored = acme.meeting(id).await.expect(200);
    assert_eq!(stored["status"], "active");
    assert_eq!(stored["name"], created["name"]);
    let conf = env.sim.conference(call_id).await.expect("still on the bot");
    assert_eq!(conf["update_count"], 0);
}

async fn the_same_id_in_two_tenants_stays_apart(backend: Backend) {
    let env = env(backend);
    let owner = "twin@acme.test";
    let acme = env.gw.on_port("acme").as_user(owner);
    let created = acme.create_meeting(owner).await;
    let id = created["id"].as_str().unwrap();
    let call_id = created["callId"].as_str().unwrap();

    // globex holds a meeting with the very same id (of a conference its bot lost).
    let twin_link = "https://xlnk.ms/join/room/globexTwinRoom";
    env.gw
        .db
        .insert_meeting_row(
            "globex",
            &MeetingRow {
                id,
                call_id: "00000000-0000-4000-8000-0000000000aa",
                creator: "bob@globex.test",
                name: "Globex twin",
                link: twin_link,
                link_type: "corporate",
            },
        )
        .await;

    let globex = env.gw.on_port("globex").as_user("bob@globex.test");
    let twin = globex.meeting(id).await.expect(200);
    assert_eq!(twin["name"], "Globex twin");
    assert_eq!(twin["link"], twin_link);
    let own = acme.meeting(id).await.expect(200);
    assert_eq!(own["link"], created["link"]);
    assert_eq!(own["creator"], owner);

    // Cancelling globex's twin leaves acme's meeting and conference alone.
    let gone = globex.delete_meeting(id).await;
    assert_eq!(gone.status, 204, "{}", gone.body);
    assert_eq!(globex.meeting(id).await.expect(200)["status"], "cancelled");
    assert_eq!(acme.meeting(id).await.expect(200)["status"], "active");
    assert!(
        env.sim.conference(call_id).await.is_some(),
        "acme's conference stays"
    );
    env.gw
        .shared()
        .as_user("bob@globex.test")
        .meeting(id)
        .await
        .expect(200);
}

/// Many requests of both tenants at once, through the one pool (PostgreSQL) or the two
/// files (SQLite): each meeting lands in, and is found through, its own tenant only.
async fn interleaved_requests_of_two_tenants_stay_apart(backend: Backend) {
    let env = env(backend);
    const EACH: usize = 12;
    let mut creates = tokio::task::JoinSet::new();
    for i in 0..EACH {
        for (tenant, domain) in [("acme", "acme.test"), ("globex", "globex.test")] {
            let api = env.gw.shared();
            let user = format!("crowd{i}@{domain}");
            creates.spawn(async move {
                let created = api.as_user(&user).create_meeting(&user).await;
                (tenant, user, created["id"].as_str().unwrap().to_string())
            });
        }
    }
    let mut made = Vec::new();
    while let Some(done) = creates.join_next().await {
        made.push(done.expect("a create task"));
    }
    assert_eq!(made.len(), 2 * EACH);

    let mut reads = tokio::task::JoinSet::new();
    for (tenant, user, id) in made {
        let own = env.gw.on_port(tenant).as_user(&user);
        let (other, stranger) = match tenant {
            "acme" => ("globex", "stranger@globex.test"),
            _ => ("acme", "stranger@acme.test"),
        };
        let foreign = env.gw.on_port(other).as_user(stranger);
        reads.spawn(async move {
            let mine = own.meeting(&id).await.expect(200);
            assert_eq!(mine["creator"], user.as_str());
            foreign
                .meeting(&id)
                .await
                .expect_error(404, "meeting_not_found");
        });
    }
    while let Some(done) = reads.join_next().await {
        done.expect("a read task");
    }
}
