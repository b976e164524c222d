//! Conferences: the stored model, request validation, and the create/update/delete rules.
//!
//! Checks run in a fixed order so that a request with several faults always gets the
//! same reason: attributes, then dates against now, then people, then the conference.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, SubsecRound, Utc};
use rand::Rng;
use rand::distr::Alphanumeric;
use serde::{Serialize, Serializer};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::envelope::BotError;
use crate::users::{ContactType, Directory, Lookup, User};

pub const DEFAULT_NAME: &str = "conference";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkType {
    Public,
    Trusts,
    Corporate,
    Server,
}

impl LinkType {
    fn parse(s: &str) -> Option<Self> {
        match s {
            "public" => Some(Self::Public),
            "trusts" => Some(Self::Trusts),
            "corporate" => Some(Self::Corporate),
            "server" => Some(Self::Server),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Link {
    pub link_id: Uuid,
    pub link_type: LinkType,
    pub link: String,
    pub access_code: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Conference {
    /// Creation order, so listings are stable even though the store is a hash map.
    #[serde(skip)]
    pub seq: u64,
    pub call_id: Uuid,
    pub name: String,
    pub creator: User,
    pub admins: Vec<User>,
    pub members: Vec<User>,
    #[serde(serialize_with = "ser_date")]
    pub start_at: DateTime<Utc>,
    #[serde(serialize_with = "ser_opt_date")]
    pub end_at: Option<DateTime<Utc>>,
    pub link: Link,
    #[serde(serialize_with = "ser_date")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "ser_opt_date")]
    pub updated_at: Option<DateTime<Utc>>,
    pub update_count: u32,
}

impl Conference {
    /// The `result` object of create and update answers.
    pub fn result_json(&self, ct: ContactType) -> Value {
        let members: Vec<Value> = self
            .members
            .iter()
            .map(|u| {
                let (k, v) = u.identifier(ct);
                let mut m = Map::new();
                m.insert(k.to_owned(), Value::String(v.to_owned()));
                m.insert(
                    "user_huid".to_owned(),
                    Value::String(u.user_huid.to_string()),
                );
                Value::Object(m)
            })
            .collect();
        json!({
            "name": self.name,
            "call_id": self.call_id,
            "members": members,
            "start_at": format_date(&self.start_at),
            "end_at": self.end_at.as_ref().map(format_date),
            "link": {
                "link_id": self.link.link_id,
                "link_type": self.link.link_type,
                "link": self.link.link,
                "access_code": self.link.access_code,
            },
        })
    }

    fn is_admin(&self, user: &User) -> bool {
        self.creator.user_huid == user.user_huid
            || self.admins.iter().any(|a| a.user_huid == user.user_huid)
    }
}

/// The bot's date format: UTC with exactly six fractional digits.
pub fn format_date(d: &DateTime<Utc>) -> String {
    d.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

fn ser_date<S: Serializer>(d: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format_date(d))
}

fn ser_opt_date<S: Serializer>(d: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_str(&format_date(d)),
        None => s.serialize_none(),
    }
}

/// Parses a request date. `Ok(None)` is the old service's "not set" value
/// `0001-01-01T00:00:00` (.NET `DateTime.MinValue`), whatever offset it carries.
/// A date without offset is taken as UTC, because .NET writes unspecified-kind
/// dates that way.
pub fn parse_date(s: &str) -> Result<Option<DateTime<Utc>>, String> {
    let s = s.trim();
    let parsed = match DateTime::parse_from_rfc3339(s) {
        Ok(dt) if is_sentinel(&dt.naive_local()) => return Ok(None),
        Ok(dt) => dt.with_timezone(&Utc),
        Err(rfc_err) => {
            let naive = NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
                .map_err(|_| format!("{s:?} is not an ISO 8601 date-time ({rfc_err})"))?;
            if is_sentinel(&naive) {
                return Ok(None);
            }
            naive.and_utc()
        }
    };
    Ok(Some(parsed.trunc_subsecs(6)))
}

fn is_sentinel(dt: &NaiveDateTime) -> bool {
    NaiveDate::from_ymd_opt(1, 1, 1).is_some_and(|d| d.and_time(NaiveTime::MIN) == *dt)
}

/// Field access for a request object that collects every problem before giving up,
/// so one `invalid_attributes` answer lists all of them.
struct Fields<'a> {
    obj: &'a Map<String, Value>,
    errors: Vec<String>,
}

impl<'a> Fields<'a> {
    fn new(obj: &'a Map<String, Value>) -> Self {
        Self {
            obj,
            errors: Vec::new(),
        }
    }

    /// Absent and `null` are the same thing to the bot.
    fn get(&self, key: &str) -> Option<&'a Value> {
        self.obj.get(key).filter(|v| !v.is_null())
    }

    fn string(&mut self, key: &str, required: bool) -> Option<String> {
        match self.get(key) {
            None if required => {
                self.errors.push(format!("{key} is required"));
                None
            }
            None => None,
            Some(Value::String(s)) if required && s.trim().is_empty() => {
                self.errors.push(format!("{key} must not be empty"));
                None
            }
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => {
                self.errors.push(format!("{key} must be a string"));
                None
            }
        }
    }

    fn string_list(&mut self, key: &str, required: bool) -> Option<Vec<String>> {
        match self.get(key) {
            None if required => {
                self.errors.push(format!("{key} is required"));
                None
            }
            None => None,
            Some(Value::Array(items)) => {
                let list: Option<Vec<String>> = items
                    .iter()
                    .map(|v| v.as_str().map(str::to_owned))
                    .collect();
                if list.is_none() {
                    self.errors.push(format!("{key} must be a list of strings"));
                }
                list
            }
            Some(_) => {
                self.errors.push(format!("{key} must be a list of strings"));
                None
            }
        }
    }

    /// `None`: not given (absent, null or the draft sentinel).
    fn date(&mut self, key: &str) -> Option<DateTime<Utc>> {
        match self.get(key) {
            None => None,
            Some(Value::String(s)) => match parse_date(s) {
                Ok(d) => d,
                Err(e) => {
                    self.errors.push(format!("{key}: {e}"));
                    None
                }
            },
            Some(_) => {
                self.errors.push(format!("{key} must be a date string"));
                None
            }
        }
    }

    fn contact_type(&mut self) -> ContactType {
        match self.get("contact_type") {
            None => ContactType::default(),
            Some(Value::String(s)) => ContactType::parse(s).unwrap_or_else(|| {
                self.errors
                    .push("contact_type must be \"email\" or \"ad_login\"".to_owned());
                ContactType::default()
            }),
            Some(_) => {
                self.errors.push("contact_type must be a string".to_owned());
                ContactType::default()
            }
        }
    }

    /// Returns (link_type, access_code); link_type is `None` when not given.
    fn link(&mut self, required: bool) -> (Option<LinkType>, Option<String>) {
        let link = match self.get("link") {
            None if required => {
                self.errors.push("link is required".to_owned());
                return (None, None);
            }
            None => return (None, None),
            Some(Value::Object(link)) => link,
            Some(_) => {
                self.errors.push("link must be an object".to_owned());
                return (None, None);
            }
        };
        let link_type = match link.get("link_type").filter(|v| !v.is_null()) {
            None if required => {
                self.errors.push("link.link_type is required".to_owned());
                None
            }
            None => None,
            Some(v) => {
                let parsed = v.as_str().and_then(LinkType::parse);
                if parsed.is_none() {
                    self.errors.push(
                        "link.link_type must be one of public, trusts, corporate, server"
                            .to_owned(),
                    );
                }
                parsed
            }
        };
        let access_code = match link.get("access_code") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => {
                self.errors
                    .push("link.access_code must be a string or null".to_owned());
                None
            }
        };
        (link_type, access_code)
    }

    fn finish(self) -> Result<(), BotError> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(BotError::invalid_attributes(self.errors))
        }
    }
}

/// Turns a raw body into the request object, or `invalid_attributes`.
pub fn parse_body(body: &[u8]) -> Result<Map<String, Value>, BotError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(BotError::invalid_attributes(vec![
            "request body is empty".to_owned(),
        ]));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(obj)) => Ok(obj),
        Ok(_) => Err(BotError::invalid_attributes(vec![
            "request body must be a JSON object".to_owned(),
        ])),
        Err(e) => Err(BotError::invalid_attributes(vec![format!(
            "malformed JSON: {e}"
        )])),
    }
}

#[derive(Debug, Clone)]
pub struct CreateRequest {
    pub contact_type: ContactType,
    pub name: Option<String>,
    pub members: Vec<String>,
    pub admins: Vec<String>,
    pub creator: String,
    pub start_at: Option<DateTime<Utc>>,
    pub end_at: Option<DateTime<Utc>>,
    pub link_type: LinkType,
    pub access_code: Option<String>,
}

impl CreateRequest {
    pub fn parse(obj: &Map<String, Value>) -> Result<Self, BotError> {
        let mut f = Fields::new(obj);
        let contact_type = f.contact_type();
        let name = f.string("name", false);
        let members = f.string_list("members", true);
        let admins = f.string_list("admins", true);
        let creator = f.string("creator", true);
        let start_at = f.date("start_at");
        let end_at = f.date("end_at");
        let (link_type, access_code) = f.link(true);
        f.finish()?;
        match (members, admins, creator, link_type) {
            (Some(members), Some(admins), Some(creator), Some(link_type)) => Ok(Self {
                contact_type,
                name,
                members,
                admins,
                creator,
                start_at,
                end_at,
                link_type,
                access_code,
            }),
            // Unreachable in practice: every `None` above also recorded an error.
            _ => Err(BotError::invalid_attributes(vec![
                "missing required attributes".to_owned(),
            ])),
        }
    }
}

#[derive(Debug, Clone)]
pub struct UpdateRequest {
    pub contact_type: ContactType,
    pub actor: String,
    pub name: Option<String>,
    pub members: Option<Vec<String>>,
    pub admins: Option<Vec<String>>,
    pub start_at: Option<DateTime<Utc>>,
    pub end_at: Option<DateTime<Utc>>,
    pub link_type: Option<LinkType>,
    pub access_code: Option<String>,
}

impl UpdateRequest {
    pub fn parse(obj: &Map<String, Value>) -> Result<Self, BotError> {
        let mut f = Fields::new(obj);
        let contact_type = f.contact_type();
        let actor = f.string("actor", true);
        let name = f.string("name", false);
        let members = f.string_list("members", false);
        let admins = f.string_list("admins", false);
        let start_at = f.date("start_at");
        let end_at = f.date("end_at");
        let (link_type, access_code) = f.link(false);
        f.finish()?;
        let Some(actor) = actor else {
            return Err(BotError::invalid_attributes(vec![
                "actor is required".to_owned(),
            ]));
        };
        Ok(Self {
            contact_type,
            actor,
            name,
            members,
            admins,
            start_at,
            end_at,
            link_type,
            access_code,
        })
    }
}

#[derive(Debug, Clone)]
pub struct DeleteRequest {
    pub contact_type: ContactType,
    pub actor: String,
}

impl DeleteRequest {
    pub fn parse(obj: &Map<String, Value>) -> Result<Self, BotError> {
        let mut f = Fields::new(obj);
        let contact_type = f.contact_type();
        let actor = f.string("actor", true);
        f.finish()?;
        let Some(actor) = actor else {
            return Err(BotError::invalid_attributes(vec![
                "actor is required".to_owned(),
            ]));
        };
        Ok(Self {
            contact_type,
            actor,
        })
    }
}

fn resolve_one(
    dir: &Directory,
    ct: ContactType,
    id: &str,
    not_found: fn(&str) -> BotError,
) -> Result<User, BotError> {
    match dir.lookup(ct, id) {
        Lookup::Found(u) => Ok(u),
        Lookup::NotFound => Err(not_found(id)),
        Lookup::Multiple => Err(BotError::multiple_users_found(ct.multiple_reason(), id)),
    }
}

/// Unknown identifiers are dropped silently, as the real bot does; an ambiguous one
/// fails the whole call.
fn resolve_list(dir: &Directory, ct: ContactType, ids: &[String]) -> Result<Vec<User>, BotError> {
    let mut users: Vec<User> = Vec::new();
    for id in ids {
        match dir.lookup(ct, id) {
            Lookup::Found(u) => {
                if !users.iter().any(|x| x.user_huid == u.user_huid) {
                    users.push(u);
                }
            }
            Lookup::NotFound => {}
            Lookup::Multiple => {
                return Err(BotError::multiple_users_found(ct.multiple_reason(), id));
            }
        }
    }
    Ok(users)
}

fn resolve_members(
    dir: &Directory,
    ct: ContactType,
    ids: &[String],
) -> Result<Vec<User>, BotError> {
    let members = resolve_list(dir, ct, ids)?;
    if members.is_empty() {
        return Err(BotError::no_users_found());
    }
    Ok(members)
}

fn check_dates(
    start: DateTime<Utc>,
    end: Option<DateTime<Utc>>,
    end_given: bool,
    now: DateTime<Utc>,
) -> Result<(), BotError> {
    if let Some(end) = end {
        // Only a newly given end is checked against now: a stored conference whose
        // end has passed can still be renamed.
        if end_given && end < now {
            return Err(BotError::end_at_earlier_than_now());
        }
        if start > end {
            return Err(BotError::start_at_later_than_end_at());
        }
    }
    Ok(())
}

fn join_link(link_base: &str) -> String {
    let opaque: String = rand::rng()
        .sample_iter(&Alphanumeric)
        .take(22)
        .map(char::from)
        .collect();
    if link_base.ends_with('/') {
        format!("{link_base}{opaque}")
    } else {
        format!("{link_base}/{opaque}")
    }
}

pub fn create(
    req: CreateRequest,
    dir: &Directory,
    now: DateTime<Utc>,
    link_base: &str,
    seq: u64,
) -> Result<Conference, BotError> {
    let now = now.trunc_subsecs(6);
    let start_at = req.start_at.unwrap_or(now);
    check_dates(start_at, req.end_at, true, now)?;
    let ct = req.contact_type;
    let creator = resolve_one(dir, ct, &req.creator, BotError::creator_not_found)?;
    let members = resolve_members(dir, ct, &req.members)?;
    let admins = resolve_list(dir, ct, &req.admins)?;
    Ok(Conference {
        seq,
        call_id: Uuid::new_v4(),
        name: req.name.unwrap_or_else(|| DEFAULT_NAME.to_owned()),
        creator,
        admins,
        members,
        start_at,
        end_at: req.end_at,
        link: Link {
            link_id: Uuid::new_v4(),
            link_type: req.link_type,
            link: join_link(link_base),
            access_code: req.access_code,
        },
        created_at: now,
        updated_at: None,
        update_count: 0,
    })
}

/// Applies an update to `conf` (`None` when the call_id is unknown). On update an absent
/// or `null` field keeps its stored value, as the old service relies on for `link_type`.
pub fn update(
    conf: Option<&mut Conference>,
    req: UpdateRequest,
    dir: &Directory,
    now: DateTime<Utc>,
) -> Result<(), BotError> {
    let now = now.trunc_subsecs(6);
    if let Some(end) = req.end_at
        && end < now
    {
        return Err(BotError::end_at_earlier_than_now());
    }
    let ct = req.contact_type;
    let actor = resolve_one(dir, ct, &req.actor, BotError::actor_not_found)?;
    let conf = conf.ok_or_else(BotError::conference_not_found)?;
    if !conf.is_admin(&actor) {
        return Err(BotError::not_permitted());
    }
    let start_at = req.start_at.unwrap_or(conf.start_at);
    let end_at = req.end_at.or(conf.end_at);
    if req.start_at.is_some() || req.end_at.is_some() {
        check_dates(start_at, end_at, req.end_at.is_some(), now)?;
    }
    let members = match &req.members {
        Some(ids) => Some(resolve_members(dir, ct, ids)?),
        None => None,
    };
    let admins = match &req.admins {
        Some(ids) => Some(resolve_list(dir, ct, ids)?),
        None => None,
    };

    if let Some(name) = req.name {
        conf.name = name;
    }
    if let Some(members) = members {
        conf.members = members;
    }
    if let Some(admins) = admins {
        conf.admins = admins;
    }
    conf.start_at = start_at;
    conf.end_at = end_at;
    if let Some(lt) = req.link_type {
        conf.link.link_type = lt;
    }
    if req.access_code.is_some() {
        conf.link.access_code = req.access_code;
    }
    conf.updated_at = Some(now);
    conf.update_count += 1;
    Ok(())
}

/// Checks that `req` may delete `conf` (`None` when the call_id is unknown).
pub fn authorize_delete(
    conf: Option<&Conference>,
    req: &DeleteRequest,
    dir: &Directory,
) -> Result<(), BotError> {
    let actor = resolve_one(dir, req.contact_type, &req.actor, BotError::actor_not_found)?;
    let conf = conf.ok_or_else(BotError::conference_not_found)?;
    if !conf.is_admin(&actor) {
        return Err(BotError::not_permitted());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_parse_offsets_fractions_and_the_draft_sentinel() {
        let d = parse_date("2023-12-31T12:30:00+03:00").unwrap().unwrap();
        assert_eq!(format_date(&d), "2023-12-31T09:30:00.000000Z");
        let d = parse_date("2023-12-21T10:10:00.0Z").unwrap().unwrap();
        assert_eq!(format_date(&d), "2023-12-21T10:10:00.000000Z");
        let d = parse_date("2022-10-31T10:10:46.2753049Z").unwrap().unwrap();
        assert_eq!(format_date(&d), "2022-10-31T10:10:46.275304Z");
        let d = parse_date("2023-12-21T10:10:00").unwrap().unwrap();
        assert_eq!(format_date(&d), "2023-12-21T10:10:00.000000Z");
        assert_eq!(parse_date("0001-01-01T00:00:00").unwrap(), None);
        assert_eq!(parse_date("0001-01-01T00:00:00Z").unwrap(), None);
        assert!(parse_date("2023-12-21T10:10:00.OZ").is_err());
        assert!(parse_date("tomorrow").is_err());
    }
}
