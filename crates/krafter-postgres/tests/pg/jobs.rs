use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use diesel::sql_types::{BigInt, Bool, Integer, Nullable, SmallInt, Text, Uuid as SqlUuid};
use diesel::QueryableByName;
use diesel_async::{RunQueryDsl, SimpleAsyncConnection};
use krafter_domain::export::{
    Artefact, Claimed, ClaimedJob, ExportRepository, JobKind, JobQueue, JobQueueError, JobStatus,
    QueueDepth, ReportId, ReportStatus,
};
use krafter_postgres::PgStore;
use uuid::Uuid;

use crate::exports::{created, export, usage};
use crate::Fixture;

const LONG: Duration = Duration::from_secs(60);
const SHORT: Duration = Duration::from_millis(200);
/// How long a test waits for something that should happen at once.
const DEADLINE: Duration = Duration::from_secs(10);

#[derive(QueryableByName, Debug, PartialEq)]
struct Job {
    #[diesel(sql_type = SmallInt)]
    state: i16,
    #[diesel(sql_type = Integer)]
    attempts: i32,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    lease_token: Option<Uuid>,
    #[diesel(sql_type = Nullable<Text>)]
    leased_by: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    last_error: Option<String>,
    /// Seconds from now until the lease runs out.
    #[diesel(sql_type = Nullable<BigInt>)]
    lease_left: Option<i64>,
}

async fn job(fx: &Fixture, id: ReportId) -> Job {
    diesel::sql_query(format!(
        "SELECT state, attempts, lease_token, leased_by, last_error, \
                extract(epoch FROM lease_expires_at - now())::bigint AS lease_left \
           FROM jobs WHERE report_id = '{id}'"
    ))
    .get_result(&mut fx.sql().await)
    .await
    .unwrap()
}

#[derive(QueryableByName, Debug, PartialEq)]
struct Stored {
    #[diesel(sql_type = SmallInt)]
    status: i16,
    #[diesel(sql_type = Nullable<Text>)]
    error: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    artefact_key: Option<String>,
    #[diesel(sql_type = Nullable<BigInt>)]
    artefact_size: Option<i64>,
    #[diesel(sql_type = Bool)]
    exported: bool,
    #[diesel(sql_type = Bool)]
    quota_refunded: bool,
}

async fn stored(fx: &Fixture, id: ReportId) -> Stored {
    diesel::sql_query(format!(
        "SELECT status, error, artefact_key, artefact_size, exported_at IS NOT NULL AS exported, \
                quota_refunded \
           FROM reports WHERE id = '{id}'"
    ))
    .get_result(&mut fx.sql().await)
    .await
    .unwrap()
}

fn queued() -> Stored {
    Stored {
        status: ReportStatus::Queued.code(),
        error: None,
        artefact_key: None,
        artefact_size: None,
        exported: false,
        quota_refunded: false,
    }
}

fn exporting() -> Stored {
    Stored {
        status: ReportStatus::Exporting.code(),
        ..queued()
    }
}

async fn claim(store: &PgStore, worker: &str, lease: Duration) -> ClaimedJob {
    store
        .claim(worker, lease)
        .await
        .unwrap()
        .and_then(Claimed::into_export)
        .unwrap_or_else(|| panic!("{worker} found nothing to claim"))
}

/// Claims as soon as something is due (a lease runs out, a retry's time comes), polling.
async fn claim_when_due(store: &PgStore, worker: &str, lease: Duration) -> ClaimedJob {
    let deadline = Instant::now() + DEADLINE;
    loop {
        if let Some(job) = store
            .claim(worker, lease)
            .await
            .unwrap()
            .and_then(Claimed::into_export)
        {
            return job;
        }
        assert!(Instant::now() < deadline, "nothing became due");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn artefact(id: ReportId) -> Artefact {
    Artefact {
        key: format!("org/{id}.csv"),
        size_bytes: 1234,
        sha256: Some("ab".repeat(32)),
    }
}

fn lost<T: std::fmt::Debug>(result: Result<T, JobQueueError>) {
    assert!(
        matches!(result, Err(JobQueueError::LeaseLost)),
        "expected LeaseLost, got {result:?}"
    );
}

#[tokio::test]
async fn a_job_is_claimed_kept_and_completed() {
    let fx = Fixture::new().await;
    let (report, _) = created(&fx.store, &export(&fx.project, None)).await;
    assert_eq!(fx.store.outstanding().await.unwrap(), 1);

    let held = claim(&fx.store, "w1", Duration::from_secs(30)).await;
    assert_eq!(held.attempt, 1);
    assert_eq!(held.report.id, report.id);
    assert_eq!(held.report.status, ReportStatus::Exporting);
    assert_eq!(stored(&fx, report.id).await, exporting());
    let running = job(&fx, report.id).await;
    assert_eq!(
        (running.state, running.attempts, running.lease_token),
        (1, 1, Some(held.lease_token))
    );
    assert_eq!(running.leased_by.as_deref(), Some("w1"));
    assert!((25..=30).contains(&running.lease_left.unwrap()));
    assert!(fx.store.claim("w2", LONG).await.unwrap().is_none());
    assert_eq!(fx.store.outstanding().await.unwrap(), 1);

    fx.store
        .heartbeat(&held, Duration::from_secs(600))
        .await
        .unwrap();
    assert!((595..=600).contains(&job(&fx, report.id).await.lease_left.unwrap()));

    let artefact = artefact(report.id);
    fx.store.complete(&held, &artefact).await.unwrap();
    let done = Stored {
        status: ReportStatus::Exported.code(),
        artefact_key: Some(artefact.key.clone()),
        artefact_size: Some(1234),
        exported: true,
        ..queued()
    };
    assert_eq!(stored(&fx, report.id).await, done);
    let read = fx
        .store
        .find_report(fx.project.id, report.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read.status, ReportStatus::Exported);
    assert_eq!(read.artefact, Some(artefact.clone()));
    assert!(read.exported_at.is_some());
    assert!(read.updated_at > report.updated_at);
    assert_eq!(
        job(&fx, report.id).await,
        Job {
            state: 2,
            attempts: 1,
            lease_token: None,
            leased_by: None,
            last_error: None,
            lease_left: None,
        }
    );
    assert_eq!(fx.store.outstanding().await.unwrap(), 0);

    // The lease ended with the job: nothing more is accepted from it.
    lost(fx.store.heartbeat(&held, LONG).await);
    lost(fx.store.complete(&held, &artefact).await);
    lost(
        fx.store
            .retry(&held, "late", "late in full", Utc::now())
            .await,
    );
    lost(fx.store.fail(&held, "late", "late in full").await);
    assert_eq!(stored(&fx, report.id).await, done);
    assert_eq!(usage(&fx.store, fx.org.id).await.used, 1);
    assert!(fx.store.claim("w2", LONG).await.unwrap().is_none());
}

#[tokio::test]
async fn the_oldest_due_job_is_claimed_first() {
    let fx = Fixture::new().await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(created(&fx.store, &export(&fx.project, None)).await.0.id);
    }
    for id in ids {
        assert_eq!(claim(&fx.store, "w", LONG).await.report.id, id);
    }
    assert!(fx.store.claim("w", LONG).await.unwrap().is_none());
}

/// A job another claimer has locked (its claim transaction still open) is skipped, not waited for.
/// (Several threads: should a claim wait and be cancelled, its connection must still be closed
/// while the fixture drops the schema, which blocks a thread.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_skips_a_job_another_claimer_is_taking() {
    let fx = Fixture::new().await;
    let (first, _) = created(&fx.store, &export(&fx.project, None)).await;
    let (second, _) = created(&fx.store, &export(&fx.project, None)).await;
    let mut other = fx.sql().await;
    other
        .batch_execute(&format!(
            "BEGIN; SELECT 1 FROM jobs WHERE report_id = '{}' FOR UPDATE",
            first.id
        ))
        .await
        .unwrap();
    let claimed = tokio::time::timeout(DEADLINE, fx.store.claim("w1", LONG)).await;
    let then = tokio::time::timeout(DEADLINE, fx.store.claim("w1", LONG)).await;
    // Released before asserting, so that a failure cannot leave the lock behind.
    other.batch_execute("ROLLBACK").await.unwrap();
    let claimed = claimed.expect("the claim waited for the locked job");
    let claimed = claimed.unwrap().unwrap().into_export();
    assert_eq!(claimed.unwrap().report.id, second.id);
    assert!(then.expect("the claim waited").unwrap().is_none());
    assert_eq!(claim(&fx.store, "w2", LONG).await.report.id, first.id);
}

/// 4 workers claiming 50 jobs at once: each job is claimed exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_claimers_never_share_a_job() {
    let fx = Fixture::new().await;
    let mut ids = BTreeSet::new();
    for _ in 0..50 {
        ids.insert(created(&fx.store, &export(&fx.project, None)).await.0.id);
    }
    let workers: Vec<_> = (0..4)
        .map(|w| {
            let store = fx.store.clone();
            tokio::spawn(async move {
                let mut claimed = Vec::new();
                while let Some(job) = store
                    .claim(&format!("w{w}"), LONG)
                    .await
                    .unwrap()
                    .and_then(Claimed::into_export)
                {
                    assert_eq!(job.attempt, 1);
                    claimed.push(job.report.id);
                }
                claimed
            })
        })
        .collect();
    let mut claimed = Vec::new();
    for worker in workers {
        claimed.extend(worker.await.unwrap());
    }
    assert_eq!(claimed.len(), 50);
    assert_eq!(claimed.into_iter().collect::<BTreeSet<_>>(), ids);
    assert_eq!(
        fx.count("SELECT count(*) FROM jobs WHERE state = 1 AND attempts = 1")
            .await,
        50
    );
    assert_eq!(
        fx.count("SELECT count(*) FROM reports WHERE status = 1")
            .await,
        50
    );
    assert_eq!(fx.store.outstanding().await.unwrap(), 50);
}

#[tokio::test]
async fn an_expired_lease_is_taken_over_and_the_first_worker_can_write_nothing() {
    let fx = Fixture::new().await;
    let (report, _) = created(&fx.store, &export(&fx.project, None)).await;
    let first = claim(&fx.store, "w1", SHORT).await;
    let second = claim_when_due(&fx.store, "w2", LONG).await;
    assert_eq!(second.report.id, report.id);
    assert_eq!((first.attempt, second.attempt), (1, 2));
    assert_ne!(first.lease_token, second.lease_token);
    assert_eq!(second.report.status, ReportStatus::Exporting);

    lost(fx.store.complete(&first, &artefact(report.id)).await);
    lost(fx.store.heartbeat(&first, LONG).await);
    lost(
        fx.store
            .retry(&first, "late", "late in full", Utc::now())
            .await,
    );
    lost(fx.store.fail(&first, "late", "late in full").await);
    assert_eq!(stored(&fx, report.id).await, exporting());
    let running = job(&fx, report.id).await;
    assert_eq!(
        (running.state, running.attempts, running.lease_token),
        (1, 2, Some(second.lease_token))
    );
    assert_eq!(running.leased_by.as_deref(), Some("w2"));
    assert_eq!(running.last_error, None);

    fx.store
        .complete(&second, &artefact(report.id))
        .await
        .unwrap();
    assert_eq!(
        stored(&fx, report.id).await.status,
        ReportStatus::Exported.code()
    );
    assert_eq!(usage(&fx.store, fx.org.id).await.used, 1);
    assert_eq!(fx.store.outstanding().await.unwrap(), 0);
}

#[tokio::test]
async fn jobs_handed_back_at_shutdown_are_claimable_at_once_and_only_that_workers() {
    let fx = Fixture::new().await;
    let (mine, _) = created(&fx.store, &export(&fx.project, None)).await;
    let (theirs, _) = created(&fx.store, &export(&fx.project, None)).await;
    let held = claim(&fx.store, "stopping", LONG).await;
    let other = claim(&fx.store, "staying", LONG).await;
    assert_eq!((held.report.id, other.report.id), (mine.id, theirs.id));
    assert!(fx.store.claim("next", LONG).await.unwrap().is_none());

    assert_eq!(fx.store.hand_back("stopping").await.unwrap(), 1);
    assert_eq!(fx.store.hand_back("stopping").await.unwrap(), 0);
    assert_eq!(fx.store.hand_back("nobody").await.unwrap(), 0);
    // Taken over at once, as an expired lease is: the next attempt, a new token.
    let taken = claim(&fx.store, "next", LONG).await;
    assert_eq!(taken.report.id, mine.id);
    assert_eq!((held.attempt, taken.attempt), (1, 2));
    lost(fx.store.heartbeat(&held, LONG).await);
    assert!(fx.store.claim("next", LONG).await.unwrap().is_none());
    let kept = job(&fx, theirs.id).await;
    assert_eq!(kept.leased_by.as_deref(), Some("staying"));
    assert_eq!(kept.lease_token, Some(other.lease_token));
    for (job, id) in [(&taken, mine.id), (&other, theirs.id)] {
        fx.store.complete(job, &artefact(id)).await.unwrap();
    }
    assert_eq!(fx.store.outstanding().await.unwrap(), 0);
}

#[tokio::test]
async fn a_retry_requeues_and_is_not_claimable_before_its_time() {
    let fx = Fixture::new().await;
    let (report, _) = created(&fx.store, &export(&fx.project, None)).await;
    let held = claim(&fx.store, "w1", LONG).await;
    // Whole milliseconds, so that the stored time compares equal.
    let run_at = DateTime::<Utc>::from_timestamp_millis(
        (Utc::now() + TimeDelta::seconds(2)).timestamp_millis(),
    )
    .unwrap();
    fx.store
        .retry(
            &held,
            "the renderer crashed",
            "typst: out of memory",
            run_at,
        )
        .await
        .unwrap();

    assert_eq!(stored(&fx, report.id).await, queued());
    assert_eq!(
        job(&fx, report.id).await,
        Job {
            state: 0,
            attempts: 1,
            lease_token: None,
            leased_by: None,
            last_error: Some("the renderer crashed".into()),
            lease_left: None,
        }
    );
    assert_eq!(
        fx.count(&format!(
            "SELECT count(*) FROM jobs WHERE report_id = '{}' AND run_at = '{}'",
            report.id,
            run_at.to_rfc3339()
        ))
        .await,
        1
    );
    // The detail is kept for operators while the public reason stays off the report.
    let record = fx.store.report_record(report.id).await.unwrap().unwrap();
    assert_eq!(
        (record.error, record.error_detail.as_deref()),
        (None, Some("typst: out of memory"))
    );
    assert_eq!(fx.store.outstanding().await.unwrap(), 1);
    assert!(fx.store.claim("w2", LONG).await.unwrap().is_none());
    lost(fx.store.heartbeat(&held, LONG).await);

    let again = claim_when_due(&fx.store, "w2", LONG).await;
    assert!(Utc::now() >= run_at);
    assert_eq!((again.report.id, again.attempt), (report.id, 2));
    assert_eq!(stored(&fx, report.id).await, exporting());
}

#[tokio::test]
async fn a_failed_export_keeps_its_reason_and_refunds_once() {
    let fx = Fixture::new().await;
    // One export done before, so that the usage cannot hide a second refund at zero.
    let (done, _) = created(&fx.store, &export(&fx.project, None)).await;
    let held = claim(&fx.store, "w0", LONG).await;
    fx.store.complete(&held, &artefact(done.id)).await.unwrap();
    let (report, _) = created(&fx.store, &export(&fx.project, None)).await;
    assert_eq!(usage(&fx.store, fx.org.id).await.used, 2);

    // A worker whose lease ran out, and the one that took the job over and fails it.
    let stale = claim(&fx.store, "w1", SHORT).await;
    let valid = claim_when_due(&fx.store, "w2", LONG).await;
    assert_eq!(valid.report.id, report.id);
    fx.store
        .fail(
            &valid,
            "PDF engine gave up",
            "typst: layout did not converge",
        )
        .await
        .unwrap();
    let failed = Stored {
        status: ReportStatus::Failed.code(),
        error: Some("PDF engine gave up".into()),
        quota_refunded: true,
        ..queued()
    };
    assert_eq!(stored(&fx, report.id).await, failed);
    assert_eq!(usage(&fx.store, fx.org.id).await.used, 1);

    lost(fx.store.fail(&stale, "late", "late in full").await);
    lost(fx.store.fail(&valid, "again", "again in full").await);
    assert_eq!(stored(&fx, report.id).await, failed);
    // A late worker's detail does not overwrite the one that failed it.
    let record = fx.store.report_record(report.id).await.unwrap().unwrap();
    assert_eq!(
        record.error_detail.as_deref(),
        Some("typst: layout did not converge")
    );
    assert_eq!(record.attempts, 2);
    assert_eq!(usage(&fx.store, fx.org.id).await.used, 1);
    assert_eq!(
        job(&fx, report.id).await,
        Job {
            state: 2,
            attempts: 2,
            lease_token: None,
            leased_by: None,
            last_error: Some("PDF engine gave up".into()),
            lease_left: None,
        }
    );
    let read = fx
        .store
        .find_report(fx.project.id, report.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read.status, ReportStatus::Failed);
    assert_eq!(read.error.as_deref(), Some("PDF engine gave up"));
    assert_eq!(fx.store.outstanding().await.unwrap(), 0);
}

/// A report that reached a final state is never moved by its job's worker.
#[tokio::test]
async fn status_guards_keep_final_reports_final() {
    let fx = Fixture::new().await;
    let (report, _) = created(&fx.store, &export(&fx.project, None)).await;
    let held = claim(&fx.store, "w1", LONG).await;
    let mut sql = fx.sql().await;
    diesel::sql_query(format!(
        "UPDATE reports SET status = {}, error = 'cancelled' WHERE id = '{}'",
        ReportStatus::Failed.code(),
        report.id
    ))
    .execute(&mut sql)
    .await
    .unwrap();
    let cancelled = Stored {
        status: ReportStatus::Failed.code(),
        error: Some("cancelled".into()),
        ..queued()
    };

    lost(fx.store.complete(&held, &artefact(report.id)).await);
    lost(
        fx.store
            .retry(&held, "again", "again in full", Utc::now())
            .await,
    );
    lost(fx.store.fail(&held, "boom", "boom in full").await);
    assert_eq!(stored(&fx, report.id).await, cancelled);
    // Nothing at all was written: the job still holds its lease, the unit was not refunded.
    let running = job(&fx, report.id).await;
    assert_eq!(
        (running.state, running.lease_token, running.last_error),
        (1, Some(held.lease_token), None)
    );
    assert_eq!(usage(&fx.store, fx.org.id).await.used, 1);

    // Once the lease has run out, the next claim closes the job instead of reviving the report.
    diesel::sql_query(format!(
        "UPDATE jobs SET lease_expires_at = now() - interval '1 second' \
          WHERE report_id = '{}'",
        report.id
    ))
    .execute(&mut sql)
    .await
    .unwrap();
    assert!(fx.store.claim("w2", LONG).await.unwrap().is_none());
    assert_eq!(job(&fx, report.id).await.state, 2);
    assert_eq!(stored(&fx, report.id).await, cancelled);
    assert_eq!(fx.store.outstanding().await.unwrap(), 0);

    // The same for a queued job whose report was exported meanwhile.
    let (other, _) = created(&fx.store, &export(&fx.project, None)).await;
    diesel::sql_query(format!(
        "UPDATE reports SET status = {}, artefact_key = 'k', artefact_size = 1 WHERE id = '{}'",
        ReportStatus::Exported.code(),
        other.id
    ))
    .execute(&mut sql)
    .await
    .unwrap();
    assert!(fx.store.claim("w2", LONG).await.unwrap().is_none());
    assert_eq!(job(&fx, other.id).await.state, 2);
    assert_eq!(
        stored(&fx, other.id).await.status,
        ReportStatus::Exported.code()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_wakes_on_an_enqueue_and_times_out_otherwise() {
    let fx = Fixture::new().await;
    // The first wait connects the listener and returns at once: jobs may have become due
    // before it listened, so the caller looks again.
    let started = Instant::now();
    fx.store.wait(LONG).await.unwrap();
    assert!(started.elapsed() < DEADLINE);

    // Nothing happens: the wait takes its whole time.
    let started = Instant::now();
    fx.store.wait(Duration::from_millis(300)).await.unwrap();
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(300), "{waited:?}");
    assert!(waited < DEADLINE, "{waited:?}");

    // Exports in another schema (another deployment's workers) do not wake it.
    let elsewhere = Fixture::new().await;
    let theirs = export(&elsewhere.project, None);
    let started = Instant::now();
    let (waited, _) = tokio::join!(
        fx.store.wait(Duration::from_secs(1)),
        created(&elsewhere.store, &theirs)
    );
    waited.unwrap();
    assert!(started.elapsed() >= Duration::from_secs(1));

    // An enqueue through another pool wakes both waiters of this store, long before their
    // time: the first hears the notification, the second is told by the first.
    let other = PgStore::connect(fx.db.url(), 2).await.unwrap();
    let clone = fx.store.clone();
    let ours = export(&fx.project, None);
    let started = Instant::now();
    let enqueue = async {
        // Polled after both waiters have started waiting.
        tokio::task::yield_now().await;
        created(&other, &ours).await
    };
    let (first, second, _) = tokio::time::timeout(DEADLINE, async {
        tokio::join!(fx.store.wait(LONG), clone.wait(LONG), enqueue)
    })
    .await
    .expect("both waiters woke");
    first.unwrap();
    second.unwrap();
    assert!(started.elapsed() < DEADLINE);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_listens_again_after_its_connection_broke() {
    let fx = Fixture::new().await;
    let name = format!("krafter_listener_{}", Uuid::new_v4().simple());
    let store = PgStore::connect(&format!("{}&application_name={name}", fx.db.url()), 2)
        .await
        .unwrap();
    store.wait(LONG).await.unwrap();

    let listeners = |verb: &str| {
        format!(
            "SELECT {verb} FROM pg_stat_activity WHERE application_name = '{name}' \
               AND query LIKE 'SELECT coalesce(current_schema()%'"
        )
    };
    assert_eq!(fx.count(&listeners("count(*)")).await, 1);
    let terminated = fx
        .count(&format!(
            "SELECT count(*) FROM ({}) t WHERE t.pg_terminate_backend",
            listeners("pg_terminate_backend(pid)")
        ))
        .await;
    assert_eq!(terminated, 1);

    // The broken connection ends a wait at once (the caller looks for work), the next one
    // connects again (and returns at once too), and notifications are heard again after that.
    for _ in 0..2 {
        let started = Instant::now();
        store.wait(LONG).await.unwrap();
        assert!(started.elapsed() < DEADLINE);
    }
    let ours = export(&fx.project, None);
    let started = Instant::now();
    let (waited, _) = tokio::join!(store.wait(LONG), async {
        tokio::task::yield_now().await;
        created(&fx.store, &ours).await
    });
    waited.unwrap();
    assert!(started.elapsed() < DEADLINE);
}

#[tokio::test]
async fn the_depth_counts_unfinished_jobs_by_kind_and_status() {
    let fx = Fixture::new().await;
    assert_eq!(fx.store.depth().await.unwrap(), []);
    for _ in 0..3 {
        created(&fx.store, &export(&fx.project, None)).await;
    }
    let held = claim(&fx.store, "w1", LONG).await;
    let depth = |status, jobs| QueueDepth {
        kind: JobKind::Export,
        status,
        jobs,
    };
    let mut depths = fx.store.depth().await.unwrap();
    depths.sort_by_key(|d| d.status == JobStatus::Running);
    assert_eq!(
        depths,
        [depth(JobStatus::Queued, 2), depth(JobStatus::Running, 1)]
    );
    // A finished job is not counted.
    fx.store
        .complete(&held, &artefact(held.report.id))
        .await
        .unwrap();
    assert_eq!(
        fx.store.depth().await.unwrap(),
        [depth(JobStatus::Queued, 2)]
    );
}
