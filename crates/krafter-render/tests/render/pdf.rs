use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use krafter_domain::export::ExportFormat;
use lopdf::{Dictionary, Document, Object};

use crate::{artefact_dir, findings, header, render, ORGANISATION, PROJECT_NAME, PROJECT_SLUG};

/// A PDF read back in Rust (lopdf): its pages, their text, its fonts. Nothing to install.
struct Pdf(Document);

impl Pdf {
    fn read(path: &Path) -> Pdf {
        let bytes = std::fs::read(path).unwrap();
        Pdf(Document::load_mem(&bytes)
            .unwrap_or_else(|e| panic!("{} does not parse as a PDF: {e}", path.display())))
    }

    fn pages(&self) -> usize {
        self.0.get_pages().len()
    }

    /// The text of every page, in the order the pages draw it.
    fn text(&self) -> String {
        let pages: Vec<u32> = self.0.get_pages().into_keys().collect();
        self.0.extract_text(&pages).expect("the text reads back")
    }

    /// The text of one page (1-based).
    fn page_text(&self, page: usize) -> String {
        assert!((1..=self.pages()).contains(&page), "no page {page}");
        self.0
            .extract_text(&[page as u32])
            .unwrap_or_else(|e| panic!("the text of page {page} reads back: {e}"))
    }

    /// The fonts of every page, by name without the subset tag (`ABCDEF+`); each one must be
    /// embedded, so that the PDF shows the same everywhere.
    fn fonts(&self) -> BTreeSet<String> {
        let mut names = BTreeSet::new();
        for (number, page) in self.0.get_pages() {
            for font in self.0.get_page_fonts(page).unwrap().into_values() {
                let name = String::from_utf8_lossy(
                    font.get(b"BaseFont")
                        .and_then(Object::as_name)
                        .unwrap_or(b"?"),
                )
                .into_owned();
                let name = match name.split_once('+') {
                    Some((tag, rest)) if tag.len() == 6 => rest.to_owned(),
                    _ => name,
                };
                assert!(
                    self.embedded(font),
                    "font {name} on page {number} is not embedded"
                );
                names.insert(name);
            }
        }
        names
    }

    /// Whether a font carries its glyphs: a font file in its descriptor (a Type 0 font's is its
    /// descendant's), or glyph procedures (Type 3).
    fn embedded(&self, font: &Dictionary) -> bool {
        let doc = &self.0;
        let subtype = font
            .get(b"Subtype")
            .and_then(Object::as_name)
            .unwrap_or(b"");
        let font = match subtype {
            b"Type3" => return font.has(b"CharProcs"),
            b"Type0" => match font
                .get_deref(b"DescendantFonts", doc)
                .and_then(Object::as_array)
                .ok()
                .and_then(|fonts| fonts.first())
                .and_then(|first| doc.dereference(first).ok())
                .and_then(|(_, first)| first.as_dict().ok())
            {
                Some(descendant) => descendant,
                None => return false,
            },
            _ => font,
        };
        font.get_deref(b"FontDescriptor", doc)
            .and_then(Object::as_dict)
            .is_ok_and(|descriptor| {
                [&b"FontFile"[..], b"FontFile2", b"FontFile3"]
                    .iter()
                    .any(|key| descriptor.has(key))
            })
    }
}

/// Text with all white space removed: table cells wrap and each reader lays lines out its own
/// way (zero width spaces too: the PDF lets long runs of text break with them).
fn squeeze(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_whitespace() && *c != '\u{200B}')
        .collect()
}

fn assert_shows(haystack: &str, needle: &str) {
    assert!(
        squeeze(haystack).contains(&squeeze(needle)),
        "the PDF's text does not show {needle:?}"
    );
}

fn write(name: &str, pdf: &[u8]) -> std::path::PathBuf {
    assert!(
        pdf.starts_with(b"%PDF-"),
        "not a PDF: {:?}",
        &pdf[..pdf.len().min(16)]
    );
    let path = artefact_dir("pdf").join(name);
    std::fs::write(&path, pdf).unwrap();
    path
}

/// What the page of a short report shows, besides its findings' titles.
const SHORT_REPORT_SHOWS: &[&str] = &[
    ORGANISATION,
    PROJECT_NAME,
    PROJECT_SLUG,
    "2026-03-01 to 2026-03-07",
    // The four metrics, as the page renders them.
    "Risk burn-down",
    "978", // the open risk score at the end of the period…
    "open risk score on 2026-03-07",
    "(-222)", // …and its change over the period
    "Verification pass rate",
    "66.7%",
    "exact 0.6666666666666666",
    "Regression rate",
    "12.5%",
    "exact 0.125",
    "Open findings",
    "4321",
    // Chart labels.
    "2026-03-04",
];

#[test]
fn a_short_report_shows_everything_on_one_page() {
    let header = header(ExportFormat::Pdf, 7);
    let input = findings(3);
    let pdf = Pdf::read(&write("three.pdf", &render(&header, &input, 2)));
    assert_eq!(pdf.pages(), 1);
    let text = pdf.text();
    for needle in SHORT_REPORT_SHOWS {
        assert_shows(&text, needle);
    }
    // User text, Typst's special characters included, shows literally.
    for title in &input {
        assert_shows(&text, &title.title);
    }
    assert!(!squeeze(&text).contains("more"), "nothing is left out of 3");
    // The template's fonts, from typst-assets, embedded (subsets): the PDF needs none installed
    // to show the same everywhere, and nothing fell back to another font.
    let fonts = pdf.fonts();
    for family in [
        "LibertinusSerif-Regular",
        "LibertinusSerif-Bold",
        "DejaVuSansMono",
    ] {
        assert!(
            fonts.iter().any(|font| font.starts_with(family)),
            "no {family} font in {fonts:?}"
        );
    }
    assert!(
        fonts
            .iter()
            .all(|font| ["LibertinusSerif", "NewCM", "DejaVuSansMono"]
                .iter()
                .any(|family| font.starts_with(family))),
        "a font the template does not name: {fonts:?}"
    );
}

#[test]
fn a_thousand_findings_fill_the_table_and_the_rest_are_counted() {
    let header = header(ExportFormat::Pdf, 30);
    let input = findings(1_500);
    let pdf = Pdf::read(&write("fifteen-hundred.pdf", &render(&header, &input, 500)));
    let count = pdf.pages();
    let text = pdf.text();
    for title in input.iter().take(20).filter(|f| !f.title.contains("日本")) {
        assert_shows(&text, &title.title);
    }
    assert_shows(&text, "Ünïcödé café — naïve résumé");
    // The 1,000th is listed, on the last page, with the count of the rest after it.
    let last = pdf.page_text(count);
    assert_shows(&last, &input[999].title);
    assert_shows(&last, "and 500 more");
    assert!(
        !squeeze(&text).contains(&squeeze(&input[1000].title)),
        "the 1,001st is not listed"
    );

    // The same thousand alone: the same pages, and no "more".
    let pdf = Pdf::read(&write(
        "thousand.pdf",
        &render(&header, &input[..1000], 1000),
    ));
    assert_eq!(pdf.pages(), count);
    let last = pdf.page_text(count);
    assert_shows(&last, &input[999].title);
    assert!(!squeeze(&last).contains("more"), "{last}");
    // The table's header repeats on every page.
    for page in 2..=count {
        let text = pdf.page_text(page);
        for column in [
            "Title", "Severity", "Status", "Priority", "Created", "Updated",
        ] {
            assert!(text.contains(column), "no {column} header on page {page}");
        }
    }
    // The first page holds the header, the metrics, the chart and 27 rows (two of them two
    // lines high), each later page 60 one-line rows: 27 + 16 × 60 < 1,000 ≤ 27 + 17 × 60.
    assert_eq!(count, 18, "pages for 1,000 rows");
}

#[test]
fn a_year_long_period_and_no_findings_still_render() {
    let header = header(ExportFormat::Pdf, 366);
    let pdf = Pdf::read(&write("year-empty.pdf", &render(&header, &[], 10)));
    assert_eq!(pdf.pages(), 1);
    let text = pdf.text();
    assert_shows(&text, "No open findings at the end of the period.");
    assert_shows(&text, "2026-03-01 to 2027-03-01");
}

#[test]
fn a_long_unbroken_title_stays_in_its_column() {
    let header = header(ExportFormat::Pdf, 2);
    let mut input = findings(2);
    input[0].title = "x".repeat(500);
    input[1].title = format!("https://scanner.example/findings/{}", "a1b2c3d4".repeat(40));
    let text = Pdf::read(&write("long-title.pdf", &render(&header, &input, 10))).text();
    assert_shows(&text, &input[0].title);
    assert_shows(&text, &input[1].title);
}

/// Runs a poppler tool; a missing tool fails the test, saying what to install.
fn poppler(tool: &str, args: &[&str]) -> String {
    let output = Command::new(tool).args(args).output().unwrap_or_else(|e| {
        panic!(
            "could not run `{tool}` ({e}): this test needs poppler-utils \
             (Debian: apt-get install -y poppler-utils; macOS: brew install poppler)"
        )
    });
    assert!(
        output.status.success(),
        "{tool} {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("UTF-8 text")
}

/// pdftotext is what users read the PDF with: it reads what the tests above read with lopdf.
#[test]
#[ignore = "needs poppler-utils (pdftotext, pdfinfo); .ci/run runs it"]
fn poppler_reads_what_lopdf_reads() {
    let header = header(ExportFormat::Pdf, 7);
    let input = findings(3);
    let path = write("three-poppler.pdf", &render(&header, &input, 2));
    let path = path.to_str().unwrap();
    let info = poppler("pdfinfo", &[path]);
    assert!(
        info.lines()
            .any(|l| l.starts_with("Pages:") && l.trim_end().ends_with(" 1")),
        "{info}"
    );
    let text = poppler("pdftotext", &["-enc", "UTF-8", path, "-"]);
    for needle in SHORT_REPORT_SHOWS {
        assert_shows(&text, needle);
    }
    for title in &input {
        assert_shows(&text, &title.title);
    }
    // The same characters, whatever order each reader puts the lines in.
    let sorted = |text: &str| {
        let mut chars: Vec<char> = squeeze(text).chars().collect();
        chars.sort_unstable();
        chars.into_iter().collect::<String>()
    };
    let lopdf = Pdf::read(Path::new(path)).text();
    assert_eq!(
        sorted(&text),
        sorted(&lopdf),
        "pdftotext: {text}\nlopdf: {lopdf}"
    );
}
