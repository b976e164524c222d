//! A tenant's invitation templates as admins edit them: sanitised for e-mail on save,
//! refused when they do not render, rendered for meetings and previews through the one
//! path in `invitation.rs`.
//!
//! Templates live in the tenant's database. The config's template set seeds them once
//! (`bootstrap`) and stays the fallback for a language that has no default template.

use std::collections::{BTreeMap, HashMap, HashSet};

use base64::Engine as _;
use xgate_tenants::Language;
use xgate_tenants::Tenant;
use xgate_tenants::store::{NewTemplate, StoredTemplate, TemplateImage};
use xgate_tenants::templates::{InvitationTemplate, TemplateSet};

use crate::error::AdminError;
use crate::invitation::{
    ConferenceView, Invitation, InvitationContext, RenderError, TenantView, UserView,
    render_with_images,
};

pub const IMAGE_KINDS: [&str; 2] = ["logo", "signature"];
/// PNG, JPEG and GIF only: SVG can carry script.
pub const IMAGE_TYPES: [&str; 3] = ["image/png", "image/jpeg", "image/gif"];
pub const MAX_IMAGE_BYTES: usize = 128 * 1024;

/// Tags an e-mail client renders: text formatting, lists, links, images, tables.
const TAGS: &[&str] = &[
    "a",
    "b",
    "big",
    "blockquote",
    "br",
    "caption",
    "center",
    "code",
    "col",
    "colgroup",
    "div",
    "em",
    "font",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "i",
    "img",
    "li",
    "ol",
    "p",
    "pre",
    "s",
    "small",
    "span",
    "strike",
    "strong",
    "sub",
    "sup",
    "table",
    "tbody",
    "td",
    "tfoot",
    "th",
    "thead",
    "tr",
    "u",
    "ul",
];
/// Presentational attributes mail clients still rely on (Outlook ignores much CSS).
const ATTRIBUTES: &[&str] = &[
    "align",
    "bgcolor",
    "border",
    "cellpadding",
    "cellspacing",
    "color",
    "colspan",
    "dir",
    "face",
    "height",
    "rowspan",
    "size",
    "style",
    "title",
    "valign",
    "width",
];
/// CSS properties kept in `style`; anything that can fetch (`url(`) or run (`expression(`)
/// is dropped whatever the property.
const CSS_PROPERTIES: &[&str] = &[
    "background-color",
    "border",
    "border-bottom",
    "border-collapse",
    "border-color",
    "border-left",
    "border-right",
    "border-style",
    "border-top",
    "border-width",
    "color",
    "font",
    "font-family",
    "font-size",
    "font-style",
    "font-weight",
    "height",
    "letter-spacing",
    "line-height",
    "margin",
    "margin-bottom",
    "margin-left",
    "margin-right",
    "margin-top",
    "padding",
    "padding-bottom",
    "padding-left",
    "padding-right",
    "padding-top",
    "text-align",
    "text-decoration",
    "vertical-align",
    "white-space",
    "width",
];

/// Cleans HTML for an e-mail body: no scripts, no event handlers, no `javascript:` or
/// `data:` URLs, no SVG or MathML, no forms or frames. Placeholders (`{{ conference.link }}`)
/// survive in text and in `href`/`src` (relative URLs pass through).
pub fn sanitize(html: &str) -> String {
    let tags: HashSet<&str> = TAGS.iter().copied().collect();
    let mut generic: HashSet<&str> = ATTRIBUTES.iter().copied().collect();
    generic.insert("class");
    let mut tag_attributes: HashMap<&str, HashSet<&str>> = HashMap::new();
    tag_attributes.insert("a", ["href", "target", "name"].into_iter().collect());
    tag_attributes.insert("img", ["src", "alt"].into_iter().collect());
    ammonia::Builder::default()
        .tags(tags)
        .generic_attributes(generic)
        .tag_attributes(tag_attributes)
        .url_schemes(
            ["http", "https", "mailto", "tel", "cid"]
                .into_iter()
                .collect(),
        )
        .link_rel(Some("noopener noreferrer"))
        // A seeded template is a whole document: its <title> is the subject, not body text.
        .clean_content_tags(["script", "style", "title"].into_iter().collect())
        .attribute_filter(|_, attr, value| match attr {
            "style" => Some(clean_style(value).into()),
            _ => Some(value.into()),
        })
        .clean(html)
        .to_string()
}

fn clean_style(style: &str) -> String {
    style
        .split(';')
        .filter_map(|decl| {
            let (prop, value) = decl.split_once(':')?;
            let prop = prop.trim().to_ascii_lowercase();
            let lower = value.to_ascii_lowercase();
            let dangerous = [
                "url(",
                "expression",
                "javascript:",
                "\\",
                "@import",
                "<",
                "behavior",
            ]
            .iter()
            .any(|bad| lower.contains(bad));
            (CSS_PROPERTIES.contains(&prop.as_str()) && !dangerous)
                .then(|| format!("{prop}: {}", value.trim()))
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// A subject is one header line of plain text.
pub fn clean_subject(subject: &str) -> String {
    subject.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Sample data for previews and for checking that a template renders.
pub fn sample_context(tenant: &Tenant) -> InvitationContext {
    InvitationContext {
        conference: ConferenceView {
            link: "https://xlnk.ms/join/sample/5f3c9a".into(),
            name: "Планёрка / Weekly sync".into(),
            access_code: "482913".into(),
            start_at: "2025-03-03 09:00 UTC".into(),
            end_at: "2025-03-03 09:30 UTC".into(),
            link_type: "public".into(),
        },
        user: UserView {
            email: "ivan.petrov@example.com".into(),
            name: "Иван Петров".into(),
            sip: "4021".into(),
        },
        tenant: TenantView {
            id: tenant.id().to_string(),
            name: tenant.config.name.clone(),
        },
    }
}

/// Renders one subject + body with `images` (kind → data URI).
pub fn render_one(
    subject: &str,
    html: &str,
    images: &BTreeMap<String, String>,
    ctx: &InvitationContext,
) -> Result<Invitation, RenderError> {
    let template = InvitationTemplate {
        subject: subject.to_string(),
        html: html.to_string(),
    };
    render_with_images(&template, images, ctx)
}

/// What a save stores: the sanitised body, refused (with the error's line) when either the
/// submitted or the sanitised text does not render with sample data.
pub fn prepare(tenant: &Tenant, subject: &str, html: &str) -> Result<(String, String), AdminError> {
    let ctx = sample_context(tenant);
    let images = sample_images();
    let subject = clean_subject(subject);
    // The submitted text first, so the line number is the one the admin sees.
    render_one(&subject, html, &images, &ctx).map_err(AdminError::Template)?;
    let clean = sanitize(html);
    render_one(&subject, &clean, &images, &ctx).map_err(AdminError::Template)?;
    Ok((subject, clean))
}

fn sample_images() -> BTreeMap<String, String> {
    IMAGE_KINDS
        .iter()
        .map(|k| (k.to_string(), String::new()))
        .collect()
}

pub fn data_uris(images: &[TemplateImage]) -> BTreeMap<String, String> {
    images
        .iter()
        .map(|i| {
            (
                i.kind.clone(),
                format!(
                    "data:{};base64,{}",
                    i.content_type,
                    base64::engine::general_purpose::STANDARD.encode(&i.data)
                ),
            )
        })
        .collect()
}

/// The config's set as the tenant's first templates, each the default of its language.
pub fn seed(set: &TemplateSet) -> Vec<NewTemplate> {
    Language::ALL
        .into_iter()
        .filter_map(|lang| {
            let (used, t) = set.for_language(lang)?;
            (used == lang).then(|| NewTemplate {
                language: lang.code().to_string(),
                name: set.name.clone(),
                subject: t.subject.clone(),
                html: t.html.clone(),
                is_default: true,
            })
        })
        .collect()
}

/// Creates the first admin and seeds the templates, once per tenant.
pub async fn bootstrap(tenant: &Tenant) -> Result<(), AdminError> {
    let seeded = tenant
        .store
        .bootstrap_admin(&seed(&tenant.config.templates), chrono::Utc::now())
        .await?;
    if seeded {
        tracing::info!(
            tenant = tenant.id(),
            "admin UI bootstrapped: login `admin`, templates from the config"
        );
    }
    Ok(())
}

/// The invitation for a meeting: the tenant's default template for `lang` (else for the
/// other language) from its database, with its images inline; the config's set when the
/// database has none (a tenant whose admin UI was never opened).
pub async fn invitation(
    tenant: &Tenant,
    lang: Language,
    ctx: &InvitationContext,
) -> Result<Invitation, RenderError> {
    let others = Language::ALL.into_iter().filter(|l| *l != lang);
    for l in std::iter::once(lang).chain(others) {
        let stored: Option<StoredTemplate> = match tenant.store.default_template(l.code()).await {
            Ok(t) => t,
            Err(e) => {
                // The letter still goes out, from the config's set.
                tracing::warn!(tenant = tenant.id(), error = %e, "cannot read templates; using the config's set");
                break;
            }
        };
        if let Some(t) = stored {
            let images = if t.images.is_empty() {
                BTreeMap::new()
            } else {
                data_uris(
                    &tenant
                        .store
                        .template_images(&t.id)
                        .await
                        .unwrap_or_default(),
                )
            };
            return render_one(&t.subject, &t.html, &images, ctx);
        }
    }
    crate::invitation::render(&tenant.config.templates, lang, ctx).map(|(_, inv)| inv)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seeded_document_keeps_its_body_and_loses_its_title() {
        let doc = "<!DOCTYPE html><html><head><title>Встреча {{ conference.name }}</title></head>\
                   <body><p><a href=\"{{ conference.link }}\">join</a></p></body></html>";
        let clean = sanitize(doc);
        assert!(!clean.contains("Встреча"), "{clean}");
        assert!(
            clean.contains("<a href=\"{{ conference.link }}\""),
            "{clean}"
        );
    }

    #[test]
    fn scripts_handlers_and_javascript_urls_are_stripped() {
        let dirty = r##"<p onclick="x()">Hi <b>there</b><script>alert(1)</script>
<img src=x onerror="alert(1)"><a href="javascript:alert(1)">j</a>
<a href="{{ conference.link }}">join</a><svg><script>alert(1)</script></svg>
<span style="color: red; background-image: url(javascript:alert(1)); width: expression(alert(1))">s</span>
<table><tr><td bgcolor="#fff">cell</td></tr></table><iframe src="https://evil"></iframe></p>"##;
        let clean = sanitize(dirty);
        for bad in [
            "script",
            "onclick",
            "onerror",
            "javascript",
            "svg",
            "iframe",
            "url(",
            "expression",
        ] {
            assert!(!clean.to_lowercase().contains(bad), "{bad} in {clean}");
        }
        assert!(clean.contains("<b>there</b>"), "{clean}");
        assert!(clean.contains(r#"href="{{ conference.link }}""#), "{clean}");
        assert!(clean.contains("color: red"), "{clean}");
        assert!(clean.contains("<td bgcolor=\"#fff\">cell</td>"), "{clean}");
    }
}
