//! The stored meeting: xgate's record of one conference created through the add-in.
//!
//! This is the domain type shared by the store and the HTTP layer; its serde form (camelCase)
//! is what the gateway hands back to the add-in, so field names here are part of the API.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Lifecycle of a meeting. Stored as the text `active` / `cancelled` so the column stays
/// readable in `psql`/`sqlite3` and new states can be added without renumbering.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MeetingStatus {
    Active,
    Cancelled,
}

impl MeetingStatus {
    /// The stored (and serialized) form.
    pub const fn as_str(self) -> &'static str {
        match self {
            MeetingStatus::Active => "active",
            MeetingStatus::Cancelled => "cancelled",
        }
    }
}

impl fmt::Display for MeetingStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The stored text was not a known status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown meeting status {0:?}")]
pub struct UnknownStatus(pub String);

impl FromStr for MeetingStatus {
    type Err = UnknownStatus;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "active" => Ok(MeetingStatus::Active),
            "cancelled" => Ok(MeetingStatus::Cancelled),
            other => Err(UnknownStatus(other.to_owned())),
        }
    }
}

/// A meeting as stored for one tenant.
///
/// Timestamps are kept with microsecond precision by both backends; anything finer is
/// truncated on write, so compare against values already truncated to microseconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Meeting {
    /// xgate's id.
    pub id: Uuid,
    /// The bot's conference id.
    pub call_id: String,
    /// The creating user's mail, lowercased.
    pub creator: String,
    pub name: Option<String>,
    pub members: Vec<String>,
    pub admins: Vec<String>,
    pub start_at: Option<DateTime<Utc>>,
    pub end_at: Option<DateTime<Utc>>,
    /// Join URL.
    pub link: String,
    pub link_type: String,
    pub access_code: Option<String>,
    /// `"ru"` or `"en"`.
    pub language: String,
    pub is_recurrent: bool,
    pub status: MeetingStatus,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Meeting {
    pub fn is_active(&self) -> bool {
        self.status == MeetingStatus::Active
    }
}
