//! ML backends: CRUD, the `<url>/webhook` project webhook, `train`, and training on a
//! threshold of new annotations.

mod common;

use common::server_receiver_and_project;
use serde_json::json;

#[tokio::test]
async fn ml_backends_get_their_webhook_and_train() {
    let (server, model, project) = server_receiver_and_project("ml").await;
    let backend = server
        .create(
            "/api/ml/",
            json!({"url": format!("{}/model/", model.url), "project": project, "title": "m"}),
        )
        .await;
    assert_eq!(backend["project"], project);
    let id = backend["id"].as_i64().unwrap();
    let hooks = server
        .get(&format!("/api/webhooks/?project={project}"))
        .await;
    assert_eq!(hooks.as_array().unwrap().len(), 1);
    assert_eq!(hooks[0]["url"], format!("{}/model/webhook", model.url));
    assert_eq!(hooks[0]["send_payload"], true);
    assert_eq!(hooks[0]["send_for_all_actions"], true);

    // Annotation events reach the model's /webhook.
    let task = server.task(project, "x").await;
    server.annotate(&task["id"], json!({"result": []})).await;
    let got = model.wait_for("ANNOTATION_CREATED", 1).await;
    assert_eq!(got[0].path, "/model/webhook");

    // train → START_TRAINING with the project.
    server
        .expect(200, &format!("POST /api/ml/{id}/train"), None)
        .await;
    let training = model.wait_for("START_TRAINING", 1).await;
    assert_eq!(training[0].body["project"]["id"], project);
    assert!(training[0].body["project"]["label_config"].is_string());
    assert!(
        !training[0].header("webhook-signature").is_empty(),
        "signed like every delivery"
    );

    let listed = server.get(&format!("/api/ml/?project={project}")).await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    let patched = server
        .expect(
            200,
            &format!("PATCH /api/ml/{id}"),
            Some(json!({"title": "renamed"})),
        )
        .await;
    assert_eq!(patched["title"], "renamed");
    for (input, field) in [
        (json!({"project": project}), "url"),
        (json!({"url": "x", "project": project}), "url"),
        (json!({"url": model.url}), "project"),
    ] {
        server
            .expect_field_error("POST /api/ml/", Some(input.clone()), field)
            .await;
    }
    // Label Studio's words at the field at fault.
    for (input, errors) in [
        (
            json!({"url": model.url, "project": "one"}),
            json!({"project": ["Incorrect type. Expected pk value, received str."]}),
        ),
        (
            json!({"url": model.url, "project": project, "is_interactive": "yes"}),
            json!({"is_interactive": ["Must be a valid boolean."]}),
        ),
        (
            json!({"url": model.url, "project": project, "timeout": "slow"}),
            json!({"timeout": ["A valid number is required."]}),
        ),
        (
            json!({"url": model.url, "project": project, "timeout": -1}),
            json!({"timeout": ["A valid positive number is required."]}),
        ),
        (
            json!({"url": model.url, "project": project, "extra_params": [1]}),
            json!({"extra_params": ["Expected a dictionary of items but got type \"list\"."]}),
        ),
        (
            json!({"url": 5, "project": project}),
            json!({"url": ["Not a valid string."]}),
        ),
    ] {
        server.expect_errors("POST /api/ml/", input, &errors).await;
    }
    // The project's id may be a string of digits; an update's project is ignored.
    let second = server
        .create(
            "/api/ml/",
            json!({"url": format!("{}/second", model.url), "project": project.to_string()}),
        )
        .await;
    assert_eq!(second["project"], project);
    let patched = server
        .expect(
            200,
            &format!("PATCH /api/ml/{}", second["id"]),
            Some(json!({"project": "elsewhere", "title": "second"})),
        )
        .await;
    assert_eq!(patched["project"], project);
    server
        .expect(204, &format!("DELETE /api/ml/{}", second["id"]), None)
        .await;
    server
        .expect(204, &format!("DELETE /api/ml/{id}"), None)
        .await;
    assert_eq!(
        server
            .get(&format!("/api/webhooks/?project={project}"))
            .await,
        json!([])
    );
    server
        .expect(404, &format!("POST /api/ml/{id}/train"), None)
        .await;
}

#[tokio::test]
async fn training_starts_each_time_enough_annotations_accumulate() {
    let (server, model, project) = server_receiver_and_project("threshold").await;
    server
        .patch_project(project, json!({"min_annotations_to_start_training": 2}))
        .await;
    server
        .create("/api/ml/", json!({"url": model.url, "project": project}))
        .await;
    let task = server.task(project, "x").await;
    let annotate = |cancelled: bool| {
        let path = format!("/api/tasks/{}/annotations/", task["id"]);
        let server = &server;
        async move {
            server
                .create(&path, json!({"result": [], "was_cancelled": cancelled}))
                .await;
        }
    };
    annotate(false).await;
    annotate(true).await; // a skip does not count
    annotate(false).await; // second counted: training
    model.wait_for("START_TRAINING", 1).await;
    annotate(false).await;
    // An import with three annotations: 1 + 3 = 4 reaches the threshold: one training, and
    // the count starts over at 4 mod 2 = 0.
    server
        .import(
            project,
            json!([
                {"data": {"text": "y"}, "annotations": [{"result": []}]},
                {"data": {"text": "z"}, "annotations": [{"result": []}, {"result": []}]},
            ]),
        )
        .await;
    model.wait_for("START_TRAINING", 2).await;
    // One more annotation stays below the threshold; a second one reaches it.
    let path = format!("/api/tasks/{}/annotations/", task["id"]);
    server.create(&path, json!({"result": []})).await;
    // The outbox is written with the annotation: its log is exact at once.
    let hooks = server
        .get(&format!("/api/webhooks/?project={project}"))
        .await;
    let log = format!(
        "/api/webhooks/{}/deliveries?action=START_TRAINING",
        hooks[0]["id"]
    );
    assert_eq!(server.get(&log).await["count"], 2);
    server.create(&path, json!({"result": []})).await;
    model.wait_for("START_TRAINING", 3).await;
}
