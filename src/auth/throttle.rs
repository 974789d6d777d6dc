//! Slowing down guessing: bad API tokens per client, failed sign-ins per account and per
//! client. Each counts failures in a fixed window; past its limit a key is locked out
//! until the window is over.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures per key within a window. Memory stays bounded: past [`Self::MAX_KEYS`] keys,
/// expired windows are dropped, and if none has expired a new key is not tracked.
pub struct Throttle<K> {
    limit: u32,
    window: Duration,
    keys: Mutex<HashMap<K, Window>>,
}

struct Window {
    started: Instant,
    failures: u32,
}

impl<K: Hash + Eq> Throttle<K> {
    const MAX_KEYS: usize = 100_000;

    /// At most `limit` failures per `window`; 0 switches it off.
    pub fn new(limit: u32, window: Duration) -> Throttle<K> {
        Throttle {
            limit,
            window,
            keys: Mutex::new(HashMap::new()),
        }
    }

    /// How long `key` must wait, if it is locked out now.
    pub fn locked_out(&self, key: &K) -> Option<Duration> {
        if self.limit == 0 {
            return None;
        }
        let keys = self.keys.lock().ok()?;
        let window = keys.get(key)?;
        let left = self.window.checked_sub(window.started.elapsed())?;
        (window.failures > self.limit).then_some(left)
    }

    /// Counts a failure of `key`; returns how long it must wait if that one crossed the
    /// limit.
    pub fn failed(&self, key: K) -> Option<Duration> {
        if self.limit == 0 {
            return None;
        }
        let mut keys = self.keys.lock().ok()?;
        if keys.len() >= Self::MAX_KEYS && !keys.contains_key(&key) {
            keys.retain(|_, w| w.started.elapsed() < self.window);
            if keys.len() >= Self::MAX_KEYS {
                return None;
            }
        }
        let window = keys.entry(key).or_insert(Window {
            started: Instant::now(),
            failures: 0,
        });
        if window.started.elapsed() >= self.window {
            *window = Window {
                started: Instant::now(),
                failures: 0,
            };
        }
        window.failures += 1;
        let left = self.window.saturating_sub(window.started.elapsed());
        (window.failures > self.limit).then_some(left)
    }
}

/// One address per client; for IPv6 its /64, which one host usually has whole.
pub fn client_key(client: IpAddr) -> IpAddr {
    match client {
        IpAddr::V4(_) => client,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut octets = v6.octets();
                octets[8..].fill(0);
                IpAddr::from(octets)
            }
        },
    }
}

/// A client (an IP address; an IPv6 /64) that sends more than `per_minute` bad tokens
/// within a minute is answered 429 for every authenticated request until that minute is
/// over, good tokens included (otherwise the 429s would still tell a right guess from a
/// wrong one). 0 switches it off.
pub struct BadTokenThrottle(Throttle<IpAddr>);

impl BadTokenThrottle {
    pub fn new(per_minute: u32) -> BadTokenThrottle {
        BadTokenThrottle(Throttle::new(per_minute, Duration::from_secs(60)))
    }

    pub fn locked_out(&self, client: IpAddr) -> Option<Duration> {
        self.0.locked_out(&client_key(client))
    }

    pub fn failed(&self, client: IpAddr) -> Option<Duration> {
        self.0.failed(client_key(client))
    }
}

/// Failed sign-ins, counted per account (the email as typed, lower-cased, whether or not
/// it exists, so a lockout tells nothing about it) and per client. Past either limit,
/// sign-ins for that account or from that client are refused until the window is over,
/// right passwords included.
pub struct SignInThrottle {
    accounts: Throttle<String>,
    clients: Throttle<IpAddr>,
}

impl SignInThrottle {
    /// Failures counted over this window.
    pub const WINDOW: Duration = Duration::from_secs(15 * 60);

    pub fn new(per_account: u32, per_client: u32) -> SignInThrottle {
        SignInThrottle {
            accounts: Throttle::new(per_account, Self::WINDOW),
            clients: Throttle::new(per_client, Self::WINDOW),
        }
    }

    /// How long a sign-in as `email` from `client` must wait, if it must.
    pub fn locked_out(&self, email: &str, client: Option<IpAddr>) -> Option<Duration> {
        let account = self.accounts.locked_out(&email.to_lowercase());
        let client = client.and_then(|c| self.clients.locked_out(&client_key(c)));
        account.max(client)
    }

    /// Counts a failed sign-in.
    pub fn failed(&self, email: &str, client: Option<IpAddr>) {
        self.accounts.failed(email.to_lowercase());
        if let Some(client) = client {
            self.clients.failed(client_key(client));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_past_the_threshold_waits_out_its_minute() {
        let throttle = BadTokenThrottle::new(2);
        let client: IpAddr = "192.0.2.7".parse().unwrap();
        assert_eq!(throttle.failed(client), None);
        assert_eq!(throttle.failed(client), None);
        assert!(throttle.locked_out(client).is_none(), "at the threshold");
        let wait = throttle.failed(client).expect("past the threshold");
        assert!(wait <= Duration::from_secs(60));
        assert!(throttle.locked_out(client).is_some());
        let other: IpAddr = "192.0.2.8".parse().unwrap();
        assert!(throttle.locked_out(other).is_none(), "others are not");
        // One IPv6 host is its /64.
        let a: IpAddr = "2001:db8::1".parse().unwrap();
        let b: IpAddr = "2001:db8::2".parse().unwrap();
        for _ in 0..3 {
            throttle.failed(a);
        }
        assert!(throttle.locked_out(b).is_some());
        assert!(BadTokenThrottle::new(0).failed(client).is_none(), "0: off");
    }

    #[test]
    fn sign_ins_are_limited_per_account_and_per_client() {
        let throttle = SignInThrottle::new(2, 3);
        let (a, b): (IpAddr, IpAddr) = ("192.0.2.1".parse().unwrap(), "192.0.2.2".parse().unwrap());
        for _ in 0..3 {
            throttle.failed("Ann@Example.com", Some(a));
        }
        assert!(
            throttle.locked_out("ann@example.com", Some(b)).is_some(),
            "the account, from anywhere"
        );
        assert!(throttle.locked_out("bob@example.com", Some(b)).is_none());
        assert!(
            throttle.locked_out("bob@example.com", Some(a)).is_none(),
            "3 is the client's limit"
        );
        throttle.failed("carl@example.com", Some(a));
        assert!(
            throttle.locked_out("bob@example.com", Some(a)).is_some(),
            "the client, any account"
        );
    }
}
