//! Tasks: created one at a time, in bulk by import, listed per project, deleted one, many or
//! all at once.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use utoipa::ToSchema;

use super::annotations::{self, Annotation, AnnotationInput, NewAnnotation};
use super::predictions::{self, NewPrediction, Prediction, PredictionInput};
use super::projects::{self, Project};
use super::{LabelingSettings, stats, stored_json};
use crate::events::{self, Action};
use crate::shared::{Actor, Error, Patch, Pk, ReadOnly, Result};
use crate::store::time;
use crate::store::{self, Conn, Row};

#[derive(Debug, Clone)]
pub struct Task {
    pub id: i64,
    pub project_id: i64,
    pub inner_id: i64,
    pub data: Value,
    pub meta: Value,
    pub overlap: i64,
    pub is_labeled: bool,
    pub total_annotations: i64,
    pub cancelled_annotations: i64,
    pub total_predictions: i64,
    /// Who made it (a user id; `None` for rows older than the audit).
    pub created_by: Option<i64>,
    pub updated_by: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

const SELECT: &str = "SELECT t.id, t.project_id, t.inner_id, t.data, t.meta, t.overlap, \
    t.is_labeled, t.total_annotations, t.cancelled_annotations, t.total_predictions, \
    t.created_by, t.updated_by, t.created_at, t.updated_at FROM tasks t";

/// The columns of [`SELECT`], for a statement that reads a task beside other things.
pub(super) const SELECT_COLUMNS: &str = "t.id, t.project_id, t.inner_id, t.data, t.meta, \
    t.overlap, t.is_labeled, t.total_annotations, t.cancelled_annotations, \
    t.total_predictions, t.created_by, t.updated_by, t.created_at, t.updated_at";

/// The columns of [`SELECT`] without the table's alias, for `RETURNING` (a change that
/// answers the task's state in the same statement).
pub(super) const COLUMNS: &str = "id, project_id, inner_id, data, meta, overlap, \
    is_labeled, total_annotations, cancelled_annotations, total_predictions, \
    created_by, updated_by, created_at, updated_at";

pub(super) fn from_row(row: &Row) -> store::Result<Task> {
    Ok(Task {
        id: row.try_get("id")?,
        project_id: row.try_get("project_id")?,
        inner_id: row.try_get("inner_id")?,
        data: stored_json(row.try_get("data")?),
        meta: stored_json(row.try_get("meta")?),
        overlap: row.try_get("overlap")?,
        is_labeled: row.try_get::<i64, _>("is_labeled")? != 0,
        total_annotations: row.try_get("total_annotations")?,
        cancelled_annotations: row.try_get("cancelled_annotations")?,
        total_predictions: row.try_get("total_predictions")?,
        created_by: row.try_get("created_by")?,
        updated_by: row.try_get("updated_by")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// Loads a task of the actor's organization (404 otherwise).
pub async fn get(conn: &mut Conn, actor: &Actor, id: i64) -> Result<Task> {
    let sql = format!(
        "{SELECT} JOIN projects p ON p.id = t.project_id WHERE t.id = $1 AND p.organization_id = $2"
    );
    store::query(&sql)
        .bind(id)
        .bind(actor.organization_id)
        .fetch_found(&mut *conn, "Task", from_row)
        .await
}

/// Loads tasks by id, in id order.
pub async fn get_many(conn: &mut Conn, ids: &[i64]) -> Result<Vec<Task>> {
    let rows = store::fetch_by_ids(conn, ids, |list| {
        format!("{SELECT} WHERE t.id IN ({list}) ORDER BY t.id")
    })
    .await?;
    Ok(rows.iter().map(from_row).collect::<store::Result<_>>()?)
}

/// A counter or state of a task that the data manager filters and sorts by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskColumn {
    Id,
    TotalAnnotations,
    CancelledAnnotations,
    TotalPredictions,
    /// Finished per the project's overlap (`is_labeled`; Label Studio's `completed_at`).
    Completed,
}

impl TaskColumn {
    fn sql(self) -> &'static str {
        match self {
            TaskColumn::Id => "t.id",
            TaskColumn::TotalAnnotations => "t.total_annotations",
            TaskColumn::CancelledAnnotations => "t.cancelled_annotations",
            TaskColumn::TotalPredictions => "t.total_predictions",
            TaskColumn::Completed => "t.is_labeled",
        }
    }
}

/// A comparison of a column with a number (`Completed` compares as 1 finished, 0 not).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    Equal,
    NotEqual,
    Greater,
    GreaterOrEqual,
    Less,
    LessOrEqual,
}

/// Which of a project's tasks, in which order: the data manager's filters and ordering.
#[derive(Debug, Clone)]
pub struct TaskSelection {
    pub conditions: Vec<(TaskColumn, Comparison, i64)>,
    /// `or` rather than `and` between the conditions.
    pub any: bool,
    pub order_by: TaskColumn,
    pub descending: bool,
}

impl Default for TaskSelection {
    fn default() -> Self {
        TaskSelection {
            conditions: Vec::new(),
            any: false,
            order_by: TaskColumn::Id,
            descending: false,
        }
    }
}

impl TaskSelection {
    /// `AND (...)` for the conditions, or nothing. The values are numbers, never text.
    fn where_sql(&self) -> String {
        if self.conditions.is_empty() {
            return String::new();
        }
        let parts: Vec<String> = self
            .conditions
            .iter()
            .map(|(column, comparison, value)| {
                let op = match comparison {
                    Comparison::Equal => "=",
                    Comparison::NotEqual => "<>",
                    Comparison::Greater => ">",
                    Comparison::GreaterOrEqual => ">=",
                    Comparison::Less => "<",
                    Comparison::LessOrEqual => "<=",
                };
                format!("{} {op} {value}", column.sql())
            })
            .collect();
        format!(
            " AND ({})",
            parts.join(if self.any { " OR " } else { " AND " })
        )
    }

    /// The order, with the id breaking ties in the same direction (so that the order
    /// follows an index and pages never overlap).
    fn order_sql(&self) -> String {
        let direction = if self.descending { "DESC" } else { "ASC" };
        match self.order_by {
            TaskColumn::Id => format!("t.id {direction}"),
            column => format!("{} {direction}, t.id {direction}", column.sql()),
        }
    }
}

impl TaskSelection {
    /// How many tasks the selection holds, when the project's statistics say it: all
    /// tasks, finished ones, unfinished ones. Counting rows instead reads every index
    /// entry, which at 100,000 tasks is most of a page's time (on PostgreSQL, the rows too
    /// until a vacuum has marked them visible).
    pub fn total_from(&self, stats: &projects::ProjectStats) -> Option<i64> {
        match self.conditions.as_slice() {
            [] => Some(stats.task_number),
            [(TaskColumn::Completed, Comparison::Equal, 1)] => Some(stats.finished_task_number),
            [(TaskColumn::Completed, Comparison::Equal, 0)] => {
                Some(stats.task_number - stats.finished_task_number)
            }
            _ => None,
        }
    }
}

/// A page of a project's tasks as `selection` filters and orders them, with how many
/// tasks the selection holds (`known_total` when the caller knows it, else counted).
pub async fn list(
    conn: &mut Conn,
    project_id: i64,
    selection: &TaskSelection,
    known_total: Option<i64>,
    offset: i64,
    limit: i64,
) -> Result<(Vec<Task>, i64)> {
    let filter = selection.where_sql();
    let total: i64 = match known_total {
        Some(total) => total,
        None => {
            store::query_scalar(&format!(
                "SELECT COUNT(*) FROM tasks t WHERE t.project_id = $1{filter}"
            ))
            .bind(project_id)
            .fetch_one(&mut *conn)
            .await?
        }
    };
    let sql = format!(
        "{SELECT} WHERE t.project_id = $1{filter} ORDER BY {} LIMIT {limit} OFFSET {offset}",
        selection.order_sql()
    );
    let rows = store::query(&sql)
        .bind(project_id)
        .fetch_all(&mut *conn)
        .await?;
    let tasks = rows.iter().map(from_row).collect::<store::Result<_>>()?;
    Ok((tasks, total))
}

/// The ids of a project's tasks that `selection` holds, in id order.
pub async fn selected_ids(
    conn: &mut Conn,
    project_id: i64,
    selection: &TaskSelection,
) -> Result<Vec<i64>> {
    let sql = format!(
        "SELECT t.id FROM tasks t WHERE t.project_id = $1{} ORDER BY t.id",
        selection.where_sql()
    );
    Ok(store::query_scalar(&sql)
        .bind(project_id)
        .fetch_all(&mut *conn)
        .await?)
}

/// The annotations and predictions of the given tasks, grouped by task id; of the
/// annotations, those `actor` may see (an annotator: their own).
pub async fn children(
    conn: &mut Conn,
    actor: &Actor,
    task_ids: &[i64],
) -> Result<(HashMap<i64, Vec<Annotation>>, HashMap<i64, Vec<Prediction>>)> {
    let mut by_task_a: HashMap<i64, Vec<Annotation>> = HashMap::new();
    let mut by_task_p: HashMap<i64, Vec<Prediction>> = HashMap::new();
    for chunk in task_ids.chunks(500) {
        for a in annotations::for_tasks(conn, chunk).await? {
            if !annotations::visible_to(actor, &a) {
                continue;
            }
            by_task_a.entry(a.task_id).or_default().push(a);
        }
        for p in predictions::for_tasks(conn, chunk).await? {
            by_task_p.entry(p.task_id).or_default().push(p);
        }
    }
    Ok((by_task_a, by_task_p))
}

pub fn id_list(ids: &[i64]) -> String {
    ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
}

/// One task to create, as a client sent it.
#[derive(Debug)]
pub struct NewTask {
    pub data: Map<String, Value>,
    pub meta: Value,
    pub annotations: Vec<NewAnnotation>,
    pub predictions: Vec<NewPrediction>,
}

/// `POST /api/tasks/`: one task of `project`, with its annotations and predictions.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[schema(example = json!({"project": 1, "data": {"text": "great"}}))]
pub struct TaskInput {
    /// The project's id.
    #[serde(default)]
    #[schema(value_type = i64, required = true)]
    pub project: Option<Pk>,
    #[serde(default)]
    #[schema(value_type = Object, required = true)]
    pub data: Patch<Map<String, Value>>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub meta: Option<Map<String, Value>>,
    /// Annotations to create with the task.
    #[serde(default)]
    #[schema(nullable = false)]
    pub annotations: Option<Vec<AnnotationInput>>,
    /// Predictions to create with the task (their `task` is this one).
    #[serde(default)]
    #[schema(value_type = Option<Vec<PredictionInput>>, nullable = false)]
    pub predictions: Option<Vec<PredictionInput<ReadOnly>>>,
}

impl TaskInput {
    /// The project's id and the task to create in it.
    pub fn into_new(self) -> Result<(i64, NewTask)> {
        let Some(Pk(project)) = self.project else {
            return Err(Error::invalid("project", "This field is required."));
        };
        let data = match self.data {
            Patch::Value(data) => data,
            Patch::Absent => return Err(Error::invalid("data", "This field is required.")),
            Patch::Null => return Err(Error::invalid("data", "This field may not be null.")),
        };
        let task = NewTask {
            data,
            meta: Value::Object(self.meta.unwrap_or_default()),
            annotations: self
                .annotations
                .into_iter()
                .flatten()
                .map(Into::into)
                .collect(),
            predictions: self
                .predictions
                .into_iter()
                .flatten()
                .map(Into::into)
                .collect(),
        };
        Ok((project, task))
    }
}

/// `PATCH`/`PUT /api/tasks/{id}/`: the keys sent are changed (`is_labeled` is derived,
/// ignored).
#[derive(Debug, Default, Deserialize, Serialize, ToSchema)]
#[serde(default)]
#[schema(example = json!({"data": {"text": "changed"}}))]
pub struct TaskUpdate {
    #[schema(value_type = Object, nullable = false)]
    pub data: Patch<Map<String, Value>>,
    /// `null` empties it.
    #[schema(value_type = Option<Object>)]
    pub meta: Patch<Map<String, Value>>,
    #[schema(value_type = Option<i64>, nullable = false, minimum = 1, maximum = 2147483647)]
    pub overlap: Patch<i64>,
}

impl NewTask {
    /// Reads one import item: `{"data": {...}, "annotations": [...], "predictions": [...]}`
    /// or a flat object that is the data itself. `at` names the item in errors.
    pub fn from_item(item: Value, at: &str) -> Result<NewTask> {
        let Value::Object(mut object) = item else {
            return Err(Error::invalid(at, "Each task must be a JSON object."));
        };
        if !object.contains_key("data") {
            return Ok(NewTask {
                data: object,
                meta: json!({}),
                annotations: vec![],
                predictions: vec![],
            });
        }
        let data = match object.remove("data") {
            Some(Value::Object(data)) => data,
            _ => {
                return Err(Error::invalid(
                    format!("{at}.data"),
                    "Task data must be a JSON object.",
                ));
            }
        };
        let meta = match object.remove("meta") {
            None | Some(Value::Null) => json!({}),
            Some(meta @ Value::Object(_)) => meta,
            Some(_) => {
                return Err(Error::invalid(
                    format!("{at}.meta"),
                    "Task meta must be a JSON object.",
                ));
            }
        };
        let list = |key: &str, object: &mut Map<String, Value>| -> Result<Vec<Value>> {
            match object.remove(key) {
                None | Some(Value::Null) => Ok(vec![]),
                Some(Value::Array(items)) => Ok(items),
                Some(_) => Err(Error::invalid(
                    format!("{at}.{key}"),
                    "Expected a list of items.",
                )),
            }
        };
        let annotations = list("annotations", &mut object)?
            .into_iter()
            .enumerate()
            .map(|(i, v)| NewAnnotation::from_value(v, &format!("{at}.annotations.{i}")))
            .collect::<Result<_>>()?;
        let predictions = list("predictions", &mut object)?
            .into_iter()
            .enumerate()
            .map(|(i, v)| NewPrediction::from_value(v, &format!("{at}.predictions.{i}")))
            .collect::<Result<_>>()?;
        Ok(NewTask {
            data,
            meta,
            annotations,
            predictions,
        })
    }
}

/// What a bulk creation made.
#[derive(Debug, Default)]
pub struct Created {
    pub tasks: Vec<Task>,
    pub annotation_count: usize,
    pub prediction_count: usize,
}

/// Creates tasks (with any annotations and predictions they carry) and emits
/// TASKS_CREATED, plus ANNOTATIONS_CREATED when annotations came along.
pub async fn create_many(
    tx: &mut Conn,
    actor: &Actor,
    settings: &LabelingSettings,
    project: &Project,
    items: Vec<NewTask>,
) -> Result<Created> {
    let now = time::now();
    let count = items.len() as i64;
    let first_inner_id: i64 = store::query_scalar(
        "UPDATE projects SET next_inner_id = next_inner_id + $1 WHERE id = $2 \
         RETURNING next_inner_id - $1",
    )
    .bind(count)
    .bind(project.id)
    .fetch_one(&mut *tx)
    .await?;
    let mut task_ids = Vec::with_capacity(items.len());
    let mut annotation_ids = Vec::new();
    let mut touched = Vec::new();
    let mut prediction_count = 0;
    for (index, item) in items.into_iter().enumerate() {
        let task_id: i64 = store::query_scalar(
            "INSERT INTO tasks (project_id, inner_id, data, meta, overlap, created_at, updated_at, \
             created_by) VALUES ($1, $2, $3, $4, $5, $6, $6, $7) RETURNING id",
        )
        .bind(project.id)
        .bind(first_inner_id + index as i64)
        .bind(Value::Object(item.data).to_string())
        .bind(item.meta.to_string())
        .bind(project.maximum_annotations)
        .bind(now)
        .bind(actor.user_id)
        .fetch_one(&mut *tx)
        .await?;
        task_ids.push(task_id);
        if !item.annotations.is_empty() || !item.predictions.is_empty() {
            touched.push(task_id);
        }
        for annotation in item.annotations {
            let id = annotations::insert(tx, actor, project.id, task_id, annotation, true).await?;
            annotation_ids.push(id);
        }
        for prediction in item.predictions {
            predictions::insert(tx, actor, project.id, task_id, prediction).await?;
            prediction_count += 1;
        }
    }
    stats::add_tasks(tx, project.id, count).await?;
    // (The project is read again below, with every statistic as of the change.)
    let mut counting = project.clone();
    for task_id in &touched {
        stats::refresh_task(tx, &mut counting, *task_id).await?;
    }
    // Tasks that came with annotations were last updated by the importer, as after any
    // annotation.
    if !annotation_ids.is_empty() {
        for chunk in touched.chunks(500) {
            store::query(&format!(
                "UPDATE tasks SET updated_by = $1 WHERE id IN ({})",
                id_list(chunk)
            ))
            .bind(actor.user_id)
            .execute(&mut *tx)
            .await?;
        }
    }
    let tasks = get_many(tx, &task_ids).await?;
    let project = projects::get_unchecked(tx, project.id).await?;
    let scope = project.scope().by(actor.user_id);
    events::emit(tx, scope, Action::TasksCreated, async |_| {
        let snapshots: Vec<Value> = tasks.iter().map(Task::snapshot).collect();
        Ok(events::bulk_bodies(
            "tasks",
            snapshots,
            project.snapshot(),
            settings.batch_size,
        ))
    })
    .await?;
    if !annotation_ids.is_empty() {
        annotations::emit_bulk_created(tx, actor, settings, &project, &annotation_ids).await?;
    }
    Ok(Created {
        tasks,
        annotation_count: annotation_ids.len(),
        prediction_count,
    })
}

/// Applies a PATCH to a task (`data`, `meta`, `is_labeled` is derived and ignored).
pub async fn update(tx: &mut Conn, actor: &Actor, id: i64, input: TaskUpdate) -> Result<Task> {
    let task = get(tx, actor, id).await?;
    let data = match input.data {
        Patch::Absent => task.data.clone(),
        Patch::Null => return Err(Error::invalid("data", "This field may not be null.")),
        Patch::Value(data) => Value::Object(data),
    };
    let meta = match input.meta {
        Patch::Absent => task.meta.clone(),
        Patch::Null => json!({}),
        Patch::Value(meta) => Value::Object(meta),
    };
    let overlap = match input.overlap {
        Patch::Absent => task.overlap,
        Patch::Value(n) if n >= 1 && n <= i64::from(i32::MAX) => n,
        Patch::Null | Patch::Value(_) => {
            return Err(Error::invalid(
                "overlap",
                "Ensure this value is a whole number greater than or equal to 1.",
            ));
        }
    };
    store::query(
        "UPDATE tasks SET data = $1, meta = $2, overlap = $3, updated_by = $4, updated_at = $5 WHERE id = $6",
    )
    .bind(data.to_string())
    .bind(meta.to_string())
    .bind(overlap)
    .bind(actor.user_id)
    .bind(time::now())
    .bind(id)
    .execute(&mut *tx)
    .await?;
    if overlap != task.overlap {
        let mut project = projects::get_unchecked(tx, task.project_id).await?;
        stats::refresh_task(tx, &mut project, id).await?;
    }
    get(tx, actor, id).await
}

/// Records that `actor` changed the task at `now`: an annotation or a prediction made
/// through the API changes its task, as in Label Studio.
pub async fn touch(tx: &mut Conn, actor: &Actor, id: i64, now: i64) -> Result<()> {
    store::query("UPDATE tasks SET updated_by = $1, updated_at = $2 WHERE id = $3")
        .bind(actor.user_id)
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// Deletes tasks of one project (with their annotations and predictions) and emits
/// TASKS_DELETED. `ids` must already be known to belong to `project`.
pub async fn delete_many(
    tx: &mut Conn,
    actor: &Actor,
    settings: &LabelingSettings,
    project_id: i64,
    ids: &[i64],
) -> Result<usize> {
    if ids.is_empty() {
        return Ok(0);
    }
    for chunk in ids.chunks(500) {
        let list = id_list(chunk);
        for table in ["annotations", "predictions"] {
            store::query(&format!("DELETE FROM {table} WHERE task_id IN ({list})"))
                .execute(&mut *tx)
                .await?;
        }
        store::query(&format!("DELETE FROM tasks WHERE id IN ({list})"))
            .execute(&mut *tx)
            .await?;
    }
    stats::sum_project(tx, project_id).await?;
    let project = projects::get_unchecked(tx, project_id).await?;
    events::emit(
        tx,
        project.scope().by(actor.user_id),
        Action::TasksDeleted,
        async |_| {
            // Besides the id (Label Studio's), each task's project (label-studio #5520).
            let items = ids
                .iter()
                .map(|id| json!({ "id": id, "project": project_id }))
                .collect();
            Ok(events::bulk_bodies(
                "tasks",
                items,
                project.snapshot(),
                settings.batch_size,
            ))
        },
    )
    .await?;
    Ok(ids.len())
}

/// The ids of a project's tasks, all of them or those among `only`.
pub async fn ids_in_project(
    conn: &mut Conn,
    project_id: i64,
    only: Option<&[i64]>,
) -> Result<Vec<i64>> {
    match only {
        None => Ok(
            store::query_scalar("SELECT id FROM tasks WHERE project_id = $1 ORDER BY id")
                .bind(project_id)
                .fetch_all(&mut *conn)
                .await?,
        ),
        Some(only) => {
            let mut found = Vec::new();
            for chunk in only.chunks(500) {
                let sql = format!(
                    "SELECT id FROM tasks WHERE project_id = $1 AND id IN ({}) ORDER BY id",
                    id_list(chunk)
                );
                let ids: Vec<i64> = store::query_scalar(&sql)
                    .bind(project_id)
                    .fetch_all(&mut *conn)
                    .await?;
                found.extend(ids);
            }
            Ok(found)
        }
    }
}

#[cfg(test)]
mod tests {
    /// `COLUMNS` is `SELECT`'s list without the alias: a task read and a task returned by
    /// a change are parsed by the same `from_row`.
    #[test]
    fn returning_columns_are_the_selected_ones() {
        let selected = super::SELECT
            .trim_start_matches("SELECT ")
            .trim_end_matches(" FROM tasks t");
        assert_eq!(selected, super::SELECT_COLUMNS);
        assert_eq!(selected.replace("t.", ""), super::COLUMNS);
    }
}
