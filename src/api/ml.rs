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
use crate::labeling::ml_backends;
use crate::shared::Actor;

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

#[utoipa::path(
    get,
    path = "/api/ml",
    tag = "ml",
    operation_id = "ml_list",
    summary = "List ML backends",
    params(
        ("project" = Option<i64>, Query, description = "Only this project's backends."),
    ),
    responses(
        (status = 200, description = "The ML backends", body = Vec<super::openapi::MlBackend>),
        (status = 400, response = super::openapi::BadRequest),
        (status = 401, response = super::openapi::Unauthorized),
        (status = 404, response = super::openapi::NotFound),
    ),
    security(("token" = [])),
)]
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

#[utoipa::path(
    post,
    path = "/api/ml",
    tag = "ml",
    operation_id = "ml_create",
    summary = "Attach an ML backend",
    description = "Also creates the project webhook `<url>/webhook` that Label Studio ML backends receive events at.",
    request_body(content = super::openapi::MlBackendCreateInput, description = "The backend.", content_type = "application/json"),
    responses(
        (status = 201, description = "The new ML backend", body = super::openapi::MlBackend),
        (status = 400, response = super::openapi::BadRequest),
        (status = 401, response = super::openapi::Unauthorized),
        (status = 404, response = super::openapi::NotFound),
        (status = 413, response = super::openapi::PayloadTooLarge),
    ),
    security(("token" = [])),
)]
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

#[utoipa::path(
    get,
    path = "/api/ml/{id}",
    tag = "ml",
    operation_id = "ml_read",
    summary = "Read an ML backend",
    params(
        ("id" = i64, Path, example = 1, description = "The ML backend's id."),
    ),
    responses(
        (status = 200, description = "The ML backend", body = super::openapi::MlBackend),
        (status = 401, response = super::openapi::Unauthorized),
        (status = 404, response = super::openapi::NotFound),
    ),
    security(("token" = [])),
)]
async fn read(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Id(id): Id,
) -> ApiResult<Json<Value>> {
    let mut conn = state.db.reader().acquire().await?;
    Ok(Json(ml_backends::get(&mut conn, &actor, id).await?.api()))
}

#[utoipa::path(
    patch,
    path = "/api/ml/{id}",
    tag = "ml",
    operation_id = "ml_update",
    summary = "Update an ML backend",
    description = "Only the keys sent change (PUT behaves the same).",
    params(
        ("id" = i64, Path, example = 1, description = "The ML backend's id."),
    ),
    request_body(content = super::openapi::MlBackendUpdateInput, description = "The fields to change.", content_type = "application/json"),
    responses(
        (status = 200, description = "The updated ML backend", body = super::openapi::MlBackend),
        (status = 400, response = super::openapi::BadRequest),
        (status = 401, response = super::openapi::Unauthorized),
        (status = 404, response = super::openapi::NotFound),
        (status = 413, response = super::openapi::PayloadTooLarge),
    ),
    security(("token" = [])),
)]
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

#[utoipa::path(
    delete,
    path = "/api/ml/{id}",
    tag = "ml",
    operation_id = "ml_delete",
    summary = "Detach an ML backend",
    params(
        ("id" = i64, Path, example = 1, description = "The ML backend's id."),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, response = super::openapi::Unauthorized),
        (status = 404, response = super::openapi::NotFound),
    ),
    security(("token" = [])),
)]
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
#[utoipa::path(
    post,
    path = "/api/ml/{id}/train",
    tag = "ml",
    operation_id = "ml_train",
    summary = "Start training",
    description = "Queues START_TRAINING to the backend's `/webhook` and answers before it is sent (labelhook addition: delivered and logged like any webhook).",
    params(
        ("id" = i64, Path, example = 1, description = "The ML backend's id."),
    ),
    responses(
        (status = 200, description = "Queued", body = super::openapi::Empty),
        (status = 401, response = super::openapi::Unauthorized),
        (status = 404, response = super::openapi::NotFound),
    ),
    security(("token" = [])),
)]
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
