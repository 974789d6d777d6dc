//! Organizations, users and API tokens: first-start bootstrap, the CLI's `admin` commands,
//! the token lookup behind `Authorization: Token <key>` and the throttle on bad tokens.
//!
//! Tokens are stored as their SHA-256 digest ([`token_digest`]), never in clear: a copy of
//! the database hands out no credentials, and a token can only be shown when it is made.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use rand::Rng;
use rand::distr::Alphanumeric;
use subtle::ConstantTimeEq;

pub mod invites;
pub mod passwords;
pub mod people;
pub mod sessions;
pub mod throttle;

pub use throttle::{BadTokenThrottle, SignInThrottle};

use crate::shared::{Actor, Role};
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

    /// Forgets every cached token: a user was deactivated, changed role or reset their
    /// token, and this process honours it at once (other processes within [`Self::TTL`]).
    pub fn clear(&self) {
        if let Ok(mut entries) = self.entries.write() {
            entries.clear();
        }
    }

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
        "SELECT id, organization_id, email, role, token_digest FROM users \
         WHERE token_digest = $1 AND is_active = 1",
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
    let role = Role::from_code(row.try_get("role")?).unwrap_or(Role::Deactivated);
    if role == Role::Deactivated {
        return Ok(None);
    }
    Ok(Some(Actor {
        user_id: row.try_get("id")?,
        organization_id: row.try_get("organization_id")?,
        email: row.try_get("email")?,
        role,
    }))
}

/// The active user whose email (any case) and password these are; `None` for a wrong
/// password, an unknown email, a user without a password or a deactivated one alike (the
/// caller says the same in every case, and [`passwords::verify`] takes as long).
pub async fn sign_in(db: &Db, email: &str, password: &str) -> store::Result<Option<i64>> {
    let row = store::query(
        "SELECT id, password_hash, role, is_active FROM users WHERE LOWER(email) = LOWER($1)",
    )
    .bind(email.trim())
    .fetch_optional(db.reader())
    .await?;
    let (user_id, hash, usable) = match row {
        Some(row) => {
            let active: i64 = row.try_get("is_active")?;
            let role: String = row.try_get("role")?;
            let hash: Option<String> = row.try_get("password_hash")?;
            (
                row.try_get::<i64, _>("id")?,
                hash,
                active == 1 && role != "DI",
            )
        }
        None => (0, None, false),
    };
    let matches = passwords::verify(hash, password).await;
    Ok((matches && usable).then_some(user_id))
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
    store::schema::create_event_sequence(&mut tx, id).await?;
    db.commit(tx).await?;
    Ok(id)
}

/// Creates a user in an organization with the given token (or a random one), role and
/// password (none: no password sign-in). The token is returned here, the one time it
/// exists in clear.
pub async fn create_user(
    db: &Db,
    organization_id: i64,
    email: &str,
    token: Option<&str>,
    role: Role,
    password: Option<&str>,
) -> anyhow::Result<NewUser> {
    let token = token.map_or_else(|| random_token(40), str::to_string);
    let password_hash = match password {
        Some(password) => Some(passwords::hash(password).await?),
        None => None,
    };
    let mut tx = db.begin().await?;
    let exists: Option<i64> = store::query_scalar("SELECT id FROM organizations WHERE id = $1")
        .bind(organization_id)
        .fetch_optional(&mut *tx)
        .await?;
    if exists.is_none() {
        anyhow::bail!("organization {organization_id} does not exist");
    }
    let user_id: i64 = store::query_scalar(
        "INSERT INTO users (organization_id, email, token_digest, role, password_hash, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(organization_id)
    .bind(email)
    .bind(token_digest(&token))
    .bind(role.code())
    .bind(password_hash)
    .bind(time::now())
    .fetch_one(&mut *tx)
    .await
    .map_err(|e| {
        anyhow::anyhow!("could not create user {email}: {e} (is the email or token taken?)")
    })?;
    db.commit(tx).await?;
    Ok(NewUser {
        user_id,
        organization_id,
        token,
    })
}

/// The first user, as the settings describe them: an email, and optionally a fixed API
/// token and a password (Label Studio's `LABEL_STUDIO_USERNAME` / `LABEL_STUDIO_PASSWORD`).
pub struct FirstUser<'a> {
    pub email: &'a str,
    pub token: Option<&'a str>,
    pub password: Option<&'a str>,
}

/// On first start (no user yet) creates the default organization and the admin user.
/// Returns the admin's token when it was generated here, so it can be printed once.
/// With `fixed_token`, an existing admin's token is set to it, so scripts can rely on it.
///
/// With a password, a user of that email who has no password yet gets it (so a server
/// that existed before passwords gains email sign-in); an existing password is never
/// overwritten from the environment.
pub async fn bootstrap(db: &Db, first: &FirstUser<'_>) -> anyhow::Result<Option<String>> {
    let fixed_token = first.token;
    if let Some(password) = first.password {
        passwords::check("LABEL_STUDIO_PASSWORD", password)?;
    }
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
        if let Some(password) = first.password {
            let hash = passwords::hash(password).await?;
            let mut tx = db.begin().await?;
            store::query(
                "UPDATE users SET password_hash = $1 WHERE LOWER(email) = LOWER($2) AND password_hash IS NULL",
            )
            .bind(hash)
            .bind(first.email)
            .execute(&mut *tx)
            .await?;
            db.commit(tx).await?;
        }
        return Ok(None);
    }
    let organization_id = create_organization(db, "labelhook").await?;
    let user = create_user(
        db,
        organization_id,
        first.email,
        fixed_token,
        Role::Owner,
        first.password,
    )
    .await?;
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
}
