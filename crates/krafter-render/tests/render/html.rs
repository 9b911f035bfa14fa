use std::process::Command;

use krafter_domain::export::ExportFormat;

use crate::{
    artefact_dir, findings, header, render, EXECUTIVE_SHOWS, ORGANISATION, PROJECT_NAME,
    PROJECT_SLUG, TRICKY_TITLES,
};

/// The text between tags, each tag a space.
fn strip_tags(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                out.push(' ');
            }
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    out
}

fn squeeze(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect()
}

/// Undoes HTML escaping (named and numeric character references), to compare with the input.
fn unescape(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let end = rest.find(';').expect("a terminated reference");
        let name = &rest[1..end];
        let c = match name {
            "lt" => '<',
            "gt" => '>',
            "amp" => '&',
            "quot" => '"',
            "apos" => '\'',
            "middot" => '·',
            _ => {
                let code = name.strip_prefix('#').unwrap_or_else(|| panic!("&{name};"));
                let code = match code.strip_prefix('x') {
                    Some(hex) => u32::from_str_radix(hex, 16).unwrap(),
                    None => code.parse().unwrap(),
                };
                char::from_u32(code).unwrap()
            }
        };
        out.push(c);
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

fn page(findings_count: usize, days: u64) -> String {
    let header = header(ExportFormat::Html, days);
    String::from_utf8(render(&header, &findings(findings_count), 100)).expect("UTF-8")
}

#[test]
fn everything_is_escaped_and_self_contained() {
    let html = page(12, 7);
    assert!(html.starts_with("<!DOCTYPE html>"));
    // No script, no element from user text.
    assert!(
        !html.to_lowercase().contains("<script"),
        "raw <script> in the page"
    );
    assert!(!html.contains("<Labs>"));
    let text = unescape(&html);
    assert!(text.contains(r#"<script>alert("x")</script> in the login form"#));
    assert!(text.contains(ORGANISATION));
    assert!(text.contains(PROJECT_NAME));
    assert!(text.contains(PROJECT_SLUG));
    assert!(text.contains("1 to 7 March 2026"));
    assert!(text.contains("Ünïcödé café — naïve résumé, 日本語"));
    for title in TRICKY_TITLES {
        assert!(text.contains(title), "{title:?} is not on the page");
    }
    // The four metrics, grouped and to one decimal.
    for needle in [
        ">978<",
        "(-222)",
        ">66.7%<",
        "of the verifications in the period passed",
        ">12.5%<",
        ">4,321<",
    ] {
        assert!(html.contains(needle), "missing {needle}");
    }
    assert!(!html.contains("0.6666"), "a raw float on the page");
    // The executive parts, as a reader sees them (tags and white space aside).
    let words = squeeze(&strip_tags(&text));
    for needle in EXECUTIVE_SHOWS {
        assert!(words.contains(&squeeze(needle)), "missing {needle:?}");
    }
    let at = |needle: &str| {
        words
            .find(needle)
            .unwrap_or_else(|| panic!("no {needle} on the page"))
    };
    assert!(
        at("Executivesummary") < at("Verificationpassrate"),
        "the executive summary comes first"
    );
    // Opened and resolved bars for each of the two weeks the period touches.
    assert_eq!(html.matches("<rect class=\"opened\"").count(), 2);
    assert_eq!(html.matches("<rect class=\"resolved\"").count(), 2);
    assert!(text.contains("In progress") && !text.contains(">in_progress<"));
    // The chart: inline SVG, one point per day.
    assert!(html.contains("<svg class=\"chart\""));
    assert_eq!(html.matches("<circle class=\"marker\"").count(), 7);
    assert!(html.contains("<polyline class=\"series\""));
    // Nothing is fetched: no links, sources or URLs besides the SVG namespace.
    for banned in ["src=", "href=", "https://", "<link", "<img", "<iframe"] {
        assert!(!html.contains(banned), "{banned} in the page");
    }
    let style = &html[html.find("<style>").unwrap()..html.find("</style>").unwrap()];
    for banned in ["url(", "@import", "@font-face"] {
        assert!(!style.contains(banned), "{banned} in the style sheet");
    }
    assert_eq!(
        html.matches("http://").count(),
        2,
        "only the SVG namespace, once per chart"
    );
    assert!(!html.contains("more</p>"));
}

#[test]
fn lists_a_thousand_then_counts_the_rest() {
    let html = page(1_500, 30);
    assert_eq!(html.matches("<td class=\"title\">").count(), 1_000);
    assert!(html.contains("<p class=\"more\">and 500 more</p>"));
    assert!(html.contains("Finding number 999 in the ledger"));
    assert!(!html.contains("Finding number 1000 in the ledger"));
}

#[test]
#[ignore = "needs chromium; .ci/run runs it"]
fn chromium_shows_the_page() {
    let chromium = which("chromium")
        .or_else(|_| which("chromium-browser"))
        .unwrap_or_else(|()| {
            panic!("chromium is not on PATH (Debian: apt-get install -y chromium)")
        });
    let dir = artefact_dir("html");
    let html_path = dir.join("report.html");
    let png_path = dir.join("report.png");
    let _ = std::fs::remove_file(&png_path);
    std::fs::write(&html_path, page(40, 14)).unwrap();
    let profile = tempfile::tempdir().unwrap();
    let status = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--hide-scrollbars",
            &format!("--user-data-dir={}", profile.path().display()),
            &format!("--screenshot={}", png_path.display()),
            "--window-size=1200,1600",
            &format!("file://{}", html_path.display()),
        ])
        .output()
        .expect("run chromium");
    assert!(
        status.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&status.stderr)
    );
    let png = std::fs::read(&png_path).expect("chromium wrote the screenshot");
    assert!(png.len() > 10_000, "a {} byte screenshot", png.len());
    assert!(png.starts_with(b"\x89PNG"));
}

fn which(name: &str) -> Result<std::path::PathBuf, ()> {
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
        .ok_or(())
}
