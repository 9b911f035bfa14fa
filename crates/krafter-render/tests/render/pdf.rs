use std::path::Path;
use std::process::Command;

use krafter_domain::export::ExportFormat;

use crate::{artefact_dir, findings, header, render, ORGANISATION, PROJECT_NAME, PROJECT_SLUG};

/// Runs a poppler tool; a missing tool fails the test, saying what to install.
fn poppler(tool: &str, args: &[&str]) -> String {
    let output = Command::new(tool).args(args).output().unwrap_or_else(|e| {
        panic!(
            "could not run `{tool}` ({e}): the PDF tests need poppler-utils \
             (Debian: apt-get install -y poppler-utils)"
        )
    });
    assert!(
        output.status.success(),
        "{tool} {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("UTF-8 text")
}

fn text(pdf: &Path) -> String {
    poppler("pdftotext", &["-enc", "UTF-8", pdf.to_str().unwrap(), "-"])
}

fn page_text(pdf: &Path, page: usize) -> String {
    let page = page.to_string();
    poppler(
        "pdftotext",
        &[
            "-enc",
            "UTF-8",
            "-f",
            &page,
            "-l",
            &page,
            pdf.to_str().unwrap(),
            "-",
        ],
    )
}

fn pages(pdf: &Path) -> usize {
    let info = poppler("pdfinfo", &[pdf.to_str().unwrap()]);
    info.lines()
        .find_map(|l| l.strip_prefix("Pages:"))
        .expect("pdfinfo shows the page count")
        .trim()
        .parse()
        .unwrap()
}

/// Text with all white space removed: table cells wrap and pdftotext lays lines out its own way
/// (zero width spaces too: the PDF lets long runs of text break with them).
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

#[test]
fn a_short_report_shows_everything_on_one_page() {
    let header = header(ExportFormat::Pdf, 7);
    let input = findings(3);
    let path = write("three.pdf", &render(&header, &input, 2));
    assert_eq!(pages(&path), 1);
    let text = text(&path);
    for needle in [
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
    ] {
        assert_shows(&text, needle);
    }
    // User text, Typst's special characters included, shows literally.
    for title in &input {
        assert_shows(&text, &title.title);
    }
    assert!(!text.contains(" more"), "nothing is left out of 3");
}

#[test]
fn a_thousand_findings_fill_the_table_and_the_rest_are_counted() {
    let header = header(ExportFormat::Pdf, 30);
    let input = findings(1_500);
    let path = write("fifteen-hundred.pdf", &render(&header, &input, 500));
    let count = pages(&path);
    let text = text(&path);
    for title in input.iter().take(20).filter(|f| !f.title.contains("日本")) {
        assert_shows(&text, &title.title);
    }
    assert_shows(&text, "Ünïcödé café — naïve résumé");
    // The 1,000th is listed, on the last page, with the count of the rest after it.
    let last = page_text(&path, count);
    assert_shows(&last, &input[999].title);
    assert_shows(&last, "and 500 more");
    assert!(
        !text.contains(&input[1000].title),
        "the 1,001st is not listed"
    );

    // The same thousand alone: the same pages, and no "more".
    let path = write("thousand.pdf", &render(&header, &input[..1000], 1000));
    assert_eq!(pages(&path), count);
    let last = page_text(&path, count);
    assert_shows(&last, &input[999].title);
    assert!(!squeeze(&last).contains("more"), "{last}");
    // The table's header repeats on every page.
    for page in 2..=count {
        let text = page_text(&path, page);
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
    let path = write("year-empty.pdf", &render(&header, &[], 10));
    assert_eq!(pages(&path), 1);
    let text = text(&path);
    assert_shows(&text, "No open findings at the end of the period.");
    assert_shows(&text, "2026-03-01 to 2027-03-01");
}

#[test]
fn a_long_unbroken_title_stays_in_its_column() {
    let header = header(ExportFormat::Pdf, 2);
    let mut input = findings(2);
    input[0].title = "x".repeat(500);
    input[1].title = format!("https://scanner.example/findings/{}", "a1b2c3d4".repeat(40));
    let path = write("long-title.pdf", &render(&header, &input, 10));
    let text = text(&path);
    assert_shows(&text, &input[0].title);
    assert_shows(&text, &input[1].title);
}
