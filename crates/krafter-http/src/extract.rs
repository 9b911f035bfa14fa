//! Turning raw requests into domain inputs at the edge: the bearer key, JSON bodies and query
//! strings, each failure named by field.

use actix_web::http::header;
use actix_web::HttpRequest;
use krafter_domain::InvalidParams;
use serde::de::DeserializeOwned;

use crate::errors::ApiError;

/// The token of `Authorization: Bearer <token>`, if any.
pub fn bearer(req: &HttpRequest) -> Option<&str> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Parses a JSON body; an empty body counts as `{}`. Malformed JSON is `invalid_json`; JSON of the
/// wrong shape is `invalid_params` naming the field.
pub fn json_body<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let value: serde_json::Value = if bytes.iter().all(u8::is_ascii_whitespace) {
        serde_json::Value::Object(Default::default())
    } else {
        serde_json::from_slice(bytes).map_err(|e| ApiError::InvalidJson(e.to_string()))?
    };
    if !value.is_object() {
        return Err(InvalidParams::field("body", "must be a JSON object").into());
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let message = e.into_inner().to_string();
        ApiError::InvalidParams(InvalidParams::field(field_name(&path, &message), message))
    })
}

/// Parses a query string into `T`; unknown parameters are ignored.
pub fn query<T: DeserializeOwned>(req: &HttpRequest) -> Result<T, ApiError> {
    serde_urlencoded_from(req.query_string())
}

fn serde_urlencoded_from<T: DeserializeOwned>(raw: &str) -> Result<T, ApiError> {
    actix_web::web::Query::<T>::from_query(raw)
        .map(actix_web::web::Query::into_inner)
        .map_err(|e| {
            let message = e.to_string();
            let field = backticked(&message).unwrap_or("query").to_owned();
            ApiError::InvalidParams(InvalidParams::field(field, message))
        })
}

/// serde reports missing and unknown fields at the parent's path, with the name in backticks.
fn field_name(path: &str, message: &str) -> String {
    if path != "." {
        return path.to_owned();
    }
    backticked(message).unwrap_or("body").to_owned()
}

fn backticked(message: &str) -> Option<&str> {
    let start = message.find('`')? + 1;
    let len = message[start..].find('`')?;
    Some(&message[start..start + len])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        title: String,
        score: Option<i64>,
    }

    fn field_of(raw: &str) -> String {
        match json_body::<Body>(raw.as_bytes()).unwrap_err() {
            ApiError::InvalidParams(p) => p.fields()[0].field.clone(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn shape_errors_name_the_field() {
        assert_eq!(field_of(r#"{"score": 1}"#), "title");
        assert_eq!(field_of(r#"{"title": "x", "colour": 1}"#), "colour");
        assert_eq!(field_of(r#"{"title": 5}"#), "title");
        assert_eq!(field_of(r#"{"title": "x", "score": "high"}"#), "score");
        assert_eq!(field_of(r#"[]"#), "body");
        assert_eq!(field_of(""), "title");
    }

    #[test]
    fn syntax_errors_are_invalid_json() {
        for raw in [r#"{"title": "#, r#"{"title": "x"} trailing"#, "nope"] {
            assert!(
                matches!(
                    json_body::<Body>(raw.as_bytes()),
                    Err(ApiError::InvalidJson(_))
                ),
                "{raw}"
            );
        }
    }
}
