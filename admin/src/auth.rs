//! Who is calling the admin API: passwords (argon2id), tokens (JWT, HS256 only), CSRF,
//! and login throttling.
//!
//! A token is bound to one tenant (`aud` = tenant id, checked against the tenant the
//! request reached), to one admin (`sub`) and to that admin's `token_version`, which
//! logout and every password change bump: revoking is one UPDATE, with no token list.
//! Tokens ride in an HttpOnly, SameSite=Strict cookie for the UI, or a Bearer header for
//! scripts; a cookie-borne token must come with the `X-CSRF-Token` header carrying the
//! token's own `csrf` claim on every state-changing request (a cross-site form cannot
//! read it, and a Bearer token is never sent by a browser on its own).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use http::HeaderMap;
use jsonwebtoken::{DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use xgate_tenants::config::JwtSettings;

use crate::error::AdminError;

pub const COOKIE: &str = "xgate_admin";
pub const CSRF_HEADER: &str = "x-csrf-token";
pub const MIN_PASSWORD_CHARS: usize = 12;

/// OWASP's argon2id baseline (19 MiB, 2 passes): about 30 ms per login on one core.
fn argon2() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes on a blocking thread: argon2 is deliberately slow.
pub async fn hash_password(password: String) -> Result<String, AdminError> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        argon2()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| AdminError::Internal(format!("hashing failed: {e}")))
    })
    .await
    .map_err(|e| AdminError::Internal(e.to_string()))?
}

/// Verifies against `hash`, or against a dummy hash when there is none (always false
/// then), so an unknown login costs as much time as a wrong password.
pub async fn verify_password(password: String, hash: Option<String>) -> bool {
    tokio::task::spawn_blocking(move || {
        let known = hash.is_some();
        let hash = hash.unwrap_or_else(dummy_hash);
        let matches = PasswordHash::new(&hash)
            .map(|parsed| {
                argon2()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
            .unwrap_or(false);
        matches && known
    })
    .await
    .unwrap_or(false)
}

fn dummy_hash() -> String {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY
        .get_or_init(|| {
            let salt = SaltString::generate(&mut OsRng);
            argon2()
                .hash_password(b"no such admin", &salt)
                .map(|h| h.to_string())
                .unwrap_or_default()
        })
        .clone()
}

/// Length in characters (not bytes): Cyrillic passphrases count like Latin ones.
pub fn check_new_password(password: &str, confirm: Option<&str>) -> Result<(), AdminError> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(AdminError::PasswordTooShort);
    }
    if confirm.is_some_and(|c| c != password) {
        return Err(AdminError::PasswordMismatch);
    }
    Ok(())
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub iss: String,
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    /// The admin's `token_version` when issued.
    pub ver: i64,
    /// Double-submit value the UI echoes in `X-CSRF-Token`.
    pub csrf: String,
    /// Issued to a login without a password: it may only set one.
    #[serde(default)]
    pub setup: bool,
}

pub fn issue(
    jwt: &JwtSettings,
    tenant_id: &str,
    login: &str,
    version: i64,
    setup: bool,
) -> Result<(String, Claims), AdminError> {
    let now = chrono::Utc::now().timestamp();
    let lifetime = i64::try_from(jwt.lifetime.as_secs()).unwrap_or(i64::MAX / 2);
    let claims = Claims {
        sub: login.to_string(),
        iss: jwt.issuer.clone(),
        aud: tenant_id.to_string(),
        exp: now + lifetime,
        iat: now,
        ver: version,
        csrf: uuid::Uuid::new_v4().simple().to_string(),
        setup,
    };
    let token = jsonwebtoken::encode(
        &Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(jwt.key.expose().as_bytes())
            .map_err(|e| AdminError::Internal(format!("signing key: {e}")))?,
    )
    .map_err(|e| AdminError::Internal(format!("signing failed: {e}")))?;
    Ok((token, claims))
}

/// Checks signature (HS256 only: `none` and every other algorithm are refused), expiry,
/// issuer and audience (this tenant). Revocation is checked by the caller against the store.
pub fn verify(jwt: &JwtSettings, tenant_id: &str, token: &str) -> Result<Claims, AdminError> {
    let mut v = Validation::new(jsonwebtoken::Algorithm::HS256);
    v.algorithms = vec![jsonwebtoken::Algorithm::HS256];
    v.leeway = 5;
    v.set_issuer(&[jwt.issuer.as_str()]);
    v.set_audience(&[tenant_id]);
    v.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    let key = DecodingKey::from_secret(jwt.key.expose().as_bytes())
        .map_err(|e| AdminError::Internal(format!("verifying key: {e}")))?;
    jsonwebtoken::decode::<Claims>(token, &key, &v)
        .map(|d| d.claims)
        .map_err(|e| {
            tracing::debug!(error = %e, "admin token refused");
            AdminError::Unauthenticated
        })
}

/// Where the token came from decides whether CSRF applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Carrier {
    Cookie,
    Bearer,
}

/// The token of a request: `Authorization: Bearer` wins over the cookie.
pub fn token_of(headers: &HeaderMap) -> Option<(String, Carrier)> {
    if let Some(v) = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        && let Some(t) = v
            .strip_prefix("Bearer ")
            .or_else(|| v.strip_prefix("bearer "))
    {
        return Some((t.trim().to_string(), Carrier::Bearer));
    }
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| (value.to_string(), Carrier::Cookie))
}

/// Constant-time comparison of the CSRF header with the token's claim.
pub fn csrf_ok(headers: &HeaderMap, claims: &Claims) -> bool {
    use subtle::ConstantTimeEq;
    headers
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| bool::from(v.as_bytes().ct_eq(claims.csrf.as_bytes())))
}

/// `Set-Cookie` for a token, scoped to the tenant's path (`/` on its own port,
/// `/t/{tenant}/` on the shared listener) so tenants on one host do not see each other's.
pub fn set_cookie(token: &str, path: &str, max_age: Duration) -> String {
    format!(
        "{COOKIE}={token}; Path={path}; Max-Age={}; HttpOnly; SameSite=Strict",
        max_age.as_secs()
    )
}

pub fn clear_cookie(path: &str) -> String {
    format!("{COOKIE}=; Path={path}; Max-Age=0; HttpOnly; SameSite=Strict")
}

/// Failed logins, per (tenant, login) and per (tenant, address): after `MAX_FAILURES`
/// (four times that for an address) within `WINDOW` further attempts are refused until the window passes, even with the
/// right password, so guessing cannot outpace it.
#[derive(Default)]
pub struct Throttle {
    failures: Mutex<HashMap<String, Vec<Instant>>>,
}

pub const MAX_FAILURES: usize = 5;
const WINDOW: Duration = Duration::from_secs(15 * 60);

impl Throttle {
    fn keys(tenant: &str, login: &str, addr: Option<IpAddr>) -> [String; 2] {
        [
            format!("{tenant}\u{0}login\u{0}{}", login.to_lowercase()),
            format!(
                "{tenant}\u{0}addr\u{0}{}",
                addr.map(|a| a.to_string()).unwrap_or_default()
            ),
        ]
    }

    pub fn blocked(&self, tenant: &str, login: &str, addr: Option<IpAddr>) -> bool {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        // One address may be many people behind a NAT: it gets more room than a login.
        let limits = [MAX_FAILURES, MAX_FAILURES * 4];
        Self::keys(tenant, login, addr)
            .iter()
            .zip(limits)
            .any(|(k, limit)| {
                map.get_mut(k).is_some_and(|v| {
                    v.retain(|t| now.duration_since(*t) < WINDOW);
                    v.len() >= limit
                })
            })
    }

    pub fn failed(&self, tenant: &str, login: &str, addr: Option<IpAddr>) {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        // Bounded: a flood of distinct logins must not grow the map without end.
        if map.len() > 100_000 {
            map.clear();
        }
        for k in Self::keys(tenant, login, addr) {
            map.entry(k).or_default().push(Instant::now());
        }
    }

    pub fn succeeded(&self, tenant: &str, login: &str) {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let [by_login, _] = Self::keys(tenant, login, None);
        map.remove(&by_login);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use xgate_tenants::Secret;

    fn jwt(key: &str) -> JwtSettings {
        JwtSettings {
            key: Secret::new(key),
            issuer: "xgate".into(),
            lifetime: Duration::from_secs(600),
        }
    }

    #[test]
    fn tokens_are_bound_to_tenant_and_key() {
        let k = jwt("0123456789abcdef0123456789abcdef");
        let (t, _) = issue(&k, "acme", "admin", 0, false).unwrap();
        assert_eq!(verify(&k, "acme", &t).unwrap().sub, "admin");
        assert!(verify(&k, "globex", &t).is_err(), "audience");
        assert!(verify(&jwt("another key, also 32 bytes long!!"), "acme", &t).is_err());
    }

    #[tokio::test]
    async fn passwords_hash_and_verify() {
        let h = hash_password("correct horse battery".into()).await.unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery".into(), Some(h.clone())).await);
        assert!(!verify_password("wrong".into(), Some(h)).await);
        assert!(!verify_password("no such admin".into(), None).await);
    }

    #[test]
    fn throttle_blocks_after_failures() {
        let t = Throttle::default();
        for _ in 0..MAX_FAILURES {
            assert!(!t.blocked("acme", "admin", None));
            t.failed("acme", "admin", None);
        }
        assert!(t.blocked("acme", "ADMIN", None));
        assert!(!t.blocked("globex", "admin", None));
    }
}
