//! Npgsql connection strings, as the old services kept them in
//! `DatabaseOptions.Connection`: `Host=..;Port=..;Database=..;Username=..;Password=..`.
//! Keys are case-insensitive and have synonyms (`Server`, `User Id`, `PWD`...); values
//! may be quoted. The password is kept only to say that one is set: it never prints.

use std::fmt;

/// One `key=value` pair, the key as written.
#[derive(Clone, PartialEq, Eq)]
pub struct Pair {
    pub key: String,
    pub value: String,
}

impl fmt::Debug for Pair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let value = if is_password(&self.key) {
            "***"
        } else {
            &self.value
        };
        write!(f, "{}={value}", self.key)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Connection {
    pub pairs: Vec<Pair>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NpgsqlError {
    #[error("`{0}` is not a `key=value` pair")]
    NotAPair(String),
    #[error("a quoted value is not closed")]
    UnclosedQuote,
}

/// Canonical Npgsql keys this module knows synonyms for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    Host,
    Port,
    Database,
    Username,
    Password,
}

impl Key {
    fn synonyms(self) -> &'static [&'static str] {
        match self {
            Key::Host => &["host", "server"],
            Key::Port => &["port"],
            Key::Database => &["database", "db"],
            Key::Username => &["username", "user name", "user id", "userid", "user", "uid"],
            Key::Password => &["password", "psw", "pwd"],
        }
    }
}

pub fn is_password(key: &str) -> bool {
    matches_key(key, Key::Password)
}

fn matches_key(written: &str, key: Key) -> bool {
    let w = written.trim().to_ascii_lowercase();
    key.synonyms().contains(&w.as_str())
}

impl Connection {
    pub fn parse(s: &str) -> Result<Connection, NpgsqlError> {
        let mut pairs = Vec::new();
        let mut rest = s.trim();
        while !rest.is_empty() {
            let Some(eq) = rest.find('=') else {
                // A lone `;;` or a trailing `;` is what the guide's own example ends with.
                let junk = rest.split(';').next().unwrap_or("").trim();
                if junk.is_empty() {
                    rest = rest.trim_start_matches(';').trim_start();
                    continue;
                }
                return Err(NpgsqlError::NotAPair(junk.to_string()));
            };
            let key = rest[..eq].trim();
            if key.contains(';') {
                let bad = key.split(';').find(|k| !k.trim().is_empty()).unwrap_or(key);
                return Err(NpgsqlError::NotAPair(bad.trim().to_string()));
            }
            let after = rest[eq + 1..].trim_start();
            let (value, remaining) = match after.chars().next() {
                Some(q @ ('"' | '\'')) => read_quoted(&after[1..], q)?,
                _ => match after.find(';') {
                    Some(end) => (after[..end].trim().to_string(), &after[end + 1..]),
                    None => (after.trim().to_string(), ""),
                },
            };
            if !key.is_empty() {
                pairs.push(Pair {
                    key: key.to_string(),
                    value,
                });
            }
            rest = remaining.trim_start().trim_start_matches(';').trim_start();
        }
        Ok(Connection { pairs })
    }

    /// The last value given for a key or any of its synonyms (later ones win, as in Npgsql).
    pub fn get(&self, key: Key) -> Option<&str> {
        self.pairs
            .iter()
            .rev()
            .find(|p| matches_key(&p.key, key))
            .map(|p| p.value.as_str())
    }

    /// `user@host:port/database`, never the password: what the report prints.
    pub fn describe(&self) -> String {
        let mut s = String::new();
        if let Some(u) = self.get(Key::Username) {
            s.push_str(u);
            s.push('@');
        }
        s.push_str(self.get(Key::Host).unwrap_or("?"));
        s.push(':');
        s.push_str(self.get(Key::Port).unwrap_or("5432"));
        s.push('/');
        s.push_str(self.get(Key::Database).unwrap_or("?"));
        s
    }

    /// Two strings that point at the same database on the same server.
    pub fn same_database(&self, other: &Connection) -> bool {
        let norm = |c: &Connection, k: Key| c.get(k).map(|v| v.trim().to_ascii_lowercase());
        norm(self, Key::Host) == norm(other, Key::Host)
            && norm(self, Key::Port).unwrap_or_else(|| "5432".into())
                == norm(other, Key::Port).unwrap_or_else(|| "5432".into())
            && norm(self, Key::Database) == norm(other, Key::Database)
    }
}

/// A quoted value; the quote character doubled inside stands for itself.
fn read_quoted(s: &str, quote: char) -> Result<(String, &str), NpgsqlError> {
    let mut value = String::new();
    let mut chars = s.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c == quote {
            if chars.peek().map(|&(_, n)| n) == Some(quote) {
                value.push(quote);
                chars.next();
                continue;
            }
            let rest = &s[i + c.len_utf8()..];
            let rest = rest.trim_start();
            let rest = rest.strip_prefix(';').unwrap_or(rest);
            return Ok((value, rest));
        }
        value.push(c);
    }
    Err(NpgsqlError::UnclosedQuote)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GUIDE: &str = "Host=127.0.0.1;Port=5432;Database=express_meeting_db;Username=db_express;Password=Pass1234;Pooling=true;Minimum Pool Size=50;Maximum Pool Size=100;Include Error Detail=True;";

    #[test]
    fn the_guides_string() {
        let c = Connection::parse(GUIDE).unwrap();
        assert_eq!(c.pairs.len(), 9);
        assert_eq!(c.get(Key::Host), Some("127.0.0.1"));
        assert_eq!(c.get(Key::Password), Some("Pass1234"));
        assert_eq!(c.describe(), "db_express@127.0.0.1:5432/express_meeting_db");
        assert!(!format!("{c:?}").contains("Pass1234"));
    }

    #[test]
    fn synonyms_quotes_and_case() {
        let c = Connection::parse("SERVER = db.corp ; user id=svc; PWD='a;b''c'; database=\"x\"")
            .unwrap();
        assert_eq!(c.get(Key::Host), Some("db.corp"));
        assert_eq!(c.get(Key::Username), Some("svc"));
        assert_eq!(c.get(Key::Password), Some("a;b'c"));
        assert_eq!(c.get(Key::Database), Some("x"));
        let other = Connection::parse("host=DB.corp;port=5432;Database=x").unwrap();
        assert!(c.same_database(&other));
    }

    #[test]
    fn garbage_is_an_error() {
        assert_eq!(
            Connection::parse("Host=a;oops;Port=1"),
            Err(NpgsqlError::NotAPair("oops".into()))
        );
        assert_eq!(
            Connection::parse("Password='x"),
            Err(NpgsqlError::UnclosedQuote)
        );
    }
}
