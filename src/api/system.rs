//! Unauthenticated routes: `/health` and `/api/version`.

use axum::Json;
use axum::extract::State;
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
                .about("`{\"status\": \"UP\"}` once the database answers.")
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
    #[schema(example = "UP")]
    status: &'static str,
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

/// `{"status": "UP"}` once the database answers.
async fn health(State(state): State<AppState>) -> ApiResult<Json<Health>> {
    store::query_scalar::<i64>("SELECT 1")
        .fetch_one(state.db.reader())
        .await?;
    Ok(Json(Health { status: "UP" }))
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
