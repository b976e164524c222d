//! The fast path against the full one: for the same tree it must give the same tenants,
//! the same stale and rejected tenants with the same errors — or decline.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;

use super::super::{Config, ConfigError, LoadCache, Merged, TenantConfig, load_cached, merge};
use super::{Declined, load_changed};

const MAIN: &str = r#"
[server]
listen = ["127.0.0.1:18080"]
ops_listen = "127.0.0.1:19100"
include = ["tenants.d/*.toml"]
[database]
url = "sqlite://data"

[tenants.hq]
name = "HQ"
mail_domains = ["hq.test"]
[tenants.hq.bot]
url = "https://cts.hq.test/api/v1/conference_bot/conferences/"
token = "literal-token-for-hq-0123456789abcdefghij"
"#;

fn tenant(id: &str, name: &str, domains: &[&str], port: Option<u16>) -> String {
    let domains: Vec<String> = domains.iter().map(|d| format!("\"{d}\"")).collect();
    format!(
        "[tenants.{id}]\nname = \"{name}\"\nmail_domains = [{}]\n{}\
         [tenants.{id}.bot]\nurl = \"https://cts.{id}.test/api/v1/conference_bot/conferences/\"\n\
         token = \"literal-token-for-{id}-0123456789abcdefghij\"\n",
        domains.join(", "),
        port.map(|p| format!("ports = [{p}]\n")).unwrap_or_default()
    )
}

type Errors = BTreeMap<String, Vec<ConfigError>>;

/// What the reloader keeps between reloads, as far as loading goes.
#[derive(Clone)]
struct Running {
    config: Config,
    stale: Errors,
    rejected: Errors,
}

impl Running {
    /// Applies a merge the way the reloader does (`State::keep_errors`, `apply_to`).
    fn apply(&mut self, merged: Merged) {
        merged.carry_errors(&mut self.stale, &mut self.rejected);
        let _replaced = merged.apply_to(&mut self.config);
    }

    fn tenants(&self) -> &BTreeMap<String, TenantConfig> {
        &self.config.tenants
    }
}

struct Tree {
    dir: tempfile::TempDir,
    cache: LoadCache,
    run: Running,
}

impl Tree {
    /// A tree with `hq` in the main file and `files` under `tenants.d/`, loaded whole.
    fn start(files: &[(&str, String)]) -> Tree {
        let dir = tempfile::tempdir().unwrap();
        crate::config::tests::seed_tree(dir.path());
        std::fs::write(dir.path().join("xgate.toml"), MAIN).unwrap();
        for (name, text) in files {
            std::fs::write(dir.path().join("tenants.d").join(name), text).unwrap();
        }
        let cache = LoadCache::default();
        let loaded = load_cached(&dir.path().join("xgate.toml"), None, &cache).unwrap();
        assert!(loaded.tenant_errors.is_empty(), "{}", loaded.all_errors());
        Tree {
            run: Running {
                config: loaded.config,
                stale: Errors::new(),
                rejected: Errors::new(),
            },
            dir,
            cache,
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn write(&self, name: &str, text: &str) {
        std::fs::write(self.path(name), text).unwrap();
    }

    /// What a full reload would make of the tree now (on a cache of its own).
    fn full(&self) -> Running {
        let main = self.path("xgate.toml");
        let loaded = load_cached(&main, Some(&self.run.config), &LoadCache::default()).unwrap();
        let mut next = self.run.clone();
        next.apply(merge(&self.run.config, loaded));
        next
    }

    fn fast(&self, changed: &[&str]) -> Result<Merged, Declined> {
        let changed: BTreeSet<PathBuf> = changed.iter().map(|c| self.path(c)).collect();
        let refused = self.run.stale.values().chain(self.run.rejected.values());
        load_changed(&self.run.config, refused.flatten(), &self.cache, &changed)
    }

    /// Takes the fast path over `changed`, checks it against a full reload of the same
    /// tree, keeps the result and returns the fast path's scope.
    fn reload(&mut self, changed: &[&str]) -> BTreeSet<String> {
        let expected = self.full();
        let merged = self
            .fast(changed)
            .unwrap_or_else(|why| panic!("the fast path declined: {why}"));
        let scope = merged.scope.clone().expect("a scoped merge");
        let mut next = self.run.clone();
        next.apply(merged);
        assert_eq!(next.tenants(), expected.tenants(), "tenants differ");
        assert_eq!(next.stale, expected.stale, "stale tenants differ");
        assert_eq!(next.rejected, expected.rejected, "rejected tenants differ");
        self.run = next;
        scope
    }

    fn declines(&self, changed: &[&str], why: &str) {
        match self.fast(changed) {
            Ok(_) => panic!("the fast path took {changed:?}; expected to decline ({why})"),
            Err(d) => assert!(d.0.contains(why), "declined for `{d}`, not `{why}`"),
        }
    }
}

fn ids(v: &[&str]) -> BTreeSet<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn three() -> Tree {
    Tree::start(&[
        (
            "acme.toml",
            tenant("acme", "ACME", &["acme.test"], Some(7100)),
        ),
        (
            "globex.toml",
            tenant("globex", "Globex", &["globex.test", "shared.test"], None),
        ),
        (
            "initech.toml",
            tenant("initech", "Initech", &["initech.test"], None),
        ),
    ])
}

#[test]
fn one_edited_file_changes_only_its_tenant() {
    let mut t = three();
    let before = t.run.config.clone();
    t.write(
        "tenants.d/globex.toml",
        &tenant("globex", "Globex v2", &["globex.test", "shared.test"], None),
    );
    assert_eq!(t.reload(&["tenants.d/globex.toml"]), ids(&["globex"]));
    assert_eq!(t.run.tenants()["globex"].name, "Globex v2");
    for id in ["acme", "hq", "initech"] {
        assert_eq!(t.run.tenants()[id], before.tenants[id]);
    }
    // The template set read again is the one in force: still one shared copy.
    assert!(Arc::ptr_eq(
        &t.run.tenants()["globex"].templates,
        &t.run.tenants()["acme"].templates
    ));
}

#[test]
fn a_conflicting_edit_refuses_the_newer_claimant() {
    let mut t = three();
    let before = t.run.config.clone();
    // initech takes a domain globex holds, and acme's port.
    t.write(
        "tenants.d/initech.toml",
        &tenant(
            "initech",
            "Initech v2",
            &["initech.test", "shared.test"],
            Some(7100),
        ),
    );
    let scope = t.reload(&["tenants.d/initech.toml"]);
    assert_eq!(scope, ids(&["acme", "globex", "initech"]));
    assert_eq!(t.run.tenants()["initech"], before.tenants["initech"]);
    let why: Vec<String> = t.run.stale["initech"]
        .iter()
        .map(ToString::to_string)
        .collect();
    assert!(
        why.iter()
            .any(|w| w.contains("mail domain `shared.test` is already held by tenant `globex`")),
        "{why:?}"
    );
    assert!(
        why.iter()
            .any(|w| w.contains("port 7100 is already held by tenant `acme`")),
        "{why:?}"
    );

    // A new tenant claiming the main file's tenant's domain is refused outright.
    t.write(
        "tenants.d/umbrella.toml",
        &tenant("umbrella", "Umbrella", &["hq.test"], None),
    );
    t.declines(&["tenants.d/umbrella.toml"], "`initech` is refused");
    t.reload(&["tenants.d/umbrella.toml", "tenants.d/initech.toml"]);
    assert!(!t.run.tenants().contains_key("umbrella"));
    assert!(t.run.rejected["umbrella"][0].message.contains("`hq`"));
}

#[test]
fn a_claim_moves_between_files_changed_together() {
    let mut t = three();
    t.write(
        "tenants.d/globex.toml",
        &tenant("globex", "Globex", &["globex.test"], None),
    );
    t.write(
        "tenants.d/initech.toml",
        &tenant("initech", "Initech", &["initech.test", "shared.test"], None),
    );
    t.reload(&["tenants.d/globex.toml", "tenants.d/initech.toml"]);
    assert!(t.run.stale.is_empty() && t.run.rejected.is_empty());
    assert!(
        t.run.tenants()["initech"]
            .mail_domains
            .contains(&"shared.test".to_string())
    );
}

#[test]
fn a_bad_tenant_stays_stale_and_its_fix_applies() {
    let mut t = three();
    let before = t.run.config.clone();
    let good = tenant("globex", "Globex v3", &["globex.test"], None);
    t.write("tenants.d/globex.toml", &good.replace("name =", "nme ="));
    t.reload(&["tenants.d/globex.toml"]);
    assert_eq!(t.run.tenants()["globex"], before.tenants["globex"]);
    assert_eq!(t.run.stale["globex"][0].key.as_deref(), Some("nme"));

    t.write("tenants.d/globex.toml", &good);
    t.reload(&["tenants.d/globex.toml"]);
    assert!(t.run.stale.is_empty());
    assert_eq!(t.run.tenants()["globex"].name, "Globex v3");
}

#[test]
fn files_added_and_removed() {
    let mut t = three();
    std::fs::remove_file(t.path("tenants.d/initech.toml")).unwrap();
    t.write(
        "tenants.d/hooli.toml",
        &tenant("hooli", "Hooli", &["hooli.test"], Some(7200)),
    );
    t.reload(&["tenants.d/initech.toml", "tenants.d/hooli.toml"]);
    assert!(!t.run.tenants().contains_key("initech"));
    assert_eq!(t.run.tenants()["hooli"].ports, [7200]);
    // A file may hold several tenants, and may move one to another file.
    t.write(
        "tenants.d/hooli.toml",
        &format!(
            "{}{}",
            tenant("hooli", "Hooli", &["hooli.test"], Some(7200)),
            tenant("initech", "Initech again", &["initech.test"], None)
        ),
    );
    t.reload(&["tenants.d/hooli.toml"]);
    assert_eq!(t.run.tenants()["initech"].name, "Initech again");
}

#[test]
fn it_declines_what_it_cannot_prove() {
    let t = three();
    t.declines(&["xgate.toml"], "the main file changed");
    t.declines(
        &["secrets/globex.token"],
        "is not the file of exactly one include",
    );
    t.declines(
        &["tenants.d/..data"],
        "is not the file of exactly one include",
    );
    t.declines(&[], "no path named");

    // A tenant id already defined in a file that did not change (or in the main file).
    t.write(
        "tenants.d/hooli.toml",
        &tenant("acme", "ACME twice", &["acme2.test"], None),
    );
    t.declines(&["tenants.d/hooli.toml"], "`acme` is defined in");
    t.write(
        "tenants.d/hooli.toml",
        &tenant("hq", "HQ twice", &["hq2.test"], None),
    );
    t.declines(&["tenants.d/hooli.toml"], "`hq` is defined in");
    t.write(
        "tenants.d/hooli.toml",
        &tenant("hooli", "Hooli", &["hooli.test"], None),
    );
    t.write(
        "tenants.d/initech.toml",
        &tenant("hooli", "Hooli", &["hooli.test"], None),
    );
    t.declines(
        &["tenants.d/hooli.toml", "tenants.d/initech.toml"],
        "`hooli` is defined twice",
    );

    // A file that does not parse fails the whole reload: the full path reports it.
    t.write("tenants.d/hooli.toml", "[tenants.hooli\n");
    t.declines(&["tenants.d/hooli.toml"], "has errors");

    // Nothing to build on before a full load succeeds, nor after one fails.
    let fresh = LoadCache::default();
    let changed = BTreeSet::from([t.path("tenants.d/globex.toml")]);
    let refused: [ConfigError; 0] = [];
    let d = load_changed(&t.run.config, &refused, &fresh, &changed).unwrap_err();
    assert!(d.0.contains("no successful load"), "{d}");
    assert!(load_cached(&t.path("xgate.toml"), Some(&t.run.config), &t.cache).is_err());
    t.declines(&["tenants.d/globex.toml"], "no successful load");
}

#[test]
fn the_edited_tenants_secret_file_is_read_again() {
    let mut t = three();
    std::fs::create_dir_all(t.path("secrets")).unwrap();
    t.write("secrets/globex.token", "first-token-0123456789abcdefghij");
    let file = |name: &str| {
        tenant("globex", name, &["globex.test"], None).replace(
            "\"literal-token-for-globex-0123456789abcdefghij\"",
            "\"file:secrets/globex.token\"",
        )
    };
    t.write("tenants.d/globex.toml", &file("Globex"));
    t.reload(&["tenants.d/globex.toml"]);
    t.write("secrets/globex.token", "second-token-0123456789abcdefghij");
    t.write("tenants.d/globex.toml", &file("Globex v2"));
    t.reload(&["tenants.d/globex.toml"]);
    let super::super::BotCredentials::Bearer(token) = &t.run.tenants()["globex"].bot.credentials
    else {
        panic!("a bearer token");
    };
    assert_eq!(token.expose(), "second-token-0123456789abcdefghij");
}
