//! Email shares through a real SMTP server on loopback (aiosmtpd): the message with both parts
//! and the artefact, a 451 that is retried, and a 550 that fails once, visibly.

use std::time::{Duration, Instant};

use krafter_test_support::smtp::{SmtpReply, SmtpServer, SmtpServerOptions};
use krafter_test_support::{Tenant, TestApp};
use mail_parser::{MessageParser, MimeHeaders};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::envelope;

const WAIT: Duration = Duration::from_secs(30);

async fn app_with(server: &SmtpServer) -> TestApp {
    TestApp::builder()
        .workers(1)
        .fast_retries()
        .smtp(&server.url(), None)
        .spawn()
        .await
}

async fn exported(app: &TestApp, t: &Tenant, format: &str) -> String {
    let response = app
        .client
        .post(app.audit_url(t, "/reports/export"))
        .bearer_auth(&t.key)
        .json(&json!({ "format": format }))
        .send()
        .await
        .unwrap();
    let id = envelope(response, StatusCode::ACCEPTED).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    id
}

async fn share_by_email(app: &TestApp, t: &Tenant, report: &str, to: &[&str]) -> Value {
    let response = app
        .client
        .post(app.audit_url(t, "/reports/share"))
        .bearer_auth(&t.key)
        .json(&json!({"channel": "email", "recipients": to, "report_id": report}))
        .send()
        .await
        .unwrap();
    envelope(response, StatusCode::OK).await
}

async fn deliveries_when(
    app: &TestApp,
    t: &Tenant,
    report: &str,
    done: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let deadline = Instant::now() + WAIT;
    loop {
        let response = app
            .client
            .get(app.audit_url(t, &format!("/reports/{report}/deliveries")))
            .bearer_auth(&t.key)
            .send()
            .await
            .unwrap();
        let list = envelope(response, StatusCode::OK)
            .await
            .as_array()
            .unwrap()
            .clone();
        if done(&list) {
            return list;
        }
        assert!(Instant::now() < deadline, "{list:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn all(status: &'static str) -> impl Fn(&[Value]) -> bool {
    move |list| !list.is_empty() && list.iter().all(|d| d["status"] == status)
}

#[tokio::test]
#[ignore = "needs aiosmtpd (KRAFTER_AIOSMTPD_PYTHON); .ci/run runs it"]
async fn an_email_share_arrives_with_both_parts_and_the_artefact() {
    let server = SmtpServer::start(SmtpServerOptions::new());
    let app = app_with(&server).await;
    let t = app.tenant("web").await;
    let report = exported(&app, &t, "csv").await;
    let shared = share_by_email(&app, &t, &report, &["lead@example.com", "ciso@example.com"]).await;
    assert_eq!(shared["channel"], "email");
    assert_eq!(
        shared["recipients"],
        json!(["lead@example.com", "ciso@example.com"])
    );
    assert_eq!(shared["share_url"], Value::Null);

    let deliveries = deliveries_when(&app, &t, &report, all("delivered")).await;
    let targets: Vec<&str> = deliveries
        .iter()
        .map(|d| d["target"].as_str().unwrap())
        .collect();
    assert_eq!(targets, ["lead@example.com", "ciso@example.com"]);
    assert!(deliveries
        .iter()
        .all(|d| d["attempts"] == 1 && d["channel"] == "email"));

    let received = server.wait_for_messages(2, WAIT).await;
    let mut to: Vec<String> = Vec::new();
    for raw in &received {
        let email = MessageParser::default().parse(raw.as_bytes()).unwrap();
        to.push(
            email
                .to()
                .unwrap()
                .first()
                .unwrap()
                .address()
                .unwrap()
                .to_owned(),
        );
        let subject = email.subject().unwrap();
        assert!(subject.starts_with("Audit report: web ("), "{subject}");
        assert_eq!(email.text_body.len(), 1);
        assert_eq!(email.html_body.len(), 1);
        let text = email.body_text(0).unwrap();
        let html = email.body_html(0).unwrap();
        let viewer = format!("{}/insights/audit/reports/shared/", app.base_url);
        assert!(text.contains(&viewer), "{text}");
        assert!(html.contains(&viewer), "{html}");
        // The link in the message opens the viewer.
        let link = text
            .split_whitespace()
            .find(|w| w.starts_with(&viewer))
            .unwrap()
            .trim_end_matches(['.', ',', ')', '>']);
        assert_eq!(
            app.client.get(link).send().await.unwrap().status(),
            StatusCode::OK
        );
        assert_eq!(email.attachment_count(), 1);
        let attached = email.attachment(0).unwrap();
        let name = attached.attachment_name().unwrap();
        assert!(
            name.starts_with("web-report-") && name.ends_with(".csv"),
            "{name}"
        );
        let content_type = attached.content_type().unwrap();
        assert_eq!(
            (content_type.ctype(), content_type.subtype()),
            ("text", Some("csv"))
        );
        let download = app
            .client
            .get(app.audit_url(&t, &format!("/reports/{report}/download")))
            .bearer_auth(&t.key)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        assert_eq!(attached.contents(), download.as_ref());
    }
    to.sort();
    assert_eq!(to, ["ciso@example.com", "lead@example.com"]);
}

#[tokio::test]
#[ignore = "needs aiosmtpd (KRAFTER_AIOSMTPD_PYTHON); .ci/run runs it"]
async fn a_451_is_retried_and_a_550_fails_once_visibly() {
    let server = SmtpServer::start(
        SmtpServerOptions::new().replies([SmtpReply::TryLater, SmtpReply::Accept]),
    );
    let app = app_with(&server).await;
    let t = app.tenant("web").await;
    let report = exported(&app, &t, "json").await;
    share_by_email(&app, &t, &report, &["lead@example.com"]).await;
    let deliveries = deliveries_when(&app, &t, &report, all("delivered")).await;
    assert_eq!(deliveries[0]["attempts"], 2);
    assert_eq!(deliveries[0]["last_error"], Value::Null);
    assert_eq!(server.wait_for_messages(1, WAIT).await.len(), 1);

    let refusing =
        SmtpServer::start(SmtpServerOptions::new().replies([SmtpReply::MailboxUnavailable]));
    let app = app_with(&refusing).await;
    let t = app.tenant("web").await;
    let report = exported(&app, &t, "json").await;
    share_by_email(&app, &t, &report, &["gone@example.com"]).await;
    let deliveries = deliveries_when(&app, &t, &report, all("failed")).await;
    assert_eq!(deliveries[0]["attempts"], 1);
    let reason = deliveries[0]["last_error"].as_str().unwrap();
    assert!(reason.starts_with("550"), "{reason}");
    assert!(refusing.messages().is_empty());
}
