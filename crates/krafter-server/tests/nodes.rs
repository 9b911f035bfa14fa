//! The real `krafter` binary as an operator runs it: several API and worker nodes on one
//! database and one S3-compatible store, and what SIGTERM does to a node with a request or a job
//! in hand.

mod support;

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::time::Duration;

use krafter_test_support::moto::MotoServer;
use krafter_test_support::TestDatabase;
use reqwest::StatusCode;
use serde_json::{json, Value};
use support::{data, Node, Tenant, WAIT};

const BUCKET: &str = "krafter-nodes";
const EXPORTS: usize = 1_000;

/// Polls `select` (one row, one column `n`) until it answers `expected`, failing after `within`.
async fn wait_until_count(db: &TestDatabase, select: &str, expected: i64, within: Duration) {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let n = db.rows(select).await[0]["n"].as_i64().unwrap();
        if n == expected {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{select}: {n}, not {expected}, after {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The `report_id` of every "export job done" line of `lines` whose outcome is an export.
fn exported_reports(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|l| l["message"] == "export job done")
        .map(|l| {
            let outcome = l["outcome"].as_str().unwrap_or_default();
            assert!(outcome.starts_with("Exported("), "{l}");
            l["report_id"].as_str().unwrap().to_owned()
        })
        .collect()
}

#[tokio::test]
#[ignore = "needs moto_server (KRAFTER_MOTO_SERVER); .ci/run runs it"]
async fn two_api_nodes_and_two_worker_nodes_export_each_report_exactly_once() {
    let moto = MotoServer::start().await;
    moto.create_bucket(BUCKET).await;
    let db = TestDatabase::new().await;
    let tenant = Tenant::new(&db, EXPORTS as u32);
    let dir = tempfile::tempdir().unwrap();
    let store_url = format!("s3://{BUCKET}/reports");
    let mut env: Vec<(&str, &str)> = moto.aws_env().to_vec();
    env.extend([
        ("KRAFTER_ARTEFACTS_URL", store_url.as_str()),
        ("KRAFTER_RATE_LIMIT", "0"),
    ]);
    let with = |extra: &[(&'static str, &'static str)]| {
        let mut all = env.clone();
        all.extend_from_slice(extra);
        all
    };
    // The API nodes run no workers; each worker node runs two.
    let api = [
        Node::start("serve", &db, dir.path(), &with(&[("KRAFTER_WORKERS", "0")])).await,
        Node::start("serve", &db, dir.path(), &with(&[("KRAFTER_WORKERS", "0")])).await,
    ];
    let mut workers = Vec::new();
    for _ in 0..2 {
        let mut worker = Node::start(
            "worker",
            &db,
            dir.path(),
            &with(&[("KRAFTER_WORKERS", "2")]),
        )
        .await;
        worker
            .wait_for(|l| l["message"] == "workers started (exports and deliveries)")
            .await;
        workers.push(worker);
    }

    // 1,000 exports, alternately through each API node, 16 requests at a time.
    let urls: Vec<String> = api
        .iter()
        .map(|node| node.audit(&tenant, "/reports/export"))
        .collect();
    let mut posting = tokio::task::JoinSet::new();
    for client in 0..16 {
        let urls = urls.clone();
        let key = tenant.key.clone();
        posting.spawn(async move {
            let http = reqwest::Client::new();
            let mut accepted = Vec::new();
            for n in (client..EXPORTS).step_by(16) {
                let answer = http
                    .post(&urls[n % 2])
                    .bearer_auth(&key)
                    .json(&json!({"format": "csv"}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(answer.status(), StatusCode::ACCEPTED);
                let report = data(answer).await;
                assert_eq!(report["status"], "queued", "{report}");
                accepted.push((n % 2, report["id"].as_str().unwrap().to_owned()));
            }
            accepted
        });
    }
    let mut accepted = Vec::new();
    while let Some(part) = posting.join_next().await {
        accepted.extend(part.unwrap());
    }
    let ids: BTreeSet<String> = accepted.iter().map(|(_, id)| id.clone()).collect();
    assert_eq!(ids.len(), EXPORTS);
    for node in 0..2 {
        let through = accepted.iter().filter(|(n, _)| *n == node).count();
        assert_eq!(through, EXPORTS / 2);
    }

    // The quota is used up, whichever node is asked.
    for node in &api {
        let refused = node.export(&tenant).await;
        assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
        let body: Value = refused.json().await.unwrap();
        assert_eq!(body["error"]["code"], "quota_exceeded");
    }

    wait_until_count(
        &db,
        "SELECT count(*) AS n FROM reports WHERE status = 2",
        EXPORTS as i64,
        Duration::from_secs(300),
    )
    .await;

    // Each report exported by exactly one worker, once: one "done" line in all the logs, one
    // attempt on its job, and both worker nodes took a share.
    let mut done_by_node = Vec::new();
    for worker in workers {
        done_by_node.push(exported_reports(&worker.stop().await));
    }
    for done in &done_by_node {
        assert!(!done.is_empty(), "a worker node ran no export");
    }
    let all_done: Vec<&String> = done_by_node.iter().flatten().collect();
    assert_eq!(all_done.len(), EXPORTS, "exports run more than once");
    let done_set: BTreeSet<String> = all_done.into_iter().cloned().collect();
    assert_eq!(done_set, ids);
    let jobs = db
        .rows("SELECT state, attempts, count(*) AS n FROM jobs GROUP BY state, attempts")
        .await;
    assert_eq!(jobs, vec![json!({"state": 2, "attempts": 1, "n": EXPORTS})]);

    // The quota charged exactly 1,000 units, none given back.
    let usage = db.rows("SELECT used FROM quota_usage").await;
    assert_eq!(usage, vec![json!({"used": EXPORTS})]);
    let refunded = db
        .rows("SELECT count(*) AS n FROM reports WHERE quota_refunded")
        .await;
    assert_eq!(refunded, vec![json!({"n": 0})]);

    // Every artefact is in the bucket, with the size the report records, and nothing else is
    // there but the previews kept beside them.
    let recorded: BTreeMap<String, u64> = db
        .rows("SELECT id, artefact_key, artefact_size FROM reports")
        .await
        .into_iter()
        .map(|row| {
            assert!(ids.contains(row["id"].as_str().unwrap()), "{row}");
            (
                format!("reports/{}", row["artefact_key"].as_str().unwrap()),
                row["artefact_size"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(recorded.len(), EXPORTS);
    let mut stored = BTreeMap::new();
    let mut previews = HashSet::new();
    for (key, size) in moto.list(BUCKET).await {
        match key.strip_suffix(".preview.json") {
            Some(artefact) => assert!(previews.insert(artefact.to_owned())),
            None => assert!(stored.insert(key, size).is_none()),
        }
    }
    assert_eq!(stored, recorded);
    assert!(
        previews.iter().all(|p| recorded.contains_key(p)),
        "{previews:?}"
    );

    // Any API node serves any artefact: downloaded through the node that did not accept it.
    for (node, id) in accepted.iter().take(4) {
        let other = &api[1 - node];
        let answer = other.get(&tenant, &format!("/reports/{id}/download")).await;
        assert_eq!(answer.status(), StatusCode::OK);
        let size = answer.bytes().await.unwrap().len() as u64;
        let key = db
            .rows(&format!(
                "SELECT artefact_key FROM reports WHERE id = '{id}'"
            ))
            .await[0]["artefact_key"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(size, recorded[&format!("reports/{key}")]);
    }
    for node in api {
        node.stop().await;
    }
}

#[tokio::test]
async fn sigterm_finishes_the_request_and_the_job_in_flight_and_stops_accepting() {
    let db = TestDatabase::new().await;
    let tenant = Tenant::new(&db, 10);
    let dir = tempfile::tempdir().unwrap();
    let mut node = Node::start(
        "serve",
        &db,
        dir.path(),
        &[
            ("KRAFTER_WORKERS", "1"),
            ("KRAFTER_SHUTDOWN_GRACE_SECONDS", "20"),
        ],
    )
    .await;

    // A request and a job that read the findings, held up by a lock on them.
    let mut lock = db.lock_table("findings").await;
    let report = data(node.export(&tenant).await).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    node.wait_for(|l| l["message"] == "export started" && l["report_id"] == report.as_str())
        .await;
    let listing = tokio::spawn({
        let request = node
            .client
            .get(node.audit(&tenant, "/findings"))
            .bearer_auth(&tenant.key);
        async move { request.send().await }
    });
    lock.wait_for_waiters(2).await;

    node.terminate();
    node.wait_for(|l| l["message"] == "stopping: finishing the requests and jobs in flight")
        .await;
    // No longer accepting: a new connection is refused (the listener closes at once).
    let fresh = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        match fresh.get(format!("{}/healthz", node.base)).send().await {
            Err(error) if error.is_connect() => break,
            other => assert!(
                tokio::time::Instant::now() < deadline,
                "still accepting 10 s after SIGTERM: {other:?}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Both finish once the lock goes, within the grace period.
    drop(lock);
    let listed = tokio::time::timeout(WAIT, listing)
        .await
        .expect("the request in flight is answered")
        .unwrap()
        .expect("answered, not dropped");
    assert_eq!(listed.status(), StatusCode::OK);
    let body: Value = listed.json().await.unwrap();
    assert_eq!(body["data"], json!([]));
    let lines = node.exited().await;
    assert_eq!(exported_reports(&lines), vec![report.clone()]);
    assert!(
        !lines.iter().any(|l| l.contains("handing their jobs back")),
        "{lines:#?}"
    );
    let status = db
        .rows(&format!("SELECT status FROM reports WHERE id = '{report}'"))
        .await;
    assert_eq!(status, vec![json!({"status": 2})]);
}

#[tokio::test]
async fn a_worker_still_busy_after_the_grace_period_hands_its_job_back_and_exits_0() {
    let db = TestDatabase::new().await;
    let tenant = Tenant::new(&db, 10);
    let dir = tempfile::tempdir().unwrap();
    let api = Node::start("serve", &db, dir.path(), &[("KRAFTER_WORKERS", "0")]).await;
    // A lease far longer than the test: only a hand-back lets another worker take the job.
    let worker_env = [
        ("KRAFTER_WORKERS", "1"),
        ("KRAFTER_SHUTDOWN_GRACE_SECONDS", "1"),
        ("KRAFTER_JOB_LEASE_SECONDS", "600"),
    ];
    let mut lock = db.lock_table("findings").await;
    let report = data(api.export(&tenant).await).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut first = Node::start("worker", &db, dir.path(), &worker_env).await;
    first
        .wait_for(|l| l["message"] == "export started" && l["report_id"] == report.as_str())
        .await;
    lock.wait_for_waiters(1).await;

    let lines = first.stop().await;
    let logged = |message: &str| {
        lines
            .iter()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .find(|l| l["message"] == message)
            .unwrap_or_else(|| panic!("no {message:?} in {lines:#?}"))
    };
    assert_eq!(
        logged(
            "workers still busy after the grace period: stopping them and handing their jobs back"
        )["busy"],
        1
    );
    assert_eq!(logged("jobs handed back to the queue")["jobs"], 1);
    assert!(exported_reports(&lines).is_empty(), "{lines:#?}");
    // Its lease expired at once: claimable now, by any worker.
    let job = db
        .rows(&format!(
            "SELECT state, lease_expires_at <= now() AS expired, run_at <= now() AS due \
               FROM jobs WHERE id = '{report}'"
        ))
        .await;
    assert_eq!(job, vec![json!({"state": 1, "expired": true, "due": true})]);

    // Another worker takes it over at once, not when the 600 s lease would have run out.
    drop(lock);
    let mut second = Node::start("worker", &db, dir.path(), &worker_env).await;
    second
        .wait_for(|l| l["message"] == "export job done" && l["report_id"] == report.as_str())
        .await;
    let lines = second.stop().await;
    assert_eq!(exported_reports(&lines), vec![report.clone()]);
    let report_now = data(api.get(&tenant, &format!("/reports/{report}")).await).await;
    assert_eq!(report_now["status"], "exported", "{report_now}");
    api.stop().await;
}
