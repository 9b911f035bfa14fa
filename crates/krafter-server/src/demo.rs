//! The demo: an organisation, project `production-website`, a key with both scopes, and findings
//! with 90 days of history, written through the ledger's use cases with backdated `occurred_at`.

use std::sync::Arc;

use chrono::{DateTime, Duration, DurationRound, Utc};
use futures::{StreamExt, TryStreamExt};
use krafter_domain::access::{ApiKeySecret, Scope, Scopes};
use krafter_domain::ids::{FindingId, OrgId};
use krafter_domain::ledger::{
    CloseRegression, CreateFinding, FindingStatus, FindingTitle, Ledger, OpenRegression,
    PriorityScore, RecordVerification, RegressionStatus, Severity, UpdateFinding,
    VerificationResult,
};
use krafter_domain::project::Project;
use krafter_domain::Clock;
use krafter_postgres::PgStore;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::admin::{self, CommandError};

pub const PROJECT_SLUG: &str = "production-website";
pub const DEFAULT_FINDINGS: usize = 500;
const HISTORY_DAYS: i64 = 90;
/// Findings written at once; each finding's own history is written in order.
const CONCURRENCY: usize = 8;

pub struct Demo {
    pub org: OrgId,
    pub project: Project,
    pub key: ApiKeySecret,
}

impl Demo {
    /// A ready-to-paste request for the project's summary, against the API at `address` (host:port).
    pub fn curl(&self, address: &str) -> String {
        format!(
            "curl -H \"Authorization: Bearer {}\" http://{address}/api/v1/orgs/{}/projects/{}/audit/reports/summary",
            self.key.expose(),
            self.org,
            self.project.slug
        )
    }
}

/// Seeds a new demo organisation with `findings` findings.
pub async fn seed(
    store: &PgStore,
    clock: Arc<dyn Clock>,
    findings: usize,
) -> Result<Demo, CommandError> {
    let now = clock.now();
    let org = admin::create_org(store, now, "Demo").await?;
    let project =
        admin::create_project(store, now, org.id, PROJECT_SLUG, Some("Production website")).await?;
    let scopes = Scopes::of(&[Scope::AuditRead, Scope::AuditWrite]);
    let key = admin::create_key(store, now, org.id, scopes, "demo").await?;

    let started = std::time::Instant::now();
    let ledger = Ledger::new(Arc::new(store.clone()), clock);
    let mut rng = StdRng::seed_from_u64(2026);
    let plans: Vec<Plan> = (0..findings).map(|_| Plan::random(&mut rng, now)).collect();
    let events: usize = plans.iter().map(|p| p.events.len() + 1).sum();
    futures::stream::iter(plans)
        .map(|plan| plan.write(&ledger, &project))
        .buffer_unordered(CONCURRENCY)
        .try_collect::<Vec<()>>()
        .await
        .map_err(CommandError::failed)?;
    tracing::info!(
        findings,
        events,
        seconds = started.elapsed().as_secs_f64(),
        "seeded the demo history"
    );
    Ok(Demo {
        org: org.id,
        project,
        key,
    })
}

/// One event of a finding's planned history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Event {
    Status(FindingStatus),
    Priority(PriorityScore),
    Verification(VerificationResult),
    OpenRegression,
    CloseRegression,
}

/// A finding and what happens to it, in time order, never after `now`.
#[derive(Debug, Clone)]
struct Plan {
    title: FindingTitle,
    severity: Severity,
    priority: PriorityScore,
    created_at: DateTime<Utc>,
    events: Vec<(DateTime<Utc>, Event)>,
}

const WEAKNESSES: &[&str] = &[
    "SQL injection",
    "Reflected XSS",
    "Stored XSS",
    "Open redirect",
    "CSRF token not validated",
    "Server-side request forgery",
    "Insecure direct object reference",
    "Path traversal",
    "Missing rate limiting",
    "Session fixation",
    "Sensitive data in logs",
    "Missing security headers",
    "Outdated TLS configuration",
    "Vulnerable dependency",
    "Weak password policy",
];

const PLACES: &[&str] = &[
    "/login",
    "/signup",
    "/reset-password",
    "/checkout",
    "/cart",
    "/account/settings",
    "/admin/users",
    "/api/search",
    "/api/orders",
    "/api/export",
    "/upload",
    "/blog/comments",
];

impl Plan {
    fn random(rng: &mut StdRng, now: DateTime<Utc>) -> Plan {
        let title = format!(
            "{} in {}",
            WEAKNESSES[rng.gen_range(0..WEAKNESSES.len())],
            PLACES[rng.gen_range(0..PLACES.len())]
        );
        let (severity, scores) = match rng.gen_range(0..100) {
            0..=4 => (Severity::Critical, 800..=1000),
            5..=24 => (Severity::High, 600..=850),
            25..=59 => (Severity::Medium, 350..=650),
            60..=89 => (Severity::Low, 100..=400),
            _ => (Severity::Info, 0..=150),
        };
        let score = |rng: &mut StdRng, range| {
            PriorityScore::parse(rng.gen_range(range)).expect("in 0..=1000")
        };
        // Whole seconds, so that nothing is lost to storage precision.
        let start = (now - Duration::days(HISTORY_DAYS))
            .duration_trunc(Duration::seconds(1))
            .expect("a representable time");
        let span = (now - start).num_seconds() - 600;
        let created_at = start + Duration::seconds(rng.gen_range(0..span));
        let mut plan = Plan {
            title: FindingTitle::parse(&title).expect("a valid title"),
            severity,
            priority: score(rng, scores),
            created_at,
            events: Vec::new(),
        };
        plan.live(rng, now);
        plan
    }

    /// Walks the finding through triage, work, verification and sometimes regression, until
    /// the next step would be in the future.
    fn live(&mut self, rng: &mut StdRng, now: DateTime<Utc>) {
        let hours = |rng: &mut StdRng, from: i64, to: i64| {
            Duration::minutes(rng.gen_range(from * 60..=to * 60))
        };
        let mut at = self.created_at;
        let mut status = FindingStatus::New;
        let mut priority = self.priority;
        let mut regressions = 0;
        let mut regression_open = false;
        loop {
            let (gap, event) = match status {
                FindingStatus::New if rng.gen_bool(0.85) => {
                    (hours(rng, 2, 72), Event::Status(FindingStatus::Triaged))
                }
                FindingStatus::Triaged if rng.gen_bool(0.12) => {
                    (hours(rng, 1, 120), Event::Status(FindingStatus::Dismissed))
                }
                FindingStatus::Triaged if rng.gen_bool(0.2) && priority == self.priority => {
                    let shifted = i64::from(priority.get()) + rng.gen_range(-250..=250);
                    let new = PriorityScore::parse(shifted.clamp(0, 1000)).expect("clamped");
                    (hours(rng, 1, 48), Event::Priority(new))
                }
                FindingStatus::Triaged if rng.gen_bool(0.75) => {
                    (hours(rng, 6, 240), Event::Status(FindingStatus::InProgress))
                }
                FindingStatus::InProgress if rng.gen_bool(0.8) => (
                    hours(rng, 24, 336),
                    Event::Status(FindingStatus::ReadyVerify),
                ),
                FindingStatus::ReadyVerify => {
                    let result = if rng.gen_bool(0.8) {
                        VerificationResult::Passed
                    } else {
                        VerificationResult::Failed
                    };
                    (hours(rng, 2, 72), Event::Verification(result))
                }
                FindingStatus::Resolved if regression_open => {
                    (hours(rng, 0, 2), Event::CloseRegression)
                }
                FindingStatus::Resolved if regressions < 2 && rng.gen_bool(0.1) => {
                    (hours(rng, 72, 720), Event::OpenRegression)
                }
                _ => return,
            };
            at += gap;
            if at > now {
                return;
            }
            self.events.push((at, event));
            match event {
                Event::Status(next) => status = next,
                Event::Priority(next) => priority = next,
                Event::Verification(result) => {
                    // The outcome shows shortly after the verification.
                    at += hours(rng, 0, 6);
                    let next = match result {
                        VerificationResult::Passed => FindingStatus::Resolved,
                        VerificationResult::Failed => FindingStatus::InProgress,
                    };
                    if at > now {
                        return;
                    }
                    self.events.push((at, Event::Status(next)));
                    status = next;
                }
                Event::OpenRegression => {
                    regressions += 1;
                    regression_open = true;
                    at += hours(rng, 0, 24);
                    if at > now {
                        return;
                    }
                    self.events
                        .push((at, Event::Status(FindingStatus::Triaged)));
                    status = FindingStatus::Triaged;
                }
                Event::CloseRegression => regression_open = false,
            }
        }
    }

    async fn write(self, ledger: &Ledger, project: &Project) -> anyhow::Result<()> {
        let finding = ledger
            .create_finding(
                project,
                CreateFinding {
                    title: self.title,
                    severity: self.severity,
                    priority_score: self.priority,
                    status: FindingStatus::New,
                    occurred_at: Some(self.created_at),
                },
            )
            .await?;
        let id: FindingId = finding.id;
        let mut regression = None;
        for (at, event) in self.events {
            let occurred_at = Some(at);
            match event {
                Event::Status(status) => {
                    let change = UpdateFinding {
                        status: Some(status),
                        priority_score: None,
                        occurred_at,
                    };
                    ledger.update_finding(project, id, change).await?;
                }
                Event::Priority(score) => {
                    let change = UpdateFinding {
                        status: None,
                        priority_score: Some(score),
                        occurred_at,
                    };
                    ledger.update_finding(project, id, change).await?;
                }
                Event::Verification(result) => {
                    let input = RecordVerification {
                        result,
                        occurred_at,
                    };
                    ledger.record_verification(project, id, input).await?;
                }
                Event::OpenRegression => {
                    let input = OpenRegression { occurred_at };
                    regression = Some(ledger.open_regression(project, id, input).await?.id);
                }
                Event::CloseRegression => {
                    let input = CloseRegression {
                        status: RegressionStatus::Closed,
                        occurred_at,
                    };
                    let open = regression.take().expect("a regression was opened before");
                    ledger.close_regression(project, open, input).await?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_are_in_time_order_within_the_last_90_days() {
        let now: DateTime<Utc> = "2026-06-10T15:30:12.345678Z".parse().unwrap();
        let mut rng = StdRng::seed_from_u64(7);
        let plans: Vec<Plan> = (0..2_000).map(|_| Plan::random(&mut rng, now)).collect();
        for plan in &plans {
            assert!(plan.created_at >= now - Duration::days(HISTORY_DAYS));
            let mut last = plan.created_at;
            let mut open_regression = false;
            for (at, event) in &plan.events {
                assert!(*at >= last && *at <= now, "{plan:?}");
                last = *at;
                match event {
                    Event::OpenRegression => open_regression = true,
                    Event::CloseRegression => {
                        assert!(open_regression);
                        open_regression = false;
                    }
                    _ => {}
                }
            }
        }
        let count = |wanted: fn(&Event) -> bool| {
            plans
                .iter()
                .flat_map(|p| &p.events)
                .filter(|(_, e)| wanted(e))
                .count()
        };
        // Realistic enough: every kind of event happens, and so do open and terminal findings.
        assert!(count(|e| matches!(e, Event::Status(FindingStatus::Resolved))) > 200);
        assert!(count(|e| matches!(e, Event::Status(FindingStatus::Dismissed))) > 50);
        assert!(count(|e| matches!(e, Event::Priority(_))) > 50);
        assert!(count(|e| matches!(e, Event::Verification(VerificationResult::Failed))) > 20);
        assert!(count(|e| matches!(e, Event::OpenRegression)) > 10);
        assert!(count(|e| matches!(e, Event::CloseRegression)) > 5);
        assert!(plans.iter().any(|p| p.events.is_empty()));
    }
}
