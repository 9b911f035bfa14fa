use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::ids::FindingId;
use crate::ledger::finding::Finding;
use crate::validation::InvalidParams;

/// Where a newest-first page of findings resumes: after this (created_at, id).
/// Opaque to clients: base64url of `micros:uuid`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FindingCursor {
    pub created_at: DateTime<Utc>,
    pub id: FindingId,
}

impl FindingCursor {
    pub fn after(finding: &Finding) -> Self {
        Self {
            created_at: finding.created_at,
            id: finding.id,
        }
    }

    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!(
            "{}:{}",
            self.created_at.timestamp_micros(),
            self.id
        ))
    }

    pub fn parse(raw: &str) -> Result<Self, InvalidParams> {
        let invalid = || InvalidParams::field("cursor", "is not a cursor this API returned");
        let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| invalid())?;
        let text = String::from_utf8(bytes).map_err(|_| invalid())?;
        let (micros, id) = text.split_once(':').ok_or_else(invalid)?;
        let micros: i64 = micros.parse().map_err(|_| invalid())?;
        let created_at = DateTime::from_timestamp_micros(micros).ok_or_else(invalid)?;
        let id = Uuid::parse_str(id).map_err(|_| invalid())?;
        Ok(Self {
            created_at,
            id: FindingId::from_uuid(id),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let cursor = FindingCursor {
            created_at: "2026-06-01T12:00:00.123456Z".parse().unwrap(),
            id: FindingId::generate(),
        };
        assert_eq!(FindingCursor::parse(&cursor.encode()).unwrap(), cursor);
        assert!(FindingCursor::parse("nope").is_err());
        assert!(FindingCursor::parse("").is_err());
    }
}
