//! Reviews of annotations (Label Studio Enterprise's `/api/annotation-reviews/`): a
//! reviewer accepts or rejects an annotation, optionally fixing its result. The fix
//! replaces the annotation's result and the result it replaced is kept on the review
//! (the history). Each change emits REVIEW_CREATED, REVIEW_UPDATED or REVIEWS_DELETED in
//! its transaction, with the review, its annotation, the task and the project.
//!
//! The latest review of an annotation is its review state (`annotations.review_state`):
//! a rejected annotation stops counting towards its task being finished, so the task is
//! back in its annotator's label stream until they change it (which makes it wait for
//! review again); with the project's `review_required` only accepted annotations count.
//!
//! Rules: reviewers and above review; nobody reviews their own annotation; a review is
//! changed or deleted by its reviewer or a manager and above.

use serde_json::{Map, Value};

use super::{annotations, projects, stats, tasks};
use crate::events::{self, Action};
use crate::shared::{Actor, Error, Result, Role};
use crate::store::{self, Conn, flag, time};

/// A stored review.
#[derive(Debug, Clone)]
pub struct Review {
    pub id: i64,
    pub annotation_id: i64,
    pub task_id: i64,
    pub project_id: i64,
    pub created_by: i64,
    /// Who last changed it (`None` only for reviews older than the audit, none of which
    /// the migration left unset).
    pub updated_by: Option<i64>,
    pub accepted: bool,
    pub result: Option<Value>,
    pub previous_result: Option<Value>,
    pub comment: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

const SELECT: &str = "SELECT r.id, r.annotation_id, r.task_id, r.project_id, r.created_by, \
    r.updated_by, r.accepted, r.result, r.previous_result, r.comment, r.created_at, r.updated_at \
    FROM annotation_reviews r JOIN projects p ON p.id = r.project_id";

fn from_row(row: &store::Row) -> store::Result<Review> {
    let text = |name: &str| -> store::Result<Option<Value>> {
        Ok(row
            .try_get::<Option<String>, _>(name)?
            .map(|t| super::stored_json(&t)))
    };
    Ok(Review {
        id: row.try_get("id")?,
        annotation_id: row.try_get("annotation_id")?,
        task_id: row.try_get("task_id")?,
        project_id: row.try_get("project_id")?,
        created_by: row.try_get("created_by")?,
        updated_by: row.try_get("updated_by")?,
        accepted: row.try_get::<i64, _>("accepted")? != 0,
        result: text("result")?,
        previous_result: text("previous_result")?,
        comment: row.try_get("comment")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

impl Review {
    /// `accepted` or `rejected`.
    pub fn state(&self) -> &'static str {
        if self.accepted {
            "accepted"
        } else {
            "rejected"
        }
    }

    /// The review as an event carries it.
    pub fn snapshot(&self) -> Value {
        serde_json::json!({
            "id": self.id,
            "annotation": self.annotation_id,
            "created_by": self.created_by,
            "accepted": self.accepted,
            "state": self.state(),
            "result": self.result,
            "comment": self.comment,
            "created_at": time::render(self.created_at),
            "updated_at": time::render(self.updated_at),
        })
    }
}

/// Filters of the review list (all optional, all combined).
#[derive(Default)]
pub struct Filter {
    pub annotation: Option<i64>,
    pub task: Option<i64>,
    pub project: Option<i64>,
}

/// The reviews of the actor's organization that match `filter`, oldest first.
pub async fn list(conn: &mut Conn, actor: &Actor, filter: &Filter) -> Result<Vec<Review>> {
    let sql = format!(
        "{SELECT} WHERE p.organization_id = $1 \
         AND ($2 = 0 OR r.annotation_id = $2) AND ($3 = 0 OR r.task_id = $3) \
         AND ($4 = 0 OR r.project_id = $4) ORDER BY r.id"
    );
    let rows = store::query(&sql)
        .bind(actor.organization_id)
        .bind(filter.annotation.unwrap_or(0))
        .bind(filter.task.unwrap_or(0))
        .bind(filter.project.unwrap_or(0))
        .fetch_all(&mut *conn)
        .await?;
    Ok(rows.iter().map(from_row).collect::<store::Result<_>>()?)
}

/// One review of the actor's organization (404 otherwise).
pub async fn get(conn: &mut Conn, actor: &Actor, id: i64) -> Result<Review> {
    let sql = format!("{SELECT} WHERE r.id = $1 AND p.organization_id = $2");
    store::query(&sql)
        .bind(id)
        .bind(actor.organization_id)
        .fetch_found(&mut *conn, "Review", from_row)
        .await
}

/// The latest review of an annotation (the one its review state follows), unchecked: the
/// caller has read the annotation as the actor.
pub async fn latest(conn: &mut Conn, annotation_id: i64) -> Result<Option<Review>> {
    let row = store::query(&format!(
        "{SELECT} WHERE r.annotation_id = $1 ORDER BY r.id DESC LIMIT 1"
    ))
    .bind(annotation_id)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.as_ref().map(from_row).transpose()?)
}

/// The next annotation of the project waiting for the actor's review: submitted (not a
/// skip), not their own, and never reviewed or changed by its annotator since its last
/// review; oldest first. `None` when nothing waits.
pub async fn next_waiting(
    conn: &mut Conn,
    actor: &Actor,
    project_id: i64,
) -> Result<Option<annotations::Annotation>> {
    require_reviewer(actor)?;
    projects::get(conn, actor, project_id).await?;
    let id = store::query_scalar::<i64>(
        "SELECT a.id FROM annotations a WHERE a.project_id = $1 AND a.was_cancelled = 0 \
         AND a.result IS NOT NULL AND a.review_state IS NULL \
         AND (a.completed_by IS NULL OR a.completed_by <> $2) ORDER BY a.id LIMIT 1",
    )
    .bind(project_id)
    .bind(actor.user_id)
    .fetch_optional(&mut *conn)
    .await?;
    match id {
        Some(id) => Ok(Some(annotations::get(conn, actor, id).await?)),
        None => Ok(None),
    }
}

/// What a review says: accepted or not, an optional fixed result and comment.
pub struct NewReview {
    pub accepted: bool,
    pub result: Option<Value>,
    pub comment: Option<String>,
}

/// Reviews an annotation and emits REVIEW_CREATED.
pub async fn create(
    tx: &mut Conn,
    actor: &Actor,
    annotation_id: i64,
    new: NewReview,
) -> Result<Review> {
    require_reviewer(actor)?;
    let annotation = annotations::get(tx, actor, annotation_id).await?;
    if annotation.completed_by == Some(actor.user_id) {
        return Err(Error::Forbidden(
            "You cannot review your own annotation.".into(),
        ));
    }
    let previous = match &new.result {
        Some(fixed) => Some(fix_result(tx, actor, annotation_id, fixed).await?),
        None => None,
    };
    let now = time::now();
    let id: i64 = store::query_scalar(
        "INSERT INTO annotation_reviews (annotation_id, task_id, project_id, created_by, accepted, \
         result, previous_result, comment, created_at, updated_at, updated_by) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $4) RETURNING id",
    )
    .bind(annotation_id)
    .bind(annotation.task_id)
    .bind(annotation.project_id)
    .bind(actor.user_id)
    .bind(flag(new.accepted))
    .bind(new.result.as_ref().map(Value::to_string))
    .bind(previous.flatten())
    .bind(new.comment)
    .bind(now)
    .fetch_one(&mut *tx)
    .await?;
    let review = get(tx, actor, id).await?;
    settle(tx, actor, &review).await?;
    emit(tx, actor, &review, Action::ReviewCreated).await?;
    Ok(review)
}

/// What a review's update changes (a key left out stays).
#[derive(Default)]
pub struct ReviewChange {
    pub accepted: Option<bool>,
    pub result: Option<Value>,
    pub comment: Option<Option<String>>,
}

/// Changes a review (its reviewer, or a manager and above) and emits REVIEW_UPDATED.
pub async fn update(tx: &mut Conn, actor: &Actor, id: i64, change: ReviewChange) -> Result<Review> {
    require_reviewer(actor)?;
    let review = get(tx, actor, id).await?;
    require_own_review(actor, &review)?;
    let previous = match &change.result {
        Some(fixed) => fix_result(tx, actor, review.annotation_id, fixed).await?,
        None => review.previous_result.as_ref().map(Value::to_string),
    };
    store::query(
        "UPDATE annotation_reviews SET accepted = $1, result = $2, previous_result = $3, \
         comment = $4, updated_at = $5, updated_by = $7 WHERE id = $6",
    )
    .bind(flag(change.accepted.unwrap_or(review.accepted)))
    .bind(
        change
            .result
            .or(review.result)
            .as_ref()
            .map(Value::to_string),
    )
    .bind(previous)
    .bind(change.comment.unwrap_or(review.comment))
    .bind(time::now())
    .bind(id)
    .bind(actor.user_id)
    .execute(&mut *tx)
    .await?;
    let review = get(tx, actor, id).await?;
    settle(tx, actor, &review).await?;
    emit(tx, actor, &review, Action::ReviewUpdated).await?;
    Ok(review)
}

/// Deletes a review (its reviewer, or a manager and above) and emits REVIEWS_DELETED.
pub async fn delete(tx: &mut Conn, actor: &Actor, id: i64) -> Result<()> {
    require_reviewer(actor)?;
    let review = get(tx, actor, id).await?;
    require_own_review(actor, &review)?;
    store::query("DELETE FROM annotation_reviews WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    settle(tx, actor, &review).await?;
    let project = projects::get_unchecked(tx, review.project_id).await?;
    let body = events::body([
        (
            "reviews",
            Value::Array(vec![serde_json::json!({"id": review.id})]),
        ),
        ("project", project.snapshot()),
        ("acted_by", serde_json::json!(actor.user_id)),
    ]);
    events::emit(
        tx,
        project.scope().by(actor.user_id),
        Action::ReviewsDeleted,
        async |_| Ok(vec![body]),
    )
    .await
}

/// The reviewed annotation's review state becomes its latest review's (none left: waiting), and its
/// task's counters and the project's statistics follow (TASK_COMPLETED when this made the
/// task finished).
async fn settle(tx: &mut Conn, actor: &Actor, review: &Review) -> Result<()> {
    store::query(
        "UPDATE annotations SET review_state = (SELECT CASE WHEN r.accepted = 1 \
         THEN 'accepted' ELSE 'rejected' END FROM annotation_reviews r \
         WHERE r.annotation_id = annotations.id ORDER BY r.id DESC LIMIT 1) WHERE id = $1",
    )
    .bind(review.annotation_id)
    .execute(&mut *tx)
    .await?;
    let mut project = projects::get_unchecked(tx, review.project_id).await?;
    let delta = stats::refresh_task_counters(tx, &mut project, review.task_id).await?;
    annotations::emit_completed(tx, actor, &project, review.task_id, &delta).await?;
    stats::save_project_delta(tx, project.id, &delta).await
}

fn require_reviewer(actor: &Actor) -> Result<()> {
    if actor.role.at_least(Role::Reviewer) {
        Ok(())
    } else {
        Err(Error::Forbidden(
            "You do not have permission to perform this action: it needs the reviewer role or higher.".into(),
        ))
    }
}

fn require_own_review(actor: &Actor, review: &Review) -> Result<()> {
    if review.created_by == actor.user_id || actor.role.at_least(Role::Manager) {
        Ok(())
    } else {
        Err(Error::Forbidden(
            "Only the reviewer who wrote this review, or a manager, can change it.".into(),
        ))
    }
}

/// Puts the reviewer's fixed `result` on the annotation; returns the result it replaced
/// (as stored text), which the review keeps as history.
async fn fix_result(
    tx: &mut Conn,
    actor: &Actor,
    annotation_id: i64,
    fixed: &Value,
) -> Result<Option<String>> {
    if !fixed.is_array() {
        return Err(Error::invalid("result", "Expected a list of regions."));
    }
    let previous: Option<String> =
        store::query_scalar("SELECT result FROM annotations WHERE id = $1")
            .bind(annotation_id)
            .fetch_one(&mut *tx)
            .await?;
    store::query(
        "UPDATE annotations SET result = $1, updated_by = $2, updated_at = $3 WHERE id = $4",
    )
    .bind(fixed.to_string())
    .bind(actor.user_id)
    .bind(time::now())
    .bind(annotation_id)
    .execute(&mut *tx)
    .await?;
    Ok(previous)
}

/// REVIEW_CREATED / REVIEW_UPDATED with the review, its annotation (as it is now), the task,
/// the project and who acted.
async fn emit(tx: &mut Conn, actor: &Actor, review: &Review, action: Action) -> Result<()> {
    let project = projects::get_unchecked(tx, review.project_id).await?;
    let review = review.clone();
    let acted_by = actor.user_id;
    let reader = Actor {
        role: Role::Owner,
        ..actor.clone()
    };
    events::emit(
        tx,
        project.scope().by(actor.user_id),
        action,
        async |conn| {
            let annotation = annotations::get(conn, &reader, review.annotation_id).await?;
            let task = tasks::get_many(conn, &[review.task_id]).await?;
            let task = task.first().ok_or(Error::NotFound("Task"))?;
            let body: Map<String, Value> = events::body([
                ("review", review.snapshot()),
                ("annotation", annotation.into_snapshot()),
                ("task", task.snapshot()),
                ("project", project.snapshot()),
                ("acted_by", serde_json::json!(acted_by)),
            ]);
            Ok(vec![body])
        },
    )
    .await
}
