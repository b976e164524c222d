//! `xgate check` and `xgate migrate` on config trees: a valid tree passes; each error
//! names its file, tenant and key, like a good compiler; a secret is never printed.

use xgate_tests::database::Database;
use xgate_tests::xgate::repo_root;
use xgate_tests::{Backend, ConfigTree, Outcome};

const MAIN: &str = r#"[server]
listen = ["127.0.0.1:18080"]
ops_listen = "127.0.0.1:19100"
include = ["tenants.d/*.toml"]

[database]
url = "sqlite://data"
"#;

/// A valid tenant file whose bot token comes from `env:<token>`.
fn tenant(id: &str, domain: &str, port: u16, token: &str) -> String {
    format!(
        r#"[tenants.{id}]
name = "Tenant {id}"
mail_domains = ["{domain}"]
ports = [{port}]
default_language = "ru"
template_set = "test"

[tenants.{id}.bot]
url = "https://cts.{domain}/api/v1/conference_bot/conferences/"
auth = "bearer"
token = "env:{token}"
timeout_ms = 5000

[tenants.{id}.auth]
mode = "none"

[tenants.{id}.policy]
link_types = ["public", "corporate", "trusts"]
require_access_code_from = "trusts"
"#
    )
}

const ACME_TOKEN: (&str, &str) = (
    "XGATE_CHECK_ACME",
    "AcmeSecretToken0123456789abcdefghijklmnopqrstu",
);
const GLOBEX_TOKEN: (&str, &str) = (
    "XGATE_CHECK_GLOBEX",
    "GlobexSecretToken0123456789abcdefghijklmnopqrs",
);

fn valid_tree() -> ConfigTree {
    let tree = ConfigTree::new();
    tree.main(MAIN)
        .write(
            "tenants.d/acme.toml",
            &tenant("acme", "acme.test", 7100, ACME_TOKEN.0),
        )
        .write(
            "tenants.d/globex.toml",
            &tenant("globex", "globex.test", 7300, GLOBEX_TOKEN.0),
        );
    tree
}

fn assert_fails(out: &Outcome) {
    assert!(!out.success, "expected a failure, got success: {out:?}");
    assert!(
        !out.stderr.trim().is_empty(),
        "errors go to stderr: {out:?}"
    );
}

/// The stderr line that mentions `needle`.
fn line_with<'a>(out: &'a Outcome, needle: &str) -> &'a str {
    out.stderr
        .lines()
        .find(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no error line mentions {needle:?}:\n{}", out.stderr))
}

fn assert_no_secret(out: &Outcome) {
    for secret in [ACME_TOKEN.1, GLOBEX_TOKEN.1] {
        assert!(
            !out.output().contains(secret),
            "a secret value is printed:\n{}",
            out.output()
        );
    }
}

#[test]
fn a_valid_tree_passes() {
    let out = valid_tree().check(&[ACME_TOKEN, GLOBEX_TOKEN]);
    assert!(out.success, "{out:?}");
    assert!(out.stdout.contains("2 tenant"), "{out:?}");
    assert_no_secret(&out);
}

#[test]
fn the_shipped_demo_config_passes() {
    let demo = repo_root().join("config/demo.toml");
    let out = xgate_tests::config_tree::run(
        &["check"],
        &demo,
        &repo_root(),
        &[(
            "XGATE_DEMO_BOT_TOKEN",
            "DemoToken0123456789abcdefghijklmnopqrstuvwxyzAB",
        )],
    );
    assert!(out.success, "{out:?}");
}

#[test]
fn the_documented_example_tenant_passes() {
    let tree = ConfigTree::new();
    let example =
        std::fs::read_to_string(repo_root().join("config/tenants.d/example.toml.disabled"))
            .expect("config/tenants.d/example.toml.disabled");
    tree.main(MAIN).write("tenants.d/example.toml", &example);
    let out = tree.check(&[("ACME_BOT_TOKEN", ACME_TOKEN.1)]);
    assert!(out.success, "{out:?}");
}

#[test]
fn an_unknown_key_names_file_tenant_and_key() {
    let tree = valid_tree();
    let acme = tenant("acme", "acme.test", 7100, ACME_TOKEN.0).replace("token = ", "tokn = ");
    tree.write("tenants.d/acme.toml", &acme);
    let out = tree.check(&[ACME_TOKEN, GLOBEX_TOKEN]);
    assert_fails(&out);
    let line = line_with(&out, "tokn");
    assert!(
        line.contains("tenants.d/acme.toml"),
        "names the file: {line}"
    );
    assert!(line.contains("acme"), "names the tenant: {line}");
    assert!(line.contains("bot.tokn"), "names the key: {line}");

    // In the main file's own sections too.
    let tree = valid_tree();
    tree.main(&MAIN.replace("include =", "includ ="));
    let out = tree.check(&[ACME_TOKEN, GLOBEX_TOKEN]);
    assert_fails(&out);
    let line = line_with(&out, "includ");
    assert!(line.contains("xgate.toml"), "{line}");
    assert!(line.contains("server.includ"), "{line}");
}

#[test]
fn two_tenants_claiming_one_port_are_both_named() {
    let tree = valid_tree();
    tree.write(
        "tenants.d/globex.toml",
        &tenant("globex", "globex.test", 7100, GLOBEX_TOKEN.0),
    );
    let out = tree.check(&[ACME_TOKEN, GLOBEX_TOKEN]);
    assert_fails(&out);
    let line = line_with(&out, "7100");
    assert!(line.contains("acme") && line.contains("globex"), "{line}");
    assert!(line.contains("ports"), "names the key: {line}");
    assert!(line.contains("tenants.d/"), "names the file: {line}");
}

#[test]
fn two_tenants_claiming_one_mail_domain_are_both_named() {
    let tree = valid_tree();
    tree.write(
        "tenants.d/globex.toml",
        &tenant("globex", "acme.test", 7300, GLOBEX_TOKEN.0),
    );
    let out = tree.check(&[ACME_TOKEN, GLOBEX_TOKEN]);
    assert_fails(&out);
    let line = line_with(&out, "acme.test`");
    assert!(line.contains("acme") && line.contains("globex"), "{line}");
    assert!(line.contains("mail_domains"), "names the key: {line}");
}

#[test]
fn a_missing_env_secret_names_the_variable_and_prints_no_secret() {
    let tree = valid_tree();
    tree.write(
        "tenants.d/acme.toml",
        &tenant("acme", "acme.test", 7100, "XGATE_CHECK_SURELY_UNSET"),
    );
    let out = tree.check(&[ACME_TOKEN, GLOBEX_TOKEN]);
    assert_fails(&out);
    let line = line_with(&out, "XGATE_CHECK_SURELY_UNSET");
    assert!(line.contains("tenants.d/acme.toml"), "{line}");
    assert!(line.contains("acme"), "{line}");
    assert!(line.contains("bot.token"), "{line}");
    assert_no_secret(&out);

    // A secret file that is missing is named by its path.
    let tree = valid_tree();
    let acme = tenant("acme", "acme.test", 7100, ACME_TOKEN.0)
        .replace(&format!("env:{}", ACME_TOKEN.0), "file:secrets/acme-token");
    tree.write("tenants.d/acme.toml", &acme);
    let out = tree.check(&[ACME_TOKEN, GLOBEX_TOKEN]);
    assert_fails(&out);
    line_with(&out, "secrets/acme-token");
    assert_no_secret(&out);
}

#[test]
fn a_mistyped_secret_is_not_printed() {
    // A password that is all digits, written without quotes, is a TOML integer.
    let tree = valid_tree();
    let acme = tenant("acme", "acme.test", 7100, ACME_TOKEN.0)
        .replace("auth = \"bearer\"", "auth = \"basic\"\nusername = \"svc\"")
        .replace(
            &format!("token = \"env:{}\"", ACME_TOKEN.0),
            "password = 20240229",
        );
    tree.write("tenants.d/acme.toml", &acme);
    let out = tree.check(&[ACME_TOKEN, GLOBEX_TOKEN]);
    assert_fails(&out);
    let line = line_with(&out, "bot.password");
    assert!(line.contains("acme"), "{line}");
    assert!(
        !out.output().contains("20240229"),
        "the password is printed: {line}"
    );
}

#[test]
fn a_bad_bot_url_is_named() {
    for url in [
        "cts.acme.test/api/v1/conference_bot/conferences",
        "ftp://cts.acme.test/x",
    ] {
        let tree = valid_tree();
        let acme = tenant("acme", "acme.test", 7100, ACME_TOKEN.0).replace(
            "https://cts.acme.test/api/v1/conference_bot/conferences/",
            url,
        );
        tree.write("tenants.d/acme.toml", &acme);
        let out = tree.check(&[ACME_TOKEN, GLOBEX_TOKEN]);
        assert_fails(&out);
        let line = line_with(&out, "bot.url");
        assert!(line.contains("tenants.d/acme.toml"), "{line}");
        assert!(line.contains("acme"), "{line}");
    }
}

#[test]
fn a_toml_syntax_error_names_its_line() {
    let tree = valid_tree();
    tree.write(
        "tenants.d/acme.toml",
        "[tenants.acme]\nmail_domains = [\"acme.test\"]\nname = \"ACME Holding\nports = [7100]\n",
    );
    let out = tree.check(&[ACME_TOKEN, GLOBEX_TOKEN]);
    assert_fails(&out);
    line_with(&out, "tenants.d/acme.toml:3");
}

#[test]
fn every_error_is_reported_in_one_run() {
    let tree = valid_tree();
    tree.write(
        "tenants.d/acme.toml",
        &tenant("acme", "acme.test", 7100, ACME_TOKEN.0).replace("token = ", "tokn = "),
    );
    tree.write(
        "tenants.d/globex.toml",
        &tenant("globex", "globex.test", 7300, GLOBEX_TOKEN.0)
            .replace("https://cts.globex.test", "cts.globex.test"),
    );
    let out = tree.check(&[ACME_TOKEN, GLOBEX_TOKEN]);
    assert_fails(&out);
    line_with(&out, "bot.tokn");
    line_with(&out, "bot.url");
}

#[test]
fn a_syntax_error_in_one_file_hides_no_other_tenants_error() {
    let tree = valid_tree();
    tree.write(
        "tenants.d/acme.toml",
        "[tenants.acme]\nmail_domains = [\"acme.test\"]\nname = \"ACME Holding\n",
    );
    tree.write(
        "tenants.d/globex.toml",
        &tenant("globex", "globex.test", 7300, GLOBEX_TOKEN.0).replace("token = ", "tokn = "),
    );
    let out = tree.check(&[ACME_TOKEN, GLOBEX_TOKEN]);
    assert_fails(&out);
    line_with(&out, "tenants.d/acme.toml:3");
    let line = line_with(&out, "bot.tokn");
    assert!(line.contains("tenants.d/globex.toml"), "{line}");
}

#[test]
fn a_tenants_own_error_hides_none_of_its_conflicts() {
    let tree = valid_tree();
    // acme's token variable is missing, and acme also claims globex's port.
    tree.write(
        "tenants.d/acme.toml",
        &tenant("acme", "acme.test", 7300, "XGATE_CHECK_SURELY_UNSET"),
    );
    let out = tree.check(&[ACME_TOKEN, GLOBEX_TOKEN]);
    assert_fails(&out);
    line_with(&out, "XGATE_CHECK_SURELY_UNSET");
    let line = line_with(&out, "7300");
    assert!(line.contains("acme") && line.contains("globex"), "{line}");
}

fn migrate_twice(backend: Backend) {
    let tree = valid_tree();
    let db = Database::create(backend, tree.dir());
    tree.main(&MAIN.replace("sqlite://data", &db.url()));
    for run in ["first", "second"] {
        let out = tree.migrate(&[ACME_TOKEN, GLOBEX_TOKEN]);
        assert!(out.success, "{run} migrate: {out:?}");
        assert_no_secret(&out);
    }
    let rt = tokio::runtime::Runtime::new().expect("a runtime");
    for t in ["acme", "globex"] {
        assert_eq!(
            rt.block_on(db.meeting_rows(t)),
            0,
            "{t}'s table exists, empty"
        );
    }
}

#[test]
fn migrate_is_idempotent_sqlite() {
    migrate_twice(Backend::Sqlite);
}

#[test]
fn migrate_is_idempotent_postgres() {
    migrate_twice(Backend::Postgres);
}
