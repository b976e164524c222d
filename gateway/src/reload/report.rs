//! What a reload did, for `GET /reload`, the log and the metrics.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use xgate_tenants::config::{Config, ConfigError, Merged};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ReloadResult {
    /// Every tenant's new definition applied.
    Success,
    /// Applied, but some tenants were refused and run on their last good definition
    /// (or, if new, do not run).
    Partial,
    /// Nothing applied: the tree did not parse, or `[server]`/`[database]` is invalid.
    Failure,
}

impl ReloadResult {
    pub fn as_str(self) -> &'static str {
        match self {
            ReloadResult::Success => "success",
            ReloadResult::Partial => "partial",
            ReloadResult::Failure => "failure",
        }
    }
}

/// What a reload read: the whole tree, or only the tenant files the watcher named
/// (the fast path, `config::load_changed`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReadScope {
    Tree,
    ChangedFiles,
}

#[derive(Debug, Clone, Serialize)]
pub struct ErrorView {
    pub file: String,
    pub line: Option<usize>,
    pub tenant: Option<String>,
    pub key: Option<String>,
    pub message: String,
}

impl From<&ConfigError> for ErrorView {
    fn from(e: &ConfigError) -> Self {
        ErrorView {
            file: e.file.display().to_string(),
            line: e.line,
            tenant: e.tenant.clone(),
            key: e.key.clone(),
            message: e.message.clone(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReloadReport {
    pub at: DateTime<Utc>,
    pub trigger: String,
    pub result: ReloadResult,
    pub read: ReadScope,
    /// From the start of the attempt to the new snapshot in force (or the refusal).
    pub took_ms: u64,
    /// The config version in force after this attempt.
    pub version: u64,
    pub tenants: usize,
    pub added: Vec<String>,
    pub changed: Vec<String>,
    pub removed: Vec<String>,
    /// Tenants running on their last good definition, with why the new one was refused.
    pub stale: BTreeMap<String, Vec<ErrorView>>,
    /// New tenants refused (not running).
    pub rejected: BTreeMap<String, Vec<ErrorView>>,
    /// Errors that refused the whole reload.
    pub errors: Vec<ErrorView>,
    /// Changes that were seen but need a restart.
    pub notes: Vec<String>,
}

impl ReloadReport {
    pub fn startup(version: u64, tenants: usize) -> ReloadReport {
        let mut r = ReloadReport::new("startup", version);
        r.tenants = tenants;
        r
    }

    pub fn new(trigger: &str, version: u64) -> ReloadReport {
        ReloadReport {
            at: Utc::now(),
            trigger: trigger.to_string(),
            result: ReloadResult::Success,
            read: ReadScope::Tree,
            took_ms: 0,
            version,
            tenants: 0,
            added: Vec::new(),
            changed: Vec::new(),
            removed: Vec::new(),
            stale: BTreeMap::new(),
            rejected: BTreeMap::new(),
            errors: Vec::new(),
            notes: Vec::new(),
        }
    }

    pub fn fail(&mut self, errors: Vec<ConfigError>) {
        self.result = ReloadResult::Failure;
        self.errors = errors.iter().map(ErrorView::from).collect();
    }

    /// After a refused reload: what was stale stays stale.
    pub fn keep_stale(&mut self, stale: &BTreeMap<String, Vec<ConfigError>>, tenants: usize) {
        self.tenants = tenants;
        self.stale = errors_by_tenant(stale);
    }

    /// Records which tenants the merge adds, changes and removes; false if none.
    pub fn diff(&mut self, current: &Config, merged: &Merged) -> bool {
        let next = &merged.config.tenants;
        for id in merged.touched(current) {
            match (current.tenants.get(id), next.get(id)) {
                (None, Some(_)) => self.added.push(id.clone()),
                (Some(old), Some(new)) if old != new => self.changed.push(id.clone()),
                (Some(_), None) => self.removed.push(id.clone()),
                _ => {}
            }
            xgate_tenants::pace::point();
        }
        !(self.added.is_empty() && self.changed.is_empty() && self.removed.is_empty())
    }

    pub fn note_global_changes(&mut self, current: &Config, next: &Config) {
        let mut a = current.server.clone();
        let mut b = next.server.clone();
        // Includes are read on every reload; only the rest needs a restart.
        a.include.clear();
        b.include.clear();
        if a != b {
            self.notes
                .push("[server] changed: it takes effect at the next restart or upgrade".into());
        }
        if current.database != next.database {
            self.notes
                .push("[database] changed: it takes effect at the next restart".into());
        }
    }

    /// The outcome: the version and tenants in force, and every stale and rejected tenant.
    pub fn finish(
        &mut self,
        version: u64,
        tenants: usize,
        stale: &BTreeMap<String, Vec<ConfigError>>,
        rejected: &BTreeMap<String, Vec<ConfigError>>,
    ) {
        self.version = version;
        self.tenants = tenants;
        self.stale = errors_by_tenant(stale);
        self.rejected = errors_by_tenant(rejected);
        if !self.stale.is_empty() || !self.rejected.is_empty() {
            self.result = ReloadResult::Partial;
        }
    }

    pub fn log(&self) {
        let nothing_changed =
            self.added.is_empty() && self.changed.is_empty() && self.removed.is_empty();
        match self.result {
            // A save that changed nothing (an editor's touch, a template re-saved as is).
            ReloadResult::Success if nothing_changed => {
                tracing::debug!(trigger = %self.trigger, version = self.version, took_ms = self.took_ms, "config unchanged")
            }
            ReloadResult::Success => tracing::info!(
                trigger = %self.trigger,
                version = self.version,
                read = ?self.read,
                took_ms = self.took_ms,
                added = ?self.added,
                changed = ?self.changed,
                removed = ?self.removed,
                "config reloaded"
            ),
            _ => {
                for e in self
                    .errors
                    .iter()
                    .chain(self.stale.values().flatten())
                    .chain(self.rejected.values().flatten())
                {
                    tracing::error!(
                        file = %e.file,
                        line = e.line,
                        tenant = e.tenant.as_deref().unwrap_or(""),
                        key = e.key.as_deref().unwrap_or(""),
                        "config reload: {}",
                        e.message
                    );
                }
                tracing::warn!(
                    trigger = %self.trigger,
                    result = self.result.as_str(),
                    version = self.version,
                    stale = ?self.stale.keys().collect::<Vec<_>>(),
                    rejected = ?self.rejected.keys().collect::<Vec<_>>(),
                    "config reload incomplete"
                );
            }
        }
        for n in &self.notes {
            tracing::warn!("config reload: {n}");
        }
    }
}

fn errors_by_tenant(m: &BTreeMap<String, Vec<ConfigError>>) -> BTreeMap<String, Vec<ErrorView>> {
    m.iter()
        .map(|(k, v)| (k.clone(), v.iter().map(ErrorView::from).collect()))
        .collect()
}
