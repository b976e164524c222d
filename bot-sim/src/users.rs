//! The simulated user directory: who exists, their `user_huid`s, and ambiguous identifiers.
//!
//! By default the directory is open (every identifier is a user, with a `user_huid` that
//! stays stable for the life of the process). Given a users list it is closed: only listed
//! users exist, and an identifier listed twice is ambiguous, as in a real directory with
//! duplicate mail or login attributes.

use std::collections::HashMap;
use std::sync::Mutex;

use serde::Serialize;
use uuid::Uuid;

/// What the request's user identifiers are (`contact_type` in the bot API).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ContactType {
    #[default]
    Email,
    AdLogin,
}

impl ContactType {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "email" => Some(Self::Email),
            "ad_login" => Some(Self::AdLogin),
            _ => None,
        }
    }

    pub fn multiple_reason(self) -> &'static str {
        match self {
            Self::Email => "multiple_users_found_by_email",
            Self::AdLogin => "multiple_users_found_by_ad_login",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    pub email: Option<String>,
    pub ad_login: Option<String>,
    pub user_huid: Uuid,
}

impl User {
    /// The identifier to show for this user when the caller speaks `contact_type`;
    /// falls back to the other one when the user has none of that kind.
    pub fn identifier(&self, ct: ContactType) -> (&'static str, &str) {
        let (primary, fallback) = match ct {
            ContactType::Email => (("email", &self.email), ("ad_login", &self.ad_login)),
            ContactType::AdLogin => (("ad_login", &self.ad_login), ("email", &self.email)),
        };
        match (primary.1, fallback.1) {
            (Some(v), _) => (primary.0, v),
            (None, Some(v)) => (fallback.0, v),
            (None, None) => (primary.0, ""),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    Found(User),
    NotFound,
    Multiple,
}

/// One line of a users list, before it gets a `user_huid`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserEntry {
    pub email: Option<String>,
    pub ad_login: Option<String>,
}

impl UserEntry {
    pub fn new(email: Option<&str>, ad_login: Option<&str>) -> Self {
        Self {
            email: email.map(str::to_owned),
            ad_login: ad_login.map(str::to_owned),
        }
    }
}

#[derive(Debug)]
pub enum Directory {
    Open(Mutex<HashMap<(ContactType, String), Uuid>>),
    Closed(ClosedDirectory),
}

#[derive(Debug, Default)]
pub struct ClosedDirectory {
    users: Vec<User>,
    by_email: HashMap<String, Vec<usize>>,
    by_ad_login: HashMap<String, Vec<usize>>,
}

/// Identifiers compare case-insensitively, like mail addresses and AD logins do.
fn key(id: &str) -> String {
    id.trim().to_lowercase()
}

impl Default for Directory {
    fn default() -> Self {
        Self::open()
    }
}

impl Directory {
    pub fn open() -> Self {
        Self::Open(Mutex::new(HashMap::new()))
    }

    pub fn closed(entries: Vec<UserEntry>) -> Self {
        let mut dir = ClosedDirectory::default();
        for UserEntry { email, ad_login } in entries {
            let idx = dir.users.len();
            if let Some(e) = &email {
                dir.by_email.entry(key(e)).or_default().push(idx);
            }
            if let Some(l) = &ad_login {
                dir.by_ad_login.entry(key(l)).or_default().push(idx);
            }
            dir.users.push(User {
                email,
                ad_login,
                user_huid: Uuid::new_v4(),
            });
        }
        Self::Closed(dir)
    }

    pub fn is_open(&self) -> bool {
        matches!(self, Self::Open(_))
    }

    pub fn lookup(&self, ct: ContactType, id: &str) -> Lookup {
        let id = id.trim();
        if id.is_empty() {
            return Lookup::NotFound;
        }
        match self {
            Self::Open(huids) => {
                let mut huids = huids.lock().unwrap_or_else(|e| e.into_inner());
                let user_huid = *huids.entry((ct, key(id))).or_insert_with(Uuid::new_v4);
                let given = Some(id.to_owned());
                let (email, ad_login) = match ct {
                    ContactType::Email => (given, None),
                    ContactType::AdLogin => (None, given),
                };
                Lookup::Found(User {
                    email,
                    ad_login,
                    user_huid,
                })
            }
            Self::Closed(dir) => {
                let index = match ct {
                    ContactType::Email => &dir.by_email,
                    ContactType::AdLogin => &dir.by_ad_login,
                };
                match index.get(&key(id)).map(Vec::as_slice) {
                    None | Some([]) => Lookup::NotFound,
                    Some([one]) => dir
                        .users
                        .get(*one)
                        .cloned()
                        .map_or(Lookup::NotFound, Lookup::Found),
                    Some(_) => Lookup::Multiple,
                }
            }
        }
    }
}

/// Parses a users file: one user per line as `email,ad_login` (either may be empty),
/// `#` comments and blank lines ignored, an optional `email,ad_login` header line.
pub fn parse_users_file(text: &str) -> Result<Vec<UserEntry>, String> {
    let mut out = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if n == 0 && line.eq_ignore_ascii_case("email,ad_login") {
            continue;
        }
        let mut parts = line.split(',');
        let email = non_empty(parts.next());
        let ad_login = non_empty(parts.next());
        if parts.next().is_some() {
            return Err(format!(
                "line {}: expected `email,ad_login`, found more than two fields",
                n + 1
            ));
        }
        if email.is_none() && ad_login.is_none() {
            return Err(format!("line {}: neither email nor ad_login given", n + 1));
        }
        out.push(UserEntry { email, ad_login });
    }
    Ok(out)
}

/// Parses `--users-inline`: comma-separated users, each `email`, `email:ad_login` or
/// `:ad_login`.
pub fn parse_users_inline(list: &str) -> Result<Vec<UserEntry>, String> {
    let mut out = Vec::new();
    for entry in list.split(',') {
        let entry = entry.trim();
        if entry.is_empty() {
            continue;
        }
        let (email, ad_login) = match entry.split_once(':') {
            Some((e, l)) => (non_empty(Some(e)), non_empty(Some(l))),
            None => (non_empty(Some(entry)), None),
        };
        if email.is_none() && ad_login.is_none() {
            return Err(format!("users entry {entry:?} names nobody"));
        }
        out.push(UserEntry { email, ad_login });
    }
    Ok(out)
}

fn non_empty(s: Option<&str>) -> Option<String> {
    s.map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_file_parsing() {
        let users =
            parse_users_file("email,ad_login\n# c\n\na@x.test,alice\n,svc\nb@x.test\n").unwrap();
        assert_eq!(
            users,
            vec![
                UserEntry::new(Some("a@x.test"), Some("alice")),
                UserEntry::new(None, Some("svc")),
                UserEntry::new(Some("b@x.test"), None),
            ]
        );
        assert!(parse_users_file("a,b,c").is_err());
        assert!(parse_users_file(" , ").is_err());
    }

    #[test]
    fn users_inline_parsing() {
        let users = parse_users_inline("a@x.test, b@x.test:bob,:svc").unwrap();
        assert_eq!(
            users,
            vec![
                UserEntry::new(Some("a@x.test"), None),
                UserEntry::new(Some("b@x.test"), Some("bob")),
                UserEntry::new(None, Some("svc")),
            ]
        );
    }

    #[test]
    fn closed_directory_lookups() {
        let dir = Directory::closed(vec![
            UserEntry::new(Some("a@x.test"), Some("alice")),
            UserEntry::new(Some("dup@x.test"), Some("d1")),
            UserEntry::new(Some("dup@x.test"), Some("d2")),
            UserEntry::new(Some("e@x.test"), Some("d1")),
        ]);
        assert!(matches!(
            dir.lookup(ContactType::Email, " A@X.test "),
            Lookup::Found(_)
        ));
        assert!(matches!(
            dir.lookup(ContactType::AdLogin, "ALICE"),
            Lookup::Found(_)
        ));
        assert_eq!(dir.lookup(ContactType::Email, "alice"), Lookup::NotFound);
        assert_eq!(
            dir.lookup(ContactType::Email, "dup@x.test"),
            Lookup::Multiple
        );
        assert_eq!(dir.lookup(ContactType::AdLogin, "d1"), Lookup::Multiple);
        assert!(dir.lookup(ContactType::AdLogin, "d2").is_found());
    }

    #[test]
    fn open_directory_keeps_huids_stable() {
        let dir = Directory::open();
        let Lookup::Found(a) = dir.lookup(ContactType::Email, "a@x.test") else {
            panic!("open directory must find everyone");
        };
        let Lookup::Found(b) = dir.lookup(ContactType::Email, "A@x.test") else {
            panic!("open directory must find everyone");
        };
        let Lookup::Found(c) = dir.lookup(ContactType::Email, "c@x.test") else {
            panic!("open directory must find everyone");
        };
        assert_eq!(a.user_huid, b.user_huid);
        assert_ne!(a.user_huid, c.user_huid);
        assert_eq!(a.user_huid.get_version_num(), 4);
    }

    impl Lookup {
        fn is_found(&self) -> bool {
            matches!(self, Lookup::Found(_))
        }
    }
}
