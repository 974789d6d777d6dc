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
    first.webhook(json!({"url": receiver.url})).await;
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
        target.task(project, &format!("event {i}")).await;
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

/// PostgreSQL: a process loses every database connection (`pg_terminate_backend`) under
/// load and lives on. It must take its liveness lock back: otherwise the other process
/// takes its deliveries over at every sweep (duplicates beyond what it had in flight),
/// and it can no longer take over a process that dies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_killed_under_load_lose_nothing_and_take_over_stays_fast() {
    const IN_FLIGHT: usize = 16;
    const TASKS: usize = 200;
    let mut first = Server::start_with(&[
        ("WEBHOOK_TIMEOUT", "5"),
        ("LABELHOOK_MAX_IN_FLIGHT", "16"),
        ("LABELHOOK_MAX_IN_FLIGHT_PER_WEBHOOK", "8"),
        ("LABELHOOK_RETRY_SCHEDULE", "1s,1s,1s,1s,1s,1s,1s,1s,1s,1s"),
    ]);
    if !first.is_postgres() {
        println!("skipped: connection loss and take-over are PostgreSQL's (one process on SQLite)");
        return;
    }
    // Slow enough that each process always has deliveries in flight.
    // (longer than a take-over needs to claim what it released).
    let receiver = Receiver::start_with(Behaviour::Slow(1000)).await;
    let project = first.project("connection loss").await;
    first.webhook(json!({"url": receiver.url})).await;
    let second = first.another_process_named("labelhook_drill_b");

    // Events through the second process, which loses all its connections at a quarter;
    // the first, idle, has free places to take over what it believes is a dead one's.
    let mut killed = 0;
    for i in 0..TASKS {
        if i == TASKS / 4 {
            killed = second.terminate_connections("labelhook_drill_b");
        }
        let (status, body) = second
            .call(
                "POST",
                "/api/tasks/",
                Some(json!({"project": project, "data": {"text": format!("event {i}")}})),
            )
            .await;
        // A request on a connection that was just cut may fail: it was not acknowledged.
        assert!(status == 201 || status >= 500, "{status} {body}");
        // A steady rate, so the load spans several liveness sweeps (one a second).
        tokio::time::sleep(std::time::Duration::from_millis(40)).await;
    }
    assert!(
        killed > 0,
        "no connection of the second process was found to terminate"
    );
    let tasks = first
        .get(&format!("/api/tasks/?project={project}&page_size=1000"))
        .await;
    let committed: Vec<String> = tasks["tasks"]
        .as_array()
        .expect("tasks")
        .iter()
        .filter_map(|t| t["data"]["text"].as_str().map(str::to_string))
        .collect();
    let got = receiver
        .wait_until(60, "every committed event", |got| {
            let texts: std::collections::HashSet<&str> = got
                .iter()
                .filter_map(|r| r.body["tasks"][0]["data"]["text"].as_str())
                .collect();
            committed.iter().all(|t| texts.contains(t.as_str()))
        })
        .await;
    let mut copies: HashMap<&str, usize> = HashMap::new();
    for r in got.iter().filter(|r| r.action() == "TASKS_CREATED") {
        *copies.entry(r.header("webhook-id")).or_default() += 1;
    }
    let duplicates: usize = copies.values().map(|n| n - 1).sum();
    println!(
        "connection loss ({killed} connections terminated): committed {}, received {}, duplicates {duplicates}, lost 0",
        committed.len(),
        got.len()
    );
    assert!(
        duplicates <= IN_FLIGHT,
        "{duplicates} duplicates: more than the {IN_FLIGHT} deliveries one process has in flight"
    );

    // Take-over is still fast: the first process dies with deliveries in flight, and the
    // second (the one that lost its connections) releases them at its next sweep, long
    // before their lease (5 s × 16 + 30 s) would end.
    receiver.set(Behaviour::Hang);
    let before = receiver.received().len();
    for i in 0..8 {
        first.task(project, &format!("last {i}")).await;
    }
    receiver
        .wait_until(20, "deliveries in flight on the first process", |got| {
            got.len() > before
        })
        .await;
    first.kill();
    let killed_at = std::time::Instant::now();
    receiver.set(Behaviour::Status(200));
    receiver
        .wait_until(30, "the dead process's deliveries, taken over", |got| {
            let texts: std::collections::HashSet<&str> = got
                .iter()
                .filter(|r| r.at > killed_at)
                .filter_map(|r| r.body["tasks"][0]["data"]["text"].as_str())
                .collect();
            (0..8).all(|i| texts.contains(format!("last {i}").as_str()))
        })
        .await;
}
