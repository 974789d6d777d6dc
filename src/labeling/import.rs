//! `POST /api/projects/{id}/import`: a JSON body or uploaded files become tasks, in one
//! transaction and one TASKS_CREATED event per request (cut into batches). What was sent is
//! parsed first ([`prepare`]), before the transaction opens.

use std::collections::HashSet;
use std::time::Instant;

use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::tasks::{self, NewTask};
use super::{LabelingSettings, import_files, projects};
use crate::shared::{Actor, Error, Result};
use crate::store::Conn;

/// What the client sent.
pub enum ImportSource {
    /// A JSON body: a list of tasks or one task.
    Json(Value),
    /// Uploaded files: (file name, content).
    Files(Vec<(String, Vec<u8>)>),
}

/// An import parsed into tasks, ready for the transaction.
pub struct PreparedImport {
    started: Instant,
    tasks: Vec<NewTask>,
    found_formats: Vec<String>,
    data_columns: Vec<String>,
}

/// Parses what the client sent into tasks, on a blocking thread. Handlers call this before
/// opening the write transaction: parsing is the slow part of a large import and must delay
/// no one else's write. `conn` is a read connection; the project must be the actor's (404).
pub async fn prepare(
    conn: &mut Conn,
    actor: &Actor,
    project_id: i64,
    source: ImportSource,
) -> Result<PreparedImport> {
    let started = Instant::now();
    // Plain-text lines go under the project's one data key: the config as of now.
    let text_key = projects::get(conn, actor, project_id).await?.text_key();
    tokio::task::spawn_blocking(move || parse(source, &text_key, started))
        .await
        .map_err(anyhow::Error::from)?
}

fn parse(source: ImportSource, text_key: &str, started: Instant) -> Result<PreparedImport> {
    let from_files = matches!(source, ImportSource::Files(_));
    let (items, found_formats) = match source {
        ImportSource::Json(Value::Array(items)) => (items, vec![]),
        ImportSource::Json(item @ Value::Object(_)) => (vec![item], vec![]),
        ImportSource::Json(_) => {
            return Err(Error::invalid(
                "non_field_errors",
                "Expected a list of tasks or one task object.",
            ));
        }
        ImportSource::Files(files) => {
            if files.is_empty() {
                return Err(Error::invalid(
                    "file",
                    "No files were uploaded; send multipart form data with one or more files.",
                ));
            }
            let mut items = Vec::new();
            let mut formats = Vec::new();
            for (name, bytes) in &files {
                let parsed = import_files::parse_file(name, bytes, text_key)
                    .map_err(|e| Error::invalid("file", e.to_string()))?;
                items.extend(parsed);
                if let Some(ext) = name
                    .rsplit_once('.')
                    .map(|(_, e)| format!(".{}", e.to_lowercase()))
                    && !formats.contains(&ext)
                {
                    formats.push(ext);
                }
            }
            (items, formats)
        }
    };
    if items.is_empty() {
        return Err(Error::invalid(
            "non_field_errors",
            "No tasks found in the import.",
        ));
    }
    let tasks = items
        .into_iter()
        .enumerate()
        .map(|(i, item)| NewTask::from_item(item, &i.to_string()))
        .collect::<Result<Vec<_>>>()?;
    // Label Studio reports the columns it found in uploaded files only, in the order met.
    let mut data_columns: Vec<String> = Vec::new();
    if from_files {
        let mut seen: HashSet<&str> = HashSet::new();
        for task in &tasks {
            for key in task.data.keys() {
                if seen.insert(key) {
                    data_columns.push(key.clone());
                }
            }
        }
    }
    Ok(PreparedImport {
        started,
        tasks,
        found_formats,
        data_columns,
    })
}

/// Imports prepared tasks into a project and answers as Label Studio does.
pub async fn import(
    tx: &mut Conn,
    actor: &Actor,
    settings: &LabelingSettings,
    project_id: i64,
    prepared: PreparedImport,
) -> Result<ImportResult> {
    let project = projects::get(tx, actor, project_id).await?;
    let created = tasks::create_many(tx, actor, settings, &project, prepared.tasks).await?;
    Ok(ImportResult {
        task_count: created.tasks.len(),
        annotation_count: created.annotation_count,
        prediction_count: created.prediction_count,
        duration: prepared.started.elapsed().as_secs_f64(),
        file_upload_ids: vec![],
        could_be_tasks_list: false,
        found_formats: prepared.found_formats,
        data_columns: prepared.data_columns,
    })
}

/// The answer to an import, as Label Studio gives it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportResult {
    pub task_count: usize,
    pub annotation_count: usize,
    pub prediction_count: usize,
    /// Seconds.
    pub duration: f64,
    /// Always empty.
    pub file_upload_ids: Vec<i64>,
    pub could_be_tasks_list: bool,
    /// The file extensions found (`.csv` …); empty for a JSON body.
    pub found_formats: Vec<String>,
    /// The data keys found in uploaded files; empty for a JSON body.
    pub data_columns: Vec<String>,
}
