//! `/api/current-user/whoami`: who the token belongs to (Label Studio's route; SDK
//! `users.whoami()`, and the usual way scripts check a token).

use axum::extract::State;
use axum::routing::get;
use axum::{Extension, Json, Router};
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::AppState;
use super::error::ApiResult;
use crate::shared::Actor;
use crate::store;

pub fn routes() -> Router<AppState> {
    Router::new().route("/api/current-user/whoami", get(whoami))
}

/// The user as Label Studio's `whoami` shows it.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
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

#[utoipa::path(
    get,
    path = "/api/current-user/whoami",
    tag = "system",
    operation_id = "whoami",
    summary = "The user the token belongs to",
    responses(
        (status = 200, description = "The user", body = CurrentUser),
        (status = 401, response = super::openapi::Unauthorized),
    ),
    security(("token" = [])),
)]
pub(super) async fn whoami(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
) -> ApiResult<Json<Value>> {
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
    Ok(Json(json!({
        "id": actor.user_id,
        "first_name": first_name,
        "last_name": last_name,
        "username": actor.email,
        "email": actor.email,
        "avatar": null,
        "initials": initials,
        "active_organization": actor.organization_id,
    })))
}
