//! How a report's summary snapshot is stored (`reports.snapshot`, jsonb): a type of this adapter,
//! versioned, apart from the domain's `Summary` and the API's JSON, so that a change of either
//! cannot make stored reports unreadable. Version 1 is the shape every report so far was stored
//! in, without a `version` member; a later version adds `"version": 2` and a conversion here.

use chrono::NaiveDate;
use krafter_domain::metrics::{BurnDownPoint, Summary};
use krafter_domain::storage::StorageError;
use serde::{Deserialize, Serialize};

/// Version 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct StoredSnapshot {
    /// Absent in version 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    version: Option<u32>,
    risk_burn_down: Vec<StoredPoint>,
    verification_pass_rate: f64,
    regression_rate: f64,
    open_findings: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct StoredPoint {
    date: NaiveDate,
    open_risk_score: i64,
}

impl From<&Summary> for StoredSnapshot {
    fn from(s: &Summary) -> Self {
        Self {
            version: None,
            risk_burn_down: s
                .risk_burn_down
                .iter()
                .map(|p| StoredPoint {
                    date: p.date,
                    open_risk_score: p.open_risk_score,
                })
                .collect(),
            verification_pass_rate: s.verification_pass_rate,
            regression_rate: s.regression_rate,
            open_findings: s.open_findings,
        }
    }
}

impl StoredSnapshot {
    pub fn to_json(summary: &Summary) -> Result<serde_json::Value, StorageError> {
        serde_json::to_value(StoredSnapshot::from(summary)).map_err(crate::store::storage_error)
    }

    pub fn read(value: serde_json::Value) -> Result<Summary, StorageError> {
        let stored: StoredSnapshot = serde_json::from_value(value)
            .map_err(|_| StorageError::new("stored report snapshot does not read"))?;
        match stored.version {
            None | Some(1) => Ok(Summary {
                risk_burn_down: stored
                    .risk_burn_down
                    .iter()
                    .map(|p| BurnDownPoint {
                        date: p.date,
                        open_risk_score: p.open_risk_score,
                    })
                    .collect(),
                verification_pass_rate: stored.verification_pass_rate,
                regression_rate: stored.regression_rate,
                open_findings: stored.open_findings,
            }),
            Some(other) => Err(StorageError::new(format!(
                "stored report snapshot of version {other}, which this version cannot read"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A snapshot as every version so far stored it (version 1, written before this type).
    const STORED_V1: &str = r#"{"risk_burn_down":[{"date":"2026-06-01","open_risk_score":120},{"date":"2026-06-02","open_risk_score":70}],"verification_pass_rate":0.5,"regression_rate":0.25,"open_findings":3}"#;

    #[test]
    fn a_stored_version_1_snapshot_reads_and_is_written_the_same() {
        let value: serde_json::Value = serde_json::from_str(STORED_V1).unwrap();
        let summary = StoredSnapshot::read(value.clone()).unwrap();
        assert_eq!(summary.open_findings, 3);
        assert_eq!(summary.regression_rate, 0.25);
        assert_eq!(summary.risk_burn_down[1].open_risk_score, 70);
        assert_eq!(StoredSnapshot::to_json(&summary).unwrap(), value);
    }

    #[test]
    fn an_unknown_version_or_shape_is_an_error_not_a_guess() {
        let mut value: serde_json::Value = serde_json::from_str(STORED_V1).unwrap();
        value["version"] = 2.into();
        assert!(StoredSnapshot::read(value).is_err());
        assert!(StoredSnapshot::read(serde_json::json!({"open_findings": 1})).is_err());
    }
}
