//! The findings ledger. Every write locks the row it decides on (`SELECT … FOR UPDATE`, scoped by
//! project), runs the domain's decision on it, and stores the outcome together with its day delta
//! in one transaction.
//!
//! Every write that concerns a finding, closing one of its regressions included, holds the
//! finding's lock: whether a finding counts as returned depends on its events and all its
//! regressions together, so the shift a write adds is only exact if none of them moves meanwhile.

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::upsert::excluded;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use krafter_domain::ids::{FindingId, ProjectId, RegressionId};
use krafter_domain::ledger::{
    Decide, Finding, FindingChange, FindingCursor, FindingDetail, FindingHistory, FindingQuery,
    FindingState, LedgerRepoError, LedgerRepository, ProjectHistory, Regression, Rejection,
    Verification,
};
use krafter_domain::metrics::remediation::{remediation_deltas, RemediationWrite};
use krafter_domain::metrics::{returned_shift, DatedDelta, DayDelta, FindingRecord};
use krafter_domain::page::Page;
use uuid::Uuid;

use crate::keyset::{page_of, resume_after};
use crate::repos::remediation::{add_remediation, due_on_in, merge, RemediationTotals};
use crate::rows::{
    self, DailyTotalRow, FindingEventRow, FindingRow, RegressionRow, VerificationRow,
};
use crate::schema::{finding_events, findings, project_daily_totals, regressions, verifications};
use crate::tx::TxError;
use crate::PgStore;

/// Why a ledger transaction stopped; a missing finding or regression and a refused decision are
/// the port's answers.
type Tx = TxError<LedgerRepoError>;

fn rejected(r: Rejection) -> Tx {
    Tx::Answer(LedgerRepoError::Rejected(r))
}

/// Locks the finding against concurrent writes until the transaction ends.
async fn lock_finding(
    conn: &mut AsyncPgConnection,
    project: ProjectId,
    id: FindingId,
) -> Result<Finding, Tx> {
    let row = findings::table
        .filter(findings::id.eq(id.as_uuid()))
        .filter(findings::project_id.eq(project.as_uuid()))
        .select(FindingRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()?
        .ok_or(Tx::Answer(LedgerRepoError::FindingNotFound))?;
    Ok(Finding::try_from(row)?)
}

/// The finding's regressions as stored, in the transaction that holds its lock.
async fn regressions_of(
    conn: &mut AsyncPgConnection,
    finding: FindingId,
) -> QueryResult<Vec<Regression>> {
    let rows: Vec<RegressionRow> = regressions::table
        .filter(regressions::finding_id.eq(finding.as_uuid()))
        .order((regressions::opened_at.asc(), regressions::id.asc()))
        .select(RegressionRow::as_select())
        .load(conn)
        .await?;
    Ok(rows.into_iter().map(Regression::from).collect())
}

/// The finding's events as stored, in recorded order.
async fn events_of(
    conn: &mut AsyncPgConnection,
    finding: FindingId,
) -> Result<Vec<(DateTime<Utc>, FindingState)>, Tx> {
    let stored: Vec<(DateTime<Utc>, i16, i32)> = finding_events::table
        .filter(finding_events::finding_id.eq(finding.as_uuid()))
        .order(finding_events::seq.asc())
        .select((
            finding_events::occurred_at,
            finding_events::status,
            finding_events::priority_score,
        ))
        .load(conn)
        .await?;
    let mut events = Vec::with_capacity(stored.len());
    for (at, status, priority) in stored {
        events.push((at, rows::state(status, priority)?));
    }
    Ok(events)
}

async fn record_of(conn: &mut AsyncPgConnection, finding: FindingId) -> Result<FindingRecord, Tx> {
    Ok(FindingRecord {
        events: events_of(conn, finding).await?,
        regressions: regressions_of(conn, finding).await?,
    })
}

/// Adds the deltas to the project's daily totals: merged per day, zero days skipped, one upsert
/// over the days in ascending order (so that concurrent writers lock rows in the same order).
///
/// A write that also changes the remediation totals adds those first and these last, just
/// before its commit: every creation of a day updates the same day row, so writers go one at a
/// time from this upsert to their commit, and that stretch is kept short (the remediation rows,
/// one per severity, are shared by fewer). Every transaction that holds both kinds takes the
/// remediation ones first, rebuilds too (their table locks in that order), or two could wait
/// for each other.
pub(crate) async fn add_deltas(
    conn: &mut AsyncPgConnection,
    project: ProjectId,
    deltas: impl IntoIterator<Item = DatedDelta>,
) -> QueryResult<()> {
    use project_daily_totals as t;
    let mut by_day: BTreeMap<NaiveDate, DayDelta> = BTreeMap::new();
    for d in deltas {
        *by_day.entry(d.day).or_default() += d.delta;
    }
    let rows: Vec<DailyTotalRow> = by_day
        .into_iter()
        .filter(|(_, delta)| !delta.is_zero())
        .map(|(day, delta)| DailyTotalRow::new(project, day, delta))
        .collect();
    if rows.is_empty() {
        return Ok(());
    }
    diesel::insert_into(t::table)
        .values(&rows)
        .on_conflict((t::project_id, t::day))
        .do_update()
        .set((
            t::open_risk_score.eq(t::open_risk_score + excluded(t::open_risk_score)),
            t::open_findings.eq(t::open_findings + excluded(t::open_findings)),
            t::terminal_findings.eq(t::terminal_findings + excluded(t::terminal_findings)),
            t::open_regressions.eq(t::open_regressions + excluded(t::open_regressions)),
            t::verifications.eq(t::verifications + excluded(t::verifications)),
            t::verifications_passed.eq(t::verifications_passed + excluded(t::verifications_passed)),
            t::returned_findings.eq(t::returned_findings + excluded(t::returned_findings)),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

#[async_trait]
impl LedgerRepository for PgStore {
    async fn create_finding(
        &self,
        project: ProjectId,
        finding: &Finding,
    ) -> Result<Finding, LedgerRepoError> {
        let mut conn = self.conn().await?;
        let conn: &mut AsyncPgConnection = &mut conn;
        let creation = FindingChange::creation(finding);
        let event = FindingEventRow::new(finding.id, 0, creation.occurred_at, creation.after);
        let remediation_totals = self.remediation_totals;
        let due = conn
            .transaction::<_, Tx, _>(async move |conn| {
                let due = if remediation_totals {
                    due_on_in(conn, project, finding.created_at, finding.severity).await?
                } else {
                    None
                };
                let row = FindingRow::new(
                    project,
                    &Finding {
                        due_on: due,
                        ..finding.clone()
                    },
                );
                diesel::insert_into(findings::table)
                    .values(&row)
                    .execute(conn)
                    .await
                    .map_err(|e| match e {
                        DieselError::DatabaseError(
                            DatabaseErrorKind::UniqueViolation,
                            ref info,
                        ) if info.constraint_name() == Some("findings_pkey") => {
                            Tx::Answer(LedgerRepoError::FindingExists)
                        }
                        e => Tx::Db(e),
                    })?;
                diesel::insert_into(finding_events::table)
                    .values(&event)
                    .execute(conn)
                    .await?;
                // The remediation rows first, the summary's day row last: see `add_deltas`.
                if remediation_totals {
                    let mut remediation = RemediationTotals::new();
                    merge(
                        &mut remediation,
                        remediation_deltas(&RemediationWrite::creation(finding, due)),
                    );
                    add_remediation(conn, project, &remediation).await?;
                }
                add_deltas(conn, project, [creation.day_delta()]).await?;
                Ok(due)
            })
            .await?;
        Ok(Finding {
            due_on: due,
            ..finding.clone()
        })
    }

    async fn change_finding(
        &self,
        project: ProjectId,
        finding: FindingId,
        decide: Decide<Finding, Option<FindingChange>>,
    ) -> Result<Finding, LedgerRepoError> {
        let mut conn = self.conn().await?;
        let conn: &mut AsyncPgConnection = &mut conn;
        let finding = conn
            .transaction::<_, Tx, _>(async move |conn| {
                let current = lock_finding(conn, project, finding).await?;
                let due: Option<NaiveDate> = findings::table
                    .find(current.id.as_uuid())
                    .select(findings::due_on)
                    .first(conn)
                    .await?;
                let Some(change) = decide(&current).map_err(rejected)? else {
                    return Ok(current);
                };
                // The history replays from the stored state, so the delta must start from it.
                let change = FindingChange {
                    finding_id: current.id,
                    before: Some(current.state),
                    ..change
                };
                // Without a regression the finding never counts as returned, before or after.
                let regressions = regressions_of(conn, current.id).await?;
                let returned = if regressions.is_empty() {
                    Vec::new()
                } else {
                    let before = FindingRecord {
                        events: events_of(conn, current.id).await?,
                        regressions,
                    };
                    let mut after = before.clone();
                    after.events.push((change.occurred_at, change.after));
                    returned_shift(&before, &after)
                };
                let last_seq: Option<i32> = finding_events::table
                    .filter(finding_events::finding_id.eq(current.id.as_uuid()))
                    .select(diesel::dsl::max(finding_events::seq))
                    .first(conn)
                    .await?;
                let seq = last_seq.map_or(0, |s| s + 1);
                diesel::insert_into(finding_events::table)
                    .values(FindingEventRow::new(
                        current.id,
                        seq,
                        change.occurred_at,
                        change.after,
                    ))
                    .execute(conn)
                    .await?;
                let updated = change.apply(&current);
                diesel::update(findings::table.find(current.id.as_uuid()))
                    .set((
                        findings::status.eq(updated.state.status.code()),
                        findings::priority_score.eq(updated.state.priority_score.get()),
                        findings::updated_at.eq(updated.updated_at),
                    ))
                    .execute(conn)
                    .await?;
                // The remediation rows first, the summary's day row last: see `add_deltas`.
                let mut remediation = RemediationTotals::new();
                merge(
                    &mut remediation,
                    remediation_deltas(&RemediationWrite::change(&current, &change, due)),
                );
                add_remediation(conn, project, &remediation).await?;
                add_deltas(
                    conn,
                    project,
                    std::iter::once(change.day_delta()).chain(returned),
                )
                .await?;
                Ok(updated)
            })
            .await?;
        Ok(finding)
    }

    async fn list_findings(
        &self,
        project: ProjectId,
        query: &FindingQuery,
    ) -> Result<Page<Finding, FindingCursor>, LedgerRepoError> {
        let mut conn = self.conn().await?;
        let limit = query.limit.get() as usize;
        let mut select = findings::table
            .filter(findings::project_id.eq(project.as_uuid()))
            .select(FindingRow::as_select())
            .order((findings::created_at.desc(), findings::id.desc()))
            .limit(limit as i64 + 1)
            .into_boxed();
        if let Some(status) = query.status {
            select = select.filter(findings::status.eq(status.code()));
        }
        if let Some(source) = &query.source {
            select = select.filter(findings::source.eq(source.as_str().to_owned()));
        }
        let select = resume_after!(select, findings, query.after);
        let rows: Vec<FindingRow> = select
            .load(&mut conn)
            .await
            .map_err(crate::store::storage_error)?;
        Ok(page_of(rows, limit, Finding::try_from, |f| {
            (f.created_at, f.id)
        })?)
    }

    async fn finding(
        &self,
        project: ProjectId,
        finding: FindingId,
    ) -> Result<FindingDetail, LedgerRepoError> {
        let mut conn = self.conn().await?;
        let conn: &mut AsyncPgConnection = &mut conn;
        let detail = conn
            .build_transaction()
            .repeatable_read()
            .read_only()
            .run::<_, Tx, _>(async move |conn| {
                let row = findings::table
                    .filter(findings::id.eq(finding.as_uuid()))
                    .filter(findings::project_id.eq(project.as_uuid()))
                    .select(FindingRow::as_select())
                    .first(conn)
                    .await
                    .optional()?
                    .ok_or(Tx::Answer(LedgerRepoError::FindingNotFound))?;
                let finding = Finding::try_from(row)?;
                let history = events_of(conn, finding.id).await?;
                let verifications = verifications::table
                    .filter(verifications::finding_id.eq(finding.id.as_uuid()))
                    .filter(verifications::project_id.eq(project.as_uuid()))
                    .order((verifications::occurred_at.asc(), verifications::id.asc()))
                    .select(VerificationRow::as_select())
                    .load(conn)
                    .await?
                    .into_iter()
                    .map(Verification::try_from)
                    .collect::<Result<Vec<_>, _>>()?;
                let regressions = regressions_of(conn, finding.id).await?;
                Ok(FindingDetail {
                    finding,
                    history,
                    verifications,
                    regressions,
                })
            })
            .await?;
        Ok(detail)
    }

    async fn add_verification(
        &self,
        project: ProjectId,
        finding: FindingId,
        decide: Decide<Finding, Verification>,
    ) -> Result<Verification, LedgerRepoError> {
        let mut conn = self.conn().await?;
        let conn: &mut AsyncPgConnection = &mut conn;
        let verification = conn
            .transaction::<_, Tx, _>(async move |conn| {
                let current = lock_finding(conn, project, finding).await?;
                let verification = Verification {
                    finding_id: current.id,
                    ..decide(&current).map_err(rejected)?
                };
                diesel::insert_into(verifications::table)
                    .values(VerificationRow::new(project, &verification))
                    .execute(conn)
                    .await?;
                add_deltas(conn, project, [verification.day_delta()]).await?;
                Ok(verification)
            })
            .await?;
        Ok(verification)
    }

    async fn open_regression(
        &self,
        project: ProjectId,
        finding: FindingId,
        decide: Decide<Finding, Regression>,
    ) -> Result<Regression, LedgerRepoError> {
        let mut conn = self.conn().await?;
        let conn: &mut AsyncPgConnection = &mut conn;
        let regression = conn
            .transaction::<_, Tx, _>(async move |conn| {
                let current = lock_finding(conn, project, finding).await?;
                let regression = Regression {
                    finding_id: current.id,
                    ..decide(&current).map_err(rejected)?
                };
                let before = record_of(conn, current.id).await?;
                let mut after = before.clone();
                after.regressions.push(regression.clone());
                diesel::insert_into(regressions::table)
                    .values(RegressionRow::new(project, &regression))
                    .execute(conn)
                    .await?;
                let deltas = std::iter::once(regression.opening_delta())
                    .chain(regression.closing_delta())
                    .chain(returned_shift(&before, &after));
                add_deltas(conn, project, deltas).await?;
                Ok(regression)
            })
            .await?;
        Ok(regression)
    }

    async fn close_regression(
        &self,
        project: ProjectId,
        regression: RegressionId,
        decide: Decide<Regression, Regression>,
    ) -> Result<Regression, LedgerRepoError> {
        let mut conn = self.conn().await?;
        let conn: &mut AsyncPgConnection = &mut conn;
        let regression = conn
            .transaction::<_, Tx, _>(async move |conn| {
                let in_project = regressions::table
                    .filter(regressions::id.eq(regression.as_uuid()))
                    .filter(regressions::project_id.eq(project.as_uuid()));
                // The finding first, as every other write takes it: its lock covers the regression.
                let finding: Uuid = in_project
                    .select(regressions::finding_id)
                    .first(conn)
                    .await
                    .optional()?
                    .ok_or(Tx::Answer(LedgerRepoError::RegressionNotFound))?;
                let finding = lock_finding(conn, project, FindingId::from_uuid(finding)).await?;
                let current: Regression = in_project
                    .select(RegressionRow::as_select())
                    .for_update()
                    .first(conn)
                    .await
                    .optional()?
                    .ok_or(Tx::Answer(LedgerRepoError::RegressionNotFound))?
                    .into();
                let decided = decide(&current).map_err(rejected)?;
                // Only the closing can change; identity and opening stay as stored.
                let closed = Regression {
                    closed_at: decided.closed_at,
                    ..current.clone()
                };
                if closed == current {
                    return Ok(closed);
                }
                let before = record_of(conn, finding.id).await?;
                let mut after = before.clone();
                for stored in after.regressions.iter_mut().filter(|r| r.id == closed.id) {
                    *stored = closed.clone();
                }
                diesel::update(regressions::table.find(closed.id.as_uuid()))
                    .set(regressions::closed_at.eq(closed.closed_at))
                    .execute(conn)
                    .await?;
                // Undo the stored closing (none for an open regression), apply the new one.
                let undo = current.closing_delta().map(|d| DatedDelta {
                    day: d.day,
                    delta: -d.delta,
                });
                let deltas = undo
                    .into_iter()
                    .chain(closed.closing_delta())
                    .chain(returned_shift(&before, &after));
                add_deltas(conn, project, deltas).await?;
                Ok(closed)
            })
            .await?;
        Ok(regression)
    }

    async fn history(&self, project: ProjectId) -> Result<ProjectHistory, LedgerRepoError> {
        let mut conn = self.conn().await?;
        let conn: &mut AsyncPgConnection = &mut conn;
        let history = conn
            .build_transaction()
            .repeatable_read()
            .read_only()
            .run::<_, Tx, _>(async move |conn| load_history(conn, project).await)
            .await?;
        Ok(history)
    }
}

/// The project's history, read in the caller's transaction.
async fn load_history(
    conn: &mut AsyncPgConnection,
    project: ProjectId,
) -> Result<ProjectHistory, Tx> {
    let events: Vec<(Uuid, DateTime<Utc>, i16, i32)> = finding_events::table
        .inner_join(findings::table)
        .filter(findings::project_id.eq(project.as_uuid()))
        .order((
            findings::created_at.asc(),
            findings::id.asc(),
            finding_events::seq.asc(),
        ))
        .select((
            finding_events::finding_id,
            finding_events::occurred_at,
            finding_events::status,
            finding_events::priority_score,
        ))
        .load(conn)
        .await?;
    let mut findings: Vec<FindingHistory> = Vec::new();
    for (id, at, status, priority) in events {
        let state = rows::state(status, priority)?;
        match findings.last_mut() {
            Some(last) if last.finding_id.as_uuid() == id => last.events.push((at, state)),
            _ => findings.push(FindingHistory {
                finding_id: FindingId::from_uuid(id),
                events: vec![(at, state)],
            }),
        }
    }
    let verifications = verifications::table
        .filter(verifications::project_id.eq(project.as_uuid()))
        .order((verifications::occurred_at.asc(), verifications::id.asc()))
        .select(VerificationRow::as_select())
        .load(conn)
        .await?
        .into_iter()
        .map(Verification::try_from)
        .collect::<Result<Vec<_>, _>>()?;
    let regressions = regressions::table
        .filter(regressions::project_id.eq(project.as_uuid()))
        .order((regressions::opened_at.asc(), regressions::id.asc()))
        .select(RegressionRow::as_select())
        .load(conn)
        .await?
        .into_iter()
        .map(Regression::from)
        .collect();
    Ok(ProjectHistory {
        findings,
        verifications,
        regressions,
    })
}
