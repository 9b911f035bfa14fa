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
    assert_eq!(
        keys,
        [
            "findings",
            "previous_period",
            "remediation",
            "report",
            "summary"
        ]
    );
    // Written in this order, the findings last, as they stream.
    let text = std::str::from_utf8(&bytes).unwrap();
    let at = |key: &str| text.find(&format!("\"{key}\":")).unwrap();
    assert_eq!(at("report"), 1);
    assert!(at("summary") < at("remediation"));
    assert!(at("remediation") < at("previous_period"));
    assert!(at("previous_period") < text.rfind("\"findings\":[").unwrap());
    let report = &doc["report"];
    assert_eq!(report.as_object().unwrap().len(), 7, "{report}");
    assert_eq!(report["definitions_version"], 1);
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

    // The remediation of the period by week, and the period before, exactly as captured.
    let executive = header.report.remediation.as_ref().unwrap();
    assert_eq!(
        doc["remediation"],
        serde_json::to_value(&executive.remediation).unwrap()
    );
    assert_eq!(
        doc["previous_period"],
        serde_json::to_value(&executive.previous_period).unwrap()
    );
    // Checked by hand against the fixture (see `remediation`).
    let remediation = &doc["remediation"];
    assert_eq!(remediation["granularity"], "week");
    assert_eq!(remediation["buckets"].as_array().unwrap().len(), 2);
    assert_eq!(remediation["buckets"][0]["end"], "2026-03-01");
    assert_eq!(remediation["total"]["all"]["opened"], 2);
    assert_eq!(remediation["total"]["all"]["resolved"], 3);
    assert_eq!(remediation["total"]["all"]["resolved_within_sla"], 2);
    assert_eq!(remediation["total"]["all"]["overdue_at_end"], 1);
    assert_eq!(
        remediation["total"]["by_severity"]["critical"]["time_to_resolve_hours"]["mean"],
        126.0
    );
    assert_eq!(remediation["sla_compliance"], 2.0 / 3.0);
    assert_eq!(remediation["aging_at_end"]["all"]["8-30"], 2);
    let previous = &doc["previous_period"];
    assert_eq!(previous["date_from"], "2026-02-22");
    assert_eq!(previous["date_to"], "2026-02-28");
    assert_eq!(previous["summary"]["open_findings"], 4000);
    assert_eq!(previous["remediation"]["total"]["all"]["opened"], 2);
    assert_eq!(previous["remediation"]["total"]["all"]["overdue_at_end"], 2);
    assert_eq!(previous["remediation"]["sla_compliance"], Value::Null);
    assert!(previous["remediation"].get("buckets").is_none());

    let out = doc["findings"].as_array().expect("an array");
    assert_eq!(out.len(), input.len());
    for (got, want) in out.iter().zip(&input) {
        assert_eq!(got.as_object().unwrap().len(), 13, "{got}");
        for scanner in [
            "source",
            "external_id",
            "rule_id",
            "location",
            "description",
        ] {
            assert_eq!(got[scanner], Value::Null, "recorded by hand: {got}");
        }
        assert_eq!(
            got["due_on"],
            want.due_on.map_or(Value::Null, |d| d.to_string().into())
        );
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
