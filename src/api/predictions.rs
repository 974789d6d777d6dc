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
use crate::labeling::{Actor, predictions};

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

async fn read(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Id(id): Id,
) -> ApiResult<Json<Value>> {
    let mut conn = state.db.reader().acquire().await?;
    Ok(Json(predictions::get(&mut conn, &actor, id).await?.api()))
}

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
