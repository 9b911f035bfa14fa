//! The summary test vectors (`../shared/spec/summary-vectors.json`, copied into this crate's
//! `tests/data`, so that the packaged crate's tests carry their own data): small histories with
//! the summaries they must produce under a fixed clock.
//!
//! krafter-test-support compiles this file too (through `#[path]`) for the adapters' tests, so it
//! may use only krafter-domain, chrono, serde and serde_json.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use krafter_domain::ids::{FindingId, RegressionId, VerificationId};
use krafter_domain::ledger::{
    FindingHistory, FindingState, FindingStatus, PriorityScore, ProjectHistory, Regression,
    Verification, VerificationResult,
};
use krafter_domain::metrics::{BurnDownPoint, Summary};
use serde::Deserialize;

pub const VECTORS_JSON: &str = include_str!("../data/summary-vectors.json");

#[derive(Debug, Deserialize)]
pub struct Vectors {
    pub now: DateTime<Utc>,
    pub today: NaiveDate,
    pub scenarios: Vec<Scenario>,
}

#[derive(Debug, Deserialize)]
pub struct Scenario {
    pub name: String,
    pub findings: Vec<VectorFinding>,
    pub verifications: Vec<VectorVerification>,
    pub regressions: Vec<VectorRegression>,
    pub queries: Vec<VectorQuery>,
}

#[derive(Debug, Deserialize)]
pub struct VectorFinding {
    pub key: String,
    pub events: Vec<VectorEvent>,
}

#[derive(Debug, Deserialize)]
pub struct VectorEvent {
    pub at: DateTime<Utc>,
    pub status: String,
    pub priority_score: i64,
}

#[derive(Debug, Deserialize)]
pub struct VectorVerification {
    pub finding: String,
    pub at: DateTime<Utc>,
    pub result: String,
}

#[derive(Debug, Deserialize)]
pub struct VectorRegression {
    pub finding: String,
    pub opened_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Deserialize)]
pub struct VectorQuery {
    pub date_from: Option<String>,
    pub date_to: Option<String>,
    pub expected: serde_json::Value,
}

/// One write, in the order a client would import the scenario (by time; ties keep file order).
#[derive(Debug, Clone, PartialEq)]
pub enum Step<'a> {
    CreateFinding {
        key: &'a str,
        at: DateTime<Utc>,
        status: &'a str,
        priority_score: i64,
    },
    ChangeFinding {
        key: &'a str,
        at: DateTime<Utc>,
        status: &'a str,
        priority_score: i64,
    },
    Verify {
        key: &'a str,
        at: DateTime<Utc>,
        result: &'a str,
    },
    OpenRegression {
        index: usize,
        key: &'a str,
        at: DateTime<Utc>,
    },
    CloseRegression {
        index: usize,
        at: DateTime<Utc>,
    },
}

impl Step<'_> {
    pub fn at(&self) -> DateTime<Utc> {
        match self {
            Step::CreateFinding { at, .. }
            | Step::ChangeFinding { at, .. }
            | Step::Verify { at, .. }
            | Step::OpenRegression { at, .. }
            | Step::CloseRegression { at, .. } => *at,
        }
    }
}

pub fn load() -> Vectors {
    serde_json::from_str(VECTORS_JSON).expect("the summary vectors parse")
}

impl Scenario {
    pub fn steps(&self) -> Vec<Step<'_>> {
        let mut steps = Vec::new();
        for finding in &self.findings {
            for (i, event) in finding.events.iter().enumerate() {
                let (key, at, status, priority_score) = (
                    finding.key.as_str(),
                    event.at,
                    event.status.as_str(),
                    event.priority_score,
                );
                steps.push(if i == 0 {
                    Step::CreateFinding {
                        key,
                        at,
                        status,
                        priority_score,
                    }
                } else {
                    Step::ChangeFinding {
                        key,
                        at,
                        status,
                        priority_score,
                    }
                });
            }
        }
        for v in &self.verifications {
            steps.push(Step::Verify {
                key: &v.finding,
                at: v.at,
                result: &v.result,
            });
        }
        for (index, r) in self.regressions.iter().enumerate() {
            steps.push(Step::OpenRegression {
                index,
                key: &r.finding,
                at: r.opened_at,
            });
            if let Some(at) = r.closed_at {
                steps.push(Step::CloseRegression { index, at });
            }
        }
        steps.sort_by_key(Step::at);
        steps
    }

    /// The scenario as a domain history, with fresh ids.
    pub fn history(&self) -> ProjectHistory {
        let ids: HashMap<&str, FindingId> = self
            .findings
            .iter()
            .map(|f| (f.key.as_str(), FindingId::generate()))
            .collect();
        let state = |e: &VectorEvent| FindingState {
            status: FindingStatus::parse(&e.status).expect("a known status"),
            priority_score: PriorityScore::parse(e.priority_score).expect("a valid score"),
        };
        ProjectHistory {
            findings: self
                .findings
                .iter()
                .map(|f| FindingHistory {
                    finding_id: ids[f.key.as_str()],
                    events: f.events.iter().map(|e| (e.at, state(e))).collect(),
                })
                .collect(),
            verifications: self
                .verifications
                .iter()
                .map(|v| Verification {
                    id: VerificationId::generate(),
                    finding_id: ids[v.finding.as_str()],
                    result: VerificationResult::parse(&v.result).expect("a known result"),
                    occurred_at: v.at,
                })
                .collect(),
            regressions: self
                .regressions
                .iter()
                .map(|r| Regression {
                    id: RegressionId::generate(),
                    finding_id: ids[r.finding.as_str()],
                    opened_at: r.opened_at,
                    closed_at: r.closed_at,
                })
                .collect(),
        }
    }
}

/// The expected summary of a query, as a domain value.
pub fn expected_summary(expected: &serde_json::Value) -> Summary {
    let points = expected["risk_burn_down"]
        .as_array()
        .expect("risk_burn_down");
    Summary {
        risk_burn_down: points
            .iter()
            .map(|p| BurnDownPoint {
                date: p["date"]
                    .as_str()
                    .and_then(|d| d.parse().ok())
                    .expect("a date"),
                open_risk_score: p["open_risk_score"].as_i64().expect("a score"),
            })
            .collect(),
        verification_pass_rate: expected["verification_pass_rate"].as_f64().expect("a rate"),
        regression_rate: expected["regression_rate"].as_f64().expect("a rate"),
        open_findings: expected["open_findings"].as_i64().expect("a count"),
    }
}
