//! The JSON shapes Label Studio 1.23.2 uses, key for key and in its key order.
//!
//! Label Studio renders one object differently in the API and in webhook payloads (its REST
//! serializers versus a model dump), so each type has an `api_*` form and a `snapshot` form;
//! `../shared/reference/label-studio-1.23.2/` holds recorded examples of each.

use serde_json::{Value, json};

use super::annotations::Annotation;
use super::predictions::Prediction;
use super::projects::Project;
use super::tasks::Task;
use crate::store::time::{render, render_opt};

impl Project {
    fn has_control_tags(&self) -> bool {
        self.parsed_label_config
            .as_object()
            .is_some_and(|m| !m.is_empty())
    }

    /// Label Studio's rules, applied to the stored config (it was valid when saved).
    fn suitable_for_bulk_annotation(&self) -> bool {
        super::label_config::parse(&self.label_config)
            .map(|c| c.suitable_for_bulk_annotation)
            .unwrap_or(false)
    }

    /// The project as `GET /api/projects/{id}/` returns it. `with_stats` false renders the
    /// statistics as `null`, as Label Studio's create response does.
    pub fn api(&self, with_stats: bool) -> Value {
        let s = &self.settings;
        let stat = |n: i64| if with_stats { json!(n) } else { Value::Null };
        json!({
            "id": self.id,
            "title": self.title,
            "description": self.description,
            "label_config": self.label_config,
            "expert_instruction": s.expert_instruction,
            "show_instruction": s.show_instruction,
            "show_skip_button": s.show_skip_button,
            "enable_empty_annotation": s.enable_empty_annotation,
            "show_annotation_history": s.show_annotation_history,
            "organization": self.organization_id,
            "color": s.color,
            "maximum_annotations": self.maximum_annotations,
            "is_published": s.is_published,
            "model_version": s.model_version,
            "is_draft": s.is_draft,
            "created_by": {
                "id": self.created_by.id,
                "first_name": self.created_by.first_name,
                "last_name": self.created_by.last_name,
                "email": self.created_by.email,
                "avatar": null,
            },
            "created_at": render(self.created_at),
            "min_annotations_to_start_training": s.min_annotations_to_start_training,
            "start_training_on_annotation_update": s.start_training_on_annotation_update,
            "show_collab_predictions": s.show_collab_predictions,
            "num_tasks_with_annotations": stat(self.stats.num_tasks_with_annotations),
            "task_number": stat(self.stats.task_number),
            "useful_annotation_number": stat(self.stats.useful_annotation_number),
            "ground_truth_number": stat(self.stats.ground_truth_number),
            "skipped_annotations_number": stat(self.stats.skipped_annotations_number),
            "total_annotations_number": stat(self.stats.total_annotations_number),
            "total_predictions_number": stat(self.stats.total_predictions_number),
            "sampling": s.sampling,
            "show_ground_truth_first": s.show_ground_truth_first,
            "annotator_evaluation_enabled": s.annotator_evaluation_enabled,
            "show_overlap_first": s.show_overlap_first,
            "overlap_cohort_percentage": s.overlap_cohort_percentage,
            "task_data_login": s.task_data_login,
            "task_data_password": s.task_data_password,
            "control_weights": self.control_weights,
            "parsed_label_config": self.parsed_label_config,
            "evaluate_predictions_automatically": s.evaluate_predictions_automatically,
            "config_has_control_tags": self.has_control_tags(),
            "skip_queue": self.skip_queue,
            "reveal_preannotations_interactively": s.reveal_preannotations_interactively,
            "pinned_at": s.pinned_at,
            "finished_task_number": stat(self.stats.finished_task_number),
            "queue_total": if with_stats { self.stats.task_number } else { 0 },
            "queue_done": if with_stats { self.stats.finished_task_number } else { 0 },
            "config_suitable_for_bulk_annotation": self.suitable_for_bulk_annotation(),
            "state": null,
        })
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
            "parsed_label_config": self.parsed_label_config,
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
            "control_weights": self.control_weights,
            "model_version": s.model_version,
            "data_types": self.data_types,
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
    pub fn api(&self) -> Value {
        json!({
            "id": self.id,
            "data": self.data,
            "meta": self.meta,
            "created_at": render(self.created_at),
            "updated_at": render(self.updated_at),
            "is_labeled": self.is_labeled,
            "overlap": self.overlap,
            "inner_id": self.inner_id,
            "total_annotations": self.total_annotations,
            "cancelled_annotations": self.cancelled_annotations,
            "total_predictions": self.total_predictions,
            "comment_count": 0,
            "unresolved_comment_count": 0,
            "last_comment_updated_at": null,
            "project": self.project_id,
            "updated_by": self.updated_by,
            "file_upload": null,
            "comment_authors": [],
        })
    }

    /// The task as `GET /api/tasks/{id}/` returns it, with its annotations and predictions.
    pub fn api_detail(&self, annotations: &[Annotation], predictions: &[Prediction]) -> Value {
        let summary = Summary::of(annotations, predictions);
        json!({
            "id": self.id,
            "predictions": predictions.iter().map(Prediction::api).collect::<Vec<_>>(),
            "annotations": annotations.iter().map(Annotation::api).collect::<Vec<_>>(),
            "drafts": [],
            "annotators": summary.annotators,
            "inner_id": self.inner_id,
            "cancelled_annotations": self.cancelled_annotations,
            "total_annotations": self.total_annotations,
            "total_predictions": self.total_predictions,
            "completed_at": summary.completed_at,
            "annotations_results": summary.annotations_results,
            "predictions_results": summary.predictions_results,
            "predictions_score": summary.predictions_score,
            "file_upload": null,
            "storage_filename": null,
            "annotations_ids": summary.annotations_ids,
            "predictions_model_versions": summary.predictions_model_versions,
            "avg_lead_time": summary.avg_lead_time,
            "draft_exists": false,
            "updated_by": summary.updated_by,
            "data": self.data,
            "meta": self.meta,
            "created_at": render(self.created_at),
            "updated_at": render(self.updated_at),
            "is_labeled": self.is_labeled,
            "overlap": self.overlap,
            "comment_count": 0,
            "unresolved_comment_count": 0,
            "last_comment_updated_at": null,
            "project": self.project_id,
            "comment_authors": [],
        })
    }

    /// The task as `GET /api/tasks/?project=` lists it. `full` adds the annotations and
    /// predictions themselves (Label Studio's `fields=all`).
    pub fn api_list_item(
        &self,
        annotations: &[Annotation],
        predictions: &[Prediction],
        full: bool,
    ) -> Value {
        let summary = Summary::of(annotations, predictions);
        let mut item = json!({
            "id": self.id,
            "drafts": [],
            "annotators": summary.annotators,
            "inner_id": self.inner_id,
            "cancelled_annotations": self.cancelled_annotations,
            "total_annotations": self.total_annotations,
            "total_predictions": self.total_predictions,
            "annotations_results": summary.annotations_results,
            "predictions_results": summary.predictions_results,
            "file_upload": null,
            "storage_filename": null,
            "annotations_ids": summary.annotations_ids,
            "predictions_model_versions": summary.predictions_model_versions,
            "updated_by": summary.updated_by,
            "data": self.data,
            "meta": self.meta,
            "created_at": render(self.created_at),
            "updated_at": render(self.updated_at),
            "is_labeled": self.is_labeled,
            "overlap": self.overlap,
            "comment_count": 0,
            "unresolved_comment_count": 0,
            "last_comment_updated_at": null,
            "project": self.project_id,
            "comment_authors": [],
        });
        if full && let Some(object) = item.as_object_mut() {
            object.insert(
                "annotations".into(),
                annotations.iter().map(Annotation::api).collect(),
            );
            object.insert(
                "predictions".into(),
                predictions.iter().map(Prediction::api).collect(),
            );
        }
        item
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
    updated_by: Vec<Value>,
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
                    .filter_map(|a| a.result.as_ref().map(Value::to_string))
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
                .map(|id| json!({"user_id": id}))
                .collect(),
        }
    }
}

impl Annotation {
    /// The annotation as the API returns it.
    pub fn api(&self) -> Value {
        json!({
            "id": self.id,
            "result": self.result,
            "created_username": format!(" {}, {}", self.completed_by_email.as_deref().unwrap_or(""), self.completed_by.map(|id| id.to_string()).unwrap_or_default()),
            "created_ago": created_ago(self.created_at),
            "completed_by": self.completed_by,
            "was_cancelled": self.was_cancelled,
            "ground_truth": self.ground_truth,
            "created_at": render(self.created_at),
            "updated_at": render(self.updated_at),
            "draft_created_at": render_opt(self.draft_created_at),
            "lead_time": self.lead_time,
            "import_id": self.import_id,
            "last_action": self.last_action,
            "bulk_created": self.bulk_created,
            "task": self.task_id,
            "project": self.project_id,
            "updated_by": self.updated_by,
            "parent_prediction": self.parent_prediction,
            "parent_annotation": self.parent_annotation,
            "last_created_by": null,
        })
    }

    /// The annotation as webhook payloads carry it.
    pub fn snapshot(&self) -> Value {
        json!({
            "id": self.id,
            "result": self.result,
            "was_cancelled": self.was_cancelled,
            "ground_truth": self.ground_truth,
            "created_at": render(self.created_at),
            "updated_at": render(self.updated_at),
            "draft_created_at": render_opt(self.draft_created_at),
            "lead_time": self.lead_time,
            "prediction": {},
            "result_count": self.result.as_ref().and_then(Value::as_array).map_or(0, Vec::len),
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
    pub fn api(&self) -> Value {
        json!({
            "id": self.id,
            "result": self.result,
            "model_version": self.model_version,
            "created_ago": created_ago(self.created_at),
            "score": self.score,
            "cluster": null,
            "neighbors": null,
            "mislabeling": 0.0,
            "created_at": render(self.created_at),
            "updated_at": render(self.updated_at),
            "model": null,
            "model_run": null,
            "task": self.task_id,
            "project": self.project_id,
        })
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
