//! Authorization of bot API calls: none, Bearer token, or HTTP Basic, as installations vary.

use std::fmt;

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use base64::Engine;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

#[derive(Clone, PartialEq, Eq)]
pub enum Auth {
    None,
    Bearer { token: String },
    Basic { user: String, password: String },
}

// Hand-written so that secrets never reach a log line through `{:?}`.
impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::None => f.write_str("None"),
            Self::Bearer { .. } => f.write_str("Bearer { token: <redacted> }"),
            Self::Basic { user, .. } => {
                write!(f, "Basic {{ user: {user:?}, password: <redacted> }}")
            }
        }
    }
}

impl Auth {
    pub fn mode(&self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Bearer { .. } => "bearer",
            Self::Basic { .. } => "basic",
        }
    }

    pub fn permits(&self, headers: &HeaderMap) -> bool {
        let credentials = || {
            let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
            let (scheme, rest) = value.trim().split_once(' ')?;
            Some((scheme.to_owned(), rest.trim().to_owned()))
        };
        match self {
            Self::None => true,
            Self::Bearer { token } => match credentials() {
                Some((scheme, given)) if scheme.eq_ignore_ascii_case("bearer") => {
                    constant_time_eq(given.as_bytes(), token.as_bytes())
                }
                _ => false,
            },
            Self::Basic { user, password } => match credentials() {
                Some((scheme, given)) if scheme.eq_ignore_ascii_case("basic") => {
                    // Clients differ on padding; accept both forms.
                    let engine = GeneralPurpose::new(
                        &alphabet::STANDARD,
                        GeneralPurposeConfig::new()
                            .with_decode_padding_mode(DecodePaddingMode::Indifferent),
                    );
                    let Ok(decoded) = engine.decode(given) else {
                        return false;
                    };
                    let expected = format!("{user}:{password}");
                    constant_time_eq(&decoded, expected.as_bytes())
                }
                _ => false,
            },
        }
    }
}

/// The scheme word of the Authorization header as sent (e.g. `Bearer`), never the credentials.
pub fn scheme(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(AUTHORIZATION)?;
    let value = String::from_utf8_lossy(value.as_bytes());
    let scheme = value.split_whitespace().next()?;
    Some(scheme.to_owned())
}

/// Avoids leaking through timing how much of a guessed secret was right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(AUTHORIZATION, HeaderValue::from_str(v).unwrap());
        h
    }

    #[test]
    fn bearer_and_basic_checks() {
        let bearer = Auth::Bearer {
            token: "T0k".into(),
        };
        assert!(bearer.permits(&headers("Bearer T0k")));
        assert!(bearer.permits(&headers("bearer T0k")));
        assert!(!bearer.permits(&headers("Bearer t0k")));
        assert!(!bearer.permits(&headers("Basic T0k")));
        assert!(!bearer.permits(&HeaderMap::new()));

        let basic = Auth::Basic {
            user: "u".into(),
            password: "p:w".into(),
        };
        // base64("u:p:w") = "dTpwOnc="
        assert!(basic.permits(&headers("Basic dTpwOnc=")));
        assert!(basic.permits(&headers("Basic dTpwOnc")));
        assert!(!basic.permits(&headers("Basic dTpwOnd=")));
        assert!(!basic.permits(&headers("Bearer dTpwOnc=")));
        assert_eq!(scheme(&headers("Basic dTpwOnc=")).as_deref(), Some("Basic"));
    }

    #[test]
    fn debug_redacts_secrets() {
        let s = format!(
            "{:?} {:?}",
            Auth::Bearer {
                token: "SECRET1".into()
            },
            Auth::Basic {
                user: "u".into(),
                password: "SECRET2".into()
            }
        );
        assert!(!s.contains("SECRET"));
    }
}
