//! Reviews (issue 15): reviewers accept, reject and fix annotations through
//! `/api/annotation-reviews/`, each change arrives at a real receiver as REVIEW_CREATED,
//! REVIEW_UPDATED or REVIEWS_DELETED, and the rules hold (not your own annotation, not an
//! annotator).

mod common;

use common::{Receiver, Server, TOKEN, choice, server_receiver_and_project};
use serde_json::{Value, json};

const REVIEWS: &str = "/api/annotation-reviews/";

/// POSTs the review `body` as the user with `token`, which must answer `status`; the answer.
async fn review(server: &Server, token: &str, status: u16, body: Value) -> Value {
    let request = format!("POST {REVIEWS}");
    server.expect_as(token, status, &request, Some(body)).await
}

/// GET `path` as the user with `token`, which must answer `status`; the answer.
async fn get_as(server: &Server, token: &str, status: u16, path: &str) -> Value {
    server
        .expect_as(token, status, &format!("GET {path}"), None)
        .await
}

#[tokio::test]
async fn a_review_arrives_as_an_event_and_a_fix_keeps_the_history() {
    let (server, receiver, project) = server_receiver_and_project("reviewed").await;
    let url = format!("{}/hook", receiver.url);
    server
        .webhook(json!({"url": url, "project": project}))
        .await;
    let task = server.task(project, "t").await["id"].as_i64().unwrap();
    let annotator = server.member("ann@example.com", "AN");
    let reviewer = server.member("rev@example.com", "RE");
    let (first, fixed) = (choice("pos"), choice("neg"));
    let annotation = server
        .annotate_as(&annotator, task, json!({"result": first}))
        .await;
    let annotation = annotation["id"].as_i64().unwrap();

    // Not an annotator, not on your own annotation, not a missing one, accepted required
    // and a boolean; nothing is made.
    let accepted = json!({"annotation": annotation, "accepted": true});
    review(&server, &annotator, 403, accepted.clone()).await;
    get_as(&server, &annotator, 403, REVIEWS).await;
    let missing = json!({"annotation": 999999, "accepted": true});
    review(&server, &reviewer, 404, missing).await;
    let no_verdict = json!({"annotation": annotation});
    review(&server, &reviewer, 400, no_verdict).await;
    let unsure = json!({"annotation": annotation, "accepted": "maybe"});
    review(&server, &reviewer, 400, unsure).await;
    assert_eq!(server.get(REVIEWS).await.as_array().unwrap().len(), 0);

    // Rejected with a fix: the annotation gets the reviewer's result, the review keeps the old.
    let rejection = json!({"annotation": annotation, "accepted": false, "result": fixed, "comment": "it is negative"});
    let rejected = review(&server, &reviewer, 201, rejection).await;
    assert_eq!(rejected["state"], "rejected");
    assert_eq!(rejected["previous_annotation_result"], first);
    let id = rejected["id"].as_i64().unwrap();
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
    server
        .expect(400, "GET /api/annotation-reviews/?task=abc", None)
        .await;

    // Accepted on second thought; another reviewer cannot change it, a manager can.
    let other = server.member("rev2@example.com", "RE");
    let change = format!("PATCH {REVIEWS}{id}/");
    let accept = || Some(json!({"accepted": true}));
    server.expect_as(&other, 403, &change, accept()).await;
    let updated = server.expect_as(&reviewer, 200, &change, accept()).await;
    assert_eq!(updated["state"], "accepted");
    assert_eq!(updated["comment"], "it is negative", "kept");
    let got = receiver.wait_for("REVIEW_UPDATED", 1).await;
    assert_eq!(got[0].body["review"]["accepted"], true);

    // Deleted by a manager (the owner here).
    let delete = format!("DELETE {REVIEWS}{id}/");
    server.expect_as(TOKEN, 204, &delete, None).await;
    let deleted = receiver.wait_for("REVIEWS_DELETED", 1).await;
    assert_eq!(deleted[0].body["reviews"][0]["id"], id);
    get_as(&server, TOKEN, 404, &format!("{REVIEWS}{id}/")).await;

    // Another organization sees none of it.
    let stranger = server.other_organization("x@other.example");
    review(&server, &stranger, 404, accepted).await;

    // The catalogue lists the actions.
    let info = server.get("/api/webhooks/info/").await;
    for action in ["REVIEW_CREATED", "REVIEW_UPDATED", "REVIEWS_DELETED"] {
        assert!(
            info.get(action).is_some(),
            "{action} in /api/webhooks/info/"
        );
    }
}

/// The project's `review_required`, the review stream (`/api/projects/{id}/next-review/`)
/// and the rejected queue: a rejected task goes back to its annotator, who changes the
/// annotation, which waits for review again; only accepted annotations finish tasks when
/// review is required, and rejected ones never do.
#[tokio::test]
async fn rejected_work_goes_back_to_its_annotator_and_review_can_be_required() {
    let server = Server::start();
    let config = r#"<View><Text name="text" value="$text"/><Choices name="label" toName="text"><Choice value="pos"/><Choice value="neg"/></Choices></View>"#;
    server
        .expect_field_error(
            "POST /api/projects/",
            Some(json!({"title": "bad", "label_config": config, "review_required": "yes"})),
            "review_required",
        )
        .await;
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
        let task = server.task(project, text).await;
        tasks.push(task["id"].as_i64().unwrap());
    }
    let receiver = Receiver::start().await;
    let url = format!("{}/hook", receiver.url);
    let actions = json!(["TASK_COMPLETED"]);
    let subscription =
        json!({"url": url, "project": project, "send_for_all_actions": false, "actions": actions});
    server.webhook(subscription).await;
    let annotator = server.member("ann@example.com", "AN");
    let reviewer = server.member("rev@example.com", "RE");
    let next = format!("/api/projects/{project}/next/");
    let next_review = format!("/api/projects/{project}/next-review/");

    // Nothing waits for review yet; annotators have no review stream.
    get_as(&server, &reviewer, 404, &next_review).await;
    get_as(&server, &annotator, 403, &next_review).await;

    // The annotator labels the first task: submitted, but not finished before a review.
    let first = get_as(&server, &annotator, 200, &next).await;
    assert_eq!(first["id"], tasks[0]);
    let annotation = server
        .annotate_as(&annotator, tasks[0], json!({"result": choice("pos")}))
        .await;
    let annotation = annotation["id"].as_i64().unwrap();
    let task = server.get(&format!("/api/tasks/{}/", tasks[0])).await;
    assert_eq!(task["is_labeled"], false, "waiting for review");
    assert_eq!(server.get_project(project).await["finished_task_number"], 0);

    // The reviewer is offered it, rejects it with a comment.
    let waiting = get_as(&server, &reviewer, 200, &next_review).await;
    assert_eq!(waiting["annotation"], annotation);
    assert_eq!(waiting["id"], tasks[0]);
    assert_eq!(waiting["annotations"].as_array().unwrap().len(), 1);
    assert_eq!(waiting["annotations"][0]["result"], choice("pos"));
    let rejection =
        json!({"annotation": annotation, "accepted": false, "comment": "it is negative"});
    review(&server, &reviewer, 201, rejection).await;
    // Reviewed: no longer waiting.
    get_as(&server, &reviewer, 404, &next_review).await;

    // The task is back in the annotator's stream, first, with their annotation and why.
    let back = get_as(&server, &annotator, 200, &next).await;
    assert_eq!(back["id"], tasks[0]);
    assert_eq!(back["queue"], "Rejected queue");
    assert_eq!(back["annotations"][0]["id"], annotation);
    assert_eq!(back["rejection"]["comment"], "it is negative");
    // Nobody else gets it meanwhile (its place is the annotator's).
    let other = server.member("ann2@example.com", "AN");
    let theirs = get_as(&server, &other, 200, &next).await;
    assert_eq!(theirs["id"], tasks[1]);
    let unlock = format!("DELETE /api/tasks/{}/lock", tasks[1]);
    server.expect_as(&other, 204, &unlock, None).await;

    // They change it: it leaves their queue and waits for review again.
    let change = format!("PATCH /api/annotations/{annotation}/");
    let negative = json!({"result": choice("neg")});
    server
        .expect_as(&annotator, 200, &change, Some(negative))
        .await;
    let then = get_as(&server, &annotator, 200, &next).await;
    assert_eq!(then["id"], tasks[1], "not the rejected task any more");
    assert!(then.get("rejection").is_none());
    let again = get_as(&server, &reviewer, 200, &next_review).await;
    assert_eq!(again["annotation"], annotation);
    assert_eq!(again["annotations"][0]["result"], choice("neg"));

    // Accepted: now the task is finished.
    let acceptance = json!({"annotation": annotation, "accepted": true});
    review(&server, &reviewer, 201, acceptance).await;
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
    let stats = server.get_project(project).await;
    assert_eq!(stats["finished_task_number"], 1);

    // The reviewer's own annotation is never offered to them.
    server
        .annotate_as(&reviewer, tasks[1], json!({"result": choice("pos")}))
        .await;
    // Only their own waits.
    get_as(&server, &reviewer, 404, &next_review).await;
    assert_eq!(
        server.get(&format!("/api/tasks/{}/", tasks[1])).await["is_labeled"],
        false
    );

    // Review no longer required: submitted annotations count again (the task is
    // recounted at once), rejected ones still do not.
    let patched = server
        .patch_project(project, json!({"review_required": false}))
        .await;
    assert_eq!(patched["review_required"], false);
    assert_eq!(patched["finished_task_number"], 2);
    let rejection = json!({"annotation": annotation, "accepted": false});
    // Annotators do not review.
    review(&server, &annotator, 403, rejection.clone()).await;
    review(&server, TOKEN, 201, rejection).await;
    assert_eq!(
        server.get_project(project).await["finished_task_number"],
        1,
        "a rejected annotation does not finish its task"
    );
}
