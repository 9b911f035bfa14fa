use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{DateTime, Days, NaiveDate, TimeDelta, Utc};
use krafter_domain::export::{
    Enqueued, ExportFormat, ExportRepoError, ExportRepository, IdempotencyClaim, IdempotencyKey,
    NewExport, QuotaLimit, QuotaMonth, QuotaUsage, Report, ReportId, ReportQuery, ReportStatus,
    RequestFingerprint,
};
use krafter_domain::ids::OrgId;
use krafter_domain::metrics::{BurnDownPoint, Summary};
use krafter_domain::page::PageLimit;
use krafter_domain::project::Project;
use krafter_postgres::PgStore;

use crate::{at, Fixture};

/// A snapshot with a point per day of the period and non-trivial rates.
pub fn summary(start: NaiveDate, end: NaiveDate) -> Summary {
    Summary {
        risk_burn_down: start
            .iter_days()
            .take_while(|d| *d <= end)
            .enumerate()
            .map(|(i, date)| BurnDownPoint {
                date,
                open_risk_score: 1_000 - 10 * i as i64,
            })
            .collect(),
        verification_pass_rate: 0.75,
        regression_rate: 0.125,
        open_findings: 42,
    }
}

/// A queued report of `project`, requested at `created_at`, over the week before it.
pub fn report(project: &Project, created_at: DateTime<Utc>) -> Report {
    let end = created_at.date_naive();
    let start = end - Days::new(6);
    Report {
        id: ReportId::generate(),
        org_id: project.org_id,
        project_id: project.id,
        period_start: start,
        period_end: end,
        format: ExportFormat::Csv,
        status: ReportStatus::Queued,
        snapshot: summary(start, end),
        error: None,
        artefact: None,
        exported_at: None,
        shared_at: None,
        created_at,
        updated_at: created_at,
        definitions_version: 1,
        remediation: None,
    }
}

/// The export of a new report requested at `created_at`, with an idempotency key and the body
/// that makes its fingerprint, if given.
pub fn export_at(
    project: &Project,
    created_at: DateTime<Utc>,
    key: Option<(&str, &str)>,
) -> NewExport {
    NewExport {
        report: report(project, created_at),
        month: QuotaMonth::of(created_at),
        idempotency: key.map(|(key, body)| {
            IdempotencyClaim::new(
                IdempotencyKey::parse(key).unwrap(),
                RequestFingerprint::of("POST /exports", body),
                created_at,
            )
        }),
    }
}

pub const REQUESTED: &str = "2026-06-10T12:00:00Z";

pub fn export(project: &Project, key: Option<(&str, &str)>) -> NewExport {
    export_at(project, at(REQUESTED), key)
}

pub fn june() -> QuotaMonth {
    QuotaMonth::of(at(REQUESTED))
}

pub async fn usage(store: &PgStore, org: OrgId) -> QuotaUsage {
    store.quota(org, june()).await.unwrap()
}

pub async fn created(store: &PgStore, export: &NewExport) -> (Report, u32) {
    match store.enqueue(export).await {
        Ok(Enqueued::Created { report, remaining }) => (report, remaining),
        other => panic!("expected Created, got {other:?}"),
    }
}

#[tokio::test]
async fn an_enqueued_report_reads_back_with_its_job_and_charge() {
    let fx = Fixture::new().await;
    let export = export(&fx.project, None);
    let (report, remaining) = created(&fx.store, &export).await;
    assert_eq!(report, export.report);
    assert_eq!(remaining, 99);
    assert_eq!(
        fx.store
            .find_report(fx.project.id, report.id)
            .await
            .unwrap()
            .as_ref(),
        Some(&report)
    );
    assert_eq!(
        usage(&fx.store, fx.org.id).await,
        QuotaUsage {
            limit: 100,
            used: 1
        }
    );
    let id = report.id;
    assert_eq!(
        fx.count(&format!(
            "SELECT count(*) FROM reports WHERE id = '{id}' AND status = 0 AND format = 1 \
               AND quota_month = '2026-06-01' AND NOT quota_refunded \
               AND snapshot -> 'risk_burn_down' -> 0 ->> 'date' = '2026-06-04' \
               AND jsonb_array_length(snapshot -> 'risk_burn_down') = 7"
        ))
        .await,
        1
    );
    assert_eq!(
        fx.count(&format!(
            "SELECT count(*) FROM jobs WHERE report_id = '{id}' AND state = 0 \
               AND attempts = 0 AND run_at <= now() AND lease_token IS NULL"
        ))
        .await,
        1
    );
    // Another project of the organisation does not see it; another month is not charged.
    let other = fx.project("api").await;
    assert_eq!(fx.store.find_report(other.id, id).await.unwrap(), None);
    assert_eq!(
        fx.store
            .quota(fx.org.id, QuotaMonth::of(at("2026-07-01T00:00:00Z")))
            .await
            .unwrap(),
        QuotaUsage {
            limit: 100,
            used: 0
        }
    );
}

#[tokio::test]
async fn the_limit_defaults_can_be_set_and_belongs_to_an_existing_organisation() {
    let fx = Fixture::new().await;
    assert_eq!(
        usage(&fx.store, fx.org.id).await,
        QuotaUsage {
            limit: krafter_domain::export::DEFAULT_MONTHLY_QUOTA,
            used: 0
        }
    );
    fx.store
        .set_quota_limit(fx.org.id, QuotaLimit::parse(7).unwrap())
        .await
        .unwrap();
    assert_eq!(usage(&fx.store, fx.org.id).await.limit, 7);

    let nobody = OrgId::generate();
    assert!(matches!(
        fx.store.quota(nobody, june()).await,
        Err(ExportRepoError::UnknownOrganisation)
    ));
    assert!(matches!(
        fx.store
            .set_quota_limit(nobody, QuotaLimit::parse(1).unwrap())
            .await,
        Err(ExportRepoError::UnknownOrganisation)
    ));
    let mut orphan = export(&fx.project, Some(("k", "{}")));
    orphan.report.org_id = nobody;
    assert!(matches!(
        fx.store.enqueue(&orphan).await,
        Err(ExportRepoError::UnknownOrganisation)
    ));
    assert_eq!(fx.count("SELECT count(*) FROM reports").await, 0);
    assert_eq!(fx.count("SELECT count(*) FROM idempotency_keys").await, 0);
}

#[tokio::test]
async fn a_used_up_quota_refuses_and_writes_nothing() {
    let fx = Fixture::new().await;
    fx.store
        .set_quota_limit(fx.org.id, QuotaLimit::parse(1).unwrap())
        .await
        .unwrap();
    let (_, remaining) = created(&fx.store, &export(&fx.project, None)).await;
    assert_eq!(remaining, 0);
    let refused = export(&fx.project, Some(("key-1", "{}")));
    assert!(matches!(
        fx.store.enqueue(&refused).await,
        Err(ExportRepoError::QuotaExceeded)
    ));
    assert_eq!(fx.count("SELECT count(*) FROM reports").await, 1);
    assert_eq!(fx.count("SELECT count(*) FROM jobs").await, 1);
    assert_eq!(fx.count("SELECT count(*) FROM idempotency_keys").await, 0);
    assert_eq!(usage(&fx.store, fx.org.id).await.used, 1);

    // A limit set below what was used leaves nothing, never less; raising it frees the key.
    fx.store
        .set_quota_limit(fx.org.id, QuotaLimit::parse(0).unwrap())
        .await
        .unwrap();
    assert_eq!(usage(&fx.store, fx.org.id).await.remaining(), 0);
    fx.store
        .set_quota_limit(fx.org.id, QuotaLimit::parse(2).unwrap())
        .await
        .unwrap();
    let (report, remaining) = created(&fx.store, &refused).await;
    assert_eq!((report.id, remaining), (refused.report.id, 0));
}

/// 100 requests at once against 10 remaining units: exactly 10 get through.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hundred_concurrent_exports_against_ten_remaining_units() {
    let fx = Fixture::new().await;
    for _ in 0..3 {
        created(&fx.store, &export(&fx.project, None)).await;
    }
    fx.store
        .set_quota_limit(fx.org.id, QuotaLimit::parse(13).unwrap())
        .await
        .unwrap();
    assert_eq!(usage(&fx.store, fx.org.id).await.remaining(), 10);

    let store = Arc::new(fx.store.clone());
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let store = store.clone();
            let export = export(&fx.project, None);
            tokio::spawn(async move { store.enqueue(&export).await })
        })
        .collect();
    let mut remaining = Vec::new();
    let mut exceeded = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(Enqueued::Created { remaining: r, .. }) => remaining.push(r),
            Err(ExportRepoError::QuotaExceeded) => exceeded += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    remaining.sort();
    // Each charge saw the one before it: every remaining count from 9 down to 0, once.
    assert_eq!(remaining, (0..10).collect::<Vec<u32>>());
    assert_eq!(exceeded, 90);
    assert_eq!(
        usage(&fx.store, fx.org.id).await,
        QuotaUsage {
            limit: 13,
            used: 13
        }
    );
    assert_eq!(fx.count("SELECT count(*) FROM reports").await, 13);
    assert_eq!(fx.count("SELECT count(*) FROM jobs").await, 13);
}

#[tokio::test]
async fn a_replay_answers_the_first_report_and_charges_nothing() {
    let fx = Fixture::new().await;
    let first = export(&fx.project, Some(("order-1", r#"{"format":"csv"}"#)));
    let (report, remaining) = created(&fx.store, &first).await;
    assert_eq!(remaining, 99);

    // The same key and body an hour later: a new report id was generated, the first comes back.
    let again = export_at(
        &fx.project,
        at(REQUESTED) + TimeDelta::hours(1),
        Some(("order-1", r#"{"format":"csv"}"#)),
    );
    match fx.store.enqueue(&again).await.unwrap() {
        Enqueued::Replayed {
            report: replayed,
            remaining,
        } => {
            assert_eq!(replayed, report);
            assert_eq!(remaining, 99);
        }
        other => panic!("expected Replayed, got {other:?}"),
    }
    assert_eq!(usage(&fx.store, fx.org.id).await.used, 1);
    assert_eq!(fx.count("SELECT count(*) FROM reports").await, 1);
    assert_eq!(fx.count("SELECT count(*) FROM jobs").await, 1);

    // The same key with another body: refused, nothing written.
    let reused = export(&fx.project, Some(("order-1", r#"{"format":"pdf"}"#)));
    assert!(matches!(
        fx.store.enqueue(&reused).await,
        Err(ExportRepoError::IdempotencyKeyReused)
    ));
    assert_eq!(usage(&fx.store, fx.org.id).await.used, 1);
    assert_eq!(fx.count("SELECT count(*) FROM reports").await, 1);
    let fingerprint = first.idempotency.as_ref().unwrap().fingerprint.as_str();
    assert_eq!(
        fx.count(&format!(
            "SELECT count(*) FROM idempotency_keys WHERE key = 'order-1' \
               AND fingerprint = '{fingerprint}' AND report_id = '{}' \
               AND expires_at = '2026-06-11T12:00:00Z'",
            report.id
        ))
        .await,
        1
    );

    // Keys belong to an organisation: another one may use the same key.
    let other_org = crate::organisation(&fx.store, "Other").await;
    let other_project = crate::project(&fx.store, other_org.id, "web").await;
    let theirs = export(&other_project, Some(("order-1", r#"{"format":"pdf"}"#)));
    assert_eq!(created(&fx.store, &theirs).await.0.id, theirs.report.id);
}

#[tokio::test]
async fn an_expired_claim_is_replaced() {
    let fx = Fixture::new().await;
    let first = export(&fx.project, Some(("k", "a")));
    let (report, _) = created(&fx.store, &first).await;
    // Just before it expires, the claim still holds.
    let late = export_at(
        &fx.project,
        at(REQUESTED) + IdempotencyClaim::LIFETIME - TimeDelta::seconds(1),
        Some(("k", "a")),
    );
    assert!(matches!(
        fx.store.enqueue(&late).await.unwrap(),
        Enqueued::Replayed { report: r, .. } if r.id == report.id
    ));
    // Once expired, the key starts afresh, even with another body.
    let expired = export_at(
        &fx.project,
        at(REQUESTED) + IdempotencyClaim::LIFETIME,
        Some(("k", "b")),
    );
    let (second, remaining) = created(&fx.store, &expired).await;
    assert_eq!(second.id, expired.report.id);
    assert_eq!(remaining, 98);
    assert_eq!(
        fx.count(&format!(
            "SELECT count(*) FROM idempotency_keys WHERE key = 'k' AND report_id = '{}' \
               AND fingerprint = '{}' AND expires_at = '2026-06-12T12:00:00Z'",
            second.id,
            expired.idempotency.as_ref().unwrap().fingerprint.as_str()
        ))
        .await,
        1
    );
    assert_eq!(fx.count("SELECT count(*) FROM idempotency_keys").await, 1);
    assert_eq!(fx.count("SELECT count(*) FROM reports").await, 2);
}

/// 20 requests with one key at once: one creates, the others replay it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_requests_with_one_key_create_once() {
    let fx = Fixture::new().await;
    let store = Arc::new(fx.store.clone());
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let store = store.clone();
            let export = export(&fx.project, Some(("same-key", "{}")));
            tokio::spawn(async move { store.enqueue(&export).await })
        })
        .collect();
    let mut created = Vec::new();
    let mut replayed = Vec::new();
    for task in tasks {
        match task.await.unwrap().unwrap() {
            Enqueued::Created { report, remaining } => {
                assert_eq!(remaining, 99);
                created.push(report.id);
            }
            Enqueued::Replayed { report, remaining } => {
                assert_eq!(remaining, 99);
                replayed.push(report.id);
            }
        }
    }
    assert_eq!(created.len(), 1);
    assert_eq!(replayed.len(), 19);
    assert_eq!(
        replayed.into_iter().collect::<BTreeSet<_>>(),
        BTreeSet::from([created[0]])
    );
    assert_eq!(usage(&fx.store, fx.org.id).await.used, 1);
    assert_eq!(fx.count("SELECT count(*) FROM reports").await, 1);
    assert_eq!(fx.count("SELECT count(*) FROM jobs").await, 1);
}

#[tokio::test]
async fn listings_are_newest_first_across_pages_and_per_project() {
    let fx = Fixture::new().await;
    let other = fx.project("api").await;
    created(&fx.store, &export(&other, None)).await;
    let mut expected = Vec::new();
    for i in 0..5 {
        // Two reports share each creation time: the id breaks the tie.
        let created_at = at(REQUESTED) + TimeDelta::minutes(i / 2);
        let (report, _) = created(&fx.store, &export_at(&fx.project, created_at, None)).await;
        expected.push(report);
    }
    expected.sort_by_key(|r| std::cmp::Reverse((r.created_at, r.id)));

    let mut seen = Vec::new();
    let mut after = None;
    let mut pages = 0;
    loop {
        let query = ReportQuery {
            limit: PageLimit::parse(Some("2")).unwrap(),
            after,
        };
        let page = fx.store.list_reports(fx.project.id, &query).await.unwrap();
        pages += 1;
        seen.extend(page.items);
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, expected);
}
