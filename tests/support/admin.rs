//! Speaking the admin API (`/api/admin`) as the UI does (cookie + `X-CSRF-Token`) or as a
//! script does (Bearer), on a tenant's port or under `/t/{tenant}` on the shared listener.

use serde_json::{Value, json};

use crate::{Api, Reply};

/// The password tests give a tenant's first admin.
pub const ADMIN_PASSWORD: &str = "correct horse battery staple";

/// A logged-in admin: the token and the CSRF value of its session.
#[derive(Clone, Debug)]
pub struct Session {
    pub token: String,
    pub csrf: String,
}

impl Session {
    /// From a login or password answer (200 asserted).
    pub fn from_reply(reply: &Reply) -> Session {
        let body = reply.expect(200);
        let cookie = reply.header("set-cookie").expect("a Set-Cookie");
        let token = cookie
            .strip_prefix("xgate_admin=")
            .and_then(|c| c.split(';').next())
            .expect("the xgate_admin cookie")
            .to_string();
        assert_eq!(body["token"], token, "the cookie carries the token");
        Session {
            token,
            csrf: body["csrf"].as_str().expect("csrf").to_string(),
        }
    }

    /// As the browser sends it: the cookie and the CSRF header.
    pub fn cookie(&self, api: &Api) -> Api {
        api.with_header("cookie", &format!("xgate_admin={}", self.token))
            .with_header("x-csrf-token", &self.csrf)
    }

    /// The cookie alone, as a cross-site form would send it.
    pub fn cookie_without_csrf(&self, api: &Api) -> Api {
        api.with_header("cookie", &format!("xgate_admin={}", self.token))
    }

    pub fn bearer(&self, api: &Api) -> Api {
        api.with_header("authorization", &format!("Bearer {}", self.token))
    }
}

pub async fn login(api: &Api, login: &str, password: &str) -> Reply {
    api.post(
        "/api/admin/login",
        &json!({ "login": login, "password": password }),
    )
    .await
}

/// The first login of a new tenant: `admin` with no password, then `password` set.
pub async fn first_login(api: &Api, password: &str) -> Session {
    let setup = Session::from_reply(&login(api, "admin", "").await);
    let reply = setup
        .cookie(api)
        .post(
            "/api/admin/password",
            &json!({ "password": password, "password_confirm": password }),
        )
        .await;
    Session::from_reply(&reply)
}

/// The audit log's actions, newest first.
pub async fn audit_actions(api: &Api) -> Vec<Value> {
    api.get("/api/admin/audit").await.expect(200)["entries"]
        .as_array()
        .expect("entries")
        .clone()
}
