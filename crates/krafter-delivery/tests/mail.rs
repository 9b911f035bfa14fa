//! The SMTP mailer against a real SMTP server on loopback (aiosmtpd, see
//! `krafter_test_support::smtp`): what arrives, STARTTLS and smtps, credentials, and how the
//! server's refusals and failures are classified.

use std::path::PathBuf;
use std::time::Duration;

use chrono::NaiveDate;
use krafter_delivery::mail::SmtpMailer;
use krafter_domain::export::ReportId;
use krafter_domain::metrics::{BurnDownPoint, Summary};
use krafter_domain::share::{Attachment, EmailAddress, Mailer, SendError, ShareMessage};
use krafter_test_support::smtp::{SmtpReply, SmtpServer, SmtpServerOptions};
use mail_parser::{MessageParser, MimeHeaders};

const FROM: &str = "Krafter Reports <reports@krafter.example>";
const WAIT: Duration = Duration::from_secs(10);

fn message() -> ShareMessage {
    let day = |d| NaiveDate::from_ymd_opt(2026, 6, d).unwrap();
    ShareMessage {
        report_id: ReportId::generate(),
        organisation_name: "Acme Security".into(),
        project_name: "Production website".into(),
        project_slug: "production-website".into(),
        period_start: day(1),
        period_end: day(7),
        summary: Summary {
            risk_burn_down: vec![
                BurnDownPoint {
                    date: day(1),
                    open_risk_score: 410,
                },
                BurnDownPoint {
                    date: day(7),
                    open_risk_score: 345,
                },
            ],
            verification_pass_rate: 0.875,
            regression_rate: 0.0425,
            open_findings: 17,
        },
        viewer_url: "https://reports.example.com/v/eyJhbGciOi.abc-def_123".into(),
    }
}

fn pdf() -> Attachment {
    Attachment {
        file_name: "production-website-2026-06-07.pdf".into(),
        content_type: "application/pdf".into(),
        content: (0..=255u8).cycle().take(5000).collect(),
    }
}

fn alice() -> EmailAddress {
    EmailAddress::parse("alice@example.com").unwrap()
}

fn mailer(url: &str) -> SmtpMailer {
    SmtpMailer::from_url(url, FROM).unwrap()
}

/// A self-signed certificate for `localhost` and 127.0.0.1, as PEM files.
struct TestCertificate {
    cert_pem: String,
    cert_path: PathBuf,
    key_path: PathBuf,
    _directory: tempfile::TempDir,
}

impl TestCertificate {
    fn localhost() -> Self {
        let certified =
            rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()])
                .unwrap();
        let directory = tempfile::tempdir().unwrap();
        let cert_pem = certified.cert.pem();
        let cert_path = directory.path().join("cert.pem");
        let key_path = directory.path().join("key.pem");
        std::fs::write(&cert_path, &cert_pem).unwrap();
        std::fs::write(&key_path, certified.signing_key.serialize_pem()).unwrap();
        Self {
            cert_pem,
            cert_path,
            key_path,
            _directory: directory,
        }
    }
}

fn expect_transient(result: Result<(), SendError>) -> String {
    match result {
        Err(SendError::Transient { reason, .. }) => reason,
        other => panic!("expected a transient error, got {other:?}"),
    }
}

fn expect_permanent(result: Result<(), SendError>) -> String {
    match result {
        Err(SendError::Permanent { reason }) => reason,
        other => panic!("expected a permanent error, got {other:?}"),
    }
}

#[tokio::test]
#[ignore = "needs aiosmtpd (KRAFTER_AIOSMTPD_PYTHON); .ci/run runs it"]
async fn the_report_arrives_with_both_bodies_and_the_attachment() {
    let server = SmtpServer::start(SmtpServerOptions::new());
    mailer(&server.url())
        .send(&alice(), &message(), &[pdf()])
        .await
        .unwrap();

    let received = server.wait_for_messages(1, WAIT).await;
    assert_eq!(received.len(), 1);
    let email = MessageParser::default()
        .parse(received[0].as_bytes())
        .unwrap();
    assert_eq!(
        email.subject(),
        Some("Audit report: Production website (2026-06-01 to 2026-06-07)")
    );
    let from = email.from().unwrap().first().unwrap();
    assert_eq!(
        (from.name(), from.address()),
        (Some("Krafter Reports"), Some("reports@krafter.example"))
    );
    let to = email.to().unwrap();
    assert_eq!(to.iter().count(), 1);
    assert_eq!(to.first().unwrap().address(), Some("alice@example.com"));

    assert_eq!(email.content_type().unwrap().subtype(), Some("mixed"));
    assert_eq!(email.text_body.len(), 1);
    assert_eq!(email.html_body.len(), 1);
    let text_part = email.part(email.text_body[0]).unwrap();
    let html_part = email.part(email.html_body[0]).unwrap();
    assert_eq!(text_part.content_type().unwrap().subtype(), Some("plain"));
    assert_eq!(html_part.content_type().unwrap().subtype(), Some("html"));
    let text = email.body_text(0).unwrap();
    let html = email.body_html(0).unwrap();
    for (part, body) in [("text", &text), ("html", &html)] {
        for expected in [
            "Production website",
            "Acme Security",
            "2026-06-01 to 2026-06-07",
            "17",
            "345",
            "87.5%",
            "4.2%",
            "https://reports.example.com/v/eyJhbGciOi.abc-def_123",
        ] {
            assert!(
                body.contains(expected),
                "{expected:?} missing from the {part} part:\n{body}"
            );
        }
    }

    assert_eq!(email.attachment_count(), 1);
    let attached = email.attachment(0).unwrap();
    assert_eq!(
        attached.attachment_name(),
        Some("production-website-2026-06-07.pdf")
    );
    let content_type = attached.content_type().unwrap();
    assert_eq!(
        (content_type.ctype(), content_type.subtype()),
        ("application", Some("pdf"))
    );
    assert_eq!(attached.contents(), pdf().content.as_slice());
}

#[tokio::test]
#[ignore = "needs aiosmtpd (KRAFTER_AIOSMTPD_PYTHON); .ci/run runs it"]
async fn without_an_artefact_the_email_is_only_the_two_bodies() {
    let server = SmtpServer::start(SmtpServerOptions::new());
    mailer(&server.url())
        .send(&alice(), &message(), &[])
        .await
        .unwrap();
    let received = server.wait_for_messages(1, WAIT).await;
    let email = MessageParser::default()
        .parse(received[0].as_bytes())
        .unwrap();
    assert_eq!(email.content_type().unwrap().subtype(), Some("alternative"));
    assert_eq!(email.attachment_count(), 0);
}

#[tokio::test]
#[ignore = "needs aiosmtpd (KRAFTER_AIOSMTPD_PYTHON); .ci/run runs it"]
async fn starttls_delivers_when_the_certificate_is_trusted_and_fails_when_not() {
    let certificate = TestCertificate::localhost();
    let server = SmtpServer::start(
        SmtpServerOptions::new().starttls(&certificate.cert_path, &certificate.key_path),
    );
    let url = format!("smtp://127.0.0.1:{}?tls=required", server.port());

    let untrusting = mailer(&url);
    let reason = expect_transient(untrusting.send(&alice(), &message(), &[]).await);
    assert_eq!(reason, "TLS handshake with the SMTP server failed");
    assert!(server.messages().is_empty());

    let trusting = mailer(&url)
        .add_root_certificate_pem(certificate.cert_pem.as_bytes())
        .unwrap();
    trusting.send(&alice(), &message(), &[pdf()]).await.unwrap();
    let received = server.wait_for_messages(1, WAIT).await;
    assert!(received[0].contains("Subject: Audit report: Production website"));
}

#[tokio::test]
#[ignore = "needs aiosmtpd (KRAFTER_AIOSMTPD_PYTHON); .ci/run runs it"]
async fn plain_smtp_to_a_server_requiring_starttls_is_refused_and_tls_required_needs_starttls() {
    let certificate = TestCertificate::localhost();
    let tls_only = SmtpServer::start(
        SmtpServerOptions::new().starttls(&certificate.cert_path, &certificate.key_path),
    );
    // aiosmtpd answers MAIL before STARTTLS with 530, a permanent refusal.
    let reason = expect_permanent(
        mailer(&tls_only.url())
            .send(&alice(), &message(), &[])
            .await,
    );
    assert!(reason.starts_with("530"), "{reason}");

    let plain_only = SmtpServer::start(SmtpServerOptions::new());
    let url = format!("smtp://127.0.0.1:{}?tls=required", plain_only.port());
    let reason = expect_transient(mailer(&url).send(&alice(), &message(), &[]).await);
    assert_eq!(reason, "the SMTP server does not offer STARTTLS");
    assert!(plain_only.messages().is_empty());
}

#[tokio::test]
#[ignore = "needs aiosmtpd (KRAFTER_AIOSMTPD_PYTHON); .ci/run runs it"]
async fn smtps_delivers_with_the_trusted_certificate() {
    let certificate = TestCertificate::localhost();
    let server = SmtpServer::start(
        SmtpServerOptions::new().implicit_tls(&certificate.cert_path, &certificate.key_path),
    );
    let url = format!("smtps://localhost:{}", server.port());
    let reason = expect_transient(mailer(&url).send(&alice(), &message(), &[]).await);
    assert_eq!(reason, "TLS handshake with the SMTP server failed");

    mailer(&url)
        .add_root_certificate_pem(certificate.cert_pem.as_bytes())
        .unwrap()
        .send(&alice(), &message(), &[])
        .await
        .unwrap();
    assert_eq!(server.wait_for_messages(1, WAIT).await.len(), 1);
}

#[tokio::test]
#[ignore = "needs aiosmtpd (KRAFTER_AIOSMTPD_PYTHON); .ci/run runs it"]
async fn credentials_in_the_url_authenticate() {
    let server = SmtpServer::start(SmtpServerOptions::new().auth("krafter", "s3cr3t/:@"));
    let with = |password: &str| {
        mailer(&format!(
            "smtp://krafter:{password}@127.0.0.1:{}",
            server.port()
        ))
    };

    let reason = expect_permanent(with("wrong").send(&alice(), &message(), &[]).await);
    assert!(reason.starts_with("535"), "{reason}");
    assert!(!reason.contains("wrong"));

    with("s3cr3t%2F%3A%40")
        .send(&alice(), &message(), &[])
        .await
        .unwrap();
    assert_eq!(server.wait_for_messages(1, WAIT).await.len(), 1);
}

#[tokio::test]
#[ignore = "needs aiosmtpd (KRAFTER_AIOSMTPD_PYTHON); .ci/run runs it"]
async fn a_451_is_transient_and_the_next_attempt_is_delivered_once() {
    let server = SmtpServer::start(
        SmtpServerOptions::new().replies([SmtpReply::TryLater, SmtpReply::Accept]),
    );
    let mailer = mailer(&server.url());

    let reason = expect_transient(mailer.send(&alice(), &message(), &[pdf()]).await);
    assert_eq!(reason, "451 4.3.0 try again later");

    mailer.send(&alice(), &message(), &[pdf()]).await.unwrap();
    let received = server.wait_for_messages(1, WAIT).await;
    assert_eq!(received.len(), 1);
    assert_eq!(server.messages().len(), 1);
}

#[tokio::test]
#[ignore = "needs aiosmtpd (KRAFTER_AIOSMTPD_PYTHON); .ci/run runs it"]
async fn a_550_is_permanent_with_the_servers_reply() {
    let server =
        SmtpServer::start(SmtpServerOptions::new().replies([SmtpReply::MailboxUnavailable]));
    let reason = expect_permanent(mailer(&server.url()).send(&alice(), &message(), &[]).await);
    assert_eq!(reason, "550 5.1.1 mailbox unavailable");
    assert!(server.messages().is_empty());
}

#[tokio::test]
#[ignore = "needs aiosmtpd (KRAFTER_AIOSMTPD_PYTHON); .ci/run runs it"]
async fn a_server_that_never_answers_is_a_transient_timeout() {
    let server = SmtpServer::start(SmtpServerOptions::new().replies([SmtpReply::Hang]));
    let mailer = mailer(&server.url()).timeout(Duration::from_secs(2));
    let reason = expect_transient(mailer.send(&alice(), &message(), &[]).await);
    assert_eq!(reason, "the SMTP server did not answer in time");
    // The server had the whole message: a retry may deliver it twice, which is why the
    // delivery records `sending` before the message goes out.
    assert_eq!(server.wait_for_messages(1, WAIT).await.len(), 1);
}

#[tokio::test]
async fn no_server_listening_is_transient() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let mailer = mailer(&format!("smtp://127.0.0.1:{port}"));
    let reason = expect_transient(mailer.send(&alice(), &message(), &[]).await);
    assert_eq!(reason, "could not connect to the SMTP server");
}

#[test]
fn debug_never_shows_the_credentials() {
    let mailer = mailer("smtp://user:secret@127.0.0.1:25");
    let shown = format!("{mailer:?}");
    assert!(!shown.contains("secret"), "{shown}");
    assert!(
        shown.contains("127.0.0.1") && shown.contains("25"),
        "{shown}"
    );
}
