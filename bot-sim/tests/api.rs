//! Bot API behaviour: create, update, delete, every error reason, paths and dates.

mod common;

use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use common::*;
use serde_json::{Value, json};

fn parse_answer_date(v: &Value) -> DateTime<Utc> {
    let s = v.as_str().expect("date string");
    assert!(is_bot_date(s), "not the bot's date format: {s}");
    DateTime::parse_from_rfc3339(s)
        .expect("date")
        .with_timezone(&Utc)
}

#[tokio::test]
async fn create_answers_201_with_the_full_result() {
    let t = TestSim::open();
    let a = t.create(&create_body()).await;
    assert_eq!(a.status, StatusCode::CREATED);
    assert_eq!(a.content_type.as_deref(), Some("application/json"));
    let r = a.result();
    assert_eq!(r["name"], "test_plugin_001");
    assert!(is_uuid_v4(&r["call_id"]), "{r}");
    assert_eq!(r["start_at"], "2099-12-21T10:10:00.000000Z");
    assert_eq!(r["end_at"], "2099-12-21T11:10:00.000000Z");

    let members = r["members"].as_array().expect("members");
    assert_eq!(members.len(), 2);
    assert_eq!(members[0]["email"], "user001@mydomain.com");
    assert_eq!(members[1]["email"], "user002@mydomain.com");
    assert!(members.iter().all(|m| is_uuid_v4(&m["user_huid"])));
    assert_ne!(members[0]["user_huid"], members[1]["user_huid"]);

    let link = &r["link"];
    assert!(is_uuid_v4(&link["link_id"]), "{link}");
    assert_eq!(link["link_type"], "public");
    assert_eq!(link["access_code"], Value::Null);
    let url = link["link"].as_str().expect("link");
    let room = url
        .strip_prefix("https://xlnk.ms/join/room/")
        .expect("join URL prefix");
    assert!(!room.is_empty() && room.chars().all(|c| c.is_ascii_alphanumeric()));

    let stored = t.stored().await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0]["call_id"], r["call_id"]);
    assert_eq!(stored[0]["creator"]["email"], "user001@mydomain.com");
    assert_eq!(stored[0]["link"]["link"], url);
}

#[tokio::test]
async fn user_huids_are_stable_across_calls() {
    let t = TestSim::open();
    let a = t.create(&create_body()).await.result();
    let b = t.create(&create_body()).await.result();
    assert_eq!(a["members"][0]["user_huid"], b["members"][0]["user_huid"]);
    assert_ne!(a["call_id"], b["call_id"]);
    assert_ne!(a["link"]["link"], b["link"]["link"]);
}

#[tokio::test]
async fn create_defaults_name_start_and_end() {
    let t = TestSim::open();
    let before = Utc::now();
    let r = t
        .create(&json!({
            "members": ["a@x.test"],
            "admins": [],
            "creator": "a@x.test",
            "link": {"link_type": "corporate", "access_code": "1234"}
        }))
        .await
        .result();
    let after = Utc::now();
    assert_eq!(r["name"], "conference");
    let start = parse_answer_date(&r["start_at"]);
    assert!(start >= before - chrono::Duration::microseconds(1) && start <= after);
    assert_eq!(r["end_at"], Value::Null);
    assert_eq!(r["link"]["link_type"], "corporate");
    assert_eq!(r["link"]["access_code"], "1234");
}

#[tokio::test]
async fn draft_sentinel_dates_mean_not_set() {
    // Appendix 1 of the guide: the old service's draft conference.
    let t = TestSim::open();
    let before = Utc::now();
    let a = t
        .call(
            "POST",
            "/api/v1/conference_Bot/conferences/",
            &json!({
                "name": null,
                "members": ["Пользователь001@mydomain.com"],
                "admins": ["Пользователь001@mydomain.com"],
                "creator": "Пользователь001@mydomain.com",
                "start_at": "0001-01-01T00:00:00",
                "end_at": "0001-01-01T00:00:00",
                "link": {"link_type": "public", "access_code": null}
            }),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.json());
    let r = a.result();
    assert_eq!(r["name"], "conference");
    assert!(parse_answer_date(&r["start_at"]) >= before - chrono::Duration::microseconds(1));
    assert_eq!(r["end_at"], Value::Null);
    assert_eq!(r["members"][0]["email"], "Пользователь001@mydomain.com");
}

#[tokio::test]
async fn dates_with_offsets_and_fractions_are_answered_in_utc_microseconds() {
    let t = TestSim::open();
    let mut body = create_body();
    body["start_at"] = json!("2099-12-31T12:30:00+03:00");
    body["end_at"] = json!("2099-12-31T13:00:00.123456789+03:00");
    let r = t.create(&body).await.result();
    assert_eq!(r["start_at"], "2099-12-31T09:30:00.000000Z");
    assert_eq!(r["end_at"], "2099-12-31T10:00:00.123456Z");
}

#[tokio::test]
async fn all_paths_variants_reach_the_api() {
    let t = TestSim::open();
    for path in [
        "/api/v1/conference_bot/conferences",
        "/api/v1/conference_bot/conferences/",
        "/api/v1/conference_Bot/conferences/",
        "/API/V1/CONFERENCE_BOT/CONFERENCES",
    ] {
        let a = t.call("POST", path, &create_body()).await;
        assert_eq!(a.status, StatusCode::CREATED, "create via {path}");
    }
    let id = t.create_ok(&create_body()).await;
    let actor = json!({"actor": "user001@mydomain.com"});
    for path in [
        format!("{BASE}/{id}"),
        format!("{BASE}/{id}/"),
        format!("/api/v1/conference_Bot/conferences/{id}/"),
        format!("{BASE}/{}", id.to_uppercase()),
    ] {
        let a = t.call("POST", &path, &actor).await;
        assert_eq!(a.status, StatusCode::OK, "update via {path}");
    }
    let a = t
        .call(
            "DELETE",
            &format!("/api/v1/conference_Bot/conferences/{id}/"),
            &actor,
        )
        .await;
    assert_eq!(a.status, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn custom_base_path() {
    let t = TestSim::new(xgate_bot_sim::Config {
        base_path: "/bot/".into(),
        ..Default::default()
    });
    assert_eq!(
        t.call("POST", "/bot", &create_body()).await.status,
        StatusCode::CREATED
    );
    assert_eq!(
        t.call("POST", BASE, &create_body()).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn unknown_paths_and_methods() {
    let t = TestSim::open();
    let a = t.call("POST", "/api/v1/other", &create_body()).await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    let a = t.raw("GET", BASE, &[], None).await;
    assert_eq!(a.status, StatusCode::METHOD_NOT_ALLOWED);
    let a = t.call("POST", &format!("{BASE}/a/b"), &create_body()).await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn invalid_attributes_on_create() {
    let t = TestSim::open();
    let mutate = |f: &dyn Fn(&mut Value)| {
        let mut b = create_body();
        f(&mut b);
        b
    };
    let cases: Vec<(&str, Value)> = vec![
        (
            "no members",
            mutate(&|b| drop(b.as_object_mut().unwrap().remove("members"))),
        ),
        (
            "no admins",
            mutate(&|b| drop(b.as_object_mut().unwrap().remove("admins"))),
        ),
        (
            "no creator",
            mutate(&|b| drop(b.as_object_mut().unwrap().remove("creator"))),
        ),
        ("null creator", mutate(&|b| b["creator"] = Value::Null)),
        (
            "no link",
            mutate(&|b| drop(b.as_object_mut().unwrap().remove("link"))),
        ),
        (
            "no link_type",
            mutate(&|b| b["link"] = json!({"access_code": null})),
        ),
        (
            "null link_type",
            mutate(&|b| b["link"]["link_type"] = Value::Null),
        ),
        (
            "unknown link_type",
            mutate(&|b| b["link"]["link_type"] = json!("secret")),
        ),
        (
            "members not a list",
            mutate(&|b| b["members"] = json!("a@x.test")),
        ),
        (
            "members not strings",
            mutate(&|b| b["members"] = json!([1, 2])),
        ),
        ("name not a string", mutate(&|b| b["name"] = json!(5))),
        (
            "bad date",
            mutate(&|b| b["start_at"] = json!("2023-12-21T10:10:00.OZ")),
        ),
        ("date not a string", mutate(&|b| b["end_at"] = json!(12345))),
        (
            "bad contact_type",
            mutate(&|b| b["contact_type"] = json!("phone")),
        ),
        (
            "access_code number",
            mutate(&|b| b["link"]["access_code"] = json!(1234)),
        ),
    ];
    for (what, body) in cases {
        let a = t.create(&body).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{what}");
        a.assert_error(400, "invalid_attributes");
    }

    let a = t
        .raw(
            "POST",
            BASE,
            &[("content-type", "application/json")],
            Some(b"{\"members\": [".to_vec()),
        )
        .await;
    a.assert_error(400, "invalid_attributes");
    let a = t
        .raw(
            "POST",
            BASE,
            &[("content-type", "application/json")],
            Some(b"[]".to_vec()),
        )
        .await;
    a.assert_error(400, "invalid_attributes");
    let a = t
        .raw("POST", BASE, &[("content-type", "application/json")], None)
        .await;
    a.assert_error(400, "invalid_attributes");
    // The real bot only parses JSON bodies, so a missing content-type loses every field.
    let a = t
        .raw(
            "POST",
            BASE,
            &[],
            Some(create_body().to_string().into_bytes()),
        )
        .await;
    a.assert_error(400, "invalid_attributes");

    assert!(t.stored().await.is_empty(), "nothing may be stored");
}

#[tokio::test]
async fn invalid_attributes_lists_every_problem() {
    let t = TestSim::open();
    let a = t.create(&json!({"link": {"link_type": "nope"}})).await;
    a.assert_error(400, "invalid_attributes");
    let errors = a.json()["errors"].as_array().unwrap().len();
    assert!(
        errors >= 4,
        "members, admins, creator, link_type: {:?}",
        a.json()
    );
}

#[tokio::test]
async fn end_at_earlier_than_now() {
    let t = TestSim::open();
    let mut body = create_body();
    body["start_at"] = json!("2020-01-01T10:00:00Z");
    body["end_at"] = json!("2020-01-01T11:00:00Z");
    t.create(&body)
        .await
        .assert_error(400, "end_at_earlier_than_now");
    // A past start alone is fine.
    body["end_at"] = Value::Null;
    assert_eq!(t.create(&body).await.status, StatusCode::CREATED);
}

#[tokio::test]
async fn start_at_later_than_end_at() {
    let t = TestSim::open();
    let mut body = create_body();
    body["start_at"] = json!("2099-12-21T12:00:00Z");
    body["end_at"] = json!("2099-12-21T11:00:00Z");
    t.create(&body)
        .await
        .assert_error(400, "start_at_later_than_end_at");
}

const USERS: &str = "a@x.test:alice,b@x.test:bob,dup@x.test:d1,dup@x.test:d2,e@x.test:d2";

#[tokio::test]
async fn closed_directory_creator_not_found() {
    let t = TestSim::with_users(USERS);
    let mut body = create_body();
    body["members"] = json!(["a@x.test"]);
    body["creator"] = json!("ghost@x.test");
    t.create(&body).await.assert_error(400, "creator_not_found");
}

#[tokio::test]
async fn closed_directory_no_users_found() {
    let t = TestSim::with_users(USERS);
    let mut body = create_body();
    body["creator"] = json!("a@x.test");
    body["members"] = json!(["ghost@x.test", "nobody@x.test"]);
    t.create(&body).await.assert_error(400, "no_users_found");
    body["members"] = json!([]);
    t.create(&body).await.assert_error(400, "no_users_found");
}

#[tokio::test]
async fn closed_directory_drops_unknown_members() {
    let t = TestSim::with_users(USERS);
    let mut body = create_body();
    body["creator"] = json!("a@x.test");
    body["admins"] = json!(["a@x.test"]);
    body["members"] = json!(["ghost@x.test", "B@X.TEST", "a@x.test"]);
    let r = t.create(&body).await.result();
    let emails: Vec<&str> = r["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["email"].as_str().unwrap())
        .collect();
    assert_eq!(emails, ["b@x.test", "a@x.test"]);
}

#[tokio::test]
async fn closed_directory_multiple_users_found_by_email() {
    let t = TestSim::with_users(USERS);
    let mut body = create_body();
    body["creator"] = json!("a@x.test");
    body["members"] = json!(["a@x.test", "dup@x.test"]);
    t.create(&body)
        .await
        .assert_error(503, "multiple_users_found_by_email");
    body["members"] = json!(["a@x.test"]);
    body["creator"] = json!("dup@x.test");
    t.create(&body)
        .await
        .assert_error(503, "multiple_users_found_by_email");
}

#[tokio::test]
async fn closed_directory_multiple_users_found_by_ad_login() {
    let t = TestSim::with_users(USERS);
    let body = json!({
        "contact_type": "ad_login",
        "members": ["alice", "d2"],
        "admins": ["alice"],
        "creator": "alice",
        "link": {"link_type": "trusts"}
    });
    t.create(&body)
        .await
        .assert_error(503, "multiple_users_found_by_ad_login");
}

#[tokio::test]
async fn ad_login_members_are_answered_by_ad_login() {
    let t = TestSim::with_users(USERS);
    let r = t
        .create(&json!({
            "contact_type": "ad_login",
            "members": ["ALICE", "bob", "d1"],
            "admins": ["alice"],
            "creator": "alice",
            "link": {"link_type": "server"}
        }))
        .await
        .result();
    let members = r["members"].as_array().unwrap();
    assert_eq!(members.len(), 3);
    assert_eq!(members[0]["ad_login"], "alice");
    assert!(members[0].get("email").is_none());
    assert_eq!(members[2]["ad_login"], "d1");
    assert!(members.iter().all(|m| is_uuid_v4(&m["user_huid"])));
}

#[tokio::test]
async fn update_changes_fields_and_keeps_null_link_type() {
    let t = TestSim::open();
    let mut body = create_body();
    body["link"] = json!({"link_type": "trusts", "access_code": "9999"});
    let created = t.create(&body).await.result();
    let id = created["call_id"].as_str().unwrap();
    // Appendix 1 of the guide: the old service's update after the letter is sent.
    let a = t
        .update(
            id,
            &json!({
                "name": "Change name",
                "members": ["user001@mydomain.com", "user003@mydomain.com"],
                "admins": ["user001@mydomain.com"],
                "actor": "user001@mydomain.com",
                "start_at": "2099-12-31T12:30:00+03:00",
                "end_at": "2099-12-31T13:00:00+03:00",
                "link": {"link_type": null, "access_code": null}
            }),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK);
    let r = a.result();
    assert_eq!(r["call_id"], created["call_id"]);
    assert_eq!(r["name"], "Change name");
    assert_eq!(r["start_at"], "2099-12-31T09:30:00.000000Z");
    assert_eq!(r["end_at"], "2099-12-31T10:00:00.000000Z");
    assert_eq!(r["members"][1]["email"], "user003@mydomain.com");
    assert_eq!(r["members"].as_array().unwrap().len(), 2);
    assert_eq!(r["link"]["link_type"], "trusts");
    assert_eq!(r["link"]["access_code"], "9999");
    assert_eq!(r["link"]["link"], created["link"]["link"]);
    assert_eq!(r["link"]["link_id"], created["link"]["link_id"]);

    let stored = t.stored().await;
    assert_eq!(stored[0]["name"], "Change name");
    assert_eq!(stored[0]["update_count"], 1);

    let r = t
        .update(
            id,
            &json!({"actor": "user001@mydomain.com", "link": {"link_type": "server"}}),
        )
        .await
        .result();
    assert_eq!(r["link"]["link_type"], "server");
    assert_eq!(r["name"], "Change name");
    assert_eq!(r["start_at"], "2099-12-31T09:30:00.000000Z");
}

#[tokio::test]
async fn update_of_a_draft_fills_it_in() {
    let t = TestSim::open();
    let id = t
        .create_ok(&json!({
            "name": null,
            "members": ["a@x.test"],
            "admins": ["a@x.test"],
            "creator": "a@x.test",
            "start_at": "0001-01-01T00:00:00",
            "end_at": "0001-01-01T00:00:00",
            "link": {"link_type": "public", "access_code": null}
        }))
        .await;
    let r = t
        .update(
            &id,
            &json!({
                "actor": "a@x.test",
                "start_at": "2099-01-01T10:00:00Z",
                "end_at": "2099-01-01T11:00:00Z"
            }),
        )
        .await
        .result();
    assert_eq!(r["start_at"], "2099-01-01T10:00:00.000000Z");
    assert_eq!(r["end_at"], "2099-01-01T11:00:00.000000Z");
}

#[tokio::test]
async fn update_errors() {
    let t = TestSim::with_users(USERS);
    let mut body = create_body();
    body["creator"] = json!("a@x.test");
    body["admins"] = json!(["a@x.test"]);
    body["members"] = json!(["a@x.test", "b@x.test"]);
    let id = t.create_ok(&body).await;

    t.update(&id, &json!({"name": "x"}))
        .await
        .assert_error(400, "invalid_attributes");
    t.update(
        &id,
        &json!({"actor": "a@x.test", "link": {"link_type": "bogus"}}),
    )
    .await
    .assert_error(400, "invalid_attributes");
    t.update(
        &uuid::Uuid::new_v4().to_string(),
        &json!({"actor": "a@x.test"}),
    )
    .await
    .assert_error(404, "conference_not_found");
    t.update("not-a-uuid", &json!({"actor": "a@x.test"}))
        .await
        .assert_error(404, "conference_not_found");
    t.update(&id, &json!({"actor": "ghost@x.test"}))
        .await
        .assert_error(400, "actor_not_found");
    t.update(&id, &json!({"actor": "dup@x.test"}))
        .await
        .assert_error(503, "multiple_users_found_by_email");
    // b is a member but not an admin.
    t.update(&id, &json!({"actor": "b@x.test", "name": "hijack"}))
        .await
        .assert_error(400, "not_permitted");
    t.update(
        &id,
        &json!({"actor": "a@x.test", "end_at": "2020-01-01T00:00:00Z"}),
    )
    .await
    .assert_error(400, "end_at_earlier_than_now");
    // Against the stored end (11:10), a new start of 12:00 is later.
    t.update(
        &id,
        &json!({"actor": "a@x.test", "start_at": "2099-12-21T12:00:00Z"}),
    )
    .await
    .assert_error(400, "start_at_later_than_end_at");
    t.update(
        &id,
        &json!({"actor": "a@x.test", "members": ["ghost@x.test"]}),
    )
    .await
    .assert_error(400, "no_users_found");

    let stored = t.stored().await;
    assert_eq!(
        stored[0]["name"], "test_plugin_001",
        "rejected updates change nothing"
    );
    assert_eq!(stored[0]["update_count"], 0);
    assert_eq!(stored[0]["members"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn admins_can_update_creator_stays_admin() {
    let t = TestSim::with_users(USERS);
    let mut body = create_body();
    body["creator"] = json!("a@x.test");
    body["admins"] = json!(["b@x.test"]);
    body["members"] = json!(["a@x.test", "b@x.test"]);
    let id = t.create_ok(&body).await;
    for actor in ["b@x.test", "a@x.test"] {
        let a = t.update(&id, &json!({"actor": actor, "name": actor})).await;
        assert_eq!(a.status, StatusCode::OK, "{actor}");
    }
}

#[tokio::test]
async fn delete_answers_204_empty_and_removes() {
    let t = TestSim::open();
    let id = t.create_ok(&create_body()).await;
    let keep = t.create_ok(&create_body()).await;
    let a = t
        .delete(&id, &json!({"actor": "user001@mydomain.com"}))
        .await;
    assert_eq!(a.status, StatusCode::NO_CONTENT);
    assert!(a.bytes.is_empty());
    let stored = t.stored().await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0]["call_id"], keep);
    t.delete(&id, &json!({"actor": "user001@mydomain.com"}))
        .await
        .assert_error(404, "conference_not_found");
}

#[tokio::test]
async fn delete_errors() {
    let t = TestSim::with_users(USERS);
    let mut body = create_body();
    body["creator"] = json!("a@x.test");
    body["admins"] = json!([]);
    body["members"] = json!(["a@x.test", "b@x.test"]);
    let id = t.create_ok(&body).await;

    t.delete(&id, &json!({}))
        .await
        .assert_error(400, "invalid_attributes");
    let a = t
        .raw(
            "DELETE",
            &format!("{BASE}/{id}"),
            &[("content-type", "application/json")],
            None,
        )
        .await;
    a.assert_error(400, "invalid_attributes");
    t.delete(&id, &json!({"actor": "ghost@x.test"}))
        .await
        .assert_error(400, "actor_not_found");
    t.delete(&id, &json!({"actor": "b@x.test"}))
        .await
        .assert_error(400, "not_permitted");
    t.delete(
        &uuid::Uuid::new_v4().to_string(),
        &json!({"actor": "a@x.test"}),
    )
    .await
    .assert_error(404, "conference_not_found");
    t.delete(&id, &json!({"contact_type": "ad_login", "actor": "d2"}))
        .await
        .assert_error(503, "multiple_users_found_by_ad_login");
    assert_eq!(t.stored().await.len(), 1);

    let a = t
        .delete(&id, &json!({"contact_type": "ad_login", "actor": "alice"}))
        .await;
    assert_eq!(a.status, StatusCode::NO_CONTENT);
    assert!(t.stored().await.is_empty());
}
