//! The event stream, `GET /api/events/`: every event of the organization in sequence order
//! with the bodies webhooks get, paging, filters, long polls, retention (410), scope,
//! roles and bad input.

mod common;

use common::{Receiver, Server, eventually};
use serde_json::{Value, json};

/// Every page after `after` with `query`, followed through `next` until an empty one.
async fn read_all(server: &Server, query: &str) -> Vec<Value> {
    let mut after = 0;
    let mut events = Vec::new();
    loop {
        let page = server
            .get(&format!("/api/events/?after={after}&{query}"))
            .await;
        let batch = page["events"].as_array().expect("events").clone();
        let next = page["next"].as_i64().expect("next");
        assert!(next >= after, "next {next} went back from {after}: {page}");
        if batch.is_empty() {
            return events;
        }
        after = next;
        events.extend(batch);
    }
}

/// `GET /api/events/?after={after}&wait=30` under way in the background: its page.
fn long_poll(server: &Server, after: i64) -> tokio::task::JoinHandle<Value> {
    let (client, url) = (
        server.client.clone(),
        server.url(&format!("/api/events/?after={after}&wait=30")),
    );
    tokio::spawn(async move {
        let response = client
            .get(url)
            .header("Authorization", format!("Token {}", common::TOKEN))
            .send()
            .await
            .expect("poll");
        assert_eq!(response.status(), 200);
        response.json::<Value>().await.expect("page")
    })
}

fn sequences(events: &[Value]) -> Vec<i64> {
    events
        .iter()
        .map(|e| e["sequence"].as_i64().expect("sequence"))
        .collect()
}

#[tokio::test]
async fn every_event_is_served_in_order_with_the_webhook_body_and_paged() {
    let server = Server::start();
    // No webhook at first: the events are written all the same.
    let first = server.project("stream one").await;
    let second = server.project("stream two").await;
    for i in 0..3 {
        server.task(first, &format!("a{i}")).await;
        server.task(second, &format!("b{i}")).await;
    }
    let all = read_all(&server, "limit=1000").await;
    let actions: Vec<&str> = all.iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(
        actions.iter().filter(|a| **a == "PROJECT_CREATED").count(),
        2
    );
    assert_eq!(actions.iter().filter(|a| **a == "TASKS_CREATED").count(), 6);
    let seqs = sequences(&all);
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "in order: {seqs:?}");
    for event in &all {
        assert_eq!(event["body"]["action"], event["action"], "{event}");
        assert!(event["id"].as_i64().is_some() && event["created_at"].is_string());
    }

    // Pages of two give the same events, and `next` is the last one's sequence.
    let paged = read_all(&server, "limit=2").await;
    assert_eq!(sequences(&paged), seqs);
    let page = server.get("/api/events/?limit=2").await;
    assert_eq!(page["events"].as_array().unwrap().len(), 2);
    assert_eq!(page["next"], page["events"][1]["sequence"]);

    // Filters: project, action, both; `next` still moves past what they leave out.
    let of_first = read_all(&server, &format!("project={first}")).await;
    assert_eq!(of_first.len(), 4, "{of_first:?}");
    assert!(of_first.iter().all(|e| e["project"] == first));
    let created = read_all(&server, "action=TASKS_CREATED").await;
    assert_eq!(created.len(), 6);
    let both = read_all(&server, &format!("project={second}&action=TASKS_CREATED")).await;
    assert_eq!(both.len(), 3);
    assert!(
        both.iter()
            .all(|e| e["project"] == second && e["action"] == "TASKS_CREATED")
    );
    let none = server
        .get("/api/events/?action=ANNOTATION_CREATED&limit=5")
        .await;
    assert_eq!(none["events"], json!([]));
    assert_eq!(none["next"].as_i64(), seqs.last().copied());

    // The body is the one a webhook gets, and `sequence` its `labelhook-sequence`.
    let rx = Receiver::start().await;
    server
        .create(
            "/api/webhooks/",
            json!({"url": format!("{}/hook", rx.url), "project": first, "send_for_all_actions": false, "actions": ["TASKS_CREATED"]}),
        )
        .await;
    server.task(first, "delivered").await;
    let got = rx.wait_for("TASKS_CREATED", 1).await;
    let sequence: i64 = got[0].headers["labelhook-sequence"].parse().unwrap();
    let page = server
        .get(&format!("/api/events/?after={}&limit=1", sequence - 1))
        .await;
    let event = &page["events"][0];
    assert_eq!(event["sequence"], sequence);
    assert_eq!(event["body"], got[0].body);
    // ... and its id is the delivery log's `event`.
    let webhooks = server.get("/api/webhooks/").await;
    let hook = webhooks[0]["id"].as_i64().unwrap();
    let log = server
        .get(&format!("/api/webhooks/{hook}/deliveries/"))
        .await;
    assert_eq!(log["results"][0]["event"], event["id"]);
}

#[tokio::test]
async fn a_long_poll_returns_when_an_event_commits() {
    let server = Server::start();
    let project = server.project("poll").await;
    let start = server.get("/api/events/").await["next"].as_i64().unwrap();
    assert!(start > 0);
    let poll = long_poll(&server, start);
    // Whenever the poll is waiting (or not yet), an event commits; the poll answers it.
    server.task(project, "wake up").await;
    let page = poll.await.expect("poll task");
    let events = page["events"].as_array().unwrap();
    assert_eq!(events.len(), 1, "{page}");
    assert_eq!(events[0]["action"], "TASKS_CREATED");
    assert_eq!(events[0]["sequence"].as_i64(), Some(start + 1));
    assert_eq!(page["next"].as_i64(), Some(start + 1));

    // Nothing new: a short wait answers an empty page with the same cursor.
    let page = server
        .get(&format!("/api/events/?after={}&wait=0.2", start + 1))
        .await;
    assert_eq!(page, json!({"events": [], "next": start + 1}));
}

#[tokio::test]
async fn a_long_poll_on_one_process_sees_another_process_commit() {
    let server = Server::start();
    if !server.is_postgres() {
        return; // several processes share only a PostgreSQL database
    }
    let other = server.another_process();
    let project = server.project("two processes").await;
    let start = server.get("/api/events/").await["next"].as_i64().unwrap();
    let poll = long_poll(&server, start);
    other.task(project, "from the other process").await;
    let page = poll.await.expect("poll task");
    assert_eq!(page["events"][0]["action"], "TASKS_CREATED", "{page}");
}

#[tokio::test]
async fn a_cursor_older_than_retention_is_gone_with_the_oldest_sequence() {
    let mut server = Server::start();
    let project = server.project("old").await;
    server.task(project, "old").await;
    let last = server.get("/api/events/").await["next"].as_i64().unwrap();
    // Restarted with a retention of 1 ms: the pruner removes every event at start.
    server.restart_with(&[("LABELHOOK_RETENTION", "1ms")]);
    let gone = eventually(30, "the events pruned", || async {
        let (status, body) = server.call("GET", "/api/events/?after=0", None).await;
        (status == 410).then_some(body)
    })
    .await;
    assert_eq!(gone["status_code"], 410);
    assert!(gone["detail"].as_str().unwrap().contains("pruned"));
    assert_eq!(gone["oldest_after"].as_i64(), Some(last));
    assert_eq!(gone["oldest_sequence"].as_i64(), Some(last + 1));
    // From there on the stream reads on.
    server.task(project, "new").await;
    let page = server.get(&format!("/api/events/?after={last}")).await;
    assert_eq!(page["events"][0]["sequence"].as_i64(), Some(last + 1));
    assert_eq!(page["events"][0]["action"], "TASKS_CREATED");
}

#[tokio::test]
async fn other_organizations_events_are_never_served() {
    let server = Server::start();
    let project = server.project("mine").await;
    server.task(project, "mine").await;
    let other = server.other_organization("other@example.com");
    let (status, theirs) = server.call_as(&other, "GET", "/api/events/", None).await;
    assert_eq!(status, 200, "{theirs}");
    assert!(
        theirs["events"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["project"] != project),
        "{theirs}"
    );
    let (status, filtered) = server
        .call_as(
            &other,
            "GET",
            &format!("/api/events/?project={project}"),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(filtered["events"], json!([]));
    // Their project's events, created through the API, are theirs alone.
    let (_, created) = server
        .call_as(
            &other,
            "POST",
            "/api/projects/",
            Some(json!({"title": "theirs"})),
        )
        .await;
    let theirs_id = created["id"].as_i64().unwrap();
    let mine = read_all(&server, "limit=1000").await;
    assert!(mine.iter().all(|e| e["project"] != theirs_id), "{mine:?}");
}

#[tokio::test]
async fn managers_and_up_read_the_stream_annotators_do_not() {
    let server = Server::start();
    let annotator = server.member("an@example.com", "AN");
    let reviewer = server.member("re@example.com", "RE");
    let manager = server.member("ma@example.com", "MA");
    for (token, expected) in [(&annotator, 403), (&reviewer, 403), (&manager, 200)] {
        let (status, body) = server.call_as(token, "GET", "/api/events/", None).await;
        assert_eq!(status, expected, "{body}");
    }
    let (status, _) = server
        .call_as("not-a-token", "GET", "/api/events/", None)
        .await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn bad_input_is_a_400_naming_the_parameter() {
    let server = Server::start();
    for (query, field) in [
        ("after=-1", "after"),
        ("after=first", "after"),
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("limit=ten", "limit"),
        ("wait=31", "wait"),
        ("wait=-1", "wait"),
        ("wait=soon", "wait"),
        ("action=tasks_created", "action"),
        ("action=TASKS-CREATED", "action"),
        ("project=mine", "project"),
    ] {
        let (status, body) = server
            .call("GET", &format!("/api/events/?{query}"), None)
            .await;
        assert_eq!(status, 400, "{query}: {body}");
        assert!(
            body["validation_errors"][field].is_array(),
            "{query}: {body}"
        );
    }
    // Custom action names are fine.
    let page = server.get("/api/events/?action=MY_PIPELINE_DONE").await;
    assert_eq!(page["events"], json!([]));
}
