//! Property tests: over randomized histories, policies, windows and granularities, the daily
//! totals built from the per-write deltas and folded equal the reference computed from the raw
//! history (percentiles within 2 %, everything else exact), whatever order the deltas come in,
//! and summed over projects as an organisation's are.

#[allow(dead_code)]
mod remediation_support;

use std::collections::BTreeMap;

use chrono::{DateTime, Days, Duration, NaiveDate, Utc};
use krafter_domain::ledger::{FindingStatus, Severity};
use krafter_domain::metrics::remediation::{
    due_on, policy_in_force, reference, remediation_deltas, BySeverity, DatedRemediationDelta,
    EffectivePolicy, Granularity, RemediationDelta, RemediationQuery, RemediationWrite, SlaDays,
    SlaPolicy,
};
use krafter_domain::metrics::DateWindow;
use proptest::prelude::*;
use remediation_support::{assert_agree, fold, Project};

fn base() -> DateTime<Utc> {
    "2027-10-01T00:00:00Z".parse().unwrap()
}

/// About 450 days after the base: the histories end before it.
fn today() -> NaiveDate {
    (base() + Duration::days(450)).date_naive()
}

fn severity() -> impl Strategy<Value = Severity> {
    prop::sample::select(Severity::ALL.to_vec())
}

fn status() -> impl Strategy<Value = FindingStatus> {
    prop::sample::select(FindingStatus::ALL.to_vec())
}

/// Gaps between events in seconds: nothing, a few seconds (the exact bins), whole days (events
/// at midnight, due dates hit exactly) or anything up to two months.
fn gap() -> impl Strategy<Value = i64> {
    prop_oneof![
        Just(0),
        0i64..30,
        (0i64..60).prop_map(|d| d * 86_400),
        0i64..60 * 86_400,
    ]
}

#[derive(Debug, Clone)]
struct GenFinding {
    severity: Severity,
    /// Seconds after the base (which lies at midnight), the first the creation.
    events: Vec<(i64, FindingStatus)>,
}

fn finding() -> impl Strategy<Value = GenFinding> {
    (
        severity(),
        prop_oneof![0i64..300 * 86_400, (0i64..300).prop_map(|d| d * 86_400)],
        status(),
        prop::collection::vec((gap(), status()), 0..7),
    )
        .prop_map(|(severity, created, first, changes)| {
            let mut events = vec![(created, first)];
            let mut t = created;
            for (gap, status) in changes {
                t += gap;
                events.push((t, status));
            }
            GenFinding { severity, events }
        })
}

fn days() -> impl Strategy<Value = Option<SlaDays>> {
    prop_oneof![
        Just(None),
        (1i64..15).prop_map(|d| SlaDays::parse("d", d).ok()),
        (1i64..=3650).prop_map(|d| SlaDays::parse("d", d).ok()),
    ]
}

fn policy() -> impl Strategy<Value = EffectivePolicy> {
    (0i64..350 * 86_400, [days(), days(), days(), days(), days()]).prop_map(|(at, d)| {
        EffectivePolicy {
            effective_from: base() + Duration::seconds(at),
            policy: SlaPolicy::new(BySeverity {
                critical: d[0],
                high: d[1],
                medium: d[2],
                low: d[3],
                info: d[4],
            }),
        }
    })
}

fn granularity() -> impl Strategy<Value = Granularity> {
    prop::sample::select(Granularity::ALL.to_vec())
}

#[derive(Debug, Clone)]
struct Case {
    findings: Vec<GenFinding>,
    policies: Vec<EffectivePolicy>,
    /// Days after base − 30 (so that windows may start before the project).
    from_offset: u64,
    length: u64,
    granularity: Granularity,
    /// A permutation seed for the order the deltas are handed in.
    shuffle: Vec<prop::sample::Index>,
}

fn case() -> impl Strategy<Value = Case> {
    (
        prop::collection::vec(finding(), 1..25),
        prop::collection::vec(policy(), 0..3),
        0u64..480,
        prop_oneof![1u64..15, 1u64..=366],
        granularity(),
        prop::collection::vec(any::<prop::sample::Index>(), 64),
    )
        .prop_map(
            |(findings, policies, from_offset, length, granularity, shuffle)| Case {
                findings,
                policies,
                from_offset,
                length,
                granularity,
                shuffle,
            },
        )
}

impl Case {
    fn project(&self, keep: impl Fn(usize) -> bool) -> Project {
        let mut p = Project {
            policies: self.policies.clone(),
            ..Project::default()
        };
        for (_, f) in self.findings.iter().enumerate().filter(|(i, _)| keep(*i)) {
            let events: Vec<_> = f
                .events
                .iter()
                .map(|(t, s)| (base() + Duration::seconds(*t), *s))
                .collect();
            p.finding_at(f.severity, &events);
        }
        p
    }

    fn query(&self) -> RemediationQuery {
        let earliest = base().date_naive() - Days::new(30);
        let from = (earliest + Days::new(self.from_offset)).min(today());
        let to = (from + Days::new(self.length - 1)).min(today());
        RemediationQuery {
            window: DateWindow::new(from, to, today(), ("date_from", "date_to")).unwrap(),
            granularity: self.granularity,
        }
    }
}

/// Every write's deltas, as the ledger would add them, in write order per finding.
fn write_deltas(case: &Case) -> Vec<Vec<DatedRemediationDelta>> {
    case.findings
        .iter()
        .map(|f| {
            let created_at = base() + Duration::seconds(f.events[0].0);
            let due = due_on(
                created_at,
                f.severity,
                &policy_in_force(&case.policies, created_at),
            );
            let mut before = None;
            let mut out = Vec::new();
            for (t, status) in &f.events {
                out.extend(remediation_deltas(&RemediationWrite {
                    severity: f.severity,
                    created_at,
                    due_on: due,
                    before,
                    after: *status,
                    occurred_at: base() + Duration::seconds(*t),
                }));
                before = Some(*status);
            }
            out
        })
        .collect()
}

fn totals_of(
    deltas: impl IntoIterator<Item = DatedRemediationDelta>,
) -> BTreeMap<(NaiveDate, Severity), RemediationDelta> {
    let mut totals: BTreeMap<(NaiveDate, Severity), RemediationDelta> = BTreeMap::new();
    for d in deltas {
        *totals.entry((d.day, d.severity)).or_default() += d.delta;
    }
    totals.retain(|_, d| !d.is_zero());
    totals
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn the_folded_deltas_equal_the_reference(case in case()) {
        let project = case.project(|_| true);
        let query = case.query();
        let exact = project.slow(&query);
        assert_agree(&project.fast(&query), &exact);

        // Writes to different findings interleaved in any order, handed over unsorted and
        // unmerged, every day included (those before the window count as before, those after it
        // are ignored): the same report.
        let mut queues = write_deltas(&case);
        let mut interleaved = Vec::new();
        let mut picks = case.shuffle.iter().cycle();
        while queues.iter().any(|q| !q.is_empty()) {
            let open: Vec<usize> = (0..queues.len()).filter(|i| !queues[*i].is_empty()).collect();
            let i = open[picks.next().unwrap().index(open.len())];
            interleaved.push(queues[i].remove(0));
        }
        prop_assert_eq!(
            totals_of(interleaved.iter().cloned()),
            reference::daily_deltas(&project.history, project.severity_of(), &project.policies)
        );
        let mut scrambled = interleaved.clone();
        for (k, index) in case.shuffle.iter().enumerate() {
            let (a, b) = (k % scrambled.len(), index.index(scrambled.len()));
            scrambled.swap(a, b);
        }
        let unsorted = fold(&BySeverity::default(), &scrambled, &query, &project.policies);
        assert_agree(&unsorted, &exact);

        // An organisation of two projects: their totals summed equal the whole.
        let even = case.project(|i| i % 2 == 0).totals();
        let odd = case.project(|i| i % 2 == 1).totals();
        let summed: Vec<DatedRemediationDelta> = even
            .into_iter()
            .chain(odd)
            .map(|((day, severity), delta)| DatedRemediationDelta { day, severity, delta })
            .collect();
        let org = fold(&BySeverity::default(), &summed, &query, &project.policies);
        assert_agree(&org, &exact);
    }

    #[test]
    fn levels_never_go_negative_and_aging_adds_up_to_open(case in case()) {
        let project = case.project(|_| true);
        let report = project.fast(&case.query());
        for bucket in &report.buckets {
            for (_, m) in bucket.by_severity.iter() {
                prop_assert!(m.open_at_end >= 0);
                prop_assert!(0 <= m.overdue_at_end && m.overdue_at_end <= m.open_at_end);
                if let Some(within) = m.resolved_within_sla {
                    prop_assert!(0 <= within && within <= m.resolved);
                }
                if let Some(t) = m.time_to_resolve_hours {
                    prop_assert_eq!(t.count, m.resolved);
                    prop_assert!(t.p50 <= t.p90 * (1.0 + 1e-12));
                }
            }
        }
        for (severity, aging) in report.aging_at_end.by_severity.iter() {
            prop_assert_eq!(aging.total(), report.total.by_severity.get(severity).open_at_end);
        }
        prop_assert_eq!(report.aging_at_end.all.total(), report.total.all.open_at_end);
        if let Some(c) = report.sla_compliance {
            prop_assert!((0.0..=1.0).contains(&c));
        }
    }
}
