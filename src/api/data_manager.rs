//! `/api/dm/actions`: Label Studio's data manager actions on selected tasks.

use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::{IntoParams, PartialSchema, ToSchema};

use super::error::{ApiError, ApiResult};
use super::extract::{Caller, LsJson, LsQuery, required_query_id};
use super::route::{Route, get, post, tagged};
use crate::labeling::tasks::{Comparison, TaskColumn, TaskSelection};
use crate::labeling::{annotations, predictions, projects, tasks};
use crate::shared::Role;

pub(super) fn routes() -> Vec<Route> {
    tagged(
        "data-manager",
        [
            get("/api/dm/actions", catalogue)
                .doc("dm_actions_list", "List data manager actions")
                .needs(Role::Annotator)
                .ignores_id_param(
                    "project",
                    "Accepted for Label Studio compatibility; the list is the same for every project.",
                )
                .ok_list::<DmAction>("The actions"),
            post("/api/dm/actions", run)
                .doc("dm_actions_run", "Run a data manager action")
                .needs(Role::Manager)
                .about("On the selected tasks of the project; ids of other projects are ignored. Emits TASKS_DELETED, ANNOTATIONS_DELETED or ANNOTATION_CREATED as the action does.")
                .query::<ActionQuery>()
                .json::<ActionBody>("The selected tasks.")
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

/// `POST /api/dm/actions?id=&project=`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"selectedItems": {"all": false, "included": [1]}}))]
struct ActionBody {
    #[serde(rename = "selectedItems")]
    #[schema(required = true)]
    selected_items: Option<Selection>,
    /// With `selectedItems.all`, the tasks the table shows (Label Studio sends its filters).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    filters: Option<Value>,
}

#[derive(Debug, Deserialize, ToSchema)]
struct Selection {
    /// All tasks of the project except `excluded`, or only `included`.
    all: bool,
    #[serde(default)]
    included: Vec<i64>,
    #[serde(default)]
    excluded: Vec<i64>,
}

async fn run(
    Caller { state, actor }: Caller,
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
    let project_id = required_query_id("project", query.project.as_deref())?;
    let selection = body
        .selected_items
        .ok_or_else(|| ApiError::field("selectedItems", "This field is required."))?;

    let mut tx = state.db.begin_large().await?;
    let project = projects::get(&mut tx, &actor, project_id).await?;
    // Only tasks of this project are touched, whatever ids were sent.
    let task_ids = if selection.all {
        let filtered = match &body.filters {
            Some(filters) if !filters.is_null() => selection_from(filters, None, "filters")?,
            _ => TaskSelection::default(),
        };
        let mut ids = tasks::selected_ids(&mut tx, project_id, &filtered).await?;
        ids.retain(|id| !selection.excluded.contains(id));
        ids
    } else {
        tasks::ids_in_project(&mut tx, project_id, Some(&selection.included)).await?
    };
    let (processed, detail) = match action.as_str() {
        "delete_tasks" => {
            let n =
                tasks::delete_many(&mut tx, &actor, &state.labeling, project_id, &task_ids).await?;
            (n, format!("Deleted {n} tasks"))
        }
        "delete_tasks_annotations" => {
            let n = annotations::delete_for_tasks(
                &mut tx,
                &actor,
                &state.labeling,
                project_id,
                &task_ids,
            )
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

/// Reads Label Studio's data manager query (`{"filters": {"conjunction", "items"},
/// "ordering": [...]}`) into a selection of tasks; `field` names the parameter in errors.
/// The filters and orderings on the task table's columns are understood; others are a
/// 400 that names them.
pub(super) fn selection_from(
    filters: &Value,
    ordering: Option<&Value>,
    field: &str,
) -> Result<TaskSelection, ApiError> {
    let bad = |message: String| ApiError::field(field, message);
    let mut selection = TaskSelection::default();
    if !filters.is_null() {
        let filters = filters.as_object().ok_or_else(|| {
            bad("filters must be an object: {\"conjunction\", \"items\"}.".into())
        })?;
        selection.any = match filters.get("conjunction").and_then(Value::as_str) {
            None | Some("and") => false,
            Some("or") => true,
            Some(other) => {
                return Err(bad(format!(
                    "\"{other}\" is not a conjunction; use and or or."
                )));
            }
        };
        let items = match filters.get("items") {
            None | Some(Value::Null) => &Vec::new(),
            Some(Value::Array(items)) => items,
            Some(_) => return Err(bad("filters.items must be a list.".into())),
        };
        for item in items {
            selection.conditions.push(condition(item).map_err(bad)?);
        }
    }
    match ordering {
        None | Some(Value::Null) => {}
        Some(Value::Array(keys)) => {
            if let Some(first) = keys.first() {
                let key = first
                    .as_str()
                    .ok_or_else(|| bad("ordering must be a list of column names.".into()))?;
                let (descending, name) = match key.strip_prefix('-') {
                    Some(rest) => (true, rest),
                    None => (false, key),
                };
                selection.order_by = column(name).ok_or_else(|| {
                    bad(format!(
                        "Cannot order by \"{key}\"; use tasks:id, tasks:total_annotations, tasks:cancelled_annotations, tasks:total_predictions or tasks:completed_at (- first for descending)."
                    ))
                })?;
                selection.descending = descending;
            }
        }
        Some(_) => return Err(bad("ordering must be a list of column names.".into())),
    }
    Ok(selection)
}

/// A column by its data manager name (`tasks:total_annotations`, with or without `tasks:`).
fn column(name: &str) -> Option<TaskColumn> {
    let name = name.strip_prefix("filter:").unwrap_or(name);
    let name = name.strip_prefix("tasks:").unwrap_or(name);
    Some(match name {
        "id" => TaskColumn::Id,
        "total_annotations" => TaskColumn::TotalAnnotations,
        "cancelled_annotations" => TaskColumn::CancelledAnnotations,
        "total_predictions" => TaskColumn::TotalPredictions,
        "completed_at" => TaskColumn::Completed,
        _ => return None,
    })
}

/// One filter item: `{"filter": "filter:tasks:total_annotations", "operator": "greater",
/// "value": 0}`; `tasks:completed_at` takes `empty` (true: not finished).
fn condition(item: &Value) -> Result<(TaskColumn, Comparison, i64), String> {
    let name = item
        .get("filter")
        .and_then(Value::as_str)
        .ok_or("Each filter item needs \"filter\", e.g. \"filter:tasks:total_annotations\".")?;
    let target = column(name).ok_or_else(|| {
        format!(
            "Cannot filter by \"{name}\"; use filter:tasks:id, total_annotations, cancelled_annotations, total_predictions or completed_at."
        )
    })?;
    let operator = item.get("operator").and_then(Value::as_str).unwrap_or("");
    let value = item.get("value");
    if target == TaskColumn::Completed {
        return match (operator, value.and_then(Value::as_bool)) {
            ("empty", Some(true)) => Ok((target, Comparison::Equal, 0)),
            ("empty", Some(false)) => Ok((target, Comparison::Equal, 1)),
            _ => Err(format!(
                "\"{name}\" takes the operator empty with true (not finished) or false (finished)."
            )),
        };
    }
    let comparison = match operator {
        "equal" => Comparison::Equal,
        "not_equal" => Comparison::NotEqual,
        "greater" => Comparison::Greater,
        "greater_or_equal" => Comparison::GreaterOrEqual,
        "less" => Comparison::Less,
        "less_or_equal" => Comparison::LessOrEqual,
        other => {
            return Err(format!(
                "\"{other}\" is not an operator for \"{name}\"; use equal, not_equal, greater, greater_or_equal, less or less_or_equal."
            ));
        }
    };
    let number = match value {
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(text)) => text.trim().parse::<i64>().ok(),
        _ => None,
    }
    .ok_or_else(|| format!("The value of the \"{name}\" filter must be a whole number."))?;
    Ok((target, comparison, number))
}
