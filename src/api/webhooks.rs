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
use crate::labeling::Actor;
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

async fn read_delivery(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Ids(id, delivery_id): Ids,
) -> ApiResult<Json<Value>> {
    let mut conn = state.db.reader().acquire().await?;
    Ok(Json(log::detail(&mut conn, &actor, id, delivery_id).await?))
}

/// Sends one delivery again with the same `webhook-id` and a fresh retry schedule.
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
