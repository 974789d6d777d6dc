//! Receivers written for the seed systems (Label Studio, Labelbox) and for general webhook
//! services: what arrives on the wire at a real receiver on loopback (issue 18).

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::{Receiver, Server, choice, server_and_project, server_receiver_and_project};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().to_vec()
}

/// A receiver that keeps each request's head as it came over the wire (header names in
/// the case they were sent: an HTTP library's header map would lower them). It answers
/// 200 to each request and closes the connection.
struct RawReceiver {
    url: String,
    heads: Arc<Mutex<Vec<String>>>,
}

impl RawReceiver {
    async fn start() -> RawReceiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/raw", listener.local_addr().unwrap());
        let heads = Arc::new(Mutex::new(Vec::new()));
        let kept = heads.clone();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let kept = kept.clone();
                tokio::spawn(async move {
                    let mut got = Vec::new();
                    let mut buffer = [0u8; 4096];
                    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                        match stream.read(&mut buffer).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => got.extend_from_slice(&buffer[..n]),
                        }
                    }
                    let end = got.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
                    kept.lock()
                        .unwrap()
                        .push(String::from_utf8_lossy(&got[..end]).into_owned());
                    let _ = stream
                        .write_all(
                            b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                        )
                        .await;
                });
            }
        });
        RawReceiver { url, heads }
    }

    async fn first_head(&self) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(head) = self.heads.lock().unwrap().first() {
                return head.clone();
            }
            assert!(Instant::now() < deadline, "no request arrived");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

#[tokio::test]
async fn custom_header_names_keep_their_case_on_the_wire() {
    let server = Server::start();
    let receiver = RawReceiver::start().await;
    let project = server.project("case").await;
    server
        .webhook(json!({"url": receiver.url, "project": project, "headers": {"X-Api": "key-1", "X-Custom-Token": "t"}}))
        .await;
    server.task(project, "a").await;
    let head = receiver.first_head().await;
    let names: Vec<&str> = head
        .lines()
        .skip(1)
        .filter_map(|line| line.split_once(':').map(|(name, _)| name))
        .collect();
    for expected in ["X-Api", "X-Custom-Token", "Webhook-Id", "Content-Type"] {
        assert!(
            names.contains(&expected),
            "{expected} as typed on the wire: {names:?}"
        );
    }
}

// ---------------------------------------------------------------- user-chosen secrets

#[tokio::test]
async fn a_user_chosen_secret_signs_deliveries() {
    let (server, receiver, project) = server_receiver_and_project("secret").await;
    // A plain secret, shared with a receiver that already has it: it signs with its own
    // bytes, in both the Standard Webhooks signature and X-Hub-Signature-256.
    let plain = "shared-with-an-existing-receiver";
    let created = server
        .webhook(json!({"url": receiver.url, "project": project, "secret": plain, "hub_signature": true}))
        .await;
    assert_eq!(created["secret"], plain);
    let id = created["id"].as_i64().unwrap();
    server.task(project, "a").await;
    let got = receiver.wait_for("TASKS_CREATED", 1).await;
    let r = &got[0];
    let signed = hmac_sha256(
        plain.as_bytes(),
        &[
            r.header("webhook-id").as_bytes(),
            b".",
            r.header("webhook-timestamp").as_bytes(),
            b".",
            &r.raw,
        ],
    );
    assert_eq!(
        r.header("webhook-signature"),
        format!("v1,{}", STANDARD.encode(signed))
    );
    assert_eq!(
        r.header("x-hub-signature-256"),
        format!("sha256={}", hex(&hmac_sha256(plain.as_bytes(), &[&r.raw])))
    );

    // Rotating to a chosen `whsec_` secret: it verifies with a Standard Webhooks library.
    let chosen = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let rotated = server
        .expect(
            200,
            &format!("POST /api/webhooks/{id}/secret/rotate"),
            Some(json!({"secret": chosen})),
        )
        .await;
    assert_eq!(rotated["secret"], chosen);
    assert_eq!(
        server.get(&format!("/api/webhooks/{id}/secret")).await["secret"],
        chosen
    );
    server.task(project, "b").await;
    let got = receiver.wait_for("TASKS_CREATED", 2).await;
    let r = &got[1];
    let mut headers = axum::http::HeaderMap::new();
    for name in ["webhook-id", "webhook-timestamp", "webhook-signature"] {
        headers.insert(name, r.header(name).parse().unwrap());
    }
    standardwebhooks::Webhook::new(chosen)
        .unwrap()
        .verify(&r.raw, &headers)
        .expect("the chosen whsec_ secret verifies");

    // Rotating without a body still makes a random secret.
    let random = server
        .expect(200, &format!("POST /api/webhooks/{id}/secret/rotate"), None)
        .await;
    assert!(random["secret"].as_str().unwrap().starts_with("whsec_"));
    assert_ne!(random["secret"], chosen);
}

#[tokio::test]
async fn a_chosen_secret_is_checked() {
    let (server, project) = server_and_project("bad secrets").await;
    for bad in [
        json!("too-short"),
        json!("whsec_!!! not base64 !!!"),
        json!("has spaces in the middle of it"),
        json!(12345678901234567_i64),
    ] {
        server
            .expect_field_error(
                "POST /api/webhooks/",
                Some(json!({"url": "http://example.com/", "project": project, "secret": bad})),
                "secret",
            )
            .await;
    }
    let created = server
        .webhook(json!({"url": "http://example.com/", "project": project}))
        .await;
    let id = created["id"].as_i64().unwrap();
    // The secret changes by rotation only, which keeps the old one signing meanwhile.
    server
        .expect_field_error(
            &format!("PATCH /api/webhooks/{id}/"),
            Some(json!({"secret": "a-long-enough-secret"})),
            "secret",
        )
        .await;
    server
        .expect_field_error(
            &format!("POST /api/webhooks/{id}/secret/rotate"),
            Some(json!({"secret": "short"})),
            "secret",
        )
        .await;
}

// ---------------------------------------------------------------- fuller payloads

#[tokio::test]
async fn task_completed_when_the_overlap_is_reached() {
    let (server, receiver, project) = server_receiver_and_project("overlap").await;
    server
        .patch_project(project, json!({"maximum_annotations": 2}))
        .await;
    server
        .webhook(
            json!({"url": receiver.url, "project": project, "send_for_all_actions": false,
                   "actions": ["TASK_COMPLETED", "ANNOTATION_CREATED"]}),
        )
        .await;
    // A webhook that takes every action is one written for Label Studio: it does not get
    // labelhook's own TASK_COMPLETED.
    let every = Receiver::start().await;
    server
        .webhook(json!({"url": every.url, "project": project, "send_for_all_actions": true}))
        .await;
    let task = server.task(project, "a").await;
    let task_id = task["id"].as_i64().unwrap();
    let result = choice("pos");
    server.annotate(task_id, json!({"result": result})).await;
    receiver.wait_for("ANNOTATION_CREATED", 1).await;
    assert!(
        receiver.with_action("TASK_COMPLETED").is_empty(),
        "one annotation of two is not complete"
    );
    let other = server.member("second@example.com", "AN");
    server
        .expect_as(
            &other,
            201,
            &format!("POST /api/tasks/{task_id}/annotations/"),
            Some(json!({"result": result})),
        )
        .await;
    let completed = receiver.wait_for("TASK_COMPLETED", 1).await;
    let body = &completed[0].body;
    assert_eq!(body["task"]["id"], task_id);
    assert_eq!(body["task"]["is_labeled"], true);
    assert_eq!(body["project"]["id"], project);
    assert_eq!(body["project"]["finished_task_number"], 1);
    // Deliveries are sent in any order: wait for the second annotation's event there.
    every.wait_for("ANNOTATION_CREATED", 2).await;
    assert!(every.with_action("TASK_COMPLETED").is_empty());
    // The catalogue lists it.
    let info = server.get("/api/webhooks/info/").await;
    assert_eq!(info["TASK_COMPLETED"]["key"], "task");
}

// ---------------------------------------------------------------- Labelbox format

fn hmac_sha1_hex(key: &[u8], body: &[u8]) -> String {
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(key).unwrap();
    mac.update(body);
    hex(&mac.finalize().into_bytes())
}

#[tokio::test]
async fn a_labelbox_receiver_gets_what_labelbox_sends() {
    let (server, receiver, project) = server_receiver_and_project("labelbox").await;
    let secret = "labelbox-receiver-secret";
    let created = server
        .webhook(json!({"url": receiver.url, "project": project.to_string(), "format": "labelbox",
                   "secret": secret, "topics": ["LABEL_CREATED", "LABEL_UPDATED", "LABEL_DELETED", "WORKFLOW_ACTION"]}))
        .await;
    assert_eq!(created["format"], "labelbox");
    assert_eq!(
        created["topics"],
        json!([
            "LABEL_CREATED",
            "LABEL_UPDATED",
            "LABEL_DELETED",
            "WORKFLOW_ACTION"
        ])
    );
    assert_eq!(created["send_for_all_actions"], false);
    let task = server
        .create(
            "/api/tasks/",
            json!({"project": project, "data": {"text": "a", "external_id": "row-17"}}),
        )
        .await;
    let task_id = task["id"].as_i64().unwrap();
    let result = choice("pos");
    let annotation = server.annotate(task_id, json!({"result": result})).await;
    let annotation_id = annotation["id"].as_i64().unwrap();
    let got = receiver
        .wait_until(20, "LABEL_CREATED", |got| !got.is_empty())
        .await;
    assert_eq!(got.len(), 1, "no TASKS_CREATED: it is no topic");
    let r = &got[0];
    assert_eq!(r.header("x-labelbox-event"), "LABEL_CREATED");
    assert_eq!(r.header("content-type"), "application/json");
    assert!(r.header("x-labelbox-id").starts_with("msg_"));
    assert_eq!(
        r.header("x-hub-signature"),
        format!("sha1={}", hmac_sha1_hex(secret.as_bytes(), &r.raw))
    );
    assert_eq!(
        r.header("x-hub-signature-256"),
        format!("sha256={}", hex(&hmac_sha256(secret.as_bytes(), &[&r.raw])))
    );
    assert!(
        r.raw
            .starts_with(format!("{{\"id\":\"{annotation_id}\"").as_bytes()),
        "the first key is the label's id: {}",
        String::from_utf8_lossy(&r.raw)
    );
    assert_eq!(r.body["project"]["id"], project.to_string());
    assert_eq!(r.body["project"]["name"], "labelbox");
    assert_eq!(r.body["dataRow"]["id"], task_id.to_string());
    assert_eq!(r.body["dataRow"]["externalId"], "row-17");
    assert_eq!(r.body["label"], result);

    // LABEL_UPDATED, then a review that accepts it: WORKFLOW_ACTION (APPROVE).
    server
        .expect(
            200,
            &format!("PATCH /api/annotations/{annotation_id}/"),
            Some(json!({"lead_time": 2.0})),
        )
        .await;
    // Reviewers review others' annotations.
    let reviewer = server.member("reviewer@example.com", "RE");
    server
        .expect_as(
            &reviewer,
            201,
            "POST /api/annotation-reviews/",
            Some(json!({"annotation": annotation_id, "accepted": true})),
        )
        .await;
    server
        .expect(
            204,
            &format!("DELETE /api/annotations/{annotation_id}/"),
            None,
        )
        .await;
    let got = receiver
        .wait_until(20, "four Labelbox events", |got| got.len() >= 4)
        .await;
    let by_event = |event: &str| {
        got.iter()
            .find(|r| r.header("x-labelbox-event") == event)
            .unwrap_or_else(|| panic!("no {event}"))
            .body
            .clone()
    };
    assert_eq!(by_event("LABEL_UPDATED")["id"], annotation_id.to_string());
    let workflow = by_event("WORKFLOW_ACTION");
    assert_eq!(workflow["action"], "APPROVE");
    assert_eq!(workflow["label"]["id"], annotation_id.to_string());
    assert_eq!(workflow["dataRow"]["externalId"], "row-17");
    let deleted = by_event("LABEL_DELETED");
    assert_eq!(deleted["id"], annotation_id.to_string());
    assert_eq!(deleted["dataRow"]["id"], task_id.to_string());
}

#[tokio::test]
async fn a_labelbox_webhook_is_checked() {
    let (server, project) = server_and_project("labelbox checks").await;
    let url = "http://example.com/lb";
    for (body, field) in [
        (
            json!({"format": "labelbox", "topics": ["LABEL_CREATED"]}),
            "secret",
        ),
        (
            json!({"format": "labelbox", "secret": "a-long-enough-secret"}),
            "topics",
        ),
        (
            json!({"format": "labelbox", "secret": "a-long-enough-secret", "topics": ["LABEL_MADE"]}),
            "topics",
        ),
        (
            json!({"format": "labelbox", "secret": "a-long-enough-secret", "topics": ["LABEL_CREATED"], "actions": ["TASKS_CREATED"]}),
            "actions",
        ),
        (json!({"topics": ["LABEL_CREATED"]}), "topics"),
        (json!({"format": "zapier"}), "format"),
    ] {
        let mut body = body;
        body["url"] = json!(url);
        body["project"] = json!(project);
        server
            .expect_nested_field_error("POST /api/webhooks/", Some(body.clone()), field)
            .await;
    }
    let created = server
        .webhook(json!({"url": url, "project": project, "format": "labelbox", "secret": "a-long-enough-secret", "topics": ["LABEL_CREATED"]}))
        .await;
    let id = created["id"].as_i64().unwrap();
    server
        .expect(
            400,
            &format!("PATCH /api/webhooks/{id}/"),
            Some(json!({"format": "label_studio"})),
        )
        .await;
    let answer = server
        .expect(
            200,
            &format!("PATCH /api/webhooks/{id}/"),
            Some(json!({"topics": ["REVIEW_CREATED"]})),
        )
        .await;
    assert_eq!(answer["topics"], json!(["REVIEW_CREATED"]));
    assert_eq!(answer["actions"], json!(["REVIEW_CREATED"]));
}

// ---------------------------------------------------------------- filters

#[tokio::test]
async fn a_filter_decides_which_events_make_deliveries() {
    let (server, receiver, project) = server_receiver_and_project("filters").await;
    let filter = json!([
        {"path": "task.data.split", "in": ["train", "val"]},
        {"path": "annotation.was_cancelled", "equals": false},
        {"result_contains_label": "pos"},
    ]);
    let created = server
        .webhook(
            json!({"url": receiver.url, "project": project, "send_for_all_actions": false,
                   "actions": ["ANNOTATION_CREATED"], "filter": filter}),
        )
        .await;
    assert_eq!(created["filter"], filter);
    let mut tasks = Vec::new();
    for split in ["train", "test", "val"] {
        let task = server
            .create(
                "/api/tasks/",
                json!({"project": project, "data": {"text": split, "split": split}}),
            )
            .await;
        tasks.push(task["id"].as_i64().unwrap());
    }
    let choice = |label: &str| json!([{"from_name": "label", "to_name": "text", "type": "choices", "value": {"choices": [label]}}]);
    // train + pos: sent. test + pos: not (split). val + neg: not (label). val skip: not.
    for (task, result, cancelled) in [
        (tasks[1], choice("pos"), false),
        (tasks[2], choice("neg"), false),
        (tasks[2], json!([]), true),
        (tasks[0], choice("pos"), false),
    ] {
        server
            .annotate(task, json!({"result": result, "was_cancelled": cancelled}))
            .await;
    }
    let got = receiver.wait_for("ANNOTATION_CREATED", 1).await;
    assert_eq!(got[0].body["task"]["id"], tasks[0]);
    // Events are written in order and the last one passed: had an earlier one passed, it
    // would be in the log too. The log has exactly one delivery.
    let id = created["id"].as_i64().unwrap();
    let log = server.get(&format!("/api/webhooks/{id}/deliveries/")).await;
    assert_eq!(log["count"], 1, "{log}");

    // `null` removes the filter.
    let patched = server
        .expect(
            200,
            &format!("PATCH /api/webhooks/{id}/"),
            Some(json!({"filter": null})),
        )
        .await;
    assert_eq!(patched["filter"], Value::Null);
}

#[tokio::test]
async fn filter_errors_name_the_condition() {
    let (server, project) = server_and_project("bad filters").await;
    let body = server
        .expect(
            400,
            "POST /api/webhooks/",
            Some(
                json!({"url": "http://example.com/", "project": project, "filter": [
                    {"path": "task.data.split", "equals": "train"},
                    {"path": "task.data.split", "in": "train"},
                    {"result_contains_label": ""},
                ]}),
            ),
        )
        .await;
    let errors = &body["validation_errors"]["filter"];
    assert!(errors.get("0").is_none(), "{body}");
    assert!(errors["1"][0].as_str().unwrap().contains("in"), "{body}");
    assert!(errors["2"].is_array(), "{body}");
    let body = server
        .expect(
            400,
            "POST /api/webhooks/",
            Some(
                json!({"url": "http://example.com/", "project": project, "filter": {"path": "x"}}),
            ),
        )
        .await;
    assert!(body["validation_errors"]["filter"].is_object(), "{body}");
}

// ---------------------------------------------------------------- custom events

#[tokio::test]
async fn custom_events_go_through_the_outbox() {
    let server = Server::start();
    let receiver = Receiver::start().await;
    let every = Receiver::start().await;
    let project = server.project("custom").await;
    // Listing an unregistered custom action is not a valid choice; registering makes it one.
    let body = server.expect(400, "POST /api/webhooks/", Some(json!({"url": receiver.url, "project": project, "send_for_all_actions": false, "actions": ["MY_PIPELINE_DONE"]}))).await;
    assert_eq!(
        body["validation_errors"]["actions"]["0"][0],
        "\"MY_PIPELINE_DONE\" is not a valid choice."
    );
    let registered = server
        .create(
            "/api/webhooks/event-types/",
            json!({"name": "MY_PIPELINE_DONE", "description": "The training pipeline finished."}),
        )
        .await;
    assert_eq!(registered["name"], "MY_PIPELINE_DONE");
    let listed = server.get("/api/webhooks/event-types/").await;
    assert_eq!(listed[0]["description"], "The training pipeline finished.");
    let info = server.get("/api/webhooks/info/").await;
    assert_eq!(
        info["MY_PIPELINE_DONE"]["description"],
        "The training pipeline finished."
    );
    let created = server
        .webhook(json!({"url": receiver.url, "project": project, "send_for_all_actions": false, "actions": ["MY_PIPELINE_DONE"]}))
        .await;
    let secret = created["secret"].as_str().unwrap().to_string();
    server
        .webhook(json!({"url": every.url, "project": project, "send_for_all_actions": true}))
        .await;
    let sent = server
        .create(
            "/api/webhooks/events/",
            json!({"action": "MY_PIPELINE_DONE", "project": project.to_string(), "payload": {"model": "v7"}}),
        )
        .await;
    assert_eq!(sent["deliveries"], 2, "{sent}");
    let got = receiver.wait_for("MY_PIPELINE_DONE", 1).await;
    assert_eq!(
        got[0].body,
        json!({"action": "MY_PIPELINE_DONE", "project": project, "payload": {"model": "v7"}})
    );
    let mut headers = axum::http::HeaderMap::new();
    for name in ["webhook-id", "webhook-timestamp", "webhook-signature"] {
        headers.insert(name, got[0].header(name).parse().unwrap());
    }
    standardwebhooks::Webhook::new(&secret)
        .unwrap()
        .verify(&got[0].raw, &headers)
        .expect("signed like every event");
    every.wait_for("MY_PIPELINE_DONE", 1).await;

    // Names are checked; another organization's project is not found.
    for (body, status, field) in [
        (json!({"action": "my_event"}), 400, "action"),
        (json!({"action": "TASKS_CREATED"}), 400, "action"),
        (json!({"action": "OK_NAME", "payload": [1]}), 400, "payload"),
    ] {
        let (got, answer) = server
            .call("POST", "/api/webhooks/events/", Some(body.clone()))
            .await;
        assert_eq!(got, status, "{body}: {answer}");
        assert!(
            !answer["validation_errors"][field].is_null(),
            "{body}: {answer}"
        );
    }
    server
        .expect(
            404,
            "POST /api/webhooks/events/",
            Some(json!({"action": "OK_NAME", "project": 99999})),
        )
        .await;
}
