//! The remediation totals and the SLA policies (the domain's `metrics::remediation`): what each
//! ledger write adds in its transaction, the reads of a window, the policies, and the rebuild
//! of a project's totals from its history (bulk writes and the migration's backfill).

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel::sql_types::{
    Array, BigInt, Date, Nullable, SmallInt, Text, Timestamptz, Uuid as SqlUuid,
};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use krafter_domain::ids::{OrgId, ProjectId};
use krafter_domain::ledger::{FindingStatus, Severity};
use krafter_domain::metrics::remediation::{
    due_on, policy_in_force, remediation_deltas, AgingCounts, BySeverity, DatedRemediationDelta,
    EffectivePolicy, RemediationDelta, RemediationLedger, RemediationRepoError,
    RemediationRepository, RemediationWrite, SlaDays, SlaPolicy, TtrHistogram,
};
use krafter_domain::metrics::DateWindow;
use krafter_domain::storage::StorageError;

use crate::store::storage_error;
use crate::PgStore;

/// The deltas of one write (or of a whole history), merged per (day, severity code).
pub(crate) type RemediationTotals = BTreeMap<(NaiveDate, i16), RemediationDelta>;

pub(crate) fn merge(
    totals: &mut RemediationTotals,
    deltas: impl IntoIterator<Item = DatedRemediationDelta>,
) {
    for d in deltas {
        *totals.entry((d.day, d.severity.code())).or_default() += d.delta;
    }
}

/// One stored policy row.
#[derive(QueryableByName)]
struct PolicyRow {
    #[diesel(sql_type = Timestamptz)]
    effective_from: DateTime<Utc>,
    #[diesel(sql_type = Nullable<SmallInt>)]
    critical_days: Option<i16>,
    #[diesel(sql_type = Nullable<SmallInt>)]
    high_days: Option<i16>,
    #[diesel(sql_type = Nullable<SmallInt>)]
    medium_days: Option<i16>,
    #[diesel(sql_type = Nullable<SmallInt>)]
    low_days: Option<i16>,
    #[diesel(sql_type = Nullable<SmallInt>)]
    info_days: Option<i16>,
}

impl PolicyRow {
    fn policy(&self) -> Result<EffectivePolicy, StorageError> {
        let days = |raw: Option<i16>| -> Result<Option<SlaDays>, StorageError> {
            raw.map(|d| SlaDays::try_from(i64::from(d)))
                .transpose()
                .map_err(|_| StorageError::new(format!("stored SLA days out of range: {raw:?}")))
        };
        Ok(EffectivePolicy {
            effective_from: self.effective_from,
            policy: SlaPolicy::new(BySeverity {
                critical: days(self.critical_days)?,
                high: days(self.high_days)?,
                medium: days(self.medium_days)?,
                low: days(self.low_days)?,
                info: days(self.info_days)?,
            }),
        })
    }
}

const POLICY_COLUMNS: &str =
    "effective_from, critical_days, high_days, medium_days, low_days, info_days";

/// The due date of a finding of `project` created at `created_at`, under the policy of its
/// organisation in force then. Takes a key-share lock on the organisation's row, which
/// [`RemediationRepository::store_sla_policy`] waits for (it locks the row for update): a policy
/// is never stored between this read and the commit of the creation.
pub(crate) async fn due_on_in(
    conn: &mut AsyncPgConnection,
    project: ProjectId,
    created_at: DateTime<Utc>,
    severity: Severity,
) -> QueryResult<Option<NaiveDate>> {
    let policy = policy_at(conn, project, created_at).await?;
    Ok(due_on(created_at, severity, &policy))
}

/// The policy of `project`'s organisation in force at `at`, with the key-share lock on the
/// organisation's row that [`due_on_in`] explains.
pub(crate) async fn policy_at(
    conn: &mut AsyncPgConnection,
    project: ProjectId,
    at: DateTime<Utc>,
) -> QueryResult<SlaPolicy> {
    let rows: Vec<PolicyRow> = diesel::sql_query(format!(
        "SELECT {POLICY_COLUMNS} FROM sla_policies \
          WHERE org_id = (SELECT o.id FROM organisations o JOIN projects p ON p.org_id = o.id \
                           WHERE p.id = $1 FOR KEY SHARE OF o) \
            AND effective_from <= $2 \
          ORDER BY effective_from DESC LIMIT 1"
    ))
    .bind::<SqlUuid, _>(project.as_uuid())
    .bind::<Timestamptz, _>(at)
    .load(conn)
    .await?;
    let policies = rows
        .iter()
        .map(PolicyRow::policy)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| diesel::result::Error::DeserializationError(Box::new(e)))?;
    Ok(policy_in_force(&policies, at))
}

/// Adds `totals` to the project's remediation totals and histogram bins: two upserts, rows in
/// ascending (day, severity, bin) order so that concurrent writers lock them in the same order.
pub(crate) async fn add_remediation(
    conn: &mut AsyncPgConnection,
    project: ProjectId,
    totals: &RemediationTotals,
) -> QueryResult<()> {
    let rows: Vec<(&(NaiveDate, i16), &RemediationDelta)> =
        totals.iter().filter(|(_, d)| !d.is_zero()).collect();
    if rows.is_empty() {
        return Ok(());
    }
    let column =
        |f: fn(&RemediationDelta) -> i64| -> Vec<i64> { rows.iter().map(|(_, d)| f(d)).collect() };
    diesel::sql_query(
        "INSERT INTO project_remediation_totals AS t (project_id, day, severity, opened, \
                reopened, resolved, dismissed, resolved_with_sla, resolved_within_sla, ttr_count, \
                ttr_sum_seconds, open, overdue, aged_0_7, aged_8_30, aged_31_90, aged_91_180, \
                aged_181, ttr_bins) \
         SELECT $1, day, severity, opened, reopened, resolved, dismissed, resolved_with_sla, \
                resolved_within_sla, ttr_count, ttr_sum_seconds, open, overdue, aged_0_7, \
                aged_8_30, aged_31_90, aged_91_180, aged_181, ttr_bins::bigint[] \
           FROM unnest($2::date[], $3::smallint[], $4::bigint[], $5::bigint[], \
                $6::bigint[], $7::bigint[], $8::bigint[], $9::bigint[], $10::bigint[], \
                $11::bigint[], $12::bigint[], $13::bigint[], $14::bigint[], $15::bigint[], \
                $16::bigint[], $17::bigint[], $18::bigint[], $19::text[]) \
             AS u (day, severity, opened, reopened, resolved, dismissed, resolved_with_sla, \
                resolved_within_sla, ttr_count, ttr_sum_seconds, open, overdue, aged_0_7, \
                aged_8_30, aged_31_90, aged_91_180, aged_181, ttr_bins) \
         ON CONFLICT (project_id, day, severity) DO UPDATE SET \
                opened = t.opened + excluded.opened, \
                reopened = t.reopened + excluded.reopened, \
                resolved = t.resolved + excluded.resolved, \
                dismissed = t.dismissed + excluded.dismissed, \
                resolved_with_sla = t.resolved_with_sla + excluded.resolved_with_sla, \
                resolved_within_sla = t.resolved_within_sla + excluded.resolved_within_sla, \
                ttr_count = t.ttr_count + excluded.ttr_count, \
                ttr_sum_seconds = t.ttr_sum_seconds + excluded.ttr_sum_seconds, \
                open = t.open + excluded.open, \
                overdue = t.overdue + excluded.overdue, \
                aged_0_7 = t.aged_0_7 + excluded.aged_0_7, \
                aged_8_30 = t.aged_8_30 + excluded.aged_8_30, \
                aged_31_90 = t.aged_31_90 + excluded.aged_31_90, \
                aged_91_180 = t.aged_91_180 + excluded.aged_91_180, \
                aged_181 = t.aged_181 + excluded.aged_181, \
                ttr_bins = krafter_ttr_add(t.ttr_bins, excluded.ttr_bins)",
    )
    .bind::<SqlUuid, _>(project.as_uuid())
    .bind::<Array<Date>, _>(rows.iter().map(|((day, _), _)| *day).collect::<Vec<_>>())
    .bind::<Array<SmallInt>, _>(rows.iter().map(|((_, s), _)| *s).collect::<Vec<_>>())
    .bind::<Array<BigInt>, _>(column(|d| d.opened))
    .bind::<Array<BigInt>, _>(column(|d| d.reopened))
    .bind::<Array<BigInt>, _>(column(|d| d.resolved))
    .bind::<Array<BigInt>, _>(column(|d| d.dismissed))
    .bind::<Array<BigInt>, _>(column(|d| d.resolved_with_sla))
    .bind::<Array<BigInt>, _>(column(|d| d.resolved_within_sla))
    .bind::<Array<BigInt>, _>(column(|d| d.ttr_count))
    .bind::<Array<BigInt>, _>(column(|d| d.ttr_sum_seconds))
    .bind::<Array<BigInt>, _>(column(|d| d.open))
    .bind::<Array<BigInt>, _>(column(|d| d.overdue))
    .bind::<Array<BigInt>, _>(column(|d| d.aging.up_to_7))
    .bind::<Array<BigInt>, _>(column(|d| d.aging.up_to_30))
    .bind::<Array<BigInt>, _>(column(|d| d.aging.up_to_90))
    .bind::<Array<BigInt>, _>(column(|d| d.aging.up_to_180))
    .bind::<Array<BigInt>, _>(column(|d| d.aging.over_180))
    .bind::<Array<Text>, _>(
        rows.iter()
            .map(|(_, d)| packed_literal(&d.ttr_bins))
            .collect::<Vec<_>>(),
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// A histogram as the stored array's text: `{bin,count,bin,count,…}`, bins ascending, no zero
/// count (`krafter_ttr_add`'s form; `migrations/2026-12-03-000009_packed_ttr_histograms`).
fn packed_literal(bins: &TtrHistogram) -> String {
    let mut text = String::from("{");
    for (bin, count) in bins.iter().filter(|(_, count)| *count != 0) {
        if text.len() > 1 {
            text.push(',');
        }
        text.push_str(&format!("{bin},{count}"));
    }
    text.push('}');
    text
}

/// The stored array read back: pairs of (bin, count).
fn unpacked(packed: &[i64]) -> Result<TtrHistogram, StorageError> {
    if !packed.len().is_multiple_of(2) {
        return Err(StorageError::new("a stored histogram of odd length"));
    }
    packed
        .chunks_exact(2)
        .map(|pair| {
            u16::try_from(pair[0])
                .map(|bin| (bin, pair[1]))
                .map_err(|_| StorageError::new(format!("stored bin out of range: {}", pair[0])))
        })
        .collect::<Result<Vec<_>, _>>()
        .map(TtrHistogram::from_counts)
}

/// One event of a finding as the rebuild reads it, with what it needs of the finding.
#[derive(QueryableByName)]
struct HistoryRow {
    #[diesel(sql_type = SqlUuid)]
    finding_id: uuid::Uuid,
    #[diesel(sql_type = SmallInt)]
    severity: i16,
    #[diesel(sql_type = Timestamptz)]
    created_at: DateTime<Utc>,
    #[diesel(sql_type = Nullable<Date>)]
    due_on: Option<NaiveDate>,
    #[diesel(sql_type = Timestamptz)]
    occurred_at: DateTime<Utc>,
    #[diesel(sql_type = SmallInt)]
    status: i16,
}

/// Findings read per statement by the rebuild.
const REBUILD_CHUNK: i64 = 20_000;

/// Replaces the project's remediation totals with a replay of its history through the domain's
/// `remediation_deltas`, in the caller's transaction. Findings without a due date are given the
/// one of the policy in force at their creation first (bulk inserts leave it unset).
///
/// Takes `SHARE ROW EXCLUSIVE` on the totals first, as the summary's rebuild does: writers that
/// have already added a delta commit before the replay reads, the others wait for it.
pub(crate) async fn rebuild_remediation_in(
    conn: &mut AsyncPgConnection,
    project: ProjectId,
) -> QueryResult<()> {
    diesel::sql_query("LOCK TABLE project_remediation_totals IN SHARE ROW EXCLUSIVE MODE")
        .execute(conn)
        .await?;
    fill_due_dates(conn, project).await?;
    for table in ["project_remediation_totals"] {
        diesel::sql_query(format!("DELETE FROM {table} WHERE project_id = $1"))
            .bind::<SqlUuid, _>(project.as_uuid())
            .execute(conn)
            .await?;
    }
    let mut totals = RemediationTotals::new();
    let mut after = uuid::Uuid::nil();
    loop {
        let rows: Vec<HistoryRow> = diesel::sql_query(
            "SELECT f.id AS finding_id, f.severity, f.created_at, f.due_on, e.occurred_at, \
                    e.status \
               FROM (SELECT id, severity, created_at, due_on FROM findings \
                      WHERE project_id = $1 AND id > $2 ORDER BY id LIMIT $3) f \
               JOIN finding_events e ON e.finding_id = f.id \
              ORDER BY f.id, e.seq",
        )
        .bind::<SqlUuid, _>(project.as_uuid())
        .bind::<SqlUuid, _>(after)
        .bind::<BigInt, _>(REBUILD_CHUNK)
        .load(conn)
        .await?;
        let Some(last) = rows.last() else { break };
        after = last.finding_id;
        let mut before: Option<(uuid::Uuid, FindingStatus)> = None;
        for row in &rows {
            let corrupt = |what: &str| {
                diesel::result::Error::DeserializationError(
                    format!("stored {what} out of range").into(),
                )
            };
            let severity = Severity::from_code(row.severity).ok_or_else(|| corrupt("severity"))?;
            let status = FindingStatus::from_code(row.status).ok_or_else(|| corrupt("status"))?;
            let write = RemediationWrite {
                severity,
                created_at: row.created_at,
                due_on: row.due_on,
                before: before
                    .filter(|(id, _)| *id == row.finding_id)
                    .map(|(_, s)| s),
                after: status,
                occurred_at: row.occurred_at,
            };
            merge(&mut totals, remediation_deltas(&write));
            before = Some((row.finding_id, status));
        }
    }
    add_remediation(conn, project, &totals).await
}

/// Sets the due date of the project's findings that have none and whose severity has an SLA
/// under the policy in force at their creation (the default when none was stored then).
async fn fill_due_dates(conn: &mut AsyncPgConnection, project: ProjectId) -> QueryResult<()> {
    let org: uuid::Uuid = crate::schema::projects::table
        .find(project.as_uuid())
        .select(crate::schema::projects::org_id)
        .first(conn)
        .await?;
    let rows: Vec<PolicyRow> = diesel::sql_query(format!(
        "SELECT {POLICY_COLUMNS} FROM sla_policies WHERE org_id = $1 ORDER BY effective_from"
    ))
    .bind::<SqlUuid, _>(org)
    .load(conn)
    .await?;
    let mut policies = Vec::with_capacity(rows.len());
    for row in &rows {
        policies.push(
            row.policy()
                .map_err(|e| diesel::result::Error::DeserializationError(Box::new(e)))?,
        );
    }
    // Each policy's period [from, until) with its days per severity code; the default before
    // the first one.
    // (None: unbounded.)
    let mut starts: Vec<Option<DateTime<Utc>>> = vec![None];
    starts.extend(policies.iter().map(|p| Some(p.effective_from)));
    let mut periods = Vec::new();
    for (i, from) in starts.iter().enumerate() {
        let until = starts.get(i + 1).copied().flatten();
        let policy = match from {
            Some(from) => policy_in_force(&policies, *from),
            None => SlaPolicy::default(),
        };
        for severity in Severity::ALL {
            if let Some(days) = policy.days(*severity) {
                periods.push((*from, until, severity.code(), i32::from(days.get())));
            }
        }
    }
    diesel::sql_query(
        "UPDATE findings f SET due_on = (f.created_at AT TIME ZONE 'UTC')::date + p.days \
           FROM unnest($2::timestamptz[], $3::timestamptz[], $4::smallint[], $5::int[]) \
                AS p(since, until, severity, days) \
          WHERE f.project_id = $1 AND f.due_on IS NULL AND f.severity = p.severity \
            AND (p.since IS NULL OR f.created_at >= p.since) \
            AND (p.until IS NULL OR f.created_at < p.until)",
    )
    .bind::<SqlUuid, _>(project.as_uuid())
    .bind::<Array<Nullable<Timestamptz>>, _>(periods.iter().map(|p| p.0).collect::<Vec<_>>())
    .bind::<Array<Nullable<Timestamptz>>, _>(periods.iter().map(|p| p.1).collect::<Vec<_>>())
    .bind::<Array<SmallInt>, _>(periods.iter().map(|p| p.2).collect::<Vec<_>>())
    .bind::<Array<diesel::sql_types::Integer>, _>(periods.iter().map(|p| p.3).collect::<Vec<_>>())
    .execute(conn)
    .await?;
    Ok(())
}

/// One row of the window reads: `day` is NULL on the rows (one per severity) that sum every day
/// before the window (levels only).
#[derive(QueryableByName)]
struct TotalRow {
    #[diesel(sql_type = Nullable<Date>)]
    day: Option<NaiveDate>,
    #[diesel(sql_type = SmallInt)]
    severity: i16,
    #[diesel(sql_type = BigInt)]
    opened: i64,
    #[diesel(sql_type = BigInt)]
    reopened: i64,
    #[diesel(sql_type = BigInt)]
    resolved: i64,
    #[diesel(sql_type = BigInt)]
    dismissed: i64,
    #[diesel(sql_type = BigInt)]
    resolved_with_sla: i64,
    #[diesel(sql_type = BigInt)]
    resolved_within_sla: i64,
    #[diesel(sql_type = BigInt)]
    ttr_count: i64,
    #[diesel(sql_type = BigInt)]
    ttr_sum_seconds: i64,
    #[diesel(sql_type = BigInt)]
    open: i64,
    #[diesel(sql_type = BigInt)]
    overdue: i64,
    #[diesel(sql_type = BigInt)]
    aged_0_7: i64,
    #[diesel(sql_type = BigInt)]
    aged_8_30: i64,
    #[diesel(sql_type = BigInt)]
    aged_31_90: i64,
    #[diesel(sql_type = BigInt)]
    aged_91_180: i64,
    #[diesel(sql_type = BigInt)]
    aged_181: i64,
    /// Packed; `{}` for the sums before the window (levels only).
    #[diesel(sql_type = Array<BigInt>)]
    ttr_bins: Vec<i64>,
}

impl TotalRow {
    fn delta(&self) -> Result<RemediationDelta, StorageError> {
        Ok(RemediationDelta {
            opened: self.opened,
            reopened: self.reopened,
            resolved: self.resolved,
            dismissed: self.dismissed,
            resolved_with_sla: self.resolved_with_sla,
            resolved_within_sla: self.resolved_within_sla,
            ttr_count: self.ttr_count,
            ttr_sum_seconds: self.ttr_sum_seconds,
            ttr_bins: unpacked(&self.ttr_bins)?,
            open: self.open,
            overdue: self.overdue,
            aging: AgingCounts {
                up_to_7: self.aged_0_7,
                up_to_30: self.aged_8_30,
                up_to_90: self.aged_31_90,
                up_to_180: self.aged_91_180,
                over_180: self.aged_181,
            },
        })
    }
}

/// Whose totals a read sums: one project's rows, or an organisation's (the sum of its
/// projects', kept by triggers: `migrations/2026-12-03-000008_org_totals`).
#[derive(Clone, Copy)]
enum Scope {
    Project,
    Organisation,
}

impl Scope {
    /// The totals table and the condition on `$1`.
    fn table(self) -> (&'static str, &'static str) {
        match self {
            Scope::Project => ("project_remediation_totals", "project_id = $1"),
            Scope::Organisation => ("org_remediation_totals", "org_id = $1"),
        }
    }
}

/// The totals of the project or organisation `id` for the days `from` to `to`.
async fn deltas_of(
    conn: &mut AsyncPgConnection,
    scope: Scope,
    id: uuid::Uuid,
    (from, to): (NaiveDate, NaiveDate),
) -> Result<RemediationLedger, StorageError> {
    let (table, scope) = scope.table();
    // Before the window only the levels count; within it each (day, severity) is one row.
    let totals: Vec<TotalRow> = diesel::sql_query(format!(
        "SELECT NULL::date AS day, severity, 0::bigint AS opened, 0::bigint AS reopened, \
                0::bigint AS resolved, 0::bigint AS dismissed, 0::bigint AS resolved_with_sla, \
                0::bigint AS resolved_within_sla, 0::bigint AS ttr_count, \
                0::bigint AS ttr_sum_seconds, \
                COALESCE(sum(open), 0)::bigint AS open, \
                COALESCE(sum(overdue), 0)::bigint AS overdue, \
                COALESCE(sum(aged_0_7), 0)::bigint AS aged_0_7, \
                COALESCE(sum(aged_8_30), 0)::bigint AS aged_8_30, \
                COALESCE(sum(aged_31_90), 0)::bigint AS aged_31_90, \
                COALESCE(sum(aged_91_180), 0)::bigint AS aged_91_180, \
                COALESCE(sum(aged_181), 0)::bigint AS aged_181, '{{}}'::bigint[] AS ttr_bins \
           FROM {table} WHERE {scope} AND day < $2 GROUP BY severity \
         UNION ALL \
         SELECT day, severity, opened, reopened, resolved, dismissed, resolved_with_sla, \
                resolved_within_sla, ttr_count, ttr_sum_seconds, open, overdue, aged_0_7, \
                aged_8_30, aged_31_90, aged_91_180, aged_181, ttr_bins \
           FROM {table} WHERE {scope} AND day >= $2 AND day <= $3"
    ))
    .bind::<SqlUuid, _>(id)
    .bind::<Date, _>(from)
    .bind::<Date, _>(to)
    .load(conn)
    .await
    .map_err(storage_error)?;

    let severity = |code: i16| {
        Severity::from_code(code)
            .ok_or_else(|| StorageError::new(format!("stored severity out of range: {code}")))
    };
    let mut ledger = RemediationLedger::default();
    let mut days: BTreeMap<(NaiveDate, i16), RemediationDelta> = BTreeMap::new();
    for row in &totals {
        match row.day {
            None => *ledger.before.get_mut(severity(row.severity)?) = row.delta()?.levels(),
            Some(day) => *days.entry((day, row.severity)).or_default() += row.delta()?,
        }
    }
    for ((day, code), delta) in days {
        if !delta.is_zero() {
            ledger.days.push(DatedRemediationDelta {
                day,
                severity: severity(code)?,
                delta,
            });
        }
    }
    Ok(ledger)
}

fn bounds(window: &DateWindow) -> (NaiveDate, NaiveDate) {
    (window.from(), window.to())
}

fn repo_error(e: diesel::result::Error) -> RemediationRepoError {
    RemediationRepoError::Storage(storage_error(e))
}

#[async_trait]
impl RemediationRepository for PgStore {
    async fn project_deltas(
        &self,
        project: ProjectId,
        window: &DateWindow,
    ) -> Result<RemediationLedger, RemediationRepoError> {
        let mut conn = self.conn().await?;
        Ok(deltas_of(&mut conn, Scope::Project, project.as_uuid(), bounds(window)).await?)
    }

    async fn org_deltas(
        &self,
        org: OrgId,
        window: &DateWindow,
    ) -> Result<RemediationLedger, RemediationRepoError> {
        let mut conn = self.conn().await?;
        Ok(deltas_of(
            &mut conn,
            Scope::Organisation,
            org.as_uuid(),
            bounds(window),
        )
        .await?)
    }

    async fn sla_policies(&self, org: OrgId) -> Result<Vec<EffectivePolicy>, RemediationRepoError> {
        let mut conn = self.conn().await?;
        let rows: Vec<PolicyRow> = diesel::sql_query(format!(
            "SELECT {POLICY_COLUMNS} FROM sla_policies WHERE org_id = $1 ORDER BY effective_from"
        ))
        .bind::<SqlUuid, _>(org.as_uuid())
        .load(&mut conn)
        .await
        .map_err(repo_error)?;
        Ok(rows
            .iter()
            .map(PolicyRow::policy)
            .collect::<Result<Vec<_>, _>>()?)
    }

    async fn current_sla_policy(
        &self,
        org: OrgId,
    ) -> Result<Option<EffectivePolicy>, RemediationRepoError> {
        let mut conn = self.conn().await?;
        let rows: Vec<PolicyRow> = diesel::sql_query(format!(
            "SELECT {POLICY_COLUMNS} FROM sla_policies WHERE org_id = $1 \
              ORDER BY effective_from DESC LIMIT 1"
        ))
        .bind::<SqlUuid, _>(org.as_uuid())
        .load(&mut conn)
        .await
        .map_err(repo_error)?;
        Ok(rows.into_iter().next().map(|r| r.policy()).transpose()?)
    }

    async fn store_sla_policy(
        &self,
        org: OrgId,
        policy: &SlaPolicy,
        now: DateTime<Utc>,
    ) -> Result<EffectivePolicy, RemediationRepoError> {
        #[derive(QueryableByName)]
        struct Locked {
            #[diesel(sql_type = Nullable<Timestamptz>)]
            latest: Option<DateTime<Utc>>,
        }
        let days = |s: Severity| policy.days(s).map(|d| d.get() as i16);
        let policy = *policy;
        let mut conn = self.conn().await?;
        let conn: &mut AsyncPgConnection = &mut conn;
        let stored = conn
            .transaction::<_, diesel::result::Error, _>(async move |conn| {
                // Waits for the creations in flight (they hold a key-share lock on the row).
                let locked: Vec<Locked> = diesel::sql_query(
                    "SELECT (SELECT max(effective_from) FROM sla_policies WHERE org_id = o.id) \
                            AS latest \
                       FROM organisations o WHERE o.id = $1 FOR UPDATE",
                )
                .bind::<SqlUuid, _>(org.as_uuid())
                .load(conn)
                .await?;
                let Some(locked) = locked.into_iter().next() else {
                    return Ok(None);
                };
                // No earlier than the clock once the lock is held, and after the latest; at
                // microsecond precision, as PostgreSQL keeps it.
                let now = DateTime::from_timestamp_micros(now.max(Utc::now()).timestamp_micros())
                    .expect("a representable instant");
                let effective_from = match locked.latest {
                    Some(latest) if now <= latest => latest + chrono::Duration::microseconds(1),
                    _ => now,
                };
                diesel::sql_query(
                    "INSERT INTO sla_policies (org_id, effective_from, critical_days, high_days, \
                            medium_days, low_days, info_days) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind::<SqlUuid, _>(org.as_uuid())
                .bind::<Timestamptz, _>(effective_from)
                .bind::<Nullable<SmallInt>, _>(days(Severity::Critical))
                .bind::<Nullable<SmallInt>, _>(days(Severity::High))
                .bind::<Nullable<SmallInt>, _>(days(Severity::Medium))
                .bind::<Nullable<SmallInt>, _>(days(Severity::Low))
                .bind::<Nullable<SmallInt>, _>(days(Severity::Info))
                .execute(conn)
                .await?;
                Ok(Some(EffectivePolicy {
                    effective_from,
                    policy,
                }))
            })
            .await
            .map_err(repo_error)?;
        stored.ok_or(RemediationRepoError::UnknownOrganisation)
    }
}

impl PgStore {
    /// Recomputes the project's remediation totals from its history (one transaction).
    pub async fn rebuild_remediation_totals(&self, project: ProjectId) -> Result<(), StorageError> {
        let mut conn = self.conn().await?;
        let conn: &mut AsyncPgConnection = &mut conn;
        conn.transaction::<_, diesel::result::Error, _>(async move |conn| {
            rebuild_remediation_in(conn, project).await
        })
        .await
        .map_err(storage_error)
    }
}

/// Computes the remediation totals of every project the migration left pending
/// (`remediation_backfill`), one project per transaction, each removed from the list in its own
/// transaction: an interrupted backfill resumes with the projects still listed. Answers how many
/// projects it computed.
pub(crate) async fn backfill_pending(database_url: &str) -> Result<usize, StorageError> {
    let mut conn = AsyncPgConnection::establish(database_url)
        .await
        .map_err(storage_error)?;
    let mut done = 0;
    loop {
        let conn: &mut AsyncPgConnection = &mut conn;
        let next = conn
            .transaction::<_, diesel::result::Error, _>(async move |conn| {
                #[derive(QueryableByName)]
                struct Pending {
                    #[diesel(sql_type = SqlUuid)]
                    project_id: uuid::Uuid,
                }
                let pending: Vec<Pending> = diesel::sql_query(
                    "DELETE FROM remediation_backfill WHERE project_id = \
                       (SELECT project_id FROM remediation_backfill \
                         ORDER BY project_id LIMIT 1 FOR UPDATE SKIP LOCKED) \
                     RETURNING project_id",
                )
                .load(conn)
                .await?;
                let Some(pending) = pending.into_iter().next() else {
                    return Ok(false);
                };
                rebuild_remediation_in(conn, ProjectId::from_uuid(pending.project_id)).await?;
                Ok(true)
            })
            .await
            .map_err(storage_error)?;
        if !next {
            return Ok(done);
        }
        done += 1;
    }
}

impl PgStore {
    /// The project's stored remediation totals per (day, severity), histogram bins included,
    /// zero totals left out: what [`reference::daily_deltas`] of its history must equal.
    ///
    /// [`reference::daily_deltas`]: krafter_domain::metrics::remediation::reference::daily_deltas
    pub async fn remediation_totals(
        &self,
        project: ProjectId,
    ) -> Result<BTreeMap<(NaiveDate, Severity), RemediationDelta>, StorageError> {
        let mut conn = self.conn().await?;
        // The days the ledger's instants (years 0000 to 9999) and their thresholds can reach.
        let every_day = (
            NaiveDate::from_ymd_opt(-1, 1, 1).expect("a date"),
            NaiveDate::from_ymd_opt(10_001, 12, 31).expect("a date"),
        );
        let ledger = deltas_of(&mut conn, Scope::Project, project.as_uuid(), every_day).await?;
        let mut totals = BTreeMap::new();
        for d in ledger.days {
            *totals
                .entry((d.day, d.severity))
                .or_insert_with(RemediationDelta::default) += d.delta;
        }
        totals.retain(|_, d: &mut RemediationDelta| !d.is_zero());
        Ok(totals)
    }
}

impl PgStore {
    /// How many rows of the organisations' totals differ from the sum of their projects' rows
    /// (both ways, zero rows ignored): 0 when the triggers kept them exact. For tests and
    /// operators.
    pub async fn org_totals_differing(&self) -> Result<i64, StorageError> {
        #[derive(QueryableByName)]
        struct Differing {
            #[diesel(sql_type = BigInt)]
            differing: i64,
        }
        let mut conn = self.conn().await?;
        let row: Differing = diesel::sql_query(org_totals_check_sql())
            .get_result(&mut conn)
            .await
            .map_err(storage_error)?;
        Ok(row.differing)
    }
}

/// Counts the rows of the organisation tables that differ from their projects' sums, and the
/// sums that differ from the organisation tables (rows of zeros left out both ways).
fn org_totals_check_sql() -> String {
    const DAILY: [&str; 7] = [
        "open_risk_score",
        "open_findings",
        "terminal_findings",
        "open_regressions",
        "verifications",
        "verifications_passed",
        "returned_findings",
    ];
    const REMEDIATION: [&str; 15] = [
        "opened",
        "reopened",
        "resolved",
        "dismissed",
        "resolved_with_sla",
        "resolved_within_sla",
        "ttr_count",
        "ttr_sum_seconds",
        "open",
        "overdue",
        "aged_0_7",
        "aged_8_30",
        "aged_31_90",
        "aged_91_180",
        "aged_181",
    ];
    // `(org table, project table, keys, counts, with the packed histogram)`.
    let tables = [
        (
            "org_daily_totals",
            "project_daily_totals",
            &["day"][..],
            &DAILY[..],
            false,
        ),
        (
            "org_remediation_totals",
            "project_remediation_totals",
            &["day", "severity"][..],
            &REMEDIATION[..],
            true,
        ),
    ];
    let mut counts = Vec::new();
    for (org, project, keys, columns, histogram) in tables {
        let mut stored: Vec<String> = columns.iter().map(|c| c.to_string()).collect();
        let mut summed: Vec<String> = columns
            .iter()
            .map(|c| format!("sum(t.{c})::bigint"))
            .collect();
        if histogram {
            stored.push("ttr_bins".into());
            summed.push("krafter_ttr_sum(t.ttr_bins)".into());
        }
        let not_zero = |values: &[String], zero: &str| {
            values
                .iter()
                .zip(columns.iter().map(|_| "0").chain(histogram.then_some(zero)))
                .map(|(v, z)| format!("{v} <> {z}"))
                .collect::<Vec<_>>()
                .join(" OR ")
        };
        let org_rows = format!(
            "SELECT org_id, {}, {} FROM {org} WHERE {}",
            keys.join(", "),
            stored.join(", "),
            not_zero(&stored, "'{}'")
        );
        let t_keys = keys
            .iter()
            .map(|k| format!("t.{k}"))
            .collect::<Vec<_>>()
            .join(", ");
        let sums = format!(
            "SELECT p.org_id, {t_keys}, {} FROM {project} t JOIN projects p ON p.id = t.project_id \
              GROUP BY p.org_id, {t_keys} HAVING {}",
            summed.join(", "),
            not_zero(&summed, "'{}'")
        );
        counts.push(format!(
            "(SELECT count(*) FROM ({org_rows} EXCEPT {sums}) d)"
        ));
        counts.push(format!(
            "(SELECT count(*) FROM ({sums} EXCEPT {org_rows}) d)"
        ));
    }
    format!("SELECT ({})::bigint AS differing", counts.join(" + "))
}
