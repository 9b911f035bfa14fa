//! Input that does not parse into a domain value, reported per field.

use std::fmt;

/// One field at fault and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Every field of a request that failed to parse; never empty.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct InvalidParams(pub Vec<FieldError>);

impl InvalidParams {
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self(vec![FieldError::new(field, message)])
    }

    pub fn fields(&self) -> &[FieldError] {
        &self.0
    }
}

impl fmt::Display for InvalidParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|e| format!("{}: {}", e.field, e.message))
            .collect();
        write!(f, "invalid parameters ({})", parts.join("; "))
    }
}

/// Whether `c` may not appear in free text: a control character (Unicode category Cc, e.g. NUL,
/// tab, newline) or a bidirectional override or isolate (U+202A–U+202E, U+2066–U+2069), which can
/// make text read differently from what it holds.
pub fn is_forbidden_in_text(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Whether `c` shows something: not whitespace, not forbidden, not a default-ignorable character
/// (zero-width spaces and joiners, soft hyphen, fillers, variation selectors, tags, …).
pub fn is_visible(c: char) -> bool {
    !c.is_whitespace()
        && !is_forbidden_in_text(c)
        && !matches!(
            c,
            '\u{00AD}'
                | '\u{034F}'
                | '\u{061C}'
                | '\u{115F}'
                | '\u{1160}'
                | '\u{17B4}'
                | '\u{17B5}'
                | '\u{180B}'..='\u{180F}'
                | '\u{200B}'..='\u{200F}'
                | '\u{2060}'..='\u{206F}'
                | '\u{3164}'
                | '\u{FE00}'..='\u{FE0F}'
                | '\u{FEFF}'
                | '\u{FFA0}'
                | '\u{FFF0}'..='\u{FFF8}'
                | '\u{1BCA0}'..='\u{1BCA3}'
                | '\u{1D173}'..='\u{1D17A}'
                | '\u{E0000}'..='\u{E0FFF}'
        )
}

/// The rule every free-text field shares: `min..=max` characters, no character for which
/// [`is_forbidden_in_text`] holds, and at least one [visible](is_visible) character.
pub fn check_text(field: &str, raw: &str, max: usize) -> Result<(), InvalidParams> {
    if raw.chars().any(is_forbidden_in_text) {
        return Err(InvalidParams::field(
            field,
            "must not contain control characters or bidirectional override or isolate characters",
        ));
    }
    if !raw.chars().any(is_visible) {
        return Err(InvalidParams::field(
            field,
            "must contain at least one visible character",
        ));
    }
    if raw.chars().count() > max {
        return Err(InvalidParams::field(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    Ok(())
}

/// Collects field errors while several fields are parsed, so that a caller hears of all of them at once.
#[derive(Debug, Default)]
pub struct Collector(Vec<FieldError>);

impl Collector {
    pub fn new() -> Self {
        Self::default()
    }

    /// Keeps the value, or records the error and yields `None`.
    pub fn take<T>(&mut self, result: Result<T, InvalidParams>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(InvalidParams(errors)) => {
                self.0.extend(errors);
                None
            }
        }
    }

    pub fn push(&mut self, error: FieldError) {
        self.0.push(error);
    }

    pub fn finish(self) -> Result<(), InvalidParams> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(InvalidParams(self.0))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_text_refuses_controls_bidi_overrides_and_invisible_text() {
        for ok in [
            "x",
            "  SQL injection  ",
            "Überprüfung — ✓",
            "שלום",
            "a\u{200B}b",
        ] {
            assert!(check_text("title", ok, 500).is_ok(), "{ok:?} was refused");
        }
        for bad in [
            "",
            "   ",
            "a\u{0}b",
            "line\nbreak",
            "tab\there",
            "\u{7F}",
            "\u{85}x",
            "evil\u{202E}txt.exe",
            "\u{202A}x",
            "x\u{2066}",
            "x\u{2069}",
            "\u{200B}\u{FEFF}",
            "\u{3000}\u{00A0}",
        ] {
            let err = check_text("title", bad, 500).unwrap_err();
            assert_eq!(err.fields()[0].field, "title", "{bad:?}");
        }
        assert!(check_text("title", &"x".repeat(500), 500).is_ok());
        assert!(check_text("title", &"é".repeat(501), 500).is_err());
    }
}
