//! `just bench`: SARIF imports through the real `krafter serve` (a child process, so that its
//! peak resident memory can be read from /proc), over PostgreSQL.
//!
//! - 10,000 results into an empty project, three times (a fresh project each), and the same file
//!   again into each (nothing changes);
//! - 50,000 results into an empty project, with the server's peak resident memory;
//! - the summary's latency (median of 200 requests) on a project before and after its import.
//!
//! The logs are shaped like Bandit's: a rule per result among 30, a file per 40 results, a
//! region with a start line and a snippet, and no fingerprints, so that ids come from snippets.

mod support;

use std::time::{Duration, Instant};

use krafter_domain::ids::OrgId;
use krafter_domain::project::Project;
use krafter_postgres::PgStore;
use krafter_test_support::TestDatabase;
use serde_json::{json, Value};
use support::{tenant, Server};

fn sarif(results: usize) -> String {
    let rules: Vec<Value> = (0..30)
        .map(|r| {
            json!({"id": format!("B{:03}", 100 + r), "name": format!("rule_{r}"),
                        "properties": {"tags": ["security"], "precision": "high"}})
        })
        .collect();
    let results: Vec<Value> = (0..results)
        .map(|i| {
            let level = ["error", "warning", "note"][i % 3];
            json!({
                "ruleId": format!("B{:03}", 100 + i % 30),
                "level": level,
                "message": {"text": format!("Possible issue number {i}: subprocess call with shell=True identified, security issue.")},
                "locations": [{"physicalLocation": {
                    "artifactLocation": {"uri": format!("package/module_{}.py", i / 40)},
                    "region": {"startLine": 10 + (i % 40) * 7, "startColumn": 5, "endLine": 10 + (i % 40) * 7, "endColumn": 60,
                               "snippet": {"text": format!("    subprocess.call(command_{i}, shell=True)\n")}},
                    "contextRegion": {"startLine": 9 + (i % 40) * 7, "endLine": 11 + (i % 40) * 7,
                                      "snippet": {"text": format!("def run_{i}(command_{i}):\n    subprocess.call(command_{i}, shell=True)\n\n")}}
                }}],
                "properties": {"issue_confidence": "HIGH", "issue_severity": "MEDIUM"}
            })
        })
        .collect();
    json!({"version": "2.1.0", "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
           "runs": [{"tool": {"driver": {"name": "Bandit", "version": "1.9.4", "rules": rules}},
                     "results": results}]})
    .to_string()
}

fn url(server: &Server, org: OrgId, project: &Project, rest: &str) -> String {
    format!(
        "{}/api/v1/orgs/{org}/projects/{}/audit{rest}",
        server.base, project.slug
    )
}

/// Posts `body` as an import and answers the seconds it took and the counts.
async fn import(
    client: &reqwest::Client,
    server: &Server,
    (org, project, key): &(OrgId, Project, String),
    body: &str,
) -> (f64, Value) {
    let started = Instant::now();
    let response = client
        .post(url(server, *org, project, "/imports"))
        .bearer_auth(key)
        .header("content-type", "application/sarif+json")
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    let status = response.status();
    let answer: Value = response.json().await.unwrap();
    let seconds = started.elapsed().as_secs_f64();
    assert_eq!(status, 201, "{answer}");
    (seconds, answer["data"].clone())
}

/// The median of 200 summary requests, in milliseconds.
async fn summary_ms(
    client: &reqwest::Client,
    server: &Server,
    (org, project, key): &(OrgId, Project, String),
) -> f64 {
    let target = url(server, *org, project, "/reports/summary");
    let mut times = Vec::with_capacity(200);
    for _ in 0..200 {
        let started = Instant::now();
        let response = client.get(&target).bearer_auth(key).send().await.unwrap();
        assert_eq!(response.status(), 200);
        response.bytes().await.unwrap();
        times.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

fn counts(v: &Value) -> String {
    format!(
        "received {}, created {}, unchanged {}, reopened {}, resolved {}",
        v["received"], v["created"], v["unchanged"], v["reopened"], v["resolved"]
    )
}

#[tokio::main]
async fn main() {
    let db = TestDatabase::new().await;
    let store = PgStore::connect(db.url(), 8).await.unwrap();
    let data_dir = tempfile::tempdir().unwrap();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(600))
        .build()
        .unwrap();
    let server = Server::start(db.url(), data_dir.path());
    server.wait_ready(&client).await;
    println!("server ready; peak RSS {:.1} MiB", server.peak_rss_mib());

    let ten = sarif(10_000);
    println!(
        "10,000 results: {:.1} MiB of SARIF",
        ten.len() as f64 / 1048576.0
    );
    let (mut first, mut again) = (Vec::new(), Vec::new());
    let mut summary_before_after = Vec::new();
    for round in 0..3 {
        let t = tenant(&store, &format!("bench-10k-{round}")).await;
        let before = summary_ms(&client, &server, &t).await;
        let (seconds, answer) = import(&client, &server, &t, &ten).await;
        assert_eq!(answer["created"], 10_000);
        first.push(seconds);
        println!(
            "  round {round}: into an empty project {seconds:.2} s ({})",
            counts(&answer)
        );
        let (seconds, answer) = import(&client, &server, &t, &ten).await;
        assert_eq!(answer["unchanged"], 10_000);
        again.push(seconds);
        println!(
            "  round {round}: the same file again {seconds:.2} s ({})",
            counts(&answer)
        );
        summary_before_after.push((before, summary_ms(&client, &server, &t).await));
    }
    first.sort_by(f64::total_cmp);
    again.sort_by(f64::total_cmp);
    println!(
        "10,000 results into an empty project: median {:.2} s (best {:.2}); the same file again: median {:.2} s (best {:.2})",
        first[1], first[0], again[1], again[0]
    );
    for (before, after) in &summary_before_after {
        println!("  summary median before the import {before:.2} ms, after {after:.2} ms");
    }
    println!(
        "server peak RSS after the 10,000-result imports: {:.1} MiB",
        server.peak_rss_mib()
    );

    let fifty = sarif(50_000);
    println!(
        "50,000 results: {:.1} MiB of SARIF",
        fifty.len() as f64 / 1048576.0
    );
    let t = tenant(&store, "bench-50k").await;
    let before = summary_ms(&client, &server, &t).await;
    let (seconds, answer) = import(&client, &server, &t, &fifty).await;
    assert_eq!(answer["created"], 50_000);
    let after = summary_ms(&client, &server, &t).await;
    println!(
        "50,000 results into an empty project: {seconds:.2} s ({}); server peak RSS {:.1} MiB; summary median {before:.2} ms before, {after:.2} ms after",
        counts(&answer),
        server.peak_rss_mib()
    );
}
