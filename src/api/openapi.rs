//! The OpenAPI 3 description of the whole API, served at `GET /api/schema/` (no token).
//!
//! Built from the route table (`route.rs`): each route's operation, parameters, request
//! body and answer come from its row there, and the shapes from the types the handlers
//! return (`#[derive(Serialize, ToSchema)]`). Open-ended JSON (task `data`, `result`) is a
//! free-form object or array.
//!
//! Paths are written as the router has them, without the trailing slash; the server
//! accepts every path with or without it (Label Studio's clients send `/api/projects/`).

use std::sync::OnceLock;

use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::openapi::{
    ContentBuilder, ObjectBuilder, Paths, RefOr, Response, ResponseBuilder, Type,
};
use utoipa::{Modify, OpenApi};

use super::data_manager::DmActionId;
use super::error::Error;
use super::route::{Route, get, tagged};
use crate::webhooks::log::DeliveryStatus;

pub(super) fn routes() -> Vec<Route> {
    let document = ObjectBuilder::new().schema_type(Type::Object);
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
    ),
    modifiers(&TokenAuth, &ErrorResponses),
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
        (name = "events", description = "labelhook's event stream: the organization's events in order, for receivers that pull."),
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

/// The error answers an operation refers to by name (`route.rs` says which it may give):
/// each an [`Error`] body.
const ERROR_RESPONSES: [(&str, &str); 8] = [
    (
        "BadRequest",
        "Invalid request: malformed JSON, a field of the wrong type or value \
         (`validation_errors` names it), or a bad query parameter.",
    ),
    (
        "Unauthorized",
        "No `Authorization: Token <key>` header, or an unknown key.",
    ),
    (
        "Forbidden",
        "The user's role does not allow this (`detail` names the role it takes), a \
         rule on people (the last owner, your own role), or a cookie-authenticated \
         write without its CSRF secret.",
    ),
    (
        "NotFound",
        "No such object in the caller's organization (objects of other organizations \
         are not found either), or an id that is not a positive number.",
    ),
    (
        "Gone",
        "What was asked for is no longer kept: events after the event stream's `after` \
         were pruned (LABELHOOK_RETENTION). The body adds `oldest_after`, the lowest \
         `after` that loses nothing, and `oldest_sequence` (`oldest_after` + 1).",
    ),
    (
        "PayloadTooLarge",
        "The request body is larger than LABELHOOK_MAX_BODY_BYTES.",
    ),
    (
        "Throttled",
        "Too many bad tokens from this client within a minute \
         (LABELHOOK_BAD_TOKENS_PER_MINUTE); `Retry-After` says when to try again.",
    ),
    (
        "Unavailable",
        "The database cannot take writes (full, read-only or failing); nothing \
         was changed. `/health` says why.",
    ),
];

/// Adds [`ERROR_RESPONSES`] to the document's components.
struct ErrorResponses;

impl Modify for ErrorResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        for (name, description) in ERROR_RESPONSES {
            components
                .responses
                .insert(name.to_string(), error_response(description));
        }
    }
}
