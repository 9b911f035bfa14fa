use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use krafter_domain::export::ExportFormat;
use lopdf::{Dictionary, Document, Object};

use crate::{
    artefact_dir, findings, header, render, EXECUTIVE_SHOWS, ORGANISATION, PROJECT_NAME,
    PROJECT_SLUG,
};

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
                // Type 3 fonts need no name: they are called that.
                let name = String::from_utf8_lossy(
                    font.get(b"BaseFont")
                        .and_then(Object::as_name)
                        .unwrap_or(b"Type3"),
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

/// What the first page of a short report shows, besides its findings' titles.
const SHORT_REPORT_SHOWS: &[&str] = &[
    ORGANISATION,
    PROJECT_NAME,
    PROJECT_SLUG,
    "1 to 7 March 2026",
    // The four metrics, as the page renders them: grouped, to one decimal, words for raw floats.
    "Open risk score",
    // Each panel's lines one by one: readers interleave the lines of panels side by side.
    "978", // the open risk score at the end of the period…
    "1,200 on 1",
    "(-222)", // …and its change over the period
    "Verification pass rate",
    "66.7%",
    "of the verifications",
    "Regression rate",
    "12.5%",
    "of closed findings came back",
    "Open findings",
    "4,321",
    // Chart labels.
    "4 Mar",
];
#[test]
fn a_short_report_shows_the_summary_the_remediation_and_the_findings_on_three_pages() {
    let header = header(ExportFormat::Pdf, 7);
    let input = findings(3);
    let pdf = Pdf::read(&write("three.pdf", &render(&header, &input, 2)));
    assert_eq!(pdf.pages(), 3);
    let first = pdf.page_text(1);
    for needle in SHORT_REPORT_SHOWS {
        assert_shows(&first, needle);
    }
    // The executive summary comes first, before the metrics.
    let squeezed = squeeze(&first);
    let at = |needle: &str| {
        squeezed
            .find(needle)
            .unwrap_or_else(|| panic!("no {needle} on the first page: {first}"))
    };
    assert!(at("Executivesummary") < at("Verificationpassrate"));
    let text = pdf.text();
    for needle in EXECUTIVE_SHOWS {
        assert_shows(&text, needle);
    }
    assert_shows(&pdf.page_text(2), "Remediation, 1 to 7 March 2026");
    assert_shows(
        &pdf.page_text(3),
        "Open findings at the end of 7 March 2026 (3)",
    );
    // Labels for people, not the API's codes; due dates, past ones marked.
    assert_shows(&text, "In progress");
    assert!(!text.contains("in_progress"), "{text}");
    assert_shows(&text, "11 Feb 2026 (overdue)");
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
    // The table's header repeats on every page of it, from the third.
    for page in 3..=count {
        let text = pdf.page_text(page);
        for column in [
            "Title", "Severity", "Status", "Priority", "Created", "Updated",
        ] {
            assert!(text.contains(column), "no {column} header on page {page}");
        }
    }
    // Page 1 holds the summary, page 2 the remediation; from page 3 the table, at most 60
    // one-line rows a page (the first under the heading, two of the rows two lines high):
    // 16 × 60 < 1,000 ≤ 17 × 60.
    assert_eq!(count, 2 + 17, "pages for 1,000 rows");
}

#[test]
fn a_year_long_period_and_no_findings_still_render() {
    let header = header(ExportFormat::Pdf, 366);
    let pdf = Pdf::read(&write("year-empty.pdf", &render(&header, &[], 10)));
    assert_eq!(pdf.pages(), 3);
    let text = pdf.text();
    assert_shows(&text, "No open findings at the end of the period.");
    assert_shows(&text, "1 March 2026 to 1 March 2027");
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
            .any(|l| l.starts_with("Pages:") && l.trim_end().ends_with(" 3")),
        "{info}"
    );
    let text = poppler("pdftotext", &["-enc", "UTF-8", path, "-"]);
    for needle in SHORT_REPORT_SHOWS.iter().chain(EXECUTIVE_SHOWS) {
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

/// Titles in Chinese, Japanese and Korean, and with emoji, print as themselves, laid out with
/// the system's fonts (the bundled ones lack the glyphs), embedded like the others.
#[test]
#[ignore = "needs fonts-noto-cjk and fonts-noto-color-emoji; .ci/run installs them"]
fn cjk_and_emoji_titles_are_laid_out_with_the_systems_fonts() {
    let coverage = krafter_render::font_coverage();
    assert!(
        coverage.cjk && coverage.emoji,
        "{coverage:?}: this test needs Debian's fonts-noto-cjk and fonts-noto-color-emoji \
         (apt-get install -y fonts-noto-cjk fonts-noto-color-emoji)"
    );
    let header = header(ExportFormat::Pdf, 7);
    let mut input = findings(4);
    input[0].title = "SQL 注入漏洞：登录页面".to_owned();
    input[1].title = "クロスサイトスクリプティング（検索フォーム）".to_owned();
    input[2].title = "취약한 암호화 설정".to_owned();
    input[3].title = "Secrets in the repository 🔑🔒".to_owned();
    let pdf = Pdf::read(&write("cjk.pdf", &render(&header, &input, 10)));
    let text = pdf.page_text(3);
    for title in &input[..3] {
        assert_shows(&text, &title.title);
    }
    assert_shows(&text, "Secrets in the repository");
    let fonts = pdf.fonts();
    assert!(
        fonts.iter().any(|font| font.contains("CJK")),
        "no CJK font embedded: {fonts:?}"
    );
    // Typst draws colour glyphs (the emoji font's bitmaps) as a Type 3 font of images; a
    // report without emoji has none (see the short report's fonts).
    assert!(
        fonts.contains("Type3"),
        "no emoji glyphs embedded: {fonts:?}"
    );
}
