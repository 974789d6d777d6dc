//! Custom events: actions an organization names itself (`MY_PIPELINE_DONE`), sent through
//! the same outbox as every event, and the registry of their types (a name and a
//! description, shown in `/api/webhooks/info/` and the pages' event picker; a webhook may
//! list a registered type in its `actions`).

use crate::shared::{Error, Result};
use crate::store::{self, Conn, time};

/// The longest custom action name.
pub const MAX_NAME: usize = 64;
/// The longest description.
pub const MAX_DESCRIPTION: usize = 500;

/// Whether `name` has the form of an action name (`^[A-Z][A-Z0-9_]*$`, at most
/// [`MAX_NAME`] characters): every built-in one has, and custom ones must.
pub fn is_action_name(name: &str) -> bool {
    name.len() <= MAX_NAME
        && name.starts_with(|c: char| c.is_ascii_uppercase())
        && name
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

/// Why `name` cannot be a custom action: upper case letters, digits and `_`, starting
/// with a letter, and not an action of the catalogue (or labelhook's own).
pub fn check_name(name: &str) -> std::result::Result<(), String> {
    if !is_action_name(name) {
        return Err(format!(
            "\"{name}\" is not a valid custom action: use upper case letters, digits and _, \
             starting with a letter (at most {MAX_NAME} characters)."
        ));
    }
    if super::Action::from_id(name).is_some() || matches!(name, "PING" | "START_TRAINING") {
        return Err(format!(
            "\"{name}\" is a built-in action; a custom action needs a name of its own."
        ));
    }
    Ok(())
}

/// A registered custom event type.
#[derive(Debug, Clone)]
pub struct EventType {
    pub name: String,
    pub description: String,
    pub created_at: i64,
}

/// The organization's registered types, by name.
pub async fn list_types(conn: &mut Conn, organization_id: i64) -> Result<Vec<EventType>> {
    let rows = store::query(
        "SELECT name, description, created_at FROM custom_event_types \
         WHERE organization_id = $1 ORDER BY name",
    )
    .bind(organization_id)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(EventType {
                name: row.try_get("name")?,
                description: row.try_get("description")?,
                created_at: row.try_get("created_at")?,
            })
        })
        .collect()
}

/// Registers a type, or changes the description of one already registered.
pub async fn register(
    tx: &mut Conn,
    organization_id: i64,
    name: &str,
    description: &str,
) -> Result<EventType> {
    check_name(name).map_err(|message| Error::invalid("name", message))?;
    if description.chars().count() > MAX_DESCRIPTION {
        return Err(Error::invalid(
            "description",
            format!("Ensure this field has no more than {MAX_DESCRIPTION} characters."),
        ));
    }
    let updated = store::query(
        "UPDATE custom_event_types SET description = $1 WHERE organization_id = $2 AND name = $3",
    )
    .bind(description)
    .bind(organization_id)
    .bind(name)
    .execute(&mut *tx)
    .await?;
    if updated.rows_affected() == 0 {
        store::query(
            "INSERT INTO custom_event_types (organization_id, name, description, created_at) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(organization_id)
        .bind(name)
        .bind(description)
        .bind(time::now())
        .execute(&mut *tx)
        .await?;
    }
    list_types(tx, organization_id)
        .await?
        .into_iter()
        .find(|t| t.name == name)
        .ok_or(Error::NotFound("Event type"))
}
