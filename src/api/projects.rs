//! `/api/projects/...`: projects, import, and a project's tasks.

use axum::extract::{FromRequest, Multipart, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde::Deserialize;
use serde_json::Value;

use super::AppState;
use super::error::{ApiError, ApiResult};
use super::extract::{Id, LsJson, LsQuery, as_object, body_bytes, parse_json};
use super::pagination::{PageQuery, envelope};
use crate::labeling::import::{self, ImportSource};
use crate::labeling::{projects, tasks};
use crate::shared::Actor;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/projects", get(list).post(create))
        .route(
            "/api/projects/{id}",
            get(read).patch(update).put(update).delete(remove),
        )
        .route("/api/projects/{id}/import", post(import_tasks))
        .route(
            "/api/projects/{id}/tasks",
            get(list_tasks).delete(delete_all_tasks),
        )
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    #[serde(flatten)]
    page: PageQuery,
    title: Option<String>,
    ids: Option<String>,
}

#[utoipa::path(
    get,
    path = "/api/projects",
    tag = "projects",
    operation_id = "projects_list",
    summary = "List projects",
    description = "Newest first; paged (default page size 30).",
    params(
        ("page" = Option<i64>, Query, minimum = 1, description = "Page number, from 1."),
        ("page_size" = Option<i64>, Query, minimum = 1, description = "Items per page (larger values are cut to 10000)."),
        ("title" = Option<String>, Query, description = "Only projects whose title contains this (case-insensitive)."),
        ("ids" = Option<String>, Query, pattern = "^ *-?[0-9]+ *(, *-?[0-9]+ *)*$", description = "Only these projects: comma-separated ids such as `1,2`."),
    ),
    responses(
        (status = 200, description = "A page of projects", body = super::openapi::ProjectPage),
        (status = 400, response = super::openapi::BadRequest),
        (status = 401, response = super::openapi::Unauthorized),
    ),
    security(("token" = [])),
)]
async fn list(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    headers: HeaderMap,
    LsQuery(query): LsQuery<ListQuery>,
) -> ApiResult<Json<Value>> {
    let page = query.page.page(30)?;
    let ids = match query.ids.as_deref().filter(|s| !s.trim().is_empty()) {
        Some(text) => Some(
            text.split(',')
                .map(|s| s.trim().parse::<i64>())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|_| {
                    ApiError::field("ids", "A comma-separated list of project ids is required.")
                })?,
        ),
        None => None,
    };
    let filter = projects::ListFilter {
        title: query.title,
        ids,
    };
    let mut conn = state.db.reader().acquire().await?;
    let (found, count) =
        projects::list(&mut conn, &actor, &filter, page.offset(), page.size).await?;
    let results = found.iter().map(|p| p.api(true)).collect();
    Ok(Json(envelope(
        &headers,
        "/api/projects/",
        &page,
        count,
        results,
    )))
}

#[utoipa::path(
    post,
    path = "/api/projects",
    tag = "projects",
    operation_id = "projects_create",
    summary = "Create a project",
    description = "Emits PROJECT_CREATED. The statistics are `null` in this answer, as in Label Studio.",
    request_body(content = super::openapi::ProjectInput, description = "The project's fields; all optional.", content_type = "application/json"),
    responses(
        (status = 201, description = "The new project", body = super::openapi::Project),
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
    let input = as_object(input)?;
    let mut tx = state.db.begin().await?;
    let project = projects::create(&mut tx, &actor, &input).await?;
    state.db.commit(tx).await?;
    Ok((StatusCode::CREATED, Json(project.api(false))))
}

#[utoipa::path(
    get,
    path = "/api/projects/{id}",
    tag = "projects",
    operation_id = "projects_read",
    summary = "Read a project",
    params(
        ("id" = i64, Path, example = 1, description = "The project's id."),
    ),
    responses(
        (status = 200, description = "The project", body = super::openapi::Project),
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
    Ok(Json(projects::get(&mut conn, &actor, id).await?.api(true)))
}

#[utoipa::path(
    patch,
    path = "/api/projects/{id}",
    tag = "projects",
    operation_id = "projects_update",
    summary = "Update a project",
    description = "Only the keys sent change (PUT behaves the same). Emits PROJECT_UPDATED.",
    params(
        ("id" = i64, Path, example = 1, description = "The project's id."),
    ),
    request_body(content = super::openapi::ProjectInput, description = "The fields to change.", content_type = "application/json"),
    responses(
        (status = 200, description = "The updated project", body = super::openapi::Project),
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
    let project = projects::update(&mut tx, &actor, id, &input).await?;
    state.db.commit(tx).await?;
    Ok(Json(project.api(true)))
}

#[utoipa::path(
    delete,
    path = "/api/projects/{id}",
    tag = "projects",
    operation_id = "projects_delete",
    summary = "Delete a project",
    description = "With its tasks, annotations and predictions. Emits PROJECT_DELETED.",
    params(
        ("id" = i64, Path, example = 1, description = "The project's id."),
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
    let mut tx = state.db.begin_large().await?;
    projects::delete(&mut tx, &actor, id).await?;
    state.db.commit(tx).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A JSON body, or multipart files (`.json`, `.jsonl`, `.csv`, `.tsv`, `.txt`).
#[utoipa::path(
    post,
    path = "/api/projects/{id}/import",
    tag = "projects",
    operation_id = "projects_import",
    summary = "Import tasks",
    description = "A JSON list of tasks (or one task), or multipart form data with files (`.json`, `.jsonl`, `.csv`, `.tsv`, `.txt`). One transaction; TASKS_CREATED in batches.",
    params(
        ("id" = i64, Path, example = 1, description = "The project's id."),
    ),
    request_body(description = "Tasks as JSON, or files as multipart form data.", content((super::openapi::ImportBody = "application/json"), (super::openapi::ImportFiles = "multipart/form-data"))),
    responses(
        (status = 201, description = "What was imported", body = super::openapi::ImportResult),
        (status = 400, response = super::openapi::BadRequest),
        (status = 401, response = super::openapi::Unauthorized),
        (status = 404, response = super::openapi::NotFound),
        (status = 413, response = super::openapi::PayloadTooLarge),
    ),
    security(("token" = [])),
)]
async fn import_tasks(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Id(id): Id,
    request: Request,
) -> ApiResult<impl IntoResponse> {
    let content_type = request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let source = if content_type.starts_with("multipart/form-data") {
        ImportSource::Files(read_files(request, &state).await?)
    } else {
        let bytes = body_bytes(request, &state).await?;
        ImportSource::Json(parse_json(&bytes)?)
    };
    let mut tx = state.db.begin_large().await?;
    let answer = import::import(&mut tx, &actor, &state.labeling, id, source).await?;
    state.db.commit(tx).await?;
    Ok((StatusCode::CREATED, Json(answer)))
}

async fn read_files(request: Request, state: &AppState) -> ApiResult<Vec<(String, Vec<u8>)>> {
    let limit = state.settings.max_body_bytes;
    let mut multipart = Multipart::from_request(request, state)
        .await
        .map_err(|e| ApiError::field("file", format!("Could not read the upload: {e}")))?;
    let mut files = Vec::new();
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                return Err(ApiError::PayloadTooLarge(limit));
            }
            Err(e) => {
                return Err(ApiError::field(
                    "file",
                    format!("Could not read the upload: {e}"),
                ));
            }
        };
        let Some(name) = field.file_name().map(str::to_string) else {
            continue;
        };
        let bytes = field.bytes().await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge(limit)
            } else {
                ApiError::field("file", format!("Could not read {name}: {e}"))
            }
        })?;
        files.push((name, bytes.to_vec()));
    }
    Ok(files)
}

#[utoipa::path(
    get,
    path = "/api/projects/{id}/tasks",
    tag = "projects",
    operation_id = "projects_tasks_list",
    summary = "List a project's tasks",
    description = "A plain list (no envelope) of tasks with their annotations and predictions; paged (default page size 100).",
    params(
        ("id" = i64, Path, example = 1, description = "The project's id."),
        ("page" = Option<i64>, Query, minimum = 1, description = "Page number, from 1."),
        ("page_size" = Option<i64>, Query, minimum = 1, description = "Items per page (larger values are cut to 10000)."),
    ),
    responses(
        (status = 200, description = "The tasks", body = Vec<super::openapi::TaskDetail>),
        (status = 400, response = super::openapi::BadRequest),
        (status = 401, response = super::openapi::Unauthorized),
        (status = 404, response = super::openapi::NotFound),
    ),
    security(("token" = [])),
)]
async fn list_tasks(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Id(id): Id,
    LsQuery(query): LsQuery<PageQuery>,
) -> ApiResult<Json<Value>> {
    let page = query.page(100)?;
    let mut conn = state.db.reader().acquire().await?;
    projects::get(&mut conn, &actor, id).await?;
    let (found, _) = tasks::list(&mut conn, id, page.offset(), page.size).await?;
    let ids: Vec<i64> = found.iter().map(|t| t.id).collect();
    let (annotations, predictions) = tasks::children(&mut conn, &ids).await?;
    let items: Vec<Value> = found
        .iter()
        .map(|t| {
            t.api_detail(
                annotations.get(&t.id).map_or(&[][..], Vec::as_slice),
                predictions.get(&t.id).map_or(&[][..], Vec::as_slice),
            )
        })
        .collect();
    Ok(Json(Value::Array(items)))
}

#[utoipa::path(
    delete,
    path = "/api/projects/{id}/tasks",
    tag = "projects",
    operation_id = "projects_tasks_delete",
    summary = "Delete all tasks of a project",
    description = "Emits TASKS_DELETED.",
    params(
        ("id" = i64, Path, example = 1, description = "The project's id."),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, response = super::openapi::Unauthorized),
        (status = 404, response = super::openapi::NotFound),
    ),
    security(("token" = [])),
)]
async fn delete_all_tasks(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Id(id): Id,
) -> ApiResult<impl IntoResponse> {
    let mut tx = state.db.begin_large().await?;
    projects::get(&mut tx, &actor, id).await?;
    let ids = tasks::ids_in_project(&mut tx, id, None).await?;
    tasks::delete_many(&mut tx, &state.labeling, id, &ids).await?;
    state.db.commit(tx).await?;
    Ok(StatusCode::NO_CONTENT)
}
