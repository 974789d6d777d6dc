//! Webhooks end to end: configuration API, every event with its payload against the
//! recorded Label Studio requests, matching rules, and delivery from the outbox to a real
//! receiver on loopback.

mod common;

/// An event's body has Label Studio's shape, plus labelhook's `acted_by`: the id of the
/// user whose request caused it.
/// `recorded` names the recorded request (`TASKS_CREATED.json`).
fn assert_event_shape(recorded: &str, body: &serde_json::Value) {
    assert!(body["acted_by"].as_i64().is_some(), "acted_by: {body}");
    let mut body = body.clone();
    body.as_object_mut().unwrap().remove("acted_by");
    assert_same_shape(&reference(recorded)["body"], &body);
}

use std::sync::{Arc, Mutex};

use common::{
    Behaviour, Receiver, Server, assert_same_shape, assert_shape_with_extras, choice, ids_of,
    reference, selected, server_and_project, server_receiver_and_project,
};
use serde_json::{Value, json};

/// `body` without the given keys of each item of its list `list` (labelhook's additions
/// to a Label Studio payload, left out to compare the rest with the recording).
fn without_item_keys(body: &Value, list: &str, keys: &[&str]) -> Value {
    let mut body = body.clone();
    for item in body[list].as_array_mut().into_iter().flatten() {
        for key in keys {
            item.as_object_mut().map(|item| item.remove(*key));
        }
    }
    body
}

async fn hook(server: &Server, body: Value) -> Value {
    server.webhook(body).await
}

// ---------------------------------------------------------------- configuration

#[tokio::test]
async fn webhook_configuration_matches_label_studio() {
    let (server, project) = server_and_project("cfg").await;
    let created = hook(
        &server,
        json!({"url": "http://127.0.0.1:9901/ref", "project": project, "headers": {"X-Token": "abc"}, "send_for_all_actions": false, "actions": ["TASKS_CREATED"]}),
    )
    .await;
    assert_shape_with_extras(&reference("api/webhook_create.json")["body"], &created);
    assert!(created["secret"].as_str().unwrap().starts_with("whsec_"));
    assert_eq!(created["consecutive_failures"], 0);
    let id = created["id"].as_i64().unwrap();

    let got = server.get(&format!("/api/webhooks/{id}/")).await;
    assert_shape_with_extras(&reference("api/webhook_get.json")["body"], &got);
    assert!(
        got.get("secret").is_none(),
        "the secret is shown only at creation"
    );

    // PATCH replaces actions; one that omits them keeps them.
    let patched = server
        .expect(
            200,
            &format!("PATCH /api/webhooks/{id}/"),
            Some(json!({"actions": ["ANNOTATION_CREATED", "ANNOTATION_UPDATED"]})),
        )
        .await;
    assert_shape_with_extras(&reference("api/webhook_patch.json")["body"], &patched);
    assert_eq!(
        patched["actions"],
        json!(["ANNOTATION_CREATED", "ANNOTATION_UPDATED"])
    );
    let put = server
        .expect(
            200,
            &format!("PUT /api/webhooks/{id}/"),
            Some(json!({"url": "http://127.0.0.1:9901/ref2", "send_payload": false})),
        )
        .await;
    assert_eq!(put["url"], "http://127.0.0.1:9901/ref2");
    assert_eq!(put["send_payload"], false);
    assert_eq!(
        put["actions"],
        json!(["ANNOTATION_CREATED", "ANNOTATION_UPDATED"]),
        "omitted actions are kept"
    );
    assert_eq!(put["headers"], json!({"X-Token": "abc"}));

    // The scope is fixed at creation: `project` is read-only afterwards, so whatever is
    // sent there (another project, null, a wrong type) is ignored, as Label Studio ignores
    // a read-only field.
    let other = server.project("other").await;
    for sent in [json!(project), json!(other), json!(null), json!("one")] {
        let body = server
            .expect(
                200,
                &format!("PATCH /api/webhooks/{id}/"),
                Some(json!({"project": sent, "send_payload": true})),
            )
            .await;
        assert_eq!(body["project"], project, "{sent}: {body}");
    }

    // List: all, one project, organization-level.
    let org = hook(&server, json!({"url": "http://127.0.0.1:9902/org"})).await;
    assert!(org["project"].is_null());
    let all = server.get("/api/webhooks/").await;
    assert_shape_with_extras(&reference("api/webhooks_list.json")["body"][3], &all[0]);
    assert_eq!(all.as_array().unwrap().len(), 2);
    let of_project = server
        .get(&format!("/api/webhooks/?project={project}"))
        .await;
    assert_eq!(of_project.as_array().unwrap().len(), 1);
    assert_eq!(of_project[0]["id"], id);
    let org_level = server.get("/api/webhooks/?project=null").await;
    assert_eq!(org_level.as_array().unwrap().len(), 1);
    assert_eq!(org_level[0]["id"], org["id"]);

    server.assert_deleted(&format!("/api/webhooks/{id}/")).await;
}

#[tokio::test]
async fn webhook_validation_names_the_field() {
    let (server, project) = server_and_project("val").await;
    let body = server
        .expect(
            400,
            "POST /api/webhooks/",
            Some(json!({"url": "http://x.example/", "project": project, "actions": ["NOPE"]})),
        )
        .await;
    assert_same_shape(
        &reference("api/webhook_create_bad_action.json")["body"],
        &body,
    );
    assert_eq!(
        body["validation_errors"]["actions"]["0"][0],
        "\"NOPE\" is not a valid choice."
    );
    let body = server
        .expect(
            400,
            "POST /api/webhooks/",
            Some(json!({"url": "not a url", "project": project})),
        )
        .await;
    assert_same_shape(&reference("api/webhook_create_bad_url.json")["body"], &body);

    let many: serde_json::Map<String, Value> =
        (0..11).map(|i| (format!("H{i}"), json!("v"))).collect();
    let long_url = format!("http://example.com/{}", "a".repeat(2040));
    let cases = [
        (
            json!({"url": "ftp://example.com/", "project": project}),
            "url",
        ),
        (json!({"url": long_url, "project": project}), "url"),
        (json!({"project": project}), "url"),
        (json!({"url": 5, "project": project}), "url"),
        (
            json!({"url": "http://example.com/", "project": project, "headers": many}),
            "headers",
        ),
        (
            json!({"url": "http://example.com/", "project": project, "headers": {"Bad Name": "v"}}),
            "headers",
        ),
        (
            json!({"url": "http://example.com/", "project": project, "headers": {"X-A": "v\r\nInjected: 1"}}),
            "headers",
        ),
        (
            json!({"url": "http://example.com/", "project": project, "headers": {"X-A": 1}}),
            "headers",
        ),
        (
            json!({"url": "http://example.com/", "project": project, "headers": ["X-A"]}),
            "headers",
        ),
        (
            json!({"url": "http://example.com/", "project": project, "actions": ["PROJECT_CREATED"]}),
            "actions",
        ),
        (
            json!({"url": "http://example.com/", "project": project, "actions": "TASKS_CREATED"}),
            "actions",
        ),
        (
            json!({"url": "http://example.com/", "project": project, "is_active": "yes"}),
            "is_active",
        ),
        (
            json!({"url": "http://example.com/", "project": "one"}),
            "project",
        ),
    ];
    for (input, field) in cases {
        server
            .expect_nested_field_error("POST /api/webhooks/", Some(input.clone()), field)
            .await;
    }
    // Unknown fields are ignored; a missing project is 404.
    hook(
        &server,
        json!({"url": "http://example.com/", "project": project, "surprise": true}),
    )
    .await;
    server
        .expect(
            404,
            "POST /api/webhooks/",
            Some(json!({"url": "http://example.com/", "project": 999})),
        )
        .await;
    // Organization-only actions are fine without a project.
    hook(
        &server,
        json!({"url": "http://example.com/", "actions": ["PROJECT_CREATED", "PROJECT_DELETED"]}),
    )
    .await;

    // The project's id may be a string of digits, as Django's primary-key fields accept.
    let by_string = hook(
        &server,
        json!({"url": "http://example.com/s", "project": project.to_string()}),
    )
    .await;
    assert_eq!(by_string["project"], project);

    // Label Studio's (Django REST framework's) words, at the field (and index) at fault.
    let url = "http://example.com/";
    let messages = [
        (
            json!({"project": project}),
            json!({"url": ["This field is required."]}),
        ),
        (
            json!({"url": url, "project": project, "is_active": "yes"}),
            json!({"is_active": ["Must be a valid boolean."]}),
        ),
        (
            json!({"url": url, "project": "one"}),
            json!({"project": ["Incorrect type. Expected pk value, received str."]}),
        ),
        (
            json!({"url": url, "project": [project]}),
            json!({"project": ["Incorrect type. Expected pk value, received list."]}),
        ),
        (
            json!({"url": url, "project": project, "actions": "TASKS_CREATED"}),
            json!({"actions": ["Expected a list of items but got type \"str\"."]}),
        ),
        (
            json!({"url": url, "project": project, "actions": ["TASKS_CREATED", 7]}),
            json!({"actions": {"1": ["\"7\" is not a valid choice."]}}),
        ),
        (
            json!({"url": url, "project": project, "headers": ["X-A"]}),
            json!({"headers": ["Expected a dictionary of items but got type \"list\"."]}),
        ),
        (
            json!({"url": url, "project": project, "send_payload": null, "url_x": 1, "is_active": 1}),
            json!({"is_active": ["Must be a valid boolean."]}),
        ),
    ];
    for (input, errors) in messages {
        server
            .expect_errors("POST /api/webhooks/", input, &errors)
            .await;
    }
    let body = server
        .expect(400, "POST /api/webhooks/", Some(json!([{"url": url}])))
        .await;
    assert_eq!(
        body["validation_errors"],
        json!({"non_field_errors": ["Invalid data. Expected a dictionary, but got list."]})
    );
}

#[tokio::test]
async fn organization_webhooks_can_be_switched_off_by_setting() {
    let server = Server::start_with(&[("LABEL_STUDIO_ALLOW_ORGANIZATION_WEBHOOKS", "false")]);
    let body = server
        .expect(
            400,
            "POST /api/webhooks/",
            Some(json!({"url": "http://example.com/"})),
        )
        .await;
    assert!(
        body["validation_errors"]["project"][0]
            .as_str()
            .unwrap()
            .contains("LABEL_STUDIO_ALLOW_ORGANIZATION_WEBHOOKS"),
        "{body}"
    );
    let project = server.project("p").await;
    hook(
        &server,
        json!({"url": "http://example.com/", "project": project}),
    )
    .await;
}

/// The action catalogue (GET /api/webhooks/info/ with `query`; no token needed).
async fn catalogue(server: &Server, query: &str) -> Value {
    let response = server
        .get_public(&format!("/api/webhooks/info/{query}"))
        .await;
    response.json().await.expect("the catalogue as JSON")
}

#[tokio::test]
async fn info_lists_the_catalogue() {
    let server = Server::start();
    let info = catalogue(&server, "").await;
    // Label Studio's catalogue, Label Studio Enterprise's review events, then labelhook's
    // alerts (organization-only).
    let mut expected = reference("api/webhooks_info.json")["body"].clone();
    for (id, name, key) in [
        ("REVIEW_CREATED", "Review created", "review"),
        ("REVIEW_UPDATED", "Review updated", "review"),
        ("REVIEWS_DELETED", "Reviews deleted", "reviews"),
    ] {
        expected[id] = serde_json::json!({"name": name, "description": "", "key": key, "organization-only": false});
    }
    // labelhook's TASK_COMPLETED (issue 18), described.
    let completed = &info["TASK_COMPLETED"];
    assert_eq!(completed["name"], "Task completed");
    assert_eq!(completed["key"], "task");
    assert_eq!(completed["organization-only"], false);
    assert!(!completed["description"].as_str().unwrap().is_empty());
    expected["TASK_COMPLETED"] = completed.clone();
    for (id, name) in [
        ("WEBHOOK_FAILING", "Webhook failing"),
        ("WEBHOOK_RECOVERED", "Webhook recovered"),
        ("WEBHOOK_DISABLED", "Webhook disabled"),
        ("DELIVERY_FAILED", "Delivery failed"),
    ] {
        let entry = &info[id];
        assert_eq!(entry["name"], name);
        assert_eq!(entry["key"], "webhook");
        assert_eq!(entry["organization-only"], true);
        assert!(!entry["description"].as_str().unwrap().is_empty());
        expected[id] = entry.clone();
    }
    assert_eq!(info, expected);
    let only = catalogue(&server, "?organization-only=true").await;
    let keys: Vec<&String> = only.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "PROJECT_CREATED",
            "PROJECT_DELETED",
            "WEBHOOK_FAILING",
            "WEBHOOK_RECOVERED",
            "WEBHOOK_DISABLED",
            "DELIVERY_FAILED"
        ]
    );
    let not = catalogue(&server, "?organization-only=false").await;
    // Label Studio's ten, the three review events and TASK_COMPLETED.
    assert_eq!(not.as_object().unwrap().len(), 14);
}

// ---------------------------------------------------------------- events and payloads

/// Every action from every path that fires it, with the body checked against the
/// recorded Label Studio request.
#[tokio::test]
async fn every_event_arrives_with_the_label_studio_payload() {
    let server = Server::start();
    let receiver = Receiver::start().await;
    let org_receiver = Receiver::start().await;
    hook(&server, json!({"url": format!("{}/org", org_receiver.url)})).await;
    let project = server.project("Hooks parity").await;
    hook(
        &server,
        json!({"url": format!("{}/proj", receiver.url), "project": project}),
    )
    .await;

    // PROJECT_CREATED (organization-level only) and PROJECT_UPDATED.
    let created = org_receiver.wait_for("PROJECT_CREATED", 1).await;
    let body = &created[0].body;
    assert_same_shape(
        &reference("PROJECT_UPDATED.json")["body"]["project"],
        &body["project"],
    );
    server
        .patch_project(project, json!({"description": "updated"}))
        .await;
    let updated = receiver.wait_for("PROJECT_UPDATED", 1).await;
    assert_event_shape("PROJECT_UPDATED.json", &updated[0].body);
    assert_eq!(updated[0].body["project"]["description"], "updated");

    // TASKS_CREATED by import and by POST /api/tasks/.
    server
        .import(
            project,
            json!([{"text": "one"}, {"text": "two"}, {"text": "three"}]),
        )
        .await;
    server.task(project, "single").await;
    let tasks_created = receiver.wait_for("TASKS_CREATED", 2).await;
    assert_event_shape("TASKS_CREATED.json", &tasks_created[0].body);
    assert_event_shape("TASKS_CREATED.2.json", &tasks_created[1].body);
    assert_eq!(tasks_created[0].body["tasks"].as_array().unwrap().len(), 3);
    assert_eq!(
        tasks_created[0].body["project"]["task_number"], 3,
        "statistics as of the change"
    );
    assert_eq!(tasks_created[1].body["project"]["task_number"], 4);
    let ids = ids_of(&tasks_created[0].body["tasks"]);

    // ANNOTATION_CREATED, a skip, ANNOTATION_UPDATED.
    let annotation = server
        .annotate(ids[0], json!({"result": choice("pos"), "lead_time": 3.5}))
        .await;
    server
        .annotate(
            ids[1],
            json!({"result": [], "was_cancelled": true, "lead_time": 1.0}),
        )
        .await;
    let annotation_created = receiver.wait_for("ANNOTATION_CREATED", 2).await;
    assert_event_shape("ANNOTATION_CREATED.json", &annotation_created[0].body);
    assert_event_shape("ANNOTATION_CREATED.2.json", &annotation_created[1].body);
    let first = &annotation_created[0].body;
    assert_eq!(first["task"]["is_labeled"], true);
    assert_eq!(first["project"]["total_annotations_number"], 1);
    let skip = &annotation_created[1].body;
    assert_eq!(skip["annotation"]["was_cancelled"], true);
    assert_eq!(skip["project"]["skipped_annotations_number"], 1);
    assert_eq!(skip["task"]["cancelled_annotations"], 1);
    server
        .expect(
            200,
            &format!("PATCH /api/annotations/{}/", annotation["id"]),
            Some(json!({"result": choice("neg")})),
        )
        .await;
    let annotation_updated = receiver.wait_for("ANNOTATION_UPDATED", 1).await;
    assert_event_shape("ANNOTATION_UPDATED.json", &annotation_updated[0].body);
    assert_eq!(
        annotation_updated[0].body["annotation"]["result"],
        choice("neg")
    );

    // ANNOTATIONS_DELETED by DELETE and by the data manager.
    server
        .expect(
            204,
            &format!("DELETE /api/annotations/{}/", annotation["id"]),
            None,
        )
        .await;
    let deleted = receiver.wait_for("ANNOTATIONS_DELETED", 1).await;
    // Label Studio's shape, plus each annotation's task and project (issue 18).
    assert_event_shape(
        "ANNOTATIONS_DELETED.json",
        &without_item_keys(&deleted[0].body, "annotations", &["task", "project"]),
    );
    assert_eq!(
        deleted[0].body["annotations"],
        json!([{"id": annotation["id"], "task": annotation["task"], "project": project}])
    );
    server
        .dm_action(
            200,
            "delete_tasks_annotations",
            project,
            json!({"selectedItems": {"all": true}}),
        )
        .await;
    let deleted = receiver.wait_for("ANNOTATIONS_DELETED", 2).await;
    assert_eq!(
        deleted[1].body["annotations"].as_array().unwrap().len(),
        1,
        "the skip"
    );

    // ANNOTATIONS_CREATED by import with annotations and by predictions_to_annotations.
    server
        .import(
            project,
            json!([{"data": {"text": "pre"}, "annotations": [{"result": choice("pos")}]}]),
        )
        .await;
    server
        .create(
            "/api/predictions/",
            json!({"task": ids[2], "result": choice("neg")}),
        )
        .await;
    server
        .dm_action(
            200,
            "predictions_to_annotations",
            project,
            selected(&[ids[2]]),
        )
        .await;
    let bulk = receiver.wait_for("ANNOTATIONS_CREATED", 2).await;
    // Bulk-made annotations have no lead time; the reference one had.
    let mut reference_annotation =
        reference("ANNOTATION_CREATED.json")["body"]["annotation"].clone();
    reference_annotation["lead_time"] = Value::Null;
    for event in &bulk {
        let keys: Vec<&String> = event.body.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            ["action", "annotation", "task", "project", "acted_by"]
        );
        assert_same_shape(&reference_annotation, &event.body["annotation"][0]);
        assert_same_shape(
            &reference("ANNOTATION_CREATED.json")["body"]["task"],
            &event.body["task"][0],
        );
    }
    assert_eq!(bulk[1].body["annotation"][0]["task"], ids[2]);

    // TASKS_DELETED by DELETE, by the data manager, and by deleting all.
    server
        .expect(204, &format!("DELETE /api/tasks/{}/", ids[0]), None)
        .await;
    server
        .dm_action(200, "delete_tasks", project, selected(&[ids[1]]))
        .await;
    server
        .expect(204, &format!("DELETE /api/projects/{project}/tasks/"), None)
        .await;
    let tasks_deleted = receiver.wait_for("TASKS_DELETED", 3).await;
    assert_event_shape(
        "TASKS_DELETED.json",
        &without_item_keys(&tasks_deleted[0].body, "tasks", &["project"]),
    );
    assert_eq!(
        tasks_deleted[0].body["tasks"],
        json!([{"id": ids[0], "project": project}])
    );
    assert_eq!(
        tasks_deleted[1].body["tasks"],
        json!([{"id": ids[1], "project": project}])
    );
    assert_eq!(tasks_deleted[2].body["project"]["task_number"], 0);

    // PROJECT_DELETED reaches organization-level webhooks with the id only.
    server
        .expect(204, &format!("DELETE /api/projects/{project}/"), None)
        .await;
    let project_deleted = org_receiver.wait_for("PROJECT_DELETED", 1).await;
    assert_eq!(
        project_deleted[0].body,
        json!({"action": "PROJECT_DELETED", "project": {"id": project}, "acted_by": 1})
    );

    // The organization-level webhook saw every project event too; the project one never
    // saw organization-only events.
    for action in [
        "TASKS_CREATED",
        "ANNOTATION_CREATED",
        "ANNOTATION_UPDATED",
        "ANNOTATIONS_DELETED",
        "TASKS_DELETED",
    ] {
        assert!(
            !org_receiver.with_action(action).is_empty(),
            "organization webhook missed {action}"
        );
    }
    assert!(
        receiver.with_action("PROJECT_CREATED").is_empty()
            && receiver.with_action("PROJECT_DELETED").is_empty()
    );
    // Every body starts with "action".
    for got in receiver.received() {
        let text = String::from_utf8(got.raw.clone()).unwrap();
        assert!(text.starts_with("{\"action\":"), "{text}");
        assert_eq!(got.path, "/proj");
    }
}

#[tokio::test]
async fn send_payload_false_sends_only_the_action() {
    let (server, receiver, project) = server_receiver_and_project("np").await;
    hook(&server, json!({"url": format!("{}/nopayload", receiver.url), "project": project, "send_payload": false})).await;
    let task = server.task(project, "x").await;
    server.annotate(&task["id"], json!({"result": []})).await;
    let got = receiver.wait_for("ANNOTATION_CREATED", 1).await;
    assert_eq!(
        got[0].body,
        reference("ANNOTATION_CREATED.action-only.json")["body"]
    );
    // Deliveries of different events may arrive in any order: wait for this one too.
    assert_eq!(
        receiver.wait_for("TASKS_CREATED", 1).await[0].body,
        reference("TASKS_CREATED.action-only.json")["body"]
    );
}

#[tokio::test]
async fn only_active_webhooks_that_want_the_action_get_it() {
    let server = Server::start();
    let picky = Receiver::start().await;
    let off = Receiver::start().await;
    let other_project = Receiver::start().await;
    let project = server.project("m").await;
    let project2 = server.project("m2").await;
    hook(&server, json!({"url": picky.url, "project": project, "send_for_all_actions": false, "actions": ["ANNOTATION_CREATED"]})).await;
    let inactive = hook(
        &server,
        json!({"url": off.url, "project": project, "is_active": false}),
    )
    .await;
    hook(
        &server,
        json!({"url": other_project.url, "project": project2}),
    )
    .await;

    let task = server.task(project, "x").await;
    server.annotate(&task["id"], json!({"result": []})).await;
    picky.wait_for("ANNOTATION_CREATED", 1).await;
    // A marker event on project 2 proves delivery ran after the events above.
    server.task(project2, "marker").await;
    other_project.wait_for("TASKS_CREATED", 1).await;
    assert!(
        picky.with_action("TASKS_CREATED").is_empty(),
        "TASKS_CREATED is not in its actions"
    );
    assert!(
        off.received().is_empty(),
        "an inactive webhook receives nothing"
    );
    assert_eq!(
        other_project.received().len(),
        1,
        "another project's webhook sees only its project"
    );

    // Switched on, it receives what happens from then on.
    server
        .expect(
            200,
            &format!("PATCH /api/webhooks/{}/", inactive["id"]),
            Some(json!({"is_active": true})),
        )
        .await;
    server.task(project, "y").await;
    let got = off.wait_for("TASKS_CREATED", 1).await;
    assert_eq!(got[0].body["tasks"][0]["data"]["text"], "y");
}

#[tokio::test]
async fn bulk_events_are_cut_into_batches() {
    let server = Server::start_with(&[("WEBHOOK_BATCH_SIZE", "100")]);
    let receiver = Receiver::start().await;
    let project = server.project("bulk").await;
    hook(&server, json!({"url": receiver.url, "project": project})).await;
    let tasks: Vec<Value> = (0..250).map(|i| json!({"text": format!("t{i}")})).collect();
    server
        .create(&format!("/api/projects/{project}/import"), json!(tasks))
        .await;
    let got = receiver.wait_for("TASKS_CREATED", 3).await;
    let mut sizes: Vec<usize> = got
        .iter()
        .map(|r| r.body["tasks"].as_array().unwrap().len())
        .collect();
    sizes.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(sizes, [100, 100, 50]);
    for r in &got {
        assert_eq!(r.body["project"]["task_number"], 250);
    }
    let mut all_ids: Vec<i64> = got
        .iter()
        .flat_map(|r| {
            r.body["tasks"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["id"].as_i64().unwrap())
        })
        .collect();
    all_ids.sort_unstable();
    all_ids.dedup();
    assert_eq!(all_ids.len(), 250, "each task in exactly one batch");
    // Deleting them all: TASKS_DELETED in batches too.
    server
        .expect(204, &format!("DELETE /api/projects/{project}/tasks/"), None)
        .await;
    let deleted = receiver.wait_for("TASKS_DELETED", 3).await;
    assert_eq!(
        deleted
            .iter()
            .map(|r| r.body["tasks"].as_array().unwrap().len())
            .sum::<usize>(),
        250
    );
}

// ---------------------------------------------------------------- delivery

#[tokio::test]
async fn deliveries_are_signed_and_identified() {
    let (server, receiver, project) = server_receiver_and_project("sig").await;
    let created = hook(
        &server,
        json!({"url": receiver.url, "project": project, "headers": {"X-Token": "abc"}}),
    )
    .await;
    let secret = created["secret"].as_str().unwrap().to_string();
    for i in 0..3 {
        server.task(project, &format!("t{i}")).await;
    }
    let got = receiver.wait_for("TASKS_CREATED", 3).await;
    let verifier = standardwebhooks::Webhook::new(&secret).expect("secret parses");
    let mut sequences = Vec::new();
    for r in &got {
        assert_eq!(r.header("content-type"), "application/json");
        assert_eq!(
            r.header("user-agent"),
            format!("labelhook/{}", env!("CARGO_PKG_VERSION"))
        );
        assert_eq!(r.header("x-token"), "abc");
        assert!(r.header("webhook-id").starts_with("msg_"));
        let mut headers = axum::http::HeaderMap::new();
        for name in ["webhook-id", "webhook-timestamp", "webhook-signature"] {
            headers.insert(name, r.header(name).parse().unwrap());
        }
        verifier
            .verify(&r.raw, &headers)
            .expect("signature verifies with the standardwebhooks crate");
        sequences.push(r.header("labelhook-sequence").parse::<i64>().unwrap());
    }
    let ids: std::collections::HashSet<&str> = got.iter().map(|r| r.header("webhook-id")).collect();
    assert_eq!(ids.len(), 3, "one id per delivery");
    sequences.sort_unstable();
    assert!(
        sequences.windows(2).all(|w| w[1] > w[0]),
        "sequence grows: {sequences:?}"
    );
}

#[tokio::test]
async fn failed_attempts_are_retried_with_the_same_id() {
    let server = Server::start_with(&[("LABELHOOK_RETRY_SCHEDULE", "50ms,50ms,50ms")]);
    let receiver =
        Receiver::start_with(Behaviour::Script(Arc::new(Mutex::new(vec![500, 503])))).await;
    let project = server.project("retry").await;
    let webhook = hook(&server, json!({"url": receiver.url, "project": project})).await;
    server.task(project, "x").await;
    let got = receiver.wait_for("TASKS_CREATED", 3).await;
    assert!(
        got.iter()
            .all(|r| r.header("webhook-id") == got[0].header("webhook-id"))
    );
    // The success reset the failure streak.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let state = server
            .get(&format!("/api/webhooks/{}/", webhook["id"]))
            .await;
        if state["consecutive_failures"] == 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "consecutive_failures never reset: {state}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// A receiver that stops answering does not slow the API: calls return while it still
/// holds the requests.
#[tokio::test]
async fn a_hanging_receiver_does_not_block_the_api() {
    let server = Server::start_with(&[("WEBHOOK_TIMEOUT", "60")]);
    let receiver = Receiver::start().await;
    let project = server.project("hang").await;
    hook(&server, json!({"url": receiver.url, "project": project})).await;
    let task = server.task(project, "x").await;
    // It answered: trusted with its whole cap.
    receiver.wait_for("TASKS_CREATED", 1).await;
    receiver.set(Behaviour::Hang);
    // The receiver now holds every request open (for up to 60 s); the API still answers.
    for _ in 0..5 {
        server.annotate(&task["id"], json!({"result": []})).await;
    }
    let received = receiver.wait_for("ANNOTATION_CREATED", 5).await;
    assert_eq!(
        received.len(),
        5,
        "deliveries go out concurrently, not one at a time"
    );
}

/// SIGKILL while deliveries are in flight and queued; after a restart, everything arrives.
#[tokio::test]
async fn nothing_is_lost_when_the_server_is_killed() {
    let mut server = Server::start_with(&[
        ("WEBHOOK_TIMEOUT", "60"),
        ("LABELHOOK_MAX_IN_FLIGHT_PER_WEBHOOK", "2"),
    ]);
    let receiver = Receiver::start_with(Behaviour::Hang).await;
    let project = server.project("kill").await;
    hook(&server, json!({"url": receiver.url, "project": project})).await;
    for i in 0..10 {
        server.task(project, &format!("t{i}")).await;
    }
    // One is in flight (hanging: a receiver never heard from gets one at a time), nine wait.
    receiver
        .wait_until(20, "a request in flight", |got| !got.is_empty())
        .await;
    server.kill();
    receiver.set(Behaviour::Status(200));
    let before = receiver.received().len();
    server.restart();
    let got = receiver
        .wait_until(30, "all 10 tasks after the restart", |got| {
            let mut texts: Vec<String> = got[before.min(got.len())..]
                .iter()
                .flat_map(|r| r.body["tasks"].as_array().cloned().unwrap_or_default())
                .filter_map(|t| t["data"]["text"].as_str().map(str::to_string))
                .collect();
            texts.sort();
            texts.dedup();
            texts.len() == 10
        })
        .await;
    // The ones in flight at the kill were sent again with the same id.
    let first_ids: Vec<String> = got[..before]
        .iter()
        .map(|r| r.header("webhook-id").to_string())
        .collect();
    for id in first_ids {
        assert!(
            got[before..].iter().any(|r| r.header("webhook-id") == id),
            "in-flight delivery {id} was not resent"
        );
    }
}
