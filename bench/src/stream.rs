//! The event stream (`GET /api/events/`) read by one consumer, no webhooks:
//! - catch-up: events/s served to a consumer reading stored events as fast as it can
//!   (pages of 1,000, each passing `next` on);
//! - live: a consumer long-polling (`wait=30`) while tasks are created at a fixed rate:
//!   the events/s it is served and the latency from the event's commit (the task's
//!   `created_at`, set in the transaction) and from the API's 201 to the page that
//!   carries it.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hyper::Method;
use serde_json::Value;

use crate::client::{Conn, task_body};
use crate::load::{self, MakeRequest};
use crate::report::Row;
use crate::scenarios::Opts;
use crate::server::Server;
use crate::util::{Sampler, dist, now_us, parse_rfc3339_us};

pub async fn stream(o: &Opts) -> anyhow::Result<Vec<Row>> {
    let mut rows = vec![catch_up(o).await?];
    for rate in [250.0, 1000.0] {
        rows.push(live(o, rate).await?);
    }
    Ok(rows)
}

/// One page: its events as (sequence, task key, task created_at µs), and `next`.
async fn page(api: &mut Conn, after: i64, wait: u32) -> anyhow::Result<(Vec<Value>, i64)> {
    let path = format!("/api/events/?after={after}&limit=1000&wait={wait}");
    let page = api.json(Method::GET, &path, None).await?;
    let next = page["next"].as_i64().unwrap_or(after);
    let events = page["events"].as_array().cloned().unwrap_or_default();
    Ok((events, next))
}

async fn catch_up(o: &Opts) -> anyhow::Result<Row> {
    // One event per imported task.
    let server = Server::start(o.backend, &[("WEBHOOK_BATCH_SIZE", "1".to_string())])?;
    let mut api = Conn::new(server.addr);
    let project = api.create_project("stream catch-up").await?;
    let total: u64 = o.pick(50_000, 10_000);
    let mut done = 0;
    while done < total {
        let chunk = (total - done).min(5000);
        api.import(project, done, chunk).await?;
        done += chunk;
    }
    let sampler = Sampler::start(server.pid);
    let started = Instant::now();
    let (mut after, mut served, mut pages) = (0i64, 0u64, 0u64);
    loop {
        let (events, next) = page(&mut api, after, 0).await?;
        if events.is_empty() {
            break;
        }
        served += events.len() as u64;
        pages += 1;
        after = next;
    }
    let seconds = started.elapsed().as_secs_f64();
    let usage = sampler.finish();
    Ok(Row::new(format!(
        "catch-up: {total} stored events (+1 project), pages of 1,000"
    ))
    .set("events", served as f64)
    .set("events_per_s", served as f64 / seconds)
    .set("ms_per_page", seconds * 1000.0 / pages.max(1) as f64)
    .set("server_cpu_pct", usage.cpu_percent))
}

async fn live(o: &Opts, rate: f64) -> anyhow::Result<Row> {
    let server = Server::start(o.backend, &[])?;
    let addr: SocketAddr = server.addr;
    let mut api = Conn::new(addr);
    let project = api.create_project("stream live").await?;
    let (_, start) = page(&mut api, 0, 0).await?;
    // The consumer: long polls, passing `next` on, until it has seen `expect` events or
    // its deadline passes; records when each event's page arrived.
    let (tx, mut rx) = tokio::sync::watch::channel(u64::MAX);
    let consumer = tokio::spawn(async move {
        let mut conn = Conn::new(addr);
        let mut after = start;
        let mut got: Vec<(u64, i64, i64)> = Vec::new(); // (k, created µs, arrived µs)
        let deadline = Instant::now() + Duration::from_secs(120);
        while Instant::now() < deadline {
            if got.len() as u64 >= *rx.borrow_and_update() {
                break;
            }
            let (events, next) = page(&mut conn, after, 30).await?;
            let arrived = now_us();
            for event in &events {
                let task = &event["body"]["tasks"][0];
                if let (Some(k), Some(created)) = (
                    task["data"]["k"].as_u64(),
                    task["created_at"].as_str().and_then(parse_rfc3339_us),
                ) {
                    got.push((k, created, arrived));
                }
            }
            after = next;
        }
        anyhow::Ok(got)
    });
    let make: MakeRequest = Arc::new(move |k| {
        (
            Method::POST,
            "/api/tasks/".to_string(),
            Some(task_body(project, k)),
        )
    });
    let sampler = Sampler::start(server.pid);
    let r = load::open(addr, 16, rate, o.secs(10.0, 3.0), make).await;
    let usage = sampler.finish();
    let _ = tx.send(r.ok);
    let got = consumer.await??;
    let answered: HashMap<u64, i64> = r.sent.iter().map(|s| (s.k, s.answered_us)).collect();
    let first = got.iter().map(|g| g.2).min().unwrap_or(0);
    let last = got.iter().map(|g| g.2).max().unwrap_or(0);
    let from_commit = dist(got.iter().map(|(_, c, at)| at - c).collect());
    let from_answer = dist(
        got.iter()
            .filter_map(|(k, _, at)| answered.get(k).map(|a| (at - a).max(0)))
            .collect(),
    );
    Ok(Row::new(format!(
        "live: 1 consumer (wait=30) while {rate} tasks/s are created (16 connections)"
    ))
    .set("created_per_s", r.rate)
    .set("served", got.len() as f64)
    .set(
        "served_per_s",
        got.len() as f64 / ((last - first) as f64 / 1e6).max(1e-3),
    )
    .set("commit_to_response_p50_ms", from_commit.p50_ms)
    .set("commit_to_response_p99_ms", from_commit.p99_ms)
    .set("api_201_to_response_p50_ms", from_answer.p50_ms)
    .set("api_201_to_response_p99_ms", from_answer.p99_ms)
    .set("api_p99_ms", r.latency.p99_ms)
    .set("server_cpu_pct", usage.cpu_percent))
}
