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
use crate::labeling::{Actor, projects, tasks};

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

async fn read(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Id(id): Id,
) -> ApiResult<Json<Value>> {
    let mut conn = state.db.reader().acquire().await?;
    Ok(Json(projects::get(&mut conn, &actor, id).await?.api(true)))
}

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

async fn remove(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Id(id): Id,
) -> ApiResult<StatusCode> {
    let mut tx = state.db.begin().await?;
    projects::delete(&mut tx, &actor, id).await?;
    state.db.commit(tx).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A JSON body, or multipart files (`.json`, `.jsonl`, `.csv`, `.tsv`, `.txt`).
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
    let mut tx = state.db.begin().await?;
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

async fn delete_all_tasks(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Id(id): Id,
) -> ApiResult<impl IntoResponse> {
    let mut tx = state.db.begin().await?;
    projects::get(&mut tx, &actor, id).await?;
    let ids = tasks::ids_in_project(&mut tx, id, None).await?;
    tasks::delete_many(&mut tx, &state.labeling, id, &ids).await?;
    state.db.commit(tx).await?;
    Ok(StatusCode::NO_CONTENT)
}
