//! `GET /api/settings`: the tenant's client policy, so it lives on the server and not
//! in every client's msi parameters (`DenyLinkType`, `LinkMinimumLevelRequirePassword`).

use axum::Json;
use axum::extract::Extension;
use axum::http::HeaderMap;
use serde_json::{Value, json};
use xgate_tenants::Language;

use crate::error::ApiError;
use crate::request::{Conn, resolve};
use crate::scope::RequestScope;

pub async fn get(
    Extension(conn): Extension<Conn>,
    Extension(scope): Extension<RequestScope>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let caller = resolve(&conn, &headers, None, &scope).await?;
    let t = &caller.tenant.config;
    let allowed = t.policy.allowed_sorted();
    let needs_code: Vec<&str> = allowed
        .iter()
        .filter(|l| t.policy.requires_access_code(**l))
        .map(|l| l.as_str())
        .collect();
    Ok(Json(json!({
        "tenant": {"id": t.id, "name": t.name},
        "linkTypes": allowed.iter().map(|l| l.as_str()).collect::<Vec<_>>(),
        "defaultLinkType": t.policy.draft_link_type().as_str(),
        "accessCodeRequiredFor": needs_code,
        "requireAccessCodeFrom": t.policy.require_access_code_from.map(|l| l.as_str()),
        "languages": Language::ALL.iter().map(|l| l.code()).collect::<Vec<_>>(),
        "defaultLanguage": t.default_language.code(),
    })))
}
