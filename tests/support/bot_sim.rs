//! The Conference Bot simulator as a child process, and its control plane (`/_sim/*`).

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};

use serde_json::Value;

use crate::{binaries, reaper};

/// The simulator's default base path (`--base-path`).
pub const BASE_PATH: &str = "/api/v1/conference_bot/conferences";

pub struct BotSim {
    child: Mutex<Option<Child>>,
    /// Held open: the simulator's stdout must not turn into a broken pipe.
    _stdout: ChildStdout,
    url: String,
    token: Option<String>,
    basic: Option<(String, String)>,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl BotSim {
    /// Starts `xgate-bot-sim --listen 127.0.0.1:0 <args>` and waits for the line that
    /// announces its address.
    pub fn start(args: &[&str]) -> BotSim {
        let dir = tempfile::tempdir().expect("tempdir for the simulator");
        let log = dir.path().join("bot-sim.stderr");
        let mut child = Command::new(binaries::bot_sim())
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .env_remove("XGATE_SIM_TOKEN")
            .env("NO_COLOR", "1")
            .env_remove("XGATE_SIM_BASIC_PASSWORD")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).expect("simulator log file"))
            .spawn()
            .expect("spawn xgate-bot-sim");
        reaper::adopt(child.id());
        let stdout = child.stdout.take().expect("simulator stdout");
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        // EOF (the simulator exited) ends the read too, so this cannot hang.
        let _ = reader.read_line(&mut line);
        let Some(url) = line
            .trim()
            .strip_prefix("xgate-bot-sim listening on ")
            .map(str::to_string)
        else {
            let _ = child.kill();
            let _ = child.wait();
            reaper::release(child.id());
            panic!(
                "xgate-bot-sim did not announce its address (stdout: {line:?}); stderr:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        };
        let arg = |name: &str| {
            args.iter()
                .position(|a| *a == name)
                .and_then(|i| args.get(i + 1))
                .map(|t| t.to_string())
        };
        let token = arg("--token");
        let basic = arg("--basic-user").zip(arg("--basic-password"));
        crate::shared::register_log("xgate-bot-sim stderr".into(), log.clone());
        BotSim {
            child: Mutex::new(Some(child)),
            _stdout: reader.into_inner(),
            url,
            token,
            basic,
            log,
            _dir: dir,
        }
    }

    /// A simulator that wants `Authorization: Bearer <a fresh token>`.
    pub fn bearer() -> BotSim {
        let token = new_token();
        BotSim::start(&["--auth", "bearer", "--token", &token])
    }

    /// A simulator behind HTTP Basic auth, as legacy installations are.
    pub fn basic() -> BotSim {
        let password = new_token();
        BotSim::start(&[
            "--auth",
            "basic",
            "--basic-user",
            "xgate-svc",
            "--basic-password",
            &password,
        ])
    }

    /// A simulator without auth.
    pub fn open() -> BotSim {
        BotSim::start(&["--auth", "none"])
    }

    /// `http://127.0.0.1:<port>`
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The conferences API, as a tenant's `bot.url` names it (with the trailing slash
    /// the installation guide writes).
    pub fn bot_url(&self) -> String {
        format!("{}{BASE_PATH}/", self.url)
    }

    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// `(user, password)` with `--auth basic`.
    pub fn basic_credentials(&self) -> Option<(&str, &str)> {
        self.basic.as_ref().map(|(u, p)| (u.as_str(), p.as_str()))
    }

    /// Replaces the injected behaviour (`{"delay_ms":..}`, `{"fail":{..},"times":n}`, `{}`).
    pub async fn behave(&self, behaviour: Value) {
        let resp = crate::api::http()
            .post(format!("{}/_sim/behaviour", self.url))
            .json(&behaviour)
            .send()
            .await
            .expect("POST /_sim/behaviour");
        assert!(
            resp.status().is_success(),
            "the simulator refused behaviour {behaviour}: {}",
            resp.text().await.unwrap_or_default()
        );
    }

    /// Every conference the simulator holds, in creation order.
    pub async fn conferences(&self) -> Vec<Value> {
        let v = self.control_get("/_sim/conferences").await;
        v.as_array().cloned().expect("a list of conferences")
    }

    /// One conference by `call_id`, `None` when the simulator holds none by that id.
    pub async fn conference(&self, call_id: &str) -> Option<Value> {
        let resp = crate::api::http()
            .get(format!("{}/_sim/conferences/{call_id}", self.url))
            .send()
            .await
            .expect("GET /_sim/conferences/{id}");
        match resp.status().as_u16() {
            404 => None,
            200 => Some(resp.json().await.expect("a conference")),
            s => panic!("GET /_sim/conferences/{call_id}: HTTP {s}"),
        }
    }

    /// `{"calls":{"create","update","delete"},"unauthorized","injected_failures","last_auth_scheme"}`
    pub async fn stats(&self) -> Value {
        self.control_get("/_sim/stats").await
    }

    async fn control_get(&self, path: &str) -> Value {
        crate::api::http()
            .get(format!("{}{path}", self.url))
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"))
            .json()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"))
    }

    /// Stops the simulator now: its port then refuses connections.
    pub fn kill(&self) {
        let child = self.child.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(mut child) = child {
            let _ = child.kill();
            let _ = child.wait();
            reaper::release(child.id());
        }
    }

    /// What the simulator logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for BotSim {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A bearer token as real installations require: 48 letters and digits, unique per call
/// (so a test can tell it apart from every other string in a log or a body).
pub fn new_token() -> String {
    static SEQ: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let token = format!(
        "XgTok{:08x}{:04x}{:032x}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed),
        nanos
    );
    token[..48].to_string()
}
