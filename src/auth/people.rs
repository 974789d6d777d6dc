//! The members of an organization: read, add, change, change roles, deactivate, and each
//! user's own API token. Every function is confined to the acting user's organization
//! (another organization's user is "not found") and checks what the actor's role allows:
//! administrators and the owner manage people; only the owner makes or unmakes owners; the
//! organization always keeps an active owner; nobody removes themselves.

use crate::shared::{Actor, Error, Result, Role};
use crate::store::{self, Conn, time, token_digest};

/// A member as the API shows it.
#[derive(Debug, Clone)]
pub struct Person {
    pub id: i64,
    pub organization_id: i64,
    pub organization_title: String,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub role: Role,
    pub active: bool,
    pub date_joined: i64,
    pub last_login: Option<i64>,
}

const COLUMNS: &str = "u.id, u.organization_id, o.title, u.email, u.first_name, u.last_name, \
    u.role, u.is_active, u.created_at, u.last_login";

fn person(row: &store::Row) -> Result<Person> {
    let role: String = row.try_get("role").map_err(internal)?;
    let active: i64 = row.try_get("is_active").map_err(internal)?;
    let role = Role::from_code(&role).unwrap_or(Role::Deactivated);
    Ok(Person {
        id: row.try_get("id").map_err(internal)?,
        organization_id: row.try_get("organization_id").map_err(internal)?,
        organization_title: row.try_get("title").map_err(internal)?,
        email: row.try_get("email").map_err(internal)?,
        first_name: row.try_get("first_name").map_err(internal)?,
        last_name: row.try_get("last_name").map_err(internal)?,
        active: active == 1 && role != Role::Deactivated,
        role,
        date_joined: row.try_get("created_at").map_err(internal)?,
        last_login: row.try_get("last_login").map_err(internal)?,
    })
}

fn internal(error: store::Error) -> Error {
    Error::Internal(error.into())
}

/// The actor may do what `needed` may, or 403 naming the role it takes.
pub fn require(actor: &Actor, needed: Role) -> Result<()> {
    if actor.role.at_least(needed) {
        Ok(())
    } else {
        Err(Error::Forbidden(missing_role(actor.role, needed)))
    }
}

/// "This needs the administrator role or higher; you are an annotator."
pub fn missing_role(have: Role, needed: Role) -> String {
    let article = |role: Role| {
        if matches!(role, Role::Owner | Role::Administrator | Role::Annotator) {
            "an"
        } else {
            "a"
        }
    };
    if needed == Role::Owner {
        return format!(
            "You do not have permission to perform this action: it needs the owner role; you are {} {}.",
            article(have),
            have.name()
        );
    }
    format!(
        "You do not have permission to perform this action: it needs the {} role or higher; you are {} {}.",
        needed.name(),
        article(have),
        have.name()
    )
}

/// The organization's members, active ones first, by email.
pub async fn list(conn: &mut Conn, actor: &Actor) -> Result<Vec<Person>> {
    let rows = store::query(&format!(
        "SELECT {COLUMNS} FROM users u JOIN organizations o ON o.id = u.organization_id \
         WHERE u.organization_id = $1 ORDER BY u.is_active DESC, u.email"
    ))
    .bind(actor.organization_id)
    .fetch_all(&mut *conn)
    .await
    .map_err(internal)?;
    rows.iter().map(person).collect()
}

/// One member of the actor's organization.
pub async fn get(conn: &mut Conn, actor: &Actor, user_id: i64) -> Result<Person> {
    let row = store::query(&format!(
        "SELECT {COLUMNS} FROM users u JOIN organizations o ON o.id = u.organization_id \
         WHERE u.id = $1 AND u.organization_id = $2"
    ))
    .bind(user_id)
    .bind(actor.organization_id)
    .fetch_optional(&mut *conn)
    .await
    .map_err(internal)?;
    match row {
        Some(row) => person(&row),
        None => Err(Error::NotFound("User")),
    }
}

/// A checked email: trimmed, one `@` with text either side, no spaces, at most 254
/// characters (the longest address mail can carry).
pub fn check_email(field: &str, email: &str) -> Result<String> {
    let email = email.trim();
    let valid = email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && !domain.is_empty() && !domain.contains('@')
        });
    if valid {
        Ok(email.to_string())
    } else {
        Err(Error::invalid(field, "Enter a valid email address."))
    }
}

/// 400 when a user with this email (any case) exists, in any organization: an email signs
/// in to one account.
pub async fn check_email_free(conn: &mut Conn, email: &str) -> Result<()> {
    let taken: Option<i64> =
        store::query_scalar("SELECT id FROM users WHERE LOWER(email) = LOWER($1)")
            .bind(email)
            .fetch_optional(&mut *conn)
            .await
            .map_err(internal)?;
    match taken {
        Some(_) => Err(Error::invalid(
            "email",
            "User with this email already exists.",
        )),
        None => Ok(()),
    }
}

/// What a new member is.
pub struct NewPerson {
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    /// An Argon2 hash, made before the transaction (hashing is slow).
    pub password_hash: Option<String>,
    pub role: Role,
}

/// Adds a member (administrators and the owner; only the owner adds owners).
pub async fn create(conn: &mut Conn, actor: &Actor, new: NewPerson) -> Result<Person> {
    require(actor, Role::Administrator)?;
    check_grant(actor, new.role)?;
    let email = check_email("email", &new.email)?;
    check_email_free(conn, &email).await?;
    let id = insert(conn, actor.organization_id, &email, &new).await?;
    get(conn, actor, id).await
}

/// Inserts a user row (with a random API token nobody has seen: a new member makes their
/// own with reset-token).
pub async fn insert(
    conn: &mut Conn,
    organization_id: i64,
    email: &str,
    new: &NewPerson,
) -> Result<i64> {
    store::query_scalar(
        "INSERT INTO users (organization_id, email, first_name, last_name, token_digest, role, password_hash, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
    )
    .bind(organization_id)
    .bind(email)
    .bind(&new.first_name)
    .bind(&new.last_name)
    .bind(token_digest(&super::random_token(40)))
    .bind(new.role.code())
    .bind(new.password_hash.as_deref())
    .bind(time::now())
    .fetch_one(&mut *conn)
    .await
    .map_err(internal)
}

/// Names that change (a key left out stays).
#[derive(Default)]
pub struct NameChange {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
}

/// Changes a member's names: their own, or anyone's for administrators and the owner.
pub async fn rename(
    conn: &mut Conn,
    actor: &Actor,
    user_id: i64,
    change: NameChange,
) -> Result<Person> {
    let target = get(conn, actor, user_id).await?;
    if target.id != actor.user_id {
        require(actor, Role::Administrator)?;
    }
    for (field, value) in [
        ("first_name", &change.first_name),
        ("last_name", &change.last_name),
    ] {
        if value.as_ref().is_some_and(|v| v.chars().count() > 150) {
            return Err(Error::invalid(
                field,
                "Ensure this field has no more than 150 characters.",
            ));
        }
    }
    store::query(
        "UPDATE users SET first_name = COALESCE($1, first_name), last_name = COALESCE($2, last_name), updated_at = $3 WHERE id = $4",
    )
    .bind(change.first_name)
    .bind(change.last_name)
    .bind(time::now())
    .bind(user_id)
    .execute(&mut *conn)
    .await
    .map_err(internal)?;
    get(conn, actor, user_id).await
}

/// Only the owner makes someone an owner.
fn check_grant(actor: &Actor, role: Role) -> Result<()> {
    if role == Role::Owner && actor.role != Role::Owner {
        return Err(Error::Forbidden(missing_role(actor.role, Role::Owner)));
    }
    Ok(())
}

/// Gives a member another role (`DI` deactivates them). Administrators and the owner;
/// owners are made and unmade by the owner only; the last active owner keeps the role;
/// nobody changes their own role (an owner hands ownership to someone else first).
pub async fn set_role(conn: &mut Conn, actor: &Actor, user_id: i64, role: Role) -> Result<Person> {
    require(actor, Role::Administrator)?;
    let target = get(conn, actor, user_id).await?;
    if target.id == actor.user_id && role != target.role {
        return Err(Error::Forbidden(
            "You cannot change your own role or remove yourself; another administrator or the owner can.".into(),
        ));
    }
    check_grant(actor, role)?;
    if target.role == Role::Owner && role != Role::Owner {
        check_grant(actor, Role::Owner)?;
        let owners: i64 = store::query_scalar(
            "SELECT COUNT(*) FROM users WHERE organization_id = $1 AND role = 'OW' AND is_active = 1",
        )
        .bind(actor.organization_id)
        .fetch_one(&mut *conn)
        .await
        .map_err(internal)?;
        if owners <= 1 {
            return Err(Error::Forbidden(
                "This is the organization's last owner: make another member owner first.".into(),
            ));
        }
    }
    let active = i64::from(role != Role::Deactivated);
    store::query("UPDATE users SET role = $1, is_active = $2, updated_at = $3 WHERE id = $4")
        .bind(role.code())
        .bind(active)
        .bind(time::now())
        .bind(user_id)
        .execute(&mut *conn)
        .await
        .map_err(internal)?;
    if role == Role::Deactivated {
        super::sessions::end_all(conn, user_id)
            .await
            .map_err(internal)?;
    }
    get(conn, actor, user_id).await
}

/// Removes a member from the organization: deactivates them (role `DI`), ending their
/// sessions and their API token's use; their annotations and everything they made stay
/// (Label Studio's soft delete). A member already removed is "not found".
pub async fn deactivate(conn: &mut Conn, actor: &Actor, user_id: i64) -> Result<()> {
    let target = get(conn, actor, user_id).await?;
    if !target.active {
        return Err(Error::NotFound("Member"));
    }
    set_role(conn, actor, user_id, Role::Deactivated).await?;
    Ok(())
}

/// A new API token for the actor (the old one stops working); returned this once.
pub async fn reset_token(conn: &mut Conn, actor: &Actor) -> Result<String> {
    let token = super::random_token(40);
    store::query("UPDATE users SET token_digest = $1, updated_at = $2 WHERE id = $3")
        .bind(token_digest(&token))
        .bind(time::now())
        .bind(actor.user_id)
        .execute(&mut *conn)
        .await
        .map_err(internal)?;
    Ok(token)
}

/// Renames the actor's organization (administrators and the owner).
pub async fn rename_organization(
    conn: &mut Conn,
    actor: &Actor,
    organization_id: i64,
    title: &str,
) -> Result<()> {
    if organization_id != actor.organization_id {
        return Err(Error::NotFound("Organization"));
    }
    require(actor, Role::Administrator)?;
    let title = title.trim();
    if title.is_empty() {
        return Err(Error::invalid("title", "This field may not be blank."));
    }
    if title.chars().count() > 1000 {
        return Err(Error::invalid(
            "title",
            "Ensure this field has no more than 1000 characters.",
        ));
    }
    store::query("UPDATE organizations SET title = $1 WHERE id = $2")
        .bind(title)
        .bind(organization_id)
        .execute(&mut *conn)
        .await
        .map_err(internal)?;
    Ok(())
}

/// The organization's owner's email (Label Studio's `active_organization_meta.email`).
pub async fn owner_email(conn: &mut Conn, organization_id: i64) -> Result<String> {
    let email: Option<String> = store::query_scalar(
        "SELECT email FROM users WHERE organization_id = $1 AND role = 'OW' ORDER BY id LIMIT 1",
    )
    .bind(organization_id)
    .fetch_optional(&mut *conn)
    .await
    .map_err(internal)?;
    Ok(email.unwrap_or_default())
}
