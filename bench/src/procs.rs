//! Child processes: the simulator and xgate, killed on drop (and, through
//! `PR_SET_PDEATHSIG`, when the benchmark itself dies without unwinding).

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant, SystemTime};

use chrono::{DateTime, Utc};

use crate::tree::{TOKEN_ENV, Tree};

/// The binaries under test.
pub struct Binaries {
    pub xgate: PathBuf,
    pub bot_sim: PathBuf,
}

impl Binaries {
    /// Finds both binaries in `dir`, or says how to build them.
    pub fn find(dir: &Path) -> Result<Binaries, String> {
        let b = Binaries {
            xgate: dir.join("xgate"),
            bot_sim: dir.join("xgate-bot-sim"),
        };
        let missing: Vec<String> = [&b.xgate, &b.bot_sim]
            .iter()
            .filter(|p| !p.is_file())
            .map(|p| p.display().to_string())
            .collect();
        if missing.is_empty() {
            Ok(b)
        } else {
            Err(format!(
                "missing: {}\nbuild them first:  cargo build --release --bins\n(or point --profile-dir at the directory holding them)",
                missing.join(", ")
            ))
        }
    }

    /// One line per binary: path and build time; a warning if a source file under
    /// `workspace` is newer than the xgate binary (the numbers would be of old code).
    pub fn describe(&self, workspace: &Path) -> Vec<String> {
        let mut out = Vec::new();
        for p in [&self.xgate, &self.bot_sim] {
            let built = mtime(p).map(fmt_wall).unwrap_or_else(|| "?".into());
            out.push(format!("{} (built {built})", p.display()));
        }
        if let Some(bin) = mtime(&self.xgate) {
            let newest = ["gateway", "tenants", "admin"]
                .iter()
                .filter_map(|c| newest_file(&workspace.join(c).join("src")))
                .max_by_key(|(t, _)| *t);
            if let Some((t, path)) = newest
                && t > bin
            {
                out.push(format!(
                    "WARNING: {} is newer than the xgate binary: run `cargo build --release --bins` to measure the current code",
                    path.display()
                ));
            }
        }
        out
    }
}

fn mtime(p: &Path) -> Option<SystemTime> {
    std::fs::metadata(p).and_then(|m| m.modified()).ok()
}

fn newest_file(dir: &Path) -> Option<(SystemTime, PathBuf)> {
    let mut best: Option<(SystemTime, PathBuf)> = None;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if let Some(t) = mtime(&p)
                && best.as_ref().is_none_or(|(b, _)| t > *b)
            {
                best = Some((t, p));
            }
        }
    }
    best
}

fn fmt_wall(t: SystemTime) -> String {
    DateTime::<Utc>::from(t)
        .format("%Y-%m-%d %H:%M:%S UTC")
        .to_string()
}

/// A child killed (SIGKILL) and reaped on drop.
pub struct ChildGuard {
    child: Option<Child>,
    pid: u32,
}

impl ChildGuard {
    /// Spawns `cmd` so that the child also dies with this process. Call it from the
    /// main thread: the death signal follows the thread that forked, not the process.
    pub fn spawn(cmd: &mut Command) -> std::io::Result<ChildGuard> {
        // SAFETY: prctl is async-signal-safe and touches only the child's own state.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let child = cmd.spawn()?;
        Ok(ChildGuard {
            pid: child.id(),
            child: Some(child),
        })
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    pub fn take_stdout(&mut self) -> Option<std::process::ChildStdout> {
        self.child.as_mut().and_then(|c| c.stdout.take())
    }

    /// `Some` once the child has exited.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
    }

    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `xgate-bot-sim --listen 127.0.0.1:0 --auth bearer --token T`, and the base URL it
/// announced on stdout.
pub fn start_bot_sim(
    bins: &Binaries,
    token: &str,
    stderr: &Path,
) -> Result<(ChildGuard, String), String> {
    let mut cmd = Command::new(&bins.bot_sim);
    cmd.args([
        "--listen",
        "127.0.0.1:0",
        "--auth",
        "bearer",
        "--token",
        token,
    ])
    .env_remove("RUST_LOG")
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(file(stderr)?);
    let mut guard =
        ChildGuard::spawn(&mut cmd).map_err(|e| format!("cannot start xgate-bot-sim: {e}"))?;
    let stdout = guard.take_stdout().ok_or("xgate-bot-sim: no stdout")?;
    let (tx, rx) = std::sync::mpsc::channel();
    // Reads the announcement, then drains stdout for as long as the simulator lives.
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        let first = lines.next();
        let _ = tx.send(first);
        for _ in lines {}
    });
    let line = match rx.recv_timeout(Duration::from_secs(10)) {
        Ok(Some(Ok(line))) => line,
        _ => {
            let log = std::fs::read_to_string(stderr).unwrap_or_default();
            return Err(format!(
                "xgate-bot-sim did not announce its address; stderr:\n{log}"
            ));
        }
    };
    let base = line
        .trim()
        .strip_prefix("xgate-bot-sim listening on ")
        .ok_or_else(|| format!("unexpected xgate-bot-sim output: {line}"))?
        .trim_end_matches('/')
        .to_string();
    Ok((guard, base))
}

fn file(path: &Path) -> Result<std::fs::File, String> {
    std::fs::File::create(path).map_err(|e| format!("cannot create {}: {e}", path.display()))
}

fn xgate_command(bins: &Binaries, tree: &Tree, token: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(&bins.xgate);
    cmd.args(args)
        .arg("--config")
        .arg(&tree.main)
        .current_dir(&tree.root)
        .env_remove("RUST_LOG")
        .env_remove("XGATE_CONFIG")
        .env("NO_COLOR", "1")
        .env(TOKEN_ENV, token)
        .stdin(Stdio::null());
    cmd
}

/// Runs `xgate migrate` to completion; its output goes to `logs/<label>.{stdout,stderr}`.
pub fn run_migrate(
    bins: &Binaries,
    tree: &Tree,
    token: &str,
    label: &str,
) -> Result<(Duration, String), String> {
    let out = tree.logs.join(format!("{label}.stdout"));
    let err = tree.logs.join(format!("{label}.stderr"));
    let mut cmd = xgate_command(bins, tree, token, &["migrate"]);
    cmd.stdout(file(&out)?).stderr(file(&err)?);
    let start = Instant::now();
    let mut guard = ChildGuard::spawn(&mut cmd).map_err(|e| format!("cannot run xgate: {e}"))?;
    let status = loop {
        if let Some(s) = guard.exited() {
            break s;
        }
        if start.elapsed() > Duration::from_secs(600) {
            return Err("xgate migrate still running after 600 s; killed".into());
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    let took = start.elapsed();
    let stdout = std::fs::read_to_string(&out).unwrap_or_default();
    if !status.success() {
        return Err(format!(
            "xgate migrate failed ({status}); stderr tail:\n{}",
            tail(&err, 30)
        ));
    }
    Ok((took, stdout.trim().to_string()))
}

/// A running `xgate serve`.
pub struct Xgate {
    pub guard: ChildGuard,
    pub stderr: PathBuf,
    pub spawned_at: DateTime<Utc>,
    pub spawned: Instant,
}

pub fn spawn_serve(
    bins: &Binaries,
    tree: &Tree,
    token: &str,
    migrate: bool,
    label: &str,
) -> Result<Xgate, String> {
    let out = tree.logs.join(format!("{label}.stdout"));
    let stderr = tree.logs.join(format!("{label}.stderr"));
    let mut args = vec!["serve"];
    if !migrate {
        args.push("--no-migrate");
    }
    let mut cmd = xgate_command(bins, tree, token, &args);
    cmd.stdout(file(&out)?).stderr(file(&stderr)?);
    let spawned_at = Utc::now();
    let spawned = Instant::now();
    let guard = ChildGuard::spawn(&mut cmd).map_err(|e| format!("cannot start xgate: {e}"))?;
    Ok(Xgate {
        guard,
        stderr,
        spawned_at,
        spawned,
    })
}

/// `VmRSS` and `VmHWM` (peak) of a process, in KiB.
pub fn memory_kib(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<u64>().ok())
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

/// The last `n` lines of a file.
pub fn tail(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Where a start's time went, from the timestamps of xgate's own log lines (text format:
/// the first word of a line is an RFC 3339 time). The config is read before logging
/// starts, so "spawn → first line" is at least the config load.
pub fn startup_timeline(x: &Xgate, ready_ms: f64) -> Vec<String> {
    const MARKS: &[(&str, &str)] = &[
        (
            "migrations (\"tenant storage up to date\")",
            "tenant storage up to date",
        ),
        (
            "migrations done (\"tenant storage checked\")",
            "tenant storage checked",
        ),
        (
            "auth.mode=none warnings (after the snapshot is built)",
            "auth.mode",
        ),
        ("config watcher set up", "watching config directory"),
        ("\"xgate serving\"", "xgate serving"),
        ("tenant ports opened", "tenant port open"),
    ];
    let text = std::fs::read_to_string(&x.stderr).unwrap_or_default();
    let offset = |line: &str| -> Option<f64> {
        let clean = strip_ansi(line);
        let ts = clean.split_whitespace().next()?;
        let t = DateTime::parse_from_rfc3339(ts).ok()?;
        Some((t.with_timezone(&Utc) - x.spawned_at).num_microseconds()? as f64 / 1000.0)
    };
    let mut out = Vec::new();
    let mut first_line = None;
    let mut spans: Vec<(f64, f64, usize)> = vec![(0.0, 0.0, 0); MARKS.len()];
    for line in text.lines() {
        let Some(ms) = offset(line) else { continue };
        first_line.get_or_insert(ms);
        for (k, (_, needle)) in MARKS.iter().enumerate() {
            if line.contains(needle) {
                let s = &mut spans[k];
                if s.2 == 0 {
                    s.0 = ms;
                }
                s.1 = ms;
                s.2 += 1;
            }
        }
    }
    match first_line {
        Some(ms) => out.push(format!(
            "{ms:>9.1} ms  first log line (spawn → here: exec + config load/validate, before logging starts)"
        )),
        None => out.push("(no timestamped log lines)".into()),
    }
    let mut seen: Vec<(f64, String)> = MARKS
        .iter()
        .zip(&spans)
        .filter(|(_, s)| s.2 > 0)
        .map(|((label, _), s)| {
            if s.2 == 1 {
                (s.0, format!("{:>9.1} ms  {label}", s.0))
            } else {
                (
                    s.0,
                    format!("{:>9.1} ms  … {:.1} ms  {label}, {} lines", s.0, s.1, s.2),
                )
            }
        })
        .collect();
    seen.sort_by(|a, b| a.0.total_cmp(&b.0));
    out.extend(seen.into_iter().map(|(_, l)| l));
    out.push(format!("{ready_ms:>9.1} ms  /readyz answered 200"));
    out
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // CSI: ESC [ params final-byte
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}
