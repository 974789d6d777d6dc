//! Fault drills: each counts what was sent, committed, received, duplicated and lost.
//!
//! "Sent" = events the API confirmed (201). "Committed" = tasks in the database after the
//! drill (each task is one TASKS_CREATED event: WEBHOOK_BATCH_SIZE=1), which also covers
//! requests cut by a kill whose transaction did commit. "Lost" = committed events never
//! acknowledged by the receiver; "duplicates" = acknowledged more than once (same
//! `webhook-id`), which at-least-once delivery allows.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hyper::Method;
use serde_json::Value;

use crate::client::{Conn, import_body};
use crate::receiver::{Keep, Mode, Receiver};
use crate::report::Row;
use crate::scenarios::Opts;
use crate::server::Server;

const PER_IMPORT: u64 = 50;

fn env(pairs: &[(&'static str, &str)]) -> Vec<(&'static str, String)> {
    pairs.iter().map(|(k, v)| (*k, v.to_string())).collect()
}

/// Import load from `workers` connections until `target` events are confirmed or the
/// deadline; the address may change under it (restart). Returns the confirmed keys.
struct Load {
    confirmed: Arc<AtomicU64>,
    failed_requests: Arc<AtomicU64>,
    handles: Vec<tokio::task::JoinHandle<Vec<u64>>>,
}

/// A project named after the drill, whose webhook sends every event to `rx` at `/<name>`.
async fn drill_project(server: &Server, rx: &Receiver, name: &str) -> anyhow::Result<(Conn, i64)> {
    let mut api = Conn::new(server.addr);
    let project = api.create_project(&format!("{name} drill")).await?;
    api.create_webhook(&rx.url(&format!("/{name}")), Some(project))
        .await?;
    Ok((api, project))
}

/// Imports `events` tasks into `project` by two workers, at a steady rate that spreads
/// them over `spread`.
fn spread_load(
    server: &Server,
    project: i64,
    events: u64,
    spread: Duration,
    deadline: Instant,
) -> Load {
    let imports_per_s = (events / PER_IMPORT) as f64 / spread.as_secs_f64();
    let addr = Arc::new(Mutex::new(server.addr));
    start_load(addr, project, 2, events, Some(imports_per_s), deadline)
}

fn start_load(
    addr: Arc<Mutex<SocketAddr>>,
    project: i64,
    workers: usize,
    target: u64,
    imports_per_s: Option<f64>,
    deadline: Instant,
) -> Load {
    let confirmed = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let next = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let mut handles = Vec::new();
    for _ in 0..workers {
        let (addr, confirmed, failed, next) = (
            addr.clone(),
            confirmed.clone(),
            failed.clone(),
            next.clone(),
        );
        handles.push(tokio::spawn(async move {
            let mut conn = Conn::new(*addr.lock().unwrap());
            let mut keys = Vec::new();
            while confirmed.load(Relaxed) < target && Instant::now() < deadline {
                let batch = next.fetch_add(1, Relaxed);
                if let Some(rate) = imports_per_s {
                    let at = start + Duration::from_secs_f64(batch as f64 / rate);
                    tokio::time::sleep_until(at.into()).await;
                }
                conn.retarget(*addr.lock().unwrap());
                let key0 = batch * PER_IMPORT;
                let result = tokio::time::timeout(
                    Duration::from_secs(30),
                    conn.call(
                        Method::POST,
                        &format!("/api/projects/{project}/import"),
                        Some(import_body(key0, PER_IMPORT)),
                    ),
                )
                .await;
                match result {
                    Ok(Ok((201, _))) => {
                        confirmed.fetch_add(PER_IMPORT, Relaxed);
                        keys.extend(key0..key0 + PER_IMPORT);
                    }
                    _ => {
                        failed.fetch_add(1, Relaxed);
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
            }
            keys
        }));
    }
    Load {
        confirmed,
        failed_requests: failed,
        handles,
    }
}

impl Load {
    async fn finish(self) -> (HashSet<u64>, u64) {
        let mut keys = HashSet::new();
        for h in self.handles {
            if let Ok(k) = h.await {
                keys.extend(k);
            }
        }
        (keys, self.failed_requests.load(Relaxed))
    }
}

/// Waits until every committed task's event was acknowledged (or the deadline), then
/// counts.
async fn account(
    label: &str,
    rx: &Receiver,
    api: &mut Conn,
    project: i64,
    confirmed: &HashSet<u64>,
    failed_requests: u64,
    within: Duration,
) -> anyhow::Result<(Row, f64)> {
    let committed: HashSet<i64> = api.task_ids(project).await?.into_iter().collect();
    let t = Instant::now();
    let deadline = t + within;
    // Cheap wait on the count first; the sets are checked after.
    while (rx.acked() as usize) < committed.len() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut log = rx.take_log();
    let mut ids: HashMap<i64, u32> = HashMap::new();
    let mut keys: HashSet<u64> = HashSet::new();
    let mut message_ids: HashMap<bytes::Bytes, u32> = HashMap::new();
    let mut ingest = |log: &mut Vec<crate::receiver::Rec>,
                      ids: &mut HashMap<i64, u32>,
                      keys: &mut HashSet<u64>| {
        for rec in log.drain(..) {
            let v: Value = serde_json::from_slice(rec.body.as_deref().unwrap_or_default())
                .unwrap_or(Value::Null);
            for task in v["tasks"].as_array().into_iter().flatten() {
                if let Some(id) = task["id"].as_i64() {
                    *ids.entry(id).or_default() += 1;
                }
                if let Some(k) = task["data"]["k"].as_u64() {
                    keys.insert(k);
                }
            }
            if let Some(m) = rec.id {
                *message_ids.entry(m).or_default() += 1;
            }
        }
    };
    ingest(&mut log, &mut ids, &mut keys);
    // Missing ones may still be on their way (retries): keep waiting until the deadline.
    while committed.iter().any(|id| !ids.contains_key(id)) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let mut more = rx.take_log();
        ingest(&mut more, &mut ids, &mut keys);
    }
    let complete_after = t.elapsed().as_secs_f64();
    let received: u64 = ids.values().map(|&n| n as u64).sum();
    let duplicates = received - ids.len() as u64;
    let dup_message_ids: u64 = message_ids.values().map(|&n| (n - 1) as u64).sum();
    let lost = committed.iter().filter(|id| !ids.contains_key(id)).count();
    let lost_confirmed = confirmed.iter().filter(|k| !keys.contains(k)).count();
    let phantom = ids.keys().filter(|id| !committed.contains(id)).count();
    let row = Row::new(label)
        .set("sent_confirmed", confirmed.len() as f64)
        .set("requests_failed_x50", failed_requests as f64)
        .set("committed", committed.len() as f64)
        .set("received", received as f64)
        .set("unique", ids.len() as f64)
        .set("duplicates", duplicates as f64)
        .set("dup_webhook_ids", dup_message_ids as f64)
        .set("lost", lost as f64)
        .set("lost_confirmed", lost_confirmed as f64)
        .set("phantom", phantom as f64);
    Ok((row, complete_after))
}

/// SIGKILL of the server in the middle of a 100,000-event load; restart; drain.
pub async fn kill(o: &Opts) -> anyhow::Result<Vec<Row>> {
    let target = if o.quick { 20_000 } else { 100_000 };
    let mut server = Server::start(
        o.backend,
        &env(&[
            ("WEBHOOK_BATCH_SIZE", "1"),
            ("LABELHOOK_RETRY_SCHEDULE", "1s,1s,1s,1s,1s,1s,1s,1s,1s,1s"),
        ]),
    )?;
    let rx = Receiver::start(Mode::Ok, Keep::Bodies).await?;
    let (mut api, project) = drill_project(&server, &rx, "kill").await?;
    let addr = Arc::new(Mutex::new(server.addr));
    let t = Instant::now();
    let load = start_load(
        addr.clone(),
        project,
        4,
        target,
        None,
        Instant::now() + Duration::from_secs(300),
    );
    let kill_at = target * rand::random_range(30..60u64) / 100;
    while load.confirmed.load(Relaxed) < kill_at && t.elapsed() < Duration::from_secs(300) {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let acked_at_kill = rx.acked();
    let confirmed_at_kill = load.confirmed.load(Relaxed);
    server.kill();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let t_restart = Instant::now();
    tokio::task::block_in_place(|| server.restart())?;
    let restart_s = t_restart.elapsed().as_secs_f64();
    *addr.lock().unwrap() = server.addr;
    api.retarget(server.addr);
    let (confirmed, failed) = load.finish().await;
    let load_s = t.elapsed().as_secs_f64();
    let (row, after) = account(
        "SIGKILL mid-load, restart",
        &rx,
        &mut api,
        project,
        &confirmed,
        failed,
        Duration::from_secs(180),
    )
    .await?;
    println!(
        "kill drill: killed at {confirmed_at_kill} confirmed events ({acked_at_kill} acknowledged by then); restart took {restart_s:.2} s; load {load_s:.1} s; all delivered {after:.1} s after the load"
    );
    Ok(vec![
        row.set("killed_at_confirmed", confirmed_at_kill as f64)
            .set("restart_s", restart_s)
            .set("complete_after_load_s", after),
    ])
}

/// The receiver is down (connection refused) for a period, then up: everything arrives.
pub async fn down(o: &Opts) -> anyhow::Result<Vec<Row>> {
    let events = if o.quick { 5_000 } else { 20_000 };
    let outage = Duration::from_secs(if o.quick { 5 } else { 10 });
    let server = Server::start(
        o.backend,
        &env(&[
            ("WEBHOOK_BATCH_SIZE", "1"),
            ("WEBHOOK_MAX_CONSECUTIVE_FAILURES", "0"),
            (
                "LABELHOOK_RETRY_SCHEDULE",
                "1s,2s,4s,8s,8s,8s,8s,8s,8s,8s,8s,8s,8s,8s,8s",
            ),
        ]),
    )?;
    let rx = Receiver::start(Mode::Ok, Keep::Bodies).await?;
    rx.down();
    let (mut api, project) = drill_project(&server, &rx, "down").await?;
    let t = Instant::now();
    // Events spread over 80% of the outage.
    let deadline = Instant::now() + Duration::from_secs(120);
    let load = spread_load(&server, project, events, outage.mul_f64(0.8), deadline);
    tokio::time::sleep_until((t + outage).into()).await;
    rx.up().await?;
    let (confirmed, failed) = load.finish().await;
    let (row, after) = account(
        "receiver down, then up",
        &rx,
        &mut api,
        project,
        &confirmed,
        failed,
        Duration::from_secs(120),
    )
    .await?;
    let up_to_all = t.elapsed().as_secs_f64() - outage.as_secs_f64();
    let _ = after;
    Ok(vec![
        row.set("outage_s", outage.as_secs_f64())
            .set("all_delivered_after_up_s", up_to_all),
    ])
}

/// Failed delivery attempts so far, from the server's `/metrics` (every outcome but
/// `succeeded`: the requests a dead receiver was sent, a refused connection is one), and
/// whether any webhook's breaker is open.
async fn failed_attempts(api: &mut Conn) -> anyhow::Result<(f64, bool)> {
    let (status, body) = api.call(Method::GET, "/metrics", None).await?;
    anyhow::ensure!(status == 200, "/metrics answered {status}");
    let text = String::from_utf8_lossy(&body);
    let failed = text
        .lines()
        .filter(|l| l.starts_with("labelhook_delivery_attempts_total{"))
        .filter(|l| !l.contains("outcome=\"succeeded\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    let open = text
        .lines()
        .any(|l| l.starts_with("labelhook_webhook_breaker_open{") && l.ends_with(" 1"));
    Ok((failed, open))
}

/// The outage drill (issue 17): the receiver refuses connections for 10 minutes while
/// 10,000 events arrive, then comes back; nobody touches the server. With the delivery
/// settings a user gets (WEBHOOK_BATCH_SIZE=1 only makes each imported task its own
/// event), the breaker holds the events and probes; the target is every event delivered
/// within 30 s of the receiver's return and at most one request per retry step meanwhile.
pub async fn outage(o: &Opts) -> anyhow::Result<Vec<Row>> {
    let events = if o.quick { 1_000 } else { 10_000 };
    let outage = Duration::from_secs(if o.quick { 60 } else { 600 });
    let server = Server::start(o.backend, &env(&[("WEBHOOK_BATCH_SIZE", "1")]))?;
    let rx = Receiver::start(Mode::Ok, Keep::Bodies).await?;
    rx.down();
    let (mut api, project) = drill_project(&server, &rx, "outage").await?;
    let t = Instant::now();
    // Events spread over 90% of the outage.
    let deadline = t + outage + Duration::from_secs(60);
    let load = spread_load(&server, project, events, outage.mul_f64(0.9), deadline);
    // The requests the dead receiver gets, second by second, and when the breaker opened.
    let mut counted = 0.0;
    let mut rises: Vec<(f64, f64)> = Vec::new();
    let mut per_second: Vec<f64> = Vec::new();
    let mut before_open: Option<(f64, f64)> = None;
    while t.elapsed() < outage {
        tokio::time::sleep(Duration::from_millis(1000)).await;
        let (now, open) = failed_attempts(&mut api).await?;
        per_second.push(now - counted);
        if now > counted {
            rises.push((t.elapsed().as_secs_f64(), now - counted));
            counted = now;
        }
        if open && before_open.is_none() {
            before_open = Some((t.elapsed().as_secs_f64(), counted));
        }
    }
    rx.up().await?;
    let up_at = Instant::now();
    let (confirmed, failed) = load.finish().await;
    let account_at = up_at.elapsed().as_secs_f64();
    let (row, complete_after) = account(
        "receiver down 10 min, then up",
        &rx,
        &mut api,
        project,
        &confirmed,
        failed,
        Duration::from_secs(300),
    )
    .await?;
    let all_after_up = account_at + complete_after;
    // Before the breaker opened (one attempt per retry step, the first alone), then one
    // probe per step. A step is at least 4 s (5 s - 20%): "most in any 4 s" is the most
    // requests in one step (sampled each second, so within about a second).
    let first_second = rises.first().map_or(0.0, |r| r.1);
    let (opened_at, before_breaker) = before_open.unwrap_or((f64::NAN, counted));
    let probes = counted - before_breaker;
    let most_in_a_second = per_second.iter().copied().fold(0.0, f64::max);
    let most_in_4_s = per_second
        .windows(4)
        .map(|w| w.iter().sum::<f64>())
        .fold(0.0, f64::max);
    let gaps: Vec<f64> = rises.windows(2).map(|w| w[1].0 - w[0].0).collect();
    let longest_gap = gaps.iter().copied().fold(0.0, f64::max);
    let shortest_gap = gaps.iter().copied().fold(f64::INFINITY, f64::min);
    println!(
        "outage drill: {counted} requests while down: {first_second} in the first second, {before_breaker} before the breaker opened (at {opened_at:.0} s), then {probes} probes; at most {most_in_a_second} in any second and {most_in_4_s} in any 4 s; request times (s): {:?}; everything delivered {all_after_up:.1} s after the receiver came back",
        rises
            .iter()
            .map(|r| (r.0 * 10.0).round() / 10.0)
            .collect::<Vec<_>>()
    );
    Ok(vec![
        row.set("outage_s", outage.as_secs_f64())
            .set("requests_while_down", counted)
            .set("requests_in_first_second", first_second)
            .set("requests_before_breaker_opened", before_breaker)
            .set("breaker_opened_after_s", opened_at)
            .set("probes_while_open", probes)
            .set("most_requests_in_a_second", most_in_a_second)
            .set("most_requests_in_4_s", most_in_4_s)
            .set("longest_gap_between_requests_s", longest_gap)
            .set("shortest_gap_between_requests_s", shortest_gap)
            .set("all_delivered_after_up_s", all_after_up),
    ])
}

/// A receiver that fails 30% of requests at random (500, hang past the timeout, reset).
pub async fn flaky(o: &Opts) -> anyhow::Result<Vec<Row>> {
    let events = if o.quick { 3_000 } else { 10_000 };
    let server = Server::start(
        o.backend,
        &env(&[
            ("WEBHOOK_BATCH_SIZE", "1"),
            ("WEBHOOK_TIMEOUT", "1"),
            ("WEBHOOK_MAX_CONSECUTIVE_FAILURES", "0"),
            (
                "LABELHOOK_RETRY_SCHEDULE",
                "200ms,500ms,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s",
            ),
        ]),
    )?;
    let rx = Receiver::start(
        Mode::Flaky {
            ratio: 0.3,
            hang: Duration::from_secs(3),
        },
        Keep::Bodies,
    )
    .await?;
    let (mut api, project) = drill_project(&server, &rx, "flaky").await?;
    let t = Instant::now();
    let load = start_load(
        Arc::new(Mutex::new(server.addr)),
        project,
        2,
        events,
        Some(1000.0 / PER_IMPORT as f64),
        Instant::now() + Duration::from_secs(120),
    );
    let (confirmed, failed) = load.finish().await;
    let (row, _) = account(
        "30% failures (500 / hang / reset)",
        &rx,
        &mut api,
        project,
        &confirmed,
        failed,
        Duration::from_secs(180),
    )
    .await?;
    let c = rx.counters();
    Ok(vec![
        row.set("rx_requests", c.requests.load(Relaxed) as f64)
            .set("rx_500", c.answered_500.load(Relaxed) as f64)
            .set("rx_hang", c.hung.load(Relaxed) as f64)
            .set("rx_reset", c.reset.load(Relaxed) as f64)
            .set("all_delivered_s", t.elapsed().as_secs_f64()),
    ])
}
