use crate::export::ReportId;
use crate::share::record::ShareChannel;
use crate::validation::{Collector, FieldError, InvalidParams};

/// At most this many recipients per email share.
pub const MAX_RECIPIENTS: usize = 50;
/// How long a link works when `expires_in_days` is not given.
pub const DEFAULT_LINK_DAYS: u32 = 30;
const MAX_LINK_DAYS: u32 = 365;

/// A syntactically valid email address (`local@domain`), at most 254 characters.
///
/// Deliberately narrower than RFC 5322: no quoted local parts, comments or IP-literal domains,
/// and nothing a mail header could be injected with (whitespace, control characters, `<>,;"`).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EmailAddress(String);

impl EmailAddress {
    pub fn parse(raw: &str) -> Result<Self, String> {
        if raw.len() > 254 {
            return Err("is longer than 254 characters".into());
        }
        let Some((local, domain)) = raw.rsplit_once('@') else {
            return Err("is not an email address (local@domain)".into());
        };
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..")
            && local
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c));
        let labels: Vec<&str> = domain.split('.').collect();
        let domain_ok = labels.len() >= 2
            && labels.iter().all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            })
            && labels
                .last()
                .is_some_and(|tld| tld.chars().all(|c| c.is_ascii_alphabetic()));
        if local_ok && domain_ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err("is not an email address (local@domain)".into())
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for EmailAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A webhook URL that passed the SSRF guard ([`crate::share::Webhooks::vet`]).
///
/// Its path is a secret (a Slack webhook's path is its credential): `Debug` and `host` show the
/// host only, and only `expose` gives the whole URL, to the adapter that sends to it.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookUrl {
    url: String,
    host: String,
}

impl WebhookUrl {
    /// For the guard that vetted `url`, whose host is `host`.
    pub fn vetted(url: String, host: String) -> Self {
        Self { url, host }
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    /// The whole URL, secret path included: only for sending, never for logs or answers.
    pub fn expose(&self) -> &str {
        &self.url
    }
}

impl std::fmt::Debug for WebhookUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "WebhookUrl(https://{}/…)", self.host)
    }
}

/// Whom to share with, as the request says; the webhook is vetted later by the use case.
/// `Debug` shows no webhook URL: its path is a secret.
#[derive(Clone, PartialEq, Eq)]
pub enum ShareTarget {
    Email(Vec<EmailAddress>),
    /// The raw `webhook_url`, to be vetted by the SSRF guard.
    Slack(String),
    Link,
}

impl std::fmt::Debug for ShareTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ShareTarget::Email(to) => f.debug_tuple("Email").field(to).finish(),
            ShareTarget::Slack(_) => f.write_str("Slack(<webhook URL>)"),
            ShareTarget::Link => f.write_str("Link"),
        }
    }
}

/// A share request, parsed. Fields that do not belong to the channel are ignored (the spec's rule).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareRequest {
    pub target: ShareTarget,
    /// The report to share; the project's latest when `None`.
    pub report: Option<ReportId>,
    /// How many days links to this share work (1 to 365; for `link` as asked, else the default).
    pub link_days: u32,
}

impl ShareRequest {
    pub fn channel(&self) -> ShareChannel {
        match self.target {
            ShareTarget::Email(_) => ShareChannel::Email,
            ShareTarget::Slack(_) => ShareChannel::Slack,
            ShareTarget::Link => ShareChannel::Link,
        }
    }

    /// Parses the fields of `channel`'s request. `report_id` that is not a UUID answers
    /// `Ok(None)` for the report in `unknown_report`, so that the caller can answer 404 rather
    /// than 422, as for any other report id.
    pub fn parse(
        channel: ShareChannel,
        recipients: Option<&[String]>,
        webhook_url: Option<&str>,
        report_id: Option<&str>,
        expires_in_days: Option<i64>,
    ) -> Result<(Self, bool), InvalidParams> {
        let mut errors = Collector::new();
        let target = match channel {
            ShareChannel::Email => match recipients {
                None | Some([]) => {
                    errors.push(FieldError::new(
                        "recipients",
                        format!("must list 1 to {MAX_RECIPIENTS} email addresses"),
                    ));
                    None
                }
                Some(list) if list.len() > MAX_RECIPIENTS => {
                    errors.push(FieldError::new(
                        "recipients",
                        format!("must list at most {MAX_RECIPIENTS} email addresses"),
                    ));
                    None
                }
                Some(list) => {
                    let mut parsed: Vec<EmailAddress> = Vec::with_capacity(list.len());
                    for (i, raw) in list.iter().enumerate() {
                        match EmailAddress::parse(raw) {
                            Ok(address) if !parsed.contains(&address) => parsed.push(address),
                            Ok(_) => {}
                            Err(why) => {
                                errors.push(FieldError::new(format!("recipients[{i}]"), why))
                            }
                        }
                    }
                    Some(ShareTarget::Email(parsed))
                }
            },
            ShareChannel::Slack => match webhook_url {
                Some(url) if !url.trim().is_empty() => {
                    match crate::validation::check_text("webhook_url", url, 2048) {
                        Ok(()) => Some(ShareTarget::Slack(url.to_owned())),
                        Err(InvalidParams(why)) => {
                            why.into_iter().for_each(|e| errors.push(e));
                            None
                        }
                    }
                }
                _ => {
                    errors.push(FieldError::new(
                        "webhook_url",
                        "is required for the slack channel",
                    ));
                    None
                }
            },
            ShareChannel::Link => Some(ShareTarget::Link),
        };
        // Links only: the links inside emails and Slack messages live the default time.
        let expires_in_days = expires_in_days.filter(|_| channel == ShareChannel::Link);
        let link_days = match expires_in_days {
            None => DEFAULT_LINK_DAYS,
            Some(days) if (1..=i64::from(MAX_LINK_DAYS)).contains(&days) => days as u32,
            Some(_) => {
                errors.push(FieldError::new(
                    "expires_in_days",
                    format!("must be a whole number of days from 1 to {MAX_LINK_DAYS}"),
                ));
                DEFAULT_LINK_DAYS
            }
        };
        let (report, unknown_report) = match report_id {
            None => (None, false),
            Some(raw) => match raw.parse::<ReportId>() {
                Ok(id) => (Some(id), false),
                Err(_) => (None, true),
            },
        };
        errors.finish()?;
        Ok((
            Self {
                target: target.expect("checked"),
                report,
                link_days,
            },
            unknown_report,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_addresses() {
        for ok in [
            "a@b.co",
            "security+reports@example.com",
            "o'neil@mail.example.org",
        ] {
            assert_eq!(EmailAddress::parse(ok).unwrap().as_str(), ok);
        }
        for bad in [
            "",
            "a",
            "a@b",
            "@example.com",
            "a@.com",
            "a b@example.com",
            "a@example.com\r\nBcc: x@y.z",
            "<a@example.com>",
            "a@exa_mple.com",
            "a..b@example.com",
            "a@-example.com",
            "a@example.123",
        ] {
            assert!(EmailAddress::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn fields_of_other_channels_are_ignored() {
        let (link, _) = ShareRequest::parse(
            ShareChannel::Link,
            Some(&["bad".into()]),
            Some(""),
            None,
            None,
        )
        .unwrap();
        assert_eq!(link.target, ShareTarget::Link);
        assert_eq!(link.link_days, DEFAULT_LINK_DAYS);
    }

    #[test]
    fn every_bad_field_is_named() {
        let err = ShareRequest::parse(
            ShareChannel::Email,
            Some(&["ok@example.com".into(), "nope".into()]),
            None,
            None,
            Some(0),
        )
        .unwrap_err();
        let fields: Vec<&str> = err.fields().iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["recipients[1]"]);
        let err = ShareRequest::parse(ShareChannel::Link, None, None, None, Some(0)).unwrap_err();
        assert_eq!(err.fields()[0].field, "expires_in_days");
        let debug = format!(
            "{:?}",
            ShareTarget::Slack("https://hooks.slack.com/services/T/B/secret".into())
        );
        assert!(!debug.contains("secret"), "{debug}");
        let many: Vec<String> = (0..51).map(|i| format!("u{i}@example.com")).collect();
        let err =
            ShareRequest::parse(ShareChannel::Email, Some(&many), None, None, None).unwrap_err();
        assert_eq!(err.fields()[0].field, "recipients");
        let err = ShareRequest::parse(ShareChannel::Slack, None, None, None, None).unwrap_err();
        assert_eq!(err.fields()[0].field, "webhook_url");
        for bad in [
            "https://hooks.slack.com/\u{0}",
            "https://hooks.slack.com/a\u{202E}b",
        ] {
            let err =
                ShareRequest::parse(ShareChannel::Slack, None, Some(bad), None, None).unwrap_err();
            assert_eq!(err.fields()[0].field, "webhook_url", "{bad:?}");
        }
    }
}
