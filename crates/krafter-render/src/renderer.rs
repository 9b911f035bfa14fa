use std::io::Write;

use krafter_domain::export::{
    ExportFormat, RenderError, RenderSession, ReportHeader, ReportRenderer,
};

use crate::csv_format::CsvSession;
use crate::html::HtmlSession;
use crate::json::JsonSession;
use crate::pdf::PdfSession;

/// Renders a report in the format it asks for (`header.report.format`).
///
/// JSON and CSV are written as findings are pushed; HTML and PDF keep the first
/// [`LISTED_FINDINGS`](crate::LISTED_FINDINGS) findings and a count, and are written at `finish`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Renderer;

impl Renderer {
    pub fn new() -> Self {
        Self
    }
}

impl ReportRenderer for Renderer {
    fn start(
        &self,
        header: &ReportHeader,
        out: Box<dyn Write + Send>,
    ) -> Result<Box<dyn RenderSession>, RenderError> {
        Ok(match header.report.format {
            ExportFormat::Json => Box::new(JsonSession::start(header, out)?),
            ExportFormat::Csv => Box::new(CsvSession::start(header.report.period_end, out)?),
            ExportFormat::Html => Box::new(HtmlSession::start(header, out)),
            ExportFormat::Pdf => Box::new(PdfSession::start(header, out)),
        })
    }
}
