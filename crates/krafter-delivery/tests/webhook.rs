//! The Slack webhook sender against a real HTTP server on loopback (wiremock), reached through
//! the test setting `allow_loopback_for_tests(true)`.

use std::collections::VecDeque;
use std::io::{self, Write};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::NaiveDate;
use krafter_delivery::ssrf::Resolver;
use krafter_delivery::webhook::{slack_payload, SlackWebhooks};
use krafter_domain::export::ReportId;
use krafter_domain::metrics::{BurnDownPoint, Summary};
use krafter_domain::share::{SendError, ShareMessage, WebhookUrl, Webhooks};
use serde_json::{json, Value};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// The webhook's path: a Slack webhook's credential, which no reason or log line may show.
const WEBHOOK_PATH: &str = "/services/T000SECRET/B000SECRET/WebhookPathSecret";

fn message() -> ShareMessage {
    let day = |d| NaiveDate::from_ymd_opt(2026, 6, d).unwrap();
    ShareMessage {
        report_id: ReportId::generate(),
        organisation_name: "Acme".to_owned(),
        project_name: "Web & <Shop>".to_owned(),
        project_slug: "web-shop".to_owned(),
        period_start: day(1),
        period_end: day(7),
        summary: Summary {
            risk_burn_down: vec![
                BurnDownPoint {
                    date: day(1),
                    open_risk_score: 400,
                },
                BurnDownPoint {
                    date: day(7),
                    open_risk_score: 340,
                },
            ],
            verification_pass_rate: 0.875,
            regression_rate: 1.0 / 24.0,
            open_findings: 12,
        },
        viewer_url: "https://reports.example.com/view/abc.def?x=1&y=2".to_owned(),
    }
}

fn expected_payload() -> Value {
    json!({
        "text": "Audit report: Web &amp; &lt;Shop&gt; (2026-06-01 to 2026-06-07): \
                 https://reports.example.com/view/abc.def?x=1&amp;y=2",
        "blocks": [
            {
                "type": "header",
                "text": { "type": "plain_text", "text": "Audit report: Web &amp; &lt;Shop&gt;" },
            },
            {
                "type": "section",
                "text": { "type": "mrkdwn", "text": "*Period:* 2026-06-01 to 2026-06-07" },
            },
            {
                "type": "section",
                "fields": [
                    { "type": "mrkdwn", "text": "*Open findings*\n12" },
                    { "type": "mrkdwn", "text": "*Open risk score*\n340" },
                    { "type": "mrkdwn", "text": "*Verification pass rate*\n87.5%" },
                    { "type": "mrkdwn", "text": "*Regression rate*\n4.2%" },
                ],
            },
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": "<https://reports.example.com/view/abc.def?x=1&amp;y=2|View the report>",
                },
            },
        ],
        "unfurl_links": false,
        "unfurl_media": false,
    })
}

fn webhooks_for_tests() -> SlackWebhooks {
    SlackWebhooks::new(Vec::new()).allow_loopback_for_tests(true)
}

async fn webhook_url(webhooks: &SlackWebhooks, server: &MockServer) -> WebhookUrl {
    webhooks
        .vet(&format!("{}{WEBHOOK_PATH}", server.uri()))
        .await
        .expect("loopback is allowed for tests")
}

/// Posts to a server answering `answer` to the webhook's path and returns the outcome.
async fn post_answered_with(answer: ResponseTemplate) -> Result<(), SendError> {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(WEBHOOK_PATH))
        .respond_with(answer)
        .expect(1)
        .mount(&server)
        .await;
    let webhooks = webhooks_for_tests();
    let url = webhook_url(&webhooks, &server).await;
    let outcome = webhooks.post(&url, &message()).await;
    assert_no_path(&outcome);
    outcome
}

fn assert_no_path(outcome: &Result<(), SendError>) {
    if let Err(error) = outcome {
        assert_text_has_no_path(error.reason());
        assert_text_has_no_path(&format!("{error:?}"));
    }
}

fn assert_text_has_no_path(text: &str) {
    for secret in ["services", "SECRET", "WebhookPathSecret"] {
        assert!(!text.contains(secret), "{text:?} shows the webhook's path");
    }
}

#[tokio::test]
async fn the_message_arrives_as_slack_json() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(WEBHOOK_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .expect(1)
        .mount(&server)
        .await;
    let webhooks = webhooks_for_tests();
    let url = webhook_url(&webhooks, &server).await;

    assert_eq!(webhooks.post(&url, &message()).await, Ok(()));

    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.method.as_str(), "POST");
    assert_eq!(request.url.path(), WEBHOOK_PATH);
    assert_eq!(
        request.headers.get("content-type").unwrap(),
        "application/json"
    );
    let body: Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(body, expected_payload());
    assert_eq!(slack_payload(&message()), expected_payload());
}

#[tokio::test]
async fn a_server_error_is_transient() {
    assert_eq!(
        post_answered_with(ResponseTemplate::new(500)).await,
        Err(SendError::transient("HTTP 500 Internal Server Error"))
    );
    assert_eq!(
        post_answered_with(ResponseTemplate::new(503)).await,
        Err(SendError::transient("HTTP 503 Service Unavailable"))
    );
}

#[tokio::test]
async fn too_many_requests_is_transient_with_retry_after() {
    assert_eq!(
        post_answered_with(ResponseTemplate::new(429).insert_header("Retry-After", "7")).await,
        Err(SendError::Transient {
            reason: "HTTP 429 Too Many Requests".to_owned(),
            retry_after: Some(Duration::from_secs(7)),
        })
    );
    assert_eq!(
        post_answered_with(ResponseTemplate::new(429)).await,
        Err(SendError::Transient {
            reason: "HTTP 429 Too Many Requests".to_owned(),
            retry_after: None,
        })
    );
}

#[tokio::test]
async fn a_client_error_is_permanent() {
    assert_eq!(
        post_answered_with(ResponseTemplate::new(404).set_body_string("no_service")).await,
        Err(SendError::permanent("HTTP 404 Not Found"))
    );
    assert_eq!(
        post_answered_with(ResponseTemplate::new(410).set_body_string("channel_is_archived")).await,
        Err(SendError::permanent("HTTP 410 Gone"))
    );
}

#[tokio::test]
async fn a_redirect_is_not_followed() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(WEBHOOK_PATH))
        .respond_with(
            ResponseTemplate::new(302)
                .insert_header("Location", format!("{}/elsewhere", server.uri()).as_str()),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/elsewhere"))
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&server)
        .await;
    let webhooks = webhooks_for_tests();
    let url = webhook_url(&webhooks, &server).await;

    let outcome = webhooks.post(&url, &message()).await;

    assert_no_path(&outcome);
    assert_eq!(
        outcome,
        Err(SendError::permanent(
            "HTTP 302 Found (redirects are not followed)"
        ))
    );
    let paths: Vec<String> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|request| request.url.path().to_owned())
        .collect();
    assert_eq!(paths, [WEBHOOK_PATH]);
}

#[tokio::test]
async fn a_server_that_never_answers_is_transient_after_the_timeout() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(WEBHOOK_PATH))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(30)))
        .mount(&server)
        .await;
    let webhooks = webhooks_for_tests().timeout(Duration::from_millis(300));
    let url = webhook_url(&webhooks, &server).await;

    let started = Instant::now();
    let outcome = webhooks.post(&url, &message()).await;
    let took = started.elapsed();

    assert_no_path(&outcome);
    assert_eq!(
        outcome,
        Err(SendError::transient("no answer within 300 ms"))
    );
    assert!(took >= Duration::from_millis(300), "gave up after {took:?}");
    assert!(took < Duration::from_secs(10), "waited {took:?}");
}

#[tokio::test]
async fn a_huge_answer_does_not_fail_a_success() {
    let body = vec![b'x'; 4 * 1024 * 1024];
    assert_eq!(
        post_answered_with(ResponseTemplate::new(200).set_body_bytes(body)).await,
        Ok(())
    );
}

#[tokio::test]
async fn a_refused_connection_is_transient() {
    // A port nobody listens on: bound, noted, and released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let webhooks = webhooks_for_tests();
    for scheme in ["http", "https"] {
        let url = webhooks
            .vet(&format!("{scheme}://127.0.0.1:{port}{WEBHOOK_PATH}"))
            .await
            .unwrap();

        let outcome = webhooks.post(&url, &message()).await;

        assert_no_path(&outcome);
        assert_eq!(
            outcome,
            Err(SendError::transient("connection failed")),
            "{scheme}"
        );
    }
}

#[tokio::test]
async fn a_failed_tls_handshake_is_transient() {
    // wiremock speaks plain HTTP, so the TLS handshake cannot succeed.
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&server)
        .await;
    let webhooks = webhooks_for_tests();
    let url = webhooks
        .vet(&format!("https://{}{WEBHOOK_PATH}", server.address()))
        .await
        .unwrap();

    let outcome = webhooks.post(&url, &message()).await;

    assert_no_path(&outcome);
    assert_eq!(outcome, Err(SendError::transient("connection failed")));
}

#[tokio::test]
async fn loopback_is_refused_at_send_time_without_the_test_setting() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&server)
        .await;
    let plain_http = webhook_url(&webhooks_for_tests(), &server).await;
    let https = WebhookUrl::vetted(
        format!("https://{}{WEBHOOK_PATH}", server.address()),
        server.address().ip().to_string(),
    );
    let webhooks = SlackWebhooks::new(Vec::new());

    let outcome = webhooks.post(&plain_http, &message()).await;
    assert_no_path(&outcome);
    assert_eq!(outcome, Err(SendError::permanent("must be an https URL")));

    let outcome = webhooks.post(&https, &message()).await;
    assert_no_path(&outcome);
    assert_eq!(
        outcome,
        Err(SendError::permanent("resolves to a non-public address"))
    );
}

#[tokio::test]
async fn a_url_off_the_allow_list_is_refused_at_send_time() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&server)
        .await;
    let url = webhook_url(&webhooks_for_tests(), &server).await;
    let webhooks =
        SlackWebhooks::new(vec!["hooks.slack.com".to_owned()]).allow_loopback_for_tests(true);

    assert_eq!(
        webhooks.post(&url, &message()).await,
        Err(SendError::permanent(
            "host is not on KRAFTER_WEBHOOK_ALLOWED_HOSTS"
        ))
    );
}

/// Answers each lookup with the next canned answer, counting them.
struct ScriptedResolver {
    answers: Mutex<VecDeque<io::Result<Vec<IpAddr>>>>,
    lookups: Mutex<Vec<String>>,
}

impl ScriptedResolver {
    fn new(answers: Vec<io::Result<Vec<IpAddr>>>) -> Arc<Self> {
        Arc::new(Self {
            answers: Mutex::new(answers.into()),
            lookups: Mutex::default(),
        })
    }

    fn lookups(&self) -> Vec<String> {
        self.lookups.lock().unwrap().clone()
    }
}

#[async_trait]
impl Resolver for ScriptedResolver {
    async fn resolve(&self, host: &str, _port: u16) -> io::Result<Vec<IpAddr>> {
        self.lookups.lock().unwrap().push(host.to_owned());
        self.answers
            .lock()
            .unwrap()
            .pop_front()
            .expect("no more lookups expected")
    }
}

fn loopback() -> io::Result<Vec<IpAddr>> {
    Ok(vec!["127.0.0.1".parse().unwrap()])
}

#[tokio::test]
async fn the_post_goes_to_the_address_vetted_for_a_name() {
    // `slack-hooks.test` exists in no DNS: the request can only reach the server through the
    // address the guard vetted.
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(WEBHOOK_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .expect(1)
        .mount(&server)
        .await;
    let resolver = ScriptedResolver::new(vec![loopback(), loopback()]);
    let webhooks = webhooks_for_tests().with_resolver(resolver.clone());
    let port = server.address().port();
    let url = webhooks
        .vet(&format!("http://slack-hooks.test:{port}{WEBHOOK_PATH}"))
        .await
        .unwrap();
    assert_eq!(resolver.lookups(), ["slack-hooks.test"]);

    assert_eq!(webhooks.post(&url, &message()).await, Ok(()));

    // One lookup to vet, one to vet again at send time, and none by the HTTP client.
    assert_eq!(resolver.lookups(), ["slack-hooks.test", "slack-hooks.test"]);
    let requests = server.received_requests().await.unwrap();
    assert_eq!(
        requests[0].headers.get("host").unwrap(),
        format!("slack-hooks.test:{port}").as_str()
    );
}

#[tokio::test]
async fn a_name_that_now_resolves_to_a_private_address_is_refused_at_send_time() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&server)
        .await;
    let resolver = ScriptedResolver::new(vec![loopback(), Ok(vec!["10.0.0.7".parse().unwrap()])]);
    let webhooks = webhooks_for_tests().with_resolver(resolver.clone());
    let port = server.address().port();
    let url = webhooks
        .vet(&format!("http://rebinding.test:{port}{WEBHOOK_PATH}"))
        .await
        .unwrap();

    let outcome = webhooks.post(&url, &message()).await;

    assert_no_path(&outcome);
    assert_eq!(
        outcome,
        Err(SendError::permanent("resolves to a non-public address"))
    );
}

#[tokio::test]
async fn a_failed_lookup_at_send_time_is_transient() {
    let resolver = ScriptedResolver::new(vec![
        loopback(),
        Err(io::Error::other("temporary failure in name resolution")),
    ]);
    let webhooks = webhooks_for_tests().with_resolver(resolver);
    let url = webhooks
        .vet(&format!("http://flaky-dns.test:9{WEBHOOK_PATH}"))
        .await
        .unwrap();

    let outcome = webhooks.post(&url, &message()).await;

    assert_no_path(&outcome);
    assert_eq!(
        outcome,
        Err(SendError::transient("host could not be resolved"))
    );
}

/// Collects everything the fmt subscriber writes.
#[derive(Clone, Default)]
struct CapturedLogs(Arc<Mutex<Vec<u8>>>);

impl Write for CapturedLogs {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl CapturedLogs {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

#[tokio::test]
async fn failures_are_logged_with_the_host_only() {
    let logs = CapturedLogs::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    // The test runtime runs everything on this thread, so a thread-local subscriber sees it all.
    let _guard = tracing::subscriber::set_default(subscriber);

    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(404))
        .mount(&server)
        .await;
    let webhooks = webhooks_for_tests();
    let url = webhook_url(&webhooks, &server).await;
    let refused_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let unreachable = webhooks
        .vet(&format!("http://127.0.0.1:{refused_port}{WEBHOOK_PATH}"))
        .await
        .unwrap();

    let outcomes = [
        webhooks.post(&url, &message()).await,
        webhooks.post(&unreachable, &message()).await,
        SlackWebhooks::new(Vec::new()).post(&url, &message()).await,
    ];

    assert_eq!(
        outcomes,
        [
            Err(SendError::permanent("HTTP 404 Not Found")),
            Err(SendError::transient("connection failed")),
            Err(SendError::permanent("must be an https URL")),
        ]
    );
    let text = logs.text();
    let failures: Vec<&str> = text
        .lines()
        .filter(|line| line.contains("webhook delivery failed") || line.contains("refused at send"))
        .collect();
    assert_eq!(failures.len(), 3, "{text}");
    for line in &failures {
        assert!(line.contains("host=127.0.0.1"), "{line}");
    }
    assert_text_has_no_path(&text);
}
