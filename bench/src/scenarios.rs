//! The measured scenarios. Each starts its own server(s) and receivers, returns rows.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::Method;
use serde_json::Value;

use crate::client::{ANNOTATION_BODY, Conn, import_body, task_body};
use crate::load::{self, MakeRequest};
use crate::receiver::{Keep, Mode, Receiver};
use crate::report::Row;
use crate::server::{Backend, Server};
use crate::util::{Sampler, dist, now_us, parse_rfc3339_us};

pub struct Opts {
    pub backend: Backend,
    pub quick: bool,
}

impl Opts {
    pub fn secs(&self, full: f64, quick: f64) -> Duration {
        Duration::from_secs_f64(if self.quick { quick } else { full })
    }
    pub fn pick<T>(&self, full: T, quick: T) -> T {
        if self.quick { quick } else { full }
    }
}

fn env(pairs: &[(&'static str, &str)]) -> Vec<(&'static str, String)> {
    pairs.iter().map(|(k, v)| (*k, v.to_string())).collect()
}

/// Imports `n` tasks in requests of at most 5,000 and returns their ids.
async fn seed_tasks(api: &mut Conn, project: i64, n: u64) -> anyhow::Result<Vec<i64>> {
    let mut done = 0;
    while done < n {
        let chunk = (n - done).min(5000);
        api.import(project, 1_000_000_000 + done, chunk).await?;
        done += chunk;
    }
    api.task_ids(project).await
}

/// Annotations of the given tasks, in turn.
pub(crate) fn annotate(tasks: Arc<Vec<i64>>) -> MakeRequest {
    let body = Bytes::from_static(ANNOTATION_BODY.as_bytes());
    Arc::new(move |k| {
        let task = tasks[(k as usize) % tasks.len()];
        (
            Method::POST,
            format!("/api/tasks/{task}/annotations/"),
            Some(body.clone()),
        )
    })
}

/// What a delivery body says about when its event happened and which object it carries.
struct Parsed {
    /// data.k of the first task (TASKS_CREATED).
    k: Option<u64>,
    /// created_at of the task or annotation, µs.
    created_us: Option<i64>,
}

fn parse(body: &[u8]) -> Parsed {
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let task = &v["tasks"][0];
    let created = if task.is_object() {
        task["created_at"].as_str()
    } else {
        v["annotation"]["created_at"].as_str()
    };
    Parsed {
        k: task["data"]["k"].as_u64(),
        created_us: created.and_then(parse_rfc3339_us),
    }
}

// ---------------------------------------------------------------------------------------
// 0. The loopback HTTP ceiling: the same load generator against a trivial Rust sink.

pub async fn ceiling(o: &Opts) -> anyhow::Result<Vec<Row>> {
    let mut rows = Vec::new();
    let mut sink = std::process::Command::new(std::env::current_exe()?)
        .arg("sink")
        .stdout(std::process::Stdio::piped())
        .spawn()?;
    let pid = sink.id();
    let addr: SocketAddr = {
        use std::io::BufRead;
        let mut line = String::new();
        std::io::BufReader::new(sink.stdout.take().unwrap()).read_line(&mut line)?;
        line.trim()
            .rsplit("http://")
            .next()
            .unwrap_or_default()
            .parse()?
    };
    let make: MakeRequest = {
        let body = Bytes::from_static(ANNOTATION_BODY.as_bytes());
        Arc::new(move |k| {
            (
                Method::POST,
                format!("/api/tasks/{}/annotations/", k % 1000 + 1),
                Some(body.clone()),
            )
        })
    };
    for clients in [1usize, 4, 16] {
        let _ = load::closed(addr, clients, o.secs(1.0, 0.3), u64::MAX, make.clone()).await;
        let sampler = Sampler::start(pid);
        let r = load::closed(addr, clients, o.secs(5.0, 1.5), u64::MAX, make.clone()).await;
        let usage = sampler.finish();
        rows.push(
            Row::new(format!("API sink (axum), {clients} clients"))
                .set("req_per_s", r.rate)
                .set("p50_ms", r.latency.p50_ms)
                .set("p99_ms", r.latency.p99_ms)
                .set("errors", r.errors as f64)
                .set("sink_cpu_pct", usage.cpu_percent),
        );
    }
    let _ = sink.kill();
    let _ = sink.wait();

    // Delivery side: the same client, 32 connections, posting a webhook-sized body to the
    // receiver the scenarios use (both in this process, sharing its two cores).
    let rx = Receiver::start(Mode::Ok, Keep::Count).await?;
    let body = Bytes::from(vec![b'x'; 1500]);
    let make: MakeRequest =
        Arc::new(move |_| (Method::POST, "/hook".to_string(), Some(body.clone())));
    for conns in [32usize] {
        let _ = load::closed(rx.addr, conns, o.secs(1.0, 0.3), u64::MAX, make.clone()).await;
        let r = load::closed(rx.addr, conns, o.secs(5.0, 1.5), u64::MAX, make.clone()).await;
        rows.push(
            Row::new(format!("receiver, {conns} connections, 1.5 KB body"))
                .set("req_per_s", r.rate)
                .set("p50_ms", r.latency.p50_ms)
                .set("p99_ms", r.latency.p99_ms)
                .set("errors", r.errors as f64),
        );
    }
    Ok(rows)
}

// ---------------------------------------------------------------------------------------
// 1. API throughput with 0, 1 and 10 matching webhooks at 1, 4 and 16 clients.

pub async fn api(o: &Opts) -> anyhow::Result<Vec<Row>> {
    let mut rows = Vec::new();
    // PostgreSQL: pgbench's TPC-B on the same machine, in the same run, as the reference
    // the creates/s are read against (`x_pgbench` on every row).
    let pgbench = match o.backend {
        Backend::Postgres => {
            let secs = o.pick(20, 5);
            let tps = tokio::task::spawn_blocking(move || crate::server::pgbench_tpcb(16, secs))
                .await??;
            rows.push(
                Row::new("pgbench TPC-B (scale 1), 16 clients")
                    .set("creates_per_s", tps)
                    .set("x_pgbench", 1.0),
            );
            Some(tps)
        }
        Backend::Sqlite => None,
    };
    // LHB_PROCESSES=N (PostgreSQL): N `labelhook serve` processes on one database, the
    // clients spread over them; CPU is the first process's.
    let processes: usize = match o.backend {
        Backend::Postgres => std::env::var("LHB_PROCESSES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(1)
            .max(1),
        Backend::Sqlite => 1,
    };
    // LHB_API_WEBHOOKS=0 (a comma-separated list) measures only those counts.
    let counts: Vec<usize> = std::env::var("LHB_API_WEBHOOKS")
        .ok()
        .map(|list| {
            list.split(',')
                .filter_map(|n| n.trim().parse().ok())
                .collect()
        })
        .unwrap_or_else(|| vec![0, 1, 10]);
    for webhooks in counts {
        let server = Server::start(o.backend, &[])?;
        let others = (1..processes)
            .map(|_| server.another())
            .collect::<anyhow::Result<Vec<_>>>()?;
        let addrs: Vec<SocketAddr> = std::iter::once(server.addr)
            .chain(others.iter().map(|s| s.addr))
            .collect();
        let rx = Receiver::start(Mode::Ok, Keep::Count).await?;
        let mut api = Conn::new(server.addr);
        let project = api.create_project("api throughput").await?;
        let tasks = Arc::new(seed_tasks(&mut api, project, o.pick(20_000, 5_000)).await?);
        for i in 0..webhooks {
            api.create_webhook(&rx.url(&format!("/h{i}")), Some(project))
                .await?;
        }
        let make = annotate(tasks.clone());
        let mut expected = 0u64;
        for clients in [1usize, 4, 16] {
            let warm =
                load::closed_over(&addrs, clients, o.secs(1.0, 0.3), u64::MAX, make.clone()).await;
            expected += warm.ok * webhooks as u64;
            rx.wait_acked(expected, Duration::from_secs(120)).await;
            let acked0 = rx.acked();
            let sampler = Sampler::start(server.pid);
            let r =
                load::closed_over(&addrs, clients, o.secs(5.0, 2.0), u64::MAX, make.clone()).await;
            let usage = sampler.finish();
            let delivered_during = rx.acked() - acked0;
            expected += r.ok * webhooks as u64;
            let t = Instant::now();
            let drained = rx.wait_acked(expected, Duration::from_secs(120)).await;
            let procs = if processes > 1 {
                format!(", {processes} processes")
            } else {
                String::new()
            };
            let row = Row::new(format!("{webhooks} webhooks, {clients} clients{procs}"))
                .set("creates_per_s", r.rate)
                .set("p50_ms", r.latency.p50_ms)
                .set("p99_ms", r.latency.p99_ms)
                .set("errors", r.errors as f64)
                .set("deliveries_per_s", delivered_during as f64 / r.seconds)
                .set(
                    "drain_after_s",
                    if drained {
                        t.elapsed().as_secs_f64()
                    } else {
                        f64::NAN
                    },
                )
                .set("server_cpu_pct", usage.cpu_percent)
                .set("server_cpu_us_per_create", usage.us_per(r.ok));
            rows.push(match pgbench {
                Some(tps) => row.set("x_pgbench", r.rate / tps),
                None => row,
            });
        }
    }
    Ok(rows)
}

// ---------------------------------------------------------------------------------------
// 2. Delivery throughput, sustained: events in at a fixed offered rate, deliveries out.

pub async fn delivery(
    o: &Opts,
    extra: &mut std::collections::BTreeMap<String, Value>,
) -> anyhow::Result<Vec<Row>> {
    let webhooks = 10usize;
    let batch = 25u64;
    let mut rows = Vec::new();
    // Offered: events/s × 10 webhooks = deliveries/s asked for. The default asks for
    // more than the target (25,000/s); LHB_DELIVERY_RATE sets another.
    let offered = std::env::var("LHB_DELIVERY_RATE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2500.0f64);
    for events_per_s in [offered] {
        let server = Server::start(o.backend, &env(&[("WEBHOOK_BATCH_SIZE", "1")]))?;
        let rx = Receiver::start(Mode::Ok, Keep::Times).await?;
        let mut api = Conn::new(server.addr);
        let project = api.create_project("delivery throughput").await?;
        for i in 0..webhooks {
            api.create_webhook(&rx.url(&format!("/d{i}")), Some(project))
                .await?;
        }
        let duration = o.secs(30.0, 8.0);
        let make: MakeRequest = Arc::new(move |k| {
            (
                Method::POST,
                format!("/api/projects/{project}/import"),
                Some(import_body(k * batch, batch)),
            )
        });
        let sampler = Sampler::start(server.pid);
        let t0 = now_us();
        let r = load::open(server.addr, 4, events_per_s / batch as f64, duration, make).await;
        let t1 = now_us();
        let usage = sampler.finish();
        let events = r.ok * batch;
        let expected = events * webhooks as u64;
        let acked_at_end = rx.acked();
        let drain_start = Instant::now();
        let drained = rx.wait_acked(expected, Duration::from_secs(180)).await;
        let drain_s = drain_start.elapsed().as_secs_f64();
        let times: Vec<i64> = rx.take_log().into_iter().map(|r| r.at_us).collect();
        // Steady state: skip the first 2 s of the load window.
        let from = t0 + 2_000_000;
        let in_window = times.iter().filter(|&&t| t >= from && t <= t1).count();
        let steady = in_window as f64 / ((t1 - from) as f64 / 1e6);
        let mut per_second = vec![0u64; ((t1 - t0) / 1_000_000 + 1) as usize];
        for t in &times {
            if *t >= t0 && *t < t1 {
                per_second[((t - t0) / 1_000_000) as usize] += 1;
            }
        }
        extra.insert(
            "deliveries_per_second_timeline".into(),
            serde_json::json!(per_second),
        );
        rows.push(
            Row::new(format!(
                "{webhooks} webhooks, {events_per_s} events/s offered, {}s",
                duration.as_secs()
            ))
            .set("events_in_per_s", events as f64 / r.seconds)
            .set("deliveries_out_per_s", steady)
            .set(
                "backlog_at_end",
                expected.saturating_sub(acked_at_end) as f64,
            )
            .set("drain_rest_s", if drained { drain_s } else { f64::NAN })
            .set("import_p99_ms", r.latency.p99_ms)
            .set("server_cpu_pct", usage.cpu_percent)
            .set("server_cpu_us_per_delivery", usage.us_per(acked_at_end))
            .set("server_rss_mib_max", usage.rss_mib_max)
            .set("rx_connections", rx.connections() as f64),
        );
    }
    Ok(rows)
}

// ---------------------------------------------------------------------------------------
// 3. Latency from commit to receiver at a fixed 1,000 events/s.

pub async fn latency(o: &Opts) -> anyhow::Result<Vec<Row>> {
    let rates: Vec<f64> = match std::env::var("LHB_RATE").ok().and_then(|v| v.parse().ok()) {
        Some(rate) => vec![rate],
        // The target's rate, and one well inside the capacity of a loaded machine.
        None => vec![1000.0, 250.0],
    };
    let mut rows = Vec::new();
    for rate in rates {
        rows.extend(latency_at(o, rate).await?);
    }
    Ok(rows)
}

async fn latency_at(o: &Opts, rate: f64) -> anyhow::Result<Vec<Row>> {
    let server = Server::start(o.backend, &[])?;
    let rx = Receiver::start(Mode::Ok, Keep::Bodies).await?;
    let mut api = Conn::new(server.addr);
    let project = api.create_project("latency").await?;
    api.create_webhook(&rx.url("/lat"), Some(project)).await?;
    let make: MakeRequest = Arc::new(move |k| {
        (
            Method::POST,
            "/api/tasks/".to_string(),
            Some(task_body(project, k)),
        )
    });
    let warm = load::open(server.addr, 16, 500.0, o.secs(1.0, 0.5), make.clone()).await;
    rx.wait_acked(warm.ok, Duration::from_secs(30)).await;
    rx.take_log();
    let base = rx.acked();
    let offset: u64 = 10_000_000;
    let make: MakeRequest = Arc::new(move |k| {
        (
            Method::POST,
            "/api/tasks/".to_string(),
            Some(task_body(project, offset + k)),
        )
    });
    let sampler = Sampler::start(server.pid);
    let r = load::open(server.addr, 16, rate, o.secs(10.0, 3.0), make).await;
    let usage = sampler.finish();
    rx.wait_acked(base + r.ok, Duration::from_secs(60)).await;
    let answered: std::collections::HashMap<u64, i64> = r
        .sent
        .iter()
        .map(|s| (offset + s.k, s.answered_us))
        .collect();
    let (mut from_created, mut from_answer) = (Vec::new(), Vec::new());
    let mut before_answer = 0usize;
    for rec in rx.take_log() {
        let p = parse(rec.body.as_deref().unwrap_or_default());
        if let Some(c) = p.created_us {
            from_created.push(rec.at_us - c);
        }
        if let Some(a) = p.k.and_then(|k| answered.get(&k)) {
            let d = rec.at_us - a;
            if d < 0 {
                before_answer += 1;
            }
            from_answer.push(d.max(0));
        }
    }
    let n = from_created.len();
    let c = dist(from_created);
    let a = dist(from_answer);
    Ok(vec![
        Row::new(format!(
            "1 webhook, {rate} events/s (POST /api/tasks/), 16 connections"
        ))
        .set("events_per_s", r.rate)
        .set("delivered", n as f64)
        .set("commit_to_rx_p50_ms", c.p50_ms)
        .set("commit_to_rx_p99_ms", c.p99_ms)
        .set("commit_to_rx_max_ms", c.max_ms)
        .set("api_201_to_rx_p50_ms", a.p50_ms)
        .set("api_201_to_rx_p99_ms", a.p99_ms)
        .set(
            "rx_before_201_pct",
            before_answer as f64 * 100.0 / n.max(1) as f64,
        )
        .set("api_p50_ms", r.latency.p50_ms)
        .set("api_p99_ms", r.latency.p99_ms)
        .set("server_cpu_pct", usage.cpu_percent)
        .set("server_cpu_us_per_event", usage.us_per(r.ok)),
    ])
}

// ---------------------------------------------------------------------------------------
// 4. Fan-out: one event to 1,000 organization-level webhooks.

pub async fn fanout(o: &Opts) -> anyhow::Result<Vec<Row>> {
    let mut rows = Vec::new();
    let hooks = 1000usize;
    for receivers in [1usize, 10] {
        let server = Server::start(o.backend, &[])?;
        let mut rxs = Vec::new();
        for _ in 0..receivers {
            rxs.push(Receiver::start(Mode::Ok, Keep::Times).await?);
        }
        let mut api = Conn::new(server.addr);
        let project = api.create_project("fan-out").await?;
        for i in 0..hooks {
            api.create_webhook(&rxs[i % receivers].url(&format!("/f{i}")), None)
                .await?;
        }
        let acked = |rxs: &[Receiver]| rxs.iter().map(Receiver::acked).sum::<u64>();
        let wait_all = async |rxs: &[Receiver], n: u64| {
            let deadline = Instant::now() + Duration::from_secs(60);
            while acked(rxs) < n && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        };
        // Warm-up event: connections opened, caches filled.
        api.json(
            Method::POST,
            "/api/tasks/",
            Some(serde_json::from_slice(&task_body(project, 0))?),
        )
        .await?;
        wait_all(&rxs, hooks as u64).await;
        let (mut last, mut first, mut last_from_send) = (vec![], vec![], vec![]);
        for rep in 0..o.pick(5u64, 3) {
            for rx in &rxs {
                rx.take_log();
            }
            let base = acked(&rxs);
            let sent = now_us();
            api.json(
                Method::POST,
                "/api/tasks/",
                Some(serde_json::from_slice(&task_body(project, rep + 1))?),
            )
            .await?;
            let answered = now_us();
            wait_all(&rxs, base + hooks as u64).await;
            let times: Vec<i64> = rxs
                .iter()
                .flat_map(|rx| rx.take_log())
                .map(|r| r.at_us)
                .collect();
            if times.len() < hooks {
                last.push(f64::NAN);
                continue;
            }
            let max = *times.iter().max().unwrap();
            let min = *times.iter().min().unwrap();
            last.push((max - answered) as f64 / 1000.0);
            first.push((min - answered) as f64 / 1000.0);
            last_from_send.push((max - sent) as f64 / 1000.0);
        }
        rows.push(
            Row::new(format!("{hooks} webhooks on {receivers} receiver(s)"))
                .set("last_delivery_ms", crate::util::median(&last))
                .set("last_from_request_ms", crate::util::median(&last_from_send))
                .set("first_delivery_ms", crate::util::median(&first))
                .set(
                    "worst_rep_last_ms",
                    last.iter().copied().fold(f64::NAN, f64::max),
                )
                .set(
                    "rx_connections",
                    rxs.iter().map(Receiver::connections).sum::<u64>() as f64,
                ),
        );
    }
    Ok(rows)
}

// ---------------------------------------------------------------------------------------
// 5. Backlog: 1,000,000 pending deliveries while the receiver does not answer; then it
//    answers and the backlog drains.

pub async fn backlog(
    o: &Opts,
    extra: &mut std::collections::BTreeMap<String, Value>,
) -> anyhow::Result<Vec<Row>> {
    let webhooks = 200u64;
    let events = o.pick(5000u64, 500);
    let per_import = 100u64;
    let server = Server::start(
        o.backend,
        &env(&[
            ("WEBHOOK_BATCH_SIZE", "1"),
            ("WEBHOOK_TIMEOUT", "900"),
            ("WEBHOOK_MAX_CONSECUTIVE_FAILURES", "0"),
        ]),
    )?;
    let rx = Receiver::start(Mode::Gate, Keep::Times).await?;
    let mut api = Conn::new(server.addr);
    let project = api.create_project("backlog").await?;
    let mut ids = Vec::new();
    for i in 0..webhooks {
        ids.push(api.create_webhook(&rx.url(&format!("/b{i}")), None).await?);
    }
    let fill_sampler = Sampler::start(server.pid);
    let t = Instant::now();
    let mut done = 0;
    while done < events {
        if t.elapsed() > Duration::from_secs(900) {
            anyhow::bail!("filling the backlog took more than 15 minutes");
        }
        let (status, body) = api
            .call(
                Method::POST,
                &format!("/api/projects/{project}/import"),
                Some(import_body(done, per_import)),
            )
            .await?;
        anyhow::ensure!(
            status == 201,
            "import: {status} {}",
            String::from_utf8_lossy(&body)
        );
        done += per_import;
    }
    let fill_s = t.elapsed().as_secs_f64();
    let mut pending = 0;
    for id in &ids {
        pending += api.pending(*id).await?;
    }
    let fill = fill_sampler.finish();
    let total = webhooks * events;
    let db_mib = server.db_bytes() as f64 / 1048576.0;
    let drain_sampler = Sampler::start(server.pid);
    let opened = now_us();
    let t = Instant::now();
    rx.open_gate();
    let drained = rx.wait_acked(total, o.secs(900.0, 180.0)).await;
    let drain_s = t.elapsed().as_secs_f64();
    let drain = drain_sampler.finish();
    let mut times: Vec<i64> = rx.take_log().into_iter().map(|r| r.at_us).collect();
    times.sort_unstable();
    let rate_between = |a: f64, b: f64| {
        let (i, j) = (
            (times.len() as f64 * a) as usize,
            (times.len() as f64 * b) as usize,
        );
        if j <= i + 1 || j >= times.len() {
            return f64::NAN;
        }
        (j - i) as f64 / ((times[j] - times[i]) as f64 / 1e6)
    };
    let mut per_second = vec![0u64; (drain_s.ceil() as usize).max(1) + 1];
    for t in &times {
        let s = ((t - opened).max(0) / 1_000_000) as usize;
        if s < per_second.len() {
            per_second[s] += 1;
        }
    }
    extra.insert(
        "drain_per_second_timeline".into(),
        serde_json::json!(per_second),
    );
    Ok(vec![
        Row::new(format!("{webhooks} org webhooks x {events} events"))
            .set("deliveries", total as f64)
            .set("pending_after_fill", pending as f64)
            .set("fill_s", fill_s)
            .set("fill_per_s", total as f64 / fill_s)
            .set("db_mib", db_mib)
            .set("rss_mib_peak_fill", fill.rss_mib_max)
            .set("drain_s", if drained { drain_s } else { f64::NAN })
            .set("drain_per_s", rx.acked() as f64 / drain_s)
            .set("drain_per_s_p10_p90", rate_between(0.1, 0.9))
            .set("rss_mib_peak_drain", drain.rss_mib_max)
            .set("server_cpu_pct_drain", drain.cpu_percent)
            .set("server_cpu_us_per_delivery", drain.us_per(total))
            .set("rx_connections", rx.connections() as f64),
    ])
}

// ---------------------------------------------------------------------------------------
// 6. Isolation: a receiver that hangs for its whole timeout next to a fast one.

pub async fn isolation(o: &Opts) -> anyhow::Result<Vec<Row>> {
    let mut rows = Vec::new();
    let timeout = 2.0f64;
    let rate: f64 = std::env::var("LHB_ISOLATION_RATE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300.0);
    for hanging in [false, true] {
        let server = Server::start(
            o.backend,
            &env(&[
                ("WEBHOOK_TIMEOUT", &timeout.to_string()),
                ("WEBHOOK_MAX_CONSECUTIVE_FAILURES", "0"),
            ]),
        )?;
        let fast = Receiver::start(Mode::Ok, Keep::Bodies).await?;
        let hang = Receiver::start(
            Mode::Hang(Duration::from_secs_f64(timeout * 3.0)),
            Keep::Count,
        )
        .await?;
        let mut api = Conn::new(server.addr);
        let project = api.create_project("isolation").await?;
        let tasks = Arc::new(seed_tasks(&mut api, project, 5000).await?);
        api.create_webhook(&fast.url("/fast"), Some(project))
            .await?;
        if hanging {
            api.create_webhook(&hang.url("/hang"), Some(project))
                .await?;
        }
        let make = annotate(tasks);
        // Warm-up long enough for the hanging webhook to fill all its slots. The window is
        // 30 s (9,000 requests at 300/s): a p99 over fewer moves by ±15% between runs.
        let warm = load::open(server.addr, 16, rate, o.secs(2.0, 1.0), make.clone()).await;
        fast.wait_acked(warm.ok, Duration::from_secs(30)).await;
        fast.take_log();
        let base = fast.acked();
        let sampler = Sampler::start(server.pid);
        let r = load::open(server.addr, 16, rate, o.secs(30.0, 3.0), make).await;
        let usage = sampler.finish();
        fast.wait_acked(base + r.ok, Duration::from_secs(60)).await;
        let mut timed: Vec<(i64, i64)> = fast
            .take_log()
            .iter()
            .filter_map(|rec| {
                parse(rec.body.as_deref().unwrap_or_default())
                    .created_us
                    .map(|c| (c, rec.at_us - c))
            })
            .collect();
        timed.sort_unstable();
        if let Ok(dir) = std::env::var("LHB_DUMP") {
            dump_samples(&dir, hanging, &r, &timed)?;
        }
        // Does the fast receiver's latency drift as the hanging webhook's backlog grows?
        let third = timed.len() / 3;
        let first = dist(timed[..third].iter().map(|x| x.1).collect());
        let last = dist(timed[timed.len() - third..].iter().map(|x| x.1).collect());
        let d = dist(timed.iter().map(|x| x.1).collect());
        rows.push(
            Row::new(if hanging {
                format!("fast + hanging receiver ({timeout}s timeout), {rate} annotations/s")
            } else {
                format!("fast receiver only, {rate} annotations/s")
            })
            .set("api_p50_ms", r.latency.p50_ms)
            .set("api_p99_ms", r.latency.p99_ms)
            .set(
                "api_p99_sched_ms",
                r.latency_from_schedule.map_or(f64::NAN, |d| d.p99_ms),
            )
            .set("fast_rx_p50_ms", d.p50_ms)
            .set("fast_rx_p99_ms", d.p99_ms)
            .set("fast_rx_max_ms", d.max_ms)
            .set("fast_rx_p50_first_third_ms", first.p50_ms)
            .set("fast_rx_p50_last_third_ms", last.p50_ms)
            .set("fast_delivered", d.count as f64)
            .set(
                "hang_requests",
                hang.counters()
                    .requests
                    .load(std::sync::atomic::Ordering::Relaxed) as f64,
            )
            .set("server_cpu_pct", usage.cpu_percent),
        );
    }
    Ok(rows)
}

/// `LHB_DUMP=<dir>`: the isolation run's raw samples, one `sent_us latency_us` line per
/// request (`api-<variant>.txt`) and `created_us latency_us` per delivery
/// (`rx-<variant>.txt`), to see when the slow ones happen.
fn dump_samples(
    dir: &str,
    hanging: bool,
    r: &load::LoadResult,
    timed: &[(i64, i64)],
) -> anyhow::Result<()> {
    use std::fmt::Write as _;
    let variant = if hanging { "hanging" } else { "alone" };
    let mut api = String::new();
    for s in &r.sent {
        writeln!(api, "{} {}", s.sent_us, s.answered_us - s.sent_us)?;
    }
    let mut rx = String::new();
    for (created, latency) in timed {
        writeln!(rx, "{created} {latency}")?;
    }
    std::fs::create_dir_all(dir)?;
    std::fs::write(format!("{dir}/api-{variant}.txt"), api)?;
    std::fs::write(format!("{dir}/rx-{variant}.txt"), rx)?;
    Ok(())
}
