//! Imports of scanner results: one transaction per import, its writes in bulk (a few statements
//! for ten thousand results), each change an ordinary ledger event with the same deltas a single
//! write would add.

use std::collections::{BTreeMap, HashMap, HashSet};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, Integer, Nullable, SmallInt, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use krafter_domain::ids::{ImportId, ProjectId};
use krafter_domain::import::{
    ImportCounts, ImportCursor, ImportFormat, ImportHeader, ImportPlan, ImportQuery, ImportRecord,
    ImportRepoError, ImportRepository,
};
use krafter_domain::ledger::{
    Decide, Finding, FindingChange, FindingState, Regression, SourceName,
};
use krafter_domain::metrics::remediation::{due_on, remediation_deltas, RemediationWrite};
use krafter_domain::metrics::{returned_shift, DatedDelta, FindingRecord};
use krafter_domain::page::Page;
use krafter_domain::storage::StorageError;
use uuid::Uuid;

use crate::keyset::{page_of, resume_after};
use crate::repos::ledger::add_deltas;
use crate::repos::remediation::{add_remediation, merge, policy_at, RemediationTotals};
use crate::rows::{self, FindingEventRow, FindingRow, RegressionRow};
use crate::schema::{finding_events, findings, imports, regressions};
use crate::tx::TxError;
use crate::PgStore;

/// Why an import's transaction stopped; a refused plan is the port's answer.
type Tx = TxError<ImportRepoError>;

/// Rows per multi-row insert: PostgreSQL takes at most 65,535 parameters in one statement.
const INSERT_CHUNK: usize = 2_000;

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = imports, check_for_backend(diesel::pg::Pg))]
struct ImportRow {
    id: Uuid,
    project_id: Uuid,
    source: String,
    format: i16,
    close_missing: bool,
    occurred_at: DateTime<Utc>,
    created_at: DateTime<Utc>,
    received: i32,
    created: i32,
    unchanged: i32,
    reopened: i32,
    resolved: i32,
    ignored_dismissed: i32,
}

impl ImportRow {
    fn new(project: ProjectId, header: &ImportHeader, counts: &ImportCounts) -> Self {
        let n = |v: u32| i32::try_from(v).unwrap_or(i32::MAX);
        Self {
            id: header.id.as_uuid(),
            project_id: project.as_uuid(),
            source: header.source.as_str().to_owned(),
            format: header.format.code(),
            close_missing: header.close_missing,
            occurred_at: header.occurred_at,
            created_at: header.created_at,
            received: n(counts.received),
            created: n(counts.created),
            unchanged: n(counts.unchanged),
            reopened: n(counts.reopened),
            resolved: n(counts.resolved),
            ignored_dismissed: n(counts.ignored_dismissed),
        }
    }
}

impl TryFrom<ImportRow> for ImportRecord {
    type Error = StorageError;

    fn try_from(row: ImportRow) -> Result<Self, StorageError> {
        let corrupt = |what: &str| StorageError::new(format!("stored import has a bad {what}"));
        let n = |v: i32| u32::try_from(v).map_err(|_| corrupt("count"));
        Ok(Self {
            id: ImportId::from_uuid(row.id),
            project_id: ProjectId::from_uuid(row.project_id),
            source: SourceName::parse(&row.source).map_err(|_| corrupt("source"))?,
            format: ImportFormat::from_code(row.format).ok_or_else(|| corrupt("format"))?,
            close_missing: row.close_missing,
            occurred_at: row.occurred_at,
            created_at: row.created_at,
            counts: ImportCounts {
                received: n(row.received)?,
                created: n(row.created)?,
                unchanged: n(row.unchanged)?,
                reopened: n(row.reopened)?,
                resolved: n(row.resolved)?,
                ignored_dismissed: n(row.ignored_dismissed)?,
            },
        })
    }
}

#[async_trait]
impl ImportRepository for PgStore {
    async fn apply_import(
        &self,
        project: ProjectId,
        header: &ImportHeader,
        decide: Decide<Vec<Finding>, ImportPlan>,
    ) -> Result<ImportRecord, ImportRepoError> {
        let mut conn = self.conn().await?;
        let conn: &mut AsyncPgConnection = &mut conn;
        let remediation_totals = self.remediation_totals;
        let header = header.clone();
        let record = conn
            .transaction::<_, Tx, _>(async move |conn| {
                // Imports of one source into one project go one at a time: the second reads the
                // findings the first created, so that none is created twice.
                diesel::sql_query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
                    .bind::<Text, _>(format!("krafter import {project} {}", header.source))
                    .execute(conn)
                    .await?;
                let rows: Vec<FindingRow> = findings::table
                    .filter(findings::project_id.eq(project.as_uuid()))
                    .filter(findings::source.eq(header.source.as_str()))
                    .order(findings::id.asc())
                    .select(FindingRow::as_select())
                    .for_update()
                    .load(conn)
                    .await?;
                let stored = rows
                    .into_iter()
                    .map(Finding::try_from)
                    .collect::<Result<Vec<_>, _>>()?;
                let plan = decide(&stored).map_err(|r| Tx::Answer(ImportRepoError::Rejected(r)))?;
                drop(stored);
                apply_plan(conn, project, &header, &plan, remediation_totals).await?;
                let row = ImportRow::new(project, &header, &plan.counts);
                diesel::insert_into(imports::table)
                    .values(&row)
                    .execute(conn)
                    .await?;
                Ok(ImportRecord::try_from(row)?)
            })
            .await?;
        Ok(record)
    }

    async fn list_imports(
        &self,
        project: ProjectId,
        query: &ImportQuery,
    ) -> Result<Page<ImportRecord, ImportCursor>, ImportRepoError> {
        let mut conn = self.conn().await?;
        let limit = query.limit.get() as usize;
        let select = imports::table
            .filter(imports::project_id.eq(project.as_uuid()))
            .select(ImportRow::as_select())
            .order((imports::created_at.desc(), imports::id.desc()))
            .limit(limit as i64 + 1)
            .into_boxed();
        let select = resume_after!(select, imports, query.after);
        let rows: Vec<ImportRow> = select
            .load(&mut conn)
            .await
            .map_err(crate::store::storage_error)?;
        Ok(page_of(rows, limit, ImportRecord::try_from, |r| {
            (r.created_at, r.id)
        })?)
    }
}

/// Stores `plan` in the caller's transaction: the rows first, then the remediation totals, the
/// summary's day totals last (the order every ledger write keeps; see `add_deltas`).
async fn apply_plan(
    conn: &mut AsyncPgConnection,
    project: ProjectId,
    header: &ImportHeader,
    plan: &ImportPlan,
    remediation_totals: bool,
) -> Result<(), Tx> {
    let mut remediation = RemediationTotals::new();
    let mut deltas: Vec<DatedDelta> = Vec::with_capacity(plan.creations.len() + plan.changes.len());

    // Creations: every one at the scan's time, so under one policy.
    if !plan.creations.is_empty() {
        let policy = if remediation_totals {
            Some(policy_at(conn, project, header.occurred_at).await?)
        } else {
            None
        };
        let mut rows = Vec::with_capacity(plan.creations.len());
        let mut events = Vec::with_capacity(plan.creations.len());
        for finding in &plan.creations {
            let due = policy
                .as_ref()
                .and_then(|p| due_on(finding.created_at, finding.severity, p));
            let creation = FindingChange::creation(finding);
            if remediation_totals {
                merge(
                    &mut remediation,
                    remediation_deltas(&RemediationWrite::creation(finding, due)),
                );
            }
            deltas.push(creation.day_delta());
            rows.push(FindingRow::new(
                project,
                &Finding {
                    due_on: due,
                    ..finding.clone()
                },
            ));
            events.push(FindingEventRow::new(
                finding.id,
                0,
                creation.occurred_at,
                creation.after,
            ));
        }
        for chunk in rows.chunks(INSERT_CHUNK) {
            diesel::insert_into(findings::table)
                .values(chunk)
                .execute(conn)
                .await?;
        }
        for chunk in events.chunks(INSERT_CHUNK) {
            diesel::insert_into(finding_events::table)
                .values(chunk)
                .execute(conn)
                .await?;
        }
    }

    if !plan.changes.is_empty() {
        let ids: Vec<Uuid> = plan.changes.iter().map(|c| c.before.id.as_uuid()).collect();
        let last_seq: HashMap<Uuid, i32> = finding_events::table
            .filter(finding_events::finding_id.eq_any(&ids))
            .group_by(finding_events::finding_id)
            .select((
                finding_events::finding_id,
                diesel::dsl::max(finding_events::seq),
            ))
            .load::<(Uuid, Option<i32>)>(conn)
            .await?
            .into_iter()
            .filter_map(|(id, seq)| seq.map(|s| (id, s)))
            .collect();
        let shifts = returned_shifts(conn, plan).await?;
        deltas.extend(shifts);
        let mut events = Vec::with_capacity(plan.changes.len());
        for planned in &plan.changes {
            let change = &planned.change;
            let seq = last_seq
                .get(&planned.before.id.as_uuid())
                .map_or(0, |s| s + 1);
            events.push(FindingEventRow::new(
                planned.before.id,
                seq,
                change.occurred_at,
                change.after,
            ));
            merge(
                &mut remediation,
                remediation_deltas(&RemediationWrite::change(
                    &planned.before,
                    change,
                    planned.before.due_on,
                )),
            );
            deltas.push(change.day_delta());
        }
        for chunk in events.chunks(INSERT_CHUNK) {
            diesel::insert_into(finding_events::table)
                .values(chunk)
                .execute(conn)
                .await?;
        }
        let statuses: Vec<i16> = plan
            .changes
            .iter()
            .map(|c| c.change.after.status.code())
            .collect();
        let scores: Vec<i32> = plan
            .changes
            .iter()
            .map(|c| c.change.after.priority_score.get())
            .collect();
        diesel::sql_query(
            "UPDATE findings f SET status = u.status, priority_score = u.priority_score, \
                    updated_at = $4 \
               FROM unnest($1::uuid[], $2::int2[], $3::int4[]) AS u(id, status, priority_score) \
              WHERE f.id = u.id AND f.project_id = $5",
        )
        .bind::<Array<SqlUuid>, _>(&ids)
        .bind::<Array<SmallInt>, _>(&statuses)
        .bind::<Array<Integer>, _>(&scores)
        .bind::<Timestamptz, _>(header.occurred_at)
        .bind::<SqlUuid, _>(project.as_uuid())
        .execute(conn)
        .await?;
    }

    if !plan.regressions.is_empty() {
        let rows: Vec<RegressionRow> = plan
            .regressions
            .iter()
            .map(|r| RegressionRow::new(project, r))
            .collect();
        for chunk in rows.chunks(INSERT_CHUNK) {
            diesel::insert_into(regressions::table)
                .values(chunk)
                .execute(conn)
                .await?;
        }
        for r in &plan.regressions {
            deltas.push(r.opening_delta());
            deltas.extend(r.closing_delta());
        }
    }

    if !plan.refreshed.is_empty() {
        let text =
            |f: fn(&krafter_domain::ledger::Provenance) -> Option<&str>| -> Vec<Option<String>> {
                plan.refreshed
                    .iter()
                    .map(|(_, p)| f(p).map(str::to_owned))
                    .collect()
            };
        let ids: Vec<Uuid> = plan.refreshed.iter().map(|(id, _)| id.as_uuid()).collect();
        diesel::sql_query(
            "UPDATE findings f SET rule_id = u.rule_id, location = u.location, \
                    description = u.description \
               FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[]) \
                    AS u(id, rule_id, location, description) \
              WHERE f.id = u.id AND f.project_id = $5",
        )
        .bind::<Array<SqlUuid>, _>(&ids)
        .bind::<Array<Nullable<Text>>, _>(text(|p| p.rule_id.as_ref().map(|r| r.as_str())))
        .bind::<Array<Nullable<Text>>, _>(text(|p| p.location.as_ref().map(|l| l.as_str())))
        .bind::<Array<Nullable<Text>>, _>(text(|p| p.description.as_ref().map(|d| d.as_str())))
        .bind::<SqlUuid, _>(project.as_uuid())
        .execute(conn)
        .await?;
    }

    if remediation_totals {
        add_remediation(conn, project, &remediation).await?;
    }
    add_deltas(conn, project, deltas).await?;
    Ok(())
}

/// The returned-findings shift of every changed finding that has or gets a regression (the
/// others never count as returned), over its stored record and the record after the import.
async fn returned_shifts(
    conn: &mut AsyncPgConnection,
    plan: &ImportPlan,
) -> Result<Vec<DatedDelta>, Tx> {
    let changed: Vec<Uuid> = plan.changes.iter().map(|c| c.before.id.as_uuid()).collect();
    let mut stored_regressions: BTreeMap<Uuid, Vec<Regression>> = BTreeMap::new();
    let rows: Vec<RegressionRow> = regressions::table
        .filter(regressions::finding_id.eq_any(&changed))
        .order((regressions::opened_at.asc(), regressions::id.asc()))
        .select(RegressionRow::as_select())
        .load(conn)
        .await?;
    for row in rows {
        stored_regressions
            .entry(row.finding_id)
            .or_default()
            .push(Regression::from(row));
    }
    let opened: HashMap<Uuid, &Regression> = plan
        .regressions
        .iter()
        .map(|r| (r.finding_id.as_uuid(), r))
        .collect();
    let concerned: HashSet<Uuid> = stored_regressions
        .keys()
        .copied()
        .chain(opened.keys().copied())
        .collect();
    if concerned.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<Uuid> = concerned.iter().copied().collect();
    let stored_events: Vec<(Uuid, DateTime<Utc>, i16, i32)> = finding_events::table
        .filter(finding_events::finding_id.eq_any(&ids))
        .order((finding_events::finding_id.asc(), finding_events::seq.asc()))
        .select((
            finding_events::finding_id,
            finding_events::occurred_at,
            finding_events::status,
            finding_events::priority_score,
        ))
        .load(conn)
        .await?;
    let mut events: HashMap<Uuid, Vec<(DateTime<Utc>, FindingState)>> = HashMap::new();
    for (id, at, status, priority) in stored_events {
        events
            .entry(id)
            .or_default()
            .push((at, rows::state(status, priority)?));
    }
    let mut shifts = Vec::new();
    for planned in &plan.changes {
        let id = planned.before.id.as_uuid();
        if !concerned.contains(&id) {
            continue;
        }
        let before = FindingRecord {
            events: events.remove(&id).unwrap_or_default(),
            regressions: stored_regressions.remove(&id).unwrap_or_default(),
        };
        let mut after = before.clone();
        after
            .events
            .push((planned.change.occurred_at, planned.change.after));
        if let Some(r) = opened.get(&id) {
            after.regressions.push((*r).clone());
        }
        shifts.extend(returned_shift(&before, &after));
    }
    Ok(shifts)
}
