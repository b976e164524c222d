//! The real binary: the stdout address line, HTTP over loopback, users file, SIGTERM exit.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};

const TOKEN: &str = "SimTok3nSimTok3nSimTok3nSimTok3nSimTok3n42";

struct Sim {
    child: Child,
    addr: String,
    stdout: BufReader<std::process::ChildStdout>,
}

impl Drop for Sim {
    fn drop(&mut self) {
        // Only reached when an assertion failed before the orderly shutdown.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(args: &[&str]) -> Sim {
    let mut child = Command::new(env!("CARGO_BIN_EXE_xgate-bot-sim"))
        .args(["--listen", "127.0.0.1:0"])
        .args(args)
        .env("XGATE_SIM_TOKEN", TOKEN)
        .env("RUST_LOG", "trace")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn xgate-bot-sim");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    stdout.read_line(&mut line).expect("read stdout line");
    let addr = line
        .strip_suffix('\n')
        .and_then(|l| l.strip_prefix("xgate-bot-sim listening on http://"))
        .unwrap_or_else(|| panic!("unexpected first stdout line {line:?}"))
        .to_owned();
    let port: u16 = addr
        .rsplit_once(':')
        .and_then(|(_, p)| p.parse().ok())
        .expect("port");
    assert_ne!(port, 0, "must print the bound port, not the requested one");
    Sim {
        child,
        addr,
        stdout,
    }
}

/// A minimal HTTP/1.1 exchange; returns (status, lower-cased head, body).
fn http(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[&str],
    body: &str,
) -> (u16, String, String) {
    let mut s = TcpStream::connect(addr).expect("connect");
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\ncontent-length: {}\r\n",
        body.len()
    );
    for h in headers {
        req.push_str(h);
        req.push_str("\r\n");
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).expect("write");
    let mut resp = String::new();
    s.read_to_string(&mut resp).expect("read");
    let (head, body) = resp.split_once("\r\n\r\n").expect("http answer");
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("status");
    (status, head.to_ascii_lowercase(), body.to_owned())
}

fn terminate(mut sim: Sim) -> String {
    let pid = sim.child.id().to_string();
    let killed = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("run kill");
    assert!(killed.success());
    let status = sim.child.wait().expect("wait");
    assert!(
        status.success(),
        "SIGTERM must end the simulator cleanly: {status}"
    );
    let mut rest = String::new();
    sim.stdout.read_to_string(&mut rest).expect("stdout");
    assert_eq!(rest, "", "stdout carries only the address line");
    let mut stderr = String::new();
    sim.child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut stderr)
        .expect("stderr");
    stderr
}

const CREATE: &str = r#"{"name":"test_plugin_001","members":["user001@mydomain.com","user002@mydomain.com"],"admins":["user001@mydomain.com"],"creator":"user001@mydomain.com","start_at":"2099-12-21T10:10:00.0Z","end_at":"2099-12-21T11:10:00.0Z","link":{"link_type":"public","access_code":null}}"#;

#[test]
fn binary_announces_port_serves_bearer_and_stops_on_sigterm() {
    let sim = start(&["--auth", "bearer"]);
    let (status, _, body) = http(&sim.addr, "GET", "/_sim/health", &[], "");
    assert_eq!(status, 200, "{body}");

    let json = "content-type: application/json";
    let (status, head, body) = http(
        &sim.addr,
        "POST",
        "/api/v1/conference_bot/conferences/",
        &[json],
        CREATE,
    );
    assert_eq!(status, 401);
    assert!(head.contains("content-length: 0"), "{head}");
    assert_eq!(body, "");

    let auth = format!("authorization: Bearer {TOKEN}");
    let (status, _, body) = http(
        &sim.addr,
        "POST",
        "/api/v1/conference_bot/conferences/",
        &[json, &auth],
        CREATE,
    );
    assert_eq!(status, 201, "{body}");
    assert!(
        body.contains(r#""start_at":"2099-12-21T10:10:00.000000Z""#),
        "{body}"
    );

    let stderr = terminate(sim);
    assert!(!stderr.contains(TOKEN), "the token must never be logged");
    assert!(
        stderr.contains("bot call"),
        "calls are logged to stderr: {stderr}"
    );
}

#[test]
fn binary_reads_users_file() {
    let dir = std::env::temp_dir().join(format!("xgate-bot-sim-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("users.csv");
    std::fs::write(
        &file,
        "email,ad_login\nuser001@mydomain.com,user001\ndup@x.test,d1\ndup@x.test,d2\n",
    )
    .expect("users file");
    let sim = start(&["--users", file.to_str().expect("utf-8 path")]);
    std::fs::remove_dir_all(&dir).ok();

    let json = "content-type: application/json";
    let (status, _, body) = http(
        &sim.addr,
        "POST",
        "/api/v1/conference_bot/conferences",
        &[json],
        CREATE,
    );
    assert_eq!(status, 201, "{body}");
    // user002 is not in the file and is dropped.
    assert!(!body.contains("user002"), "{body}");

    let dup = CREATE.replace(
        r#""creator":"user001@mydomain.com""#,
        r#""creator":"dup@x.test""#,
    );
    let (status, _, body) = http(
        &sim.addr,
        "POST",
        "/api/v1/conference_bot/conferences",
        &[json],
        &dup,
    );
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("multiple_users_found_by_email"), "{body}");
    terminate(sim);
}

#[test]
fn binary_rejects_bearer_without_token() {
    let out = Command::new(env!("CARGO_BIN_EXE_xgate-bot-sim"))
        .args(["--listen", "127.0.0.1:0", "--auth", "bearer"])
        .env_remove("XGATE_SIM_TOKEN")
        .stdin(Stdio::null())
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--token"));
}
