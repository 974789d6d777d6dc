//! Delivery you can trust: retries, Retry-After, 410, health, the delivery log and its
//! operations, signatures and rotation, isolation, retention. Receivers on loopback fail in
//! scripted ways; retry schedules are shortened by setting so tests run in seconds.

mod common;

use std::sync::{Arc, Mutex};

use common::{Behaviour, Receiver, Server, TOKEN, eventually, server_receiver_and_project};
use serde_json::{Value, json};

async fn setup(server: &Server, receiver: &Receiver) -> (i64, Value) {
    let project = server.project("delivery").await;
    let url = format!("{}/hook", receiver.url);
    let webhook = server
        .webhook(json!({"url": url, "project": project}))
        .await;
    (project, webhook)
}

/// `/api/webhooks/{id}` followed by `rest`.
fn webhook_path(webhook: &Value, rest: &str) -> String {
    format!("/api/webhooks/{}{rest}", webhook["id"])
}

/// Redelivers one delivery of `webhook` by hand (202).
async fn redeliver(server: &Server, webhook: &Value, delivery: &Value) {
    let path = webhook_path(webhook, &format!("/deliveries/{delivery}/redeliver"));
    server.expect(202, &format!("POST {path}"), None).await;
}

/// "Retry now" on `webhook` (200); the answer.
async fn retry_now(server: &Server, webhook: &Value) -> Value {
    let path = webhook_path(webhook, "/retry");
    server.expect(200, &format!("POST {path}"), None).await
}

/// POST `body` to `webhook`'s recover, which must answer `status`; the answer.
async fn recover(server: &Server, webhook: &Value, status: u16, body: Value) -> Value {
    let path = webhook_path(webhook, "/recover");
    server
        .expect(status, &format!("POST {path}"), Some(body))
        .await
}

/// Switches `webhook` on or off by hand (200).
async fn switch(server: &Server, webhook: &Value, on: bool) {
    let path = webhook_path(webhook, "/");
    let body = json!({"is_active": on});
    server
        .expect(200, &format!("PATCH {path}"), Some(body))
        .await;
}

/// One delivery of `webhook` with its attempts.
async fn delivery_detail(server: &Server, webhook: &Value, delivery: &Value) -> Value {
    let path = webhook_path(webhook, &format!("/deliveries/{delivery}"));
    server.get(&path).await
}

/// Waits until the webhook's state satisfies `check`; that state. (The deadline is
/// generous: it bounds a failing test, it does not time anything.)
async fn wait_state(
    server: &Server,
    webhook: &Value,
    what: &str,
    check: impl Fn(&Value) -> bool,
) -> Value {
    eventually(60, what, || async {
        let state = webhook_state(server, webhook).await;
        check(&state).then_some(state)
    })
    .await
}

/// Waits until exactly `count` deliveries are pending after one failed attempt each.
async fn wait_attempted_and_waiting(server: &Server, webhook: &Value, count: usize) -> Vec<Value> {
    let path = webhook_path(webhook, "/deliveries?status=pending");
    eventually(20, &format!("{count} attempted and waiting"), || async {
        let page = server.get(&path).await;
        let items = page["results"].as_array().cloned().unwrap_or_default();
        (items.len() == count && items.iter().all(|d| d["attempts"] == 1)).then_some(items)
    })
    .await
}

async fn webhook_state(server: &Server, webhook: &Value) -> Value {
    server.get(&webhook_path(webhook, "/")).await
}

/// Waits until the webhook's log has `count` deliveries in `status`.
async fn wait_status(server: &Server, webhook: &Value, status: &str, count: usize) -> Vec<Value> {
    let path = format!("/api/webhooks/{}/deliveries?status={status}", webhook["id"]);
    eventually(20, &format!("{count} deliveries {status}"), || async {
        let page = server.get(&path).await;
        let items = page["results"].as_array().cloned().unwrap_or_default();
        (items.len() >= count).then_some(items)
    })
    .await
}

/// Waits until the webhook's log counts exactly `count` succeeded deliveries.
async fn wait_succeeded_count(server: &Server, webhook: &Value, count: u64) {
    let path = format!(
        "/api/webhooks/{}/deliveries?status=succeeded",
        webhook["id"]
    );
    eventually(20, &format!("{count} deliveries succeeded"), || async {
        (server.get(&path).await["count"] == count).then_some(())
    })
    .await;
}

#[tokio::test]
async fn the_delivery_log_shows_every_attempt() {
    let server = Server::start_with(&[("LABELHOOK_RETRY_SCHEDULE", "50ms,50ms")]);
    let receiver = Receiver::start_with(Behaviour::Script(Arc::new(Mutex::new(vec![500])))).await;
    let (project, webhook) = setup(&server, &receiver).await;
    server.task(project, "first").await;
    server.task(project, "second").await;
    let done = wait_status(&server, &webhook, "succeeded", 2).await;
    let path = format!("/api/webhooks/{}/deliveries", webhook["id"]);
    let page = server.get(&format!("{path}?page_size=1")).await;
    assert_eq!(page["count"], 2);
    assert!(page["next"].is_string());
    assert_eq!(page["results"].as_array().unwrap().len(), 1);
    assert_eq!(
        server.get(&format!("{path}?action=TASKS_CREATED")).await["count"],
        2
    );
    assert_eq!(
        server
            .get(&format!("{path}?action=ANNOTATION_CREATED"))
            .await["count"],
        0
    );
    assert_eq!(
        server
            .get(&format!(
                "{path}?since=2000-01-01T00:00:00Z&until=2000-01-02T00:00:00Z"
            ))
            .await["count"],
        0
    );

    // The first one failed once, then succeeded.
    let first = done
        .iter()
        .find(|d| d["attempts"] == 2)
        .expect("one delivery needed a retry");
    let detail = server.get(&format!("{path}/{}", first["id"])).await;
    assert_eq!(detail["status"], "succeeded");
    assert_eq!(detail["request"]["url"], format!("{}/hook", receiver.url));
    assert_eq!(detail["request"]["body"]["action"], "TASKS_CREATED");
    assert_eq!(
        detail["request"]["headers"]["webhook-id"],
        detail["message_id"]
    );
    let attempts = detail["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 2);
    assert_eq!(attempts[0]["status_code"], 500);
    assert_eq!(attempts[0]["error_class"], "http");
    assert_eq!(attempts[1]["status_code"], 200);
    assert_eq!(attempts[1]["response_body"], "received");
    assert!(attempts[1]["response_headers"].is_object());
    assert!(attempts[1]["duration_ms"].as_f64().unwrap() >= 0.0);

    // Bad filters and foreign ids.
    let other = server.other_organization("log@example.com");
    let redeliver_first = format!("POST {path}/{}/redeliver", first["id"]);
    for (token, status, request) in [
        (TOKEN, 400, format!("GET {path}?status=lost")),
        (TOKEN, 400, format!("GET {path}?since=yesterday")),
        (TOKEN, 404, format!("GET {path}/999999")),
        (&other, 404, format!("GET {path}")),
        (&other, 404, redeliver_first),
    ] {
        server.expect_as(token, status, &request, None).await;
    }
}

#[tokio::test]
async fn redeliver_sends_again_with_the_same_id() {
    let server = Server::start();
    let receiver = Receiver::start().await;
    let (project, webhook) = setup(&server, &receiver).await;
    server.task(project, "x").await;
    let done = wait_status(&server, &webhook, "succeeded", 1).await;
    redeliver(&server, &webhook, &done[0]["id"]).await;
    let got = receiver.wait_for("TASKS_CREATED", 2).await;
    assert_eq!(got[0].header("webhook-id"), got[1].header("webhook-id"));
    assert_eq!(got[0].raw, got[1].raw, "the same body");
}

#[tokio::test]
async fn exhausted_retries_fail_and_can_be_recovered() {
    let server = Server::start_with(&[("LABELHOOK_RETRY_SCHEDULE", "20ms,20ms")]);
    let receiver = Receiver::start_with(Behaviour::Status(500)).await;
    let (project, webhook) = setup(&server, &receiver).await;
    server.task(project, "x").await;
    let failed = wait_status(&server, &webhook, "failed", 1).await;
    assert_eq!(
        failed[0]["attempts"], 3,
        "the first attempt plus two retries"
    );
    assert_eq!(receiver.received().len(), 3);
    assert_eq!(
        webhook_state(&server, &webhook).await["consecutive_failures"],
        3
    );

    receiver.set(Behaviour::Status(200));
    let since = json!({"since": "2000-01-01T00:00:00Z"});
    let answer = recover(&server, &webhook, 200, since).await;
    assert_eq!(answer["recovered"], 1);
    wait_status(&server, &webhook, "succeeded", 1).await;
    assert_eq!(receiver.received().len(), 4);
    // Since is required.
    recover(&server, &webhook, 400, json!({})).await;
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let server = Server::start_with(&[("LABELHOOK_RETRY_SCHEDULE", "10ms,10ms")]);
    let receiver = Receiver::start_with(Behaviour::WithHeaders(
        429,
        vec![("Retry-After".into(), "1".into())],
    ))
    .await;
    let (project, _) = setup(&server, &receiver).await;
    server.task(project, "x").await;
    receiver.wait_for("TASKS_CREATED", 1).await;
    receiver.set(Behaviour::Status(200));
    let got = receiver.wait_for("TASKS_CREATED", 2).await;
    let gap = got[1].at.duration_since(got[0].at);
    assert!(
        gap >= std::time::Duration::from_millis(900),
        "retried after {gap:?}, before Retry-After's 1 s"
    );
}

#[tokio::test]
async fn redirects_are_failures_and_not_followed() {
    let server = Server::start_with(&[("LABELHOOK_RETRY_SCHEDULE", "none")]);
    let target = Receiver::start().await;
    let receiver = Receiver::start_with(Behaviour::WithHeaders(
        302,
        vec![("Location".into(), target.url.clone())],
    ))
    .await;
    let (project, webhook) = setup(&server, &receiver).await;
    server.task(project, "x").await;
    let failed = wait_status(&server, &webhook, "failed", 1).await;
    assert_eq!(failed[0]["last_status_code"], 302);
    assert!(target.received().is_empty(), "the redirect was followed");
}

#[tokio::test]
async fn gone_switches_the_webhook_off_and_switching_on_sends_what_was_held() {
    let server = Server::start();
    let receiver = Receiver::start_with(Behaviour::Status(410)).await;
    let (project, webhook) = setup(&server, &receiver).await;
    server.task(project, "x").await;
    let state = wait_state(&server, &webhook, "the webhook to switch off", |s| {
        s["is_active"] == false
    })
    .await;
    assert_eq!(state["disabled_reason"], "gone");
    assert_eq!(state["delivery_stats"]["held"], 1);
    receiver.set(Behaviour::Status(200));
    switch(&server, &webhook, true).await;
    receiver.wait_for("TASKS_CREATED", 2).await;
    assert_eq!(
        webhook_state(&server, &webhook).await["consecutive_failures"],
        0
    );
}

#[tokio::test]
async fn too_many_failures_pause_the_webhook_without_losing_events() {
    // LABELHOOK_DISABLE_AFTER=0s: switched off at the attempt count alone (the breaker,
    // at its default 5 failures, does not open before).
    let server = Server::start_with(&[
        ("WEBHOOK_MAX_CONSECUTIVE_FAILURES", "3"),
        ("LABELHOOK_DISABLE_AFTER", "0s"),
        ("LABELHOOK_RETRY_SCHEDULE", "20ms,20ms,20ms,20ms,20ms"),
    ]);
    let receiver = Receiver::start_with(Behaviour::Status(503)).await;
    let (project, webhook) = setup(&server, &receiver).await;
    server.task(project, "before").await;
    let state = wait_state(&server, &webhook, "the webhook to pause", |s| {
        s["is_active"] == false
    })
    .await;
    assert_eq!(state["disabled_reason"], "failures");
    assert_eq!(state["consecutive_failures"], 3);
    let attempts_while_on = receiver.received().len();
    assert_eq!(attempts_while_on, 3);

    // Events while paused are kept, not sent.
    server.task(project, "during").await;
    let state = wait_state(&server, &webhook, "two held deliveries", |s| {
        s["delivery_stats"]["held"] == 2
    })
    .await;
    assert_eq!(state["delivery_stats"]["pending"], 0);
    assert_eq!(
        receiver.received().len(),
        attempts_while_on,
        "nothing is sent while paused"
    );

    // Switched on: both go out.
    receiver.set(Behaviour::Status(200));
    switch(&server, &webhook, true).await;
    receiver
        .wait_until(20, "both tasks", |got| {
            let texts: Vec<&str> = got
                .iter()
                .filter_map(|r| r.body["tasks"][0]["data"]["text"].as_str())
                .collect();
            texts.contains(&"during")
                && got
                    .iter()
                    .filter(|r| r.body["tasks"][0]["data"]["text"] == "before")
                    .count()
                    >= 4
        })
        .await;
    // A webhook switched off by its user gets nothing, not even held deliveries.
    switch(&server, &webhook, false).await;
    server.task(project, "off").await;
    let state = webhook_state(&server, &webhook).await;
    assert_eq!(state["disabled_reason"], "user");
    assert_eq!(state["delivery_stats"]["held"], 0);
}

/// The whole outage, with the settings a user gets: a receiver that fails makes the
/// breaker open after a few attempts; then it gets one probe at a time on the schedule,
/// not an attempt per event; events meanwhile are held; when a probe succeeds every
/// delivery goes out at once, and nobody had to switch anything on.
#[tokio::test]
async fn a_receiver_that_is_down_is_probed_and_gets_everything_when_it_is_back() {
    let server = Server::start();
    let receiver = Receiver::start_with(Behaviour::Status(503)).await;
    let (project, webhook) = setup(&server, &receiver).await;
    for i in 0..40 {
        server.task(project, &format!("before {i}")).await;
    }
    // One attempt per step of the schedule (5 s) until the breaker opens at the fifth.
    let state = wait_state(&server, &webhook, "the breaker to open with 40 held", |s| {
        s["delivery_stats"]["breaker"] == "open"
            && s["delivery_stats"]["held"].as_i64().unwrap_or(0)
                + s["delivery_stats"]["pending"].as_i64().unwrap_or(0)
                == 40
    })
    .await;
    assert_eq!(state["is_active"], true, "not switched off: {state}");
    assert!(
        state["delivery_stats"]["next_probe_at"].is_string(),
        "{state}"
    );
    assert!(
        state["delivery_stats"]["failing_since"].is_string(),
        "{state}"
    );
    assert!(
        state["delivery_stats"]["last_error"]
            .as_str()
            .is_some_and(|e| e.starts_with("HTTP 503")),
        "{state}"
    );
    let before_open = receiver.received().len();
    assert!(
        (5..40).contains(&before_open),
        "the breaker opened after 5 failed attempts, not after 40: {before_open}"
    );
    // Events while the breaker is open are held, not sent.
    for i in 0..20 {
        server.task(project, &format!("during {i}")).await;
    }
    // One probe (the oldest held delivery) after the first step of the schedule, then
    // nothing until the next step.
    let got = receiver
        .wait_until(20, "the first probe", |got| got.len() > before_open)
        .await;
    let first_probe = got[before_open].clone();
    assert_eq!(
        first_probe.body["tasks"][0]["data"]["text"], "before 0",
        "the oldest held delivery is the probe"
    );
    receiver.set(Behaviour::Status(200));
    let got = receiver
        .wait_until(40, "the second probe", |got| got.len() > before_open + 1)
        .await;
    let second_probe = &got[before_open + 1];
    let gap = second_probe.at.duration_since(first_probe.at);
    assert!(
        gap >= std::time::Duration::from_secs(5),
        "the next probe waited for the next step: {gap:?}"
    );
    // The probe succeeded: everything held goes out at once, without anyone acting.
    let got = receiver
        .wait_until(20, "all 60 events", |got| {
            let ids: std::collections::HashSet<&str> =
                got.iter().map(|r| r.header("webhook-id")).collect();
            ids.len() == 60
        })
        .await;
    assert_eq!(
        got.len(),
        before_open + 1 + 60,
        "one failed probe while down, then each event once"
    );
    let state = wait_state(&server, &webhook, "the breaker to close", |s| {
        s["delivery_stats"]["breaker"] == "closed"
    })
    .await;
    assert_eq!(state["consecutive_failures"], 0);
    assert!(state["delivery_stats"]["failing_since"].is_null());
    wait_succeeded_count(&server, &webhook, 60).await;
}

/// A burst of events for a receiver that is down from the start: it is never sent a burst
/// back, only one request per step of the retry schedule, before the breaker opens as
/// after; and when it is back everything arrives, each event once, with nobody acting.
#[tokio::test]
async fn a_dead_receiver_gets_one_request_per_retry_step_from_the_first() {
    let steps = ["1s"; 30].join(",");
    let server = Server::start_with(&[
        ("LABELHOOK_RETRY_SCHEDULE", &steps),
        ("LABELHOOK_BREAKER_PROBE_MAX", "1s"),
    ]);
    let receiver = Receiver::start_with(Behaviour::Status(503)).await;
    let (project, webhook) = setup(&server, &receiver).await;
    let down_since = std::time::Instant::now();
    let texts: Vec<String> = (0..30).map(|i| format!("burst {i}")).collect();
    futures::future::join_all(texts.iter().map(|t| server.task(project, t))).await;
    wait_state(
        &server,
        &webhook,
        "the breaker to open, then two probes",
        |s| s["delivery_stats"]["breaker"] == "open" && receiver.received().len() >= 7,
    )
    .await;
    for i in 0..10 {
        server.task(project, &format!("while open {i}")).await;
    }
    receiver
        .wait_until(20, "another probe", |got| got.len() >= 8)
        .await;
    let while_down = receiver.received();
    receiver.set(Behaviour::Status(200));
    let down_for = down_since.elapsed();
    // Steps are 1 s ± 20%: requests at least 0.8 s apart, never two at once.
    let gaps: Vec<_> = while_down
        .windows(2)
        .map(|pair| pair[1].at.duration_since(pair[0].at))
        .collect();
    assert!(
        gaps.iter()
            .all(|gap| *gap >= std::time::Duration::from_millis(750)),
        "one request per step while down: gaps {gaps:?}"
    );
    assert!(
        while_down.len() as f64 <= 1.0 + down_for.as_secs_f64() / 0.8,
        "{} requests in {down_for:?}",
        while_down.len()
    );
    // Back: the next probe succeeds and everything goes out, each event once.
    let got = receiver
        .wait_until(30, "all 40 events", |got| {
            let ids: std::collections::HashSet<&str> =
                got.iter().map(|r| r.header("webhook-id")).collect();
            ids.len() == 40
        })
        .await;
    wait_succeeded_count(&server, &webhook, 40).await;
    let failed_ids: std::collections::HashSet<&str> =
        while_down.iter().map(|r| r.header("webhook-id")).collect();
    assert_eq!(
        got.len(),
        while_down.len() + 40,
        "each event once after the return ({} failed attempts on {} deliveries while down)",
        while_down.len(),
        failed_ids.len()
    );
}

/// A webhook is switched off only after failing continuously for LABELHOOK_DISABLE_AFTER
/// (and WEBHOOK_MAX_CONSECUTIVE_FAILURES attempts), not at a burst of failures; what it
/// held is kept and goes out when it is switched on.
#[tokio::test]
async fn a_webhook_is_switched_off_only_after_failing_for_long() {
    let server = Server::start_with(&[
        ("WEBHOOK_MAX_CONSECUTIVE_FAILURES", "8"),
        ("LABELHOOK_DISABLE_AFTER", "2s"),
        ("LABELHOOK_BREAKER_PROBE_MAX", "100ms"),
    ]);
    let receiver = Receiver::start_with(Behaviour::Status(500)).await;
    let ops = Receiver::start().await;
    server
        .webhook(
            json!({"url": ops.url, "send_for_all_actions": false, "actions": ["WEBHOOK_DISABLED"]}),
        )
        .await;
    let (project, webhook) = setup(&server, &receiver).await;
    for i in 0..12 {
        server.task(project, &format!("t{i}")).await;
    }
    let alert = ops.wait_for("WEBHOOK_DISABLED", 1).await.remove(0);
    assert_eq!(alert.body["webhook"]["id"], webhook["id"]);
    assert_eq!(alert.body["webhook"]["is_active"], false);
    assert_eq!(alert.body["webhook"]["disabled_reason"], "failures");
    assert_eq!(alert.body["held"], 12);
    let state = wait_state(&server, &webhook, "the webhook to be switched off", |s| {
        s["is_active"] == false
    })
    .await;
    assert_eq!(state["disabled_reason"], "failures");
    assert_eq!(state["delivery_stats"]["held"], 12, "{state}");
    let failing_since = state["delivery_stats"]["failing_since"].as_str().unwrap();
    let last_failure = state["delivery_stats"]["last_failure_at"].as_str().unwrap();
    let span = chrono::DateTime::parse_from_rfc3339(last_failure).unwrap()
        - chrono::DateTime::parse_from_rfc3339(failing_since).unwrap();
    assert!(
        span >= chrono::Duration::seconds(2),
        "switched off after failing for {span}, not 2 s"
    );
    let attempts = receiver.received().len();
    receiver.set(Behaviour::Status(200));
    switch(&server, &webhook, true).await;
    let got = receiver
        .wait_until(20, "the 12 held", |got| got.len() >= attempts + 12)
        .await;
    assert_eq!(got.len(), attempts + 12);
}

/// A pending delivery waiting for its next retry (an hour away) can be sent now, by
/// itself or with every other waiting one.
#[tokio::test]
async fn waiting_deliveries_can_be_retried_now() {
    // (A failing receiver gets one attempt per step, at most LABELHOOK_BREAKER_PROBE_MAX.)
    let server = Server::start_with(&[
        ("LABELHOOK_RETRY_SCHEDULE", "1h"),
        ("LABELHOOK_BREAKER_PROBE_MAX", "100ms"),
    ]);
    let receiver =
        Receiver::start_with(Behaviour::Script(Arc::new(Mutex::new(vec![500, 500, 500])))).await;
    let (project, webhook) = setup(&server, &receiver).await;
    for i in 0..3 {
        server.task(project, &format!("t{i}")).await;
    }
    let pending = wait_attempted_and_waiting(&server, &webhook, 3).await;
    // One by hand: it goes now, not in an hour.
    redeliver(&server, &webhook, &pending[0]["id"]).await;
    receiver
        .wait_until(10, "the redelivered one", |got| got.len() == 4)
        .await;
    // The other two together.
    let body = retry_now(&server, &webhook).await;
    assert_eq!(body["probe"], false);
    assert!(body["waiting"].as_u64().is_some_and(|n| n >= 2), "{body}");
    wait_status(&server, &webhook, "succeeded", 3).await;
    assert_eq!(receiver.received().len(), 6, "each once more, no more");
    server
        .expect(404, "POST /api/webhooks/999999/retry", None)
        .await;
}

/// With the breaker open, "retry now" sends the probe now (not everything at a dead
/// receiver); while it is under way the webhook says "probing" (not a next probe time);
/// its success sends the rest.
#[tokio::test]
async fn retry_now_with_the_breaker_open_probes_at_once() {
    let server = Server::start_with(&[
        ("LABELHOOK_RETRY_SCHEDULE", "1h"),
        ("LABELHOOK_BREAKER_PROBE_MAX", "1h"),
        ("LABELHOOK_BREAKER_FAILURES", "1"),
    ]);
    let receiver = Receiver::start_with(Behaviour::Status(503)).await;
    let (project, webhook) = setup(&server, &receiver).await;
    for i in 0..8 {
        server.task(project, &format!("t{i}")).await;
    }
    wait_state(&server, &webhook, "the breaker to open", |s| {
        s["delivery_stats"]["breaker"] == "open" && s["delivery_stats"]["held"] == 8
    })
    .await;
    let state = webhook_state(&server, &webhook).await;
    assert_eq!(state["delivery_stats"]["probing"], false, "{state}");
    assert!(
        state["delivery_stats"]["next_probe_at"].is_string(),
        "{state}"
    );
    let before = receiver.received().len();
    // Back, slowly: the probe stays under way for a while.
    receiver.set(Behaviour::Slow(1500));
    let body = retry_now(&server, &webhook).await;
    assert_eq!(body["probe"], true);
    assert_eq!(body["waiting"], 8);
    let state = wait_state(&server, &webhook, "the probe under way", |s| {
        s["delivery_stats"]["probing"] == true
    })
    .await;
    assert!(
        state["delivery_stats"]["next_probe_at"].is_null(),
        "no next probe time while one is under way (it was the lease's end): {state}"
    );
    assert_eq!(state["delivery_stats"]["breaker"], "open");
    let got = receiver
        .wait_until(15, "the 8 held", |got| got.len() >= before + 8)
        .await;
    assert_eq!(got.len(), before + 8);
    let state = wait_state(&server, &webhook, "the breaker to close", |s| {
        s["delivery_stats"]["breaker"] == "closed"
    })
    .await;
    assert_eq!(state["delivery_stats"]["probing"], false);
}

/// Recover covers pending deliveries when asked, and checks its window.
#[tokio::test]
async fn recover_can_include_pending_deliveries() {
    let server = Server::start_with(&[
        ("LABELHOOK_RETRY_SCHEDULE", "1h"),
        ("LABELHOOK_BREAKER_PROBE_MAX", "100ms"),
    ]);
    let receiver =
        Receiver::start_with(Behaviour::Script(Arc::new(Mutex::new(vec![500, 500])))).await;
    let (project, webhook) = setup(&server, &receiver).await;
    server.task(project, "a").await;
    server.task(project, "b").await;
    // Both failed once and wait for their retry (their outcome is written).
    wait_attempted_and_waiting(&server, &webhook, 2).await;
    let since = "2000-01-01T00:00:00Z";
    let answer = recover(&server, &webhook, 200, json!({"since": since})).await;
    assert_eq!(answer["recovered"], 0, "pending ones only when asked");
    let with_pending = json!({"since": since, "include_pending": true});
    let answer = recover(&server, &webhook, 200, with_pending).await;
    assert_eq!(answer["recovered"], 2);
    wait_status(&server, &webhook, "succeeded", 2).await;
    let backwards = json!({"since": "2026-02-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"});
    let answer = recover(&server, &webhook, 400, backwards).await;
    assert!(answer["validation_errors"]["until"].is_array(), "{answer}");
    let not_a_flag = json!({"since": since, "include_pending": "yes"});
    recover(&server, &webhook, 400, not_a_flag).await;
}

const ALERTS: [&str; 4] = [
    "WEBHOOK_FAILING",
    "WEBHOOK_RECOVERED",
    "WEBHOOK_DISABLED",
    "DELIVERY_FAILED",
];

/// An organization-level webhook that subscribes to the alerts hears that a webhook is
/// failing and that it recovered, with the webhook, counts and the last error. The
/// failing webhook never gets an alert about itself (though it subscribes), and a
/// webhook that takes every action gets none (a Label Studio receiver does not expect
/// them). /metrics shows the breaker.
#[tokio::test]
async fn alerts_tell_the_organization_when_a_webhook_fails_and_recovers() {
    // Steps of 1 s: the failing receiver gets one attempt a second until the breaker opens.
    let server = Server::start_with(&[("LABELHOOK_BREAKER_PROBE_MAX", "1s")]);
    let ops = Receiver::start().await;
    let everything = Receiver::start().await;
    let failing = Receiver::start_with(Behaviour::Status(503)).await;
    let project = server.project("alerts").await;
    server
        .webhook(json!({"url": ops.url, "send_for_all_actions": false, "actions": ALERTS}))
        .await;
    server.webhook(json!({"url": everything.url})).await;
    let webhook = server
        .webhook(json!({"url": failing.url, "send_for_all_actions": false,
                   "actions": ["TASKS_CREATED", "WEBHOOK_FAILING", "WEBHOOK_RECOVERED"]}))
        .await;
    for i in 0..6 {
        server.task(project, &format!("t{i}")).await;
    }
    let alert = ops.wait_for("WEBHOOK_FAILING", 1).await.remove(0);
    assert_eq!(alert.body["webhook"]["id"], webhook["id"]);
    assert_eq!(alert.body["webhook"]["url"], failing.url.as_str());
    assert!(
        alert.body["consecutive_failures"].as_i64().unwrap() >= 5,
        "{}",
        alert.body
    );
    assert!(
        alert.body["last_error"]
            .as_str()
            .unwrap()
            .starts_with("HTTP 503"),
        "{}",
        alert.body
    );
    assert!(alert.body["failing_since"].is_string());
    assert!(alert.body["next_probe_at"].is_string());
    let waiting = alert.body["held"].as_i64().unwrap() + alert.body["pending"].as_i64().unwrap();
    assert!(waiting >= 1, "{}", alert.body);
    let metric = format!(
        "labelhook_webhook_breaker_open{{webhook=\"{}\"}} 1",
        webhook["id"]
    );
    let scrape = server.metrics().await;
    assert!(scrape.contains(&metric), "{metric} missing:\n{scrape}");

    failing.set(Behaviour::Status(200));
    retry_now(&server, &webhook).await;
    let recovered = ops.wait_for("WEBHOOK_RECOVERED", 1).await.remove(0);
    assert_eq!(recovered.body["webhook"]["id"], webhook["id"]);
    assert_eq!(recovered.body["consecutive_failures"], 0);
    failing
        .wait_until(20, "the six tasks", |got| {
            got.iter()
                .filter(|r| r.action() == "TASKS_CREATED")
                .map(|r| r.header("webhook-id"))
                .collect::<std::collections::HashSet<_>>()
                .len()
                == 6
        })
        .await;
    // The everything-webhook got the tasks, so it was listening all along.
    everything.wait_for("TASKS_CREATED", 6).await;
    assert!(
        failing
            .received()
            .iter()
            .all(|r| !ALERTS.contains(&r.action())),
        "an alert about a webhook went to that webhook"
    );
    assert!(
        everything
            .received()
            .iter()
            .all(|r| !ALERTS.contains(&r.action())),
        "send_for_all_actions does not take alerts"
    );
    assert_eq!(ops.received().len(), 2, "one alert each way, no tasks");
}

/// A delivery that runs out of retries raises DELIVERY_FAILED with the delivery.
#[tokio::test]
async fn an_exhausted_delivery_raises_delivery_failed() {
    let server = Server::start_with(&[("LABELHOOK_RETRY_SCHEDULE", "none")]);
    let ops = Receiver::start().await;
    let failing = Receiver::start_with(Behaviour::Status(400)).await;
    let project = server.project("failed").await;
    server
        .webhook(
            json!({"url": ops.url, "send_for_all_actions": false, "actions": ["DELIVERY_FAILED"]}),
        )
        .await;
    let webhook = server
        .webhook(json!({"url": failing.url, "project": project}))
        .await;
    server.task(project, "x").await;
    let alert = ops.wait_for("DELIVERY_FAILED", 1).await.remove(0);
    assert_eq!(alert.body["webhook"]["id"], webhook["id"]);
    assert_eq!(alert.body["webhook"]["project"], project);
    assert_eq!(alert.body["delivery"]["action"], "TASKS_CREATED");
    assert_eq!(alert.body["delivery"]["attempts"], 1);
    assert_eq!(alert.body["delivery"]["last_status_code"], 400);
    let failed = wait_status(&server, &webhook, "failed", 1).await;
    assert_eq!(alert.body["delivery"]["id"], failed[0]["id"]);
    // A project webhook cannot subscribe to alerts (organization-only).
    server
        .expect(
            400,
            "POST /api/webhooks/",
            json!({"url": ops.url, "project": project, "actions": ["WEBHOOK_FAILING"]}).into(),
        )
        .await;
}

/// The health chart's numbers: attempts per hour by outcome for 24 hours, and the log
/// counts attempts the way the delivery's detail lists them (over redeliveries too).
#[tokio::test]
async fn hourly_counts_and_logged_attempts() {
    let server = Server::start_with(&[("LABELHOOK_RETRY_SCHEDULE", "50ms")]);
    let receiver = Receiver::start_with(Behaviour::Script(Arc::new(Mutex::new(vec![500])))).await;
    let (project, webhook) = setup(&server, &receiver).await;
    server.task(project, "x").await;
    let done = wait_status(&server, &webhook, "succeeded", 1).await;
    let path = format!("/api/webhooks/{}/hourly", webhook["id"]);
    let hourly = eventually(10, "both attempts counted", || async {
        let hourly = server.get(&path).await;
        (hourly["succeeded"] == 1 && hourly["failed"] == 1).then_some(hourly)
    })
    .await;
    let hours = hourly["hours"].as_array().unwrap();
    assert_eq!(hours.len(), 24);
    let last = &hours[23];
    assert_eq!(
        (last["succeeded"].as_i64(), last["failed"].as_i64()),
        (Some(1), Some(1))
    );
    assert!(
        hours[..23]
            .iter()
            .all(|h| h["succeeded"] == 0 && h["failed"] == 0)
    );
    assert_eq!(hourly["success_rate"], 0.5);
    let start = chrono::DateTime::parse_from_rfc3339(last["start"].as_str().unwrap()).unwrap();
    assert!(chrono::Utc::now().signed_duration_since(start) < chrono::Duration::hours(1));
    server
        .expect(404, "GET /api/webhooks/999999/hourly", None)
        .await;

    // Redelivered: the current schedule starts again, the log keeps counting.
    let id = &done[0]["id"];
    redeliver(&server, &webhook, id).await;
    receiver
        .wait_until(10, "the redelivery", |got| got.len() == 3)
        .await;
    let listed = eventually(10, "the redelivery recorded", || async {
        let page = server
            .get(&format!("/api/webhooks/{}/deliveries", webhook["id"]))
            .await;
        let row = page["results"][0].clone();
        (row["status"] == "succeeded" && row["attempts_logged"] == 3).then_some(row)
    })
    .await;
    assert_eq!(listed["attempts"], 1);
    let detail = delivery_detail(&server, &webhook, id).await;
    assert_eq!(detail["attempts"].as_array().unwrap().len(), 3);
    assert_eq!(detail["attempts_logged"], 3);
}

#[tokio::test]
async fn test_events_arrive_signed() {
    let server = Server::start();
    let receiver = Receiver::start().await;
    let (_, webhook) = setup(&server, &receiver).await;
    let delivery = server
        .expect(
            201,
            &format!("POST /api/webhooks/{}/test", webhook["id"]),
            None,
        )
        .await;
    assert_eq!(delivery["action"], "PING");
    let got = receiver.wait_for("PING", 1).await;
    assert_eq!(got[0].body["webhook"]["id"], webhook["id"]);
    assert_eq!(
        got[0].header("webhook-id"),
        delivery["message_id"].as_str().unwrap()
    );
    let verifier = standardwebhooks::Webhook::new(webhook["secret"].as_str().unwrap()).unwrap();
    verifier
        .verify(&got[0].raw, &headers_of(&got[0]))
        .expect("signed");
}

fn headers_of(r: &common::Received) -> axum::http::HeaderMap {
    let mut headers = axum::http::HeaderMap::new();
    for name in ["webhook-id", "webhook-timestamp", "webhook-signature"] {
        headers.insert(name, r.header(name).parse().unwrap());
    }
    headers
}

#[tokio::test]
async fn secret_rotation_signs_with_both_keys_during_the_grace_period() {
    let server = Server::start();
    let receiver = Receiver::start().await;
    let (project, webhook) = setup(&server, &receiver).await;
    let path = format!("/api/webhooks/{}/secret", webhook["id"]);
    let old = server.get(&path).await;
    assert_eq!(old["secret"], webhook["secret"]);
    assert!(old["previous_secret_expires_at"].is_null());
    let rotated = server
        .expect(200, &format!("POST {path}/rotate"), None)
        .await;
    assert_ne!(rotated["secret"], old["secret"]);
    assert!(rotated["previous_secret_expires_at"].is_string());
    assert_eq!(server.get(&path).await["secret"], rotated["secret"]);

    server.task(project, "x").await;
    let got = receiver.wait_for("TASKS_CREATED", 1).await;
    assert_eq!(got[0].header("webhook-signature").split(' ').count(), 2);
    for secret in [&old["secret"], &rotated["secret"]] {
        standardwebhooks::Webhook::new(secret.as_str().unwrap())
            .unwrap()
            .verify(&got[0].raw, &headers_of(&got[0]))
            .expect("each key verifies during the grace period");
    }
    let other = server.other_organization("secret@example.com");
    server
        .expect_as(&other, 404, &format!("GET {path}"), None)
        .await;
}

#[tokio::test]
async fn hub_signature_is_sent_when_asked_for() {
    let (server, receiver, project) = server_receiver_and_project("hub").await;
    let webhook = server
        .webhook(json!({"url": receiver.url, "project": project, "hub_signature": true}))
        .await;
    server.task(project, "x").await;
    let got = receiver.wait_for("TASKS_CREATED", 1).await;
    use hmac::Mac;
    let mut mac =
        hmac::Hmac::<sha2::Sha256>::new_from_slice(webhook["secret"].as_str().unwrap().as_bytes())
            .unwrap();
    mac.update(&got[0].raw);
    let expected: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(
        got[0].header("x-hub-signature-256"),
        format!("sha256={expected}")
    );
}

/// One receiver hangs for the whole timeout; another, fast one still gets everything while
/// the first holds its requests.
#[tokio::test]
async fn a_hanging_receiver_does_not_delay_the_others() {
    let server = Server::start_with(&[
        ("WEBHOOK_TIMEOUT", "60"),
        ("LABELHOOK_MAX_IN_FLIGHT_PER_WEBHOOK", "2"),
        ("LABELHOOK_MAX_IN_FLIGHT", "8"),
    ]);
    let hanging = Receiver::start_with(Behaviour::Hang).await;
    let fast = Receiver::start().await;
    let project = server.project("iso").await;
    server
        .webhook(json!({"url": hanging.url, "project": project}))
        .await;
    server
        .webhook(json!({"url": fast.url, "project": project}))
        .await;
    for i in 0..30 {
        server.task(project, &format!("t{i}")).await;
    }
    fast.wait_for("TASKS_CREATED", 30).await;
    assert_eq!(
        hanging.received().len(),
        1,
        "the hanging receiver (never heard from: one at a time) holds one slot of its own"
    );
}

/// A receiver that stops answering gets one delivery at a time, not its whole cap once per
/// timeout; when it answers again, everything held meanwhile arrives.
#[tokio::test]
async fn a_receiver_that_does_not_answer_gets_one_delivery_at_a_time() {
    let retries = ["100ms"; 60].join(",");
    let server = Server::start_with(&[
        ("WEBHOOK_TIMEOUT", "0.3"),
        ("LABELHOOK_MAX_IN_FLIGHT_PER_WEBHOOK", "4"),
        ("WEBHOOK_MAX_CONSECUTIVE_FAILURES", "0"),
        ("LABELHOOK_BREAKER_FAILURES", "0"),
        ("LABELHOOK_RETRY_SCHEDULE", &retries),
    ]);
    let receiver = Receiver::start().await;
    let (project, webhook) = setup(&server, &receiver).await;
    server.task(project, "answered").await;
    wait_status(&server, &webhook, "succeeded", 1).await;
    receiver.set(Behaviour::Hang);
    for i in 0..12 {
        server.task(project, &format!("t{i}")).await;
    }
    // Trusted (it answered): the first four go out together and time out together; after
    // that, one at a time.
    let got = receiver
        .wait_until(30, "4 attempts after the first timeouts", |got| {
            got.len() >= 9
        })
        .await;
    let first_wave = got[4].at;
    let later: Vec<_> = got[5..9].iter().map(|r| r.at).collect();
    assert!(
        later[0].duration_since(first_wave) >= std::time::Duration::from_millis(250),
        "the fifth attempt waited for the first ones to time out"
    );
    for pair in later.windows(2) {
        assert!(
            pair[1].duration_since(pair[0]) >= std::time::Duration::from_millis(250),
            "one attempt at a time, each after the previous one timed out: {:?}",
            later
                .windows(2)
                .map(|p| p[1].duration_since(p[0]))
                .collect::<Vec<_>>()
        );
    }
    receiver.set(Behaviour::Status(200));
    let delivered = wait_status(&server, &webhook, "succeeded", 13).await;
    assert_eq!(delivered.len(), 13, "every event arrived once it answered");
}

/// A receiver slower than the events: with one slot per webhook, most deliveries cannot
/// be handed to the dispatcher at commit and wait in the outbox for a claim. Every event
/// still arrives exactly once, and once the backlog is gone new events flow again.
#[tokio::test]
async fn a_webhook_at_its_cap_gets_every_event_exactly_once() {
    let server = Server::start_with(&[("LABELHOOK_MAX_IN_FLIGHT_PER_WEBHOOK", "1")]);
    let receiver = Receiver::start_with(Behaviour::Slow(20)).await;
    let (project, webhook) = setup(&server, &receiver).await;
    let texts: Vec<String> = (0..40).map(|i| format!("t{i}")).collect();
    futures::future::join_all(texts.iter().map(|t| server.task(project, t))).await;
    receiver.wait_for("TASKS_CREATED", 40).await;
    server.task(project, "after the backlog").await;
    let got = receiver.wait_for("TASKS_CREATED", 41).await;
    let mut ids: Vec<&str> = got.iter().map(|r| r.header("webhook-id")).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 41, "41 events, 41 distinct deliveries");
    let texts: std::collections::BTreeSet<String> = got
        .iter()
        .map(|r| {
            r.body["tasks"][0]["data"]["text"]
                .as_str()
                .unwrap_or("")
                .to_string()
        })
        .collect();
    assert_eq!(texts.len(), 41, "every task arrived");
    wait_status(&server, &webhook, "succeeded", 41).await;
    assert_eq!(
        receiver.with_action("TASKS_CREATED").len(),
        41,
        "nothing was sent twice"
    );
}

#[tokio::test]
async fn old_finished_deliveries_are_pruned() {
    let mut server = Server::start();
    let receiver = Receiver::start().await;
    let (project, webhook) = setup(&server, &receiver).await;
    server.task(project, "x").await;
    wait_status(&server, &webhook, "succeeded", 1).await;
    server.restart_with(&[("LABELHOOK_RETENTION", "1ms")]);
    let page = eventually(10, "the log to be pruned", || async {
        let page = server
            .get(&format!("/api/webhooks/{}/deliveries", webhook["id"]))
            .await;
        (page["count"] == 0).then_some(page)
    })
    .await;
    assert_eq!(page["results"], json!([]));
}

#[tokio::test]
async fn the_ssrf_guard_refuses_private_destinations_at_creation() {
    let server = Server::start_with(&[("SSRF_PROTECTION_ENABLED", "true")]);
    let project = server.project("ssrf").await;
    for url in [
        "http://127.0.0.1:9/x",
        "http://localhost/x",
        "http://[::1]/x",
        "http://[::ffff:127.0.0.1]/x",
        "http://10.0.0.5/x",
        "http://169.254.169.254/latest/meta-data",
        "http://[fd00::1]/x",
        "http://100.64.0.1/x",
    ] {
        let body = server
            .expect(
                400,
                "POST /api/webhooks/",
                Some(json!({"url": url, "project": project})),
            )
            .await;
        let message = body["validation_errors"]["url"][0]
            .as_str()
            .unwrap_or_default();
        assert!(
            message.contains("SSRF_PROTECTION_ENABLED") || message.contains("LABELHOOK_SSRF_ALLOW"),
            "{url}: {message}"
        );
    }
    server
        .expect(
            400,
            "POST /api/ml/",
            Some(json!({"url": "http://127.0.0.1:9", "project": project})),
        )
        .await;
    let webhook = server
        .webhook(json!({"url": "http://93.184.216.34/x", "project": project}))
        .await;
    let (status, _) = server
        .call(
            "PATCH",
            &format!("/api/webhooks/{}/", webhook["id"]),
            Some(json!({"url": "http://127.0.0.1/x"})),
        )
        .await;
    assert_eq!(status, 400, "an update is checked too");
}

#[tokio::test]
async fn allowed_subnets_pass_the_guard_and_denied_ones_do_not() {
    let receiver = Receiver::start().await;
    let server = Server::start_with(&[
        ("SSRF_PROTECTION_ENABLED", "true"),
        ("LABELHOOK_SSRF_ALLOW", "127.0.0.0/8"),
    ]);
    let (project, _) = setup(&server, &receiver).await;
    server.task(project, "x").await;
    receiver.wait_for("TASKS_CREATED", 1).await;

    let strict = Server::start_with(&[
        ("SSRF_PROTECTION_ENABLED", "true"),
        ("LABELHOOK_SSRF_ALLOW", "127.0.0.0/8"),
        ("LABELHOOK_SSRF_DENY", "127.0.0.1/32"),
    ]);
    let project = strict.project("deny").await;
    strict
        .expect(
            400,
            "POST /api/webhooks/",
            Some(json!({"url": receiver.url, "project": project})),
        )
        .await;
}

/// A webhook that was allowed when created is still checked at every attempt.
#[tokio::test]
async fn the_ssrf_guard_blocks_attempts_too() {
    let receiver = Receiver::start().await;
    let mut server = Server::start_with(&[("LABELHOOK_RETRY_SCHEDULE", "none")]);
    let (project, webhook) = setup(&server, &receiver).await;
    server.restart_with(&[("SSRF_PROTECTION_ENABLED", "true")]);
    server.task(project, "x").await;
    let failed = wait_status(&server, &webhook, "failed", 1).await;
    let detail = delivery_detail(&server, &webhook, &failed[0]["id"]).await;
    assert_eq!(detail["attempts"][0]["error_class"], "blocked", "{detail}");
    assert!(
        receiver.received().is_empty(),
        "nothing reached the receiver"
    );
}

#[tokio::test]
async fn metrics_describe_deliveries_and_requests() {
    let server = Server::start_with(&[("LABELHOOK_RETRY_SCHEDULE", "none")]);
    let receiver = Receiver::start().await;
    let failing = Receiver::start_with(Behaviour::Status(500)).await;
    let (project, webhook) = setup(&server, &receiver).await;
    server
        .webhook(json!({"url": failing.url, "project": project}))
        .await;
    server.task(project, "x").await;
    wait_status(&server, &webhook, "succeeded", 1).await;
    let expected = [
        "labelhook_delivery_attempts_total{",
        "outcome=\"succeeded\"",
        "outcome=\"http\"",
        "action=\"TASKS_CREATED\"",
        "labelhook_delivery_attempt_duration_seconds_bucket",
        "labelhook_deliveries_pending 0",
        "labelhook_deliveries_held 0",
        "labelhook_oldest_pending_delivery_age_seconds",
        "labelhook_webhook_consecutive_failures{webhook=\"2\"} 1",
        "labelhook_http_request_duration_seconds_bucket{method=\"POST\",route=\"/api/tasks\"",
    ];
    // One scrape reads the outbox, then the counters: poll until a scrape sees both settled.
    let mut last = String::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::time::Instant::now() < deadline {
        last = server.metrics().await;
        if expected.iter().all(|e| last.contains(e)) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let missing: Vec<&&str> = expected.iter().filter(|e| !last.contains(**e)).collect();
    panic!("/metrics lacks {missing:?}:\n{last}");
}

/// A receiver that accepts the connection and drops it without answering: a failure,
/// logged with its transport error class.
#[tokio::test]
async fn connection_resets_are_failures_that_get_retried() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let server = Server::start_with(&[("LABELHOOK_RETRY_SCHEDULE", "none")]);
    let project = server.project("reset").await;
    let webhook = server
        .webhook(json!({"url": format!("http://{address}/hook"), "project": project}))
        .await;
    let accept = tokio::spawn(async move {
        // Read a little of the request, then close without answering.
        use tokio::io::AsyncReadExt;
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut buffer = [0u8; 64];
        let _ = socket.read(&mut buffer).await;
        drop(socket);
    });
    server.task(project, "x").await;
    let failed = wait_status(&server, &webhook, "failed", 1).await;
    accept.await.unwrap();
    let detail = delivery_detail(&server, &webhook, &failed[0]["id"]).await;
    let attempt = &detail["attempts"][0];
    assert!(attempt["status_code"].is_null(), "{attempt}");
    assert!(
        ["http", "connect"].contains(&attempt["error_class"].as_str().unwrap()),
        "{attempt}"
    );
    assert!(!attempt["error"].as_str().unwrap().is_empty());
}

/// With LABELHOOK_DELIVERY_PROXY every delivery leaves through the proxy.
#[tokio::test]
async fn deliveries_go_through_the_egress_proxy() {
    let proxy = Receiver::start().await;
    let server = Server::start_with(&[
        ("SSRF_PROTECTION_ENABLED", "true"),
        ("LABELHOOK_DELIVERY_PROXY", &proxy.url),
    ]);
    let project = server.project("proxy").await;
    server
        .webhook(json!({"url": "http://93.184.216.34/hook", "project": project}))
        .await;
    server.task(project, "x").await;
    let got = proxy.wait_for("TASKS_CREATED", 1).await;
    assert_eq!(got[0].header("host"), "93.184.216.34");
    assert_eq!(got[0].path, "/hook");
}

/// Deleting a webhook while one of its deliveries is in flight does not disturb the others.
#[tokio::test]
async fn deleting_a_webhook_mid_delivery_leaves_the_others_flowing() {
    let server = Server::start();
    let slow = Receiver::start_with(Behaviour::Slow(1500)).await;
    let fast = Receiver::start().await;
    let project = server.project("delete").await;
    let doomed = server
        .webhook(json!({"url": slow.url, "project": project}))
        .await;
    let kept = server
        .webhook(json!({"url": fast.url, "project": project}))
        .await;
    server
        .call(
            "POST",
            &format!("/api/webhooks/{}/test", doomed["id"]),
            None,
        )
        .await;
    slow.wait_for("PING", 1).await; // in flight now
    server
        .expect(
            204,
            &format!("DELETE /api/webhooks/{}/", doomed["id"]),
            None,
        )
        .await;
    // The slow attempt ends and finds its delivery gone; its outcome is counted once the
    // recorder is past it (a recorder stuck on it would never count it).
    eventually(20, "the orphaned attempt to be processed", || async {
        let text = server.metrics().await;
        text.contains("action=\"PING\"").then_some(())
    })
    .await;
    for i in 0..3 {
        server.task(project, &format!("after {i}")).await;
    }
    fast.wait_for("TASKS_CREATED", 3).await;
    wait_status(&server, &kept, "succeeded", 3).await;
}

/// A receiver that answers 200 but trickles its body past the timeout: the answer counts
/// (the event was taken); the log keeps what arrived of the body.
#[tokio::test]
async fn a_slow_body_after_a_success_status_still_counts() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buffer = vec![0u8; 65536];
                let _ = socket.read(&mut buffer).await;
                let _ = socket
                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\npartial")
                    .await;
                // ...and the other 993 bytes never come.
                std::future::pending::<()>().await;
            });
        }
    });
    let server = Server::start_with(&[
        ("WEBHOOK_TIMEOUT", "1"),
        ("LABELHOOK_RETRY_SCHEDULE", "none"),
    ]);
    let project = server.project("slow body").await;
    let webhook = server
        .webhook(json!({"url": format!("http://{address}/hook"), "project": project}))
        .await;
    server.task(project, "x").await;
    let done = wait_status(&server, &webhook, "succeeded", 1).await;
    let detail = delivery_detail(&server, &webhook, &done[0]["id"]).await;
    assert_eq!(detail["attempts"][0]["status_code"], 200);
    assert_eq!(detail["attempts"][0]["response_body"], "partial");
}
