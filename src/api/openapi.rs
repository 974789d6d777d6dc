//! The OpenAPI 3 description of the whole API, served at `GET /api/schema/` (no token).
//!
//! Built from the route table (`route.rs`): each route's operation, parameters, request
//! body and answer come from its row there, and the shapes from the types the handlers
//! return (`#[derive(Serialize, ToSchema)]`). Open-ended JSON (task `data`, `result`) is a
//! free-form object or array.
//!
//! Paths are written as the router has them, without the trailing slash; the server
//! accepts every path with or without it (Label Studio's clients send `/api/projects/`).

use std::collections::BTreeMap;
use std::sync::OnceLock;

use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use serde::Serialize;
use serde_json::Value;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Paths, RefOr, Response, ResponseBuilder};
use utoipa::{Modify, OpenApi, ToSchema};

use super::data_manager::DmActionId;
use super::error::Error;
use super::route::{Route, get, tagged};
use crate::labeling::annotations::AnnotationInput;
use crate::webhooks::log::DeliveryStatus;

pub(super) fn routes() -> Vec<Route> {
    let document = utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::Type::Object)
        .into();
    tagged(
        "system",
        [get("/api/schema", schema)
            .doc("schema_read", "This OpenAPI 3 description")
            .public()
            .ok_content("The OpenAPI document", "application/json", document)],
    )
}

/// The description as JSON text, built once.
pub fn document() -> &'static str {
    static DOCUMENT: OnceLock<String> = OnceLock::new();
    DOCUMENT.get_or_init(|| describe(&super::routes()).to_json().unwrap_or_default())
}

/// The document: what [`ApiDoc`] says of the whole API, plus each route of the table.
fn describe(routes: &[Route]) -> utoipa::openapi::OpenApi {
    let mut openapi = ApiDoc::openapi();
    let mut paths = Paths::new();
    let components = openapi.components.get_or_insert_with(Default::default);
    for route in routes {
        for (method, operation) in route.doc.operations(route.path, route.methods) {
            paths.add_path_operation(route.path, vec![method], operation);
        }
        for (name, schema) in &route.doc.schemas {
            components.schemas.insert(name.clone(), schema.clone());
        }
    }
    openapi.paths = paths;
    openapi
}

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
    components(
        schemas(Error, DmActionId, DeliveryStatus),
        responses(BadRequest, Unauthorized, Forbidden, NotFound, PayloadTooLarge, Throttled, Unavailable),
    ),
    modifiers(&TokenAuth),
    tags(
        (name = "projects", description = "Projects, import, and a project's tasks (Label Studio)."),
        (name = "export", description = "Export files in Label Studio's formats: at once (streamed) or as snapshots built in the background (Label Studio)."),
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
struct ApiDoc;

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

// ---------------------------------------------------------------------------------------
// Errors: every 4xx/5xx body.

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
/// 403: the user's role does not allow this, or a cookie-authenticated write without its
/// CSRF secret.
pub struct Forbidden;
/// 404: no such object in the caller's organization, or an id that is not a number.
pub struct NotFound;
/// 413: the body is larger than LABELHOOK_MAX_BODY_BYTES.
pub struct PayloadTooLarge;
/// 429: too many bad tokens from this client (`Retry-After` says for how long).
pub struct Throttled;
/// 503: the database cannot take writes (full, read-only or failing).
pub struct Unavailable;

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

impl<'s> utoipa::ToResponse<'s> for Forbidden {
    fn response() -> (&'s str, RefOr<Response>) {
        (
            "Forbidden",
            error_response(
                "The user's role does not allow this (`detail` names the role it takes), a \
                 rule on people (the last owner, your own role), or a cookie-authenticated \
                 write without its CSRF secret.",
            ),
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

impl<'s> utoipa::ToResponse<'s> for Throttled {
    fn response() -> (&'s str, RefOr<Response>) {
        (
            "Throttled",
            error_response(
                "Too many bad tokens from this client within a minute \
                 (LABELHOOK_BAD_TOKENS_PER_MINUTE); `Retry-After` says when to try again.",
            ),
        )
    }
}

impl<'s> utoipa::ToResponse<'s> for Unavailable {
    fn response() -> (&'s str, RefOr<Response>) {
        (
            "Unavailable",
            error_response(
                "The database cannot take writes (full, read-only or failing); nothing \
                 was changed. `/health` says why.",
            ),
        )
    }
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

// ---------------------------------------------------------------------------------------
// Annotations and predictions.

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

// ---------------------------------------------------------------------------------------
// ML backends.

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

/// The actions a webhook may subscribe to: the ids of `events::CATALOGUE`.
#[derive(Serialize)]
pub struct WebhookAction;

impl utoipa::PartialSchema for WebhookAction {
    fn schema() -> RefOr<utoipa::openapi::schema::Schema> {
        let ids = crate::events::CATALOGUE.iter().map(|info| info.id);
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::Type::String)
            .enum_values(Some(ids))
            .into()
    }
}

impl ToSchema for WebhookAction {}

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

/// `POST /api/webhooks/{id}/recover`.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"since": "2026-01-01T00:00:00Z"}))]
#[allow(dead_code)]
pub struct RecoverInput {
    /// RFC 3339; failed deliveries created at or after it are queued again.
    #[schema(format = DateTime)]
    since: String,
    /// RFC 3339; only deliveries created before it (later than `since`).
    #[schema(format = DateTime)]
    until: Option<String>,
    /// Also queue again, due now, the pending deliveries waiting for a retry.
    include_pending: Option<bool>,
}
