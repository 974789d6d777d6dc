//! The HTTP API: Label Studio-compatible routes, token authentication, error shapes.
//!
//! Handlers parse and authorize, call `labeling` (or `webhooks`) inside one write
//! transaction, commit through `Db::commit` (which wakes the dispatcher) and shape the
//! response. No handler waits on a webhook receiver.
//!
//! Every route is one row of the route table (`route.rs`): each resource module lists its
//! own, and both the router and the OpenAPI document are built from [`routes`].

mod annotations;
mod data_manager;
pub mod error;
mod events;
mod exports;
pub mod extract;
pub mod metrics;
mod ml;
pub mod openapi;
mod organizations;
mod pagination;
mod predictions;
mod projects;
mod reviews;
mod route;
mod stream;
mod system;
mod tasks;
mod users;
mod webhooks;

pub mod listener;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::MethodRouter;

use crate::config::Settings;
use crate::labeling::LabelingSettings;
use crate::shared::{Actor, Role};
use crate::store::Db;
use error::ApiError;
use extract::BodyLimit;
use route::Route;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub settings: Arc<Settings>,
    pub labeling: LabelingSettings,
    /// Which addresses webhooks may point at (checked at creation and at every attempt).
    pub guard: crate::delivery::ssrf::Guard,
    pub tokens: Arc<crate::auth::TokenCache>,
    /// Clients that sent too many bad tokens (API and `/metrics`).
    pub bad_tokens: Arc<crate::auth::BadTokenThrottle>,
    /// Accounts and clients with too many failed sign-ins (the sign-in page).
    pub sign_ins: Arc<crate::auth::SignInThrottle>,
    /// This process's export builder (snapshots and conversions).
    pub exports: crate::export::snapshots::Exports,
}

/// Every route of the API, in the order the OpenAPI document lists them.
fn routes() -> Vec<Route> {
    [
        openapi::routes(),
        system::routes(),
        users::routes(),
        organizations::routes(),
        metrics::routes(),
        projects::routes(),
        exports::routes(),
        tasks::routes(),
        stream::routes(),
        annotations::routes(),
        reviews::routes(),
        predictions::routes(),
        data_manager::routes(),
        ml::routes(),
        webhooks::routes(),
        events::routes(),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// The whole application: the API's routes (behind token auth unless public), and `pages`
/// (the web pages, which the server mounts from `web`), under the same fallbacks and
/// layers.
pub fn router(state: AppState, pages: Router<AppState>) -> Router {
    let limit = state.settings.max_body_bytes;
    // One method router per path: several rows may share a path (GET and POST).
    let mut by_path: Vec<(&str, bool, MethodRouter<AppState>)> = Vec::new();
    for mut route in routes() {
        let public = route.doc.public;
        if !public {
            // A row that states no role (a unit test refuses those) takes the manager's.
            let needed = route.role().unwrap_or(Role::Manager);
            route.handler = route.handler.route_layer(middleware::from_fn(
                move |request: Request, next: Next| require_role(needed, request, next),
            ));
        }
        match by_path.iter_mut().find(|(path, _, _)| *path == route.path) {
            Some((_, was_public, handler)) => {
                assert_eq!(*was_public, public, "{}: one path, one access", route.path);
                *handler = std::mem::take(handler).merge(route.handler);
            }
            None => by_path.push((route.path, public, route.handler)),
        }
    }
    let (mut open, mut private) = (Router::new(), Router::new());
    for (path, public, handler) in by_path {
        if public {
            open = open.route(path, handler);
        } else {
            private = private.route(path, handler);
        }
    }
    let private = private.route_layer(middleware::from_fn_with_state(state.clone(), authenticate));
    Router::new()
        .merge(open)
        .merge(pages)
        .merge(private)
        .fallback(|| async { ApiError::NotFound("Not found: no such route.".into()) })
        .method_not_allowed_fallback(|| async {
            ApiError::MethodNotAllowed("Method not allowed on this route.".into())
        })
        .layer(middleware::from_fn(metrics::track))
        // Multipart uploads are the only body axum's extractors read (JSON bodies are read
        // by `extract::body_bytes`, within `BodyLimit`): they get the upload limit.
        .layer(DefaultBodyLimit::max(state.settings.max_upload_bytes))
        .layer(axum::Extension(BodyLimit(limit)))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}

/// Who is asking: `Authorization: Token <key>` (or `Bearer <key>`, any case) for scripts,
/// else the browser's session cookie (after an email + password sign-in), else 401; 429
/// for a client that sent too many bad tokens. A cookie-authenticated write must carry the
/// session's CSRF secret (tokens need none: a browser never adds them on its own).
async fn authenticate(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let client = client_address(&request);
    refuse_throttled(&state, client)?;
    let header = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty());
    let actor = match header {
        Some(header) => {
            let Some(token) = crate::auth::key_from_header(header) else {
                return Err(bad_token(
                    &state,
                    client,
                    "Invalid token header. Use `Token <key>`.",
                ));
            };
            let Some(actor) = state.tokens.actor(&state.db, token).await? else {
                return Err(bad_token(&state, client, "Invalid token."));
            };
            actor
        }
        None => {
            let session = match session_key(request.headers()) {
                Some(key) => crate::auth::sessions::find(&state.db, &key).await?,
                None => None,
            };
            let Some(session) = session else {
                return Err(ApiError::Unauthorized(
                    "Authentication credentials were not provided.",
                ));
            };
            if !request.method().is_safe() {
                check_csrf(request.headers(), &session.csrf)?;
            }
            session.actor
        }
    };
    request.extensions_mut().insert::<Actor>(actor);
    Ok(next.run(request).await)
}

/// 403 unless the authenticated user's role is at least `needed`.
async fn require_role(needed: Role, request: Request, next: Next) -> Result<Response, ApiError> {
    let role = request
        .extensions()
        .get::<Actor>()
        .map_or(Role::Deactivated, |actor| actor.role);
    if !role.at_least(needed) {
        return Err(ApiError::Forbidden(crate::auth::people::missing_role(
            role, needed,
        )));
    }
    Ok(next.run(request).await)
}

/// The value of the cookie `name`, if the request has it.
pub fn cookie(headers: &axum::http::HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(cookie::Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == name)
        .map(|c| c.value().to_string())
}

/// The session key of the request's session cookie.
pub fn session_key(headers: &axum::http::HeaderMap) -> Option<String> {
    cookie(headers, crate::auth::sessions::SESSION_COOKIE).filter(|key| !key.is_empty())
}

/// A cookie-authenticated write: it must come from this origin (`Origin`, when the browser
/// sends it, names this host) and echo the session's CSRF secret in `X-CSRFToken`.
fn check_csrf(headers: &axum::http::HeaderMap, secret: &str) -> Result<(), ApiError> {
    if !same_origin(headers) {
        return Err(ApiError::Forbidden(
            "CSRF Failed: Origin checking failed: the request comes from another site.".into(),
        ));
    }
    let sent = headers
        .get(crate::auth::sessions::CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if sent.is_empty() {
        return Err(ApiError::Forbidden(
            "CSRF Failed: CSRF token missing.".into(),
        ));
    }
    if !crate::auth::same_secret(sent, secret) {
        return Err(ApiError::Forbidden(
            "CSRF Failed: CSRF token incorrect.".into(),
        ));
    }
    Ok(())
}

/// Whether the request's `Origin` (if any) is this server as the request addressed it
/// (`Host`). Browsers send `Origin` on every cross-site write, so its absence means a
/// same-origin request or a client that is not a browser.
pub fn same_origin(headers: &axum::http::HeaderMap) -> bool {
    let Some(origin) = headers.get(axum::http::header::ORIGIN) else {
        return true;
    };
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let origin = origin.to_str().unwrap_or_default();
    let authority = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"));
    authority.is_some_and(|authority| !host.is_empty() && authority.eq_ignore_ascii_case(host))
}

/// The client's address, as the listener accepted it (none when the router is served
/// some other way, e.g. in unit tests: then nothing is throttled).
pub fn client_address(request: &Request) -> Option<std::net::IpAddr> {
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(address)| address.ip())
}

/// 429 while `client` is locked out for bad tokens.
fn refuse_throttled(state: &AppState, client: Option<std::net::IpAddr>) -> Result<(), ApiError> {
    match client.and_then(|client| state.bad_tokens.locked_out(client)) {
        Some(wait) => Err(ApiError::Throttled(wait)),
        None => Ok(()),
    }
}

/// A bad token: 401, or 429 if it was one too many from this client.
fn bad_token(state: &AppState, client: Option<std::net::IpAddr>, why: &'static str) -> ApiError {
    match client.and_then(|client| state.bad_tokens.failed(client)) {
        Some(wait) => {
            tracing::warn!(client = ?client, "too many bad tokens: throttled");
            ApiError::Throttled(wait)
        }
        None => ApiError::Unauthorized(why),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_is_public_or_states_its_role() {
        let unstated: Vec<String> = routes()
            .iter()
            .filter(|route| !route.doc.public && route.role().is_none())
            .map(|route| format!("{} {}", route.doc.operation_id(), route.path))
            .collect();
        assert!(
            unstated.is_empty(),
            "rows without .needs(Role::...): {unstated:#?}"
        );
    }
}
