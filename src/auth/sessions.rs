//! Browser sessions: after an email + password sign-in the browser holds a random session
//! key in an `HttpOnly` cookie; the database keeps only its SHA-256 digest (as for API
//! tokens), the user, the session's CSRF secret and when it ends.
//!
//! Cookie-authenticated writes must echo the CSRF secret (`X-CSRFToken`, which the pages
//! read from the `csrftoken` cookie that only this origin can read): a page elsewhere can
//! make the browser send the session cookie, but cannot read the secret.

use crate::shared::{Actor, Role};
use crate::store::{self, Db, time, token_digest};

/// The cookie with the session key (`HttpOnly`).
pub const SESSION_COOKIE: &str = "sessionid";
/// The cookie with the CSRF secret (readable by the pages' scripts), and the header and
/// form field that must echo it on cookie-authenticated writes (Django's names).
pub const CSRF_COOKIE: &str = "csrftoken";
pub const CSRF_HEADER: &str = "x-csrftoken";
pub const CSRF_FIELD: &str = "csrfmiddlewaretoken";

/// How long a session lasts (Django's default: two weeks).
pub const LIFETIME: std::time::Duration = std::time::Duration::from_secs(14 * 24 * 3600);

/// A new session: the key for the cookie and its CSRF secret (both shown only now).
pub struct NewSession {
    pub key: String,
    pub csrf: String,
}

/// A signed-in session as a request presents it.
pub struct Session {
    pub actor: Actor,
    pub csrf: String,
}

/// Starts a session for `user_id` and records the sign-in.
pub async fn start(db: &Db, user_id: i64) -> store::Result<NewSession> {
    let session = NewSession {
        key: super::random_token(48),
        csrf: super::random_token(32),
    };
    let now = time::now();
    let mut tx = db.begin().await?;
    store::query(
        "INSERT INTO sessions (digest, user_id, csrf, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(token_digest(&session.key))
    .bind(user_id)
    .bind(&session.csrf)
    .bind(now)
    .bind(now + LIFETIME.as_micros() as i64)
    .execute(&mut *tx)
    .await?;
    store::query("UPDATE users SET last_login = $1 WHERE id = $2")
        .bind(now)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    // Expired sessions go when someone signs in (there is no other sweeper to run).
    store::query("DELETE FROM sessions WHERE expires_at < $1")
        .bind(now)
        .execute(&mut *tx)
        .await?;
    db.commit(tx).await?;
    Ok(session)
}

/// The session whose key is `key`, if it exists, has not expired and its user is active.
pub async fn find(db: &Db, key: &str) -> store::Result<Option<Session>> {
    let digest = token_digest(key);
    let row = store::query(
        "SELECT s.digest, s.csrf, u.id, u.organization_id, u.email, u.role \
         FROM sessions s JOIN users u ON u.id = s.user_id \
         WHERE s.digest = $1 AND s.expires_at > $2 AND u.is_active = 1",
    )
    .bind(&digest)
    .bind(time::now())
    .fetch_optional(db.reader())
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    if !super::same_secret(row.try_get("digest")?, &digest) {
        return Ok(None);
    }
    let role = Role::from_code(row.try_get("role")?).unwrap_or(Role::Deactivated);
    if role == Role::Deactivated {
        return Ok(None);
    }
    Ok(Some(Session {
        actor: Actor {
            user_id: row.try_get("id")?,
            organization_id: row.try_get("organization_id")?,
            email: row.try_get("email")?,
            role,
        },
        csrf: row.try_get("csrf")?,
    }))
}

/// Ends the session whose key is `key` (signing out).
pub async fn end(db: &Db, key: &str) -> store::Result<()> {
    let mut tx = db.begin().await?;
    store::query("DELETE FROM sessions WHERE digest = $1")
        .bind(token_digest(key))
        .execute(&mut *tx)
        .await?;
    db.commit(tx).await
}

/// Ends every session of `user_id` (deactivated, or their password changed).
pub async fn end_all(tx: &mut store::Conn, user_id: i64) -> store::Result<()> {
    store::query("DELETE FROM sessions WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    Ok(())
}
