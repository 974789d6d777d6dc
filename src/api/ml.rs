//! `/api/ml/...`: ML backends and `train`.

use axum::Json;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::error::ApiResult;
use super::extract::{Caller, Id, LsJson, LsQuery, query_id};
use super::route::{Route, delete, get, patch_or_put, post, tagged};
use crate::labeling::ml_backends::{self, MlBackendInput, MlBackendView};
use crate::shared::ReadOnly;
use crate::shared::Role;

pub(super) fn routes() -> Vec<Route> {
    tagged(
        "ml",
        [
            get("/api/ml", list)
                .doc("ml_list", "List ML backends")
                .needs(Role::Manager)
                .query::<ListQuery>()
                .may_be_missing()
                .ok_list::<MlBackendView>("The ML backends"),
            post("/api/ml", create)
                .doc("ml_create", "Attach an ML backend")
                .needs(Role::Manager)
                .about("Also creates the project webhook `<url>/webhook` that Label Studio ML backends receive events at.")
                .json::<MlBackendInput>("The backend.")
                .may_be_missing()
                .created::<MlBackendView>("The new ML backend"),
            get("/api/ml/{id}", read)
                .doc("ml_read", "Read an ML backend")
                .needs(Role::Manager)
                .ok::<MlBackendView>("The ML backend"),
            patch_or_put("/api/ml/{id}", update)
                .doc("ml_update", "Update an ML backend")
                .needs(Role::Manager)
                .about("Only the keys sent change (PUT behaves the same).")
                .json::<MlBackendInput>("The fields to change.")
                .ok::<MlBackendView>("The updated ML backend"),
            delete("/api/ml/{id}", remove)
                .doc("ml_delete", "Detach an ML backend")
                .needs(Role::Manager)
                .no_content("Deleted"),
            post("/api/ml/{id}/train", train)
                .doc("ml_train", "Start training")
                .needs(Role::Manager)
                .about("Queues START_TRAINING to the backend's `/webhook` and answers before it is sent (labelhook addition: delivered and logged like any webhook).")
                .ok::<Empty>("Queued"),
        ],
    )
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// Only this project's backends.
    #[param(value_type = Option<i64>)]
    project: Option<String>,
}

/// `POST /api/ml/{id}/train` answers `{}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Empty {}

async fn list(
    caller: Caller,
    LsQuery(query): LsQuery<ListQuery>,
) -> ApiResult<Json<Vec<MlBackendView>>> {
    let project = query_id("project", query.project.as_deref())?;
    let mut conn = caller.reader().await?;
    let found = ml_backends::list(&mut conn, &caller.actor, project).await?;
    Ok(Json(found.iter().map(|m| m.api()).collect()))
}

async fn create(
    Caller { state, actor }: Caller,
    LsJson(input): LsJson<MlBackendInput>,
) -> ApiResult<(StatusCode, Json<MlBackendView>)> {
    super::webhooks::check_destination(&state, input.url.value().map(String::as_str)).await?;
    let backend = state
        .db
        .write(async |tx| ml_backends::create(tx, &actor, input).await)
        .await?;
    Ok((StatusCode::CREATED, Json(backend.api())))
}

async fn read(caller: Caller, Id(id): Id) -> ApiResult<Json<MlBackendView>> {
    let mut conn = caller.reader().await?;
    Ok(Json(
        ml_backends::get(&mut conn, &caller.actor, id).await?.api(),
    ))
}

async fn update(
    Caller { state, actor }: Caller,
    Id(id): Id,
    LsJson(input): LsJson<MlBackendInput<ReadOnly>>,
) -> ApiResult<Json<MlBackendView>> {
    super::webhooks::check_destination(&state, input.url.value().map(String::as_str)).await?;
    let backend = state
        .db
        .write(async |tx| ml_backends::update(tx, &actor, id, input).await)
        .await?;
    Ok(Json(backend.api()))
}

async fn remove(caller: Caller, Id(id): Id) -> ApiResult<StatusCode> {
    caller
        .write(async |tx, actor| ml_backends::delete(tx, actor, id).await)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Queues START_TRAINING to the backend's `/webhook`; answers before it is sent.
async fn train(caller: Caller, Id(id): Id) -> ApiResult<Json<Empty>> {
    caller
        .write(async |tx, actor| ml_backends::train(tx, actor, id).await)
        .await?;
    Ok(Json(Empty {}))
}
