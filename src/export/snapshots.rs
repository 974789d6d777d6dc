//! Export snapshots (`/api/projects/{id}/exports/`): a project's tasks frozen as a JSON
//! file, built in the background, and that file converted to other formats.
//!
//! The files live in the database, deflated in chunks (`export_chunks`), not on a local
//! disk: every process of a PostgreSQL deployment serves every download, and a snapshot
//! survives restarts and moves with the database's backups. A snapshot's JSON is cut
//! between tasks (each chunk holds whole tasks), so a conversion reads it back a chunk at
//! a time without parsing the whole file.
//!
//! Building is a job any process may take. A process claims a `created` job (or one whose
//! builder stopped renewing its lease: it died) by writing a fresh `build_id` and a lease;
//! its chunks carry that `build_id`, it renews the lease as it writes, and it finishes
//! only while the row still names its build. A builder that lost its job stops and its
//! chunks are deleted. Status names are Label Studio's: `created`, `in_progress`,
//! `completed`, `failed`.

use std::io::{Read, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use flate2::Compression;
use flate2::read::DeflateDecoder;
use flate2::write::DeflateEncoder;
use md5::{Digest, Md5};
use serde::Serialize;
use serde_json::{Map, Value, json};
use tokio::sync::{Notify, mpsc};
use utoipa::ToSchema;

use super::formats::Format;
use super::output::Out;
use super::schema::Schema;
use super::source::{AnnotationFilter, OnlyOrExclude, Selection, TaskPages};
use super::{ExportError, Tasks};
use crate::labeling::projects;
use crate::labeling::render::UserRef;
use crate::shared::{Actor, Error};
use crate::store::time::{self, render, render_opt};
use crate::store::{self, Conn, Db, Row};

/// How long a builder holds a job without renewing its lease.
const LEASE: Duration = Duration::from_secs(60);
/// How often a builder renews its lease (and reports progress).
const RENEW_EVERY: Duration = Duration::from_secs(10);
/// How often an idle worker looks for jobs another process left (new ones wake it).
const POLL: Duration = Duration::from_secs(2);
/// Bytes of a converted file per chunk.
const CHUNK_BYTES: usize = 1024 * 1024;

/// The snapshot builder of this process; cheap to clone.
#[derive(Clone)]
pub struct Exports {
    db: Db,
    wake: Arc<Notify>,
}

impl Exports {
    /// Starts this process's worker, which builds snapshots and conversions one at a time.
    pub fn spawn(db: Db) -> (Exports, tokio::task::JoinHandle<()>) {
        let exports = Exports {
            db,
            wake: Arc::new(Notify::new()),
        };
        let worker = exports.clone();
        let handle = tokio::spawn(async move { worker.run().await });
        (exports, handle)
    }

    /// Tells the worker a job is waiting.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    async fn run(self) {
        if !self.db.backend.shared()
            && let Err(error) = self.release_orphans().await
        {
            tracing::warn!(%error, "could not release unfinished exports");
        }
        loop {
            match self.work_once().await {
                Ok(true) => continue,
                Ok(false) => {}
                Err(error) => tracing::warn!(%error, "export worker"),
            }
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(POLL) => {}
            }
        }
    }

    /// SQLite has one process: a job in progress at start-up was cut short by a restart.
    async fn release_orphans(&self) -> store::Result<()> {
        let mut tx = self.db.begin().await?;
        for table in ["export_snapshots", "export_conversions"] {
            store::query(&format!(
                "UPDATE {table} SET status = 'created', lease_until = NULL WHERE status = 'in_progress'"
            ))
            .execute(&mut tx)
            .await?;
        }
        self.db.commit(tx).await
    }

    /// Claims and runs one job; `false` when there was none.
    async fn work_once(&self) -> Result<bool, ExportError> {
        if let Some(job) = self.claim("export_snapshots").await? {
            self.build_snapshot(job).await;
            return Ok(true);
        }
        if let Some(job) = self.claim("export_conversions").await? {
            self.build_conversion(job).await;
            return Ok(true);
        }
        Ok(false)
    }

    /// Takes the oldest job of `table` that is waiting or whose builder went quiet.
    async fn claim(&self, table: &str) -> Result<Option<Job>, ExportError> {
        let now = time::now();
        // Look first with a read: an idle worker polls, and should not take the writer.
        let any: Option<i64> = store::query_scalar(&format!(
            "SELECT id FROM {table} WHERE status = 'created' OR (status = 'in_progress' AND lease_until < $1) LIMIT 1"
        ))
        .bind(now)
        .fetch_optional(self.db.reader())
        .await?;
        if any.is_none() {
            return Ok(None);
        }
        let waiting = "(status = 'created' OR (status = 'in_progress' AND lease_until < $3))";
        let sql = format!(
            "UPDATE {table} SET status = 'in_progress', build_id = $1, lease_until = $2 \
             WHERE id = (SELECT id FROM {table} WHERE {waiting} ORDER BY id LIMIT 1) AND {waiting} \
             RETURNING id"
        );
        let build_id = new_build_id();
        let mut tx = self.db.begin().await?;
        let claimed: Option<i64> = store::query_scalar(&sql)
            .bind(build_id)
            .bind(now + LEASE.as_micros() as i64)
            .bind(now)
            .fetch_optional(&mut tx)
            .await?;
        self.db.commit(tx).await?;
        Ok(claimed.map(|id| Job {
            table: if table == "export_snapshots" {
                JobKind::Snapshot
            } else {
                JobKind::Conversion
            },
            id,
            build_id,
        }))
    }

    async fn build_snapshot(&self, job: Job) {
        let outcome = self.write_snapshot(&job).await;
        self.finish(&job, outcome).await;
    }

    async fn build_conversion(&self, job: Job) {
        let outcome = self.write_conversion(&job).await;
        self.finish(&job, outcome).await;
    }

    /// Records how a job ended (if this builder still holds it) and drops the chunks of
    /// builds that did not make it.
    async fn finish(&self, job: &Job, outcome: Result<Finished, ExportError>) {
        let table = job.table.table();
        let result = async {
            let mut tx = self.db.begin().await?;
            let now = time::now();
            let updated = match &outcome {
                Ok(finished) => {
                    let sql = match job.table {
                        JobKind::Snapshot => format!(
                            "UPDATE {table} SET status = 'completed', md5 = $1, task_number = $2, byte_size = $3, \
                             file_name = $4, finished_at = $5, lease_until = NULL WHERE id = $6 AND build_id = $7"
                        ),
                        JobKind::Conversion => format!(
                            "UPDATE {table} SET status = 'completed', md5 = $1, task_number = $2, byte_size = $3, \
                             file_name = $4, finished_at = $5, updated_at = $5, lease_until = NULL WHERE id = $6 AND build_id = $7"
                        ),
                    };
                    store::query(&sql)
                        .bind(finished.md5.as_str())
                        .bind(finished.task_number)
                        .bind(finished.byte_size)
                        .bind(finished.file_name.as_str())
                        .bind(now)
                        .bind(job.id)
                        .bind(job.build_id)
                        .execute(&mut tx)
                        .await?
                        .rows_affected()
                }
                Err(ExportError::Abandoned) => 0,
                Err(error) => {
                    tracing::warn!(job = job.id, table, %error, "export failed");
                    store::query(&format!(
                        "UPDATE {table} SET status = 'failed', error = $1, finished_at = $2, lease_until = NULL \
                         WHERE id = $3 AND build_id = $4"
                    ))
                    .bind(error.to_string())
                    .bind(now)
                    .bind(job.id)
                    .bind(job.build_id)
                    .execute(&mut tx)
                    .await?
                    .rows_affected()
                }
            };
            let kept = updated > 0 && outcome.is_ok();
            // Chunks of this job other than those of a build that completed.
            let column = job.table.chunk_column();
            let sql = if kept {
                format!("DELETE FROM export_chunks WHERE {column} = $1 AND build_id <> $2")
            } else {
                format!("DELETE FROM export_chunks WHERE {column} = $1 AND build_id = $2")
            };
            let filter = job.table.chunk_filter();
            store::query(&format!("{sql}{filter}"))
                .bind(job.id)
                .bind(job.build_id)
                .execute(&mut tx)
                .await?;
            self.db.commit(tx).await?;
            Ok::<_, store::Error>(())
        }
        .await;
        if let Err(error) = result {
            tracing::warn!(job = job.id, table, %error, "could not record the end of an export");
        }
    }

    /// Builds a snapshot's JSON file from the database.
    async fn write_snapshot(&self, job: &Job) -> Result<Finished, ExportError> {
        let row = store::query("SELECT project_id, options FROM export_snapshots WHERE id = $1")
            .bind(job.id)
            .fetch_one(self.db.reader())
            .await?;
        let project_id: i64 = row.try_get("project_id")?;
        let options = crate::labeling::stored_json(row.try_get("options")?);
        let mut pages = TaskPages::new(project_id, selection(&options));
        let mut chunks = ChunkWriter::new(self, job, job.id, 0);
        let mut md5 = Md5::new();
        let mut task_number = 0i64;
        let mut byte_size = 0i64;
        let mut first = true;
        while let Some(page) = pages.next(self.db.reader()).await? {
            let mut text = Vec::with_capacity(64 * 1024);
            for task in &page {
                text.extend_from_slice(if first { b"[" } else { b", " });
                first = false;
                super::pyjson::write(&mut text, task, &super::pyjson::PYTHON, 0);
            }
            task_number += page.len() as i64;
            md5.update(&text);
            byte_size += text.len() as i64;
            chunks.write(&text, page.len() as i64, task_number).await?;
        }
        let end: &[u8] = if first { b"[]" } else { b"]" };
        md5.update(end);
        byte_size += end.len() as i64;
        chunks.write(end, 0, task_number).await?;
        let md5 = hex(&md5.finalize());
        let name = super::file_stem(project_id, chrono::Utc::now(), &md5);
        Ok(Finished {
            md5,
            task_number,
            byte_size,
            file_name: format!("export/{project_id}/{name}.json"),
        })
    }

    /// Converts a completed snapshot's JSON into another format.
    async fn write_conversion(&self, job: &Job) -> Result<Finished, ExportError> {
        let row = store::query(
            "SELECT c.export_type, c.snapshot_id, s.project_id, s.file_name, s.build_id AS snapshot_build \
             FROM export_conversions c JOIN export_snapshots s ON s.id = c.snapshot_id WHERE c.id = $1",
        )
        .bind(job.id)
        .fetch_one(self.db.reader())
        .await?;
        let export_type: String = row.try_get("export_type")?;
        let format = Format::parse(&export_type)
            .ok_or_else(|| ExportError::Damaged(format!("unknown format {export_type}")))?;
        let snapshot_id: i64 = row.try_get("snapshot_id")?;
        let project_id: i64 = row.try_get("project_id")?;
        let snapshot_file: String = row.try_get("file_name")?;
        let snapshot_build: Option<i64> = row.try_get("snapshot_build")?;
        let mut conn = self.db.reader().acquire().await?;
        let project = projects::get_unchecked(&mut conn, project_id).await?;
        drop(conn);
        let schema = Schema::new(&project.parsed_label_config.value());
        let mut tasks = Tasks::Stored(StoredTasks::new(
            self.db.clone(),
            snapshot_id,
            snapshot_build.unwrap_or_default(),
        ));
        let (tx, rx) = mpsc::channel(4);
        let mut out = Out::channel(tx);
        let mut chunks = ChunkWriter::new(self, job, snapshot_id, job.id);
        let mut md5 = Md5::new();
        let mut byte_size = 0i64;
        let produce = async move {
            super::write(format, false, &mut tasks, &schema, &mut out).await?;
            out.finish().await?;
            Ok::<(), ExportError>(())
        };
        let consume = async {
            // Owned here: if storing fails, the channel closes and the writer stops.
            let mut rx = rx;
            let mut pending = Vec::with_capacity(CHUNK_BYTES);
            while let Some(piece) = rx.recv().await {
                let piece = piece?;
                md5.update(&piece);
                byte_size += piece.len() as i64;
                pending.extend_from_slice(&piece);
                if pending.len() >= CHUNK_BYTES {
                    chunks.write(&pending, 0, 0).await?;
                    pending.clear();
                }
            }
            chunks.write(&pending, 0, 0).await?;
            Ok::<(), ExportError>(())
        };
        let (produced, consumed) = tokio::join!(produce, consume);
        // A storing error closes the channel, which the writer sees as `Abandoned`: report
        // the cause.
        consumed?;
        produced?;
        let stem = snapshot_file
            .rsplit('/')
            .next()
            .and_then(|name| name.strip_suffix(".json"))
            .unwrap_or_default();
        Ok(Finished {
            md5: hex(&md5.finalize()),
            task_number: 0,
            byte_size,
            file_name: format!("{stem}.{}", format.extension()),
        })
    }
}

/// What a finished job records.
struct Finished {
    md5: String,
    task_number: i64,
    byte_size: i64,
    file_name: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum JobKind {
    Snapshot,
    Conversion,
}

impl JobKind {
    fn table(self) -> &'static str {
        match self {
            JobKind::Snapshot => "export_snapshots",
            JobKind::Conversion => "export_conversions",
        }
    }

    /// The chunk column that names this kind's jobs.
    fn chunk_column(self) -> &'static str {
        match self {
            JobKind::Snapshot => "snapshot_id",
            JobKind::Conversion => "conversion_id",
        }
    }

    /// A snapshot's own chunks (not those of its conversions).
    fn chunk_filter(self) -> &'static str {
        match self {
            JobKind::Snapshot => " AND conversion_id = 0",
            JobKind::Conversion => "",
        }
    }
}

struct Job {
    table: JobKind,
    id: i64,
    build_id: i64,
}

/// A positive random id for one build's chunks.
fn new_build_id() -> i64 {
    (rand::random::<u64>() >> 1) as i64
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Writes one build's chunks, renewing the job's lease as it goes.
struct ChunkWriter<'a> {
    exports: &'a Exports,
    job_table: JobKind,
    job_id: i64,
    build_id: i64,
    snapshot_id: i64,
    conversion_id: i64,
    seq: i64,
    renewed: Instant,
}

impl<'a> ChunkWriter<'a> {
    fn new(exports: &'a Exports, job: &Job, snapshot_id: i64, conversion_id: i64) -> Self {
        ChunkWriter {
            exports,
            job_table: job.table,
            job_id: job.id,
            build_id: job.build_id,
            snapshot_id,
            conversion_id,
            seq: 0,
            renewed: Instant::now(),
        }
    }

    async fn write(
        &mut self,
        bytes: &[u8],
        task_count: i64,
        progress: i64,
    ) -> Result<(), ExportError> {
        let mut encoder =
            DeflateEncoder::new(Vec::with_capacity(bytes.len() / 4), Compression::fast());
        encoder.write_all(bytes)?;
        let content = encoder.finish()?;
        let db = &self.exports.db;
        let mut tx = db.begin().await?;
        store::query(
            "INSERT INTO export_chunks (build_id, seq, snapshot_id, conversion_id, task_count, content) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(self.build_id)
        .bind(self.seq)
        .bind(self.snapshot_id)
        .bind(self.conversion_id)
        .bind(task_count)
        .bind(content)
        .execute(&mut tx)
        .await?;
        if self.renewed.elapsed() >= RENEW_EVERY {
            let held = store::query(&format!(
                "UPDATE {} SET lease_until = $1, task_number = $2 WHERE id = $3 AND build_id = $4",
                self.job_table.table()
            ))
            .bind(time::now() + LEASE.as_micros() as i64)
            .bind(progress)
            .bind(self.job_id)
            .bind(self.build_id)
            .execute(&mut tx)
            .await?
            .rows_affected();
            if held == 0 {
                // Another process took the job over: this build is void.
                drop(tx);
                return Err(ExportError::Abandoned);
            }
            self.renewed = Instant::now();
        }
        db.commit(tx).await?;
        self.seq += 1;
        Ok(())
    }
}

/// The chunks of one stored file, in order, decompressed.
pub struct StoredFile {
    db: Db,
    build_id: i64,
    next_seq: i64,
}

impl StoredFile {
    pub fn new(db: Db, build_id: i64) -> StoredFile {
        StoredFile {
            db,
            build_id,
            next_seq: 0,
        }
    }

    /// The next chunk's bytes, `None` after the last.
    pub async fn next(&mut self) -> Result<Option<Vec<u8>>, ExportError> {
        let content: Option<Vec<u8>> = store::query_scalar(
            "SELECT content FROM export_chunks WHERE build_id = $1 AND seq = $2",
        )
        .bind(self.build_id)
        .bind(self.next_seq)
        .fetch_optional(self.db.reader())
        .await?;
        let Some(content) = content else {
            return Ok(None);
        };
        self.next_seq += 1;
        let mut bytes = Vec::with_capacity(content.len() * 4);
        DeflateDecoder::new(content.as_slice()).read_to_end(&mut bytes)?;
        Ok(Some(bytes))
    }

    /// Streams the whole file into `out`.
    pub async fn copy_to(mut self, out: &mut Out) -> Result<(), ExportError> {
        while let Some(bytes) = self.next().await? {
            out.buf.extend_from_slice(&bytes);
            out.flush().await?;
        }
        Ok(())
    }
}

/// A stored snapshot's tasks, read back a chunk (whole tasks) at a time.
pub struct StoredTasks {
    db: Db,
    build_id: i64,
    file: StoredFile,
}

impl StoredTasks {
    pub fn new(db: Db, _snapshot_id: i64, build_id: i64) -> StoredTasks {
        StoredTasks {
            file: StoredFile::new(db.clone(), build_id),
            db,
            build_id,
        }
    }

    pub fn rewind(&mut self) {
        self.file = StoredFile::new(self.db.clone(), self.build_id);
    }

    pub async fn next(&mut self) -> Result<Option<Vec<Value>>, ExportError> {
        loop {
            let Some(bytes) = self.file.next().await? else {
                return Ok(None);
            };
            let text = String::from_utf8(bytes)
                .map_err(|_| ExportError::Damaged("a chunk is not UTF-8".into()))?;
            // A chunk is `[` or `, ` followed by tasks separated by `, `; the last ends in `]`.
            let inner = text
                .strip_prefix('[')
                .or_else(|| text.strip_prefix(", "))
                .unwrap_or(&text);
            let inner = inner.strip_suffix(']').unwrap_or(inner);
            if inner.trim().is_empty() {
                continue;
            }
            let tasks: Vec<Value> = serde_json::from_str(&format!("[{inner}]"))
                .map_err(|e| ExportError::Damaged(e.to_string()))?;
            return Ok(Some(tasks));
        }
    }
}

/// The tasks and annotations a snapshot's options select (Label Studio's
/// `task_filter_options`, `annotation_filter_options`, `serialization_options`).
fn selection(options: &Value) -> Selection {
    let only_or_exclude = |value: Option<&Value>| match value.and_then(Value::as_str) {
        Some("only") => Some(OnlyOrExclude::Only),
        Some("exclude") => Some(OnlyOrExclude::Exclude),
        _ => None,
    };
    let tasks = options.get("task_filter_options").filter(|v| v.is_object());
    let annotations = options
        .get("annotation_filter_options")
        .and_then(Value::as_object)
        .map(|o| AnnotationFilter {
            // Label Studio's serializer defaults `usual` to true when the options are sent.
            usual: o.get("usual").is_none_or(|v| v.as_bool() == Some(true)),
            ground_truth: o.get("ground_truth").and_then(Value::as_bool) == Some(true),
            skipped: o.get("skipped").and_then(Value::as_bool) == Some(true),
        });
    let serialization = options.get("serialization_options");
    let expanded = |key: &str| {
        serialization
            .and_then(|s| s.get(key))
            .and_then(Value::as_object)
            .is_some_and(|o| o.get("only_id").and_then(Value::as_bool) != Some(true))
    };
    Selection {
        skipped: only_or_exclude(tasks.and_then(|t| t.get("skipped"))),
        finished: only_or_exclude(tasks.and_then(|t| t.get("finished"))),
        annotated: only_or_exclude(tasks.and_then(|t| t.get("annotated"))),
        only_with_annotations: tasks
            .and_then(|t| t.get("only_with_annotations"))
            .and_then(Value::as_bool)
            == Some(true),
        annotations,
        expand_predictions: expanded("predictions"),
        expand_completed_by: expanded("annotations__completed_by"),
        ..Selection::default()
    }
}

// ---------------------------------------------------------------------------------------
// Rows and their API form

/// A snapshot as stored.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub id: i64,
    pub title: String,
    pub created_by: Option<i64>,
    pub status: String,
    pub md5: String,
    pub task_number: i64,
    pub byte_size: i64,
    pub file_name: String,
    pub build_id: Option<i64>,
    pub created_at: i64,
    pub finished_at: Option<i64>,
}

const SNAPSHOT_COLUMNS: &str = "s.id, s.title, s.created_by, s.status, s.md5, \
    s.task_number, s.byte_size, s.file_name, s.build_id, s.created_at, s.finished_at";

fn snapshot_from_row(row: &Row) -> store::Result<Snapshot> {
    Ok(Snapshot {
        id: row.try_get("id")?,
        title: row.try_get("title")?,
        created_by: row.try_get("created_by")?,
        status: row.try_get("status")?,
        md5: row.try_get("md5")?,
        task_number: row.try_get("task_number")?,
        byte_size: row.try_get("byte_size")?,
        file_name: row.try_get("file_name")?,
        build_id: row.try_get("build_id")?,
        created_at: row.try_get("created_at")?,
        finished_at: row.try_get("finished_at")?,
    })
}

/// A conversion of a snapshot into another format.
#[derive(Debug, Clone)]
pub struct Conversion {
    pub id: i64,
    pub export_type: String,
    pub status: String,
    pub traceback: Option<String>,
    pub byte_size: i64,
    pub build_id: Option<i64>,
}

/// What a snapshot's creator asked for (all optional).
#[derive(Debug, Default)]
pub struct NewSnapshot {
    pub title: Option<String>,
    pub options: Map<String, Value>,
}

/// Creates a snapshot of `project_id` (already checked to be the actor's) waiting to be
/// built.
pub async fn create(
    tx: &mut Conn,
    actor: &Actor,
    project_id: i64,
    input: NewSnapshot,
) -> crate::shared::Result<Snapshot> {
    let project = projects::get(tx, actor, project_id).await?;
    let now = time::now();
    let title = match input.title.filter(|t| !t.is_empty()) {
        Some(title) => title,
        None => format!(
            "{}-at-{}",
            project.title.replace(' ', "-"),
            chrono::DateTime::<chrono::Utc>::from_timestamp_micros(now)
                .unwrap_or_default()
                .format("%Y-%m-%d-%H-%M")
        ),
    };
    let id: i64 = store::query_scalar(
        "INSERT INTO export_snapshots (project_id, title, created_by, status, options, created_at) \
         VALUES ($1, $2, $3, 'created', $4, $5) RETURNING id",
    )
    .bind(project_id)
    .bind(title)
    .bind(actor.user_id)
    .bind(Value::Object(input.options).to_string())
    .bind(now)
    .fetch_one(&mut *tx)
    .await?;
    get(tx, actor, project_id, id).await
}

/// A snapshot of one of the actor's projects (404 otherwise).
pub async fn get(
    conn: &mut Conn,
    actor: &Actor,
    project_id: i64,
    id: i64,
) -> crate::shared::Result<Snapshot> {
    let sql = format!(
        "SELECT {SNAPSHOT_COLUMNS} FROM export_snapshots s JOIN projects p ON p.id = s.project_id \
         WHERE s.id = $1 AND s.project_id = $2 AND p.organization_id = $3"
    );
    store::query(&sql)
        .bind(id)
        .bind(project_id)
        .bind(actor.organization_id)
        .fetch_found(&mut *conn, "Export", snapshot_from_row)
        .await
}

/// The newest 100 snapshots of a project, newest first (as Label Studio lists them).
pub async fn list(conn: &mut Conn, project_id: i64) -> crate::shared::Result<Vec<Snapshot>> {
    let sql = format!(
        "SELECT {SNAPSHOT_COLUMNS} FROM export_snapshots s WHERE s.project_id = $1 \
         ORDER BY s.created_at DESC, s.id DESC LIMIT 100"
    );
    let rows = store::query(&sql)
        .bind(project_id)
        .fetch_all(&mut *conn)
        .await?;
    Ok(rows
        .iter()
        .map(snapshot_from_row)
        .collect::<store::Result<_>>()?)
}

/// Deletes a snapshot with its conversions and files.
pub async fn delete(tx: &mut Conn, snapshot: &Snapshot) -> crate::shared::Result<()> {
    // Chunks and conversions go with it (foreign keys cascade).
    store::query("DELETE FROM export_snapshots WHERE id = $1")
        .bind(snapshot.id)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// The conversions of these snapshots, by snapshot, in id order.
pub async fn conversions(
    conn: &mut Conn,
    snapshot_ids: &[i64],
) -> crate::shared::Result<std::collections::HashMap<i64, Vec<Conversion>>> {
    let rows = store::fetch_by_ids(conn, snapshot_ids, |list| {
        format!(
            "SELECT id, snapshot_id, export_type, status, error, byte_size, build_id \
             FROM export_conversions WHERE snapshot_id IN ({list})"
        )
    })
    .await?;
    let mut by_snapshot: std::collections::HashMap<i64, Vec<Conversion>> = Default::default();
    for row in rows {
        by_snapshot
            .entry(row.try_get("snapshot_id")?)
            .or_default()
            .push(Conversion {
                id: row.try_get("id")?,
                export_type: row.try_get("export_type")?,
                status: row.try_get("status")?,
                traceback: row.try_get("error")?,
                byte_size: row.try_get("byte_size")?,
                build_id: row.try_get("build_id")?,
            });
    }
    for list in by_snapshot.values_mut() {
        list.sort_by_key(|c| c.id);
    }
    Ok(by_snapshot)
}

/// Asks for a conversion of a completed snapshot, unless one (not failed) exists.
pub async fn convert(
    tx: &mut Conn,
    actor: &Actor,
    snapshot: &Snapshot,
    format: Format,
) -> crate::shared::Result<i64> {
    let existing: Option<i64> = store::query_scalar(
        "SELECT id FROM export_conversions WHERE snapshot_id = $1 AND export_type = $2 AND status <> 'failed'",
    )
    .bind(snapshot.id)
    .bind(format.name())
    .fetch_optional(&mut *tx)
    .await?;
    if existing.is_some() {
        return Err(Error::invalid(
            "non_field_errors",
            format!("Conversion to {} already started", format.name()),
        ));
    }
    let now = time::now();
    let id = store::query_scalar(
        "INSERT INTO export_conversions (snapshot_id, export_type, status, created_by, created_at, updated_at) \
         VALUES ($1, $2, 'created', $3, $4, $4) RETURNING id",
    )
    .bind(snapshot.id)
    .bind(format.name())
    .bind(actor.user_id)
    .bind(now)
    .fetch_one(&mut *tx)
    .await?;
    Ok(id)
}

/// A snapshot as Label Studio's `ExportSerializer` renders it (its `Export`).
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = ExportSnapshot)]
pub struct SnapshotView {
    /// `<project title>-at-<time>` unless one was given.
    pub title: String,
    pub id: i64,
    pub created_by: Option<UserRef>,
    pub created_at: String,
    /// When it completed or failed.
    pub finished_at: Option<String>,
    /// `created`, `in_progress`, `completed` or `failed`.
    #[schema(example = "completed")]
    pub status: String,
    /// MD5 of the JSON file (empty until completed).
    pub md5: String,
    /// `{task_number}` (the tasks so far while in progress; `{}` while waiting).
    #[schema(value_type = Object)]
    pub counters: Value,
    pub converted_formats: Vec<ConvertedFormatView>,
}

/// A conversion of a snapshot into another format.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = ConvertedFormat)]
pub struct ConvertedFormatView {
    pub id: i64,
    /// `created`, `in_progress`, `completed` or `failed`.
    pub status: String,
    pub export_type: String,
    /// What went wrong, when it failed.
    pub traceback: Option<String>,
}

/// The create answer: the snapshot, then the options keys Label Studio ends it with
/// (always `null` there too).
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = ExportSnapshotCreated)]
pub struct SnapshotCreatedView {
    #[serde(flatten)]
    pub snapshot: SnapshotView,
    #[schema(value_type = Option<Object>)]
    pub task_filter_options: Option<Value>,
    #[schema(value_type = Option<Object>)]
    pub annotation_filter_options: Option<Value>,
    #[schema(value_type = Option<Object>)]
    pub serialization_options: Option<Value>,
}

impl From<SnapshotView> for SnapshotCreatedView {
    fn from(snapshot: SnapshotView) -> Self {
        SnapshotCreatedView {
            snapshot,
            task_filter_options: None,
            annotation_filter_options: None,
            serialization_options: None,
        }
    }
}

/// A snapshot's creator, as `created_by` shows it.
#[derive(Debug, Clone)]
pub struct Creator {
    id: i64,
    first_name: String,
    last_name: String,
    email: String,
}

/// The snapshot in API form.
pub fn render_snapshot(
    snapshot: &Snapshot,
    creator: Option<&Creator>,
    conversions: &[Conversion],
) -> SnapshotView {
    let counters = if snapshot.status == "created" {
        json!({})
    } else {
        json!({"task_number": snapshot.task_number})
    };
    SnapshotView {
        title: snapshot.title.clone(),
        id: snapshot.id,
        created_by: creator.map(|c| UserRef {
            id: c.id,
            first_name: c.first_name.clone(),
            last_name: c.last_name.clone(),
            email: c.email.clone(),
            avatar: None,
        }),
        created_at: render(snapshot.created_at),
        finished_at: render_opt(snapshot.finished_at),
        status: snapshot.status.clone(),
        md5: snapshot.md5.clone(),
        counters,
        converted_formats: conversions
            .iter()
            .map(|c| ConvertedFormatView {
                id: c.id,
                status: c.status.clone(),
                export_type: c.export_type.clone(),
                traceback: c.traceback.clone(),
            })
            .collect(),
    }
}

/// The creators of snapshots, by id.
pub async fn creators(
    conn: &mut Conn,
    ids: &[i64],
) -> crate::shared::Result<std::collections::HashMap<i64, Creator>> {
    let rows = store::fetch_by_ids(conn, ids, |list| {
        format!("SELECT id, first_name, last_name, email FROM users WHERE id IN ({list})")
    })
    .await?;
    let mut found = std::collections::HashMap::new();
    for row in rows {
        let id: i64 = row.try_get("id")?;
        found.insert(
            id,
            Creator {
                id,
                first_name: row.try_get("first_name")?,
                last_name: row.try_get("last_name")?,
                email: row.try_get("email")?,
            },
        );
    }
    Ok(found)
}
