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
