//! Reading ASP.NET `appsettings*.json` files the way the .NET JSON config provider
//! does: JSON plus `//` and `/* */` comments and trailing commas, keys compared without
//! regard to case, and the whole tree flattened into key paths (`ExpressOptions.Token`,
//! `Serilog.WriteTo[0].Args.path`), the form the vendor guide writes them in.

use serde_json::Value;

/// One leaf of the settings tree: a key path and its value as .NET would see it (a string).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// As written in the file, dotted, with `[i]` for array items.
    pub key: String,
    pub value: String,
}

/// Every leaf of one file, sorted by key path.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    pub entries: Vec<Entry>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum JsonError {
    #[error("line {line}, column {column}: {message}")]
    Syntax {
        line: usize,
        column: usize,
        message: String,
    },
    #[error("unterminated /* comment starting on line {line}")]
    UnterminatedComment { line: usize },
    #[error("the top level must be a JSON object")]
    NotAnObject,
    /// .NET's provider refuses such a file too ("A duplicate key was found"), so the
    /// old service could not have run with it: better to stop than to guess.
    #[error("key `{key}` appears twice (keys are case-insensitive in .NET config)")]
    DuplicateKey { key: String },
}

impl Settings {
    /// The value of a key path, compared case-insensitively.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|e| e.key.eq_ignore_ascii_case(key))
            .map(|e| e.value.as_str())
    }
}

/// The file's text: UTF-8 (with or without a BOM), or UTF-16 with a BOM, which is what
/// Notepad's "Unicode" saves.
pub fn decode(bytes: &[u8]) -> Result<String, String> {
    let utf16 = |rest: &[u8], unit: fn([u8; 2]) -> u16| {
        let units: Vec<u16> = rest.chunks_exact(2).map(|c| unit([c[0], c[1]])).collect();
        String::from_utf16(&units).map_err(|_| "not valid UTF-16".to_string())
    };
    match bytes {
        [0xff, 0xfe, rest @ ..] => utf16(rest, u16::from_le_bytes),
        [0xfe, 0xff, rest @ ..] => utf16(rest, u16::from_be_bytes),
        _ => String::from_utf8(bytes.to_vec())
            .map_err(|_| "not UTF-8 (nor UTF-16 with a BOM); save it as UTF-8".to_string()),
    }
}

pub fn parse(text: &str) -> Result<Settings, JsonError> {
    // Visual Studio saves appsettings with a UTF-8 BOM, which serde_json refuses.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let clean = strip_trailing_commas(&strip_comments(text)?);
    let value: Value = serde_json::from_str(&clean).map_err(|e| {
        // serde_json appends " at line L column C", which Syntax says itself.
        let message = e.to_string();
        let message = match message.rfind(" at line ") {
            Some(i) => message[..i].to_string(),
            None => message,
        };
        JsonError::Syntax {
            line: e.line(),
            column: e.column(),
            message,
        }
    })?;
    let Value::Object(_) = value else {
        return Err(JsonError::NotAnObject);
    };
    let mut entries = Vec::new();
    flatten("", &value, &mut entries);
    entries.sort_by_key(|e| e.key.to_ascii_lowercase());
    if let Some(pair) = entries
        .windows(2)
        .find(|w| w[0].key.eq_ignore_ascii_case(&w[1].key))
    {
        return Err(JsonError::DuplicateKey {
            key: pair[1].key.clone(),
        });
    }
    Ok(Settings { entries })
}

fn flatten(prefix: &str, value: &Value, out: &mut Vec<Entry>) {
    let leaf = |v: String, out: &mut Vec<Entry>| {
        out.push(Entry {
            key: prefix.to_string(),
            value: v,
        })
    };
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, v, out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                flatten(&format!("{prefix}[{i}]"), v, out);
            }
        }
        Value::String(s) => leaf(s.clone(), out),
        Value::Null => leaf(String::new(), out),
        Value::Bool(b) => leaf(b.to_string(), out),
        Value::Number(n) => leaf(n.to_string(), out),
    }
}

/// Replaces comments with spaces (newlines kept), so serde_json's line and column in
/// an error still point into the file the operator has open.
fn strip_comments(text: &str) -> Result<String, JsonError> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let mut in_string = false;
    let mut line = 1;
    while i < chars.len() {
        let c = chars[i];
        if c == '\n' {
            line += 1;
        }
        if in_string {
            out.push(c);
            if c == '\\' && i + 1 < chars.len() {
                out.push(chars[i + 1]);
                i += 1;
            } else if c == '"' {
                in_string = false;
            }
            i += 1;
            continue;
        }
        match (c, chars.get(i + 1)) {
            ('"', _) => {
                in_string = true;
                out.push(c);
                i += 1;
            }
            ('/', Some('/')) => {
                while i < chars.len() && chars[i] != '\n' {
                    out.push(' ');
                    i += 1;
                }
            }
            ('/', Some('*')) => {
                let start = line;
                out.push_str("  ");
                i += 2;
                loop {
                    match (chars.get(i), chars.get(i + 1)) {
                        (None, _) => return Err(JsonError::UnterminatedComment { line: start }),
                        (Some('*'), Some('/')) => {
                            out.push_str("  ");
                            i += 2;
                            break;
                        }
                        (Some('\n'), _) => {
                            line += 1;
                            out.push('\n');
                            i += 1;
                        }
                        (Some(_), _) => {
                            out.push(' ');
                            i += 1;
                        }
                    }
                }
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    Ok(out)
}

/// Drops a comma whose next significant character closes an object or array.
/// Runs on comment-free text, so only whitespace can stand between the two.
fn strip_trailing_commas(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut in_string = false;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if in_string {
            out.push(c);
            if c == '\\' && i + 1 < chars.len() {
                out.push(chars[i + 1]);
                i += 1;
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
            out.push(c);
        } else if c == ',' {
            let next = chars[i + 1..].iter().find(|c| !c.is_whitespace());
            out.push(if matches!(next, Some('}' | ']')) {
                ' '
            } else {
                ','
            });
        } else {
            out.push(c);
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_trailing_commas_and_case() {
        let s = parse(
            "\u{feff}{ // options\n \"ExpressOptions\": { /* the bot */ \"Uri\": \"https://a//b/*c*/\", },\n \"List\": [1, 2,],\n}",
        )
        .unwrap();
        assert_eq!(s.get("expressoptions.URI"), Some("https://a//b/*c*/"));
        assert_eq!(s.get("List[1]"), Some("2"));
    }

    #[test]
    fn utf16_files() {
        let mut bytes = vec![0xff, 0xfe];
        bytes.extend("{\"A\": \"я\"}".encode_utf16().flat_map(u16::to_le_bytes));
        assert_eq!(parse(&decode(&bytes).unwrap()).unwrap().get("a"), Some("я"));
        assert!(decode(&[0xc3, 0x28]).is_err());
    }

    #[test]
    fn escaped_quotes_do_not_end_strings() {
        let s = parse(r#"{"A": "x\" // not a comment", "B": 1}"#).unwrap();
        assert_eq!(s.get("a"), Some("x\" // not a comment"));
    }

    #[test]
    fn errors_point_at_the_original_line() {
        let err = parse("{\n/* one\ntwo */\n\"A\": x\n}").unwrap_err();
        assert_eq!(err.to_string(), "line 4, column 6: expected value");
        assert_eq!(
            parse("{ /* open").unwrap_err(),
            JsonError::UnterminatedComment { line: 1 }
        );
    }

    #[test]
    fn case_insensitive_duplicates_are_refused() {
        let err = parse(r#"{"Jwt": {"Key": "a", "key": "b"}}"#).unwrap_err();
        assert!(matches!(err, JsonError::DuplicateKey { .. }), "{err}");
    }
}
