use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use sha2::{Digest, Sha256};

use crate::export::report::ExportFormat;
use crate::metrics::DateWindow;
use crate::validation::{Collector, InvalidParams};

/// What an export covers and produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExportRequest {
    pub format: ExportFormat,
    pub period: DateWindow,
}

impl ExportRequest {
    /// `format` defaults to `pdf`, `period_end` to today and `period_start` to six days before it.
    pub fn parse(
        format: Option<&str>,
        period_start: Option<&str>,
        period_end: Option<&str>,
        today: NaiveDate,
    ) -> Result<Self, InvalidParams> {
        let mut errors = Collector::new();
        let format = errors.take(format.map(ExportFormat::parse).transpose());
        let period = errors.take(DateWindow::parse(
            period_start,
            period_end,
            today,
            ("period_start", "period_end"),
        ));
        errors.finish()?;
        Ok(Self {
            format: format.flatten().unwrap_or(ExportFormat::Pdf),
            period: period.expect("checked"),
        })
    }
}

/// A client's `Idempotency-Key`: 1 to 255 visible ASCII characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub fn parse(raw: &str) -> Result<Self, InvalidParams> {
        if (1..=255).contains(&raw.len()) && raw.bytes().all(|b| b.is_ascii_graphic()) {
            Ok(Self(raw.to_owned()))
        } else {
            Err(InvalidParams::field(
                "Idempotency-Key",
                "must be 1 to 255 visible ASCII characters",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What makes two requests "the same": SHA-256 over the target and the canonical body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestFingerprint(String);

impl RequestFingerprint {
    pub fn of(target: &str, canonical_body: &str) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(target.as_bytes());
        hasher.update([0]);
        hasher.update(canonical_body.as_bytes());
        Self(format!("{:x}", hasher.finalize()))
    }

    pub fn from_stored(hex: String) -> Self {
        Self(hex)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A request's claim on an idempotency key, valid for 24 hours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyClaim {
    pub key: IdempotencyKey,
    pub fingerprint: RequestFingerprint,
    pub expires_at: DateTime<Utc>,
}

impl IdempotencyClaim {
    pub const LIFETIME: TimeDelta = TimeDelta::hours(24);

    pub fn new(key: IdempotencyKey, fingerprint: RequestFingerprint, now: DateTime<Utc>) -> Self {
        Self {
            key,
            fingerprint,
            expires_at: now + Self::LIFETIME,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_field_names() {
        let today = NaiveDate::from_ymd_opt(2026, 6, 10).unwrap();
        let r = ExportRequest::parse(None, None, None, today).unwrap();
        assert_eq!(r.format, ExportFormat::Pdf);
        assert_eq!(r.period.from().to_string(), "2026-06-04");
        assert_eq!(r.period.to(), today);
        let err =
            ExportRequest::parse(Some("docx"), Some("2026-06-11"), Some("x"), today).unwrap_err();
        let fields: Vec<_> = err.fields().iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["format", "period_end"]);
        let err = ExportRequest::parse(None, Some("2026-06-11"), None, today).unwrap_err();
        assert_eq!(err.fields()[0].field, "period_start");
    }

    #[test]
    fn idempotency_keys() {
        assert!(IdempotencyKey::parse("abc-123").is_ok());
        assert!(IdempotencyKey::parse(&"k".repeat(255)).is_ok());
        assert!(IdempotencyKey::parse(&"k".repeat(256)).is_err());
        assert!(IdempotencyKey::parse("").is_err());
        assert!(IdempotencyKey::parse("has space").is_err());
        assert_ne!(
            RequestFingerprint::of("a", "{}"),
            RequestFingerprint::of("b", "{}")
        );
    }
}
