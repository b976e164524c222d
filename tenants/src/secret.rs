//! Secrets (bot tokens, passwords, JWT keys) and where they come from.
//!
//! A `Secret` never prints: `Debug` and `Display` show `***`, and it has no `Serialize`.
//! The only way out is `expose()`, which the code calls exactly where the value is sent.

use std::fmt;
use std::path::{Path, PathBuf};

#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// How the config names a secret: `env:NAME`, `file:PATH`, or the literal value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretRef {
    Env(String),
    File(PathBuf),
    Literal(Secret),
}

impl SecretRef {
    pub fn parse(raw: &str, base_dir: &Path) -> SecretRef {
        if let Some(name) = raw.strip_prefix("env:") {
            SecretRef::Env(name.to_string())
        } else if let Some(path) = raw.strip_prefix("file:") {
            SecretRef::File(base_dir.join(path))
        } else {
            SecretRef::Literal(Secret::new(raw))
        }
    }

    /// Reads the secret now. Errors name the variable or the path, never the value.
    pub fn resolve(&self) -> Result<Secret, String> {
        match self {
            SecretRef::Env(name) => match std::env::var(name) {
                Ok(v) if !v.is_empty() => Ok(Secret::new(v)),
                Ok(_) => Err(format!("environment variable `{name}` is empty")),
                Err(_) => Err(format!("environment variable `{name}` is not set")),
            },
            SecretRef::File(path) => match std::fs::read_to_string(path) {
                // A trailing newline is what `echo x > file` leaves; it is never part of a token.
                Ok(v) if !v.trim_end_matches(['\r', '\n']).is_empty() => {
                    Ok(Secret::new(v.trim_end_matches(['\r', '\n'])))
                }
                Ok(_) => Err(format!("secret file `{}` is empty", path.display())),
                Err(e) => Err(format!(
                    "cannot read secret file `{}`: {}",
                    path.display(),
                    e.kind()
                )),
            },
            SecretRef::Literal(s) if s.expose().is_empty() => Err("secret is empty".into()),
            SecretRef::Literal(s) => Ok(s.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_prints() {
        let s = Secret::new("3bDewf52b3268sdg59f1f7fff33w01dd3c0431");
        assert!(!format!("{s:?} {s}").contains("3bDew"));
    }

    #[test]
    fn errors_name_the_source_not_the_value() {
        let r = SecretRef::parse("env:XGATE_TEST_SURELY_UNSET_VAR", Path::new("/"));
        let err = r.resolve().unwrap_err();
        assert!(err.contains("XGATE_TEST_SURELY_UNSET_VAR"), "{err}");
        let r = SecretRef::parse("file:nope/missing.txt", Path::new("/tmp/xgate-none"));
        assert!(
            r.resolve()
                .unwrap_err()
                .contains("/tmp/xgate-none/nope/missing.txt")
        );
    }
}
