//! Invitation template sets from the config tree: `<templates_dir>/<set>/{ru,en}.html`.
//!
//! A file is a whole HTML document; its `<title>` is the subject. Both are minijinja
//! templates, checked for syntax when the config loads so a broken template is a config
//! error with a line, not a failed meeting later.

use std::collections::HashMap;
use std::path::Path;

use crate::language::Language;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvitationTemplate {
    pub subject: String,
    pub html: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TemplateSet {
    pub name: String,
    templates: HashMap<Language, InvitationTemplate>,
}

impl TemplateSet {
    /// Reads a set. A language without a file falls back to the other one at render
    /// time; a set with no file at all is an error.
    pub fn load(dir: &Path, name: &str) -> Result<TemplateSet, String> {
        if name.is_empty() || name.contains(['/', '\\']) || name.starts_with('.') {
            return Err(format!(
                "template set name `{name}` is not a plain directory name"
            ));
        }
        let set_dir = dir.join(name);
        let mut templates = HashMap::new();
        for lang in Language::ALL {
            let path = set_dir.join(format!("{}.html", lang.code()));
            let html = match std::fs::read_to_string(&path) {
                Ok(s) => s,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(format!("cannot read `{}`: {}", path.display(), e.kind())),
            };
            let subject = extract_title(&html).unwrap_or_default();
            check_syntax(&html).map_err(|e| format!("`{}`: {e}", path.display()))?;
            check_syntax(&subject).map_err(|e| format!("`{}` <title>: {e}", path.display()))?;
            templates.insert(lang, InvitationTemplate { subject, html });
        }
        if templates.is_empty() {
            return Err(format!(
                "template set `{name}` has neither ru.html nor en.html in `{}`",
                set_dir.display()
            ));
        }
        Ok(TemplateSet {
            name: name.to_string(),
            templates,
        })
    }

    pub fn from_templates(name: &str, templates: HashMap<Language, InvitationTemplate>) -> Self {
        TemplateSet {
            name: name.to_string(),
            templates,
        }
    }

    /// The template for a language, or the other language's when the set lacks it.
    pub fn for_language(&self, lang: Language) -> Option<(Language, &InvitationTemplate)> {
        if let Some(t) = self.templates.get(&lang) {
            return Some((lang, t));
        }
        Language::ALL
            .into_iter()
            .find_map(|l| self.templates.get(&l).map(|t| (l, t)))
    }
}

fn extract_title(html: &str) -> Option<String> {
    let lower = html.to_ascii_lowercase();
    let start = lower.find("<title>")? + "<title>".len();
    let end = start + lower[start..].find("</title>")?;
    Some(html[start..end].trim().to_string())
}

/// Syntax only: undefined variables are fine here and caught (as empty) at render time.
pub fn check_syntax(source: &str) -> Result<(), String> {
    let mut env = minijinja::Environment::new();
    env.add_template("t", source)
        .map(|_| ())
        .map_err(|e| match e.line() {
            Some(line) => format!("line {line}: {}", e.detail().unwrap_or("syntax error")),
            None => e.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn title_is_subject_and_syntax_errors_carry_a_line() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("s")).unwrap();
        std::fs::write(
            dir.path().join("s/ru.html"),
            "<html><head><TITLE>Встреча {{ conference.name }}</title></head><body>x</body></html>",
        )
        .unwrap();
        let set = TemplateSet::load(dir.path(), "s").unwrap();
        let (lang, t) = set.for_language(Language::En).unwrap();
        assert_eq!(lang, Language::Ru, "en falls back to ru");
        assert_eq!(t.subject, "Встреча {{ conference.name }}");

        std::fs::write(dir.path().join("s/en.html"), "<p>ok</p>\n<p>{% if %}</p>").unwrap();
        let err = TemplateSet::load(dir.path(), "s").unwrap_err();
        assert!(err.contains("line 2"), "{err}");
        assert!(TemplateSet::load(dir.path(), "../s").is_err());
        assert!(TemplateSet::load(dir.path(), "missing").is_err());
    }
}
