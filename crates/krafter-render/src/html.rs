//! `html`: one self-contained page (inline CSS, inline SVG chart, no external requests).

use std::io::{BufWriter, Write};

use askama::Template;
use krafter_domain::export::{RenderError, RenderSession, ReportFinding, ReportHeader};

use crate::view::{Listed, ReportView};

#[derive(Template)]
#[template(path = "report.html", escape = "html")]
struct Page<'a> {
    v: &'a ReportView,
}

pub(crate) struct HtmlSession {
    header: ReportHeader,
    listed: Listed,
    out: Box<dyn Write + Send>,
}

impl HtmlSession {
    pub fn start(header: &ReportHeader, out: Box<dyn Write + Send>) -> Self {
        Self {
            header: header.clone(),
            listed: Listed::default(),
            out,
        }
    }
}

impl RenderSession for HtmlSession {
    fn push(&mut self, findings: &[ReportFinding]) -> Result<(), RenderError> {
        self.listed.push(findings);
        Ok(())
    }

    fn finish(self: Box<Self>) -> Result<(), RenderError> {
        let view = ReportView::new(&self.header, &self.listed);
        let mut out = BufWriter::with_capacity(64 * 1024, self.out);
        Page { v: &view }.write_into(&mut out)?;
        out.flush()?;
        Ok(())
    }
}
