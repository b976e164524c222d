//! Slowing down password guessing: failed logins are counted per user and per client
//! address in a fixed window; past the limit, further uncached attempts are refused
//! until the window ends.
//!
//! Owns the counters. It must never lock anyone out for longer than one window (a real
//! user waits at most `failure_window`, and one whose right password is in the cache is
//! not slowed at all), and never counts a success as a failure.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Beyond this many tracked keys, expired windows are swept before inserting: an
/// attacker spraying logins cannot grow the maps without bound for long.
const SWEEP_ABOVE: usize = 10_000;

pub struct Throttle {
    window: Duration,
    max_per_user: u32,
    max_per_client: u32,
    users: Mutex<HashMap<String, Window>>,
    clients: Mutex<HashMap<IpAddr, Window>>,
}

#[derive(Clone, Copy)]
struct Window {
    start: Instant,
    failures: u32,
}

impl Throttle {
    pub fn new(window: Duration, max_per_user: u32, max_per_client: u32) -> Throttle {
        Throttle {
            window,
            max_per_user,
            max_per_client,
            users: Mutex::new(HashMap::new()),
            clients: Mutex::new(HashMap::new()),
        }
    }

    /// `Err(wait)` when this client has failed too often in the current window.
    pub fn check_client(&self, client: Option<IpAddr>) -> Result<(), Duration> {
        match client {
            Some(ip) => self.check(&self.clients, &ip, self.max_per_client),
            None => Ok(()),
        }
    }

    pub fn check_user(&self, login: &str) -> Result<(), Duration> {
        self.check(&self.users, &login.to_lowercase(), self.max_per_user)
    }

    pub fn failed(&self, login: Option<&str>, client: Option<IpAddr>) {
        if let Some(l) = login {
            self.count(&self.users, l.to_lowercase());
        }
        if let Some(ip) = client {
            self.count(&self.clients, ip);
        }
    }

    fn check<K: Hash + Eq>(
        &self,
        map: &Mutex<HashMap<K, Window>>,
        key: &K,
        max: u32,
    ) -> Result<(), Duration> {
        let map = map.lock().unwrap_or_else(|p| p.into_inner());
        match map.get(key) {
            Some(w) if w.failures >= max => {
                let elapsed = w.start.elapsed();
                if elapsed < self.window {
                    Err(self.window - elapsed)
                } else {
                    Ok(())
                }
            }
            _ => Ok(()),
        }
    }

    fn count<K: Hash + Eq>(&self, map: &Mutex<HashMap<K, Window>>, key: K) {
        let now = Instant::now();
        let mut map = map.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() > SWEEP_ABOVE {
            map.retain(|_, w| now.duration_since(w.start) < self.window);
        }
        let w = map.entry(key).or_insert(Window {
            start: now,
            failures: 0,
        });
        if now.duration_since(w.start) >= self.window {
            *w = Window {
                start: now,
                failures: 0,
            };
        }
        w.failures += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_waits_after_too_many_failures_but_only_for_the_window() {
        let t = Throttle::new(Duration::from_millis(50), 2, 100);
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        t.failed(Some("Alice"), Some(ip));
        assert!(t.check_user("alice").is_ok());
        t.failed(Some("alice"), Some(ip));
        assert!(t.check_user("ALICE").is_err());
        assert!(t.check_user("bob").is_ok());
        assert!(t.check_client(Some(ip)).is_ok());
        std::thread::sleep(Duration::from_millis(60));
        assert!(t.check_user("alice").is_ok());
    }

    #[test]
    fn a_client_address_waits_after_too_many_failures() {
        let t = Throttle::new(Duration::from_secs(60), 100, 3);
        let ip: IpAddr = "10.0.0.2".parse().unwrap();
        for n in 0..3 {
            t.failed(Some(&format!("user{n}")), Some(ip));
        }
        assert!(t.check_client(Some(ip)).is_err());
        assert!(t.check_client(Some("10.0.0.3".parse().unwrap())).is_ok());
    }
}
