//! Shared simulator state: configuration, stored conferences, injected behaviour, call stats.
//!
//! One std `Mutex` guards the mutable parts; it is only ever taken in short synchronous
//! sections, never across an `.await`.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::auth::Auth;
use crate::conference::Conference;
use crate::users::Directory;

pub const DEFAULT_BASE_PATH: &str = "/api/v1/conference_bot/conferences";
pub const DEFAULT_LINK_BASE: &str = "https://xlnk.ms/join/room/";

#[derive(Debug)]
pub struct Config {
    pub base_path: String,
    pub auth: Auth,
    pub users: Directory,
    pub link_base: String,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            base_path: DEFAULT_BASE_PATH.to_owned(),
            auth: Auth::None,
            users: Directory::open(),
            link_base: DEFAULT_LINK_BASE.to_owned(),
        }
    }
}

/// What `POST /_sim/behaviour` sets: a delay for every bot call and/or a failure for the
/// next `times` calls (all of them when `times` is absent).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Behaviour {
    #[serde(default)]
    pub delay_ms: Option<u64>,
    #[serde(default)]
    pub fail: Option<Failure>,
    /// Failures still to inject; counts down as they happen.
    #[serde(default)]
    pub times: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Failure {
    pub status: u16,
    #[serde(default)]
    pub reason: Option<String>,
    /// Defaults to true when no `reason` is given: a bare status is answered bare.
    #[serde(default)]
    pub empty_body: Option<bool>,
}

impl Failure {
    pub fn empty_body(&self) -> bool {
        self.empty_body.unwrap_or(self.reason.is_none())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Create,
    Update,
    Delete,
}

impl Op {
    pub fn name(self) -> &'static str {
        match self {
            Self::Create => "create",
            Self::Update => "update",
            Self::Delete => "delete",
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct OpCounts {
    pub create: u64,
    pub update: u64,
    pub delete: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    /// Bot API calls received, per operation, whatever their outcome.
    pub calls: OpCounts,
    /// Calls answered 401 because of missing or wrong credentials.
    pub unauthorized: u64,
    /// Calls answered with an injected failure.
    pub injected_failures: u64,
    /// Scheme word of the last call's Authorization header (`"Bearer"`, `"Basic"`),
    /// `null` when the last call had none. The credentials are never recorded.
    pub last_auth_scheme: Option<String>,
}

#[derive(Debug, Default)]
struct Inner {
    conferences: HashMap<Uuid, Conference>,
    next_seq: u64,
    behaviour: Behaviour,
    stats: Stats,
}

#[derive(Debug, Default)]
pub struct Sim {
    pub config: Config,
    inner: Mutex<Inner>,
}

impl Sim {
    pub fn new(config: Config) -> Self {
        Self {
            config,
            inner: Mutex::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic elsewhere must not take the simulator down for every later test call.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records an incoming bot call and returns the delay to apply to it.
    pub fn begin_call(&self, op: Op, auth_scheme: Option<String>) -> Option<Duration> {
        let mut inner = self.lock();
        let calls = &mut inner.stats.calls;
        match op {
            Op::Create => calls.create += 1,
            Op::Update => calls.update += 1,
            Op::Delete => calls.delete += 1,
        }
        inner.stats.last_auth_scheme = auth_scheme;
        inner
            .behaviour
            .delay_ms
            .filter(|ms| *ms > 0)
            .map(Duration::from_millis)
    }

    pub fn note_unauthorized(&self) {
        self.lock().stats.unauthorized += 1;
    }

    /// Consumes one injected failure, if any is pending.
    pub fn take_failure(&self) -> Option<Failure> {
        let mut inner = self.lock();
        let failure = inner.behaviour.fail.clone()?;
        if let Some(n) = inner.behaviour.times {
            // Once used up the failure is dropped, so `GET /_sim/behaviour` shows it gone.
            if n <= 1 {
                inner.behaviour.fail = None;
                inner.behaviour.times = None;
                if n == 0 {
                    return None;
                }
            } else {
                inner.behaviour.times = Some(n - 1);
            }
        }
        inner.stats.injected_failures += 1;
        Some(failure)
    }

    pub fn behaviour(&self) -> Behaviour {
        self.lock().behaviour.clone()
    }

    pub fn set_behaviour(&self, behaviour: Behaviour) {
        self.lock().behaviour = behaviour;
    }

    pub fn stats(&self) -> Stats {
        self.lock().stats.clone()
    }

    pub fn reset(&self) {
        let mut inner = self.lock();
        inner.conferences.clear();
        inner.behaviour = Behaviour::default();
        inner.stats = Stats::default();
    }

    pub fn conferences(&self) -> Vec<Conference> {
        let mut list: Vec<Conference> = self.lock().conferences.values().cloned().collect();
        list.sort_by_key(|c| c.seq);
        list
    }

    pub fn conference(&self, call_id: Uuid) -> Option<Conference> {
        self.lock().conferences.get(&call_id).cloned()
    }

    /// Runs `f` with exclusive access to the store and the next creation number.
    pub fn with_store<R>(
        &self,
        f: impl FnOnce(&mut HashMap<Uuid, Conference>, &mut u64) -> R,
    ) -> R {
        let mut inner = self.lock();
        let Inner {
            conferences,
            next_seq,
            ..
        } = &mut *inner;
        f(conferences, next_seq)
    }
}
