//! The regression rate's numerator, `returned_findings`, through every ledger write that can move
//! it: after each write the stored totals equal the reference recount of the stored history, and
//! the summaries folded from them equal the reference summaries.

use chrono::{Days, Duration, NaiveDate};
use krafter_domain::ids::RegressionId;
use krafter_domain::ledger::{
    Decide, Finding, FindingChange, FindingStatus, LedgerRepository, Regression, RegressionStatus,
};
use krafter_domain::metrics::{reference, summarize, MetricsRepository, SummaryQuery};

use crate::{at, change_to, new_finding, state, Fixture};

use FindingStatus::*;

const TODAY: &str = "2026-06-10";

fn open_at(occurred_at: &str) -> Decide<Finding, Regression> {
    let occurred_at = at(occurred_at);
    Box::new(move |f: &Finding| Ok(Regression::open(f.id, occurred_at)))
}

fn close_at(occurred_at: &str) -> Decide<Regression, Regression> {
    let occurred_at = at(occurred_at);
    Box::new(move |r: &Regression| Ok(r.transition(RegressionStatus::Closed, occurred_at)?))
}

impl Fixture {
    async fn finding(&self, status: FindingStatus, created_at: &str) -> Finding {
        let f = new_finding("XSS", state(status, 100), at(created_at));
        self.store
            .create_finding(self.project.id, &f)
            .await
            .unwrap();
        f
    }

    async fn move_to(&self, f: &Finding, status: FindingStatus, occurred_at: &str) {
        self.store
            .change_finding(
                self.project.id,
                f.id,
                change_to(state(status, 100), at(occurred_at)),
            )
            .await
            .unwrap();
    }

    async fn open(&self, f: &Finding, occurred_at: &str) -> RegressionId {
        let r = self
            .store
            .open_regression(self.project.id, f.id, open_at(occurred_at))
            .await
            .unwrap();
        r.id
    }

    async fn close(&self, r: RegressionId, occurred_at: &str) {
        self.store
            .close_regression(self.project.id, r, close_at(occurred_at))
            .await
            .unwrap();
    }

    /// The stored `returned_findings` deltas, non-zero days only, after checking that every
    /// stored total and every summary ending from 2026-05-29 to today matches the reference.
    async fn returned(&self) -> Vec<(String, i64)> {
        let history = self.store.history(self.project.id).await.unwrap();
        let totals = self.store.daily_totals(self.project.id).await.unwrap();
        assert_eq!(totals, reference::daily_deltas(&history), "stored totals");
        let today: NaiveDate = TODAY.parse().unwrap();
        let mut to = today - Days::new(12);
        while to <= today {
            let from = (to - Days::new(3)).to_string();
            let query = SummaryQuery::parse(Some(&from), Some(&to.to_string()), today).unwrap();
            let ledger = self
                .store
                .deltas(self.project.id, &query.window)
                .await
                .unwrap();
            assert_eq!(
                summarize(&query, &ledger),
                reference::summarize_history(&history, &query),
                "summary of {from}..{to}"
            );
            to = to + Days::new(1);
        }
        totals
            .iter()
            .filter(|(_, d)| d.returned_findings != 0)
            .map(|(day, d)| (day.to_string(), d.returned_findings))
            .collect()
    }

    async fn regression_rate_on(&self, day: &str) -> f64 {
        let query = SummaryQuery::parse(Some(day), Some(day), TODAY.parse().unwrap()).unwrap();
        let ledger = self
            .store
            .deltas(self.project.id, &query.window)
            .await
            .unwrap();
        summarize(&query, &ledger).regression_rate
    }
}

fn days(expected: &[(&str, i64)]) -> Vec<(String, i64)> {
    expected.iter().map(|(d, n)| (d.to_string(), *n)).collect()
}

#[tokio::test]
async fn a_terminal_finding_counts_from_its_first_open_regression_to_its_last() {
    let fx = Fixture::new().await;
    let f = fx.finding(Resolved, "2026-06-01T10:00:00Z").await;
    // Another terminal finding, which never comes back: the rate is a share.
    fx.finding(Dismissed, "2026-06-01T11:00:00Z").await;
    let first = fx.open(&f, "2026-06-02T10:00:00Z").await;
    assert_eq!(fx.returned().await, days(&[("2026-06-02", 1)]));
    // A second open regression on the same finding changes nothing.
    let second = fx.open(&f, "2026-06-03T10:00:00Z").await;
    assert_eq!(fx.returned().await, days(&[("2026-06-02", 1)]));
    fx.close(first, "2026-06-04T10:00:00Z").await;
    assert_eq!(fx.returned().await, days(&[("2026-06-02", 1)]));
    // Closing the last one does.
    fx.close(second, "2026-06-05T10:00:00Z").await;
    assert_eq!(
        fx.returned().await,
        days(&[("2026-06-02", 1), ("2026-06-05", -1)])
    );
    assert_eq!(fx.regression_rate_on("2026-06-04").await, 0.5);
    assert_eq!(fx.regression_rate_on("2026-06-05").await, 0.0);
}

#[tokio::test]
async fn status_changes_move_a_finding_with_open_regressions_in_and_out() {
    let fx = Fixture::new().await;
    let f = fx.finding(New, "2026-06-01T10:00:00Z").await;
    // A regression on an open finding does not count.
    fx.open(&f, "2026-06-02T10:00:00Z").await;
    fx.open(&f, "2026-06-02T11:00:00Z").await;
    assert_eq!(fx.returned().await, days(&[]));
    // open → terminal: +1, once for both regressions.
    fx.move_to(&f, Resolved, "2026-06-03T10:00:00Z").await;
    assert_eq!(fx.returned().await, days(&[("2026-06-03", 1)]));
    assert_eq!(fx.regression_rate_on("2026-06-03").await, 1.0);
    // terminal → terminal: no change.
    fx.move_to(&f, Dismissed, "2026-06-04T10:00:00Z").await;
    assert_eq!(fx.returned().await, days(&[("2026-06-03", 1)]));
    // terminal → open (reopened): −1.
    fx.move_to(&f, InProgress, "2026-06-05T10:00:00Z").await;
    assert_eq!(
        fx.returned().await,
        days(&[("2026-06-03", 1), ("2026-06-05", -1)])
    );
    // A priority change while open: no change.
    fx.store
        .change_finding(
            fx.project.id,
            f.id,
            change_to(state(InProgress, 7), at("2026-06-06T10:00:00Z")),
        )
        .await
        .unwrap();
    // Resolving a finding that has one: +1 again.
    fx.move_to(&f, Resolved, "2026-06-07T10:00:00Z").await;
    assert_eq!(
        fx.returned().await,
        days(&[("2026-06-03", 1), ("2026-06-05", -1), ("2026-06-07", 1)])
    );
    assert_eq!(fx.regression_rate_on("2026-06-05").await, 0.0);
    assert_eq!(fx.regression_rate_on("2026-06-09").await, 1.0);
}

#[tokio::test]
async fn a_change_back_dated_before_a_regression_counts_from_the_regression() {
    let fx = Fixture::new().await;
    let f = fx.finding(New, "2026-06-01T10:00:00Z").await;
    let r = fx.open(&f, "2026-06-05T10:00:00Z").await;
    // Resolved on the 3rd, recorded after the regression of the 5th: it came back on the 5th.
    fx.move_to(&f, Resolved, "2026-06-03T10:00:00Z").await;
    assert_eq!(fx.returned().await, days(&[("2026-06-05", 1)]));
    assert_eq!(fx.regression_rate_on("2026-06-04").await, 0.0);
    assert_eq!(fx.regression_rate_on("2026-06-05").await, 1.0);
    // Reopened on the 4th, before the regression: it never counts.
    fx.move_to(&f, Triaged, "2026-06-04T10:00:00Z").await;
    assert_eq!(fx.returned().await, days(&[]));
    fx.close(r, "2026-06-08T10:00:00Z").await;
    assert_eq!(fx.returned().await, days(&[]));
}

#[tokio::test]
async fn back_dated_openings_and_closings_land_on_their_own_days() {
    let fx = Fixture::new().await;
    let f = fx.finding(New, "2026-06-01T10:00:00Z").await;
    fx.move_to(&f, Resolved, "2026-06-02T10:00:00Z").await;
    let late = fx.open(&f, "2026-06-06T10:00:00Z").await;
    assert_eq!(fx.returned().await, days(&[("2026-06-06", 1)]));
    // Another regression, recorded later but opened earlier, and closed before the first opened.
    let early = fx.open(&f, "2026-06-03T10:00:00Z").await;
    assert_eq!(fx.returned().await, days(&[("2026-06-03", 1)]));
    fx.close(early, "2026-06-04T10:00:00Z").await;
    assert_eq!(
        fx.returned().await,
        days(&[("2026-06-03", 1), ("2026-06-04", -1), ("2026-06-06", 1)])
    );
    // Reopened on the 8th; then the first regression is closed back on the 7th.
    fx.move_to(&f, Triaged, "2026-06-08T10:00:00Z").await;
    assert_eq!(
        fx.returned().await,
        days(&[
            ("2026-06-03", 1),
            ("2026-06-04", -1),
            ("2026-06-06", 1),
            ("2026-06-08", -1)
        ])
    );
    fx.close(late, "2026-06-07T10:00:00Z").await;
    assert_eq!(
        fx.returned().await,
        days(&[
            ("2026-06-03", 1),
            ("2026-06-04", -1),
            ("2026-06-06", 1),
            ("2026-06-07", -1)
        ])
    );
    // Resolved again on the 9th: nothing open any more, nothing counts.
    fx.move_to(&f, Resolved, "2026-06-09T10:00:00Z").await;
    assert_eq!(fx.regression_rate_on("2026-06-09").await, 0.0);
    assert_eq!(fx.regression_rate_on("2026-06-06").await, 1.0);
}

#[tokio::test]
async fn what_opens_and_closes_within_a_day_never_shows() {
    let fx = Fixture::new().await;
    let f = fx.finding(Resolved, "2026-06-01T10:00:00Z").await;
    let r = fx.open(&f, "2026-06-02T10:00:00Z").await;
    fx.close(r, "2026-06-02T23:59:59.999999Z").await;
    let r = fx.open(&f, "2026-06-03T10:00:00Z").await;
    // Closed exactly at midnight: open at the end of the 3rd, closed on the 4th.
    fx.close(r, "2026-06-04T00:00:00Z").await;
    assert_eq!(
        fx.returned().await,
        days(&[("2026-06-03", 1), ("2026-06-04", -1)])
    );
}

/// Status changes of one finding, and openings and closings of its regressions, all at once;
/// openings and closings at times in no particular order, status changes in time order as the
/// domain keeps them. Every write holds the finding's lock, so each shift is computed on the
/// finding as it is when the write commits.
#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn concurrent_writes_on_one_finding_keep_the_count_exact() {
    const REGRESSIONS: usize = 16;
    let fx = Fixture::new().await;
    let start = at("2026-06-01T12:00:00Z");
    let hot = fx.finding(Resolved, "2026-06-01T12:00:00Z").await;
    // Untouched: it counts from the first day on, so the count is never all zero.
    let steady = fx.finding(Dismissed, "2026-06-01T12:00:00Z").await;
    fx.open(&steady, "2026-06-01T12:30:00Z").await;
    let mut opened = Vec::new();
    for i in 0..REGRESSIONS {
        let opened_at = start + Duration::minutes(20 * i as i64 + 1);
        opened.push((fx.open(&hot, &opened_at.to_rfc3339()).await, opened_at));
    }
    let statuses = [Resolved, Triaged, Dismissed, Resolved, New, Dismissed];
    let mut tasks = Vec::new();
    for i in 0..3 * REGRESSIONS {
        let store = fx.store.clone();
        let project = fx.project.id;
        let hot = hot.id;
        // Spread over nine days, in an order unrelated to the order of arrival.
        let at = start + Duration::minutes(((i * 37) % (3 * REGRESSIONS)) as i64 * 270);
        let (regression, opened_at) = opened[i / 3];
        tasks.push(tokio::spawn(async move {
            match i % 3 {
                0 => {
                    let after = state(statuses[(i / 3) % statuses.len()], 100);
                    let decide = Box::new(move |f: &Finding| {
                        Ok(Some(FindingChange {
                            finding_id: f.id,
                            occurred_at: at.max(f.updated_at),
                            before: Some(f.state),
                            after,
                        }))
                    });
                    store.change_finding(project, hot, decide).await.map(|_| ())
                }
                1 => {
                    let decide = Box::new(move |r: &Regression| {
                        Ok(r.transition(RegressionStatus::Closed, at.max(opened_at))?)
                    });
                    store
                        .close_regression(project, regression, decide)
                        .await
                        .map(|_| ())
                }
                _ => {
                    // Recorded closed already, so that the finding can still lose its last one.
                    let decide = Box::new(move |f: &Finding| {
                        Ok(Regression {
                            closed_at: Some(at + Duration::hours(30)),
                            ..Regression::open(f.id, at)
                        })
                    });
                    store
                        .open_regression(project, hot, decide)
                        .await
                        .map(|_| ())
                }
            }
        }));
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert!(!fx.returned().await.is_empty());
    crate::assert_totals_replay_history(&fx.store, fx.project.id).await;
}
