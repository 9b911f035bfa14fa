//! `json`: `{"report": {…}, "summary": <snapshot>, "remediation": {…}, "previous_period":
//! {…}, "findings": [ … ]}`, written as findings come.

use std::io::{BufWriter, Write};

use chrono::NaiveDate;
use krafter_domain::export::{RenderError, RenderSession, ReportFinding, ReportHeader};
use serde::Serialize;

use crate::view::rfc3339;

#[derive(Serialize)]
struct ReportJson<'a> {
    id: String,
    org_id: String,
    /// The project's slug, as users address projects.
    project_id: &'a str,
    period_start: String,
    period_end: String,
    generated_at: String,
    definitions_version: u32,
}

#[derive(Serialize)]
struct FindingJson<'a> {
    id: String,
    title: &'a str,
    severity: &'static str,
    status: &'static str,
    priority_score: i32,
    created_at: String,
    updated_at: String,
    due_on: Option<NaiveDate>,
    source: Option<&'a str>,
    external_id: Option<&'a str>,
    rule_id: Option<&'a str>,
    location: Option<&'a str>,
    description: Option<&'a str>,
}

pub(crate) struct JsonSession {
    out: BufWriter<Box<dyn Write + Send>>,
    first: bool,
}

impl JsonSession {
    pub fn start(header: &ReportHeader, out: Box<dyn Write + Send>) -> Result<Self, RenderError> {
        let mut out = BufWriter::with_capacity(64 * 1024, out);
        let report = &header.report;
        out.write_all(b"{\"report\":")?;
        serde_json::to_writer(
            &mut out,
            &ReportJson {
                id: report.id.to_string(),
                org_id: report.org_id.to_string(),
                project_id: &header.project_slug,
                period_start: report.period_start.to_string(),
                period_end: report.period_end.to_string(),
                generated_at: rfc3339(&header.generated_at),
                definitions_version: report.definitions_version,
            },
        )
        .map_err(json_error)?;
        out.write_all(b",\"summary\":")?;
        serde_json::to_writer(&mut out, &report.snapshot).map_err(json_error)?;
        // Reports requested before reports captured their remediation have neither part.
        if let Some(executive) = &report.remediation {
            out.write_all(b",\"remediation\":")?;
            serde_json::to_writer(&mut out, &executive.remediation).map_err(json_error)?;
            out.write_all(b",\"previous_period\":")?;
            serde_json::to_writer(&mut out, &executive.previous_period).map_err(json_error)?;
        }
        out.write_all(b",\"findings\":[")?;
        Ok(Self { out, first: true })
    }
}

impl RenderSession for JsonSession {
    fn push(&mut self, findings: &[ReportFinding]) -> Result<(), RenderError> {
        for f in findings {
            if !self.first {
                self.out.write_all(b",")?;
            }
            self.first = false;
            serde_json::to_writer(
                &mut self.out,
                &FindingJson {
                    id: f.id.to_string(),
                    title: &f.title,
                    severity: f.severity.as_str(),
                    status: f.status.as_str(),
                    priority_score: f.priority_score,
                    created_at: rfc3339(&f.created_at),
                    updated_at: rfc3339(&f.updated_at),
                    due_on: f.due_on,
                    source: f.provenance.source().map(|s| s.as_str()),
                    external_id: f.provenance.external_id().map(|e| e.as_str()),
                    rule_id: f.provenance.rule_id.as_ref().map(|r| r.as_str()),
                    location: f.provenance.location.as_ref().map(|l| l.as_str()),
                    description: f.provenance.description.as_ref().map(|d| d.as_str()),
                },
            )
            .map_err(json_error)?;
        }
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> Result<(), RenderError> {
        self.out.write_all(b"]}\n")?;
        self.out.flush()?;
        Ok(())
    }
}

/// serde_json fails on I/O only here (every value serialises); keep the I/O error as it was.
fn json_error(e: serde_json::Error) -> RenderError {
    if e.is_io() {
        RenderError::Io(e.into())
    } else {
        RenderError::Render(e.to_string())
    }
}
