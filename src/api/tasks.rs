//! `/api/tasks/...`: tasks one at a time, and the project task list in Label Studio's shape.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{AppendHeaders, IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use super::data_manager::selection_from;
use super::error::{ApiError, ApiResult};
use super::extract::{Caller, Id, LsJson, LsQuery, required_query_id};
use super::pagination::PageQuery;
use super::route::{Route, delete, get, patch_or_put, post, tagged};
use crate::labeling::projects;
use crate::labeling::render::{TaskDetailView, TaskListItemView, TaskView};
use crate::labeling::tasks::{self, TaskInput, TaskSelection, TaskUpdate};
use crate::shared::Role;

pub(super) fn routes() -> Vec<Route> {
    tagged(
        "tasks",
        [
            get("/api/tasks", list)
                .doc("tasks_list", "List a project's tasks (data manager)")
                .needs(Role::Annotator)
                .about("Label Studio's data manager list: `{total, total_annotations, total_predictions, tasks}`; paged (default page size 100).")
                .query::<PageQuery>()
                .query::<ListQuery>()
                .may_be_missing()
                .ok::<TaskList>("The tasks"),
            post("/api/tasks", create)
                .doc("tasks_create", "Create a task")
                .needs(Role::Manager)
                .about("Emits TASKS_CREATED.")
                .json::<TaskInput>("The task.")
                .created::<TaskView>("The new task"),
            get("/api/tasks/{id}", read)
                .doc("tasks_read", "Read a task")
                .needs(Role::Annotator)
                .ok::<TaskDetailView>("The task with its annotations and predictions"),
            patch_or_put("/api/tasks/{id}", update)
                .doc("tasks_update", "Update a task")
                .needs(Role::Manager)
                .about("Only the keys sent change (PUT behaves the same).")
                .json::<TaskUpdate>("The fields to change.")
                .ok::<TaskView>("The updated task"),
            delete("/api/tasks/{id}", remove)
                .doc("tasks_delete", "Delete a task")
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
    /// The project's id (required).
    #[param(value_type = i64, required = true)]
    project: Option<String>,
    /// `all` adds each task's `annotations` and `predictions`.
    fields: Option<String>,
    /// Label Studio's data manager query, as JSON: `{"filters": {"conjunction": "and",
    /// "items": [{"filter": "filter:tasks:total_annotations", "operator": "greater",
    /// "value": 0}]}, "ordering": ["-tasks:id"]}`. Filters and orders on id,
    /// total_annotations, cancelled_annotations, total_predictions and completed_at
    /// (`empty`: true = not finished).
    query: Option<String>,
}

/// `GET /api/tasks/?project=ID`: Label Studio's data manager list.
#[derive(Debug, Serialize, ToSchema)]
pub struct TaskList {
    total_annotations: i64,
    total_predictions: i64,
    /// Tasks in the project, over all pages.
    total: i64,
    tasks: Vec<TaskListItemView>,
}

/// `GET /api/tasks/?project=ID`: `{total, total_annotations, total_predictions, tasks}`.
async fn list(caller: Caller, LsQuery(query): LsQuery<ListQuery>) -> ApiResult<Json<TaskList>> {
    let page = query.page.page(100)?;
    let project_id = required_query_id("project", query.project.as_deref())?;
    let mut conn = caller.reader().await?;
    let project = projects::get(&mut conn, &caller.actor, project_id).await?;
    let selection = match query.query.as_deref().map(str::trim) {
        None | Some("") => TaskSelection::default(),
        Some(text) => {
            let parsed: Value = serde_json::from_str(text)
                .map_err(|e| ApiError::field("query", format!("Not valid JSON: {e}.")))?;
            let object = parsed.as_object().ok_or_else(|| {
                ApiError::field(
                    "query",
                    "Must be a JSON object: {\"filters\", \"ordering\"}.",
                )
            })?;
            selection_from(
                object.get("filters").unwrap_or(&Value::Null),
                object.get("ordering"),
                "query",
            )?
        }
    };
    let known_total = selection.total_from(&project.stats);
    let (found, total) = tasks::list(
        &mut conn,
        project_id,
        &selection,
        known_total,
        page.offset(),
        page.size,
    )
    .await?;
    let ids: Vec<i64> = found.iter().map(|t| t.id).collect();
    let (annotations, predictions) = tasks::children(&mut conn, &caller.actor, &ids).await?;
    let full = query.fields.as_deref() == Some("all");
    let items = found
        .iter()
        .map(|t| {
            t.api_list_item(
                annotations.get(&t.id).map_or(&[][..], Vec::as_slice),
                predictions.get(&t.id).map_or(&[][..], Vec::as_slice),
                full,
            )
        })
        .collect();
    Ok(Json(TaskList {
        total_annotations: project.stats.total_annotations_number,
        total_predictions: project.stats.total_predictions_number,
        total,
        tasks: items,
    }))
}

/// `POST /api/tasks/`: `{project, data, meta?, annotations?, predictions?}`; one
/// TASKS_CREATED.
async fn create(
    Caller { state, actor }: Caller,
    LsJson(input): LsJson<TaskInput>,
) -> ApiResult<(StatusCode, Json<TaskView>)> {
    let (project_id, item) = input.into_new()?;
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

async fn read(Caller { state, actor }: Caller, Id(id): Id) -> ApiResult<Response> {
    let mut conn = state.db.reader().acquire().await?;
    let mut task = tasks::get(&mut conn, &actor, id).await?;
    let mut prediction_error = None;
    if task.total_predictions == 0 {
        // Label Studio asks the project's ML backend as a task without predictions opens.
        let project = projects::get_unchecked(&mut conn, task.project_id).await?;
        drop(conn);
        prediction_error = super::stream::predict_on_open(&state, &actor, &project, &task).await;
        conn = state.db.reader().acquire().await?;
        task = tasks::get(&mut conn, &actor, id).await?;
    }
    let (annotations, predictions) = tasks::children(&mut conn, &actor, &[id]).await?;
    let view = task.api_detail(
        annotations.get(&id).map_or(&[][..], Vec::as_slice),
        predictions.get(&id).map_or(&[][..], Vec::as_slice),
    );
    let header = prediction_error.map(|message| {
        (
            super::stream::PREDICTION_ERROR,
            super::stream::header_text(&message),
        )
    });
    Ok((AppendHeaders(header), Json(view)).into_response())
}

async fn update(
    caller: Caller,
    Id(id): Id,
    LsJson(input): LsJson<TaskUpdate>,
) -> ApiResult<Json<TaskView>> {
    let task = caller
        .write(async |tx, actor| tasks::update(tx, actor, id, input).await)
        .await?;
    Ok(Json(task.api()))
}

async fn remove(Caller { state, actor }: Caller, Id(id): Id) -> ApiResult<StatusCode> {
    let mut tx = state.db.begin().await?;
    let task = tasks::get(&mut tx, &actor, id).await?;
    tasks::delete_many(&mut tx, &actor, &state.labeling, task.project_id, &[id]).await?;
    state.db.commit(tx).await?;
    Ok(StatusCode::NO_CONTENT)
}
