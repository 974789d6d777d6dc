//! `/api/tasks/{id}/annotations/` and `/api/annotations/{id}/`.

use axum::Json;
use axum::http::StatusCode;

use super::error::ApiResult;
use super::extract::{Caller, Id, LsJson};
use super::route::{Route, delete, get, patch_or_put, post, tagged};
use crate::labeling::annotations::{self, AnnotationInput};
use crate::labeling::render::AnnotationView;
use crate::labeling::tasks;
use crate::shared::Role;

pub(super) fn routes() -> Vec<Route> {
    tagged(
        "annotations",
        [
            get("/api/tasks/{id}/annotations", list)
                .doc("annotations_list", "List a task's annotations")
                .needs(Role::Annotator)
                .ok_list::<AnnotationView>("The annotations"),
            post("/api/tasks/{id}/annotations", create)
                .doc("annotations_create", "Create an annotation")
                .needs(Role::Annotator)
                .about("Or a skip, with `was_cancelled: true`. Emits ANNOTATION_CREATED.")
                .json::<AnnotationInput>("The annotation.")
                .created::<AnnotationView>("The new annotation"),
            get("/api/annotations/{id}", read)
                .doc("annotations_read", "Read an annotation")
                .needs(Role::Annotator)
                .ok::<AnnotationView>("The annotation"),
            patch_or_put("/api/annotations/{id}", update)
                .doc("annotations_update", "Update an annotation")
                .needs(Role::Annotator)
                .about(
                    "Only the keys sent change (PUT behaves the same). Emits ANNOTATION_UPDATED.",
                )
                .json::<AnnotationInput>("The fields to change.")
                .ok::<AnnotationView>("The updated annotation"),
            delete("/api/annotations/{id}", remove)
                .doc("annotations_delete", "Delete an annotation")
                .needs(Role::Annotator)
                .about("Emits ANNOTATIONS_DELETED.")
                .no_content("Deleted"),
        ],
    )
}

async fn list(caller: Caller, Id(task_id): Id) -> ApiResult<Json<Vec<AnnotationView>>> {
    let mut conn = caller.reader().await?;
    tasks::get(&mut conn, &caller.actor, task_id).await?;
    let found = annotations::for_tasks(&mut conn, &[task_id]).await?;
    Ok(Json(
        found
            .iter()
            .filter(|a| annotations::visible_to(&caller.actor, a))
            .map(|a| a.api())
            .collect(),
    ))
}

/// Creates an annotation, or a skip with `was_cancelled: true`.
async fn create(
    caller: Caller,
    Id(task_id): Id,
    LsJson(input): LsJson<AnnotationInput>,
) -> ApiResult<(StatusCode, Json<AnnotationView>)> {
    let annotation = caller
        .write(async |tx, actor| annotations::create(tx, actor, task_id, input).await)
        .await?;
    Ok((StatusCode::CREATED, Json(annotation.into_api())))
}

async fn read(caller: Caller, Id(id): Id) -> ApiResult<Json<AnnotationView>> {
    let mut conn = caller.reader().await?;
    Ok(Json(
        annotations::get(&mut conn, &caller.actor, id)
            .await?
            .into_api(),
    ))
}

async fn update(
    caller: Caller,
    Id(id): Id,
    LsJson(input): LsJson<AnnotationInput>,
) -> ApiResult<Json<AnnotationView>> {
    let annotation = caller
        .write(async |tx, actor| annotations::update(tx, actor, id, input).await)
        .await?;
    Ok(Json(annotation.into_api()))
}

async fn remove(Caller { state, actor }: Caller, Id(id): Id) -> ApiResult<StatusCode> {
    state
        .db
        .write(async |tx| annotations::delete(tx, &actor, &state.labeling, id).await)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
