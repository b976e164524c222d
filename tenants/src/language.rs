//! The two languages the add-in speaks, and the Windows LCIDs the old client sends.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    #[default]
    Ru,
    En,
}

impl Language {
    pub const ALL: [Language; 2] = [Language::Ru, Language::En];

    /// The old client sends `LanguageId` as a Windows LCID: 1049 Russian, 1033 English.
    pub fn from_lcid(id: i64) -> Option<Language> {
        match id {
            1049 => Some(Language::Ru),
            1033 => Some(Language::En),
            _ => None,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Language::Ru => "ru",
            Language::En => "en",
        }
    }

    pub fn from_code(code: &str) -> Option<Language> {
        match code.to_ascii_lowercase().as_str() {
            "ru" => Some(Language::Ru),
            "en" => Some(Language::En),
            _ => None,
        }
    }

    /// Picks the first supported language of an `Accept-Language` header, ignoring weights
    /// order beyond "first listed wins" (browsers list the preferred one first).
    pub fn from_accept_language(header: &str) -> Option<Language> {
        header
            .split(',')
            .filter_map(|part| part.split(';').next())
            .filter_map(|tag| tag.trim().split('-').next())
            .find_map(Language::from_code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lcid_and_accept_language() {
        assert_eq!(Language::from_lcid(1049), Some(Language::Ru));
        assert_eq!(Language::from_lcid(1033), Some(Language::En));
        assert_eq!(Language::from_lcid(1031), None);
        assert_eq!(
            Language::from_accept_language("de-DE,en-US;q=0.8,ru;q=0.5"),
            Some(Language::En)
        );
        assert_eq!(Language::from_accept_language("fr"), None);
    }
}
