//! `/api/dm/actions`: Label Studio's data manager actions on selected tasks.

use axum::extract::State;
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::{IntoParams, PartialSchema, ToSchema};

use super::AppState;
use super::error::{ApiError, ApiResult};
use super::extract::{LsJson, LsQuery};
use super::openapi::DmActionInput;
use super::route::{Route, get, post, tagged};
use crate::labeling::{annotations, predictions, projects, tasks};
use crate::shared::Actor;

pub(super) fn routes() -> Vec<Route> {
    tagged(
        "data-manager",
        [
            get("/api/dm/actions", catalogue)
                .doc("dm_actions_list", "List data manager actions")
                .ignores_id_param(
                    "project",
                    "Accepted for Label Studio compatibility; the list is the same for every project.",
                )
                .ok_list::<DmAction>("The actions"),
            post("/api/dm/actions", run)
                .doc("dm_actions_run", "Run a data manager action")
                .about("On the selected tasks of the project; ids of other projects are ignored. Emits TASKS_DELETED, ANNOTATIONS_DELETED or ANNOTATION_CREATED as the action does.")
                .query::<ActionQuery>()
                .json::<DmActionInput>("The selected tasks.")
                .may_be_missing()
                .ok::<DmActionResult>("What was done"),
        ],
    )
}

/// The actions (id, title), in the order `GET /api/dm/actions` lists them.
const ACTIONS: &[(&str, &str)] = &[
    ("delete_tasks", "Delete tasks"),
    ("delete_tasks_annotations", "Delete annotations"),
    (
        "predictions_to_annotations",
        "Create annotations from predictions",
    ),
];

/// The action's id: one of [`ACTIONS`].
pub struct DmActionId;

impl PartialSchema for DmActionId {
    fn schema() -> RefOr<Schema> {
        let ids = ACTIONS.iter().map(|(id, _)| *id);
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(ids))
            .into()
    }
}

impl ToSchema for DmActionId {}

/// One data manager action.
#[derive(Debug, Serialize, ToSchema)]
pub struct DmAction {
    id: &'static str,
    title: &'static str,
    order: usize,
    permission: &'static str,
    /// Always `null`.
    #[schema(value_type = Option<Object>, required = true)]
    dialog: Option<Value>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DmActionResult {
    processed_items: usize,
    detail: String,
}

async fn catalogue() -> Json<Vec<DmAction>> {
    Json(
        ACTIONS
            .iter()
            .enumerate()
            .map(|(order, (id, title))| DmAction {
                id,
                title,
                order,
                permission: "tasks.change",
                dialog: None,
            })
            .collect(),
    )
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ActionQuery {
    /// The action.
    #[param(value_type = DmActionId, required = true)]
    id: Option<String>,
    /// The project's id.
    #[param(value_type = i64, required = true)]
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
) -> ApiResult<Json<DmActionResult>> {
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
    Ok(Json(DmActionResult {
        processed_items: processed,
        detail,
    }))
}
