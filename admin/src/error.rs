//! The one place admin API errors become HTTP: status, stable `code`, ru/en message, in
//! the gateway's JSON shape `{"error": {"code", "message"}}`. (The admin crate cannot use
//! the gateway's `ApiError`: dependencies point gateway → admin.)

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde_json::json;
use xgate_tenants::store::StoreError;

use crate::RenderError;

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("this tenant has no admin UI (no [jwt] section)")]
    Disabled,
    #[error("not logged in")]
    Unauthenticated,
    #[error("invalid login or password")]
    InvalidCredentials,
    #[error("too many failed logins; try again later")]
    Throttled,
    #[error("the CSRF token is missing or wrong")]
    Csrf,
    #[error("set a password first")]
    PasswordChangeRequired,
    #[error("the password must have at least 12 characters")]
    PasswordTooShort,
    #[error("the passwords do not match")]
    PasswordMismatch,
    #[error("invalid {field}: {reason}")]
    InvalidField { field: &'static str, reason: String },
    #[error("the login is taken")]
    LoginTaken,
    #[error("you cannot delete yourself")]
    CannotDeleteSelf,
    #[error("the last admin cannot be deleted")]
    LastAdmin,
    #[error("the default template cannot be deleted; make another one the default first")]
    DefaultTemplate,
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    Template(RenderError),
    #[error("storage: {0}")]
    Store(#[from] StoreError),
    #[error("internal error: {0}")]
    Internal(String),
}

impl AdminError {
    pub fn status(&self) -> StatusCode {
        use AdminError::*;
        match self {
            Disabled | NotFound(_) => StatusCode::NOT_FOUND,
            Unauthenticated | InvalidCredentials => StatusCode::UNAUTHORIZED,
            Throttled => StatusCode::TOO_MANY_REQUESTS,
            Csrf | PasswordChangeRequired => StatusCode::FORBIDDEN,
            PasswordTooShort | PasswordMismatch | InvalidField { .. } | Template(_) => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            LoginTaken | CannotDeleteSelf | LastAdmin | DefaultTemplate => StatusCode::CONFLICT,
            Store(e) if e.is_unavailable() => StatusCode::SERVICE_UNAVAILABLE,
            Store(_) | Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        use AdminError::*;
        match self {
            Disabled => "admin_disabled",
            Unauthenticated => "unauthenticated",
            InvalidCredentials => "invalid_credentials",
            Throttled => "too_many_attempts",
            Csrf => "csrf",
            PasswordChangeRequired => "password_change_required",
            PasswordTooShort => "password_too_short",
            PasswordMismatch => "password_mismatch",
            InvalidField { .. } => "invalid_field",
            LoginTaken => "login_taken",
            CannotDeleteSelf => "cannot_delete_self",
            LastAdmin => "last_admin",
            DefaultTemplate => "default_template",
            NotFound(_) => "not_found",
            Template(_) => "template_invalid",
            Store(e) if e.is_unavailable() => "storage_unavailable",
            Store(_) | Internal(_) => "internal",
        }
    }

    /// Russian text; English is `Display`. Internal details stay in the log.
    fn russian(&self) -> String {
        use AdminError::*;
        match self {
            Disabled => "Для этого арендатора веб-интерфейс администратора не настроен".into(),
            Unauthenticated => "Требуется вход".into(),
            InvalidCredentials => "Неверный логин или пароль".into(),
            Throttled => "Слишком много неудачных попыток входа; попробуйте позже".into(),
            Csrf => "Отсутствует или неверен CSRF-токен".into(),
            PasswordChangeRequired => "Сначала задайте пароль".into(),
            PasswordTooShort => "Пароль должен содержать не менее 12 символов".into(),
            PasswordMismatch => "Пароли не совпадают".into(),
            InvalidField { field, reason } => format!("Неверное поле {field}: {reason}"),
            LoginTaken => "Такой логин уже есть".into(),
            CannotDeleteSelf => "Нельзя удалить самого себя".into(),
            LastAdmin => "Нельзя удалить последнего администратора".into(),
            DefaultTemplate => {
                "Шаблон по умолчанию удалить нельзя; сначала назначьте другой".into()
            }
            NotFound(what) => format!("Не найдено: {what}"),
            Template(e) => match e {
                RenderError::Template {
                    line: Some(l),
                    detail,
                } => format!("Ошибка в шаблоне, строка {l}: {detail}"),
                other => format!("Ошибка в шаблоне: {other}"),
            },
            Store(_) | Internal(_) => "Внутренняя ошибка".into(),
        }
    }

    /// The JSON body in the caller's language.
    pub fn body(&self, english: bool) -> serde_json::Value {
        let message = match self {
            AdminError::Store(_) | AdminError::Internal(_) if english => "internal error".into(),
            _ if english => self.to_string(),
            _ => self.russian(),
        };
        let mut error = json!({ "code": self.code(), "message": message });
        if let AdminError::Template(RenderError::Template { line, .. }) = self {
            error["line"] = json!(line);
        }
        json!({ "error": error })
    }
}

/// The English body of an error, carried on the (Russian) response so the router's
/// language layer can swap it in for a caller who asked for English.
#[derive(Clone)]
pub(crate) struct English(pub serde_json::Value);

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::error!(error = %self, "admin request failed");
        }
        let mut response = (status, Json(self.body(false))).into_response();
        response.extensions_mut().insert(English(self.body(true)));
        response
    }
}
