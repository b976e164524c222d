//! The `/_sim/` control plane: delays, injected failures, stats, listing, reset.

mod common;

use std::time::Duration;

use axum::http::StatusCode;
use common::*;
use serde_json::{Value, json};

#[tokio::test]
async fn health() {
    let t = TestSim::open();
    let a = t.control_get("/_sim/health").await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.json(), json!({"status": "ok"}));
}

// Paused time: the delay is asserted on the virtual clock, without real waiting.
#[tokio::test(start_paused = true)]
async fn delay_applies_to_every_bot_call() {
    let t = TestSim::open();
    let a = t
        .control_post("/_sim/behaviour", &json!({"delay_ms": 5000}))
        .await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.json()["delay_ms"], 5000);

    let start = tokio::time::Instant::now();
    let id = t.create_ok(&create_body()).await;
    assert!(start.elapsed() >= Duration::from_millis(5000));

    // A client with a shorter timeout gives up first.
    let start = tokio::time::Instant::now();
    let actor = json!({"actor": "user001@mydomain.com"});
    let update = t.update(&id, &actor);
    assert!(
        tokio::time::timeout(Duration::from_millis(4000), update)
            .await
            .is_err()
    );
    assert!(start.elapsed() < Duration::from_millis(5000));

    // The control plane itself is never delayed.
    let start = tokio::time::Instant::now();
    t.control_get("/_sim/conferences").await;
    assert_eq!(start.elapsed(), Duration::ZERO);
}

#[tokio::test]
async fn fail_next_times_calls_with_an_envelope() {
    let t = TestSim::open();
    let a = t
        .control_post(
            "/_sim/behaviour",
            &json!({"fail": {"status": 503, "reason": "service_unavailable"}, "times": 2}),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK);
    for _ in 0..2 {
        t.create(&create_body())
            .await
            .assert_error(503, "service_unavailable");
    }
    assert!(t.stored().await.is_empty(), "failed calls store nothing");
    assert_eq!(t.create(&create_body()).await.status, StatusCode::CREATED);

    let behaviour = t.control_get("/_sim/behaviour").await.json();
    assert_eq!(behaviour["fail"], Value::Null, "{behaviour}");
    let stats = t.control_get("/_sim/stats").await.json();
    assert_eq!(stats["injected_failures"], 2);
    assert_eq!(stats["calls"]["create"], 3);
}

#[tokio::test]
async fn fail_with_empty_body() {
    let t = TestSim::open();
    t.control_post(
        "/_sim/behaviour",
        &json!({"fail": {"status": 502, "reason": "ignored", "empty_body": true}, "times": 1}),
    )
    .await;
    let a = t.create(&create_body()).await;
    assert_eq!(a.status, StatusCode::BAD_GATEWAY);
    assert!(a.bytes.is_empty());

    // A bare status is answered bare.
    t.control_post(
        "/_sim/behaviour",
        &json!({"fail": {"status": 500}, "times": 1}),
    )
    .await;
    let a = t.create(&create_body()).await;
    assert_eq!(a.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(a.bytes.is_empty());
    assert_eq!(t.create(&create_body()).await.status, StatusCode::CREATED);
}

#[tokio::test]
async fn fail_without_times_fails_every_call() {
    let t = TestSim::open();
    let id = t.create_ok(&create_body()).await;
    t.control_post(
        "/_sim/behaviour",
        &json!({"fail": {"status": 400, "reason": "invalid_attributes"}}),
    )
    .await;
    let actor = json!({"actor": "user001@mydomain.com"});
    for _ in 0..3 {
        t.create(&create_body())
            .await
            .assert_error(400, "invalid_attributes");
        t.update(&id, &actor)
            .await
            .assert_error(400, "invalid_attributes");
        t.delete(&id, &actor)
            .await
            .assert_error(400, "invalid_attributes");
    }
    assert_eq!(t.stored().await.len(), 1);
    // Setting an empty behaviour clears it.
    t.control_post("/_sim/behaviour", &json!({})).await;
    assert_eq!(t.delete(&id, &actor).await.status, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn behaviour_is_validated() {
    let t = TestSim::open();
    for bad in [
        json!({"fail": {"status": 42}}),
        json!({"delay": 5}),
        json!({"fail": {"reason": "x"}}),
        json!({"delay_ms": -1}),
    ] {
        let a = t.control_post("/_sim/behaviour", &bad).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{bad}");
        assert!(a.json()["error"].is_string());
    }
    assert_eq!(
        t.control_get("/_sim/behaviour").await.json()["fail"],
        Value::Null
    );
}

#[tokio::test]
async fn stats_count_calls_per_operation() {
    let t = TestSim::open();
    let id = t.create_ok(&create_body()).await;
    t.create(&json!({}))
        .await
        .assert_error(400, "invalid_attributes");
    let actor = json!({"actor": "user001@mydomain.com"});
    t.update(&id, &actor).await;
    t.delete(&id, &actor).await;
    let stats = t.control_get("/_sim/stats").await.json();
    assert_eq!(
        stats,
        json!({
            "calls": {"create": 2, "update": 1, "delete": 1},
            "unauthorized": 0,
            "injected_failures": 0,
            "last_auth_scheme": null
        })
    );
}

#[tokio::test]
async fn conference_lookup_and_reset() {
    let t = TestSim::open();
    let id = t.create_ok(&create_body()).await;
    let a = t.control_get(&format!("/_sim/conferences/{id}")).await;
    assert_eq!(a.status, StatusCode::OK);
    let c = a.json();
    assert_eq!(c["call_id"], id);
    assert_eq!(c["name"], "test_plugin_001");
    assert_eq!(c["start_at"], "2099-12-21T10:10:00.000000Z");
    assert_eq!(c["admins"][0]["email"], "user001@mydomain.com");
    assert!(is_uuid_v4(&c["admins"][0]["user_huid"]));
    assert!(is_bot_date(c["created_at"].as_str().unwrap()));
    assert_eq!(c["updated_at"], Value::Null);

    let missing = uuid::Uuid::new_v4();
    for path in [
        format!("/_sim/conferences/{missing}"),
        "/_sim/conferences/nope".to_owned(),
    ] {
        assert_eq!(t.control_get(&path).await.status, StatusCode::NOT_FOUND);
    }

    t.control_post(
        "/_sim/behaviour",
        &json!({"delay_ms": 10, "fail": {"status": 500}}),
    )
    .await;
    let a = t.control_post("/_sim/reset", &json!({})).await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(t.stored().await.is_empty());
    assert_eq!(
        t.control_get("/_sim/behaviour").await.json(),
        json!({"delay_ms": null, "fail": null, "times": null})
    );
    assert_eq!(
        t.control_get("/_sim/stats").await.json()["calls"]["create"],
        0
    );
    assert_eq!(t.create(&create_body()).await.status, StatusCode::CREATED);
}
