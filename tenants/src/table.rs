//! The tenant table: who serves a request, found in O(1) by port or mail domain.
//!
//! A table is immutable once built; the gateway swaps whole tables (arc-swap) so a
//! request keeps the one it started with. Building a table opens no connection.

use std::collections::HashMap;
use std::sync::Arc;

use crate::config::{Config, TenantConfig};
use crate::store::{Database, TenantStore};

/// One tenant as requests see it: its config and the only handle to its data.
#[derive(Debug)]
pub struct Tenant {
    pub config: TenantConfig,
    pub store: TenantStore,
}

impl Tenant {
    pub fn id(&self) -> &str {
        &self.config.id
    }

    /// Whether this tenant serves the user's address: its domain, or a subdomain of it.
    pub fn serves_mail(&self, mail: &str) -> bool {
        domain_of(mail).is_some_and(|d| {
            label_suffixes(&d).any(|s| self.config.mail_domains.iter().any(|m| m == s))
        })
    }
}

#[derive(Debug, Default)]
pub struct TenantTable {
    version: u64,
    tenants: HashMap<String, Arc<Tenant>>,
    by_port: HashMap<u16, Arc<Tenant>>,
    by_domain: HashMap<String, Arc<Tenant>>,
    /// Kerberos service principal -> tenant; `None` where several tenants name the same
    /// one (one forest shared by several tenants): the ticket then picks nobody.
    by_service: HashMap<String, Option<Arc<Tenant>>>,
}

impl TenantTable {
    /// `config` must be conflict-free (the loader guarantees it); on a duplicate claim
    /// the first tenant in id order wins rather than panicking.
    pub fn build(config: &Config, db: &Database, version: u64) -> TenantTable {
        let mut table = TenantTable {
            version,
            ..TenantTable::default()
        };
        for t in config.tenants.values() {
            let tenant = Arc::new(Tenant {
                store: db.tenant(&t.id, &t.schema),
                config: t.clone(),
            });
            table.insert(tenant);
        }
        table
    }

    /// A table made of tenants already built, so unchanged tenants keep their handles.
    pub fn from_tenants(
        version: u64,
        tenants: impl IntoIterator<Item = Arc<Tenant>>,
    ) -> TenantTable {
        let mut table = TenantTable {
            version,
            ..TenantTable::default()
        };
        for t in tenants {
            table.insert(t);
        }
        table
    }

    fn insert(&mut self, tenant: Arc<Tenant>) {
        for &p in &tenant.config.ports {
            self.by_port.entry(p).or_insert_with(|| tenant.clone());
        }
        for d in &tenant.config.mail_domains {
            self.by_domain
                .entry(d.clone())
                .or_insert_with(|| tenant.clone());
        }
        if let Some(k) = &tenant.config.auth.kerberos {
            self.by_service
                .entry(k.service_principal.clone())
                .and_modify(|claim| *claim = None)
                .or_insert_with(|| Some(tenant.clone()));
        }
        self.tenants.insert(tenant.config.id.clone(), tenant);
    }

    pub fn version(&self) -> u64 {
        self.version
    }

    pub fn len(&self) -> usize {
        self.tenants.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tenants.is_empty()
    }

    pub fn get(&self, id: &str) -> Option<&Arc<Tenant>> {
        self.tenants.get(id)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<Tenant>> {
        self.tenants.values()
    }

    pub fn by_port(&self, port: u16) -> Option<&Arc<Tenant>> {
        self.by_port.get(&port)
    }

    pub fn ports(&self) -> impl Iterator<Item = u16> + '_ {
        self.by_port.keys().copied()
    }

    /// The one tenant whose Kerberos `service_principal` is `principal`, if exactly one is.
    pub fn by_service_principal(&self, principal: &str) -> Option<&Arc<Tenant>> {
        self.by_service.get(principal)?.as_ref()
    }

    /// The tenant for a user's mail address, most specific domain first:
    /// `a@x.corp.acme.test` tries `x.corp.acme.test`, `corp.acme.test`, `acme.test`, `test`.
    /// O(labels), independent of the number of tenants.
    pub fn by_mail(&self, mail: &str) -> Option<&Arc<Tenant>> {
        let domain = domain_of(mail)?;
        label_suffixes(&domain).find_map(|s| self.by_domain.get(s))
    }
}

/// The lowercased domain of an address, if it looks like one (`local@domain`).
pub fn domain_of(mail: &str) -> Option<String> {
    let (local, domain) = mail.trim().rsplit_once('@')?;
    let domain = domain.trim_end_matches('.');
    if local.is_empty() || domain.is_empty() || domain.contains(['@', ' ']) {
        return None;
    }
    Some(domain.to_ascii_lowercase())
}

fn label_suffixes(domain: &str) -> impl Iterator<Item = &str> {
    std::iter::successors(Some(domain), |d| d.split_once('.').map(|(_, rest)| rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suffixes_walk_whole_labels() {
        let v: Vec<_> = label_suffixes("x.corp.acme.test").collect();
        assert_eq!(
            v,
            ["x.corp.acme.test", "corp.acme.test", "acme.test", "test"]
        );
        assert_eq!(
            domain_of("A.User@Corp.ACME.test"),
            Some("corp.acme.test".into())
        );
        assert_eq!(domain_of("no-at-sign"), None);
        assert_eq!(domain_of("@acme.test"), None);
    }
}
