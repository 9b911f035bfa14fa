//! Remediation metrics and SLAs: how fast findings are fixed, per severity, history-exact for any
//! window, at a cost that does not grow with the number of findings.
//!
//! Definitions (UTC days; `docs/metrics.md` has them in full):
//! - Open = a non-terminal status; closed = `resolved` or `dismissed`.
//! - `opened`: creations (in any status). `reopened`: changes from a closed to an open status.
//!   `resolved` / `dismissed`: changes from an open status into that status, and creations
//!   directly in it. A change from one closed status to the other counts as neither.
//! - Time to resolve of a `resolved` event: its `occurred_at` minus the finding's creation time,
//!   in whole seconds, shown in hours: count, exact mean, nearest-rank p50 and p90 within 2 %
//!   (from fixed histograms: [`histogram`]).
//! - A finding's `due_on` is the UTC date of its creation plus its severity's days under the
//!   [`SlaPolicy`] in force at its creation time, and never changes. A `resolved` event is within
//!   SLA when its UTC date is on or before `due_on`. A finding is overdue on day `D` when it is
//!   open at the end of `D` and `D > due_on`.
//! - Age on day `D`: `D` minus the UTC date of creation, in days, bucketed `0-7`, `8-30`,
//!   `31-90`, `91-180`, `181+` ([`AgeBucket`]).
//! - A finding's severity is set at its creation and never changes (the ledger records status
//!   and priority score changes only), so each finding counts under one severity throughout.
//!
//! How: each ledger write adds [`remediation_deltas`] to its project's totals per (day,
//! severity) — flows on the day of the event, levels as steps, with the overdue and aging
//! thresholds dated in the future — and [`remediation_report`] folds the totals of a window.
//! [`reference`](mod@reference) recomputes the report from the raw history; tests hold both equal.

pub mod aging;
mod delta;
pub mod histogram;
mod period;
mod port;
mod query;
pub mod reference;
mod report;
mod service;
mod severity;
mod sla;
mod write;

pub use aging::{AgeBucket, AgingCounts};
pub use delta::{DatedRemediationDelta, RemediationDelta, RemediationLedger};
pub use histogram::{TtrHistogram, MAX_TTR_SECONDS, TTR_BIN_COUNT};
pub use period::{periods, Granularity, Period};
#[cfg(feature = "mock")]
pub use port::MockRemediationRepository;
pub use port::{RemediationRepoError, RemediationRepository};
pub use query::{RemediationQuery, REMEDIATION_DEFAULT_WINDOW_DAYS};
pub use report::{
    remediation_report, AgingAtEnd, RemediationBucket, RemediationMetrics, RemediationReport,
    RemediationTotal, TimeToResolve,
};
pub use service::{RemediationError, RemediationReports};
pub use severity::{BySeverity, SEVERITY_ORDER};
pub use sla::{
    due_on, policy_in_force, policy_in_force_at_end_of, CurrentSlaPolicy, EffectivePolicy, SlaDays,
    SlaPolicy,
};
pub use write::{remediation_deltas, RemediationWrite};

/// The version of these metric definitions (flows, time to resolve and its histogram bins, SLA,
/// overdue, aging). Exports record it with their figures so that anyone can recompute them from
/// the history under the same rules; any change to a definition or to the bins bumps it.
pub const REMEDIATION_DEFINITIONS_VERSION: u32 = 1;
