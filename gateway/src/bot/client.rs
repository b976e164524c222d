//! HTTP calls to one tenant's bot, and the bot's failure modes sorted into the three
//! facts a caller needs: whose fault (the bot said no / the bot is misconfigured / the
//! bot is unreachable), what the bot said, and whether the conference may exist anyway.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use reqwest::{Method, StatusCode};
use xgate_tenants::config::{BotCredentials, BotSettings};

use super::wire::{Conference, ConferenceChange, ConferenceDraft, DeleteBody, Envelope};

#[derive(Debug, thiserror::Error)]
pub enum BotError {
    /// The bot answered with its error envelope: the request was understood and refused.
    #[error("the bot refused the request: {reason} (HTTP {status})")]
    Rejected {
        status: u16,
        reason: String,
        errors: Vec<String>,
    },
    /// An empty or non-JSON answer: what the bot (or the web server before it) gives
    /// to a request without a valid token.
    #[error("the bot answered HTTP {status} without a JSON body: wrong or missing credentials")]
    AuthFailed { status: u16 },
    /// JSON, but not the envelope the spec describes.
    #[error("the bot's answer does not follow the API: {0}")]
    Protocol(String),
    /// No answer in time, or no connection. The bot may still have acted.
    #[error("the bot is unreachable: {0}")]
    Unavailable(String),
    #[error("the bot answered, but timed out before the whole answer arrived")]
    TimedOut,
}

impl BotError {
    /// Short label for metrics and logs.
    pub fn outcome(&self) -> &str {
        match self {
            BotError::Rejected { reason, .. } => reason,
            BotError::AuthFailed { .. } => "auth_failed",
            BotError::Protocol(_) => "bad_response",
            BotError::Unavailable(_) => "unavailable",
            BotError::TimedOut => "timeout",
        }
    }
}

#[derive(Debug, Clone)]
pub struct BotClient {
    http: reqwest::Client,
    settings: BotSettings,
}

impl BotClient {
    /// The HTTP client (its connection pool) is shared by every tenant with the same
    /// connect timeout and CA: with thousands of tenants behind a few ETS servers, one pool
    /// per tenant would hold thousands of idle pools. The total timeout is per request.
    pub fn new(settings: BotSettings) -> Result<BotClient, String> {
        let http = shared_client(settings.connect_timeout, settings.ca_pem.as_deref())?;
        Ok(BotClient { http, settings })
    }

    pub fn settings(&self) -> &BotSettings {
        &self.settings
    }

    pub async fn create(&self, draft: &ConferenceDraft) -> Result<Conference, BotError> {
        let url = self.settings.url.clone();
        self.call(Method::POST, url, draft, StatusCode::CREATED)
            .await?
            .ok_or_else(no_result)
    }

    pub async fn update(
        &self,
        call_id: &str,
        change: &ConferenceChange,
    ) -> Result<Conference, BotError> {
        let url = self.conference_url(call_id)?;
        self.call(Method::POST, url, change, StatusCode::OK)
            .await?
            .ok_or_else(no_result)
    }

    pub async fn delete(&self, call_id: &str, actor: &str) -> Result<(), BotError> {
        let url = self.conference_url(call_id)?;
        let body = DeleteBody {
            actor,
            contact_type: self.settings.contact_type.as_str(),
        };
        self.call(Method::DELETE, url, &body, StatusCode::NO_CONTENT)
            .await
            .map(|_| ())
    }

    /// `{base}/<call_id>`, whether or not the configured base ends with a slash.
    fn conference_url(&self, call_id: &str) -> Result<reqwest::Url, BotError> {
        if call_id.is_empty()
            || !call_id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-')
        {
            return Err(BotError::Protocol(format!("unusable call_id {call_id:?}")));
        }
        let mut url = self.settings.url.clone();
        let path = url.path().trim_end_matches('/').to_string();
        url.set_path(&format!("{path}/{call_id}"));
        Ok(url)
    }

    async fn call<B: serde::Serialize>(
        &self,
        method: Method,
        url: reqwest::Url,
        body: &B,
        expected: StatusCode,
    ) -> Result<Option<Conference>, BotError> {
        let mut req = self
            .http
            .request(method, url)
            .timeout(self.settings.timeout)
            .header(reqwest::header::ACCEPT, "application/json")
            .json(body);
        req = match &self.settings.credentials {
            BotCredentials::Bearer(token) => req.bearer_auth(token.expose()),
            BotCredentials::Basic { username, password } => {
                req.basic_auth(username, Some(password.expose()))
            }
            BotCredentials::None => req,
        };
        let resp = req
            .send()
            .await
            .map_err(|e| BotError::Unavailable(describe(&e)))?;
        let status = resp.status();
        let bytes = resp.bytes().await.map_err(|e| {
            if e.is_timeout() {
                BotError::TimedOut
            } else {
                BotError::Unavailable(describe(&e))
            }
        })?;
        if status == expected && status == StatusCode::NO_CONTENT {
            return Ok(None);
        }
        let text = String::from_utf8_lossy(&bytes);
        if text.trim().is_empty() {
            return Err(BotError::AuthFailed {
                status: status.as_u16(),
            });
        }
        let envelope: Envelope = match serde_json::from_slice::<serde_json::Value>(&bytes) {
            Err(_) => {
                return Err(BotError::AuthFailed {
                    status: status.as_u16(),
                });
            }
            Ok(v) => serde_json::from_value(v).map_err(|e| BotError::Protocol(e.to_string()))?,
        };
        if envelope.status == "ok" && status.is_success() {
            return Ok(envelope.result);
        }
        match envelope.reason {
            Some(reason) if envelope.status == "error" => Err(BotError::Rejected {
                status: status.as_u16(),
                reason,
                errors: envelope
                    .errors
                    .into_iter()
                    .map(|e| match e {
                        serde_json::Value::String(s) => s,
                        other => other.to_string(),
                    })
                    .collect(),
            }),
            _ => Err(BotError::Protocol(format!(
                "HTTP {status} with status {:?} and no reason",
                envelope.status
            ))),
        }
    }
}

type ClientKey = (Duration, Option<Vec<u8>>);

/// Clients by (connect timeout, extra CA). Entries live as long as the process; there are
/// as many as distinct settings, not tenants.
fn shared_client(
    connect_timeout: Duration,
    ca_pem: Option<&[u8]>,
) -> Result<reqwest::Client, String> {
    static CLIENTS: OnceLock<Mutex<HashMap<ClientKey, reqwest::Client>>> = OnceLock::new();
    let key = (connect_timeout, ca_pem.map(<[u8]>::to_vec));
    let mut clients = CLIENTS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    if let Some(c) = clients.get(&key) {
        return Ok(c.clone());
    }
    let client = reqwest::Client::builder()
        .connect_timeout(connect_timeout)
        .pool_idle_timeout(Duration::from_secs(60))
        .pool_max_idle_per_host(16)
        // A bot URI is configured by central IT; following a redirect could send the
        // token to another host.
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("xgate/", env!("CARGO_PKG_VERSION")))
        .tls_backend_preconfigured(tls_config(ca_pem)?)
        .build()
        .map_err(|e| format!("cannot build the bot client: {e}"))?;
    clients.insert(key, client.clone());
    Ok(client)
}

/// The TLS setup every bot client starts from: ring, the platform's roots, HTTP/2 or 1.1.
/// Built once: building it loads the system trust store, which took ~3 ms per client and
/// dominated start-up with thousands of tenants. A tenant with its own CA gets its own.
fn tls_config(ca_pem: Option<&[u8]>) -> Result<rustls::ClientConfig, String> {
    static SHARED: OnceLock<Result<rustls::ClientConfig, String>> = OnceLock::new();
    match ca_pem {
        None => SHARED.get_or_init(|| build_tls_config(None)).clone(),
        Some(pem) => build_tls_config(Some(pem)),
    }
}

fn build_tls_config(ca_pem: Option<&[u8]>) -> Result<rustls::ClientConfig, String> {
    let mut config = crate::tls::client_config(ca_pem, "bot.ca_file")?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

fn no_result() -> BotError {
    BotError::Protocol("`status: ok` without a `result`".into())
}

/// reqwest's Display includes the URL, which is configuration and never carries
/// credentials (the config refuses `user:pass@` in a bot URL); the token travels in a
/// header and never appears here. The causes are appended ("Connection refused", the
/// certificate problem): reqwest's own text says only "error sending request".
fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".into()
    } else if is_tls(e) {
        format!("{TLS_FAILED}: {}", with_causes(e))
    } else if e.is_connect() {
        format!("connection failed: {}", with_causes(e))
    } else {
        with_causes(e)
    }
}

/// How an `Unavailable` message starts when TLS (not the network) failed.
const TLS_FAILED: &str = "TLS failed";

impl BotError {
    /// The connection was made but TLS failed (certificate, protocol): not a network fault.
    pub fn is_tls(&self) -> bool {
        matches!(self, BotError::Unavailable(m) if m.starts_with(TLS_FAILED))
    }
}

fn with_causes(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let more = c.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        cause = c.source();
    }
    text
}

/// rustls's error somewhere in the chain. tokio-rustls hands it over inside an
/// `io::Error` (itself inside another one), whose `source()` skips the error it wraps,
/// hence `get_ref` to descend.
fn is_tls(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(e);
    while let Some(c) = cause {
        if c.is::<rustls::Error>() {
            return true;
        }
        cause = match c.downcast_ref::<std::io::Error>() {
            Some(io) => io
                .get_ref()
                .map(|inner| inner as &(dyn std::error::Error + 'static)),
            None => c.source(),
        };
    }
    false
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// `xgate diagnose` tells "TLS failed" from "no connection" by `is_tls`: TLS to a
    /// plain HTTP server, and a closed port.
    #[tokio::test]
    async fn tls_failures_are_told_apart_from_connection_failures() {
        #[allow(deprecated)]
        let _ = rustls::crypto::ring::default_provider().install_default();
        let plain = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = plain.local_addr().unwrap();
        std::thread::spawn(move || {
            use std::io::Write;
            if let Some(Ok(mut s)) = plain.incoming().next() {
                let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n");
            }
        });
        let client = shared_client(Duration::from_secs(2), None).unwrap();
        let unavailable = async |addr: std::net::SocketAddr| {
            let e = client
                .get(format!("https://{addr}/"))
                .send()
                .await
                .unwrap_err();
            BotError::Unavailable(describe(&e))
        };
        let err = unavailable(addr).await;
        assert!(err.is_tls(), "{err}");

        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = closed.local_addr().unwrap();
        drop(closed);
        let err = unavailable(addr).await;
        assert!(!err.is_tls(), "{err}");
        // The cause, not only reqwest's "error sending request".
        assert!(err.to_string().contains("refused"), "{err}");
    }
}
