//! Cursor pagination shared by every listing.

use crate::validation::InvalidParams;

pub const DEFAULT_PAGE_LIMIT: u32 = 50;
pub const MAX_PAGE_LIMIT: u32 = 100;

/// How many items a page holds: 1 to 100, 50 when not given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageLimit(u32);

impl PageLimit {
    pub fn parse(raw: Option<&str>) -> Result<Self, InvalidParams> {
        let Some(raw) = raw else {
            return Ok(Self(DEFAULT_PAGE_LIMIT));
        };
        // Digits only: `u32::from_str` would also take `+5`, which the document's integer is not.
        let digits = !raw.is_empty() && raw.bytes().all(|b| b.is_ascii_digit());
        match raw.parse::<u32>() {
            Ok(n) if digits && (1..=MAX_PAGE_LIMIT).contains(&n) => Ok(Self(n)),
            _ => Err(InvalidParams::field(
                "limit",
                format!("must be an integer from 1 to {MAX_PAGE_LIMIT}"),
            )),
        }
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

impl Default for PageLimit {
    fn default() -> Self {
        Self(DEFAULT_PAGE_LIMIT)
    }
}

/// One page of a listing; `next` is the cursor of the page after it, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T, C> {
    pub items: Vec<T>,
    pub next: Option<C>,
}

/// PostgreSQL's `timestamptz` range in microseconds since its epoch (2000-01-01 UTC):
/// 4714-11-24 00:00:00 BC (Julian day 0) included to 294277-01-01 00:00:00 excluded.
const PG_MIN_MICROS: i128 = -211_813_488_000_000_000;
const PG_END_MICROS: i128 = 9_223_371_331_200_000_000;
const PG_EPOCH_UNIX_MICROS: i128 = 946_684_800_000_000;

/// Whether PostgreSQL's `timestamptz` can hold `at`; a cursor with any other time was not made by us.
pub fn storable(at: chrono::DateTime<chrono::Utc>) -> bool {
    let pg_micros = i128::from(at.timestamp_micros()) - PG_EPOCH_UNIX_MICROS;
    (PG_MIN_MICROS..PG_END_MICROS).contains(&pg_micros)
}

/// An id that a keyset cursor can carry.
pub trait KeysetId: Copy {
    fn to_uuid(self) -> uuid::Uuid;
    fn from_uuid(uuid: uuid::Uuid) -> Self;
}

macro_rules! keyset_id {
    ($($t:ty),+) => {$(
        impl KeysetId for $t {
            fn to_uuid(self) -> uuid::Uuid {
                self.as_uuid()
            }
            fn from_uuid(uuid: uuid::Uuid) -> Self {
                <$t>::from_uuid(uuid)
            }
        }
    )+};
}
keyset_id!(
    crate::ids::FindingId,
    crate::export::ReportId,
    crate::ids::ImportId
);

/// Where a newest-first page resumes: after this (created_at, id). Opaque to clients: base64url
/// of `micros:uuid`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeysetCursor<Id> {
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub id: Id,
}

impl<Id: KeysetId> KeysetCursor<Id> {
    pub fn encode(&self) -> String {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!(
            "{}:{}",
            self.created_at.timestamp_micros(),
            self.id.to_uuid()
        ))
    }

    pub fn parse(raw: &str) -> Result<Self, InvalidParams> {
        use base64::Engine;
        let invalid = || InvalidParams::field("cursor", "is not a cursor this API returned");
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(raw)
            .map_err(|_| invalid())?;
        let text = String::from_utf8(bytes).map_err(|_| invalid())?;
        let (micros, id) = text.split_once(':').ok_or_else(invalid)?;
        let micros: i64 = micros.parse().map_err(|_| invalid())?;
        let created_at = chrono::DateTime::from_timestamp_micros(micros)
            .filter(|at| storable(*at))
            .ok_or_else(invalid)?;
        let id = uuid::Uuid::parse_str(id).map_err(|_| invalid())?;
        Ok(Self {
            created_at,
            id: Id::from_uuid(id),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::FindingId;

    #[test]
    fn limits_are_plain_integers_from_1_to_100() {
        assert_eq!(PageLimit::parse(None).unwrap().get(), DEFAULT_PAGE_LIMIT);
        assert_eq!(PageLimit::parse(Some("1")).unwrap().get(), 1);
        assert_eq!(PageLimit::parse(Some("100")).unwrap().get(), 100);
        for bad in ["0", "101", "+5", "-1", " 5", "5.0", "", "1e2"] {
            assert!(PageLimit::parse(Some(bad)).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let cursor = KeysetCursor {
            created_at: "2026-06-01T12:00:00.123456Z".parse().unwrap(),
            id: FindingId::generate(),
        };
        assert_eq!(KeysetCursor::parse(&cursor.encode()).unwrap(), cursor);
        assert!(KeysetCursor::<FindingId>::parse("nope").is_err());
        assert!(KeysetCursor::<FindingId>::parse("").is_err());
    }

    #[test]
    fn storable_bounds_are_postgresql_timestamptz() {
        use chrono::{NaiveDate, TimeDelta};
        let min = NaiveDate::from_ymd_opt(-4713, 11, 24)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap()
            .and_utc();
        assert!(storable(min));
        assert!(!storable(min - TimeDelta::microseconds(1)));
    }

    #[test]
    fn forged_cursors_with_unstorable_times_are_refused() {
        use base64::Engine;
        let forge = |micros: i64| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(format!("{micros}:{}", uuid::Uuid::nil()))
        };
        assert!(KeysetCursor::<FindingId>::parse(&forge(0)).is_ok());
        let before_min = -210_866_803_200_000_001;
        for micros in [before_min, -300_000_000_000_000_000, i64::MIN, i64::MAX] {
            let err = KeysetCursor::<FindingId>::parse(&forge(micros)).unwrap_err();
            assert_eq!(err.fields()[0].field, "cursor");
        }
    }
}
