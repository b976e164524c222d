//! What each old appsettings key becomes in xgate, or why it does not become anything.
//!
//! Two passes over a core service's settings: `bot` pulls out what the tenant's TOML
//! needs (URL, auth kind, Basic user name), refusing what xgate would refuse; `keys`
//! then accounts for every key of any settings file, so nothing is dropped silently.
//! Secret values are never copied into a `KeyReport`.

mod database;

use super::credentials::{self, TokenValue};
use super::ids;
use super::jsonc::{Entry, Settings};
use super::npgsql::Connection;

/// Which of the two old services a file belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// express-core-service: the add-in API and the bot client; one per CTS.
    Core,
    /// express-template-service: the template admin UI, often one for all CTS.
    Template,
}

/// One old key and what happened to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyReport {
    /// As in the file, dotted (`ExpressOptions.Token`); Npgsql parts as
    /// `DatabaseOptions.Connection: Minimum Pool Size`.
    pub key: String,
    /// The old value, only when it is not a secret.
    pub value: Option<String>,
    pub outcome: Outcome,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Carried over; the text says where to.
    Mapped(String),
    /// Not carried over; the text says why and what to do instead.
    NotMapped(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BotAuth {
    Bearer,
    /// `password_in_token`: the password is inside the old `Token` (`Basic <base64>`),
    /// not in a key of its own; the operator has to decode it.
    Basic {
        username: String,
        password_in_token: bool,
    },
    None,
}

/// What a core service's settings give the tenant's `[bot]` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BotPlan {
    pub url: String,
    pub host: String,
    pub auth: BotAuth,
    /// `AuthenticationScheme` was absent and StaticToken was assumed.
    pub scheme_assumed: bool,
}

/// A key and a message, for a problem found in one file.
pub type KeyProblem = (Option<String>, String);

const URI: &str = "ExpressOptions.Uri";
const SCHEME: &str = "ExpressOptions.AuthenticationScheme";
const TOKEN: &str = "ExpressOptions.Token";
/// The guide never shows Basic's keys (the scheme is "not recommended"); these are
/// the names such settings commonly had.
const USER_KEYS: &[&str] = &[
    "ExpressOptions.Login",
    "ExpressOptions.UserName",
    "ExpressOptions.User",
];
const PASSWORD: &str = "ExpressOptions.Password";

pub fn bot(s: &Settings) -> Result<BotPlan, Vec<KeyProblem>> {
    let mut problems = Vec::new();
    let problem = |key: &str, msg: String| (Some(key.to_string()), msg);
    let url = match s.get(URI).map(str::trim) {
        None | Some("") => {
            problems.push(problem(URI, "missing: xgate needs the bot's URL".into()));
            None
        }
        Some(raw) => match check_url(raw) {
            Ok(host) => Some((raw.to_string(), host)),
            Err(m) => {
                problems.push(problem(URI, m));
                None
            }
        },
    };
    let scheme = s.get(SCHEME).map(str::trim).unwrap_or("");
    let token = s.get(TOKEN).map(credentials::classify);
    let user = USER_KEYS
        .iter()
        .find_map(|k| s.get(k))
        .map(str::trim)
        .filter(|u| !u.is_empty());
    let auth = if scheme.is_empty() || scheme.eq_ignore_ascii_case("StaticToken") {
        match token {
            None | Some(TokenValue::Empty) => Some(BotAuth::None),
            Some(TokenValue::Bearer) => Some(BotAuth::Bearer),
            // StaticToken sends the Token as the whole Authorization header, so a
            // `Basic ...` token there was Basic auth in disguise.
            Some(TokenValue::Basic { username }) => Some(BotAuth::Basic {
                username,
                password_in_token: true,
            }),
            Some(TokenValue::BadBasic) => {
                problems.push(problem(
                    TOKEN,
                    "starts with `Basic ` but is not base64 of `user:password`".into(),
                ));
                None
            }
        }
    } else if scheme.eq_ignore_ascii_case("Basic") {
        match (user, token) {
            (Some(u), _) => Some(BotAuth::Basic {
                username: u.to_string(),
                password_in_token: false,
            }),
            (None, Some(TokenValue::Basic { username })) => Some(BotAuth::Basic {
                username,
                password_in_token: true,
            }),
            _ => {
                problems.push(problem(
                    SCHEME,
                    format!(
                        "is Basic but no user name was found (looked for {} and a `Basic <base64>` Token)",
                        USER_KEYS.join(", ")
                    ),
                ));
                None
            }
        }
    } else {
        problems.push(problem(
            SCHEME,
            format!("`{scheme}` is not a scheme xgate knows; expected StaticToken or Basic"),
        ));
        None
    };
    if let Some(BotAuth::Basic { username, .. }) = &auth
        && username.contains(':')
    {
        problems.push(problem(
            USER_KEYS[0],
            "the Basic user name must not contain `:`".into(),
        ));
    }
    match (url, auth) {
        (Some((url, host)), Some(auth)) if problems.is_empty() => Ok(BotPlan {
            url,
            host,
            auth,
            scheme_assumed: scheme.is_empty(),
        }),
        _ => Err(problems),
    }
}

/// The checks xgate-tenants makes on `bot.url`, so the import fails rather than `check`.
fn check_url(raw: &str) -> Result<String, String> {
    let url = reqwest::Url::parse(raw).map_err(|e| format!("not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("must be an http:// or https:// URL".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(
            "holds credentials; move them to ExpressOptions.Login/Password or the Token first"
                .into(),
        );
    }
    url.host_str()
        .map(str::to_string)
        .ok_or_else(|| "has no host".into())
}

/// What `keys` needs to know about the file's place in the import.
pub struct Context<'a> {
    pub role: Role,
    /// The tenant a core file became.
    pub tenant: Option<&'a str>,
    pub bot: Option<&'a BotPlan>,
    /// The databases of the imported core services, to tell which a template
    /// service shared.
    pub core_databases: &'a [(String, Connection)],
    /// The tenants a template file's `JWTOptions` went to.
    pub jwt_tenants: &'a [String],
}

/// Accounts for every key of a file.
pub fn keys(s: &Settings, ctx: &Context<'_>) -> Vec<KeyReport> {
    let mut out = Vec::new();
    for e in &s.entries {
        let lower = e.key.to_ascii_lowercase();
        if lower == "databaseoptions.connection" {
            database::connection(e, ctx, &mut out);
            continue;
        }
        let outcome = match ctx.role {
            Role::Core if lower.starts_with("expressoptions.") => express_key(e, ctx),
            Role::Template if lower.starts_with("expressoptions.") => Outcome::NotMapped(
                "a template service setting; the bot is configured from the core service's file"
                    .into(),
            ),
            Role::Template if lower.starts_with("jwtoptions.") => jwt_key(&lower, ctx),
            _ => other_key(&lower),
        };
        out.push(KeyReport {
            key: e.key.clone(),
            value: shown_value(&e.key, &e.value),
            outcome,
        });
    }
    out
}

fn express_key(e: &Entry, ctx: &Context<'_>) -> Outcome {
    let id = ctx.tenant.unwrap_or("?");
    let table = format!("[tenants.{id}.bot]");
    let Some(bot) = ctx.bot else {
        return Outcome::NotMapped("the file could not be imported (see the errors)".into());
    };
    let is = |k: &str| e.key.eq_ignore_ascii_case(k);
    let token_var = ids::env_var(id, "BOT_TOKEN");
    let password_var = ids::env_var(id, "BOT_PASSWORD");
    if is(URI) {
        return Outcome::Mapped(format!("{table} url"));
    }
    if is(SCHEME) {
        return Outcome::Mapped(format!("{table} auth = \"{}\"", auth_name(&bot.auth)));
    }
    let basic_user = matches!(
        &bot.auth,
        BotAuth::Basic {
            password_in_token: false,
            ..
        }
    );
    if is(TOKEN) {
        return match &bot.auth {
            BotAuth::Bearer => Outcome::Mapped(format!(
                "{table} token = \"env:{token_var}\" (set it to the old value without `Bearer `)"
            )),
            BotAuth::None => Outcome::Mapped(format!(
                "{table} auth = \"none\": the Token is empty, so the bot had no authentication"
            )),
            BotAuth::Basic {
                username,
                password_in_token: true,
            } => Outcome::Mapped(format!(
                "{table} auth = \"basic\", username = \"{username}\", password = \"env:{password_var}\" \
                 (set it to the part after `:` of the base64-decoded Token)"
            )),
            BotAuth::Basic { .. } => {
                Outcome::NotMapped("ignored: AuthenticationScheme is Basic".into())
            }
        };
    }
    if USER_KEYS.iter().any(|k| is(k)) {
        return if basic_user {
            Outcome::Mapped(format!("{table} username"))
        } else {
            Outcome::NotMapped("ignored: only used with AuthenticationScheme = Basic".into())
        };
    }
    if is(PASSWORD) {
        return if basic_user {
            Outcome::Mapped(format!(
                "{table} password = \"env:{password_var}\" (set it to the old value)"
            ))
        } else {
            Outcome::NotMapped("ignored: only used with AuthenticationScheme = Basic".into())
        };
    }
    Outcome::NotMapped(
        "an ExpressOptions key xgate has no equivalent for; check what it did by hand".into(),
    )
}

/// A template service's `JWTOptions` key: what it became in the tenants it went to.
fn jwt_key(lower: &str, ctx: &Context<'_>) -> Outcome {
    if ctx.jwt_tenants.is_empty() {
        return Outcome::NotMapped(
            "several --template files and not one per --core: give one (shared by every \
             tenant) or one per --core, in the same order"
                .into(),
        );
    }
    let tenants = ctx.jwt_tenants.join(", ");
    Outcome::Mapped(match lower.strip_prefix("jwtoptions.").unwrap_or(lower) {
        "key" => format!(
            "[tenants.<id>.jwt] key = \"env:XGATE_<ID>_JWT_KEY\" of tenant(s) {tenants} \
             (the value is not copied: set it, 32 bytes at least)"
        ),
        "issuer" => format!("[tenants.<id>.jwt] issuer of tenant(s) {tenants}"),
        "expiredminutes" => format!("[tenants.<id>.jwt] lifetime_minutes of tenant(s) {tenants}"),
        "audience" => {
            return Outcome::NotMapped(
                "xgate's audience is always the tenant id, so one tenant's token never \
                 works for another"
                    .into(),
            );
        }
        _ => return Outcome::NotMapped("a JWTOptions key xgate has no equivalent for".into()),
    })
}

fn other_key(lower: &str) -> Outcome {
    let why = if lower.starts_with("databaseoptions.") {
        "a database setting of the old service; xgate keeps its own [database]"
    } else if lower.starts_with("serilog.") {
        "xgate logs to stderr (text or JSON, [server] log_format); the old log folders \
         (c:/logs/...) are not used; per-tenant log files are configured in xgate itself"
    } else if lower.starts_with("logging.") {
        "xgate's log level is set with RUST_LOG (default `info`)"
    } else if lower == "allowedhosts" {
        "xgate finds the tenant by port and mail domain, not by the Host header"
    } else if lower.starts_with("kestrel.") || lower == "urls" {
        "listeners: the IIS site's port goes to `ports` (--port)"
    } else if lower.starts_with("connectionstrings.") {
        "the old service's connection strings; xgate keeps its own [database]"
    } else {
        "unknown to xgate; check what it did by hand"
    };
    Outcome::NotMapped(why.into())
}

pub fn auth_name(a: &BotAuth) -> &'static str {
    match a {
        BotAuth::Bearer => "bearer",
        BotAuth::Basic { .. } => "basic",
        BotAuth::None => "none",
    }
}

/// The value to print for a key, or `None` when it is, or may hold, a secret.
fn shown_value(key: &str, value: &str) -> Option<String> {
    let last = key
        .rsplit(['.', ']'])
        .next()
        .unwrap_or(key)
        .to_ascii_lowercase();
    const SECRET_WORDS: &[&str] = &[
        "password",
        "pwd",
        "token",
        "secret",
        "key",
        "connection",
        "credential",
    ];
    if SECRET_WORDS.iter().any(|w| last.contains(w)) {
        return None;
    }
    // A URL with `user:password@` in a logging sink, for example.
    if let Some((scheme, rest)) = value.split_once("://")
        && rest
            .split('/')
            .next()
            .is_some_and(|auth| auth.contains('@'))
    {
        return Some(format!("{scheme}://***@…"));
    }
    Some(value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import_iis::jsonc;

    fn settings(json: &str) -> Settings {
        jsonc::parse(json).unwrap()
    }

    #[test]
    fn static_token_is_bearer() {
        let s = settings(
            r#"{"ExpressOptions": {"Uri": "https://cts.corp.test/api/v1/conference_bot/conferences/",
                "AuthenticationScheme": "StaticToken", "Token": "Bearer dfgdf509usds0f9n0ud"}}"#,
        );
        let plan = bot(&s).unwrap();
        assert_eq!(plan.auth, BotAuth::Bearer);
        assert_eq!(plan.host, "cts.corp.test");
    }

    #[test]
    fn empty_token_is_no_auth_and_bad_scheme_is_refused() {
        let s = settings(r#"{"expressoptions": {"uri": "http://cts:8080/", "token": "Bearer "}}"#);
        let plan = bot(&s).unwrap();
        assert_eq!(plan.auth, BotAuth::None);
        assert!(plan.scheme_assumed);
        let s =
            settings(r#"{"ExpressOptions": {"Uri": "ftp://x/", "AuthenticationScheme": "Ntlm"}}"#);
        let problems = bot(&s).unwrap_err();
        assert_eq!(problems.len(), 2, "{problems:?}");
    }

    #[test]
    fn secrets_are_not_shown() {
        assert_eq!(shown_value("JWTOptions.Key", "JFRINXV0"), None);
        assert_eq!(shown_value("ExpressOptions.Token", "Bearer x"), None);
        assert_eq!(
            shown_value("Serilog.WriteTo[0].Args.serverUrl", "http://u:p@seq:5341/"),
            Some("http://***@…".into())
        );
        assert_eq!(
            shown_value(
                "Serilog.WriteTo[0].Args.path",
                "c:/logs/core-service/log.txt"
            ),
            Some("c:/logs/core-service/log.txt".into())
        );
    }
}
