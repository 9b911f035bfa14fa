//! `csv`: a header row, then one row per finding, written as findings come.

use std::borrow::Cow;
use std::io::Write;

use chrono::NaiveDate;
use krafter_domain::export::{RenderError, RenderSession, ReportFinding};

use crate::view::rfc3339;

pub(crate) const CSV_HEADER: [&str; 15] = [
    "id",
    "title",
    "severity",
    "status",
    "priority_score",
    "created_at",
    "updated_at",
    "due_on",
    "age_days",
    "overdue",
    "source",
    "external_id",
    "rule_id",
    "location",
    "description",
];

/// `age_days` and `overdue` are as of the end of the period (`as_of`), when every listed finding
/// was open; `due_on` is empty without an SLA.
pub(crate) struct CsvSession {
    out: csv::Writer<Box<dyn Write + Send>>,
    as_of: NaiveDate,
}

impl CsvSession {
    pub fn start(as_of: NaiveDate, out: Box<dyn Write + Send>) -> Result<Self, RenderError> {
        let mut out = csv::WriterBuilder::new()
            .terminator(csv::Terminator::CRLF)
            .buffer_capacity(64 * 1024)
            .from_writer(out);
        out.write_record(CSV_HEADER).map_err(csv_error)?;
        Ok(Self { out, as_of })
    }
}

/// An optional text cell: empty when absent, defused like every text cell.
fn text(value: Option<&str>) -> Cow<'_, str> {
    value.map_or(Cow::Borrowed(""), defuse)
}

impl RenderSession for CsvSession {
    fn push(&mut self, findings: &[ReportFinding]) -> Result<(), RenderError> {
        for f in findings {
            let id = f.id.to_string();
            let priority = f.priority_score.to_string();
            let created = rfc3339(&f.created_at);
            let updated = rfc3339(&f.updated_at);
            let due = f.due_on.map(|d| d.to_string()).unwrap_or_default();
            let age = f.age_days(self.as_of).to_string();
            let overdue = if f.overdue_on(self.as_of) {
                "true"
            } else {
                "false"
            };
            let row = [
                defuse(&id),
                defuse(&f.title),
                defuse(f.severity.as_str()),
                defuse(f.status.as_str()),
                defuse(&priority),
                defuse(&created),
                defuse(&updated),
                Cow::Borrowed(due.as_str()),
                Cow::Borrowed(age.as_str()),
                Cow::Borrowed(overdue),
                text(f.provenance.source().map(|s| s.as_str())),
                text(f.provenance.external_id().map(|e| e.as_str())),
                text(f.provenance.rule_id.as_ref().map(|r| r.as_str())),
                text(f.provenance.location.as_ref().map(|l| l.as_str())),
                text(f.provenance.description.as_ref().map(|d| d.as_str())),
            ];
            self.out
                .write_record(row.iter().map(|cell| cell.as_bytes()))
                .map_err(csv_error)?;
        }
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> Result<(), RenderError> {
        self.out.flush()?;
        Ok(())
    }
}

/// Spreadsheet formula injection: a cell a spreadsheet would read as a formula gets a leading `'`.
pub fn defuse(cell: &str) -> Cow<'_, str> {
    match cell.as_bytes().first() {
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r') => Cow::Owned(format!("'{cell}")),
        _ => Cow::Borrowed(cell),
    }
}

fn csv_error(e: csv::Error) -> RenderError {
    if e.is_io_error() {
        match e.into_kind() {
            csv::ErrorKind::Io(io) => RenderError::Io(io),
            other => RenderError::Render(format!("{other:?}")),
        }
    } else {
        RenderError::Render(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::defuse;

    #[test]
    fn formula_cells_are_defused() {
        for cell in ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"] {
            assert_eq!(defuse(cell), format!("'{cell}"));
        }
        for cell in ["", "a=1", " =1", "'=1", "1-2"] {
            assert_eq!(defuse(cell), cell);
        }
    }
}
