//! Bulk history: [`bulk_history`] writes histories made elsewhere (the demo's), and
//! [`synthetic_history`] generates one server-side (for benchmarks). Both write rows directly,
//! in one transaction, then rebuild the project's daily and remediation totals from them (and
//! the findings' due dates), so the totals are
//! exactly what the ledger would have kept.
//!
//! ## Synthetic history
//!
//! Everything is generated server-side with `INSERT … SELECT … FROM generate_series`, a chunk of
//! series numbers per statement. Every value is a pseudo-random function of the series number
//! (through PostgreSQL's `hashint8extended`), so the same spec always yields the same history;
//! ids are time-ordered (UUIDv7 layout: the creation millisecond, bits of the project id, the
//! series number), unique within a project, and keep index insertions at the right edge.

use chrono::{DateTime, Days, NaiveDate, Utc};
use diesel::sql_types::{
    Array, BigInt, Integer, Nullable, SmallInt, Text, Timestamptz, Uuid as SqlUuid,
};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use krafter_domain::ids::ProjectId;
use krafter_domain::ledger::{
    Finding, FindingState, FindingStatus, Regression, Verification, VerificationResult,
};
use krafter_domain::storage::StorageError;
use uuid::Uuid;

use crate::PgStore;

/// Findings (and their events) inserted per statement.
const FINDINGS_CHUNK: u64 = 50_000;
/// Verifications or regressions inserted per statement.
const OTHERS_CHUNK: u64 = 100_000;
/// Series numbers fit the 40 bits an id keeps of them.
const MAX_SERIES: u64 = 1 << 40;
const DAY_MICROS: i64 = 86_400_000_000;

/// What to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntheticSpec {
    /// Findings, each with 3 events (one in ten with 4): created, moved on, and a final state
    /// that is terminal for about 45% of them.
    pub findings: u64,
    /// Verifications (about 70% passed) on random findings, after their creation.
    pub verifications: u64,
    /// Regressions on random findings, after their creation; about 60% closed later.
    pub regressions: u64,
    /// How many UTC days the history spans, `end` included.
    pub days: u32,
    /// The last day of the history.
    pub end: NaiveDate,
}

/// Writes a synthetic history into `project` (which must exist and have no synthetic history
/// yet) in one transaction, then recomputes its daily totals. `progress` hears how many findings
/// are done after each chunk.
pub async fn synthetic_history(
    store: &PgStore,
    project: ProjectId,
    spec: &SyntheticSpec,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<(), StorageError> {
    if spec.days == 0 {
        return Err(crate::store::storage_error(
            "a synthetic history spans at least one day",
        ));
    }
    if spec.findings >= MAX_SERIES
        || spec.verifications >= MAX_SERIES
        || spec.regressions >= MAX_SERIES
    {
        return Err(crate::store::storage_error(
            "too many synthetic rows asked for",
        ));
    }
    if spec.findings == 0 && (spec.verifications > 0 || spec.regressions > 0) {
        return Err(crate::store::storage_error(
            "verifications and regressions need at least one synthetic finding",
        ));
    }
    let start = spec
        .end
        .checked_sub_days(Days::new(u64::from(spec.days) - 1))
        .ok_or_else(|| {
            crate::store::storage_error("the synthetic history starts before the calendar")
        })?;
    let params = Params {
        project,
        total: spec.findings as i64,
        start_us: start
            .and_hms_opt(0, 0, 0)
            .expect("midnight exists")
            .and_utc()
            .timestamp_micros(),
        span_us: i64::from(spec.days) * DAY_MICROS,
        id_bits: id_bits(project),
    };
    let statements = Statements::new();
    let spec = spec.clone();

    let mut conn = store.conn().await?;
    let conn: &mut AsyncPgConnection = &mut conn;
    conn.transaction::<_, diesel::result::Error, _>(async move |conn| {
        for lo in (0..spec.findings).step_by(FINDINGS_CHUNK as usize) {
            let hi = (lo + FINDINGS_CHUNK).min(spec.findings);
            params.run(conn, &statements.findings, lo, hi).await?;
            progress(hi);
        }
        for lo in (0..spec.verifications).step_by(OTHERS_CHUNK as usize) {
            let hi = (lo + OTHERS_CHUNK).min(spec.verifications);
            params.run(conn, &statements.verifications, lo, hi).await?;
        }
        for lo in (0..spec.regressions).step_by(OTHERS_CHUNK as usize) {
            let hi = (lo + OTHERS_CHUNK).min(spec.regressions);
            params.run(conn, &statements.regressions, lo, hi).await?;
        }
        // The remediation totals' lock first, as writers take their rows (see `add_deltas`).
        crate::repos::remediation::rebuild_remediation_in(conn, project).await?;
        crate::repos::metrics::rebuild_in(conn, project).await
    })
    .await
    .map_err(crate::store::storage_error)
}

/// One finding with its whole history, as the ledger would have stored it.
#[derive(Debug, Clone, PartialEq)]
pub struct BulkFinding {
    /// The finding as it is now: its state and `updated_at` are those of the last entry of
    /// `history`.
    pub finding: Finding,
    /// Its states in time order, each with when it began; the first at `created_at`.
    pub history: Vec<(DateTime<Utc>, FindingState)>,
    pub verifications: Vec<Verification>,
    pub regressions: Vec<Regression>,
}

/// Findings written per round of statements.
const BULK_CHUNK: usize = 5_000;

/// Writes `findings` (with their events, verifications and regressions) into `project` in one
/// transaction, a chunk of [`BULK_CHUNK`] findings per round of `INSERT … SELECT FROM unnest(…)`,
/// then rebuilds the project's daily totals from what is stored. Nothing is checked against the
/// ledger's rules: the caller's histories must be valid ones. `progress` hears how many findings
/// are written after each chunk. Answers how many were written.
pub async fn bulk_history(
    store: &PgStore,
    project: ProjectId,
    findings: impl Iterator<Item = BulkFinding> + Send,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<u64, StorageError> {
    let mut conn = store.conn().await?;
    let conn: &mut AsyncPgConnection = &mut conn;
    conn.transaction::<_, diesel::result::Error, _>(async move |conn| {
        let mut written = 0u64;
        let mut findings = findings.peekable();
        while findings.peek().is_some() {
            let mut chunk = Chunk::default();
            for finding in findings.by_ref().take(BULK_CHUNK) {
                chunk.push(finding);
            }
            written += chunk.write(conn, project).await?;
            progress(written);
        }
        // The remediation totals' lock first, as writers take their rows (see `add_deltas`).
        crate::repos::remediation::rebuild_remediation_in(conn, project).await?;
        crate::repos::metrics::rebuild_in(conn, project).await?;
        Ok(written)
    })
    .await
    .map_err(crate::store::storage_error)
}

/// Columns of one chunk's rows, bound as arrays.
#[derive(Default)]
struct Chunk {
    id: Vec<Uuid>,
    title: Vec<String>,
    severity: Vec<i16>,
    status: Vec<i16>,
    priority: Vec<i32>,
    created_at: Vec<DateTime<Utc>>,
    updated_at: Vec<DateTime<Utc>>,
    event_finding: Vec<Uuid>,
    event_seq: Vec<i32>,
    event_at: Vec<DateTime<Utc>>,
    event_status: Vec<i16>,
    event_priority: Vec<i32>,
    verification_id: Vec<Uuid>,
    verification_finding: Vec<Uuid>,
    verification_result: Vec<i16>,
    verification_at: Vec<DateTime<Utc>>,
    regression_id: Vec<Uuid>,
    regression_finding: Vec<Uuid>,
    regression_opened: Vec<DateTime<Utc>>,
    regression_closed: Vec<Option<DateTime<Utc>>>,
}

impl Chunk {
    fn push(&mut self, bulk: BulkFinding) {
        let f = &bulk.finding;
        let id = f.id.as_uuid();
        self.id.push(id);
        self.title.push(f.title.as_str().to_owned());
        self.severity.push(f.severity.code());
        self.status.push(f.state.status.code());
        self.priority.push(f.state.priority_score.get());
        self.created_at.push(f.created_at);
        self.updated_at.push(f.updated_at);
        for (seq, (at, state)) in bulk.history.iter().enumerate() {
            self.event_finding.push(id);
            self.event_seq.push(seq as i32);
            self.event_at.push(*at);
            self.event_status.push(state.status.code());
            self.event_priority.push(state.priority_score.get());
        }
        for v in &bulk.verifications {
            self.verification_id.push(v.id.as_uuid());
            self.verification_finding.push(id);
            self.verification_result.push(v.result.code());
            self.verification_at.push(v.occurred_at);
        }
        for r in &bulk.regressions {
            self.regression_id.push(r.id.as_uuid());
            self.regression_finding.push(id);
            self.regression_opened.push(r.opened_at);
            self.regression_closed.push(r.closed_at);
        }
    }

    async fn write(
        &self,
        conn: &mut AsyncPgConnection,
        project: ProjectId,
    ) -> diesel::QueryResult<u64> {
        let project = project.as_uuid();
        diesel::sql_query(
            "INSERT INTO findings (id, project_id, title, severity, status, priority_score, \
                                   created_at, updated_at) \
             SELECT id, $1, title, severity, status, priority, created_at, updated_at \
               FROM unnest($2, $3, $4, $5, $6, $7, $8) \
                 AS t (id, title, severity, status, priority, created_at, updated_at)",
        )
        .bind::<SqlUuid, _>(project)
        .bind::<Array<SqlUuid>, _>(&self.id)
        .bind::<Array<Text>, _>(&self.title)
        .bind::<Array<SmallInt>, _>(&self.severity)
        .bind::<Array<SmallInt>, _>(&self.status)
        .bind::<Array<Integer>, _>(&self.priority)
        .bind::<Array<Timestamptz>, _>(&self.created_at)
        .bind::<Array<Timestamptz>, _>(&self.updated_at)
        .execute(conn)
        .await?;
        diesel::sql_query(
            "INSERT INTO finding_events (finding_id, seq, occurred_at, status, priority_score) \
             SELECT * FROM unnest($1, $2, $3, $4, $5)",
        )
        .bind::<Array<SqlUuid>, _>(&self.event_finding)
        .bind::<Array<Integer>, _>(&self.event_seq)
        .bind::<Array<Timestamptz>, _>(&self.event_at)
        .bind::<Array<SmallInt>, _>(&self.event_status)
        .bind::<Array<Integer>, _>(&self.event_priority)
        .execute(conn)
        .await?;
        if !self.verification_id.is_empty() {
            diesel::sql_query(
                "INSERT INTO verifications (id, project_id, finding_id, result, occurred_at) \
                 SELECT id, $1, finding_id, result, occurred_at \
                   FROM unnest($2, $3, $4, $5) AS t (id, finding_id, result, occurred_at)",
            )
            .bind::<SqlUuid, _>(project)
            .bind::<Array<SqlUuid>, _>(&self.verification_id)
            .bind::<Array<SqlUuid>, _>(&self.verification_finding)
            .bind::<Array<SmallInt>, _>(&self.verification_result)
            .bind::<Array<Timestamptz>, _>(&self.verification_at)
            .execute(conn)
            .await?;
        }
        if !self.regression_id.is_empty() {
            diesel::sql_query(
                "INSERT INTO regressions (id, project_id, finding_id, opened_at, closed_at) \
                 SELECT id, $1, finding_id, opened_at, closed_at \
                   FROM unnest($2, $3, $4, $5) AS t (id, finding_id, opened_at, closed_at)",
            )
            .bind::<SqlUuid, _>(project)
            .bind::<Array<SqlUuid>, _>(&self.regression_id)
            .bind::<Array<SqlUuid>, _>(&self.regression_finding)
            .bind::<Array<Timestamptz>, _>(&self.regression_opened)
            .bind::<Array<Nullable<Timestamptz>>, _>(&self.regression_closed)
            .execute(conn)
            .await?;
        }
        Ok(self.id.len() as u64)
    }
}

/// Eight hex digits of the project id that go into every synthetic id.
fn id_bits(project: ProjectId) -> String {
    let bytes = project.as_uuid().into_bytes();
    format!(
        "{:08x}",
        u32::from_be_bytes([bytes[12], bytes[13], bytes[14], bytes[15]])
    )
}

/// The binds every statement takes: `$1` project, `$2..$3` the chunk's series numbers, `$4` the
/// number of findings, `$5` the first microsecond of the history, `$6` its length in
/// microseconds, `$7` the id bits.
struct Params {
    project: ProjectId,
    total: i64,
    start_us: i64,
    span_us: i64,
    id_bits: String,
}

impl Params {
    async fn run(
        &self,
        conn: &mut AsyncPgConnection,
        sql: &str,
        lo: u64,
        hi: u64,
    ) -> diesel::QueryResult<usize> {
        diesel::sql_query(sql)
            .bind::<SqlUuid, _>(self.project.as_uuid())
            .bind::<BigInt, _>(lo as i64)
            .bind::<BigInt, _>(hi as i64)
            .bind::<BigInt, _>(self.total)
            .bind::<BigInt, _>(self.start_us)
            .bind::<BigInt, _>(self.span_us)
            .bind::<Text, _>(&self.id_bits)
            .execute(conn)
            .await
    }
}

/// A uniform pseudo-random number in [0, 1), the `k`-th of series number `var`.
fn u(var: &str, k: u32) -> String {
    format!(
        "((hashint8extended({var}, {k}::bigint) & 9007199254740991)::float8 / 9007199254740992.0)"
    )
}

/// When finding `var` is created (microseconds since the epoch): spread in series order over the
/// first 85% of the span, so that every finding has time left for its later events.
fn created_us(var: &str) -> String {
    format!(
        "($5 + floor(($6::float8 * 0.85) * ({var}::float8 + {}) / $4::float8)::bigint)",
        u(var, 1)
    )
}

/// A time-ordered id: 12 hex digits of the millisecond, version 7, 3 hex digits of the project,
/// the variant digit (which also tells the kind of row), 5 more of the project, 10 of the series.
fn id(var: &str, at_us: &str, kind: char) -> String {
    format!(
        "(lpad(to_hex(({at_us}) / 1000), 12, '0') || '7' || substr($7, 1, 3) || '{kind}' \
         || substr($7, 4, 5) || lpad(to_hex({var}), 10, '0'))::uuid"
    )
}

fn ts(at_us: &str) -> String {
    format!("(timestamptz 'epoch' + ({at_us}) * interval '1 microsecond')")
}

struct Statements {
    findings: String,
    verifications: String,
    regressions: String,
}

impl Statements {
    fn new() -> Self {
        use FindingStatus::*;
        let (new, triaged, in_progress, ready, resolved, dismissed) = (
            New.code(),
            Triaged.code(),
            InProgress.code(),
            ReadyVerify.code(),
            Resolved.code(),
            Dismissed.code(),
        );
        let (passed, failed) = (
            VerificationResult::Passed.code(),
            VerificationResult::Failed.code(),
        );
        let us: Vec<String> = (1..=13).map(|k| format!("{} AS u{k}", u("n", k))).collect();
        let us = us.join(",\n       ");
        let end = "($5 + $6 - 1)";
        // Each event comes at least a second after the previous one and takes at most half of
        // the time left before the end, so every finding's events are strictly increasing and
        // within the span. Each event changes the status, or the score when the status stays.
        let findings = format!(
            "\
WITH p AS (
SELECT n,
       {us}
  FROM generate_series($2::bigint, $3::bigint - 1) AS n
), a AS (
SELECT *, {created} AS t0,
       CASE WHEN u2 < 0.1 THEN 4 ELSE 3 END AS nev,
       CASE WHEN u6 < 0.8 THEN {new} ELSE {triaged} END AS st0,
       floor(u7 * 1001)::int AS sc0
  FROM p
), b AS (
SELECT *, t0 + 1000000 + floor(u3 * ({end} - t0 - 1000000) / 2)::bigint AS t1,
       CASE WHEN u8 < 0.5 THEN {in_progress} ELSE {triaged} END AS st1
  FROM a
), c AS (
SELECT *, t1 + 1000000 + floor(u4 * ({end} - t1 - 1000000) / 2)::bigint AS t2,
       CASE WHEN st1 = st0 THEN (sc0 + 1 + floor(u9 * 200)::int) % 1001 ELSE sc0 END AS sc1,
       CASE WHEN u10 < 0.30 THEN {resolved} WHEN u10 < 0.45 THEN {dismissed}
            WHEN u10 < 0.60 THEN {ready} WHEN u10 < 0.80 THEN {in_progress}
            ELSE {triaged} END AS stf
  FROM b
), d AS (
SELECT *, t2 + 1000000 + floor(u5 * ({end} - t2 - 1000000) / 2)::bigint AS t3,
       CASE WHEN nev = 4 THEN {ready} ELSE st1 END AS stp
  FROM c
), e AS (
SELECT *,
       CASE WHEN stf = stp THEN (sc1 + 1 + floor(u11 * 200)::int) % 1001
            WHEN u11 < 0.25 THEN floor(u12 * 1001)::int
            ELSE sc1 END AS scf,
       CASE WHEN nev = 4 THEN t3 ELSE t2 END AS tf,
       {id} AS id
  FROM d
), ins AS (
INSERT INTO findings (id, project_id, title, severity, status, priority_score, created_at,
                      updated_at)
SELECT id, $1, 'Synthetic finding ' || n, floor(u13 * 5)::smallint, stf::smallint, scf,
       {ts_t0}, {ts_tf}
  FROM e
)
INSERT INTO finding_events (finding_id, seq, occurred_at, status, priority_score)
SELECT e.id, v.seq, {ts_at}, v.st::smallint, v.sc
  FROM e
 CROSS JOIN LATERAL (VALUES
       (0, t0, st0, sc0),
       (1, t1, st1, sc1),
       (2, t2, CASE WHEN nev = 4 THEN {ready} ELSE stf END, CASE WHEN nev = 4 THEN sc1 ELSE scf END),
       (3, t3, stf, scf)
     ) AS v (seq, at, st, sc)
 WHERE v.seq < e.nev",
            created = created_us("n"),
            id = id("n", "t0", '8'),
            ts_t0 = ts("t0"),
            ts_tf = ts("tf"),
            ts_at = ts("v.at"),
        );
        let verifications = format!(
            "\
WITH p AS (
SELECT v, floor({um} * $4::float8)::bigint AS m, {ua} AS a, {ub} AS b
  FROM generate_series($2::bigint, $3::bigint - 1) AS v
), q AS (
SELECT *, {created} AS t0 FROM p
), r AS (
SELECT *, t0 + 1000000 + floor(a * ({end} - t0 - 1000000))::bigint AS at FROM q
)
INSERT INTO verifications (id, project_id, finding_id, result, occurred_at)
SELECT {vid}, $1, {fid}, (CASE WHEN b < 0.7 THEN {passed} ELSE {failed} END)::smallint, {ts_at}
  FROM r",
            um = u("v", 21),
            ua = u("v", 22),
            ub = u("v", 23),
            created = created_us("m"),
            vid = id("v", "at", 'a'),
            fid = id("m", "t0", '8'),
            ts_at = ts("at"),
        );
        let regressions = format!(
            "\
WITH p AS (
SELECT r, floor({um} * $4::float8)::bigint AS m, {ua} AS a, {ub} AS b, {uc} AS c
  FROM generate_series($2::bigint, $3::bigint - 1) AS r
), q AS (
SELECT *, {created} AS t0 FROM p
), s AS (
SELECT *, t0 + 1000000 + floor(a * ({end} - t0 - 1000000) / 2)::bigint AS opened FROM q
), t AS (
SELECT *, CASE WHEN c < 0.6
               THEN opened + 1000000 + floor(b * ({end} - opened - 1000000))::bigint
          END AS closed
  FROM s
)
INSERT INTO regressions (id, project_id, finding_id, opened_at, closed_at)
SELECT {rid}, $1, {fid}, {ts_opened}, {ts_closed}
  FROM t",
            um = u("r", 31),
            ua = u("r", 32),
            ub = u("r", 33),
            uc = u("r", 34),
            created = created_us("m"),
            rid = id("r", "opened", 'b'),
            fid = id("m", "t0", '8'),
            ts_opened = ts("opened"),
            ts_closed = ts("closed"),
        );
        Self {
            findings,
            verifications,
            regressions,
        }
    }
}
