//! Which tasks an export holds, read from the database in id-ordered pages, each task in
//! the form Label Studio's JSON export gives it (its `ExportDataSerializer`).
//!
//! Pages are read by key (`id > last`), one short statement each, from a read connection:
//! an export of a million tasks never holds a transaction open, never blocks a writer, and
//! holds one page in memory. Changes made while it runs may or may not be in it; each
//! task is read whole (with its annotations as of that page).

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::labeling::annotations::{self, Annotation};
use crate::labeling::predictions;
use crate::labeling::{StoredJson, stored_json};
use crate::shared::Result;
use crate::store::time::{render, render_opt};
use crate::store::{self, Conn, Pool};

/// Tasks per page: big enough that statements are few, small enough that a page is a few
/// megabytes at most.
pub const PAGE: usize = 500;

/// `only` / `exclude` a kind of task (Label Studio's task filter options).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnlyOrExclude {
    Only,
    Exclude,
}

/// Which tasks and annotations go in, and how they are written.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Only tasks with at least one annotation, skipped ones included (the direct
    /// export's default).
    pub only_annotated: bool,
    /// Only these tasks (`ids[]`).
    pub ids: Option<Vec<i64>>,
    /// Tasks with a skipped annotation.
    pub skipped: Option<OnlyOrExclude>,
    /// Tasks that are labeled (`is_labeled`).
    pub finished: Option<OnlyOrExclude>,
    /// Tasks with an annotation that was not skipped.
    pub annotated: Option<OnlyOrExclude>,
    /// Leave out tasks without any annotation at all.
    pub only_with_annotations: bool,
    /// Which annotations: `None` all; otherwise those matching any of the flags.
    pub annotations: Option<AnnotationFilter>,
    /// Predictions as objects rather than ids.
    pub expand_predictions: bool,
    /// `completed_by` as `{id, email, first_name, last_name}` rather than an id.
    pub expand_completed_by: bool,
}

/// Label Studio's `annotation_filter_options`: an annotation is kept when any flag that is
/// set matches it; with none set, all are kept.
#[derive(Debug, Clone, Copy, Default)]
pub struct AnnotationFilter {
    pub usual: bool,
    pub ground_truth: bool,
    pub skipped: bool,
}

impl AnnotationFilter {
    fn keeps(&self, annotation: &Annotation) -> bool {
        if !(self.usual || self.ground_truth || self.skipped) {
            return true;
        }
        (self.usual && !annotation.was_cancelled && !annotation.ground_truth)
            || (self.ground_truth && annotation.ground_truth)
            || (self.skipped && annotation.was_cancelled)
    }
}

/// A cursor over the tasks of one project that a selection picks.
pub struct TaskPages {
    project_id: i64,
    selection: Selection,
    /// The last task id read (pages go by key).
    after: i64,
    /// With `ids`: the requested ids still to read, ascending.
    remaining: Option<std::collections::VecDeque<i64>>,
    done: bool,
}

const TASK_COLUMNS: &str = "t.id, t.inner_id, t.data, t.meta, t.total_annotations, \
    t.cancelled_annotations, t.total_predictions, t.updated_by, t.created_at, t.updated_at";

impl TaskPages {
    pub fn new(project_id: i64, selection: Selection) -> TaskPages {
        let mut pages = TaskPages {
            project_id,
            selection,
            after: 0,
            remaining: None,
            done: false,
        };
        pages.rewind();
        pages
    }

    /// Starts again from the first task (formats that read the tasks twice).
    pub fn rewind(&mut self) {
        self.after = 0;
        self.done = false;
        self.remaining = self.selection.ids.as_ref().map(|ids| {
            let mut ids = ids.clone();
            ids.sort_unstable();
            ids.dedup();
            ids.into()
        });
    }

    /// The next page of tasks in export form, or `None` after the last.
    pub async fn next(&mut self, pool: &Pool) -> Result<Option<Vec<Value>>> {
        let mut conn = pool.acquire().await?;
        loop {
            if self.done {
                return Ok(None);
            }
            let rows = self.next_rows(&mut conn).await?;
            if rows.is_empty() {
                if self.remaining.as_ref().is_some_and(|r| !r.is_empty()) {
                    continue;
                }
                self.done = true;
                return Ok(None);
            }
            let tasks = self.render(&mut conn, &rows).await?;
            if !tasks.is_empty() {
                return Ok(Some(tasks));
            }
        }
    }

    async fn next_rows(&mut self, conn: &mut Conn) -> Result<Vec<store::Row>> {
        let mut conditions = String::new();
        let exists = |negate: bool, extra: &str| {
            format!(
                " AND {}EXISTS (SELECT 1 FROM annotations a WHERE a.task_id = t.id{extra})",
                if negate { "NOT " } else { "" }
            )
        };
        let s = &self.selection;
        if s.only_annotated || s.only_with_annotations {
            conditions.push_str(&exists(false, ""));
        }
        if let Some(kind) = s.skipped {
            conditions.push_str(&exists(
                kind == OnlyOrExclude::Exclude,
                " AND a.was_cancelled = 1",
            ));
        }
        if let Some(kind) = s.annotated {
            conditions.push_str(&exists(
                kind == OnlyOrExclude::Exclude,
                " AND a.was_cancelled = 0",
            ));
        }
        if let Some(kind) = s.finished {
            let wanted = i64::from(kind == OnlyOrExclude::Only);
            conditions.push_str(&format!(" AND t.is_labeled = {wanted}"));
        }
        let rows = match &mut self.remaining {
            Some(remaining) => {
                let chunk: Vec<i64> = remaining.drain(..remaining.len().min(PAGE)).collect();
                if chunk.is_empty() {
                    return Ok(Vec::new());
                }
                let sql = format!(
                    "SELECT {TASK_COLUMNS} FROM tasks t WHERE t.project_id = $1 AND t.id IN ({}){conditions} ORDER BY t.id",
                    store::id_params(2, chunk.len())
                );
                store::query(&sql)
                    .bind(self.project_id)
                    .bind_ids(&chunk)
                    .fetch_all(&mut *conn)
                    .await?
            }
            None => {
                let sql = format!(
                    "SELECT {TASK_COLUMNS} FROM tasks t WHERE t.project_id = $1 AND t.id > $2{conditions} ORDER BY t.id LIMIT {PAGE}"
                );
                let rows = store::query(&sql)
                    .bind(self.project_id)
                    .bind(self.after)
                    .fetch_all(&mut *conn)
                    .await?;
                if rows.len() < PAGE {
                    self.done = true;
                }
                rows
            }
        };
        if let Some(last) = rows.last() {
            self.after = last.try_get("id")?;
        }
        Ok(rows)
    }

    /// The tasks of `rows` with their annotations and predictions, in export form.
    async fn render(&self, conn: &mut Conn, rows: &[store::Row]) -> Result<Vec<Value>> {
        let ids: Vec<i64> = rows
            .iter()
            .map(|row| row.try_get("id"))
            .collect::<store::Result<_>>()?;
        let mut annotations_by_task: HashMap<i64, Vec<Annotation>> = HashMap::new();
        for annotation in annotations::for_tasks(conn, &ids).await? {
            if self
                .selection
                .annotations
                .is_none_or(|filter| filter.keeps(&annotation))
            {
                annotations_by_task
                    .entry(annotation.task_id)
                    .or_default()
                    .push(annotation);
            }
        }
        let predictions_by_task = self.predictions(conn, &ids).await?;
        let users = if self.selection.expand_completed_by {
            users(conn, annotations_by_task.values().flatten()).await?
        } else {
            HashMap::new()
        };
        let mut tasks = Vec::with_capacity(rows.len());
        for row in rows {
            let id: i64 = row.try_get("id")?;
            let annotations = annotations_by_task.remove(&id).unwrap_or_default();
            let annotations: Vec<Value> = annotations
                .iter()
                .map(|a| annotation(a, &users, self.selection.expand_completed_by))
                .collect();
            let predictions = predictions_by_task.get(&id).cloned().unwrap_or_default();
            tasks.push(json!({
                "id": id,
                "annotations": annotations,
                // labelhook keeps no drafts.
                "drafts": [],
                "predictions": predictions,
                "data": stored_json(row.try_get("data")?),
                "meta": stored_json(row.try_get("meta")?),
                "created_at": render(row.try_get("created_at")?),
                "updated_at": render(row.try_get("updated_at")?),
                "allow_skip": true,
                "inner_id": row.try_get::<i64, _>("inner_id")?,
                "total_annotations": row.try_get::<i64, _>("total_annotations")?,
                "cancelled_annotations": row.try_get::<i64, _>("cancelled_annotations")?,
                "total_predictions": row.try_get::<i64, _>("total_predictions")?,
                "comment_count": 0,
                "unresolved_comment_count": 0,
                "last_comment_updated_at": null,
                "project": self.project_id,
                "updated_by": row.try_get::<Option<i64>, _>("updated_by")?,
                "comment_authors": [],
            }));
        }
        Ok(tasks)
    }

    /// Each task's predictions: ids, or whole objects when expanded.
    async fn predictions(&self, conn: &mut Conn, ids: &[i64]) -> Result<HashMap<i64, Vec<Value>>> {
        let mut by_task: HashMap<i64, Vec<Value>> = HashMap::new();
        if self.selection.expand_predictions {
            for prediction in predictions::for_tasks(conn, ids).await? {
                by_task
                    .entry(prediction.task_id)
                    .or_default()
                    .push(prediction.exported());
            }
        } else {
            let rows = store::fetch_by_ids(conn, ids, |list| {
                format!("SELECT id, task_id FROM predictions WHERE task_id IN ({list})")
            })
            .await?;
            let mut pairs: Vec<(i64, i64)> = rows
                .iter()
                .map(|row| Ok((row.try_get("task_id")?, row.try_get("id")?)))
                .collect::<store::Result<_>>()?;
            pairs.sort_unstable();
            for (task, id) in pairs {
                by_task.entry(task).or_default().push(json!(id));
            }
        }
        Ok(by_task)
    }
}

/// An annotation as Label Studio's export writes it (all its model's fields).
fn annotation(a: &Annotation, users: &HashMap<i64, Value>, expand_user: bool) -> Value {
    let completed_by = match (expand_user, a.completed_by) {
        (true, Some(id)) => users.get(&id).cloned().unwrap_or(Value::Null),
        (_, id) => json!(id),
    };
    let result = a.result.as_ref().map(StoredJson::value);
    let result_count = result
        .as_ref()
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    json!({
        "id": a.id,
        "completed_by": completed_by,
        "result": result,
        "was_cancelled": a.was_cancelled,
        "ground_truth": a.ground_truth,
        "created_at": render(a.created_at),
        "updated_at": render(a.updated_at),
        "draft_created_at": render_opt(a.draft_created_at),
        "lead_time": a.lead_time,
        "prediction": {},
        "result_count": result_count,
        "unique_id": a.unique_id,
        "import_id": a.import_id,
        "last_action": a.last_action,
        "bulk_created": a.bulk_created,
        "task": a.task_id,
        "project": a.project_id,
        "updated_by": a.updated_by,
        "parent_prediction": a.parent_prediction,
        "parent_annotation": a.parent_annotation,
        "last_created_by": null,
    })
}

/// `{id, email, first_name, last_name}` of the users who completed these annotations.
async fn users<'a>(
    conn: &mut Conn,
    annotations: impl Iterator<Item = &'a Annotation>,
) -> Result<HashMap<i64, Value>> {
    let mut ids: Vec<i64> = annotations.filter_map(|a| a.completed_by).collect();
    ids.sort_unstable();
    ids.dedup();
    let rows = store::fetch_by_ids(conn, &ids, |list| {
        format!("SELECT id, email, first_name, last_name FROM users WHERE id IN ({list})")
    })
    .await?;
    let mut found = HashMap::new();
    for row in rows {
        let id: i64 = row.try_get("id")?;
        let mut user = Map::new();
        user.insert("id".into(), json!(id));
        user.insert("email".into(), json!(row.try_get::<String, _>("email")?));
        user.insert(
            "first_name".into(),
            json!(row.try_get::<String, _>("first_name")?),
        );
        user.insert(
            "last_name".into(),
            json!(row.try_get::<String, _>("last_name")?),
        );
        found.insert(id, Value::Object(user));
    }
    Ok(found)
}
