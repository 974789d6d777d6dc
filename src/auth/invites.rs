//! Invite links: `/user/signup?token=<token>` lets one person join the organization with
//! the invite's role. A token is random, kept as its SHA-256 digest (so a link can be
//! shown only when it is made, like an API token), signs up one person, and expires after
//! [`LIFETIME`]. Resetting revokes every link not used yet.

use crate::shared::{Actor, Error, Result, Role};
use crate::store::{self, Conn, time, token_digest};

use super::people::{self, NewPerson};

/// How long an invite link works.
pub const LIFETIME: std::time::Duration = std::time::Duration::from_secs(7 * 24 * 3600);

/// A new invite link's token (shown this once).
pub async fn create(conn: &mut Conn, actor: &Actor, role: Role) -> Result<String> {
    people::require(actor, Role::Administrator)?;
    if role == Role::Deactivated {
        return Err(Error::invalid(
            "role",
            "\"DI\" is not a valid choice for an invite.",
        ));
    }
    if role == Role::Owner && actor.role != Role::Owner {
        return Err(Error::Forbidden(people::missing_role(
            actor.role,
            Role::Owner,
        )));
    }
    let token = super::random_token(40);
    let now = time::now();
    store::query(
        "INSERT INTO invites (organization_id, digest, role, created_by, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(actor.organization_id)
    .bind(token_digest(&token))
    .bind(role.code())
    .bind(actor.user_id)
    .bind(now)
    .bind(now + LIFETIME.as_micros() as i64)
    .execute(&mut *conn)
    .await
    .map_err(|e| Error::Internal(e.into()))?;
    Ok(token)
}

/// Revokes every invite of the actor's organization not used yet.
pub async fn revoke_all(conn: &mut Conn, actor: &Actor) -> Result<()> {
    people::require(actor, Role::Administrator)?;
    store::query("UPDATE invites SET used_at = $1 WHERE organization_id = $2 AND used_at IS NULL")
        .bind(time::now())
        .bind(actor.organization_id)
        .execute(&mut *conn)
        .await
        .map_err(|e| Error::Internal(e.into()))?;
    Ok(())
}

/// Why an invite cannot be used.
pub const UNUSABLE: &str =
    "This invite link has expired, was already used or was revoked. Ask for a new one.";

/// The live invite of `token`: its id, organization and role.
pub async fn find(conn: &mut Conn, token: &str) -> Result<Option<(i64, i64, Role)>> {
    let row = store::query(
        "SELECT id, organization_id, role FROM invites WHERE digest = $1 AND used_at IS NULL AND expires_at > $2",
    )
    .bind(token_digest(token))
    .bind(time::now())
    .fetch_optional(&mut *conn)
    .await
    .map_err(|e| Error::Internal(e.into()))?;
    let Some(row) = row else { return Ok(None) };
    let role: String = row.try_get("role").map_err(|e| Error::Internal(e.into()))?;
    Ok(Some((
        row.try_get("id").map_err(|e| Error::Internal(e.into()))?,
        row.try_get("organization_id")
            .map_err(|e| Error::Internal(e.into()))?,
        Role::from_code(&role).unwrap_or(Role::Annotator),
    )))
}

/// Signs up with an invite: a new member of its organization with its role, and the
/// invite used up (in the caller's transaction). 403 for an expired, used or revoked
/// invite; 400 for a taken email. Returns the new user's id.
pub async fn redeem(
    conn: &mut Conn,
    token: &str,
    email: &str,
    password_hash: String,
) -> Result<i64> {
    let Some((invite_id, organization_id, role)) = find(conn, token).await? else {
        return Err(Error::Forbidden(UNUSABLE.into()));
    };
    let email = people::check_email("email", email)?;
    people::check_email_free(conn, &email).await?;
    let new = NewPerson {
        email: email.clone(),
        first_name: String::new(),
        last_name: String::new(),
        password_hash: Some(password_hash),
        role,
    };
    let user_id = people::insert(conn, organization_id, &email, &new).await?;
    // Only if still unused: of two sign-ups racing on one link, one wins.
    let used = store::query(
        "UPDATE invites SET used_at = $1, used_by = $2 WHERE id = $3 AND used_at IS NULL",
    )
    .bind(time::now())
    .bind(user_id)
    .bind(invite_id)
    .execute(&mut *conn)
    .await
    .map_err(|e| Error::Internal(e.into()))?;
    if used.rows_affected() == 0 {
        return Err(Error::Forbidden(UNUSABLE.into()));
    }
    Ok(user_id)
}
