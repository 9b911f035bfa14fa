use krafter_domain::export::ExportFormat;

use crate::{findings, header, render};

const HEADER: [&str; 15] = [
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

const HEADER_LINE: &str =
    "id,title,severity,status,priority_score,created_at,updated_at,due_on,age_days,overdue,\
source,external_id,rule_id,location,description\r\n";

fn is_formula(cell: &str) -> bool {
    matches!(
        cell.chars().next(),
        Some('=' | '+' | '-' | '@' | '\t' | '\r')
    )
}

/// The three columns of the remediation: `due_on`, `age_days`, `overdue`.
fn tail(row: &csv::StringRecord) -> Vec<&str> {
    row.iter().skip(7).take(3).collect()
}

#[test]
fn reads_back_as_the_same_rows() {
    let input = findings(300);
    let bytes = render(&header(ExportFormat::Csv, 7), &input, 64);
    assert!(!bytes.starts_with(b"\xEF\xBB\xBF"), "no byte order mark");
    let text = String::from_utf8(bytes.clone()).expect("UTF-8");
    assert!(text.starts_with(HEADER_LINE), "{}", &text[..100]);
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
        assert_eq!(row.len(), 15);
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
        // As of the end of the period (7 March 2026), when every listed finding was open.
        let end = chrono::NaiveDate::from_ymd_opt(2026, 3, 7).unwrap();
        match want.due_on {
            Some(due) => {
                assert_eq!(&row[7], due.to_string());
                assert_eq!(&row[9], if end > due { "true" } else { "false" });
            }
            None => {
                assert_eq!(&row[7], "");
                assert_eq!(&row[9], "false");
            }
        }
        let age = (end - want.created_at.date_naive()).num_days();
        assert_eq!(&row[8], age.to_string());
        for cell in row.iter() {
            assert!(!is_formula(cell), "a formula cell got through: {cell:?}");
        }
    }
    assert_eq!(defused, 6, "=, +, -, @, tab and carriage return titles");
    // Worked out by hand for the fixture: created 1 February 12:00 + i × 61 s, so 34 days old
    // on 7 March; due 10 February + (i mod 40) days unless i mod 3 = 2.
    assert_eq!(tail(&rows[0]), ["2026-02-10", "34", "true"]);
    assert_eq!(tail(&rows[2]), ["", "34", "false"]);
    assert_eq!(tail(&rows[25]), ["2026-03-07", "34", "false"]);
    assert_eq!(tail(&rows[24]), ["2026-03-06", "34", "true"]);
}

#[test]
fn no_findings_is_the_header_alone() {
    let bytes = render(&header(ExportFormat::Csv, 1), &[], 10);
    assert_eq!(bytes, HEADER_LINE.as_bytes());
}

#[test]
fn scanner_details_are_the_last_columns_defused_like_every_text() {
    use krafter_domain::ledger::{
        Description, ExternalId, Location, Provenance, RuleId, ScanOrigin, SourceName,
    };
    let mut input = findings(2);
    input[0].provenance = Provenance {
        origin: Some(ScanOrigin {
            source: SourceName::parse("Bandit").unwrap(),
            external_id: ExternalId::parse("ab12").unwrap(),
        }),
        rule_id: Some(RuleId::parse("B602").unwrap()),
        location: Some(Location::parse("=cmd|' /C calc'!A0:3").unwrap()),
        description: Some(Description::parse("shell=True\nsecond line").unwrap()),
    };
    let bytes = render(&header(ExportFormat::Csv, 7), &input, 64);
    let mut reader = csv::Reader::from_reader(bytes.as_slice());
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(
        rows[0].iter().skip(10).collect::<Vec<_>>(),
        [
            "Bandit",
            "ab12",
            "B602",
            "'=cmd|' /C calc'!A0:3",
            "shell=True\nsecond line"
        ]
    );
    assert_eq!(
        rows[1].iter().skip(10).collect::<Vec<_>>(),
        ["", "", "", "", ""]
    );
}
