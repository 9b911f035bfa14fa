//! Which format a body is in, and the source its findings belong to.

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::import::{native, sarif, ImportFormat, InvalidImport, ScanResult, MAX_RESULTS};
use crate::ledger::SourceName;
use crate::validation::InvalidParams;

/// What the request's `Content-Type` says the body is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    /// `application/sarif+json`: a SARIF log, whatever it holds.
    Sarif,
    /// `application/json`: a SARIF log when it has `version` or `runs`, else the native format.
    Json,
}

/// A document read and checked: every result with its external id, under one source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedImport {
    pub format: ImportFormat,
    pub source: SourceName,
    pub results: Vec<ScanResult>,
}

/// Why a body cannot be imported.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DocumentError {
    /// The document itself is at fault (`invalid_import`).
    #[error(transparent)]
    Invalid(#[from] InvalidImport),
    /// A parameter is missing or wrong (`invalid_params`): no `source` where one is needed.
    #[error(transparent)]
    Params(#[from] InvalidParams),
    /// The body is not JSON at all (`invalid_json`), as serde_json says.
    #[error("{0}")]
    NotJson(String),
}

/// The top level, each member kept as its raw text so that the version is checked before the
/// runs are read (a log of another version fails on its version, not on a field of version 2.1.0).
#[derive(Deserialize)]
struct TopLevel<'a> {
    #[serde(borrow, default, deserialize_with = "present")]
    version: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present")]
    runs: Option<&'a RawValue>,
    #[serde(borrow)]
    source: Option<&'a RawValue>,
    #[serde(borrow)]
    findings: Option<&'a RawValue>,
}

/// A member that is there, even as `null`: `"version": null` makes a SARIF log (with a wrong
/// version), not a native document.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<&'de RawValue>, D::Error> {
    <&RawValue>::deserialize(d).map(Some)
}

/// Reads `body` as SARIF 2.1.0 or the native format, under `source` when the caller names one
/// (it wins over the document's), and checks every result. The body is read in place: strings
/// are copied out only for the fields an import keeps.
pub fn parse_document(
    body: &[u8],
    kind: BodyKind,
    source: Option<SourceName>,
) -> Result<ParsedImport, DocumentError> {
    let top: TopLevel<'_> = serde_json::from_slice(body).map_err(|e| {
        if e.is_data() {
            DocumentError::Invalid(InvalidImport::new(
                ".",
                "must be a JSON object: a SARIF 2.1.0 log or {\"source\", \"findings\"}",
            ))
        } else {
            DocumentError::NotJson(e.to_string())
        }
    })?;
    let is_sarif = kind == BodyKind::Sarif || top.version.is_some() || top.runs.is_some();
    let parsed = if is_sarif {
        check_version(top.version)?;
        let runs = top
            .runs
            .ok_or_else(|| InvalidImport::new(".", "missing field `runs`"))?;
        let log = sarif::parse_runs(runs.get())?;
        let source = match source {
            Some(source) => source,
            None => log.source()?,
        };
        ParsedImport {
            format: ImportFormat::Sarif,
            source,
            results: log.results,
        }
    } else if let Some(findings) = top.findings {
        let body_source = top.source.map(native::parse_source).transpose()?;
        let source = source.or(body_source).ok_or_else(|| {
            InvalidParams::field(
                "source",
                "is required for the native format: give `?source=` or `source` in the body",
            )
        })?;
        ParsedImport {
            format: ImportFormat::Native,
            source,
            results: native::parse_findings(findings.get())?,
        }
    } else {
        return Err(InvalidImport::new(
            ".",
            "must be a SARIF 2.1.0 log (`version` and `runs`) or the native format (`source` and `findings`)",
        )
        .into());
    };
    if parsed.results.len() > MAX_RESULTS {
        let path = match parsed.format {
            ImportFormat::Sarif => "runs",
            ImportFormat::Native => "findings",
        };
        return Err(InvalidImport::new(
            path,
            format!(
                "holds {} results; an import takes at most {MAX_RESULTS}",
                parsed.results.len()
            ),
        )
        .into());
    }
    Ok(parsed)
}

fn check_version(version: Option<&RawValue>) -> Result<(), InvalidImport> {
    let raw = version.ok_or_else(|| InvalidImport::new(".", "missing field `version`"))?;
    match serde_json::from_str::<String>(raw.get()) {
        Ok(v) if v == "2.1.0" => Ok(()),
        Ok(v) => Err(InvalidImport::new(
            "version",
            format!("SARIF version {v:?} is not supported: only \"2.1.0\" is"),
        )),
        Err(_) => Err(InvalidImport::new(
            "version",
            format!("must be the string \"2.1.0\", not {}", excerpt(raw.get())),
        )),
    }
}

/// An optional integer as JSON Schema has it: a number with no fractional part (`12` or `12.0`),
/// within `i64`.
pub(crate) fn optional_i64<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<i64>, D::Error> {
    let Some(n) = Option::<serde_json::Number>::deserialize(d)? else {
        return Ok(None);
    };
    let whole = n.as_i64().or_else(|| {
        n.as_f64()
            .filter(|f| {
                f.fract() == 0.0
                    && (-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(f)
            })
            .map(|f| f as i64)
    });
    whole
        .map(Some)
        .ok_or_else(|| serde::de::Error::custom(format!("{n} is not an integer of 64 bits")))
}

/// As [`optional_i64`], within `u64`.
pub(crate) fn optional_u64<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<u64>, D::Error> {
    let Some(n) = Option::<serde_json::Number>::deserialize(d)? else {
        return Ok(None);
    };
    let whole = n.as_u64().or_else(|| {
        n.as_f64()
            .filter(|f| f.fract() == 0.0 && (0.0..1.844_674_407_370_955_2e19).contains(f))
            .map(|f| f as u64)
    });
    whole.map(Some).ok_or_else(|| {
        serde::de::Error::custom(format!("{n} is not a non-negative integer of 64 bits"))
    })
}

/// The start of a raw JSON value, for a message.
fn excerpt(raw: &str) -> String {
    let short: String = raw.chars().take(40).collect();
    if short.len() < raw.len() {
        format!("{short}…")
    } else {
        short
    }
}

/// Deserializes `raw` as `T`, naming the JSON path of the first problem under `prefix`.
pub(crate) fn at_path<'de, T: Deserialize<'de>>(
    prefix: &str,
    raw: &'de str,
) -> Result<T, InvalidImport> {
    let mut de = serde_json::Deserializer::from_str(raw);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let inner = e.path().to_string();
        let path = match inner.as_str() {
            "." => prefix.to_owned(),
            p if p.starts_with('[') => format!("{prefix}{p}"),
            p => format!("{prefix}.{p}"),
        };
        InvalidImport::new(path, strip_position(&e.into_inner().to_string()))
    })
}

/// serde_json's message without its ` at line L column C` (the path says where).
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}
