//! Test helpers: drive the simulator's axum app in-process and decode its answers.
#![allow(dead_code)]

use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{Request, StatusCode};
use serde_json::{Value, json};
use tower::ServiceExt;
use xgate_bot_sim::users::{Directory, parse_users_inline};
use xgate_bot_sim::{Auth, Config, Sim, app};

pub const BASE: &str = "/api/v1/conference_bot/conferences";

pub struct Answer {
    pub status: StatusCode,
    pub content_type: Option<String>,
    pub bytes: Bytes,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.bytes).unwrap_or_else(|e| {
            panic!(
                "answer is not JSON ({e}): {:?}",
                String::from_utf8_lossy(&self.bytes)
            )
        })
    }

    pub fn result(&self) -> Value {
        let v = self.json();
        assert_eq!(v["status"], "ok", "not a success envelope: {v}");
        v["result"].clone()
    }

    /// Asserts a complete error envelope with `reason` and answer status `status`.
    pub fn assert_error(&self, status: u16, reason: &str) {
        let v = self.json();
        assert_eq!(self.status.as_u16(), status, "status for {v}");
        assert_eq!(v["status"], "error", "{v}");
        assert_eq!(v["reason"], reason, "{v}");
        assert!(v["error_data"].is_object(), "{v}");
        let errors = v["errors"].as_array().expect("errors must be a list");
        assert!(
            !errors.is_empty() && errors.iter().all(Value::is_string),
            "{v}"
        );
    }
}

pub struct TestSim {
    pub app: Router,
    pub sim: Arc<Sim>,
}

impl TestSim {
    pub fn new(config: Config) -> Self {
        let sim = Arc::new(Sim::new(config));
        Self {
            app: app(sim.clone()),
            sim,
        }
    }

    pub fn open() -> Self {
        Self::new(Config::default())
    }

    pub fn with_users(inline: &str) -> Self {
        let users = Directory::closed(parse_users_inline(inline).expect("users list"));
        Self::new(Config {
            users,
            ..Config::default()
        })
    }

    pub fn with_auth(auth: Auth) -> Self {
        Self::new(Config {
            auth,
            ..Config::default()
        })
    }

    pub async fn raw(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Vec<u8>>,
    ) -> Answer {
        let mut req = Request::builder().method(method).uri(path);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req
            .body(body.map(Body::from).unwrap_or_else(Body::empty))
            .expect("request");
        let resp = self.app.clone().oneshot(req).await.expect("infallible");
        let status = resp.status();
        let content_type = resp
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap_or_default().to_owned());
        let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .expect("body");
        Answer {
            status,
            content_type,
            bytes,
        }
    }

    /// A bot API call with JSON headers as the real client sends them.
    pub async fn call(&self, method: &str, path: &str, body: &Value) -> Answer {
        self.call_with(method, path, &[], body).await
    }

    pub async fn call_with(
        &self,
        method: &str,
        path: &str,
        extra: &[(&str, &str)],
        body: &Value,
    ) -> Answer {
        let mut headers = vec![
            ("content-type", "application/json"),
            ("accept", "application/json"),
        ];
        headers.extend_from_slice(extra);
        self.raw(method, path, &headers, Some(body.to_string().into_bytes()))
            .await
    }

    pub async fn create(&self, body: &Value) -> Answer {
        self.call("POST", BASE, body).await
    }

    pub async fn update(&self, call_id: &str, body: &Value) -> Answer {
        self.call("POST", &format!("{BASE}/{call_id}"), body).await
    }

    pub async fn delete(&self, call_id: &str, body: &Value) -> Answer {
        self.call("DELETE", &format!("{BASE}/{call_id}"), body)
            .await
    }

    /// Creates a valid conference and returns its `call_id`.
    pub async fn create_ok(&self, body: &Value) -> String {
        let a = self.create(body).await;
        assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.json());
        a.result()["call_id"].as_str().expect("call_id").to_owned()
    }

    pub async fn control_get(&self, path: &str) -> Answer {
        self.raw("GET", path, &[], None).await
    }

    pub async fn control_post(&self, path: &str, body: &Value) -> Answer {
        self.raw("POST", path, &[], Some(body.to_string().into_bytes()))
            .await
    }

    pub async fn stored(&self) -> Vec<Value> {
        let a = self.control_get("/_sim/conferences").await;
        assert_eq!(a.status, StatusCode::OK);
        a.json().as_array().expect("list").clone()
    }
}

/// A valid create body, as in the guide's curl example but in the future.
pub fn create_body() -> Value {
    json!({
        "name": "test_plugin_001",
        "members": ["user001@mydomain.com", "user002@mydomain.com"],
        "admins": ["user001@mydomain.com"],
        "creator": "user001@mydomain.com",
        "start_at": "2099-12-21T10:10:00.0Z",
        "end_at": "2099-12-21T11:10:00.0Z",
        "link": {"link_type": "public", "access_code": null}
    })
}

/// True for the bot's date format, e.g. `2022-10-31T10:10:46.275304Z`.
pub fn is_bot_date(s: &str) -> bool {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| r.into_iter().all(|i| b[i].is_ascii_digit());
    b.len() == 27
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && b[10] == b'T'
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19)
        && b[19] == b'.'
        && digits(20..26)
        && b[26] == b'Z'
}

pub fn is_uuid_v4(v: &Value) -> bool {
    v.as_str()
        .and_then(|s| uuid::Uuid::parse_str(s).ok())
        .is_some_and(|u| u.get_version_num() == 4)
}
