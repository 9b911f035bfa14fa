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
