//! The OpenAPI 3 description of the whole API, served at `GET /api/schema/` (no token).
//!
//! Generated from the code: each handler carries a `#[utoipa::path]` attribute (method, path,
//! parameters, body, statuses) and the types below describe the JSON shapes the handlers
//! build with `json!` (`labeling/render.rs`, `webhooks/`), key for key. They exist only for
//! the description; nothing serializes them. Open-ended JSON (task `data`, `result`) is a
//! free-form object or array.
//!
//! Paths are written as the router has them, without the trailing slash; the server
//! accepts every path with or without it (Label Studio's clients send `/api/projects/`).

use std::collections::BTreeMap;
use std::sync::OnceLock;

use axum::Router;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::get;
use serde::Serialize;
use serde_json::Value;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::openapi::{ContentBuilder, RefOr, Response, ResponseBuilder};
use utoipa::{Modify, OpenApi, ToSchema};

use super::AppState;

pub fn routes() -> Router<AppState> {
    Router::new().route("/api/schema", get(schema))
}

/// The description as JSON text, built once.
pub fn document() -> &'static str {
    static DOCUMENT: OnceLock<String> = OnceLock::new();
    DOCUMENT.get_or_init(|| ApiDoc::openapi().to_json().unwrap_or_default())
}

#[utoipa::path(
    get,
    path = "/api/schema",
    tag = "system",
    operation_id = "schema_read",
    summary = "This OpenAPI 3 description",
    responses(
        (status = 200, description = "The OpenAPI document", body = Object, content_type = "application/json"),
    ),
)]
async fn schema() -> impl IntoResponse {
    ([(CONTENT_TYPE, "application/json")], document())
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "labelhook",
        description = "A Label Studio-compatible labeling server whose webhooks never lose an event.\n\n\
            Label Studio's REST API (projects, import, tasks, annotations, predictions, data manager \
            actions, ML backends, webhooks) plus labelhook's additions: the webhook delivery log, \
            signing secrets, test events, recovery, and `/metrics`.\n\n\
            Every path is also served with a trailing slash, as Label Studio spells them. \
            Authenticate with `Authorization: Token <key>`. Errors have Label Studio's shape \
            (`Error`).",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    paths(
        schema,
        super::system::health,
        super::system::version,
        super::users::whoami,
        super::metrics::render,
        super::projects::list,
        super::projects::create,
        super::projects::read,
        super::projects::update,
        super::projects::remove,
        super::projects::import_tasks,
        super::projects::list_tasks,
        super::projects::delete_all_tasks,
        super::tasks::list,
        super::tasks::create,
        super::tasks::read,
        super::tasks::update,
        super::tasks::remove,
        super::annotations::list,
        super::annotations::create,
        super::annotations::read,
        super::annotations::update,
        super::annotations::remove,
        super::predictions::list,
        super::predictions::create,
        super::predictions::read,
        super::predictions::update,
        super::predictions::remove,
        super::data_manager::catalogue,
        super::data_manager::run,
        super::ml::list,
        super::ml::create,
        super::ml::read,
        super::ml::update,
        super::ml::remove,
        super::ml::train,
        super::webhooks::info,
        super::webhooks::list,
        super::webhooks::create,
        super::webhooks::read,
        super::webhooks::update,
        super::webhooks::remove,
        super::webhooks::read_secret,
        super::webhooks::rotate_secret,
        super::webhooks::send_test,
        super::webhooks::recover,
        super::webhooks::list_deliveries,
        super::webhooks::read_delivery,
        super::webhooks::redeliver,
    ),
    components(
        schemas(Error, ActionCatalogue, DmActionId, DeliveryStatus),
        responses(BadRequest, Unauthorized, NotFound, PayloadTooLarge),
    ),
    modifiers(&TokenAuth, &PutLikePatch),
    tags(
        (name = "projects", description = "Projects, import, and a project's tasks (Label Studio)."),
        (name = "tasks", description = "Tasks (Label Studio)."),
        (name = "annotations", description = "Annotations (Label Studio)."),
        (name = "predictions", description = "Predictions (Label Studio)."),
        (name = "data-manager", description = "Data manager actions on selected tasks (Label Studio)."),
        (name = "ml", description = "ML backends (Label Studio); `train` queues START_TRAINING."),
        (name = "webhooks", description = "Webhooks (Label Studio) with labelhook's secrets, tests and recovery."),
        (name = "deliveries", description = "labelhook's delivery log: every event sent to a webhook and every attempt."),
        (name = "system", description = "Version, health, metrics and this description (no token)."),
    ),
)]
pub struct ApiDoc;

/// `Authorization: Token <key>` as the security scheme `token`.
struct TokenAuth;

impl Modify for TokenAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "token",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "Authorization",
                "`Token <key>` (Label Studio's form; `Bearer <key>` is accepted too). The admin \
                 key is LABELHOOK_ADMIN_TOKEN or the one printed on first start.",
            ))),
        );
    }
}

/// Every route with PATCH also takes PUT, with the same handler (only the keys sent change,
/// as Label Studio's clients expect): describe PUT as a copy of PATCH.
struct PutLikePatch;

impl Modify for PutLikePatch {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for item in openapi.paths.paths.values_mut() {
            if let (Some(patch), None) = (&item.patch, &item.put) {
                let mut put = patch.clone();
                put.operation_id = put.operation_id.map(|id| id.replace("_update", "_replace"));
                put.summary = put.summary.map(|s| format!("{s} (PUT: same as PATCH)"));
                item.put = Some(put);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Errors: every 4xx/5xx body.

/// Label Studio's error shape, used for every error status.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct Error {
    /// A fresh UUID per error, for finding it in the log.
    #[schema(format = "uuid")]
    id: String,
    /// The HTTP status again.
    status_code: u16,
    /// The server's version.
    version: String,
    /// What went wrong; `Validation error` when `validation_errors` says per field.
    detail: String,
    /// Always `null` (Label Studio fills it in debug mode only).
    #[schema(value_type = Option<String>, required = true)]
    exc_info: Option<String>,
    /// Messages per field (400 only): a list of messages, or per list index for lists.
    #[schema(value_type = Object, nullable = false, required = false)]
    validation_errors: Option<BTreeMap<String, Value>>,
}

fn error_response(description: &str) -> RefOr<Response> {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(utoipa::openapi::Ref::from_schema_name("Error")))
                .build(),
        )
        .build()
        .into()
}

/// 400: malformed JSON, a wrong type or value (see `validation_errors`), a bad query.
pub struct BadRequest;
/// 401: no token, or a token that is not valid.
pub struct Unauthorized;
/// 404: no such object in the caller's organization, or an id that is not a number.
pub struct NotFound;
/// 413: the body is larger than LABELHOOK_MAX_BODY_BYTES.
pub struct PayloadTooLarge;

impl<'s> utoipa::ToResponse<'s> for BadRequest {
    fn response() -> (&'s str, RefOr<Response>) {
        (
            "BadRequest",
            error_response(
                "Invalid request: malformed JSON, a field of the wrong type or value \
                 (`validation_errors` names it), or a bad query parameter.",
            ),
        )
    }
}

impl<'s> utoipa::ToResponse<'s> for Unauthorized {
    fn response() -> (&'s str, RefOr<Response>) {
        (
            "Unauthorized",
            error_response("No `Authorization: Token <key>` header, or an unknown key."),
        )
    }
}

impl<'s> utoipa::ToResponse<'s> for NotFound {
    fn response() -> (&'s str, RefOr<Response>) {
        (
            "NotFound",
            error_response(
                "No such object in the caller's organization (objects of other organizations \
                 are not found either), or an id that is not a positive number.",
            ),
        )
    }
}

impl<'s> utoipa::ToResponse<'s> for PayloadTooLarge {
    fn response() -> (&'s str, RefOr<Response>) {
        (
            "PayloadTooLarge",
            error_response("The request body is larger than LABELHOOK_MAX_BODY_BYTES."),
        )
    }
}

// ---------------------------------------------------------------------------------------
// System.

/// `GET /health`.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct Health {
    #[schema(example = "UP")]
    status: String,
}

#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct VersionNumber {
    version: String,
}

/// `GET /api/version`: the Label Studio release this server is compatible with, and its own.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct Version {
    release: String,
    #[serde(rename = "label-studio-os-package")]
    label_studio_os_package: VersionNumber,
    labelhook: VersionNumber,
}

// ---------------------------------------------------------------------------------------
// Pages.

/// Django REST framework's page envelope of projects.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct ProjectPage {
    /// How many projects match, over all pages.
    count: i64,
    /// The URL of the next page, or `null` on the last.
    #[schema(required = true)]
    next: Option<String>,
    /// The URL of the previous page, or `null` on the first.
    #[schema(required = true)]
    previous: Option<String>,
    results: Vec<Project>,
}

/// The page envelope of a webhook's delivery log (newest first).
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct DeliveryPage {
    count: i64,
    #[schema(required = true)]
    next: Option<String>,
    #[schema(required = true)]
    previous: Option<String>,
    results: Vec<Delivery>,
}

// ---------------------------------------------------------------------------------------
// Projects.

/// The creator of a project.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct UserRef {
    id: i64,
    first_name: String,
    last_name: String,
    email: String,
    /// Always `null`.
    #[schema(required = true)]
    avatar: Option<String>,
}

/// A project as Label Studio 1.23 renders it. The statistics (`task_number` …) are `null`
/// in the create response, as in Label Studio.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct Project {
    id: i64,
    title: String,
    description: String,
    /// The labeling interface (XML).
    label_config: String,
    expert_instruction: String,
    show_instruction: bool,
    show_skip_button: bool,
    enable_empty_annotation: bool,
    show_annotation_history: bool,
    organization: i64,
    color: String,
    maximum_annotations: i64,
    is_published: bool,
    model_version: String,
    is_draft: bool,
    created_by: UserRef,
    #[schema(format = DateTime)]
    created_at: String,
    min_annotations_to_start_training: i64,
    start_training_on_annotation_update: bool,
    show_collab_predictions: bool,
    #[schema(required = true)]
    num_tasks_with_annotations: Option<i64>,
    #[schema(required = true)]
    task_number: Option<i64>,
    #[schema(required = true)]
    useful_annotation_number: Option<i64>,
    #[schema(required = true)]
    ground_truth_number: Option<i64>,
    #[schema(required = true)]
    skipped_annotations_number: Option<i64>,
    #[schema(required = true)]
    total_annotations_number: Option<i64>,
    #[schema(required = true)]
    total_predictions_number: Option<i64>,
    sampling: String,
    show_ground_truth_first: bool,
    annotator_evaluation_enabled: bool,
    show_overlap_first: bool,
    overlap_cohort_percentage: i64,
    #[schema(required = true)]
    task_data_login: Option<String>,
    #[schema(required = true)]
    task_data_password: Option<String>,
    /// Per control tag: `{overall, type, labels}`.
    #[schema(value_type = Object)]
    control_weights: Value,
    /// The label config as Label Studio parses it, per control tag.
    #[schema(value_type = Object)]
    parsed_label_config: Value,
    evaluate_predictions_automatically: bool,
    config_has_control_tags: bool,
    skip_queue: String,
    reveal_preannotations_interactively: bool,
    #[schema(required = true)]
    pinned_at: Option<String>,
    #[schema(required = true)]
    finished_task_number: Option<i64>,
    queue_total: i64,
    queue_done: i64,
    config_suitable_for_bulk_annotation: bool,
    /// Always `null`.
    #[schema(value_type = Option<String>, required = true)]
    state: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub enum SkipQueue {
    #[serde(rename = "REQUEUE_FOR_ME")]
    RequeueForMe,
    #[serde(rename = "REQUEUE_FOR_OTHERS")]
    RequeueForOthers,
    #[serde(rename = "IGNORE_SKIPPED")]
    IgnoreSkipped,
}

#[derive(Serialize, ToSchema)]
pub enum Sampling {
    #[serde(rename = "Sequential sampling")]
    Sequential,
    #[serde(rename = "Uniform sampling")]
    Uniform,
    #[serde(rename = "Uncertainty sampling")]
    Uncertainty,
}

/// The fields a client may set on a project; all optional (PATCH and PUT change only the
/// keys sent). Other keys are ignored.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"title": "Reviews", "label_config": "<View><Text name=\"text\" value=\"$text\"/><Choices name=\"label\" toName=\"text\"><Choice value=\"pos\"/><Choice value=\"neg\"/></Choices></View>"}))]
#[allow(dead_code)]
pub struct ProjectInput {
    #[schema(max_length = 50)]
    title: Option<String>,
    description: Option<String>,
    /// The labeling interface (XML); empty means Label Studio's default.
    #[schema(
        example = "<View><Text name=\"text\" value=\"$text\"/><Choices name=\"label\" toName=\"text\"><Choice value=\"pos\"/><Choice value=\"neg\"/></Choices></View>"
    )]
    label_config: Option<String>,
    #[schema(nullable = false)]
    expert_instruction: Option<String>,
    #[schema(nullable = false)]
    show_instruction: Option<bool>,
    #[schema(nullable = false)]
    show_skip_button: Option<bool>,
    #[schema(nullable = false)]
    enable_empty_annotation: Option<bool>,
    #[schema(nullable = false)]
    show_annotation_history: Option<bool>,
    #[schema(nullable = false)]
    color: Option<String>,
    #[schema(nullable = false, minimum = 1, maximum = 2147483647)]
    maximum_annotations: Option<i64>,
    #[schema(nullable = false)]
    is_published: Option<bool>,
    #[schema(nullable = false)]
    model_version: Option<String>,
    #[schema(nullable = false)]
    is_draft: Option<bool>,
    #[schema(nullable = false)]
    min_annotations_to_start_training: Option<i64>,
    #[schema(nullable = false)]
    start_training_on_annotation_update: Option<bool>,
    #[schema(nullable = false)]
    show_collab_predictions: Option<bool>,
    #[schema(nullable = false)]
    sampling: Option<Sampling>,
    #[schema(nullable = false)]
    show_ground_truth_first: Option<bool>,
    #[schema(nullable = false)]
    show_overlap_first: Option<bool>,
    #[schema(nullable = false, minimum = 0, maximum = 100)]
    overlap_cohort_percentage: Option<i64>,
    task_data_login: Option<String>,
    task_data_password: Option<String>,
    #[schema(nullable = false)]
    evaluate_predictions_automatically: Option<bool>,
    skip_queue: Option<SkipQueue>,
    #[schema(nullable = false)]
    reveal_preannotations_interactively: Option<bool>,
}

/// `POST /api/projects/{id}/import` with a JSON body: a list of tasks, or one task. Each task
/// is `{"data": {...}, "meta"?, "annotations"?, "predictions"?}` or a flat object that is
/// the data itself.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
#[schema(example = json!([{"text": "great"}, {"data": {"text": "awful"}, "meta": {"source": "import"}}]))]
#[allow(dead_code)]
pub enum ImportBody {
    Tasks(Vec<BTreeMap<String, Value>>),
    #[schema(value_type = Object)]
    Task(BTreeMap<String, Value>),
}

/// `POST /api/projects/{id}/import` as multipart form data: one or more files (`.json`,
/// `.jsonl`, `.csv`, `.tsv`, `.txt`), each in a part with a file name.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct ImportFiles {
    #[schema(value_type = Vec<String>, format = Binary)]
    file: Vec<Vec<u8>>,
}

/// The answer to an import, as Label Studio gives it.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct ImportResult {
    task_count: i64,
    annotation_count: i64,
    prediction_count: i64,
    /// Seconds.
    duration: f64,
    /// Always empty.
    file_upload_ids: Vec<i64>,
    could_be_tasks_list: bool,
    /// The file extensions found (`.csv` …); empty for a JSON body.
    found_formats: Vec<String>,
    /// The data keys found in uploaded files; empty for a JSON body.
    data_columns: Vec<String>,
}

// ---------------------------------------------------------------------------------------
// Tasks.

/// A task as create and update return it.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct Task {
    id: i64,
    /// The task's data: free-form, read by the label config (`$text` …).
    #[schema(value_type = Object)]
    data: Value,
    #[schema(value_type = Object)]
    meta: Value,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
    updated_at: String,
    is_labeled: bool,
    overlap: i64,
    inner_id: i64,
    total_annotations: i64,
    cancelled_annotations: i64,
    total_predictions: i64,
    comment_count: i64,
    unresolved_comment_count: i64,
    #[schema(required = true)]
    last_comment_updated_at: Option<String>,
    project: i64,
    #[schema(required = true)]
    updated_by: Option<i64>,
    #[schema(value_type = Option<i64>, required = true)]
    file_upload: Option<i64>,
    comment_authors: Vec<i64>,
}

/// `{"user_id": N}`.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct UserId {
    user_id: i64,
}

/// A task as `GET /api/tasks/{id}/` returns it, with its annotations and predictions.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct TaskDetail {
    id: i64,
    predictions: Vec<Prediction>,
    annotations: Vec<Annotation>,
    /// Always empty.
    drafts: Vec<Value>,
    annotators: Vec<i64>,
    inner_id: i64,
    cancelled_annotations: i64,
    total_annotations: i64,
    total_predictions: i64,
    #[schema(required = true)]
    completed_at: Option<String>,
    annotations_results: String,
    predictions_results: String,
    #[schema(required = true)]
    predictions_score: Option<f64>,
    #[schema(value_type = Option<i64>, required = true)]
    file_upload: Option<i64>,
    #[schema(value_type = Option<String>, required = true)]
    storage_filename: Option<String>,
    annotations_ids: String,
    predictions_model_versions: String,
    #[schema(required = true)]
    avg_lead_time: Option<f64>,
    draft_exists: bool,
    updated_by: Vec<UserId>,
    #[schema(value_type = Object)]
    data: Value,
    #[schema(value_type = Object)]
    meta: Value,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
    updated_at: String,
    is_labeled: bool,
    overlap: i64,
    comment_count: i64,
    unresolved_comment_count: i64,
    #[schema(required = true)]
    last_comment_updated_at: Option<String>,
    project: i64,
    comment_authors: Vec<i64>,
}

/// A task as `GET /api/tasks/?project=` lists it; `fields=all` adds `annotations` and
/// `predictions`.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct TaskListItem {
    id: i64,
    drafts: Vec<Value>,
    annotators: Vec<i64>,
    inner_id: i64,
    cancelled_annotations: i64,
    total_annotations: i64,
    total_predictions: i64,
    annotations_results: String,
    predictions_results: String,
    #[schema(value_type = Option<i64>, required = true)]
    file_upload: Option<i64>,
    #[schema(value_type = Option<String>, required = true)]
    storage_filename: Option<String>,
    annotations_ids: String,
    predictions_model_versions: String,
    updated_by: Vec<UserId>,
    #[schema(value_type = Object)]
    data: Value,
    #[schema(value_type = Object)]
    meta: Value,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
    updated_at: String,
    is_labeled: bool,
    overlap: i64,
    comment_count: i64,
    unresolved_comment_count: i64,
    #[schema(required = true)]
    last_comment_updated_at: Option<String>,
    project: i64,
    comment_authors: Vec<i64>,
    /// With `fields=all` only.
    #[schema(nullable = false)]
    annotations: Option<Vec<Annotation>>,
    /// With `fields=all` only.
    #[schema(nullable = false)]
    predictions: Option<Vec<Prediction>>,
}

/// `GET /api/tasks/?project=ID`: Label Studio's data manager list.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct TaskList {
    total_annotations: i64,
    total_predictions: i64,
    /// Tasks in the project, over all pages.
    total: i64,
    tasks: Vec<TaskListItem>,
}

/// `POST /api/tasks/`.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"project": 1, "data": {"text": "great"}}))]
#[allow(dead_code)]
pub struct TaskCreate {
    /// The project's id.
    project: i64,
    #[schema(value_type = Object)]
    data: Value,
    #[schema(value_type = Option<Object>)]
    meta: Option<Value>,
    /// Annotations to create with the task (`AnnotationInput` objects).
    #[schema(nullable = false)]
    annotations: Option<Vec<AnnotationInput>>,
    /// Predictions to create with the task.
    #[schema(nullable = false)]
    predictions: Option<Vec<PredictionFields>>,
}

/// `PATCH`/`PUT /api/tasks/{id}/`: the keys sent are changed.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"data": {"text": "changed"}}))]
#[allow(dead_code)]
pub struct TaskUpdate {
    #[schema(value_type = Object, nullable = false)]
    data: Option<Value>,
    #[schema(value_type = Option<Object>)]
    meta: Option<Value>,
    #[schema(nullable = false, minimum = 1, maximum = 2147483647)]
    overlap: Option<i64>,
}

// ---------------------------------------------------------------------------------------
// Annotations and predictions.

/// An annotation (or a skip: `was_cancelled` true).
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct Annotation {
    id: i64,
    /// The regions and choices: free-form result items (`from_name`, `to_name`, `type`,
    /// `value` …), or `null`.
    #[schema(required = true)]
    result: Option<Vec<Value>>,
    /// `" <email>, <user id>"`.
    created_username: String,
    /// How long ago, in words.
    created_ago: String,
    #[schema(required = true)]
    completed_by: Option<i64>,
    was_cancelled: bool,
    ground_truth: bool,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
    updated_at: String,
    #[schema(required = true)]
    draft_created_at: Option<String>,
    /// Seconds spent.
    #[schema(required = true)]
    lead_time: Option<f64>,
    #[schema(required = true)]
    import_id: Option<i64>,
    #[schema(required = true)]
    last_action: Option<String>,
    bulk_created: bool,
    task: i64,
    project: i64,
    #[schema(required = true)]
    updated_by: Option<i64>,
    #[schema(required = true)]
    parent_prediction: Option<i64>,
    #[schema(required = true)]
    parent_annotation: Option<i64>,
    /// Always `null`.
    #[schema(required = true)]
    last_created_by: Option<i64>,
}

/// The fields a client may set on an annotation.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"result": [{"from_name": "label", "to_name": "text", "type": "choices", "value": {"choices": ["pos"]}}], "lead_time": 2.0}))]
#[allow(dead_code)]
pub struct AnnotationInput {
    /// Result items (or a JSON string holding the list).
    result: Option<Vec<Value>>,
    #[schema(nullable = false)]
    was_cancelled: Option<bool>,
    #[schema(nullable = false)]
    ground_truth: Option<bool>,
    lead_time: Option<f64>,
    import_id: Option<i64>,
    last_action: Option<String>,
    parent_prediction: Option<i64>,
    parent_annotation: Option<i64>,
}

/// A prediction (pre-annotation) of a model.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct Prediction {
    id: i64,
    /// Free-form result items, as in annotations.
    result: Vec<Value>,
    model_version: String,
    created_ago: String,
    #[schema(required = true)]
    score: Option<f64>,
    /// Always `null`.
    #[schema(required = true)]
    cluster: Option<i64>,
    /// Always `null`.
    #[schema(value_type = Option<Object>, required = true)]
    neighbors: Option<Value>,
    mislabeling: f64,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
    updated_at: String,
    /// Always `null`.
    #[schema(required = true)]
    model: Option<i64>,
    /// Always `null`.
    #[schema(required = true)]
    model_run: Option<i64>,
    task: i64,
    project: i64,
}

/// A prediction's own fields (also the items of a task's `predictions` on import).
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"score": 0.5}))]
#[allow(dead_code)]
pub struct PredictionFields {
    /// Result items (or a JSON string holding the list).
    #[schema(nullable = false)]
    result: Option<Vec<Value>>,
    score: Option<f64>,
    model_version: Option<String>,
}

/// `POST /api/predictions/`.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"task": 1, "result": [{"from_name": "label", "to_name": "text", "type": "choices", "value": {"choices": ["neg"]}}], "score": 0.9, "model_version": "v1"}))]
#[allow(dead_code)]
pub struct PredictionCreate {
    /// The task's id.
    task: i64,
    #[schema(nullable = false)]
    result: Option<Vec<Value>>,
    score: Option<f64>,
    model_version: Option<String>,
}

// ---------------------------------------------------------------------------------------
// Data manager.

/// One data manager action.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct DmAction {
    id: String,
    title: String,
    order: i64,
    permission: String,
    /// Always `null`.
    #[schema(value_type = Option<Object>, required = true)]
    dialog: Option<Value>,
}

#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct Selection {
    /// All tasks of the project except `excluded`, or only `included`.
    all: bool,
    #[schema(nullable = false)]
    included: Option<Vec<i64>>,
    #[schema(nullable = false)]
    excluded: Option<Vec<i64>>,
}

/// `POST /api/dm/actions?id=&project=`.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"selectedItems": {"all": false, "included": [1]}}))]
#[allow(dead_code)]
pub struct DmActionInput {
    #[serde(rename = "selectedItems")]
    selected_items: Selection,
}

#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct DmActionResult {
    processed_items: i64,
    detail: String,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DmActionId {
    DeleteTasks,
    DeleteTasksAnnotations,
    PredictionsToAnnotations,
}

// ---------------------------------------------------------------------------------------
// ML backends.

/// An ML backend attached to a project.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct MlBackend {
    id: i64,
    /// Always `DI`.
    state: String,
    readable_state: String,
    is_interactive: bool,
    url: String,
    /// Always `null`.
    #[schema(required = true)]
    error_message: Option<String>,
    title: String,
    auth_method: String,
    #[schema(required = true)]
    basic_auth_user: Option<String>,
    basic_auth_pass_is_set: bool,
    description: String,
    #[schema(value_type = Object)]
    extra_params: Value,
    model_version: String,
    /// Seconds.
    timeout: f64,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
    updated_at: String,
    auto_update: bool,
    project: i64,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AuthMethod {
    None,
    BasicAuth,
}

/// An ML backend's settings (all optional).
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct MlBackendSettings {
    title: Option<String>,
    description: Option<String>,
    #[schema(nullable = false)]
    is_interactive: Option<bool>,
    /// Seconds.
    #[schema(exclusive_minimum = 0)]
    timeout: Option<f64>,
    auth_method: Option<AuthMethod>,
    basic_auth_user: Option<String>,
    #[schema(write_only)]
    basic_auth_pass: Option<String>,
    #[schema(value_type = Option<Object>)]
    extra_params: Option<Value>,
}

/// `POST /api/ml/`.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"project": 1, "url": "https://ml.example.com", "title": "model"}))]
#[allow(dead_code)]
pub struct MlBackendCreateInput {
    /// The project's id.
    project: i64,
    /// The model server; events go to `<url>/webhook`.
    #[schema(max_length = 2048, format = "uri")]
    url: String,
    #[serde(flatten)]
    settings: MlBackendSettings,
}

/// `PATCH`/`PUT /api/ml/{id}/`: the keys sent change.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"title": "model v2", "timeout": 30.0}))]
#[allow(dead_code)]
pub struct MlBackendUpdateInput {
    #[schema(nullable = false, max_length = 2048, format = "uri")]
    url: Option<String>,
    #[serde(flatten)]
    settings: MlBackendSettings,
}

// ---------------------------------------------------------------------------------------
// Webhooks.

/// One action of the catalogue.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct ActionInfo {
    name: String,
    description: String,
    /// The payload key that carries the changed objects.
    key: String,
    /// Only organization-level webhooks (no project) may receive it.
    #[serde(rename = "organization-only")]
    organization_only: bool,
}

/// The action catalogue: `{ACTION: ActionInfo}`.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct ActionCatalogue(BTreeMap<String, ActionInfo>);

/// What labelhook knows about a webhook's deliveries.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct DeliveryStats {
    /// Deliveries waiting to be sent.
    pending: i64,
    /// Deliveries kept while the webhook is off.
    held: i64,
    #[schema(required = true)]
    last_success_at: Option<String>,
    #[schema(required = true)]
    last_failure_at: Option<String>,
}

/// A webhook: Label Studio's keys, then labelhook's (`consecutive_failures`,
/// `disabled_reason`, `hub_signature`, `delivery_stats`).
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct Webhook {
    id: i64,
    organization: i64,
    /// `null` for an organization-level webhook.
    #[schema(required = true)]
    project: Option<i64>,
    url: String,
    send_payload: bool,
    send_for_all_actions: bool,
    /// Extra headers sent with every delivery.
    headers: BTreeMap<String, String>,
    is_active: bool,
    /// Failed deliveries in a row (reset by a success).
    consecutive_failures: i64,
    actions: Vec<String>,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
    updated_at: String,
    /// Why labelhook switched the webhook off, if it did.
    #[schema(required = true)]
    disabled_reason: Option<String>,
    /// Also sign with `X-Hub-Signature-256` (HMAC-SHA256 of the body).
    hub_signature: bool,
    delivery_stats: DeliveryStats,
}

/// The create response: the webhook and, this once, its signing secret.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct WebhookCreated {
    #[serde(flatten)]
    webhook: Webhook,
    /// The Standard Webhooks signing secret (`whsec_...`).
    secret: String,
}

/// The actions a webhook may subscribe to.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum WebhookAction {
    ProjectCreated,
    ProjectUpdated,
    ProjectDeleted,
    TasksCreated,
    TasksDeleted,
    AnnotationCreated,
    AnnotationsCreated,
    AnnotationUpdated,
    AnnotationsDeleted,
    LabelLinkCreated,
    LabelLinkUpdated,
    LabelLinkDeleted,
}

/// A webhook's settings (all optional).
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct WebhookSettings {
    #[schema(nullable = false)]
    send_payload: Option<bool>,
    #[schema(nullable = false)]
    send_for_all_actions: Option<bool>,
    /// Extra headers for every delivery: at most 10, names of letters, digits, `-` and `_`.
    #[schema(nullable = false)]
    headers: Option<BTreeMap<String, String>>,
    /// The actions to send when `send_for_all_actions` is false.
    #[schema(nullable = false)]
    actions: Option<Vec<WebhookAction>>,
    #[schema(nullable = false)]
    is_active: Option<bool>,
    #[schema(nullable = false)]
    hub_signature: Option<bool>,
}

/// `POST /api/webhooks/`.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"url": "https://hooks.example.com/labeling", "project": 1, "send_for_all_actions": false, "actions": ["TASKS_CREATED", "ANNOTATION_CREATED"]}))]
#[allow(dead_code)]
pub struct WebhookCreateInput {
    #[schema(max_length = 2048, format = "uri")]
    url: String,
    /// The project's id; `null` or absent for an organization-level webhook (unless
    /// LABEL_STUDIO_ALLOW_ORGANIZATION_WEBHOOKS is false).
    project: Option<i64>,
    #[serde(flatten)]
    settings: WebhookSettings,
}

/// `PATCH`/`PUT /api/webhooks/{id}/`: the keys sent change. A webhook's `project` is fixed
/// at creation.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"actions": ["ANNOTATION_CREATED", "ANNOTATION_UPDATED"]}))]
#[allow(dead_code)]
pub struct WebhookUpdateInput {
    #[schema(nullable = false, max_length = 2048, format = "uri")]
    url: Option<String>,
    #[serde(flatten)]
    settings: WebhookSettings,
}

/// A webhook's signing secret.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct WebhookSecret {
    /// `whsec_...`.
    secret: String,
    /// Until when the previous secret still signs (after a rotation), or `null`.
    #[schema(required = true)]
    previous_secret_expires_at: Option<String>,
}

/// `POST /api/webhooks/{id}/recover`.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"since": "2026-01-01T00:00:00Z"}))]
#[allow(dead_code)]
pub struct RecoverInput {
    /// RFC 3339; failed deliveries created at or after it are queued again.
    #[schema(format = DateTime)]
    since: String,
    /// RFC 3339; only deliveries created before it.
    #[schema(format = DateTime)]
    until: Option<String>,
}

#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct RecoverResult {
    /// How many deliveries were queued again.
    recovered: i64,
}

/// The status of a delivery.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    Pending,
    Held,
    Succeeded,
    Failed,
}

/// One event sent (or to be sent) to one webhook.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct Delivery {
    id: i64,
    /// The `webhook-id` header: the same on every attempt and redelivery.
    message_id: String,
    webhook: i64,
    event: i64,
    action: String,
    /// The `labelhook-sequence` header: the event's order in its project.
    sequence: i64,
    #[schema(required = true)]
    project: Option<i64>,
    status: DeliveryStatus,
    /// An attempt is being made now.
    in_flight: bool,
    attempts: i64,
    /// When the next attempt is due (pending and not in flight), or `null`.
    #[schema(required = true)]
    next_attempt_at: Option<String>,
    #[schema(required = true)]
    last_status_code: Option<i64>,
    #[schema(required = true)]
    last_error: Option<String>,
    /// How long the last attempt took, or `null` before the first.
    #[schema(required = true)]
    last_duration_ms: Option<f64>,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
    updated_at: String,
}

/// The request a delivery sends (signature and timestamp headers differ per attempt).
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct DeliveryRequest {
    method: String,
    url: String,
    headers: BTreeMap<String, String>,
    /// The event payload (Label Studio's webhook body).
    #[schema(value_type = Object)]
    body: Value,
}

/// One attempt of a delivery and the receiver's answer.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct DeliveryAttempt {
    id: i64,
    #[schema(format = DateTime)]
    started_at: String,
    duration_ms: f64,
    #[schema(required = true)]
    status_code: Option<i64>,
    #[schema(value_type = Option<Object>, required = true)]
    response_headers: Option<Value>,
    #[schema(required = true)]
    response_body: Option<String>,
    /// For failed attempts: `timeout`, `connect`, `dns`, `tls`, `http` or `blocked`.
    #[schema(required = true)]
    error_class: Option<String>,
    #[schema(required = true)]
    error: Option<String>,
}

/// A delivery with its request and every attempt. The keys are the log's (`Delivery`), except
/// that `attempts` is the list of attempts instead of their count.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct DeliveryDetail {
    id: i64,
    message_id: String,
    webhook: i64,
    event: i64,
    action: String,
    sequence: i64,
    #[schema(required = true)]
    project: Option<i64>,
    status: DeliveryStatus,
    in_flight: bool,
    /// Every attempt so far, oldest first.
    attempts: Vec<DeliveryAttempt>,
    #[schema(required = true)]
    next_attempt_at: Option<String>,
    #[schema(required = true)]
    last_status_code: Option<i64>,
    #[schema(required = true)]
    last_error: Option<String>,
    /// How long the last attempt took, or `null` before the first.
    #[schema(required = true)]
    last_duration_ms: Option<f64>,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
    updated_at: String,
    request: DeliveryRequest,
}

/// `POST /api/ml/{id}/train` answers `{}`.
#[derive(Serialize, ToSchema)]
pub struct Empty {}
