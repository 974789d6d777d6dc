//! `/api/projects/...`: projects, import, and a project's tasks.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{FromRequest, Multipart, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::error::{ApiError, ApiResult};
use super::extract::{Caller, Id, LsJson, LsQuery, body_bytes, parse_json};
use super::pagination::{Envelope, PageQuery, envelope};
use super::route::{Route, delete, get, named, patch_or_put, post, tagged};
use crate::labeling::import::{self, ImportResult, ImportSource};
use crate::labeling::projects::{ProjectChange, ProjectInput};
use crate::labeling::render::{ProjectView, TaskDetailView};
use crate::labeling::{projects, tasks};
use crate::shared::Role;

pub(super) fn routes() -> Vec<Route> {
    let (json_tasks, mut schemas) = named::<ImportBody>();
    let (files, file_schemas) = named::<ImportFiles>();
    schemas.extend(file_schemas);
    tagged(
        "projects",
        [
            get("/api/projects", list)
                .doc("projects_list", "List projects")
                .needs(Role::Annotator)
                .about("Newest first; paged (default page size 30).")
                .query::<PageQuery>()
                .query::<ListQuery>()
                .ok_page::<ProjectView>("ProjectPage", "A page of projects"),
            post("/api/projects", create)
                .doc("projects_create", "Create a project")
                .needs(Role::Manager)
                .about("Emits PROJECT_CREATED. The statistics are `null` in this answer, as in Label Studio.")
                .json::<ProjectInput>("The project's fields; all optional.")
                .created::<ProjectView>("The new project"),
            get("/api/projects/{id}", read)
                .doc("projects_read", "Read a project")
                .needs(Role::Annotator)
                .ok::<ProjectView>("The project"),
            patch_or_put("/api/projects/{id}", update)
                .doc("projects_update", "Update a project")
                .needs(Role::Manager)
                .about("Only the keys sent change (PUT behaves the same). Emits PROJECT_UPDATED.")
                .json::<ProjectInput>("The fields to change.")
                .ok::<ProjectView>("The updated project"),
            delete("/api/projects/{id}", remove)
                .doc("projects_delete", "Delete a project")
                .needs(Role::Manager)
                .about("With its tasks, annotations and predictions. Emits PROJECT_DELETED.")
                .no_content("Deleted"),
            post("/api/projects/{id}/import", import_tasks)
                .doc("projects_import", "Import tasks")
                .needs(Role::Manager)
                .about("A JSON list of tasks (or one task), or multipart form data with files (`.json`, `.jsonl`, `.csv`, `.tsv`, `.txt`). One transaction; TASKS_CREATED in batches.")
                .body(
                    "Tasks as JSON, or files as multipart form data.",
                    [("application/json", json_tasks), ("multipart/form-data", files)],
                    schemas,
                )
                .created::<ImportResult>("What was imported"),
            get("/api/projects/{id}/tasks", list_tasks)
                .doc("projects_tasks_list", "List a project's tasks")
                .needs(Role::Annotator)
                .about("A plain list (no envelope) of tasks with their annotations and predictions; paged (default page size 100).")
                .query::<PageQuery>()
                .ok_list::<TaskDetailView>("The tasks"),
            delete("/api/projects/{id}/tasks", delete_all_tasks)
                .doc("projects_tasks_delete", "Delete all tasks of a project")
                .needs(Role::Manager)
                .about("Emits TASKS_DELETED.")
                .no_content("Deleted"),
        ],
    )
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    #[serde(flatten)]
    #[param(ignore)]
    page: PageQuery,
    /// Only projects whose title contains this (case-insensitive).
    title: Option<String>,
    /// Only these projects: comma-separated ids such as `1,2`.
    #[param(pattern = "^ *-?[0-9]+ *(, *-?[0-9]+ *)*$")]
    ids: Option<String>,
}

async fn list(
    caller: Caller,
    headers: HeaderMap,
    LsQuery(query): LsQuery<ListQuery>,
) -> ApiResult<Json<Envelope<ProjectView>>> {
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
    let mut conn = caller.reader().await?;
    let (found, count) =
        projects::list(&mut conn, &caller.actor, &filter, page.offset(), page.size).await?;
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
    Caller { state, actor }: Caller,
    LsJson(input): LsJson<ProjectInput>,
) -> ApiResult<(StatusCode, Json<ProjectView>)> {
    // Parsed before the transaction opens: a large config must delay no one else's write.
    let change = ProjectChange::parse(input, state.labeling.label_config).await?;
    let project = state
        .db
        .write(async |tx| projects::create(tx, &actor, change).await)
        .await?;
    Ok((StatusCode::CREATED, Json(project.api(false))))
}

async fn read(caller: Caller, Id(id): Id) -> ApiResult<Json<ProjectView>> {
    let mut conn = caller.reader().await?;
    Ok(Json(
        projects::get(&mut conn, &caller.actor, id).await?.api(true),
    ))
}

async fn update(
    Caller { state, actor }: Caller,
    Id(id): Id,
    LsJson(input): LsJson<ProjectInput>,
) -> ApiResult<Json<ProjectView>> {
    let change = ProjectChange::parse(input, state.labeling.label_config).await?;
    let project = state
        .db
        .write(async |tx| projects::update(tx, &actor, id, change).await)
        .await?;
    Ok(Json(project.api(true)))
}

async fn remove(Caller { state, actor }: Caller, Id(id): Id) -> ApiResult<StatusCode> {
    let mut tx = state.db.begin_large().await?;
    projects::delete(&mut tx, &actor, id).await?;
    state.db.commit(tx).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A JSON body, or multipart files (`.json`, `.jsonl`, `.csv`, `.tsv`, `.txt`).
async fn import_tasks(
    Caller { state, actor }: Caller,
    Id(id): Id,
    request: Request,
) -> ApiResult<(StatusCode, Json<ImportResult>)> {
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
    // Parsed before the transaction opens: a large file must delay no one else's write.
    let prepared = {
        let mut conn = state.db.reader().acquire().await?;
        import::prepare(&mut conn, &actor, id, source).await?
    };
    let mut tx = state.db.begin_large().await?;
    let answer = import::import(&mut tx, &actor, &state.labeling, id, prepared).await?;
    state.db.commit(tx).await?;
    Ok((StatusCode::CREATED, Json(answer)))
}

/// The uploaded files, read part by part within `LABELHOOK_MAX_UPLOAD_BYTES` (the route's
/// body limit; a larger `Content-Length` is refused before reading).
async fn read_files(request: Request, state: &AppState) -> ApiResult<Vec<(String, Vec<u8>)>> {
    let limit = state.settings.max_upload_bytes;
    super::extract::refuse_declared_over(&request, limit, ApiError::upload_too_large)?;
    let mut multipart = Multipart::from_request(request, state)
        .await
        .map_err(|e| ApiError::field("file", format!("Could not read the upload: {e}")))?;
    let mut files = Vec::new();
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                return Err(ApiError::upload_too_large(limit));
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
                ApiError::upload_too_large(limit)
            } else {
                ApiError::field("file", format!("Could not read {name}: {e}"))
            }
        })?;
        files.push((name, bytes.to_vec()));
    }
    Ok(files)
}

async fn list_tasks(
    caller: Caller,
    Id(id): Id,
    LsQuery(query): LsQuery<PageQuery>,
) -> ApiResult<Json<Vec<TaskDetailView>>> {
    let page = query.page(100)?;
    let mut conn = caller.reader().await?;
    projects::get(&mut conn, &caller.actor, id).await?;
    let (found, _) = tasks::list(
        &mut conn,
        id,
        &tasks::TaskSelection::default(),
        Some(0), // the plain list has no total
        page.offset(),
        page.size,
    )
    .await?;
    let ids: Vec<i64> = found.iter().map(|t| t.id).collect();
    let (annotations, predictions) = tasks::children(&mut conn, &caller.actor, &ids).await?;
    let items = found
        .iter()
        .map(|t| {
            t.api_detail(
                annotations.get(&t.id).map_or(&[][..], Vec::as_slice),
                predictions.get(&t.id).map_or(&[][..], Vec::as_slice),
            )
        })
        .collect();
    Ok(Json(items))
}

async fn delete_all_tasks(Caller { state, actor }: Caller, Id(id): Id) -> ApiResult<StatusCode> {
    let mut tx = state.db.begin_large().await?;
    projects::get(&mut tx, &actor, id).await?;
    let ids = tasks::ids_in_project(&mut tx, id, None).await?;
    tasks::delete_many(&mut tx, &actor, &state.labeling, id, &ids).await?;
    state.db.commit(tx).await?;
    Ok(StatusCode::NO_CONTENT)
}

// The import's body as the OpenAPI document describes it: the handler reads it by its
// content type (`import::prepare` checks each task).

/// `POST /api/projects/{id}/import` with a JSON body: a list of tasks, or one task. Each task
/// is `{"data": {...}, "meta"?, "annotations"?, "predictions"?}` or a flat object that is
/// the data itself.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
#[schema(example = json!([{"text": "great"}, {"data": {"text": "awful"}, "meta": {"source": "import"}}]))]
#[allow(dead_code)]
pub enum ImportBody {
    Tasks(Vec<BTreeMap<String, Value>>),
    #[schema(value_type = Object)]
    Task(BTreeMap<String, Value>),
}

/// `POST /api/projects/{id}/import` as multipart form data: one or more files (`.json`,
/// `.jsonl`, `.csv`, `.tsv`, `.txt`), each in a part with a file name.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct ImportFiles {
    #[schema(value_type = Vec<String>, format = Binary)]
    file: Vec<Vec<u8>>,
}
