//! What a scanner said about a finding it reported: which tool, the result's identity in that
//! tool's terms, the rule, where in the code, and the full message.

use crate::validation::{check_text, is_forbidden_in_text, InvalidParams};

macro_rules! scanner_text {
    ($(#[$meta:meta])* $name:ident, $field:literal, $max:expr) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            pub const MAX_CHARS: usize = $max;

            pub fn parse(raw: &str) -> Result<Self, InvalidParams> {
                Self::parse_as($field, raw)
            }

            /// As [`Self::parse`], naming `field` in the error (a field of a larger document).
            pub fn parse_as(field: &str, raw: &str) -> Result<Self, InvalidParams> {
                check_text(field, raw, Self::MAX_CHARS)?;
                Ok(Self(raw.to_owned()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

scanner_text!(
    /// The tool that reported a finding (`bandit`, `CodeQL`…): 1 to 100 characters of text.
    SourceName, "source", 100
);
scanner_text!(
    /// A result's identity within its source: the same result in two scans has the same one.
    /// Unique per project and source; 1 to 500 characters.
    ExternalId, "external_id", 500
);
scanner_text!(
    /// The scanner's rule (`B602`, `js/xss`); 1 to 500 characters.
    RuleId, "rule_id", 500
);
scanner_text!(
    /// Where in the code: `path:line`, or a path alone; 1 to 2,000 characters.
    Location, "location", 2000
);

/// A scanner's full message: 1 to 10,000 characters; line breaks and tabs are kept, other
/// control characters and bidirectional overrides are refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Description(String);

impl Description {
    pub const MAX_CHARS: usize = 10_000;

    pub fn parse(raw: &str) -> Result<Self, InvalidParams> {
        Self::parse_as("description", raw)
    }

    pub fn parse_as(field: &str, raw: &str) -> Result<Self, InvalidParams> {
        let flattened: String = raw
            .chars()
            .map(|c| {
                if matches!(c, '\n' | '\r' | '\t') {
                    ' '
                } else {
                    c
                }
            })
            .collect();
        check_text(field, &flattened, Self::MAX_CHARS)?;
        Ok(Self(raw.to_owned()))
    }

    /// A scanner's text made acceptable: forbidden characters (other than line breaks and tabs)
    /// become spaces and the text is cut at a character boundary to the limit; `None` when
    /// nothing visible is left.
    pub fn lenient(raw: &str) -> Option<Self> {
        let cleaned: String = raw
            .chars()
            .map(|c| {
                if is_forbidden_in_text(c) && !matches!(c, '\n' | '\r' | '\t') {
                    ' '
                } else {
                    c
                }
            })
            .take(Self::MAX_CHARS)
            .collect();
        Self::parse(&cleaned).ok()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What a scanner said about a finding; all of it absent for a finding recorded by hand.
/// `source` and `external_id` come together: a finding that came from a scan has both.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Provenance {
    pub origin: Option<ScanOrigin>,
    pub rule_id: Option<RuleId>,
    pub location: Option<Location>,
    pub description: Option<Description>,
}

/// The scan identity of a finding: unique per project.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ScanOrigin {
    pub source: SourceName,
    pub external_id: ExternalId,
}

impl Provenance {
    pub fn source(&self) -> Option<&SourceName> {
        self.origin.as_ref().map(|o| &o.source)
    }

    pub fn external_id(&self) -> Option<&ExternalId> {
        self.origin.as_ref().map(|o| &o.external_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_keep_line_breaks_and_refuse_other_controls() {
        assert_eq!(
            Description::parse("line one\nline\ttwo").unwrap().as_str(),
            "line one\nline\ttwo"
        );
        assert!(Description::parse("a\u{1B}[31m").is_err());
        assert!(Description::parse("\n\n").is_err());
        assert_eq!(
            Description::lenient("a\u{1B}b\nc").unwrap().as_str(),
            "a b\nc"
        );
        let long = "é".repeat(10_005);
        assert_eq!(
            Description::lenient(&long)
                .unwrap()
                .as_str()
                .chars()
                .count(),
            10_000
        );
        assert_eq!(Description::lenient(" \u{0} "), None);
    }

    #[test]
    fn names_have_their_limits() {
        assert!(SourceName::parse("bandit").is_ok());
        assert!(SourceName::parse(&"x".repeat(101)).is_err());
        let err = ExternalId::parse_as("findings[3].external_id", "").unwrap_err();
        assert_eq!(err.fields()[0].field, "findings[3].external_id");
    }
}
