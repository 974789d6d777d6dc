//! `/api/webhooks/...`: configuration (Label Studio compatible) and the action catalogue.

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize, Serializer};
use utoipa::openapi::schema::{ObjectBuilder, Schema};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{IntoParams, PartialSchema, ToSchema};

use super::AppState;
use super::error::{ApiError, ApiResult};
use super::extract::{Caller, Id, Ids, LsJson, LsQuery, body_bytes, parse_json};
use super::pagination::{Envelope, PageQuery, envelope};
use super::route::{Route, delete, get, patch_or_put, post, tagged};
use crate::events::{self, CATALOGUE, custom};
use crate::labeling::projects;
use crate::shared::ReadOnly;
use crate::shared::Role;
use crate::shared::{Pk, Scope};
use crate::store::time;
use crate::webhooks::log::{DeliveryDetailView, DeliveryStatus, DeliveryView, Hourly, RetryNow};
use crate::webhooks::{
    self, ChosenSecret, ProjectFilter, Rules, WebhookCreated, WebhookError, WebhookInput,
    WebhookSecret, WebhookView, log,
};
use std::borrow::Cow;

pub(super) fn routes() -> Vec<Route> {
    let webhooks = tagged(
        "webhooks",
        [
            get("/api/webhooks/info", info)
                .doc("webhooks_info", "The action catalogue")
                .public()
                .query::<InfoQuery>()
                .ok::<ActionCatalogue>("`{ACTION: {name, description, key, organization-only}}`"),
            post("/api/webhooks/events", send_custom_event)
                .doc("webhooks_events_create", "Send a custom event")
                .needs(Role::Manager)
                .about("Writes the event `{\"action\", \"project\", \"payload\"}` to the outbox, for the webhooks that list the action or take every action (of the project and the organization; only organization-level ones without a project): the same signatures, filters, log and retries as every event.")
                .json::<CustomEventInput>("The event.")
                .created::<CustomEventSent>("How many webhooks it goes to"),
            get("/api/webhooks/event-types", list_event_types)
                .doc("webhooks_event_types_list", "List custom event types")
                .needs(Role::Manager)
                .ok_list::<EventTypeView>("The organization's custom event types"),
            post("/api/webhooks/event-types", register_event_type)
                .doc("webhooks_event_types_create", "Register a custom event type")
                .needs(Role::Manager)
                .about("A registered type shows in /api/webhooks/info/ (with a token or a session cookie) and the pages' event picker, and a webhook may list it in `actions`. Registering a name again changes its description.")
                .json::<EventTypeInput>("The type.")
                .created::<EventTypeView>("The type"),
            get("/api/webhooks", list)
                .doc("webhooks_list", "List webhooks")
                .needs(Role::Manager)
                .query::<ListQuery>()
                .ok_list::<WebhookView>("The webhooks"),
            post("/api/webhooks", create)
                .doc("webhooks_create", "Create a webhook")
                .needs(Role::Manager)
                .about("The answer carries the signing `secret` (also readable later at `/secret`).")
                .json::<WebhookInput>("The webhook.")
                .may_be_missing()
                .created::<WebhookCreated>("The new webhook with its secret"),
            get("/api/webhooks/{id}", read)
                .doc("webhooks_read", "Read a webhook")
                .needs(Role::Manager)
                .ok::<WebhookView>("The webhook"),
            patch_or_put("/api/webhooks/{id}", update)
                .doc("webhooks_update", "Update a webhook")
                .needs(Role::Manager)
                .about("Only the keys sent change (PUT behaves the same). Switching `is_active` off holds new deliveries; on releases them.")
                .json::<WebhookInput>("The fields to change.")
                .ok::<WebhookView>("The updated webhook"),
            delete("/api/webhooks/{id}", remove)
                .doc("webhooks_delete", "Delete a webhook")
                .needs(Role::Manager)
                .about("With its delivery log.")
                .no_content("Deleted"),
            get("/api/webhooks/{id}/secret", read_secret)
                .doc("webhooks_secret_read", "Read the signing secret")
                .needs(Role::Manager)
                .ok::<WebhookSecret>("The secret"),
            post("/api/webhooks/{id}/secret/rotate", rotate_secret)
                .doc("webhooks_secret_rotate", "Rotate the signing secret")
                .needs(Role::Manager)
                .about("The previous secret keeps signing (both signatures are sent) for LABELHOOK_SECRET_ROTATION_GRACE. The body is optional: `{\"secret\": \"...\"}` chooses the new secret (at least 16 characters; `whsec_` + base64, or a plain secret).")
                .json::<RotateInput>("Optional: the new secret.")
                .body_optional()
                .ok::<WebhookSecret>("The new secret"),
            post("/api/webhooks/{id}/test", send_test)
                .doc("webhooks_test", "Send a test event")
                .needs(Role::Manager)
                .about("Queues a PING to this webhook; follow it in the delivery log.")
                .created::<DeliveryDetailView>("The queued delivery"),
            post("/api/webhooks/{id}/recover", recover)
                .doc("webhooks_recover", "Recover failed deliveries")
                .needs(Role::Manager)
                .about("Queues again, due now with a fresh retry schedule, every failed delivery created in [since, until); with `include_pending`, the pending ones waiting for a retry too.")
                .json::<RecoverBody>("The period.")
                .ok::<RecoverResult>("How many were queued again"),
            get("/api/webhooks/{id}/hourly", hourly)
                .doc("webhooks_hourly", "Attempts per hour, last 24 hours")
                .needs(Role::Manager)
                .about("Per hour (oldest first, the current hour last): attempts succeeded and failed, and deliveries that used up their retries; the totals and the success rate.")
                .ok::<Hourly>("The last 24 hours"),
            post("/api/webhooks/{id}/retry", retry_now)
                .doc("webhooks_retry_now", "Retry every waiting delivery now")
                .needs(Role::Manager)
                .about("Every pending delivery waiting for its next retry is due now. While the webhook's breaker is open, its next probe goes now instead; if it succeeds, everything held follows at once.")
                .ok::<RetryNow>("What was asked of the dispatcher"),
        ],
    );
    let deliveries = tagged(
        "deliveries",
        [
            get("/api/webhooks/{id}/deliveries", list_deliveries)
                .doc("deliveries_list", "List a webhook's deliveries")
                .needs(Role::Manager)
                .about("Newest first; paged (default page size 50).")
                .query::<PageQuery>()
                .query::<DeliveriesQuery>()
                .ok_page::<DeliveryView>("DeliveryPage", "A page of deliveries"),
            get("/api/webhooks/{id}/deliveries/{delivery_id}", read_delivery)
                .doc("deliveries_read", "Read a delivery")
                .needs(Role::Manager)
                .about("With the request it sends and every attempt.")
                .ok::<DeliveryDetailView>("The delivery"),
            post(
                "/api/webhooks/{id}/deliveries/{delivery_id}/redeliver",
                redeliver,
            )
            .doc("deliveries_redeliver", "Send a delivery again")
            .needs(Role::Manager)
            .about("Same `webhook-id`, a fresh retry schedule.")
            .accepted::<DeliveryDetailView>("The delivery, queued again"),
        ],
    );
    webhooks.into_iter().chain(deliveries).collect()
}

impl From<WebhookError> for ApiError {
    fn from(error: WebhookError) -> Self {
        match error {
            WebhookError::Labeling(e) => e.into(),
            WebhookError::Nested(errors) => ApiError::Validation(errors),
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct InfoQuery {
    /// Only organization-only actions (`true`) or only the others (`false`).
    #[serde(rename = "organization-only")]
    #[param(value_type = Option<bool>)]
    organization_only: Option<String>,
}

/// One action of the catalogue.
#[derive(Debug, Serialize, ToSchema)]
pub struct ActionInfo {
    #[schema(value_type = String)]
    name: Cow<'static, str>,
    #[schema(value_type = String)]
    description: Cow<'static, str>,
    /// The payload key that carries the changed objects (`payload` for a custom event).
    key: &'static str,
    /// Only organization-level webhooks (no project) may receive it.
    #[serde(rename = "organization-only")]
    organization_only: bool,
}

/// The action catalogue: `{ACTION: ActionInfo}`, in the catalogue's order.
pub struct ActionCatalogue(Vec<(Cow<'static, str>, ActionInfo)>);

impl Serialize for ActionCatalogue {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().map(|(id, info)| (id, info)))
    }
}

impl PartialSchema for ActionCatalogue {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .description(Some("The action catalogue: `{ACTION: ActionInfo}`."))
            .additional_properties(Some(Ref::from_schema_name(ActionInfo::name())))
            .into()
    }
}

impl ToSchema for ActionCatalogue {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((ActionInfo::name().into_owned(), ActionInfo::schema()));
    }
}

/// The action catalogue: `{ACTION: {name, description, key, organization-only}}`; with a
/// token, the organization's custom event types after it.
async fn info(
    State(state): State<AppState>,
    headers: HeaderMap,
    LsQuery(query): LsQuery<InfoQuery>,
) -> ApiResult<Json<ActionCatalogue>> {
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
    let mut catalogue: Vec<_> = CATALOGUE
        .iter()
        .filter(|info| only.is_none_or(|o| o == info.organization_only))
        .map(|info| {
            (
                Cow::Borrowed(info.id),
                ActionInfo {
                    name: Cow::Borrowed(info.name),
                    description: Cow::Borrowed(info.description),
                    key: info.key,
                    organization_only: info.organization_only,
                },
            )
        })
        .collect();
    // The route is public (Label Studio's is); a token or a session cookie adds its
    // organization's own types.
    let token = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(crate::auth::key_from_header);
    let actor = match (token, super::session_key(&headers)) {
        (Some(token), _) => crate::auth::actor_for_token(&state.db, token).await?,
        (None, Some(key)) => crate::auth::sessions::find(&state.db, &key)
            .await?
            .map(|session| session.actor),
        (None, None) => None,
    };
    if let (Some(actor), None | Some(false)) = (actor, only) {
        let mut conn = state.db.reader().acquire().await?;
        for custom in custom::list_types(&mut conn, actor.organization_id).await? {
            catalogue.push((
                Cow::Owned(custom.name.clone()),
                ActionInfo {
                    // Its description is the human name, where there is one.
                    name: Cow::Owned(if custom.description.is_empty() {
                        custom.name
                    } else {
                        custom.description.clone()
                    }),
                    description: Cow::Owned(custom.description),
                    key: "payload",
                    organization_only: false,
                },
            ));
        }
    }
    Ok(Json(ActionCatalogue(catalogue)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// A project id, or `null` for organization-level webhooks only.
    #[param(pattern = "^(-?[0-9]+|null|None)$")]
    project: Option<String>,
}

async fn list(
    caller: Caller,
    LsQuery(query): LsQuery<ListQuery>,
) -> ApiResult<Json<Vec<WebhookView>>> {
    let filter =
        match query.project.as_deref().map(str::trim) {
            None | Some("") => ProjectFilter::All,
            Some("null" | "None") => ProjectFilter::OrganizationLevel,
            Some(text) => ProjectFilter::Project(text.parse().map_err(|_| {
                ApiError::field("project", "A valid integer or `null` is required.")
            })?),
        };
    let mut conn = caller.reader().await?;
    let mut found = webhooks::list(&mut conn, &caller.actor, filter).await?;
    webhooks::with_stats(&mut conn, &mut found).await?;
    Ok(Json(found.iter().map(|w| w.api()).collect()))
}

/// The SSRF guard's check of a `url` in the input, done before the write transaction opens
/// (it may resolve a name, and SQLite has one writer).
pub async fn check_destination(state: &AppState, url: Option<&str>) -> ApiResult<()> {
    let Some(url) = url else {
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
    Caller { state, actor }: Caller,
    LsJson(input): LsJson<WebhookInput>,
) -> ApiResult<(StatusCode, Json<WebhookCreated>)> {
    check_destination(&state, input.url.value().map(String::as_str)).await?;
    let webhook = state
        .db
        .write(async |tx| webhooks::create(tx, &actor, rules(&state), input).await)
        .await?;
    let created = WebhookCreated {
        webhook: webhook.api(),
        secret: webhook.secret,
    };
    Ok((StatusCode::CREATED, Json(created)))
}

async fn read(caller: Caller, Id(id): Id) -> ApiResult<Json<WebhookView>> {
    let mut conn = caller.reader().await?;
    let mut webhook = webhooks::get(&mut conn, &caller.actor, id).await?;
    webhooks::with_stats(&mut conn, std::slice::from_mut(&mut webhook)).await?;
    Ok(Json(webhook.api()))
}

async fn update(
    Caller { state, actor }: Caller,
    Id(id): Id,
    LsJson(input): LsJson<WebhookInput<ReadOnly>>,
) -> ApiResult<Json<WebhookView>> {
    check_destination(&state, input.url.value().map(String::as_str)).await?;
    let webhook = state
        .db
        .write(async |tx| webhooks::update(tx, &actor, id, input).await)
        .await?;
    Ok(Json(webhook.api()))
}

async fn remove(caller: Caller, Id(id): Id) -> ApiResult<StatusCode> {
    caller
        .write(async |tx, actor| webhooks::delete(tx, actor, id).await)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `{"secret", "previous_secret_expires_at"}`: the signing secret, readable any time.
async fn read_secret(caller: Caller, Id(id): Id) -> ApiResult<Json<WebhookSecret>> {
    let mut conn = caller.reader().await?;
    let webhook = webhooks::get(&mut conn, &caller.actor, id).await?;
    Ok(Json(webhook.secret_view()))
}

/// A new secret; the old one keeps signing (both signatures are sent) for the grace period.
async fn rotate_secret(
    Caller { state, actor }: Caller,
    Id(id): Id,
    request: axum::extract::Request,
) -> ApiResult<Json<WebhookSecret>> {
    // The body is optional: `{"secret": "..."}` chooses the new secret.
    let bytes = body_bytes(request, &state).await?;
    let chosen = if bytes.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        parse_json::<RotateInput>(&bytes)?.secret
    };
    let mut tx = state.db.begin().await?;
    let grace = state.settings.webhooks.secret_rotation_grace;
    let webhook = webhooks::rotate_secret(&mut tx, &actor, id, grace, chosen).await?;
    state.db.commit(tx).await?;
    Ok(Json(webhook.secret_view()))
}

/// `POST /api/webhooks/{id}/secret/rotate`'s optional body.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[schema(example = json!({"secret": "a-secret-shared-with-the-receiver"}))]
struct RotateInput {
    /// The new secret: at least 16 printable characters without spaces; `whsec_` + base64
    /// (Standard Webhooks) or a plain secret. Absent: a random one.
    #[serde(default)]
    #[schema(value_type = Option<String>, min_length = 16, max_length = 256)]
    secret: Option<ChosenSecret>,
}

/// Queues a PING event to the webhook; 201 with the delivery to follow in the log.
async fn send_test(
    Caller { state, actor }: Caller,
    Id(id): Id,
) -> ApiResult<(StatusCode, Json<DeliveryDetailView>)> {
    let delivery_id = state
        .db
        .write(async |tx| log::send_test(tx, &actor, id).await)
        .await?;
    let mut conn = state.db.reader().acquire().await?;
    let delivery = log::detail(&mut conn, &actor, id, delivery_id).await?;
    Ok((StatusCode::CREATED, Json(delivery)))
}

/// `POST /api/webhooks/{id}/recover`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"since": "2026-01-01T00:00:00Z"}))]
struct RecoverBody {
    /// RFC 3339; failed deliveries created at or after it are queued again.
    #[schema(format = DateTime, required = true)]
    since: Option<String>,
    /// RFC 3339; only deliveries created before it (later than `since`).
    #[schema(format = DateTime)]
    until: Option<String>,
    /// Also queue again, due now, the pending deliveries waiting for a retry.
    #[serde(default)]
    include_pending: Option<bool>,
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
    caller: Caller,
    Id(id): Id,
    LsJson(body): LsJson<RecoverBody>,
) -> ApiResult<Json<RecoverResult>> {
    let since = parse_time("since", body.since.as_deref())?.ok_or_else(|| {
        ApiError::field(
            "since",
            "This field is required: the time to recover failed deliveries from.",
        )
    })?;
    let until = parse_time("until", body.until.as_deref())?;
    if until.is_some_and(|until| until <= since) {
        return Err(ApiError::field("until", "Must be later than since."));
    }
    let window = log::RecoverWindow {
        since,
        until,
        include_pending: body.include_pending.unwrap_or(false),
    };
    let recovered = caller
        .write(async |tx, actor| log::recover(tx, actor, id, window).await)
        .await?;
    Ok(Json(RecoverResult { recovered }))
}

/// The health chart's numbers.
async fn hourly(caller: Caller, Id(id): Id) -> ApiResult<Json<Hourly>> {
    let mut conn = caller.reader().await?;
    Ok(Json(log::hourly(&mut conn, &caller.actor, id).await?))
}

/// Every waiting delivery due now, or (breaker open) the next probe now.
async fn retry_now(caller: Caller, Id(id): Id) -> ApiResult<Json<RetryNow>> {
    let done = caller
        .write(async |tx, actor| log::retry_now(tx, actor, id).await)
        .await?;
    Ok(Json(done))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RecoverResult {
    /// How many deliveries were queued again.
    recovered: u64,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct DeliveriesQuery {
    #[serde(flatten)]
    #[param(ignore)]
    page: PageQuery,
    /// Only deliveries in this status.
    status: Option<DeliveryStatus>,
    /// Only deliveries of this action, such as `TASKS_CREATED`.
    action: Option<String>,
    /// Only deliveries created at or after this RFC 3339 time.
    #[param(format = DateTime)]
    since: Option<String>,
    /// Only deliveries created before this RFC 3339 time.
    #[param(format = DateTime)]
    until: Option<String>,
}

/// The delivery log of a webhook, newest first, paged like the project list.
async fn list_deliveries(
    caller: Caller,
    headers: HeaderMap,
    Id(id): Id,
    LsQuery(query): LsQuery<DeliveriesQuery>,
) -> ApiResult<Json<Envelope<DeliveryView>>> {
    let page = query.page.page(50)?;
    let filter = log::Filter {
        status: query.status,
        action: query.action.clone(),
        since: parse_time("since", query.since.as_deref())?,
        until: parse_time("until", query.until.as_deref())?,
    };
    let mut conn = caller.reader().await?;
    let (items, count) = log::list(
        &mut conn,
        &caller.actor,
        id,
        &filter,
        page.offset(),
        page.size,
    )
    .await?;
    let path = format!("/api/webhooks/{id}/deliveries");
    Ok(Json(envelope(&headers, &path, &page, count, items)))
}

async fn read_delivery(
    caller: Caller,
    Ids(id, delivery_id): Ids,
) -> ApiResult<Json<DeliveryDetailView>> {
    let mut conn = caller.reader().await?;
    Ok(Json(
        log::detail(&mut conn, &caller.actor, id, delivery_id).await?,
    ))
}

/// Sends one delivery again with the same `webhook-id` and a fresh retry schedule.
async fn redeliver(
    Caller { state, actor }: Caller,
    Ids(id, delivery_id): Ids,
) -> ApiResult<(StatusCode, Json<DeliveryDetailView>)> {
    state
        .db
        .write(async |tx| log::redeliver(tx, &actor, id, delivery_id).await)
        .await?;
    let mut conn = state.db.reader().acquire().await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(log::detail(&mut conn, &actor, id, delivery_id).await?),
    ))
}

/// `POST /api/webhooks/events/`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"action": "MY_PIPELINE_DONE", "project": 3, "payload": {"model": "v7"}}))]
struct CustomEventInput {
    /// Upper case letters, digits and `_`, not a built-in action.
    action: String,
    /// The project it is about (a number or a string of digits); absent or `null`: the
    /// organization (only organization-level webhooks get it).
    #[serde(default)]
    #[schema(value_type = Option<i64>)]
    project: Option<Pk>,
    /// Sent as `payload` in the body.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    payload: Option<serde_json::Map<String, serde_json::Value>>,
}

/// What `POST /api/webhooks/events/` did.
#[derive(Debug, Serialize, ToSchema)]
struct CustomEventSent {
    action: String,
    #[schema(required = true)]
    project: Option<i64>,
    /// The deliveries written (one per webhook that wants it).
    deliveries: usize,
}

async fn send_custom_event(
    Caller { state, actor }: Caller,
    LsJson(input): LsJson<CustomEventInput>,
) -> ApiResult<(StatusCode, Json<CustomEventSent>)> {
    custom::check_name(&input.action).map_err(|message| ApiError::field("action", message))?;
    let payload = serde_json::Value::Object(input.payload.unwrap_or_default());
    let project = input.project.map(|Pk(id)| id);
    let deliveries = state
        .db
        .write(async |tx| {
            let scope = match project {
                Some(id) => projects::get(tx, &actor, id).await?.scope(),
                None => Scope {
                    organization_id: actor.organization_id,
                    project_id: None,
                    acted_by: None,
                },
            };
            let body = events::body([
                ("project", serde_json::json!(project)),
                ("payload", payload),
            ]);
            events::emit_custom(tx, scope, &input.action, body).await
        })
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(CustomEventSent {
            action: input.action,
            project,
            deliveries,
        }),
    ))
}

/// `POST /api/webhooks/event-types/`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"name": "MY_PIPELINE_DONE", "description": "The training pipeline finished."}))]
struct EventTypeInput {
    /// Upper case letters, digits and `_`, not a built-in action.
    name: String,
    #[serde(default)]
    description: Option<String>,
}

/// A custom event type.
#[derive(Debug, Serialize, ToSchema)]
struct EventTypeView {
    name: String,
    description: String,
    #[schema(format = DateTime)]
    created_at: String,
}

impl From<custom::EventType> for EventTypeView {
    fn from(t: custom::EventType) -> Self {
        EventTypeView {
            name: t.name,
            description: t.description,
            created_at: time::render(t.created_at),
        }
    }
}

async fn list_event_types(caller: Caller) -> ApiResult<Json<Vec<EventTypeView>>> {
    let mut conn = caller.reader().await?;
    let types = custom::list_types(&mut conn, caller.actor.organization_id).await?;
    Ok(Json(types.into_iter().map(EventTypeView::from).collect()))
}

async fn register_event_type(
    caller: Caller,
    LsJson(input): LsJson<EventTypeInput>,
) -> ApiResult<(StatusCode, Json<EventTypeView>)> {
    let description = input.description.unwrap_or_default();
    let registered = caller
        .write(async |tx, actor| {
            custom::register(tx, actor.organization_id, &input.name, &description).await
        })
        .await?;
    Ok((StatusCode::CREATED, Json(registered.into())))
}
