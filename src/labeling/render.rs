//! The JSON shapes Label Studio 1.23.2 uses, key for key and in its key order.
//!
//! Label Studio renders one object differently in the API and in webhook payloads (its REST
//! serializers versus a model dump), so each type has an `api_*` form and a `snapshot` form;
//! `../shared/reference/label-studio-1.23.2/` holds recorded examples of each.
//!
//! The API forms are types (`*View`, named in the OpenAPI document as Label Studio names
//! the object): their fields are in Label Studio's key order, which is the order they are
//! serialized in. The webhook forms are built as JSON, key for key.

use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::StoredJson;
use super::annotations::Annotation;
use super::predictions::Prediction;
use super::projects::Project;
use super::tasks::Task;
use crate::store::time::{render, render_opt};

impl Project {
    fn has_control_tags(&self) -> bool {
        self.parsed_label_config.has_keys()
    }

    /// The project as `GET /api/projects/{id}/` returns it. `with_stats` false renders the
    /// statistics as `null`, as Label Studio's create response does.
    pub fn api(&self, with_stats: bool) -> ProjectView {
        let s = &self.settings;
        let stat = |n: i64| with_stats.then_some(n);
        ProjectView {
            id: self.id,
            title: self.title.clone(),
            description: self.description.clone(),
            label_config: self.label_config.clone(),
            expert_instruction: s.expert_instruction.clone(),
            show_instruction: s.show_instruction,
            show_skip_button: s.show_skip_button,
            enable_empty_annotation: s.enable_empty_annotation,
            show_annotation_history: s.show_annotation_history,
            organization: self.organization_id,
            color: s.color.clone(),
            maximum_annotations: self.maximum_annotations,
            is_published: s.is_published,
            model_version: s.model_version.clone(),
            is_draft: s.is_draft,
            created_by: UserRef {
                id: self.created_by.id,
                first_name: self.created_by.first_name.clone(),
                last_name: self.created_by.last_name.clone(),
                email: self.created_by.email.clone(),
                avatar: None,
            },
            created_at: render(self.created_at),
            min_annotations_to_start_training: s.min_annotations_to_start_training,
            start_training_on_annotation_update: s.start_training_on_annotation_update,
            show_collab_predictions: s.show_collab_predictions,
            num_tasks_with_annotations: stat(self.stats.num_tasks_with_annotations),
            task_number: stat(self.stats.task_number),
            useful_annotation_number: stat(self.stats.useful_annotation_number),
            ground_truth_number: stat(self.stats.ground_truth_number),
            skipped_annotations_number: stat(self.stats.skipped_annotations_number),
            total_annotations_number: stat(self.stats.total_annotations_number),
            total_predictions_number: stat(self.stats.total_predictions_number),
            sampling: s.sampling.clone(),
            show_ground_truth_first: s.show_ground_truth_first,
            annotator_evaluation_enabled: s.annotator_evaluation_enabled,
            show_overlap_first: s.show_overlap_first,
            overlap_cohort_percentage: s.overlap_cohort_percentage,
            task_data_login: s.task_data_login.clone(),
            task_data_password: s.task_data_password.clone(),
            control_weights: self.control_weights.clone(),
            parsed_label_config: self.parsed_label_config.clone(),
            evaluate_predictions_automatically: s.evaluate_predictions_automatically,
            config_has_control_tags: self.has_control_tags(),
            skip_queue: self.skip_queue.clone(),
            reveal_preannotations_interactively: s.reveal_preannotations_interactively,
            pinned_at: s.pinned_at.clone(),
            finished_task_number: stat(self.stats.finished_task_number),
            queue_total: if with_stats {
                self.stats.task_number
            } else {
                0
            },
            queue_done: if with_stats {
                self.stats.finished_task_number
            } else {
                0
            },
            config_suitable_for_bulk_annotation: self.suitable_for_bulk_annotation,
            state: None,
            review_required: s.review_required,
            updated_by: self.updated_by,
        }
    }

    /// The project as webhook payloads carry it.
    pub fn snapshot(&self) -> Value {
        let s = &self.settings;
        json!({
            "id": self.id,
            "task_number": self.stats.task_number,
            "finished_task_number": self.stats.finished_task_number,
            "total_predictions_number": self.stats.total_predictions_number,
            "total_annotations_number": self.stats.total_annotations_number,
            "num_tasks_with_annotations": self.stats.num_tasks_with_annotations,
            "useful_annotation_number": self.stats.useful_annotation_number,
            "ground_truth_number": self.stats.ground_truth_number,
            "skipped_annotations_number": self.stats.skipped_annotations_number,
            "title": self.title,
            "description": self.description,
            "label_config": self.label_config,
            "parsed_label_config": self.parsed_label_config.value(),
            "label_config_hash": self.label_config_hash(),
            "expert_instruction": s.expert_instruction,
            "show_instruction": s.show_instruction,
            "show_skip_button": s.show_skip_button,
            "enable_empty_annotation": s.enable_empty_annotation,
            "reveal_preannotations_interactively": s.reveal_preannotations_interactively,
            "show_annotation_history": s.show_annotation_history,
            "show_collab_predictions": s.show_collab_predictions,
            "evaluate_predictions_automatically": s.evaluate_predictions_automatically,
            "token": self.token,
            "result_count": 0,
            "color": s.color,
            "maximum_annotations": self.maximum_annotations,
            "min_annotations_to_start_training": s.min_annotations_to_start_training,
            "control_weights": self.control_weights.value(),
            "model_version": s.model_version,
            "data_types": self.data_types.value(),
            "is_draft": s.is_draft,
            "is_published": s.is_published,
            "created_at": render(self.created_at),
            "updated_at": render(self.updated_at),
            "sampling": s.sampling,
            "skip_queue": self.skip_queue,
            "show_ground_truth_first": s.show_ground_truth_first,
            "annotator_evaluation_enabled": s.annotator_evaluation_enabled,
            "show_overlap_first": s.show_overlap_first,
            "overlap_cohort_percentage": s.overlap_cohort_percentage,
            "task_data_login": s.task_data_login,
            "task_data_password": s.task_data_password,
            "pinned_at": s.pinned_at,
            "custom_task_lock_ttl": s.custom_task_lock_ttl,
            "deleted_at": null,
            "purge_at": null,
            "search_vector": null,
            "organization": self.organization_id,
            "created_by": self.created_by.id,
            "deleted_by": null,
        })
    }
}

impl Task {
    /// The task as create/update responses return it.
    pub fn api(&self) -> TaskView {
        TaskView {
            id: self.id,
            data: self.data.clone(),
            meta: self.meta.clone(),
            created_at: render(self.created_at),
            updated_at: render(self.updated_at),
            is_labeled: self.is_labeled,
            overlap: self.overlap,
            inner_id: self.inner_id,
            total_annotations: self.total_annotations,
            cancelled_annotations: self.cancelled_annotations,
            total_predictions: self.total_predictions,
            comment_count: 0,
            unresolved_comment_count: 0,
            last_comment_updated_at: None,
            project: self.project_id,
            updated_by: self.updated_by,
            file_upload: None,
            comment_authors: vec![],
            created_by: self.created_by,
        }
    }

    /// The task as `GET /api/tasks/{id}/` returns it, with its annotations and predictions.
    pub fn api_detail(
        &self,
        annotations: &[Annotation],
        predictions: &[Prediction],
    ) -> TaskDetailView {
        let summary = Summary::of(annotations, predictions);
        TaskDetailView {
            id: self.id,
            predictions: predictions.iter().map(Prediction::api).collect(),
            annotations: annotations.iter().map(Annotation::api).collect(),
            drafts: vec![],
            annotators: summary.annotators,
            inner_id: self.inner_id,
            cancelled_annotations: self.cancelled_annotations,
            total_annotations: self.total_annotations,
            total_predictions: self.total_predictions,
            completed_at: summary.completed_at,
            annotations_results: summary.annotations_results,
            predictions_results: summary.predictions_results,
            predictions_score: summary.predictions_score,
            file_upload: None,
            storage_filename: None,
            annotations_ids: summary.annotations_ids,
            predictions_model_versions: summary.predictions_model_versions,
            avg_lead_time: summary.avg_lead_time,
            draft_exists: false,
            updated_by: summary.updated_by,
            data: self.data.clone(),
            meta: self.meta.clone(),
            created_at: render(self.created_at),
            updated_at: render(self.updated_at),
            is_labeled: self.is_labeled,
            overlap: self.overlap,
            comment_count: 0,
            unresolved_comment_count: 0,
            last_comment_updated_at: None,
            project: self.project_id,
            comment_authors: vec![],
            created_by: self.created_by,
        }
    }

    /// The task as `GET /api/tasks/?project=` lists it. `full` adds the annotations and
    /// predictions themselves (Label Studio's `fields=all`).
    pub fn api_list_item(
        &self,
        annotations: &[Annotation],
        predictions: &[Prediction],
        full: bool,
    ) -> TaskListItemView {
        let summary = Summary::of(annotations, predictions);
        TaskListItemView {
            id: self.id,
            drafts: vec![],
            annotators: summary.annotators,
            inner_id: self.inner_id,
            cancelled_annotations: self.cancelled_annotations,
            total_annotations: self.total_annotations,
            total_predictions: self.total_predictions,
            annotations_results: summary.annotations_results,
            predictions_results: summary.predictions_results,
            file_upload: None,
            storage_filename: None,
            annotations_ids: summary.annotations_ids,
            predictions_model_versions: summary.predictions_model_versions,
            updated_by: summary.updated_by,
            data: self.data.clone(),
            meta: self.meta.clone(),
            created_at: render(self.created_at),
            updated_at: render(self.updated_at),
            is_labeled: self.is_labeled,
            overlap: self.overlap,
            comment_count: 0,
            unresolved_comment_count: 0,
            last_comment_updated_at: None,
            project: self.project_id,
            comment_authors: vec![],
            annotations: full.then(|| annotations.iter().map(Annotation::api).collect()),
            predictions: full.then(|| predictions.iter().map(Prediction::api).collect()),
            created_by: self.created_by,
        }
    }

    /// The task as webhook payloads carry it.
    pub fn snapshot(&self) -> Value {
        json!({
            "id": self.id,
            "data": self.data,
            "meta": self.meta,
            "created_at": render(self.created_at),
            "updated_at": render(self.updated_at),
            "is_labeled": self.is_labeled,
            "allow_skip": true,
            "overlap": self.overlap,
            "inner_id": self.inner_id,
            "total_annotations": self.total_annotations,
            "cancelled_annotations": self.cancelled_annotations,
            "total_predictions": self.total_predictions,
            "precomputed_agreement": null,
            "comment_count": 0,
            "unresolved_comment_count": 0,
            "last_comment_updated_at": null,
            "project": self.project_id,
            "updated_by": self.updated_by,
            "file_upload": null,
            "comment_authors": [],
        })
    }
}

/// The derived columns Label Studio's task list and detail views add.
struct Summary {
    annotators: Vec<i64>,
    annotations_results: String,
    predictions_results: String,
    annotations_ids: String,
    predictions_model_versions: String,
    predictions_score: Option<f64>,
    avg_lead_time: Option<f64>,
    completed_at: Option<String>,
    updated_by: Vec<UserId>,
}

impl Summary {
    fn of(annotations: &[Annotation], predictions: &[Prediction]) -> Summary {
        let mut annotators: Vec<i64> = annotations.iter().filter_map(|a| a.completed_by).collect();
        annotators.dedup();
        let join = |items: Vec<String>| items.join(", ");
        let lead_times: Vec<f64> = annotations.iter().filter_map(|a| a.lead_time).collect();
        let scores: Vec<f64> = predictions.iter().filter_map(|p| p.score).collect();
        let mut versions: Vec<String> = predictions
            .iter()
            .map(|p| p.model_version.clone())
            .collect();
        versions.dedup();
        let mut updated_by: Vec<i64> = annotations.iter().filter_map(|a| a.updated_by).collect();
        updated_by.sort_unstable();
        updated_by.dedup();
        Summary {
            annotators,
            annotations_results: join(
                annotations
                    .iter()
                    .filter_map(|a| a.result.as_ref().map(|r| r.text().to_string()))
                    .collect(),
            ),
            predictions_results: join(predictions.iter().map(|p| p.result.to_string()).collect()),
            annotations_ids: join(annotations.iter().map(|a| a.id.to_string()).collect()),
            predictions_model_versions: join(versions),
            predictions_score: (!scores.is_empty())
                .then(|| scores.iter().sum::<f64>() / scores.len() as f64),
            avg_lead_time: (!lead_times.is_empty())
                .then(|| lead_times.iter().sum::<f64>() / lead_times.len() as f64),
            completed_at: render_opt(annotations.iter().map(|a| a.created_at).max()),
            updated_by: updated_by
                .into_iter()
                .map(|user_id| UserId { user_id })
                .collect(),
        }
    }
}

impl Annotation {
    /// The annotation as the API returns it.
    pub fn api(&self) -> AnnotationView {
        AnnotationView {
            id: self.id,
            result: self.result.clone(),
            created_username: format!(
                " {}, {}",
                self.completed_by_email.as_deref().unwrap_or(""),
                self.completed_by
                    .map(|id| id.to_string())
                    .unwrap_or_default()
            ),
            created_ago: created_ago(self.created_at),
            completed_by: self.completed_by,
            was_cancelled: self.was_cancelled,
            ground_truth: self.ground_truth,
            created_at: render(self.created_at),
            updated_at: render(self.updated_at),
            draft_created_at: render_opt(self.draft_created_at),
            lead_time: self.lead_time,
            import_id: self.import_id,
            last_action: self.last_action.clone(),
            bulk_created: self.bulk_created,
            task: self.task_id,
            project: self.project_id,
            updated_by: self.updated_by,
            parent_prediction: self.parent_prediction,
            parent_annotation: self.parent_annotation,
            last_created_by: None,
        }
    }

    /// [`Annotation::api`], the result moved in rather than copied (it may be large).
    pub fn into_api(mut self) -> AnnotationView {
        let result = self.result.take();
        AnnotationView {
            result,
            ..self.api()
        }
    }

    /// [`Annotation::snapshot`], the result parsed once and moved in.
    pub fn into_snapshot(mut self) -> Value {
        let result = self.result.take().map(|r| r.value());
        let count = result
            .as_ref()
            .and_then(Value::as_array)
            .map_or(0, Vec::len);
        let mut snapshot = self.snapshot();
        snapshot["result"] = result.unwrap_or(Value::Null);
        snapshot["result_count"] = count.into();
        snapshot
    }

    /// The annotation as webhook payloads carry it.
    pub fn snapshot(&self) -> Value {
        let result = self.result.as_ref().map(StoredJson::value);
        let result_count = result
            .as_ref()
            .and_then(Value::as_array)
            .map_or(0, Vec::len);
        json!({
            "id": self.id,
            "result": result,
            "was_cancelled": self.was_cancelled,
            "ground_truth": self.ground_truth,
            "created_at": render(self.created_at),
            "updated_at": render(self.updated_at),
            "draft_created_at": render_opt(self.draft_created_at),
            "lead_time": self.lead_time,
            "prediction": {},
            "result_count": result_count,
            "unique_id": self.unique_id,
            "import_id": self.import_id,
            "last_action": self.last_action,
            "bulk_created": self.bulk_created,
            "task": self.task_id,
            "project": self.project_id,
            "completed_by": self.completed_by,
            "updated_by": self.updated_by,
            "parent_prediction": self.parent_prediction,
            "parent_annotation": self.parent_annotation,
            "last_created_by": null,
        })
    }
}

impl Prediction {
    /// The prediction as the API returns it.
    pub fn api(&self) -> PredictionView {
        PredictionView {
            id: self.id,
            result: self.result.clone(),
            model_version: self.model_version.clone(),
            created_ago: created_ago(self.created_at),
            score: self.score,
            cluster: None,
            neighbors: None,
            mislabeling: 0.0,
            created_at: render(self.created_at),
            updated_at: render(self.updated_at),
            model: None,
            model_run: None,
            task: self.task_id,
            project: self.project_id,
            created_by: self.created_by,
            updated_by: self.updated_by,
        }
    }

    /// The prediction as Label Studio's JSON export writes it: its API form without
    /// labelhook's keys (the export is Label Studio's file, byte for byte).
    pub fn exported(&self) -> Value {
        let mut exported = serde_json::to_value(self.api()).unwrap_or(Value::Null);
        if let Value::Object(keys) = &mut exported {
            keys.remove("created_by");
            keys.remove("updated_by");
        }
        exported
    }
}

/// Django's `timesince` as Label Studio shows it ("0\u{a0}minutes", "3\u{a0}hours").
fn created_ago(created_at: i64) -> String {
    let seconds = (crate::store::time::now() - created_at).max(0) / 1_000_000;
    let units = [
        (365 * 24 * 3600, "year"),
        (30 * 24 * 3600, "month"),
        (7 * 24 * 3600, "week"),
        (24 * 3600, "day"),
        (3600, "hour"),
        (60, "minute"),
    ];
    for (size, name) in units {
        let count = seconds / size;
        if count > 0 || name == "minute" {
            let plural = if count == 1 { "" } else { "s" };
            return format!("{count}\u{a0}{name}{plural}");
        }
    }
    String::new()
}

// ---------------------------------------------------------------------------------------
// The API forms.

/// The creator of a project.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserRef {
    pub id: i64,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    /// Always `null`.
    #[schema(required = true)]
    pub avatar: Option<String>,
}

/// A project as Label Studio 1.23 renders it. The statistics (`task_number` …) are `null`
/// in the create response, as in Label Studio.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Project)]
pub struct ProjectView {
    pub id: i64,
    pub title: String,
    pub description: String,
    /// The labeling interface (XML).
    pub label_config: String,
    pub expert_instruction: String,
    pub show_instruction: bool,
    pub show_skip_button: bool,
    pub enable_empty_annotation: bool,
    pub show_annotation_history: bool,
    pub organization: i64,
    pub color: String,
    pub maximum_annotations: i64,
    pub is_published: bool,
    pub model_version: String,
    pub is_draft: bool,
    pub created_by: UserRef,
    #[schema(format = DateTime)]
    pub created_at: String,
    pub min_annotations_to_start_training: i64,
    pub start_training_on_annotation_update: bool,
    pub show_collab_predictions: bool,
    #[schema(required = true)]
    pub num_tasks_with_annotations: Option<i64>,
    #[schema(required = true)]
    pub task_number: Option<i64>,
    #[schema(required = true)]
    pub useful_annotation_number: Option<i64>,
    #[schema(required = true)]
    pub ground_truth_number: Option<i64>,
    #[schema(required = true)]
    pub skipped_annotations_number: Option<i64>,
    #[schema(required = true)]
    pub total_annotations_number: Option<i64>,
    #[schema(required = true)]
    pub total_predictions_number: Option<i64>,
    pub sampling: String,
    pub show_ground_truth_first: bool,
    pub annotator_evaluation_enabled: bool,
    pub show_overlap_first: bool,
    pub overlap_cohort_percentage: i64,
    #[schema(required = true)]
    pub task_data_login: Option<String>,
    #[schema(required = true)]
    pub task_data_password: Option<String>,
    /// Per control tag: `{overall, type, labels}`.
    #[schema(value_type = Object)]
    pub control_weights: StoredJson,
    /// The label config as Label Studio parses it, per control tag.
    #[schema(value_type = Object)]
    pub parsed_label_config: StoredJson,
    pub evaluate_predictions_automatically: bool,
    pub config_has_control_tags: bool,
    pub skip_queue: String,
    pub reveal_preannotations_interactively: bool,
    #[schema(required = true)]
    pub pinned_at: Option<String>,
    #[schema(required = true)]
    pub finished_task_number: Option<i64>,
    pub queue_total: i64,
    pub queue_done: i64,
    pub config_suitable_for_bulk_annotation: bool,
    /// Always `null`.
    #[schema(required = true)]
    pub state: Option<String>,
    /// labelhook: a task counts as finished only once reviews accepted enough of its
    /// annotations (`false`: submitted annotations count unless a review rejected them).
    pub review_required: bool,
    /// labelhook: who last changed the project (a user id; `null` when unknown).
    #[schema(required = true)]
    pub updated_by: Option<i64>,
}

/// A task as create and update return it.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Task)]
pub struct TaskView {
    pub id: i64,
    /// The task's data: free-form, read by the label config (`$text` …).
    #[schema(value_type = Object)]
    pub data: Value,
    #[schema(value_type = Object)]
    pub meta: Value,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
    pub is_labeled: bool,
    pub overlap: i64,
    pub inner_id: i64,
    pub total_annotations: i64,
    pub cancelled_annotations: i64,
    pub total_predictions: i64,
    pub comment_count: i64,
    pub unresolved_comment_count: i64,
    #[schema(required = true)]
    pub last_comment_updated_at: Option<String>,
    pub project: i64,
    #[schema(required = true)]
    pub updated_by: Option<i64>,
    #[schema(required = true)]
    pub file_upload: Option<i64>,
    pub comment_authors: Vec<i64>,
    /// labelhook: who made the task (a user id; `null` when unknown).
    #[schema(required = true)]
    pub created_by: Option<i64>,
}

/// `{"user_id": N}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserId {
    pub user_id: i64,
}

/// A task as `GET /api/tasks/{id}/` returns it, with its annotations and predictions.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = TaskDetail)]
pub struct TaskDetailView {
    pub id: i64,
    pub predictions: Vec<PredictionView>,
    pub annotations: Vec<AnnotationView>,
    /// Always empty.
    #[schema(value_type = Vec<Object>)]
    pub drafts: Vec<Value>,
    pub annotators: Vec<i64>,
    pub inner_id: i64,
    pub cancelled_annotations: i64,
    pub total_annotations: i64,
    pub total_predictions: i64,
    #[schema(required = true)]
    pub completed_at: Option<String>,
    pub annotations_results: String,
    pub predictions_results: String,
    #[schema(required = true)]
    pub predictions_score: Option<f64>,
    #[schema(required = true)]
    pub file_upload: Option<i64>,
    #[schema(required = true)]
    pub storage_filename: Option<String>,
    pub annotations_ids: String,
    pub predictions_model_versions: String,
    #[schema(required = true)]
    pub avg_lead_time: Option<f64>,
    pub draft_exists: bool,
    pub updated_by: Vec<UserId>,
    #[schema(value_type = Object)]
    pub data: Value,
    #[schema(value_type = Object)]
    pub meta: Value,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
    pub is_labeled: bool,
    pub overlap: i64,
    pub comment_count: i64,
    pub unresolved_comment_count: i64,
    #[schema(required = true)]
    pub last_comment_updated_at: Option<String>,
    pub project: i64,
    pub comment_authors: Vec<i64>,
    /// labelhook: who made the task (a user id; `null` when unknown).
    #[schema(required = true)]
    pub created_by: Option<i64>,
}

/// A task as `GET /api/tasks/?project=` lists it; `fields=all` adds `annotations` and
/// `predictions`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = TaskListItem)]
pub struct TaskListItemView {
    pub id: i64,
    #[schema(value_type = Vec<Object>)]
    pub drafts: Vec<Value>,
    pub annotators: Vec<i64>,
    pub inner_id: i64,
    pub cancelled_annotations: i64,
    pub total_annotations: i64,
    pub total_predictions: i64,
    pub annotations_results: String,
    pub predictions_results: String,
    #[schema(required = true)]
    pub file_upload: Option<i64>,
    #[schema(required = true)]
    pub storage_filename: Option<String>,
    pub annotations_ids: String,
    pub predictions_model_versions: String,
    pub updated_by: Vec<UserId>,
    #[schema(value_type = Object)]
    pub data: Value,
    #[schema(value_type = Object)]
    pub meta: Value,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
    pub is_labeled: bool,
    pub overlap: i64,
    pub comment_count: i64,
    pub unresolved_comment_count: i64,
    #[schema(required = true)]
    pub last_comment_updated_at: Option<String>,
    pub project: i64,
    pub comment_authors: Vec<i64>,
    /// With `fields=all` only.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub annotations: Option<Vec<AnnotationView>>,
    /// With `fields=all` only.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub predictions: Option<Vec<PredictionView>>,
    /// labelhook: who made the task (a user id; `null` when unknown).
    #[schema(required = true)]
    pub created_by: Option<i64>,
}

/// An annotation (or a skip: `was_cancelled` true).
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Annotation)]
pub struct AnnotationView {
    pub id: i64,
    /// The regions and choices: free-form result items (`from_name`, `to_name`, `type`,
    /// `value` …), or `null`.
    #[schema(value_type = Option<Vec<Object>>, required = true)]
    pub result: Option<StoredJson>,
    /// `" <email>, <user id>"`.
    pub created_username: String,
    /// How long ago, in words.
    pub created_ago: String,
    #[schema(required = true)]
    pub completed_by: Option<i64>,
    pub was_cancelled: bool,
    pub ground_truth: bool,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
    #[schema(required = true)]
    pub draft_created_at: Option<String>,
    /// Seconds spent.
    #[schema(required = true)]
    pub lead_time: Option<f64>,
    #[schema(required = true)]
    pub import_id: Option<i64>,
    #[schema(required = true)]
    pub last_action: Option<String>,
    pub bulk_created: bool,
    pub task: i64,
    pub project: i64,
    #[schema(required = true)]
    pub updated_by: Option<i64>,
    #[schema(required = true)]
    pub parent_prediction: Option<i64>,
    #[schema(required = true)]
    pub parent_annotation: Option<i64>,
    /// Always `null`.
    #[schema(required = true)]
    pub last_created_by: Option<i64>,
}

/// A prediction (pre-annotation) of a model.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Prediction)]
pub struct PredictionView {
    pub id: i64,
    /// Free-form result items, as in annotations.
    #[schema(value_type = Vec<Object>)]
    pub result: Value,
    pub model_version: String,
    pub created_ago: String,
    #[schema(required = true)]
    pub score: Option<f64>,
    /// Always `null`.
    #[schema(required = true)]
    pub cluster: Option<i64>,
    /// Always `null`.
    #[schema(value_type = Option<Object>, required = true)]
    pub neighbors: Option<Value>,
    pub mislabeling: f64,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
    /// Always `null`.
    #[schema(required = true)]
    pub model: Option<i64>,
    /// Always `null`.
    #[schema(required = true)]
    pub model_run: Option<i64>,
    pub task: i64,
    pub project: i64,
    /// labelhook: who made the prediction: the user whose request stored it (through the
    /// API, an import, or a task they opened that an ML backend predicted); `null` when
    /// unknown.
    #[schema(required = true)]
    pub created_by: Option<i64>,
    /// labelhook: who last changed it.
    #[schema(required = true)]
    pub updated_by: Option<i64>,
}
