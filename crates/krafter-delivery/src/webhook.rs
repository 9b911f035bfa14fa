//! Slack incoming webhooks: the [`Webhooks`] port over reqwest, behind the SSRF guard.
//!
//! Every post vets its URL again (the allow-list or the DNS answer may have changed since the
//! share was made) and connects only to the addresses that vetting resolved: the HTTP client
//! is built per attempt around a resolver that knows the vetted host and nothing else, follows
//! no redirect and ignores proxies from the environment. TLS is rustls with the Mozilla roots
//! (`webpki-roots`), so neither OpenSSL nor a system certificate store is needed.
//!
//! A Slack webhook's path is its credential, so no reason, log line or `Debug` output here
//! contains it: reasons are built from the HTTP status or a fixed text, never from a reqwest
//! error (whose `Display` names the URL), and logs name the host only.

use std::fmt;
use std::future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use krafter_domain::share::{SendError, ShareMessage, WebhookRefused, WebhookUrl, Webhooks};
use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::time::Instant;

use crate::ssrf::{Refusal, Resolver, SsrfGuard, VettedTarget};

/// The total time one attempt may take, from connecting to the end of the answer, unless
/// [`SlackWebhooks::timeout`] says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// At most this much of an answer is read; the rest is dropped with the connection.
pub const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// Slack refuses a header block whose text is longer than this many characters.
const MAX_HEADER_CHARS: usize = 150;

const USER_AGENT: &str = concat!("krafter-reports/", env!("CARGO_PKG_VERSION"));

/// Posts shared reports to Slack incoming webhooks; the production [`Webhooks`].
#[derive(Clone)]
pub struct SlackWebhooks {
    guard: SsrfGuard,
    timeout: Duration,
}

impl SlackWebhooks {
    /// Webhooks restricted to `allowed_hosts` when it is not empty (the composition root reads
    /// it from `KRAFTER_WEBHOOK_ALLOWED_HOSTS`, see [`crate::ssrf::allowed_hosts_from`]),
    /// resolving through the system's resolver, with a total timeout of [`DEFAULT_TIMEOUT`] per
    /// attempt.
    pub fn new(allowed_hosts: Vec<String>) -> Self {
        Self {
            guard: SsrfGuard::new(allowed_hosts),
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// The total time one attempt may take.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How long vetting may wait for the host's name to resolve.
    pub fn resolution_timeout(mut self, timeout: Duration) -> Self {
        self.guard = self.guard.resolution_timeout(timeout);
        self
    }

    /// Resolves host names through `resolver` instead of the system's (tests answer with
    /// canned addresses).
    pub fn with_resolver(mut self, resolver: Arc<dyn Resolver>) -> Self {
        self.guard = self.guard.with_resolver(resolver);
        self
    }

    /// **For tests only; off by default.** Lets the guard accept loopback addresses, over
    /// `https` or plain `http`, so that tests can post to a local server; see
    /// [`SsrfGuard::allow_loopback_for_tests`].
    pub fn allow_loopback_for_tests(mut self, allow: bool) -> Self {
        self.guard = self.guard.allow_loopback_for_tests(allow);
        self
    }

    /// The guard every URL goes through.
    pub fn guard(&self) -> &SsrfGuard {
        &self.guard
    }

    async fn attempt(
        &self,
        target: &VettedTarget,
        message: &ShareMessage,
    ) -> Result<(), SendError> {
        let deadline = Instant::now() + self.timeout;
        let client = self.client_for(target).map_err(|error| {
            tracing::error!(
                host = %target.webhook().host(),
                detail = %error_chain(&error.without_url()),
                "could not build the webhook HTTP client"
            );
            SendError::transient("could not prepare the request")
        })?;
        let request = client
            .post(target.webhook().expose())
            .json(&slack_payload(message))
            .send();
        let response = match tokio::time::timeout_at(deadline, request).await {
            Err(_elapsed) => return Err(self.no_answer()),
            Ok(Err(error)) => return Err(self.transport_failure(target, error)),
            Ok(Ok(response)) => response,
        };
        let status = response.status();
        if !status.is_success() {
            return Err(classify_status(status, response.headers(), Utc::now()));
        }
        // The status is the answer; the body is taken, within bounds, only so that a
        // well-behaved server sees its answer read. Failing to read it does not undo the 2xx.
        if tokio::time::timeout_at(deadline, drain(response))
            .await
            .is_err()
        {
            tracing::debug!(
                host = %target.webhook().host(),
                "webhook answer not read to its end in time"
            );
        }
        Ok(())
    }

    /// A client for this attempt only: its resolver is pinned to the addresses just vetted.
    fn client_for(&self, target: &VettedTarget) -> reqwest::Result<reqwest::Client> {
        let mut builder = reqwest::Client::builder()
            .use_rustls_tls()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(self.timeout)
            .user_agent(USER_AGENT);
        if let Some(domain) = target.domain() {
            builder = builder.dns_resolver(Arc::new(PinnedResolver {
                domain: domain.to_owned(),
                addresses: target.addresses().to_vec(),
            }));
        }
        builder.build()
    }

    fn no_answer(&self) -> SendError {
        SendError::transient(format!("no answer within {}", describe(self.timeout)))
    }

    fn transport_failure(&self, target: &VettedTarget, error: reqwest::Error) -> SendError {
        // `without_url`: reqwest's own text names the URL, secret path included.
        let error = error.without_url();
        tracing::debug!(
            host = %target.webhook().host(),
            detail = %error_chain(&error),
            "webhook request failed"
        );
        if error.is_timeout() {
            self.no_answer()
        } else if error.is_connect() {
            SendError::transient("connection failed")
        } else {
            SendError::transient("connection lost before an answer")
        }
    }
}

impl fmt::Debug for SlackWebhooks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SlackWebhooks")
            .field("guard", &self.guard)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl Webhooks for SlackWebhooks {
    async fn vet(&self, raw: &str) -> Result<WebhookUrl, WebhookRefused> {
        self.guard
            .check(raw)
            .await
            .map(VettedTarget::into_webhook)
            .map_err(WebhookRefused::from)
    }

    async fn post(&self, url: &WebhookUrl, message: &ShareMessage) -> Result<(), SendError> {
        let target = match self.guard.check(url.expose()).await {
            Ok(target) => target,
            Err(refusal) => {
                tracing::warn!(
                    host = %url.host(),
                    reason = %refusal.reason(),
                    "webhook refused at send time"
                );
                return Err(match refusal {
                    // A lookup that failed now may work later, like a connection that failed.
                    Refusal::Unresolved(reason) => SendError::transient(reason),
                    Refusal::Forbidden(reason) => SendError::permanent(reason),
                });
            }
        };
        let result = self.attempt(&target, message).await;
        if let Err(error) = &result {
            tracing::warn!(
                host = %url.host(),
                reason = %error.reason(),
                transient = matches!(error, SendError::Transient { .. }),
                "webhook delivery failed"
            );
        }
        result
    }
}

/// The Slack message for `message`: a plain-text fallback and Block Kit blocks with the
/// project, the period, the four metrics and a link to the viewer.
pub fn slack_payload(message: &ShareMessage) -> Value {
    let project = escape_mrkdwn(&message.project_name);
    let period = message.period();
    let viewer = escape_mrkdwn(&message.viewer_url);
    let summary = &message.summary;
    json!({
        "text": format!("Audit report: {project} ({period}): {viewer}"),
        "blocks": [
            {
                "type": "header",
                "text": { "type": "plain_text", "text": header_text(&message.project_name) },
            },
            {
                "type": "section",
                "text": { "type": "mrkdwn", "text": format!("*Period:* {period}") },
            },
            {
                "type": "section",
                "fields": [
                    metric("Open findings", summary.open_findings.to_string()),
                    metric("Open risk score", message.open_risk_score().to_string()),
                    metric("Verification pass rate", percentage(summary.verification_pass_rate)),
                    metric("Regression rate", percentage(summary.regression_rate)),
                ],
            },
            {
                "type": "section",
                // `|` separates a link from its label; a URL has no business containing one.
                "text": {
                    "type": "mrkdwn",
                    "text": format!("<{}|View the report>", viewer.replace('|', "%7C")),
                },
            },
        ],
        // Slack would otherwise fetch the signed link to preview it, counting a view nobody made.
        "unfurl_links": false,
        "unfurl_media": false,
    })
}

fn metric(label: &str, value: String) -> Value {
    json!({ "type": "mrkdwn", "text": format!("*{label}*\n{value}") })
}

/// A rate in `[0, 1]` as a percentage with one decimal: `0.875` is `87.5%`.
fn percentage(rate: f64) -> String {
    format!("{:.1}%", rate * 100.0)
}

/// `Audit report: <project>`, the project's name shortened with `…` to fit Slack's limit.
fn header_text(project_name: &str) -> String {
    const PREFIX: &str = "Audit report: ";
    let budget = MAX_HEADER_CHARS - PREFIX.chars().count();
    let escaped = escape_mrkdwn(project_name);
    if escaped.chars().count() <= budget {
        return format!("{PREFIX}{escaped}");
    }
    // Shortened character by character of the raw name, so that no entity is cut in half.
    let mut shortened = String::new();
    let mut length = 0;
    for c in project_name.chars() {
        let piece = escape_mrkdwn(c.encode_utf8(&mut [0; 4]));
        let piece_length = piece.chars().count();
        if length + piece_length > budget - 1 {
            break;
        }
        shortened.push_str(&piece);
        length += piece_length;
    }
    format!("{PREFIX}{shortened}…")
}

/// Slack reads `&`, `<` and `>` as control characters in message text.
fn escape_mrkdwn(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Classifies an answer that is not 2xx.
fn classify_status(status: StatusCode, headers: &HeaderMap, now: DateTime<Utc>) -> SendError {
    let described = match status.canonical_reason() {
        Some(phrase) => format!("HTTP {} {phrase}", status.as_u16()),
        None => format!("HTTP {}", status.as_u16()),
    };
    if status == StatusCode::TOO_MANY_REQUESTS {
        SendError::Transient {
            reason: described,
            retry_after: headers
                .get(RETRY_AFTER)
                .and_then(|value| value.to_str().ok())
                .and_then(|value| parse_retry_after(value, now)),
        }
    } else if status.is_server_error() {
        SendError::transient(described)
    } else if status.is_redirection() {
        SendError::permanent(format!("{described} (redirects are not followed)"))
    } else {
        SendError::permanent(described)
    }
}

/// A `Retry-After` value: a number of seconds, or an HTTP date (a past one means now).
fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = DateTime::parse_from_rfc2822(value).ok()?;
    Some(
        (at.with_timezone(&Utc) - now)
            .to_std()
            .unwrap_or(Duration::ZERO),
    )
}

/// Reads the answer until its end or [`MAX_ANSWER_BYTES`], whichever comes first; errors end
/// the reading quietly.
async fn drain(mut response: reqwest::Response) {
    let mut read = 0;
    while read < MAX_ANSWER_BYTES {
        match response.chunk().await {
            Ok(Some(chunk)) => read += chunk.len(),
            Ok(None) | Err(_) => break,
        }
    }
}

/// `10 s`, or `300 ms` for a duration that is not whole seconds.
fn describe(duration: Duration) -> String {
    if duration.subsec_nanos() == 0 {
        format!("{} s", duration.as_secs())
    } else {
        format!("{} ms", duration.as_millis())
    }
}

/// The error and its sources, for logs. Only for errors already stripped of their URL.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Answers the vetted addresses for the vetted host and refuses every other name, so that the
/// HTTP client can never look a name up by itself.
struct PinnedResolver {
    domain: String,
    addresses: Vec<SocketAddr>,
}

impl reqwest::dns::Resolve for PinnedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let answer: Result<reqwest::dns::Addrs, _> =
            if name.as_str().eq_ignore_ascii_case(&self.domain) {
                Ok(Box::new(self.addresses.clone().into_iter()))
            } else {
                Err("not the vetted host".into())
            };
        Box::pin(future::ready(answer))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_in_seconds_or_as_a_date() {
        let now = DateTime::parse_from_rfc3339("2015-10-21T07:27:30Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after(" 120 ", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:27:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-5", now), None);
    }

    #[test]
    fn statuses_are_classified() {
        let now = Utc::now();
        let none = HeaderMap::new();
        assert_eq!(
            classify_status(StatusCode::SERVICE_UNAVAILABLE, &none, now),
            SendError::transient("HTTP 503 Service Unavailable")
        );
        assert_eq!(
            classify_status(StatusCode::TOO_MANY_REQUESTS, &none, now),
            SendError::transient("HTTP 429 Too Many Requests")
        );
        assert_eq!(
            classify_status(StatusCode::GONE, &none, now),
            SendError::permanent("HTTP 410 Gone")
        );
        assert_eq!(
            classify_status(StatusCode::MOVED_PERMANENTLY, &none, now),
            SendError::permanent("HTTP 301 Moved Permanently (redirects are not followed)")
        );
        assert_eq!(
            classify_status(StatusCode::from_u16(599).unwrap(), &none, now),
            SendError::transient("HTTP 599")
        );
    }

    #[test]
    fn durations_are_described_in_whole_units() {
        assert_eq!(describe(Duration::from_secs(10)), "10 s");
        assert_eq!(describe(Duration::from_millis(300)), "300 ms");
    }

    #[test]
    fn percentages_have_one_decimal() {
        assert_eq!(percentage(0.875), "87.5%");
        assert_eq!(percentage(0.0), "0.0%");
        assert_eq!(percentage(1.0), "100.0%");
        assert_eq!(percentage(1.0 / 3.0), "33.3%");
    }

    #[test]
    fn long_project_names_are_shortened_to_fit_the_header() {
        let name = "a&".repeat(100);
        let header = header_text(&name);
        assert_eq!(header.chars().count(), MAX_HEADER_CHARS - 2);
        assert!(header.starts_with("Audit report: a&amp;a&amp;"));
        assert!(header.ends_with("&amp;a…"));
        assert_eq!(header_text("Web <shop>"), "Audit report: Web &lt;shop&gt;");
    }
}
