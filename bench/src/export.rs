//! The export scenario: a project of 1,000,000 annotated tasks (100,000 with --quick)
//! exported as JSON and as CSV through `GET /api/projects/{id}/export`, read as fast as
//! the client can, while annotations are created in the same project at a steady rate.
//!
//! Measured: tasks exported per second, the server's RSS (before the export, at most
//! during it, and the difference), and the latency of the concurrent annotation creates
//! against the same load without an export running.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;

use crate::client::Conn;
use crate::load::{self, MakeRequest};
use crate::report::Row;
use crate::scenarios::{Opts, annotate};
use crate::server::{Server, TOKEN};
use crate::util::{Sampler, dist, rss_mib};

/// Annotation creates per second while exporting (a team of annotators, busy).
const ANNOTATION_RATE: f64 = 100.0;

pub async fn export(o: &Opts) -> anyhow::Result<Vec<Row>> {
    let n: u64 = o.pick(1_000_000, 100_000);
    let server = Server::start(o.backend, &[])?;
    let fresh = rss_mib(server.pid).map_or(f64::NAN, |r| r.0);
    let mut api = Conn::new(server.addr);
    let project = api.create_project("export").await?;
    let seeding = Instant::now();
    seed(&mut api, project, n).await?;
    eprintln!(
        "   seeded {n} annotated tasks in {:.0} s",
        seeding.elapsed().as_secs_f64()
    );
    // Tasks to annotate meanwhile: the project's first thousand.
    let listed = api
        .json(
            Method::GET,
            &format!("/api/projects/{project}/tasks/?page_size=1000"),
            None,
        )
        .await?;
    let tasks: Vec<i64> = listed
        .as_array()
        .context("task list")?
        .iter()
        .filter_map(|t| t["id"].as_i64())
        .collect();
    let make = annotate(Arc::new(tasks));

    // The same load without an export, for comparison.
    let baseline = load::open(
        server.addr,
        4,
        ANNOTATION_RATE,
        o.secs(15.0, 5.0),
        make.clone(),
    )
    .await;
    let mut rows = vec![
        Row::new(format!(
            "annotation creates alone, {ANNOTATION_RATE}/s ({n} tasks in the project)"
        ))
        .set("api_p50_ms", baseline.latency.p50_ms)
        .set("api_p99_ms", baseline.latency.p99_ms)
        .set("rss_fresh_mib", fresh),
    ];
    for format in ["JSON", "CSV"] {
        let idle = rss_mib(server.pid).map_or(f64::NAN, |r| r.0);
        let sampler = Sampler::start(server.pid);
        let done = Arc::new(AtomicBool::new(false));
        let load = tokio::spawn(annotate_until(server.addr, make.clone(), done.clone()));
        let started = Instant::now();
        let download = stream_download(
            server.addr,
            &format!("/api/projects/{project}/export?exportType={format}"),
        )
        .await;
        let seconds = started.elapsed().as_secs_f64();
        done.store(true, Ordering::Relaxed);
        let usage = sampler.finish();
        let latencies = load.await??;
        let bytes = download?;
        let d = dist(latencies);
        rows.push(
            Row::new(format!("{format} export of {n} tasks while annotating"))
                .set("tasks_per_s", n as f64 / seconds)
                .set("seconds", seconds)
                .set("mib", bytes as f64 / 1048576.0)
                .set("rss_idle_mib", idle)
                .set("rss_max_mib", usage.rss_mib_max)
                .set("rss_over_idle_mib", usage.rss_mib_max - idle)
                .set("server_cpu_percent", usage.cpu_percent)
                .set("api_p50_ms", d.p50_ms)
                .set("api_p99_ms", d.p99_ms)
                .set("api_creates", d.count as f64),
        );
    }
    Ok(rows)
}

/// Imports `n` tasks, each with one annotation.
async fn seed(api: &mut Conn, project: i64, n: u64) -> anyhow::Result<()> {
    api.import_each(project, n, |k| {
        format!(
            r#"{{"data":{{"text":"benchmark task {k}, a sentence of ordinary length to label","k":{k}}},"annotations":[{{"result":[{{"from_name":"label","to_name":"text","type":"choices","value":{{"choices":["pos"]}}}}],"lead_time":{}}}]}}"#,
            1.5 + (k % 7) as f64
        )
    })
    .await
}

/// Creates annotations at the steady rate, in windows of two seconds, until `done`;
/// returns every latency in microseconds.
async fn annotate_until(
    addr: SocketAddr,
    make: MakeRequest,
    done: Arc<AtomicBool>,
) -> anyhow::Result<Vec<i64>> {
    let mut latencies = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(3600);
    while !done.load(Ordering::Relaxed) && Instant::now() < deadline {
        let window = load::open(
            addr,
            4,
            ANNOTATION_RATE,
            Duration::from_secs(2),
            make.clone(),
        )
        .await;
        latencies.extend(
            window
                .sent
                .iter()
                .filter(|s| (200..300).contains(&s.status))
                .map(|s| s.answered_us - s.sent_us),
        );
    }
    Ok(latencies)
}

/// GETs `path` and reads the body as it comes, keeping only its length (an export of a
/// million tasks does not fit the client's memory either). Checks it ends as a file of
/// its kind ends.
async fn stream_download(addr: SocketAddr, path: &str) -> anyhow::Result<u64> {
    let stream = tokio::net::TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    let request = Request::builder()
        .method(Method::GET)
        .uri(path)
        .header("host", addr.to_string())
        .header("authorization", format!("Token {TOKEN}"))
        .body(Empty::<Bytes>::new())?;
    let response = sender.send_request(request).await?;
    if response.status() != 200 {
        let body = response.into_body().collect().await?.to_bytes();
        bail!("export: {}", String::from_utf8_lossy(&body));
    }
    let mut body = response.into_body();
    let mut total = 0u64;
    let mut last = Bytes::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.context("the export stopped half-way")?;
        if let Ok(data) = frame.into_data() {
            total += data.len() as u64;
            if !data.is_empty() {
                last = data;
            }
        }
    }
    let ends_well = path.contains("JSON") && last.ends_with(b"]")
        || path.contains("CSV") && last.ends_with(b"\r\n");
    if !ends_well {
        bail!(
            "the export ended with {:?}",
            String::from_utf8_lossy(&last[last.len().saturating_sub(40)..])
        );
    }
    Ok(total)
}
