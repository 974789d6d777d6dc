//! `/api/predictions/` and `/api/predictions/{id}/`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Extension, Json, Router};
use serde::Deserialize;
use serde_json::Value;

use super::AppState;
use super::error::{ApiError, ApiResult};
use super::extract::{Id, LsJson, LsQuery, as_object};
use crate::labeling::predictions;
use crate::shared::Actor;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/predictions", get(list).post(create))
        .route(
            "/api/predictions/{id}",
            get(read).patch(update).put(update).delete(remove),
        )
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    task: Option<String>,
    project: Option<String>,
}

fn optional_id(name: &str, value: Option<&str>) -> ApiResult<Option<i64>> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(text) => text
            .parse::<i64>()
            .map(Some)
            .map_err(|_| ApiError::field(name, "A valid integer is required.")),
    }
}

#[utoipa::path(
    get,
    path = "/api/predictions",
    tag = "predictions",
    operation_id = "predictions_list",
    summary = "List predictions",
    params(
        ("task" = Option<i64>, Query, description = "Only this task's predictions."),
        ("project" = Option<i64>, Query, description = "Only this project's predictions."),
    ),
    responses(
        (status = 200, description = "The predictions", body = Vec<super::openapi::Prediction>),
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
    let task = optional_id("task", query.task.as_deref())?;
    let project = optional_id("project", query.project.as_deref())?;
    let mut conn = state.db.reader().acquire().await?;
    let found = predictions::list(&mut conn, &actor, task, project).await?;
    Ok(Json(found.iter().map(|p| p.api()).collect()))
}

#[utoipa::path(
    post,
    path = "/api/predictions",
    tag = "predictions",
    operation_id = "predictions_create",
    summary = "Create a prediction",
    request_body(content = super::openapi::PredictionCreate, description = "The prediction.", content_type = "application/json"),
    responses(
        (status = 201, description = "The new prediction", body = super::openapi::Prediction),
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
    let input = Value::Object(as_object(input)?);
    let mut tx = state.db.begin().await?;
    let prediction = predictions::create(&mut tx, &actor, input).await?;
    state.db.commit(tx).await?;
    Ok((StatusCode::CREATED, Json(prediction.api())))
}

#[utoipa::path(
    get,
    path = "/api/predictions/{id}",
    tag = "predictions",
    operation_id = "predictions_read",
    summary = "Read a prediction",
    params(
        ("id" = i64, Path, example = 1, description = "The prediction's id."),
    ),
    responses(
        (status = 200, description = "The prediction", body = super::openapi::Prediction),
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
    Ok(Json(predictions::get(&mut conn, &actor, id).await?.api()))
}

#[utoipa::path(
    patch,
    path = "/api/predictions/{id}",
    tag = "predictions",
    operation_id = "predictions_update",
    summary = "Update a prediction",
    description = "Only the keys sent change (PUT behaves the same).",
    params(
        ("id" = i64, Path, example = 1, description = "The prediction's id."),
    ),
    request_body(content = super::openapi::PredictionFields, description = "The fields to change.", content_type = "application/json"),
    responses(
        (status = 200, description = "The updated prediction", body = super::openapi::Prediction),
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
    let mut tx = state.db.begin().await?;
    let prediction = predictions::update(&mut tx, &actor, id, &input).await?;
    state.db.commit(tx).await?;
    Ok(Json(prediction.api()))
}

#[utoipa::path(
    delete,
    path = "/api/predictions/{id}",
    tag = "predictions",
    operation_id = "predictions_delete",
    summary = "Delete a prediction",
    params(
        ("id" = i64, Path, example = 1, description = "The prediction's id."),
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
    predictions::delete(&mut tx, &actor, id).await?;
    state.db.commit(tx).await?;
    Ok(StatusCode::NO_CONTENT)
}
