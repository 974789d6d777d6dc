//! Organizations, users and API tokens: first-start bootstrap, the CLI's `admin` commands
//! and the token lookup behind `Authorization: Token <key>`.

use rand::Rng;
use rand::distr::Alphanumeric;

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

/// Recently seen tokens, so most requests authenticate without a database read. Entries
/// live for [`TokenCache::TTL`]; a token changed through `labelhook admin` is honoured
/// within that time.
#[derive(Default)]
pub struct TokenCache {
    entries: std::sync::RwLock<std::collections::HashMap<String, (Actor, std::time::Instant)>>,
}

impl TokenCache {
    pub const TTL: std::time::Duration = std::time::Duration::from_secs(30);
    const MAX_ENTRIES: usize = 10_000;

    /// The actor for `token`, from the cache or the database.
    pub async fn actor(&self, db: &Db, token: &str) -> store::Result<Option<Actor>> {
        if let Ok(entries) = self.entries.read()
            && let Some((actor, at)) = entries.get(token)
            && at.elapsed() < Self::TTL
        {
            return Ok(Some(actor.clone()));
        }
        let found = actor_for_token(db, token).await?;
        if let (Some(actor), Ok(mut entries)) = (&found, self.entries.write()) {
            if entries.len() >= Self::MAX_ENTRIES {
                entries.retain(|_, (_, at)| at.elapsed() < Self::TTL);
            }
            if entries.len() < Self::MAX_ENTRIES {
                entries.insert(
                    token.to_string(),
                    (actor.clone(), std::time::Instant::now()),
                );
            }
        }
        Ok(found)
    }
}

/// The user whose API token is `token`, if any.
pub async fn actor_for_token(db: &Db, token: &str) -> store::Result<Option<Actor>> {
    let row = store::query("SELECT id, organization_id, email FROM users WHERE token = $1")
        .bind(token)
        .fetch_optional(db.reader())
        .await?;
    row.map(|row| {
        Ok(Actor {
            user_id: row.try_get("id")?,
            organization_id: row.try_get("organization_id")?,
            email: row.try_get("email")?,
        })
    })
    .transpose()
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

/// Creates a user in an organization with the given token (or a random one).
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
        "INSERT INTO users (organization_id, email, token, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
    )
    .bind(organization_id)
    .bind(email)
    .bind(&token)
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
            let taken: Option<String> =
                store::query_scalar("SELECT email FROM users WHERE token = $1")
                    .bind(token)
                    .fetch_optional(&mut *tx)
                    .await?;
            if taken.is_none() {
                store::query("UPDATE users SET token = $1 WHERE id = (SELECT MIN(id) FROM users)")
                    .bind(token)
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
