//! Where the remediation totals and the SLA policies live.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::ids::{OrgId, ProjectId};
use crate::metrics::remediation::delta::RemediationLedger;
use crate::metrics::remediation::sla::{EffectivePolicy, SlaPolicy};
use crate::metrics::window::DateWindow;
use crate::storage::StorageError;

/// Why a remediation repository could not answer.
#[derive(Debug, thiserror::Error)]
pub enum RemediationRepoError {
    /// `store_sla_policy` for an organisation that does not exist.
    #[error("the organisation does not exist")]
    UnknownOrganisation,
    /// The store could not be reached or answered unexpectedly.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// Reads the remediation daily totals and keeps the organisations' SLA policies.
///
/// What the ledger writes (in the same transaction as each ledger write, under the finding's
/// lock, like the summary's [`crate::metrics::DayDelta`]):
/// - A finding's `due_on` is computed once, in its creation's transaction:
///   [`super::due_on`] of its `created_at` and severity under
///   [`super::policy_in_force`]`(policies of its organisation, created_at)` (not simply the
///   current policy: a backdated creation takes the policy of its time). It is stored with the
///   finding and never changes.
/// - Each creation adds `remediation_deltas(&RemediationWrite::creation(..))` and each status or
///   priority change `remediation_deltas(&RemediationWrite::change(..))` (the latter answers
///   nothing for a priority-only change) to the project's totals per (day, severity), summed, so
///   that the totals equal a replay of the history ([`super::reference::daily_deltas`]).
///   Deltas may be dated after today.
///
/// Contract of the reads:
/// - `project_deltas` answers, for the project and per severity, the sum of every delta dated
///   before `window.from()` (the flows may be left zero: only the levels are read) and the
///   non-zero deltas dated within the window (any order; deltas dated after `window.to()` may be
///   left out). A project with no history answers an empty ledger, never an error.
/// - `org_deltas` answers the same summed over every project of the organisation (per day and
///   severity; histograms bin by bin). An organisation with no project, or that does not exist,
///   answers an empty ledger.
/// - `sla_policies` answers every policy the organisation stored, oldest `effective_from` first;
///   empty when it never stored one (the default then applies everywhere).
/// - `current_sla_policy` answers the one with the latest `effective_from`, `None` when none.
/// - `store_sla_policy` stores `policy` as in force from `now`, or from one microsecond after the
///   latest stored `effective_from` when `now` is not after it, keeping every earlier policy, and
///   answers what it stored. It is serialised against the creations of the organisation's
///   findings (each of which reads the policy in force at its `created_at` under the same lock,
///   shared) so that no finding created at or after the stored `effective_from` took its due date
///   from the previous policy; an adapter stamps `effective_from` no earlier than its clock once
///   it holds the lock. `UnknownOrganisation` when the organisation does not exist.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait RemediationRepository: Send + Sync {
    /// The project's totals for `window` (see the trait's contract).
    async fn project_deltas(
        &self,
        project: ProjectId,
        window: &DateWindow,
    ) -> Result<RemediationLedger, RemediationRepoError>;

    /// The organisation's totals for `window`, summed over its projects.
    async fn org_deltas(
        &self,
        org: OrgId,
        window: &DateWindow,
    ) -> Result<RemediationLedger, RemediationRepoError>;

    /// Every stored policy of the organisation, oldest first.
    async fn sla_policies(&self, org: OrgId) -> Result<Vec<EffectivePolicy>, RemediationRepoError>;

    /// The latest stored policy, `None` when none was ever stored.
    async fn current_sla_policy(
        &self,
        org: OrgId,
    ) -> Result<Option<EffectivePolicy>, RemediationRepoError>;

    /// Stores `policy` in force from `now` (or just after the latest one) and answers it.
    async fn store_sla_policy(
        &self,
        org: OrgId,
        policy: &SlaPolicy,
        now: DateTime<Utc>,
    ) -> Result<EffectivePolicy, RemediationRepoError>;
}
