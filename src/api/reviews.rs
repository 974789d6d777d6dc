//! `/api/annotation-reviews/` (Label Studio Enterprise's review API, as the SDK calls it):
//! reviewers accept or reject annotations and may fix their result (`labeling::reviews`).

use axum::Json;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use super::error::{ApiError, ApiResult};
use super::extract::{Caller, Id, LsJson, LsQuery};
use super::route::{Route, delete, get, patch_or_put, post, tagged};
use crate::labeling::render::TaskDetailView;
use crate::labeling::reviews::{self, Filter, NewReview, Review, ReviewChange};
use crate::labeling::tasks;
use crate::shared::{Patch, Pk, Role};
use crate::store::time;

pub(super) fn routes() -> Vec<Route> {
    tagged(
        "reviews",
        [
            get("/api/annotation-reviews", list)
                .doc("reviews_list", "List reviews")
                .needs(Role::Reviewer)
                .about("Filters: `annotation`, `task`, `project` (also `annotation__task__project`). Oldest first.")
                .query::<ListQuery>()
                .ok_list::<ReviewView>("The reviews"),
            post("/api/annotation-reviews", create)
                .doc("reviews_create", "Review an annotation")
                .needs(Role::Reviewer)
                .about("`{annotation, accepted, result?, comment?}`. A `result` fixes the annotation (the result it replaces stays on the review). Not your own annotation. Emits REVIEW_CREATED.")
                .json::<ReviewInput>("The review.")
                .may_be_missing()
                .created::<ReviewView>("The review"),
            get("/api/annotation-reviews/{id}", read)
                .doc("reviews_read", "Read a review")
                .needs(Role::Reviewer)
                .ok::<ReviewView>("The review"),
            patch_or_put("/api/annotation-reviews/{id}", update)
                .doc("reviews_update", "Change a review")
                .needs(Role::Reviewer)
                .about("Its reviewer, or a manager. Emits REVIEW_UPDATED.")
                .json::<ReviewUpdateInput>("The fields to change.")
                .ok::<ReviewView>("The review"),
            get("/api/projects/{id}/next-review", next_review)
                .doc("projects_next_review", "The next annotation to review")
                .needs(Role::Reviewer)
                .about("labelhook's review stream (the review page): the oldest submitted annotation of the project that waits for review (never reviewed, or changed by its annotator since), not the requesting user's own. The answer is its task as `GET /api/tasks/{id}/` shows it, with only that annotation in `annotations`, and `annotation` its id. 404 when nothing waits.")
                .ok::<NextReviewView>("The annotation's task"),
            delete("/api/annotation-reviews/{id}", remove)
                .doc("reviews_delete", "Delete a review")
                .needs(Role::Reviewer)
                .about("Its reviewer, or a manager. Emits REVIEWS_DELETED.")
                .no_content("Deleted"),
        ],
    )
}

/// A review, with the SDK's `AnnotationReview` fields labelhook fills.
#[derive(Serialize, ToSchema)]
pub struct ReviewView {
    id: i64,
    annotation: i64,
    created_by: i64,
    created_at: String,
    updated_at: String,
    accepted: bool,
    /// `accepted` or `rejected`.
    state: &'static str,
    /// The reviewer's fixed result, if they fixed it.
    #[schema(value_type = Option<Object>)]
    result: Option<Value>,
    comment: Option<String>,
    /// labelhook: the annotation's result before the fix (the history).
    #[schema(value_type = Option<Object>)]
    previous_annotation_result: Option<Value>,
    /// labelhook: who last changed it (a user id; `null` when unknown).
    #[schema(required = true)]
    updated_by: Option<i64>,
}

impl From<Review> for ReviewView {
    fn from(review: Review) -> ReviewView {
        ReviewView {
            id: review.id,
            annotation: review.annotation_id,
            created_by: review.created_by,
            created_at: time::render(review.created_at),
            updated_at: time::render(review.updated_at),
            accepted: review.accepted,
            state: review.state(),
            result: review.result,
            comment: review.comment,
            previous_annotation_result: review.previous_result,
            updated_by: review.updated_by,
        }
    }
}

/// The next annotation to review: its task, with only that annotation.
#[derive(Serialize, ToSchema)]
#[schema(as = NextReview)]
pub struct NextReviewView {
    #[serde(flatten)]
    task: TaskDetailView,
    /// The id of the annotation waiting for review.
    annotation: i64,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    annotation: Option<i64>,
    task: Option<i64>,
    project: Option<i64>,
    #[serde(rename = "annotation__task__project")]
    annotation_task_project: Option<i64>,
}

/// `POST /api/annotation-reviews/`.
#[derive(Deserialize, ToSchema)]
pub struct ReviewInput {
    #[schema(value_type = i64)]
    annotation: Pk,
    accepted: bool,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    result: Option<Value>,
    #[serde(default)]
    comment: Option<String>,
}

/// `PATCH /api/annotation-reviews/{id}/`: only the keys sent change.
#[derive(Deserialize, ToSchema)]
pub struct ReviewUpdateInput {
    #[serde(default)]
    accepted: Option<bool>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    result: Option<Value>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    comment: Patch<String>,
}

async fn list(
    caller: Caller,
    LsQuery(query): LsQuery<ListQuery>,
) -> ApiResult<Json<Vec<ReviewView>>> {
    let filter = Filter {
        annotation: query.annotation,
        task: query.task,
        project: query.project.or(query.annotation_task_project),
    };
    let mut conn = caller.reader().await?;
    let found = reviews::list(&mut conn, &caller.actor, &filter).await?;
    Ok(Json(found.into_iter().map(ReviewView::from).collect()))
}

async fn create(
    caller: Caller,
    LsJson(input): LsJson<ReviewInput>,
) -> ApiResult<(StatusCode, Json<ReviewView>)> {
    let new = NewReview {
        accepted: input.accepted,
        result: input.result.filter(|r| !r.is_null()),
        comment: input.comment,
    };
    let review = caller
        .write(async |tx, actor| reviews::create(tx, actor, input.annotation.0, new).await)
        .await?;
    Ok((StatusCode::CREATED, Json(review.into())))
}

async fn next_review(
    Caller { state, actor }: Caller,
    Id(project_id): Id,
) -> ApiResult<Json<NextReviewView>> {
    let mut conn = state.db.reader().acquire().await?;
    let Some(annotation) = reviews::next_waiting(&mut conn, &actor, project_id).await? else {
        return Err(ApiError::NotFound(format!(
            "There are no annotations to review for {}",
            actor.email
        )));
    };
    let task = tasks::get(&mut conn, &actor, annotation.task_id).await?;
    let id = annotation.id;
    Ok(Json(NextReviewView {
        task: task.api_detail(&[annotation], &[]),
        annotation: id,
    }))
}

async fn read(caller: Caller, Id(id): Id) -> ApiResult<Json<ReviewView>> {
    let mut conn = caller.reader().await?;
    Ok(Json(
        reviews::get(&mut conn, &caller.actor, id).await?.into(),
    ))
}

async fn update(
    caller: Caller,
    Id(id): Id,
    LsJson(input): LsJson<ReviewUpdateInput>,
) -> ApiResult<Json<ReviewView>> {
    let change = ReviewChange {
        accepted: input.accepted,
        result: input.result.filter(|r| !r.is_null()),
        comment: match input.comment {
            Patch::Absent => None,
            Patch::Null => Some(None),
            Patch::Value(comment) => Some(Some(comment)),
        },
    };
    let review = caller
        .write(async |tx, actor| reviews::update(tx, actor, id, change).await)
        .await?;
    Ok(Json(review.into()))
}

async fn remove(caller: Caller, Id(id): Id) -> ApiResult<StatusCode> {
    caller
        .write(async |tx, actor| reviews::delete(tx, actor, id).await)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
