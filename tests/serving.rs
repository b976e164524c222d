//! pingora as the process skeleton: the TLS listener, and the graceful upgrade an
//! operator runs to replace the binary (`xgate serve --upgrade`, then SIGQUIT to the old
//! process) without refusing a connection on any listener, tenant ports included.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use xgate_tests::{Backend, BotSim, TenantSpec, XgateSpec};

/// A client that opens a new connection for every request, so that every request is
/// also a fresh `accept` on whichever process holds the listener at that moment.
fn fresh_connections() -> reqwest::Client {
    // Installs the process's rustls provider.
    let _ = xgate_tests::api::http();
    reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(0)
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .expect("an HTTP client")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tls_listener_serves_the_api() {
    // Installs the process's rustls provider, which the clients below need.
    let _ = xgate_tests::api::http();
    let certs = tempfile::tempdir().expect("tempdir");
    xgate_tests::certs::write_certificates(certs.path());
    let port = xgate_tests::ports::free_ports(1)[0];
    let sim = BotSim::bearer();
    let gw = XgateSpec::new(Backend::Sqlite)
        .server(&format!(
            "tls = {{ listen = [\"127.0.0.1:{port}\"], cert = \"{}\", key = \"{}\" }}",
            certs.path().join("server.pem").display(),
            certs.path().join("server.key").display()
        ))
        .tenant(TenantSpec::new("acme", "ACME", &["acme.test"]).bot(&sim))
        .start();

    let ca = std::fs::read(certs.path().join("ca.pem")).expect("ca.pem");
    let client = reqwest::Client::builder()
        .no_proxy()
        .tls_certs_only([reqwest::Certificate::from_pem(&ca).expect("the CA")])
        .build()
        .expect("a TLS client");
    let base = format!("https://127.0.0.1:{port}");
    for _ in 0..2 {
        let reply = client
            .get(format!("{base}/api/settings"))
            .header("x-xgate-user", "alice@acme.test")
            .send()
            .await
            .expect("an answer over TLS");
        assert_eq!(reply.status(), 200);
        assert!(reply.headers().contains_key("x-xgate-config-version"));
    }
    let created = client
        .post(format!("{base}/api/meetings"))
        .json(&xgate_tests::old_client_create("alice@acme.test", 1033))
        .send()
        .await
        .expect("an answer over TLS");
    assert_eq!(created.status(), 201, "a meeting created over TLS");

    // The TLS port speaks only TLS.
    let plain = fresh_connections()
        .get(format!("http://127.0.0.1:{port}/api/settings"))
        .header("x-xgate-user", "alice@acme.test")
        .send()
        .await;
    assert!(
        plain.map(|r| r.status() != 200).unwrap_or(true),
        "plain HTTP is not served on the TLS port"
    );
    // A client that does not trust the certificate gets no answer.
    let untrusting = reqwest::Client::builder()
        .no_proxy()
        .tls_certs_only(Vec::<reqwest::Certificate>::new())
        .build()
        .expect("a client");
    assert!(
        untrusting
            .get(format!("{base}/api/settings"))
            .send()
            .await
            .is_err()
    );
    drop(gw);
}

/// Requests keep going to the shared listener and to a tenant's own port while the
/// process is replaced; not one is refused or fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_graceful_upgrade_refuses_no_connection() {
    let sim = BotSim::bearer();
    let gw = Arc::new(
        XgateSpec::new(Backend::Sqlite)
            .server("grace_period_seconds = 1")
            .server("graceful_shutdown_timeout_seconds = 1")
            .tenant(
                TenantSpec::new("acme", "ACME", &["acme.test"])
                    .own_port()
                    .bot(&sim),
            )
            .start(),
    );
    let targets = [
        format!("http://{}/api/settings", gw.shared_addr()),
        format!("http://{}/api/settings", gw.tenant_addr("acme")),
    ];
    let old_pid = gw.pid();
    let upgrading = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicBool::new(false));
    let during = Arc::new(AtomicUsize::new(0));
    let client = fresh_connections();

    let mut load = Vec::new();
    for worker in 0..4 {
        let url = targets[worker % 2].clone();
        let (client, upgrading, done, during) = (
            client.clone(),
            upgrading.clone(),
            done.clone(),
            during.clone(),
        );
        load.push(tokio::spawn(async move {
            let mut failures = Vec::new();
            let mut sent = 0usize;
            // Bounded: the upgrade ends in well under this many requests per worker.
            while !done.load(Ordering::SeqCst) && sent < 200_000 {
                sent += 1;
                let reply = client
                    .get(&url)
                    .header("x-xgate-user", "load@acme.test")
                    .send()
                    .await;
                match reply {
                    Ok(r) if r.status() == 200 => {}
                    Ok(r) => failures.push(format!("{url}: status {}", r.status())),
                    Err(e) => failures.push(format!("{url}: {e:?}")),
                }
                if upgrading.load(Ordering::SeqCst) {
                    during.fetch_add(1, Ordering::SeqCst);
                }
            }
            (sent, failures)
        }));
    }

    upgrading.store(true, Ordering::SeqCst);
    let handover = {
        let gw = gw.clone();
        tokio::task::spawn_blocking(move || gw.upgrade(1))
    };
    handover.await.expect("join").expect("the upgrade");
    upgrading.store(false, Ordering::SeqCst);
    // A little more load on the new process alone, then stop.
    let after = during.load(Ordering::SeqCst);
    let settled = fresh_connections();
    for url in &targets {
        for _ in 0..20 {
            let r = settled
                .get(url)
                .header("x-xgate-user", "load@acme.test")
                .send()
                .await
                .expect("the new process answers");
            assert_eq!(r.status(), 200);
        }
    }
    done.store(true, Ordering::SeqCst);

    let mut failures = Vec::new();
    for task in load {
        let (_, f) = task.await.expect("a load worker");
        failures.extend(f);
    }
    assert!(
        failures.is_empty(),
        "failed during the upgrade: {failures:#?}"
    );
    assert!(
        after > 100,
        "the load really ran across the handover ({after} requests)"
    );
    assert_ne!(gw.pid(), old_pid, "a new process serves");
    // The tenant port went over as the same socket (`gw.stderr()` is the old process's).
    assert!(
        gw.stderr()
            .contains("tenant ports handed to the new process"),
        "{}",
        gw.stderr()
    );
    // The new process is a full xgate: the bot path works and a reload applies.
    gw.on_port("acme")
        .as_user("after@acme.test")
        .create_meeting("after@acme.test")
        .await;
    let reload = gw.ops().post("/reload", &serde_json::json!({})).await;
    assert_eq!(reload.status, 200, "{}", reload.body);
}
