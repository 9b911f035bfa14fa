//! Imports through HTTP: a SARIF log and the native format in, the counts out, the findings
//! with their scanner fields, re-import, the listing, and every refusal with its status, code
//! and path.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{envelope, error, invalid_field, write};
use krafter_test_support::{Tenant, TestApp};

fn log(results: Value) -> Value {
    json!({"version": "2.1.0", "runs": [{
        "tool": {"driver": {"name": "CodeQL", "rules": [
            {"id": "js/xss", "shortDescription": {"text": "Client-side cross-site scripting"},
             "properties": {"security-severity": "6.1"}},
            {"id": "js/sql-injection", "properties": {"security-severity": "9.1"}}
        ]}},
        "results": results
    }]})
}

fn xss(line: u64, hash: &str) -> Value {
    json!({"ruleId": "js/xss", "message": {"text": "Cross-site scripting vulnerability."},
           "locations": [{"physicalLocation": {"artifactLocation": {"uri": "src/app.js"}, "region": {"startLine": line}}}],
           "partialFingerprints": {"primaryLocationLineHash": hash}})
}

fn sqli() -> Value {
    json!({"ruleId": "js/sql-injection", "message": {"text": "Query built from user input."},
           "locations": [{"physicalLocation": {"artifactLocation": {"uri": "src/db.js"}, "region": {"startLine": 4}}}],
           "partialFingerprints": {"primaryLocationLineHash": "bb:1"}})
}

async fn post(
    app: &TestApp,
    t: &Tenant,
    query: &str,
    content_type: &str,
    body: String,
) -> reqwest::Response {
    app.client
        .post(app.audit_url(t, &format!("/imports{query}")))
        .bearer_auth(&t.key)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap()
}

/// The counts of an import's answer, in the response's order.
fn counts(data: &Value) -> [i64; 6] {
    [
        "received",
        "created",
        "unchanged",
        "reopened",
        "resolved",
        "ignored_dismissed",
    ]
    .map(|k| data[k].as_i64().unwrap_or_else(|| panic!("{k} in {data}")))
}

async fn get(app: &TestApp, t: &Tenant, path: &str) -> Value {
    let response = app
        .client
        .get(app.audit_url(t, path))
        .bearer_auth(&t.read_key)
        .send()
        .await
        .unwrap();
    envelope(response, StatusCode::OK).await
}

#[tokio::test]
async fn a_sarif_import_creates_findings_and_a_reimport_reopens_what_came_back() {
    let app = TestApp::spawn().await;
    let t = app.tenant("web").await;
    let first = post(
        &app,
        &t,
        "?occurred_at=2026-06-01T10:00:00Z",
        "application/sarif+json",
        log(json!([xss(12, "aa:1"), sqli()])).to_string(),
    )
    .await;
    let data = envelope(first, StatusCode::CREATED).await;
    assert_eq!(counts(&data), [2, 2, 0, 0, 0, 0]);
    assert_eq!(data["source"], "CodeQL");
    assert_eq!(data["format"], "sarif");
    assert_eq!(data["close_missing"], false);
    assert_eq!(data["occurred_at"], "2026-06-01T10:00:00Z");
    assert_eq!(data["import_id"].as_str().unwrap().len(), 36);

    let listed = get(&app, &t, "/findings?source=CodeQL").await;
    let findings = listed.as_array().unwrap();
    assert_eq!(findings.len(), 2);
    let xss_finding = findings.iter().find(|f| f["rule_id"] == "js/xss").unwrap();
    assert_eq!(xss_finding["title"], "Client-side cross-site scripting");
    assert_eq!(xss_finding["severity"], "medium");
    assert_eq!(xss_finding["priority_score"], 400);
    assert_eq!(xss_finding["location"], "src/app.js:12");
    assert_eq!(
        xss_finding["description"],
        "Cross-site scripting vulnerability."
    );
    assert_eq!(xss_finding["source"], "CodeQL");
    assert_eq!(xss_finding["external_id"].as_str().unwrap().len(), 64);
    assert_eq!(xss_finding["due_on"], "2026-08-30");
    let sqli_finding = findings
        .iter()
        .find(|f| f["rule_id"] == "js/sql-injection")
        .unwrap();
    assert_eq!(sqli_finding["severity"], "critical");
    assert_eq!(sqli_finding["title"], "Query built from user input.");
    assert_eq!(get(&app, &t, "/findings?source=Bandit").await, json!([]));

    // Fixed by hand; the next scan still finds it, on a moved line.
    let id = xss_finding["id"].as_str().unwrap();
    write(
        &app,
        &t,
        reqwest::Method::PATCH,
        &format!("/findings/{id}"),
        json!({"status": "resolved", "occurred_at": "2026-06-02T00:00:00Z"}),
    )
    .await;
    let second = post(
        &app,
        &t,
        "?occurred_at=2026-06-03T00:00:00Z&close_missing=true",
        "application/json",
        log(json!([xss(30, "aa:1")])).to_string(),
    )
    .await;
    assert_eq!(
        counts(&envelope(second, StatusCode::CREATED).await),
        [1, 0, 0, 1, 1, 0]
    );
    let reopened = get(&app, &t, &format!("/findings/{id}")).await;
    assert_eq!(reopened["status"], "new");
    assert_eq!(reopened["location"], "src/app.js:30");
    assert_eq!(reopened["regressions"].as_array().unwrap().len(), 1);
    assert_eq!(reopened["regressions"][0]["status"], "open");
    // The reopened finding is open again: no terminal finding has an open regression yet.
    let summary = get(
        &app,
        &t,
        "/reports/summary?date_from=2026-06-01&date_to=2026-06-03",
    )
    .await;
    assert_eq!(summary["open_findings"], 1);
    assert_eq!(summary["regression_rate"], 0.0);
    // A scan without it resolves it again, its regression still open: one of the two terminal
    // findings came back.
    let third = post(
        &app,
        &t,
        "?occurred_at=2026-06-04T00:00:00Z&close_missing=true&source=CodeQL",
        "application/sarif+json",
        json!({"version": "2.1.0", "runs": []}).to_string(),
    )
    .await;
    assert_eq!(
        counts(&envelope(third, StatusCode::CREATED).await),
        [0, 0, 0, 0, 1, 0]
    );
    let summary = get(
        &app,
        &t,
        "/reports/summary?date_from=2026-06-01&date_to=2026-06-04",
    )
    .await;
    assert_eq!(summary["open_findings"], 0);
    assert_eq!(summary["regression_rate"], 0.5);

    let imports = get(&app, &t, "/imports?limit=1").await;
    assert_eq!(imports.as_array().unwrap().len(), 1);
    assert_eq!(imports[0]["resolved"], 1);
    assert_eq!(imports[0]["occurred_at"], "2026-06-04T00:00:00Z");
}

#[tokio::test]
async fn the_native_format_needs_a_source_and_the_same_file_twice_changes_nothing() {
    let app = TestApp::spawn().await;
    let t = app.tenant("web").await;
    let doc = json!({"findings": [
        {"external_id": "PT-1", "title": "IDOR on /invoices", "severity": "high", "priority_score": 650},
        {"external_id": "PT-2", "title": "Verbose errors", "severity": "low", "status": "triaged"}
    ]});
    invalid_field(
        post(&app, &t, "", "application/json", doc.to_string()).await,
        "source",
    )
    .await;
    for expected in [[2, 2, 0, 0, 0, 0], [2, 0, 2, 0, 0, 0]] {
        let response = post(
            &app,
            &t,
            "?source=pentest-q4",
            "application/json",
            doc.to_string(),
        )
        .await;
        let data = envelope(response, StatusCode::CREATED).await;
        assert_eq!(counts(&data), expected);
        assert_eq!(data["format"], "native");
    }
    let findings = get(&app, &t, "/findings?source=pentest-q4&status=triaged").await;
    assert_eq!(findings.as_array().unwrap().len(), 1);
    assert_eq!(findings[0]["external_id"], "PT-2");
    assert_eq!(findings[0]["priority_score"], 100);
    let history = get(
        &app,
        &t,
        &format!("/findings/{}", findings[0]["id"].as_str().unwrap()),
    )
    .await;
    assert_eq!(
        history["history"].as_array().unwrap().len(),
        1,
        "the second import recorded nothing"
    );
}

#[tokio::test]
async fn refusals_have_their_status_code_and_path() {
    let app = TestApp::builder().import_body_limit(4096).spawn().await;
    let t = app.tenant("web").await;
    let sarif = "application/sarif+json";
    let path_of = |e: &Value| e["details"][0]["field"].as_str().unwrap().to_owned();

    let e = error(
        post(
            &app,
            &t,
            "",
            sarif,
            json!({"version": "2.2.0", "runs": []}).to_string(),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_import",
    )
    .await;
    assert_eq!(path_of(&e), "version");
    assert!(
        e["details"][0]["message"]
            .as_str()
            .unwrap()
            .contains("2.2.0"),
        "{e}"
    );
    let e = error(
        post(&app, &t, "", sarif, json!({"version": "2.1.0"}).to_string()).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_import",
    )
    .await;
    assert_eq!(path_of(&e), ".");
    let no_message = log(json!([xss(1, "a"), {"ruleId": "js/xss"}]));
    let e = error(
        post(&app, &t, "", sarif, no_message.to_string()).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_import",
    )
    .await;
    assert_eq!(path_of(&e), "runs[0].results[1]");
    assert_eq!(e["details"][0]["message"], "missing field `message`");
    error(
        post(&app, &t, "", sarif, "{\"version\": ".into()).await,
        StatusCode::BAD_REQUEST,
        "invalid_json",
    )
    .await;
    error(
        post(&app, &t, "", "text/plain", "{}".into()).await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;
    invalid_field(
        post(
            &app,
            &t,
            "?close_missing=yes",
            sarif,
            log(json!([])).to_string(),
        )
        .await,
        "close_missing",
    )
    .await;
    invalid_field(
        post(
            &app,
            &t,
            "?occurred_at=2999-01-01T00:00:00Z",
            sarif,
            log(json!([])).to_string(),
        )
        .await,
        "occurred_at",
    )
    .await;
    invalid_field(
        post(&app, &t, "?source=", sarif, log(json!([])).to_string()).await,
        "source",
    )
    .await;
    let big = log(json!((0..60)
        .map(|i| xss(i, &format!("h{i}")))
        .collect::<Vec<_>>()))
    .to_string();
    assert!(big.len() > 4096);
    error(
        post(&app, &t, "", sarif, big).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
    )
    .await;

    // The key's scope and the project come before the body.
    let read_only = app
        .client
        .post(app.audit_url(&t, "/imports"))
        .bearer_auth(&t.read_key)
        .header("content-type", sarif)
        .body(log(json!([])).to_string())
        .send()
        .await
        .unwrap();
    error(read_only, StatusCode::FORBIDDEN, "forbidden").await;
    let anonymous = app
        .client
        .post(app.audit_url(&t, "/imports"))
        .header("content-type", sarif)
        .body("not even json")
        .send()
        .await
        .unwrap();
    error(anonymous, StatusCode::UNAUTHORIZED, "unauthorized").await;
    let other = app.tenant("other").await;
    let foreign = app
        .client
        .post(app.audit_url(&t, "/imports"))
        .bearer_auth(&other.key)
        .header("content-type", sarif)
        .body(log(json!([])).to_string())
        .send()
        .await
        .unwrap();
    error(foreign, StatusCode::NOT_FOUND, "not_found").await;

    // Nothing of any of them was applied.
    assert_eq!(get(&app, &t, "/findings").await, json!([]));
    assert_eq!(get(&app, &t, "/imports").await, json!([]));
}

/// Bandit's SARIF for one release: `bandit -r urllib3` run in the release's directory, so that
/// the URIs (`urllib3/…`) are the same in both releases.
fn bandit_scan(release: &str, out: &std::path::Path) -> String {
    let bandit =
        std::env::var("KRAFTER_BANDIT").expect("KRAFTER_BANDIT: a bandit with its SARIF formatter");
    let releases = std::env::var("KRAFTER_SCAN_RELEASES")
        .expect("KRAFTER_SCAN_RELEASES: the unpacked releases");
    let dir = std::path::Path::new(&releases).join(format!("urllib3-{release}"));
    let file = out.join(format!("{release}.sarif"));
    let status = std::process::Command::new(bandit)
        .args(["-q", "-r", "urllib3", "-f", "sarif", "-o"])
        .arg(&file)
        .current_dir(&dir)
        .status()
        .expect("bandit runs");
    // Bandit exits with 1 when it found something.
    assert!(matches!(status.code(), Some(0 | 1)), "bandit: {status}");
    std::fs::read_to_string(&file).expect("bandit wrote its SARIF")
}

#[tokio::test]
#[ignore = "needs bandit 1.9.4 (KRAFTER_BANDIT) and urllib3 1.26.18 and 2.0.7 unpacked (KRAFTER_SCAN_RELEASES); .ci/run installs both"]
async fn bandits_scans_of_two_releases_match_across_moved_lines() {
    let app = TestApp::spawn().await;
    let t = app.tenant("web").await;
    let out = tempfile::tempdir().unwrap();
    let old = bandit_scan("1.26.18", out.path());
    let new = bandit_scan("2.0.7", out.path());

    let first = post(
        &app,
        &t,
        "?occurred_at=2026-06-01T00:00:00Z",
        "application/sarif+json",
        old,
    )
    .await;
    let first = envelope(first, StatusCode::CREATED).await;
    assert_eq!(first["source"], "Bandit");
    // What Bandit 1.9.4 finds in urllib3 1.26.18: 14 results.
    assert_eq!(counts(&first), [14, 14, 0, 0, 0, 0]);
    let before: Vec<Value> = get(&app, &t, "/findings?source=Bandit&limit=100")
        .await
        .as_array()
        .unwrap()
        .clone();

    let second = post(
        &app,
        &t,
        "?occurred_at=2026-06-08T00:00:00Z&close_missing=true",
        "application/sarif+json",
        new,
    )
    .await;
    // In 2.0.7: 11 results; 9 are the code of 1.26.18 on other lines, 2 are new, and 5 of the
    // old ones are gone.
    assert_eq!(
        counts(&envelope(second, StatusCode::CREATED).await),
        [11, 2, 9, 0, 5, 0]
    );

    let after: Vec<Value> = get(&app, &t, "/findings?source=Bandit&limit=100")
        .await
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(after.len(), 16);
    let status_of = |s: &str| after.iter().filter(|f| f["status"] == s).count();
    assert_eq!((status_of("new"), status_of("resolved")), (11, 5));
    // The matched ones kept their id and creation but moved: their location is the new line.
    let moved = before
        .iter()
        .filter_map(|b| {
            after
                .iter()
                .find(|a| a["id"] == b["id"] && a["status"] == "new")
                .map(|a| (b, a))
        })
        .filter(|(b, a)| b["location"] != a["location"])
        .count();
    assert_eq!(moved, 9, "every matched result is on another line in 2.0.7");
    let summary = get(
        &app,
        &t,
        "/reports/summary?date_from=2026-06-01&date_to=2026-06-08",
    )
    .await;
    assert_eq!(summary["open_findings"], 11);
    let burn_down = summary["risk_burn_down"].as_array().unwrap();
    let sum = |fs: &[Value], status: &str| -> i64 {
        fs.iter()
            .filter(|f| f["status"] == status)
            .map(|f| f["priority_score"].as_i64().unwrap())
            .sum()
    };
    assert_eq!(burn_down[0]["open_risk_score"], sum(&before, "new"));
    assert_eq!(burn_down[7]["open_risk_score"], sum(&after, "new"));
}
