//! `pdf`: a real PDF, laid out by Typst used as a library.
//!
//! The document is a fixed Typst source (`report.typ`) that reads everything it shows from a
//! virtual JSON file, `/data.json`, which this module's [`World`] serves. User text therefore
//! never becomes Typst markup: it reaches the page as string values.

use std::io::{BufWriter, Write};
use std::sync::OnceLock;

use chrono::{DateTime, Datelike, Timelike, Utc};
use krafter_domain::export::{RenderError, RenderSession, ReportFinding, ReportHeader};
use typst::diag::{FileError, FileResult, SourceDiagnostic};
use typst::foundations::{Bytes, Datetime, Smart};
use typst::layout::PagedDocument;
use typst::syntax::{FileId, Source, VirtualPath};
use typst::text::{Font, FontBook};
use typst::utils::LazyHash;
use typst::{Library, LibraryExt, World};

use crate::fonts::{fonts, Fonts};
use crate::view::{Listed, ReportView};

const TEMPLATE: &str = include_str!("report.typ");
const DATA_PATH: &str = "/data.json";

pub(crate) struct PdfSession {
    header: ReportHeader,
    listed: Listed,
    out: Box<dyn Write + Send>,
}

impl PdfSession {
    pub fn start(header: &ReportHeader, out: Box<dyn Write + Send>) -> Self {
        Self {
            header: header.clone(),
            listed: Listed::default(),
            out,
        }
    }
}

impl RenderSession for PdfSession {
    fn push(&mut self, findings: &[ReportFinding]) -> Result<(), RenderError> {
        self.listed.push(findings);
        Ok(())
    }

    fn finish(self: Box<Self>) -> Result<(), RenderError> {
        let mut view = ReportView::new(&self.header, &self.listed);
        for row in &mut view.findings {
            row.title = breakable(&row.title);
        }
        let pdf = render_pdf(&view, &self.header)?;
        let mut out = BufWriter::with_capacity(64 * 1024, self.out);
        out.write_all(&pdf)?;
        out.flush()?;
        Ok(())
    }
}

/// Lays the report out and writes it as PDF bytes.
pub(crate) fn render_pdf(view: &ReportView, header: &ReportHeader) -> Result<Vec<u8>, RenderError> {
    let data = serde_json::to_vec(view).map_err(|e| RenderError::Render(e.to_string()))?;
    let world = ReportWorld::new(data, header.generated_at);
    let compiled = typst::compile::<PagedDocument>(&world).output;
    // Typst memoises across compilations; a report is compiled once, so keep nothing.
    typst::comemo::evict(0);
    let document = compiled.map_err(|errors| diagnostics("lay out the PDF", &errors))?;
    let ident = header.report.id.to_string();
    let options = typst_pdf::PdfOptions {
        ident: Smart::Custom(&ident),
        timestamp: Some(typst_pdf::Timestamp::new_utc(datetime(header.generated_at))),
        ..Default::default()
    };
    typst_pdf::pdf(&document, &options).map_err(|errors| diagnostics("write the PDF", &errors))
}

/// Typst breaks lines only where Unicode allows it, so a long run without a break opportunity
/// (`xxxx…`, a hash, a path) would overflow its table column. This lets it break, with a zero
/// width space, after every `BREAK_RUN` characters of such a run.
fn breakable(text: &str) -> String {
    const BREAK_RUN: usize = 24;
    let mut out = String::with_capacity(text.len() + text.len() / BREAK_RUN * 3);
    let mut run = 0;
    for c in text.chars() {
        if run == BREAK_RUN && !c.is_whitespace() {
            out.push('\u{200B}');
            run = 0;
        }
        out.push(c);
        run = if c.is_whitespace() || matches!(c, '-' | '/' | '\u{200B}') {
            0
        } else {
            run + 1
        };
    }
    out
}

fn diagnostics(what: &str, errors: &[SourceDiagnostic]) -> RenderError {
    let messages: Vec<&str> = errors.iter().map(|e| e.message.as_str()).collect();
    RenderError::Render(format!("could not {what}: {}", messages.join("; ")))
}

fn datetime(at: DateTime<Utc>) -> Datetime {
    Datetime::from_ymd_hms(
        at.year(),
        at.month() as u8,
        at.day() as u8,
        at.hour() as u8,
        at.minute() as u8,
        at.second().min(59) as u8,
    )
    .unwrap_or_else(|| Datetime::from_ymd(1970, 1, 1).expect("a valid date"))
}

/// The standard library, loaded once per process.
fn library() -> &'static LazyHash<Library> {
    static LIBRARY: OnceLock<LazyHash<Library>> = OnceLock::new();
    LIBRARY.get_or_init(|| LazyHash::new(Library::default()))
}

/// A world of two files: the report's source and its data. No file system, no network.
struct ReportWorld {
    fonts: &'static Fonts,
    main: Source,
    data_id: FileId,
    data: Bytes,
    today: DateTime<Utc>,
}

impl ReportWorld {
    fn new(data: Vec<u8>, today: DateTime<Utc>) -> Self {
        let main_id = FileId::new(None, VirtualPath::new("/report.typ"));
        Self {
            fonts: fonts(),
            main: Source::new(main_id, TEMPLATE.to_owned()),
            data_id: FileId::new(None, VirtualPath::new(DATA_PATH)),
            data: Bytes::new(data),
            today,
        }
    }
}

impl World for ReportWorld {
    fn library(&self) -> &LazyHash<Library> {
        library()
    }

    fn book(&self) -> &LazyHash<FontBook> {
        &self.fonts.book
    }

    fn main(&self) -> FileId {
        self.main.id()
    }

    fn source(&self, id: FileId) -> FileResult<Source> {
        if id == self.main.id() {
            Ok(self.main.clone())
        } else {
            Err(FileError::NotFound(id.vpath().as_rootless_path().into()))
        }
    }

    fn file(&self, id: FileId) -> FileResult<Bytes> {
        if id == self.data_id {
            Ok(self.data.clone())
        } else {
            Err(FileError::NotFound(id.vpath().as_rootless_path().into()))
        }
    }

    fn font(&self, index: usize) -> Option<Font> {
        self.fonts.font(index)
    }

    fn today(&self, offset: Option<i64>) -> Option<Datetime> {
        let at = self.today + chrono::Duration::hours(offset.unwrap_or(0));
        Datetime::from_ymd(at.year(), at.month() as u8, at.day() as u8)
    }
}

#[cfg(test)]
mod tests {
    use super::breakable;

    #[test]
    fn long_runs_get_break_opportunities() {
        assert_eq!(
            breakable("short words stay as they are"),
            "short words stay as they are"
        );
        let long = "x".repeat(60);
        let broken = breakable(&long);
        assert_eq!(broken.replace('\u{200B}', ""), long);
        assert_eq!(broken.matches('\u{200B}').count(), 2);
        assert_eq!(
            breakable(&format!("a/{}", "b".repeat(24))),
            format!("a/{}", "b".repeat(24))
        );
    }
}
