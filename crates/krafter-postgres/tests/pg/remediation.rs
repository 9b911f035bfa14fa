//! The remediation totals and SLA policies through the real adapter: totals equal a replay of
//! the history (maintained and rebuilt), due dates from the policy in force at creation, the
//! policies kept oldest first, reports from the totals equal to the reference computation, and
//! the migration's backfill.

use std::sync::Arc;

use chrono::{Duration, NaiveDate, Utc};
use diesel::sql_types::{Date, Nullable};
use diesel::QueryableByName;
use diesel_async::{RunQueryDsl, SimpleAsyncConnection};
use krafter_domain::clock::FixedClock;
use krafter_domain::ids::{FindingId, OrgId};
use krafter_domain::ledger::{FindingStatus, LedgerRepository, Severity};
use krafter_domain::metrics::remediation::{
    reference, BySeverity, RemediationRepoError, RemediationReports, RemediationRepository,
    SlaPolicy,
};

use krafter_test_support::remediation::assert_agree;

use crate::{
    assert_remediation_replays_history, assert_totals_replay_history, at, change_to, new_finding,
    state, Fixture,
};

use FindingStatus::*;

fn policy(critical: Option<i64>, info: Option<i64>) -> SlaPolicy {
    SlaPolicy::parse(BySeverity {
        critical,
        high: Some(30),
        medium: Some(90),
        low: Some(120),
        info,
    })
    .unwrap()
}

/// A finding of `severity` created at `created` in `status`, then moved through `changes`.
async fn history(
    fx: &Fixture,
    severity: Severity,
    created: &str,
    status: FindingStatus,
    changes: &[(FindingStatus, &str)],
) -> FindingId {
    let mut finding = new_finding("A finding", state(status, 100), at(created));
    finding.severity = severity;
    fx.store
        .create_finding(fx.project.id, &finding)
        .await
        .unwrap();
    for (status, when) in changes {
        fx.store
            .change_finding(
                fx.project.id,
                finding.id,
                change_to(state(*status, 100), at(when)),
            )
            .await
            .unwrap();
    }
    finding.id
}

async fn due_on(fx: &Fixture, finding: FindingId) -> Option<NaiveDate> {
    #[derive(QueryableByName)]
    struct Due {
        #[diesel(sql_type = Nullable<Date>)]
        due_on: Option<NaiveDate>,
    }
    let rows: Vec<Due> = diesel::sql_query(format!(
        "SELECT due_on FROM findings WHERE id = '{finding}'"
    ))
    .load(&mut fx.sql().await)
    .await
    .unwrap();
    rows[0].due_on
}

fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

/// Every kind of write the definitions name: created and resolved the same day, resolved on the
/// due date and the day after, reopened after the due date, dismissed then reopened, resolved
/// then dismissed, a backdated creation already overdue, created closed, and priority-only
/// changes (which move nothing).
async fn every_kind_of_write(fx: &Fixture) {
    use Severity::*;
    history(
        fx,
        Critical,
        "2026-03-01T09:00:00Z",
        New,
        &[(Resolved, "2026-03-01T17:30:00Z")],
    )
    .await;
    history(
        fx,
        Critical,
        "2026-03-01T09:00:00Z",
        Triaged,
        &[(Resolved, "2026-03-08T23:59:59Z")],
    )
    .await;
    history(
        fx,
        Critical,
        "2026-03-01T09:00:00Z",
        New,
        &[(Resolved, "2026-03-09T00:00:00Z")],
    )
    .await;
    history(
        fx,
        High,
        "2026-01-05T12:00:00Z",
        New,
        &[
            (Resolved, "2026-01-20T08:00:00Z"),
            (InProgress, "2026-03-01T08:00:00Z"),
            (Resolved, "2026-03-10T08:00:00Z"),
        ],
    )
    .await;
    history(
        fx,
        Medium,
        "2026-02-01T00:00:00Z",
        New,
        &[
            (Dismissed, "2026-02-02T00:00:00Z"),
            (New, "2026-06-01T00:00:00Z"),
        ],
    )
    .await;
    history(
        fx,
        Low,
        "2026-02-01T00:00:00Z",
        ReadyVerify,
        &[
            (Resolved, "2026-02-10T00:00:00Z"),
            (Dismissed, "2026-02-11T00:00:00Z"),
        ],
    )
    .await;
    history(fx, High, "2025-06-01T00:00:00Z", New, &[]).await;
    history(fx, Info, "2026-04-01T00:00:00Z", Resolved, &[]).await;
    history(
        fx,
        Info,
        "2026-04-01T00:00:00Z",
        New,
        &[(Triaged, "2026-04-02T00:00:00Z")],
    )
    .await;
    let id = history(fx, Medium, "2026-04-01T00:00:00Z", New, &[]).await;
    fx.store
        .change_finding(
            fx.project.id,
            id,
            change_to(state(New, 900), at("2026-04-03T00:00:00Z")),
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn every_kind_of_write_keeps_the_remediation_totals_equal_to_a_replay() {
    let fx = Fixture::new().await;
    every_kind_of_write(&fx).await;
    assert_totals_replay_history(&fx.store, fx.project.id).await;
    // A few figures by hand: the critical resolved on its due date counts within, the one the
    // day after does not.
    let totals = fx.store.remediation_totals(fx.project.id).await.unwrap();
    let critical = |d: &str| totals[&(day(d), Severity::Critical)].clone();
    assert_eq!(critical("2026-03-08").resolved_within_sla, 1);
    assert_eq!(critical("2026-03-09").resolved, 1);
    assert_eq!(critical("2026-03-09").resolved_with_sla, 1);
    assert_eq!(critical("2026-03-09").resolved_within_sla, 0);
}

#[tokio::test]
async fn reports_from_the_totals_equal_the_reference_for_every_granularity_and_window() {
    let fx = Fixture::new().await;
    every_kind_of_write(&fx).await;
    let today = day("2026-07-01");
    let reports = RemediationReports::new(
        Arc::new(fx.store.clone()),
        Arc::new(FixedClock(at("2026-07-01T12:00:00Z"))),
    );
    let history = fx.store.history(fx.project.id).await.unwrap();
    let mut severities = std::collections::HashMap::new();
    for f in &history.findings {
        let stored = fx.store.finding(fx.project.id, f.finding_id).await.unwrap();
        severities.insert(f.finding_id, stored.finding.severity);
    }
    for (from, to) in [
        (None, None),
        (Some("2025-07-01"), Some("2026-07-01")),
        (Some("2026-02-28"), Some("2026-03-10")),
        (Some("2026-03-09"), Some("2026-03-09")),
    ] {
        for granularity in ["day", "week", "month"] {
            let query = reports.query(from, to, Some(granularity)).unwrap();
            assert!(query.window.to() <= today);
            let report = reports
                .project_report(fx.org.id, fx.project.id, &query)
                .await
                .unwrap();
            let expected =
                reference::remediation_report(&history, |id| severities[&id], &[], &query);
            assert_agree(
                &report,
                &expected,
                &format!("{from:?}..{to:?} by {granularity}"),
            );
        }
    }
    // The organisation's report over its two projects is the sum.
    let other = fx.project("other").await;
    let mut finding = new_finding("Elsewhere", state(New, 10), at("2026-03-02T00:00:00Z"));
    finding.severity = Severity::Critical;
    fx.store.create_finding(other.id, &finding).await.unwrap();
    let query = reports
        .query(Some("2026-03-01"), Some("2026-03-31"), Some("month"))
        .unwrap();
    let org = reports.org_report(fx.org.id, &query).await.unwrap();
    let project = reports
        .project_report(fx.org.id, fx.project.id, &query)
        .await
        .unwrap();
    assert_eq!(
        org.total.by_severity.critical.opened,
        project.total.by_severity.critical.opened + 1
    );
    assert_eq!(
        org.total.by_severity.critical.overdue_at_end,
        project.total.by_severity.critical.overdue_at_end + 1
    );
    let unknown = reports.org_report(OrgId::generate(), &query).await.unwrap();
    assert_eq!(unknown.total.all.opened, 0);
}

#[tokio::test]
async fn the_due_date_comes_from_the_policy_in_force_at_creation_and_never_changes() {
    let fx = Fixture::new().await;
    let before = history(&fx, Severity::Critical, "2026-06-01T10:00:00Z", New, &[]).await;
    let info_before = history(&fx, Severity::Info, "2026-06-01T10:00:00Z", New, &[]).await;
    assert_eq!(due_on(&fx, before).await, Some(day("2026-06-08")));
    assert_eq!(due_on(&fx, info_before).await, None);

    // Stored as of now (the adapter's clock when it holds the lock, whatever the caller says).
    let asked = Utc::now() - Duration::days(30);
    let stored = fx
        .store
        .store_sla_policy(fx.org.id, &policy(Some(3), Some(365)), asked)
        .await
        .unwrap();
    assert!(stored.effective_from > asked + Duration::days(29));
    assert!(stored.effective_from <= Utc::now());

    let later = stored.effective_from + Duration::hours(1);
    let after = history(&fx, Severity::Critical, &later.to_rfc3339(), New, &[]).await;
    let info_after = history(&fx, Severity::Info, &later.to_rfc3339(), New, &[]).await;
    // A backdated creation takes the policy of its time.
    let backdated = history(&fx, Severity::Critical, "2026-06-02T10:00:00Z", New, &[]).await;
    assert_eq!(
        due_on(&fx, after).await,
        Some(later.date_naive() + Duration::days(3))
    );
    assert_eq!(
        due_on(&fx, info_after).await,
        Some(later.date_naive() + Duration::days(365))
    );
    assert_eq!(due_on(&fx, backdated).await, Some(day("2026-06-09")));
    // Unchanged by the new policy, and by a reopening.
    fx.store
        .change_finding(
            fx.project.id,
            before,
            change_to(state(Resolved, 100), at("2026-06-03T00:00:00Z")),
        )
        .await
        .unwrap();
    fx.store
        .change_finding(fx.project.id, before, change_to(state(New, 100), later))
        .await
        .unwrap();
    assert_eq!(due_on(&fx, before).await, Some(day("2026-06-08")));

    let policies = fx.store.sla_policies(fx.org.id).await.unwrap();
    assert_remediation_replays_history(&fx.store, fx.project.id, &policies).await;
    // The rebuild keeps the stored due dates.
    assert_eq!(
        due_on(&fx, after).await,
        Some(later.date_naive() + Duration::days(3))
    );
}

#[tokio::test]
async fn policies_are_kept_oldest_first_each_after_the_one_before() {
    let fx = Fixture::new().await;
    assert_eq!(fx.store.sla_policies(fx.org.id).await.unwrap(), vec![]);
    assert_eq!(fx.store.current_sla_policy(fx.org.id).await.unwrap(), None);
    let future = Utc::now() + Duration::days(1);
    let first = fx
        .store
        .store_sla_policy(fx.org.id, &policy(Some(3), None), future)
        .await
        .unwrap();
    assert_eq!(first.effective_from, future.duration_trunc_micros());
    // Asked for the same instant: just after the latest one.
    let second = fx
        .store
        .store_sla_policy(fx.org.id, &policy(None, Some(10)), future)
        .await
        .unwrap();
    assert_eq!(
        second.effective_from,
        first.effective_from + Duration::microseconds(1)
    );
    assert_eq!(
        fx.store.sla_policies(fx.org.id).await.unwrap(),
        vec![first, second]
    );
    assert_eq!(
        fx.store.current_sla_policy(fx.org.id).await.unwrap(),
        Some(second)
    );
    let other = crate::organisation(&fx.store, "Other").await;
    assert_eq!(fx.store.sla_policies(other.id).await.unwrap(), vec![]);
    assert!(matches!(
        fx.store
            .store_sla_policy(OrgId::generate(), &SlaPolicy::default(), future)
            .await,
        Err(RemediationRepoError::UnknownOrganisation)
    ));
}

trait TruncMicros {
    fn duration_trunc_micros(self) -> Self;
}

impl TruncMicros for chrono::DateTime<Utc> {
    fn duration_trunc_micros(self) -> Self {
        chrono::DateTime::from_timestamp_micros(self.timestamp_micros()).unwrap()
    }
}

#[tokio::test]
async fn the_migrations_backfill_resumes_and_computes_the_totals_from_the_history() {
    let fx = Fixture::new().await;
    every_kind_of_write(&fx).await;
    let expected = fx.store.remediation_totals(fx.project.id).await.unwrap();
    assert!(!expected.is_empty());
    // As the migration leaves a database with a history: no totals, the project pending.
    fx.sql()
        .await
        .batch_execute(&format!(
            "DELETE FROM project_remediation_totals; \
             INSERT INTO remediation_backfill (project_id) VALUES ('{}')",
            fx.project.id
        ))
        .await
        .unwrap();
    assert_eq!(
        krafter_postgres::run_migrations(fx.db.url()).await.unwrap(),
        0
    );
    assert_eq!(
        fx.store.remediation_totals(fx.project.id).await.unwrap(),
        expected
    );
    assert_eq!(
        fx.count("SELECT count(*) FROM remediation_backfill").await,
        0
    );
}
