//! Auth of bot API calls: 401 with an empty body on any failure, control plane left open.

mod common;

use axum::http::StatusCode;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::*;
use serde_json::Value;
use xgate_bot_sim::Auth;

const TOKEN: &str = "3bDewf52b3268sdg59f1f7fff33w01dd3c0431abcd";

fn assert_refused(a: &Answer, what: &str) {
    assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{what}");
    assert!(
        a.bytes.is_empty(),
        "{what}: body must be empty, got {:?}",
        String::from_utf8_lossy(&a.bytes)
    );
}

#[tokio::test]
async fn bearer_refuses_with_empty_body() {
    let t = TestSim::with_auth(Auth::Bearer {
        token: TOKEN.into(),
    });
    let body = create_body();
    let wrong = format!("Bearer {TOKEN}x");
    let basic = format!("Basic {}", STANDARD.encode(format!("u:{TOKEN}")));
    let cases: [(&str, Vec<(&str, &str)>); 4] = [
        ("no header", vec![]),
        ("wrong token", vec![("authorization", &wrong)]),
        ("wrong scheme", vec![("authorization", &basic)]),
        ("scheme only", vec![("authorization", "Bearer")]),
    ];
    for (what, headers) in &cases {
        assert_refused(&t.call_with("POST", BASE, headers, &body).await, what);
    }
    let id = uuid::Uuid::new_v4().to_string();
    let actor = serde_json::json!({"actor": "a@x.test"});
    assert_refused(
        &t.call("POST", &format!("{BASE}/{id}"), &actor).await,
        "update without token",
    );
    assert_refused(
        &t.call("DELETE", &format!("{BASE}/{id}"), &actor).await,
        "delete without token",
    );
    assert!(t.stored().await.is_empty());

    let good = format!("Bearer {TOKEN}");
    let a = t
        .call_with("POST", BASE, &[("authorization", &good)], &body)
        .await;
    assert_eq!(a.status, StatusCode::CREATED);

    let stats = t.control_get("/_sim/stats").await;
    assert_eq!(stats.status, StatusCode::OK);
    let stats_text = String::from_utf8_lossy(&stats.bytes).into_owned();
    assert!(!stats_text.contains(TOKEN), "stats must not leak the token");
    let stats = stats.json();
    assert_eq!(stats["unauthorized"], 6);
    assert_eq!(stats["calls"]["create"], 5);
    assert_eq!(stats["last_auth_scheme"], "Bearer");
}

#[tokio::test]
async fn basic_refuses_with_empty_body() {
    let t = TestSim::with_auth(Auth::Basic {
        user: "svc".into(),
        password: "pa:ss".into(),
    });
    let body = create_body();
    let good = format!("Basic {}", STANDARD.encode("svc:pa:ss"));
    let wrong_pw = format!("Basic {}", STANDARD.encode("svc:pass"));
    let wrong_user = format!("Basic {}", STANDARD.encode("root:pa:ss"));
    let cases: [(&str, Vec<(&str, &str)>); 5] = [
        ("no header", vec![]),
        ("wrong password", vec![("authorization", &wrong_pw)]),
        ("wrong user", vec![("authorization", &wrong_user)]),
        ("not base64", vec![("authorization", "Basic %%%")]),
        (
            "bearer instead",
            vec![("authorization", "Bearer svc:pa:ss")],
        ),
    ];
    for (what, headers) in &cases {
        assert_refused(&t.call_with("POST", BASE, headers, &body).await, what);
    }
    let a = t
        .call_with("POST", BASE, &[("authorization", &good)], &body)
        .await;
    assert_eq!(a.status, StatusCode::CREATED);
    assert_eq!(
        t.control_get("/_sim/stats").await.json()["last_auth_scheme"],
        "Basic"
    );
}

#[tokio::test]
async fn control_plane_needs_no_auth() {
    let t = TestSim::with_auth(Auth::Bearer {
        token: TOKEN.into(),
    });
    for path in [
        "/_sim/health",
        "/_sim/conferences",
        "/_sim/stats",
        "/_sim/behaviour",
    ] {
        assert_eq!(t.control_get(path).await.status, StatusCode::OK, "{path}");
    }
}

#[tokio::test]
async fn no_auth_records_missing_scheme() {
    let t = TestSim::open();
    let a = t
        .call_with(
            "POST",
            BASE,
            &[("authorization", "Bearer whatever")],
            &create_body(),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED);
    assert_eq!(
        t.control_get("/_sim/stats").await.json()["last_auth_scheme"],
        "Bearer"
    );
    assert_eq!(t.create(&create_body()).await.status, StatusCode::CREATED);
    assert_eq!(
        t.control_get("/_sim/stats").await.json()["last_auth_scheme"],
        Value::Null
    );
}
