use krafter_domain::export::ExportFormat;

use crate::{findings, header, render};

const HEADER: [&str; 7] = [
    "id",
    "title",
    "severity",
    "status",
    "priority_score",
    "created_at",
    "updated_at",
];

fn is_formula(cell: &str) -> bool {
    matches!(
        cell.chars().next(),
        Some('=' | '+' | '-' | '@' | '\t' | '\r')
    )
}

#[test]
fn reads_back_as_the_same_rows() {
    let input = findings(300);
    let bytes = render(&header(ExportFormat::Csv, 7), &input, 64);
    assert!(!bytes.starts_with(b"\xEF\xBB\xBF"), "no byte order mark");
    let text = String::from_utf8(bytes.clone()).expect("UTF-8");
    assert!(
        text.starts_with("id,title,severity,status,priority_score,created_at,updated_at\r\n"),
        "{}",
        &text[..80]
    );
    // RFC 4180: quotes doubled inside a quoted field, CRLF between records, newlines quoted.
    assert!(text.contains(r#","Quote ""double"" and 'single', with commas, too","#));
    assert!(text.contains(",\"Line one\nline two\","));
    assert!(text.ends_with("\r\n"));

    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(bytes.as_slice());
    assert_eq!(reader.headers().unwrap(), HEADER.as_slice());
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), input.len());
    let mut defused = 0;
    for (row, want) in rows.iter().zip(&input) {
        assert_eq!(row.len(), 7);
        let title = &row[1];
        let title = if is_formula(&want.title) {
            defused += 1;
            assert_eq!(title, format!("'{}", want.title), "prefixed with a quote");
            &title[1..]
        } else {
            title
        };
        assert_eq!(title, want.title);
        assert_eq!(&row[0], want.id.to_string());
        assert_eq!(&row[2], want.severity.as_str());
        assert_eq!(&row[3], want.status.as_str());
        assert_eq!(&row[4], want.priority_score.to_string());
        let created = chrono::DateTime::parse_from_rfc3339(&row[5]).unwrap();
        let updated = chrono::DateTime::parse_from_rfc3339(&row[6]).unwrap();
        assert!(row[5].ends_with('Z') && row[6].ends_with('Z'));
        assert_eq!(created, want.created_at);
        assert_eq!(updated, want.updated_at);
        for cell in row.iter() {
            assert!(!is_formula(cell), "a formula cell got through: {cell:?}");
        }
    }
    assert_eq!(defused, 6, "=, +, -, @, tab and carriage return titles");
}

#[test]
fn no_findings_is_the_header_alone() {
    let bytes = render(&header(ExportFormat::Csv, 1), &[], 10);
    assert_eq!(
        bytes,
        b"id,title,severity,status,priority_score,created_at,updated_at\r\n"
    );
}
