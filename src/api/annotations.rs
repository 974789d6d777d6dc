//! `/api/tasks/{id}/annotations/` and `/api/annotations/{id}/`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};

use super::AppState;
use super::error::ApiResult;
use super::extract::{Id, LsJson};
use super::route::{Route, delete, get, patch_or_put, post, tagged};
use crate::labeling::annotations::{self, AnnotationInput};
use crate::labeling::render::AnnotationView;
use crate::labeling::tasks;
use crate::shared::Actor;
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

async fn list(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Id(task_id): Id,
) -> ApiResult<Json<Vec<AnnotationView>>> {
    let mut conn = state.db.reader().acquire().await?;
    tasks::get(&mut conn, &actor, task_id).await?;
    let found = annotations::for_tasks(&mut conn, &[task_id]).await?;
    Ok(Json(
        found
            .iter()
            .filter(|a| annotations::visible_to(&actor, a))
            .map(|a| a.api())
            .collect(),
    ))
}

/// Creates an annotation, or a skip with `was_cancelled: true`.
async fn create(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Id(task_id): Id,
    LsJson(input): LsJson<AnnotationInput>,
) -> ApiResult<(StatusCode, Json<AnnotationView>)> {
    let annotation = state
        .db
        .write(async |tx| annotations::create(tx, &actor, task_id, input).await)
        .await?;
    Ok((StatusCode::CREATED, Json(annotation.into_api())))
}

async fn read(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Id(id): Id,
) -> ApiResult<Json<AnnotationView>> {
    let mut conn = state.db.reader().acquire().await?;
    Ok(Json(
        annotations::get(&mut conn, &actor, id).await?.into_api(),
    ))
}

async fn update(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Id(id): Id,
    LsJson(input): LsJson<AnnotationInput>,
) -> ApiResult<Json<AnnotationView>> {
    let annotation = state
        .db
        .write(async |tx| annotations::update(tx, &actor, id, input).await)
        .await?;
    Ok(Json(annotation.into_api()))
}

async fn remove(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Id(id): Id,
) -> ApiResult<StatusCode> {
    state
        .db
        .write(async |tx| annotations::delete(tx, &actor, &state.labeling, id).await)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
