//! A real MIT Kerberos KDC for the `Negotiate` tests: a temporary realm in a tempdir
//! (`kdb5_util create`), `krb5kdc` on a free loopback port, principals added and the
//! service keytab exported with `kadmin.local`, tickets got with `kinit`.
//!
//! Everything Kerberos reads comes from this directory through `KRB5_CONFIG`,
//! `KRB5_KDC_PROFILE` and `KRB5CCNAME` on the child processes: nothing of the machine's
//! own Kerberos setup is read or changed. The HTTP client is `curl --negotiate`
//! (Debian's curl is built with GSS-API), so each request has its own ticket cache.

use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::reaper;

const MASTER_PASSWORD: &str = "kdc-master-Passw0rd";

pub struct Kdc {
    realm: String,
    port: u16,
    dir: tempfile::TempDir,
    child: Child,
}

impl Kdc {
    /// A realm (`TEST.XGATE`) with `users` (login, password) and the service principal
    /// `HTTP/localhost`, whose keys are exported to `keytab()`.
    pub fn start(realm: &str, users: &[(&str, &str)]) -> Kdc {
        let dir = tempfile::tempdir().expect("tempdir for the KDC");
        let p = dir.path();
        let port = free_udp_tcp_port();
        std::fs::write(p.join("kdc.conf"), kdc_conf(p, realm, port)).expect("kdc.conf");
        std::fs::write(p.join("krb5.conf"), krb5_conf(realm, port)).expect("krb5.conf");
        std::fs::write(p.join("kadm5.acl"), "").expect("kadm5.acl");
        let kdc = |cmd: &str| {
            let mut c = Command::new(cmd);
            c.env("KRB5_CONFIG", p.join("krb5.conf"))
                .env("KRB5_KDC_PROFILE", p.join("kdc.conf"))
                .stdin(Stdio::null());
            c
        };
        run(kdc("kdb5_util").args(["create", "-s", "-r", realm, "-P", MASTER_PASSWORD]));
        let kadmin = |query: &str| run(kdc("kadmin.local").args(["-r", realm, "-q", query]));
        for (user, password) in users {
            kadmin(&format!("addprinc -pw {password} {user}@{realm}"));
        }
        kadmin(&format!("addprinc -randkey HTTP/localhost@{realm}"));
        kadmin(&format!(
            "ktadd -k {} HTTP/localhost@{realm}",
            p.join("http.keytab").display()
        ));
        let child = kdc("krb5kdc")
            .args(["-n", "-r", realm])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn krb5kdc (apt-get install krb5-kdc)");
        reaper::adopt(child.id());
        let kdc = Kdc {
            realm: realm.to_string(),
            port,
            dir,
            child,
        };
        kdc.wait_ready();
        kdc
    }

    pub fn realm(&self) -> &str {
        &self.realm
    }

    /// The client and acceptor config of this realm (`KRB5_CONFIG`).
    pub fn krb5_conf(&self) -> PathBuf {
        self.dir.path().join("krb5.conf")
    }

    /// The keys of `HTTP/localhost@REALM`.
    pub fn keytab(&self) -> PathBuf {
        self.dir.path().join("http.keytab")
    }

    pub fn service_principal(&self) -> String {
        format!("HTTP/localhost@{}", self.realm)
    }

    /// `kinit user` with its password into a ticket cache of its own; returns the cache.
    pub fn kinit(&self, user: &str, password: &str) -> PathBuf {
        let cache = self.dir.path().join(format!("ccache-{user}"));
        let mut child = Command::new("kinit")
            .arg(format!("{user}@{}", self.realm))
            .env("KRB5_CONFIG", self.krb5_conf())
            .env("KRB5CCNAME", format!("FILE:{}", cache.display()))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn kinit (apt-get install krb5-user)");
        use std::io::Write;
        writeln!(child.stdin.take().expect("kinit stdin"), "{password}").expect("password");
        let out = child.wait_with_output().expect("kinit");
        assert!(
            out.status.success(),
            "kinit {user} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        cache
    }

    /// `curl --negotiate` with the tickets in `cache`: status and body.
    pub fn curl(&self, cache: &Path, method: &str, url: &str, body: Option<&str>) -> (u16, String) {
        let mut cmd = Command::new("curl");
        cmd.args(["-sS", "--negotiate", "-u", ":", "-X", method])
            .args(["-w", "\n%{http_code}"])
            .env("KRB5_CONFIG", self.krb5_conf())
            .env("KRB5CCNAME", format!("FILE:{}", cache.display()));
        if let Some(b) = body {
            cmd.args(["-H", "content-type: application/json", "--data-binary", b]);
        }
        let out = cmd.arg(url).output().expect("run curl");
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let (body, code) = text.rsplit_once('\n').unwrap_or(("", &text));
        (
            code.trim().parse().unwrap_or_else(|_| {
                panic!("curl: {text} {}", String::from_utf8_lossy(&out.stderr))
            }),
            body.to_string(),
        )
    }

    /// The `Negotiate` token curl sends with the tickets in `cache` for `HTTP/localhost`,
    /// caught by a one-request server on loopback (for tampering and replay tests).
    pub fn token(&self, cache: &Path) -> Vec<u8> {
        use std::io::{BufRead, BufReader, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let server = std::thread::spawn(move || -> String {
            loop {
                let (stream, _) = listener.accept().expect("accept");
                stream
                    .set_read_timeout(Some(Duration::from_secs(10)))
                    .expect("timeout");
                let mut reader = BufReader::new(stream.try_clone().expect("clone"));
                let mut out = stream;
                // Requests on this connection until curl closes it.
                loop {
                    let mut token = None;
                    let mut line = String::new();
                    loop {
                        line.clear();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 {
                            break;
                        }
                        if line == "\r\n" {
                            break;
                        }
                        if let Some((k, v)) = line.split_once(':')
                            && k.eq_ignore_ascii_case("authorization")
                        {
                            token = v.trim().strip_prefix("Negotiate ").map(str::to_string);
                        }
                    }
                    if line.is_empty() {
                        break;
                    }
                    if let Some(t) = token {
                        let _ =
                            out.write_all(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n");
                        return t;
                    }
                    let _ = out.write_all(
                        b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Negotiate\r\nContent-Length: 0\r\n\r\n",
                    );
                }
            }
        });
        let status = Command::new("curl")
            .args(["-sS", "-o", "/dev/null", "--negotiate", "-u", ":"])
            .arg(format!("http://localhost:{port}/"))
            .env("KRB5_CONFIG", self.krb5_conf())
            .env("KRB5CCNAME", format!("FILE:{}", cache.display()))
            .status()
            .expect("run curl");
        assert!(status.success(), "curl --negotiate failed");
        let token = server.join().expect("the token catcher");
        use base64::Engine;
        base64::engine::general_purpose::STANDARD
            .decode(token)
            .expect("a base64 token")
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        while std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            assert!(Instant::now() < deadline, "krb5kdc did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Kdc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        reaper::release(self.child.id());
    }
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd
        .output()
        .expect("run a Kerberos admin tool (apt-get install krb5-kdc)");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A port free for both UDP and TCP (the KDC listens on both).
fn free_udp_tcp_port() -> u16 {
    loop {
        let port = crate::ports::free_ports(1)[0];
        if UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

fn kdc_conf(p: &Path, realm: &str, port: u16) -> String {
    let d = p.display();
    format!(
        r#"[kdcdefaults]
 kdc_listen = 127.0.0.1:{port}
 kdc_tcp_listen = 127.0.0.1:{port}
[realms]
 {realm} = {{
  database_name = {d}/principal
  key_stash_file = {d}/stash
  acl_file = {d}/kadm5.acl
  kdc_listen = 127.0.0.1:{port}
  kdc_tcp_listen = 127.0.0.1:{port}
  max_life = 1h
 }}
[logging]
 kdc = FILE:{d}/kdc.log
"#
    )
}

fn krb5_conf(realm: &str, port: u16) -> String {
    format!(
        r#"[libdefaults]
 default_realm = {realm}
 dns_lookup_kdc = false
 dns_lookup_realm = false
 rdns = false
 dns_canonicalize_hostname = false
 udp_preference_limit = 1
[realms]
 {realm} = {{
  kdc = 127.0.0.1:{port}
 }}
[domain_realm]
 localhost = {realm}
 127.0.0.1 = {realm}
"#
    )
}
