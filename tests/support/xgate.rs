//! `xgate serve` on a config tree of the test's making.
//!
//! The tree lives in `<tempdir>/config`: `xgate.toml` (the `[server]` and `[database]`
//! sections), `tenants.d/<id>.toml` (one file per tenant, as central IT keeps them),
//! `templates/test/{ru,en}.html` (small templates whose every placeholder is easy to
//! find in a rendered invitation) and a copy of the shipped `templates/default`.
//! What xgate writes (logs, pid file, upgrade socket, SQLite files) goes next to it,
//! never into the config directory, which xgate may watch.
//! Ports are free loopback ports picked at start; bot tokens reach xgate only through
//! environment variables (`token = "env:XGATE_TEST_TOKEN_<ID>"`).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::api::Api;
use crate::bot_sim::BotSim;
use crate::database::{Backend, Database};
use crate::raw_http::{RawConn, request};
use crate::{binaries, ports, reaper, shared};

/// Marks in the `test` template set, to tell which language's template was rendered.
pub const RU_TEMPLATE_MARK: &str = "RU-TEST-TEMPLATE";
pub const EN_TEMPLATE_MARK: &str = "EN-TEST-TEMPLATE";

const RU_TEMPLATE: &str = r#"<!DOCTYPE html>
<html lang="ru"><head><meta charset="utf-8"><title>Приглашение: {{ conference.name }}</title></head>
<body>
<p>RU-TEST-TEMPLATE</p>
<p>Ссылка: <a href="{{ conference.link }}">{{ conference.link }}</a></p>
<p>Тип: {{ conference.link_type }}; код доступа: [{{ conference.access_code }}]</p>
<p>Начало: [{{ conference.start_at }}]; окончание: [{{ conference.end_at }}]</p>
<p>Организатор: {{ user.email }} {{ user.name }} {{ user.sip }}</p>
<p>Организация: {{ tenant.name }}</p>
</body></html>
"#;

const EN_TEMPLATE: &str = r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Invitation: {{ conference.name }}</title></head>
<body>
<p>EN-TEST-TEMPLATE</p>
<p>Link: <a href="{{ conference.link }}">{{ conference.link }}</a></p>
<p>Type: {{ conference.link_type }}; access code: [{{ conference.access_code }}]</p>
<p>Starts: [{{ conference.start_at }}]; ends: [{{ conference.end_at }}]</p>
<p>Organizer: {{ user.email }} {{ user.name }} {{ user.sip }}</p>
<p>Organization: {{ tenant.name }}</p>
</body></html>
"#;

/// The workspace root (the repository), for the shipped config and templates.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace root")
        .to_path_buf()
}

/// Writes the `test` template set and a copy of the shipped `default` set under
/// `<dir>/templates`.
pub fn write_templates(dir: &Path) {
    let test = dir.join("templates/test");
    std::fs::create_dir_all(&test).expect("templates dir");
    std::fs::write(test.join("ru.html"), RU_TEMPLATE).expect("ru template");
    std::fs::write(test.join("en.html"), EN_TEMPLATE).expect("en template");
    let default = dir.join("templates/default");
    std::fs::create_dir_all(&default).expect("templates dir");
    for lang in ["ru", "en"] {
        let from = repo_root().join(format!("config/templates/default/{lang}.html"));
        std::fs::copy(&from, default.join(format!("{lang}.html")))
            .unwrap_or_else(|e| panic!("copy {}: {e}", from.display()));
    }
}

#[derive(Clone, Debug)]
enum BotAuth {
    Bearer(String),
    Basic { user: String, password: String },
    None,
}

/// One `[tenants.<id>]` table.
#[derive(Clone, Debug)]
pub struct TenantSpec {
    id: String,
    name: String,
    mail_domains: Vec<String>,
    own_port: bool,
    default_language: String,
    template_set: String,
    bot_url: String,
    bot_auth: BotAuth,
    timeout_ms: Option<u64>,
    contact_type: String,
    link_types: Option<Vec<String>>,
    require_access_code_from: Option<String>,
    /// The body of `[tenants.<id>.auth]` (and its subtables); `mode = "none"` when unset.
    auth_toml: Option<String>,
    jwt_key: Option<String>,
}

impl TenantSpec {
    /// A Russian tenant with the `test` templates, reachable by its mail domains on the
    /// shared listener; give it a bot with `bot` or `bot_url`.
    pub fn new(id: &str, name: &str, mail_domains: &[&str]) -> TenantSpec {
        TenantSpec {
            id: id.to_string(),
            name: name.to_string(),
            mail_domains: mail_domains.iter().map(|d| d.to_string()).collect(),
            own_port: false,
            default_language: "ru".into(),
            template_set: "test".into(),
            bot_url: String::new(),
            bot_auth: BotAuth::None,
            timeout_ms: None,
            contact_type: "email".into(),
            link_types: None,
            require_access_code_from: None,
            auth_toml: None,
            jwt_key: None,
        }
    }

    /// Turns the admin UI on: `[tenants.<id>.jwt]` with this HS256 key (through an env var).
    pub fn jwt(mut self, key: &str) -> TenantSpec {
        self.jwt_key = Some(key.to_string());
        self
    }

    /// The environment variable that carries this tenant's JWT key.
    pub fn jwt_env(&self) -> String {
        format!(
            "XGATE_TEST_JWT_{}",
            self.id.to_ascii_uppercase().replace('-', "_")
        )
    }

    /// What follows `[tenants.<id>.auth]`: `mode = "ldap"`, then e.g. a
    /// `[tenants.<id>.auth.ldap]` table.
    pub fn auth_toml(mut self, toml: String) -> TenantSpec {
        self.auth_toml = Some(toml);
        self
    }

    /// Also a port of its own (a legacy listener), picked at start.
    pub fn own_port(mut self) -> TenantSpec {
        self.own_port = true;
        self
    }

    pub fn language(mut self, code: &str) -> TenantSpec {
        self.default_language = code.to_string();
        self
    }

    pub fn template_set(mut self, set: &str) -> TenantSpec {
        self.template_set = set.to_string();
        self
    }

    /// The simulator's conferences API, with the credentials it wants.
    pub fn bot(mut self, sim: &BotSim) -> TenantSpec {
        self.bot_url = sim.bot_url();
        self.bot_auth = match (sim.token(), sim.basic_credentials()) {
            (Some(t), _) => BotAuth::Bearer(t.to_string()),
            (None, Some((user, password))) => BotAuth::Basic {
                user: user.to_string(),
                password: password.to_string(),
            },
            (None, None) => BotAuth::None,
        };
        self
    }

    /// `contact_type = "email" | "ad_login"`.
    pub fn contact_type(mut self, contact_type: &str) -> TenantSpec {
        self.contact_type = contact_type.to_string();
        self
    }

    pub fn bot_url(mut self, url: &str) -> TenantSpec {
        self.bot_url = url.to_string();
        self
    }

    /// `auth = "bearer"` with this token (through an env var).
    pub fn bearer(mut self, token: &str) -> TenantSpec {
        self.bot_auth = BotAuth::Bearer(token.to_string());
        self
    }

    pub fn timeout_ms(mut self, ms: u64) -> TenantSpec {
        self.timeout_ms = Some(ms);
        self
    }

    pub fn policy(mut self, link_types: &[&str], access_code_from: Option<&str>) -> TenantSpec {
        self.link_types = Some(link_types.iter().map(|s| s.to_string()).collect());
        self.require_access_code_from = access_code_from.map(str::to_string);
        self
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// The environment variable that carries this tenant's bot token or password.
    pub fn token_env(&self) -> String {
        format!(
            "XGATE_TEST_TOKEN_{}",
            self.id.to_ascii_uppercase().replace('-', "_")
        )
    }

    /// The bot secret (token or password) xgate gets through `token_env`.
    fn secret(&self) -> Option<&str> {
        match &self.bot_auth {
            BotAuth::Bearer(t) => Some(t),
            BotAuth::Basic { password, .. } => Some(password),
            BotAuth::None => None,
        }
    }

    /// The tenant's TOML file, with its own port when it has one.
    pub fn toml(&self, port: Option<u16>) -> String {
        let id = &self.id;
        let mut t = String::new();
        let list = |v: &[String]| {
            v.iter()
                .map(|s| format!("\"{s}\""))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let _ = writeln!(t, "[tenants.{id}]");
        let _ = writeln!(t, "name = \"{}\"", self.name);
        let _ = writeln!(t, "mail_domains = [{}]", list(&self.mail_domains));
        if let Some(p) = port {
            let _ = writeln!(t, "ports = [{p}]");
        }
        let _ = writeln!(t, "default_language = \"{}\"", self.default_language);
        let _ = writeln!(t, "template_set = \"{}\"", self.template_set);
        let _ = writeln!(t, "\n[tenants.{id}.bot]");
        let _ = writeln!(t, "url = \"{}\"", self.bot_url);
        match &self.bot_auth {
            BotAuth::Bearer(_) => {
                let _ = writeln!(t, "auth = \"bearer\"");
                let _ = writeln!(t, "token = \"env:{}\"", self.token_env());
            }
            BotAuth::Basic { user, .. } => {
                let _ = writeln!(t, "auth = \"basic\"");
                let _ = writeln!(t, "username = \"{user}\"");
                let _ = writeln!(t, "password = \"env:{}\"", self.token_env());
            }
            BotAuth::None => {
                let _ = writeln!(t, "auth = \"none\"");
            }
        }
        let _ = writeln!(t, "contact_type = \"{}\"", self.contact_type);
        if let Some(ms) = self.timeout_ms {
            let _ = writeln!(t, "timeout_ms = {ms}");
        }
        match &self.auth_toml {
            Some(auth) => {
                let _ = writeln!(t, "\n[tenants.{id}.auth]\n{auth}");
            }
            None => {
                let _ = writeln!(t, "\n[tenants.{id}.auth]\nmode = \"none\"");
            }
        }
        if self.jwt_key.is_some() {
            let _ = writeln!(t, "\n[tenants.{id}.jwt]\nkey = \"env:{}\"", self.jwt_env());
        }
        if let Some(types) = &self.link_types {
            let _ = writeln!(t, "\n[tenants.{id}.policy]");
            let _ = writeln!(t, "link_types = [{}]", list(types));
            if let Some(from) = &self.require_access_code_from {
                let _ = writeln!(t, "require_access_code_from = \"{from}\"");
            }
        }
        t
    }
}

/// What to start: the backend, the tenants, extra `[server]` lines.
pub struct XgateSpec {
    backend: Backend,
    tenants: Vec<TenantSpec>,
    server: Vec<String>,
    env: Vec<(String, String)>,
}

impl XgateSpec {
    pub fn new(backend: Backend) -> XgateSpec {
        XgateSpec {
            backend,
            tenants: Vec::new(),
            server: Vec::new(),
            env: Vec::new(),
        }
    }

    pub fn tenant(mut self, tenant: TenantSpec) -> XgateSpec {
        self.tenants.push(tenant);
        self
    }

    /// A line for `[server]`, e.g. `max_body_bytes = 4096` or `log_format = "json"`.
    pub fn server(mut self, line: &str) -> XgateSpec {
        self.server.push(line.to_string());
        self
    }

    /// An environment variable of the xgate process (e.g. `KRB5_CONFIG`).
    pub fn env(mut self, name: &str, value: &str) -> XgateSpec {
        self.env.push((name.to_string(), value.to_string()));
        self
    }

    pub fn start(self) -> Xgate {
        Xgate::start(self)
    }
}

/// A running `xgate serve`. Killed on drop (and at the test process's exit).
pub struct Xgate {
    child: Mutex<Option<Child>>,
    shared: SocketAddr,
    ops: SocketAddr,
    tenant_ports: HashMap<String, u16>,
    secrets: Arc<Vec<String>>,
    /// The environment given to the process, for its successor after an upgrade.
    env: Vec<(String, String)>,
    config: PathBuf,
    stdout: PathBuf,
    stderr: PathBuf,
    /// Dropped after the process is killed and before the tempdir goes.
    pub db: Database,
    dir: tempfile::TempDir,
}

const READY_TIMEOUT: Duration = Duration::from_secs(30);

impl Xgate {
    pub fn start(spec: XgateSpec) -> Xgate {
        let dir = tempfile::tempdir().expect("tempdir for xgate");
        let config_dir = dir.path().join("config");
        let run_dir = dir.path().join("run");
        write_templates(&config_dir);
        std::fs::create_dir_all(config_dir.join("tenants.d")).expect("tenants.d");
        std::fs::create_dir_all(&run_dir).expect("run dir");
        let db = Database::create(spec.backend, dir.path());
        let config = config_dir.join("xgate.toml");
        let stdout = run_dir.join("xgate.stdout");
        let stderr = run_dir.join("xgate.stderr");
        let secrets: Arc<Vec<String>> = Arc::new(
            spec.tenants
                .iter()
                .filter_map(|t| t.secret().map(str::to_string))
                .collect(),
        );
        let own = spec.tenants.iter().filter(|t| t.own_port).count();
        let mut last_error = String::new();
        // A port picked as free may be taken before xgate binds it: retry with new ones.
        for _attempt in 0..3 {
            let mut ports = ports::free_ports(2 + own).into_iter();
            let shared = SocketAddr::from(([127, 0, 0, 1], ports.next().expect("port")));
            let ops = SocketAddr::from(([127, 0, 0, 1], ports.next().expect("port")));
            let mut tenant_ports = HashMap::new();
            for t in &spec.tenants {
                let port = t.own_port.then(|| ports.next().expect("port"));
                if let Some(p) = port {
                    tenant_ports.insert(t.id.clone(), p);
                }
                std::fs::write(
                    config_dir.join(format!("tenants.d/{}.toml", t.id)),
                    t.toml(port),
                )
                .expect("write a tenant file");
            }
            std::fs::write(&config, main_file(&run_dir, shared, ops, &spec.server, &db))
                .expect("write xgate.toml");

            let mut cmd = Command::new(binaries::xgate());
            cmd.arg("serve")
                .arg("--config")
                .arg(&config)
                .current_dir(&run_dir)
                .env_remove("RUST_LOG")
                .env_remove("XGATE_CONFIG")
                .env("NO_COLOR", "1")
                .stdin(Stdio::null())
                .stdout(std::fs::File::create(&stdout).expect("stdout file"))
                .stderr(std::fs::File::create(&stderr).expect("stderr file"));
            let mut env = spec.env.clone();
            for t in &spec.tenants {
                if let Some(secret) = t.secret() {
                    env.push((t.token_env(), secret.to_string()));
                }
                if let Some(key) = &t.jwt_key {
                    env.push((t.jwt_env(), key.clone()));
                }
            }
            cmd.envs(env.iter().map(|(k, v)| (k, v)));
            let mut child = cmd.spawn().expect("spawn xgate");
            reaper::adopt(child.id());
            match wait_ready(&mut child, ops) {
                Ok(()) => {
                    shared::register_log("xgate stderr".into(), stderr.clone());
                    return Xgate {
                        child: Mutex::new(Some(child)),
                        shared,
                        ops,
                        tenant_ports,
                        secrets,
                        env,
                        config,
                        stdout,
                        stderr,
                        db,
                        dir,
                    };
                }
                Err(e) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    reaper::release(child.id());
                    let log = std::fs::read_to_string(&stderr).unwrap_or_default();
                    last_error = format!("{e}; stderr:\n{log}");
                    if !log.contains("in use") {
                        break;
                    }
                }
            }
        }
        panic!("xgate did not become ready: {last_error}");
    }

    /// A client for the shared listener (tenant by the user's mail domain).
    pub fn shared(&self) -> Api {
        Api::new(format!("http://{}", self.shared), self.secrets.clone())
    }

    /// A client for the tenant's own port.
    pub fn on_port(&self, tenant: &str) -> Api {
        Api::new(
            format!("http://{}", self.tenant_addr(tenant)),
            self.secrets.clone(),
        )
    }

    /// A client for the ops listener.
    pub fn ops(&self) -> Api {
        Api::new(format!("http://{}", self.ops), self.secrets.clone())
    }

    pub fn shared_addr(&self) -> SocketAddr {
        self.shared
    }

    pub fn ops_addr(&self) -> SocketAddr {
        self.ops
    }

    pub fn tenant_addr(&self, tenant: &str) -> SocketAddr {
        let port = self
            .tenant_ports
            .get(tenant)
            .unwrap_or_else(|| panic!("tenant {tenant} has no port of its own"));
        SocketAddr::from(([127, 0, 0, 1], *port))
    }

    /// The bot tokens and passwords of every tenant: never in an answer, never in a log.
    pub fn secrets(&self) -> &[String] {
        &self.secrets
    }

    /// The main config file, `<dir>/config/xgate.toml`; tenant files are in
    /// `<dir>/config/tenants.d/`.
    /// The process id, for signals (SIGHUP reloads).
    pub fn pid(&self) -> u32 {
        self.child
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .map(|c| c.id())
            .expect("xgate is running")
    }

    pub fn config_path(&self) -> &Path {
        &self.config
    }

    /// The tempdir holding `config/` (the tree), `run/` (logs, pid file, upgrade
    /// socket) and, on SQLite, `data/`.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// What xgate logged so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    pub fn stdout(&self) -> String {
        std::fs::read_to_string(&self.stdout).unwrap_or_default()
    }

    /// pingora's graceful upgrade, as an operator runs it: start `xgate serve --upgrade`
    /// on the same config, wait until it listens for the sockets, send SIGQUIT to the
    /// running process and wait for it to exit. The new process is this `Xgate` from
    /// then on; its output goes to `run/xgate.<n>.stderr`.
    pub fn upgrade(&self, generation: u32) -> Result<(), String> {
        let run_dir = self.stderr.parent().expect("run dir").to_path_buf();
        let sock = run_dir.join("upgrade.sock");
        let stderr = run_dir.join(format!("xgate.{generation}.stderr"));
        let mut cmd = Command::new(binaries::xgate());
        cmd.arg("serve")
            .arg("--upgrade")
            .arg("--config")
            .arg(&self.config)
            .current_dir(&run_dir)
            .env_remove("RUST_LOG")
            .env_remove("XGATE_CONFIG")
            .env("NO_COLOR", "1")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&stderr).map_err(|e| e.to_string())?);
        // A socket left by an earlier upgrade must not pass for the new process's.
        let _ = std::fs::remove_file(&sock);
        let mut new = cmd.spawn().map_err(|e| e.to_string())?;
        reaper::adopt(new.id());
        shared::register_log(
            format!("xgate stderr (generation {generation})"),
            stderr.clone(),
        );
        // The new process announces itself by creating the upgrade socket.
        let deadline = Instant::now() + READY_TIMEOUT;
        while !sock.exists() {
            if let Ok(Some(status)) = new.try_wait() {
                return Err(format!("the new xgate exited with {status}"));
            }
            if Instant::now() > deadline {
                return Err("the new xgate never listened for the sockets".into());
            }
            // Polling interval, not synchronisation: the loop ends on the condition above.
            std::thread::sleep(Duration::from_millis(20));
        }
        let old_pid = self.pid();
        let status = Command::new("kill")
            .args(["-QUIT", &old_pid.to_string()])
            .status()
            .map_err(|e| e.to_string())?;
        if !status.success() {
            return Err(format!("kill -QUIT {old_pid} failed"));
        }
        let mut guard = self.child.lock().unwrap_or_else(|e| e.into_inner());
        let mut old = guard.take().expect("xgate is running");
        let deadline = Instant::now() + Duration::from_secs(60);
        let exit = loop {
            if let Some(status) = old.try_wait().map_err(|e| e.to_string())? {
                break status;
            }
            if Instant::now() > deadline {
                return Err("the old xgate did not exit after SIGQUIT".into());
            }
            // Polling interval, not synchronisation: the loop ends on the condition above.
            std::thread::sleep(Duration::from_millis(20));
        };
        reaper::release(old_pid);
        *guard = Some(new);
        drop(guard);
        if !exit.success() {
            return Err(format!("the old xgate exited with {exit}"));
        }
        Ok(())
    }

    pub fn kill(&self) {
        let child = self.child.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(mut child) = child {
            let _ = child.kill();
            let _ = child.wait();
            reaper::release(child.id());
        }
    }
}

impl Drop for Xgate {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            eprintln!(
                "----- xgate stdout -----\n{}\n----- xgate stderr -----\n{}",
                self.stdout(),
                self.stderr()
            );
        }
    }
}

fn main_file(
    run_dir: &Path,
    shared: SocketAddr,
    ops: SocketAddr,
    extra: &[String],
    db: &Database,
) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "[server]");
    let _ = writeln!(s, "listen = [\"{shared}\"]");
    let _ = writeln!(s, "ops_listen = \"{ops}\"");
    let _ = writeln!(s, "include = [\"tenants.d/*.toml\"]");
    let _ = writeln!(s, "pid_file = \"{}\"", run_dir.join("xgate.pid").display());
    let _ = writeln!(
        s,
        "upgrade_sock = \"{}\"",
        run_dir.join("upgrade.sock").display()
    );
    let _ = writeln!(s, "threads = 2");
    for line in extra {
        let _ = writeln!(s, "{line}");
    }
    let _ = writeln!(s, "\n[database]");
    let _ = writeln!(s, "url = \"{}\"", db.url());
    let _ = writeln!(s, "max_connections = 8");
    s
}

/// Polls `GET /readyz` on the ops listener until it answers 200, the process exits, or
/// the deadline passes.
fn wait_ready(child: &mut Child, ops: SocketAddr) -> Result<(), String> {
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            return Err(format!("xgate exited with {status}"));
        }
        if readyz(ops) == Some(200) {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("/readyz not 200 after {READY_TIMEOUT:?}"));
        }
        // Polling interval, not synchronisation: the loop ends on the condition above.
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn readyz(ops: SocketAddr) -> Option<u16> {
    let mut conn = RawConn::try_connect(ops).ok()?;
    conn.send(&request("GET", "/readyz", &[("Connection", "close")], b""));
    conn.try_read_response().ok().map(|r| r.status)
}
