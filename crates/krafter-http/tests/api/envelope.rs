use krafter_test_support::TestApp;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{envelope, error, invalid_field};

#[tokio::test]
async fn health_and_readiness() {
    let app = TestApp::spawn().await;
    let health = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(
        envelope(health, StatusCode::OK).await,
        json!({"status": "ok"})
    );
    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(
        envelope(ready, StatusCode::OK).await,
        json!({"status": "ready"})
    );
}

#[tokio::test]
async fn unknown_routes_and_wrong_methods_answer_in_the_envelope() {
    let app = TestApp::spawn().await;
    let t = app.tenant("web").await;
    let nowhere = app
        .client
        .get(app.url("/api/v1/nowhere"))
        .send()
        .await
        .unwrap();
    error(nowhere, StatusCode::NOT_FOUND, "not_found").await;
    let wrong = app
        .client
        .delete(app.audit_url(&t, "/reports/summary"))
        .bearer_auth(&t.key)
        .send()
        .await
        .unwrap();
    error(wrong, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed").await;
    let wrong = app
        .client
        .put(app.audit_url(&t, "/findings"))
        .send()
        .await
        .unwrap();
    error(wrong, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed").await;
}

#[tokio::test]
async fn malformed_json_oversized_bodies_and_malformed_ids_answer_in_the_envelope() {
    let app = TestApp::spawn().await;
    let t = app.tenant("web").await;
    let findings = app.audit_url(&t, "/findings");
    let post = |body: String| {
        app.client
            .post(&findings)
            .bearer_auth(&t.key)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    error(
        post("{\"title\": ".into()).await.unwrap(),
        StatusCode::BAD_REQUEST,
        "invalid_json",
    )
    .await;
    error(
        post("not json".into()).await.unwrap(),
        StatusCode::BAD_REQUEST,
        "invalid_json",
    )
    .await;
    let huge = format!("{{\"title\": \"{}\"}}", "a".repeat(100 * 1024));
    error(
        post(huge).await.unwrap(),
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
    )
    .await;
    invalid_field(post("[1, 2]".into()).await.unwrap(), "body").await;

    let malformed = app
        .client
        .patch(app.audit_url(&t, "/findings/not-a-uuid"))
        .bearer_auth(&t.key)
        .json(&json!({"status": "resolved"}))
        .send()
        .await
        .unwrap();
    error(malformed, StatusCode::NOT_FOUND, "not_found").await;
    let malformed = app
        .client
        .patch(app.audit_url(&t, "/regressions/123"))
        .bearer_auth(&t.key)
        .json(&json!({"status": "closed"}))
        .send()
        .await
        .unwrap();
    error(malformed, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn the_openapi_document_describes_every_route() {
    let app = TestApp::spawn().await;
    let response = app
        .client
        .get(app.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let doc: Value = response.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    let audit = "/api/v1/orgs/{org_id}/projects/{project_id}/audit";
    let org = "/api/v1/orgs/{org_id}/audit";
    let expected = [
        (format!("{audit}/findings"), vec!["get", "post"]),
        (
            format!("{audit}/findings/{{finding_id}}"),
            vec!["get", "patch"],
        ),
        (
            format!("{audit}/findings/{{finding_id}}/verifications"),
            vec!["post"],
        ),
        (
            format!("{audit}/findings/{{finding_id}}/regressions"),
            vec!["post"],
        ),
        (
            format!("{audit}/regressions/{{regression_id}}"),
            vec!["patch"],
        ),
        (format!("{audit}/reports/summary"), vec!["get"]),
        (format!("{audit}/reports/remediation"), vec!["get"]),
        (format!("{org}/reports/summary"), vec!["get"]),
        (format!("{org}/reports/remediation"), vec!["get"]),
        (format!("{org}/sla-policy"), vec!["get", "put"]),
        (format!("{org}/sla-policy/history"), vec!["get"]),
        (format!("{audit}/reports/export"), vec!["post"]),
        (format!("{audit}/reports"), vec!["get"]),
        (format!("{audit}/reports/{{report_id}}"), vec!["get"]),
        (
            format!("{audit}/reports/{{report_id}}/download"),
            vec!["get"],
        ),
        (format!("{audit}/reports/share"), vec!["post"]),
        (
            format!("{audit}/reports/{{report_id}}/deliveries"),
            vec!["get"],
        ),
        (format!("{audit}/reports/{{report_id}}/shares"), vec!["get"]),
        (
            format!("{audit}/reports/shares/{{share_id}}"),
            vec!["delete"],
        ),
        (
            "/insights/audit/reports/shared/{token}".to_owned(),
            vec!["get"],
        ),
        (
            "/insights/audit/reports/shared/{token}/download".to_owned(),
            vec!["get"],
        ),
        (format!("{audit}/imports"), vec!["get", "post"]),
        ("/healthz".to_owned(), vec!["get"]),
        ("/readyz".to_owned(), vec!["get"]),
    ];
    let paths = doc["paths"].as_object().unwrap();
    assert_eq!(paths.len(), expected.len());
    for (path, methods) in expected {
        let item = paths.get(&path).unwrap_or_else(|| panic!("{path} missing"));
        let mut got: Vec<&str> = item
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        got.sort();
        assert_eq!(got, methods, "{path}");
    }
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
}

/// The committed `docs/openapi.json` is the document the server serves. After an intended
/// change, `KRAFTER_WRITE_OPENAPI=1 cargo test -p krafter-http --test api committed` writes it.
#[tokio::test]
async fn the_committed_openapi_document_is_the_served_one() {
    let app = TestApp::spawn().await;
    let served: serde_json::Value = app
        .client
        .get(app.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/openapi.json");
    if std::env::var_os("KRAFTER_WRITE_OPENAPI").is_some() {
        let pretty = serde_json::to_string_pretty(&served).unwrap() + "\n";
        std::fs::write(path, pretty).unwrap();
    }
    let committed: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("docs/openapi.json exists"))
            .expect("docs/openapi.json is JSON");
    // Generated clients name their functions after operationIds: each must be unique.
    let mut ids: Vec<&str> = served["paths"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|item| item.as_object().unwrap().values())
        .map(|op| {
            op["operationId"]
                .as_str()
                .expect("every operation has an id")
        })
        .collect();
    let all = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), all, "duplicate operationIds: {ids:?}");
    assert!(
        served == committed,
        "docs/openapi.json differs from the served document: run KRAFTER_WRITE_OPENAPI=1 cargo test -p krafter-http --test api committed"
    );
}

/// The facts of the contract a generated client relies on, read from the served document.
#[tokio::test]
async fn the_openapi_document_states_enums_bounds_bodies_and_downloads() {
    let app = TestApp::spawn().await;
    let doc: Value = app
        .client
        .get(app.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let schemas = &doc["components"]["schemas"];
    assert_eq!(
        schemas["SeverityDto"]["enum"],
        json!(["info", "low", "medium", "high", "critical"])
    );
    assert_eq!(
        schemas["FindingDto"]["properties"]["severity"]["$ref"],
        "#/components/schemas/SeverityDto"
    );
    assert_eq!(
        schemas["ErrorBody"]["properties"]["code"]["$ref"],
        "#/components/schemas/ErrorCode"
    );
    let codes: Vec<&str> = schemas["ErrorCode"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    for code in [
        "invalid_params",
        "invalid_json",
        "unauthorized",
        "forbidden",
        "not_found",
        "method_not_allowed",
        "invalid_transition",
        "payload_too_large",
        "unsupported_media_type",
        "request_timeout",
        "bad_request",
        "quota_exceeded",
        "idempotency_key_reused",
        "report_not_ready",
        "report_failed",
        "artefact_missing",
        "invalid_channel",
        "channel_unavailable",
        "request_failed",
        "service_unavailable",
        "internal_error",
    ] {
        assert!(codes.contains(&code), "ErrorCode lacks {code}");
    }
    // Every field of a DTO is always sent, null or not.
    assert_eq!(
        schemas["RegressionDto"]["required"],
        json!(["closed_at", "finding_id", "id", "opened_at", "status"])
    );
    // One component per DTO, referenced from its envelopes.
    assert_eq!(
        schemas["Envelope_Vec_FindingDto"]["properties"]["data"],
        json!({"type": "array", "items": {"$ref": "#/components/schemas/FindingDto"}})
    );
    let title = &schemas["CreateFindingBody"]["properties"]["title"];
    assert_eq!(
        (&title["minLength"], &title["maxLength"]),
        (&json!(1), &json!(500))
    );

    let audit = "/api/v1/orgs/{org_id}/projects/{project_id}/audit";
    let list = &doc["paths"][format!("{audit}/findings")]["get"];
    let limit = list["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "limit")
        .unwrap();
    assert_eq!(limit["schema"]["type"], "integer");
    assert_eq!(
        (&limit["schema"]["minimum"], &limit["schema"]["maximum"]),
        (&json!(1), &json!(100))
    );

    let export = &doc["paths"][format!("{audit}/reports/export")]["post"];
    assert_eq!(export["requestBody"]["required"], false);
    assert!(export["responses"]["202"]["headers"]["idempotent-replayed"].is_object());
    assert!(export["responses"]["415"].is_object());
    let key = export["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "Idempotency-Key")
        .unwrap();
    assert_eq!(
        key["schema"],
        json!({"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[\\x21-\\x7E]+$"})
    );
    let open = &doc["paths"][format!("{audit}/findings/{{finding_id}}/regressions")]["post"];
    assert_eq!(open["requestBody"]["required"], false);

    let download =
        &doc["paths"][format!("{audit}/reports/{{report_id}}/download")]["get"]["responses"]["200"];
    for media in ["application/pdf", "text/csv", "text/html"] {
        assert_eq!(
            download["content"][media]["schema"],
            json!({"type": "string", "format": "binary"}),
            "{media}"
        );
    }
    // A JSON export is a JSON document, not a string.
    assert_eq!(
        download["content"]["application/json"]["schema"],
        json!({"$ref": "#/components/schemas/JsonExportDto"})
    );
    assert_eq!(
        schemas["JsonExportDto"]["required"],
        json!(["findings", "report", "summary"])
    );
    assert!(download["headers"]["Content-Disposition"].is_object());

    // A share's body is one shape per channel, as the server reads it.
    let share = &schemas["ShareBody"];
    assert_eq!(share["discriminator"]["propertyName"], "channel");
    let shapes: Vec<&str> = share["oneOf"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["$ref"].as_str().unwrap())
        .collect();
    assert_eq!(
        shapes,
        [
            "#/components/schemas/EmailShareBody",
            "#/components/schemas/SlackShareBody",
            "#/components/schemas/LinkShareBody"
        ]
    );
    let email = &schemas["EmailShareBody"];
    assert_eq!(email["additionalProperties"], false);
    assert_eq!(email["required"], json!(["channel", "recipients"]));
    assert_eq!(
        email["properties"]["channel"],
        json!({"type": "string", "enum": ["email"]})
    );
    let recipients = &email["properties"]["recipients"];
    assert_eq!(
        (&recipients["minItems"], &recipients["maxItems"]),
        (&json!(1), &json!(50))
    );
    assert_eq!(
        schemas["SlackShareBody"]["required"],
        json!(["channel", "webhook_url"])
    );
    let days = &schemas["LinkShareBody"]["properties"]["expires_in_days"];
    assert_eq!(
        (&days["minimum"], &days["maximum"]),
        (&json!(1), &json!(365))
    );
    // Fields of another channel are ignored whatever they hold: any value.
    let ignored = &schemas["LinkShareBody"]["properties"]["recipients"];
    assert!(ignored["type"].is_null() && ignored["description"].is_string());

    // Listings' meta has the cursor; every other meta only the request id.
    assert_eq!(
        schemas["Envelope_Vec_FindingDto"]["properties"]["meta"]["$ref"],
        "#/components/schemas/PageMeta"
    );
    assert_eq!(
        schemas["Envelope_Vec_ReportDetailDto"]["properties"]["meta"]["$ref"],
        "#/components/schemas/PageMeta"
    );
    assert_eq!(
        schemas["PageMeta"]["required"],
        json!(["request_id", "next_cursor"])
    );
    assert_eq!(
        schemas["Envelope_Vec_ShareRecordDto"]["properties"]["meta"]["$ref"],
        "#/components/schemas/Meta"
    );
    assert!(schemas["Meta"]["properties"]["next_cursor"].is_null());

    // Links lead from a created finding and an export to what can follow them.
    let created = &doc["paths"][format!("{audit}/findings")]["post"]["responses"]["201"]["links"];
    assert_eq!(created["UpdateFinding"]["operationId"], "update_finding");
    assert_eq!(
        created["UpdateFinding"]["parameters"]["finding_id"],
        "$response.body#/data/id"
    );
    let exported = &export["responses"]["202"]["links"];
    for (name, target) in [
        ("GetReport", "get_report"),
        ("DownloadReport", "download_report"),
        ("ShareReport", "share_report"),
    ] {
        assert_eq!(exported[name]["operationId"], target, "{name}");
    }
    let shared =
        &doc["paths"][format!("{audit}/reports/share")]["post"]["responses"]["200"]["links"];
    assert_eq!(
        shared["RevokeShare"]["parameters"]["share_id"],
        "$response.body#/data/share_id"
    );

    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            for (status, response) in operation["responses"].as_object().unwrap() {
                let at = format!("{method} {path} {status}");
                assert!(
                    !response["description"].as_str().unwrap().is_empty(),
                    "{at}: empty description"
                );
                assert!(response["headers"]["x-request-id"].is_object(), "{at}");
                if status == "401" {
                    assert!(response["headers"]["WWW-Authenticate"].is_object(), "{at}");
                }
            }
        }
    }
}
