//! `/api/tasks/{id}/annotations/` and `/api/annotations/{id}/`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Extension, Json, Router};
use serde_json::Value;

use super::AppState;
use super::error::ApiResult;
use super::extract::{Id, LsJson, as_object};
use crate::labeling::{annotations, tasks};
use crate::shared::Actor;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/tasks/{id}/annotations", get(list).post(create))
        .route(
            "/api/annotations/{id}",
            get(read).patch(update).put(update).delete(remove),
        )
}

#[utoipa::path(
    get,
    path = "/api/tasks/{id}/annotations",
    tag = "annotations",
    operation_id = "annotations_list",
    summary = "List a task's annotations",
    params(
        ("id" = i64, Path, example = 1, description = "The task's id."),
    ),
    responses(
        (status = 200, description = "The annotations", body = Vec<super::openapi::Annotation>),
        (status = 401, response = super::openapi::Unauthorized),
        (status = 404, response = super::openapi::NotFound),
    ),
    security(("token" = [])),
)]
async fn list(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Id(task_id): Id,
) -> ApiResult<Json<Value>> {
    let mut conn = state.db.reader().acquire().await?;
    tasks::get(&mut conn, &actor, task_id).await?;
    let found = annotations::for_tasks(&mut conn, &[task_id]).await?;
    Ok(Json(found.iter().map(|a| a.api()).collect()))
}

/// Creates an annotation, or a skip with `was_cancelled: true`.
#[utoipa::path(
    post,
    path = "/api/tasks/{id}/annotations",
    tag = "annotations",
    operation_id = "annotations_create",
    summary = "Create an annotation",
    description = "Or a skip, with `was_cancelled: true`. Emits ANNOTATION_CREATED.",
    params(
        ("id" = i64, Path, example = 1, description = "The task's id."),
    ),
    request_body(content = super::openapi::AnnotationInput, description = "The annotation.", content_type = "application/json"),
    responses(
        (status = 201, description = "The new annotation", body = super::openapi::Annotation),
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
    Id(task_id): Id,
    LsJson(input): LsJson<Value>,
) -> ApiResult<impl IntoResponse> {
    let mut tx = state.db.begin().await?;
    let annotation = annotations::create(&mut tx, &actor, task_id, input).await?;
    state.db.commit(tx).await?;
    Ok((StatusCode::CREATED, Json(annotation.api())))
}

#[utoipa::path(
    get,
    path = "/api/annotations/{id}",
    tag = "annotations",
    operation_id = "annotations_read",
    summary = "Read an annotation",
    params(
        ("id" = i64, Path, example = 1, description = "The annotation's id."),
    ),
    responses(
        (status = 200, description = "The annotation", body = super::openapi::Annotation),
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
    Ok(Json(annotations::get(&mut conn, &actor, id).await?.api()))
}

#[utoipa::path(
    patch,
    path = "/api/annotations/{id}",
    tag = "annotations",
    operation_id = "annotations_update",
    summary = "Update an annotation",
    description = "Only the keys sent change (PUT behaves the same). Emits ANNOTATION_UPDATED.",
    params(
        ("id" = i64, Path, example = 1, description = "The annotation's id."),
    ),
    request_body(content = super::openapi::AnnotationInput, description = "The fields to change.", content_type = "application/json"),
    responses(
        (status = 200, description = "The updated annotation", body = super::openapi::Annotation),
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
    let annotation = annotations::update(&mut tx, &actor, id, &input).await?;
    state.db.commit(tx).await?;
    Ok(Json(annotation.api()))
}

#[utoipa::path(
    delete,
    path = "/api/annotations/{id}",
    tag = "annotations",
    operation_id = "annotations_delete",
    summary = "Delete an annotation",
    description = "Emits ANNOTATIONS_DELETED.",
    params(
        ("id" = i64, Path, example = 1, description = "The annotation's id."),
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
    annotations::delete(&mut tx, &actor, &state.labeling, id).await?;
    state.db.commit(tx).await?;
    Ok(StatusCode::NO_CONTENT)
}
