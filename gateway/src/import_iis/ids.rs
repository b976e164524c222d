//! Tenant ids for imported services and the names of the environment variables their
//! secrets move to. The id rules mirror xgate-tenants' (`a-z`, `0-9`, `_`, `-`, 1-48
//! characters, a letter first) and the schema derived from the id must be valid too,
//! so an imported tenant never fails `xgate check` for its name alone.

/// Why an id given on the command line cannot be used.
pub fn check(id: &str) -> Result<(), String> {
    let ok = !id.is_empty()
        && id.len() <= 48
        && id.starts_with(|c: char| c.is_ascii_lowercase())
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if !ok {
        return Err(format!(
            "tenant id `{id}` must be 1-48 characters of a-z, 0-9, `_`, `-`, starting with a letter"
        ));
    }
    xgate_tenants::store::validate_schema_name(&id.replace('-', "_"))
        .map_err(|m| format!("tenant id `{id}` gives an invalid schema name: {m}"))
}

/// An id from the bot's host: its first label (`cts01.corp.test` → `cts01`), or the
/// whole host when the first label is taken or is not a name (an IP address).
pub fn derive(host: &str, taken: &[String]) -> String {
    let host = host.trim_matches(['[', ']']).to_ascii_lowercase();
    let first = host.split('.').next().unwrap_or("");
    let candidates = [sanitize(first), sanitize(&host)];
    for c in candidates.iter().filter(|c| check(c).is_ok()) {
        if !taken.contains(c) {
            return c.clone();
        }
    }
    // Either taken or not a valid id (an IP address): prefix and number it.
    let base = {
        let c = &candidates[1];
        let c = if check(c).is_ok() {
            c.clone()
        } else {
            format!("cts-{c}")
        };
        c.chars().take(44).collect::<String>()
    };
    if check(&base).is_ok() && !taken.contains(&base) {
        return base;
    }
    (2..)
        .map(|n| format!("{base}-{n}"))
        .find(|c| check(c).is_ok() && !taken.contains(c))
        .unwrap_or_else(|| "cts".into())
}

fn sanitize(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        let c = if c.is_ascii_alphanumeric() || c == '_' {
            c.to_ascii_lowercase()
        } else {
            '-'
        };
        if !(c == '-' && out.ends_with('-')) {
            out.push(c);
        }
    }
    out.trim_matches('-').chars().take(48).collect()
}

/// `XGATE_<ID>_<WHAT>`: upper case, `-` as `_`, so that shells accept the name.
pub fn env_var(id: &str, what: &str) -> String {
    format!("XGATE_{}_{what}", id.to_ascii_uppercase().replace('-', "_"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_ids() {
        assert_eq!(derive("cts01.corp.test", &[]), "cts01");
        assert_eq!(derive("my-CTS-domain.com", &[]), "my-cts-domain");
        assert_eq!(
            derive("cts01.other.test", &["cts01".into()]),
            "cts01-other-test"
        );
        assert_eq!(derive("10.0.0.5", &[]), "cts-10-0-0-5");
        assert_eq!(
            derive("10.0.0.5", &["cts-10-0-0-5".into()]),
            "cts-10-0-0-5-2"
        );
        // `pg_` schemas are reserved by PostgreSQL.
        assert_eq!(derive("pg.corp.test", &[]), "pg");
        assert!(check(&derive("pg_x.corp", &[])).is_ok());
    }

    #[test]
    fn explicit_ids_are_checked() {
        assert!(check("cts01").is_ok());
        assert!(check("CTS01").is_err());
        assert!(check("pg_main").is_err());
    }

    #[test]
    fn env_names() {
        assert_eq!(env_var("my-cts", "BOT_TOKEN"), "XGATE_MY_CTS_BOT_TOKEN");
    }
}
