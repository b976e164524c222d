//! The few requests the benchmark makes, all to 127.0.0.1.

use std::net::SocketAddr;
use std::sync::Once;
use std::time::{Duration, Instant};

use serde_json::Value;

/// The header through which `auth.mode = "none"` names the user.
pub const USER_HEADER: &str = "X-Xgate-User";

/// An HTTP/1.1 keep-alive client for loopback. reqwest is built without a TLS provider;
/// building a client needs one even for plain http, so ring is installed once.
pub fn client(timeout: Duration) -> reqwest::Client {
    static PROVIDER: Once = Once::new();
    PROVIDER.call_once(|| {
        #[allow(deprecated)]
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
    reqwest::Client::builder()
        .no_proxy()
        .http1_only()
        .tcp_nodelay(true)
        .pool_max_idle_per_host(1)
        .timeout(timeout)
        .build()
        .expect("an HTTP client")
}

/// The status of `GET /readyz`, or `None` while nothing answers.
pub async fn readyz(client: &reqwest::Client, ops: SocketAddr) -> Option<u16> {
    let resp = client
        .get(format!("http://{ops}/readyz"))
        .send()
        .await
        .ok()?;
    let status = resp.status().as_u16();
    let _ = resp.bytes().await;
    Some(status)
}

/// `GET /api/settings` as `user`: the tenant name served and the config version header.
pub async fn settings_name(
    client: &reqwest::Client,
    shared: SocketAddr,
    user: &str,
) -> Result<(String, Option<u64>), String> {
    let resp = client
        .get(format!("http://{shared}/api/settings"))
        .header(USER_HEADER, user)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = resp.status();
    let version = resp
        .headers()
        .get("x-xgate-config-version")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    let body = resp.text().await.map_err(|e| e.to_string())?;
    if !status.is_success() {
        return Err(format!("{status}: {body}"));
    }
    let v: Value = serde_json::from_str(&body).map_err(|e| format!("{e}: {body}"))?;
    let name = v["tenant"]["name"]
        .as_str()
        .ok_or_else(|| format!("no tenant.name in {body}"))?;
    Ok((name.to_string(), version))
}

/// What `POST /reload` (or `GET /reload`) answered.
#[derive(Debug, Clone)]
pub struct Reload {
    pub took: Duration,
    pub status: u16,
    pub trigger: String,
    pub result: String,
    pub version: u64,
    pub tenants: u64,
    pub added: usize,
    pub changed: usize,
    pub removed: usize,
    pub stale: usize,
    pub rejected: usize,
    pub at: String,
    /// What xgate read: `tree`, or `changed-files` (the watcher's fast path).
    pub read: String,
    /// xgate's own measure of the reload, from its start to the swap.
    pub took_ms: Option<u64>,
}

impl Reload {
    fn parse(took: Duration, status: u16, body: &str) -> Result<Reload, String> {
        let v: Value = serde_json::from_str(body).map_err(|e| format!("{status}: {e}: {body}"))?;
        let len = |k: &str| {
            v[k].as_array()
                .map(Vec::len)
                .or_else(|| v[k].as_object().map(|o| o.len()))
                .unwrap_or(0)
        };
        Ok(Reload {
            took,
            status,
            trigger: v["trigger"].as_str().unwrap_or("?").to_string(),
            result: v["result"].as_str().unwrap_or("?").to_string(),
            version: v["version"].as_u64().unwrap_or(0),
            tenants: v["tenants"].as_u64().unwrap_or(0),
            added: len("added"),
            changed: len("changed"),
            removed: len("removed"),
            stale: len("stale"),
            rejected: len("rejected"),
            at: v["at"].as_str().unwrap_or("").to_string(),
            read: v["read"].as_str().unwrap_or("?").to_string(),
            took_ms: v["tookMs"].as_u64(),
        })
    }

    pub fn describe(&self) -> String {
        format!(
            "{} (HTTP {}), version {}, {} tenants, +{} ~{} -{}{}; {}",
            self.result,
            self.status,
            self.version,
            self.tenants,
            self.added,
            self.changed,
            self.removed,
            if self.stale + self.rejected > 0 {
                format!(", {} stale, {} rejected", self.stale, self.rejected)
            } else {
                String::new()
            },
            self.inside()
        )
    }

    /// What xgate says of the reload itself: what it read and how long it took.
    pub fn inside(&self) -> String {
        match self.took_ms {
            Some(ms) => format!("read {} in {ms} ms (xgate's measure)", self.read),
            None => format!("read {}", self.read),
        }
    }
}

/// `POST /reload` on the ops listener, timed from send to the whole answer read.
pub async fn post_reload(client: &reqwest::Client, ops: SocketAddr) -> Result<Reload, String> {
    timed_reload(client.post(format!("http://{ops}/reload"))).await
}

/// `GET /reload`: the last attempt.
pub async fn last_reload(client: &reqwest::Client, ops: SocketAddr) -> Result<Reload, String> {
    timed_reload(client.get(format!("http://{ops}/reload"))).await
}

async fn timed_reload(request: reqwest::RequestBuilder) -> Result<Reload, String> {
    let start = Instant::now();
    let resp = request.send().await.map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    let body = resp.text().await.map_err(|e| e.to_string())?;
    Reload::parse(start.elapsed(), status, &body)
}
