//! The native bulk format: `{"source": "…", "findings": [{external_id, title, severity,
//! priority_score?, status?, rule_id?, location?, description?}]}`, checked as strictly as a
//! single finding is.

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::import::document::at_path;
use crate::import::{default_priority, InvalidImport, ScanResult};
use crate::ledger::{
    Description, ExternalId, FindingStatus, FindingTitle, Location, PriorityScore, RuleId,
    Severity, SourceName,
};
use crate::validation::InvalidParams;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NativeFinding {
    external_id: String,
    title: String,
    severity: String,
    #[serde(default, deserialize_with = "crate::import::document::optional_i64")]
    priority_score: Option<i64>,
    status: Option<String>,
    rule_id: Option<String>,
    location: Option<String>,
    description: Option<String>,
}

pub(crate) fn parse_source(raw: &RawValue) -> Result<SourceName, InvalidImport> {
    let text: String = at_path("source", raw.get())?;
    SourceName::parse(&text).map_err(|e| first("source", e))
}

pub(crate) fn parse_findings(raw: &str) -> Result<Vec<ScanResult>, InvalidImport> {
    let findings: Vec<NativeFinding> = at_path("findings", raw)?;
    let mut seen: HashMap<String, usize> = HashMap::with_capacity(findings.len());
    let mut results = Vec::with_capacity(findings.len());
    for (i, f) in findings.into_iter().enumerate() {
        let field = |name: &str| format!("findings[{i}].{name}");
        let external_id =
            ExternalId::parse(&f.external_id).map_err(|e| first(&field("external_id"), e))?;
        if let Some(earlier) = seen.insert(f.external_id, i) {
            return Err(InvalidImport::new(
                field("external_id"),
                format!("repeats findings[{earlier}].external_id: each result appears once"),
            ));
        }
        let severity = Severity::parse(&f.severity).map_err(|e| first(&field("severity"), e))?;
        results.push(ScanResult {
            external_id,
            title: FindingTitle::parse(&f.title).map_err(|e| first(&field("title"), e))?,
            severity,
            priority_score: match f.priority_score {
                Some(p) => {
                    PriorityScore::parse(p).map_err(|e| first(&field("priority_score"), e))?
                }
                None => default_priority(severity),
            },
            status: match f.status {
                Some(s) => FindingStatus::parse(&s).map_err(|e| first(&field("status"), e))?,
                None => FindingStatus::New,
            },
            rule_id: f
                .rule_id
                .map(|r| RuleId::parse(&r))
                .transpose()
                .map_err(|e| first(&field("rule_id"), e))?,
            location: f
                .location
                .map(|l| Location::parse(&l))
                .transpose()
                .map_err(|e| first(&field("location"), e))?,
            description: f
                .description
                .map(|d| Description::parse(&d))
                .transpose()
                .map_err(|e| first(&field("description"), e))?,
        });
    }
    Ok(results)
}

/// The first field error, under the document's path of the field.
fn first(path: &str, error: InvalidParams) -> InvalidImport {
    let message = error
        .fields()
        .first()
        .map(|f| f.message.clone())
        .unwrap_or_else(|| "is invalid".to_owned());
    InvalidImport::new(path, message)
}
