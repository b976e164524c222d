//! The bot steps: reachable with the tenant's credentials (the guide's chapter 3 curl
//! "with bearer token"), refused without them (its "without bearer token": an empty
//! answer is what must come back), and the opt-in test conference (appendix 1's script:
//! create, then update; here also delete, so nothing is left behind).
//!
//! Reachability is asked exactly as the `xgate_bot_up` probe asks (`probe::ask`): a
//! delete of a conference that cannot exist, which changes nothing.

use std::io::Write;

use chrono::{Duration, SubsecRound, Utc};
use xgate_tenants::config::{BotCredentials, BotSettings, ContactType, TenantConfig};

use super::report::{Outcome, Report};
use crate::bot::{BotClient, BotError, ConferenceChange, ConferenceDraft, LinkChange};
use crate::directory::ldap::Ldap;
use crate::probe;

/// Where the guide's installation checks live, for the fixes.
const BOT_RUNNING: &str = "on the CTS (Back CTS when split) `docker ps` must show \
     `conference_bot` Up and healthy; `conference_bot_env_override` in settings.yaml needs \
     `API_ENABLED: true`; «Боты → Внутренние боты → Conference Notifier Bot» must be \
     «Включено» (guide, chapter 3, step 1)";

/// Step "bot": the client when the bot answered with its envelope.
pub(super) async fn reachable<W: Write>(
    report: &mut Report<W>,
    tenant: &TenantConfig,
) -> Option<BotClient> {
    let bot = match BotClient::new(tenant.bot.clone()) {
        Ok(b) => b,
        Err(e) => {
            report.step(
                "bot",
                Outcome::fail(
                    e,
                    "check `bot.ca_file`: a PEM file with the CA certificate(s)",
                ),
            );
            return None;
        }
    };
    let url = &tenant.bot.url;
    match probe::ask(&bot).await {
        Ok(answer) => {
            let said = answer.reason.as_deref().unwrap_or("deleted");
            report.step(
                "bot",
                Outcome::ok(format!(
                    "{url} answered with the bot's JSON ({said}, HTTP {}) to a harmless \
                     delete of a conference that cannot exist: reachable, {} accepted",
                    answer.status,
                    accepted(&tenant.bot.credentials)
                )),
            );
            Some(bot)
        }
        Err(e) => {
            let (reason, fix) = unreachable(&e, &tenant.bot);
            report.step("bot", Outcome::fail(reason, fix));
            None
        }
    }
}

fn accepted(c: &BotCredentials) -> &'static str {
    match c {
        BotCredentials::Bearer(_) => "token",
        BotCredentials::Basic { .. } => "Basic credentials",
        BotCredentials::None => "no credentials needed",
    }
}

/// Why the bot did not answer as the API says, and what the guide says to check.
fn unreachable(e: &BotError, bot: &BotSettings) -> (String, String) {
    let url = &bot.url;
    let network = format!(
        "check `bot.url` (the old ExpressOptions.Uri: \
         https://<CTS Front or ETS>/api/v1/conference_bot/conferences/), that this host \
         reaches it on 443/TCP (guide, appendix 3: firewall) and that the bot runs: \
         {BOT_RUNNING}"
    );
    match e {
        BotError::TimedOut => (
            format!("{url} accepted the request but did not finish its answer in time"),
            format!("raise `bot.timeout_ms` if the bot is merely slow; otherwise {network}"),
        ),
        BotError::Unavailable(m) if e.is_tls() => (
            format!("TLS with {url} failed: {m}"),
            "the bot's certificate must be trusted and name the host in `bot.url`: put the \
             CA that signed it (PEM) in `bot.ca_file`, or use the name the certificate was \
             issued for; the API is served by CTS Front or ETS on 443 (guide, appendix 3)"
                .into(),
        ),
        BotError::Unavailable(m) => (format!("cannot reach {url}: {m}"), network),
        BotError::AuthFailed { status: 404 } => (
            format!("{url} answered HTTP 404 without the bot's JSON: no bot API at this path"),
            format!(
                "the path must be /api/v1/conference_bot/conferences/ (the guide also writes \
                 it `conference_Bot`); and {BOT_RUNNING}"
            ),
        ),
        BotError::AuthFailed { status } if *status >= 500 => (
            format!(
                "{url} answered HTTP {status} without the bot's JSON: the web server in front \
                 of the bot answered, not the bot"
            ),
            format!(
                "{BOT_RUNNING}; the versions of the `conference_bot` and `messaging` \
                 containers must match (guide, chapter 3)"
            ),
        ),
        BotError::AuthFailed { status } => (
            format!(
                "the bot refused xgate's credentials: HTTP {status} with an empty answer, \
                 which is what it gives a request without the right token (guide, chapter 3, \
                 step 2)"
            ),
            credentials_fix(&bot.credentials),
        ),
        BotError::Protocol(m) => (
            format!("{url} answered JSON that is not the bot's API: {m}"),
            "`bot.url` must point at the Conference Bot API \
             (…/api/v1/conference_bot/conferences/), not at another service"
                .into(),
        ),
        BotError::Rejected { .. } => (e.to_string(), network),
    }
}

fn credentials_fix(c: &BotCredentials) -> String {
    match c {
        BotCredentials::Bearer(token) => {
            let mut fix = String::from(
                "`bot.token` (`env:NAME` or `file:PATH`) must hold the BEARER_TOKEN of \
                 `conference_bot_env_override` in the CTS settings.yaml (the Conference \
                 Notifier Bot's settings, guide chapter 3 step 2), the same value the old \
                 ExpressOptions.Token had after `Bearer `; xgate sends \
                 `Authorization: Bearer <token>` itself",
            );
            let t = token.expose();
            if t.get(..7)
                .is_some_and(|p| p.eq_ignore_ascii_case("bearer "))
            {
                fix.push_str(
                    ".\nThe configured token starts with `Bearer `: leave the prefix out, \
                     xgate adds it",
                );
            } else if t.trim() != t {
                fix.push_str(".\nThe configured token has spaces around it: remove them");
            }
            fix
        }
        BotCredentials::Basic { .. } => "check `bot.username` and `bot.password` against \
             the web server in front of the bot (the legacy Basic scheme; the guide \
             recommends a bearer token, StaticToken, since add-in 1.2.0)"
            .into(),
        BotCredentials::None => "the bot wants credentials but `bot.auth = \"none\"`: set \
             `auth = \"bearer\"` and `token = \"env:NAME\"` with the BEARER_TOKEN of the CTS \
             settings.yaml (guide, chapter 3, step 2)"
            .into(),
    }
}

/// Step "bot without token": the guide's check that the API is protected at all.
pub(super) async fn refuses_anonymous<W: Write>(
    report: &mut Report<W>,
    tenant: &TenantConfig,
    reachable: bool,
) {
    const STEP: &str = "bot without token";
    if tenant.bot.credentials == BotCredentials::None {
        report.step(
            STEP,
            Outcome::skip(
                "bot.auth = \"none\": xgate sends no credentials, so there is nothing to \
                 refuse; the guide (chapter 3, step 2) protects the bot with a bearer token",
            ),
        );
        return;
    }
    if !reachable {
        report.step(
            STEP,
            Outcome::skip("the bot did not accept the tenant's credentials (above)"),
        );
        return;
    }
    let anonymous = BotSettings {
        credentials: BotCredentials::None,
        ..tenant.bot.clone()
    };
    let answer = match BotClient::new(anonymous) {
        Ok(bot) => probe::ask(&bot).await,
        Err(e) => Err(BotError::Unavailable(e)),
    };
    let outcome = match answer {
        Err(BotError::AuthFailed { status }) => Outcome::ok(format!(
            "a request without credentials got HTTP {status} and an empty answer, as the \
             guide's chapter 3 step 2 expects"
        )),
        Ok(answer) => Outcome::fail(
            format!(
                "the bot accepted a request without a token (it answered {}, HTTP {}): its \
                 API is open to anyone who reaches it",
                answer.reason.as_deref().unwrap_or("deleted"),
                answer.status
            ),
            "protect it as the guide's chapter 3 step 2 says: in the CTS settings.yaml, \
             `conference_bot_env_override` gets `API_AUTH_METHOD: BEARER_TOKEN` and \
             `BEARER_TOKEN: <at least 40 letters and digits>`, then `dpl -d conference_bot`; \
             the same token goes in this tenant's `bot.token`",
        ),
        Err(e) => Outcome::fail(
            format!("unexpected answer to a request without credentials: {e}"),
            "the bot answered with credentials a moment ago: run the check again; if it \
             persists, look at the web server in front of the bot",
        ),
    };
    report.step(STEP, outcome);
}

/// Step "test conference": create, update, delete, each its own line.
pub(super) async fn test_conference<W: Write>(
    report: &mut Report<W>,
    bot: &BotClient,
    tenant: &TenantConfig,
    user: Option<&str>,
) {
    let creator = match creator(tenant, user).await {
        Ok(c) => c,
        Err(outcome) => {
            report.step("test conference", outcome);
            return;
        }
    };
    let contact_type = tenant.bot.contact_type.as_str();
    let now = Utc::now().trunc_subsecs(0);
    let name = format!("xgate diagnose {}", now.format("%Y-%m-%d %H:%M:%S UTC"));
    // In the future, so that neither `end_at_earlier_than_now` nor a bot that refuses
    // conferences in the past gets in the way.
    let start = now + Duration::hours(1);
    let end = start + Duration::minutes(30);
    let link_type = tenant.policy.draft_link_type();
    let draft = ConferenceDraft {
        contact_type,
        name: Some(name.clone()),
        members: vec![creator.clone()],
        admins: vec![creator.clone()],
        creator: creator.clone(),
        start_at: Some(start),
        end_at: Some(end),
        link: LinkChange {
            link_type: link_type.as_str().into(),
            access_code: tenant
                .policy
                .requires_access_code(link_type)
                .then(crate::routes::meetings::new_access_code),
        },
    };
    let conference = match bot.create(&draft).await {
        Ok(c) => c,
        Err(e) => {
            report.step(
                "test conference create",
                Outcome::fail(
                    format!("the bot did not create \"{name}\" for {creator}: {e}"),
                    refused_fix(&e, &creator),
                ),
            );
            return;
        }
    };
    let call_id = conference.call_id.clone();
    report.step(
        "test conference create",
        Outcome::ok(format!(
            "call_id {call_id}: \"{name}\", creator {creator}, {} link {}",
            link_type.as_str(),
            conference.link.link
        )),
    );
    let renamed = format!("{name} (updated)");
    let change = ConferenceChange {
        contact_type,
        actor: creator.clone(),
        name: Some(Some(renamed.clone())),
        end_at: Some(Some(end + Duration::minutes(30))),
        ..Default::default()
    };
    // Whatever the update does, the delete runs: a test must not leave a conference.
    let updated = match bot.update(&call_id, &change).await {
        Ok(c) => Outcome::ok(format!(
            "call_id {call_id} renamed to \"{}\", 60 minutes long",
            c.name.as_deref().unwrap_or(&renamed)
        )),
        Err(e) => Outcome::fail(
            format!("the bot did not update call_id {call_id}: {e}"),
            refused_fix(&e, &creator),
        ),
    };
    report.step("test conference update", updated);
    let deleted = match bot.delete(&call_id, &creator).await {
        Ok(()) => Outcome::ok(format!(
            "call_id {call_id} deleted; nothing is left on the bot"
        )),
        Err(e) => Outcome::fail(
            format!("the bot did not delete call_id {call_id}: {e}"),
            format!(
                "delete it by hand: CTS admin, «Звонки → Конференции», search \"{name}\"; \
                 {}",
                refused_fix(&e, &creator)
            ),
        ),
    };
    report.step("test conference delete", deleted);
}

fn refused_fix(e: &BotError, creator: &str) -> String {
    match e {
        BotError::Rejected { reason, .. }
            if matches!(
                reason.as_str(),
                "creator_not_found" | "no_users_found" | "actor_not_found" | "not_permitted"
            ) =>
        {
            format!(
                "the bot does not know `{creator}` as a user of this CTS: give --user the \
                 mail (contact_type email) or AD login (contact_type ad_login) of a real \
                 eXpress user"
            )
        }
        BotError::Rejected { reason, .. } if reason.starts_with("multiple_users_found") => {
            format!(
                "two eXpress users share `{creator}`: fix the duplicate in the CTS admin or \
                 give --user another user"
            )
        }
        _ => "see the bot steps above; the CTS admin shows the bot's conferences under \
             «Звонки → Конференции»"
            .into(),
    }
}

/// Whom the test conference belongs to: `--user` as the bot knows users (mail or AD
/// login, found in the directory when it is the other kind), else an address made from
/// the tenant's first mail domain, which a real bot refuses unless it exists.
async fn creator(tenant: &TenantConfig, user: Option<&str>) -> Result<String, Outcome> {
    let email = tenant.bot.contact_type == ContactType::Email;
    let Some(user) = user.map(str::trim).filter(|u| !u.is_empty()) else {
        return match tenant.mail_domains.first() {
            Some(domain) if email => Ok(format!("xgate-diagnose@{domain}")),
            _ => Err(Outcome::skip(
                "give --user (a real user's mail or AD login) to create the test conference as",
            )),
        };
    };
    let is_mail = user.contains('@');
    if is_mail == email {
        return Ok(if email {
            user.to_ascii_lowercase()
        } else {
            user.to_string()
        });
    }
    let Some(settings) = &tenant.auth.ldap else {
        return if email {
            Err(Outcome::skip(format!(
                "--user `{user}` is not a mail address and the tenant has no directory to \
                 find one (contact_type email)"
            )))
        } else {
            Ok(user.split('@').next().unwrap_or(user).to_string())
        };
    };
    let found = match Ldap::new(settings.clone(), tenant.auth.timeout) {
        Ok(ldap) => tokio::time::timeout(tenant.auth.timeout, ldap.lookup(user))
            .await
            .unwrap_or_else(|_| {
                Err(crate::directory::DirectoryError::Unavailable(
                    "no answer in time".into(),
                ))
            })
            .map_err(|e| e.to_string()),
        Err(e) => Err(e),
    };
    match found {
        Ok(p) if email => Ok(p.mail),
        Ok(p) => Ok(p.login),
        Err(e) => Err(Outcome::fail(
            format!("cannot find --user `{user}` in the directory: {e}"),
            "see the directory steps below",
        )),
    }
}
