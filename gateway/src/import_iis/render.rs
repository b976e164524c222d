//! The files the import writes: `<id>.toml` (one `[tenants.<id>]` in the format of
//! `config/tenants.d/example.toml.disabled`) and `<id>.env.example` (the variable names
//! the secrets moved to, values left empty). Neither ever holds a secret value.

use std::fmt::Write as _;
use std::path::Path;

use super::ids;
use super::mapping::{BotAuth, BotPlan, auth_name};

/// Everything one tenant file says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantPlan {
    pub id: String,
    pub name: String,
    pub mail_domains: Vec<String>,
    pub ports: Vec<u16>,
    pub bot: BotPlan,
    /// The admin UI's tokens, from the template service's `JWTOptions`.
    pub jwt: Option<JwtPlan>,
}

/// `[tenants.<id>.jwt]`: the key moves to an environment variable; xgate's audience is
/// the tenant id, so the old `Audience` has no place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtPlan {
    pub issuer: Option<String>,
    pub lifetime_minutes: Option<u64>,
}

/// An environment variable a secret moved to, and what to put in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvVar {
    pub name: String,
    pub what: String,
}

impl TenantPlan {
    pub fn env_vars(&self) -> Vec<EnvVar> {
        let mut vars = self.bot_env_vars();
        if self.jwt.is_some() {
            vars.push(EnvVar {
                name: ids::env_var(&self.id, "JWT_KEY"),
                what: "the old JWTOptions.Key, or a new random key: at least 32 bytes \
                       (a new key only means admins log in again)"
                    .into(),
            });
        }
        vars
    }

    fn bot_env_vars(&self) -> Vec<EnvVar> {
        match &self.bot.auth {
            BotAuth::Bearer => vec![EnvVar {
                name: ids::env_var(&self.id, "BOT_TOKEN"),
                what: "the old ExpressOptions.Token without its `Bearer ` prefix".into(),
            }],
            BotAuth::Basic {
                password_in_token: true,
                ..
            } => vec![EnvVar {
                name: ids::env_var(&self.id, "BOT_PASSWORD"),
                what: "the part after `:` of the base64-decoded old ExpressOptions.Token \
                       (after `Basic `)"
                    .into(),
            }],
            BotAuth::Basic { .. } => vec![EnvVar {
                name: ids::env_var(&self.id, "BOT_PASSWORD"),
                what: "the old ExpressOptions.Password".into(),
            }],
            BotAuth::None => Vec::new(),
        }
    }

    pub fn toml(&self, source: &Path) -> String {
        let id = &self.id;
        let mut s = String::new();
        // `writeln!` into a String cannot fail; the results are ignored for that reason.
        let _ = writeln!(
            s,
            "# Imported by `xgate import-iis` from {}\n\
             # Check with `xgate check` after setting the variables in {id}.env.example.\n\
             [tenants.{id}]",
            // A newline in a file name would end the comment and break the TOML.
            source.display().to_string().replace(['\n', '\r'], " ")
        );
        let _ = writeln!(
            s,
            "name = {}    # shown in invitations: put the organisation's name here",
            quote(&self.name)
        );
        if self.mail_domains.is_empty() {
            let _ = writeln!(
                s,
                "# mail_domains = [\"corp.example\"]   # users of these domains reach this \
                 tenant on the shared listeners"
            );
        } else {
            let list: Vec<String> = self.mail_domains.iter().map(|d| quote(d)).collect();
            let _ = writeln!(s, "mail_domains = [{}]", list.join(", "));
        }
        if !self.ports.is_empty() {
            let list: Vec<String> = self.ports.iter().map(u16::to_string).collect();
            let _ = writeln!(
                s,
                "ports = [{}]    # the old IIS site's port: clients keep their ExpressMeetingUrl",
                list.join(", ")
            );
        }
        let _ = writeln!(s, "\n[tenants.{id}.bot]");
        let _ = writeln!(s, "url = {}", quote(&self.bot.url));
        let _ = writeln!(s, "auth = \"{}\"", auth_name(&self.bot.auth));
        match &self.bot.auth {
            BotAuth::Bearer => {
                let _ = writeln!(s, "token = \"env:{}\"", ids::env_var(id, "BOT_TOKEN"));
            }
            BotAuth::Basic { username, .. } => {
                let _ = writeln!(s, "username = {}", quote(username));
                let _ = writeln!(s, "password = \"env:{}\"", ids::env_var(id, "BOT_PASSWORD"));
            }
            BotAuth::None => {}
        }
        if let Some(jwt) = &self.jwt {
            let _ = writeln!(s, "\n[tenants.{id}.jwt]    # the admin UI's login tokens");
            let _ = writeln!(s, "key = \"env:{}\"", ids::env_var(id, "JWT_KEY"));
            if let Some(issuer) = &jwt.issuer {
                let _ = writeln!(s, "issuer = {}", quote(issuer));
            }
            if let Some(minutes) = jwt.lifetime_minutes {
                let _ = writeln!(s, "lifetime_minutes = {minutes}");
            }
        }
        s
    }

    pub fn env_example(&self) -> String {
        let mut s = format!(
            "# Secrets of tenant `{}`, moved out of its old appsettings by `xgate import-iis`.\n\
             # Fill in the values where xgate's environment is set (systemd EnvironmentFile=,\n\
             # a secret store...); never commit the filled-in file.\n",
            self.id
        );
        for v in self.env_vars() {
            let _ = writeln!(s, "# {}\n{}=", v.what, v.name);
        }
        s
    }
}

/// A TOML basic string.
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(quote(r#"a"b\c"#), r#""a\"b\\c""#);
        assert_eq!(quote("x\u{1}"), "\"x\\u0001\"");
    }
}
