//! Request bodies as the old .NET client and real networks send them: keys in any case,
//! malformed JSON, bodies over `[server] max_body_bytes` (declared or chunked), several
//! requests on one kept-alive connection.

use serde_json::json;
use xgate_tests::api::USER_HEADER;
use xgate_tests::raw_http::{RawConn, chunk, request};
use xgate_tests::{
    Backend, BotSim, Lease, Shared, TenantSpec, Xgate, XgateSpec, both_backends, old_client_create,
};

const MAX_BODY: usize = 4096;

struct Env {
    sim: BotSim,
    gw: Xgate,
}

static ENV: Shared<Env> = Shared::new();

fn env(backend: Backend) -> Lease<Env> {
    ENV.get(backend, |backend| {
        let sim = BotSim::bearer();
        let gw = XgateSpec::new(backend)
            .server(&format!("max_body_bytes = {MAX_BODY}"))
            .tenant(
                TenantSpec::new("acme", "ACME Holding", &["acme.test"])
                    .own_port()
                    .bot(&sim),
            )
            .start();
        Env { sim, gw }
    })
}

/// A create body for `creator`, padded with an unknown key to exactly `len` bytes.
fn padded_create(creator: &str, len: usize) -> Vec<u8> {
    let head = format!("{{\"Creator\":\"{creator}\",\"LanguageId\":1049,\"pad\":\"");
    let tail = "\"}";
    let pad = len - head.len() - tail.len();
    format!("{head}{}{tail}", "x".repeat(pad)).into_bytes()
}

fn assert_error_body(resp: &xgate_tests::raw_http::RawResponse, status: u16, code: &str) {
    assert_eq!(resp.status, status, "{}", resp.text());
    let (got, message) = xgate_tests::api::error_of(&resp.json())
        .unwrap_or_else(|e| panic!("not the error shape ({e}): {}", resp.text()));
    assert_eq!(got, code, "{}", resp.text());
    assert!(!message.is_empty());
}

both_backends!(
    malformed_json_is_invalid_json,
    keys_match_in_any_case,
    a_body_at_the_cap_is_served,
    a_declared_body_over_the_cap_is_413,
    a_chunked_body_over_the_cap_is_413,
    a_chunked_body_under_the_cap_is_served,
    keep_alive_serves_several_requests_on_one_connection,
    expect_100_continue_is_answered,
    every_refusal_has_the_one_error_shape,
);

async fn malformed_json_is_invalid_json(backend: Backend) {
    let env = env(backend);
    let acme = env.gw.on_port("acme").as_user("json@acme.test");
    for body in [
        r#"{"Creator":"json@acme.test""#,
        r#"{"Creator":'json@acme.test'}"#,
        "[1, 2]",
        "\"a string\"",
        "Creator=json@acme.test",
    ] {
        acme.post_raw("/api/meetings", body)
            .await
            .expect_error(400, "invalid_json");
    }
    let created = acme.create_meeting("json@acme.test").await;
    let id = created["id"].as_str().unwrap();
    acme.send(
        acme.request(reqwest::Method::PUT, &format!("/api/meetings/{id}"))
            .header("content-type", "application/json")
            .body("{\"name\": }"),
    )
    .await
    .expect_error(400, "invalid_json");
    let conf = env
        .sim
        .conference(created["callId"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(conf["update_count"], 0, "the bot was not called");
}

async fn keys_match_in_any_case(backend: Backend) {
    let env = env(backend);
    let user = "keys@acme.test";
    let acme = env.gw.on_port("acme");
    let created = acme
        .post(
            "/api/meetings",
            &json!({"CREATOR": user, "languageID": 1033, "ISRECURRENT": true, "$TYPE": "MeetingCreateRequest"}),
        )
        .await
        .expect(201);
    assert_eq!(created["creator"], user);
    assert_eq!(created["language"], "en");
    assert_eq!(created["isRecurrent"], true);

    let id = created["id"].as_str().unwrap();
    let updated = acme
        .as_user(user)
        .update_meeting(
            id,
            &json!({
                "NAME": "Any Case",
                "StartAt": "2030-05-01T09:00:00+02:00",
                "ENDAT": "2030-05-01T10:00:00+02:00",
                "Members": ["m@acme.test"],
                "LINKTYPE": "corporate",
            }),
        )
        .await
        .expect(200);
    assert_eq!(updated["name"], "Any Case");
    assert_eq!(updated["startAt"], "2030-05-01T07:00:00Z");
    assert_eq!(updated["endAt"], "2030-05-01T08:00:00Z");
    assert_eq!(updated["linkType"], "corporate");
    let conf = env
        .sim
        .conference(created["callId"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(conf["name"], "Any Case");
    assert_eq!(conf["start_at"], "2030-05-01T07:00:00.000000Z");

    // One key twice, in two cases, is ambiguous.
    acme.as_user(user)
        .update_meeting(id, &json!({"name": "a", "NAME": "b"}))
        .await
        .expect_error(400, "invalid_json");
}

async fn a_body_at_the_cap_is_served(backend: Backend) {
    let env = env(backend);
    let body = padded_create("cap@acme.test", MAX_BODY);
    assert_eq!(body.len(), MAX_BODY);
    let created = env
        .gw
        .on_port("acme")
        .post_raw("/api/meetings", body)
        .await
        .expect(201);
    assert_eq!(created["creator"], "cap@acme.test");
}

async fn a_declared_body_over_the_cap_is_413(backend: Backend) {
    let env = env(backend);
    let body = padded_create("over@acme.test", MAX_BODY + 1);
    let mut conn = RawConn::connect(env.gw.tenant_addr("acme"));
    let mut head = request(
        "POST",
        "/api/meetings",
        &[("Content-Type", "application/json")],
        &body,
    );
    // Only the head: the answer must come from the declared length alone (and sending
    // a body nobody reads would make the close a reset).
    head.truncate(head.len() - body.len());
    conn.send(&head);
    let resp = conn.read_response();
    assert_error_body(&resp, 413, "payload_too_large");
    assert!(
        env.sim
            .conferences()
            .await
            .iter()
            .all(|c| c["creator"]["email"] != "over@acme.test"),
        "no conference for a refused body"
    );

    // In English when asked.
    let mut conn = RawConn::connect(env.gw.shared_addr());
    conn.send(&head_with(&head, "Accept-Language: en\r\n"));
    let resp = conn.read_response();
    assert_error_body(&resp, 413, "payload_too_large");
    let msg = resp.json()["error"]["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(xgate_tests::is_english(&msg), "{msg}");
    assert!(
        msg.contains(&MAX_BODY.to_string()),
        "names the limit: {msg}"
    );
}

/// `head` with one more header line.
fn head_with(head: &[u8], line: &str) -> Vec<u8> {
    let text = String::from_utf8_lossy(head);
    let (first, rest) = text.split_once("\r\n").expect("a request line");
    format!("{first}\r\n{line}{rest}").into_bytes()
}

async fn a_chunked_body_over_the_cap_is_413(backend: Backend) {
    let env = env(backend);
    let mut conn = RawConn::connect(env.gw.tenant_addr("acme"));
    conn.send(
        b"POST /api/meetings HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
          Transfer-Encoding: chunked\r\n\r\n",
    );
    let body = padded_create("chunked-over@acme.test", MAX_BODY + 1024);
    // No final chunk: the answer must come once the cap is passed.
    for piece in body.chunks(1024) {
        conn.send(&chunk(piece));
    }
    let resp = conn.read_response();
    assert_error_body(&resp, 413, "payload_too_large");
    assert!(
        env.sim
            .conferences()
            .await
            .iter()
            .all(|c| c["creator"]["email"] != "chunked-over@acme.test"),
        "no conference for a refused body"
    );
}

async fn a_chunked_body_under_the_cap_is_served(backend: Backend) {
    let env = env(backend);
    let mut conn = RawConn::connect(env.gw.tenant_addr("acme"));
    conn.send(
        b"POST /api/meetings HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
          Transfer-Encoding: chunked\r\n\r\n",
    );
    let body = serde_json::to_vec(&old_client_create("chunked@acme.test", 1049)).unwrap();
    for piece in body.chunks(7) {
        conn.send(&chunk(piece));
    }
    conn.send(&chunk(b""));
    let resp = conn.read_response();
    assert_eq!(resp.status, 201, "{}", resp.text());
    assert_eq!(resp.json()["creator"], "chunked@acme.test");
}

async fn keep_alive_serves_several_requests_on_one_connection(backend: Backend) {
    let env = env(backend);
    let user = "keepalive@acme.test";
    let mut conn = RawConn::connect(env.gw.tenant_addr("acme"));
    let mut ids = Vec::new();
    let mut exchange = |req: Vec<u8>, status: u16| {
        conn.send(&req);
        let resp = conn.read_response();
        assert_eq!(resp.status, status, "{}", resp.text());
        assert!(
            resp.header("content-length").is_some(),
            "a length, so the connection can carry the next request: {:?}",
            resp.headers
        );
        ids.push(resp.header("x-request-id").unwrap_or_default().to_string());
        resp
    };

    exchange(
        request("GET", "/api/settings", &[(USER_HEADER, user)], b""),
        200,
    );
    let body = serde_json::to_vec(&old_client_create(user, 1049)).unwrap();
    let created = exchange(
        request(
            "POST",
            "/api/meetings",
            &[("Content-Type", "application/json")],
            &body,
        ),
        201,
    )
    .json();
    let id = created["id"].as_str().unwrap().to_string();
    exchange(
        request(
            "GET",
            &format!("/api/meetings/{id}"),
            &[(USER_HEADER, user)],
            b"",
        ),
        200,
    );
    // Error answers keep the connection too.
    exchange(request("GET", "/api/settings", &[], b""), 401);
    exchange(
        request(
            "POST",
            "/api/meetings",
            &[("Content-Type", "application/json")],
            b"{",
        ),
        400,
    );
    exchange(
        request(
            "DELETE",
            &format!("/api/meetings/{id}"),
            &[(USER_HEADER, user)],
            b"",
        ),
        204,
    );
    exchange(
        request("GET", "/api/settings", &[(USER_HEADER, user)], b""),
        200,
    );

    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 7, "a request id per request: {ids:?}");
}

/// The old .NET client (HttpWebRequest) sends `Expect: 100-continue` with every POST
/// and holds the body back until the server answers (or 350 ms pass). RFC 9110 §10.1.1:
/// the server answers 100 or a final status at once.
async fn expect_100_continue_is_answered(backend: Backend) {
    let env = env(backend);
    let body = serde_json::to_vec(&old_client_create("expect@acme.test", 1049)).unwrap();
    let mut conn = RawConn::connect(env.gw.tenant_addr("acme"));
    let mut head = request(
        "POST",
        "/api/meetings",
        &[
            ("Content-Type", "application/json"),
            ("Expect", "100-continue"),
        ],
        &body,
    );
    head.truncate(head.len() - body.len());
    conn.send(&head);
    conn.set_read_timeout(std::time::Duration::from_secs(3));
    let interim = conn
        .try_read_response()
        .unwrap_or_else(|e| panic!("no answer to `Expect: 100-continue` before the body: {e}"));
    assert_eq!(interim.status, 100, "{interim:?}");
    conn.set_read_timeout(std::time::Duration::from_secs(15));
    conn.send(&body);
    let resp = conn.read_response();
    assert_eq!(resp.status, 201, "{}", resp.text());
}

async fn every_refusal_has_the_one_error_shape(backend: Backend) {
    let env = env(backend);
    let user = "shape@acme.test";
    let acme = env.gw.on_port("acme").as_user(user);
    acme.get("/api/no-such-route")
        .await
        .expect_error(404, "not_found");
    acme.send(acme.request(reqwest::Method::PATCH, "/api/meetings"))
        .await
        .expect_error(405, "method_not_allowed");
    acme.post("/api/meetings", &json!({"Creator": 5}))
        .await
        .expect_error(400, "invalid_field");
    let msg = acme
        .post(
            "/api/meetings",
            &json!({"Creator": user, "LanguageId": 1031}),
        )
        .await
        .expect_error(400, "invalid_field");
    assert!(msg.contains("LanguageId"), "names the field: {msg}");
    let created = acme.create_meeting(user).await;
    let id = created["id"].as_str().unwrap();
    let msg = acme
        .update_meeting(id, &json!({"startAt": "next tuesday"}))
        .await
        .expect_error(400, "invalid_field");
    assert!(msg.contains("startat") || msg.contains("startAt"), "{msg}");
    acme.meeting("not-a-uuid")
        .await
        .expect_error(404, "meeting_not_found");
}
