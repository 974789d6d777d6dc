//! Labelbox-format webhooks: which topic an event is sent as, and the body a receiver
//! written for Labelbox reads (its first key `id`, with `project`, `dataRow` and the
//! label), made from the event's Label Studio payload when the delivery is sent.
//! docs/delivery.md has the mapping as a table.

use serde_json::{Value, json};

/// The topics a Labelbox-format webhook may take.
pub const TOPICS: &[&str] = &[
    "LABEL_CREATED",
    "LABEL_UPDATED",
    "LABEL_DELETED",
    "REVIEW_CREATED",
    "REVIEW_UPDATED",
    "REVIEW_DELETED",
    "WORKFLOW_ACTION",
];

/// The events (catalogue actions) a topic is made from.
pub fn actions_of(topic: &str) -> &'static [&'static str] {
    match topic {
        // Imports with annotations come as one ANNOTATIONS_CREATED per batch.
        "LABEL_CREATED" => &["ANNOTATION_CREATED", "ANNOTATIONS_CREATED"],
        "LABEL_UPDATED" => &["ANNOTATION_UPDATED"],
        "LABEL_DELETED" => &["ANNOTATIONS_DELETED"],
        "REVIEW_CREATED" => &["REVIEW_CREATED"],
        "REVIEW_UPDATED" => &["REVIEW_UPDATED"],
        "REVIEW_DELETED" => &["REVIEWS_DELETED"],
        // A review accepts the task's annotation (approved) or rejects it (back to the
        // annotators): the task moves on in the workflow.
        "WORKFLOW_ACTION" => &["REVIEW_CREATED", "REVIEW_UPDATED"],
        _ => &[],
    }
}

/// The topic an event of `action` goes as to a webhook that took `topics`: the topic of
/// its own name first (a review is REVIEW_* when the webhook takes that topic, else
/// WORKFLOW_ACTION). Actions no topic names (a test PING) keep their name.
pub fn topic_of(action: &str, topics: &[String]) -> String {
    TOPICS
        .iter()
        .filter(|topic| topics.iter().any(|t| t == *topic))
        .find(|topic| actions_of(topic).contains(&action))
        .map_or_else(|| action.to_string(), |topic| topic.to_string())
}

fn text_id(value: &Value) -> Value {
    match value {
        Value::Number(n) => Value::String(n.to_string()),
        Value::Null => Value::Null,
        other => Value::String(
            other
                .as_str()
                .map_or_else(|| other.to_string(), str::to_string),
        ),
    }
}

/// Labelbox's project: `{id, name}`.
fn project(payload: &Value) -> Value {
    let project = &payload["project"];
    let id = if project.is_object() {
        &project["id"]
    } else {
        project
    };
    json!({"id": text_id(id), "name": project.get("title").cloned().unwrap_or(Value::Null)})
}

/// Labelbox's data row: the task (`{id, externalId, rowData}`); the external id is the
/// task data's `external_id`, else its meta's, else `null`.
fn data_row(task: &Value) -> Value {
    let external = [&task["data"]["external_id"], &task["meta"]["external_id"]]
        .into_iter()
        .find(|v| !v.is_null())
        .map_or(Value::Null, text_id);
    let id = if task.is_object() { &task["id"] } else { task };
    json!({"id": text_id(id), "externalId": external, "rowData": task.get("data").cloned().unwrap_or(Value::Null)})
}

fn user(id: &Value) -> Value {
    json!({ "id": text_id(id) })
}

/// The Labelbox body of an event sent as `topic`, from its Label Studio `payload` (the
/// event's stored body). Anything else (a PING) goes as it is.
pub fn body(topic: &str, payload: &[u8]) -> Option<Vec<u8>> {
    // Indexed as a `Value`, which answers `null` for a missing key (a `Map` would panic).
    let payload: Value = serde_json::from_slice(payload).ok()?;
    if !payload.is_object() {
        return None;
    }
    // ANNOTATIONS_CREATED (a batch of an import) carries lists: the body is its first
    // label's, with every label of the batch under `labels`.
    let batch = payload["annotation"].as_array().cloned();
    let first = batch.as_ref().and_then(|list| list.first().cloned());
    let annotation = first.as_ref().unwrap_or(&payload["annotation"]);
    let task_of = |annotation: &Value| -> Value {
        match payload["task"].as_array() {
            Some(tasks) => tasks
                .iter()
                .find(|t| t["id"] == annotation["task"])
                .cloned()
                .unwrap_or_else(|| annotation["task"].clone()),
            None => payload["task"].clone(),
        }
    };
    let task = &task_of(annotation);
    let mut body = match topic {
        "LABEL_CREATED" | "LABEL_UPDATED" => json!({
            "id": text_id(&annotation["id"]),
            "project": project(&payload),
            "dataRow": data_row(task),
            "label": annotation["result"],
            "createdBy": user(&annotation["completed_by"]),
            "createdAt": annotation["created_at"],
            "updatedAt": annotation["updated_at"],
            "secondsToLabel": annotation["lead_time"],
            "skipped": annotation["was_cancelled"],
            "groundTruth": annotation["ground_truth"],
        }),
        "LABEL_DELETED" => {
            let deleted = payload["annotations"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let first = deleted.first().cloned().unwrap_or(Value::Null);
            json!({
                "id": text_id(&first["id"]),
                "project": project(&payload),
                "dataRow": data_row(&first["task"]),
                // A bulk delete is one event: every label it deleted.
                "deletedLabels": deleted.iter().map(|a| json!({"id": text_id(&a["id"]), "dataRow": {"id": text_id(&a["task"])}})).collect::<Vec<_>>(),
            })
        }
        "REVIEW_CREATED" | "REVIEW_UPDATED" | "WORKFLOW_ACTION" => {
            let review = &payload["review"];
            let accepted = review["accepted"].as_bool().unwrap_or(false);
            let mut body = json!({
                "id": text_id(&review["id"]),
                "project": project(&payload),
                "dataRow": data_row(task),
                "label": {"id": text_id(&annotation["id"]), "label": annotation["result"]},
                "score": if accepted { 1 } else { -1 },
                "createdBy": user(&review["created_by"]),
                "createdAt": review["created_at"],
                "updatedAt": review["updated_at"],
                "comment": review["comment"],
            });
            if topic == "WORKFLOW_ACTION" {
                // Approved: the task leaves review; rejected: back to its annotators.
                body["action"] = json!(if accepted { "APPROVE" } else { "REJECT" });
            }
            body
        }
        "REVIEW_DELETED" => {
            let deleted = payload["reviews"].as_array().cloned().unwrap_or_default();
            let first = deleted.first().cloned().unwrap_or(Value::Null);
            json!({
                "id": text_id(&first["id"]),
                "project": project(&payload),
                "deletedBy": user(&payload["acted_by"]),
            })
        }
        _ => return None,
    };
    if let (Some(batch), "LABEL_CREATED") = (&batch, topic) {
        body["labels"] = batch
            .iter()
            .map(|a| json!({"id": text_id(&a["id"]), "dataRow": data_row(&task_of(a)), "label": a["result"]}))
            .collect();
    }
    serde_json::to_vec(&body).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_prefer_their_own_name() {
        let both = vec!["REVIEW_CREATED".to_string(), "WORKFLOW_ACTION".to_string()];
        assert_eq!(topic_of("REVIEW_CREATED", &both), "REVIEW_CREATED");
        assert_eq!(topic_of("REVIEW_UPDATED", &both), "WORKFLOW_ACTION");
        assert_eq!(topic_of("ANNOTATION_CREATED", &both), "ANNOTATION_CREATED");
        assert_eq!(topic_of("PING", &both), "PING");
    }

    #[test]
    fn a_label_body_starts_with_the_label_id() {
        let payload = json!({
            "action": "ANNOTATION_CREATED",
            "annotation": {"id": 7, "result": [], "completed_by": 1},
            "task": {"id": 3, "data": {"text": "a", "external_id": "row-9"}},
            "project": {"id": 2, "title": "P"},
        });
        let body = body("LABEL_CREATED", payload.to_string().as_bytes()).unwrap();
        let text = String::from_utf8(body).unwrap();
        assert!(text.starts_with(r#"{"id":"7","#), "{text}");
        let value: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["dataRow"]["externalId"], "row-9");
        assert_eq!(value["project"], json!({"id": "2", "name": "P"}));
    }

    #[test]
    fn a_batch_of_imported_annotations_is_one_label_created_with_every_label() {
        let topics = vec!["LABEL_CREATED".to_string()];
        assert_eq!(topic_of("ANNOTATIONS_CREATED", &topics), "LABEL_CREATED");
        let payload = json!({
            "action": "ANNOTATIONS_CREATED",
            "annotation": [
                {"id": 7, "task": 3, "result": [{"value": {"choices": ["a"]}}], "completed_by": 1},
                {"id": 8, "task": 4, "result": [{"value": {"choices": ["b"]}}], "completed_by": 1},
            ],
            "task": [{"id": 3, "data": {"text": "x"}}, {"id": 4, "data": {"text": "y"}}],
            "project": {"id": 2, "title": "p"},
        });
        let body: Value =
            serde_json::from_slice(&body("LABEL_CREATED", payload.to_string().as_bytes()).unwrap())
                .unwrap();
        assert_eq!(body["id"], "7");
        assert_eq!(body["dataRow"]["id"], "3");
        assert_eq!(body["labels"][1]["id"], "8");
        assert_eq!(body["labels"][1]["dataRow"]["rowData"]["text"], "y");
    }
}
