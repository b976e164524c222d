//! The bot's JSON envelope (`{"status":"ok",...}` / `{"status":"error",...}`) and its error reasons.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// A failed bot call, rendered as the bot's error envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BotError {
    pub status: StatusCode,
    pub reason: String,
    pub errors: Vec<String>,
}

impl BotError {
    pub fn new(status: StatusCode, reason: &str, error: impl Into<String>) -> Self {
        Self {
            status,
            reason: reason.to_owned(),
            errors: vec![error.into()],
        }
    }

    pub fn invalid_attributes(errors: Vec<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            reason: "invalid_attributes".to_owned(),
            errors,
        }
    }

    pub fn end_at_earlier_than_now() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "end_at_earlier_than_now",
            "end_at is earlier than now",
        )
    }

    pub fn start_at_later_than_end_at() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "start_at_later_than_end_at",
            "start_at is later than end_at",
        )
    }

    pub fn creator_not_found(id: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "creator_not_found",
            format!("creator {id:?} not found"),
        )
    }

    pub fn actor_not_found(id: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "actor_not_found",
            format!("actor {id:?} not found"),
        )
    }

    pub fn no_users_found() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "no_users_found",
            "none of the members was found",
        )
    }

    /// `reason` is `multiple_users_found_by_email` or `multiple_users_found_by_ad_login`;
    /// the real bot answers 503 here because its directory, not the request, is at fault.
    pub fn multiple_users_found(reason: &'static str, id: &str) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            reason,
            format!("more than one user found by {id:?}"),
        )
    }

    pub fn conference_not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "conference_not_found",
            "conference not found",
        )
    }

    pub fn not_permitted() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "not_permitted",
            "actor is not an admin of the conference",
        )
    }

    pub fn body(&self) -> Value {
        json!({
            "status": "error",
            "reason": self.reason,
            "error_data": {},
            "errors": self.errors,
        })
    }
}

impl IntoResponse for BotError {
    fn into_response(self) -> Response {
        (self.status, axum::Json(self.body())).into_response()
    }
}

pub fn ok(status: StatusCode, result: Value) -> Response {
    (
        status,
        axum::Json(json!({"status": "ok", "result": result})),
    )
        .into_response()
}
