//! `POST /api/projects/{id}/import`: a JSON body or uploaded files become tasks, in one
//! transaction and one TASKS_CREATED event per request (cut into batches).

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

/// Imports into a project and answers as Label Studio does.
pub async fn import(
    tx: &mut Conn,
    actor: &Actor,
    settings: &LabelingSettings,
    project_id: i64,
    source: ImportSource,
) -> Result<ImportResult> {
    let started = std::time::Instant::now();
    let project = projects::get(tx, actor, project_id).await?;
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
            let text_key = project.text_key();
            let mut items = Vec::new();
            let mut formats = Vec::new();
            for (name, bytes) in &files {
                let parsed = import_files::parse_file(name, bytes, &text_key)
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
    let new_tasks = items
        .into_iter()
        .enumerate()
        .map(|(i, item)| NewTask::from_item(item, &i.to_string()))
        .collect::<Result<Vec<_>>>()?;
    // Label Studio reports the columns it found in uploaded files only.
    let mut columns: Vec<String> = Vec::new();
    for task in new_tasks.iter().filter(|_| from_files) {
        for key in task.data.keys() {
            if !columns.contains(key) {
                columns.push(key.clone());
            }
        }
    }
    let created = tasks::create_many(tx, actor, settings, &project, new_tasks).await?;
    Ok(ImportResult {
        task_count: created.tasks.len(),
        annotation_count: created.annotation_count,
        prediction_count: created.prediction_count,
        duration: started.elapsed().as_secs_f64(),
        file_upload_ids: vec![],
        could_be_tasks_list: false,
        found_formats,
        data_columns: columns,
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
