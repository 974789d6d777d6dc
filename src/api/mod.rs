//! The HTTP API: Label Studio-compatible routes, token authentication, error shapes.
//!
//! Handlers parse and authorize, call `labeling` (or `webhooks`) inside one write
//! transaction, commit through `Db::commit` (which wakes the dispatcher) and shape the
//! response. No handler waits on a webhook receiver.

mod annotations;
mod data_manager;
pub mod error;
pub mod extract;
pub mod metrics;
mod ml;
pub mod openapi;
mod pagination;
mod predictions;
mod projects;
mod system;
mod tasks;
mod users;
mod webhooks;

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::{self, Next};
use axum::response::Response;

use crate::config::Settings;
use crate::labeling::LabelingSettings;
use crate::shared::Actor;
use crate::store::Db;
use error::ApiError;
use extract::BodyLimit;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub settings: Arc<Settings>,
    pub labeling: LabelingSettings,
    /// Which addresses webhooks may point at (checked at creation and at every attempt).
    pub guard: crate::delivery::ssrf::Guard,
    pub tokens: Arc<crate::auth::TokenCache>,
}

/// The whole application: `/api/...` behind token auth, the public routes, and `pages`
/// (the web pages, which the server mounts from `web`), under the same fallbacks and
/// layers.
pub fn router(state: AppState, pages: Router<AppState>) -> Router {
    let limit = state.settings.max_body_bytes;
    let private = Router::new()
        .merge(projects::routes())
        .merge(tasks::routes())
        .merge(annotations::routes())
        .merge(predictions::routes())
        .merge(data_manager::routes())
        .merge(users::routes())
        .merge(ml::routes())
        .merge(webhooks::routes())
        .route_layer(middleware::from_fn_with_state(state.clone(), authenticate));
    Router::new()
        .merge(system::routes())
        .merge(openapi::routes())
        .merge(pages)
        .route("/metrics", axum::routing::get(metrics::render))
        .merge(webhooks::public_routes())
        .merge(private)
        .fallback(|| async { ApiError::NotFound("Not found: no such route.".into()) })
        .method_not_allowed_fallback(|| async {
            ApiError::MethodNotAllowed("Method not allowed on this route.".into())
        })
        .layer(middleware::from_fn(metrics::track))
        .layer(DefaultBodyLimit::max(limit))
        .layer(axum::Extension(BodyLimit(limit)))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}

/// `Authorization: Token <key>` (or `Bearer <key>`) → the acting user, or 401.
async fn authenticate(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let header = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .ok_or(ApiError::Unauthorized(
            "Authentication credentials were not provided.",
        ))?;
    let token = header
        .strip_prefix("Token ")
        .or_else(|| header.strip_prefix("Bearer "))
        .map(str::trim)
        .ok_or(ApiError::Unauthorized(
            "Invalid token header. Use `Token <key>`.",
        ))?;
    let actor: Actor = state
        .tokens
        .actor(&state.db, token)
        .await?
        .ok_or(ApiError::Unauthorized("Invalid token."))?;
    request.extensions_mut().insert(actor);
    Ok(next.run(request).await)
}
