//! SARIF 2.1.0: the members of a log an import reads (everything else is ignored), and how a
//! result becomes a [`ScanResult`].
//!
//! - Severity: `properties.security-severity` of the result, else of its rule (9.0 and above
//!   critical, 7.0 high, 4.0 medium, above 0 low, 0 info); otherwise the level (the result's
//!   `level`, else its rule's `defaultConfiguration.level`, else `warning`): `error` high,
//!   `warning` medium, `note` low, `none` info.
//! - Title: the rule's `shortDescription.text`, else the first line of the message, cut to 500
//!   characters; the whole message is the description (cut to 10,000).
//! - Location: the first location's `artifactLocation.uri`, with `:startLine` when there is one.
//! - Results of `kind` `pass` or `notApplicable` say that nothing was found and are skipped.

use std::collections::{BTreeMap, HashMap};

use serde::de::Deserializer;
use serde::Deserialize;

use crate::import::document::{at_path, optional_i64, optional_u64};
use crate::import::fingerprint::{Basis, Fingerprinter};
use crate::import::{default_priority, InvalidImport, ScanResult};
use crate::ledger::{
    Description, FindingStatus, FindingTitle, Location, RuleId, Severity, SourceName,
};
use crate::validation::is_forbidden_in_text;

#[derive(Deserialize)]
struct Run {
    tool: Tool,
    #[serde(default)]
    results: Option<Vec<SarifResult>>,
}

#[derive(Deserialize)]
struct Tool {
    driver: Driver,
}

#[derive(Deserialize)]
struct Driver {
    name: String,
    #[serde(default)]
    rules: Option<Vec<Rule>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Rule {
    id: String,
    short_description: Option<Message>,
    default_configuration: Option<RuleConfiguration>,
    properties: Option<Properties>,
}

#[derive(Deserialize)]
struct RuleConfiguration {
    level: Option<Level>,
}

#[derive(Deserialize)]
struct Message {
    text: Option<String>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Level {
    None,
    Note,
    Warning,
    Error,
}

#[derive(Deserialize)]
struct Properties {
    #[serde(rename = "security-severity", default, deserialize_with = "score")]
    security_severity: Option<f64>,
}

/// `security-severity` is a string in GitHub's documentation (`"8.8"`) and a number in some
/// tools' output; anything else, or a value outside 0 to 10, is no score (the level decides):
/// a tool's odd property does not stop an import.
fn score<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    let value = match serde_json::Value::deserialize(d)? {
        serde_json::Value::Number(n) => n.as_f64(),
        serde_json::Value::String(t) => t.trim().parse::<f64>().ok(),
        _ => None,
    };
    Ok(value.filter(|v| (0.0..=10.0).contains(v)))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SarifResult {
    rule_id: Option<String>,
    #[serde(default, deserialize_with = "optional_i64")]
    rule_index: Option<i64>,
    rule: Option<RuleReference>,
    message: Message,
    level: Option<Level>,
    kind: Option<String>,
    locations: Option<Vec<ResultLocation>>,
    fingerprints: Option<BTreeMap<String, String>>,
    partial_fingerprints: Option<BTreeMap<String, String>>,
    properties: Option<Properties>,
}

#[derive(Deserialize)]
struct RuleReference {
    id: Option<String>,
    #[serde(default, deserialize_with = "optional_i64")]
    index: Option<i64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ResultLocation {
    physical_location: Option<PhysicalLocation>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PhysicalLocation {
    artifact_location: Option<ArtifactLocation>,
    region: Option<Region>,
}

#[derive(Deserialize)]
struct ArtifactLocation {
    uri: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Region {
    #[serde(default, deserialize_with = "optional_u64")]
    start_line: Option<u64>,
    snippet: Option<ArtifactContent>,
}

#[derive(Deserialize)]
struct ArtifactContent {
    text: Option<String>,
}

/// The results of a log's runs, and the names of the tools that produced them.
pub(crate) struct SarifLog {
    pub results: Vec<ScanResult>,
    tools: Vec<String>,
}

impl SarifLog {
    /// The source the log names: its tool, when every run has the same one.
    pub fn source(&self) -> Result<SourceName, crate::import::document::DocumentError> {
        let mut names: Vec<&String> = self.tools.iter().collect();
        names.dedup();
        match names.as_slice() {
            [one] => SourceName::parse(one).map_err(|_| {
                crate::validation::InvalidParams::field(
                    "source",
                    "is required: the log's tool name (`tool.driver.name`) is not 1 to 100 characters of text",
                )
                .into()
            }),
            [] => Err(crate::validation::InvalidParams::field(
                "source",
                "is required when the log has no run to name its tool",
            )
            .into()),
            _ => Err(crate::validation::InvalidParams::field(
                "source",
                format!(
                    "is required when the runs come from different tools ({})",
                    names
                        .iter()
                        .map(|n| format!("{n:?}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
            .into()),
        }
    }
}

/// Reads `runs` (the raw text of the log's `runs`).
pub(crate) fn parse_runs(raw: &str) -> Result<SarifLog, InvalidImport> {
    let runs: Vec<Run> = at_path("runs", raw)?;
    let mut fingerprints = Fingerprinter::default();
    let mut results = Vec::new();
    let mut tools = Vec::with_capacity(runs.len());
    for run in runs {
        tools.push(run.tool.driver.name);
        let rules = run.tool.driver.rules.unwrap_or_default();
        let by_id: HashMap<&str, usize> = rules
            .iter()
            .enumerate()
            .map(|(i, r)| (r.id.as_str(), i))
            .collect();
        for result in run.results.unwrap_or_default() {
            if matches!(result.kind.as_deref(), Some("pass" | "notApplicable")) {
                continue;
            }
            let index = result
                .rule_index
                .or(result.rule.as_ref().and_then(|r| r.index));
            let id = result
                .rule_id
                .as_deref()
                .or(result.rule.as_ref().and_then(|r| r.id.as_deref()));
            let rule = index
                .and_then(|i| usize::try_from(i).ok())
                .and_then(|i| rules.get(i))
                .or_else(|| id.and_then(|id| by_id.get(id)).map(|&i| &rules[i]));
            let rule_id = id.or(rule.map(|r| r.id.as_str())).unwrap_or("");
            results.push(scan_result(&result, rule, rule_id, &mut fingerprints));
        }
    }
    Ok(SarifLog { results, tools })
}

fn scan_result(
    result: &SarifResult,
    rule: Option<&Rule>,
    rule_id: &str,
    fingerprints: &mut Fingerprinter,
) -> ScanResult {
    let severity = severity(result, rule);
    let message = result.message.text.as_deref().unwrap_or("");
    let physical = result
        .locations
        .as_ref()
        .and_then(|l| l.first())
        .and_then(|l| l.physical_location.as_ref());
    let uri = physical
        .and_then(|p| p.artifact_location.as_ref())
        .and_then(|a| a.uri.as_deref())
        .unwrap_or("");
    let region = physical.and_then(|p| p.region.as_ref());
    let line = region.and_then(|r| r.start_line);
    let snippet = region
        .and_then(|r| r.snippet.as_ref())
        .and_then(|s| s.text.as_deref())
        .filter(|s| !s.trim().is_empty());
    let basis = match (
        &result.fingerprints,
        &result.partial_fingerprints,
        snippet,
        line,
    ) {
        (Some(f), _, _, _) if !f.is_empty() => Basis::Fingerprints(f),
        (_, Some(f), _, _) if !f.is_empty() => Basis::PartialFingerprints(f),
        (_, _, Some(snippet), _) => Basis::Snippet { uri, snippet },
        (_, _, None, Some(line)) => Basis::Line { uri, line },
        (_, _, None, None) => Basis::Message { uri, message },
    };
    let location = (!uri.is_empty()).then(|| match line {
        Some(line) => format!("{uri}:{line}"),
        None => uri.to_owned(),
    });
    let short = rule
        .and_then(|r| r.short_description.as_ref())
        .and_then(|d| d.text.as_deref());
    let title = short
        .and_then(title_from)
        .or_else(|| title_from(message))
        .or_else(|| title_from(rule_id))
        .unwrap_or_else(|| FindingTitle::parse("Untitled result").expect("valid"));
    ScanResult {
        external_id: fingerprints.external_id(rule_id, &basis),
        title,
        severity,
        priority_score: default_priority(severity),
        status: FindingStatus::New,
        rule_id: RuleId::parse(&cut(rule_id, RuleId::MAX_CHARS)).ok(),
        location: location
            .and_then(|l| Location::parse(&cut(&clean(&l), Location::MAX_CHARS)).ok()),
        description: Description::lenient(message),
    }
}

fn severity(result: &SarifResult, rule: Option<&Rule>) -> Severity {
    let score = result
        .properties
        .as_ref()
        .and_then(|p| p.security_severity)
        .or(rule
            .and_then(|r| r.properties.as_ref())
            .and_then(|p| p.security_severity));
    if let Some(score) = score {
        return match score {
            s if s >= 9.0 => Severity::Critical,
            s if s >= 7.0 => Severity::High,
            s if s >= 4.0 => Severity::Medium,
            s if s > 0.0 => Severity::Low,
            _ => Severity::Info,
        };
    }
    let level = result
        .level
        .or(rule
            .and_then(|r| r.default_configuration.as_ref())
            .and_then(|c| c.level))
        .unwrap_or(Level::Warning);
    match level {
        Level::Error => Severity::High,
        Level::Warning => Severity::Medium,
        Level::Note => Severity::Low,
        Level::None => Severity::Info,
    }
}

/// The first line of `text` as a title: forbidden characters become spaces, cut to 500
/// characters at a character boundary; `None` when nothing visible is left.
fn title_from(text: &str) -> Option<FindingTitle> {
    let first = text.lines().find(|l| !l.trim().is_empty())?;
    FindingTitle::parse(cut(&clean(first), FindingTitle::MAX_CHARS).trim()).ok()
}

fn clean(text: &str) -> String {
    text.chars()
        .map(|c| if is_forbidden_in_text(c) { ' ' } else { c })
        .collect()
}

fn cut(text: &str, max_chars: usize) -> String {
    text.chars().take(max_chars).collect()
}
