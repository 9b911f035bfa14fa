//! The executive parts of the HTML and PDF reports: the summary sentences written from the
//! numbers by fixed rules, open findings by severity, and the remediation page (flow chart, time
//! to resolve against the SLA, overdue and aging, the comparison with the previous period).

use krafter_domain::export::ReportRemediation;
use krafter_domain::ledger::Severity;
use krafter_domain::metrics::remediation::{
    AgeBucket, RemediationBucket, RemediationMetrics, SEVERITY_ORDER,
};
use krafter_domain::metrics::Summary;
use serde::Serialize;

use crate::readable::{
    change_percent, count_of, grouped, one_decimal, percent, severity_label, short_date, signed,
    signed_decimal, spelled_date, spelled_period,
};
use crate::view::{round2, Tick, ValueAxis};

const HOURS_PER_DAY: f64 = 24.0;

/// The open risk score at the end of a summary's window (0 for an empty one).
fn risk_at_end(summary: &Summary) -> i64 {
    summary
        .risk_burn_down
        .last()
        .map_or(0, |p| p.open_risk_score)
}

/// The executive summary: a few sentences, always in this order, each written by a fixed rule.
///
/// 1. Open risk: its change from the end of the previous period to the end of this one ("fell",
///    "rose" with the percentage, or "held"), or within the period for reports without a
///    previous period.
/// 2. Overdue: how many critical findings are past their SLA and how many in all.
/// 3. Critical time to resolve: the mean against the critical SLA.
/// 4. Flow: resolved against opened, with the SLA compliance.
pub(crate) fn executive_summary(
    summary: &Summary,
    remediation: Option<&ReportRemediation>,
) -> Vec<String> {
    let mut sentences = Vec::new();
    let (before, after, since) = match remediation {
        Some(r) => (
            risk_at_end(&r.previous_period.summary),
            risk_at_end(summary),
            "the previous period",
        ),
        None => (
            summary
                .risk_burn_down
                .first()
                .map_or(0, |p| p.open_risk_score),
            risk_at_end(summary),
            "the first day of the period",
        ),
    };
    sentences.push(risk_sentence(before, after, since));
    let Some(r) = remediation else {
        return sentences;
    };
    let total = &r.remediation.total;
    let critical_overdue = total.by_severity.critical.overdue_at_end;
    let all_overdue = total.all.overdue_at_end;
    sentences.push(if all_overdue == 0 {
        "No open finding is past its SLA.".to_owned()
    } else if critical_overdue == 0 {
        format!(
            "{} past {} SLA; none of them is critical.",
            are(all_overdue, "open finding"),
            if all_overdue == 1 { "its" } else { "their" }
        )
    } else if critical_overdue == all_overdue {
        format!(
            "{} past {} SLA.",
            are(critical_overdue, "critical finding"),
            if critical_overdue == 1 {
                "its"
            } else {
                "their"
            }
        )
    } else {
        format!(
            "{} past {} SLA ({} in all).",
            are(critical_overdue, "critical finding"),
            if critical_overdue == 1 {
                "its"
            } else {
                "their"
            },
            grouped(all_overdue)
        )
    });
    let critical = &total.by_severity.critical;
    let sla = r.remediation.sla_days.days(Severity::Critical);
    sentences.push(match (critical.time_to_resolve_hours, sla) {
        (None, _) => "No critical finding was resolved in the period.".to_owned(),
        (Some(ttr), Some(days)) => {
            let mean = ttr.mean / HOURS_PER_DAY;
            format!(
                "Critical findings took {} days to resolve on average, {} the {}-day SLA.",
                one_decimal(mean),
                if mean <= f64::from(days.get()) {
                    "within"
                } else {
                    "over"
                },
                days.get()
            )
        }
        (Some(ttr), None) => format!(
            "Critical findings took {} days to resolve on average.",
            one_decimal(ttr.mean / HOURS_PER_DAY)
        ),
    });
    let all = &total.all;
    let mut flow = format!(
        "{} {} resolved and {} opened in the period",
        count_of(all.resolved, "finding", "findings"),
        if all.resolved == 1 { "was" } else { "were" },
        grouped(all.opened)
    );
    if let Some(rate) = r.remediation.sla_compliance {
        flow.push_str(&format!("; {} of resolutions met their SLA", percent(rate)));
    }
    flow.push('.');
    sentences.push(flow);
    sentences
}

fn risk_sentence(before: i64, after: i64, since: &str) -> String {
    match (before, after) {
        (b, a) if b == a => format!("Open risk held at {} since {since}.", grouped(a)),
        (0, a) => format!("Open risk rose from 0 to {} since {since}.", grouped(a)),
        (b, a) => format!(
            "Open risk {} {} ({} → {}) since {since}.",
            if a < b { "fell" } else { "rose" },
            change_percent(b as f64, a as f64)
                .unwrap_or_default()
                .trim_start_matches(['+', '-']),
            grouped(b),
            grouped(a)
        ),
    }
}

/// `1 critical finding is`, `3 critical findings are`.
fn are(n: i64, what: &str) -> String {
    if n == 1 {
        format!("1 {what} is")
    } else {
        format!("{} {what}s are", grouped(n))
    }
}

#[derive(Debug, Serialize)]
pub(crate) struct SeverityCount {
    /// `critical`, … (a CSS class in the HTML).
    pub key: &'static str,
    pub label: &'static str,
    pub count: String,
    pub overdue: String,
}

/// Open findings by severity at the end of the period, with how many are overdue.
pub(crate) fn open_by_severity(remediation: &ReportRemediation) -> Vec<SeverityCount> {
    let total = &remediation.remediation.total;
    SEVERITY_ORDER
        .into_iter()
        .map(|s| {
            let m = total.by_severity.get(s);
            SeverityCount {
                key: s.as_str(),
                label: severity_label(s),
                count: grouped(m.open_at_end),
                overdue: if m.overdue_at_end == 0 {
                    String::new()
                } else {
                    format!("{} overdue", grouped(m.overdue_at_end))
                },
            }
        })
        .collect()
}

#[derive(Debug, Serialize)]
pub(crate) struct RemediationView {
    /// `2 to 8 March 2026`.
    pub previous_period: String,
    pub flow: FlowChart,
    pub time_to_resolve: Vec<TtrRow>,
    pub aging_labels: Vec<&'static str>,
    pub aging: Vec<AgingRow>,
    pub comparison: Vec<ComparisonRow>,
    /// `87.5%`, or `n/a` when nothing with an SLA was resolved.
    pub sla_compliance: String,
}

#[derive(Debug, Serialize)]
pub(crate) struct TtrRow {
    pub severity: &'static str,
    pub resolved: String,
    /// Days, one decimal; `–` when none was resolved.
    pub mean_days: String,
    pub p50_days: String,
    pub p90_days: String,
    /// `7 days`, or `None`.
    pub sla: String,
    /// `3 of 4 (75.0%)`; `–` without an SLA or nothing resolved.
    pub within_sla: String,
    /// `Within SLA`, `Over SLA` (the mean against the SLA) or empty.
    pub verdict: &'static str,
}

#[derive(Debug, Serialize)]
pub(crate) struct AgingRow {
    pub severity: &'static str,
    pub open: String,
    pub overdue: String,
    pub buckets: Vec<String>,
}

#[derive(Debug, Serialize)]
pub(crate) struct ComparisonRow {
    pub label: &'static str,
    pub previous: String,
    pub current: String,
    /// Signed: `+12`, `-3.5`, `0`.
    pub change: String,
    /// Signed: `+12.5%`; `–` when the previous figure is 0.
    pub change_percent: String,
}

const DASH: &str = "–";

fn days(hours: f64) -> String {
    one_decimal(hours / HOURS_PER_DAY)
}

/// `sla_days`: `Some(days)` for a severity with an SLA, `Some(None)` for one without, `None` for
/// all severities together (whose SLAs differ).
fn ttr_row(label: &'static str, m: &RemediationMetrics, sla_days: Option<Option<u16>>) -> TtrRow {
    let ttr = m.time_to_resolve_hours;
    let verdict = match (ttr, sla_days.flatten()) {
        (Some(t), Some(d)) if t.mean / HOURS_PER_DAY <= f64::from(d) => "Within SLA",
        (Some(_), Some(_)) => "Over SLA",
        _ => "",
    };
    TtrRow {
        severity: label,
        resolved: grouped(m.resolved),
        mean_days: ttr.map_or(DASH.to_owned(), |t| days(t.mean)),
        p50_days: ttr.map_or(DASH.to_owned(), |t| days(t.p50)),
        p90_days: ttr.map_or(DASH.to_owned(), |t| days(t.p90)),
        sla: match sla_days {
            None => DASH.to_owned(),
            Some(None) => "None".to_owned(),
            Some(Some(d)) => count_of(i64::from(d), "day", "days"),
        },
        within_sla: match m.resolved_within_sla {
            Some(within) if m.resolved > 0 => format!(
                "{} of {} ({})",
                grouped(within),
                grouped(m.resolved),
                percent(within as f64 / m.resolved as f64)
            ),
            _ => DASH.to_owned(),
        },
        verdict,
    }
}

impl RemediationView {
    pub fn new(summary: &Summary, r: &ReportRemediation) -> Self {
        let report = &r.remediation;
        let total = &report.total;
        let mut time_to_resolve: Vec<TtrRow> = SEVERITY_ORDER
            .into_iter()
            .map(|s| {
                ttr_row(
                    severity_label(s),
                    total.by_severity.get(s),
                    Some(report.sla_days.days(s).map(|d| d.get())),
                )
            })
            .collect();
        time_to_resolve.push(ttr_row("All", &total.all, None));
        let aging_row =
            |label,
             m: &RemediationMetrics,
             counts: &krafter_domain::metrics::remediation::AgingCounts| AgingRow {
                severity: label,
                open: grouped(m.open_at_end),
                overdue: grouped(m.overdue_at_end),
                buckets: AgeBucket::ALL
                    .iter()
                    .map(|b| grouped(counts.get(*b)))
                    .collect(),
            };
        let mut aging: Vec<AgingRow> = SEVERITY_ORDER
            .into_iter()
            .map(|s| {
                aging_row(
                    severity_label(s),
                    total.by_severity.get(s),
                    report.aging_at_end.by_severity.get(s),
                )
            })
            .collect();
        aging.push(aging_row("All", &total.all, &report.aging_at_end.all));
        let previous = &r.previous_period;
        Self {
            previous_period: spelled_period(previous.date_from, previous.date_to),
            flow: FlowChart::new(&report.buckets),
            time_to_resolve,
            aging_labels: AgeBucket::ALL.iter().map(|b| b.label()).collect(),
            aging,
            comparison: comparison(summary, r),
            sla_compliance: report.sla_compliance.map_or("n/a".to_owned(), percent),
        }
    }
}

/// Whole numbers compare as numbers; rates as percentage points; days with one decimal.
enum Figure {
    Count(i64),
    Rate(Option<f64>),
    Days(Option<f64>),
}

fn comparison(summary: &Summary, r: &ReportRemediation) -> Vec<ComparisonRow> {
    let now = &r.remediation.total.all;
    let before = &r.previous_period.remediation.total.all;
    let mean_days =
        |m: &RemediationMetrics| m.time_to_resolve_hours.map(|t| t.mean / HOURS_PER_DAY);
    let rows = [
        (
            "Open risk score at the end",
            Figure::Count(risk_at_end(&r.previous_period.summary)),
            Figure::Count(risk_at_end(summary)),
        ),
        (
            "Open findings at the end",
            Figure::Count(r.previous_period.summary.open_findings),
            Figure::Count(summary.open_findings),
        ),
        (
            "Overdue at the end",
            Figure::Count(before.overdue_at_end),
            Figure::Count(now.overdue_at_end),
        ),
        (
            "Opened",
            Figure::Count(before.opened),
            Figure::Count(now.opened),
        ),
        (
            "Resolved",
            Figure::Count(before.resolved),
            Figure::Count(now.resolved),
        ),
        (
            "Reopened",
            Figure::Count(before.reopened),
            Figure::Count(now.reopened),
        ),
        (
            "Mean time to resolve (days)",
            Figure::Days(mean_days(before)),
            Figure::Days(mean_days(now)),
        ),
        (
            "SLA compliance",
            Figure::Rate(r.previous_period.remediation.sla_compliance),
            Figure::Rate(r.remediation.sla_compliance),
        ),
        (
            "Verification pass rate",
            Figure::Rate(Some(r.previous_period.summary.verification_pass_rate)),
            Figure::Rate(Some(summary.verification_pass_rate)),
        ),
        (
            "Regression rate",
            Figure::Rate(Some(r.previous_period.summary.regression_rate)),
            Figure::Rate(Some(summary.regression_rate)),
        ),
    ];
    rows.into_iter()
        .map(|(label, previous, current)| comparison_row(label, previous, current))
        .collect()
}

fn comparison_row(label: &'static str, previous: Figure, current: Figure) -> ComparisonRow {
    let (previous, current, change, change_pct) = match (previous, current) {
        (Figure::Count(b), Figure::Count(a)) => (
            grouped(b),
            grouped(a),
            signed(a - b),
            change_percent(b as f64, a as f64),
        ),
        // Rates change by percentage points.
        (Figure::Rate(b), Figure::Rate(a)) => compare_decimals(b, a, percent, |b, a| {
            format!("{} pts", signed_decimal((a - b) * 100.0))
        }),
        (Figure::Days(b), Figure::Days(a)) => {
            compare_decimals(b, a, one_decimal, |b, a| signed_decimal(a - b))
        }
        _ => unreachable!("both figures of a row are of one kind"),
    };
    ComparisonRow {
        label,
        previous,
        current,
        change,
        change_percent: change_pct.unwrap_or_else(|| DASH.to_owned()),
    }
}

/// Two figures that may be absent, as shown, their change (`change(before, after)`) and the
/// relative change; a dash where either is absent.
fn compare_decimals(
    before: Option<f64>,
    after: Option<f64>,
    shown: impl Fn(f64) -> String,
    change: impl Fn(f64, f64) -> String,
) -> (String, String, String, Option<String>) {
    let show = |v: Option<f64>| v.map_or_else(|| DASH.to_owned(), &shown);
    match (before, after) {
        (Some(b), Some(a)) => (
            show(before),
            show(after),
            change(b, a),
            change_percent(b, a),
        ),
        _ => (show(before), show(after), DASH.to_owned(), None),
    }
}

/// Opened against resolved per bucket: two bars per bucket, in abstract units (SVG user units,
/// Typst points).
#[derive(Debug, Serialize)]
pub(crate) struct FlowChart {
    pub width: f64,
    pub height: f64,
    pub plot_left: f64,
    pub plot_right: f64,
    pub plot_top: f64,
    pub plot_bottom: f64,
    pub bars: Vec<Bar>,
    pub x_ticks: Vec<Tick>,
    pub y_ticks: Vec<Tick>,
}

#[derive(Debug, Serialize)]
pub(crate) struct Bar {
    /// `opened` or `resolved`.
    pub series: &'static str,
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
    /// What a reader hovering over it sees: `2 to 8 March 2026: 12 opened`.
    pub title: String,
}

const FLOW_WIDTH: f64 = 500.0;
const FLOW_HEIGHT: f64 = 160.0;
const MAX_FLOW_LABELS: usize = 8;

impl FlowChart {
    pub fn new(buckets: &[RemediationBucket]) -> Self {
        let (plot_left, plot_right, plot_top, plot_bottom) =
            (46.0, FLOW_WIDTH - 8.0, 8.0, FLOW_HEIGHT - 24.0);
        let hi = buckets
            .iter()
            .map(|b| b.all.opened.max(b.all.resolved))
            .max()
            .unwrap_or(0)
            .max(1);
        let axis = ValueAxis::new(0, hi, plot_top, plot_bottom);
        let y_of = |v: i64| axis.y(v);
        let n = buckets.len().max(1);
        let slot = (plot_right - plot_left) / n as f64;
        let bar = (slot * 0.36).min(14.0);
        let mut bars = Vec::with_capacity(buckets.len() * 2);
        for (i, b) in buckets.iter().enumerate() {
            let centre = plot_left + slot * (i as f64 + 0.5);
            for (series, value, x) in [
                ("opened", b.all.opened, centre - bar),
                ("resolved", b.all.resolved, centre),
            ] {
                let y = y_of(value);
                bars.push(Bar {
                    series,
                    x: round2(x),
                    y: round2(y),
                    width: round2(bar),
                    height: round2(plot_bottom - y),
                    title: format!(
                        "{}: {} {series}",
                        spelled_period(b.start, b.end),
                        grouped(value)
                    ),
                });
            }
        }
        let every = buckets.len().div_ceil(MAX_FLOW_LABELS).max(1);
        let x_ticks = buckets
            .iter()
            .enumerate()
            .filter(|(i, _)| i % every == 0)
            .map(|(i, b)| Tick {
                pos: round2(plot_left + slot * (i as f64 + 0.5)),
                label: short_date(b.start),
            })
            .collect();
        let y_ticks = axis.ticks();
        Self {
            width: FLOW_WIDTH,
            height: FLOW_HEIGHT,
            plot_left,
            plot_right,
            plot_top,
            plot_bottom,
            bars,
            x_ticks,
            y_ticks,
        }
    }
}

/// The date a report's figures are as of, spelled out (`at the end of 7 March 2026`).
pub(crate) fn as_of(day: chrono::NaiveDate) -> String {
    format!("at the end of {}", spelled_date(day))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn risk_sentences_follow_the_numbers() {
        assert_eq!(
            risk_sentence(4120, 3170, "the previous period"),
            "Open risk fell 23.1% (4,120 → 3,170) since the previous period."
        );
        assert_eq!(
            risk_sentence(1000, 1250, "the previous period"),
            "Open risk rose 25.0% (1,000 → 1,250) since the previous period."
        );
        assert_eq!(
            risk_sentence(80, 80, "the previous period"),
            "Open risk held at 80 since the previous period."
        );
        assert_eq!(
            risk_sentence(0, 80, "the previous period"),
            "Open risk rose from 0 to 80 since the previous period."
        );
    }

    #[test]
    fn counts_agree_with_their_verbs() {
        assert_eq!(are(1, "critical finding"), "1 critical finding is");
        assert_eq!(are(3, "critical finding"), "3 critical findings are");
        assert_eq!(are(1200, "open finding"), "1,200 open findings are");
    }
}
