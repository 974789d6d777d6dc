//! `/api/dm/actions`: Label Studio's data manager actions on selected tasks.

use axum::extract::State;
use axum::routing::post;
use axum::{Extension, Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::AppState;
use super::error::{ApiError, ApiResult};
use super::extract::{LsJson, LsQuery};
use crate::labeling::{annotations, predictions, projects, tasks};
use crate::shared::Actor;

pub fn routes() -> Router<AppState> {
    Router::new().route("/api/dm/actions", post(run).get(catalogue))
}

const ACTIONS: &[(&str, &str)] = &[
    ("delete_tasks", "Delete tasks"),
    ("delete_tasks_annotations", "Delete annotations"),
    (
        "predictions_to_annotations",
        "Create annotations from predictions",
    ),
];

#[utoipa::path(
    get,
    path = "/api/dm/actions",
    tag = "data-manager",
    operation_id = "dm_actions_list",
    summary = "List data manager actions",
    params(
        ("project" = Option<i64>, Query, description = "Accepted for Label Studio compatibility; the list is the same for every project."),
    ),
    responses(
        (status = 200, description = "The actions", body = Vec<super::openapi::DmAction>),
        (status = 401, response = super::openapi::Unauthorized),
    ),
    security(("token" = [])),
)]
async fn catalogue() -> Json<Value> {
    Json(
        ACTIONS
            .iter()
            .enumerate()
            .map(|(order, (id, title))| json!({"id": id, "title": title, "order": order, "permission": "tasks.change", "dialog": null}))
            .collect(),
    )
}

#[derive(Debug, Deserialize)]
struct ActionQuery {
    id: Option<String>,
    project: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ActionBody {
    #[serde(rename = "selectedItems")]
    selected_items: Option<Selection>,
}

#[derive(Debug, Deserialize)]
struct Selection {
    all: bool,
    #[serde(default)]
    included: Vec<i64>,
    #[serde(default)]
    excluded: Vec<i64>,
}

#[utoipa::path(
    post,
    path = "/api/dm/actions",
    tag = "data-manager",
    operation_id = "dm_actions_run",
    summary = "Run a data manager action",
    description = "On the selected tasks of the project; ids of other projects are ignored. Emits TASKS_DELETED, ANNOTATIONS_DELETED or ANNOTATION_CREATED as the action does.",
    params(
        ("id" = super::openapi::DmActionId, Query, description = "The action."),
        ("project" = i64, Query, description = "The project's id."),
    ),
    request_body(content = super::openapi::DmActionInput, description = "The selected tasks.", content_type = "application/json"),
    responses(
        (status = 200, description = "What was done", body = super::openapi::DmActionResult),
        (status = 400, response = super::openapi::BadRequest),
        (status = 401, response = super::openapi::Unauthorized),
        (status = 404, response = super::openapi::NotFound),
        (status = 413, response = super::openapi::PayloadTooLarge),
    ),
    security(("token" = [])),
)]
async fn run(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    LsQuery(query): LsQuery<ActionQuery>,
    LsJson(body): LsJson<ActionBody>,
) -> ApiResult<Json<Value>> {
    let action = query
        .id
        .ok_or_else(|| ApiError::field("id", "This query parameter is required: ?id=<action>."))?;
    if !ACTIONS.iter().any(|(id, _)| *id == action) {
        return Err(ApiError::field(
            "id",
            format!(
                "\"{action}\" is not a supported action; use one of delete_tasks, delete_tasks_annotations, predictions_to_annotations."
            ),
        ));
    }
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
    let selection = body
        .selected_items
        .ok_or_else(|| ApiError::field("selectedItems", "This field is required."))?;

    let mut tx = state.db.begin_large().await?;
    let project = projects::get(&mut tx, &actor, project_id).await?;
    // Only tasks of this project are touched, whatever ids were sent.
    let task_ids = if selection.all {
        let mut ids = tasks::ids_in_project(&mut tx, project_id, None).await?;
        ids.retain(|id| !selection.excluded.contains(id));
        ids
    } else {
        tasks::ids_in_project(&mut tx, project_id, Some(&selection.included)).await?
    };
    let (processed, detail) = match action.as_str() {
        "delete_tasks" => {
            let n = tasks::delete_many(&mut tx, &state.labeling, project_id, &task_ids).await?;
            (n, format!("Deleted {n} tasks"))
        }
        "delete_tasks_annotations" => {
            let n = annotations::delete_for_tasks(&mut tx, &state.labeling, project_id, &task_ids)
                .await?;
            (n, format!("Deleted {n} annotations"))
        }
        _ => {
            let n =
                predictions::to_annotations(&mut tx, &actor, &state.labeling, &project, &task_ids)
                    .await?;
            (n, format!("Created {n} annotations"))
        }
    };
    state.db.commit(tx).await?;
    Ok(Json(
        json!({ "processed_items": processed, "detail": detail }),
    ))
}
