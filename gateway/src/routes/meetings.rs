//! `/api/meetings`: a draft conference when the user presses the add-in button, filled
//! in when the letter is sent, cancelled when the meeting is.
//!
//! Order of effects: the bot first, then the store. A create the bot refuses (or that
//! times out) stores nothing, so there is never a half-made meeting to trip over; a
//! create whose store write fails is undone on the bot before answering.

use std::sync::Arc;
use std::time::Instant;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Extension, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{SubsecRound, Utc};
use rand::Rng;
use uuid::Uuid;
use xgate_admin::invitation::{ConferenceView, InvitationContext, TenantView, UserView};
use xgate_tenants::config::ContactType;
use xgate_tenants::meeting::{Meeting, MeetingStatus};
use xgate_tenants::policy::LinkType;
use xgate_tenants::{Language, Tenant};

use crate::body::CiObject;
use crate::bot::{BotError, ConferenceChange, ConferenceDraft, LinkChange};
use crate::error::ApiError;
use crate::principal::Principal;
use crate::request::{Caller, Conn, resolve};
use crate::scope::RequestScope;
use crate::state::Gateway;

pub async fn create(
    State(gw): State<Arc<Gateway>>,
    Extension(conn): Extension<Conn>,
    Extension(scope): Extension<RequestScope>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let obj = CiObject::parse(&body)?;
    let language = requested_language(&obj, &scope)?;
    let creator = obj.string("creator")?;
    let is_recurrent = obj.bool("isrecurrent")?.unwrap_or(false);
    let Caller { tenant, principal } = resolve(&conn, &headers, creator.as_deref(), &scope).await?;
    if let Some(c) = &creator
        && !principal.is(c)
    {
        return Err(ApiError::CreatorMismatch {
            creator: c.clone(),
            user: principal.mail.clone(),
        });
    }
    let language = language.unwrap_or(tenant.config.default_language);
    let policy = &tenant.config.policy;
    let link_type = policy.draft_link_type();
    let access_code = policy.requires_access_code(link_type).then(new_access_code);
    let uid = bot_user(&tenant, &principal);
    let draft = ConferenceDraft {
        contact_type: tenant.config.bot.contact_type.as_str(),
        name: None,
        members: vec![uid.clone()],
        admins: vec![uid.clone()],
        creator: uid.clone(),
        start_at: None,
        end_at: None,
        link: LinkChange {
            link_type: link_type.as_str().into(),
            access_code: access_code.clone(),
        },
    };
    let bot = conn.snapshot.bot(&tenant);
    let conf = timed(&gw, &tenant, "create", bot.create(&draft)).await?;
    // The store keeps microseconds; answer with what a later GET will return.
    let now = Utc::now().trunc_subsecs(6);
    let meeting = Meeting {
        id: Uuid::new_v4(),
        call_id: conf.call_id,
        creator: principal.mail.clone(),
        name: conf.name,
        members: vec![principal.mail.clone()],
        admins: vec![principal.mail.clone()],
        start_at: conf.start_at,
        end_at: conf.end_at,
        link: conf.link.link,
        link_type: conf.link.link_type,
        access_code: conf.link.access_code.or(access_code),
        language: language.code().into(),
        is_recurrent,
        status: MeetingStatus::Active,
        created_at: now,
        updated_at: now,
    };
    if let Err(e) = tenant.store.insert_meeting(&meeting).await {
        tracing::error!(error = %e, call_id = %meeting.call_id, "storing a new meeting failed; deleting it on the bot");
        if let Err(undo) = timed(&gw, &tenant, "delete", bot.delete(&meeting.call_id, &uid)).await {
            tracing::error!(error = %undo, call_id = %meeting.call_id, "could not undo the bot conference");
        }
        return Err(ApiError::Storage(e.to_string()));
    }
    gw.metrics.meeting(tenant.id(), "created");
    tracing::info!(meeting = %meeting.id, call_id = %meeting.call_id, user = %principal.mail, "meeting created");
    Ok((
        StatusCode::CREATED,
        Json(view(&meeting, &tenant, &principal).await?),
    )
        .into_response())
}

pub async fn get(
    Extension(conn): Extension<Conn>,
    Extension(scope): Extension<RequestScope>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let Caller { tenant, principal } = resolve(&conn, &headers, None, &scope).await?;
    let meeting = load(&tenant, &principal, &id, false).await?;
    Ok(Json(view(&meeting, &tenant, &principal).await?).into_response())
}

pub async fn update(
    State(gw): State<Arc<Gateway>>,
    Extension(conn): Extension<Conn>,
    Extension(scope): Extension<RequestScope>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let obj = CiObject::parse(&body)?;
    let language = requested_language(&obj, &scope)?;
    let Caller { tenant, principal } = resolve(&conn, &headers, None, &scope).await?;
    let mut meeting = load(&tenant, &principal, &id, true).await?;

    let name = obj.has("name").then(|| obj.string("name")).transpose()?;
    let members = obj
        .addresses("members")?
        .map(|m| with_creator(m, &meeting.creator));
    let admins = obj
        .addresses("admins")?
        .map(|a| with_creator(a, &meeting.creator));
    let start_at = obj.date("startat")?;
    let end_at = obj.date("endat")?;
    let is_recurrent = obj.bool("isrecurrent")?;
    let link = if obj.has("linktype") || obj.has("accesscode") {
        let link_type = match obj.string("linktype")? {
            Some(s) => LinkType::parse(&s).ok_or_else(|| ApiError::InvalidField {
                field: "linkType",
                reason: "must be public, trusts, corporate or server".into(),
            })?,
            None => LinkType::parse(&meeting.link_type).unwrap_or(LinkType::Public),
        };
        let access_code = if obj.has("accesscode") {
            obj.string("accesscode")?.filter(|c| !c.trim().is_empty())
        } else {
            meeting.access_code.clone()
        };
        if let Some(code) = &access_code
            && (code.len() > 32 || !code.chars().all(|c| c.is_ascii_alphanumeric()))
        {
            return Err(ApiError::InvalidField {
                field: "accessCode",
                reason: "1-32 letters or digits".into(),
            });
        }
        tenant
            .config
            .policy
            .check(link_type, access_code.as_deref())
            .map_err(ApiError::Policy)?;
        Some(LinkChange {
            link_type: link_type.as_str().into(),
            access_code,
        })
    } else {
        None
    };

    let contact = tenant.config.bot.contact_type;
    let change = ConferenceChange {
        contact_type: contact.as_str(),
        actor: bot_user(&tenant, &principal),
        name: name.clone(),
        members: members.clone().map(|m| bot_users(contact, m)),
        admins: admins.clone().map(|a| bot_users(contact, a)),
        start_at,
        end_at,
        link,
    };
    let bot = conn.snapshot.bot(&tenant);
    let conf = timed(
        &gw,
        &tenant,
        "update",
        bot.update(&meeting.call_id, &change),
    )
    .await?;

    meeting.name = conf.name.or(name.flatten());
    meeting.members = members.unwrap_or(meeting.members);
    meeting.admins = admins.unwrap_or(meeting.admins);
    meeting.start_at = conf.start_at;
    meeting.end_at = conf.end_at;
    meeting.link = conf.link.link;
    meeting.link_type = conf.link.link_type;
    meeting.access_code = conf.link.access_code;
    meeting.is_recurrent = is_recurrent.unwrap_or(meeting.is_recurrent);
    if let Some(l) = language {
        meeting.language = l.code().into();
    }
    meeting.updated_at = Utc::now().trunc_subsecs(6);
    tenant
        .store
        .update_meeting(&meeting)
        .await
        .map_err(|e| ApiError::Storage(e.to_string()))?;
    gw.metrics.meeting(tenant.id(), "updated");
    Ok(Json(view(&meeting, &tenant, &principal).await?).into_response())
}

pub async fn delete(
    State(gw): State<Arc<Gateway>>,
    Extension(conn): Extension<Conn>,
    Extension(scope): Extension<RequestScope>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let Caller { tenant, principal } = resolve(&conn, &headers, None, &scope).await?;
    let meeting = load(&tenant, &principal, &id, true).await?;
    let bot = conn.snapshot.bot(&tenant);
    let actor = bot_user(&tenant, &principal);
    match timed(&gw, &tenant, "delete", bot.delete(&meeting.call_id, &actor)).await {
        Ok(()) => {}
        // Gone on the bot already (deleted in eXpress itself): cancelling here is the truth.
        Err(ApiError::Bot(BotError::Rejected { reason, .. }))
            if reason == "conference_not_found" => {}
        Err(e) => return Err(e),
    }
    let cancelled = tenant
        .store
        .cancel_meeting(meeting.id, Utc::now())
        .await
        .map_err(|e| ApiError::Storage(e.to_string()))?;
    if !cancelled {
        return Err(ApiError::MeetingNotFound);
    }
    gw.metrics.meeting(tenant.id(), "cancelled");
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The meeting, if it is this tenant's and the user may act on it. A malformed or foreign
/// id is simply not found: ids of other tenants are never confirmed to exist.
async fn load(
    tenant: &Tenant,
    principal: &Principal,
    id: &str,
    active_only: bool,
) -> Result<Meeting, ApiError> {
    let id = Uuid::parse_str(id).map_err(|_| ApiError::MeetingNotFound)?;
    let meeting = tenant
        .store
        .meeting(id)
        .await
        .map_err(|e| ApiError::Storage(e.to_string()))?
        .ok_or(ApiError::MeetingNotFound)?;
    if active_only && meeting.status != MeetingStatus::Active {
        return Err(ApiError::MeetingNotFound);
    }
    if !(principal.is(&meeting.creator) || meeting.admins.iter().any(|a| principal.is(a))) {
        return Err(ApiError::Forbidden);
    }
    Ok(meeting)
}

fn requested_language(obj: &CiObject, scope: &RequestScope) -> Result<Option<Language>, ApiError> {
    let Some(id) = obj.int("languageid")? else {
        return Ok(None);
    };
    let lang = Language::from_lcid(id).ok_or_else(|| ApiError::InvalidField {
        field: "LanguageId",
        reason: "must be 1049 (Russian) or 1033 (English)".into(),
    })?;
    scope.set_language(lang);
    Ok(Some(lang))
}

/// The creator stays a member and an admin whatever the update says: the bot only lets
/// admins change a conference, and the creator must be able to cancel it.
fn with_creator(mut list: Vec<String>, creator: &str) -> Vec<String> {
    if !list.iter().any(|a| a == creator) {
        list.insert(0, creator.to_string());
    }
    list
}

/// How the bot knows this user: by mail, or by AD login for `contact_type = "ad_login"`.
fn bot_user(tenant: &Tenant, principal: &Principal) -> String {
    match tenant.config.bot.contact_type {
        ContactType::Email => principal.mail.clone(),
        ContactType::AdLogin => principal.login.clone(),
    }
}

/// Other users are known by their mail only; with `ad_login` their local part is the
/// best guess until the directory can map them.
fn bot_users(contact: ContactType, mails: Vec<String>) -> Vec<String> {
    match contact {
        ContactType::Email => mails,
        ContactType::AdLogin => mails
            .into_iter()
            .map(|m| m.split('@').next().unwrap_or_default().to_string())
            .collect(),
    }
}

pub(crate) fn new_access_code() -> String {
    format!("{:06}", rand::rng().random_range(0..1_000_000))
}

async fn timed<T>(
    gw: &Gateway,
    tenant: &Tenant,
    operation: &str,
    call: impl Future<Output = Result<T, BotError>>,
) -> Result<T, ApiError> {
    let started = Instant::now();
    let result = call.await;
    let outcome = match &result {
        Ok(_) => "ok",
        Err(e) => e.outcome(),
    };
    gw.metrics
        .observe_bot(tenant.id(), operation, outcome, started.elapsed());
    if let Err(e) = &result {
        tracing::warn!(operation, error = %e, "bot call failed");
    }
    result.map_err(ApiError::from)
}

#[derive(serde::Serialize)]
struct MeetingView<'a> {
    #[serde(flatten)]
    meeting: &'a Meeting,
    invitation: xgate_admin::Invitation,
}

/// The meeting with its invitation, from the tenant's default template in its database
/// (edited in the admin UI), else from the config's template set.
async fn view<'a>(
    meeting: &'a Meeting,
    tenant: &Tenant,
    principal: &Principal,
) -> Result<MeetingView<'a>, ApiError> {
    let fmt = |t: Option<chrono::DateTime<Utc>>| {
        t.map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
            .unwrap_or_default()
    };
    let ctx = InvitationContext {
        conference: ConferenceView {
            link: meeting.link.clone(),
            name: meeting.name.clone().unwrap_or_default(),
            access_code: meeting.access_code.clone().unwrap_or_default(),
            start_at: fmt(meeting.start_at),
            end_at: fmt(meeting.end_at),
            link_type: meeting.link_type.clone(),
        },
        user: UserView {
            email: principal.mail.clone(),
            name: principal.display_name.clone().unwrap_or_default(),
            sip: principal.sip.clone().unwrap_or_default(),
        },
        tenant: TenantView {
            id: tenant.id().to_string(),
            name: tenant.config.name.clone(),
        },
    };
    let lang = Language::from_code(&meeting.language).unwrap_or(tenant.config.default_language);
    let invitation = xgate_admin::templates::invitation(tenant, lang, &ctx)
        .await
        .map_err(|e| ApiError::Template(e.to_string()))?;
    Ok(MeetingView {
        meeting,
        invitation,
    })
}
