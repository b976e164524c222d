//! Rendering an invitation (subject + HTML body) from a tenant's template set.
//!
//! The body is autoescaped as HTML: a conference name like `<script>` shows as text in
//! the letter. The subject is plain text (a mail header), so it is not HTML-escaped.
//! Undefined placeholders render as empty: a template written for a newer xgate must
//! not break meeting creation on an older one.

use std::collections::BTreeMap;

use minijinja::{AutoEscape, Environment};
use serde::Serialize;
use xgate_tenants::Language;
use xgate_tenants::templates::{InvitationTemplate, TemplateSet};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Invitation {
    pub subject: String,
    pub html: String,
}

/// Everything a template may use: `conference.*`, `user.*`, `tenant.*` (and `images.*`,
/// the template's stored images, added by `render_with_images`).
#[derive(Debug, Clone, Serialize)]
pub struct InvitationContext {
    pub conference: ConferenceView,
    pub user: UserView,
    pub tenant: TenantView,
}

#[derive(Debug, Clone, Serialize)]
pub struct ConferenceView {
    pub link: String,
    pub name: String,
    pub access_code: String,
    /// Human-readable, UTC (`2024-03-01 10:00 UTC`), empty when not set yet.
    pub start_at: String,
    pub end_at: String,
    pub link_type: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct UserView {
    pub email: String,
    pub name: String,
    pub sip: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct TenantView {
    pub id: String,
    pub name: String,
}

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("the tenant has no invitation template")]
    NoTemplate,
    #[error("template error{}: {detail}", line.map(|l| format!(" at line {l}")).unwrap_or_default())]
    Template { line: Option<usize>, detail: String },
}

impl From<minijinja::Error> for RenderError {
    fn from(e: minijinja::Error) -> Self {
        RenderError::Template {
            line: e.line(),
            detail: e
                .detail()
                .map(str::to_string)
                .unwrap_or_else(|| e.kind().to_string()),
        }
    }
}

/// Renders the set's template for `lang` (or its other language when missing).
/// Returns the language actually used along with the letter.
pub fn render(
    set: &TemplateSet,
    lang: Language,
    ctx: &InvitationContext,
) -> Result<(Language, Invitation), RenderError> {
    let (used, template) = set.for_language(lang).ok_or(RenderError::NoTemplate)?;
    Ok((used, render_with_images(template, &BTreeMap::new(), ctx)?))
}

/// Renders one template; `images` (kind → URL, e.g. a `data:` URI) are `{{ images.logo }}`.
pub fn render_with_images(
    template: &InvitationTemplate,
    images: &BTreeMap<String, String>,
    ctx: &InvitationContext,
) -> Result<Invitation, RenderError> {
    let mut env = Environment::new();
    env.set_auto_escape_callback(|name| {
        if name.ends_with(".html") {
            AutoEscape::Html
        } else {
            AutoEscape::None
        }
    });
    env.set_formatter(escape_minimal);
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Chainable);
    env.add_template("subject.txt", &template.subject)?;
    env.add_template("body.html", &template.html)?;
    let ctx = minijinja::context! {
        images => minijinja::Value::from(minijinja::value::Serde(images)),
        ..minijinja::Value::from(minijinja::value::Serde(ctx))
    };
    let subject = env.get_template("subject.txt")?.render(ctx.clone())?;
    let html = env.get_template("body.html")?.render(ctx)?;
    Ok(Invitation {
        // A subject is one header line: folding newlines keeps the mail valid.
        subject: subject.split_whitespace().collect::<Vec<_>>().join(" "),
        html,
    })
}

/// minijinja's HTML escaping also turns `/` into `&#x2f;`, which is valid but makes every
/// join link in the letter's source unreadable and unsearchable. The five characters
/// below are all HTML needs, in text and in quoted attributes.
fn escape_minimal(
    out: &mut minijinja::Output<'_>,
    state: &mut minijinja::State<'_, '_>,
    value: &minijinja::Value,
) -> Result<(), minijinja::Error> {
    if *state.auto_escape() != AutoEscape::Html || value.is_safe() || value.is_none() {
        return minijinja::escape_formatter(out, state, value);
    }
    let text = if value.is_undefined() {
        String::new()
    } else {
        value.to_string()
    };
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            c => escaped.push(c),
        }
    }
    out.write_str(&escaped).map_err(|_| {
        minijinja::Error::new(minijinja::ErrorKind::WriteFailure, "cannot write output")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn ctx(name: &str) -> InvitationContext {
        InvitationContext {
            conference: ConferenceView {
                link: "https://xlnk.ms/join/room/abc".into(),
                name: name.into(),
                access_code: "123456".into(),
                start_at: String::new(),
                end_at: String::new(),
                link_type: "public".into(),
            },
            user: UserView {
                email: "a@acme.test".into(),
                name: "Анна".into(),
                sip: "1234".into(),
            },
            tenant: TenantView {
                id: "acme".into(),
                name: "ACME & Co".into(),
            },
        }
    }

    fn set(subject: &str, html: &str) -> TemplateSet {
        let mut m = HashMap::new();
        m.insert(
            Language::Ru,
            InvitationTemplate {
                subject: subject.into(),
                html: html.into(),
            },
        );
        TemplateSet::from_templates("t", m)
    }

    #[test]
    fn body_is_escaped_subject_is_not() {
        let s = set(
            "{{ tenant.name }}: {{ conference.name }}",
            "<a href=\"{{ conference.link }}\">{{ conference.name }}</a> {{ user.sip }} {{ nope.missing }}",
        );
        let (lang, inv) = render(&s, Language::En, &ctx("<b>Plan</b>")).unwrap();
        assert_eq!(lang, Language::Ru);
        assert_eq!(inv.subject, "ACME & Co: <b>Plan</b>");
        assert!(inv.html.contains("&lt;b&gt;Plan&lt;/b&gt;"), "{}", inv.html);
        assert!(
            inv.html.contains("href=\"https://xlnk.ms/join/room/abc\""),
            "{}",
            inv.html
        );
        assert!(inv.html.contains(" 1234 "));
    }

    #[test]
    fn runtime_errors_carry_the_line() {
        let s = set("x", "line1\n{{ 1 / 0 }}");
        match render(&s, Language::Ru, &ctx("n")) {
            Err(RenderError::Template { line: Some(2), .. }) => {}
            other => panic!("{other:?}"),
        }
    }
}
