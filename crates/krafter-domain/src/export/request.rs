use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use sha2::{Digest, Sha256};

use crate::export::report::ExportFormat;
use crate::ids::{OrgId, ProjectId};
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

/// What makes two requests "the same": the lower-case hex SHA-256 of the target's UTF-8 bytes, a
/// NUL byte, and the canonical body's UTF-8 bytes (for exports, [`ExportFields::fingerprint`]).
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

/// An export request's fields as the client sent them (`None`: absent or `null`), which is what
/// idempotency compares: `{"format": "pdf"}` and `{}` are different requests even though both
/// export a PDF, while key order, spacing and explicit nulls do not matter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ExportFields<'a> {
    pub format: Option<&'a str>,
    pub period_start: Option<&'a str>,
    pub period_end: Option<&'a str>,
}

impl ExportFields<'_> {
    /// The stable encoding the fingerprint is taken over, fixed for as long as stored claims
    /// live (24 hours) and independent of Rust's `Debug` output:
    /// `format=<v>;period_start=<v>;period_end=<v>`, in that order, where `<v>` is `-` for an
    /// absent field, and otherwise the value as sent with `%`, `;`, `=`, and every byte outside
    /// printable ASCII percent-encoded as `%XX` (upper-case hex of its UTF-8 bytes), and a value
    /// of exactly `-` written `%2D`. The encoding is injective: two different requests never
    /// share it.
    pub fn canonical(&self) -> String {
        fn value(out: &mut String, v: Option<&str>) {
            match v {
                None => out.push('-'),
                Some("-") => out.push_str("%2D"),
                Some(v) => {
                    for b in v.bytes() {
                        match b {
                            b'%' | b';' | b'=' => out.push_str(&format!("%{b:02X}")),
                            b' '..=b'~' => out.push(b as char),
                            _ => out.push_str(&format!("%{b:02X}")),
                        }
                    }
                }
            }
        }
        let mut out = String::new();
        for (i, (name, v)) in [
            ("format", self.format),
            ("period_start", self.period_start),
            ("period_end", self.period_end),
        ]
        .into_iter()
        .enumerate()
        {
            if i > 0 {
                out.push(';');
            }
            out.push_str(name);
            out.push('=');
            value(&mut out, v);
        }
        out
    }

    /// The fingerprint of this export of `project`: [`RequestFingerprint::of`] over the target
    /// `export <org uuid> <project uuid>` (lower-case, hyphenated) and [`Self::canonical`].
    pub fn fingerprint(&self, org: OrgId, project: ProjectId) -> RequestFingerprint {
        RequestFingerprint::of(&format!("export {org} {project}"), &self.canonical())
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
    fn the_canonical_export_body_is_stable_and_unambiguous() {
        let sent = ExportFields {
            format: Some("csv"),
            period_start: Some("2026-06-01"),
            period_end: None,
        };
        assert_eq!(
            sent.canonical(),
            "format=csv;period_start=2026-06-01;period_end=-"
        );
        assert_eq!(
            ExportFields::default().canonical(),
            "format=-;period_start=-;period_end=-"
        );
        let odd = ExportFields {
            format: Some("-"),
            period_start: Some("a;period_end=b"),
            period_end: Some("é%"),
        };
        assert_eq!(
            odd.canonical(),
            "format=%2D;period_start=a%3Bperiod_end%3Db;period_end=%C3%A9%25"
        );
        assert_ne!(
            ExportFields {
                format: Some("pdf"),
                ..Default::default()
            }
            .canonical(),
            ExportFields::default().canonical()
        );
    }

    #[test]
    fn an_export_fingerprint_is_pinned() {
        let org = OrgId::from_uuid("01970000-0000-7000-8000-000000000001".parse().unwrap());
        let project = ProjectId::from_uuid("01970000-0000-7000-8000-000000000002".parse().unwrap());
        let sent = ExportFields {
            format: Some("csv"),
            period_start: Some("2026-06-01"),
            period_end: None,
        };
        // sha256("export 01970000-0000-7000-8000-000000000001 01970000-0000-7000-8000-000000000002"
        //        + "\0" + "format=csv;period_start=2026-06-01;period_end=-")
        assert_eq!(
            sent.fingerprint(org, project).as_str(),
            "c40a67073419c9b6129f92a0cec7bb307aa543452f3278f242b377ec0bb770dc"
        );
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
