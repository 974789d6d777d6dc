//! `/api/webhooks/...`: configuration (Label Studio compatible) and the action catalogue.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::AppState;
use super::error::{ApiError, ApiResult};
use super::extract::{Id, Ids, LsJson, LsQuery, as_object};
use super::pagination::{PageQuery, envelope};
use crate::events::CATALOGUE;
use crate::shared::Actor;
use crate::store::time;
use crate::webhooks::{self, ProjectFilter, Rules, WebhookError, log};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/webhooks", get(list).post(create))
        .route(
            "/api/webhooks/{id}",
            get(read).patch(update).put(update).delete(remove),
        )
        .route("/api/webhooks/{id}/secret", get(read_secret))
        .route("/api/webhooks/{id}/secret/rotate", post(rotate_secret))
        .route("/api/webhooks/{id}/test", post(send_test))
        .route("/api/webhooks/{id}/recover", post(recover))
        .route("/api/webhooks/{id}/deliveries", get(list_deliveries))
        .route(
            "/api/webhooks/{id}/deliveries/{delivery_id}",
            get(read_delivery),
        )
        .route(
            "/api/webhooks/{id}/deliveries/{delivery_id}/redeliver",
            post(redeliver),
        )
}

/// Routes that need no token.
pub fn public_routes() -> Router<AppState> {
    Router::new().route("/api/webhooks/info", get(info))
}

impl From<WebhookError> for ApiError {
    fn from(error: WebhookError) -> Self {
        match error {
            WebhookError::Labeling(e) => e.into(),
            WebhookError::Nested(errors) => ApiError::Validation(errors),
        }
    }
}

#[derive(Debug, Deserialize)]
struct InfoQuery {
    #[serde(rename = "organization-only")]
    organization_only: Option<String>,
}

/// The action catalogue: `{ACTION: {name, description, key, organization-only}}`.
#[utoipa::path(
    get,
    path = "/api/webhooks/info",
    tag = "webhooks",
    operation_id = "webhooks_info",
    summary = "The action catalogue",
    params(
        ("organization-only" = Option<bool>, Query, description = "Only organization-only actions (`true`) or only the others (`false`)."),
    ),
    responses(
        (status = 200, description = "`{ACTION: {name, description, key, organization-only}}`", body = super::openapi::ActionCatalogue),
        (status = 400, response = super::openapi::BadRequest),
    ),
)]
async fn info(LsQuery(query): LsQuery<InfoQuery>) -> ApiResult<Json<Value>> {
    let only = match query
        .organization_only
        .as_deref()
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None | Some("") => None,
        Some("true" | "1") => Some(true),
        Some("false" | "0") => Some(false),
        Some(other) => {
            return Err(ApiError::field(
                "organization-only",
                format!("\"{other}\" is not a valid boolean; use true or false."),
            ));
        }
    };
    let catalogue: Map<String, Value> = CATALOGUE
        .iter()
        .filter(|info| only.is_none_or(|o| o == info.organization_only))
        .map(|info| {
            (
                info.id.to_string(),
                json!({
                    "name": info.name,
                    "description": info.description,
                    "key": info.key,
                    "organization-only": info.organization_only,
                }),
            )
        })
        .collect();
    Ok(Json(Value::Object(catalogue)))
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    project: Option<String>,
}

#[utoipa::path(
    get,
    path = "/api/webhooks",
    tag = "webhooks",
    operation_id = "webhooks_list",
    summary = "List webhooks",
    params(
        ("project" = Option<String>, Query, pattern = "^(-?[0-9]+|null|None)$", description = "A project id, or `null` for organization-level webhooks only."),
    ),
    responses(
        (status = 200, description = "The webhooks", body = Vec<super::openapi::Webhook>),
        (status = 400, response = super::openapi::BadRequest),
        (status = 401, response = super::openapi::Unauthorized),
    ),
    security(("token" = [])),
)]
async fn list(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    LsQuery(query): LsQuery<ListQuery>,
) -> ApiResult<Json<Value>> {
    let filter =
        match query.project.as_deref().map(str::trim) {
            None | Some("") => ProjectFilter::All,
            Some("null" | "None") => ProjectFilter::OrganizationLevel,
            Some(text) => ProjectFilter::Project(text.parse().map_err(|_| {
                ApiError::field("project", "A valid integer or `null` is required.")
            })?),
        };
    let mut conn = state.db.reader().acquire().await?;
    let mut found = webhooks::list(&mut conn, &actor, filter).await?;
    webhooks::with_stats(&mut conn, &mut found).await?;
    Ok(Json(found.iter().map(|w| w.api()).collect()))
}

/// The SSRF guard's check of a `url` in the input, done before the write transaction opens
/// (it may resolve a name, and SQLite has one writer).
pub async fn check_destination(state: &AppState, input: &Map<String, Value>) -> ApiResult<()> {
    let Some(Value::String(url)) = input.get("url") else {
        return Ok(());
    };
    let Ok(parsed) = reqwest::Url::parse(url) else {
        return Ok(()); // the validation proper reports it
    };
    state
        .guard
        .check_url(&parsed)
        .await
        .map_err(|blocked| ApiError::field("url", blocked.0))
}

fn rules(state: &AppState) -> Rules {
    Rules {
        allow_organization_webhooks: state.settings.webhooks.allow_organization_webhooks,
    }
}

/// 201 with the webhook and, this once, its signing `secret`.
#[utoipa::path(
    post,
    path = "/api/webhooks",
    tag = "webhooks",
    operation_id = "webhooks_create",
    summary = "Create a webhook",
    description = "The answer carries the signing `secret` (also readable later at `/secret`).",
    request_body(content = super::openapi::WebhookCreateInput, description = "The webhook.", content_type = "application/json"),
    responses(
        (status = 201, description = "The new webhook with its secret", body = super::openapi::WebhookCreated),
        (status = 400, response = super::openapi::BadRequest),
        (status = 401, response = super::openapi::Unauthorized),
        (status = 404, response = super::openapi::NotFound),
        (status = 413, response = super::openapi::PayloadTooLarge),
    ),
    security(("token" = [])),
)]
async fn create(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    LsJson(input): LsJson<Value>,
) -> ApiResult<impl IntoResponse> {
    let input = as_object(input)?;
    check_destination(&state, &input).await?;
    let mut tx = state.db.begin().await?;
    let webhook = webhooks::create(&mut tx, &actor, rules(&state), &input).await?;
    state.db.commit(tx).await?;
    let mut body = webhook.api();
    if let Some(object) = body.as_object_mut() {
        object.insert("secret".into(), Value::String(webhook.secret.clone()));
    }
    Ok((StatusCode::CREATED, Json(body)))
}

#[utoipa::path(
    get,
    path = "/api/webhooks/{id}",
    tag = "webhooks",
    operation_id = "webhooks_read",
    summary = "Read a webhook",
    params(
        ("id" = i64, Path, example = 1, description = "The webhook's id."),
    ),
    responses(
        (status = 200, description = "The webhook", body = super::openapi::Webhook),
        (status = 401, response = super::openapi::Unauthorized),
        (status = 404, response = super::openapi::NotFound),
    ),
    security(("token" = [])),
)]
async fn read(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Id(id): Id,
) -> ApiResult<Json<Value>> {
    let mut conn = state.db.reader().acquire().await?;
    let mut webhook = webhooks::get(&mut conn, &actor, id).await?;
    webhooks::with_stats(&mut conn, std::slice::from_mut(&mut webhook)).await?;
    Ok(Json(webhook.api()))
}

#[utoipa::path(
    patch,
    path = "/api/webhooks/{id}",
    tag = "webhooks",
    operation_id = "webhooks_update",
    summary = "Update a webhook",
    description = "Only the keys sent change (PUT behaves the same). Switching `is_active` off holds new deliveries; on releases them.",
    params(
        ("id" = i64, Path, example = 1, description = "The webhook's id."),
    ),
    request_body(content = super::openapi::WebhookUpdateInput, description = "The fields to change.", content_type = "application/json"),
    responses(
        (status = 200, description = "The updated webhook", body = super::openapi::Webhook),
        (status = 400, response = super::openapi::BadRequest),
        (status = 401, response = super::openapi::Unauthorized),
        (status = 404, response = super::openapi::NotFound),
        (status = 413, response = super::openapi::PayloadTooLarge),
    ),
    security(("token" = [])),
)]
async fn update(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Id(id): Id,
    LsJson(input): LsJson<Value>,
) -> ApiResult<Json<Value>> {
    let input = as_object(input)?;
    check_destination(&state, &input).await?;
    let mut tx = state.db.begin().await?;
    let webhook = webhooks::update(&mut tx, &actor, id, &input).await?;
    state.db.commit(tx).await?;
    Ok(Json(webhook.api()))
}

#[utoipa::path(
    delete,
    path = "/api/webhooks/{id}",
    tag = "webhooks",
    operation_id = "webhooks_delete",
    summary = "Delete a webhook",
    description = "With its delivery log.",
    params(
        ("id" = i64, Path, example = 1, description = "The webhook's id."),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, response = super::openapi::Unauthorized),
        (status = 404, response = super::openapi::NotFound),
    ),
    security(("token" = [])),
)]
async fn remove(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Id(id): Id,
) -> ApiResult<StatusCode> {
    let mut tx = state.db.begin().await?;
    webhooks::delete(&mut tx, &actor, id).await?;
    state.db.commit(tx).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `{"secret", "previous_secret_expires_at"}`: the signing secret, readable any time.
#[utoipa::path(
    get,
    path = "/api/webhooks/{id}/secret",
    tag = "webhooks",
    operation_id = "webhooks_secret_read",
    summary = "Read the signing secret",
    params(
        ("id" = i64, Path, example = 1, description = "The webhook's id."),
    ),
    responses(
        (status = 200, description = "The secret", body = super::openapi::WebhookSecret),
        (status = 401, response = super::openapi::Unauthorized),
        (status = 404, response = super::openapi::NotFound),
    ),
    security(("token" = [])),
)]
async fn read_secret(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Id(id): Id,
) -> ApiResult<Json<Value>> {
    let mut conn = state.db.reader().acquire().await?;
    let webhook = webhooks::get(&mut conn, &actor, id).await?;
    Ok(Json(secret_view(&webhook)))
}

fn secret_view(webhook: &webhooks::Webhook) -> Value {
    let expires = webhook
        .previous_secret_expires_at
        .filter(|at| *at > time::now());
    json!({
        "secret": webhook.secret,
        "previous_secret_expires_at": time::render_opt(expires),
    })
}

/// A new secret; the old one keeps signing (both signatures are sent) for the grace period.
#[utoipa::path(
    post,
    path = "/api/webhooks/{id}/secret/rotate",
    tag = "webhooks",
    operation_id = "webhooks_secret_rotate",
    summary = "Rotate the signing secret",
    description = "The previous secret keeps signing (both signatures are sent) for LABELHOOK_SECRET_ROTATION_GRACE.",
    params(
        ("id" = i64, Path, example = 1, description = "The webhook's id."),
    ),
    responses(
        (status = 200, description = "The new secret", body = super::openapi::WebhookSecret),
        (status = 401, response = super::openapi::Unauthorized),
        (status = 404, response = super::openapi::NotFound),
    ),
    security(("token" = [])),
)]
async fn rotate_secret(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Id(id): Id,
) -> ApiResult<Json<Value>> {
    let mut tx = state.db.begin().await?;
    let grace = state.settings.webhooks.secret_rotation_grace;
    let webhook = webhooks::rotate_secret(&mut tx, &actor, id, grace).await?;
    state.db.commit(tx).await?;
    Ok(Json(secret_view(&webhook)))
}

/// Queues a PING event to the webhook; 201 with the delivery to follow in the log.
#[utoipa::path(
    post,
    path = "/api/webhooks/{id}/test",
    tag = "webhooks",
    operation_id = "webhooks_test",
    summary = "Send a test event",
    description = "Queues a PING to this webhook; follow it in the delivery log.",
    params(
        ("id" = i64, Path, example = 1, description = "The webhook's id."),
    ),
    responses(
        (status = 201, description = "The queued delivery", body = super::openapi::DeliveryDetail),
        (status = 401, response = super::openapi::Unauthorized),
        (status = 404, response = super::openapi::NotFound),
    ),
    security(("token" = [])),
)]
async fn send_test(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Id(id): Id,
) -> ApiResult<impl IntoResponse> {
    let mut tx = state.db.begin().await?;
    let delivery_id = log::send_test(&mut tx, &actor, id).await?;
    state.db.commit(tx).await?;
    let mut conn = state.db.reader().acquire().await?;
    let delivery = log::detail(&mut conn, &actor, id, delivery_id).await?;
    Ok((StatusCode::CREATED, Json(delivery)))
}

#[derive(Debug, Deserialize)]
struct RecoverBody {
    since: Option<String>,
    until: Option<String>,
}

fn parse_time(field: &str, value: Option<&str>) -> ApiResult<Option<i64>> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(text) => time::parse(text).map(Some).ok_or_else(|| {
            ApiError::field(
                field,
                format!("\"{text}\" is not an RFC 3339 time such as 2026-01-31T12:00:00Z."),
            )
        }),
    }
}

/// Queues again every failed delivery created since `since` (and before `until`).
#[utoipa::path(
    post,
    path = "/api/webhooks/{id}/recover",
    tag = "webhooks",
    operation_id = "webhooks_recover",
    summary = "Recover failed deliveries",
    description = "Queues again every failed delivery created in [since, until).",
    params(
        ("id" = i64, Path, example = 1, description = "The webhook's id."),
    ),
    request_body(content = super::openapi::RecoverInput, description = "The period.", content_type = "application/json"),
    responses(
        (status = 200, description = "How many were queued again", body = super::openapi::RecoverResult),
        (status = 400, response = super::openapi::BadRequest),
        (status = 401, response = super::openapi::Unauthorized),
        (status = 404, response = super::openapi::NotFound),
        (status = 413, response = super::openapi::PayloadTooLarge),
    ),
    security(("token" = [])),
)]
async fn recover(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Id(id): Id,
    LsJson(body): LsJson<RecoverBody>,
) -> ApiResult<Json<Value>> {
    let since = parse_time("since", body.since.as_deref())?.ok_or_else(|| {
        ApiError::field(
            "since",
            "This field is required: the time to recover failed deliveries from.",
        )
    })?;
    let until = parse_time("until", body.until.as_deref())?;
    let mut tx = state.db.begin().await?;
    let recovered = log::recover(&mut tx, &actor, id, since, until).await?;
    state.db.commit(tx).await?;
    Ok(Json(json!({ "recovered": recovered })))
}

#[derive(Debug, Deserialize)]
struct DeliveriesQuery {
    #[serde(flatten)]
    page: PageQuery,
    status: Option<String>,
    action: Option<String>,
    since: Option<String>,
    until: Option<String>,
}

/// The delivery log of a webhook, newest first, paged like the project list.
#[utoipa::path(
    get,
    path = "/api/webhooks/{id}/deliveries",
    tag = "deliveries",
    operation_id = "deliveries_list",
    summary = "List a webhook's deliveries",
    description = "Newest first; paged (default page size 50).",
    params(
        ("id" = i64, Path, example = 1, description = "The webhook's id."),
        ("page" = Option<i64>, Query, minimum = 1, description = "Page number, from 1."),
        ("page_size" = Option<i64>, Query, minimum = 1, description = "Items per page (larger values are cut to 10000)."),
        ("status" = Option<super::openapi::DeliveryStatus>, Query, description = "Only deliveries in this status."),
        ("action" = Option<String>, Query, description = "Only deliveries of this action, such as `TASKS_CREATED`."),
        ("since" = Option<String>, Query, format = DateTime, description = "Only deliveries created at or after this RFC 3339 time."),
        ("until" = Option<String>, Query, format = DateTime, description = "Only deliveries created before this RFC 3339 time."),
    ),
    responses(
        (status = 200, description = "A page of deliveries", body = super::openapi::DeliveryPage),
        (status = 400, response = super::openapi::BadRequest),
        (status = 401, response = super::openapi::Unauthorized),
        (status = 404, response = super::openapi::NotFound),
    ),
    security(("token" = [])),
)]
async fn list_deliveries(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    headers: HeaderMap,
    Id(id): Id,
    LsQuery(query): LsQuery<DeliveriesQuery>,
) -> ApiResult<Json<Value>> {
    let page = query.page.page(50)?;
    if let Some(status) = &query.status
        && !log::STATUSES.contains(&status.as_str())
    {
        return Err(ApiError::field(
            "status",
            format!(
                "\"{status}\" is not a valid choice; use one of {}.",
                log::STATUSES.join(", ")
            ),
        ));
    }
    let filter = log::Filter {
        status: query.status.clone(),
        action: query.action.clone(),
        since: parse_time("since", query.since.as_deref())?,
        until: parse_time("until", query.until.as_deref())?,
    };
    let mut conn = state.db.reader().acquire().await?;
    let (items, count) =
        log::list(&mut conn, &actor, id, &filter, page.offset(), page.size).await?;
    let path = format!("/api/webhooks/{id}/deliveries");
    Ok(Json(envelope(&headers, &path, &page, count, items)))
}

#[utoipa::path(
    get,
    path = "/api/webhooks/{id}/deliveries/{delivery_id}",
    tag = "deliveries",
    operation_id = "deliveries_read",
    summary = "Read a delivery",
    description = "With the request it sends and every attempt.",
    params(
        ("id" = i64, Path, example = 1, description = "The webhook's id."),
        ("delivery_id" = i64, Path, example = 1, description = "The delivery's id."),
    ),
    responses(
        (status = 200, description = "The delivery", body = super::openapi::DeliveryDetail),
        (status = 401, response = super::openapi::Unauthorized),
        (status = 404, response = super::openapi::NotFound),
    ),
    security(("token" = [])),
)]
async fn read_delivery(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Ids(id, delivery_id): Ids,
) -> ApiResult<Json<Value>> {
    let mut conn = state.db.reader().acquire().await?;
    Ok(Json(log::detail(&mut conn, &actor, id, delivery_id).await?))
}

/// Sends one delivery again with the same `webhook-id` and a fresh retry schedule.
#[utoipa::path(
    post,
    path = "/api/webhooks/{id}/deliveries/{delivery_id}/redeliver",
    tag = "deliveries",
    operation_id = "deliveries_redeliver",
    summary = "Send a delivery again",
    description = "Same `webhook-id`, a fresh retry schedule.",
    params(
        ("id" = i64, Path, example = 1, description = "The webhook's id."),
        ("delivery_id" = i64, Path, example = 1, description = "The delivery's id."),
    ),
    responses(
        (status = 202, description = "The delivery, queued again", body = super::openapi::DeliveryDetail),
        (status = 401, response = super::openapi::Unauthorized),
        (status = 404, response = super::openapi::NotFound),
    ),
    security(("token" = [])),
)]
async fn redeliver(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Ids(id, delivery_id): Ids,
) -> ApiResult<impl IntoResponse> {
    let mut tx = state.db.begin().await?;
    log::redeliver(&mut tx, &actor, id, delivery_id).await?;
    state.db.commit(tx).await?;
    let mut conn = state.db.reader().acquire().await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(log::detail(&mut conn, &actor, id, delivery_id).await?),
    ))
}
