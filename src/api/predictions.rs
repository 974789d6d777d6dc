//! `/api/predictions/` and `/api/predictions/{id}/`.

use axum::Json;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::IntoParams;

use super::error::ApiResult;
use super::extract::{Caller, Id, LsJson, LsQuery, query_id};
use super::route::{Route, delete, get, patch_or_put, post, tagged};
use crate::labeling::predictions::{self, PredictionInput};
use crate::labeling::render::PredictionView;
use crate::shared::{ReadOnly, Role};

pub(super) fn routes() -> Vec<Route> {
    tagged(
        "predictions",
        [
            get("/api/predictions", list)
                .doc("predictions_list", "List predictions")
                .needs(Role::Annotator)
                .query::<ListQuery>()
                .may_be_missing()
                .ok_list::<PredictionView>("The predictions"),
            post("/api/predictions", create)
                .doc("predictions_create", "Create a prediction")
                .needs(Role::Manager)
                .json::<PredictionInput>("The prediction.")
                .may_be_missing()
                .created::<PredictionView>("The new prediction"),
            get("/api/predictions/{id}", read)
                .doc("predictions_read", "Read a prediction")
                .needs(Role::Annotator)
                .ok::<PredictionView>("The prediction"),
            patch_or_put("/api/predictions/{id}", update)
                .doc("predictions_update", "Update a prediction")
                .needs(Role::Manager)
                .about("Only the keys sent change (PUT behaves the same).")
                .json::<PredictionInput>("The fields to change.")
                .ok::<PredictionView>("The updated prediction"),
            delete("/api/predictions/{id}", remove)
                .doc("predictions_delete", "Delete a prediction")
                .needs(Role::Manager)
                .no_content("Deleted"),
        ],
    )
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// Only this task's predictions.
    #[param(value_type = Option<i64>)]
    task: Option<String>,
    /// Only this project's predictions.
    #[param(value_type = Option<i64>)]
    project: Option<String>,
}

async fn list(
    caller: Caller,
    LsQuery(query): LsQuery<ListQuery>,
) -> ApiResult<Json<Vec<PredictionView>>> {
    let task = query_id("task", query.task.as_deref())?;
    let project = query_id("project", query.project.as_deref())?;
    let mut conn = caller.reader().await?;
    let found = predictions::list(&mut conn, &caller.actor, task, project).await?;
    Ok(Json(found.iter().map(|p| p.api()).collect()))
}

async fn create(
    caller: Caller,
    LsJson(input): LsJson<PredictionInput>,
) -> ApiResult<(StatusCode, Json<PredictionView>)> {
    let prediction = caller
        .write(async |tx, actor| predictions::create(tx, actor, input).await)
        .await?;
    Ok((StatusCode::CREATED, Json(prediction.api())))
}

async fn read(caller: Caller, Id(id): Id) -> ApiResult<Json<PredictionView>> {
    let mut conn = caller.reader().await?;
    Ok(Json(
        predictions::get(&mut conn, &caller.actor, id).await?.api(),
    ))
}

async fn update(
    caller: Caller,
    Id(id): Id,
    LsJson(input): LsJson<PredictionInput<ReadOnly>>,
) -> ApiResult<Json<PredictionView>> {
    let prediction = caller
        .write(async |tx, actor| predictions::update(tx, actor, id, input).await)
        .await?;
    Ok(Json(prediction.api()))
}

async fn remove(caller: Caller, Id(id): Id) -> ApiResult<StatusCode> {
    caller
        .write(async |tx, actor| predictions::delete(tx, actor, id).await)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
