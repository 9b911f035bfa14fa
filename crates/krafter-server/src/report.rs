//! `krafter report show ID`: a report as operators see it, with what clients never see (the
//! full detail of the last failed attempt), as text or as one JSON object.

use chrono::{DateTime, SecondsFormat, Utc};
use krafter_domain::export::ReportId;
use krafter_postgres::{PgStore, ReportRecord};
use serde_json::{json, Value};

use crate::admin::CommandError;

pub async fn show(store: &PgStore, id: &str, as_json: bool) -> Result<(), CommandError> {
    let id: ReportId = id.trim().parse().map_err(|_| {
        CommandError::Invalid(format!("invalid id: {id:?} is not a report id (a UUID)"))
    })?;
    let record = store
        .report_record(id)
        .await
        .map_err(CommandError::failed)?
        .ok_or_else(|| CommandError::Invalid(format!("no report {id}")))?;
    if as_json {
        println!("{}", to_json(&record));
    } else {
        print!("{}", to_text(&record));
    }
    Ok(())
}

fn time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

pub fn to_json(r: &ReportRecord) -> Value {
    json!({
        "id": r.id.to_string(),
        "org_id": r.org_id.to_string(),
        "project_id": r.project_id.to_string(),
        "project": r.project_slug,
        "status": r.status.as_str(),
        "format": r.format.as_str(),
        "period_start": r.period_start.to_string(),
        "period_end": r.period_end.to_string(),
        "attempts": r.attempts,
        "next_attempt_at": r.next_attempt_at.map(time),
        "error": r.error,
        "error_detail": r.error_detail,
        "artefact_key": r.artefact_key,
        "artefact_size": r.artefact_size,
        "created_at": time(r.created_at),
        "updated_at": time(r.updated_at),
        "exported_at": r.exported_at.map(time),
        "shared_at": r.shared_at.map(time),
    })
}

/// One `name: value` line per field; `-` for what is not set.
pub fn to_text(r: &ReportRecord) -> String {
    let or_dash = |v: Option<String>| v.unwrap_or_else(|| "-".to_owned());
    let artefact = match (&r.artefact_key, r.artefact_size) {
        (Some(key), Some(size)) => format!("{key} ({size} bytes)"),
        _ => "-".to_owned(),
    };
    let lines = [
        ("report", r.id.to_string()),
        ("organisation", r.org_id.to_string()),
        ("project", format!("{} ({})", r.project_slug, r.project_id)),
        ("status", r.status.as_str().to_owned()),
        ("format", r.format.as_str().to_owned()),
        ("period", format!("{} to {}", r.period_start, r.period_end)),
        ("attempts", r.attempts.to_string()),
        ("next attempt", or_dash(r.next_attempt_at.map(time))),
        ("error", or_dash(r.error.clone())),
        ("detail", or_dash(r.error_detail.clone())),
        ("artefact", artefact),
        ("created", time(r.created_at)),
        ("updated", time(r.updated_at)),
        ("exported", or_dash(r.exported_at.map(time))),
        ("shared", or_dash(r.shared_at.map(time))),
    ];
    lines
        .iter()
        .map(|(name, value)| format!("{:<14}{value}\n", format!("{name}:")))
        .collect()
}
