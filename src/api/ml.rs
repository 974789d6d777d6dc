//! `/api/ml/...`: ML backends and `train`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::AppState;
use super::error::{ApiError, ApiResult};
use super::extract::{Id, LsJson, LsQuery, as_object};
use crate::labeling::{Actor, ml_backends};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/ml", get(list).post(create))
        .route(
            "/api/ml/{id}",
            get(read).patch(update).put(update).delete(remove),
        )
        .route("/api/ml/{id}/train", post(train))
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    project: Option<String>,
}

async fn list(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    LsQuery(query): LsQuery<ListQuery>,
) -> ApiResult<Json<Value>> {
    let project = match query
        .project
        .as_deref()
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        None => None,
        Some(text) => Some(
            text.parse::<i64>()
                .map_err(|_| ApiError::field("project", "A valid integer is required."))?,
        ),
    };
    let mut conn = state.db.reader().acquire().await?;
    let found = ml_backends::list(&mut conn, &actor, project).await?;
    Ok(Json(found.iter().map(|m| m.api()).collect()))
}

async fn create(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    LsJson(input): LsJson<Value>,
) -> ApiResult<impl IntoResponse> {
    let input = as_object(input)?;
    super::webhooks::check_destination(&state, &input).await?;
    let mut tx = state.db.begin().await?;
    let backend = ml_backends::create(&mut tx, &actor, &input).await?;
    state.db.commit(tx).await?;
    Ok((StatusCode::CREATED, Json(backend.api())))
}

async fn read(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Id(id): Id,
) -> ApiResult<Json<Value>> {
    let mut conn = state.db.reader().acquire().await?;
    Ok(Json(ml_backends::get(&mut conn, &actor, id).await?.api()))
}

async fn update(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Id(id): Id,
    LsJson(input): LsJson<Value>,
) -> ApiResult<Json<Value>> {
    let input = as_object(input)?;
    super::webhooks::check_destination(&state, &input).await?;
    let mut tx = state.db.begin().await?;
    let backend = ml_backends::update(&mut tx, &actor, id, &input).await?;
    state.db.commit(tx).await?;
    Ok(Json(backend.api()))
}

async fn remove(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Id(id): Id,
) -> ApiResult<StatusCode> {
    let mut tx = state.db.begin().await?;
    ml_backends::delete(&mut tx, &actor, id).await?;
    state.db.commit(tx).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Queues START_TRAINING to the backend's `/webhook`; answers before it is sent.
async fn train(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Id(id): Id,
) -> ApiResult<Json<Value>> {
    let mut tx = state.db.begin().await?;
    ml_backends::train(&mut tx, &actor, id).await?;
    state.db.commit(tx).await?;
    Ok(Json(json!({})))
}
