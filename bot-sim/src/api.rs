//! The bot API: matching requests under the base path, auth, injected behaviour, and the
//! create / update / delete calls.
//!
//! Routing is done by hand rather than with axum routes because the real paths vary in
//! ways a router would reject: trailing slashes, and `conference_Bot` in the guide.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use uuid::Uuid;

use crate::auth;
use crate::conference::{self, CreateRequest, DeleteRequest, UpdateRequest};
use crate::envelope::{self, BotError};
use crate::state::{Failure, Op, Sim};

#[derive(Debug, PartialEq, Eq)]
pub enum Target<'a> {
    Collection,
    Item(&'a str),
}

/// Normalises a configured base path for [`match_path`]: leading slash, no trailing
/// slash, ASCII lower case.
pub fn normalize_base(base: &str) -> String {
    let trimmed = base.trim().trim_end_matches('/');
    let with_slash = if trimmed.starts_with('/') {
        trimmed.to_owned()
    } else {
        format!("/{trimmed}")
    };
    with_slash.to_ascii_lowercase()
}

/// Matches `path` against a normalised base; the base compares case-insensitively and a
/// single trailing slash is allowed on both the collection and item paths.
pub fn match_path<'a>(base: &str, path: &'a str) -> Option<Target<'a>> {
    let path = path.strip_suffix('/').unwrap_or(path);
    // ASCII lower-casing keeps byte offsets, so slicing `path` by `base.len()` is sound.
    let head = path.get(..base.len())?;
    if !head.eq_ignore_ascii_case(base) {
        return None;
    }
    let rest = &path[base.len()..];
    if rest.is_empty() {
        return Some(Target::Collection);
    }
    let id = rest.strip_prefix('/')?;
    if id.is_empty() || id.contains('/') {
        return None;
    }
    Some(Target::Item(id))
}

/// Fallback handler: everything that is not `/_sim/...` is treated as a bot API call.
pub async fn handle(
    State(sim): State<Arc<Sim>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let base = normalize_base(&sim.config.base_path);
    let (op, call_id) = match (match_path(&base, uri.path()), &method) {
        (Some(Target::Collection), &Method::POST) => (Op::Create, None),
        (Some(Target::Item(id)), &Method::POST) => (Op::Update, Some(id.to_owned())),
        (Some(Target::Item(id)), &Method::DELETE) => (Op::Delete, Some(id.to_owned())),
        (Some(_), _) => return StatusCode::METHOD_NOT_ALLOWED.into_response(),
        (None, _) => return StatusCode::NOT_FOUND.into_response(),
    };

    if let Some(delay) = sim.begin_call(op, auth::scheme(&headers)) {
        tokio::time::sleep(delay).await;
    }

    // The real bot answers a missing or wrong token with an empty body, not JSON.
    if !sim.config.auth.permits(&headers) {
        sim.note_unauthorized();
        tracing::info!(
            op = op.name(),
            status = 401,
            "bot call refused: bad credentials"
        );
        return StatusCode::UNAUTHORIZED.into_response();
    }

    if let Some(failure) = sim.take_failure() {
        tracing::info!(
            op = op.name(),
            status = failure.status,
            "bot call: injected failure"
        );
        return injected(&failure);
    }

    let outcome = if is_json(&headers) {
        match op {
            Op::Create => create(&sim, &body),
            Op::Update => update(&sim, call_id.as_deref().unwrap_or_default(), &body),
            Op::Delete => delete(&sim, call_id.as_deref().unwrap_or_default(), &body),
        }
    } else {
        Err(BotError::invalid_attributes(vec![
            "content-type must be application/json".to_owned(),
        ]))
    };
    match outcome {
        Ok(resp) => {
            tracing::info!(op = op.name(), status = resp.status().as_u16(), "bot call");
            resp
        }
        Err(err) => {
            tracing::info!(
                op = op.name(),
                status = err.status.as_u16(),
                reason = %err.reason,
                "bot call failed"
            );
            err.into_response()
        }
    }
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"))
}

fn injected(failure: &Failure) -> Response {
    let status = StatusCode::from_u16(failure.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if failure.empty_body() {
        return status.into_response();
    }
    let reason = failure.reason.as_deref().unwrap_or("simulated_failure");
    BotError::new(status, reason, "failure injected by the simulator").into_response()
}

/// An id that is not a UUID cannot name a conference, so it is simply not found.
fn parse_call_id(id: &str) -> Option<Uuid> {
    Uuid::parse_str(id).ok()
}

fn create(sim: &Sim, body: &[u8]) -> Result<Response, BotError> {
    let req = CreateRequest::parse(&conference::parse_body(body)?)?;
    let ct = req.contact_type;
    let conf = sim.with_store(|store, next_seq| {
        let conf = conference::create(
            req,
            &sim.config.users,
            Utc::now(),
            &sim.config.link_base,
            *next_seq,
        )?;
        *next_seq += 1;
        store.insert(conf.call_id, conf.clone());
        Ok::<_, BotError>(conf)
    })?;
    tracing::debug!(call_id = %conf.call_id, "conference created");
    Ok(envelope::ok(StatusCode::CREATED, conf.result_json(ct)))
}

fn update(sim: &Sim, call_id: &str, body: &[u8]) -> Result<Response, BotError> {
    let req = UpdateRequest::parse(&conference::parse_body(body)?)?;
    let ct = req.contact_type;
    let id = parse_call_id(call_id);
    let conf = sim.with_store(|store, _| {
        let conf = id.and_then(|id| store.get_mut(&id));
        // Validate and apply on a copy so a rejected update leaves no trace.
        let mut draft = conf.as_deref().cloned();
        conference::update(draft.as_mut(), req, &sim.config.users, Utc::now())?;
        match (conf, draft) {
            (Some(stored), Some(updated)) => {
                *stored = updated.clone();
                Ok(updated)
            }
            _ => Err(BotError::conference_not_found()),
        }
    })?;
    Ok(envelope::ok(StatusCode::OK, conf.result_json(ct)))
}

fn delete(sim: &Sim, call_id: &str, body: &[u8]) -> Result<Response, BotError> {
    let req = DeleteRequest::parse(&conference::parse_body(body)?)?;
    let id = parse_call_id(call_id);
    sim.with_store(|store, _| {
        let conf = id.and_then(|id| store.get(&id));
        conference::authorize_delete(conf, &req, &sim.config.users)?;
        if let Some(id) = id {
            store.remove(&id);
        }
        Ok::<_, BotError>(())
    })?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_matching() {
        let base = normalize_base("/api/v1/conference_bot/conferences/");
        assert_eq!(base, "/api/v1/conference_bot/conferences");
        let m = |p| match_path(&base, p);
        assert_eq!(
            m("/api/v1/conference_bot/conferences"),
            Some(Target::Collection)
        );
        assert_eq!(
            m("/api/v1/conference_bot/conferences/"),
            Some(Target::Collection)
        );
        assert_eq!(
            m("/api/v1/conference_Bot/conferences/"),
            Some(Target::Collection)
        );
        assert_eq!(
            m("/api/v1/conference_bot/conferences/AbC"),
            Some(Target::Item("AbC"))
        );
        assert_eq!(
            m("/api/v1/conference_bot/conferences/abc/"),
            Some(Target::Item("abc"))
        );
        assert_eq!(m("/api/v1/conference_bot/conferences//"), None);
        assert_eq!(m("/api/v1/conference_bot/conferencesx"), None);
        assert_eq!(m("/api/v1/conference_bot/conferences/a/b"), None);
        assert_eq!(m("/api/v1/conférence"), None);
        assert_eq!(m("/"), None);
    }
}
