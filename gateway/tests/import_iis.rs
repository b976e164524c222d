//! `xgate import-iis` on appsettings files written from the vendor guide's examples
//! (fixtures/iis): the generated tenant files pass xgate's own config validation, the
//! report accounts for every old key, and no secret value lands in a file or the report.

use std::path::{Path, PathBuf};

use xgate::import_iis::{ImportError, ImportReport, ImportRequest, Outcome, import};
use xgate_tenants::config::BotCredentials;

/// Every secret in the fixtures: none may appear in a written file or the report.
const SECRETS: &[&str] = &[
    "dfgdf509usds0f9n0ud",
    "3bfef52b32685598d1f73301dd3c0431",
    "Pass1234",
    "Pass5678",
    "S3cret!Basic",
    "JFRINXV0LG1hLX1EVz1YdX1ae316UU0zJzR9WVUtIXA",
];

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/iis")
        .join(name)
}

/// The three core services of a multi-CTS installation (guide, appendix 3, table 2)
/// and the shared template service.
fn request(out_dir: &Path) -> ImportRequest {
    ImportRequest {
        core_settings: vec![
            fixture("core.appsettings.Production.json"),
            fixture("core-basic.appsettings.Production.json"),
            fixture("core-comments.appsettings.Production.json"),
        ],
        template_settings: vec![fixture("template.appsettings.Production.json")],
        ports: vec![7100, 7300, 7500],
        tenant_ids: vec![],
        out_dir: out_dir.to_path_buf(),
        mail_domains: vec![
            vec!["corp.test".into()],
            vec!["branch.corp.test".into()],
            vec![],
        ],
        overwrite: false,
    }
}

fn key<'r>(report: &'r ImportReport, file: &str, key: &str) -> &'r Outcome {
    let f = report
        .files
        .iter()
        .find(|f| f.path.ends_with(file))
        .unwrap_or_else(|| panic!("no report for {file}"));
    &f.keys
        .iter()
        .find(|k| k.key == key)
        .unwrap_or_else(|| panic!("{key} not in the report of {file}: {:#?}", f.keys))
        .outcome
}

#[test]
fn generated_tenants_pass_xgate_validation() {
    let dir = tempfile::tempdir().unwrap();
    let report = import(&request(&dir.path().join("tenants.d"))).unwrap();
    let ids: Vec<&str> = report.tenants.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(ids, ["my-cts-domain", "cts02", "cts03"]);

    std::fs::write(
        dir.path().join("xgate.toml"),
        "[server]\nlisten = [\"127.0.0.1:18080\"]\nops_listen = \"127.0.0.1:19100\"\n\
         include = [\"tenants.d/*.toml\"]\n[database]\nurl = \"sqlite://data\"\n",
    )
    .unwrap();
    std::fs::create_dir_all(dir.path().join("templates/default")).unwrap();
    std::fs::write(
        dir.path().join("templates/default/ru.html"),
        "<html><head><title>Конференция</title></head><body>{{ conference.link }}</body></html>",
    )
    .unwrap();
    let names: Vec<&str> = report.env_vars().map(|v| v.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "XGATE_MY_CTS_DOMAIN_BOT_TOKEN",
            "XGATE_MY_CTS_DOMAIN_JWT_KEY",
            "XGATE_CTS02_BOT_PASSWORD",
            "XGATE_CTS02_JWT_KEY",
            "XGATE_CTS03_BOT_TOKEN",
            "XGATE_CTS03_JWT_KEY",
        ]
    );
    for name in &names {
        // SAFETY: std serializes its own environment access, and nothing in this test
        // binary reads the environment through C code while tests run.
        // (Long enough for a JWT key: xgate wants 32 bytes at least.)
        unsafe { std::env::set_var(name, format!("value-of-{name}-long-enough-for-a-key")) };
    }

    let loaded = xgate_tenants::config::load(&dir.path().join("xgate.toml"), None).unwrap();
    assert!(loaded.tenant_errors.is_empty(), "{}", loaded.all_errors());
    let tenants = &loaded.config.tenants;
    assert_eq!(tenants.len(), 3);
    let cts01 = &tenants["my-cts-domain"];
    assert_eq!(cts01.ports, [7100]);
    assert_eq!(cts01.mail_domains, ["corp.test"]);
    assert_eq!(
        cts01.bot.url.as_str(),
        "https://my-cts-domain.com/api/v1/Conference_bot/conferences/"
    );
    assert!(matches!(&cts01.bot.credentials,
        BotCredentials::Bearer(s)
            if s.expose() == "value-of-XGATE_MY_CTS_DOMAIN_BOT_TOKEN-long-enough-for-a-key"));
    // The shared template service's JWTOptions: every tenant's admin UI, each its key.
    for t in tenants.values() {
        let jwt = t
            .jwt
            .as_ref()
            .unwrap_or_else(|| panic!("{} has a [jwt]", t.id));
        assert_eq!(jwt.issuer, "Issuer");
        assert_eq!(jwt.lifetime, std::time::Duration::from_secs(120 * 60));
        let want = format!(
            "value-of-XGATE_{}_JWT_KEY-long-enough-for-a-key",
            t.id.to_ascii_uppercase().replace('-', "_")
        );
        assert_eq!(jwt.key.expose(), want);
    }
    assert!(matches!(&tenants["cts02"].bot.credentials,
        BotCredentials::Basic { username, .. } if username == "svc-outlook"));
    let cts03 = &tenants["cts03"];
    assert!(cts03.mail_domains.is_empty());
    assert_eq!(cts03.ports, [7500]);
}

#[test]
fn no_secret_value_is_written_or_printed() {
    let dir = tempfile::tempdir().unwrap();
    let report = import(&request(dir.path())).unwrap();
    let mut texts = vec![("report".to_string(), report.to_string())];
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        texts.push((
            path.display().to_string(),
            std::fs::read_to_string(&path).unwrap(),
        ));
    }
    assert_eq!(
        texts.len(),
        7,
        "3 tenants x (.toml, .env.example) + the report"
    );
    for (what, text) in &texts {
        for secret in SECRETS {
            assert!(
                !text.contains(secret),
                "{what} contains `{secret}`:\n{text}"
            );
        }
    }
    let env = std::fs::read_to_string(dir.path().join("my-cts-domain.env.example")).unwrap();
    assert!(env.contains("\nXGATE_MY_CTS_DOMAIN_BOT_TOKEN=\n"), "{env}");
    let toml = std::fs::read_to_string(dir.path().join("my-cts-domain.toml")).unwrap();
    assert!(
        toml.contains("token = \"env:XGATE_MY_CTS_DOMAIN_BOT_TOKEN\""),
        "{toml}"
    );
    let report = &texts[0].1;
    assert!(report.contains("XGATE_CTS02_BOT_PASSWORD"), "{report}");
}

#[test]
fn every_old_key_is_accounted_for() {
    let dir = tempfile::tempdir().unwrap();
    let report = import(&request(dir.path())).unwrap();
    let core = "core.appsettings.Production.json";
    assert!(
        matches!(key(&report, core, "ExpressOptions.Uri"), Outcome::Mapped(m) if m.contains("url"))
    );
    assert!(matches!(key(&report, core, "ExpressOptions.Token"),
        Outcome::Mapped(m) if m.contains("env:XGATE_MY_CTS_DOMAIN_BOT_TOKEN") && m.contains("Bearer")));
    assert!(matches!(
        key(
            &report,
            core,
            "DatabaseOptions.Connection: Minimum Pool Size"
        ),
        Outcome::NotMapped(_)
    ));
    assert!(matches!(
        key(&report, core, "DatabaseOptions.Connection"),
        Outcome::NotMapped(m) if m.contains("db_express@127.0.0.1:5432/express_meeting_db")
            && m.contains("password set, not shown")
    ));
    assert!(matches!(
        key(
            &report,
            core,
            "Serilog.WriteTo[0].Args.configureLogger.WriteTo[0].Args.path"
        ),
        Outcome::NotMapped(_)
    ));
    // Case as written in the file, matched without regard to case.
    let comments = "core-comments.appsettings.Production.json";
    assert!(matches!(
        key(&report, comments, "expressOptions.TOKEN"),
        Outcome::Mapped(_)
    ));
    assert!(
        matches!(key(&report, comments, "expressOptions.authenticationScheme"),
        Outcome::Mapped(m) if m.contains("bearer"))
    );

    let template = "template.appsettings.Production.json";
    for (k, to) in [
        ("JWTOptions.Key", "key = \"env:XGATE_<ID>_JWT_KEY\""),
        ("JWTOptions.Issuer", "issuer"),
        ("JWTOptions.ExpiredMinutes", "lifetime_minutes"),
    ] {
        assert!(
            matches!(key(&report, template, k),
            Outcome::Mapped(m) if m.contains(to) && m.contains("my-cts-domain, cts02, cts03")),
            "{k}: {:?}",
            key(&report, template, k)
        );
    }
    assert!(matches!(key(&report, template, "JWTOptions.Audience"),
        Outcome::NotMapped(m) if m.contains("tenant id")));
    assert!(
        matches!(key(&report, template, "DatabaseOptions.Connection"),
        Outcome::NotMapped(m) if m.contains("tenant(s) my-cts-domain, cts03"))
    );

    let text = report.to_string();
    assert!(text.contains("c:/logs/core-service/core-.log"), "{text}");
    assert!(
        text.contains("JWTOptions.Key\n    -> [tenants.<id>.jwt] key"),
        "{text}"
    );
    // Every leaf of every file is in the report.
    let total: usize = report.files.iter().map(|f| f.keys.len()).sum();
    assert!(total > 40, "{total}");
}

#[test]
fn nothing_is_written_when_an_input_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.json");
    std::fs::write(
        &bad,
        r#"{"ExpressOptions": {"AuthenticationScheme": "Ntlm", "Token": "Bearer x"},}"#,
    )
    .unwrap();
    let out = dir.path().join("out");
    let mut req = request(&out);
    req.core_settings[1] = bad;
    req.tenant_ids = vec!["cts01".into(), "cts02".into(), "Bad Id".into()];
    let Err(ImportError::Invalid(problems)) = import(&req) else {
        panic!("expected problems");
    };
    let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
    assert!(
        text.iter().any(|p| p.contains("ExpressOptions.Uri")),
        "{text:?}"
    );
    assert!(text.iter().any(|p| p.contains("`Ntlm`")), "{text:?}");
    assert!(text.iter().any(|p| p.contains("`Bad Id`")), "{text:?}");
    assert!(!out.exists(), "nothing may be written");
}

#[test]
fn existing_files_are_kept_unless_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let mut req = request(dir.path());
    import(&req).unwrap();
    let Err(ImportError::Invalid(problems)) = import(&req) else {
        panic!("a second import must not replace the files");
    };
    assert!(
        problems[0].to_string().contains("--overwrite"),
        "{problems:?}"
    );
    req.overwrite = true;
    import(&req).unwrap();
}

#[test]
fn lists_must_match_the_core_files() {
    let dir = tempfile::tempdir().unwrap();
    let mut req = request(dir.path());
    req.ports = vec![7100];
    let err = import(&req).unwrap_err();
    assert!(
        matches!(
            err,
            ImportError::CountMismatch {
                flag: "--port",
                given: 1,
                cores: 3
            }
        ),
        "{err}"
    );
    req.ports = vec![7100, 7100, 7500];
    let Err(ImportError::Invalid(problems)) = import(&req) else {
        panic!("a port claimed twice must be refused");
    };
    assert!(problems[0].message.contains("port 7100"), "{problems:?}");
}
