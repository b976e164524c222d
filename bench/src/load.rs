//! The load generator: C keep-alive connections (one client each), each sending
//! `GET /api/settings` for a random tenant back to back, for a fixed time and at most a
//! fixed number of requests.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::http::{USER_HEADER, client};
use crate::tree::Tree;

/// At most this many requests per connection and phase, whatever the speed.
const MAX_PER_CONNECTION: usize = 500_000;

#[derive(Clone, Copy)]
pub struct LoadSpec {
    pub shared: SocketAddr,
    pub tenants: usize,
    pub connections: usize,
    pub duration: Duration,
}

/// Latencies of the successful requests, and what failed.
#[derive(Default)]
pub struct Load {
    pub latencies_us: Vec<u64>,
    pub failed: usize,
    pub first_failure: Option<String>,
    pub elapsed: Duration,
}

#[derive(Clone, Copy, Debug)]
pub struct Summary {
    pub requests: usize,
    pub failed: usize,
    pub p50_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
    pub rps: f64,
}

impl Load {
    pub fn summary(&mut self) -> Summary {
        self.latencies_us.sort_unstable();
        let l = &self.latencies_us;
        Summary {
            requests: l.len() + self.failed,
            failed: self.failed,
            p50_us: percentile(l, 0.50),
            p99_us: percentile(l, 0.99),
            max_us: l.last().copied().unwrap_or(0),
            rps: (l.len() + self.failed) as f64 / self.elapsed.as_secs_f64().max(1e-9),
        }
    }
}

/// Nearest-rank percentile of sorted data.
pub fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

impl Summary {
    pub fn line(&self) -> String {
        format!(
            "{} req ({:.0} req/s), p50 {}, p99 {}, max {}, failed {}",
            self.requests,
            self.rps,
            us(self.p50_us),
            us(self.p99_us),
            us(self.max_us),
            self.failed
        )
    }
}

pub fn us(v: u64) -> String {
    if v >= 10_000 {
        format!("{:.1} ms", v as f64 / 1000.0)
    } else {
        format!("{:.2} ms", v as f64 / 1000.0)
    }
}

/// Runs the load to its end and returns every connection's results merged.
pub async fn run(spec: &LoadSpec) -> Load {
    let start = Instant::now();
    let deadline = start + spec.duration;
    let tasks: Vec<_> = (0..spec.connections)
        .map(|k| {
            let shared = spec.shared;
            let tenants = spec.tenants;
            tokio::spawn(connection(shared, tenants, k as u64, deadline))
        })
        .collect();
    let mut all = Load::default();
    for t in tasks {
        match t.await {
            Ok(l) => {
                all.latencies_us.extend(l.latencies_us);
                all.failed += l.failed;
                if all.first_failure.is_none() {
                    all.first_failure = l.first_failure;
                }
            }
            Err(e) => {
                all.failed += 1;
                all.first_failure.get_or_insert(format!("load task: {e}"));
            }
        }
    }
    all.elapsed = start.elapsed();
    all
}

async fn connection(shared: SocketAddr, tenants: usize, seed: u64, deadline: Instant) -> Load {
    // One client per connection: its pool holds the one keep-alive connection.
    let http = client(Duration::from_secs(10));
    let url = format!("http://{shared}/api/settings");
    let mut rng = XorShift::new(seed);
    let mut out = Load {
        latencies_us: Vec::with_capacity(64 * 1024),
        ..Load::default()
    };
    while Instant::now() < deadline && out.latencies_us.len() + out.failed < MAX_PER_CONNECTION {
        let user = Tree::user(rng.below(tenants as u64) as usize);
        let t0 = Instant::now();
        let result = async {
            let resp = http
                .get(&url)
                .header(USER_HEADER, &user)
                .send()
                .await
                .map_err(|e| e.to_string())?;
            let status = resp.status();
            let body = resp.bytes().await.map_err(|e| e.to_string())?;
            if status.is_success() {
                Ok(())
            } else {
                Err(format!(
                    "{status} for {user}: {}",
                    String::from_utf8_lossy(&body)
                ))
            }
        }
        .await;
        let took = t0.elapsed().as_micros() as u64;
        match result {
            Ok(()) => out.latencies_us.push(took),
            Err(e) => {
                out.failed += 1;
                out.first_failure.get_or_insert(e);
            }
        }
    }
    out
}

/// Enough randomness to spread requests over the tenants; no dependency needed.
struct XorShift(u64);

impl XorShift {
    fn new(seed: u64) -> XorShift {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        XorShift((t ^ seed.wrapping_mul(0x9E37_79B9_7F4A_7C15)) | 1)
    }

    fn below(&mut self, n: u64) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x % n.max(1)
    }
}
