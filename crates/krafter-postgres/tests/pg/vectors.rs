use std::collections::HashMap;

use krafter_domain::ids::{FindingId, RegressionId, VerificationId};
use krafter_domain::ledger::{
    Finding, FindingStatus, LedgerRepository, Regression, RegressionStatus, Verification,
    VerificationResult,
};
use krafter_domain::metrics::{reference, summarize, MetricsRepository, SummaryQuery};
use krafter_test_support::vectors::{self, Step};

use crate::{change_to, new_finding, state, Fixture};

/// Every summary vector, imported step by step through the repository: the stored totals equal
/// a replay of the stored history (and of the scenario's own), and the summaries folded from
/// `deltas` are the expected ones.
#[tokio::test]
async fn every_scenario_replays_into_exact_totals_and_summaries() {
    let vectors = vectors::load();
    let fx = Fixture::new().await;
    let mut queries = 0;
    for (n, scenario) in vectors.scenarios.iter().enumerate() {
        let project = fx.project(&format!("scenario-{n}")).await;
        let mut findings: HashMap<&str, FindingId> = HashMap::new();
        let mut regressions: HashMap<usize, RegressionId> = HashMap::new();
        for step in scenario.steps() {
            match step {
                Step::CreateFinding {
                    key,
                    at,
                    status,
                    priority_score,
                } => {
                    let s = state(FindingStatus::parse(status).unwrap(), priority_score);
                    let f = new_finding(key, s, at);
                    fx.store.create_finding(project.id, &f).await.unwrap();
                    findings.insert(key, f.id);
                }
                Step::ChangeFinding {
                    key,
                    at,
                    status,
                    priority_score,
                } => {
                    let s = state(FindingStatus::parse(status).unwrap(), priority_score);
                    fx.store
                        .change_finding(project.id, findings[key], change_to(s, at))
                        .await
                        .unwrap();
                }
                Step::Verify { key, at, result } => {
                    let result = VerificationResult::parse(result).unwrap();
                    fx.store
                        .add_verification(
                            project.id,
                            findings[key],
                            Box::new(move |f: &Finding| {
                                Ok(Verification {
                                    id: VerificationId::generate(),
                                    finding_id: f.id,
                                    result,
                                    occurred_at: at,
                                })
                            }),
                        )
                        .await
                        .unwrap();
                }
                Step::OpenRegression { index, key, at } => {
                    let r = fx
                        .store
                        .open_regression(
                            project.id,
                            findings[key],
                            Box::new(move |f: &Finding| Ok(Regression::open(f.id, at))),
                        )
                        .await
                        .unwrap();
                    regressions.insert(index, r.id);
                }
                Step::CloseRegression { index, at } => {
                    fx.store
                        .close_regression(
                            project.id,
                            regressions[&index],
                            Box::new(move |r: &Regression| {
                                Ok(r.transition(RegressionStatus::Closed, at)?)
                            }),
                        )
                        .await
                        .unwrap();
                }
            }
        }
        let stored = fx.store.history(project.id).await.unwrap();
        let expected = reference::daily_deltas(&scenario.history());
        assert_eq!(
            reference::daily_deltas(&stored),
            expected,
            "{}",
            scenario.name
        );
        assert_eq!(
            fx.store.daily_totals(project.id).await.unwrap(),
            expected,
            "{}",
            scenario.name
        );

        for q in &scenario.queries {
            let query =
                SummaryQuery::parse(q.date_from.as_deref(), q.date_to.as_deref(), vectors.today)
                    .unwrap();
            let ledger = fx.store.deltas(project.id, &query.window).await.unwrap();
            assert_eq!(
                summarize(&query, &ledger),
                vectors::expected_summary(&q.expected),
                "{} {:?}..{:?}",
                scenario.name,
                q.date_from,
                q.date_to
            );
            queries += 1;
        }
        crate::assert_totals_replay_history(&fx.store, project.id).await;
    }
    assert_eq!(queries, 40);
}
