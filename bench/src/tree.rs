//! The generated config tree: one main file, one template, N tenant files.
//!
//! Layout under the per-run tempdir:
//! ```text
//! config/xgate.toml             [server] + [database], include = ["tenants.d/*.toml"]
//! config/templates/default/ru.html
//! config/tenants.d/tNNNNN.toml  one tenant each; only a few have `ports`
//! data/                         sqlite://<tempdir>/data, one .db per tenant
//! run/                          pid file, upgrade socket
//! logs/                         xgate's stdout/stderr
//! ```
//! Logs, pid file and socket are outside `config/` on purpose: xgate watches the main
//! file's directory recursively, and a log file in there would make every log line a
//! config change (a reload that logs, which is a change, ...).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};

/// The environment variable every tenant's bot token is read from.
pub const TOKEN_ENV: &str = "XGATE_BENCH_TOKEN";

const TEMPLATE: &str = r#"<!DOCTYPE html>
<html lang="ru"><head><meta charset="utf-8"><title>Приглашение: {{ conference.name }}</title></head>
<body><p>{{ conference.link }}</p><p>{{ tenant.name }}</p></body></html>
"#;

pub struct Tree {
    pub root: PathBuf,
    pub main: PathBuf,
    pub tenants_dir: PathBuf,
    pub logs: PathBuf,
    pub shared: SocketAddr,
    pub ops: SocketAddr,
    /// Tenant index → its own port (only a few tenants have one).
    pub ports: BTreeMap<usize, u16>,
    bot_url: String,
}

impl Tree {
    pub fn id(i: usize) -> String {
        format!("t{i:05}")
    }

    /// The user whose mail domain selects tenant `i` on the shared listener.
    pub fn user(i: usize) -> String {
        format!("u@t{i:05}.test")
    }

    pub fn initial_name(i: usize) -> String {
        format!("Tenant {i:05}")
    }

    /// Writes the whole tree under `root` (which must exist and be empty).
    pub fn generate(root: &Path, n: usize, ported: usize, bot_url: &str) -> io::Result<Tree> {
        let config = root.join("config");
        let tenants_dir = config.join("tenants.d");
        let templates = config.join("templates/default");
        let data = root.join("data");
        let run = root.join("run");
        let logs = root.join("logs");
        for d in [&tenants_dir, &templates, &data, &run, &logs] {
            std::fs::create_dir_all(d)?;
        }
        std::fs::write(templates.join("ru.html"), TEMPLATE)?;

        let ported = ported.min(n);
        let mut free = free_ports(2 + ported)?.into_iter();
        let mut next = || free.next().expect("free_ports returned enough ports");
        let shared = SocketAddr::from(([127, 0, 0, 1], next()));
        let ops = SocketAddr::from(([127, 0, 0, 1], next()));
        // Spread over the id range, so ported tenants are not all in the first file.
        let ports: BTreeMap<usize, u16> = (0..ported).map(|k| (k * n / ported, next())).collect();

        let main = config.join("xgate.toml");
        let mut m = String::new();
        let _ = writeln!(m, "[server]");
        let _ = writeln!(m, "listen = [\"{shared}\"]");
        let _ = writeln!(m, "ops_listen = \"{ops}\"");
        let _ = writeln!(m, "include = [\"tenants.d/*.toml\"]");
        // No bot probes: they would load the baseline and the reload phases alike and
        // blur what is measured, the cost of reloads alone.
        let _ = writeln!(m, "bot_probe_interval_seconds = 0");
        let _ = writeln!(m, "pid_file = \"{}\"", run.join("xgate.pid").display());
        let _ = writeln!(
            m,
            "upgrade_sock = \"{}\"",
            run.join("upgrade.sock").display()
        );
        let _ = writeln!(m, "\n[database]");
        let _ = writeln!(m, "url = \"sqlite://{}\"", data.display());
        std::fs::write(&main, m)?;

        let tree = Tree {
            root: root.to_path_buf(),
            main,
            tenants_dir,
            logs,
            shared,
            ops,
            ports,
            bot_url: bot_url.to_string(),
        };
        for i in 0..n {
            tree.write_tenant(i, &Tree::initial_name(i))?;
        }
        Ok(tree)
    }

    pub fn tenant_file(&self, i: usize) -> PathBuf {
        self.tenants_dir.join(format!("{}.toml", Tree::id(i)))
    }

    /// Rewrites tenant `i`'s file in place (truncate + write, one `write(2)`), keeping
    /// everything but the name.
    pub fn write_tenant(&self, i: usize, name: &str) -> io::Result<()> {
        std::fs::write(self.tenant_file(i), self.tenant_toml(i, name))
    }

    fn tenant_toml(&self, i: usize, name: &str) -> String {
        let id = Tree::id(i);
        let mut t = String::with_capacity(320);
        let _ = writeln!(t, "[tenants.{id}]");
        let _ = writeln!(t, "name = \"{name}\"");
        let _ = writeln!(t, "mail_domains = [\"{id}.test\"]");
        if let Some(p) = self.ports.get(&i) {
            let _ = writeln!(t, "ports = [{p}]");
        }
        let _ = writeln!(t, "\n[tenants.{id}.bot]");
        let _ = writeln!(t, "url = \"{}\"", self.bot_url);
        let _ = writeln!(t, "auth = \"bearer\"");
        let _ = writeln!(t, "token = \"env:{TOKEN_ENV}\"");
        let _ = writeln!(t, "\n[tenants.{id}.auth]");
        let _ = writeln!(t, "mode = \"none\"");
        t
    }
}

/// Distinct free loopback ports: bound all at once, then released for xgate to bind.
/// Another process may take one in between; on a quiet machine that does not happen.
pub fn free_ports(n: usize) -> io::Result<Vec<u16>> {
    let listeners = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0"))
        .collect::<io::Result<Vec<_>>>()?;
    listeners
        .iter()
        .map(|l| l.local_addr().map(|a| a.port()))
        .collect()
}
