//! What the formats for people (HTML and PDF) show, computed once in Rust so that both show the
//! same figures, formatted the same way.

use chrono::{DateTime, SecondsFormat, Utc};
use krafter_domain::export::{ReportFinding, ReportHeader};
use krafter_domain::metrics::{BurnDownPoint, Summary};
use serde::Serialize;

use crate::executive::{
    as_of, executive_summary, open_by_severity, RemediationView, SeverityCount,
};
use crate::readable::{
    grouped, percent, severity_label, short_date, signed, spelled_date, spelled_period,
    status_label,
};

/// How many findings the formats for people list; the rest are counted.
pub const LISTED_FINDINGS: usize = 1_000;

/// RFC 3339 in UTC with a `Z`, as the API writes instants.
pub(crate) fn rfc3339(at: &DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// The first [`LISTED_FINDINGS`] findings pushed, and how many there were in all.
#[derive(Debug, Default)]
pub(crate) struct Listed {
    pub findings: Vec<ReportFinding>,
    pub total: u64,
}

impl Listed {
    pub fn push(&mut self, findings: &[ReportFinding]) {
        let room = LISTED_FINDINGS.saturating_sub(self.findings.len());
        self.findings.extend(findings.iter().take(room).cloned());
        self.total += findings.len() as u64;
    }

    /// How many there are in all: as pushed, or as the header says when only a preview is
    /// pushed (the public viewer).
    pub fn total(&self, header: &ReportHeader) -> u64 {
        header.listed_total.unwrap_or(self.total).max(self.total)
    }
}

#[derive(Debug, Serialize)]
pub(crate) struct ReportView {
    pub title: String,
    pub organisation: String,
    pub project_name: String,
    pub project_slug: String,
    /// `7 March 2026`.
    pub period_end: String,
    /// `1 to 7 March 2026`.
    pub period: String,
    /// `7 March 2026, 14:02 UTC`.
    pub generated: String,
    pub generated_rfc3339: String,
    /// The executive summary, one sentence each, first on the page.
    pub executive_summary: Vec<String>,
    pub metrics: Vec<Metric>,
    /// Open findings by severity at the end of the period (empty for reports made before
    /// reports captured their remediation).
    pub open_by_severity: Vec<SeverityCount>,
    pub chart: Chart,
    /// The remediation page (absent for reports made before reports captured it).
    pub remediation: Option<RemediationView>,
    pub findings: Vec<FindingRow>,
    /// Open findings in all (listed or not), grouped: `1,234`.
    pub total: String,
    /// Open findings not listed (0 when all are), and the same grouped.
    pub more: u64,
    pub more_shown: String,
    /// Where the artefact can be downloaded (the public viewer's page only).
    pub download_url: Option<String>,
    /// Who and what the report is: organisation, project, report id.
    pub footer: String,
    /// When it was made and under which metric definitions: `Generated 2026-03-07T14:02:11Z ·
    /// metric definitions v1`.
    pub provenance: String,
}

#[derive(Debug, Serialize)]
pub(crate) struct Metric {
    pub label: &'static str,
    /// The figure shown large, e.g. `87.5%`.
    pub value: String,
    /// What it means, e.g. `of the verifications in the period passed`.
    pub detail: String,
}

#[derive(Debug, Serialize)]
pub(crate) struct FindingRow {
    pub rank: usize,
    pub id: String,
    pub title: String,
    /// `critical`, … (a CSS class in the HTML).
    pub severity_key: &'static str,
    /// `Critical`, …
    pub severity: &'static str,
    /// `In progress`, …
    pub status: &'static str,
    pub priority: i32,
    /// `7 Mar 2026`.
    pub created: String,
    pub updated: String,
    /// Its SLA due date, `–` without one.
    pub due: String,
    /// Past its due date at the end of the period.
    pub overdue: bool,
}

/// `7 Mar 2026`: short enough for a table cell, unambiguous in every locale.
fn cell_date(date: chrono::NaiveDate) -> String {
    format!("{} {}", short_date(date), date.format("%Y"))
}

impl ReportView {
    pub fn new(header: &ReportHeader, listed: &Listed) -> Self {
        let report = &header.report;
        let summary = &report.snapshot;
        let period = spelled_period(report.period_start, report.period_end);
        let total = listed.total(header);
        let more = total - listed.findings.len() as u64;
        let remediation = report.remediation.as_ref();
        Self {
            title: format!("{} security report, {}", header.project_name, period),
            organisation: header.organisation_name.clone(),
            project_name: header.project_name.clone(),
            project_slug: header.project_slug.clone(),
            period_end: spelled_date(report.period_end),
            period,
            generated: format!(
                "{}, {}",
                spelled_date(header.generated_at.date_naive()),
                header.generated_at.format("%H:%M UTC")
            ),
            generated_rfc3339: rfc3339(&header.generated_at),
            executive_summary: executive_summary(summary, remediation),
            metrics: metrics(summary, report.period_end),
            open_by_severity: remediation.map(open_by_severity).unwrap_or_default(),
            chart: Chart::new(&summary.risk_burn_down),
            remediation: remediation.map(|r| RemediationView::new(summary, r)),
            findings: listed
                .findings
                .iter()
                .enumerate()
                .map(|(i, f)| FindingRow {
                    rank: i + 1,
                    id: f.id.to_string(),
                    title: f.title.clone(),
                    severity_key: f.severity.as_str(),
                    severity: severity_label(f.severity),
                    status: status_label(f.status),
                    priority: f.priority_score,
                    created: cell_date(f.created_at.date_naive()),
                    updated: cell_date(f.updated_at.date_naive()),
                    due: f.due_on.map_or_else(|| "–".to_owned(), cell_date),
                    overdue: f.overdue_on(report.period_end),
                })
                .collect(),
            total: grouped(total as i64),
            more,
            more_shown: grouped(more as i64),
            download_url: header.download_url.clone(),
            footer: format!(
                "{} / {} ({}), report {}",
                header.organisation_name, header.project_name, header.project_slug, report.id
            ),
            provenance: format!(
                "Generated {} · metric definitions v{}",
                rfc3339(&header.generated_at),
                report.definitions_version
            ),
        }
    }
}

fn metrics(summary: &Summary, period_end: chrono::NaiveDate) -> Vec<Metric> {
    let burn_down = match (
        summary.risk_burn_down.first(),
        summary.risk_burn_down.last(),
    ) {
        (Some(first), Some(last)) => Metric {
            label: "Open risk score",
            value: grouped(last.open_risk_score),
            detail: format!(
                "{}; {} on {} ({})",
                as_of(last.date),
                grouped(first.open_risk_score),
                short_date(first.date),
                signed(last.open_risk_score - first.open_risk_score)
            ),
        },
        _ => Metric {
            label: "Open risk score",
            value: "n/a".to_owned(),
            detail: "no days in the period".to_owned(),
        },
    };
    vec![
        burn_down,
        Metric {
            label: "Verification pass rate",
            value: percent(summary.verification_pass_rate),
            detail: "of the verifications in the period passed".to_owned(),
        },
        Metric {
            label: "Regression rate",
            value: percent(summary.regression_rate),
            detail: "of closed findings came back".to_owned(),
        },
        Metric {
            label: "Open findings",
            value: grouped(summary.open_findings),
            detail: as_of(period_end),
        },
    ]
}

/// The burn-down line chart's geometry, in abstract units (SVG user units, Typst points).
#[derive(Debug, Serialize)]
pub(crate) struct Chart {
    pub width: f64,
    pub height: f64,
    pub plot_left: f64,
    pub plot_right: f64,
    pub plot_top: f64,
    pub plot_bottom: f64,
    /// One point per day, oldest first.
    pub points: Vec<[f64; 2]>,
    /// `x,y x,y …` for an SVG polyline.
    pub polyline: String,
    /// Whether points are few enough to mark each one.
    pub markers: bool,
    pub x_ticks: Vec<Tick>,
    pub y_ticks: Vec<Tick>,
}

#[derive(Debug, Serialize)]
pub(crate) struct Tick {
    pub pos: f64,
    pub label: String,
}

const CHART_WIDTH: f64 = 500.0;
const CHART_HEIGHT: f64 = 180.0;
const MAX_X_LABELS: usize = 7;
const MAX_MARKERS: usize = 62;

impl Chart {
    pub fn new(series: &[BurnDownPoint]) -> Self {
        let (plot_left, plot_right, plot_top, plot_bottom) =
            (46.0, CHART_WIDTH - 14.0, 8.0, CHART_HEIGHT - 24.0);
        let lo = series
            .iter()
            .map(|p| p.open_risk_score)
            .min()
            .unwrap_or(0)
            .min(0);
        let hi = series
            .iter()
            .map(|p| p.open_risk_score)
            .max()
            .unwrap_or(0)
            .max(lo + 1);
        let axis = ValueAxis::new(lo, hi, plot_top, plot_bottom);
        let y_of = |v: i64| axis.y(v);
        let n = series.len();
        // Points stay clear of the y axis.
        let (first_x, last_x) = (plot_left + 8.0, plot_right - 4.0);
        let x_of = |i: usize| {
            if n <= 1 {
                (first_x + last_x) / 2.0
            } else {
                first_x + i as f64 / (n - 1) as f64 * (last_x - first_x)
            }
        };
        let points: Vec<[f64; 2]> = series
            .iter()
            .enumerate()
            .map(|(i, p)| [round2(x_of(i)), round2(y_of(p.open_risk_score))])
            .collect();
        let polyline = points
            .iter()
            .map(|[x, y]| format!("{x},{y}"))
            .collect::<Vec<_>>()
            .join(" ");
        let every = n.div_ceil(MAX_X_LABELS).max(1);
        let x_ticks = series
            .iter()
            .enumerate()
            .filter(|(i, _)| i % every == 0)
            .map(|(i, p)| Tick {
                pos: round2(x_of(i)),
                label: short_date(p.date),
            })
            .collect();
        let y_ticks = axis.ticks();
        Self {
            width: CHART_WIDTH,
            height: CHART_HEIGHT,
            plot_left,
            plot_right,
            plot_top,
            plot_bottom,
            markers: n <= MAX_MARKERS,
            points,
            polyline,
            x_ticks,
            y_ticks,
        }
    }
}

/// A vertical axis of whole numbers: from `lo` to `hi` rounded out to a step of 1, 2 or 5 times
/// a power of ten (about four steps), drawn from `bottom` (at its low end) up to `top`.
pub(crate) struct ValueAxis {
    lo: i64,
    hi: i64,
    step: i64,
    top: f64,
    bottom: f64,
}

impl ValueAxis {
    /// `hi` is taken as at least `lo + 1`.
    pub fn new(lo: i64, hi: i64, top: f64, bottom: f64) -> Self {
        let hi = hi.max(lo + 1);
        let step = nice_step((hi - lo) as f64 / 4.0);
        Self {
            lo: lo.div_euclid(step) * step,
            hi: (hi + step - 1).div_euclid(step) * step,
            step,
            top,
            bottom,
        }
    }

    /// Where `value` is drawn.
    pub fn y(&self, value: i64) -> f64 {
        self.bottom
            - (value - self.lo) as f64 / (self.hi - self.lo) as f64 * (self.bottom - self.top)
    }

    /// A labelled tick at every step, lowest first.
    pub fn ticks(&self) -> Vec<Tick> {
        (0..)
            .map(|k| self.lo + k * self.step)
            .take_while(|v| *v <= self.hi)
            .map(|v| Tick {
                pos: round2(self.y(v)),
                label: grouped(v),
            })
            .collect()
    }
}

/// 1, 2 or 5 times a power of ten, at least `raw`, at least 1.
fn nice_step(raw: f64) -> i64 {
    if raw <= 1.0 {
        return 1;
    }
    let magnitude = 10f64.powf(raw.log10().floor());
    let fraction = raw / magnitude;
    let nice = if fraction <= 1.0 {
        1.0
    } else if fraction <= 2.0 {
        2.0
    } else if fraction <= 5.0 {
        5.0
    } else {
        10.0
    };
    (nice * magnitude).round() as i64
}

pub(crate) fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn series(values: &[i64]) -> Vec<BurnDownPoint> {
        let start = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
        values
            .iter()
            .enumerate()
            .map(|(i, v)| BurnDownPoint {
                date: start + chrono::Days::new(i as u64),
                open_risk_score: *v,
            })
            .collect()
    }

    #[test]
    fn steps_are_round() {
        assert_eq!(nice_step(0.3), 1);
        assert_eq!(nice_step(3.0), 5);
        assert_eq!(nice_step(12.0), 20);
        assert_eq!(nice_step(250.0), 500);
        assert_eq!(nice_step(1000.0), 1000);
    }

    #[test]
    fn axes_cover_the_series_and_labels_stay_sparse() {
        let chart = Chart::new(&series(&(0..366).map(|i| 1000 - i).collect::<Vec<_>>()));
        assert_eq!(chart.points.len(), 366);
        assert!(chart.x_ticks.len() <= MAX_X_LABELS);
        assert!(!chart.markers);
        assert_eq!(chart.y_ticks.first().unwrap().label, "0");
        assert!(
            chart
                .y_ticks
                .last()
                .unwrap()
                .label
                .replace(',', "")
                .parse::<i64>()
                .unwrap()
                >= 1000
        );
        for [x, y] in &chart.points {
            assert!((chart.plot_left..=chart.plot_right).contains(x));
            assert!((chart.plot_top..=chart.plot_bottom).contains(y));
        }
    }

    #[test]
    fn flat_single_and_empty_series_draw() {
        let flat = Chart::new(&series(&[0, 0, 0]));
        assert!(flat.points.iter().all(|[_, y]| *y == flat.plot_bottom));
        let one = Chart::new(&series(&[7]));
        assert_eq!(one.points.len(), 1);
        assert_eq!(one.x_ticks.len(), 1);
        let none = Chart::new(&[]);
        assert!(none.points.is_empty());
        assert!(!none.y_ticks.is_empty());
    }
}
