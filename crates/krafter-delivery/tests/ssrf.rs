//! The SSRF guard, decided without a network: names resolve through canned answers.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use krafter_delivery::ssrf::{Refusal, Resolver, SsrfGuard};
use krafter_delivery::webhook::SlackWebhooks;
use krafter_domain::share::{WebhookRefused, Webhooks};

const NOT_VALID: &str = "is not a valid URL";
const NOT_HTTPS: &str = "must be an https URL";
const HAS_USERINFO: &str = "must not contain user information";
const NOT_ALLOWED: &str = "host is not on KRAFTER_WEBHOOK_ALLOWED_HOSTS";
const UNRESOLVED: &str = "host could not be resolved";
const NO_ADDRESS: &str = "host resolves to no address";
const NOT_PUBLIC: &str = "resolves to a non-public address";

/// Appended to every URL of the table: none of it may show in a reason or a `Debug`.
const SECRET_PATH: &str = "services/T0SECRET/B0SECRET/PathSecret?token=QuerySecret#FragmentSecret";
const SECRET_MARKERS: [&str; 5] = [
    "services",
    "SECRET",
    "PathSecret",
    "QuerySecret",
    "Fragment",
];

/// Answers from a fixed table, counting the lookups; unknown names fail like NXDOMAIN.
#[derive(Default)]
struct CannedResolver {
    answers: HashMap<&'static str, Vec<IpAddr>>,
    lookups: Mutex<Vec<(String, u16)>>,
}

impl CannedResolver {
    fn standard() -> Self {
        let mut answers = HashMap::new();
        let ips =
            |list: &[&str]| -> Vec<IpAddr> { list.iter().map(|ip| ip.parse().unwrap()).collect() };
        answers.insert("localhost", ips(&["127.0.0.1", "::1"]));
        answers.insert(
            "hooks.slack.com",
            ips(&["3.120.1.10", "3.121.2.20", "2600:1f18:24e6:b900::1"]),
        );
        answers.insert("mixed.example", ips(&["3.120.1.10", "10.0.0.5"]));
        answers.insert("mixed-v6.example", ips(&["3.120.1.10", "fd00:ec2::254"]));
        answers.insert("metadata.example", ips(&["169.254.169.254"]));
        answers.insert("mapped.example", ips(&["::ffff:10.0.0.1"]));
        answers.insert("empty.example", Vec::new());
        answers.insert("twice.example", ips(&["3.120.1.10", "3.120.1.10"]));
        answers.insert(
            "loopback-and-public.example",
            ips(&["127.0.0.1", "3.120.1.10"]),
        );
        Self {
            answers,
            lookups: Mutex::default(),
        }
    }

    fn lookups(&self) -> Vec<(String, u16)> {
        self.lookups.lock().unwrap().clone()
    }
}

#[async_trait]
impl Resolver for CannedResolver {
    async fn resolve(&self, host: &str, port: u16) -> io::Result<Vec<IpAddr>> {
        self.lookups.lock().unwrap().push((host.to_owned(), port));
        self.answers
            .get(host)
            .cloned()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no such host"))
    }
}

/// Never answers.
struct SilentResolver;

#[async_trait]
impl Resolver for SilentResolver {
    async fn resolve(&self, _host: &str, _port: u16) -> io::Result<Vec<IpAddr>> {
        std::future::pending().await
    }
}

/// What vetting a URL must answer: the vetted host, or the reason of the refusal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expected {
    Allowed(&'static str),
    Refused(&'static str),
}
use Expected::{Allowed, Refused};

/// One row: the URL, the answer, and how many lookups vetting makes (0 for IP literals and
/// for URLs refused before their host is resolved).
struct Row(&'static str, Expected, usize);

const TABLE: &[Row] = &[
    // Loopback, unspecified, and the other spellings of loopback.
    Row("https://127.0.0.1/", Refused(NOT_PUBLIC), 0),
    Row("https://127.0.0.2/", Refused(NOT_PUBLIC), 0),
    Row("https://0.0.0.0/", Refused(NOT_PUBLIC), 0),
    Row("https://[::]/", Refused(NOT_PUBLIC), 0),
    Row("https://[::1]/", Refused(NOT_PUBLIC), 0),
    Row("https://2130706433/", Refused(NOT_PUBLIC), 0),
    Row("https://0177.0.0.1/", Refused(NOT_PUBLIC), 0),
    Row("https://0x7f.1/", Refused(NOT_PUBLIC), 0),
    Row("https://127.1/", Refused(NOT_PUBLIC), 0),
    Row(
        "https://127\u{3002}0\u{3002}0\u{3002}1/",
        Refused(NOT_PUBLIC),
        0,
    ),
    Row("https://[::ffff:127.0.0.1]/", Refused(NOT_PUBLIC), 0),
    Row("https://[::ffff:7f00:1]/", Refused(NOT_PUBLIC), 0),
    Row("https://localhost/", Refused(NOT_PUBLIC), 1),
    Row("https://\u{24db}ocalhost/", Refused(NOT_PUBLIC), 1),
    // Private, link-local, metadata, carrier-grade NAT.
    Row("https://10.0.0.1/", Refused(NOT_PUBLIC), 0),
    Row("https://172.16.0.1/", Refused(NOT_PUBLIC), 0),
    Row("https://172.31.255.254/", Refused(NOT_PUBLIC), 0),
    Row("https://192.168.1.1/", Refused(NOT_PUBLIC), 0),
    Row("https://169.254.169.254/", Refused(NOT_PUBLIC), 0),
    Row("https://100.64.0.1/", Refused(NOT_PUBLIC), 0),
    Row("https://100.127.255.254/", Refused(NOT_PUBLIC), 0),
    Row("https://100.63.255.254/", Allowed("100.63.255.254"), 0),
    Row("https://100.128.0.1/", Allowed("100.128.0.1"), 0),
    Row("https://172.15.255.254/", Allowed("172.15.255.254"), 0),
    Row("https://172.32.0.1/", Allowed("172.32.0.1"), 0),
    // Special-purpose IPv4.
    Row("https://255.255.255.255/", Refused(NOT_PUBLIC), 0),
    Row("https://240.0.0.1/", Refused(NOT_PUBLIC), 0),
    Row("https://224.0.0.251/", Refused(NOT_PUBLIC), 0),
    Row("https://0.1.2.3/", Refused(NOT_PUBLIC), 0),
    Row("https://192.0.0.8/", Refused(NOT_PUBLIC), 0),
    Row("https://192.0.2.10/", Refused(NOT_PUBLIC), 0),
    Row("https://198.51.100.10/", Refused(NOT_PUBLIC), 0),
    Row("https://203.0.113.10/", Refused(NOT_PUBLIC), 0),
    Row("https://198.18.0.1/", Refused(NOT_PUBLIC), 0),
    Row("https://198.19.255.254/", Refused(NOT_PUBLIC), 0),
    Row("https://198.20.0.1/", Allowed("198.20.0.1"), 0),
    Row("https://8.8.8.8/", Allowed("8.8.8.8"), 0),
    // IPv6, and IPv6 carrying IPv4.
    Row("https://[fc00::1]/", Refused(NOT_PUBLIC), 0),
    Row("https://[fd00:ec2::254]/", Refused(NOT_PUBLIC), 0),
    Row("https://[fe80::1]/", Refused(NOT_PUBLIC), 0),
    Row("https://[ff02::1]/", Refused(NOT_PUBLIC), 0),
    Row("https://[2001:db8::1]/", Refused(NOT_PUBLIC), 0),
    Row("https://[::ffff:10.0.0.1]/", Refused(NOT_PUBLIC), 0),
    Row("https://[::ffff:169.254.169.254]/", Refused(NOT_PUBLIC), 0),
    Row("https://[::a00:1]/", Refused(NOT_PUBLIC), 0),
    Row("https://[64:ff9b::a00:1]/", Refused(NOT_PUBLIC), 0),
    Row("https://[64:ff9b::a9fe:a9fe]/", Refused(NOT_PUBLIC), 0),
    Row("https://[64:ff9b:1::808:808]/", Refused(NOT_PUBLIC), 0),
    Row("https://[2002:a00:1::1]/", Refused(NOT_PUBLIC), 0),
    Row("https://[2002:7f00:1::1]/", Refused(NOT_PUBLIC), 0),
    Row(
        "https://[2001:0:4136:e378:8000:63bf:f5ff:fffe]/",
        Refused(NOT_PUBLIC),
        0,
    ),
    Row(
        "https://[2001:0:4136:e378:8000:63bf:f7f7:f7f7]/",
        Allowed("[2001:0:4136:e378:8000:63bf:f7f7:f7f7]"),
        0,
    ),
    Row(
        "https://[64:ff9b::808:808]/",
        Allowed("[64:ff9b::808:808]"),
        0,
    ),
    Row(
        "https://[2002:808:808::1]/",
        Allowed("[2002:808:808::1]"),
        0,
    ),
    Row("https://[::ffff:8.8.8.8]/", Allowed("[::ffff:808:808]"), 0),
    Row(
        "https://[2606:4700:4700::1111]/",
        Allowed("[2606:4700:4700::1111]"),
        0,
    ),
    // Schemes and user information.
    Row("http://hooks.slack.com/", Refused(NOT_HTTPS), 0),
    Row("http://127.0.0.1/", Refused(NOT_HTTPS), 0),
    Row("ftp://hooks.slack.com/", Refused(NOT_HTTPS), 0),
    Row("wss://hooks.slack.com/", Refused(NOT_HTTPS), 0),
    Row("file:///etc/passwd", Refused(NOT_HTTPS), 0),
    Row("hooks.slack.com/", Refused(NOT_VALID), 0),
    Row("https://[::1/", Refused(NOT_VALID), 0),
    Row("https://1.2.3.4.5/", Refused(NOT_VALID), 0),
    Row(
        "https://hooks.slack.com@127.0.0.1/",
        Refused(HAS_USERINFO),
        0,
    ),
    Row(
        "https://user:pass@hooks.slack.com/",
        Refused(HAS_USERINFO),
        0,
    ),
    Row("https://:pass@hooks.slack.com/", Refused(HAS_USERINFO), 0),
    // Names.
    Row("https://hooks.slack.com/", Allowed("hooks.slack.com"), 1),
    Row(
        "https://HOOKS.Slack.COM:443/",
        Allowed("hooks.slack.com"),
        1,
    ),
    Row("https://twice.example/", Allowed("twice.example"), 1),
    Row("https://mixed.example/", Refused(NOT_PUBLIC), 1),
    Row("https://mixed-v6.example/", Refused(NOT_PUBLIC), 1),
    Row("https://metadata.example/", Refused(NOT_PUBLIC), 1),
    Row("https://mapped.example/", Refused(NOT_PUBLIC), 1),
    Row("https://empty.example/", Refused(NO_ADDRESS), 1),
    Row("https://nxdomain.example/", Refused(UNRESOLVED), 1),
];

async fn vet(webhooks: &SlackWebhooks, url: &str) -> Expected {
    match webhooks.vet(url).await {
        Ok(vetted) => {
            let debug = format!("{vetted:?}");
            assert_no_secret(&debug);
            assert_eq!(debug, format!("WebhookUrl(https://{}/…)", vetted.host()));
            assert_no_secret(vetted.host());
            Allowed(leak(vetted.host()))
        }
        Err(WebhookRefused(reason)) => {
            assert_no_secret(&reason);
            Refused(leak(&reason))
        }
    }
}

fn leak(text: &str) -> &'static str {
    Box::leak(text.to_owned().into_boxed_str())
}

fn assert_no_secret(text: &str) {
    for marker in SECRET_MARKERS {
        assert!(!text.contains(marker), "{text:?} shows the URL's {marker}");
    }
}

#[tokio::test]
async fn the_table() {
    assert!(TABLE.len() >= 40, "{} rows", TABLE.len());
    for Row(url, expected, lookups) in TABLE {
        let resolver = Arc::new(CannedResolver::standard());
        let webhooks = SlackWebhooks::new(Vec::new()).with_resolver(resolver.clone());
        assert_eq!(vet(&webhooks, url).await, *expected, "{url}");
        assert_eq!(resolver.lookups().len(), *lookups, "lookups for {url}");

        // The same decision with a secret path, query and fragment, none of which may show.
        let with_secret = format!("{url}{SECRET_PATH}");
        assert_eq!(
            vet(&webhooks, &with_secret).await,
            *expected,
            "{with_secret}"
        );
    }
}

#[tokio::test]
async fn a_vetted_url_is_normalised_and_keeps_its_path() {
    let webhooks =
        SlackWebhooks::new(Vec::new()).with_resolver(Arc::new(CannedResolver::standard()));
    let vetted = webhooks
        .vet("https://HOOKS.slack.com:443/services/T0/B0/XyZ?a=1")
        .await
        .unwrap();
    assert_eq!(
        vetted.expose(),
        "https://hooks.slack.com/services/T0/B0/XyZ?a=1"
    );
    assert_eq!(vetted.host(), "hooks.slack.com");
    assert_eq!(
        format!("{vetted:?}"),
        "WebhookUrl(https://hooks.slack.com/…)"
    );
}

#[tokio::test]
async fn other_spellings_of_loopback_are_parsed_as_127_0_0_1() {
    // With loopback allowed, the vetted URL shows what the WHATWG parser made of the host.
    let webhooks = SlackWebhooks::new(Vec::new())
        .with_resolver(Arc::new(CannedResolver::standard()))
        .allow_loopback_for_tests(true);
    for spelling in ["2130706433", "0177.0.0.1", "0x7f.1", "127.1", "0x7f000001"] {
        let vetted = webhooks
            .vet(&format!("https://{spelling}/hook"))
            .await
            .unwrap();
        assert_eq!(vetted.expose(), "https://127.0.0.1/hook", "{spelling}");
        assert_eq!(vetted.host(), "127.0.0.1", "{spelling}");
    }
}

#[tokio::test]
async fn the_test_setting_admits_loopback_only() {
    let resolver = Arc::new(CannedResolver::standard());
    let webhooks = SlackWebhooks::new(Vec::new())
        .with_resolver(resolver.clone())
        .allow_loopback_for_tests(true);
    let cases: &[(&str, Expected)] = &[
        ("http://127.0.0.1:8080/hook", Allowed("127.0.0.1")),
        ("https://127.0.0.1/hook", Allowed("127.0.0.1")),
        ("http://[::1]:8080/hook", Allowed("[::1]")),
        ("http://[::ffff:127.0.0.1]/hook", Allowed("[::ffff:7f00:1]")),
        ("http://localhost:8080/hook", Allowed("localhost")),
        ("http://8.8.8.8/hook", Refused(NOT_HTTPS)),
        ("http://hooks.slack.com/hook", Refused(NOT_HTTPS)),
        (
            "http://loopback-and-public.example/hook",
            Refused(NOT_HTTPS),
        ),
        (
            "https://loopback-and-public.example/hook",
            Allowed("loopback-and-public.example"),
        ),
        ("https://10.0.0.1/hook", Refused(NOT_PUBLIC)),
        ("http://169.254.169.254/hook", Refused(NOT_PUBLIC)),
        ("https://[fe80::1]/hook", Refused(NOT_PUBLIC)),
        ("https://[64:ff9b::7f00:1]/hook", Refused(NOT_PUBLIC)),
        ("http://user@127.0.0.1/hook", Refused(HAS_USERINFO)),
        ("ftp://127.0.0.1/hook", Refused(NOT_HTTPS)),
    ];
    for (url, expected) in cases {
        assert_eq!(vet(&webhooks, url).await, *expected, "{url}");
    }
}

#[tokio::test]
async fn the_test_setting_is_off_by_default() {
    let webhooks =
        SlackWebhooks::new(Vec::new()).with_resolver(Arc::new(CannedResolver::standard()));
    assert_eq!(
        vet(&webhooks, "http://127.0.0.1:8080/hook").await,
        Refused(NOT_HTTPS)
    );
    assert_eq!(
        vet(&webhooks, "https://127.0.0.1:8080/hook").await,
        Refused(NOT_PUBLIC)
    );
}

#[tokio::test]
async fn the_allow_list_narrows_and_never_widens() {
    let resolver = Arc::new(CannedResolver::standard());
    let webhooks = SlackWebhooks::new(vec![
        " Hooks.Slack.com ".to_owned(),
        String::new(),
        "localhost".to_owned(),
    ])
    .with_resolver(resolver.clone());
    let cases: &[(&str, Expected, usize)] = &[
        (
            "https://hooks.slack.com/services/x",
            Allowed("hooks.slack.com"),
            1,
        ),
        (
            "https://HOOKS.SLACK.COM/services/x",
            Allowed("hooks.slack.com"),
            1,
        ),
        ("https://evil.example/services/x", Refused(NOT_ALLOWED), 0),
        (
            "https://sub.hooks.slack.com/services/x",
            Refused(NOT_ALLOWED),
            0,
        ),
        (
            "https://hooks.slack.com.evil.example/services/x",
            Refused(NOT_ALLOWED),
            0,
        ),
        (
            "https://hooks.slack.com./services/x",
            Refused(NOT_ALLOWED),
            0,
        ),
        ("https://3.120.1.10/services/x", Refused(NOT_ALLOWED), 0),
        ("https://localhost/services/x", Refused(NOT_PUBLIC), 1),
        ("http://hooks.slack.com/services/x", Refused(NOT_HTTPS), 0),
        (
            "https://u@hooks.slack.com/services/x",
            Refused(HAS_USERINFO),
            0,
        ),
    ];
    for (url, expected, lookups) in cases {
        let before = resolver.lookups().len();
        assert_eq!(vet(&webhooks, url).await, *expected, "{url}");
        assert_eq!(
            resolver.lookups().len() - before,
            *lookups,
            "lookups for {url}"
        );
    }
}

#[tokio::test]
async fn a_name_is_resolved_once_with_the_urls_port() {
    let resolver = Arc::new(CannedResolver::standard());
    let guard = SsrfGuard::new(Vec::new()).with_resolver(resolver.clone());
    let target = guard
        .check("https://hooks.slack.com:8443/services/T0/B0/x")
        .await
        .unwrap();
    assert_eq!(resolver.lookups(), [("hooks.slack.com".to_owned(), 8443)]);
    assert_eq!(target.domain(), Some("hooks.slack.com"));
    let expected: Vec<SocketAddr> = [
        "3.120.1.10:8443",
        "3.121.2.20:8443",
        "[2600:1f18:24e6:b900::1]:8443",
    ]
    .iter()
    .map(|address| address.parse().unwrap())
    .collect();
    assert_eq!(target.addresses(), expected);
    assert_eq!(
        format!("{target:?}"),
        "VettedTarget { webhook: WebhookUrl(https://hooks.slack.com/…), addresses: \
         [3.120.1.10:8443, 3.121.2.20:8443, [2600:1f18:24e6:b900::1]:8443] }"
    );

    // Duplicate answers are connected to once.
    let twice = guard.check("https://twice.example/").await.unwrap();
    assert_eq!(
        twice.addresses(),
        ["3.120.1.10:443".parse::<SocketAddr>().unwrap()]
    );

    // An IP literal needs no lookup and no pinning.
    let literal = guard.check("https://8.8.8.8/x").await.unwrap();
    assert_eq!(literal.domain(), None);
    assert_eq!(
        literal.addresses(),
        ["8.8.8.8:443".parse::<SocketAddr>().unwrap()]
    );
    assert_eq!(resolver.lookups().len(), 2);
}

#[tokio::test]
async fn a_failed_lookup_is_told_apart_from_a_forbidden_url() {
    let guard = SsrfGuard::new(Vec::new()).with_resolver(Arc::new(CannedResolver::standard()));
    assert_eq!(
        guard.check("https://nxdomain.example/").await.unwrap_err(),
        Refusal::Unresolved(UNRESOLVED)
    );
    assert_eq!(
        guard.check("https://mixed.example/").await.unwrap_err(),
        Refusal::Forbidden(NOT_PUBLIC)
    );
    assert_eq!(
        guard.check("https://empty.example/").await.unwrap_err(),
        Refusal::Forbidden(NO_ADDRESS)
    );
}

#[tokio::test]
async fn a_lookup_that_never_answers_is_refused_after_the_resolution_timeout() {
    let webhooks = SlackWebhooks::new(Vec::new())
        .with_resolver(Arc::new(SilentResolver))
        .resolution_timeout(Duration::from_millis(50));
    assert_eq!(
        webhooks.vet("https://hooks.slack.com/services/x").await,
        Err(WebhookRefused(UNRESOLVED.to_owned()))
    );
}

#[tokio::test]
async fn an_overlong_url_is_refused_without_parsing() {
    let webhooks =
        SlackWebhooks::new(Vec::new()).with_resolver(Arc::new(CannedResolver::standard()));
    let url = format!("https://hooks.slack.com/{}", "a".repeat(2048));
    assert_eq!(
        webhooks.vet(&url).await,
        Err(WebhookRefused("must be at most 2048 characters".to_owned()))
    );
}
