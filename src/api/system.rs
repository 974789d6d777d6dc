//! Unauthenticated routes: `/health` and `/api/version`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;

use super::AppState;
use super::error::ApiResult;
use super::route::{Route, get, tagged};
use crate::store;

pub(super) fn routes() -> Vec<Route> {
    tagged(
        "system",
        [
            get("/health", health)
                .doc("health", "Health")
                .about("`{\"status\": \"UP\"}` once the database answers. 503 with `{\"status\": \"DOWN\", \"reason\": \"...\", \"since\": \"...\"}` while the database does not take writes (full, read-only or failing), from the write that found so until a change succeeds again.")
                .public()
                .ok::<Health>("Up"),
            get("/api/version", version)
                .doc("version", "Version")
                .public()
                .ok::<Version>("The versions"),
        ],
    )
}

/// `GET /health`.
#[derive(Serialize, ToSchema)]
pub struct Health {
    /// `UP`, or `DOWN` while the database does not take writes.
    #[schema(example = "UP")]
    status: &'static str,
    /// With `DOWN`: why.
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'static str>,
    /// With `DOWN`: since when.
    #[serde(skip_serializing_if = "Option::is_none")]
    since: Option<String>,
}

/// `GET /api/version`: the Label Studio release this server is compatible with, and its own.
#[derive(Serialize, ToSchema)]
pub struct Version {
    release: &'static str,
    #[serde(rename = "label-studio-os-package")]
    label_studio_os_package: VersionNumber,
    labelhook: VersionNumber,
}

#[derive(Serialize, ToSchema)]
pub struct VersionNumber {
    version: &'static str,
}

/// `{"status": "UP"}` once the database answers; 503 `{"status": "DOWN", "reason", "since"}`
/// while it does not take writes (see `store::health`).
async fn health(State(state): State<AppState>) -> ApiResult<(StatusCode, Json<Health>)> {
    store::query_scalar::<i64>("SELECT 1")
        .fetch_one(state.db.reader())
        .await?;
    Ok(match store::health::problem() {
        Some(problem) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(Health {
                status: "DOWN",
                reason: Some(problem.failure.describe()),
                since: Some(store::time::render(problem.since)),
            }),
        ),
        None => (
            StatusCode::OK,
            Json(Health {
                status: "UP",
                reason: None,
                since: None,
            }),
        ),
    })
}

async fn version() -> Json<Version> {
    Json(Version {
        release: crate::VERSION,
        label_studio_os_package: VersionNumber {
            version: crate::LABEL_STUDIO_VERSION,
        },
        labelhook: VersionNumber {
            version: crate::VERSION,
        },
    })
}
