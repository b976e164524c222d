//! The old `ExpressOptions.Token` value: `Bearer <token>` for StaticToken, and what a
//! Basic installation may hold there (`Basic <base64 of user:password>`). Only what
//! the import needs leaves this module: whether a secret exists, and the Basic user
//! name (not a secret). Secret values are never returned in a printable type.

/// What a token value says about the bot's authentication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenValue {
    /// Empty or only the scheme word: the guide says to leave the key as shipped
    /// when the bot has no authentication.
    Empty,
    /// A bearer token (the `Bearer ` prefix, if any, removed).
    Bearer,
    /// `Basic <base64>` that decodes to `user:password`.
    Basic { username: String },
    /// `Basic <something>` that does not decode to `user:password`.
    BadBasic,
}

pub fn classify(raw: &str) -> TokenValue {
    let raw = raw.trim();
    let (scheme, rest) = match raw.split_once(char::is_whitespace) {
        Some((s, r)) => (s, r.trim()),
        None => (raw, ""),
    };
    if scheme.eq_ignore_ascii_case("bearer") {
        return if rest.is_empty() {
            TokenValue::Empty
        } else {
            TokenValue::Bearer
        };
    }
    if scheme.eq_ignore_ascii_case("basic") {
        if rest.is_empty() {
            return TokenValue::Empty;
        }
        return match decode_base64(rest)
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| s.split_once(':').map(|(u, _)| u.to_string()))
        {
            Some(username) if !username.is_empty() => TokenValue::Basic { username },
            _ => TokenValue::BadBasic,
        };
    }
    if raw.is_empty() {
        TokenValue::Empty
    } else {
        // A bare token without the scheme word: the old service sent it as given,
        // xgate adds `Bearer ` itself.
        TokenValue::Bearer
    }
}

/// Standard base64 (padding optional). A dependency for ten lines is not worth it.
fn decode_base64(s: &str) -> Option<Vec<u8>> {
    let digit = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let s = s.trim_end_matches('=').as_bytes();
    if s.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    for chunk in s.chunks(4) {
        let mut acc = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            acc |= digit(c)? << (18 - 6 * i);
        }
        let bytes = acc.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_with_and_without_prefix() {
        assert_eq!(classify("Bearer dfgdf509usds0f9n0ud"), TokenValue::Bearer);
        assert_eq!(classify("bearer   x"), TokenValue::Bearer);
        assert_eq!(classify("3bDewf52b3268sdg"), TokenValue::Bearer);
        assert_eq!(classify("Bearer "), TokenValue::Empty);
        assert_eq!(classify(""), TokenValue::Empty);
    }

    #[test]
    fn basic_gives_the_user_name_only() {
        // base64("svc-outlook:S3cret!")
        assert_eq!(
            classify("Basic c3ZjLW91dGxvb2s6UzNjcmV0IQ=="),
            TokenValue::Basic {
                username: "svc-outlook".into()
            }
        );
        assert_eq!(classify("Basic !!!"), TokenValue::BadBasic);
        assert_eq!(decode_base64("YQ").as_deref(), Some(&b"a"[..]));
        assert_eq!(decode_base64("YWI").as_deref(), Some(&b"ab"[..]));
    }
}
