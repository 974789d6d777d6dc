//! Organizations, users and API tokens: first-start bootstrap, the CLI's `admin` commands,
//! the token lookup behind `Authorization: Token <key>` and the throttle on bad tokens.
//!
//! Tokens are stored as their SHA-256 digest ([`token_digest`]), never in clear: a copy of
//! the database hands out no credentials, and a token can only be shown when it is made.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rand::Rng;
use rand::distr::Alphanumeric;
use subtle::ConstantTimeEq;

use crate::shared::Actor;
use crate::store;
use crate::store::{Db, time};

/// A random alphanumeric token of `len` characters.
pub fn random_token(len: usize) -> String {
    rand::rng()
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

pub use crate::store::token_digest;

/// Compares two secrets in time that depends on their length only, not on where they
/// differ (a timing difference would tell an attacker how much of a guess was right).
pub fn same_secret(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

/// The key of `Authorization: <scheme> <key>`: the scheme is `Token` or `Bearer`, in any
/// case, as Label Studio accepts it. `None` for another scheme or no key.
pub fn key_from_header(header: &str) -> Option<&str> {
    let (scheme, key) = header.trim().split_once(char::is_whitespace)?;
    let known = scheme.eq_ignore_ascii_case("token") || scheme.eq_ignore_ascii_case("bearer");
    Some(key.trim()).filter(|key| known && !key.is_empty())
}

/// Recently seen tokens, so most requests authenticate without a database read. Entries
/// live for [`TokenCache::TTL`]; a token changed through `labelhook admin` is honoured
/// within that time. Keyed by digest: the clear token is kept nowhere.
#[derive(Default)]
pub struct TokenCache {
    entries: std::sync::RwLock<HashMap<String, (Actor, Instant)>>,
}

impl TokenCache {
    pub const TTL: Duration = Duration::from_secs(30);
    const MAX_ENTRIES: usize = 10_000;

    /// The actor for `token`, from the cache or the database.
    pub async fn actor(&self, db: &Db, token: &str) -> store::Result<Option<Actor>> {
        let digest = token_digest(token);
        if let Ok(entries) = self.entries.read()
            && let Some((actor, at)) = entries.get(&digest)
            && at.elapsed() < Self::TTL
        {
            return Ok(Some(actor.clone()));
        }
        let found = actor_for_digest(db, &digest).await?;
        if let (Some(actor), Ok(mut entries)) = (&found, self.entries.write()) {
            if entries.len() >= Self::MAX_ENTRIES {
                entries.retain(|_, (_, at)| at.elapsed() < Self::TTL);
            }
            if entries.len() < Self::MAX_ENTRIES {
                entries.insert(digest, (actor.clone(), Instant::now()));
            }
        }
        Ok(found)
    }
}

/// The user whose API token is `token`, if any.
pub async fn actor_for_token(db: &Db, token: &str) -> store::Result<Option<Actor>> {
    actor_for_digest(db, &token_digest(token)).await
}

async fn actor_for_digest(db: &Db, digest: &str) -> store::Result<Option<Actor>> {
    let row = store::query(
        "SELECT id, organization_id, email, token_digest FROM users WHERE token_digest = $1",
    )
    .bind(digest)
    .fetch_optional(db.reader())
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    // The index found the row; the comparison that decides is the constant-time one.
    if !same_secret(row.try_get("token_digest")?, digest) {
        return Ok(None);
    }
    Ok(Some(Actor {
        user_id: row.try_get("id")?,
        organization_id: row.try_get("organization_id")?,
        email: row.try_get("email")?,
    }))
}

/// Slows down guessing: a client (an IP address; an IPv6 /64) that sends more than
/// `per_minute` bad tokens within a minute is answered 429 for every authenticated
/// request until that minute is over, good tokens included (otherwise the 429s would
/// still tell a right guess from a wrong one). 0 switches it off.
pub struct BadTokenThrottle {
    per_minute: u32,
    clients: Mutex<HashMap<IpAddr, Window>>,
}

struct Window {
    started: Instant,
    failures: u32,
}

impl BadTokenThrottle {
    const WINDOW: Duration = Duration::from_secs(60);
    /// Clients tracked at once; past it, expired windows are dropped, and if none has
    /// expired a new client is not tracked (memory stays bounded under a spread attack).
    const MAX_CLIENTS: usize = 100_000;

    pub fn new(per_minute: u32) -> BadTokenThrottle {
        BadTokenThrottle {
            per_minute,
            clients: Mutex::new(HashMap::new()),
        }
    }

    /// How long `client` must wait, if it is locked out now.
    pub fn locked_out(&self, client: IpAddr) -> Option<Duration> {
        if self.per_minute == 0 {
            return None;
        }
        let clients = self.clients.lock().ok()?;
        let window = clients.get(&Self::key(client))?;
        let left = Self::WINDOW.checked_sub(window.started.elapsed())?;
        (window.failures > self.per_minute).then_some(left)
    }

    /// Counts a bad token from `client`; returns how long it must wait if that one
    /// crossed the threshold.
    pub fn failed(&self, client: IpAddr) -> Option<Duration> {
        if self.per_minute == 0 {
            return None;
        }
        let mut clients = self.clients.lock().ok()?;
        let key = Self::key(client);
        if clients.len() >= Self::MAX_CLIENTS && !clients.contains_key(&key) {
            clients.retain(|_, w| w.started.elapsed() < Self::WINDOW);
            if clients.len() >= Self::MAX_CLIENTS {
                return None;
            }
        }
        let window = clients.entry(key).or_insert(Window {
            started: Instant::now(),
            failures: 0,
        });
        if window.started.elapsed() >= Self::WINDOW {
            *window = Window {
                started: Instant::now(),
                failures: 0,
            };
        }
        window.failures += 1;
        let left = Self::WINDOW.saturating_sub(window.started.elapsed());
        (window.failures > self.per_minute).then_some(left)
    }

    /// One address per client; for IPv6 its /64, which one host usually has whole.
    fn key(client: IpAddr) -> IpAddr {
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
}

/// What `create_user` made.
pub struct NewUser {
    pub user_id: i64,
    pub organization_id: i64,
    pub token: String,
}

/// Creates an organization.
pub async fn create_organization(db: &Db, title: &str) -> anyhow::Result<i64> {
    let mut tx = db.begin().await?;
    let id: i64 = store::query_scalar(
        "INSERT INTO organizations (title, created_at) VALUES ($1, $2) RETURNING id",
    )
    .bind(title)
    .bind(time::now())
    .fetch_one(&mut *tx)
    .await?;
    if db.backend == store::Backend::Postgres {
        let sequence = store::schema::organization_sequence(id);
        tx.execute_batch(&format!("CREATE SEQUENCE {sequence}"))
            .await?;
    }
    db.commit(tx).await?;
    Ok(id)
}

/// Creates a user in an organization with the given token (or a random one). The token is
/// returned here, the one time it exists in clear.
pub async fn create_user(
    db: &Db,
    organization_id: i64,
    email: &str,
    token: Option<&str>,
) -> anyhow::Result<NewUser> {
    let token = token.map_or_else(|| random_token(40), str::to_string);
    let mut tx = db.begin().await?;
    let exists: Option<i64> = store::query_scalar("SELECT id FROM organizations WHERE id = $1")
        .bind(organization_id)
        .fetch_optional(&mut *tx)
        .await?;
    if exists.is_none() {
        anyhow::bail!("organization {organization_id} does not exist");
    }
    let user_id: i64 = store::query_scalar(
        "INSERT INTO users (organization_id, email, token_digest, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
    )
    .bind(organization_id)
    .bind(email)
    .bind(token_digest(&token))
    .bind(time::now())
    .fetch_one(&mut *tx)
    .await
    .map_err(|e| anyhow::anyhow!("could not create user {email}: {e} (is the email or token taken?)"))?;
    db.commit(tx).await?;
    Ok(NewUser {
        user_id,
        organization_id,
        token,
    })
}

/// On first start (no user yet) creates the default organization and the admin user.
/// Returns the admin's token when it was generated here, so it can be printed once.
/// With `fixed_token`, an existing admin's token is set to it, so scripts can rely on it.
pub async fn bootstrap(
    db: &Db,
    admin_email: &str,
    fixed_token: Option<&str>,
) -> anyhow::Result<Option<String>> {
    let users: i64 = store::query_scalar("SELECT COUNT(*) FROM users")
        .fetch_one(db.reader())
        .await?;
    if users > 0 {
        if let Some(token) = fixed_token {
            let mut tx = db.begin().await?;
            let digest = token_digest(token);
            let taken: Option<String> =
                store::query_scalar("SELECT email FROM users WHERE token_digest = $1")
                    .bind(&digest)
                    .fetch_optional(&mut *tx)
                    .await?;
            if taken.is_none() {
                store::query(
                    "UPDATE users SET token_digest = $1 WHERE id = (SELECT MIN(id) FROM users)",
                )
                .bind(&digest)
                .execute(&mut *tx)
                .await?;
            }
            db.commit(tx).await?;
        }
        return Ok(None);
    }
    let organization_id = create_organization(db, "labelhook").await?;
    let user = create_user(db, organization_id, admin_email, fixed_token).await?;
    Ok(fixed_token.is_none().then_some(user.token))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scheme_is_token_or_bearer_in_any_case() {
        for header in [
            "Token abc",
            "token abc",
            "TOKEN abc",
            "Bearer abc",
            "bearer  abc ",
        ] {
            assert_eq!(key_from_header(header), Some("abc"), "{header}");
        }
        for header in ["Basic abc", "Token", "Token   ", "abc", "Tokenabc"] {
            assert_eq!(key_from_header(header), None, "{header}");
        }
    }

    #[test]
    fn the_digest_is_hex_sha256() {
        assert_eq!(
            token_digest("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

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
}
