//! The SSRF guard: which destination addresses webhook deliveries may reach.
//!
//! A webhook URL is user input, so without a guard any API user could make the server send
//! requests to its own loopback, the cloud metadata service (169.254.169.254) or the private
//! network behind it. The guard refuses the private and reserved ranges (IPv4 and IPv6,
//! including IPv6 forms that embed an IPv4 address), with operator-set extra allowed and
//! banned subnets.
//!
//! Two checks use it:
//! - [`Guard::check_url`] when a webhook is saved, for a clear error naming the address;
//! - [`GuardedResolver`], installed as the HTTP client's DNS resolver, at every attempt: it
//!   resolves once and hands the client only allowed addresses, so the address that was
//!   checked is the one connected to (no DNS rebinding between check and connect).
//!
//! A URL whose host is an IP literal never reaches a DNS resolver, so the sender must check
//! such a host itself ([`Guard::check_url`]) at each attempt.

use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use crate::config::WebhookSettings;
use crate::shared::{Error, Result as SharedResult};

/// Appears in the error text of a connection refused by the guard, so callers can classify it.
pub const BLOCKED_MARKER: &str = "blocked by the SSRF guard";

/// How long [`Guard::check_url`] waits for a name to resolve.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(3);

const URL_MAX_CHARS: usize = 2048;

/// Checks the form of a destination URL (a webhook's, an ML backend's) before any address
/// is looked at: absolute http(s) with a host, at most 2048 characters.
pub fn validate_url(url: &str) -> SharedResult<()> {
    if url.chars().count() > URL_MAX_CHARS {
        return Err(Error::invalid(
            "url",
            format!("Ensure this field has no more than {URL_MAX_CHARS} characters."),
        ));
    }
    let invalid = || Error::invalid("url", "Enter a valid URL.");
    let parsed = reqwest::Url::parse(url).map_err(|_| invalid())?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none_or(str::is_empty) {
        return Err(invalid());
    }
    if url.contains(['\r', '\n', ' ']) {
        return Err(invalid());
    }
    Ok(())
}

/// A destination refused by the guard; the message is meant for an API user.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct Blocked(pub String);

/// Which destination addresses deliveries may reach.
#[derive(Debug, Clone)]
pub struct Guard {
    enabled: bool,
    allow: Vec<IpNet>,
    deny: Vec<IpNet>,
}

impl Guard {
    /// `enabled` false allows everything (a quick start on one machine). `allow` and `deny`
    /// are extra subnets; a banned subnet wins over an allowed one, an allowed one wins over
    /// the built-in reserved ranges.
    ///
    /// Both lists also match the IPv4 address embedded in an IPv6 one (IPv4-mapped,
    /// IPv4-compatible, NAT64 `64:ff9b::/96`, 6to4), so banning `8.8.8.0/24` also bans
    /// `::ffff:8.8.8.8`, and allowing `127.0.0.0/8` also allows `::ffff:127.0.0.1`.
    pub fn new(enabled: bool, allow: Vec<IpNet>, deny: Vec<IpNet>) -> Guard {
        Guard {
            enabled,
            allow,
            deny,
        }
    }

    /// The guard the settings describe (`SSRF_PROTECTION_ENABLED`, `LABELHOOK_SSRF_ALLOW`,
    /// `LABELHOOK_SSRF_DENY`).
    pub fn from_settings(settings: &WebhookSettings) -> Guard {
        Guard::new(
            settings.ssrf_protection_enabled,
            settings.ssrf_allow.clone(),
            settings.ssrf_deny.clone(),
        )
    }

    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// Whether a delivery may connect to `ip`.
    #[cfg(test)]
    pub fn allows(&self, ip: IpAddr) -> bool {
        self.verdict(ip).is_ok()
    }

    /// Checks a URL's host: an IP literal directly; a name by resolving it (port from the URL,
    /// default 80/443) with a 3 s timeout. A name that does not resolve is allowed here (it is
    /// checked again at every attempt). A name is refused only when every address it
    /// resolves to is refused, as the resolver would then connect to none of them.
    pub async fn check_url(&self, url: &reqwest::Url) -> Result<(), Blocked> {
        if !self.enabled {
            return Ok(());
        }
        let Some(host) = url.host_str() else {
            return Err(Blocked(format!("{url} has no host to deliver to")));
        };
        let ips: Vec<IpAddr> = if let Some(ip) = literal_ip(host) {
            vec![ip]
        } else {
            let port = url
                .port()
                .unwrap_or(if url.scheme() == "https" { 443 } else { 80 });
            match tokio::time::timeout(RESOLVE_TIMEOUT, tokio::net::lookup_host((host, port))).await
            {
                Ok(Ok(addrs)) => addrs.map(|addr| addr.ip()).collect(),
                // Unresolvable or slow: judged again at every attempt by the resolver.
                Ok(Err(_)) | Err(_) => return Ok(()),
            }
        };
        let mut first_refusal = None;
        for ip in ips {
            match self.verdict(ip) {
                Ok(()) => return Ok(()),
                Err(refusal) => {
                    first_refusal.get_or_insert((ip, refusal));
                }
            }
        }
        match first_refusal {
            None => Ok(()),
            Some((ip, refusal)) => Err(Blocked(refusal.message_for_url(url, ip))),
        }
    }

    /// A reqwest DNS resolver that resolves once and returns only allowed addresses, so the
    /// address that was checked is the one connected to (no DNS rebinding between check and
    /// connect). If every address is refused it fails with an error whose Display contains
    /// [`BLOCKED_MARKER`] and the reason (the error is a [`Blocked`], found in the source
    /// chain of the client's error).
    pub fn resolver(&self) -> Arc<GuardedResolver> {
        Arc::new(GuardedResolver::with_lookup(self.clone(), system_lookup))
    }

    /// Ok if `ip` may be reached, else why not.
    fn verdict(&self, ip: IpAddr) -> Result<(), Refusal> {
        if !self.enabled {
            return Ok(());
        }
        let embedded = match ip {
            IpAddr::V4(_) => None,
            IpAddr::V6(v6) => embedded_v4(v6).map(IpAddr::V4),
        };
        let matches =
            |net: &IpNet| net.contains(&ip) || embedded.is_some_and(|inner| net.contains(&inner));
        if let Some(net) = self.deny.iter().find(|net| matches(net)) {
            return Err(Refusal::Denied(*net));
        }
        if self.allow.iter().any(matches) {
            return Ok(());
        }
        match classify(ip) {
            None => Ok(()),
            Some(reserved) => Err(Refusal::Reserved(reserved)),
        }
    }
}

/// The reason an address is reserved (e.g. "loopback", "private (RFC 1918)", "link-local",
/// "carrier-grade NAT", "multicast", "documentation", "reserved", "unspecified",
/// "IPv4-mapped IPv6 of a <reason> address", "NAT64 of ...", "6to4 of ...", "Teredo",
/// "unique local"), or None for a public address. Built-in ranges only (no allow/deny lists).
#[cfg(test)]
fn reserved_reason(ip: IpAddr) -> Option<String> {
    classify(ip).map(|reserved| reserved.reason)
}

/// A reqwest DNS resolver that keeps only the addresses the guard allows.
pub struct GuardedResolver {
    guard: Arc<Guard>,
    lookup: Arc<LookupFn>,
}

type LookupFn = dyn Fn(&str) -> io::Result<Vec<IpAddr>> + Send + Sync;

/// For tests and for the rebinding case: a resolver over a custom lookup function.
impl GuardedResolver {
    pub fn with_lookup(
        guard: Guard,
        lookup: impl Fn(&str) -> io::Result<Vec<IpAddr>> + Send + Sync + 'static,
    ) -> GuardedResolver {
        GuardedResolver {
            guard: Arc::new(guard),
            lookup: Arc::new(lookup),
        }
    }
}

impl fmt::Debug for GuardedResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GuardedResolver")
            .field("guard", &self.guard)
            .finish_non_exhaustive()
    }
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let guard = Arc::clone(&self.guard);
        let lookup = Arc::clone(&self.lookup);
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let ips = {
                let host = host.clone();
                tokio::task::spawn_blocking(move || lookup(&host)).await??
            };
            let allowed = filter_resolved(&guard, &host, ips)?;
            let addrs: Addrs = Box::new(allowed.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(addrs)
        })
    }
}

/// The allowed addresses among `ips` (deduplicated, in order), or an error if there are none.
fn filter_resolved(
    guard: &Guard,
    host: &str,
    ips: Vec<IpAddr>,
) -> Result<Vec<IpAddr>, Box<dyn std::error::Error + Send + Sync>> {
    let mut unique: Vec<IpAddr> = Vec::with_capacity(ips.len());
    for ip in ips {
        if !unique.contains(&ip) {
            unique.push(ip);
        }
    }
    if unique.is_empty() {
        return Err(Box::new(io::Error::new(
            io::ErrorKind::NotFound,
            format!("{host} resolved to no addresses"),
        )));
    }
    let mut allowed = Vec::with_capacity(unique.len());
    let mut refused = Vec::new();
    for ip in unique {
        match guard.verdict(ip) {
            Ok(()) => allowed.push(ip),
            Err(refusal) => refused.push(refusal.sentence(ip)),
        }
    }
    if allowed.is_empty() {
        return Err(Box::new(Blocked(format!(
            "connection to {host} {BLOCKED_MARKER}: {}",
            refused.join("; ")
        ))));
    }
    Ok(allowed)
}

/// The system resolver (getaddrinfo), as reqwest's default resolver uses it.
fn system_lookup(host: &str) -> io::Result<Vec<IpAddr>> {
    Ok((host, 0).to_socket_addrs()?.map(|addr| addr.ip()).collect())
}

/// A URL host (as `Url::host_str` gives it) that is an IP literal.
fn literal_ip(host: &str) -> Option<IpAddr> {
    if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return inner.parse::<Ipv6Addr>().ok().map(IpAddr::V6);
    }
    host.parse::<IpAddr>().ok()
}

/// Why the guard refused an address.
#[derive(Debug, Clone)]
enum Refusal {
    /// In an operator-banned subnet.
    Denied(IpNet),
    /// In a built-in reserved range.
    Reserved(Reserved),
}

impl Refusal {
    /// "127.0.0.1 is a loopback address", for the resolver's error.
    fn sentence(&self, ip: IpAddr) -> String {
        match self {
            Refusal::Denied(net) => {
                format!("{ip} is in {net}, a subnet banned by LABELHOOK_SSRF_DENY")
            }
            Refusal::Reserved(reserved) => format!("{ip} is {}", describe(&reserved.reason)),
        }
    }

    /// The message for an API user: names the address and says how to allow it.
    fn message_for_url(&self, url: &reqwest::Url, ip: IpAddr) -> String {
        match self {
            Refusal::Denied(net) => format!(
                "{url} resolves to {ip}, which is in {net}, a subnet banned by \
                 LABELHOOK_SSRF_DENY; deliveries there are refused. Remove {net} from \
                 LABELHOOK_SSRF_DENY to allow it."
            ),
            Refusal::Reserved(reserved) => format!(
                "{url} resolves to {ip}, {}; deliveries to private and reserved addresses are \
                 refused. Set SSRF_PROTECTION_ENABLED=false, or allow the subnet with \
                 LABELHOOK_SSRF_ALLOW={}.",
                describe(&reserved.reason),
                reserved.subnet
            ),
        }
    }
}

/// A built-in reserved range an address is in.
#[derive(Debug, Clone)]
struct Reserved {
    reason: String,
    /// The subnet to allow to reach this address (for addresses embedding an IPv4 one, the
    /// IPv4 range, as the allow list matches embedded addresses too).
    subnet: IpNet,
}

/// "a loopback address", "an IPv4-mapped IPv6 of a loopback address".
fn describe(reason: &str) -> String {
    let starts_with_vowel = reason
        .chars()
        .next()
        .is_some_and(|c| "aeiouAEIOU".contains(c));
    let article = if starts_with_vowel && !reason.starts_with("uni") {
        "an"
    } else {
        "a"
    };
    if reason.ends_with("address") {
        format!("{article} {reason}")
    } else {
        format!("{article} {reason} address")
    }
}

const fn v4(a: u8, b: u8, c: u8, d: u8, len: u8) -> Ipv4Net {
    Ipv4Net::new_assert(Ipv4Addr::new(a, b, c, d), len)
}

#[allow(clippy::too_many_arguments)]
const fn v6(a: u16, b: u16, c: u16, d: u16, e: u16, f: u16, g: u16, h: u16, len: u8) -> Ipv6Net {
    Ipv6Net::new_assert(Ipv6Addr::new(a, b, c, d, e, f, g, h), len)
}

const RFC1918: &str = "private (RFC 1918)";

/// Built-in reserved IPv4 ranges, most specific first.
const V4_RESERVED: [(Ipv4Net, &str); 16] = [
    (v4(0, 0, 0, 0, 8), "reserved (\"this network\")"),
    (v4(10, 0, 0, 0, 8), RFC1918),
    (v4(100, 64, 0, 0, 10), "carrier-grade NAT"),
    (v4(127, 0, 0, 0, 8), "loopback"),
    (v4(169, 254, 0, 0, 16), "link-local"),
    (v4(172, 16, 0, 0, 12), RFC1918),
    (v4(192, 0, 0, 0, 24), "reserved (IETF protocol assignments)"),
    (v4(192, 0, 2, 0, 24), "documentation"),
    (v4(192, 88, 99, 0, 24), "reserved (6to4 relay anycast)"),
    (v4(192, 168, 0, 0, 16), RFC1918),
    (v4(198, 18, 0, 0, 15), "benchmarking"),
    (v4(198, 51, 100, 0, 24), "documentation"),
    (v4(203, 0, 113, 0, 24), "documentation"),
    (v4(224, 0, 0, 0, 4), "multicast"),
    (v4(255, 255, 255, 255, 32), "broadcast"),
    (v4(240, 0, 0, 0, 4), "reserved"),
];

/// Built-in reserved IPv6 ranges, most specific first. The ranges that embed an IPv4
/// address (`::/96`, `::ffff:0:0/96`, `64:ff9b::/96`, `2002::/16`) are judged before this
/// table by their embedded address; the last three entries refuse everything outside
/// global unicast `2000::/3` that nothing above let through.
const V6_RESERVED: [(Ipv6Net, &str); 17] = [
    (v6(0, 0, 0, 0, 0, 0, 0, 0, 128), "unspecified"),
    (v6(0, 0, 0, 0, 0, 0, 0, 1, 128), "loopback"),
    (v6(0x64, 0xff9b, 1, 0, 0, 0, 0, 0, 48), "local-use NAT64"),
    (v6(0x100, 0, 0, 0, 0, 0, 0, 0, 64), "discard-only"),
    (v6(0x2001, 0, 0, 0, 0, 0, 0, 0, 32), "Teredo"),
    (v6(0x2001, 2, 0, 0, 0, 0, 0, 0, 48), "benchmarking"),
    (v6(0x2001, 0x10, 0, 0, 0, 0, 0, 0, 28), "ORCHID"),
    (v6(0x2001, 0x20, 0, 0, 0, 0, 0, 0, 28), "ORCHIDv2"),
    (v6(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0, 32), "documentation"),
    (v6(0x3fff, 0, 0, 0, 0, 0, 0, 0, 20), "documentation"),
    (v6(0xfc00, 0, 0, 0, 0, 0, 0, 0, 7), "unique local"),
    (v6(0xfe80, 0, 0, 0, 0, 0, 0, 0, 10), "link-local"),
    (
        v6(0xfec0, 0, 0, 0, 0, 0, 0, 0, 10),
        "site-local (deprecated)",
    ),
    (v6(0xff00, 0, 0, 0, 0, 0, 0, 0, 8), "multicast"),
    (v6(0, 0, 0, 0, 0, 0, 0, 0, 3), NOT_GLOBAL),
    (v6(0x4000, 0, 0, 0, 0, 0, 0, 0, 2), NOT_GLOBAL),
    (v6(0x8000, 0, 0, 0, 0, 0, 0, 0, 1), NOT_GLOBAL),
];

const NOT_GLOBAL: &str = "reserved (outside global unicast 2000::/3)";

/// How an IPv6 address embeds an IPv4 one, if it does.
#[derive(Clone, Copy)]
enum Embedding {
    Mapped,
    Compatible,
    Nat64,
    SixToFour,
}

impl Embedding {
    fn label(self) -> &'static str {
        match self {
            Embedding::Mapped => "IPv4-mapped IPv6",
            Embedding::Compatible => "IPv4-compatible IPv6",
            Embedding::Nat64 => "NAT64",
            Embedding::SixToFour => "6to4",
        }
    }
}

/// The IPv4 address embedded in `ip` and how, for the forms judged by their IPv4 address.
fn embedding(ip: Ipv6Addr) -> Option<(Embedding, Ipv4Addr)> {
    let s = ip.segments();
    let low32 = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    match s {
        [0, 0, 0, 0, 0, 0xffff, _, _] => Some((Embedding::Mapped, low32)),
        // `::` and `::1` are their own (unspecified, loopback).
        [0, 0, 0, 0, 0, 0, 0, 0 | 1] => None,
        [0, 0, 0, 0, 0, 0, _, _] => Some((Embedding::Compatible, low32)),
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] => Some((Embedding::Nat64, low32)),
        [0x2002, hi, lo, ..] => Some((
            Embedding::SixToFour,
            Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8),
        )),
        _ => None,
    }
}

fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    embedding(ip).map(|(_, inner)| inner)
}

fn classify(ip: IpAddr) -> Option<Reserved> {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(ip: Ipv4Addr) -> Option<Reserved> {
    let (net, reason) = V4_RESERVED.iter().find(|(net, _)| net.contains(&ip))?;
    let reason = match *reason {
        // 0.0.0.0 itself is the unspecified address; the /8 is suggested to allow it.
        _ if ip.is_unspecified() => "unspecified",
        reason => reason,
    };
    // 255.255.255.255 is inside 240.0.0.0/4, the subnet suggested to allow it.
    let subnet = if net.prefix_len() == 32 {
        V4_RESERVED
            .iter()
            .map(|(wide, _)| *wide)
            .find(|wide| wide.prefix_len() < 32 && wide.contains(&ip))
            .unwrap_or(*net)
    } else {
        *net
    };
    Some(Reserved {
        reason: reason.to_owned(),
        subnet: IpNet::V4(subnet),
    })
}

fn classify_v6(ip: Ipv6Addr) -> Option<Reserved> {
    if let Some((kind, inner)) = embedding(ip) {
        let inner = classify_v4(inner)?;
        return Some(Reserved {
            reason: format!("{} of {}", kind.label(), describe(&inner.reason)),
            subnet: inner.subnet,
        });
    }
    let (net, reason) = V6_RESERVED.iter().find(|(net, _)| net.contains(&ip))?;
    Some(Reserved {
        reason: (*reason).to_owned(),
        subnet: IpNet::V6(*net),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    fn url(s: &str) -> reqwest::Url {
        reqwest::Url::parse(s).unwrap()
    }

    fn default_guard() -> Guard {
        Guard::new(true, vec![], vec![])
    }

    #[track_caller]
    fn assert_reserved(addr: &str, reason: &str) {
        let got = reserved_reason(ip(addr));
        assert_eq!(got.as_deref(), Some(reason), "{addr}");
        assert!(
            !default_guard().allows(ip(addr)),
            "{addr} should be refused"
        );
    }

    #[track_caller]
    fn assert_public(addr: &str) {
        assert_eq!(reserved_reason(ip(addr)), None, "{addr}");
        assert!(default_guard().allows(ip(addr)), "{addr} should be allowed");
    }

    /// Just outside a range: not refused for that range's reason.
    #[track_caller]
    fn assert_not_reason(addr: &str, reason: &str) {
        assert_ne!(reserved_reason(ip(addr)).as_deref(), Some(reason), "{addr}");
    }

    #[test]
    fn ipv4_reserved_ranges_and_their_edges() {
        // 0.0.0.0/8
        assert_reserved("0.0.0.0", "unspecified");
        assert_reserved("0.1.2.3", "reserved (\"this network\")");
        assert_reserved("0.255.255.255", "reserved (\"this network\")");
        assert_public("1.0.0.0");
        // 10.0.0.0/8
        assert_reserved("10.0.0.0", RFC1918);
        assert_reserved("10.255.255.255", RFC1918);
        assert_public("9.255.255.255");
        assert_public("11.0.0.0");
        // 100.64.0.0/10
        assert_reserved("100.64.0.0", "carrier-grade NAT");
        assert_reserved("100.127.255.255", "carrier-grade NAT");
        assert_public("100.63.255.255");
        assert_public("100.128.0.0");
        // 127.0.0.0/8
        assert_reserved("127.0.0.1", "loopback");
        assert_reserved("127.255.255.255", "loopback");
        assert_public("126.255.255.255");
        assert_public("128.0.0.0");
        // 169.254.0.0/16
        assert_reserved("169.254.169.254", "link-local");
        assert_reserved("169.254.0.0", "link-local");
        assert_public("169.253.255.255");
        assert_public("169.255.0.0");
        // 172.16.0.0/12
        assert_reserved("172.16.0.0", RFC1918);
        assert_reserved("172.31.255.255", RFC1918);
        assert_public("172.15.255.255");
        assert_public("172.32.0.0");
        // 192.0.0.0/24
        assert_reserved("192.0.0.8", "reserved (IETF protocol assignments)");
        assert_reserved("192.0.0.255", "reserved (IETF protocol assignments)");
        assert_public("191.255.255.255");
        assert_public("192.0.1.0");
        // 192.0.2.0/24
        assert_reserved("192.0.2.0", "documentation");
        assert_reserved("192.0.2.255", "documentation");
        assert_public("192.0.3.0");
        // 192.88.99.0/24
        assert_reserved("192.88.99.1", "reserved (6to4 relay anycast)");
        assert_public("192.88.98.255");
        assert_public("192.88.100.0");
        // 192.168.0.0/16
        assert_reserved("192.168.0.0", RFC1918);
        assert_reserved("192.168.255.255", RFC1918);
        assert_public("192.167.255.255");
        assert_public("192.169.0.0");
        // 198.18.0.0/15
        assert_reserved("198.18.0.0", "benchmarking");
        assert_reserved("198.19.255.255", "benchmarking");
        assert_public("198.17.255.255");
        assert_public("198.20.0.0");
        // 198.51.100.0/24
        assert_reserved("198.51.100.7", "documentation");
        assert_public("198.51.99.255");
        assert_public("198.51.101.0");
        // 203.0.113.0/24
        assert_reserved("203.0.113.9", "documentation");
        assert_public("203.0.112.255");
        assert_public("203.0.114.0");
        // 224.0.0.0/4
        assert_reserved("224.0.0.1", "multicast");
        assert_reserved("239.255.255.255", "multicast");
        assert_public("223.255.255.255");
        // 240.0.0.0/4
        assert_reserved("240.0.0.0", "reserved");
        assert_reserved("254.1.2.3", "reserved");
        assert_reserved("255.255.255.254", "reserved");
        assert_reserved("255.255.255.255", "broadcast");
    }

    #[test]
    fn ipv4_public_examples_pass() {
        for addr in ["8.8.8.8", "1.1.1.1", "93.184.216.34"] {
            assert_public(addr);
        }
    }

    #[test]
    fn ipv6_reserved_ranges_and_their_edges() {
        // ::/128 and ::1/128
        assert_reserved("::", "unspecified");
        assert_reserved("::1", "loopback");
        // ::ffff:0:0/96, judged by the embedded IPv4
        assert_reserved("::ffff:127.0.0.1", "IPv4-mapped IPv6 of a loopback address");
        assert_reserved(
            "::ffff:10.0.0.1",
            "IPv4-mapped IPv6 of a private (RFC 1918) address",
        );
        assert_reserved(
            "::ffff:0.0.0.0",
            "IPv4-mapped IPv6 of an unspecified address",
        );
        assert_reserved(
            "::ffff:169.254.169.254",
            "IPv4-mapped IPv6 of a link-local address",
        );
        assert_public("::ffff:8.8.8.8");
        // ::/96 IPv4-compatible, judged by the embedded IPv4 (:: and ::1 are their own)
        assert_reserved("::127.0.0.1", "IPv4-compatible IPv6 of a loopback address");
        assert_reserved(
            "::2",
            "IPv4-compatible IPv6 of a reserved (\"this network\") address",
        );
        assert_reserved(
            "::192.168.1.1",
            "IPv4-compatible IPv6 of a private (RFC 1918) address",
        );
        assert_public("::8.8.8.8");
        assert_not_reason(
            "0:0:0:0:0:1::",
            "IPv4-compatible IPv6 of a loopback address",
        );
        // 64:ff9b::/96 NAT64, judged by the embedded IPv4
        assert_reserved("64:ff9b::7f00:1", "NAT64 of a loopback address");
        assert_reserved("64:ff9b::a00:1", "NAT64 of a private (RFC 1918) address");
        assert_public("64:ff9b::808:808");
        assert_public("64:ff9b::1.1.1.1");
        // 64:ff9b:1::/48 local-use NAT64
        assert_reserved("64:ff9b:1::808:808", "local-use NAT64");
        assert_reserved("64:ff9b:1:ffff:ffff:ffff:ffff:ffff", "local-use NAT64");
        assert_not_reason("64:ff9b:2::1", "local-use NAT64");
        // 100::/64 discard
        assert_reserved("100::", "discard-only");
        assert_reserved("100::ffff:ffff:ffff:ffff", "discard-only");
        assert_not_reason("100:0:0:1::", "discard-only");
        // 2001::/32 Teredo
        assert_reserved("2001::1", "Teredo");
        assert_reserved("2001:0:ffff:ffff:ffff:ffff:ffff:ffff", "Teredo");
        assert_public("2001:1::1");
        // 2001:2::/48 benchmarking
        assert_reserved("2001:2::1", "benchmarking");
        assert_public("2001:2:1::1");
        // 2001:db8::/32 documentation
        assert_reserved("2001:db8::1", "documentation");
        assert_reserved("2001:db8:ffff::1", "documentation");
        assert_public("2001:db7:ffff::1");
        assert_public("2001:db9::1");
        // 3fff::/20 documentation (RFC 9637)
        assert_reserved("3fff::1", "documentation");
        assert_reserved("3fff:fff::1", "documentation");
        assert_public("3fff:1000::1");
        // 2001:10::/28 and 2001:20::/28 ORCHID
        assert_reserved("2001:10::1", "ORCHID");
        assert_reserved("2001:1f:ffff::1", "ORCHID");
        assert_public("2001:f:ffff::1");
        assert_reserved("2001:20::1", "ORCHIDv2");
        assert_reserved("2001:2f:ffff::1", "ORCHIDv2");
        assert_public("2001:30::1");
        // 2002::/16 6to4, judged by the embedded IPv4 (bits 16..48)
        assert_reserved("2002:7f00:1::1", "6to4 of a loopback address");
        assert_reserved("2002:a9fe:a9fe::1", "6to4 of a link-local address");
        assert_reserved("2002:c0a8:101:1::1", "6to4 of a private (RFC 1918) address");
        assert_public("2002:0808:0808::1");
        assert_public("2003::1");
        // fc00::/7 unique local
        assert_reserved("fc00::1", "unique local");
        assert_reserved("fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "unique local");
        assert_not_reason("fbff:ffff::1", "unique local");
        assert_not_reason("fe00::1", "unique local");
        // fe80::/10 link-local
        assert_reserved("fe80::1", "link-local");
        assert_reserved("febf:ffff::1", "link-local");
        assert_not_reason("fe7f:ffff::1", "link-local");
        // fec0::/10 site-local
        assert_reserved("fec0::1", "site-local (deprecated)");
        assert_reserved("feff:ffff::1", "site-local (deprecated)");
        // ff00::/8 multicast
        assert_reserved("ff02::1", "multicast");
        assert_reserved("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "multicast");
        assert_not_reason("feff:ffff::1", "multicast");
        // Outside global unicast 2000::/3: refused as reserved
        assert_reserved("1fff:ffff::1", NOT_GLOBAL);
        assert_reserved("4000::1", NOT_GLOBAL);
        assert_reserved("fe00::1", NOT_GLOBAL);
        assert_reserved("64:ff9b:2::1", NOT_GLOBAL);
    }

    #[test]
    fn ipv6_public_examples_pass() {
        for addr in [
            "2606:4700:4700::1111",
            "2001:4860:4860::8888",
            "64:ff9b::808:808",
            "2002:0808:0808::1",
            "::ffff:8.8.8.8",
        ] {
            assert_public(addr);
        }
    }

    #[test]
    fn allow_list_overrides_a_built_in_range() {
        let guard = Guard::new(true, vec![net("127.0.0.0/8")], vec![]);
        assert!(guard.allows(ip("127.0.0.1")));
        assert!(guard.allows(ip("127.1.2.3")));
        assert!(guard.allows(ip("::ffff:127.0.0.1")));
        assert!(!guard.allows(ip("::1")));
        assert!(!guard.allows(ip("10.0.0.1")));
        assert!(guard.allows(ip("8.8.8.8")));
        // The built-in reason does not change: it ignores the lists.
        assert_eq!(
            reserved_reason(ip("127.0.0.1")).as_deref(),
            Some("loopback")
        );
    }

    #[test]
    fn deny_list_bans_a_public_subnet_and_wins_over_allow() {
        let guard = Guard::new(true, vec![], vec![net("8.8.8.0/24")]);
        assert!(!guard.allows(ip("8.8.8.8")));
        assert!(!guard.allows(ip("::ffff:8.8.8.8")));
        assert!(!guard.allows(ip("64:ff9b::808:808")));
        assert!(!guard.allows(ip("2002:808:808::1")));
        assert!(guard.allows(ip("8.8.4.4")));
        assert!(guard.allows(ip("1.1.1.1")));

        let guard = Guard::new(true, vec![net("8.8.8.8/32")], vec![net("8.8.8.0/24")]);
        assert!(!guard.allows(ip("8.8.8.8")));

        let guard = Guard::new(
            true,
            vec![net("127.0.0.0/8"), net("2606:4700::/32")],
            vec![net("127.0.0.0/24"), net("2606:4700:4700::/48")],
        );
        assert!(!guard.allows(ip("127.0.0.1")));
        assert!(guard.allows(ip("127.0.1.1")));
        assert!(!guard.allows(ip("2606:4700:4700::1111")));
        assert!(guard.allows(ip("2606:4700:1::1")));
    }

    #[tokio::test]
    async fn disabled_guard_allows_everything() {
        let guard = Guard::new(false, vec![], vec![net("8.8.8.0/24")]);
        assert!(!guard.enabled());
        assert!(default_guard().enabled());
        for addr in [
            "127.0.0.1",
            "::1",
            "10.0.0.1",
            "169.254.169.254",
            "8.8.8.8",
            "::",
        ] {
            assert!(guard.allows(ip(addr)), "{addr}");
        }
        for u in ["http://127.0.0.1/", "http://[::1]/", "http://localhost/"] {
            assert!(guard.check_url(&url(u)).await.is_ok(), "{u}");
        }
        let resolver = GuardedResolver::with_lookup(guard, |_| Ok(vec![ip("127.0.0.1")]));
        let addrs: Vec<_> = resolver.resolve(name("a.test")).await.unwrap().collect();
        assert_eq!(addrs, vec![SocketAddr::new(ip("127.0.0.1"), 0)]);
    }

    #[tokio::test]
    async fn check_url_message_names_the_address_and_how_to_allow_it() {
        let err = default_guard()
            .check_url(&url("http://127.0.0.1:9/x"))
            .await
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "http://127.0.0.1:9/x resolves to 127.0.0.1, a loopback address; deliveries to \
             private and reserved addresses are refused. Set SSRF_PROTECTION_ENABLED=false, or \
             allow the subnet with LABELHOOK_SSRF_ALLOW=127.0.0.0/8."
        );
    }

    #[tokio::test]
    async fn check_url_refuses_reserved_ip_literals() {
        let cases = [
            (
                "http://127.0.0.1/",
                "127.0.0.1, a loopback address",
                "127.0.0.0/8",
            ),
            ("http://[::1]/", "::1, a loopback address", "::1/128"),
            (
                "http://[::ffff:127.0.0.1]/",
                "::ffff:127.0.0.1, an IPv4-mapped IPv6 of a loopback address",
                "127.0.0.0/8",
            ),
            (
                "http://10.1.2.3:8080/",
                "10.1.2.3, a private (RFC 1918) address",
                "10.0.0.0/8",
            ),
            // reqwest::Url normalises the hex/short form to 127.0.0.1.
            (
                "http://0x7f.1/",
                "127.0.0.1, a loopback address",
                "127.0.0.0/8",
            ),
            (
                "https://[fe80::1]/",
                "fe80::1, a link-local address",
                "fe80::/10",
            ),
            (
                "http://169.254.169.254/latest/meta-data/",
                "169.254.169.254, a link-local address",
                "169.254.0.0/16",
            ),
            (
                "http://[64:ff9b::a00:1]/",
                "64:ff9b::a00:1, a NAT64 of a private (RFC 1918) address",
                "10.0.0.0/8",
            ),
        ];
        for (u, named, subnet) in cases {
            let err = default_guard().check_url(&url(u)).await.unwrap_err().0;
            assert!(err.contains(&format!("resolves to {named};")), "{u}: {err}");
            assert!(
                err.contains(&format!("LABELHOOK_SSRF_ALLOW={subnet}.")),
                "{u}: {err}"
            );
            assert!(err.contains("SSRF_PROTECTION_ENABLED=false"), "{u}: {err}");
        }
    }

    #[tokio::test]
    async fn check_url_allows_public_literals_and_allowed_subnets() {
        for u in [
            "http://8.8.8.8/",
            "https://1.1.1.1:8443/hook",
            "https://[2606:4700:4700::1111]/",
            "http://[::ffff:8.8.8.8]/",
        ] {
            assert!(default_guard().check_url(&url(u)).await.is_ok(), "{u}");
        }
        let guard = Guard::new(true, vec![net("127.0.0.0/8")], vec![]);
        assert!(guard.check_url(&url("http://127.0.0.1/")).await.is_ok());
        assert!(
            guard
                .check_url(&url("http://[::ffff:127.0.0.1]/"))
                .await
                .is_ok()
        );
    }

    #[tokio::test]
    async fn check_url_names_the_deny_list() {
        let guard = Guard::new(true, vec![], vec![net("8.8.8.0/24")]);
        let err = guard
            .check_url(&url("http://8.8.8.8/"))
            .await
            .unwrap_err()
            .0;
        assert_eq!(
            err,
            "http://8.8.8.8/ resolves to 8.8.8.8, which is in 8.8.8.0/24, a subnet banned by \
             LABELHOOK_SSRF_DENY; deliveries there are refused. Remove 8.8.8.0/24 from \
             LABELHOOK_SSRF_DENY to allow it."
        );
    }

    #[tokio::test]
    async fn check_url_resolves_localhost_to_loopback_and_refuses_it() {
        let err = default_guard()
            .check_url(&url("http://localhost/"))
            .await
            .unwrap_err()
            .0;
        assert!(err.starts_with("http://localhost/ resolves to "), "{err}");
        assert!(err.contains("a loopback address"), "{err}");
    }

    #[tokio::test]
    async fn check_url_allows_a_name_that_does_not_resolve() {
        let guard = default_guard();
        assert!(
            guard
                .check_url(&url("http://no-such-host.invalid/hook"))
                .await
                .is_ok()
        );
    }

    #[tokio::test]
    async fn check_url_refuses_a_url_without_a_host() {
        let err = default_guard()
            .check_url(&url("unix:/run/x.sock"))
            .await
            .unwrap_err();
        assert!(err.0.contains("no host"), "{err}");
    }

    fn name(s: &str) -> Name {
        s.parse().unwrap()
    }

    #[tokio::test]
    async fn resolver_defeats_dns_rebinding() {
        let calls = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&calls);
        let resolver = GuardedResolver::with_lookup(default_guard(), move |host| {
            assert_eq!(host, "rebind.test");
            match counter.fetch_add(1, Ordering::SeqCst) {
                0 => Ok(vec![ip("93.184.216.34")]),
                _ => Ok(vec![ip("127.0.0.1")]),
            }
        });
        let first: Vec<_> = resolver
            .resolve(name("rebind.test"))
            .await
            .unwrap()
            .collect();
        assert_eq!(first, vec![SocketAddr::new(ip("93.184.216.34"), 0)]);
        let Err(err) = resolver.resolve(name("rebind.test")).await else {
            panic!("the rebound address must be refused");
        };
        let text = err.to_string();
        assert!(text.contains(BLOCKED_MARKER), "{text}");
        assert!(text.contains("127.0.0.1 is a loopback address"), "{text}");
        assert!(err.downcast_ref::<Blocked>().is_some());
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn resolver_keeps_only_allowed_addresses() {
        let resolver = GuardedResolver::with_lookup(default_guard(), |_| {
            Ok(vec![
                ip("127.0.0.1"),
                ip("8.8.8.8"),
                ip("8.8.8.8"),
                ip("::1"),
            ])
        });
        let addrs: Vec<_> = resolver
            .resolve(name("mixed.test"))
            .await
            .unwrap()
            .collect();
        assert_eq!(addrs, vec![SocketAddr::new(ip("8.8.8.8"), 0)]);
    }

    #[tokio::test]
    async fn resolver_reports_every_refused_address_and_deny_reasons() {
        let guard = Guard::new(true, vec![], vec![net("8.8.8.0/24")]);
        let resolver =
            GuardedResolver::with_lookup(guard, |_| Ok(vec![ip("8.8.8.8"), ip("10.0.0.1")]));
        let Err(err) = resolver.resolve(name("two.test")).await else {
            panic!("every address is refused");
        };
        assert_eq!(
            err.to_string(),
            "connection to two.test blocked by the SSRF guard: 8.8.8.8 is in 8.8.8.0/24, a \
             subnet banned by LABELHOOK_SSRF_DENY; 10.0.0.1 is a private (RFC 1918) address"
        );
    }

    #[tokio::test]
    async fn resolver_passes_lookup_failures_through_unmarked() {
        let resolver = GuardedResolver::with_lookup(default_guard(), |_| {
            Err(io::Error::new(io::ErrorKind::NotFound, "no such host"))
        });
        let Err(err) = resolver.resolve(name("gone.test")).await else {
            panic!("the lookup failed");
        };
        assert!(!err.to_string().contains(BLOCKED_MARKER), "{err}");
        let empty = GuardedResolver::with_lookup(default_guard(), |_| Ok(vec![]));
        let Err(err) = empty.resolve(name("empty.test")).await else {
            panic!("no addresses");
        };
        assert!(!err.to_string().contains(BLOCKED_MARKER), "{err}");
    }

    #[tokio::test]
    async fn system_resolver_refuses_localhost() {
        let resolver = default_guard().resolver();
        let Err(err) = resolver.resolve(name("localhost")).await else {
            panic!("localhost is loopback");
        };
        assert!(err.to_string().contains(BLOCKED_MARKER), "{err}");
        assert!(format!("{resolver:?}").contains("GuardedResolver"));
    }

    /// Serves minimal HTTP 200 responses on loopback; counts accepted connections.
    async fn loopback_server() -> (u16, Arc<AtomicUsize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = Arc::clone(&accepted);
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    let mut buf = [0u8; 1024];
                    let _ = socket.read(&mut buf).await;
                    let _ = socket
                        .write_all(
                            b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok",
                        )
                        .await;
                });
            }
        });
        (port, accepted)
    }

    fn client_with(resolver: Arc<GuardedResolver>) -> reqwest::Client {
        reqwest::Client::builder()
            .no_proxy()
            .dns_resolver(resolver)
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap()
    }

    #[tokio::test]
    async fn reqwest_client_never_connects_to_a_refused_address() {
        let (port, accepted) = loopback_server().await;
        let loopback = |_: &str| Ok(vec![IpAddr::V4(Ipv4Addr::LOCALHOST)]);

        let refused = client_with(Arc::new(GuardedResolver::with_lookup(
            default_guard(),
            loopback,
        )));
        let err = refused
            .get(format!("http://hook.test:{port}/"))
            .send()
            .await
            .unwrap_err();
        let mut chain = String::new();
        let mut blocked = false;
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&err);
        while let Some(e) = source {
            chain.push_str(&format!("{e} / "));
            blocked |= e.downcast_ref::<Blocked>().is_some();
            source = e.source();
        }
        assert!(chain.contains(BLOCKED_MARKER), "{chain}");
        assert!(blocked, "{chain}");
        assert_eq!(accepted.load(Ordering::SeqCst), 0);

        let allowed_guard = Guard::new(true, vec![net("127.0.0.0/8")], vec![]);
        let allowed = client_with(Arc::new(GuardedResolver::with_lookup(
            allowed_guard,
            loopback,
        )));
        let response = allowed
            .get(format!("http://hook.test:{port}/"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(accepted.load(Ordering::SeqCst), 1);
    }
}
