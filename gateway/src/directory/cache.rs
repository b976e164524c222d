//! A tenant's memory of directory answers: who a login or a Kerberos principal is, and
//! whether a login/password pair was right or wrong, each for a limited time.
//!
//! Owns the entries and their bound. It must never hold a password: a Basic check is
//! kept only as a salted SHA-256 of login and password, the salt random per cache, so a
//! dump of the process shows no credential and no hash usable elsewhere. It is built
//! with its tenant's `Directory`, so a changed `[auth]` starts from an empty cache.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::principal::Principal;

pub struct Cache {
    salt: [u8; 16],
    ttl: Duration,
    negative_ttl: Duration,
    capacity: usize,
    entries: Mutex<HashMap<String, Entry>>,
}

struct Entry {
    /// `None`: the directory said no (unknown user, wrong password).
    answer: Option<Principal>,
    expires: Instant,
}

/// What the cache knows about a question.
#[derive(Debug, PartialEq)]
pub enum Cached {
    Yes(Principal),
    No,
    Unknown,
}

impl Cache {
    pub fn new(ttl: Duration, negative_ttl: Duration, capacity: usize) -> Cache {
        Cache {
            salt: rand::random(),
            ttl,
            negative_ttl,
            capacity,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The key of a Basic check: the salted hash, so the map never holds the password.
    pub fn basic_key(&self, login: &str, password: &str) -> String {
        let mut h = Sha256::new();
        h.update(self.salt);
        h.update(login.to_lowercase().as_bytes());
        // A separator no login contains: ("ab","c") and ("a","bc") must differ.
        h.update([0u8]);
        h.update(password.as_bytes());
        let digest = h.finalize();
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        format!("basic:{hex}")
    }

    pub fn principal_key(name: &str) -> String {
        format!("principal:{}", name.to_lowercase())
    }

    pub fn get(&self, key: &str) -> Cached {
        let mut map = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        match map.get(key) {
            Some(e) if e.expires > Instant::now() => match &e.answer {
                Some(p) => Cached::Yes(p.clone()),
                None => Cached::No,
            },
            Some(_) => {
                map.remove(key);
                Cached::Unknown
            }
            None => Cached::Unknown,
        }
    }

    pub fn put(&self, key: String, answer: Option<Principal>) {
        let ttl = if answer.is_some() {
            self.ttl
        } else {
            self.negative_ttl
        };
        if ttl.is_zero() {
            return;
        }
        let now = Instant::now();
        let mut map = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= self.capacity && !map.contains_key(&key) {
            map.retain(|_, e| e.expires > now);
            // Still full of live entries: drop the one closest to expiry. O(n), but only
            // on an insert into a full cache.
            if map.len() >= self.capacity
                && let Some(k) = map
                    .iter()
                    .min_by_key(|(_, e)| e.expires)
                    .map(|(k, _)| k.clone())
            {
                map.remove(&k);
            }
        }
        map.insert(
            key,
            Entry {
                answer,
                expires: now + ttl,
            },
        );
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.lock().unwrap().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(mail: &str) -> Principal {
        Principal {
            mail: mail.into(),
            login: "u".into(),
            display_name: None,
            sip: None,
            aliases: vec![],
        }
    }

    #[test]
    fn a_basic_key_holds_no_password_and_depends_on_both_parts() {
        let c = Cache::new(Duration::from_secs(60), Duration::from_secs(60), 10);
        let k = c.basic_key("alice", "s3cret-pw");
        assert!(!k.contains("s3cret-pw") && !k.contains("alice"));
        assert_ne!(k, c.basic_key("alice", "other"));
        assert_ne!(k, c.basic_key("alic", "es3cret-pw"));
        // Another cache (another tenant, or after a reload) salts differently.
        let other = Cache::new(Duration::from_secs(60), Duration::from_secs(60), 10);
        assert_ne!(k, other.basic_key("alice", "s3cret-pw"));
    }

    #[test]
    fn answers_expire_and_the_cache_stays_bounded() {
        let c = Cache::new(Duration::from_secs(60), Duration::ZERO, 2);
        c.put("a".into(), Some(user("a@x")));
        c.put("n".into(), None); // negative TTL 0: not kept
        assert_eq!(c.get("n"), Cached::Unknown);
        c.put("b".into(), Some(user("b@x")));
        c.put("c".into(), Some(user("c@x")));
        assert_eq!(c.len(), 2);
        assert_eq!(c.get("c"), Cached::Yes(user("c@x")));
    }
}
