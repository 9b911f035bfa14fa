//! What an import changes, decided on the project's findings of its source as stored (and
//! locked): the matching rules of re-import.
//!
//! - A result whose external id is unknown is created at the scan's time.
//! - A known one that is open stays as it is; a changed priority score (from a changed
//!   severity, say) is recorded as a priority change.
//! - A known one that is `resolved` is reopened (`new`, with the result's priority score), and
//!   a regression is opened on it: the scan found it again.
//! - A known one that is `dismissed` stays dismissed: an accepted risk or a false positive does
//!   not come back through a scan.
//! - With `close_missing`, every open finding of the source that the import does not hold is
//!   resolved.
//!
//! What the scanner says about a known finding (rule, location, description) is refreshed,
//! since its lines move between commits; its title and severity stay as first recorded.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};

use crate::ids::FindingId;
use crate::import::{ImportCounts, ScanResult};
use crate::ledger::{
    Finding, FindingChange, FindingState, FindingStatus, Provenance, Regression, Rejection,
    ScanOrigin, SourceName,
};
use crate::validation::InvalidParams;

/// A change of a stored finding: the finding as stored, and the history event to add.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedChange {
    pub before: Finding,
    pub change: FindingChange,
}

/// Everything an import writes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportPlan {
    /// New findings, created at the scan's time (their `due_on` is the store's to set).
    pub creations: Vec<Finding>,
    /// History events on stored findings, at most one per finding.
    pub changes: Vec<PlannedChange>,
    /// Regressions opened on the findings that came back.
    pub regressions: Vec<Regression>,
    /// Stored findings whose scanner details changed, with the new details.
    pub refreshed: Vec<(FindingId, Provenance)>,
    pub counts: ImportCounts,
}

/// Decides what importing `results` of `source` at `at` changes, given the project's findings
/// of that source as stored.
pub fn plan_import(
    stored: &[Finding],
    results: Vec<ScanResult>,
    source: &SourceName,
    close_missing: bool,
    at: DateTime<Utc>,
) -> Result<ImportPlan, Rejection> {
    let by_external_id: HashMap<&str, &Finding> = stored
        .iter()
        .filter_map(|f| f.provenance.external_id().map(|e| (e.as_str(), f)))
        .collect();
    let mut plan = ImportPlan::default();
    let mut seen: HashSet<FindingId> = HashSet::with_capacity(results.len());
    plan.counts.received = u32::try_from(results.len()).unwrap_or(u32::MAX);
    for result in results {
        let details = Provenance {
            origin: Some(ScanOrigin {
                source: source.clone(),
                external_id: result.external_id.clone(),
            }),
            rule_id: result.rule_id.clone(),
            location: result.location.clone(),
            description: result.description.clone(),
        };
        let Some(&finding) = by_external_id.get(result.external_id.as_str()) else {
            plan.creations.push(Finding {
                id: FindingId::generate(),
                title: result.title,
                severity: result.severity,
                state: FindingState {
                    status: result.status,
                    priority_score: result.priority_score,
                },
                created_at: at,
                updated_at: at,
                due_on: None,
                provenance: details,
            });
            plan.counts.created += 1;
            continue;
        };
        seen.insert(finding.id);
        if finding.provenance != details {
            plan.refreshed.push((finding.id, details));
        }
        let after = match finding.state.status {
            FindingStatus::Dismissed => {
                plan.counts.ignored_dismissed += 1;
                continue;
            }
            FindingStatus::Resolved => {
                plan.counts.reopened += 1;
                plan.regressions.push(Regression::open(finding.id, at));
                FindingState {
                    status: FindingStatus::New,
                    priority_score: result.priority_score,
                }
            }
            _ => {
                plan.counts.unchanged += 1;
                FindingState {
                    priority_score: result.priority_score,
                    ..finding.state
                }
            }
        };
        if after != finding.state {
            plan.changes.push(change(finding, after, at)?);
        }
    }
    if close_missing {
        for finding in stored {
            if !finding.state.status.is_terminal() && !seen.contains(&finding.id) {
                let after = FindingState {
                    status: FindingStatus::Resolved,
                    ..finding.state
                };
                plan.changes.push(change(finding, after, at)?);
                plan.counts.resolved += 1;
            }
        }
    }
    Ok(plan)
}

fn change(
    finding: &Finding,
    after: FindingState,
    at: DateTime<Utc>,
) -> Result<PlannedChange, Rejection> {
    if at < finding.updated_at {
        return Err(InvalidParams::field(
            "occurred_at",
            format!(
                "must not be before the latest change of finding {} ({}), which this import changes",
                finding.id,
                finding.updated_at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
            ),
        )
        .into());
    }
    Ok(PlannedChange {
        before: finding.clone(),
        change: FindingChange {
            finding_id: finding.id,
            occurred_at: at,
            before: Some(finding.state),
            after,
        },
    })
}
