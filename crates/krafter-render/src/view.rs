//! What the formats for people (HTML and PDF) show, computed once in Rust so that both show the
//! same figures, formatted the same way.

use chrono::{DateTime, SecondsFormat, Utc};
use krafter_domain::export::{ReportFinding, ReportHeader};
use krafter_domain::metrics::{BurnDownPoint, Summary};
use serde::Serialize;

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
    pub period_start: String,
    pub period_end: String,
    /// `2026-03-01 to 2026-03-07`.
    pub period: String,
    /// `2026-03-07 14:02 UTC`.
    pub generated: String,
    pub generated_rfc3339: String,
    pub metrics: Vec<Metric>,
    pub chart: Chart,
    pub findings: Vec<FindingRow>,
    /// Open findings in all (listed or not).
    pub total: u64,
    /// Open findings not listed.
    pub more: u64,
    /// Where the artefact can be downloaded (the public viewer's page only).
    pub download_url: Option<String>,
    pub footer: String,
}

#[derive(Debug, Serialize)]
pub(crate) struct Metric {
    pub label: &'static str,
    /// The figure shown large, e.g. `87.5%`.
    pub value: String,
    /// The exact figure and what it means, e.g. `exact 0.875`.
    pub detail: String,
}

#[derive(Debug, Serialize)]
pub(crate) struct FindingRow {
    pub rank: usize,
    pub id: String,
    pub title: String,
    pub severity: &'static str,
    pub status: &'static str,
    pub priority: i32,
    pub created: String,
    pub updated: String,
}

impl ReportView {
    pub fn new(header: &ReportHeader, listed: &Listed) -> Self {
        let report = &header.report;
        let summary = &report.snapshot;
        let period = format!("{} to {}", report.period_start, report.period_end);
        Self {
            title: format!("{} security report, {}", header.project_name, period),
            organisation: header.organisation_name.clone(),
            project_name: header.project_name.clone(),
            project_slug: header.project_slug.clone(),
            period_start: report.period_start.to_string(),
            period_end: report.period_end.to_string(),
            period,
            generated: header.generated_at.format("%Y-%m-%d %H:%M UTC").to_string(),
            generated_rfc3339: rfc3339(&header.generated_at),
            metrics: metrics(summary, report.period_end),
            chart: Chart::new(&summary.risk_burn_down),
            findings: listed
                .findings
                .iter()
                .enumerate()
                .map(|(i, f)| FindingRow {
                    rank: i + 1,
                    id: f.id.to_string(),
                    title: f.title.clone(),
                    severity: f.severity.as_str(),
                    status: f.status.as_str(),
                    priority: f.priority_score,
                    created: f.created_at.format("%Y-%m-%d").to_string(),
                    updated: f.updated_at.format("%Y-%m-%d").to_string(),
                })
                .collect(),
            total: listed.total(header),
            more: listed.total(header) - listed.findings.len() as u64,
            download_url: header.download_url.clone(),
            footer: format!(
                "{} / {} ({}), report {}",
                header.organisation_name, header.project_name, header.project_slug, report.id
            ),
        }
    }
}

/// A rate as the page shows it: a percentage with one decimal.
pub(crate) fn percent(rate: f64) -> String {
    format!("{:.1}%", rate * 100.0)
}

/// A rate exactly as the JSON summary writes it.
pub(crate) fn exact(rate: f64) -> String {
    serde_json::to_string(&rate).unwrap_or_else(|_| rate.to_string())
}

fn metrics(summary: &Summary, period_end: chrono::NaiveDate) -> Vec<Metric> {
    let burn_down = match (
        summary.risk_burn_down.first(),
        summary.risk_burn_down.last(),
    ) {
        (Some(first), Some(last)) => Metric {
            label: "Risk burn-down",
            value: last.open_risk_score.to_string(),
            detail: format!(
                "open risk score on {}; {} on {} ({:+})",
                last.date,
                first.open_risk_score,
                first.date,
                last.open_risk_score - first.open_risk_score
            ),
        },
        _ => Metric {
            label: "Risk burn-down",
            value: "n/a".to_owned(),
            detail: "no days in the period".to_owned(),
        },
    };
    vec![
        burn_down,
        Metric {
            label: "Verification pass rate",
            value: percent(summary.verification_pass_rate),
            detail: format!("exact {}", exact(summary.verification_pass_rate)),
        },
        Metric {
            label: "Regression rate",
            value: percent(summary.regression_rate),
            detail: format!("exact {}", exact(summary.regression_rate)),
        },
        Metric {
            label: "Open findings",
            value: summary.open_findings.to_string(),
            detail: format!("at the end of {period_end}"),
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
        let step = nice_step((hi - lo) as f64 / 4.0);
        let axis_lo = lo.div_euclid(step) * step;
        let axis_hi = (hi + step - 1).div_euclid(step) * step;
        let y_of = |v: i64| {
            plot_bottom
                - (v - axis_lo) as f64 / (axis_hi - axis_lo) as f64 * (plot_bottom - plot_top)
        };
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
                label: p.date.format("%Y-%m-%d").to_string(),
            })
            .collect();
        let y_ticks = (0..)
            .map(|k| axis_lo + k * step)
            .take_while(|v| *v <= axis_hi)
            .map(|v| Tick {
                pos: round2(y_of(v)),
                label: v.to_string(),
            })
            .collect();
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

fn round2(v: f64) -> f64 {
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
        assert!(chart.y_ticks.last().unwrap().label.parse::<i64>().unwrap() >= 1000);
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

    #[test]
    fn rates_show_as_percentages_and_exactly() {
        assert_eq!(percent(0.875), "87.5%");
        assert_eq!(percent(0.0), "0.0%");
        assert_eq!(exact(0.0), "0.0");
        assert_eq!(exact(1.0 / 3.0), "0.3333333333333333");
    }
}
