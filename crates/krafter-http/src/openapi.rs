//! The OpenAPI 3.1 document, generated from the handlers' annotations.

use std::sync::LazyLock;

use actix_web::HttpResponse;
use serde_json::{json, Map, Value};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::dto::JsonExportDto;
use crate::envelope::PageMeta;
use crate::routes::{
    findings, health, imports, regressions, remediation, reports, shares, summary,
};
use crate::viewer;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Krafter Reports API",
        description = "Audit metrics for a project's findings, verifications and regressions. Every response is an envelope `{data, meta: {request_id}, error}`."
    ),
    paths(
        findings::create, findings::list, findings::update, findings::get, findings::verify, findings::open_regression,
        imports::create, imports::list,
        regressions::close, summary::summary, remediation::project, remediation::org,
        remediation::org_summary, remediation::sla_policy, remediation::set_sla_policy,
        remediation::sla_policy_history, reports::export, reports::list, reports::get,
        reports::download, shares::share, shares::deliveries, shares::shares, shares::revoke,
        viewer::page, viewer::download, health::healthz, health::readyz,
    ),
    components(schemas(PageMeta, JsonExportDto)),
    modifiers(&BearerAuth),
    tags(
        (name = "findings", description = "The findings ledger"),
        (name = "regressions"),
        (name = "imports", description = "Scanner results in: SARIF 2.1.0 and the native bulk format"),
        (name = "reports", description = "Metrics and exports"),
        (name = "viewer", description = "The public viewer of shared reports"),
        (name = "health"),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("kr_live_…")
                    .build(),
            ),
        );
    }
}

static DOCUMENT: LazyLock<String> = LazyLock::new(|| {
    let mut doc = serde_json::to_value(ApiDoc::openapi()).expect("the OpenAPI document serialises");
    complete(&mut doc);
    serde_json::to_string(&doc).expect("the OpenAPI document serialises")
});

/// What the annotations cannot say, or would have to repeat on every operation, applied to the
/// generated document:
/// - each `Envelope_X` refers to the component `X` (one schema per DTO, referenced everywhere),
///   and every envelope's members are required (`error` is null on success, `data` on failure);
/// - every field of a `…Dto` schema is required: each is always serialised (null when absent);
/// - the PATCH of a finding needs `status` or `priority_score` (`{}` is refused);
/// - the bodies of an export and of opening a regression may be left out;
/// - `Idempotency-Key` is 1 to 255 visible ASCII characters;
/// - the downloads are binary (a `json` export: its document), with `Content-Disposition`;
/// - every response has a description and `x-request-id`, a 401 its `WWW-Authenticate: Bearer`,
///   an export its `idempotent-replayed`; an operation with a JSON body answers 408 and 415;
/// - the envelope of a listing (an operation with a `cursor`) has [`PageMeta`] as its `meta`;
/// - responses link to the operations that can follow them ([`links`]).
fn complete(doc: &mut Value) {
    let mut paged = Vec::new();
    if let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) {
        for item in paths.values_mut() {
            let Some(item) = item.as_object_mut() else {
                continue;
            };
            for operation in item.values_mut() {
                paged.extend(page_envelope(operation));
                complete_operation(operation);
            }
        }
    }
    if let Some(schemas) = doc
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    {
        complete_schemas(schemas, &paged);
    }
    describe_imports(doc);
}

/// The import's bodies and `source` parameters, with the text pattern of a title (the rule
/// every text field of the API shares).
fn describe_imports(doc: &mut Value) {
    let text = doc
        .pointer("/components/schemas/CreateFindingBody/properties/title/pattern")
        .and_then(Value::as_str)
        .expect("the title has a pattern")
        .to_owned();
    if let Some(schemas) = doc
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    {
        schemas.extend(crate::routes::imports::body_schemas(&text));
    }
    let imports = "/paths/~1api~1v1~1orgs~1{org_id}~1projects~1{project_id}~1audit~1imports/post";
    if let Some(content) = doc.pointer_mut(&format!("{imports}/requestBody/content")) {
        content["application/sarif+json"]["schema"] = schema_ref("SarifLog");
        content["application/json"]["schema"] =
            json!({ "oneOf": [schema_ref("SarifLog"), schema_ref("NativeImport")] });
    }
    let findings = "/paths/~1api~1v1~1orgs~1{org_id}~1projects~1{project_id}~1audit~1findings/get";
    for operation in [imports, findings] {
        let Some(parameters) = doc
            .pointer_mut(&format!("{operation}/parameters"))
            .and_then(Value::as_array_mut)
        else {
            continue;
        };
        for parameter in parameters {
            if parameter["in"] == "query" && parameter["name"] == "source" {
                parameter["schema"]["pattern"] = json!(text);
            }
        }
    }
}

/// The name of the envelope a listing answers, for an operation that takes a `cursor`.
fn page_envelope(operation: &Value) -> Option<String> {
    let takes_cursor = operation
        .get("parameters")
        .and_then(Value::as_array)
        .is_some_and(|ps| {
            ps.iter()
                .any(|p| p["in"] == "query" && p["name"] == "cursor")
        });
    if !takes_cursor {
        return None;
    }
    operation
        .pointer("/responses/200/content/application~1json/schema/$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix("#/components/schemas/"))
        .map(str::to_owned)
}

fn schema_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

fn complete_schemas(schemas: &mut Map<String, Value>, paged: &[String]) {
    let names: Vec<String> = schemas.keys().cloned().collect();
    for name in &names {
        let schema = &mut schemas[name];
        if let Some(inner) = name.strip_prefix("Envelope_") {
            if paged.contains(name) {
                schema["properties"]["meta"] = schema_ref("PageMeta");
            }
            let data = match inner.strip_prefix("Vec_") {
                Some(item) if names.iter().any(|n| n == item) => {
                    Some(json!({ "type": "array", "items": schema_ref(item) }))
                }
                _ if names.iter().any(|n| n == inner) => Some(schema_ref(inner)),
                _ => None,
            };
            if let Some(data) = data {
                schema["properties"]["data"] = data;
            }
            schema["properties"]["error"] = json!({ "type": "null" });
            schema["required"] = json!(["data", "meta", "error"]);
        } else if name == "ErrorEnvelope" {
            schema["properties"]["data"] = json!({ "type": "null" });
            schema["required"] = json!(["data", "meta", "error"]);
        } else if name.ends_with("Dto") {
            require_all(schema);
            if let Some(parts) = schema.get_mut("allOf").and_then(Value::as_array_mut) {
                parts.iter_mut().for_each(require_all);
            }
        } else if name == "UpdateFindingBody" {
            // At least one of the two changes, non-null. Kept beside the object in an `allOf`
            // rather than as sibling `anyOf`: generators (openapi-typescript) then read the
            // object's properties as the type and the `anyOf` as a constraint on it.
            let mut object = schema.take();
            object["minProperties"] = json!(1);
            *schema = json!({
                "allOf": [
                    object,
                    { "anyOf": [
                        {
                            "type": "object",
                            "required": ["status"],
                            "properties": { "status": schema_ref("FindingStatusDto") },
                        },
                        {
                            "type": "object",
                            "required": ["priority_score"],
                            "properties": { "priority_score": {
                                "type": "integer", "format": "int64", "minimum": 0, "maximum": 1000,
                            } },
                        },
                    ] },
                ],
            });
        }
    }
}

fn require_all(schema: &mut Value) {
    let Some(properties) = schema.get("properties").and_then(Value::as_object) else {
        return;
    };
    let required: Vec<Value> = properties.keys().cloned().map(Value::String).collect();
    schema["required"] = Value::Array(required);
}

fn complete_operation(operation: &mut Value) {
    let Some(id) = operation
        .get("operationId")
        .and_then(Value::as_str)
        .map(str::to_owned)
    else {
        return;
    };
    if matches!(id.as_str(), "export_report" | "open_regression") {
        if let Some(body) = operation.get_mut("requestBody") {
            body["required"] = json!(false);
        }
    }
    if let Some(parameters) = operation
        .get_mut("parameters")
        .and_then(Value::as_array_mut)
    {
        for parameter in parameters {
            if parameter["in"] == "header" && parameter["name"] == "Idempotency-Key" {
                parameter["required"] = json!(false);
                parameter["schema"] = json!({
                    "type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[\\x21-\\x7E]+$",
                });
            }
        }
    }
    for (status, links) in links(&id) {
        if let Some(response) = operation.pointer_mut(&format!("/responses/{status}")) {
            response["links"] = links;
        }
    }
    let has_json_body = operation
        .pointer("/requestBody/content/application~1json")
        .is_some();
    let Some(responses) = operation
        .get_mut("responses")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    if has_json_body {
        for status in ["408", "415"] {
            responses
                .entry(status)
                .or_insert_with(|| json!({ "content": { "application/json": { "schema": schema_ref("ErrorEnvelope") } } }));
        }
    }
    // Every operation with a key can meet its rate limit, and every one reads the database.
    if responses.contains_key("401") {
        let error = || json!({ "content": { "application/json": { "schema": schema_ref("ErrorEnvelope") } } });
        let limited = responses.entry("429").or_insert_with(error);
        limited["description"] = json!(if id == "export_report" {
            "`quota_exceeded`: the organisation's exports for this month are used up (no `Retry-After`); or `rate_limited`: the key's request rate is used up, try again after `Retry-After` seconds"
        } else {
            "`rate_limited`: the key's request rate is used up; try again after `Retry-After` seconds"
        });
        responses.entry("503").or_insert_with(error);
    }
    for (status, response) in responses.iter_mut() {
        if response["description"].as_str().is_none_or(str::is_empty) {
            response["description"] = json!(default_description(status));
        }
        let headers = response
            .as_object_mut()
            .expect("a response is an object")
            .entry("headers")
            .or_insert_with(|| json!({}));
        headers["x-request-id"] = json!({
            "description": "The request's id, as in `meta.request_id`: 20 URL-safe characters",
            "required": true,
            "schema": { "type": "string", "pattern": "^[A-Za-z0-9_-]{20}$" },
        });
        if status == "401" {
            headers["WWW-Authenticate"] = json!({
                "description": "`Bearer`, or `Bearer error=\"invalid_token\"` when a token was given",
                "required": true,
                "schema": { "type": "string", "pattern": "^Bearer" },
            });
        }
        if status == "429" || status == "503" {
            headers["Retry-After"] = json!({
                "description": "Seconds to wait before trying again (on `rate_limited` and on `service_unavailable` when the database is briefly unreachable)",
                // Always sent but on a quota refusal and on /readyz (which takes no key).
                "required": match status.as_str() {
                    "429" => id != "export_report",
                    _ => id != "readyz",
                },
                "schema": { "type": "integer", "minimum": 1 },
            });
        }
        if id == "export_report" && status == "202" {
            headers["idempotent-replayed"] = json!({
                "description": "`true` when an earlier request with the same `Idempotency-Key` and body is answered again (no second charge); absent otherwise",
                "schema": { "type": "string", "enum": ["true"] },
            });
        }
        if matches!(id.as_str(), "download_report" | "download_shared_report") && status == "200" {
            headers["Content-Disposition"] = json!({
                "description": "`attachment` with the artefact's file name",
                "required": true,
                "schema": { "type": "string", "pattern": "^attachment" },
            });
            if let Some(content) = response.get_mut("content").and_then(Value::as_object_mut) {
                for (media_type, media) in content.iter_mut() {
                    *media = match media_type.as_str() {
                        "application/json" => json!({ "schema": schema_ref("JsonExportDto") }),
                        _ => json!({ "schema": { "type": "string", "format": "binary" } }),
                    };
                }
            }
        }
    }
}

/// A link to `target` with these parameters (runtime expressions), in the same organisation and
/// project as the request it follows.
fn link(target: &str, description: &str, parameters: Value) -> Value {
    let mut all = json!({
        "org_id": "$request.path.org_id",
        "project_id": "$request.path.project_id",
    });
    if let (Some(all), Value::Object(more)) = (all.as_object_mut(), parameters) {
        all.extend(more);
    }
    json!({ "operationId": target, "description": description, "parameters": all })
}

/// [`link`] with members of the request body taken from the response: merged into the body a
/// client (or a test generator) makes.
fn link_with_body(target: &str, description: &str, parameters: Value, body: Value) -> Value {
    let mut link = link(target, description, parameters);
    link["requestBody"] = body;
    link
}

fn from_response(pointer: &str) -> Value {
    Value::String(format!("$response.body#{pointer}"))
}

/// The responses of operation `id` that link to others, with their links: what a client (or the
/// stateful phase of a contract test) does next with what it got. A finding is created, changed,
/// verified, changed again (resolved, say), and gets a regression opened and closed; a report is
/// exported, polled, downloaded and shared, and the share's records and deliveries are listed and
/// the share revoked.
///
/// A change to a finding may not be dated before the finding's latest change (nor a regression's
/// closing before its opening): the links that lead to one date it (`occurred_at`) at that
/// latest change, which is always allowed.
fn links(id: &str) -> Vec<(&'static str, Value)> {
    let finding = |pointer: &str| json!({ "finding_id": from_response(pointer) });
    let report = |pointer: &str| json!({ "report_id": from_response(pointer) });
    // `id` and `latest` point at the finding's id and at the time of its latest change.
    let update = |id: &str, latest: &str| {
        link_with_body(
            "update_finding",
            "Change the finding's status or priority score",
            finding(id),
            json!({ "occurred_at": from_response(latest) }),
        )
    };
    let verify = |id: &str, latest: &str| {
        link_with_body(
            "verify_finding",
            "Record a verification of the finding",
            finding(id),
            json!({ "occurred_at": from_response(latest) }),
        )
    };
    let open_regression = |id: &str, latest: &str| {
        link_with_body(
            "open_regression",
            "Open a regression on the finding",
            finding(id),
            json!({ "occurred_at": from_response(latest) }),
        )
    };
    let get_finding = |id: &str| {
        link(
            "get_finding",
            "Read the finding with its history, verifications and regressions",
            finding(id),
        )
    };
    let download = link(
        "download_report",
        "Download the report's artefact (409 until it is exported)",
        report("/data/id"),
    );
    let share = link_with_body(
        "share_report",
        "Share the report",
        json!({}),
        json!({ "report_id": from_response("/data/id") }),
    );
    match id {
        "create_finding" => vec![(
            "201",
            json!({
                "GetFinding": get_finding("/data/id"),
                "UpdateFinding": update("/data/id", "/data/updated_at"),
                "VerifyFinding": verify("/data/id", "/data/updated_at"),
                "OpenRegression": open_regression("/data/id", "/data/updated_at"),
            }),
        )],
        "update_finding" => vec![(
            "200",
            json!({
                "UpdateFinding": update("/data/id", "/data/updated_at"),
                "VerifyFinding": verify("/data/id", "/data/updated_at"),
                "OpenRegression": open_regression("/data/id", "/data/updated_at"),
            }),
        )],
        "verify_finding" => vec![(
            "201",
            json!({
                "UpdateFinding": update("/data/finding_id", "/data/occurred_at"),
                "OpenRegression": open_regression("/data/finding_id", "/data/occurred_at"),
            }),
        )],
        "open_regression" => vec![(
            "201",
            json!({
                "CloseRegression": link_with_body(
                    "close_regression",
                    "Close the regression",
                    json!({ "regression_id": from_response("/data/id") }),
                    json!({ "status": "closed", "occurred_at": from_response("/data/opened_at") }),
                ),
                "GetFinding": get_finding("/data/finding_id"),
            }),
        )],
        "close_regression" => vec![(
            "200",
            json!({ "GetFinding": get_finding("/data/finding_id") }),
        )],
        "export_report" => vec![(
            "202",
            json!({
                "GetReport": link("get_report", "Poll the report", report("/data/id")),
                "DownloadReport": download,
                "ShareReport": share,
            }),
        )],
        "get_report" => vec![(
            "200",
            json!({ "DownloadReport": download, "ShareReport": share }),
        )],
        "share_report" => vec![(
            "200",
            json!({
                "ListShares": link("list_shares", "The report's shares, this one among them", report("/data/id")),
                "ListDeliveries": link("list_deliveries", "What became of the share's messages", report("/data/id")),
                "RevokeShare": link("revoke_share", "Revoke the share", json!({ "share_id": from_response("/data/share_id") })),
            }),
        )],
        _ => Vec::new(),
    }
}

fn default_description(status: &str) -> &'static str {
    match status {
        "200" => "OK",
        "201" => "Created",
        "202" => "Accepted",
        "204" => "No content",
        "400" => "`invalid_json`: the body is not valid JSON",
        "401" => "`unauthorized`: no valid API key (`Authorization: Bearer kr_live_…`)",
        "403" => "`forbidden`: the API key lacks the operation's scope",
        "404" => "`not_found`: no such organisation, project or resource",
        "408" => "`request_timeout`: the request body did not arrive in time",
        "409" => "`invalid_transition`: the change is not allowed from the current state",
        "410" => "`report_failed` or `artefact_missing`",
        "415" => "`unsupported_media_type`: a body that is not `application/json`",
        "422" => "`invalid_params`: the fields at fault are in `error.details`",
        "429" => "`quota_exceeded`",
        "503" => "`service_unavailable`: the database is briefly unreachable or every connection is busy; try again after `Retry-After` seconds",
        _ => "An error, in the envelope",
    }
}

/// The OpenAPI 3.1 document of this API.
pub async fn document() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(DOCUMENT.as_str())
}
