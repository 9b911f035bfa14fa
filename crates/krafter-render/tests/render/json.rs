use chrono::{DateTime, Utc};
use krafter_domain::export::ExportFormat;
use krafter_domain::metrics::Summary;
use serde_json::Value;

use crate::{findings, header, render, PROJECT_SLUG};

fn instant(v: &Value) -> DateTime<Utc> {
    let raw = v.as_str().expect("a string");
    assert!(raw.ends_with('Z'), "{raw} is not UTC with a Z");
    DateTime::parse_from_rfc3339(raw)
        .unwrap()
        .with_timezone(&Utc)
}

#[test]
fn reads_back_exactly_as_given() {
    let header = header(ExportFormat::Json, 7);
    let input = findings(250);
    let bytes = render(&header, &input, 37);
    let doc: Value = serde_json::from_slice(&bytes).expect("valid JSON");

    let keys: Vec<&str> = doc
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys.len(), 3, "{keys:?}");
    let report = &doc["report"];
    assert_eq!(report.as_object().unwrap().len(), 6, "{report}");
    assert_eq!(report["id"], header.report.id.to_string());
    assert_eq!(report["org_id"], header.report.org_id.to_string());
    assert_eq!(report["project_id"], PROJECT_SLUG);
    assert_eq!(report["period_start"], "2026-03-01");
    assert_eq!(report["period_end"], "2026-03-07");
    assert_eq!(report["generated_at"], "2026-03-08T09:31:07.123456Z");
    assert_eq!(instant(&report["generated_at"]), header.generated_at);

    let summary: Summary = serde_json::from_value(doc["summary"].clone()).unwrap();
    assert_eq!(summary, header.report.snapshot);
    assert_eq!(
        doc["summary"],
        serde_json::to_value(&header.report.snapshot).unwrap()
    );

    let out = doc["findings"].as_array().expect("an array");
    assert_eq!(out.len(), input.len());
    for (got, want) in out.iter().zip(&input) {
        assert_eq!(got.as_object().unwrap().len(), 7, "{got}");
        assert_eq!(got["id"], want.id.to_string());
        assert_eq!(got["title"], want.title.as_str());
        assert_eq!(got["severity"], want.severity.as_str());
        assert_eq!(got["status"], want.status.as_str());
        assert_eq!(got["priority_score"], want.priority_score);
        assert_eq!(instant(&got["created_at"]), want.created_at);
        assert_eq!(instant(&got["updated_at"]), want.updated_at);
    }
}

#[test]
fn no_findings_is_an_empty_array() {
    let header = header(ExportFormat::Json, 1);
    let doc: Value = serde_json::from_slice(&render(&header, &[], 10)).unwrap();
    assert_eq!(doc["findings"], Value::Array(vec![]));
    assert_eq!(
        doc["summary"]["risk_burn_down"].as_array().unwrap().len(),
        1
    );
}
