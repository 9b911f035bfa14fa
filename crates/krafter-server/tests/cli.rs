//! The `krafter` binary's administrative commands and the demo, against a test schema.

use std::process::{Command, Output};
use std::sync::Arc;

use krafter_domain::access::{Authorizer, Scope};
use krafter_domain::ledger::LedgerRepository;
use krafter_domain::metrics::{reference, Summaries};
use krafter_domain::project::Project;
use krafter_domain::SystemClock;
use krafter_postgres::PgStore;
use krafter_test_support::TestDatabase;

fn krafter(db: &TestDatabase, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_krafter"))
        .args(args)
        .env("DATABASE_URL", db.url())
        .env("RUST_LOG", "warn")
        .output()
        .expect("krafter runs")
}

/// The single line a successful command prints.
fn value(output: &Output) -> String {
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8(output.stdout.clone()).unwrap();
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    stdout.trim().to_owned()
}

/// The message of a command refused for its input.
fn refusal(output: &Output) -> String {
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    assert!(output.stdout.is_empty(), "{output:?}");
    let stderr = String::from_utf8(output.stderr.clone()).unwrap();
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr
}

/// The project that `key` may read and write.
async fn project_of(authorizer: &Authorizer, key: &str, org: &str, slug: &str) -> Project {
    let caller = authorizer
        .authenticate(Some(key), Scope::AuditRead)
        .await
        .unwrap();
    authorizer
        .authenticate(Some(key), Scope::AuditWrite)
        .await
        .unwrap();
    authorizer
        .project(&caller, org.parse().unwrap(), slug)
        .await
        .unwrap()
}

#[tokio::test]
async fn organisations_projects_and_keys() {
    let db = TestDatabase::new().await;
    let org = value(&krafter(&db, &["org", "create", "--name", "Acme"]));
    assert!(org.parse::<uuid::Uuid>().is_ok(), "{org}");

    let slug = value(&krafter(
        &db,
        &[
            "project", "create", "--org", &org, "--slug", "web-shop", "--name", "Web shop",
        ],
    ));
    assert_eq!(slug, "web-shop");

    let key = value(&krafter(
        &db,
        &[
            "key",
            "create",
            "--org",
            &org,
            "--scopes",
            "audit:read,audit:write",
        ],
    ));
    assert!(key.starts_with("kr_live_") && key.len() >= 40, "{key}");
    let store = PgStore::connect(db.url(), 2).await.unwrap();
    let authorizer = Authorizer::new(
        Arc::new(store.clone()),
        Arc::new(store.clone()),
        Arc::new(SystemClock),
    );
    let project = project_of(&authorizer, &key, &org, "web-shop").await;
    assert_eq!(project.name, "Web shop");

    let prefix = &key[..20];
    assert_eq!(
        value(&krafter(&db, &["key", "revoke", "--org", &org, prefix])),
        prefix
    );
    assert!(authorizer
        .authenticate(Some(&key), Scope::AuditRead)
        .await
        .is_err());
    let again = refusal(&krafter(&db, &["key", "revoke", "--org", &org, prefix]));
    assert!(again.contains("no active key"), "{again}");
}

#[tokio::test]
async fn bad_input_is_refused_with_exit_code_2() {
    let db = TestDatabase::new().await;
    let org = value(&krafter(&db, &["org", "create", "--name", "Acme"]));
    let unknown = uuid::Uuid::new_v4().to_string();
    let cases: [(&[&str], &str); 7] = [
        (&["org", "create", "--name", "  "], "name"),
        (
            &["project", "create", "--org", &org, "--slug", "Web Shop"],
            "slug",
        ),
        (
            &["project", "create", "--org", &unknown, "--slug", "web"],
            "no organisation",
        ),
        (
            &["project", "create", "--org", "acme", "--slug", "web"],
            "org",
        ),
        (
            &["key", "create", "--org", &org, "--scopes", "audit:admin"],
            "scope",
        ),
        (
            &["key", "create", "--org", &unknown, "--scopes", "audit:read"],
            "no organisation",
        ),
        (&["key", "revoke", "--org", &org, "kr_live_short"], "prefix"),
    ];
    for (args, expected) in cases {
        let message = refusal(&krafter(&db, args));
        assert!(message.contains(expected), "{args:?}: {message}");
    }
    value(&krafter(
        &db,
        &["project", "create", "--org", &org, "--slug", "web"],
    ));
    let taken = refusal(&krafter(
        &db,
        &["project", "create", "--org", &org, "--slug", "web"],
    ));
    assert!(taken.contains("already has a project"), "{taken}");
}

#[tokio::test]
async fn the_demo_seeds_a_consistent_history() {
    let db = TestDatabase::new().await;
    let output = krafter(&db, &["demo", "--findings", "60"]);
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    let [key, curl] = lines[..] else {
        panic!("a key and a curl: {stdout}");
    };
    assert!(curl.starts_with(&format!(
        "curl -H \"Authorization: Bearer {key}\" http://127.0.0.1:8080/api/v1/orgs/"
    )));
    assert!(
        curl.ends_with("/projects/production-website/audit/reports/summary"),
        "{curl}"
    );
    let org = curl
        .split("/orgs/")
        .nth(1)
        .unwrap()
        .split('/')
        .next()
        .unwrap();

    let store = PgStore::connect(db.url(), 2).await.unwrap();
    let clock = Arc::new(SystemClock);
    let authorizer = Authorizer::new(
        Arc::new(store.clone()),
        Arc::new(store.clone()),
        clock.clone(),
    );
    let project = project_of(&authorizer, key, org, "production-website").await;
    let history = store.history(project.id).await.unwrap();
    assert_eq!(history.findings.len(), 60);
    assert!(history.findings.iter().any(|f| f.events.len() > 3));
    assert!(!history.verifications.is_empty());

    // The maintained daily totals answer what a replay of the history answers, over 90 days.
    let summaries = Summaries::new(Arc::new(store.clone()), clock);
    let today = chrono::Utc::now().date_naive();
    let from = (today - chrono::Days::new(89)).to_string();
    for (from, to) in [(None, None), (Some(from.as_str()), None)] {
        let query = summaries.query(from, to).unwrap();
        let summary = summaries.summary(project.id, &query).await.unwrap();
        assert_eq!(summary, reference::summarize_history(&history, &query));
        assert!(summary.open_findings > 0);
    }
}

#[tokio::test]
async fn import_reads_a_file_and_prints_the_counts() {
    let db = TestDatabase::new().await;
    let org = value(&krafter(&db, &["org", "create", "--name", "Acme"]));
    value(&krafter(
        &db,
        &["project", "create", "--org", &org, "--slug", "web"],
    ));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("scan.sarif");
    let log = serde_json::json!({"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "Bandit"}}, "results": [
        {"ruleId": "B602", "level": "error", "message": {"text": "shell=True"},
         "locations": [{"physicalLocation": {"artifactLocation": {"uri": "a.py"},
             "region": {"startLine": 3, "snippet": {"text": "subprocess.call(x, shell=True)"}}}}]},
        {"ruleId": "B101", "level": "note", "message": {"text": "assert used"}}
    ]}]});
    std::fs::write(&file, log.to_string()).unwrap();
    let path = file.to_str().unwrap();
    let args = ["import", "--org", &org, "--project", "web", "--json", path];
    let first: serde_json::Value = serde_json::from_str(&value(&krafter(&db, &args))).unwrap();
    assert_eq!(first["source"], "Bandit");
    assert_eq!(first["format"], "sarif");
    assert_eq!(
        [
            "received",
            "created",
            "unchanged",
            "reopened",
            "resolved",
            "ignored_dismissed"
        ]
        .map(|k| first[k].as_i64().unwrap()),
        [2, 2, 0, 0, 0, 0]
    );
    let text = value(&krafter(
        &db,
        &[
            "import",
            "--org",
            &org,
            "--project",
            "web",
            "--close-missing",
            path,
        ],
    ));
    assert!(
        text.ends_with(
            "received 2, created 0, unchanged 2, reopened 0, resolved 0, ignored (dismissed) 0"
        ),
        "{text}"
    );

    std::fs::write(&file, r#"{"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "Bandit"}}, "results": [{"ruleId": "B1"}]}]}"#).unwrap();
    let message = refusal(&krafter(
        &db,
        &["import", "--org", &org, "--project", "web", path],
    ));
    assert!(
        message.contains("runs[0].results[0]: missing field `message`"),
        "{message}"
    );
    let message = refusal(&krafter(
        &db,
        &["import", "--org", &org, "--project", "nope", path],
    ));
    assert!(message.contains("no project nope"), "{message}");
}

#[tokio::test]
async fn organisations_projects_and_keys_are_listed_and_a_key_is_revoked_by_its_whole_self() {
    let db = TestDatabase::new().await;
    let org = value(&krafter(&db, &["org", "create", "--name", "Acme"]));
    value(&krafter(
        &db,
        &[
            "project", "create", "--org", &org, "--slug", "web", "--name", "Web shop",
        ],
    ));
    value(&krafter(
        &db,
        &["project", "create", "--org", &org, "--slug", "api"],
    ));
    let key = value(&krafter(
        &db,
        &[
            "key",
            "create",
            "--org",
            &org,
            "--scopes",
            "audit:read",
            "--name",
            "ci",
        ],
    ));

    let orgs = String::from_utf8(krafter(&db, &["org", "list"]).stdout).unwrap();
    let line: Vec<&str> = orgs.trim().split('\t').collect();
    assert_eq!(&line[..2], [org.as_str(), "Acme"]);
    let projects: serde_json::Value = serde_json::from_str(&value(&krafter(
        &db,
        &["project", "list", "--org", &org, "--json"],
    )))
    .unwrap();
    let slugs: Vec<&str> = projects
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["slug"].as_str().unwrap())
        .collect();
    assert_eq!(slugs, ["api", "web"]);
    assert_eq!(projects[1]["name"], "Web shop");

    let keys = value(&krafter(&db, &["key", "list", "--org", &org]));
    let columns: Vec<&str> = keys.split('\t').collect();
    assert_eq!(columns.len(), 6, "{keys}");
    assert_eq!(columns[0], &key[..20]);
    assert_eq!(
        (columns[1], columns[2], columns[4], columns[5]),
        ("ci", "audit:read", "-", "-")
    );
    assert!(!keys.contains(&key), "the key itself is never listed");

    // The whole key revokes it (its prefix is printed), and the listing shows when.
    assert_eq!(
        value(&krafter(&db, &["key", "revoke", "--org", &org, &key])),
        &key[..20]
    );
    let listed: serde_json::Value = serde_json::from_str(&value(&krafter(
        &db,
        &["key", "list", "--org", &org, "--json"],
    )))
    .unwrap();
    assert!(listed[0]["revoked_at"].is_string(), "{listed}");
    assert_eq!(listed[0]["scopes"], serde_json::json!(["audit:read"]));
    let unknown = uuid::Uuid::now_v7().to_string();
    assert!(
        refusal(&krafter(&db, &["project", "list", "--org", &unknown])).contains("no organisation")
    );
}
