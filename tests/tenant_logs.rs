//! The old services had one log folder each; with `server.tenant_log_dir` xgate keeps a
//! folder per tenant, JSON lines with the request id, user, route, status and duration,
//! and only that tenant's lines.

use std::path::Path;

use serde_json::Value;
use xgate_tests::{Backend, BotSim, TenantSpec, Xgate, XgateSpec};

/// Every JSON line of every file in `<logs>/<tenant>/`.
fn tenant_lines(logs: &Path, tenant: &str) -> Vec<Value> {
    let Ok(files) = std::fs::read_dir(logs.join(tenant)) else {
        return Vec::new();
    };
    let mut lines = Vec::new();
    for file in files.flatten() {
        let name = file.file_name().to_string_lossy().into_owned();
        assert!(
            name.starts_with("xgate.") && name.ends_with(".log"),
            "a daily file: {name}"
        );
        let text = std::fs::read_to_string(file.path()).expect("read a log file");
        for line in text.lines() {
            let value: Value =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("JSON line ({e}): {line}"));
            lines.push(value);
        }
    }
    lines
}

fn all_text(logs: &Path) -> String {
    let mut text = String::new();
    for dir in std::fs::read_dir(logs).expect("the log dir").flatten() {
        for file in std::fs::read_dir(dir.path())
            .expect("a tenant dir")
            .flatten()
        {
            text.push_str(&std::fs::read_to_string(file.path()).unwrap_or_default());
        }
    }
    text
}

fn start(sim: &BotSim, other: &BotSim) -> Xgate {
    XgateSpec::new(Backend::Sqlite)
        .server("tenant_log_dir = \"../logs\"")
        .tenant(
            TenantSpec::new("acme", "ACME", &["acme.test"])
                .own_port()
                .bot(sim),
        )
        .tenant(TenantSpec::new("globex", "Globex", &["globex.test"]).bot(other))
        .start()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_tenant_has_its_own_log_folder_with_its_requests_only() {
    let (sim, other) = (BotSim::bearer(), BotSim::bearer());
    let gw = start(&sim, &other);
    let logs = gw.dir().join("logs");
    let id = format!("trace-{}", xgate_tests::bot_sim::new_token());

    let created = gw
        .on_port("acme")
        .as_user("alice@acme.test")
        .with_header("x-request-id", &id)
        .create_meeting("alice@acme.test")
        .await;
    assert!(created.is_object(), "{created}");
    let globex_id = format!("trace-{}", xgate_tests::bot_sim::new_token());
    let reply = gw
        .shared()
        .as_user("bob@globex.test")
        .with_header("x-request-id", &globex_id)
        .get("/api/settings")
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);

    let acme = tenant_lines(&logs, "acme");
    let request = acme
        .iter()
        .find(|l| l["id"] == id.as_str() && l["message"] == "request")
        .unwrap_or_else(|| panic!("acme's request line in its folder: {acme:?}"));
    assert_eq!(request["tenant"], "acme", "{request}");
    assert_eq!(request["user"], "alice@acme.test", "{request}");
    assert_eq!(request["route"], "/api/meetings", "{request}");
    assert_eq!(request["status"], 201, "{request}");
    assert!(request["duration_ms"].as_f64().is_some(), "{request}");
    assert!(request["timestamp"].is_string() && request["level"] == "INFO");
    assert!(
        acme.iter().all(|l| l["tenant"] == "acme"),
        "only acme's lines in acme's folder"
    );
    assert!(
        !acme.iter().any(|l| l["id"] == globex_id.as_str()),
        "globex's request is not in acme's folder"
    );

    let globex = tenant_lines(&logs, "globex");
    let line = globex
        .iter()
        .find(|l| l["id"] == globex_id.as_str() && l["message"] == "request")
        .unwrap_or_else(|| panic!("globex's request line in its folder: {globex:?}"));
    assert_eq!(line["user"], "bob@globex.test", "{line}");
    assert!(!globex.iter().any(|l| l["id"] == id.as_str()));

    // The same lines are in the main stream too, and no secret is in either.
    assert!(gw.stderr().contains(&id));
    let text = all_text(&logs);
    for secret in gw.secrets() {
        assert!(!text.contains(secret.as_str()), "a secret in a tenant log");
    }
}
