//! Request bodies from the old .NET client: keys are matched case-insensitively
//! (`Creator`, `LanguageId`, `isRecurrent`, `$type` all arrive in mixed case), and
//! every field is checked with an error that names it.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use crate::error::ApiError;

pub struct CiObject(Map<String, Value>);

impl CiObject {
    /// An empty body is an empty object: `DELETE` and `GET` carry none.
    pub fn parse(bytes: &[u8]) -> Result<CiObject, ApiError> {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(CiObject(Map::new()));
        }
        let value: Value =
            serde_json::from_slice(bytes).map_err(|e| ApiError::InvalidJson(e.to_string()))?;
        let Value::Object(obj) = value else {
            return Err(ApiError::InvalidJson("expected a JSON object".into()));
        };
        let mut out = Map::new();
        for (k, v) in obj {
            let lower = k.to_lowercase();
            if out.contains_key(&lower) {
                return Err(ApiError::InvalidJson(format!(
                    "key `{k}` is given twice (keys ignore case)"
                )));
            }
            out.insert(lower, v);
        }
        Ok(CiObject(out))
    }

    pub fn has(&self, key: &str) -> bool {
        self.0.contains_key(key)
    }

    /// `Ok(None)` when absent or null.
    pub fn string(&self, key: &'static str) -> Result<Option<String>, ApiError> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(invalid(key, "must be a string")),
        }
    }

    pub fn bool(&self, key: &'static str) -> Result<Option<bool>, ApiError> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(invalid(key, "must be true or false")),
        }
    }

    pub fn int(&self, key: &'static str) -> Result<Option<i64>, ApiError> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => n
                .as_i64()
                .map(Some)
                .ok_or_else(|| invalid(key, "must be an integer")),
            Some(_) => Err(invalid(key, "must be an integer")),
        }
    }

    /// A list of mail addresses, lowercased, duplicates removed, order kept.
    pub fn addresses(&self, key: &'static str) -> Result<Option<Vec<String>>, ApiError> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Array(items)) => {
                let mut out: Vec<String> = Vec::with_capacity(items.len());
                for item in items {
                    let Value::String(s) = item else {
                        return Err(invalid(key, "must be a list of mail addresses"));
                    };
                    let a = s.trim().to_ascii_lowercase();
                    if xgate_tenants::table::domain_of(&a).is_none() {
                        return Err(invalid(key, &format!("`{s}` is not a mail address")));
                    }
                    if !out.contains(&a) {
                        out.push(a);
                    }
                }
                if out.len() > 1000 {
                    return Err(invalid(key, "at most 1000 addresses"));
                }
                Ok(Some(out))
            }
            Some(_) => Err(invalid(key, "must be a list of mail addresses")),
        }
    }

    /// Tri-state date: absent (`None`), explicitly cleared (`Some(None)`), or a time.
    /// Accepts RFC 3339 with any offset; stores UTC.
    pub fn date(&self, key: &'static str) -> Result<Option<Option<DateTime<Utc>>>, ApiError> {
        match self.0.get(key) {
            None => Ok(None),
            Some(Value::Null) => Ok(Some(None)),
            Some(Value::String(s)) => DateTime::parse_from_rfc3339(s.trim())
                .map(|d| Some(Some(d.with_timezone(&Utc))))
                .map_err(|_| {
                    invalid(
                        key,
                        "must be an ISO 8601 date with an offset, e.g. 2024-03-01T10:00:00+03:00",
                    )
                }),
            Some(_) => Err(invalid(key, "must be a date string")),
        }
    }
}

fn invalid(key: &'static str, reason: &str) -> ApiError {
    ApiError::InvalidField {
        field: key,
        reason: reason.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_ignore_case_and_collisions_are_refused() {
        let o = CiObject::parse(
            br#"{"Creator":"A@Acme.test","LanguageId":1049,"isRecurrent":false,"$type":"x"}"#,
        )
        .unwrap();
        assert_eq!(o.string("creator").unwrap().as_deref(), Some("A@Acme.test"));
        assert_eq!(o.int("languageid").unwrap(), Some(1049));
        assert_eq!(o.bool("isrecurrent").unwrap(), Some(false));
        assert!(CiObject::parse(br#"{"name":"a","NAME":"b"}"#).is_err());
        assert!(CiObject::parse(b"[1]").is_err());
        assert!(
            CiObject::parse(b"  ")
                .unwrap()
                .string("x")
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn dates_and_addresses() {
        let o = CiObject::parse(
            br#"{"startat":"2023-12-31T12:30:00+03:00","endat":null,"members":["B@x.test","b@x.test"],"admins":["nope"]}"#,
        )
        .unwrap();
        let start = o.date("startat").unwrap().unwrap().unwrap();
        assert_eq!(start.to_rfc3339(), "2023-12-31T09:30:00+00:00");
        assert_eq!(o.date("endat").unwrap(), Some(None));
        assert_eq!(o.date("missing").unwrap(), None);
        assert_eq!(o.addresses("members").unwrap().unwrap(), vec!["b@x.test"]);
        assert!(o.addresses("admins").is_err());
    }
}
