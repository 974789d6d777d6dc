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
use crate::labeling::{Actor, annotations, tasks};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/tasks/{id}/annotations", get(list).post(create))
        .route(
            "/api/annotations/{id}",
            get(read).patch(update).put(update).delete(remove),
        )
}

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

async fn read(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Id(id): Id,
) -> ApiResult<Json<Value>> {
    let mut conn = state.db.reader().acquire().await?;
    Ok(Json(annotations::get(&mut conn, &actor, id).await?.api()))
}

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
