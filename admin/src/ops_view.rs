//! The operator's read-only overview of every tenant (`/ops/` on the ops listener): what
//! it is rendered from, the page itself (server-side HTML, no script), and the operator's
//! login (HTTP Basic against `[server.ops_admin]`). The gateway gathers the facts; this
//! module never reaches a tenant's store or changes anything.

use std::fmt::Write as _;

use base64::Engine as _;
use http::HeaderMap;
use xgate_tenants::config::model::OpsAdminSection;

/// One tenant as the operator sees it.
#[derive(Debug, Clone, Default)]
pub struct OpsTenant {
    pub id: String,
    pub name: String,
    pub ports: Vec<u16>,
    pub mail_domains: Vec<String>,
    /// The last bot probe: `None` before the first one (or with probes off).
    pub bot_up: Option<bool>,
    /// Directory calls by outcome since start (`ok: 12, error: 1`); empty: none made.
    pub directory: String,
    /// `None` when the store could not say.
    pub meetings_today: Option<i64>,
    /// The tenant's config errors in the last reload, if any.
    pub last_error: Option<String>,
    pub admin_ui: bool,
}

#[derive(Debug, Clone, Default)]
pub struct OpsOverview {
    pub config_version: u64,
    /// One line: when, what triggered it, the result.
    pub last_reload: String,
    pub tenants: Vec<OpsTenant>,
}

/// Whether the request carries the operator's login. Slow on purpose (argon2).
pub async fn operator_ok(ops: &OpsAdminSection, headers: &HeaderMap) -> bool {
    let Some((login, password)) = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| {
            base64::engine::general_purpose::STANDARD
                .decode(b.trim())
                .ok()
        })
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| {
            s.split_once(':')
                .map(|(l, p)| (l.to_string(), p.to_string()))
        })
    else {
        return false;
    };
    let hash_ok = crate::auth::verify_password(password, Some(ops.password_hash.clone())).await;
    hash_ok && login == ops.login
}

fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The page, in Russian unless `english`.
pub fn page(o: &OpsOverview, english: bool) -> String {
    let t = |ru: &'static str, en: &'static str| if english { en } else { ru };
    let mut h = String::new();
    let _ = write!(
        h,
        "<!doctype html><html lang=\"{}\"><head><meta charset=\"utf-8\"><title>xgate ops</title>\
         <style>body{{font:14px system-ui,sans-serif;margin:1.5rem;color:#1d2330}}\
         table{{border-collapse:collapse}}th,td{{border-bottom:1px solid #dde;padding:.3rem .6rem;text-align:left;vertical-align:top}}\
         .up{{color:#1a7f37}}.down{{color:#a11}}</style></head><body>",
        if english { "en" } else { "ru" }
    );
    let _ = write!(
        h,
        "<h1>xgate</h1><p>{}: <b>{}</b> · {}: {}</p>",
        t("Версия конфигурации", "Config version"),
        o.config_version,
        t("Последняя перезагрузка", "Last reload"),
        esc(&o.last_reload)
    );
    let _ = write!(
        h,
        "<table><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>",
        t("Арендатор", "Tenant"),
        t("Порты", "Ports"),
        t("Домены", "Domains"),
        t("Бот", "Bot"),
        t("Каталог", "Directory"),
        t("Встреч сегодня", "Meetings today"),
        t("Админка", "Admin UI"),
        t("Последняя ошибка", "Last error"),
    );
    for x in &o.tenants {
        let bot = match x.bot_up {
            Some(true) => format!("<span class=\"up\">{}</span>", t("доступен", "up")),
            Some(false) => format!("<span class=\"down\">{}</span>", t("недоступен", "down")),
            None => "—".into(),
        };
        let ports = x
            .ports
            .iter()
            .map(u16::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        let _ = write!(
            h,
            "<tr><td><b>{}</b><br>{}</td><td>{}</td><td>{}</td><td>{bot}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&x.id),
            esc(&x.name),
            esc(&ports),
            esc(&x.mail_domains.join(", ")),
            if x.directory.is_empty() {
                "—".to_string()
            } else {
                esc(&x.directory)
            },
            x.meetings_today.map_or("—".to_string(), |n| n.to_string()),
            if x.admin_ui {
                t("да", "yes")
            } else {
                t("нет", "no")
            },
            x.last_error.as_deref().map_or("—".to_string(), esc),
        );
    }
    h.push_str("</tbody></table></body></html>");
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_escapes_what_it_shows() {
        let o = OpsOverview {
            config_version: 7,
            last_reload: "ok".into(),
            tenants: vec![OpsTenant {
                id: "acme".into(),
                name: "<script>alert(1)</script>".into(),
                ports: vec![7100],
                bot_up: Some(false),
                ..Default::default()
            }],
        };
        let html = page(&o, true);
        assert!(html.contains("&lt;script&gt;"));
        assert!(!html.contains("<script>"));
        assert!(html.contains("7100") && html.contains("down"));
    }
}
