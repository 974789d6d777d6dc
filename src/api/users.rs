//! `/api/current-user/whoami`: who the token belongs to (Label Studio's route; SDK
//! `users.whoami()`, and the usual way scripts check a token).

use axum::extract::State;
use axum::{Extension, Json};
use serde::Serialize;
use utoipa::ToSchema;

use super::AppState;
use super::error::ApiResult;
use super::route::{Route, get, tagged};
use crate::shared::Actor;
use crate::store;

pub(super) fn routes() -> Vec<Route> {
    tagged(
        "system",
        [get("/api/current-user/whoami", whoami)
            .doc("whoami", "The user the token belongs to")
            .ok::<CurrentUser>("The user")],
    )
}

/// The user as Label Studio's `whoami` shows it.
#[derive(Serialize, ToSchema)]
pub struct CurrentUser {
    id: i64,
    first_name: String,
    last_name: String,
    username: String,
    email: String,
    avatar: Option<String>,
    initials: String,
    active_organization: i64,
}

async fn whoami(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
) -> ApiResult<Json<CurrentUser>> {
    let row = store::query("SELECT first_name, last_name FROM users WHERE id = $1")
        .bind(actor.user_id)
        .fetch_one(state.db.reader())
        .await?;
    let first_name: String = row.try_get("first_name")?;
    let last_name: String = row.try_get("last_name")?;
    let initials: String = [&first_name, &last_name]
        .iter()
        .filter_map(|n| n.chars().next())
        .collect::<String>();
    let initials = if initials.is_empty() {
        actor.email.chars().take(2).collect()
    } else {
        initials
    };
    Ok(Json(CurrentUser {
        id: actor.user_id,
        first_name,
        last_name,
        username: actor.email.clone(),
        email: actor.email,
        avatar: None,
        initials,
        active_organization: actor.organization_id,
    }))
}
