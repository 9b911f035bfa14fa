//! Turning raw requests into domain inputs at the edge: the bearer key, JSON bodies and query
//! strings, each failure named by field.

use std::cell::RefCell;
use std::fmt;

use actix_web::http::header;
use actix_web::{HttpMessage, HttpRequest};
use krafter_domain::InvalidParams;
use serde::de::{self, DeserializeOwned, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use crate::errors::ApiError;

/// The token of `Authorization: Bearer <token>`, if any. A request with more than one
/// `Authorization` header has no token: which one counts would be a guess.
pub fn bearer(req: &HttpRequest) -> Option<&str> {
    let mut values = req.headers().get_all(header::AUTHORIZATION);
    let value = values.next()?;
    if values.next().is_some() {
        return None;
    }
    let (scheme, token) = value.to_str().ok()?.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Parses a JSON body; an empty body counts as `{}`, whatever the `Content-Type`. A body
/// that is not `application/json` (parameters allowed, a charset only as UTF-8) is
/// `unsupported_media_type`; malformed JSON is `invalid_json`; a key given twice in one object
/// is `invalid_params` naming it; JSON of the wrong shape is `invalid_params` naming the field.
pub fn json_body<T: DeserializeOwned>(req: &HttpRequest, bytes: &[u8]) -> Result<T, ApiError> {
    let value: Value = if bytes.iter().all(u8::is_ascii_whitespace) {
        Value::Object(Default::default())
    } else {
        if !is_json(req) {
            return Err(ApiError::UnsupportedMediaType);
        }
        parse_unique(bytes)?
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

/// `Content-Type: application/json`, with any parameters but a charset other than UTF-8.
fn is_json(req: &HttpRequest) -> bool {
    utf8_media_type(req).as_deref() == Some("application/json")
}

/// The body's media type without parameters (`application/json`), when `Content-Type` names
/// one whose charset, if any, is UTF-8; `None` otherwise.
pub fn utf8_media_type(req: &HttpRequest) -> Option<String> {
    let mime = req.mime_type().ok()??;
    mime.get_param("charset")
        .is_none_or(|charset| charset.as_str().eq_ignore_ascii_case("utf-8"))
        .then(|| mime.essence_str().to_owned())
}

/// Parses JSON text like `serde_json::from_slice`, but a key repeated within one object is an
/// error naming it (serde_json would keep the last silently).
fn parse_unique(bytes: &[u8]) -> Result<Value, ApiError> {
    let duplicate = RefCell::new(None);
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let parsed = UniqueValue {
        path: String::new(),
        duplicate: &duplicate,
    }
    .deserialize(&mut deserializer)
    .and_then(|value| deserializer.end().map(|()| value));
    match (parsed, duplicate.into_inner()) {
        (_, Some(key)) => Err(InvalidParams::field(key, "is given more than once").into()),
        (Ok(value), None) => Ok(value),
        (Err(e), None) => Err(ApiError::InvalidJson(e.to_string())),
    }
}

/// A JSON value at `path` (`a.b[2].c`, empty at the top) whose objects have distinct keys; the
/// path of the first repeated key is left in `duplicate`.
struct UniqueValue<'a> {
    path: String,
    duplicate: &'a RefCell<Option<String>>,
}

impl UniqueValue<'_> {
    fn child(&self, segment: fmt::Arguments<'_>, dot: bool) -> Self {
        let path = if self.path.is_empty() || !dot {
            format!("{}{segment}", self.path)
        } else {
            format!("{}.{segment}", self.path)
        };
        UniqueValue {
            path,
            duplicate: self.duplicate,
        }
    }
}

impl<'de> DeserializeSeed<'de> for UniqueValue<'_> {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for UniqueValue<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    /// A number with a zero fraction (`190.0`, `1e2`) is an integer, as JSON Schema has it, so
    /// it is kept as one (within ±2^53, where a float holds every integer exactly).
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        const EXACT: f64 = 9_007_199_254_740_992.0;
        if v.fract() == 0.0 && v.abs() <= EXACT {
            #[allow(clippy::cast_possible_truncation)]
            return Ok(Value::from(v as i64));
        }
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) =
            seq.next_element_seed(self.child(format_args!("[{}]", items.len()), false))?
        {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let child = self.child(format_args!("{key}"), true);
            if object.contains_key(&key) {
                let path = child.path;
                let error = de::Error::custom(format!("duplicate key `{path}`"));
                *self.duplicate.borrow_mut() = Some(path);
                return Err(error);
            }
            let value = map.next_value_seed(child)?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
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

    fn json_request() -> HttpRequest {
        actix_web::test::TestRequest::default()
            .insert_header((header::CONTENT_TYPE, "application/json"))
            .to_http_request()
    }

    fn parse(raw: &str) -> Result<Body, ApiError> {
        json_body::<Body>(&json_request(), raw.as_bytes())
    }

    fn field_of(raw: &str) -> String {
        match parse(raw).unwrap_err() {
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
            assert!(matches!(parse(raw), Err(ApiError::InvalidJson(_))), "{raw}");
        }
    }

    #[test]
    fn repeated_keys_are_named() {
        assert_eq!(field_of(r#"{"title": "a", "title": "b"}"#), "title");
        assert_eq!(
            field_of(r#"{"title": "a", "score": 1, "score": 2}"#),
            "score"
        );
        let nested = json_body::<Value>(&json_request(), br#"{"a": [{"b": {"c": 1, "c": 2}}]}"#);
        match nested.unwrap_err() {
            ApiError::InvalidParams(p) => assert_eq!(p.fields()[0].field, "a[0].b.c"),
            other => panic!("{other:?}"),
        }
        let distinct: Value = json_body(
            &json_request(),
            br#"{"a": {"x": 1}, "b": {"x": [1.5, null, true, "s"]}}"#,
        )
        .unwrap();
        assert_eq!(distinct["b"]["x"][0], 1.5);
    }

    #[test]
    fn integral_numbers_are_integers() {
        let score = |raw: &str| parse(raw).map(|b| b.score);
        assert_eq!(
            score(r#"{"title": "x", "score": 190.0}"#).unwrap(),
            Some(190)
        );
        assert_eq!(score(r#"{"title": "x", "score": 1e2}"#).unwrap(), Some(100));
        assert_eq!(score(r#"{"title": "x", "score": -0.0}"#).unwrap(), Some(0));
        assert_eq!(field_of(r#"{"title": "x", "score": 1.5}"#), "score");
        assert_eq!(field_of(r#"{"title": "x", "score": 1e300}"#), "score");
    }

    #[test]
    fn only_json_bodies_are_read() {
        let with = |content_type: Option<&str>| {
            let mut req = actix_web::test::TestRequest::default();
            if let Some(value) = content_type {
                req = req.insert_header((header::CONTENT_TYPE, value));
            }
            req.to_http_request()
        };
        let body = br#"{"title": "x"}"#;
        for ok in [
            "application/json",
            "application/json; charset=utf-8",
            "Application/JSON;charset=UTF-8",
        ] {
            assert!(json_body::<Body>(&with(Some(ok)), body).is_ok(), "{ok}");
        }
        for bad in [
            None,
            Some("text/plain"),
            Some("application/x-www-form-urlencoded"),
            Some("multipart/form-data; boundary=x"),
            Some("application/json; charset=latin1"),
            Some("application/jsonx"),
            Some("nonsense"),
        ] {
            assert!(
                matches!(
                    json_body::<Body>(&with(bad), body),
                    Err(ApiError::UnsupportedMediaType)
                ),
                "{bad:?}"
            );
        }
        // No body: nothing to type.
        assert!(json_body::<Value>(&with(None), b"").is_ok());
        assert!(json_body::<Value>(&with(Some("text/plain")), b"").is_ok());
    }

    #[test]
    fn two_authorization_headers_are_no_bearer() {
        let one = actix_web::test::TestRequest::default()
            .insert_header((header::AUTHORIZATION, "Bearer kr_live_a"))
            .to_http_request();
        assert_eq!(bearer(&one), Some("kr_live_a"));
        let two = actix_web::test::TestRequest::default()
            .append_header((header::AUTHORIZATION, "Bearer kr_live_a"))
            .append_header((header::AUTHORIZATION, "Bearer kr_live_b"))
            .to_http_request();
        assert_eq!(bearer(&two), None);
    }
}
