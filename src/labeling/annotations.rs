//! Annotations (a skip is an annotation with `was_cancelled`).

use std::collections::HashSet;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use utoipa::ToSchema;

use super::projects::{self, Project};
use super::tasks::{self, id_list};
use super::{LabelingSettings, StoredJson, stats};
use crate::events::{self, Action};
use crate::shared::{Actor, Error, Patch, Pk, Result, Role};
use crate::store::{self, Conn, Row};
use crate::store::{flag, time};

#[derive(Debug, Clone)]
pub struct Annotation {
    pub id: i64,
    pub task_id: i64,
    pub project_id: i64,
    /// As stored (a result may be megabytes, and its parsed form many times that): written
    /// into answers unparsed, parsed only where a webhook body is built.
    pub result: Option<StoredJson>,
    pub was_cancelled: bool,
    pub ground_truth: bool,
    pub lead_time: Option<f64>,
    pub completed_by: Option<i64>,
    pub completed_by_email: Option<String>,
    pub updated_by: Option<i64>,
    pub unique_id: String,
    pub import_id: Option<i64>,
    pub last_action: Option<String>,
    pub bulk_created: bool,
    pub parent_prediction: Option<i64>,
    pub parent_annotation: Option<i64>,
    pub draft_created_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

const SELECT: &str = "SELECT a.id, a.task_id, a.project_id, a.result, a.was_cancelled, \
    a.ground_truth, a.lead_time, a.completed_by, u.email, a.updated_by, a.unique_id, \
    a.import_id, a.last_action, a.bulk_created, a.parent_prediction, a.parent_annotation, \
    a.draft_created_at, a.created_at, a.updated_at \
    FROM annotations a LEFT JOIN users u ON u.id = a.completed_by";

fn from_row(row: &Row) -> store::Result<Annotation> {
    let result: Option<String> = row.try_get("result")?;
    Ok(Annotation {
        id: row.try_get("id")?,
        task_id: row.try_get("task_id")?,
        project_id: row.try_get("project_id")?,
        result: result.map(StoredJson::new),
        was_cancelled: row.try_get::<i64, _>("was_cancelled")? != 0,
        ground_truth: row.try_get::<i64, _>("ground_truth")? != 0,
        lead_time: row.try_get("lead_time")?,
        completed_by: row.try_get("completed_by")?,
        completed_by_email: row.try_get("email")?,
        updated_by: row.try_get("updated_by")?,
        unique_id: row.try_get("unique_id")?,
        import_id: row.try_get("import_id")?,
        last_action: row.try_get("last_action")?,
        bulk_created: row.try_get::<i64, _>("bulk_created")? != 0,
        parent_prediction: row.try_get("parent_prediction")?,
        parent_annotation: row.try_get("parent_annotation")?,
        draft_created_at: row.try_get("draft_created_at")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// Whether `actor` may see (and so change) `annotation`: an annotator only their own;
/// reviewers and above every annotation of their organization.
pub fn visible_to(actor: &Actor, annotation: &Annotation) -> bool {
    actor.role.at_least(Role::Reviewer) || annotation.completed_by == Some(actor.user_id)
}

/// Loads an annotation of the actor's organization that the actor may see (404
/// otherwise: another annotator's annotation is as unknown to an annotator as another
/// organization's).
pub async fn get(conn: &mut Conn, actor: &Actor, id: i64) -> Result<Annotation> {
    let sql = format!(
        "{SELECT} JOIN projects p ON p.id = a.project_id WHERE a.id = $1 AND p.organization_id = $2"
    );
    let annotation = store::query(&sql)
        .bind(id)
        .bind(actor.organization_id)
        .fetch_found(&mut *conn, "Annotation", from_row)
        .await?;
    if !visible_to(actor, &annotation) {
        return Err(Error::NotFound("Annotation"));
    }
    Ok(annotation)
}

/// [`get`] without reading the result (`None`): for callers that hold it already.
async fn get_without_result(conn: &mut Conn, actor: &Actor, id: i64) -> Result<Annotation> {
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let sql = SQL.get_or_init(|| {
        format!(
            "{} JOIN projects p ON p.id = a.project_id WHERE a.id = $1 AND p.organization_id = $2",
            SELECT.replace("a.result,", "NULL AS result,")
        )
    });
    store::query(sql)
        .bind(id)
        .bind(actor.organization_id)
        .fetch_found(&mut *conn, "Annotation", from_row)
        .await
}

/// The annotations of the given tasks, in id order.
pub async fn for_tasks(conn: &mut Conn, task_ids: &[i64]) -> Result<Vec<Annotation>> {
    let rows = store::fetch_by_ids(conn, task_ids, |list| {
        format!("{SELECT} WHERE a.task_id IN ({list})")
    })
    .await?;
    let mut found = rows
        .iter()
        .map(from_row)
        .collect::<store::Result<Vec<_>>>()?;
    found.sort_by_key(|a| a.id);
    Ok(found)
}

async fn get_many(conn: &mut Conn, ids: &[i64]) -> Result<Vec<Annotation>> {
    let rows = store::fetch_by_ids(conn, ids, |list| {
        format!("{SELECT} WHERE a.id IN ({list}) ORDER BY a.id")
    })
    .await?;
    Ok(rows.iter().map(from_row).collect::<store::Result<_>>()?)
}

/// An annotation as a client sent it.
#[derive(Debug, Default)]
pub struct NewAnnotation {
    pub result: Option<StoredJson>,
    pub was_cancelled: bool,
    pub ground_truth: bool,
    pub lead_time: Option<f64>,
    pub import_id: Option<i64>,
    pub last_action: Option<String>,
    pub parent_prediction: Option<i64>,
    pub parent_annotation: Option<i64>,
}

/// An annotation as a client sends it: `POST /api/tasks/{id}/annotations/`, PATCH/PUT
/// `/api/annotations/{id}/` (only the keys sent change) and each item of an import's
/// `annotations`. `null` leaves a flag as it is and clears the others.
#[derive(Debug, Default, Deserialize, Serialize, ToSchema)]
#[serde(default)]
#[schema(example = json!({"result": [{"from_name": "label", "to_name": "text", "type": "choices", "value": {"choices": ["pos"]}}], "lead_time": 2.0}))]
pub struct AnnotationInput {
    /// Result items (or a JSON string holding the list).
    #[schema(value_type = Option<Vec<Value>>)]
    pub result: Patch<ResultText>,
    #[schema(value_type = Option<bool>)]
    pub was_cancelled: Patch<bool>,
    #[schema(value_type = Option<bool>)]
    pub ground_truth: Patch<bool>,
    #[schema(value_type = Option<f64>)]
    pub lead_time: Patch<f64>,
    #[schema(value_type = Option<i64>)]
    pub import_id: Patch<i64>,
    #[schema(value_type = Option<String>)]
    pub last_action: Patch<String>,
    #[schema(value_type = Option<i64>)]
    pub parent_prediction: Patch<Pk>,
    #[schema(value_type = Option<i64>)]
    pub parent_annotation: Patch<Pk>,
}

/// An annotation's or a prediction's `result`: a list, or (as Label Studio accepts) a JSON
/// string holding the list.
#[derive(Debug, Serialize)]
pub struct ResultList(pub Value);

impl<'de> Deserialize<'de> for ResultList {
    fn deserialize<D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> std::result::Result<Self, D::Error> {
        match Value::deserialize(deserializer)? {
            list @ Value::Array(_) => Ok(ResultList(list)),
            Value::String(text) => match serde_json::from_str::<Value>(&text) {
                Ok(list @ Value::Array(_)) => Ok(ResultList(list)),
                _ => Err(serde::de::Error::custom(NOT_A_RESULT_LIST)),
            },
            _ => Err(serde::de::Error::custom(NOT_A_RESULT_LIST)),
        }
    }
}

const NOT_A_RESULT_LIST: &str = "Expected a list of result items.";

/// An annotation's `result` as [`ResultList`] takes it, kept as the JSON text sent: an
/// annotation's result is stored and answered as it came, and never built as a tree on
/// its way (14 MB of result items would be some 200 MB of `serde_json::Value`).
#[derive(Debug, Serialize)]
pub struct ResultText(pub StoredJson);

impl<'de> Deserialize<'de> for ResultText {
    fn deserialize<D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> std::result::Result<Self, D::Error> {
        let raw = Box::<serde_json::value::RawValue>::deserialize(deserializer)?;
        let text = raw.get().trim();
        let list = if text.starts_with('[') {
            String::from(raw.get())
        } else if text.starts_with('"') {
            // A JSON string holding the list.
            let inner: String = serde_json::from_str(text).map_err(serde::de::Error::custom)?;
            match serde_json::from_str::<&serde_json::value::RawValue>(&inner) {
                Ok(list) if list.get().trim_start().starts_with('[') => inner,
                _ => return Err(serde::de::Error::custom(NOT_A_RESULT_LIST)),
            }
        } else {
            return Err(serde::de::Error::custom(NOT_A_RESULT_LIST));
        };
        Ok(ResultText(StoredJson::new(list)))
    }
}

impl AnnotationInput {
    /// The fields sent, applied onto `target`. Takes `self`: the result (which may be
    /// megabytes) moves into `target` instead of being copied.
    fn apply(self, target: &mut NewAnnotation) {
        target.result = self
            .result
            .map(|ResultText(list)| list)
            .nullable(target.result.take());
        target.was_cancelled = self.was_cancelled.or_keep(target.was_cancelled);
        target.ground_truth = self.ground_truth.or_keep(target.ground_truth);
        target.lead_time = self.lead_time.nullable(target.lead_time);
        target.import_id = self.import_id.nullable(target.import_id);
        target.last_action = self.last_action.nullable(target.last_action.take());
        target.parent_prediction = self
            .parent_prediction
            .map(|Pk(id)| id)
            .nullable(target.parent_prediction);
        target.parent_annotation = self
            .parent_annotation
            .map(|Pk(id)| id)
            .nullable(target.parent_annotation);
    }
}

impl From<AnnotationInput> for NewAnnotation {
    fn from(input: AnnotationInput) -> NewAnnotation {
        let mut new = NewAnnotation::default();
        input.apply(&mut new);
        new
    }
}

impl NewAnnotation {
    /// Reads an import item; `at` prefixes field names in errors (`0.annotations.1`).
    pub fn from_value(value: Value, at: &str) -> Result<NewAnnotation> {
        if !value.is_object() {
            return Err(Error::invalid(at, "Invalid data. Expected a dictionary."));
        }
        let input: AnnotationInput = serde_path_to_error::deserialize(value)
            .map_err(|error| super::invalid_at(at, &error))?;
        let mut new = NewAnnotation::default();
        input.apply(&mut new);
        Ok(new)
    }
}

/// Inserts an annotation row (no statistics, no event: callers do both).
pub async fn insert(
    tx: &mut Conn,
    actor: &Actor,
    project_id: i64,
    task_id: i64,
    mut new: NewAnnotation,
    bulk_created: bool,
) -> Result<i64> {
    let result = new.result.take().map(StoredJson::into_text);
    insert_serialized(tx, actor, project_id, task_id, new, result, bulk_created).await
}

/// [`insert`] with the result already serialized (`new.result` is not read).
async fn insert_serialized(
    tx: &mut Conn,
    actor: &Actor,
    project_id: i64,
    task_id: i64,
    new: NewAnnotation,
    result: Option<String>,
    bulk_created: bool,
) -> Result<i64> {
    let row = insert_returning(
        tx,
        actor,
        (project_id, task_id),
        (new, result, bulk_created),
        "",
        "id",
    )
    .await?;
    Ok(row.try_get("id")?)
}

/// The columns of [`SELECT`] as an insert returns them (the result, which the caller
/// holds, is not sent back).
const RETURNING: &str = "id, task_id, project_id, NULL AS result, was_cancelled, \
    ground_truth, lead_time, completed_by, (SELECT email FROM users WHERE id = $7) AS email, \
    updated_by, unique_id, import_id, last_action, bulk_created, parent_prediction, \
    parent_annotation, draft_created_at, created_at, updated_at";

/// Inserts an annotation row, answering its columns `returning`. `with` goes first: a
/// `WITH` of other writes (PostgreSQL) made with the insert's parameters (`$1` the
/// task, `$7` the user, `$14` the time).
async fn insert_returning(
    tx: &mut Conn,
    actor: &Actor,
    (project_id, task_id): (i64, i64),
    (new, result, bulk_created): (NewAnnotation, Option<String>, bool),
    with: &str,
    returning: &str,
) -> Result<Row> {
    let now = time::now();
    let sql = format!(
        "{with}INSERT INTO annotations (task_id, project_id, result, was_cancelled, ground_truth, \
         lead_time, completed_by, updated_by, unique_id, import_id, last_action, bulk_created, \
         parent_prediction, parent_annotation, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8, $9, $10, $11, $12, $13, $14, $14) \
         RETURNING {returning}"
    );
    Ok(store::query(&sql)
        .bind(task_id)
        .bind(project_id)
        .bind(result)
        .bind(flag(new.was_cancelled))
        .bind(flag(new.ground_truth))
        .bind(new.lead_time)
        .bind(actor.user_id)
        .bind(uuid::Uuid::new_v4().to_string())
        .bind(new.import_id)
        .bind(new.last_action)
        .bind(flag(bulk_created))
        .bind(new.parent_prediction)
        .bind(new.parent_annotation)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?)
}

/// The body of ANNOTATION_CREATED / ANNOTATION_UPDATED, read inside the transaction.
/// Takes the annotation, so that its result moves into the body instead of being copied.
async fn single_body(
    conn: &mut Conn,
    annotation: Annotation,
    project: &Project,
) -> Result<Map<String, Value>> {
    let task = tasks::get_many(conn, &[annotation.task_id]).await?;
    let task = task.first().ok_or(Error::NotFound("Task"))?;
    Ok(events::body([
        ("annotation", annotation.into_snapshot()),
        ("project", project.snapshot()),
        ("task", task.snapshot()),
    ]))
}

/// Creates an annotation (or a skip) on a task and emits ANNOTATION_CREATED.
///
/// The busiest write, so it takes few round trips (each is a wait on PostgreSQL): the
/// task, locked, with its project in one read; the insert answers the annotation, and
/// the task's counters are refreshed with `updated_by` in one update that answers the
/// task as committed; the webhooks are read once for both events.
pub async fn create(
    tx: &mut Conn,
    actor: &Actor,
    task_id: i64,
    input: AnnotationInput,
) -> Result<Annotation> {
    let columns = format!("{}, {}", tasks::SELECT_COLUMNS, stats::COUNTER_COLUMNS);
    let (task, mut project) =
        projects::locked_task_with_project(tx, actor, task_id, &columns).await?;
    let before = stats::TaskCounters::read(&task)?;
    let task = tasks::from_row(&task)?;
    let mut new = NewAnnotation::from(input);
    // A result may be megabytes, and its parsed form many times that: only its text is
    // kept, as it came, parsed where a webhook body needs it.
    let result = new.result.take().map(StoredJson::into_text);
    // Submitted or skipped: the label stream's lock on the task is given back (on
    // PostgreSQL by the insert's statement: one round trip less).
    let release_in_insert = tx.backend().has_writable_cte();
    let with = if release_in_insert {
        format!(
            "WITH released AS ({}) ",
            super::stream::release_sql("$1", "$7", "$14")
        )
    } else {
        String::new()
    };
    let row = insert_returning(
        tx,
        actor,
        (task.project_id, task.id),
        (new, result.clone(), false),
        &with,
        RETURNING,
    )
    .await?;
    let annotation = from_row(&row)?;
    if !release_in_insert {
        super::stream::release(tx, task.id, actor.user_id).await?;
    }
    let (delta, task) = stats::refresh_locked_task(
        tx,
        &mut project,
        task.id,
        before,
        actor.user_id,
        tasks::COLUMNS,
    )
    .await?;
    let task = tasks::from_row(&task)?;
    let scope = project.scope().by(actor.user_id);
    let webhooks = events::Webhooks::of(tx, scope).await?;
    events::emit_among(
        tx,
        &webhooks,
        scope,
        Action::AnnotationCreated,
        async |_| {
            let annotation = with_result(annotation.clone(), result.as_deref());
            Ok(vec![events::body([
                ("annotation", annotation.into_snapshot()),
                ("project", project.snapshot()),
                ("task", task.snapshot()),
            ])])
        },
    )
    .await?;
    if delta.completed_task() {
        events::emit_among(tx, &webhooks, scope, Action::TaskCompleted, async |_| {
            Ok(vec![events::body([
                ("task", task.snapshot()),
                ("project", project.snapshot()),
            ])])
        })
        .await?;
    }
    if !annotation.was_cancelled {
        super::ml_backends::count_new_annotations(tx, &project, 1).await?;
    }
    // Last: every write in the project updates this row (PostgreSQL: hold its lock briefly).
    stats::save_project_delta(tx, project.id, &delta).await?;
    Ok(with_result(annotation, result.as_deref()))
}

/// TASK_COMPLETED when the change counted in `delta` made the task labeled (its
/// annotations reached the overlap; with required review, a review accepted the last of
/// them): the task and the project, as they are committed.
pub(super) async fn emit_completed(
    tx: &mut Conn,
    actor: &Actor,
    project: &Project,
    task_id: i64,
    delta: &stats::ProjectDelta,
) -> Result<()> {
    if !delta.completed_task() {
        return Ok(());
    }
    events::emit(
        tx,
        project.scope().by(actor.user_id),
        Action::TaskCompleted,
        async |conn| {
            let task = tasks::get_many(conn, &[task_id]).await?;
            let task = task.first().ok_or(Error::NotFound("Task"))?;
            Ok(vec![events::body([
                ("task", task.snapshot()),
                ("project", project.snapshot()),
            ])])
        },
    )
    .await
}

/// `annotation` with its result's stored text.
fn with_result(mut annotation: Annotation, result: Option<&str>) -> Annotation {
    annotation.result = result.map(|text| StoredJson::new(text.to_string()));
    annotation
}

/// Applies a PATCH (or PUT) and emits ANNOTATION_UPDATED.
pub async fn update(
    tx: &mut Conn,
    actor: &Actor,
    id: i64,
    input: AnnotationInput,
) -> Result<Annotation> {
    let mut current = get(tx, actor, id).await?;
    let mut fields = NewAnnotation {
        result: current.result.take(),
        was_cancelled: current.was_cancelled,
        ground_truth: current.ground_truth,
        lead_time: current.lead_time,
        import_id: current.import_id,
        last_action: current.last_action.clone(),
        parent_prediction: current.parent_prediction,
        parent_annotation: current.parent_annotation,
    };
    input.apply(&mut fields);
    // As in `create`: only the result's text is kept.
    let result = fields.result.take().map(StoredJson::into_text);
    let now = time::now();
    // A change by its annotator makes a reviewed annotation wait for review again (a
    // rejected one thereby leaves its annotator's queue).
    store::query(
        "UPDATE annotations SET result = $1, was_cancelled = $2, ground_truth = $3, \
         lead_time = $4, import_id = $5, last_action = $6, parent_prediction = $7, \
         parent_annotation = $8, updated_by = $9, updated_at = $10, \
         review_state = CASE WHEN completed_by = $9 THEN NULL ELSE review_state END \
         WHERE id = $11",
    )
    .bind(result.clone())
    .bind(flag(fields.was_cancelled))
    .bind(flag(fields.ground_truth))
    .bind(fields.lead_time)
    .bind(fields.import_id)
    .bind(fields.last_action)
    .bind(fields.parent_prediction)
    .bind(fields.parent_annotation)
    .bind(actor.user_id)
    .bind(now)
    .bind(id)
    .execute(&mut *tx)
    .await?;
    tasks::touch(tx, actor, current.task_id, now).await?;
    let mut project = projects::get_unchecked(tx, current.project_id).await?;
    let delta = stats::refresh_task_counters(tx, &mut project, current.task_id).await?;
    let annotation = get_without_result(tx, actor, id).await?;
    events::emit(
        tx,
        project.scope().by(actor.user_id),
        Action::AnnotationUpdated,
        async |conn| {
            let annotation = with_result(annotation.clone(), result.as_deref());
            Ok(vec![single_body(conn, annotation, &project).await?])
        },
    )
    .await?;
    emit_completed(tx, actor, &project, current.task_id, &delta).await?;
    super::ml_backends::annotation_updated(tx, &project).await?;
    // Last: every write in the project updates this row (PostgreSQL: hold its lock briefly).
    stats::save_project_delta(tx, project.id, &delta).await?;
    Ok(with_result(annotation, result.as_deref()))
}

/// Deletes one annotation and emits ANNOTATIONS_DELETED.
pub async fn delete(
    tx: &mut Conn,
    actor: &Actor,
    settings: &LabelingSettings,
    id: i64,
) -> Result<()> {
    let annotation = get(tx, actor, id).await?;
    delete_ids(
        tx,
        actor,
        settings,
        annotation.project_id,
        &[(id, annotation.task_id)],
    )
    .await
}

/// Deletes every annotation of the given tasks of a project (data manager action
/// `delete_tasks_annotations`) and emits ANNOTATIONS_DELETED. Returns how many went.
pub async fn delete_for_tasks(
    tx: &mut Conn,
    actor: &Actor,
    settings: &LabelingSettings,
    project_id: i64,
    task_ids: &[i64],
) -> Result<usize> {
    let mut pairs = Vec::new();
    for chunk in task_ids.chunks(500) {
        let sql = format!(
            "SELECT id, task_id FROM annotations WHERE task_id IN ({}) ORDER BY id",
            id_list(chunk)
        );
        for row in store::query(&sql).fetch_all(&mut *tx).await? {
            pairs.push((row.try_get::<i64, _>(0)?, row.try_get::<i64, _>(1)?));
        }
    }
    delete_ids(tx, actor, settings, project_id, &pairs).await?;
    Ok(pairs.len())
}

/// Deletes annotations given as (annotation id, task id) pairs of one project.
async fn delete_ids(
    tx: &mut Conn,
    actor: &Actor,
    settings: &LabelingSettings,
    project_id: i64,
    pairs: &[(i64, i64)],
) -> Result<()> {
    if pairs.is_empty() {
        return Ok(());
    }
    let ids: Vec<i64> = pairs.iter().map(|(id, _)| *id).collect();
    for chunk in ids.chunks(500) {
        store::query(&format!(
            "DELETE FROM annotations WHERE id IN ({})",
            id_list(chunk)
        ))
        .execute(&mut *tx)
        .await?;
    }
    let mut project = projects::get_unchecked(tx, project_id).await?;
    let mut task_ids: Vec<i64> = pairs.iter().map(|(_, task)| *task).collect();
    task_ids.sort_unstable();
    task_ids.dedup();
    for task_id in task_ids {
        stats::refresh_task(tx, &mut project, task_id).await?;
    }
    events::emit(
        tx,
        project.scope().by(actor.user_id),
        Action::AnnotationsDeleted,
        async |_| {
            // Besides the id (Label Studio's), each annotation's task and project:
            // receivers need them to find what to drop (label-studio-sdk #305).
            let items = pairs
                .iter()
                .map(|(id, task)| json!({ "id": id, "task": task, "project": project_id }))
                .collect();
            Ok(events::bulk_bodies(
                "annotations",
                items,
                project.snapshot(),
                settings.batch_size,
            ))
        },
    )
    .await?;
    Ok(())
}

/// Emits ANNOTATIONS_CREATED for annotations made in bulk (import, predictions converted
/// to annotations): `annotation` and `task` are parallel lists, cut into chunks. They
/// count towards training on a threshold.
pub async fn emit_bulk_created(
    tx: &mut Conn,
    actor: &Actor,
    settings: &LabelingSettings,
    project: &Project,
    annotation_ids: &[i64],
) -> Result<()> {
    let mut not_skipped = 0;
    for chunk in annotation_ids.chunks(500) {
        let n: i64 = store::query_scalar(&format!(
            "SELECT COUNT(*) FROM annotations WHERE id IN ({}) AND was_cancelled = 0",
            id_list(chunk)
        ))
        .fetch_one(&mut *tx)
        .await?;
        not_skipped += n;
    }
    emit_bulk_events(tx, actor, settings, project, annotation_ids).await?;
    super::ml_backends::count_new_annotations(tx, project, not_skipped).await
}

async fn emit_bulk_events(
    tx: &mut Conn,
    actor: &Actor,
    settings: &LabelingSettings,
    project: &Project,
    annotation_ids: &[i64],
) -> Result<()> {
    events::emit(
        tx,
        project.scope().by(actor.user_id),
        Action::AnnotationsCreated,
        async |conn| {
            let annotations = get_many(conn, annotation_ids).await?;
            let mut task_ids: Vec<i64> = annotations.iter().map(|a| a.task_id).collect();
            task_ids.sort_unstable();
            task_ids.dedup();
            let tasks = tasks::get_many(conn, &task_ids).await?;
            let mut bodies = Vec::new();
            for chunk in annotations.chunks(settings.batch_size.max(1)) {
                let wanted: HashSet<i64> = chunk.iter().map(|a| a.task_id).collect();
                let chunk_tasks: Vec<Value> = tasks
                    .iter()
                    .filter(|t| wanted.contains(&t.id))
                    .map(|t| t.snapshot())
                    .collect();
                bodies.push(events::body([
                    (
                        "annotation",
                        Value::Array(chunk.iter().map(Annotation::snapshot).collect()),
                    ),
                    ("task", Value::Array(chunk_tasks)),
                    ("project", project.snapshot()),
                ]));
            }
            Ok(bodies)
        },
    )
    .await
}
