use krafter_test_support::{Tenant, TestApp};
use reqwest::{Response, StatusCode};
use serde_json::Value;

/// Checks the envelope and answers its `data` (or `error` for an error status).
pub async fn envelope(response: Response, status: StatusCode) -> Value {
    assert_eq!(response.status(), status, "unexpected status");
    let header_id = response
        .headers()
        .get("x-request-id")
        .expect("x-request-id header")
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        response.headers().get("content-type").unwrap(),
        "application/json"
    );
    let body: Value = response.json().await.expect("a JSON body");
    let request_id = body["meta"]["request_id"]
        .as_str()
        .expect("meta.request_id");
    assert_eq!(request_id, header_id);
    assert_eq!(request_id.len(), 20);
    assert!(request_id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    if status.is_success() {
        assert_eq!(body["error"], Value::Null, "{body}");
        body["data"].clone()
    } else {
        assert_eq!(body["data"], Value::Null, "{body}");
        body["error"].clone()
    }
}

/// Checks an error envelope's code and, for `invalid_params`, the fields named.
pub async fn error(response: Response, status: StatusCode, code: &str) -> Value {
    let error = envelope(response, status).await;
    assert_eq!(error["code"], code, "{error}");
    assert!(error["message"].as_str().is_some_and(|m| !m.is_empty()));
    error
}

pub async fn invalid_field(response: Response, field: &str) {
    let error = error(response, StatusCode::UNPROCESSABLE_ENTITY, "invalid_params").await;
    let fields: Vec<&str> = error["details"]
        .as_array()
        .expect("details")
        .iter()
        .map(|d| d["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, [field], "{error}");
}

/// JSON equality where numbers compare by value (`0` equals `0.0`).
pub fn assert_same_json(actual: &Value, expected: &Value, context: &str) {
    match (actual, expected) {
        (Value::Number(a), Value::Number(e)) => {
            assert_eq!(a.as_f64(), e.as_f64(), "{context}: {actual} != {expected}")
        }
        (Value::Array(a), Value::Array(e)) => {
            assert_eq!(a.len(), e.len(), "{context}: {actual} != {expected}");
            for (a, e) in a.iter().zip(e) {
                assert_same_json(a, e, context);
            }
        }
        (Value::Object(a), Value::Object(e)) => {
            let mut a_keys: Vec<_> = a.keys().collect();
            let mut e_keys: Vec<_> = e.keys().collect();
            a_keys.sort();
            e_keys.sort();
            assert_eq!(a_keys, e_keys, "{context}");
            for (k, v) in e {
                assert_same_json(&a[k], v, &format!("{context}.{k}"));
            }
        }
        _ => assert_eq!(actual, expected, "{context}"),
    }
}

/// A write with the tenant's read-write key, which must succeed: its `data`.
pub async fn write(
    app: &TestApp,
    t: &Tenant,
    method: reqwest::Method,
    path: &str,
    body: Value,
) -> Value {
    let response = app
        .client
        .request(method, app.audit_url(t, path))
        .bearer_auth(&t.key)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(
        response.status().is_success(),
        "{path}: {}",
        response.status()
    );
    response.json::<Value>().await.unwrap()["data"].clone()
}
