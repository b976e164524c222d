//! Config loading and validation, on small trees written to a temp dir.

use std::path::PathBuf;

use super::*;

struct Tree {
    dir: tempfile::TempDir,
}

/// The parts of a config tree every test tree has: the default template set and an
/// empty `tenants.d/`.
pub(super) fn seed_tree(dir: &std::path::Path) {
    std::fs::create_dir_all(dir.join("templates/default")).unwrap();
    std::fs::write(
        dir.join("templates/default/ru.html"),
        "<title>Встреча</title><a href=\"{{ conference.link }}\">link</a>",
    )
    .unwrap();
    std::fs::create_dir_all(dir.join("tenants.d")).unwrap();
}

impl Tree {
    fn new(main: &str) -> Tree {
        let dir = tempfile::tempdir().unwrap();
        seed_tree(dir.path());
        let t = Tree { dir };
        t.write("xgate.toml", main);
        t
    }

    fn write(&self, name: &str, text: &str) {
        std::fs::write(self.dir.path().join(name), text).unwrap();
    }

    fn main(&self) -> PathBuf {
        self.dir.path().join("xgate.toml")
    }

    fn load(&self) -> Result<Loaded, ConfigErrors> {
        load(&self.main(), None)
    }
}

const MAIN: &str = r#"
[server]
listen = ["127.0.0.1:18080"]
ops_listen = "127.0.0.1:19100"
include = ["tenants.d/*.toml"]
[database]
url = "sqlite://data"
"#;

fn tenant(id: &str, domain: &str, port: u16) -> String {
    format!(
        r#"
[tenants.{id}]
name = "Tenant {id}"
mail_domains = ["{domain}"]
ports = [{port}]
[tenants.{id}.bot]
url = "https://cts.{domain}/api/v1/conference_bot/conferences/"
token = "literal-token-for-{id}-0123456789abcdefghij"
"#
    )
}

fn only_errors(loaded: &Loaded) -> Vec<String> {
    loaded
        .all_errors()
        .0
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[test]
fn a_valid_tree_with_includes_and_defaults() {
    let t = Tree::new(MAIN);
    t.write("tenants.d/acme.toml", &tenant("acme", "acme.test", 7100));
    t.write(
        "tenants.d/globex.toml",
        &tenant("globex", "Globex.TEST", 7300),
    );
    let loaded = t.load().unwrap();
    assert!(
        loaded.tenant_errors.is_empty(),
        "{:?}",
        only_errors(&loaded)
    );
    let c = &loaded.config;
    assert_eq!(c.tenants.len(), 2);
    let g = &c.tenants["globex"];
    assert_eq!(
        g.mail_domains,
        vec!["globex.test"],
        "domains are lowercased"
    );
    assert_eq!(g.schema, "globex");
    assert_eq!(g.bot.timeout.as_millis(), 5000);
    assert_eq!(g.default_language, crate::Language::Ru);
    assert!(
        c.database.url.starts_with("sqlite:///"),
        "sqlite dir resolved against the config dir"
    );
    assert_eq!(c.server.max_body_bytes, 256 * 1024);
}

#[test]
fn unknown_keys_name_file_line_tenant_and_key() {
    let t = Tree::new(MAIN);
    let text = tenant("acme", "acme.test", 7100).replace("token =", "tokn =");
    t.write("tenants.d/acme.toml", &text);
    let loaded = t.load().unwrap();
    let errs = only_errors(&loaded);
    assert_eq!(errs.len(), 1, "{errs:?}");
    let e = &loaded.tenant_errors["acme"][0];
    assert!(e.file.ends_with("tenants.d/acme.toml"));
    assert_eq!(e.tenant.as_deref(), Some("acme"));
    assert_eq!(e.key.as_deref(), Some("bot.tokn"));
    assert_eq!(e.line, Some(8), "the `tokn` line");
    assert!(e.message.contains("unknown field `tokn`"), "{}", e.message);
    assert!(
        !errs[0].contains("literal-token"),
        "no secret in messages: {}",
        errs[0]
    );

    let t = Tree::new(&format!("{MAIN}\n[sever]\nx = 1\n"));
    let err = t.load().unwrap_err();
    assert!(err.to_string().contains("`sever`"), "{err}");
}

#[test]
fn conflicting_claims_name_both_tenants_and_the_value() {
    let t = Tree::new(MAIN);
    t.write("tenants.d/acme.toml", &tenant("acme", "acme.test", 7100));
    t.write(
        "tenants.d/globex.toml",
        &tenant("globex", "acme.test", 7100),
    );
    let loaded = t.load().unwrap();
    let errs = only_errors(&loaded).join("\n");
    assert!(
        loaded.config.tenants.is_empty(),
        "both claimants are refused on a first load"
    );
    assert!(
        errs.contains("port 7100 is also claimed by tenant `globex`"),
        "{errs}"
    );
    assert!(
        errs.contains("port 7100 is also claimed by tenant `acme`"),
        "{errs}"
    );
    assert!(errs.contains("mail domain `acme.test`"), "{errs}");
}

#[test]
fn a_port_of_the_server_itself_is_refused() {
    let t = Tree::new(MAIN);
    t.write("tenants.d/acme.toml", &tenant("acme", "acme.test", 19100));
    let errs = only_errors(&t.load().unwrap()).join("\n");
    assert!(
        errs.contains("port 19100 is one of the server's own listeners"),
        "{errs}"
    );
}

#[test]
fn secrets_from_env_and_file_errors_name_the_source_only() {
    let t = Tree::new(MAIN);
    let text = tenant("acme", "acme.test", 7100).replace(
        "token = \"literal-token-for-acme-0123456789abcdefghij\"",
        "token = \"env:XGATE_UNIT_TEST_MISSING_TOKEN\"",
    );
    t.write("tenants.d/acme.toml", &text);
    let errs = only_errors(&t.load().unwrap()).join("\n");
    assert!(errs.contains("XGATE_UNIT_TEST_MISSING_TOKEN"), "{errs}");
    assert!(errs.contains("key `bot.token`"), "{errs}");

    std::fs::write(
        t.dir.path().join("acme.token"),
        "file-token-0123456789abcdefghijklmnopq\n",
    )
    .unwrap();
    let text = tenant("acme", "acme.test", 7100).replace(
        "token = \"literal-token-for-acme-0123456789abcdefghij\"",
        "token = \"file:acme.token\"",
    );
    t.write("tenants.d/acme.toml", &text);
    let loaded = t.load().unwrap();
    match &loaded.config.tenants["acme"].bot.credentials {
        BotCredentials::Bearer(s) => {
            assert_eq!(s.expose(), "file-token-0123456789abcdefghijklmnopq")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn bot_url_and_auth_are_checked() {
    let t = Tree::new(MAIN);
    t.write(
        "tenants.d/acme.toml",
        &tenant("acme", "acme.test", 7100).replace("https://cts.acme.test", "ftp://cts.acme.test"),
    );
    t.write(
        "tenants.d/globex.toml",
        &tenant("globex", "globex.test", 7300).replace("https://cts.", "https://user:pw@cts."),
    );
    t.write(
        "tenants.d/initech.toml",
        &format!(
            "{}auth = \"basic\"\n",
            tenant("initech", "initech.test", 7400)
        ),
    );
    let loaded = t.load().unwrap();
    let key = |id: &str| loaded.tenant_errors[id][0].key.clone().unwrap();
    assert_eq!(key("acme"), "bot.url");
    assert_eq!(key("globex"), "bot.url");
    assert!(
        !only_errors(&loaded).join("\n").contains("pw@"),
        "credentials never echoed"
    );
    assert_eq!(
        key("initech"),
        "bot.token",
        "basic auth refuses a bearer token"
    );
}

#[test]
fn syntax_errors_and_misplaced_sections_carry_their_line() {
    let t = Tree::new(MAIN);
    t.write(
        "tenants.d/acme.toml",
        "[tenants.acme]\nname = \"x\"\nports = [7100\n",
    );
    let err = t.load().unwrap_err();
    let e = &err.0[0];
    assert!(e.file.ends_with("acme.toml"));
    assert!(e.line.is_some_and(|l| l >= 3), "{e}");
    assert!(e.message.starts_with("not valid TOML"), "{e}");

    let t = Tree::new(MAIN);
    t.write("tenants.d/acme.toml", "[server]\nlisten = []\n");
    let err = t.load().unwrap_err();
    assert!(
        err.to_string().contains("may only hold `[tenants.*]`"),
        "{err}"
    );
}

#[test]
fn a_tenant_defined_twice_is_an_error_naming_the_first_file() {
    let t = Tree::new(MAIN);
    t.write("tenants.d/a.toml", &tenant("acme", "acme.test", 7100));
    t.write("tenants.d/b.toml", &tenant("acme", "acme2.test", 7101));
    let loaded = t.load().unwrap();
    let errs = only_errors(&loaded).join("\n");
    assert!(
        errs.contains("also defined in") && errs.contains("a.toml"),
        "{errs}"
    );
}

#[test]
fn template_syntax_errors_are_config_errors() {
    let t = Tree::new(MAIN);
    t.write("templates/default/ru.html", "<title>x</title>\n{% if %}");
    t.write("tenants.d/acme.toml", &tenant("acme", "acme.test", 7100));
    let loaded = t.load().unwrap();
    let e = &loaded.tenant_errors["acme"][0];
    assert_eq!(e.key.as_deref(), Some("template_set"));
    assert!(e.message.contains("line 2"), "{}", e.message);
}

#[test]
fn merge_keeps_a_broken_tenant_on_its_last_good_definition() {
    let t = Tree::new(MAIN);
    t.write("tenants.d/acme.toml", &tenant("acme", "acme.test", 7100));
    t.write(
        "tenants.d/globex.toml",
        &tenant("globex", "globex.test", 7300),
    );
    let current = t.load().unwrap().config;

    // acme breaks; globex changes its name; initech is new and tries to take acme's port.
    t.write(
        "tenants.d/acme.toml",
        &tenant("acme", "acme.test", 7100).replace("name =", "nme ="),
    );
    t.write(
        "tenants.d/globex.toml",
        &tenant("globex", "globex.test", 7300).replace("Tenant globex", "Globex v2"),
    );
    t.write(
        "tenants.d/initech.toml",
        &tenant("initech", "initech.test", 7100),
    );
    let merged = merge(&current, load(&t.main(), Some(&current)).unwrap());
    assert_eq!(
        merged.config.tenants["acme"], current.tenants["acme"],
        "stale, not gone"
    );
    assert!(merged.stale.contains_key("acme"));
    assert_eq!(merged.config.tenants["globex"].name, "Globex v2");
    assert!(
        !merged.config.tenants.contains_key("initech"),
        "the newer claimant loses"
    );
    let why = merged.rejected["initech"][0].to_string();
    assert!(
        why.contains("port 7100 is already held by tenant `acme`"),
        "{why}"
    );
}

#[test]
fn removed_tenants_are_gone_after_merge() {
    let t = Tree::new(MAIN);
    t.write("tenants.d/acme.toml", &tenant("acme", "acme.test", 7100));
    let current = t.load().unwrap().config;
    std::fs::remove_file(t.dir.path().join("tenants.d/acme.toml")).unwrap();
    let merged = merge(&current, load(&t.main(), Some(&current)).unwrap());
    assert!(merged.config.tenants.is_empty());
    assert!(merged.stale.is_empty() && merged.rejected.is_empty());
}

#[test]
fn the_load_cache_reparses_only_files_whose_stamp_changed() {
    let t = Tree::new(MAIN);
    t.write("tenants.d/acme.toml", &tenant("acme", "acme.test", 7100));
    let cache = LoadCache::default();
    let path = t.dir.path().join("tenants.d/acme.toml");
    let stamp = std::fs::metadata(&path).unwrap().modified().unwrap();
    let first = load_cached(&t.main(), None, &cache).unwrap().config;
    assert_eq!(first.tenants["acme"].name, "Tenant acme");

    // Same size, same modification time: the cached parse is used.
    t.write(
        "tenants.d/acme.toml",
        &tenant("acme", "acme.test", 7100).replace("Tenant acme", "Tenant ACME"),
    );
    let f = std::fs::File::options().write(true).open(&path).unwrap();
    f.set_modified(stamp).unwrap();
    let cached = load_cached(&t.main(), None, &cache).unwrap().config;
    assert_eq!(cached.tenants["acme"].name, "Tenant acme");

    // A new modification time: parsed again.
    f.set_modified(stamp + std::time::Duration::from_secs(1))
        .unwrap();
    let fresh = load_cached(&t.main(), None, &cache).unwrap().config;
    assert_eq!(fresh.tenants["acme"].name, "Tenant ACME");
}

#[test]
fn mail_domains_are_normalised_then_checked() {
    use super::mail_domain;
    assert_eq!(mail_domain(" Corp.Test. ").unwrap(), "corp.test");
    assert!(mail_domain("corp..test").is_err());
    assert!(mail_domain("user@corp.test").is_err());
    assert!(mail_domain("-corp.test").is_err());
}

/// The listing shortcut for `dir/*.toml` names the same files as `glob` would, with
/// symlinks followed (a ConfigMap's files are symlinks) and directories left out.
#[test]
fn include_expansion_lists_what_glob_lists() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let d = root.join("tenants.d");
    std::fs::create_dir_all(d.join("sub.toml")).unwrap();
    std::fs::create_dir_all(d.join("nested")).unwrap();
    std::fs::create_dir_all(root.join("..data")).unwrap();
    for f in ["a.toml", ".hidden.toml", "b.txt", "nested/c.toml"] {
        std::fs::write(d.join(f), "").unwrap();
    }
    std::fs::write(root.join("..data/linked.toml"), "x").unwrap();
    std::os::unix::fs::symlink(root.join("..data/linked.toml"), d.join("linked.toml")).unwrap();
    std::os::unix::fs::symlink(root.join("gone.toml"), d.join("dangling.toml")).unwrap();

    let by_glob = |pattern: &str| -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = glob::glob(&include_glob(root, pattern))
            .unwrap()
            .filter_map(Result::ok)
            .filter(|p| p.is_file())
            .collect();
        v.sort();
        v
    };
    for pattern in [
        "tenants.d/*.toml",
        "tenants.d/a.toml",
        "tenants.d/*/c.toml",
        "tenants.d/[ab].toml",
        "missing/*.toml",
    ] {
        let listed = expand_include(root, pattern).unwrap();
        let paths: Vec<PathBuf> = listed.iter().map(|(p, _)| p.clone()).collect();
        assert_eq!(paths, by_glob(pattern), "{pattern}");
        assert!(listed.iter().all(|(_, stamp)| stamp.is_some()), "{pattern}");
    }
    let names: Vec<String> = expand_include(root, "tenants.d/*.toml")
        .unwrap()
        .iter()
        .map(|(p, _)| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, [".hidden.toml", "a.toml", "linked.toml"]);
    let err = expand_include(root, "tenants.d/[.toml").unwrap_err();
    assert!(err.contains("bad include pattern"), "{err}");
}
