//! Reviews (issue 15): reviewers accept, reject and fix annotations through
//! `/api/annotation-reviews/`, each change arrives at a real receiver as REVIEW_CREATED,
//! REVIEW_UPDATED or REVIEWS_DELETED, and the rules hold (not your own annotation, not an
//! annotator).

mod common;

use common::{Receiver, Server, TOKEN};
use serde_json::json;

#[tokio::test]
async fn a_review_arrives_as_an_event_and_a_fix_keeps_the_history() {
    let server = Server::start();
    let receiver = Receiver::start().await;
    let project = server.project("reviewed").await;
    server
        .create(
            "/api/webhooks/",
            json!({"url": format!("{}/hook", receiver.url), "project": project}),
        )
        .await;
    let task = server.task(project, "t").await["id"].as_i64().unwrap();
    let annotator = server.member("ann@example.com", "AN");
    let reviewer = server.member("rev@example.com", "RE");
    let first = json!([{"from_name": "label", "to_name": "text", "type": "choices", "value": {"choices": ["pos"]}}]);
    let fixed = json!([{"from_name": "label", "to_name": "text", "type": "choices", "value": {"choices": ["neg"]}}]);
    let (status, annotation) = server
        .call_as(
            &annotator,
            "POST",
            &format!("/api/tasks/{task}/annotations/"),
            Some(json!({"result": first})),
        )
        .await;
    assert_eq!(status, 201);
    let annotation = annotation["id"].as_i64().unwrap();

    // Not an annotator, not on your own annotation, not a missing one; nothing is made.
    let (status, _) = server
        .call_as(
            &annotator,
            "POST",
            "/api/annotation-reviews/",
            Some(json!({"annotation": annotation, "accepted": true})),
        )
        .await;
    assert_eq!(status, 403);
    let (status, body) = server
        .call_as(&annotator, "GET", "/api/annotation-reviews/", None)
        .await;
    assert_eq!(status, 403, "{body}");
    let (status, _) = server
        .call_as(
            &reviewer,
            "POST",
            "/api/annotation-reviews/",
            Some(json!({"annotation": 999999, "accepted": true})),
        )
        .await;
    assert_eq!(status, 404);
    let (status, body) = server
        .call_as(
            &reviewer,
            "POST",
            "/api/annotation-reviews/",
            Some(json!({"annotation": annotation})),
        )
        .await;
    assert_eq!(status, 400, "accepted is required: {body}");
    let (status, _) = server
        .call_as(
            &reviewer,
            "POST",
            "/api/annotation-reviews/",
            Some(json!({"annotation": annotation, "accepted": "maybe"})),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        server
            .get("/api/annotation-reviews/")
            .await
            .as_array()
            .unwrap()
            .len(),
        0
    );

    // Rejected with a fix: the annotation gets the reviewer's result, the review keeps the old.
    let (status, review) = server
        .call_as(&reviewer, "POST", "/api/annotation-reviews/", Some(json!({"annotation": annotation, "accepted": false, "result": fixed, "comment": "it is negative"})))
        .await;
    assert_eq!(status, 201, "{review}");
    assert_eq!(review["state"], "rejected");
    assert_eq!(review["previous_annotation_result"], first);
    let id = review["id"].as_i64().unwrap();
    let now = server.get(&format!("/api/annotations/{annotation}/")).await;
    assert_eq!(now["result"], fixed);

    let created = receiver.wait_for("REVIEW_CREATED", 1).await;
    let body = &created[0].body;
    assert_eq!(body["review"]["id"], id);
    assert_eq!(body["review"]["accepted"], false);
    assert_eq!(body["annotation"]["id"], annotation);
    assert_eq!(body["annotation"]["result"], fixed);
    assert_eq!(body["task"]["id"], task);
    assert_eq!(body["project"]["id"], project);
    assert!(body["acted_by"].as_i64().is_some());

    // Filters.
    for query in [
        format!("annotation={annotation}"),
        format!("task={task}"),
        format!("project={project}"),
        format!("annotation__task__project={project}"),
    ] {
        let found = server
            .get(&format!("/api/annotation-reviews/?{query}"))
            .await;
        assert_eq!(found.as_array().unwrap().len(), 1, "{query}");
    }
    let none = server.get("/api/annotation-reviews/?project=999999").await;
    assert_eq!(none.as_array().unwrap().len(), 0);
    let (status, _) = server
        .call("GET", "/api/annotation-reviews/?task=abc", None)
        .await;
    assert_eq!(status, 400);

    // Accepted on second thought; another reviewer cannot change it, a manager can.
    let other = server.member("rev2@example.com", "RE");
    let (status, _) = server
        .call_as(
            &other,
            "PATCH",
            &format!("/api/annotation-reviews/{id}/"),
            Some(json!({"accepted": true})),
        )
        .await;
    assert_eq!(status, 403);
    let (status, updated) = server
        .call_as(
            &reviewer,
            "PATCH",
            &format!("/api/annotation-reviews/{id}/"),
            Some(json!({"accepted": true})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(updated["state"], "accepted");
    assert_eq!(updated["comment"], "it is negative", "kept");
    let got = receiver.wait_for("REVIEW_UPDATED", 1).await;
    assert_eq!(got[0].body["review"]["accepted"], true);

    // Deleted by a manager (the owner here).
    let (status, _) = server
        .call_as(
            TOKEN,
            "DELETE",
            &format!("/api/annotation-reviews/{id}/"),
            None,
        )
        .await;
    assert_eq!(status, 204);
    let deleted = receiver.wait_for("REVIEWS_DELETED", 1).await;
    assert_eq!(deleted[0].body["reviews"][0]["id"], id);
    let (status, _) = server
        .call("GET", &format!("/api/annotation-reviews/{id}/"), None)
        .await;
    assert_eq!(status, 404);

    // Another organization sees none of it.
    let stranger = server.other_organization("x@other.example");
    let (status, _) = server
        .call_as(
            &stranger,
            "POST",
            "/api/annotation-reviews/",
            Some(json!({"annotation": annotation, "accepted": true})),
        )
        .await;
    assert_eq!(status, 404);

    // The catalogue lists the actions.
    let info = server.get("/api/webhooks/info/").await;
    for action in ["REVIEW_CREATED", "REVIEW_UPDATED", "REVIEWS_DELETED"] {
        assert!(
            info.get(action).is_some(),
            "{action} in /api/webhooks/info/"
        );
    }
}

fn choice(value: &str) -> serde_json::Value {
    json!([{"from_name": "label", "to_name": "text", "type": "choices", "value": {"choices": [value]}}])
}

/// The project's `review_required`, the review stream (`/api/projects/{id}/next-review/`)
/// and the rejected queue: a rejected task goes back to its annotator, who changes the
/// annotation, which waits for review again; only accepted annotations finish tasks when
/// review is required, and rejected ones never do.
#[tokio::test]
async fn rejected_work_goes_back_to_its_annotator_and_review_can_be_required() {
    let server = Server::start();
    let config = r#"<View><Text name="text" value="$text"/><Choices name="label" toName="text"><Choice value="pos"/><Choice value="neg"/></Choices></View>"#;
    let (status, body) = server
        .call(
            "POST",
            "/api/projects/",
            Some(json!({"title": "bad", "label_config": config, "review_required": "yes"})),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["validation_errors"]["review_required"].is_array(),
        "{body}"
    );
    let created = server
        .create(
            "/api/projects/",
            json!({"title": "reviewed", "label_config": config, "review_required": true}),
        )
        .await;
    assert_eq!(created["review_required"], true);
    let project = created["id"].as_i64().unwrap();
    let mut tasks = Vec::new();
    for text in ["one", "two"] {
        let task = server
            .create(
                "/api/tasks/",
                json!({"project": project, "data": {"text": text}}),
            )
            .await;
        tasks.push(task["id"].as_i64().unwrap());
    }
    let receiver = Receiver::start().await;
    server
        .create(
            "/api/webhooks/",
            json!({"url": format!("{}/hook", receiver.url), "project": project,
                   "send_for_all_actions": false, "actions": ["TASK_COMPLETED"]}),
        )
        .await;
    let annotator = server.member("ann@example.com", "AN");
    let reviewer = server.member("rev@example.com", "RE");
    let next = format!("/api/projects/{project}/next/");
    let next_review = format!("/api/projects/{project}/next-review/");

    // Nothing waits for review yet; annotators have no review stream.
    let (status, _) = server.call_as(&reviewer, "GET", &next_review, None).await;
    assert_eq!(status, 404);
    let (status, body) = server.call_as(&annotator, "GET", &next_review, None).await;
    assert_eq!(status, 403, "{body}");

    // The annotator labels the first task: submitted, but not finished before a review.
    let (status, first) = server.call_as(&annotator, "GET", &next, None).await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["id"], tasks[0]);
    let (status, annotation) = server
        .call_as(
            &annotator,
            "POST",
            &format!("/api/tasks/{}/annotations/", tasks[0]),
            Some(json!({"result": choice("pos")})),
        )
        .await;
    assert_eq!(status, 201);
    let annotation = annotation["id"].as_i64().unwrap();
    let task = server.get(&format!("/api/tasks/{}/", tasks[0])).await;
    assert_eq!(task["is_labeled"], false, "waiting for review");
    assert_eq!(
        server.get(&format!("/api/projects/{project}/")).await["finished_task_number"],
        0
    );

    // The reviewer is offered it, rejects it with a comment.
    let (status, waiting) = server.call_as(&reviewer, "GET", &next_review, None).await;
    assert_eq!(status, 200, "{waiting}");
    assert_eq!(waiting["annotation"], annotation);
    assert_eq!(waiting["id"], tasks[0]);
    assert_eq!(waiting["annotations"].as_array().unwrap().len(), 1);
    assert_eq!(waiting["annotations"][0]["result"], choice("pos"));
    let (status, _) = server
        .call_as(
            &reviewer,
            "POST",
            "/api/annotation-reviews/",
            Some(json!({"annotation": annotation, "accepted": false, "comment": "it is negative"})),
        )
        .await;
    assert_eq!(status, 201);
    let (status, _) = server.call_as(&reviewer, "GET", &next_review, None).await;
    assert_eq!(status, 404, "reviewed: no longer waiting");

    // The task is back in the annotator's stream, first, with their annotation and why.
    let (status, back) = server.call_as(&annotator, "GET", &next, None).await;
    assert_eq!(status, 200, "{back}");
    assert_eq!(back["id"], tasks[0]);
    assert_eq!(back["queue"], "Rejected queue");
    assert_eq!(back["annotations"][0]["id"], annotation);
    assert_eq!(back["rejection"]["comment"], "it is negative");
    // Nobody else gets it meanwhile (its place is the annotator's).
    let other = server.member("ann2@example.com", "AN");
    let (status, theirs) = server.call_as(&other, "GET", &next, None).await;
    assert_eq!(status, 200);
    assert_eq!(theirs["id"], tasks[1]);
    let (status, _) = server
        .call_as(
            &other,
            "DELETE",
            &format!("/api/tasks/{}/lock", tasks[1]),
            None,
        )
        .await;
    assert_eq!(status, 204);

    // They change it: it leaves their queue and waits for review again.
    let (status, _) = server
        .call_as(
            &annotator,
            "PATCH",
            &format!("/api/annotations/{annotation}/"),
            Some(json!({"result": choice("neg")})),
        )
        .await;
    assert_eq!(status, 200);
    let (status, then) = server.call_as(&annotator, "GET", &next, None).await;
    assert_eq!(status, 200);
    assert_eq!(then["id"], tasks[1], "not the rejected task any more");
    assert!(then.get("rejection").is_none());
    let (status, again) = server.call_as(&reviewer, "GET", &next_review, None).await;
    assert_eq!(status, 200);
    assert_eq!(again["annotation"], annotation);
    assert_eq!(again["annotations"][0]["result"], choice("neg"));

    // Accepted: now the task is finished.
    let (status, _) = server
        .call_as(
            &reviewer,
            "POST",
            "/api/annotation-reviews/",
            Some(json!({"annotation": annotation, "accepted": true})),
        )
        .await;
    assert_eq!(status, 201);
    let task = server.get(&format!("/api/tasks/{}/", tasks[0])).await;
    assert_eq!(task["is_labeled"], true);
    // The accepting review finished the task: TASK_COMPLETED, by the reviewer.
    let completed = receiver.wait_for("TASK_COMPLETED", 1).await;
    assert_eq!(completed[0].body["task"]["id"], tasks[0]);
    let reviewer_id = server
        .call_as(&reviewer, "GET", "/api/current-user/whoami", None)
        .await
        .1["id"]
        .clone();
    assert_eq!(completed[0].body["acted_by"], reviewer_id);
    let stats = server.get(&format!("/api/projects/{project}/")).await;
    assert_eq!(stats["finished_task_number"], 1);

    // The reviewer's own annotation is never offered to them.
    let (status, _) = server
        .call_as(
            &reviewer,
            "POST",
            &format!("/api/tasks/{}/annotations/", tasks[1]),
            Some(json!({"result": choice("pos")})),
        )
        .await;
    assert_eq!(status, 201);
    let (status, _) = server.call_as(&reviewer, "GET", &next_review, None).await;
    assert_eq!(status, 404, "only their own waits");
    assert_eq!(
        server.get(&format!("/api/tasks/{}/", tasks[1])).await["is_labeled"],
        false
    );

    // Review no longer required: submitted annotations count again (the task is
    // recounted at once), rejected ones still do not.
    let (status, patched) = server
        .call(
            "PATCH",
            &format!("/api/projects/{project}/"),
            Some(json!({"review_required": false})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(patched["review_required"], false);
    assert_eq!(patched["finished_task_number"], 2);
    let (status, _) = server
        .call_as(
            &annotator,
            "POST",
            "/api/annotation-reviews/",
            Some(json!({"annotation": annotation, "accepted": false})),
        )
        .await;
    assert_eq!(status, 403, "annotators do not review");
    let (status, _) = server
        .call(
            "POST",
            "/api/annotation-reviews/",
            Some(json!({"annotation": annotation, "accepted": false})),
        )
        .await;
    assert_eq!(status, 201);
    assert_eq!(
        server.get(&format!("/api/projects/{project}/")).await["finished_task_number"],
        1,
        "a rejected annotation does not finish its task"
    );
}
