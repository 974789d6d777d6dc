//! `/api/dm/actions`: Label Studio's data manager actions on selected tasks.

use axum::extract::State;
use axum::routing::post;
use axum::{Extension, Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::AppState;
use super::error::{ApiError, ApiResult};
use super::extract::{LsJson, LsQuery};
use crate::labeling::{Actor, annotations, predictions, projects, tasks};

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

    let mut tx = state.db.begin().await?;
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
