//! `/front` (the UI's static files) and `/api/admin/...` (its JSON API) for the tenant in
//! the request's [`AdminRequest`]. Every state-changing handler writes the audit log.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Extension, Path, Query, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use chrono::Utc;
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use serde::Deserialize;
use serde_json::{Value, json};
use xgate_tenants::store::{DeleteAdmin, NewTemplate, StoredTemplate, TemplateImage};
use xgate_tenants::{Language, Tenant};

use crate::AdminRequest;
use crate::auth::{self, Carrier, Claims, Throttle};
use crate::error::{AdminError, English};
use crate::templates::{self, IMAGE_KINDS, IMAGE_TYPES, MAX_IMAGE_BYTES};

#[derive(Default)]
struct AdminState {
    throttle: Throttle,
}

type St = State<Arc<AdminState>>;
type Ext = Extension<AdminRequest>;
type Result<T> = std::result::Result<T, AdminError>;

/// The admin router. Requests without an [`AdminRequest`] extension are answered 500 by
/// axum: the gateway always sets it.
pub fn router() -> Router {
    Router::new()
        .route("/front", get(crate::ui::index))
        .route("/front/{file}", get(crate::ui::asset))
        .route("/api/admin/login", post(login))
        .route("/api/admin/logout", post(logout))
        .route("/api/admin/session", get(session_info))
        .route("/api/admin/password", post(set_password))
        .route("/api/admin/admins", get(list_admins).post(create_admin))
        .route(
            "/api/admin/admins/{login}",
            put(update_admin).delete(delete_admin),
        )
        .route(
            "/api/admin/templates",
            get(list_templates).post(create_template),
        )
        .route(
            "/api/admin/templates/{id}",
            get(get_template)
                .put(update_template)
                .delete(delete_template),
        )
        .route(
            "/api/admin/templates/{id}/images/{kind}",
            get(get_image).put(put_image).delete(delete_image),
        )
        .route("/api/admin/preview", post(preview))
        .route("/api/admin/audit", get(audit))
        .fallback(|| async { AdminError::NotFound("route") })
        .layer(middleware::from_fn(language_and_headers))
        .with_state(Arc::new(AdminState::default()))
}

/// Errors in the caller's language (`Accept-Language`; the UI sends its own choice), and
/// headers every admin answer carries.
async fn language_and_headers(req: Request, next: Next) -> Response {
    let english = req
        .headers()
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .and_then(Language::from_accept_language)
        == Some(Language::En);
    let api = req.uri().path().starts_with("/api/");
    let mut response = next.run(req).await;
    if english && let Some(English(body)) = response.extensions_mut().remove::<English>() {
        let status = response.status();
        response = (status, Json(body)).into_response();
    }
    let h = response.headers_mut();
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    if api {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// `Json`, with a body that does not parse answered in the one error shape.
struct JsonBody<T>(T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> axum::extract::FromRequest<S> for JsonBody<T> {
    type Rejection = AdminError;

    async fn from_request(req: Request, state: &S) -> Result<Self> {
        Json::<T>::from_request(req, state)
            .await
            .map(|Json(v)| JsonBody(v))
            .map_err(|e| AdminError::InvalidField {
                field: "body",
                reason: e.body_text(),
            })
    }
}

/// An authenticated admin of the request's tenant.
struct Session {
    claims: Claims,
}

impl Session {
    fn login(&self) -> &str {
        &self.claims.sub
    }
}

fn jwt(req: &AdminRequest) -> Result<&xgate_tenants::config::JwtSettings> {
    req.tenant.config.jwt.as_ref().ok_or(AdminError::Disabled)
}

/// Checks the token (signature, expiry, issuer, audience = this tenant), that it was not
/// revoked, CSRF for cookie-borne state changes, and that a password has been set unless
/// `setup_ok`.
async fn authenticate(
    req: &AdminRequest,
    headers: &HeaderMap,
    method: &Method,
    setup_ok: bool,
) -> Result<Session> {
    let jwt = jwt(req)?;
    let (token, carrier) = auth::token_of(headers).ok_or(AdminError::Unauthenticated)?;
    let claims = auth::verify(jwt, req.tenant.id(), &token)?;
    let admin = req
        .tenant
        .store
        .admin(&claims.sub)
        .await?
        .ok_or(AdminError::Unauthenticated)?;
    if admin.token_version != claims.ver {
        return Err(AdminError::Unauthenticated);
    }
    let safe = matches!(*method, Method::GET | Method::HEAD);
    if carrier == Carrier::Cookie && !safe && !auth::csrf_ok(headers, &claims) {
        return Err(AdminError::Csrf);
    }
    if (claims.setup || admin.password_hash.is_none()) && !setup_ok {
        return Err(AdminError::PasswordChangeRequired);
    }
    Ok(Session { claims })
}

fn cookie_path(req: &AdminRequest) -> String {
    format!("{}/", req.base)
}

async fn record(tenant: &Tenant, actor: &str, action: &str, detail: &str) -> Result<()> {
    tenant
        .store
        .audit(actor, action, detail, Utc::now())
        .await
        .map_err(AdminError::from)
}

fn token_response(
    req: &AdminRequest,
    token: &str,
    claims: &Claims,
    full_name: &str,
) -> Result<Response> {
    let lifetime = jwt(req)?.lifetime;
    let mut response = Json(json!({
        "login": claims.sub,
        "full_name": full_name,
        "csrf": claims.csrf,
        "setup": claims.setup,
        "expires_at": claims.exp,
        "token": token,
    }))
    .into_response();
    let cookie = auth::set_cookie(token, &cookie_path(req), lifetime);
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&cookie).map_err(|e| AdminError::Internal(e.to_string()))?,
    );
    Ok(response)
}

#[derive(Deserialize)]
struct LoginBody {
    login: String,
    #[serde(default)]
    password: String,
}

/// A login without a password (a new tenant's `admin`) gets a token that may only set
/// one. Every failure reads the same, whatever failed.
async fn login(
    State(st): St,
    Extension(req): Ext,
    JsonBody(body): JsonBody<LoginBody>,
) -> Result<Response> {
    let jwt = jwt(&req)?;
    let tenant = &req.tenant;
    templates::bootstrap(tenant).await?;
    let login = body.login.trim();
    if st.throttle.blocked(tenant.id(), login, req.peer) {
        return Err(AdminError::Throttled);
    }
    let admin = tenant.store.admin(login).await?;
    let (ok, setup) = match &admin {
        Some(a) if a.password_hash.is_none() => (body.password.is_empty(), true),
        Some(a) => (
            auth::verify_password(body.password.clone(), a.password_hash.clone()).await,
            false,
        ),
        None => (
            auth::verify_password(body.password.clone(), None).await,
            false,
        ),
    };
    let Some(admin) = admin.filter(|_| ok) else {
        st.throttle.failed(tenant.id(), login, req.peer);
        // The login is the caller's text: bounded before it reaches the log.
        let tried: String = login.chars().take(64).collect();
        record(tenant, &tried, "login_failed", "").await?;
        return Err(AdminError::InvalidCredentials);
    };
    st.throttle.succeeded(tenant.id(), login);
    let (token, claims) = auth::issue(jwt, tenant.id(), &admin.login, admin.token_version, setup)?;
    record(tenant, &admin.login, "login", "").await?;
    token_response(&req, &token, &claims, &admin.full_name)
}

/// Revokes every token of the caller, then clears the cookie.
async fn logout(Extension(req): Ext, headers: HeaderMap, method: Method) -> Result<Response> {
    let s = authenticate(&req, &headers, &method, true).await?;
    req.tenant.store.revoke_tokens(s.login()).await?;
    record(&req.tenant, s.login(), "logout", "").await?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    let cookie = auth::clear_cookie(&cookie_path(&req));
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(response)
}

async fn session_info(
    Extension(req): Ext,
    headers: HeaderMap,
    method: Method,
) -> Result<Json<Value>> {
    let s = authenticate(&req, &headers, &method, true).await?;
    let admin = req.tenant.store.admin(s.login()).await?;
    Ok(Json(json!({
        "login": s.claims.sub,
        "full_name": admin.map(|a| a.full_name).unwrap_or_default(),
        "csrf": s.claims.csrf,
        "setup": s.claims.setup,
        "expires_at": s.claims.exp,
        "tenant": { "id": req.tenant.id(), "name": req.tenant.config.name },
    })))
}

#[derive(Deserialize)]
struct PasswordBody {
    password: String,
    #[serde(default)]
    password_confirm: Option<String>,
}

/// Sets the caller's own password (the only thing a setup token may do); every earlier
/// token of the caller stops working and a new one is issued.
async fn set_password(
    Extension(req): Ext,
    headers: HeaderMap,
    method: Method,
    JsonBody(body): JsonBody<PasswordBody>,
) -> Result<Response> {
    let s = authenticate(&req, &headers, &method, true).await?;
    auth::check_new_password(&body.password, body.password_confirm.as_deref())?;
    let store = &req.tenant.store;
    let admin = store
        .admin(s.login())
        .await?
        .ok_or(AdminError::Unauthenticated)?;
    let hash = auth::hash_password(body.password).await?;
    store
        .update_admin(&admin.login, &admin.full_name, Some(&hash), Utc::now())
        .await?;
    record(&req.tenant, &admin.login, "password_set", &admin.login).await?;
    let version = admin.token_version + 1;
    let (token, claims) = auth::issue(jwt(&req)?, req.tenant.id(), &admin.login, version, false)?;
    token_response(&req, &token, &claims, &admin.full_name)
}

async fn list_admins(
    Extension(req): Ext,
    headers: HeaderMap,
    method: Method,
) -> Result<Json<Value>> {
    authenticate(&req, &headers, &method, false).await?;
    let admins = req.tenant.store.admins().await?;
    Ok(Json(json!({
        "admins": admins.iter().map(|a| json!({
            "login": a.login,
            "full_name": a.full_name,
            "has_password": a.password_hash.is_some(),
            "created_at": a.created_at,
            "updated_at": a.updated_at,
        })).collect::<Vec<_>>()
    })))
}

#[derive(Deserialize)]
struct AdminBody {
    #[serde(default)]
    login: String,
    #[serde(default)]
    full_name: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    password_confirm: Option<String>,
}

fn check_login(login: &str) -> Result<()> {
    let n = login.chars().count();
    if n == 0 || n > 64 || login.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(AdminError::InvalidField {
            field: "login",
            reason: "1-64 characters without spaces".into(),
        });
    }
    Ok(())
}

fn check_text(field: &'static str, value: &str, max: usize, required: bool) -> Result<()> {
    if (required && value.trim().is_empty())
        || value.chars().count() > max
        || value.chars().any(|c| c.is_control())
    {
        return Err(AdminError::InvalidField {
            field,
            reason: format!(
                "{}at most {max} characters, no control characters",
                if required { "required, " } else { "" }
            ),
        });
    }
    Ok(())
}

async fn create_admin(
    Extension(req): Ext,
    headers: HeaderMap,
    method: Method,
    JsonBody(body): JsonBody<AdminBody>,
) -> Result<Response> {
    let s = authenticate(&req, &headers, &method, false).await?;
    let login = body.login.trim();
    check_login(login)?;
    check_text("full_name", &body.full_name, 200, false)?;
    auth::check_new_password(&body.password, body.password_confirm.as_deref())?;
    let hash = auth::hash_password(body.password).await?;
    if !req
        .tenant
        .store
        .insert_admin(login, body.full_name.trim(), &hash, Utc::now())
        .await?
    {
        return Err(AdminError::LoginTaken);
    }
    record(&req.tenant, s.login(), "admin_created", login).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "login": login, "full_name": body.full_name.trim() })),
    )
        .into_response())
}

/// Full name, and the password when one is given (empty keeps it).
async fn update_admin(
    Extension(req): Ext,
    headers: HeaderMap,
    method: Method,
    Path(login): Path<String>,
    JsonBody(body): JsonBody<AdminBody>,
) -> Result<Json<Value>> {
    let s = authenticate(&req, &headers, &method, false).await?;
    check_text("full_name", &body.full_name, 200, false)?;
    let hash = if body.password.is_empty() {
        None
    } else {
        auth::check_new_password(&body.password, body.password_confirm.as_deref())?;
        Some(auth::hash_password(body.password).await?)
    };
    if !req
        .tenant
        .store
        .update_admin(&login, body.full_name.trim(), hash.as_deref(), Utc::now())
        .await?
    {
        return Err(AdminError::NotFound("admin"));
    }
    let what = if hash.is_some() {
        "name, password"
    } else {
        "name"
    };
    record(
        &req.tenant,
        s.login(),
        "admin_updated",
        &format!("{login}: {what}"),
    )
    .await?;
    Ok(Json(
        json!({ "login": login, "full_name": body.full_name.trim() }),
    ))
}

async fn delete_admin(
    Extension(req): Ext,
    headers: HeaderMap,
    method: Method,
    Path(login): Path<String>,
) -> Result<StatusCode> {
    let s = authenticate(&req, &headers, &method, false).await?;
    if login == s.login() {
        return Err(AdminError::CannotDeleteSelf);
    }
    match req.tenant.store.delete_admin(&login).await? {
        DeleteAdmin::Deleted => {}
        DeleteAdmin::NotFound => return Err(AdminError::NotFound("admin")),
        DeleteAdmin::LastAdmin => return Err(AdminError::LastAdmin),
    }
    record(&req.tenant, s.login(), "admin_deleted", &login).await?;
    Ok(StatusCode::NO_CONTENT)
}

fn template_json(t: &StoredTemplate, with_html: bool) -> Value {
    let mut v = json!({
        "id": t.id,
        "language": t.language,
        "name": t.name,
        "subject": t.subject,
        "is_default": t.is_default,
        "images": t.images,
        "updated_by": t.updated_by,
        "updated_at": t.updated_at,
    });
    if with_html {
        v["html"] = json!(t.html);
    }
    v
}

async fn list_templates(
    Extension(req): Ext,
    headers: HeaderMap,
    method: Method,
) -> Result<Json<Value>> {
    authenticate(&req, &headers, &method, false).await?;
    let list = req.tenant.store.templates().await?;
    Ok(Json(json!({
        "templates": list.iter().map(|t| template_json(t, false)).collect::<Vec<_>>()
    })))
}

async fn get_template(
    Extension(req): Ext,
    headers: HeaderMap,
    method: Method,
    Path(id): Path<String>,
) -> Result<Json<Value>> {
    authenticate(&req, &headers, &method, false).await?;
    let t = req
        .tenant
        .store
        .template(&id)
        .await?
        .ok_or(AdminError::NotFound("template"))?;
    Ok(Json(template_json(&t, true)))
}

#[derive(Deserialize)]
struct TemplateBody {
    language: String,
    name: String,
    #[serde(default)]
    subject: String,
    html: String,
    #[serde(default)]
    is_default: bool,
}

fn checked_template(tenant: &Tenant, body: TemplateBody) -> Result<NewTemplate> {
    if Language::from_code(&body.language).is_none() {
        return Err(AdminError::InvalidField {
            field: "language",
            reason: "ru or en".into(),
        });
    }
    check_text("name", &body.name, 200, true)?;
    if body.subject.chars().count() > 500 {
        return Err(AdminError::InvalidField {
            field: "subject",
            reason: "at most 500 characters".into(),
        });
    }
    let (subject, html) = templates::prepare(tenant, &body.subject, &body.html)?;
    Ok(NewTemplate {
        language: body.language,
        name: body.name.trim().to_string(),
        subject,
        html,
        is_default: body.is_default,
    })
}

async fn create_template(
    Extension(req): Ext,
    headers: HeaderMap,
    method: Method,
    JsonBody(body): JsonBody<TemplateBody>,
) -> Result<Response> {
    let s = authenticate(&req, &headers, &method, false).await?;
    let t = checked_template(&req.tenant, body)?;
    let id = uuid::Uuid::new_v4().simple().to_string();
    req.tenant
        .store
        .save_template(&id, &t, false, s.login(), Utc::now())
        .await?;
    record(
        &req.tenant,
        s.login(),
        "template_created",
        &format!("{} ({})", t.name, t.language),
    )
    .await?;
    let stored = req
        .tenant
        .store
        .template(&id)
        .await?
        .ok_or(AdminError::NotFound("template"))?;
    Ok((StatusCode::CREATED, Json(template_json(&stored, true))).into_response())
}

/// A default template stays the default until another one of its language takes over:
/// a language never silently loses its default.
async fn update_template(
    Extension(req): Ext,
    headers: HeaderMap,
    method: Method,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<TemplateBody>,
) -> Result<Json<Value>> {
    let s = authenticate(&req, &headers, &method, false).await?;
    let store = &req.tenant.store;
    let old = store
        .template(&id)
        .await?
        .ok_or(AdminError::NotFound("template"))?;
    let mut t = checked_template(&req.tenant, body)?;
    t.is_default |= old.is_default && old.language == t.language;
    if !store
        .save_template(&id, &t, true, s.login(), Utc::now())
        .await?
    {
        return Err(AdminError::NotFound("template"));
    }
    let default = if t.is_default && !old.is_default {
        ", now the default"
    } else {
        ""
    };
    record(
        &req.tenant,
        s.login(),
        "template_updated",
        &format!("{} ({}){default}", t.name, t.language),
    )
    .await?;
    let stored = store
        .template(&id)
        .await?
        .ok_or(AdminError::NotFound("template"))?;
    Ok(Json(template_json(&stored, true)))
}

async fn delete_template(
    Extension(req): Ext,
    headers: HeaderMap,
    method: Method,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    let s = authenticate(&req, &headers, &method, false).await?;
    let store = &req.tenant.store;
    let t = store
        .template(&id)
        .await?
        .ok_or(AdminError::NotFound("template"))?;
    if t.is_default {
        return Err(AdminError::DefaultTemplate);
    }
    store.delete_template(&id).await?;
    record(
        &req.tenant,
        s.login(),
        "template_deleted",
        &format!("{} ({})", t.name, t.language),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

fn check_kind(kind: &str) -> Result<()> {
    if IMAGE_KINDS.contains(&kind) {
        Ok(())
    } else {
        Err(AdminError::NotFound("image kind"))
    }
}

async fn get_image(
    Extension(req): Ext,
    headers: HeaderMap,
    method: Method,
    Path((id, kind)): Path<(String, String)>,
) -> Result<Response> {
    authenticate(&req, &headers, &method, false).await?;
    check_kind(&kind)?;
    let image = req
        .tenant
        .store
        .template_images(&id)
        .await?
        .into_iter()
        .find(|i| i.kind == kind)
        .ok_or(AdminError::NotFound("image"))?;
    Ok(([(header::CONTENT_TYPE, image.content_type)], image.data).into_response())
}

/// The body is the image itself; its type is checked against its first bytes.
async fn put_image(
    Extension(req): Ext,
    headers: HeaderMap,
    method: Method,
    Path((id, kind)): Path<(String, String)>,
    body: Bytes,
) -> Result<StatusCode> {
    let s = authenticate(&req, &headers, &method, false).await?;
    check_kind(&kind)?;
    let declared = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let sniffed = match body.as_ref() {
        [0x89, b'P', b'N', b'G', ..] => "image/png",
        [0xff, 0xd8, 0xff, ..] => "image/jpeg",
        [b'G', b'I', b'F', b'8', ..] => "image/gif",
        _ => "",
    };
    if !IMAGE_TYPES.contains(&declared.as_str()) || sniffed != declared {
        return Err(AdminError::InvalidField {
            field: "image",
            reason: "a PNG, JPEG or GIF file".into(),
        });
    }
    if body.len() > MAX_IMAGE_BYTES {
        return Err(AdminError::InvalidField {
            field: "image",
            reason: format!("at most {} KiB", MAX_IMAGE_BYTES / 1024),
        });
    }
    let store = &req.tenant.store;
    let t = store
        .template(&id)
        .await?
        .ok_or(AdminError::NotFound("template"))?;
    store
        .put_template_image(
            &id,
            &TemplateImage {
                kind: kind.clone(),
                content_type: declared,
                data: body.to_vec(),
            },
        )
        .await?;
    record(
        &req.tenant,
        s.login(),
        "image_set",
        &format!("{}: {kind}", t.name),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn delete_image(
    Extension(req): Ext,
    headers: HeaderMap,
    method: Method,
    Path((id, kind)): Path<(String, String)>,
) -> Result<StatusCode> {
    let s = authenticate(&req, &headers, &method, false).await?;
    check_kind(&kind)?;
    if !req.tenant.store.delete_template_image(&id, &kind).await? {
        return Err(AdminError::NotFound("image"));
    }
    record(
        &req.tenant,
        s.login(),
        "image_deleted",
        &format!("{id}: {kind}"),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
struct PreviewBody {
    #[serde(default)]
    subject: String,
    html: String,
    /// Whose stored images to show.
    #[serde(default)]
    template_id: Option<String>,
}

/// Renders unsaved text with sample data exactly as a meeting would, after sanitising it
/// as a save would. Changes nothing.
async fn preview(
    Extension(req): Ext,
    headers: HeaderMap,
    method: Method,
    JsonBody(body): JsonBody<PreviewBody>,
) -> Result<Json<Value>> {
    authenticate(&req, &headers, &method, false).await?;
    let (subject, html) = templates::prepare(&req.tenant, &body.subject, &body.html)?;
    let images = match &body.template_id {
        Some(id) => templates::data_uris(&req.tenant.store.template_images(id).await?),
        None => Default::default(),
    };
    let ctx = templates::sample_context(&req.tenant);
    let letter =
        templates::render_one(&subject, &html, &images, &ctx).map_err(AdminError::Template)?;
    Ok(Json(json!({
        "subject": letter.subject,
        "html": letter.html,
        "sanitized": html,
    })))
}

#[derive(Deserialize)]
struct AuditQuery {
    #[serde(default)]
    limit: Option<i64>,
}

async fn audit(
    Extension(req): Ext,
    headers: HeaderMap,
    method: Method,
    Query(q): Query<AuditQuery>,
) -> Result<Json<Value>> {
    authenticate(&req, &headers, &method, false).await?;
    let limit = q.limit.unwrap_or(200).clamp(1, 1000);
    let entries = req.tenant.store.audit_log(limit).await?;
    Ok(Json(json!({
        "entries": entries.iter().map(|e| json!({
            "at": e.at, "actor": e.actor, "action": e.action, "detail": e.detail,
        })).collect::<Vec<_>>()
    })))
}
