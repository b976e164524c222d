//! A tenant's conference policy: which link types users may choose and which of them
//! need an access code (PIN). Lives on the server so that it is not scattered over every
//! client's msi parameters (`DenyLinkType`, `LinkMinimumLevelRequirePassword`).

use serde::{Deserialize, Serialize};

/// Link types as the bot names them, from the most public to the most closed.
/// The order matters: "this level and more public need a PIN".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LinkType {
    Public,
    Trusts,
    Corporate,
    Server,
}

impl LinkType {
    pub fn as_str(self) -> &'static str {
        match self {
            LinkType::Public => "public",
            LinkType::Trusts => "trusts",
            LinkType::Corporate => "corporate",
            LinkType::Server => "server",
        }
    }

    pub fn parse(s: &str) -> Option<LinkType> {
        match s.to_ascii_lowercase().as_str() {
            "public" => Some(LinkType::Public),
            "trusts" => Some(LinkType::Trusts),
            "corporate" => Some(LinkType::Corporate),
            "server" => Some(LinkType::Server),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    #[serde(default = "Policy::default_link_types")]
    pub link_types: Vec<LinkType>,
    /// This level and every more public one need an access code.
    #[serde(default)]
    pub require_access_code_from: Option<LinkType>,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            link_types: Policy::default_link_types(),
            require_access_code_from: None,
        }
    }
}

/// Why a requested link type / access code combination is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyViolation {
    LinkTypeNotAllowed {
        requested: LinkType,
        allowed: Vec<LinkType>,
    },
    AccessCodeRequired {
        link_type: LinkType,
    },
}

impl Policy {
    fn default_link_types() -> Vec<LinkType> {
        vec![LinkType::Public, LinkType::Corporate, LinkType::Trusts]
    }

    pub fn allows(&self, link_type: LinkType) -> bool {
        self.link_types.contains(&link_type)
    }

    pub fn requires_access_code(&self, link_type: LinkType) -> bool {
        self.require_access_code_from
            .is_some_and(|threshold| link_type <= threshold)
    }

    /// The link type of a fresh draft: public when allowed (what the old client did),
    /// otherwise the most public type the tenant allows.
    pub fn draft_link_type(&self) -> LinkType {
        if self.allows(LinkType::Public) {
            return LinkType::Public;
        }
        self.link_types
            .iter()
            .copied()
            .min()
            .unwrap_or(LinkType::Public)
    }

    /// Allowed link types, most public first, for messages and `/api/settings`.
    pub fn allowed_sorted(&self) -> Vec<LinkType> {
        let mut v = self.link_types.clone();
        v.sort();
        v.dedup();
        v
    }

    pub fn check(
        &self,
        link_type: LinkType,
        access_code: Option<&str>,
    ) -> Result<(), PolicyViolation> {
        if !self.allows(link_type) {
            return Err(PolicyViolation::LinkTypeNotAllowed {
                requested: link_type,
                allowed: self.allowed_sorted(),
            });
        }
        let has_code = access_code.is_some_and(|c| !c.trim().is_empty());
        if self.requires_access_code(link_type) && !has_code {
            return Err(PolicyViolation::AccessCodeRequired { link_type });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pin_needed_from_threshold_and_more_public() {
        let p = Policy {
            link_types: vec![LinkType::Public, LinkType::Corporate, LinkType::Trusts],
            require_access_code_from: Some(LinkType::Trusts),
        };
        assert!(p.requires_access_code(LinkType::Public));
        assert!(p.requires_access_code(LinkType::Trusts));
        assert!(!p.requires_access_code(LinkType::Corporate));
        assert_eq!(
            p.check(LinkType::Public, None),
            Err(PolicyViolation::AccessCodeRequired {
                link_type: LinkType::Public
            })
        );
        assert_eq!(
            p.check(LinkType::Public, Some(" ")),
            p.check(LinkType::Public, None)
        );
        assert!(p.check(LinkType::Public, Some("1234")).is_ok());
        assert!(matches!(
            p.check(LinkType::Server, Some("1")),
            Err(PolicyViolation::LinkTypeNotAllowed { .. })
        ));
    }

    #[test]
    fn draft_falls_back_to_most_public_allowed() {
        let p = Policy {
            link_types: vec![LinkType::Server, LinkType::Corporate],
            require_access_code_from: None,
        };
        assert_eq!(p.draft_link_type(), LinkType::Corporate);
        assert_eq!(Policy::default().draft_link_type(), LinkType::Public);
    }
}
