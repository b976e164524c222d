//! The bot's JSON, field for field as the spec writes it (snake_case, ISO dates in UTC
//! with microseconds, the `{"status", "result" | "reason"}` envelope).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Create: `POST {base}`.
#[derive(Debug, Clone, Serialize)]
pub struct ConferenceDraft {
    pub contact_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub members: Vec<String>,
    pub admins: Vec<String>,
    pub creator: String,
    #[serde(skip_serializing_if = "Option::is_none", with = "micros_opt")]
    pub start_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none", with = "micros_opt")]
    pub end_at: Option<DateTime<Utc>>,
    pub link: LinkChange,
}

/// Update: `POST {base}/<call_id>`. Every field but `actor` is optional: only what the
/// user changed is sent. `Some(None)` sends an explicit `null` (clear the end time).
#[derive(Debug, Clone, Serialize, Default)]
pub struct ConferenceChange {
    pub contact_type: &'static str,
    pub actor: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<Option<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub members: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admins: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none", with = "micros_opt_opt")]
    pub start_at: Option<Option<DateTime<Utc>>>,
    #[serde(skip_serializing_if = "Option::is_none", with = "micros_opt_opt")]
    pub end_at: Option<Option<DateTime<Utc>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link: Option<LinkChange>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LinkChange {
    pub link_type: String,
    pub access_code: Option<String>,
}

#[derive(Debug, Serialize)]
pub(crate) struct DeleteBody<'a> {
    pub actor: &'a str,
    pub contact_type: &'static str,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Envelope {
    pub status: String,
    #[serde(default)]
    pub result: Option<Conference>,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub errors: Vec<serde_json::Value>,
}

/// The bot's view of a conference after create or update.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Conference {
    #[serde(default)]
    pub name: Option<String>,
    pub call_id: String,
    #[serde(default)]
    pub start_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub end_at: Option<DateTime<Utc>>,
    pub link: ConferenceLink,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct ConferenceLink {
    #[serde(default)]
    pub link_id: Option<serde_json::Value>,
    pub link_type: String,
    pub link: String,
    #[serde(default)]
    pub access_code: Option<String>,
}

pub(crate) fn format_micros(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

mod micros_opt {
    use chrono::{DateTime, Utc};
    use serde::Serializer;

    pub fn serialize<S: Serializer>(v: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(t) => s.serialize_str(&super::format_micros(t)),
            None => s.serialize_none(),
        }
    }
}

mod micros_opt_opt {
    use chrono::{DateTime, Utc};
    use serde::Serializer;

    pub fn serialize<S: Serializer>(
        v: &Option<Option<DateTime<Utc>>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match v {
            Some(inner) => super::micros_opt::serialize(inner, s),
            None => s.serialize_none(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn dates_have_microseconds_and_absent_fields_are_omitted() {
        let change = ConferenceChange {
            contact_type: "email",
            actor: "a@acme.test".into(),
            start_at: Some(Some(Utc.with_ymd_and_hms(2023, 12, 31, 9, 30, 0).unwrap())),
            end_at: Some(None),
            ..Default::default()
        };
        let v = serde_json::to_value(&change).unwrap();
        assert_eq!(v["start_at"], "2023-12-31T09:30:00.000000Z");
        assert!(v["end_at"].is_null() && v.get("end_at").is_some());
        assert!(v.get("name").is_none() && v.get("link").is_none());
    }
}
