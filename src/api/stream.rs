//! The label stream: `GET /api/projects/{id}/next/` (Label Studio's "Label All Tasks") and
//! `DELETE /api/tasks/{id}/lock` (giving a task back when the labeling page is left).

use axum::Json;
use axum::http::StatusCode;
use axum::http::header::HeaderName;
use axum::response::{AppendHeaders, IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use super::AppState;
use super::error::{ApiError, ApiResult};
use super::extract::{Caller, Id};
use super::route::{Route, delete, get, tagged};
use crate::labeling::projects::Project;
use crate::labeling::render::TaskDetailView;
use crate::labeling::tasks::Task;
use crate::labeling::{ml_backends, predictions, projects, reviews, stream, tasks};
use crate::shared::{Actor, Role};

/// Names why the project's ML backend gave no predictions for the task just opened (the
/// labeling page shows it); absent when it was not asked or answered.
pub const PREDICTION_ERROR: HeaderName = HeaderName::from_static("labelhook-prediction-error");

pub(super) fn routes() -> Vec<Route> {
    [
        tagged(
            "projects",
            [get("/api/projects/{id}/next", next)
                .doc("projects_next", "The next task to label")
                .needs(Role::Annotator)
                .about(
                    "Label Studio's label stream for the requesting user: a task not yet \
                     finished (per its overlap), that this user has not annotated or skipped \
                     (but first a task whose annotation by this user a review rejected: \
                     `queue` \"Rejected queue\", with that annotation and `rejection`) \
                     and that others are not labeling up to its overlap, in the project's \
                     sampling order (tasks others started first when `maximum_annotations` > 1). \
                     The task is locked for the user until they submit or skip it, give it \
                     back (`DELETE /api/tasks/{id}/lock`) or the lock expires (`TASK_LOCK_TTL`). \
                     Without predictions, the project's ML backend is asked for one first \
                     (with a short timeout; a failure is named in the `Labelhook-Prediction-Error` \
                     header and the task comes without). 404 when no task is left.",
                )
                .ok::<NextTaskView>("The task, locked for the user")],
        ),
        tagged(
            "tasks",
            [delete("/api/tasks/{id}/lock", give_back)
                .doc("tasks_lock_release", "Give back a task of the label stream")
                .needs(Role::Annotator)
                .about("Releases the requesting user's lock on the task (and expired ones), so others may label it at once.")
                .no_content("Released")],
        ),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// The next task: the task with its predictions (for pre-annotation), without
/// annotations (the stream shows the user's own work only, and they have none on it), but
/// in the "Rejected queue" with the user's rejected annotation.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = NextTask)]
pub struct NextTaskView {
    #[serde(flatten)]
    pub task: TaskDetailView,
    /// How the task was chosen ("Sequence queue", "Task lock", ...).
    pub queue: String,
    /// The user's lock on the task.
    #[schema(required = true)]
    pub unique_lock_id: Option<String>,
    /// labelhook: in the "Rejected queue", the review that rejected the user's annotation
    /// (which `annotations` then holds, to be changed).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub rejection: Option<Rejection>,
}

/// The review that sent a task back to its annotator.
#[derive(Debug, Serialize, ToSchema)]
pub struct Rejection {
    pub id: i64,
    #[schema(required = true)]
    pub comment: Option<String>,
}

async fn next(Caller { state, actor }: Caller, Id(project_id): Id) -> ApiResult<Response> {
    let mut tx = state.db.begin().await?;
    let project = projects::get(&mut tx, &actor, project_id).await?;
    let found = stream::next(&mut tx, &actor, &project, state.settings.task_lock_ttl).await?;
    state.db.commit(tx).await?;
    let Some((task, queue)) = found else {
        return Err(ApiError::NotFound(format!(
            "There are no tasks for {}",
            actor.email
        )));
    };
    // Outside any transaction: the backend may take seconds.
    let prediction_error = predict_on_open(&state, &actor, &project, &task).await;
    let mut conn = state.db.reader().acquire().await?;
    let (_, predictions) = tasks::children(&mut conn, &actor, &[task.id]).await?;
    let mut predictions = predictions.get(&task.id).cloned().unwrap_or_default();
    // Label Studio's `get_predictions_for_prelabeling`: none unless the project uses
    // predictions to pre-label, and those of its model version when it names one.
    if !project.settings.show_collab_predictions {
        predictions.clear();
    } else if !project.settings.model_version.is_empty() {
        predictions.retain(|p| p.model_version == project.settings.model_version);
    }
    let unique_lock_id = stream::lock_id(&mut conn, task.id, actor.user_id).await?;
    // A task given back by a rejecting review comes with the user's annotation (to change
    // it) and the review that rejected it.
    let (mine, rejection) = if queue == stream::REJECTED_QUEUE {
        let (annotations, _) = tasks::children(&mut conn, &actor, &[task.id]).await?;
        let mut mine = annotations.get(&task.id).cloned().unwrap_or_default();
        mine.retain(|a| a.completed_by == Some(actor.user_id) && !a.was_cancelled);
        let rejection = match mine.last() {
            Some(annotation) => reviews::latest(&mut conn, annotation.id)
                .await?
                .map(|review| Rejection {
                    id: review.id,
                    comment: review.comment,
                }),
            None => None,
        };
        (mine, rejection)
    } else {
        (Vec::new(), None)
    };
    let view = NextTaskView {
        task: task.api_detail(&mine, &predictions),
        queue,
        unique_lock_id,
        rejection,
    };
    let header = prediction_error.map(|message| (PREDICTION_ERROR, header_text(&message)));
    Ok((AppendHeaders(header), Json(view)).into_response())
}

/// A header value from free text: one line of visible ASCII, at most 300 characters.
pub fn header_text(message: &str) -> String {
    message
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .take(300)
        .collect()
}

async fn give_back(Caller { state, actor }: Caller, Id(task_id): Id) -> ApiResult<StatusCode> {
    let mut tx = state.db.begin().await?;
    stream::give_back(&mut tx, &actor, task_id).await?;
    state.db.commit(tx).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Asks the project's ML backend to predict a task that opens without predictions, and
/// stores what it answers (Label Studio's `TaskAPI.get` and label stream). Never fails the
/// request: a slow, failing or blocked backend is logged and named in the answer, and the
/// task opens without pre-annotations. Holds no transaction while the backend thinks.
pub(super) async fn predict_on_open(
    state: &AppState,
    actor: &Actor,
    project: &Project,
    task: &Task,
) -> Option<String> {
    let asked = async {
        let mut conn = state.db.reader().acquire().await?;
        ml_backends::to_ask_on_open(&mut conn, project, task).await
    }
    .await;
    let backend = match asked {
        Ok(Some(backend)) => backend,
        Ok(None) => return None,
        Err(error) => {
            tracing::error!(project = project.id, task = task.id, error = %error, "could not read the project's ML backend");
            return Some("the project's ML backend could not be read".into());
        }
    };
    let timeout = backend
        .0
        .timeout
        .min(state.settings.predict_on_open_timeout)
        .max(0.001);
    let answer = ml_backends::predict(
        &state.guard,
        &backend,
        project,
        task,
        std::time::Duration::from_secs_f64(timeout),
    )
    .await;
    let found = match answer {
        Ok(found) => found,
        Err(message) => {
            tracing::warn!(
                project = project.id,
                task = task.id,
                ml_backend = backend.0.id,
                "no prediction on open: {message}"
            );
            return Some(message);
        }
    };
    let stored: ApiResult<()> = async {
        let mut tx = state.db.begin().await?;
        // Another annotator's request may have stored one meanwhile.
        if tasks::get(&mut tx, actor, task.id).await?.total_predictions == 0 {
            for prediction in found {
                // The backend's answer is input like any client's: checked the same way.
                let input: predictions::PredictionInput =
                    serde_path_to_error::deserialize(prediction).map_err(|error| {
                        let (path, message) = crate::shared::input_error(&error);
                        ApiError::field(&path.join("."), message)
                    })?;
                predictions::create(&mut tx, actor, input).await?;
            }
        }
        state.db.commit(tx).await?;
        Ok(())
    }
    .await;
    match stored {
        Ok(()) => None,
        Err(error) => {
            let why = match error {
                ApiError::Validation(fields) => serde_json::Value::Object(fields).to_string(),
                other => other.to_string(),
            };
            let message = format!("its prediction could not be stored: {why}");
            tracing::warn!(
                project = project.id,
                task = task.id,
                ml_backend = backend.0.id,
                "no prediction on open: {message}"
            );
            Some(message)
        }
    }
}
