//! `/metrics` in Prometheus format, and the HTTP latency middleware that feeds it.
//!
//! Counters and histograms are recorded where things happen (deliveries in
//! `delivery::mod`, requests here); gauges that describe the outbox (pending, held, oldest
//! pending age, failure streaks) are read from the database at scrape time, so every
//! process reports the shared truth.

use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use utoipa::openapi::{ObjectBuilder, Type};

use super::AppState;
use super::error::{ApiError, ApiResult};
use super::route::{Route, get, tagged};
use crate::store;
use crate::store::time;

pub(super) fn routes() -> Vec<Route> {
    let text = ObjectBuilder::new().schema_type(Type::String);
    tagged(
        "system",
        [get("/metrics", render)
            .doc("metrics", "Prometheus metrics")
            .about("Request latencies, delivery counters and the outbox gauges, in Prometheus text format. With `LABELHOOK_METRICS_TOKEN` set, it wants `Authorization: Bearer <that token>` (401 without it, 429 after too many bad ones).")
            .public()
            .ok_content("The metrics", "text/plain", text)],
    )
}

/// The process-wide recorder (installed once, on first use).
pub fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let buckets = [
            0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
        ];
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &buckets)
            .unwrap_or_else(|_| PrometheusBuilder::new());
        match builder.install_recorder() {
            Ok(handle) => handle,
            // Another recorder is installed (tests): render an empty registry.
            Err(_) => PrometheusBuilder::new().build_recorder().handle(),
        }
    })
}

/// With `LABELHOOK_METRICS_TOKEN` set, `/metrics` wants `Authorization: Bearer <it>` (or
/// `Token <it>`): the page lists every organization's webhook ids. Bad ones count
/// towards the client's bad-token throttle like the API's.
fn check_token(state: &AppState, request: &Request) -> Result<(), ApiError> {
    let Some(expected) = state.settings.metrics_token.as_deref() else {
        return Ok(());
    };
    let client = super::client_address(request);
    super::refuse_throttled(state, client)?;
    let given = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(crate::auth::key_from_header);
    match given {
        Some(key) if crate::auth::same_secret(key, expected) => Ok(()),
        Some(_) => Err(super::bad_token(state, client, "Invalid token.")),
        None => Err(ApiError::Unauthorized(
            "Authentication credentials were not provided.",
        )),
    }
}

/// Records `labelhook_http_request_duration_seconds{method, route, status}`; notes a
/// successful change for `/health` (see `store::health`).
pub async fn track(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let changes = !request.method().is_safe();
    let method = request.method().to_string();
    let started = Instant::now();
    let response = next.run(request).await;
    if changes && response.status().is_success() {
        // It was committed: the database takes writes (again).
        store::health::note_write();
    }
    let status = response.status().as_u16().to_string();
    metrics::histogram!(
        "labelhook_http_request_duration_seconds",
        "method" => method,
        "route" => route,
        "status" => status
    )
    .record(started.elapsed().as_secs_f64());
    response
}

async fn render(State(state): State<AppState>, request: Request) -> ApiResult<impl IntoResponse> {
    check_token(&state, &request)?;
    let handle = handle();
    let reader = state.db.reader();
    // One subquery per status, so that each reads its own partial index.
    let row = store::query(
        "SELECT (SELECT COUNT(*) FROM deliveries WHERE status = 'pending') AS pending, \
         (SELECT MIN(created_at) FROM deliveries WHERE status = 'pending') AS oldest, \
         (SELECT COUNT(*) FROM deliveries WHERE status = 'held') AS held",
    )
    .fetch_one(reader)
    .await?;
    let pending: i64 = row.try_get("pending")?;
    let held: i64 = row.try_get("held")?;
    let oldest_pending: Option<i64> = row.try_get("oldest")?;
    metrics::gauge!("labelhook_deliveries_pending").set(pending as f64);
    metrics::gauge!("labelhook_deliveries_held").set(held as f64);
    let age = oldest_pending.map_or(0.0, |t| (time::now() - t).max(0) as f64 / 1e6);
    metrics::gauge!("labelhook_oldest_pending_delivery_age_seconds").set(age);
    let writable = store::health::problem().is_none();
    metrics::gauge!("labelhook_database_writable").set(if writable { 1.0 } else { 0.0 });
    let streaks =
        store::query("SELECT id, consecutive_failures, is_active, breaker_opened_at FROM webhooks")
            .fetch_all(reader)
            .await?;
    for row in streaks {
        let id: i64 = row.try_get("id")?;
        let failures: i64 = row.try_get("consecutive_failures")?;
        let active: i64 = row.try_get("is_active")?;
        let open = row
            .try_get::<Option<i64>, _>("breaker_opened_at")?
            .is_some();
        metrics::gauge!("labelhook_webhook_consecutive_failures", "webhook" => id.to_string())
            .set(failures as f64);
        metrics::gauge!("labelhook_webhook_active", "webhook" => id.to_string()).set(active as f64);
        // 1 while the breaker is open (deliveries held, probing), 0 while closed.
        metrics::gauge!("labelhook_webhook_breaker_open", "webhook" => id.to_string())
            .set(if open { 1.0 } else { 0.0 });
    }
    Ok((
        [(CONTENT_TYPE, "text/plain; version=0.0.4")],
        handle.render(),
    ))
}
