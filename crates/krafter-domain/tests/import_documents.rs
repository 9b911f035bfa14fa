//! Reading import documents: SARIF as CodeQL and Semgrep write it, several runs, results without
//! locations, empty results, the native format, and malformed documents with the exact path of
//! their first problem.

use krafter_domain::import::{parse_document, BodyKind, DocumentError, ImportFormat, ParsedImport};
use krafter_domain::ledger::{FindingStatus, Severity, SourceName};
use serde_json::{json, Value};

fn parse(doc: &Value) -> Result<ParsedImport, DocumentError> {
    parse_document(doc.to_string().as_bytes(), BodyKind::Json, None)
}

fn invalid(doc: &Value) -> (String, String) {
    match parse(doc) {
        Err(DocumentError::Invalid(e)) => (e.path, e.message),
        other => panic!("expected invalid_import, got {other:?}"),
    }
}

/// A log in CodeQL's manner: rules with `security-severity` and `shortDescription`, results
/// with `partialFingerprints` and `ruleIndex`.
fn codeql() -> Value {
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "CodeQL", "rules": [
                {"id": "js/xss", "shortDescription": {"text": "Client-side cross-site scripting"},
                 "defaultConfiguration": {"level": "error"}, "properties": {"security-severity": "6.1"}},
                {"id": "js/sql-injection", "shortDescription": {"text": "Database query built from user-controlled sources"},
                 "properties": {"security-severity": "8.8"}},
                {"id": "js/hardcoded-credentials", "properties": {"security-severity": 9.8}},
                {"id": "js/unused-local-variable", "defaultConfiguration": {"level": "note"}}
            ]}},
            "results": [
                {"ruleId": "js/xss", "ruleIndex": 0, "message": {"text": "Cross-site scripting vulnerability due to [user-provided value](1)."},
                 "locations": [{"physicalLocation": {"artifactLocation": {"uri": "src/app.js"}, "region": {"startLine": 12}}}],
                 "partialFingerprints": {"primaryLocationLineHash": "39fa2ee980eb94b0:1"}},
                {"ruleId": "js/sql-injection", "message": {"text": "This query depends on a user-provided value."},
                 "locations": [{"physicalLocation": {"artifactLocation": {"uri": "src/db.js"}, "region": {"startLine": 40}}}],
                 "partialFingerprints": {"primaryLocationLineHash": "aa11:1"}},
                {"rule": {"id": "js/hardcoded-credentials", "index": 2}, "message": {"text": "Hard-coded password\nsecond line"},
                 "locations": [{"physicalLocation": {"artifactLocation": {"uri": "src/config.js"}}}],
                 "fingerprints": {"stable/v1": "f00d"}},
                {"ruleId": "js/unused-local-variable", "message": {"text": "Unused variable x."}},
                {"ruleId": "js/xss", "kind": "pass", "message": {"text": "nothing here"}}
            ]
        }]
    })
}

#[test]
fn a_codeql_log_maps_severity_title_location_and_fingerprints() {
    let parsed = parse(&codeql()).unwrap();
    assert_eq!(parsed.format, ImportFormat::Sarif);
    assert_eq!(parsed.source, SourceName::parse("CodeQL").unwrap());
    // The `pass` result is left out.
    assert_eq!(parsed.results.len(), 4);
    let r = &parsed.results;
    assert_eq!(
        r.iter().map(|r| r.severity).collect::<Vec<_>>(),
        [
            Severity::Medium,
            Severity::High,
            Severity::Critical,
            Severity::Low
        ]
    );
    assert_eq!(
        r.iter().map(|r| r.priority_score.get()).collect::<Vec<_>>(),
        [400, 700, 900, 100]
    );
    assert_eq!(r[0].title.as_str(), "Client-side cross-site scripting");
    assert_eq!(r[2].title.as_str(), "Hard-coded password");
    assert_eq!(
        r[2].description.as_ref().unwrap().as_str(),
        "Hard-coded password\nsecond line"
    );
    assert_eq!(r[0].location.as_ref().unwrap().as_str(), "src/app.js:12");
    assert_eq!(r[2].location.as_ref().unwrap().as_str(), "src/config.js");
    assert_eq!(r[3].location, None);
    assert_eq!(
        r[2].rule_id.as_ref().unwrap().as_str(),
        "js/hardcoded-credentials"
    );
    assert!(r.iter().all(|r| r.status == FindingStatus::New));
    assert!(r.iter().all(|r| r.external_id.as_str().len() == 64));

    // Lines that moved keep the ids: the fingerprints do not change with them.
    let mut moved = codeql();
    moved["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"] =
        json!(30);
    let again = parse(&moved).unwrap();
    assert_eq!(again.results[0].external_id, r[0].external_id);
    assert_eq!(
        again.results[0].location.as_ref().unwrap().as_str(),
        "src/app.js:30"
    );
}

#[test]
fn results_without_fingerprints_match_by_snippet_whatever_their_line() {
    let log = |line: u64, indent: &str| {
        json!({"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "Bandit"}}, "results": [
            {"ruleId": "B602", "level": "error", "message": {"text": "shell=True"},
             "locations": [{"physicalLocation": {"artifactLocation": {"uri": "a.py"},
                 "region": {"startLine": line, "snippet": {"text": format!("{indent}subprocess.call(x, shell=True)\n")}}}}]},
            {"ruleId": "B101", "message": {"text": "assert"},
             "locations": [{"physicalLocation": {"artifactLocation": {"uri": "a.py"}, "region": {"startLine": line + 5}}}]}
        ]}]})
    };
    let before = parse(&log(10, "    ")).unwrap();
    let after = parse(&log(25, "")).unwrap();
    assert_eq!(before.results[0].external_id, after.results[0].external_id);
    assert_eq!(before.results[0].severity, Severity::High);
    // Without a snippet the start line is the identity: a moved line is another result.
    assert_ne!(before.results[1].external_id, after.results[1].external_id);
    assert_eq!(
        before.results[1].severity,
        Severity::Medium,
        "level defaults to warning"
    );
}

#[test]
fn several_runs_empty_results_and_results_without_locations() {
    let doc = json!({"version": "2.1.0", "runs": [
        {"tool": {"driver": {"name": "Semgrep OSS"}}, "results": []},
        {"tool": {"driver": {"name": "Semgrep OSS"}}},
        {"tool": {"driver": {"name": "Semgrep OSS"}}, "results": [
            {"ruleId": "r1", "level": "none", "message": {"text": "informational"}},
            {"ruleId": "r1", "level": "none", "message": {"text": "informational"}}
        ]}
    ]});
    let parsed = parse(&doc).unwrap();
    assert_eq!(parsed.source.as_str(), "Semgrep OSS");
    assert_eq!(parsed.results.len(), 2);
    assert_eq!(parsed.results[0].severity, Severity::Info);
    // Two identical results are two findings, counted apart.
    assert_ne!(parsed.results[0].external_id, parsed.results[1].external_id);

    let two_tools = json!({"version": "2.1.0", "runs": [
        {"tool": {"driver": {"name": "A"}}}, {"tool": {"driver": {"name": "B"}}}
    ]});
    match parse(&two_tools) {
        Err(DocumentError::Params(e)) => assert_eq!(e.fields()[0].field, "source"),
        other => panic!("{other:?}"),
    }
    let named = parse_document(
        two_tools.to_string().as_bytes(),
        BodyKind::Json,
        Some(SourceName::parse("ci").unwrap()),
    )
    .unwrap();
    assert_eq!(named.source.as_str(), "ci");
    assert!(named.results.is_empty());
}

#[test]
fn malformed_logs_name_the_path_of_their_first_problem() {
    let (path, message) = invalid(&json!({"version": "2.0.0", "runs": []}));
    assert_eq!(path, "version");
    assert!(message.contains("\"2.0.0\""), "{message}");
    assert_eq!(
        invalid(&json!({"version": "2.1.0"})),
        (".".into(), "missing field `runs`".into())
    );
    assert_eq!(
        invalid(&json!({"runs": []})),
        (".".into(), "missing field `version`".into())
    );

    let mut no_message = codeql();
    no_message["runs"][0]["results"][1]
        .as_object_mut()
        .unwrap()
        .remove("message");
    assert_eq!(
        invalid(&no_message),
        (
            "runs[0].results[1]".into(),
            "missing field `message`".into()
        )
    );
    let mut bad_locations = codeql();
    bad_locations["runs"][0]["results"][3]["locations"] = json!("src/app.js");
    let (path, _) = invalid(&bad_locations);
    assert_eq!(path, "runs[0].results[3].locations");
    // JSON Schema's integers: 12.0 is one, 12.5 is not.
    let mut whole = codeql();
    whole["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"] =
        json!(30.0);
    assert_eq!(
        parse(&whole).unwrap().results[0]
            .location
            .as_ref()
            .unwrap()
            .as_str(),
        "src/app.js:30"
    );
    whole["runs"][0]["results"][0]["ruleIndex"] = json!(0.5);
    assert_eq!(invalid(&whole).0, "runs[0].results[0].ruleIndex");
    let mut bad_level = codeql();
    bad_level["runs"][0]["results"][0]["level"] = json!("fatal");
    assert_eq!(invalid(&bad_level).0, "runs[0].results[0].level");
    // A score that is not a number from 0 to 10 is no score: the level decides.
    for odd in [json!("high"), json!(11), json!([9.5]), json!(null)] {
        let mut log = codeql();
        log["runs"][0]["tool"]["driver"]["rules"][1]["properties"]["security-severity"] = odd;
        assert_eq!(parse(&log).unwrap().results[1].severity, Severity::Medium);
    }
    let mut no_version = codeql();
    no_version["version"] = json!(null);
    assert_eq!(invalid(&no_version).0, "version");
    let mut unnamed = codeql();
    unnamed["runs"][0]["tool"]["driver"]["name"] = json!("");
    match parse(&unnamed) {
        Err(DocumentError::Params(e)) => assert_eq!(e.fields()[0].field, "source"),
        other => panic!("{other:?}"),
    }
    // The content type says SARIF: a document without version or runs is not taken as native.
    match parse_document(br#"{"findings": []}"#, BodyKind::Sarif, None) {
        Err(DocumentError::Invalid(e)) => assert_eq!(e.path, "."),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        parse_document(b"{\"version\": ", BodyKind::Json, None),
        Err(DocumentError::NotJson(_))
    ));
    assert_eq!(invalid(&json!([1, 2])).0, ".");
    assert_eq!(invalid(&json!({"hello": 1})).0, ".");
}

#[test]
fn the_native_format_is_checked_field_by_field() {
    let doc = json!({"source": "pentest", "findings": [
        {"external_id": "PT-1", "title": "IDOR", "severity": "high"},
        {"external_id": "PT-2", "title": "XSS", "severity": "low", "priority_score": 5, "status": "triaged",
         "rule_id": "CWE-79", "location": "app/views.py:3", "description": "line one\nline two"}
    ]});
    let parsed = parse(&doc).unwrap();
    assert_eq!(parsed.format, ImportFormat::Native);
    assert_eq!(parsed.source.as_str(), "pentest");
    assert_eq!(parsed.results[0].priority_score.get(), 700);
    assert_eq!(parsed.results[1].priority_score.get(), 5);
    assert_eq!(parsed.results[1].status, FindingStatus::Triaged);
    assert_eq!(
        parsed.results[1].description.as_ref().unwrap().as_str(),
        "line one\nline two"
    );

    let bad = |finding: Value| {
        invalid(&json!({"source": "s", "findings": [
            {"external_id": "ok", "title": "ok", "severity": "low"}, finding
        ]}))
    };
    assert_eq!(
        bad(json!({"external_id": "x", "title": "t", "severity": "severe"})).0,
        "findings[1].severity"
    );
    assert_eq!(
        bad(json!({"external_id": "x", "title": "", "severity": "low"})).0,
        "findings[1].title"
    );
    assert_eq!(
        bad(json!({"external_id": "x", "title": "t", "severity": "low", "priority_score": 1001})).0,
        "findings[1].priority_score"
    );
    assert_eq!(
        bad(json!({"external_id": "x", "title": "t", "severity": "low", "cvss": 1})).0,
        "findings[1].cvss"
    );
    assert_eq!(
        bad(json!({"title": "t", "severity": "low"})).0,
        "findings[1]"
    );
    let (path, message) = bad(json!({"external_id": "ok", "title": "t", "severity": "low"}));
    assert_eq!(path, "findings[1].external_id");
    assert!(message.contains("findings[0]"), "{message}");

    match parse(&json!({"findings": []})) {
        Err(DocumentError::Params(e)) => assert_eq!(e.fields()[0].field, "source"),
        other => panic!("{other:?}"),
    }
    assert_eq!(invalid(&json!({"source": "", "findings": []})).0, "source");
    let too_many: Vec<Value> = (0..50_001)
        .map(|i| json!({"external_id": format!("x{i}"), "title": "t", "severity": "low"}))
        .collect();
    assert_eq!(
        invalid(&json!({"source": "s", "findings": too_many})).0,
        "findings"
    );
}
