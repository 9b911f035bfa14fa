//! `mail`: the SMTP [`Mailer`], lettre over rustls.
//!
//! The server is named by a URL in lettre's form (`smtp://host:25`, `smtp://host:587?tls=required`,
//! `smtps://host:465`, credentials as `smtp://user:pass@host`). The URL is parsed here rather than
//! by lettre because lettre's own parser builds the TLS settings itself and leaves no room for an
//! extra trusted root (which tests with a self-signed certificate need).
//!
//! Every send opens its own connection: a share sends few emails, and a fresh connection keeps
//! each attempt's outcome independent of the one before. lettre bounds only the connect with its
//! timeout on tokio, so the whole send is bounded here as well.
//!
//! Credentials never leave this module: `Debug` shows the scheme, host and port, configuration
//! errors never echo the URL, and send errors carry the server's reply or a short description.

use std::error::Error as StdError;
use std::fmt;
use std::io;
use std::time::Duration;

use askama::Template;
use async_trait::async_trait;
use krafter_domain::share::{Attachment, EmailAddress, Mailer, SendError, ShareMessage};
use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Body, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

/// How long one send may take, connection and TLS handshake included, unless
/// [`SmtpMailer::timeout`] says otherwise.
pub const DEFAULT_SEND_TIMEOUT: Duration = Duration::from_secs(30);

/// Server replies are shown to the user who shared; a misbehaving server must not fill the
/// delivery record with a novel.
const MAX_REPLY_CHARS: usize = 300;

const COULD_NOT_CONNECT: &str = "could not connect to the SMTP server";
const TLS_FAILED: &str = "TLS handshake with the SMTP server failed";
const NO_STARTTLS: &str = "the SMTP server does not offer STARTTLS";
const NO_ANSWER: &str = "the SMTP server did not answer in time";
const CONNECTION_LOST: &str = "the connection to the SMTP server was lost";
const BAD_ANSWER: &str = "the SMTP server's answer could not be understood";
const NO_AUTH_MECHANISM: &str = "the SMTP server offers no supported authentication mechanism";
const SESSION_FAILED: &str = "the SMTP session failed";

/// Why the mail settings were refused. The messages name what is wrong without echoing the URL,
/// so they are safe to print at start-up even when the URL holds a password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MailConfigError {
    #[error("the SMTP URL is not a valid URL: {0}")]
    InvalidUrl(url::ParseError),
    #[error("the SMTP URL must start with smtp:// or smtps://")]
    UnsupportedScheme,
    #[error("the SMTP URL names no host")]
    MissingHost,
    #[error("the SMTP URL's tls parameter must be `required` or `opportunistic`")]
    UnsupportedTls,
    #[error("the SMTP URL has an unknown query parameter `{0}` (only `tls` is understood)")]
    UnknownParameter(String),
    #[error("the SMTP URL has a user name but no password")]
    UserWithoutPassword,
    #[error("the SMTP URL's user name or password is not valid UTF-8 once percent-decoded")]
    InvalidCredentials,
    #[error("the from address is not a valid mailbox (`address` or `Name <address>`): {0}")]
    InvalidFrom(String),
    #[error("the root certificate is not a PEM certificate")]
    InvalidCertificate,
    #[error("the TLS settings for the SMTP server could not be built")]
    Tls,
}

/// How the connection to the server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Security {
    /// `smtp://` without `tls`: plain text, even if the server offers STARTTLS.
    Plain,
    /// `smtp://…?tls=opportunistic`: STARTTLS when the server offers it.
    OpportunisticStartTls,
    /// `smtp://…?tls=required`: STARTTLS or no send.
    RequiredStartTls,
    /// `smtps://`: TLS from the first byte.
    ImplicitTls,
}

impl Security {
    fn default_port(self) -> u16 {
        match self {
            Security::Plain => 25,
            Security::OpportunisticStartTls | Security::RequiredStartTls => 587,
            Security::ImplicitTls => 465,
        }
    }
}

/// The server as the URL names it, credentials apart.
#[derive(Clone)]
struct SmtpEndpoint {
    scheme: &'static str,
    /// A DNS name or an IP address, without the brackets of an IPv6 literal: lettre resolves it
    /// and checks the server's certificate against it.
    host: String,
    port: u16,
    security: Security,
    hello_name: Option<String>,
    credentials: Option<Credentials>,
}

impl SmtpEndpoint {
    fn parse(raw: &str) -> Result<Self, MailConfigError> {
        let url = url::Url::parse(raw).map_err(MailConfigError::InvalidUrl)?;
        let mut tls = None;
        for (key, value) in url.query_pairs() {
            if key == "tls" {
                tls = Some(value.into_owned());
            } else {
                return Err(MailConfigError::UnknownParameter(
                    key.chars().take(40).collect(),
                ));
            }
        }
        let (scheme, security) = match (url.scheme(), tls.as_deref()) {
            ("smtp", None) => ("smtp", Security::Plain),
            ("smtp", Some("opportunistic")) => ("smtp", Security::OpportunisticStartTls),
            ("smtp", Some("required")) => ("smtp", Security::RequiredStartTls),
            ("smtp", Some(_)) => return Err(MailConfigError::UnsupportedTls),
            // lettre ignores `tls` on smtps://: the connection is TLS whatever it says.
            ("smtps", _) => ("smtps", Security::ImplicitTls),
            _ => return Err(MailConfigError::UnsupportedScheme),
        };
        let host = match url.host() {
            Some(url::Host::Domain(name)) if !name.is_empty() => name.to_owned(),
            Some(url::Host::Ipv4(ip)) => ip.to_string(),
            Some(url::Host::Ipv6(ip)) => ip.to_string(),
            _ => return Err(MailConfigError::MissingHost),
        };
        let port = url.port().unwrap_or(security.default_port());
        // As lettre does: the path names this client in EHLO.
        let hello_name = Some(url.path().trim_matches('/'))
            .filter(|name| !name.is_empty())
            .map(str::to_owned);
        let credentials = match url.password() {
            Some(password) => Some(Credentials::new(
                percent_decoded(url.username())?,
                percent_decoded(password)?,
            )),
            None if !url.username().is_empty() => return Err(MailConfigError::UserWithoutPassword),
            None => None,
        };
        Ok(Self {
            scheme,
            host,
            port,
            security,
            hello_name,
            credentials,
        })
    }
}

fn percent_decoded(raw: &str) -> Result<String, MailConfigError> {
    percent_encoding::percent_decode_str(raw)
        .decode_utf8()
        .map(|decoded| decoded.into_owned())
        .map_err(|_| MailConfigError::InvalidCredentials)
}

/// Sends shared reports by SMTP: one multipart email per recipient, with the report attached
/// when there is an attachment.
///
/// Built from the `KRAFTER_SMTP_URL` and `KRAFTER_MAIL_FROM` settings with [`Self::from_url`];
/// [`Self::add_root_certificate_pem`] and [`Self::timeout`] adjust it.
#[derive(Clone)]
pub struct SmtpMailer {
    endpoint: SmtpEndpoint,
    from: Mailbox,
    extra_roots: Vec<Certificate>,
    timeout: Duration,
    transport: AsyncSmtpTransport<Tokio1Executor>,
}

impl SmtpMailer {
    /// A mailer for the server named by `url` (lettre's form: `smtp://host:25`,
    /// `smtp://host:587?tls=required` for STARTTLS, `tls=opportunistic` for STARTTLS when
    /// offered, `smtps://host:465`, credentials as `smtp://user:pass@host`, percent-encoded),
    /// sending as `from` (`reports@example.com` or `Krafter Reports <reports@example.com>`).
    ///
    /// Server certificates are checked against the system's trusted roots.
    pub fn from_url(url: &str, from: &str) -> Result<Self, MailConfigError> {
        let endpoint = SmtpEndpoint::parse(url)?;
        let from: Mailbox = from
            .trim()
            .parse()
            .map_err(|err: lettre::address::AddressError| {
                MailConfigError::InvalidFrom(err.to_string())
            })?;
        let extra_roots = Vec::new();
        let transport = build_transport(&endpoint, &extra_roots, DEFAULT_SEND_TIMEOUT)?;
        Ok(Self {
            endpoint,
            from,
            extra_roots,
            timeout: DEFAULT_SEND_TIMEOUT,
            transport,
        })
    }

    /// Also trusts the root certificate(s) in `pem` for the server's TLS certificate, besides the
    /// system's: for a private CA, or a test server's self-signed certificate.
    pub fn add_root_certificate_pem(mut self, pem: &[u8]) -> Result<Self, MailConfigError> {
        let holds_a_certificate = rustls::pki_types::pem::PemObject::pem_slice_iter(pem)
            .any(|item: Result<rustls::pki_types::CertificateDer<'static>, _>| item.is_ok());
        if !holds_a_certificate {
            return Err(MailConfigError::InvalidCertificate);
        }
        let certificate =
            Certificate::from_pem(pem).map_err(|_| MailConfigError::InvalidCertificate)?;
        self.extra_roots.push(certificate);
        self.transport = build_transport(&self.endpoint, &self.extra_roots, self.timeout)?;
        Ok(self)
    }

    /// Bounds each send, connection and TLS handshake included (default
    /// [`DEFAULT_SEND_TIMEOUT`]); a send that takes longer fails as transient.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self.transport = build_transport(&self.endpoint, &self.extra_roots, timeout)
            .expect("the TLS settings were built before with the same roots");
        self
    }

    /// The SMTP server's host, for logs.
    pub fn host(&self) -> &str {
        &self.endpoint.host
    }
}

fn build_transport(
    endpoint: &SmtpEndpoint,
    extra_roots: &[Certificate],
    timeout: Duration,
) -> Result<AsyncSmtpTransport<Tokio1Executor>, MailConfigError> {
    let tls_parameters = || {
        extra_roots
            .iter()
            .fold(
                TlsParameters::builder(endpoint.host.clone()),
                |builder, root| builder.add_root_certificate(root.clone()),
            )
            .build()
            .map_err(|_| MailConfigError::Tls)
    };
    let tls = match endpoint.security {
        Security::Plain => Tls::None,
        Security::OpportunisticStartTls => Tls::Opportunistic(tls_parameters()?),
        Security::RequiredStartTls => Tls::Required(tls_parameters()?),
        Security::ImplicitTls => Tls::Wrapper(tls_parameters()?),
    };
    // "Dangerous" only in that lettre leaves the TLS choice to us; it is made just above.
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&endpoint.host)
        .port(endpoint.port)
        .tls(tls)
        .timeout(Some(timeout));
    if let Some(name) = &endpoint.hello_name {
        builder = builder.hello_name(ClientId::Domain(name.clone()));
    }
    if let Some(credentials) = &endpoint.credentials {
        builder = builder.credentials(credentials.clone());
    }
    Ok(builder.build())
}

impl fmt::Debug for SmtpMailer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpMailer")
            .field("scheme", &self.endpoint.scheme)
            .field("host", &self.endpoint.host)
            .field("port", &self.endpoint.port)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl Mailer for SmtpMailer {
    async fn send(
        &self,
        to: &EmailAddress,
        message: &ShareMessage,
        attachments: &[Attachment],
    ) -> Result<(), SendError> {
        let email = compose(&self.from, to, message, attachments)?;
        let outcome = match tokio::time::timeout(self.timeout, self.transport.send(email)).await {
            Ok(Ok(_accepted)) => Ok(()),
            Ok(Err(err)) => Err((classify(&err), Some(err))),
            Err(_elapsed) => Err((SendError::transient(NO_ANSWER), None)),
        };
        match outcome {
            Ok(()) => {
                tracing::info!(
                    smtp_host = %self.endpoint.host,
                    report_id = %message.report_id,
                    "report email accepted by the SMTP server"
                );
                Ok(())
            }
            Err((send_error, cause)) => {
                // lettre's errors hold no credentials (only replies and I/O errors), and the
                // operator needs the underlying cause that the classified reason leaves out.
                tracing::warn!(
                    smtp_host = %self.endpoint.host,
                    report_id = %message.report_id,
                    reason = %send_error.reason(),
                    transient = matches!(send_error, SendError::Transient { .. }),
                    cause = cause.as_ref().map(|err| err.to_string()),
                    "report email not sent"
                );
                Err(send_error)
            }
        }
    }
}

/// What the two bodies show, formatted once for both.
struct EmailView {
    subject: String,
    organisation_name: String,
    project_name: String,
    period: String,
    open_findings: i64,
    open_risk_score: i64,
    verification_pass_rate: String,
    regression_rate: String,
    viewer_url: String,
    attached_file: Option<String>,
}

impl EmailView {
    fn new(message: &ShareMessage, attachments: &[Attachment]) -> Self {
        Self {
            subject: message.subject(),
            organisation_name: message.organisation_name.clone(),
            project_name: message.project_name.clone(),
            period: message.period(),
            open_findings: message.summary.open_findings,
            open_risk_score: message.open_risk_score(),
            verification_pass_rate: percent(message.summary.verification_pass_rate),
            regression_rate: percent(message.summary.regression_rate),
            viewer_url: message.viewer_url.clone(),
            attached_file: attachments.first().map(|a| a.file_name.clone()),
        }
    }
}

/// A rate as the report shows it: a percentage with one decimal.
fn percent(rate: f64) -> String {
    format!("{:.1}%", rate * 100.0)
}

#[derive(Template)]
#[template(path = "email.txt", escape = "none")]
struct PlainTextBody<'a> {
    v: &'a EmailView,
}

#[derive(Template)]
#[template(path = "email.html", escape = "html")]
struct HtmlBody<'a> {
    v: &'a EmailView,
}

/// The email as it goes out: multipart/alternative (text, HTML), inside multipart/mixed with the
/// attachments when there are any.
fn compose(
    from: &Mailbox,
    to: &EmailAddress,
    message: &ShareMessage,
    attachments: &[Attachment],
) -> Result<Message, SendError> {
    let not_composed = |_| SendError::permanent("the email could not be composed");
    let recipient: Mailbox = to
        .as_str()
        .parse()
        .map_err(|_| SendError::permanent("the recipient address was refused"))?;
    let view = EmailView::new(message, attachments);
    let text = PlainTextBody { v: &view }.render().map_err(not_composed)?;
    let html = HtmlBody { v: &view }.render().map_err(not_composed)?;
    let alternative = MultiPart::alternative_plain_html(text, html);
    let body = if attachments.is_empty() {
        alternative
    } else {
        attachments.iter().fold(
            MultiPart::mixed().multipart(alternative),
            |mixed, attachment| mixed.singlepart(attachment_part(attachment)),
        )
    };
    Message::builder()
        .from(from.clone())
        .to(recipient)
        .subject(view.subject)
        // The sender's own domain rather than this machine's host name: it is ours to use and
        // says nothing about the host that sent it.
        .message_id(Some(format!(
            "<{}@{}>",
            uuid::Uuid::new_v4(),
            from.email.domain()
        )))
        .multipart(body)
        .map_err(|_| SendError::permanent("the email could not be composed"))
}

fn attachment_part(attachment: &Attachment) -> SinglePart {
    let content_type = ContentType::parse(&attachment.content_type)
        .unwrap_or_else(|_| ContentType::parse("application/octet-stream").expect("a MIME type"));
    // Base64 keeps the artefact's bytes exact: lettre would turn a CSV's LF into CRLF in a
    // text encoding.
    let body = Body::new_with_encoding(attachment.content.clone(), ContentTransferEncoding::Base64)
        .expect("base64 encodes any bytes");
    lettre::message::Attachment::new(attachment.file_name.clone()).body(body, content_type)
}

/// Sorts a failed send into the port's transient and permanent errors, with a reason fit for the
/// user who shared: the server's reply, or a short description of what went wrong.
fn classify(err: &lettre::transport::smtp::Error) -> SendError {
    if let Some(code) = err.status() {
        let reply = server_reply(&code.to_string(), err.source());
        return if err.is_permanent() {
            SendError::permanent(reply)
        } else {
            SendError::transient(reply)
        };
    }
    SendError::transient(describe_failure(err))
}

/// `451 4.3.0 try again later`, as the server said it, on one line.
fn server_reply(code: &str, text: Option<&(dyn StdError + 'static)>) -> String {
    let text = text.map(ToString::to_string).unwrap_or_default();
    let one_line = text
        .split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|word| !word.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    let reply = format!("{code} {one_line}");
    let reply = reply.trim_end();
    match reply.char_indices().nth(MAX_REPLY_CHARS) {
        Some((cut, _)) => format!("{}…", &reply[..cut]),
        None => reply.to_owned(),
    }
}

fn describe_failure(err: &lettre::transport::smtp::Error) -> &'static str {
    if err.is_timeout() {
        return NO_ANSWER;
    }
    if err.is_tls() || involves_tls(err) {
        return TLS_FAILED;
    }
    // lettre tells its client-side refusals apart by message only.
    let text = err.to_string();
    if err.is_client() {
        return if text.contains("STARTTLS") {
            NO_STARTTLS
        } else if text.contains("authentication") {
            NO_AUTH_MECHANISM
        } else {
            SESSION_FAILED
        };
    }
    if err.is_response() {
        // What lettre says when the server hangs up in the middle of a reply.
        return if text.contains("incomplete response") {
            CONNECTION_LOST
        } else {
            BAD_ANSWER
        };
    }
    match io_error_kind(err) {
        Some(
            io::ErrorKind::UnexpectedEof
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe,
        ) if !text.starts_with("Connection error") => CONNECTION_LOST,
        Some(io::ErrorKind::TimedOut) => NO_ANSWER,
        _ if text.starts_with("network error") => CONNECTION_LOST,
        _ => COULD_NOT_CONNECT,
    }
}

/// lettre reports a failed handshake as a connection error whose cause is the rustls error,
/// wrapped in an `io::Error` (whose `source` skips the wrapped error, hence `get_ref`).
fn involves_tls(err: &(dyn StdError + 'static)) -> bool {
    causes(err).any(|cause| {
        cause.is::<rustls::Error>()
            || cause
                .downcast_ref::<io::Error>()
                .and_then(io::Error::get_ref)
                .is_some_and(|inner| inner.is::<rustls::Error>())
    })
}

fn io_error_kind(err: &(dyn StdError + 'static)) -> Option<io::ErrorKind> {
    causes(err).find_map(|cause| cause.downcast_ref::<io::Error>().map(io::Error::kind))
}

fn causes<'a>(
    err: &'a (dyn StdError + 'static),
) -> impl Iterator<Item = &'a (dyn StdError + 'static)> {
    std::iter::successors(Some(err), |err: &&'a (dyn StdError + 'static)| {
        (*err).source()
    })
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;
    use krafter_domain::export::ReportId;
    use krafter_domain::metrics::{BurnDownPoint, Summary};
    use mail_parser::{MessageParser, MimeHeaders};

    use super::*;

    fn message() -> ShareMessage {
        ShareMessage {
            report_id: ReportId::generate(),
            organisation_name: "Acme <Security> & Co".into(),
            project_name: "Production website".into(),
            project_slug: "production-website".into(),
            period_start: NaiveDate::from_ymd_opt(2026, 6, 1).unwrap(),
            period_end: NaiveDate::from_ymd_opt(2026, 6, 7).unwrap(),
            summary: Summary {
                risk_burn_down: vec![
                    BurnDownPoint {
                        date: NaiveDate::from_ymd_opt(2026, 6, 1).unwrap(),
                        open_risk_score: 410,
                    },
                    BurnDownPoint {
                        date: NaiveDate::from_ymd_opt(2026, 6, 7).unwrap(),
                        open_risk_score: 345,
                    },
                ],
                verification_pass_rate: 0.875,
                regression_rate: 0.0425,
                open_findings: 17,
            },
            viewer_url: "https://reports.example.com/v/abc.def?x=1&y=2".into(),
        }
    }

    fn pdf() -> Attachment {
        Attachment {
            file_name: "production-website-2026-06-07.pdf".into(),
            content_type: "application/pdf".into(),
            content: b"%PDF-1.7\n\x00\x01\xff binary\r\n".to_vec(),
        }
    }

    fn formatted(attachments: &[Attachment]) -> Vec<u8> {
        let from: Mailbox = "Krafter Reports <reports@krafter.example>".parse().unwrap();
        let to = EmailAddress::parse("alice@example.com").unwrap();
        compose(&from, &to, &message(), attachments)
            .unwrap()
            .formatted()
    }

    #[test]
    fn the_email_has_the_subject_sender_recipient_and_both_bodies() {
        let raw = formatted(&[]);
        let email = MessageParser::default().parse(&raw).unwrap();
        assert_eq!(
            email.subject(),
            Some("Audit report: Production website (2026-06-01 to 2026-06-07)")
        );
        let from = email.from().unwrap().first().unwrap();
        assert_eq!(from.name(), Some("Krafter Reports"));
        assert_eq!(from.address(), Some("reports@krafter.example"));
        assert_eq!(
            email.to().unwrap().first().unwrap().address(),
            Some("alice@example.com")
        );
        assert!(email.message_id().unwrap().ends_with("@krafter.example"));
        assert_eq!(email.content_type().unwrap().subtype(), Some("alternative"));
        assert_eq!(email.attachment_count(), 0);

        let text = email.body_text(0).unwrap();
        let html = email.body_html(0).unwrap();
        for body in [&text, &html] {
            for expected in [
                "Production website",
                "2026-06-01 to 2026-06-07",
                "17",
                "345",
                "87.5%",
                "4.2%",
            ] {
                assert!(body.contains(expected), "{expected:?} missing from {body}");
            }
        }
        assert!(text.contains("https://reports.example.com/v/abc.def?x=1&y=2"));
        assert!(text.contains("Acme <Security> & Co"));
        assert!(
            html.contains(r#"href="https://reports.example.com/v/abc.def?x=1&#38;y=2""#)
                || html.contains(r#"href="https://reports.example.com/v/abc.def?x=1&amp;y=2""#)
        );
        assert!(
            html.contains("Acme &#60;Security&#62; &#38; Co")
                || html.contains("Acme &lt;Security&gt; &amp; Co")
        );
        assert!(!html.contains("<Security>"));
    }

    #[test]
    fn an_attachment_makes_it_mixed_with_the_artefact_exact() {
        let raw = formatted(&[pdf()]);
        let headers = String::from_utf8_lossy(&raw);
        assert!(headers.contains("Content-Type: multipart/mixed"));
        assert!(headers.contains("Content-Type: multipart/alternative"));
        // lettre folds long headers, and writes long file names as RFC 2231 `filename*0=…`.
        let unfolded = headers.replace("\r\n ", " ");
        assert!(
            unfolded.contains(
                "Content-Disposition: attachment; filename=\"production-website-2026-06-07.pdf\""
            ) || unfolded.contains(
                "Content-Disposition: attachment; filename*0=\"production-website-2026-06-07.pdf\""
            ),
            "{unfolded}"
        );
        assert!(headers.contains("Content-Type: application/pdf"));
        assert!(headers.contains("Content-Transfer-Encoding: base64"));
        let email = MessageParser::default().parse(&raw).unwrap();
        assert_eq!(email.content_type().unwrap().subtype(), Some("mixed"));
        assert_eq!(email.attachment_count(), 1);
        let attached = email.attachment(0).unwrap();
        assert_eq!(
            attached.attachment_name(),
            Some("production-website-2026-06-07.pdf")
        );
        let content_type = attached.content_type().unwrap();
        assert_eq!(content_type.ctype(), "application");
        assert_eq!(content_type.subtype(), Some("pdf"));
        assert_eq!(attached.contents(), pdf().content.as_slice());
        assert!(email.body_text(0).unwrap().contains(&pdf().file_name));
    }

    #[test]
    fn a_csv_keeps_its_charset_and_its_line_endings() {
        let csv = Attachment {
            file_name: "findings.csv".into(),
            content_type: "text/csv; charset=utf-8".into(),
            content: b"id,title\n1,\xc3\xa9t\xc3\xa9\n".to_vec(),
        };
        let raw = formatted(std::slice::from_ref(&csv));
        let email = MessageParser::default().parse(&raw).unwrap();
        let attached = email.attachment(0).unwrap();
        let content_type = attached.content_type().unwrap();
        assert_eq!(
            (content_type.ctype(), content_type.subtype()),
            ("text", Some("csv"))
        );
        assert_eq!(content_type.attribute("charset"), Some("utf-8"));
        assert_eq!(attached.contents(), csv.content.as_slice());
    }

    #[test]
    fn an_unparsable_content_type_is_sent_as_bytes() {
        let odd = Attachment {
            content_type: "not a mime type".into(),
            ..pdf()
        };
        let raw = formatted(&[odd]);
        assert!(String::from_utf8_lossy(&raw).contains("Content-Type: application/octet-stream"));
    }

    #[test]
    fn the_url_forms_are_understood() {
        let cases = [
            (
                "smtp://mail.example.com",
                "smtp",
                "mail.example.com",
                25,
                Security::Plain,
            ),
            (
                "smtp://mail.example.com:2525",
                "smtp",
                "mail.example.com",
                2525,
                Security::Plain,
            ),
            (
                "smtp://mail.example.com?tls=required",
                "smtp",
                "mail.example.com",
                587,
                Security::RequiredStartTls,
            ),
            (
                "smtp://mail.example.com:25?tls=opportunistic",
                "smtp",
                "mail.example.com",
                25,
                Security::OpportunisticStartTls,
            ),
            (
                "smtps://mail.example.com",
                "smtps",
                "mail.example.com",
                465,
                Security::ImplicitTls,
            ),
            (
                "smtp://127.0.0.1:1025",
                "smtp",
                "127.0.0.1",
                1025,
                Security::Plain,
            ),
            ("smtp://[::1]:1025", "smtp", "::1", 1025, Security::Plain),
        ];
        for (url, scheme, host, port, security) in cases {
            let endpoint = SmtpEndpoint::parse(url).unwrap();
            assert_eq!(
                (
                    endpoint.scheme,
                    endpoint.host.as_str(),
                    endpoint.port,
                    endpoint.security
                ),
                (scheme, host, port, security),
                "{url}"
            );
            assert!(endpoint.credentials.is_none());
        }
    }

    #[test]
    fn credentials_are_percent_decoded_and_the_path_names_the_client() {
        let endpoint =
            SmtpEndpoint::parse("smtp://us%40er:p%3Ass%2Fw@mail.example.com/client.example")
                .unwrap();
        assert_eq!(
            endpoint.credentials,
            Some(Credentials::new("us@er".into(), "p:ss/w".into()))
        );
        assert_eq!(endpoint.hello_name.as_deref(), Some("client.example"));
    }

    #[test]
    fn bad_settings_are_refused_without_echoing_the_url() {
        let cases = [
            (
                "http://user:hunter2@mail.example.com",
                MailConfigError::UnsupportedScheme,
            ),
            (
                "smtp://user:hunter2@mail.example.com?tls=yes",
                MailConfigError::UnsupportedTls,
            ),
            (
                "smtp://user:hunter2@mail.example.com?tsl=required",
                MailConfigError::UnknownParameter("tsl".into()),
            ),
            (
                "smtp://user@mail.example.com",
                MailConfigError::UserWithoutPassword,
            ),
            (
                "smtp://user:%ff@mail.example.com",
                MailConfigError::InvalidCredentials,
            ),
            (
                "smtp://user:hunter2@mail.example.com:99999",
                MailConfigError::InvalidUrl(url::ParseError::InvalidPort),
            ),
            (
                "user:hunter2@mail.example.com",
                MailConfigError::UnsupportedScheme,
            ),
        ];
        for (url, expected) in cases {
            let err = SmtpMailer::from_url(url, "reports@krafter.example").unwrap_err();
            assert_eq!(err, expected, "{url}");
            assert!(!err.to_string().contains("hunter2"), "{err}");
        }
        assert!(matches!(
            SmtpMailer::from_url("smtp://mail.example.com", "not an address"),
            Err(MailConfigError::InvalidFrom(_))
        ));
        assert!(matches!(
            SmtpMailer::from_url("smtp:///nohost", "reports@krafter.example"),
            Err(MailConfigError::MissingHost | MailConfigError::InvalidUrl(_))
        ));
    }

    #[test]
    fn debug_shows_scheme_host_and_port_only() {
        let mailer = SmtpMailer::from_url(
            "smtp://user:secret@127.0.0.1:25?tls=required",
            "reports@krafter.example",
        )
        .unwrap();
        let shown = format!("{mailer:?}");
        assert!(shown.contains("\"smtp\"") && shown.contains("127.0.0.1") && shown.contains("25"));
        assert!(
            !shown.contains("secret") && !shown.contains("user"),
            "{shown}"
        );
    }

    #[test]
    fn a_root_certificate_must_be_pem() {
        let mailer =
            SmtpMailer::from_url("smtps://mail.example.com", "reports@krafter.example").unwrap();
        assert_eq!(
            mailer
                .add_root_certificate_pem(b"not a certificate")
                .unwrap_err(),
            MailConfigError::InvalidCertificate
        );
    }

    #[test]
    fn replies_are_kept_on_one_bounded_line() {
        let text: Box<dyn StdError> = "4.3.0 try again\r\n  later ".into();
        assert_eq!(
            server_reply("451", Some(&*text)),
            "451 4.3.0 try again later"
        );
        assert_eq!(server_reply("554", None), "554");
        let long: Box<dyn StdError> = "x".repeat(1000).into();
        assert_eq!(
            server_reply("550", Some(&*long)).chars().count(),
            MAX_REPLY_CHARS + 1
        );
    }

    #[test]
    fn rates_show_as_percentages_with_one_decimal() {
        assert_eq!(percent(0.875), "87.5%");
        assert_eq!(percent(0.0), "0.0%");
        assert_eq!(percent(1.0), "100.0%");
    }
}
