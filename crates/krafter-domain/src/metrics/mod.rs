//! The report summary (risk burn-down, verification pass rate, regression rate, open findings)
//! and, in [`remediation`], the remediation report (flows, time to resolve, SLA, overdue, aging).
//!
//! Every write to the ledger adds a [`DayDelta`] to its project's totals for the day it occurred;
//! the state at the end of any day is then the sum of the deltas up to that day. Summaries are
//! prefix sums over those totals, so their cost does not grow with the number of findings.

mod delta;
mod port;
pub mod reference;
pub mod remediation;
mod returned;
mod service;
mod summary;
mod window;

pub use delta::{DatedDelta, DayDelta, DeltaLedger};
pub use port::{MetricsRepoError, MetricsRepository, OrgMetricsRepository};
#[cfg(feature = "mock")]
pub use port::{MockMetricsRepository, MockOrgMetricsRepository};
pub use returned::{returned_shift, FindingRecord};
pub use service::{OrgSummaries, Summaries, SummaryError};
pub use summary::{summarize, BurnDownPoint, Summary};
pub use window::{DateWindow, SummaryQuery, VerificationScope, MAX_WINDOW_DAYS};
