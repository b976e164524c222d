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
    /// Kerberos service principal -> the tenants naming it. Several tenants may share one
    /// forest's principal; a ticket for it then picks nobody.
    by_service: HashMap<String, Vec<Arc<Tenant>>>,
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

    /// A copy with the tenants `removed` taken out and `added` put in (a changed tenant is
    /// in both): a few tenants changed cost a copy of the maps, not a rebuild of each
    /// tenant. The copy shares every unchanged `Tenant`.
    pub fn patched<'a>(
        &self,
        version: u64,
        removed: impl IntoIterator<Item = &'a str>,
        added: impl IntoIterator<Item = Arc<Tenant>>,
    ) -> TenantTable {
        let mut table = TenantTable {
            version,
            tenants: self.tenants.clone(),
            by_port: self.by_port.clone(),
            by_domain: self.by_domain.clone(),
            by_service: self.by_service.clone(),
        };
        for id in removed {
            let Some(old) = table.tenants.remove(id) else {
                continue;
            };
            for p in &old.config.ports {
                if table.by_port.get(p).is_some_and(|t| Arc::ptr_eq(t, &old)) {
                    table.by_port.remove(p);
                }
            }
            for d in &old.config.mail_domains {
                if table.by_domain.get(d).is_some_and(|t| Arc::ptr_eq(t, &old)) {
                    table.by_domain.remove(d);
                }
            }
            if let Some(k) = &old.config.auth.kerberos
                && let Some(claims) = table.by_service.get_mut(&k.service_principal)
            {
                claims.retain(|t| !Arc::ptr_eq(t, &old));
                if claims.is_empty() {
                    table.by_service.remove(&k.service_principal);
                }
            }
        }
        for t in added {
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
                .or_default()
                .push(tenant.clone());
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
        match self.by_service.get(principal)?.as_slice() {
            [only] => Some(only),
            _ => None,
        }
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

    /// Two tenants loaded from a throwaway tree: `acme` with a port, `globex` without.
    fn two_tenants(dir: &std::path::Path, globex_domain: &str) -> Config {
        std::fs::create_dir_all(dir.join("templates/default")).unwrap();
        std::fs::write(dir.join("templates/default/ru.html"), "<title>T</title>").unwrap();
        let tenant = |id: &str, domain: &str, ports: &str| {
            format!(
                "[tenants.{id}]\nname = \"{id}\"\nmail_domains = [\"{domain}\"]\nports = [{ports}]\n\
                 [tenants.{id}.bot]\nurl = \"https://bot.test/\"\nauth = \"none\"\n"
            )
        };
        let main = format!(
            "[server]\nlisten = [\"127.0.0.1:18080\"]\nops_listen = \"127.0.0.1:19100\"\n{}{}",
            tenant("acme", "acme.test", "7100"),
            tenant("globex", globex_domain, "")
        );
        std::fs::write(dir.join("xgate.toml"), main).unwrap();
        crate::config::load(&dir.join("xgate.toml"), None)
            .unwrap()
            .config
    }

    #[test]
    fn patched_replaces_only_the_named_tenants() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(&format!("sqlite://{}", dir.path().display()), 1).unwrap();
        let before = TenantTable::build(&two_tenants(dir.path(), "globex.test"), &db, 1);
        let next = two_tenants(dir.path(), "globex2.test");
        let globex = Arc::new(Tenant {
            store: db.tenant("globex", "globex"),
            config: next.tenants["globex"].clone(),
        });
        let after = before.patched(2, ["globex"], [globex]);
        assert_eq!(after.version(), 2);
        assert_eq!(after.len(), 2);
        assert!(
            after.by_mail("u@globex.test").is_none(),
            "the old domain is gone"
        );
        assert_eq!(after.by_mail("u@globex2.test").unwrap().id(), "globex");
        // acme is the same `Tenant`, found as before.
        assert!(Arc::ptr_eq(
            after.get("acme").unwrap(),
            before.get("acme").unwrap()
        ));
        assert_eq!(after.by_port(7100).unwrap().id(), "acme");
        // Removing without adding.
        let gone = after.patched(3, ["acme"], []);
        assert!(gone.by_port(7100).is_none() && gone.by_mail("u@acme.test").is_none());
        assert_eq!(gone.len(), 1);
    }

    /// A ticket's service picks a tenant only while exactly one tenant names it, through
    /// full builds and patches alike.
    #[test]
    fn a_service_principal_picks_only_a_sole_claimant() {
        use crate::config::KerberosSettings;
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(&format!("sqlite://{}", dir.path().display()), 1).unwrap();
        let mut config = two_tenants(dir.path(), "globex.test");
        let principal = "HTTP/xgate.test@FOREST.TEST";
        for t in config.tenants.values_mut() {
            t.auth.kerberos = Some(KerberosSettings {
                keytab: "unused.keytab".into(),
                service_principal: principal.into(),
                realm: "FOREST.TEST".into(),
            });
        }
        let shared = TenantTable::build(&config, &db, 1);
        assert!(
            shared.by_service_principal(principal).is_none(),
            "two claim it"
        );

        let mut plain = config.tenants["globex"].clone();
        plain.auth.kerberos = None;
        let globex = Arc::new(Tenant {
            store: db.tenant("globex", "globex"),
            config: plain,
        });
        let sole = shared.patched(2, ["globex"], [globex]);
        assert_eq!(sole.by_service_principal(principal).unwrap().id(), "acme");
        let none = sole.patched(3, ["acme"], []);
        assert!(none.by_service_principal(principal).is_none());
        assert!(
            sole.by_service_principal("HTTP/other@FOREST.TEST")
                .is_none()
        );
    }
}
