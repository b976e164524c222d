//! `reload-bench`: issue 3's benchmark. For each tenant count, generates a config tree,
//! runs the release binaries of xgate and xgate-bot-sim against it and prints startup
//! time, resident memory, edit-to-served time, full-reload time and request latency
//! during reloads, then a table against the targets. It prints; it asserts
//! nothing and exits 0 whatever the numbers (see README.md).

mod http;
mod load;
mod procs;
mod report;
mod tree;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;

use crate::load::{LoadSpec, Summary};
use crate::procs::{Binaries, Xgate};
use crate::report::{Run, dur, max, mb, median};
use crate::tree::Tree;

/// Benchmark of xgate's startup and hot reload with many tenants (issue 3).
#[derive(Parser, Debug)]
#[command(name = "reload-bench")]
struct Args {
    /// Tenant counts to run, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1000,10000")]
    tenants: Vec<usize>,
    /// Directory with the `xgate` and `xgate-bot-sim` binaries [default:
    /// $CARGO_TARGET_DIR/release, else target/release of the workspace].
    #[arg(long)]
    profile_dir: Option<PathBuf>,
    /// How many tenants get a port of their own (`ports = [P]`).
    #[arg(long, default_value_t = 20)]
    ported: usize,
    /// Starts measured per mode (a start slower than 10 s is not repeated).
    #[arg(long, default_value_t = 3)]
    starts: usize,
    /// Repetitions of the one-tenant edit and of the unchanged full reload.
    #[arg(long, default_value_t = 5)]
    repeats: usize,
    /// Concurrent keep-alive connections of the load generator.
    #[arg(long, default_value_t = 8)]
    connections: usize,
    /// Seconds per load phase (baseline, during unchanged reloads, during changing ones).
    #[arg(long, default_value_t = 3.0)]
    load_secs: f64,
    /// Give up on a start (or an edit being served) after this many seconds.
    #[arg(long, default_value_t = 120)]
    timeout_secs: u64,
    /// Keep the generated trees, databases and logs (their path is printed).
    #[arg(long)]
    keep: bool,
}

const TOKEN: &str = "xgate-bench-token-0123456789abcdef0123456789abcdef";
/// Readiness is polled this often.
const POLL: Duration = Duration::from_millis(5);
/// A start slower than this is not repeated.
const SLOW_START: Duration = Duration::from_secs(10);

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

fn profile_dir(arg: Option<PathBuf>) -> PathBuf {
    match arg {
        Some(p) if p.is_absolute() || p.exists() => p,
        Some(p) => workspace_root().join(p),
        None => match std::env::var_os("CARGO_TARGET_DIR") {
            Some(t) => PathBuf::from(t).join("release"),
            None => workspace_root().join("target/release"),
        },
    }
}

// The main future runs on the main thread (block_on), which is where the children are
// spawned: their death signal is tied to the spawning thread.
#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let bins = match Binaries::find(&profile_dir(args.profile_dir.clone())) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("reload-bench: {e}");
            return ExitCode::from(2);
        }
    };
    tokio::select! {
        code = run(args, bins) => code,
        _ = tokio::signal::ctrl_c() => {
            // Dropping `run` kills the children and removes the tempdirs.
            eprintln!("\nreload-bench: interrupted; children killed, tempdirs removed");
            ExitCode::from(130)
        }
    }
}

async fn run(args: Args, bins: Binaries) -> ExitCode {
    println!("reload-bench: xgate startup and hot reload with many tenants (issue 3)");
    for line in bins.describe(&workspace_root()) {
        println!("  {line}");
    }
    println!(
        "  host: {} CPU(s); load: {} connections x {:.1} s per phase; polls every {} ms",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0),
        args.connections,
        args.load_secs,
        POLL.as_millis()
    );

    let base = match tempfile::Builder::new().prefix("xgate-bench-").tempdir() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("reload-bench: cannot create a tempdir: {e}");
            return ExitCode::FAILURE;
        }
    };
    let (mut sim, bot_base) =
        match procs::start_bot_sim(&bins, TOKEN, &base.path().join("bot-sim.stderr")) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("reload-bench: {e}");
                return ExitCode::FAILURE;
            }
        };
    let bot_url = format!("{bot_base}/api/v1/conference_bot/conferences");
    println!("  bot simulator: {bot_base} (pid {})", sim.pid());

    let mut runs = Vec::new();
    for &n in &args.tenants {
        println!("\n=== {n} tenants ===");
        let dir = base.path().join(format!("n{n}"));
        let mut run = Run {
            n,
            ..Run::default()
        };
        if let Err(e) = std::fs::create_dir_all(&dir) {
            run.aborted = Some(format!("cannot create {}: {e}", dir.display()));
        } else if let Err(e) = bench(&args, &bins, &bot_url, &dir, &mut run).await {
            println!("  STOPPED: {e}");
            run.aborted = Some(e.lines().next().unwrap_or_default().to_string());
        }
        if !args.keep {
            // Each count's tree and databases go before the next count is generated.
            let _ = std::fs::remove_dir_all(&dir);
        }
        runs.push(run);
        if sim.exited().is_some() {
            println!("  the bot simulator exited; stopping");
            break;
        }
    }
    sim.kill();

    println!("\n=== results against issue 3's targets (printed, not asserted) ===");
    report::print_table(&runs);
    if args.keep {
        let kept = base.keep();
        println!("\ntrees, databases and logs kept in {}", kept.display());
    }
    ExitCode::SUCCESS
}

/// One tenant count, start to end. Measurements land in `run` as they are taken, so an
/// early stop still reports what was measured.
async fn bench(
    args: &Args,
    bins: &Binaries,
    bot_url: &str,
    dir: &Path,
    run: &mut Run,
) -> Result<(), String> {
    let n = run.n;
    let t = Instant::now();
    let tree = Tree::generate(dir, n, args.ported, bot_url)
        .map_err(|e| format!("cannot generate the config tree: {e}"))?;
    println!(
        "generated {} tenant files in {} ({} with a port of their own); shared {}, ops {}",
        n,
        dur(t.elapsed()),
        tree.ports.len(),
        tree.shared,
        tree.ops
    );
    let timeout = Duration::from_secs(args.timeout_secs);

    // (a) migrations
    println!("\n(a) xgate migrate");
    for (label, what) in [
        ("migrate-1", "first run"),
        ("migrate-2", "second run (idempotent)"),
    ] {
        let (took, out) = procs::run_migrate(bins, &tree, TOKEN, label)?;
        println!("  {what:<24} {:>9}   {out}", dur(took));
    }

    // (b) startup; the last --no-migrate instance stays up for the rest.
    println!("\n(b) startup: spawn → GET /readyz 200");
    let mut kept = None;
    for migrate in [true, false] {
        let mode = if migrate {
            "migrations on (already migrated)"
        } else {
            "--no-migrate"
        };
        let times = if migrate {
            &mut run.start_migrate_on
        } else {
            &mut run.start_no_migrate
        };
        for k in 1..=args.starts.max(1) {
            let label = format!(
                "serve-{}-{k}",
                if migrate { "migrate" } else { "nomigrate" }
            );
            let (mut x, took) = start(bins, &tree, migrate, &label, timeout).await?;
            times.push(took);
            let mem = procs::memory_kib(x.guard.pid());
            println!(
                "  {mode:<34} #{k}: {:>9}   RSS {}",
                dur(took),
                mem.map(|(r, _)| format!("{:.0} MB", mb(r)))
                    .unwrap_or_else(|| "?".into())
            );
            if k == 1 {
                for line in procs::startup_timeline(&x, took.as_secs_f64() * 1000.0) {
                    println!("      {line}");
                }
            }
            let last = k == args.starts.max(1) || took > SLOW_START;
            if !migrate && last {
                kept = Some(x);
                break;
            }
            x.guard.kill();
            if last {
                break;
            }
        }
        println!(
            "  {mode:<34} median {}",
            median(times).map(dur).unwrap_or_default()
        );
    }
    let mut x = kept.ok_or("no xgate instance kept")?;
    let pid = x.guard.pid();

    // (c) memory after start
    if let Some((rss, hwm)) = procs::memory_kib(pid) {
        run.rss_start_kib = Some(rss);
        println!(
            "\n(c) memory after start: VmRSS {:.1} MB (peak VmHWM {:.1} MB)",
            mb(rss),
            mb(hwm)
        );
    }

    // (d) one-tenant edit → served
    let idx = if n > 42 { 42 } else { n / 2 };
    println!(
        "\n(d) one-tenant edit: rewrite {} with a new name, poll GET /api/settings as {} every {} ms",
        tree.tenant_file(idx)
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default(),
        Tree::user(idx),
        POLL.as_millis()
    );
    let poller = http::client(Duration::from_secs(5));
    let ops_client = http::client(timeout);
    for k in 1..=args.repeats {
        let name = format!("Tenant {idx:05} edit {k}");
        tree.write_tenant(idx, &name)
            .map_err(|e| format!("cannot write the tenant file: {e}"))?;
        let written = Instant::now();
        let mut last_err = None;
        let served = loop {
            match http::settings_name(&poller, tree.shared, &Tree::user(idx)).await {
                Ok((served, version)) if served == name => {
                    break Some((written.elapsed(), version));
                }
                Ok(_) => {}
                Err(e) => last_err = Some(e),
            }
            if written.elapsed() > timeout.min(Duration::from_secs(30)) {
                break None;
            }
            tokio::time::sleep(POLL).await;
        };
        match served {
            Some((took, version)) => {
                run.edits.push(took);
                let inside = http::last_reload(&ops_client, tree.ops)
                    .await
                    .map(|r| r.inside())
                    .unwrap_or_else(|e| format!("GET /reload failed: {e}"));
                println!(
                    "  edit {k}: served after {:>9} (config version {}; {inside})",
                    dur(took),
                    version.map(|v| v.to_string()).unwrap_or_else(|| "?".into())
                );
            }
            None => {
                run.edits_not_served += 1;
                println!(
                    "  edit {k}: NOT served after {}{}",
                    dur(written.elapsed()),
                    last_err
                        .map(|e| format!(" (last error: {e})"))
                        .unwrap_or_default()
                );
            }
        }
        alive(&mut x)?;
        // Let the reload finish and the debounce window close before the next write.
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    if !run.edits.is_empty() {
        let worst = max(&run.edits).unwrap_or_default();
        println!(
            "  median {}, max {} (target: served < {} after the write, judged on the max: {})",
            dur(median(&run.edits).unwrap_or_default()),
            dur(worst),
            dur(report::EDIT_TARGET),
            if worst < report::EDIT_TARGET && run.edits_not_served == 0 {
                "PASS"
            } else {
                "MISS"
            }
        );
    }
    mem_note(pid);

    // (e) full reload
    println!("\n(e) full reload: POST /reload, wall time");
    for k in 1..=args.repeats {
        let r = http::post_reload(&ops_client, tree.ops).await?;
        run.reload_unchanged.push(r.took);
        println!("  unchanged #{k}: {:>9}   {}", dur(r.took), r.describe());
    }
    if !run.reload_unchanged.is_empty() {
        println!(
            "  unchanged: median {}, max {}",
            dur(median(&run.reload_unchanged).unwrap_or_default()),
            dur(max(&run.reload_unchanged).unwrap_or_default())
        );
    }
    mem_note(pid);
    let t = Instant::now();
    for i in 0..n {
        tree.write_tenant(i, &format!("Tenant {i:05} bulk"))
            .map_err(|e| format!("cannot write the tenant files: {e}"))?;
    }
    let wrote = t.elapsed();
    // Sent right after the last write, before the watcher's 250 ms debounce ends, so
    // this reload is the one that sees every tenant changed.
    let r = http::post_reload(&ops_client, tree.ops).await?;
    println!(
        "  all {n} tenants changed (files rewritten in {}): {:>9}   {}",
        dur(wrote),
        dur(r.took),
        r.describe()
    );
    if r.changed == n {
        run.reload_all_changed = Some(r.took);
    } else {
        println!(
            "  (only {} of {n} changed: the watcher's reload ran first; not counted)",
            r.changed
        );
    }
    // The watcher's own reload of the bulk write follows (and should find nothing new).
    let waited = Instant::now();
    let mut watch = None;
    while waited.elapsed() < Duration::from_secs(10) {
        if let Ok(last) = http::last_reload(&ops_client, tree.ops).await
            && last.trigger == "watch"
            && last.at > r.at
        {
            watch = Some(last);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    match watch {
        Some(w) => println!(
            "  then the watcher's reload of the same writes: {}",
            w.describe()
        ),
        None => println!("  (no watcher reload seen within 10 s of the bulk write)"),
    }
    mem_note(pid);
    alive(&mut x)?;

    // (f) latency without and during reloads
    let spec = LoadSpec {
        shared: tree.shared,
        tenants: n,
        connections: args.connections,
        duration: Duration::from_secs_f64(args.load_secs),
    };
    println!(
        "\n(f) latency of GET /api/settings (random tenant), {} keep-alive connections, {:.1} s each (after 0.5 s of discarded warm-up)",
        spec.connections, args.load_secs
    );
    // Warm-up, discarded: connections, allocator, caches.
    let _ = load::run(&LoadSpec {
        duration: Duration::from_millis(500),
        ..spec
    })
    .await;
    let mut base = load::run(&spec).await;
    let b = base.summary();
    run.baseline = Some(b);
    println!("  baseline (no reloads):      {}", b.line());
    print_failure(&base);
    mem_note(pid);
    alive(&mut x)?;

    let d = during(&spec, &ops_client, tree.ops, None).await;
    run.during_unchanged = Some(d);
    print_ratio(&b, &d);
    mem_note(pid);
    alive(&mut x)?;

    let d = during(&spec, &ops_client, tree.ops, Some((&tree, idx))).await;
    run.during_changing = Some(d);
    print_ratio(&b, &d);
    // The watcher's reloads of the last writes.
    tokio::time::sleep(Duration::from_millis(600)).await;
    alive(&mut x)?;

    // (c) memory after the reloads
    if let Some((rss, hwm)) = procs::memory_kib(pid) {
        run.rss_after_kib = Some(rss);
        run.hwm_kib = Some(hwm);
        println!(
            "\n(c) memory after the reloads: VmRSS {:.1} MB, peak VmHWM {:.1} MB",
            mb(rss),
            mb(hwm)
        );
    }
    x.guard.kill();
    Ok(())
}

/// Spawns `xgate serve` and polls `/readyz` until 200: the time from spawn to that.
async fn start(
    bins: &Binaries,
    tree: &Tree,
    migrate: bool,
    label: &str,
    timeout: Duration,
) -> Result<(Xgate, Duration), String> {
    let mut x = procs::spawn_serve(bins, tree, TOKEN, migrate, label)?;
    let probe = http::client(Duration::from_secs(2));
    loop {
        if let Some(status) = x.guard.exited() {
            return Err(format!(
                "xgate serve exited with {status} before it was ready; stderr tail:\n{}",
                procs::tail(&x.stderr, 40)
            ));
        }
        if http::readyz(&probe, tree.ops).await == Some(200) {
            let took = x.spawned.elapsed();
            return Ok((x, took));
        }
        if x.spawned.elapsed() > timeout {
            let ms = x.spawned.elapsed().as_secs_f64() * 1000.0;
            let timeline = procs::startup_timeline(&x, ms).join("\n  ");
            return Err(format!(
                "xgate not ready after {}; where the time went (log timestamps):\n  {timeline}\nstderr tail:\n{}",
                dur(timeout),
                procs::tail(&x.stderr, 20)
            ));
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Load for one phase while `POST /reload` runs back to back. With `change`, each
/// reload is preceded by a rewrite of that tenant's file, so every reload builds and
/// swaps a new snapshot (the watcher then reloads too).
async fn during(
    spec: &LoadSpec,
    ops_client: &reqwest::Client,
    ops: SocketAddr,
    change: Option<(&Tree, usize)>,
) -> Summary {
    let load_spec = *spec;
    let deadline = Instant::now() + spec.duration;
    let load = tokio::spawn(async move { load::run(&load_spec).await });
    let mut took = Vec::new();
    let mut results: Vec<(String, usize)> = Vec::new();
    let mut errors = 0usize;
    let mut k = 0usize;
    while Instant::now() < deadline {
        k += 1;
        if let Some((tree, idx)) = change
            && let Err(e) = tree.write_tenant(idx, &format!("Tenant {idx:05} flip {k}"))
        {
            println!("  cannot write the tenant file: {e}");
        }
        match http::post_reload(ops_client, ops).await {
            Ok(r) => {
                took.push(r.took);
                match results.iter_mut().find(|(name, _)| *name == r.result) {
                    Some((_, c)) => *c += 1,
                    None => results.push((r.result.clone(), 1)),
                }
            }
            Err(e) => {
                errors += 1;
                if errors == 1 {
                    println!("  POST /reload failed: {e}");
                }
            }
        }
    }
    let mut l = load.await.unwrap_or_default();
    let s = l.summary();
    let label = if change.is_some() {
        "during changing reloads:"
    } else {
        "during unchanged reloads:"
    };
    println!("  {label:<27} {}", s.line());
    println!(
        "  {:<27} {} reloads ({}), median {}, max {}{}",
        "",
        took.len(),
        results
            .iter()
            .map(|(r, c)| format!("{c} {r}"))
            .collect::<Vec<_>>()
            .join(", "),
        dur(median(&took).unwrap_or_default()),
        dur(max(&took).unwrap_or_default()),
        if errors > 0 {
            format!(", {errors} failed")
        } else {
            String::new()
        }
    );
    print_failure(&l);
    s
}

fn print_failure(l: &load::Load) {
    if let Some(e) = &l.first_failure {
        println!("  first failed request: {e}");
    }
}

fn print_ratio(b: &Summary, d: &Summary) {
    let ratio = |x: u64, y: u64| x as f64 / y.max(1) as f64;
    println!(
        "  {:<27} p50 {:.2}x, p99 {:.2}x, max {:.2}x of baseline; throughput {:.2}x",
        "",
        ratio(d.p50_us, b.p50_us),
        ratio(d.p99_us, b.p99_us),
        ratio(d.max_us, b.max_us),
        d.rps / b.rps.max(1e-9)
    );
}

/// Resident memory now: to see whether it grows with each reload or settles.
fn mem_note(pid: u32) {
    if let Some((rss, hwm)) = procs::memory_kib(pid) {
        println!(
            "  memory now: VmRSS {:.1} MB, peak VmHWM {:.1} MB",
            mb(rss),
            mb(hwm)
        );
    }
}

/// Fails the run if xgate has died.
fn alive(x: &mut Xgate) -> Result<(), String> {
    match x.guard.exited() {
        None => Ok(()),
        Some(status) => Err(format!(
            "xgate exited ({status}); stderr tail:\n{}",
            procs::tail(&x.stderr, 40)
        )),
    }
}
