//! Applying a freshly loaded tree on top of the config in force, tenant by tenant.
//!
//! A tenant whose new definition is invalid keeps its last good one ("stale") and the
//! others' valid changes still apply. A claim (port, mail domain, schema) stays with the
//! tenant that held it; the newer claimant is the one refused.

use std::collections::{BTreeMap, BTreeSet};

use super::tenant::conflicts;
use super::{Config, ConfigError, Loaded, TenantConfig};

#[derive(Debug, Clone)]
pub struct Merged {
    /// What to run now: new definitions where valid, last good ones where not.
    pub config: Config,
    /// Tenants running on their previous definition, with why the new one was refused.
    pub stale: BTreeMap<String, Vec<ConfigError>>,
    /// New tenants refused outright (there is no previous definition to keep).
    pub rejected: BTreeMap<String, Vec<ConfigError>>,
    /// `None`: `config.tenants` is every tenant to run. `Some(ids)` (the fast path,
    /// `load_changed`): only these tenants were looked at; `config.tenants` holds what
    /// they become (absent: removed) and every other tenant keeps its definition in force.
    /// `stale` and `rejected` then speak of these tenants only.
    pub scope: Option<BTreeSet<String>>,
}

pub fn merge(current: &Config, loaded: Loaded) -> Merged {
    let Loaded {
        config,
        tenant_errors,
    } = loaded;
    let mut merged = Merged {
        config,
        stale: BTreeMap::new(),
        rejected: BTreeMap::new(),
        scope: None,
    };
    // The loaded tenants are conflict-free already (`conflicts` removed the losers); only
    // an old definition put back can collide again.
    let any_fell_back = !tenant_errors.is_empty();
    for (id, errors) in tenant_errors {
        for e in errors {
            merged.fall_back(current, &id, e);
        }
    }
    if any_fell_back {
        merged.settle_conflicts(current);
    }
    merged
}

impl Merged {
    /// Carries this merge's verdicts into the running sets: all of them, or after the
    /// fast path those of its scope (other tenants' verdicts stand).
    pub fn carry_errors(
        &self,
        stale: &mut BTreeMap<String, Vec<ConfigError>>,
        rejected: &mut BTreeMap<String, Vec<ConfigError>>,
    ) {
        if let Some(scope) = &self.scope {
            stale.retain(|id, _| !scope.contains(id));
            rejected.retain(|id, _| !scope.contains(id));
        } else {
            stale.clear();
            rejected.clear();
        }
        stale.extend(self.stale.clone());
        rejected.extend(self.rejected.clone());
    }

    /// The config to run, given the one in force: `config` itself, or after the fast
    /// path `current` with the tenants in scope replaced (or removed). `server` and
    /// `database` stay `current`'s: they change only with a restart.
    ///
    /// Returns what it replaced, for the caller to free where it costs nothing (10,000
    /// definitions after a full read).
    pub fn apply_to(self, current: &mut Config) -> BTreeMap<String, TenantConfig> {
        let mut tenants = self.config.tenants;
        match self.scope {
            None => std::mem::replace(&mut current.tenants, tenants),
            Some(scope) => {
                let mut replaced = BTreeMap::new();
                for id in scope {
                    let old = match tenants.remove(&id) {
                        Some(t) => current.tenants.insert(id.clone(), t),
                        None => current.tenants.remove(&id),
                    };
                    if let Some(old) = old {
                        replaced.insert(id, old);
                    }
                }
                replaced
            }
        }
    }

    /// The ids this merge may have changed: the scope, or every tenant before and after.
    pub fn touched<'a>(&'a self, current: &'a Config) -> BTreeSet<&'a String> {
        match &self.scope {
            Some(scope) => scope.iter().collect(),
            None => current
                .tenants
                .keys()
                .chain(self.config.tenants.keys())
                .collect(),
        }
    }

    /// Refuses a tenant's new definition after the merge (its storage or its port could
    /// not be prepared): it falls back to the definition in force, or out if it is new.
    pub fn refuse(&mut self, current: &Config, id: &str, err: ConfigError) {
        self.fall_back(current, id, err);
        self.settle_conflicts(current);
    }

    fn fall_back(&mut self, current: &Config, id: &str, err: ConfigError) {
        match current.tenants.get(id) {
            Some(old) => {
                self.config.tenants.insert(id.to_string(), old.clone());
                self.stale.entry(id.to_string()).or_default().push(err);
            }
            None => {
                self.config.tenants.remove(id);
                self.rejected.entry(id.to_string()).or_default().push(err);
            }
        }
    }

    /// A kept old definition may collide with another tenant's new claim; the claim stays
    /// with whoever held it in `current`. Old definitions were conflict-free among
    /// themselves, so each round moves at least one tenant to its old definition or out,
    /// and the loop ends within the number of tenants.
    fn settle_conflicts(&mut self, current: &Config) {
        for _ in 0..=self.config.tenants.len() {
            let found = conflicts(
                &self.config.server,
                &self.config.tenants,
                Some(&current.tenants),
            );
            if found.is_empty() {
                return;
            }
            for (id, err) in found {
                if current.tenants.get(&id) == self.config.tenants.get(&id) {
                    // Already on its old definition (a claim now taken by the server
                    // itself): nothing older to fall back to.
                    self.config.tenants.remove(&id);
                    self.rejected.entry(id).or_default().push(err);
                } else {
                    self.fall_back(current, &id, err);
                }
            }
        }
    }
}
