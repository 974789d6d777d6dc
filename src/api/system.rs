//! Unauthenticated routes: `/health` and `/api/version`.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use super::AppState;
use super::error::ApiResult;
use crate::store;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/health", get(health))
        .route("/api/version", get(version))
}

/// `{"status": "UP"}` once the database answers.
#[utoipa::path(
    get,
    path = "/health",
    tag = "system",
    operation_id = "health",
    summary = "Health",
    description = "`{\"status\": \"UP\"}` once the database answers.",
    responses(
        (status = 200, description = "Up", body = super::openapi::Health),
    ),
)]
async fn health(State(state): State<AppState>) -> ApiResult<Json<Value>> {
    store::query_scalar::<i64>("SELECT 1")
        .fetch_one(state.db.reader())
        .await?;
    Ok(Json(json!({ "status": "UP" })))
}

#[utoipa::path(
    get,
    path = "/api/version",
    tag = "system",
    operation_id = "version",
    summary = "Version",
    responses(
        (status = 200, description = "The versions", body = super::openapi::Version),
    ),
)]
async fn version() -> Json<Value> {
    Json(json!({
        "release": crate::VERSION,
        "label-studio-os-package": { "version": crate::LABEL_STUDIO_VERSION },
        "labelhook": { "version": crate::VERSION },
    }))
}
