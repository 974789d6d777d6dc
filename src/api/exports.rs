//! `/api/projects/{id}/export...`: Label Studio's export API. The direct export streams
//! the file as it is written; snapshots are built in the background (`export::snapshots`)
//! and downloaded from the database.

use axum::Json;
use axum::body::Body;
use axum::extract::Request;
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use md5::{Digest, Md5};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use tokio::sync::mpsc;
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::error::{ApiError, ApiResult};
use super::extract::{Caller, Id, Ids, body_bytes, from_object, parse_json};
use super::route::{Route, delete, get, post, tagged};
use crate::export::formats::FormatView;
use crate::export::output::Out;
use crate::export::schema::Schema;
use crate::export::snapshots::{
    self, NewSnapshot, Snapshot, SnapshotCreatedView, SnapshotView, StoredFile, StoredTasks,
};
use crate::export::source::{Selection, TaskPages};
use crate::export::{self, ExportError, Format, Tasks, formats};
use crate::labeling::projects;
use crate::shared::Role;
use crate::shared::not_null;

pub(super) fn routes() -> Vec<Route> {
    // A file in any of the formats: JSON, text (CSV, TSV, CONLL) or a zip.
    let file = || {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::SchemaType::AnyValue)
            .description(Some(
                "The file: JSON, CSV/TSV or CONLL text, or a zip (COCO, YOLO).",
            ))
    };
    tagged(
        "export",
        [
            get("/api/projects/{id}/export", export_direct)
                .doc("projects_export", "Export a project's tasks as a file")
                .needs(Role::Manager)
                .about("Streams the file as it is written (JSON, JSON_MIN, CSV, TSV, CONLL2003, COCO, YOLO), \
                    named `project-<id>-at-<time>-<hash>.<ext>` in `Content-Disposition` and `filename`, with Label Studio's \
                    content type (`application/.json`, `application/.csv`, `application/.conll`, `application/zip`). \
                    Without `download_all_tasks` only tasks with an annotation (skipped ones included) are exported. \
                    A format that does not fit the project's labeling config is a 400 saying why.")
                .query::<DirectQuery>()
                .ok_content("The file", "application/*", file()),
            get("/api/projects/{id}/export/formats", list_formats)
                .doc("projects_export_formats", "List the export formats")
                .needs(Role::Manager)
                .about("Every format Label Studio lists, those that fit the project's labeling config first; \
                    the others carry `disabled: true` and labelhook's `disabled_reason`.")
                .ok_list::<FormatView>("The formats"),
            get("/api/projects/{id}/exports", list_snapshots)
                .doc("projects_exports_list", "List export snapshots")
                .needs(Role::Manager)
                .about("The newest 100, newest first, as a plain list.")
                .ok_list::<SnapshotView>("The snapshots"),
            post("/api/projects/{id}/exports", create_snapshot)
                .doc("projects_exports_create", "Create an export snapshot")
                .needs(Role::Manager)
                .about("Answers 201 at once with status `created`; the JSON file is built in the background \
                    (poll the snapshot until `completed`). Without options every task and annotation is in it. \
                    An empty body is fine.")
                .json::<SnapshotInput>("All optional.")
                .created::<SnapshotCreatedView>("The snapshot"),
            get("/api/projects/{id}/exports/{export_pk}", read_snapshot)
                .doc("projects_exports_read", "Read an export snapshot")
                .needs(Role::Manager)
                .ok::<SnapshotView>("The snapshot"),
            delete("/api/projects/{id}/exports/{export_pk}", delete_snapshot)
                .doc("projects_exports_delete", "Delete an export snapshot")
                .needs(Role::Manager)
                .about("With its converted files.")
                .no_content("Deleted"),
            get("/api/projects/{id}/exports/{export_pk}/download", download_snapshot)
                .doc("projects_exports_download", "Download an export snapshot")
                .needs(Role::Manager)
                .about("Without `exportType`: the snapshot's JSON file (`application/json`, named \
                    `export/<project>/project-<project>-at-<time>-<md5>.json`). With it: the file in that format, \
                    converted before (`/convert`) or now, as it streams (`application/<ext>`). 404 until the \
                    snapshot is completed.")
                .query::<DownloadQuery>()
                .ok_content("The file", "application/*", file()),
            post("/api/projects/{id}/exports/{export_pk}/convert", convert_snapshot)
                .doc("projects_exports_convert", "Convert an export snapshot")
                .needs(Role::Manager)
                .about("Queues the conversion of a completed snapshot to `export_type`; its status shows in the \
                    snapshot's `converted_formats`. A second request for the same format (unless it failed) is a 400.")
                .json::<ConvertInput>("The format.")
                .ok::<ConvertResult>("Queued"),
        ],
    )
}

/// The direct export's query (read by hand: `ids[]` repeats).
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
struct DirectQuery {
    /// The format (see `/export/formats`); JSON by default.
    #[serde(rename = "exportType")]
    #[param(example = "JSON")]
    export_type_new: Option<String>,
    /// The older name of `exportType`.
    export_type: Option<String>,
    /// All tasks, not only those with an annotation.
    download_all_tasks: Option<bool>,
    /// Accepted for compatibility; labelhook does not download task media.
    download_resources: Option<bool>,
    /// Only these tasks (repeat the parameter; `ids` is read too).
    #[serde(rename = "ids[]")]
    #[param(value_type = Option<Vec<i64>>)]
    ids: Option<String>,
}

/// A snapshot download's query.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
struct DownloadQuery {
    /// The format; the snapshot's JSON without it.
    #[serde(rename = "exportType")]
    #[param(example = "CSV")]
    export_type: Option<String>,
}

// ---------------------------------------------------------------------------------------
// Query strings

/// A query string's parameters; a repeated one keeps every value in order.
struct Params(Vec<(String, String)>);

impl Params {
    fn of(uri: &Uri) -> ApiResult<Params> {
        let pairs: Vec<(String, String)> =
            url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
        if let Some((name, _)) = pairs
            .iter()
            .find(|(k, v)| k.contains('\0') || v.contains('\0'))
        {
            return Err(ApiError::field(
                &name.replace('\0', ""),
                "Null characters are not allowed.",
            ));
        }
        Ok(Params(pairs))
    }

    /// The last value of `name` (as Django's `QueryDict.get`).
    fn last(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn all(&self, name: &str) -> impl Iterator<Item = &str> {
        self.0
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A boolean the way Django REST framework reads one (`true`, `1`, `yes`, `on`, ...).
    fn flag(&self, name: &str, default: bool) -> ApiResult<bool> {
        match self.last(name) {
            None => Ok(default),
            Some(value) => {
                parse_flag(value).ok_or_else(|| ApiError::field(name, "Must be a valid boolean."))
            }
        }
    }

    /// `exportType` (or the older `export_type`), JSON when neither is given.
    /// The parameter that names the format, for errors (`exportType` wins when both are sent).
    fn format_field(&self) -> &'static str {
        if self.last("exportType").is_some() {
            "exportType"
        } else {
            "export_type"
        }
    }

    fn format(&self, default: Option<Format>) -> ApiResult<Option<Format>> {
        let given = match (self.last("exportType"), self.last("export_type")) {
            (Some(value), _) => Some(("exportType", value)),
            (None, Some(value)) => Some(("export_type", value)),
            (None, None) => None,
        };
        match given {
            None => Ok(default),
            Some((name, "")) => Err(ApiError::field(name, "This field may not be blank.")),
            Some((name, value)) => Format::parse(value).map(Some).ok_or_else(|| {
                ApiError::field(
                    name,
                    format!(
                        "{value} is not an export format. The formats are: {}.",
                        formats::names()
                    ),
                )
            }),
        }
    }
}

fn parse_flag(value: &str) -> Option<bool> {
    match value {
        "t" | "T" | "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On"
        | "ON" | "1" => Some(true),
        "f" | "F" | "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off"
        | "Off" | "OFF" | "0" => Some(false),
        _ => None,
    }
}

/// Refuses a format that does not fit the project (or that labelhook does not write).
/// 400 naming `field` when `format` cannot export a project of this labeling config.
fn check_available(format: Format, schema: &Schema, field: &str) -> ApiResult<()> {
    match format.refusal(schema) {
        Some(reason) => Err(ApiError::field(field, reason)),
        None => Ok(()),
    }
}

// ---------------------------------------------------------------------------------------
// Streaming a file

/// A response whose body the export writes as it goes; `length` when known.
fn attachment(content_type: &str, file_name: &str, length: Option<u64>, body: Body) -> Response {
    let mut headers = HeaderMap::new();
    let set = |headers: &mut HeaderMap, name: HeaderName, value: String| {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    };
    set(&mut headers, CONTENT_TYPE, content_type.to_string());
    set(
        &mut headers,
        CONTENT_DISPOSITION,
        format!("attachment; filename=\"{file_name}\""),
    );
    // Label Studio also names the file in a header of its own.
    set(
        &mut headers,
        HeaderName::from_static("filename"),
        file_name.to_string(),
    );
    if let Some(length) = length {
        set(&mut headers, CONTENT_LENGTH, length.to_string());
    }
    (StatusCode::OK, headers, body).into_response()
}

/// Runs `write` in a task of its own that feeds the returned body through a small bounded
/// channel: a slow client holds the writer back, one that hangs up stops it. `write` gets
/// the output and finishes it.
fn streamed<F, Fut>(what: &'static str, write: F) -> Body
where
    F: FnOnce(Out) -> Fut,
    Fut: Future<Output = Result<(), ExportError>> + Send + 'static,
{
    let (tx, rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    let errors = tx.clone();
    let writing = write(Out::channel(tx));
    tokio::spawn(async move {
        match writing.await {
            Ok(()) | Err(ExportError::Abandoned) => {}
            Err(error) => {
                tracing::error!(%error, what, "export failed while streaming");
                // An error item aborts the response, so the client sees a broken download,
                // not a file that looks complete.
                let _ = errors
                    .send(Err(std::io::Error::other(error.to_string())))
                    .await;
            }
        }
    });
    Body::from_stream(futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    }))
}

// ---------------------------------------------------------------------------------------
// The direct export

async fn export_direct(caller: Caller, Id(id): Id, uri: Uri) -> ApiResult<Response> {
    let params = Params::of(&uri)?;
    let mut conn = caller.reader().await?;
    let project = projects::get(&mut conn, &caller.actor, id).await?;
    drop(conn);
    let format = params.format(Some(Format::Json))?.unwrap_or(Format::Json);
    let schema = Schema::new(&project.parsed_label_config.value());
    check_available(format, &schema, params.format_field())?;
    let all_tasks = params.flag("download_all_tasks", false)?;
    params.flag("download_resources", false)?;
    params.flag("interpolate_key_frames", false)?;
    let mut ids = Vec::new();
    for value in params.all("ids[]").chain(params.all("ids")) {
        for part in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let id = part
                .parse::<i64>()
                .map_err(|_| ApiError::field("ids", format!("\"{part}\" is not a task id.")))?;
            ids.push(id);
        }
    }
    let selection = Selection {
        only_annotated: !all_tasks,
        ids: (!ids.is_empty()).then_some(ids),
        ..Selection::default()
    };
    // Label Studio names the file after the MD5 of its content, which a stream does not
    // know when the headers go out: this hash is of the request and the time instead.
    let now = chrono::Utc::now();
    let digest = Md5::digest(format!("{id}|{}|{}", uri, now.timestamp_micros()).as_bytes());
    let hash: String = digest.iter().take(4).map(|b| format!("{b:02x}")).collect();
    let name = format!(
        "{}.{}",
        export::file_stem(id, now, &hash),
        format.extension()
    );
    let pool = caller.state.db.reader().clone();
    let body = streamed("direct export", move |mut out| async move {
        let mut tasks = Tasks::Db {
            pool,
            pages: TaskPages::new(id, selection),
        };
        export::write(format, true, &mut tasks, &schema, &mut out).await?;
        out.finish().await.map(drop)
    });
    Ok(attachment(
        &export::direct_content_type(format),
        &name,
        None,
        body,
    ))
}

async fn list_formats(caller: Caller, Id(id): Id) -> ApiResult<Json<Vec<FormatView>>> {
    let mut conn = caller.reader().await?;
    let project = projects::get(&mut conn, &caller.actor, id).await?;
    let schema = Schema::new(&project.parsed_label_config.value());
    Ok(Json(formats::describe_all(&schema)))
}

// ---------------------------------------------------------------------------------------
// Snapshots

/// What `POST .../exports/` accepts (every key optional).
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
struct SnapshotInput {
    title: Option<String>,
    /// `{skipped, finished, annotated}`: each `only` or `exclude`; `only_with_annotations`: bool;
    /// `view` is accepted and ignored (labelhook has no data manager views).
    #[schema(value_type = Option<Object>)]
    task_filter_options: Option<Value>,
    /// `{usual, ground_truth, skipped}`: booleans; an annotation is kept when any flag set matches it.
    #[schema(value_type = Option<Object>)]
    annotation_filter_options: Option<Value>,
    /// `{predictions: {only_id}, annotations__completed_by: {only_id}, drafts: {only_id}, ...}`.
    #[schema(value_type = Option<Object>)]
    serialization_options: Option<Value>,
}

/// `POST .../convert`.
#[derive(Deserialize, ToSchema)]
struct ConvertInput {
    #[schema(example = "CSV")]
    export_type: String,
    /// Accepted for compatibility; labelhook does not download task media.
    #[serde(default, deserialize_with = "not_null")]
    #[schema(nullable = false)]
    #[allow(dead_code)] // read to be checked, as Label Studio does; not used
    download_resources: Option<bool>,
}

/// What `POST .../convert` answers.
#[derive(Serialize, ToSchema)]
struct ConvertResult {
    export_type: String,
    converted_format: i64,
}

/// The snapshots with their creators and conversions, in API form.
async fn render_snapshots(state: &AppState, found: &[Snapshot]) -> ApiResult<Vec<SnapshotView>> {
    let mut conn = state.db.reader().acquire().await?;
    let ids: Vec<i64> = found.iter().map(|s| s.id).collect();
    let mut conversions = snapshots::conversions(&mut conn, &ids).await?;
    let mut creator_ids: Vec<i64> = found.iter().filter_map(|s| s.created_by).collect();
    creator_ids.sort_unstable();
    creator_ids.dedup();
    let creators = snapshots::creators(&mut conn, &creator_ids).await?;
    Ok(found
        .iter()
        .map(|s| {
            let creator = s.created_by.and_then(|id| creators.get(&id));
            let list = conversions.remove(&s.id).unwrap_or_default();
            snapshots::render_snapshot(s, creator, &list)
        })
        .collect())
}

async fn list_snapshots(caller: Caller, Id(id): Id) -> ApiResult<Json<Vec<SnapshotView>>> {
    let mut conn = caller.reader().await?;
    projects::get(&mut conn, &caller.actor, id).await?;
    let found = snapshots::list(&mut conn, id).await?;
    drop(conn);
    Ok(Json(render_snapshots(&caller.state, &found).await?))
}

async fn create_snapshot(
    Caller { state, actor }: Caller,
    Id(id): Id,
    request: Request,
) -> ApiResult<(StatusCode, Json<SnapshotCreatedView>)> {
    let bytes = body_bytes(request, &state).await?;
    let input: Map<String, Value> = if bytes.iter().all(u8::is_ascii_whitespace) {
        Map::new()
    } else {
        parse_json(&bytes)?
    };
    let new = validate_snapshot_input(&input)?;
    let snapshot = state
        .db
        .write(async |tx| snapshots::create(tx, &actor, id, new).await)
        .await?;
    state.exports.wake();
    let rendered = render_snapshots(&state, std::slice::from_ref(&snapshot))
        .await?
        .pop()
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("the new snapshot did not render")))?;
    Ok((
        StatusCode::CREATED,
        Json(SnapshotCreatedView::from(rendered)),
    ))
}

/// Checks a snapshot request the way Label Studio's serializers do; keeps the options.
fn validate_snapshot_input(input: &Map<String, Value>) -> ApiResult<NewSnapshot> {
    let mut errors = Map::new();
    let title = match input.get("title") {
        None | Some(Value::Null) => None,
        Some(Value::String(title)) if title.chars().count() > 2048 => {
            errors.insert(
                "title".into(),
                json!(["Ensure this field has no more than 2048 characters."]),
            );
            None
        }
        Some(Value::String(title)) => Some(title.clone()),
        Some(_) => {
            errors.insert("title".into(), json!(["Not a valid string."]));
            None
        }
    };
    let mut options = Map::new();
    let rules: [(&str, &[(&str, Kind)]); 3] = [
        (
            "task_filter_options",
            &[
                ("view", Kind::Integer),
                ("skipped", Kind::OnlyOrExclude),
                ("finished", Kind::OnlyOrExclude),
                ("annotated", Kind::OnlyOrExclude),
                ("only_with_annotations", Kind::Boolean),
            ],
        ),
        (
            "annotation_filter_options",
            &[
                ("usual", Kind::Boolean),
                ("ground_truth", Kind::Boolean),
                ("skipped", Kind::Boolean),
            ],
        ),
        (
            "serialization_options",
            &[
                ("drafts", Kind::OnlyId),
                ("predictions", Kind::OnlyId),
                ("annotations__completed_by", Kind::OnlyId),
                ("include_annotation_history", Kind::Boolean),
                ("interpolate_key_frames", Kind::Boolean),
            ],
        ),
    ];
    for (name, fields) in rules {
        match input.get(name) {
            None | Some(Value::Null) => {}
            Some(Value::Object(given)) => {
                let mut problems = Map::new();
                for (field, kind) in fields {
                    if let Some(value) = given.get(*field)
                        && let Some(problem) = kind.problem(value)
                    {
                        problems.insert((*field).into(), problem);
                    }
                }
                if problems.is_empty() {
                    options.insert(name.into(), Value::Object(given.clone()));
                } else {
                    errors.insert(name.into(), Value::Object(problems));
                }
            }
            Some(_) => {
                errors.insert(
                    name.into(),
                    json!({"non_field_errors": ["Invalid data. Expected a dictionary, but got str."]}),
                );
            }
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    Ok(NewSnapshot { title, options })
}

/// What an option's value must be.
#[derive(Clone, Copy)]
enum Kind {
    Integer,
    Boolean,
    OnlyOrExclude,
    /// `{only_id: bool}`.
    OnlyId,
}

impl Kind {
    fn problem(self, value: &Value) -> Option<Value> {
        let ok = match self {
            Kind::Integer => value.is_i64() || value.is_null(),
            Kind::Boolean => value.is_boolean() || value.is_null(),
            Kind::OnlyOrExclude => {
                value.is_null() || matches!(value.as_str(), Some("only" | "exclude"))
            }
            Kind::OnlyId => match value {
                Value::Object(o) => o.get("only_id").is_none_or(|v| v.is_boolean()),
                _ => false,
            },
        };
        if ok {
            return None;
        }
        Some(match self {
            Kind::Integer => json!(["A valid integer is required."]),
            Kind::Boolean => json!(["Must be a valid boolean."]),
            Kind::OnlyOrExclude => json!([format!(
                "{value} is not a valid choice: use \"only\" or \"exclude\"."
            )]),
            Kind::OnlyId => json!({"only_id": ["Must be a valid boolean."]}),
        })
    }
}

async fn read_snapshot(caller: Caller, Ids(id, export_pk): Ids) -> ApiResult<Json<SnapshotView>> {
    let mut conn = caller.reader().await?;
    let snapshot = snapshots::get(&mut conn, &caller.actor, id, export_pk).await?;
    drop(conn);
    let rendered = render_snapshots(&caller.state, &[snapshot])
        .await?
        .pop()
        .ok_or_else(ApiError::not_found)?;
    Ok(Json(rendered))
}

async fn delete_snapshot(
    Caller { state, actor }: Caller,
    Ids(id, export_pk): Ids,
) -> ApiResult<StatusCode> {
    let mut tx = state.db.begin_large().await?;
    let snapshot = snapshots::get(&mut tx, &actor, id, export_pk).await?;
    snapshots::delete(&mut tx, &snapshot).await?;
    state.db.commit(tx).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn download_snapshot(
    Caller { state, actor }: Caller,
    Ids(id, export_pk): Ids,
    uri: Uri,
) -> ApiResult<Response> {
    let params = Params::of(&uri)?;
    let mut conn = state.db.reader().acquire().await?;
    let snapshot = snapshots::get(&mut conn, &actor, id, export_pk).await?;
    let project = projects::get(&mut conn, &actor, id).await?;
    let format = params.format(None)?;
    let (Some(build_id), "completed") = (snapshot.build_id, snapshot.status.as_str()) else {
        return Err(ApiError::NotFound("Export is not completed".into()));
    };
    let db = state.db.clone();
    let Some(format) = format else {
        let body = streamed("snapshot download", move |mut out| async move {
            StoredFile::new(db, build_id).copy_to(&mut out).await?;
            out.finish().await.map(drop)
        });
        return Ok(attachment(
            "application/json",
            &snapshot.file_name,
            Some(snapshot.byte_size as u64),
            body,
        ));
    };
    let schema = Schema::new(&project.parsed_label_config.value());
    check_available(format, &schema, params.format_field())?;
    let stem = snapshot
        .file_name
        .rsplit('/')
        .next()
        .and_then(|name| name.strip_suffix(".json"))
        .unwrap_or_default()
        .to_string();
    let name = format!("{stem}.{}", format.extension());
    let content_type = format!("application/{}", format.extension());
    let converted = snapshots::conversions(&mut conn, &[snapshot.id])
        .await?
        .remove(&snapshot.id)
        .unwrap_or_default()
        .into_iter()
        .find(|c| c.export_type == format.name() && c.status == "completed");
    drop(conn);
    if let Some(conversion) = converted
        && let Some(build) = conversion.build_id
    {
        let body = streamed("converted download", move |mut out| async move {
            StoredFile::new(db, build).copy_to(&mut out).await?;
            out.finish().await.map(drop)
        });
        return Ok(attachment(
            &content_type,
            &name,
            Some(conversion.byte_size as u64),
            body,
        ));
    }
    let snapshot_id = snapshot.id;
    let body = streamed("conversion", move |mut out| async move {
        let mut tasks = Tasks::Stored(StoredTasks::new(db, snapshot_id, build_id));
        export::write(format, false, &mut tasks, &schema, &mut out).await?;
        out.finish().await.map(drop)
    });
    Ok(attachment(&content_type, &name, None, body))
}

async fn convert_snapshot(
    Caller { state, actor }: Caller,
    Ids(id, export_pk): Ids,
    request: Request,
) -> ApiResult<Json<ConvertResult>> {
    let bytes = body_bytes(request, &state).await?;
    let input: Map<String, Value> = if bytes.iter().all(u8::is_ascii_whitespace) {
        Map::new()
    } else {
        parse_json(&bytes)?
    };
    let mut tx = state.db.begin().await?;
    let snapshot = snapshots::get(&mut tx, &actor, id, export_pk).await?;
    let project = projects::get(&mut tx, &actor, id).await?;
    let ConvertInput {
        export_type: name, ..
    } = from_object(input)?;
    let format = Format::parse(&name).ok_or_else(|| {
        ApiError::field(
            "export_type",
            format!("{name} is not supported export format"),
        )
    })?;
    let schema = Schema::new(&project.parsed_label_config.value());
    check_available(format, &schema, "export_type")?;
    if snapshot.status != "completed" {
        return Err(ApiError::field(
            "non_field_errors",
            format!(
                "The snapshot is not completed yet (status: {}).",
                snapshot.status
            ),
        ));
    }
    let conversion = snapshots::convert(&mut tx, &actor, &snapshot, format).await?;
    state.db.commit(tx).await?;
    state.exports.wake();
    Ok(Json(ConvertResult {
        export_type: format.name().to_string(),
        converted_format: conversion,
    }))
}
