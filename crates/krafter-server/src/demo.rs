//! The demo: an organisation, project `production-website`, a key with both scopes, and findings
//! with 90 days of history. The histories are planned here, in time order and within the
//! ledger's rules, and written through the bulk path (`krafter_postgres::seed::bulk_history`),
//! which then rebuilds the daily totals: a million findings take about a minute, where the
//! ledger's use cases, one change at a time, took about 50.

use std::io::IsTerminal;
use std::sync::Arc;

use chrono::{DateTime, Duration, DurationRound, Utc};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use krafter_domain::access::{ApiKeySecret, Scope, Scopes};
use krafter_domain::ids::{FindingId, OrgId, VerificationId};
use krafter_domain::ledger::{
    Finding, FindingState, FindingStatus, FindingTitle, PriorityScore, Regression, Severity,
    Verification, VerificationResult,
};
use krafter_domain::project::Project;
use krafter_domain::Clock;
use krafter_postgres::seed::{bulk_history, BulkFinding};
use krafter_postgres::PgStore;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::admin::{self, CommandError};

pub const PROJECT_SLUG: &str = "production-website";
pub const DEFAULT_FINDINGS: u64 = 500;
const HISTORY_DAYS: i64 = 90;

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

/// Seeds a new demo organisation with `findings` findings; with `progress`, a progress bar on
/// stderr when it is a terminal.
pub async fn seed(
    store: &PgStore,
    clock: Arc<dyn Clock>,
    findings: u64,
    progress: bool,
) -> Result<Demo, CommandError> {
    let now = clock.now();
    let org = admin::create_org(store, now, "Demo").await?;
    let project =
        admin::create_project(store, now, org.id, PROJECT_SLUG, Some("Production website")).await?;
    let scopes = Scopes::of(&[Scope::AuditRead, Scope::AuditWrite]);
    let key = admin::create_key(store, now, org.id, scopes, "demo").await?;

    let started = std::time::Instant::now();
    let bar = if progress && std::io::stderr().is_terminal() {
        ProgressBar::with_draw_target(Some(findings), ProgressDrawTarget::stderr())
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template(
            "seeding {human_pos}/{human_len} findings [{bar:40}] {elapsed_precise} (about {eta} left)",
        )
        .expect("a valid template")
        .progress_chars("=> "),
    );
    let mut rng = StdRng::seed_from_u64(2026);
    let plans = (0..findings).map(move |_| Plan::random(&mut rng, now).into_bulk());
    let rebuilding = ProgressStyle::with_template(
        "seeded {human_len} findings in {elapsed_precise}; rebuilding the daily totals {spinner}",
    )
    .expect("a valid template");
    let progress = |done: u64| {
        bar.set_position(done);
        // After the last chunk, the totals are rebuilt from what was written.
        if done == findings {
            bar.set_style(rebuilding.clone());
            bar.enable_steady_tick(std::time::Duration::from_millis(120));
        }
    };
    let written = bulk_history(store, project.id, plans, &progress)
        .await
        .map_err(CommandError::failed)?;
    bar.finish_and_clear();
    tracing::info!(
        findings = written,
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

    /// The finding as the ledger would store it: a history entry for every change of state
    /// (none for a change to the same state, which the ledger ignores), its verifications and
    /// its regressions.
    fn into_bulk(self) -> BulkFinding {
        let id = FindingId::generate();
        let mut state = FindingState {
            status: FindingStatus::New,
            priority_score: self.priority,
        };
        let mut history = vec![(self.created_at, state)];
        let mut verifications = Vec::new();
        let mut regressions: Vec<Regression> = Vec::new();
        for (at, event) in self.events {
            let next = match event {
                Event::Status(status) => FindingState { status, ..state },
                Event::Priority(priority_score) => FindingState {
                    priority_score,
                    ..state
                },
                Event::Verification(result) => {
                    verifications.push(Verification {
                        id: VerificationId::generate(),
                        finding_id: id,
                        result,
                        occurred_at: at,
                    });
                    continue;
                }
                Event::OpenRegression => {
                    regressions.push(Regression::open(id, at));
                    continue;
                }
                Event::CloseRegression => {
                    let open = regressions
                        .last_mut()
                        .expect("a regression was opened before");
                    open.closed_at = Some(at);
                    continue;
                }
            };
            if next != state {
                state = next;
                history.push((at, state));
            }
        }
        let updated_at = history.last().map_or(self.created_at, |(at, _)| *at);
        BulkFinding {
            finding: Finding {
                id,
                title: self.title,
                severity: self.severity,
                state,
                created_at: self.created_at,
                updated_at,
                due_on: None,
                provenance: Default::default(),
            },
            history,
            verifications,
            regressions,
        }
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

    #[test]
    fn the_bulk_rows_are_what_the_ledger_would_have_stored() {
        let now: DateTime<Utc> = "2026-06-10T15:30:12Z".parse().unwrap();
        let mut rng = StdRng::seed_from_u64(11);
        for _ in 0..2_000 {
            let plan = Plan::random(&mut rng, now);
            let statuses = plan
                .events
                .iter()
                .filter(|(_, e)| matches!(e, Event::Status(_) | Event::Priority(_)))
                .count();
            let verifications = plan
                .events
                .iter()
                .filter(|(_, e)| matches!(e, Event::Verification(_)))
                .count();
            let bulk = plan.clone().into_bulk();
            let f = &bulk.finding;
            assert_eq!(bulk.history[0].0, plan.created_at);
            assert_eq!(bulk.history[0].1.status, FindingStatus::New);
            // Every planned change, less those to the state the finding is already in.
            assert!(bulk.history.len() <= statuses + 1, "{plan:?}");
            assert!(bulk.history.len() + 1 >= statuses, "{plan:?}");
            assert!(bulk
                .history
                .windows(2)
                .all(|w| w[0].0 <= w[1].0 && w[0].1 != w[1].1));
            assert_eq!(bulk.history.last().unwrap(), &(f.updated_at, f.state));
            assert_eq!(bulk.verifications.len(), verifications);
            // A regression closes after it opens, and at most the last one is open.
            for (n, r) in bulk.regressions.iter().enumerate() {
                assert_eq!(r.finding_id, f.id);
                match r.closed_at {
                    Some(closed) => assert!(closed >= r.opened_at),
                    None => assert_eq!(n + 1, bulk.regressions.len()),
                }
            }
        }
    }
}
