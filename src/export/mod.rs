//! Getting the labels out: Label Studio's export formats, written as streams.
//!
//! An export reads the project's tasks page by page ([`source`]) in the form of Label
//! Studio's JSON export, and a format writes them to an [`output::Out`] piece by piece:
//! to an HTTP response, or into the database as a snapshot ([`snapshots`]). Every format
//! but JSON reads the tasks as Label Studio's converter does, one *item* per annotation
//! ([`items`]); JSON text comes out byte for byte as Label Studio's Python writes it
//! ([`pyjson`]).
//!
//! This module sits beside `labeling` and reads through it; nothing below it names it.

pub mod coco;
pub mod conll;
pub mod csv;
pub mod formats;
pub mod items;
pub mod json;
pub mod media;
pub mod output;
pub mod pyjson;
pub mod schema;
pub mod snapshots;
pub mod source;
pub mod tokenize;
pub mod yolo;

use serde_json::Value;

pub use formats::Format;
use output::Out;
use schema::Schema;

use crate::store::{self, Pool};

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Shared(#[from] crate::shared::Error),
    #[error(transparent)]
    Database(#[from] store::Error),
    #[error("zip: {0}")]
    Zip(#[from] zip::result::ZipError),
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    #[error("the stored snapshot is damaged: {0}")]
    Damaged(String),
    /// Whoever was reading went away (a client hung up); nothing is wrong.
    #[error("the reader went away")]
    Abandoned,
}

/// Where a format reads tasks from: the database, or a stored snapshot.
pub enum Tasks {
    Db {
        pool: Pool,
        pages: source::TaskPages,
    },
    Stored(snapshots::StoredTasks),
}

impl Tasks {
    /// The next page of tasks (export form), `None` after the last.
    pub async fn next(&mut self) -> Result<Option<Vec<Value>>, ExportError> {
        // A page is a few milliseconds of work, and SQLite's statements run inline
        // without yielding: give the other requests on this thread their turn first.
        tokio::task::yield_now().await;
        match self {
            Tasks::Db { pool, pages } => Ok(pages.next(pool).await?),
            Tasks::Stored(stored) => stored.next().await,
        }
    }

    /// Starts again from the first task.
    pub fn rewind(&mut self) {
        match self {
            Tasks::Db { pages, .. } => pages.rewind(),
            Tasks::Stored(stored) => stored.rewind(),
        }
    }
}

/// Writes `tasks` in `format`. `direct` picks the JSON of the direct export (`ujson`)
/// rather than a snapshot's (Python's `json`). Formats labelhook does not write are
/// refused before this is called ([`Format::refusal`]).
pub async fn write(
    format: Format,
    direct: bool,
    tasks: &mut Tasks,
    schema: &Schema,
    out: &mut Out,
) -> Result<(), ExportError> {
    match format {
        Format::Json if direct => json::write(tasks, &pyjson::UJSON, out).await,
        Format::Json => json::write(tasks, &pyjson::PYTHON, out).await,
        Format::JsonMin => json::write_min(tasks, schema, out).await,
        Format::Csv => csv::write(tasks, schema, b',', out).await,
        Format::Tsv => csv::write(tasks, schema, b'\t', out).await,
        Format::Conll2003 => conll::write(tasks, schema, out).await,
        Format::Coco => coco::write(tasks, schema, out).await,
        Format::Yolo => yolo::write(tasks, schema, out).await,
        other => Err(ExportError::Damaged(format!(
            "{} is not written by labelhook",
            other.name()
        ))),
    }
}

/// Entries compressed as Label Studio's (Python's `shutil.make_archive`) are, dated now.
pub fn zip_options() -> zip::write::SimpleFileOptions {
    use chrono::{Datelike, Timelike};
    let now = chrono::Utc::now();
    let modified = zip::DateTime::from_date_and_time(
        now.year().clamp(1980, 2107) as u16,
        now.month() as u8,
        now.day() as u8,
        now.hour() as u8,
        now.minute() as u8,
        now.second().min(59) as u8,
    )
    .unwrap_or_default();
    zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .last_modified_time(modified)
}

/// The MIME type Label Studio's direct export sends: `application/` and the extension
/// with its dot (`application/.json`), or `application/zip`.
pub fn direct_content_type(format: Format) -> String {
    match format.extension() {
        "zip" => "application/zip".into(),
        ext => format!("application/.{ext}"),
    }
}

/// `project-<id>-at-<YYYY-MM-DD-HH-MM>-<hash8>`: Label Studio's name for export files.
pub fn file_stem(project_id: i64, at: chrono::DateTime<chrono::Utc>, hash: &str) -> String {
    format!(
        "project-{project_id}-at-{}-{}",
        at.format("%Y-%m-%d-%H-%M"),
        &hash[..hash.len().min(8)]
    )
}
