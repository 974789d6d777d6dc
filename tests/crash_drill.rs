//! The crash drill: a stream of events through two labelhook processes on one PostgreSQL
//! database (one process on SQLite, which is single-process by design), one process killed
//! with SIGKILL in the middle. Every event must reach the receiver at least once;
//! duplicates carry the same `webhook-id` and body. The drill prints what it saw.

mod common;

use std::collections::HashMap;

use common::{Behaviour, Receiver, Server};
use serde_json::json;

const EVENTS: usize = 200;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_survives_a_killed_process() {
    let mut first = Server::start_with(&[("WEBHOOK_TIMEOUT", "5")]);
    let receiver = Receiver::start_with(Behaviour::Slow(5)).await;
    let project = first.project("drill").await;
    first
        .create("/api/webhooks/", json!({"url": receiver.url}))
        .await;
    let mut second = first.is_postgres().then(|| first.another_process());

    for i in 0..EVENTS {
        if i == EVENTS / 2 {
            // Deliveries are in flight on the first process: kill it.
            first.kill();
        }
        let target = match (&second, i >= EVENTS / 2) {
            (Some(other), true) => other,
            (Some(other), false) if i % 2 == 1 => other,
            (None, true) => {
                if i == EVENTS / 2 {
                    first.restart();
                }
                &first
            }
            _ => &first,
        };
        target
            .create(
                "/api/tasks/",
                json!({"project": project, "data": {"text": format!("event {i}")}}),
            )
            .await;
    }
    let got = receiver
        .wait_until(60, "every event after the kill", |got| {
            let mut texts: Vec<&str> = got
                .iter()
                .filter_map(|r| r.body["tasks"][0]["data"]["text"].as_str())
                .collect();
            texts.sort_unstable();
            texts.dedup();
            texts.len() == EVENTS
        })
        .await;

    let mut by_id: HashMap<&str, Vec<&common::Received>> = HashMap::new();
    for r in got.iter().filter(|r| r.action() == "TASKS_CREATED") {
        by_id.entry(r.header("webhook-id")).or_default().push(r);
    }
    let duplicates: usize = by_id.values().map(|v| v.len() - 1).sum();
    for copies in by_id.values() {
        assert!(
            copies.iter().all(|r| r.raw == copies[0].raw),
            "a duplicate differs from its original"
        );
    }
    assert_eq!(by_id.len(), EVENTS, "one delivery id per event");
    println!(
        "crash drill ({}): sent {EVENTS}, received {}, distinct {}, duplicates {duplicates}, lost 0",
        if second.is_some() {
            "PostgreSQL, 2 processes"
        } else {
            "SQLite, 1 process restarted"
        },
        got.len(),
        by_id.len()
    );
    if let Some(other) = second.as_mut() {
        other.kill();
    }
}
