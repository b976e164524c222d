//! What xgate tells its operators: the add-in's own logs re-emitted with tenant and
//! user, metrics by tenant, health and readiness, and the headers that tie an answer
//! to its log lines (request id) and to the config it was served with.

use serde_json::{Value, json};
use xgate_tests::raw_http::{RawConn, request};
use xgate_tests::{Backend, BotSim, Lease, Shared, TenantSpec, Xgate, XgateSpec, both_backends};

const MAX_BODY: usize = 8192;

struct Env {
    sim: BotSim,
    gw: Xgate,
}

static ENV: Shared<Env> = Shared::new();

fn env(backend: Backend) -> Lease<Env> {
    ENV.get(backend, |backend| {
        let sim = BotSim::bearer();
        let gw = XgateSpec::new(backend)
            .server("log_format = \"json\"")
            .server(&format!("max_body_bytes = {MAX_BODY}"))
            .tenant(
                TenantSpec::new("tel", "Telemetry Inc", &["tel.test"])
                    .own_port()
                    .bot(&sim),
            )
            .start();
        Env { sim, gw }
    })
}

/// xgate's JSON log lines (`log_format = "json"`).
fn log_lines(gw: &Xgate) -> Vec<Value> {
    gw.stderr()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// The log line whose `message` is exactly `message`.
fn logged(gw: &Xgate, message: &str) -> Value {
    log_lines(gw)
        .into_iter()
        .find(|l| l["message"] == message)
        .unwrap_or_else(|| panic!("no log line with message {message:?}:\n{}", gw.stderr()))
}

/// A unique text per test and backend.
fn unique(what: &str, backend: Backend) -> String {
    format!("{what} [{backend:?}] {}", xgate_tests::bot_sim::new_token())
}

/// The value of the first sample of `metric` whose labels include all of `labels`.
fn sample(metrics: &str, metric: &str, labels: &[&str]) -> Option<f64> {
    metrics
        .lines()
        .filter(|l| l.starts_with(&format!("{metric}{{")))
        .find(|l| labels.iter().all(|want| l.contains(want)))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

both_backends!(
    a_serilog_array_is_logged_with_source_and_tenant,
    an_events_object_is_logged_with_the_user,
    a_batch_that_is_not_json_is_400,
    a_batch_over_the_cap_is_413,
    metrics_count_requests_and_bot_calls_by_tenant,
    health_readiness_and_ops_stay_on_the_ops_listener,
    answers_carry_the_request_id_and_config_version,
);

async fn a_serilog_array_is_logged_with_source_and_tenant(backend: Backend) {
    let env = env(backend);
    let message = unique("Outlook add-in started", backend);
    // The add-in's log sink names no user.
    let reply = env
        .gw
        .on_port("tel")
        .post(
            "/api/log/json",
            &json!([{
                "Timestamp": "2024-03-01T10:00:00.123+03:00",
                "Level": "Warning",
                "MessageTemplate": "Outlook add-in started {Version}",
                "RenderedMessage": message,
                "Exception": "System.Exception: boom",
                "Properties": {"Version": "1.2.3"},
            }]),
        )
        .await;
    assert_eq!(reply.status, 204, "{}", reply.body);
    let line = logged(&env.gw, &message);
    assert_eq!(line["source"], "client", "{line}");
    assert_eq!(line["tenant"], "tel", "{line}");
    assert_eq!(line["level"], "WARN", "Serilog's level kept: {line}");
    assert!(
        line.to_string().contains("System.Exception: boom"),
        "{line}"
    );
}

async fn an_events_object_is_logged_with_the_user(backend: Backend) {
    let env = env(backend);
    let message = unique("Meeting form opened", backend);
    let reply = env
        .gw
        .shared()
        .as_user("Reporter@TEL.test")
        .post(
            "/api/log/json",
            &json!({"events": [
                {"Timestamp": "2024-03-01T10:00:00Z", "Level": "Information", "RenderedMessage": message},
                {"Timestamp": "2024-03-01T10:00:01Z", "Level": "Error", "RenderedMessage": format!("{message} (2)")},
            ]}),
        )
        .await;
    assert_eq!(reply.status, 204, "{}", reply.body);
    for (text, level) in [
        (message.clone(), "INFO"),
        (format!("{message} (2)"), "ERROR"),
    ] {
        let line = logged(&env.gw, &text);
        assert_eq!(line["source"], "client", "{line}");
        assert_eq!(line["tenant"], "tel", "{line}");
        assert_eq!(line["user"], "reporter@tel.test", "{line}");
        assert_eq!(line["level"], level, "{line}");
    }
}

async fn a_batch_that_is_not_json_is_400(backend: Backend) {
    let env = env(backend);
    let tel = env.gw.on_port("tel");
    for body in [
        "this is not JSON",
        "{\"events\": [",
        "42",
        "{\"something\": []}",
    ] {
        tel.post_raw("/api/log/json", body)
            .await
            .expect_error(400, "invalid_json");
    }
}

async fn a_batch_over_the_cap_is_413(backend: Backend) {
    let env = env(backend);
    let event = json!({"Level": "Information", "RenderedMessage": "x".repeat(1000)});
    let batch = serde_json::to_vec(&vec![event; 10]).unwrap();
    assert!(batch.len() > MAX_BODY);
    let mut conn = RawConn::connect(env.gw.tenant_addr("tel"));
    let mut head = request(
        "POST",
        "/api/log/json",
        &[("Content-Type", "application/json")],
        &batch,
    );
    head.truncate(head.len() - batch.len());
    conn.send(&head);
    let resp = conn.read_response();
    assert_eq!(resp.status, 413, "{}", resp.text());
    let (code, _) = xgate_tests::api::error_of(&resp.json()).expect("the error shape");
    assert_eq!(code, "payload_too_large");

    // Just under the cap is fine.
    let small =
        serde_json::to_vec(&vec![json!({"Level": "Debug", "RenderedMessage": "y"}); 10]).unwrap();
    let reply = env.gw.on_port("tel").post_raw("/api/log/json", small).await;
    assert_eq!(reply.status, 204, "{}", reply.body);
}

async fn metrics_count_requests_and_bot_calls_by_tenant(backend: Backend) {
    let env = env(backend);
    env.gw
        .on_port("tel")
        .create_meeting("metrics@tel.test")
        .await;
    let reply = env
        .gw
        .on_port("tel")
        .post(
            "/api/log/json",
            &json!([{"Level": "Information", "RenderedMessage": "m"}]),
        )
        .await;
    assert_eq!(reply.status, 204);

    let metrics = env.gw.ops().get("/metrics").await;
    assert_eq!(metrics.status, 200);
    let text = &metrics.body;
    let created = sample(
        text,
        "xgate_http_requests_total",
        &[
            "tenant=\"tel\"",
            "route=\"/api/meetings\"",
            "status_class=\"2xx\"",
        ],
    );
    assert!(created >= Some(1.0), "requests by tenant:\n{text}");
    let bot = sample(
        text,
        "xgate_bot_calls_total",
        &["tenant=\"tel\"", "operation=\"create\"", "outcome=\"ok\""],
    );
    assert!(bot >= Some(1.0), "bot calls by tenant:\n{text}");
    let events = sample(text, "xgate_client_events_total", &["tenant=\"tel\""]);
    assert!(events >= Some(1.0), "client events by tenant:\n{text}");
    assert!(env.sim.stats().await["calls"]["create"].as_u64() >= Some(1));
}

async fn health_readiness_and_ops_stay_on_the_ops_listener(backend: Backend) {
    let env = env(backend);
    let ops = env.gw.ops();
    assert_eq!(ops.get("/healthz").await.status, 200);
    assert_eq!(ops.get("/readyz").await.status, 200);
    // The ops routes are not on the API listeners, nor the API on the ops listener.
    for api in [env.gw.on_port("tel"), env.gw.shared()] {
        api.as_user("ops@tel.test")
            .get("/metrics")
            .await
            .expect_error(404, "not_found");
    }
    assert_eq!(
        ops.get("/api/settings").await.status,
        404,
        "the API is not served on the ops listener"
    );
}

async fn answers_carry_the_request_id_and_config_version(backend: Backend) {
    let env = env(backend);
    let tel = env.gw.on_port("tel").as_user("headers@tel.test");
    let replies = [
        tel.get("/api/settings").await,
        tel.get("/api/meetings/not-a-meeting").await,
        env.gw.shared().get("/api/settings").await,
        env.gw.ops().get("/healthz").await,
    ];
    let version = replies[0]
        .header("x-xgate-config-version")
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or_else(|| panic!("a config version: {:?}", replies[0]));
    assert!(version >= 1);
    let mut ids: Vec<&str> = Vec::new();
    for r in &replies {
        assert_eq!(
            r.header("x-xgate-config-version"),
            Some(version.to_string().as_str()),
            "{r:?}"
        );
        let id = r.header("x-request-id").unwrap_or_default();
        assert!(!id.is_empty(), "{r:?}");
        ids.push(id);
    }
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), replies.len(), "one id per request");

    // A front proxy's id is kept, and ties the answer to every log line of the request.
    let given = format!("trace-{}", xgate_tests::bot_sim::new_token());
    let reply = tel
        .with_header("x-request-id", &given)
        .get("/api/settings")
        .await;
    assert_eq!(reply.header("x-request-id"), Some(given.as_str()));
    let lines: Vec<Value> = log_lines(&env.gw)
        .into_iter()
        .filter(|l| l["span"]["id"] == given.as_str())
        .collect();
    assert!(!lines.is_empty(), "the request's log lines carry its id");
    for line in &lines {
        assert_eq!(line["span"]["tenant"], "tel", "and its tenant: {line}");
    }
    // An id that is not plain is replaced.
    let reply = tel
        .with_header("x-request-id", "not plain; injected=1")
        .get("/api/settings")
        .await;
    let id = reply.header("x-request-id").unwrap_or_default();
    assert!(!id.is_empty() && !id.contains(' '), "{id:?}");
}
