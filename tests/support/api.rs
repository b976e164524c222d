//! Speaking the add-in API: a client bound to one listener (and optionally one user),
//! answers with their body kept as text, and the assertions every test makes on them
//! (status, the one error shape, no secret in any body).

use std::sync::{Arc, Once};

use reqwest::header::HeaderMap;
use reqwest::{Method, RequestBuilder};
use serde_json::Value;

/// The header through which mode `none` names the user.
pub const USER_HEADER: &str = "X-Xgate-User";

/// The body the old Outlook client sends when the user presses the add-in button.
pub fn old_client_create(creator: &str, language_id: u32) -> Value {
    serde_json::json!({
        "Creator": creator,
        "LanguageId": language_id,
        "isRecurrent": false,
        "$type": "MeetingCreateRequest",
    })
}

/// A reqwest client for loopback: no proxy, reqwest's TLS provider chosen (reqwest is
/// built without one; plain http never uses it, but building a client needs it).
pub fn http() -> reqwest::Client {
    static PROVIDER: Once = Once::new();
    PROVIDER.call_once(|| {
        #[allow(deprecated)]
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
    reqwest::Client::builder()
        .no_proxy()
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .expect("an HTTP client")
}

/// A client for one listener of one xgate. Cheap to clone and to derive from.
#[derive(Clone)]
pub struct Api {
    http: reqwest::Client,
    base: String,
    user: Option<String>,
    headers: Vec<(String, String)>,
    secrets: Arc<Vec<String>>,
}

impl Api {
    /// `secrets` must never appear in an answer's body.
    pub fn new(base: impl Into<String>, secrets: Arc<Vec<String>>) -> Api {
        Api {
            http: http(),
            base: base.into(),
            user: None,
            headers: Vec::new(),
            secrets,
        }
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// Every request names this user in `X-Xgate-User`.
    pub fn as_user(&self, mail: &str) -> Api {
        Api {
            user: Some(mail.to_string()),
            ..self.clone()
        }
    }

    /// Every request carries this header too.
    pub fn with_header(&self, name: &str, value: &str) -> Api {
        let mut api = self.clone();
        api.headers.push((name.to_string(), value.to_string()));
        api
    }

    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let mut rb = self.http.request(method, format!("{}{path}", self.base));
        if let Some(user) = &self.user {
            rb = rb.header(USER_HEADER, user);
        }
        for (k, v) in &self.headers {
            rb = rb.header(k, v);
        }
        rb
    }

    pub async fn send(&self, rb: RequestBuilder) -> Reply {
        let resp = rb.send().await.expect("the request reaches xgate");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp.text().await.expect("the whole answer");
        for secret in self.secrets.iter() {
            assert!(
                !body.contains(secret.as_str()),
                "a bot secret appears in an answer (HTTP {status}): {body}"
            );
        }
        Reply {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send(self.request(Method::GET, path)).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Reply {
        self.send(self.request(Method::POST, path).json(body)).await
    }

    pub async fn put(&self, path: &str, body: &Value) -> Reply {
        self.send(self.request(Method::PUT, path).json(body)).await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        self.send(self.request(Method::DELETE, path)).await
    }

    /// Any bytes as a JSON-typed body.
    pub async fn post_raw(&self, path: &str, body: impl Into<reqwest::Body>) -> Reply {
        let rb = self
            .request(Method::POST, path)
            .header("content-type", "application/json")
            .body(body);
        self.send(rb).await
    }

    /// Creates a draft as the old client does; asserts 201 and returns the meeting.
    pub async fn create_meeting(&self, creator: &str) -> Value {
        self.post("/api/meetings", &old_client_create(creator, 1049))
            .await
            .expect(201)
    }

    pub async fn meeting(&self, id: &str) -> Reply {
        self.get(&format!("/api/meetings/{id}")).await
    }

    pub async fn update_meeting(&self, id: &str, change: &Value) -> Reply {
        self.put(&format!("/api/meetings/{id}"), change).await
    }

    pub async fn delete_meeting(&self, id: &str) -> Reply {
        self.delete(&format!("/api/meetings/{id}")).await
    }
}

/// One answer, body kept as text so a failed assertion can show it.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}), HTTP {}: {:?}", self.status, self.body))
    }

    /// Asserts the status; returns the JSON body (`null` when empty).
    pub fn expect(&self, status: u16) -> Value {
        assert_eq!(
            self.status, status,
            "expected HTTP {status}, got {}: {}",
            self.status, self.body
        );
        if self.body.is_empty() {
            Value::Null
        } else {
            self.json()
        }
    }

    /// Asserts the status, that the body is exactly `{"error":{"code","message"}}` and
    /// the code; returns the message.
    pub fn expect_error(&self, status: u16, code: &str) -> String {
        let body = self.expect(status);
        let (got_code, message) =
            error_of(&body).unwrap_or_else(|e| panic!("not the error shape ({e}): {}", self.body));
        assert_eq!(got_code, code, "error code of {}", self.body);
        message
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// `(code, message)` of a body that is exactly `{"error":{"code":s,"message":s}}`.
pub fn error_of(body: &Value) -> Result<(String, String), String> {
    let outer = body.as_object().ok_or("not an object")?;
    if outer.len() != 1 {
        return Err(format!(
            "top-level keys {:?}",
            outer.keys().collect::<Vec<_>>()
        ));
    }
    let inner = outer
        .get("error")
        .and_then(Value::as_object)
        .ok_or("no `error` object")?;
    let mut keys: Vec<&str> = inner.keys().map(String::as_str).collect();
    keys.sort_unstable();
    if keys != ["code", "message"] {
        return Err(format!("`error` keys {keys:?}"));
    }
    let code = inner["code"].as_str().ok_or("`code` is not a string")?;
    let message = inner["message"]
        .as_str()
        .ok_or("`message` is not a string")?;
    if code.is_empty() || message.trim().is_empty() {
        return Err("empty code or message".into());
    }
    Ok((code.to_string(), message.to_string()))
}

/// Whether a message is written in Russian (has Cyrillic letters).
pub fn is_russian(text: &str) -> bool {
    text.chars().any(|c| ('\u{0400}'..='\u{04FF}').contains(&c))
}

/// Whether a message is English: letters, and none of them Cyrillic.
pub fn is_english(text: &str) -> bool {
    !is_russian(text) && text.chars().any(|c| c.is_ascii_alphabetic())
}
