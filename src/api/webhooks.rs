//! `/api/webhooks/...`: configuration (Label Studio compatible) and the action catalogue.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Extension, Json, Router};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::AppState;
use super::error::{ApiError, ApiResult};
use super::extract::{Id, LsJson, LsQuery, as_object};
use crate::events::CATALOGUE;
use crate::labeling::Actor;
use crate::webhooks::{self, ProjectFilter, Rules, WebhookError};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/webhooks", get(list).post(create))
        .route(
            "/api/webhooks/{id}",
            get(read).patch(update).put(update).delete(remove),
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
    let only = match query.organization_only.as_deref().map(str::to_ascii_lowercase).as_deref() {
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
    let filter = match query.project.as_deref().map(str::trim) {
        None | Some("") => ProjectFilter::All,
        Some("null" | "None") => ProjectFilter::OrganizationLevel,
        Some(text) => ProjectFilter::Project(
            text.parse()
                .map_err(|_| ApiError::field("project", "A valid integer or `null` is required."))?,
        ),
    };
    let mut conn = state.db.reader().acquire().await?;
    let found = webhooks::list(&mut conn, &actor, filter).await?;
    Ok(Json(found.iter().map(|w| w.api()).collect()))
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
    Ok(Json(webhooks::get(&mut conn, &actor, id).await?.api()))
}

async fn update(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Id(id): Id,
    LsJson(input): LsJson<Value>,
) -> ApiResult<Json<Value>> {
    let input = as_object(input)?;
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
