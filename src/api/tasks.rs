//! `/api/tasks/...`: tasks one at a time, and the project task list in Label Studio's shape.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Extension, Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::AppState;
use super::error::{ApiError, ApiResult};
use super::extract::{Id, LsJson, LsQuery, as_object};
use super::pagination::PageQuery;
use crate::labeling::projects;
use crate::labeling::tasks::{self, NewTask};
use crate::shared::Actor;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/tasks", get(list).post(create))
        .route(
            "/api/tasks/{id}",
            get(read).patch(update).put(update).delete(remove),
        )
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    #[serde(flatten)]
    page: PageQuery,
    project: Option<String>,
    fields: Option<String>,
}

/// `GET /api/tasks/?project=ID`: `{total, total_annotations, total_predictions, tasks}`.
#[utoipa::path(
    get,
    path = "/api/tasks",
    tag = "tasks",
    operation_id = "tasks_list",
    summary = "List a project's tasks (data manager)",
    description = "Label Studio's data manager list: `{total, total_annotations, total_predictions, tasks}`; paged (default page size 100).",
    params(
        ("project" = i64, Query, description = "The project's id (required)."),
        ("page" = Option<i64>, Query, minimum = 1, description = "Page number, from 1."),
        ("page_size" = Option<i64>, Query, minimum = 1, description = "Items per page (larger values are cut to 10000)."),
        ("fields" = Option<String>, Query, description = "`all` adds each task's `annotations` and `predictions`."),
    ),
    responses(
        (status = 200, description = "The tasks", body = super::openapi::TaskList),
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
    let page = query.page.page(100)?;
    let project_id = query
        .project
        .as_deref()
        .ok_or_else(|| {
            ApiError::field(
                "project",
                "This query parameter is required: ?project=<id>.",
            )
        })?
        .trim()
        .parse::<i64>()
        .map_err(|_| ApiError::field("project", "A valid integer is required."))?;
    let mut conn = state.db.reader().acquire().await?;
    let project = projects::get(&mut conn, &actor, project_id).await?;
    let (found, total) = tasks::list(&mut conn, project_id, page.offset(), page.size).await?;
    let ids: Vec<i64> = found.iter().map(|t| t.id).collect();
    let (annotations, predictions) = tasks::children(&mut conn, &ids).await?;
    let full = query.fields.as_deref() == Some("all");
    let items: Vec<Value> = found
        .iter()
        .map(|t| {
            t.api_list_item(
                annotations.get(&t.id).map_or(&[][..], Vec::as_slice),
                predictions.get(&t.id).map_or(&[][..], Vec::as_slice),
                full,
            )
        })
        .collect();
    Ok(Json(json!({
        "total_annotations": project.stats.total_annotations_number,
        "total_predictions": project.stats.total_predictions_number,
        "total": total,
        "tasks": items,
    })))
}

/// `POST /api/tasks/`: `{project, data, meta?, annotations?, predictions?}`; one
/// TASKS_CREATED.
#[utoipa::path(
    post,
    path = "/api/tasks",
    tag = "tasks",
    operation_id = "tasks_create",
    summary = "Create a task",
    description = "Emits TASKS_CREATED.",
    request_body(content = super::openapi::TaskCreate, description = "The task.", content_type = "application/json"),
    responses(
        (status = 201, description = "The new task", body = super::openapi::Task),
        (status = 400, response = super::openapi::BadRequest),
        (status = 401, response = super::openapi::Unauthorized),
        (status = 413, response = super::openapi::PayloadTooLarge),
    ),
    security(("token" = [])),
)]
async fn create(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    LsJson(input): LsJson<Value>,
) -> ApiResult<impl IntoResponse> {
    let mut input = as_object(input)?;
    let project_id = match input.remove("project") {
        None | Some(Value::Null) => {
            return Err(ApiError::field("project", "This field is required."));
        }
        Some(v) => v
            .as_i64()
            .ok_or_else(|| ApiError::field("project", "Incorrect type. Expected pk value."))?,
    };
    if !input.contains_key("data") {
        return Err(ApiError::field("data", "This field is required."));
    }
    let item = NewTask::from_item(Value::Object(input), "task").map_err(|e| match e {
        crate::shared::Error::Invalid { field, message } => ApiError::field(
            field.trim_start_matches("task.").trim_start_matches("task"),
            message,
        ),
        other => other.into(),
    })?;
    let mut tx = state.db.begin().await?;
    let project = projects::get(&mut tx, &actor, project_id)
        .await
        .map_err(|_| {
            ApiError::field(
                "project",
                format!("Invalid pk \"{project_id}\" - object does not exist."),
            )
        })?;
    let created =
        tasks::create_many(&mut tx, &actor, &state.labeling, &project, vec![item]).await?;
    state.db.commit(tx).await?;
    let task = created
        .tasks
        .first()
        .ok_or_else(|| anyhow::anyhow!("task was not created"))?;
    Ok((StatusCode::CREATED, Json(task.api())))
}

#[utoipa::path(
    get,
    path = "/api/tasks/{id}",
    tag = "tasks",
    operation_id = "tasks_read",
    summary = "Read a task",
    params(
        ("id" = i64, Path, example = 1, description = "The task's id."),
    ),
    responses(
        (status = 200, description = "The task with its annotations and predictions", body = super::openapi::TaskDetail),
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
    let task = tasks::get(&mut conn, &actor, id).await?;
    let (annotations, predictions) = tasks::children(&mut conn, &[id]).await?;
    Ok(Json(task.api_detail(
        annotations.get(&id).map_or(&[][..], Vec::as_slice),
        predictions.get(&id).map_or(&[][..], Vec::as_slice),
    )))
}

#[utoipa::path(
    patch,
    path = "/api/tasks/{id}",
    tag = "tasks",
    operation_id = "tasks_update",
    summary = "Update a task",
    description = "Only the keys sent change (PUT behaves the same).",
    params(
        ("id" = i64, Path, example = 1, description = "The task's id."),
    ),
    request_body(content = super::openapi::TaskUpdate, description = "The fields to change.", content_type = "application/json"),
    responses(
        (status = 200, description = "The updated task", body = super::openapi::Task),
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
    let task = tasks::update(&mut tx, &actor, id, &input).await?;
    state.db.commit(tx).await?;
    Ok(Json(task.api()))
}

#[utoipa::path(
    delete,
    path = "/api/tasks/{id}",
    tag = "tasks",
    operation_id = "tasks_delete",
    summary = "Delete a task",
    description = "Emits TASKS_DELETED.",
    params(
        ("id" = i64, Path, example = 1, description = "The task's id."),
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
    let task = tasks::get(&mut tx, &actor, id).await?;
    tasks::delete_many(&mut tx, &state.labeling, task.project_id, &[id]).await?;
    state.db.commit(tx).await?;
    Ok(StatusCode::NO_CONTENT)
}
