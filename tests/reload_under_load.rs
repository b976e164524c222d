//! Fifty reloads while clients keep calling: tenants added, changed (token rotation, a
//! bot URI moved to a second simulator, mail domains moved) and removed, ports opened and
//! closed. No request may fail or be misrouted, and every answer must come from one
//! config version: all answers stamped with one `x-xgate-config-version` agree.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::json;
use tokio::sync::Mutex;
use xgate_tests::{Api, Backend, BotSim, TenantSpec, Xgate, XgateSpec, both_backends, ports};

const STEPS: u32 = 50;
const CLIENTS: usize = 3;
/// A bound on the load, whatever the speed of the machine.
const MAX_REQUESTS_PER_CLIENT: usize = 3_000;

/// What a client saw: the version stamped on the answer and globex's name in it.
type Seen = Arc<Mutex<Vec<(u64, String, Option<String>)>>>;

both_backends!(fifty_reloads_under_load_fail_no_request);

async fn fifty_reloads_under_load_fail_no_request(backend: Backend) {
    let sims = [BotSim::bearer(), BotSim::bearer()];
    let xg = XgateSpec::new(backend)
        .tenant(
            TenantSpec::new("acme", "ACME", &["acme.test"])
                .own_port()
                .bot(&sims[0]),
        )
        .tenant(TenantSpec::new("globex", "Globex 0", &["globex.test"]).bot(&sims[0]))
        .start();
    let config_dir = xg.config_path().parent().unwrap().to_path_buf();
    let secrets = xg.dir().join("secrets");
    std::fs::create_dir_all(&secrets).unwrap();
    for (i, sim) in sims.iter().enumerate() {
        std::fs::write(secrets.join(format!("{i}.token")), sim.token().unwrap()).unwrap();
    }

    let stop = Arc::new(AtomicBool::new(false));
    let seen: Seen = Arc::default();
    let mut clients = Vec::new();
    for c in 0..CLIENTS {
        clients.push(tokio::spawn(client(
            c,
            xg.on_port("acme"),
            xg.shared(),
            stop.clone(),
            seen.clone(),
        )));
    }

    let mut last_version = 0;
    let mut step_of_sim = BTreeMap::new();
    let mut temp_meetings = Vec::new();
    let mut temp_port_before = None;
    for step in 1..=STEPS {
        let sim = ((step / 5) % 2) as usize;
        step_of_sim.insert(step, sim);
        let temp_port = write_step(&config_dir, &secrets, step, &sims[sim]);
        let report = xg.ops().post("/reload", &json!({})).await.expect(200);
        assert_eq!(report["result"], "success", "step {step}: {report}");
        let version = report["version"].as_u64().unwrap();
        assert!(
            version > last_version,
            "every step changes something: {report}"
        );
        last_version = version;
        check_step(&xg, step).await;
        check_temp(temp_port, &mut temp_meetings).await;
        if let (None, Some(old)) = (temp_port, temp_port_before) {
            assert!(
                std::net::TcpStream::connect(("127.0.0.1", old)).is_err(),
                "step {step}: the removed tenant's port {old} is closed"
            );
        }
        temp_port_before = temp_port;
    }
    stop.store(true, Ordering::Relaxed);
    let mut answered = 0;
    for c in clients {
        answered += c.await.expect("a client task");
    }
    assert!(
        answered >= CLIENTS * 10,
        "the load really ran: {answered} answers"
    );

    // One version, one config: globex's name is the same in every answer of a version,
    // and later versions never show an earlier step.
    let seen = seen.lock().await;
    let mut name_of_version: BTreeMap<u64, String> = BTreeMap::new();
    for (version, name, _) in seen.iter() {
        let first = name_of_version
            .entry(*version)
            .or_insert_with(|| name.clone());
        assert_eq!(first, name, "version {version} answered with two configs");
    }
    let steps: Vec<u32> = name_of_version.values().map(|n| step_of(n)).collect();
    assert!(
        steps.windows(2).all(|w| w[0] <= w[1]),
        "versions go forward: {name_of_version:?}"
    );
    assert!(
        name_of_version.len() > 5,
        "the load saw many versions: {name_of_version:?}"
    );

    // Every meeting created under a version went to the bot that version named.
    for (version, name, call_id) in seen.iter() {
        let Some(call_id) = call_id else { continue };
        let sim = &sims[step_of_sim.get(&step_of(name)).copied().unwrap_or(0)];
        assert!(
            sim.conference(call_id).await.is_some(),
            "meeting {call_id} of version {version} ({name}) is not on its bot"
        );
    }
}

fn step_of(name: &str) -> u32 {
    name.rsplit(' ')
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// Writes the tree for a step; returns the temporary tenant's port while it exists. Files
/// are written to a temporary name and renamed, as a careful editor or a config
/// management tool does.
fn write_step(config_dir: &Path, secrets: &Path, step: u32, sim: &BotSim) -> Option<u16> {
    let sim_index = ((step / 5) % 2) as usize;
    let token_file = secrets.join(format!("{sim_index}.token"));
    write_atomically(
        &config_dir.join("tenants.d/globex.toml"),
        &format!(
            r#"[tenants.globex]
name = "Globex {step}"
mail_domains = ["globex.test"]
template_set = "test"
[tenants.globex.bot]
url = "{}"
auth = "bearer"
token = "file:{}"
[tenants.globex.auth]
mode = "none"
"#,
            sim.bot_url(),
            token_file.display()
        ),
    );
    // Initech's domain moves back and forth between two names.
    let domain = if step.is_multiple_of(2) {
        "initech-even.test"
    } else {
        "initech-odd.test"
    };
    write_atomically(
        &config_dir.join("tenants.d/initech.toml"),
        &tenant_file(
            "initech",
            &format!("Initech {step}"),
            domain,
            None,
            sim,
            &token_file,
        ),
    );
    // A tenant with a port of its own exists on two steps of three.
    let temp = config_dir.join("tenants.d/temp.toml");
    if step.is_multiple_of(3) {
        let _ = std::fs::remove_file(&temp);
        None
    } else {
        let port = ports::free_ports(1)[0];
        write_atomically(
            &temp,
            &tenant_file("temp", "Temp", "temp.test", Some(port), sim, &token_file),
        );
        Some(port)
    }
}

/// The temporary tenant: as soon as the reload that adds it answers, its port is open and
/// its storage migrated (a meeting can be created at once); once removed, its port is
/// closed; re-added, its earlier meetings are still there.
async fn check_temp(port: Option<u16>, meetings: &mut Vec<String>) {
    let Some(port) = port else {
        return;
    };
    let api =
        Api::new(format!("http://127.0.0.1:{port}"), Arc::new(Vec::new())).as_user("t@temp.test");
    for id in meetings.iter() {
        api.meeting(id).await.expect(200);
    }
    let m = api.create_meeting("t@temp.test").await;
    meetings.push(m["id"].as_str().unwrap().to_string());
}

fn tenant_file(
    id: &str,
    name: &str,
    domain: &str,
    port: Option<u16>,
    sim: &BotSim,
    token: &Path,
) -> String {
    let ports = port.map(|p| format!("ports = [{p}]\n")).unwrap_or_default();
    format!(
        r#"[tenants.{id}]
name = "{name}"
mail_domains = ["{domain}"]
{ports}template_set = "test"
[tenants.{id}.bot]
url = "{}"
auth = "bearer"
token = "file:{}"
[tenants.{id}.auth]
mode = "none"
"#,
        sim.bot_url(),
        token.display()
    )
}

fn write_atomically(path: &Path, text: &str) {
    let tmp: PathBuf = path.with_extension("tmp~");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// After each reload: the moved domain answers under its new name only, and the
/// temporary tenant's port is open exactly when the tenant exists.
async fn check_step(xg: &Xgate, step: u32) {
    let (now, before) = if step.is_multiple_of(2) {
        ("initech-even.test", "initech-odd.test")
    } else {
        ("initech-odd.test", "initech-even.test")
    };
    let s = xg
        .shared()
        .as_user(&format!("u@{now}"))
        .get("/api/settings")
        .await
        .expect(200);
    assert_eq!(s["tenant"]["name"], format!("Initech {step}"));
    xg.shared()
        .as_user(&format!("u@{before}"))
        .get("/api/settings")
        .await
        .expect_error(404, "tenant_not_found");

    // The temporary tenant exists exactly on the steps that write it. (Its reload may be
    // the watcher's rather than this step's POST: both see the same files.)
    let temp = xg
        .shared()
        .as_user("t@temp.test")
        .get("/api/settings")
        .await;
    if step.is_multiple_of(3) {
        temp.expect_error(404, "tenant_not_found");
    } else {
        assert_eq!(temp.expect(200)["tenant"]["id"], "temp", "step {step}");
    }
}

/// One client: the stable tenant on its own port, the changing one on the shared
/// listener, and now and then a meeting created through the changing one's bot.
async fn client(n: usize, acme: Api, shared: Api, stop: Arc<AtomicBool>, seen: Seen) -> usize {
    let acme = acme.as_user("anna@acme.test");
    let globex = shared.as_user(&format!("user{n}@globex.test"));
    let mut answered = 0;
    for i in 0..MAX_REQUESTS_PER_CLIENT {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let a = acme.get("/api/settings").await.expect(200);
        assert_eq!(a["tenant"]["name"], "ACME", "acme is never misrouted");

        let reply = if i % 10 == n % 10 {
            globex
                .post("/api/meetings", &json!({"LanguageId": 1033}))
                .await
        } else {
            globex.get("/api/settings").await
        };
        let version: u64 = reply
            .header("x-xgate-config-version")
            .and_then(|v| v.parse().ok())
            .expect("a config version on every answer");
        let (name, call_id) = if reply.status == 201 {
            let m = reply.json();
            let html = m["invitation"]["html"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let name = html
                .split("Organization: ")
                .nth(1)
                .and_then(|s| s.split('<').next())
                .unwrap_or_default()
                .to_string();
            (name, m["callId"].as_str().map(str::to_string))
        } else {
            let s = reply.expect(200);
            (
                s["tenant"]["name"].as_str().unwrap_or_default().to_string(),
                None,
            )
        };
        assert!(
            name.starts_with("Globex"),
            "globex is never misrouted: {name}"
        );
        seen.lock().await.push((version, name, call_id));
        answered += 2;
    }
    answered
}
