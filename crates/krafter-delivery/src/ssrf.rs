//! The SSRF guard in front of every outbound webhook.
//!
//! A webhook URL comes from a user, and the worker that posts to it runs inside our network, so
//! the URL must never let that user reach an address that is not on the public internet (the
//! cloud metadata service, a database, the loopback interface…). [`SsrfGuard::check`] accepts
//! only an `https` URL without user information whose host — an IP literal, or a name resolved
//! exactly once through a [`Resolver`] — stands for public addresses only, and hands back those
//! addresses so that the sender connects to them and never looks the name up a second time (a
//! second lookup could answer differently: DNS rebinding).
//!
//! URLs are parsed the WHATWG way (the `url` crate), as browsers and HTTP clients do, so that
//! `https://2130706433/`, `https://0177.0.0.1/` and `https://0x7f.1/` are all seen as
//! `127.0.0.1`, the address they will reach.
//!
//! Reasons are fixed texts (`&'static str`): by construction they cannot echo any part of the
//! URL, whose path is the credential of a Slack webhook.

use std::collections::HashSet;
use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use krafter_domain::share::{WebhookRefused, WebhookUrl};
use url::{Host, Url};

/// The environment variable the allow-list comes from; named in the refusal.
pub const ALLOWED_HOSTS_VARIABLE: &str = "KRAFTER_WEBHOOK_ALLOWED_HOSTS";

/// How long a name may take to resolve when no other bound is set.
pub const DEFAULT_RESOLUTION_TIMEOUT: Duration = Duration::from_secs(5);

/// Longer URLs are refused before parsing; a Slack webhook URL is under 100 characters.
pub const MAX_URL_LENGTH: usize = 2048;

const NOT_VALID: &str = "is not a valid URL";
const TOO_LONG: &str = "must be at most 2048 characters";
const NOT_HTTPS: &str = "must be an https URL";
const HAS_USERINFO: &str = "must not contain user information";
const NO_HOST: &str = "must name a host";
const NOT_ALLOWED: &str = "host is not on KRAFTER_WEBHOOK_ALLOWED_HOSTS";
const UNRESOLVED: &str = "host could not be resolved";
const NO_ADDRESS: &str = "host resolves to no address";
const NOT_PUBLIC: &str = "resolves to a non-public address";

/// Resolves host names to addresses: the guard's only way to DNS, so that tests can answer
/// without a network.
#[async_trait]
pub trait Resolver: Send + Sync {
    /// Every address `host` stands for; `port` is the one the URL will be reached on (some
    /// resolvers answer per service).
    async fn resolve(&self, host: &str, port: u16) -> io::Result<Vec<IpAddr>>;
}

/// The operating system's resolver (`getaddrinfo`, through [`tokio::net::lookup_host`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemResolver;

#[async_trait]
impl Resolver for SystemResolver {
    async fn resolve(&self, host: &str, port: u16) -> io::Result<Vec<IpAddr>> {
        let addresses = tokio::net::lookup_host((host, port)).await?;
        Ok(addresses.map(|address| address.ip()).collect())
    }
}

/// Why the guard refused a URL. Both kinds carry a fixed, short reason fit for an API answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The URL is not acceptable as it stands and will not become so by waiting.
    #[error("{0}")]
    Forbidden(&'static str),
    /// The host's name could not be resolved now (an error or no answer in time); a later
    /// attempt may succeed, so a sender should treat this as transient.
    #[error("{0}")]
    Unresolved(&'static str),
}

impl Refusal {
    /// The reason, as the API shows it.
    pub fn reason(&self) -> &'static str {
        match self {
            Refusal::Forbidden(reason) | Refusal::Unresolved(reason) => reason,
        }
    }
}

impl From<Refusal> for WebhookRefused {
    fn from(refusal: Refusal) -> Self {
        WebhookRefused(refusal.reason().to_owned())
    }
}

/// A URL the guard accepted, with the addresses the sender must connect to.
#[derive(Clone, PartialEq, Eq)]
pub struct VettedTarget {
    webhook: WebhookUrl,
    host: Host<String>,
    addresses: Vec<SocketAddr>,
}

impl VettedTarget {
    /// The URL, normalised (`https://0x7f.1/` becomes `https://127.0.0.1/`).
    pub fn webhook(&self) -> &WebhookUrl {
        &self.webhook
    }

    /// The host to pin to [`Self::addresses`], when the URL names one; `None` for an IP
    /// literal, which needs no lookup.
    pub fn domain(&self) -> Option<&str> {
        match &self.host {
            Host::Domain(domain) => Some(domain),
            Host::Ipv4(_) | Host::Ipv6(_) => None,
        }
    }

    /// The vetted addresses, each with the URL's port: the only ones to connect to.
    pub fn addresses(&self) -> &[SocketAddr] {
        &self.addresses
    }

    /// The domain value, for storing with the share.
    pub fn into_webhook(self) -> WebhookUrl {
        self.webhook
    }
}

impl fmt::Debug for VettedTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VettedTarget")
            .field("webhook", &self.webhook)
            .field("addresses", &self.addresses)
            .finish()
    }
}

/// The SSRF guard: decides whether a webhook URL may be posted to, and to which addresses.
///
/// Built with [`SsrfGuard::new`] and narrowed or adjusted with the builder methods.
#[derive(Clone)]
pub struct SsrfGuard {
    allowed_hosts: HashSet<String>,
    resolver: Arc<dyn Resolver>,
    resolution_timeout: Duration,
    loopback_for_tests: bool,
}

impl SsrfGuard {
    /// A guard resolving through the [`SystemResolver`]. `allowed_hosts` (exact host names, as
    /// listed in `KRAFTER_WEBHOOK_ALLOWED_HOSTS`; see [`allowed_hosts_from`]) narrows the
    /// accepted hosts to those names when it is not empty; it never admits a non-public
    /// address. Names are compared case-insensitively; blank entries are ignored.
    pub fn new(allowed_hosts: Vec<String>) -> Self {
        Self {
            allowed_hosts: allowed_hosts
                .iter()
                .map(|host| host.trim().to_ascii_lowercase())
                .filter(|host| !host.is_empty())
                .collect(),
            resolver: Arc::new(SystemResolver),
            resolution_timeout: DEFAULT_RESOLUTION_TIMEOUT,
            loopback_for_tests: false,
        }
    }

    /// Resolves names through `resolver` instead of the system's.
    pub fn with_resolver(mut self, resolver: Arc<dyn Resolver>) -> Self {
        self.resolver = resolver;
        self
    }

    /// How long a name may take to resolve before the URL is refused as unresolved
    /// (default [`DEFAULT_RESOLUTION_TIMEOUT`]).
    pub fn resolution_timeout(mut self, timeout: Duration) -> Self {
        self.resolution_timeout = timeout;
        self
    }

    /// **For tests only; off by default, and never to be turned on in production.** When on,
    /// a host whose addresses are all loopback (`127.0.0.0/8`, `::1`, or IPv4-mapped loopback)
    /// is accepted, over `https` or plain `http`, so that tests can post to a local HTTP server.
    /// Every other rule still holds: `http` to any other address and every other non-public
    /// address stay refused.
    pub fn allow_loopback_for_tests(mut self, allow: bool) -> Self {
        self.loopback_for_tests = allow;
        self
    }

    /// Vets `raw`: parses it, checks its scheme, user information, host and allow-list,
    /// resolves the host once and checks every address it stands for.
    pub async fn check(&self, raw: &str) -> Result<VettedTarget, Refusal> {
        if raw.len() > MAX_URL_LENGTH {
            return Err(Refusal::Forbidden(TOO_LONG));
        }
        let url = Url::parse(raw).map_err(|_| Refusal::Forbidden(NOT_VALID))?;
        // Plain http is only ever acceptable to loopback under the test setting, which can be
        // decided once the addresses are known.
        let plain_http = match url.scheme() {
            "https" => false,
            "http" if self.loopback_for_tests => true,
            _ => return Err(Refusal::Forbidden(NOT_HTTPS)),
        };
        if !url.username().is_empty() || url.password().is_some() {
            return Err(Refusal::Forbidden(HAS_USERINFO));
        }
        let host = url
            .host()
            .map(|host| host.to_owned())
            .ok_or(Refusal::Forbidden(NO_HOST))?;
        let host_text = url.host_str().ok_or(Refusal::Forbidden(NO_HOST))?;
        if !self.allowed_hosts.is_empty() && !self.allowed_hosts.contains(host_text) {
            return Err(Refusal::Forbidden(NOT_ALLOWED));
        }
        let port = url
            .port_or_known_default()
            .ok_or(Refusal::Forbidden(NOT_HTTPS))?;
        let ips = match &host {
            Host::Ipv4(ip) => vec![IpAddr::V4(*ip)],
            Host::Ipv6(ip) => vec![IpAddr::V6(*ip)],
            Host::Domain(name) => self.resolve(name, port).await?,
        };
        for ip in &ips {
            if !(is_public(*ip) || self.loopback_for_tests && is_loopback(*ip)) {
                return Err(Refusal::Forbidden(NOT_PUBLIC));
            }
        }
        if plain_http && !ips.iter().all(|ip| is_loopback(*ip)) {
            return Err(Refusal::Forbidden(NOT_HTTPS));
        }
        Ok(VettedTarget {
            webhook: WebhookUrl::vetted(url.as_str().to_owned(), host_text.to_owned()),
            host,
            addresses: ips
                .into_iter()
                .map(|ip| SocketAddr::new(ip, port))
                .collect(),
        })
    }

    async fn resolve(&self, name: &str, port: u16) -> Result<Vec<IpAddr>, Refusal> {
        let answer =
            tokio::time::timeout(self.resolution_timeout, self.resolver.resolve(name, port)).await;
        let mut ips = match answer {
            Ok(Ok(ips)) => ips,
            Ok(Err(_)) | Err(_) => return Err(Refusal::Unresolved(UNRESOLVED)),
        };
        let mut seen = HashSet::new();
        ips.retain(|ip| seen.insert(*ip));
        if ips.is_empty() {
            return Err(Refusal::Forbidden(NO_ADDRESS));
        }
        Ok(ips)
    }
}

impl fmt::Debug for SsrfGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut allowed: Vec<&String> = self.allowed_hosts.iter().collect();
        allowed.sort();
        f.debug_struct("SsrfGuard")
            .field("allowed_hosts", &allowed)
            .field("resolution_timeout", &self.resolution_timeout)
            .field("loopback_for_tests", &self.loopback_for_tests)
            .finish_non_exhaustive()
    }
}

/// The host names in a `KRAFTER_WEBHOOK_ALLOWED_HOSTS` value: comma-separated, blanks ignored.
pub fn allowed_hosts_from(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|host| !host.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Whether `ip` is an address on the public internet. IPv6 forms that carry an IPv4 address
/// (mapped, compatible, NAT64, 6to4, Teredo) are decided by the IPv4 address they carry, since
/// that is where the packets end up.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(ip) => is_public_v4(ip),
        IpAddr::V6(ip) => is_public_v6(ip),
    }
}

/// Whether `ip` is a loopback address, IPv4-mapped loopback included.
fn is_loopback(ip: IpAddr) -> bool {
    ip.to_canonical().is_loopback()
}

fn in_v4(ip: Ipv4Addr, network: [u8; 4], prefix: u32) -> bool {
    let mask = u32::MAX.checked_shl(32 - prefix).unwrap_or(0);
    u32::from(ip) & mask == u32::from(Ipv4Addr::from(network)) & mask
}

fn in_v6(ip: Ipv6Addr, network: [u16; 8], prefix: u32) -> bool {
    let mask = u128::MAX.checked_shl(128 - prefix).unwrap_or(0);
    u128::from(ip) & mask == u128::from(Ipv6Addr::from(network)) & mask
}

/// IANA special-purpose IPv4 ranges that are not globally reachable (RFC 6890 and successors).
const NON_PUBLIC_V4: [([u8; 4], u32); 15] = [
    ([0, 0, 0, 0], 8),       // "this network", 0.0.0.0 included
    ([10, 0, 0, 0], 8),      // private
    ([100, 64, 0, 0], 10),   // carrier-grade NAT
    ([127, 0, 0, 0], 8),     // loopback
    ([169, 254, 0, 0], 16),  // link-local, cloud metadata (169.254.169.254)
    ([172, 16, 0, 0], 12),   // private
    ([192, 0, 0, 0], 24),    // IETF protocol assignments
    ([192, 0, 2, 0], 24),    // documentation (TEST-NET-1)
    ([192, 88, 99, 0], 24),  // deprecated 6to4 relay anycast
    ([192, 168, 0, 0], 16),  // private
    ([198, 18, 0, 0], 15),   // benchmarking
    ([198, 51, 100, 0], 24), // documentation (TEST-NET-2)
    ([203, 0, 113, 0], 24),  // documentation (TEST-NET-3)
    ([224, 0, 0, 0], 4),     // multicast
    ([240, 0, 0, 0], 4),     // reserved, 255.255.255.255 broadcast included
];

fn is_public_v4(ip: Ipv4Addr) -> bool {
    !NON_PUBLIC_V4
        .iter()
        .any(|(network, prefix)| in_v4(ip, *network, *prefix))
}

/// Ranges inside the global unicast block `2000::/3` that are nonetheless not public.
const NON_PUBLIC_V6_UNICAST: [([u16; 8], u32); 5] = [
    ([0x2001, 0x0002, 0, 0, 0, 0, 0, 0], 48), // benchmarking
    ([0x2001, 0x0010, 0, 0, 0, 0, 0, 0], 28), // ORCHID (deprecated)
    ([0x2001, 0x0020, 0, 0, 0, 0, 0, 0], 28), // ORCHIDv2
    ([0x2001, 0x0db8, 0, 0, 0, 0, 0, 0], 32), // documentation
    ([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20),      // documentation (RFC 9637)
];

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let bits = u128::from(ip);
    let low_v4 = Ipv4Addr::from(bits as u32);
    // IPv4-mapped (::ffff:0:0/96) and IPv4-compatible (::/96; `::` and `::1` fall in 0.0.0.0/8
    // and are refused that way).
    if in_v6(ip, [0, 0, 0, 0, 0, 0xffff, 0, 0], 96) || in_v6(ip, [0; 8], 96) {
        return is_public_v4(low_v4);
    }
    // NAT64, well-known prefix.
    if in_v6(ip, [0x64, 0xff9b, 0, 0, 0, 0, 0, 0], 96) {
        return is_public_v4(low_v4);
    }
    // The local-use NAT64 prefix (RFC 8215) translates into a network of its operator's
    // choosing: never public.
    if in_v6(ip, [0x64, 0xff9b, 1, 0, 0, 0, 0, 0], 48) {
        return false;
    }
    // 6to4: the IPv4 address of the site is bits 16 to 47.
    if in_v6(ip, [0x2002, 0, 0, 0, 0, 0, 0, 0], 16) {
        return is_public_v4(Ipv4Addr::from((bits >> 80) as u32));
    }
    // Teredo: the server's IPv4 address is bits 32 to 63, the client's is the last 32 bits
    // inverted; refuse when either is not public.
    if in_v6(ip, [0x2001, 0, 0, 0, 0, 0, 0, 0], 32) {
        let server = Ipv4Addr::from((bits >> 64) as u32);
        let client = Ipv4Addr::from(!(bits as u32));
        return is_public_v4(server) && is_public_v4(client);
    }
    // Outside 2000::/3 lie unique-local fc00::/7, link-local fe80::/10, site-local fec0::/10,
    // multicast ff00::/8, discard-only 100::/64 and the rest of the unassigned space.
    in_v6(ip, [0x2000, 0, 0, 0, 0, 0, 0, 0], 3)
        && !NON_PUBLIC_V6_UNICAST
            .iter()
            .any(|(network, prefix)| in_v6(ip, *network, *prefix))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn public(text: &str) -> bool {
        is_public(text.parse().unwrap())
    }

    #[test]
    fn range_edges() {
        for refused in [
            "0.255.255.255",
            "100.64.0.0",
            "100.127.255.255",
            "172.31.255.255",
            "192.0.0.255",
            "198.19.255.255",
            "224.0.0.1",
            "239.255.255.255",
            "240.0.0.1",
            "::",
            "::1",
            "fec0::1",
            "ff02::1",
            "100::1",
            "2001:2::1",
            "2001:10::1",
            "2001:db8:ffff::1",
            "3fff:fff::1",
            "64:ff9b:1::808:808",
        ] {
            assert!(!public(refused), "{refused} counted as public");
        }
        for allowed in [
            "1.0.0.1",
            "100.63.255.255",
            "100.128.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "192.0.1.0",
            "198.17.255.255",
            "198.20.0.0",
            "223.255.255.255",
            "::ffff:8.8.8.8",
            "::8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
            "2001:4860:4860::8888",
            "2a00:1450:4001::1",
            "3fff:1000::1",
        ] {
            assert!(public(allowed), "{allowed} counted as non-public");
        }
    }

    #[test]
    fn teredo_is_decided_by_its_embedded_addresses() {
        // Server 65.54.227.120, client 8.8.8.8 (stored inverted: f7f7:f7f7).
        assert!(public("2001:0:4136:e378:8000:63bf:f7f7:f7f7"));
        // Client 10.0.0.1 (inverted: f5ff:fffe).
        assert!(!public("2001:0:4136:e378:8000:63bf:f5ff:fffe"));
        // Server 127.0.0.1, client 8.8.8.8.
        assert!(!public("2001:0:7f00:1:8000:63bf:f7f7:f7f7"));
    }

    #[test]
    fn allowed_hosts_are_split_on_commas() {
        assert_eq!(
            allowed_hosts_from(" hooks.slack.com, ,example.org ,"),
            ["hooks.slack.com", "example.org"]
        );
        assert!(allowed_hosts_from("").is_empty());
    }
}
