//! Predictions: model output attached to tasks, convertible into annotations.

use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::annotations::{self, NewAnnotation, ResultList};
use super::projects::{self, Project};
use super::tasks::{self, id_list};
use super::{LabelingSettings, stats, stored_json};
use crate::shared::{Actor, Error, Patch, Pk, ReadOnly, Result};
use crate::store::time;
use crate::store::{self, Conn, Row};

#[derive(Debug, Clone)]
pub struct Prediction {
    pub id: i64,
    pub task_id: i64,
    pub project_id: i64,
    pub result: Value,
    pub score: Option<f64>,
    pub model_version: String,
    /// Who made it and who last changed it (user ids; `None` for rows older than the audit).
    pub created_by: Option<i64>,
    pub updated_by: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

const SELECT: &str = "SELECT pr.id, pr.task_id, pr.project_id, pr.result, pr.score, \
    pr.model_version, pr.created_by, pr.updated_by, pr.created_at, pr.updated_at \
    FROM predictions pr";

fn from_row(row: &Row) -> store::Result<Prediction> {
    Ok(Prediction {
        id: row.try_get("id")?,
        task_id: row.try_get("task_id")?,
        project_id: row.try_get("project_id")?,
        result: stored_json(row.try_get("result")?),
        score: row.try_get("score")?,
        model_version: row.try_get("model_version")?,
        created_by: row.try_get("created_by")?,
        updated_by: row.try_get("updated_by")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// A prediction as a client sent it.
#[derive(Debug, Default)]
pub struct NewPrediction {
    pub result: Value,
    pub score: Option<f64>,
    pub model_version: String,
}

/// A prediction as a client sends it: `POST /api/predictions/` (`PredictionInput`, with
/// its `task`), PATCH/PUT `/api/predictions/{id}/` (`PredictionInput<ReadOnly>`: the task
/// is fixed) and each item of an import's `predictions`. Keys sent change.
/// (One schema in the OpenAPI document for all three.)
#[derive(Debug, Default, Deserialize, ToSchema)]
#[schema(bound = "")]
#[schema(example = json!({"task": 1, "result": [{"from_name": "label", "to_name": "text", "type": "choices", "value": {"choices": ["neg"]}}], "score": 0.9, "model_version": "v1"}))]
pub struct PredictionInput<T = Option<Pk>> {
    /// The task's id: required in `POST /api/predictions/`, fixed after it (ignored in an
    /// update and in an import, where the task is the one imported).
    #[serde(default)]
    #[schema(value_type = i64)]
    pub task: T,
    /// Result items (or a JSON string holding the list).
    #[serde(default)]
    #[schema(value_type = Vec<Value>)]
    pub result: Patch<ResultList>,
    #[serde(default)]
    #[schema(value_type = Option<f64>)]
    pub score: Patch<f64>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub model_version: Patch<VersionText>,
}

/// A `model_version`: text, or a number taken as its text (`1.2`), as Label Studio does.
#[derive(Debug)]
pub struct VersionText(pub String);

impl<'de> Deserialize<'de> for VersionText {
    fn deserialize<D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> std::result::Result<Self, D::Error> {
        match Value::deserialize(deserializer)? {
            Value::String(text) => Ok(VersionText(text)),
            Value::Number(number) => Ok(VersionText(number.to_string())),
            _ => Err(serde::de::Error::custom("Not a valid string.")),
        }
    }
}

impl<T> PredictionInput<T> {
    /// The fields sent, applied onto `target` (`null` clears the score and keeps the rest).
    fn apply(self, target: &mut NewPrediction) {
        if let Patch::Value(ResultList(result)) = self.result {
            target.result = result;
        }
        target.score = self.score.nullable(target.score);
        if let Patch::Value(VersionText(version)) = self.model_version {
            target.model_version = version;
        }
    }
}

impl<T> From<PredictionInput<T>> for NewPrediction {
    fn from(input: PredictionInput<T>) -> NewPrediction {
        let mut new = NewPrediction {
            result: Value::Array(vec![]),
            ..Default::default()
        };
        input.apply(&mut new);
        new
    }
}

impl NewPrediction {
    /// Reads an import item; `at` prefixes field names in errors (`0.predictions.1`).
    pub fn from_value(value: Value, at: &str) -> Result<NewPrediction> {
        if !value.is_object() {
            return Err(Error::invalid(at, "Invalid data. Expected a dictionary."));
        }
        let input: PredictionInput<ReadOnly> = serde_path_to_error::deserialize(value)
            .map_err(|error| super::invalid_at(at, &error))?;
        let mut new = NewPrediction {
            result: Value::Array(vec![]),
            ..Default::default()
        };
        input.apply(&mut new);
        Ok(new)
    }
}

/// Stores a prediction made by `actor`'s request (through the API, an import, or an ML
/// backend asked to predict the task the actor opened).
pub async fn insert(
    tx: &mut Conn,
    actor: &Actor,
    project_id: i64,
    task_id: i64,
    new: NewPrediction,
) -> Result<i64> {
    let now = time::now();
    Ok(store::query_scalar(
        "INSERT INTO predictions (task_id, project_id, result, score, model_version, created_at, updated_at, \
         created_by, updated_by) VALUES ($1, $2, $3, $4, $5, $6, $6, $7, $7) RETURNING id",
    )
    .bind(task_id)
    .bind(project_id)
    .bind(new.result.to_string())
    .bind(new.score)
    .bind(new.model_version)
    .bind(now)
    .bind(actor.user_id)
    .fetch_one(&mut *tx)
    .await?)
}

/// Loads a prediction of the actor's organization (404 otherwise).
pub async fn get(conn: &mut Conn, actor: &Actor, id: i64) -> Result<Prediction> {
    let sql = format!(
        "{SELECT} JOIN projects p ON p.id = pr.project_id WHERE pr.id = $1 AND p.organization_id = $2"
    );
    store::query(&sql)
        .bind(id)
        .bind(actor.organization_id)
        .fetch_found(&mut *conn, "Prediction", from_row)
        .await
}

/// Predictions of the actor's organization, optionally of one task or one project.
pub async fn list(
    conn: &mut Conn,
    actor: &Actor,
    task: Option<i64>,
    project: Option<i64>,
) -> Result<Vec<Prediction>> {
    let sql = format!(
        "{SELECT} JOIN projects p ON p.id = pr.project_id WHERE p.organization_id = $1 \
         AND ($2 = 0 OR pr.task_id = $2) AND ($3 = 0 OR pr.project_id = $3) ORDER BY pr.id"
    );
    let rows = store::query(&sql)
        .bind(actor.organization_id)
        .bind(task.unwrap_or(0))
        .bind(project.unwrap_or(0))
        .fetch_all(&mut *conn)
        .await?;
    Ok(rows.iter().map(from_row).collect::<store::Result<_>>()?)
}

pub async fn for_tasks(conn: &mut Conn, task_ids: &[i64]) -> Result<Vec<Prediction>> {
    let rows = store::fetch_by_ids(conn, task_ids, |list| {
        format!("{SELECT} WHERE pr.task_id IN ({list})")
    })
    .await?;
    let mut found = rows
        .iter()
        .map(from_row)
        .collect::<store::Result<Vec<_>>>()?;
    found.sort_by_key(|p| p.id);
    Ok(found)
}

/// Creates a prediction for a task (`task` in the body).
pub async fn create(tx: &mut Conn, actor: &Actor, input: PredictionInput) -> Result<Prediction> {
    let Some(Pk(task_id)) = input.task else {
        return Err(Error::invalid("task", "This field is required."));
    };
    let task = tasks::get(tx, actor, task_id).await.map_err(|_| {
        Error::invalid(
            "task",
            format!("Invalid pk \"{task_id}\" - object does not exist."),
        )
    })?;
    let id = insert(tx, actor, task.project_id, task.id, input.into()).await?;
    tasks::touch(tx, actor, task.id, time::now()).await?;
    let mut project = projects::get_unchecked(tx, task.project_id).await?;
    stats::refresh_task(tx, &mut project, task.id).await?;
    get(tx, actor, id).await
}

pub async fn update(
    tx: &mut Conn,
    actor: &Actor,
    id: i64,
    input: PredictionInput<ReadOnly>,
) -> Result<Prediction> {
    let current = get(tx, actor, id).await?;
    let mut fields = NewPrediction {
        result: current.result,
        score: current.score,
        model_version: current.model_version,
    };
    input.apply(&mut fields);
    store::query(
        "UPDATE predictions SET result = $1, score = $2, model_version = $3, updated_at = $4, \
         updated_by = $6 WHERE id = $5",
    )
    .bind(fields.result.to_string())
    .bind(fields.score)
    .bind(fields.model_version)
    .bind(time::now())
    .bind(id)
    .bind(actor.user_id)
    .execute(&mut *tx)
    .await?;
    get(tx, actor, id).await
}

pub async fn delete(tx: &mut Conn, actor: &Actor, id: i64) -> Result<()> {
    let prediction = get(tx, actor, id).await?;
    store::query("DELETE FROM predictions WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    let mut project = projects::get_unchecked(tx, prediction.project_id).await?;
    stats::refresh_task(tx, &mut project, prediction.task_id).await?;
    Ok(())
}

/// Data manager action `predictions_to_annotations`: each selected task's latest
/// prediction becomes an annotation (bulk: ANNOTATIONS_CREATED). Returns how many.
pub async fn to_annotations(
    tx: &mut Conn,
    actor: &Actor,
    settings: &LabelingSettings,
    project: &Project,
    task_ids: &[i64],
) -> Result<usize> {
    let mut latest: Vec<Prediction> = Vec::new();
    for chunk in task_ids.chunks(500) {
        let mut found = for_tasks(tx, chunk).await?;
        found.sort_by_key(|p| (p.task_id, std::cmp::Reverse(p.id)));
        found.dedup_by_key(|p| p.task_id);
        latest.extend(found);
    }
    let mut created = Vec::with_capacity(latest.len());
    for prediction in latest {
        let new = NewAnnotation {
            result: Some(super::StoredJson::new(prediction.result.to_string())),
            parent_prediction: Some(prediction.id),
            ..Default::default()
        };
        created
            .push(annotations::insert(tx, actor, project.id, prediction.task_id, new, true).await?);
    }
    if created.is_empty() {
        return Ok(0);
    }
    for chunk in task_ids.chunks(500) {
        store::query(&format!(
            "UPDATE tasks SET updated_by = $1 WHERE id IN ({}) AND EXISTS (SELECT 1 FROM annotations a WHERE a.task_id = tasks.id AND a.bulk_created = 1)",
            id_list(chunk)
        ))
        .bind(actor.user_id)
        .execute(&mut *tx)
        .await?;
    }
    stats::recount_project(tx, project.id, stats::Finishing::of(project)).await?;
    let project = projects::get_unchecked(tx, project.id).await?;
    annotations::emit_bulk_created(tx, actor, settings, &project, &created).await?;
    Ok(created.len())
}
