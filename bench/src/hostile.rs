//! Hostile clients (issue 19): half-open connections against `/health`, oversized bodies
//! and a large annotation against the server's memory, bad tokens against the throttle.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use hyper::Method;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::client::Conn;
use crate::report::Row;
use crate::scenarios::Opts;
use crate::server::{Server, TOKEN};
use crate::util::{dist, rss_mib};

/// Raises this process's open-file limit to its hard limit (the attackers need thousands).
pub fn raise_open_files() {
    // SAFETY: getrlimit/setrlimit with a valid pointer to a local struct.
    unsafe {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}

fn open_fds(pid: u32) -> f64 {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(f64::NAN, |d| d.count() as f64)
}

/// Keeps `count` half-open connections (half a request header, never the rest) to the
/// server: when the server closes one, its attacker waits `pause` and opens another.
struct Attackers {
    stop: Arc<AtomicBool>,
    opened: Arc<AtomicU64>,
    held: Arc<AtomicU64>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Attackers {
    fn start(addr: std::net::SocketAddr, count: usize, pause: Duration) -> Attackers {
        let stop = Arc::new(AtomicBool::new(false));
        let opened = Arc::new(AtomicU64::new(0));
        let held = Arc::new(AtomicU64::new(0));
        let tasks = (0..count)
            .map(|_| {
                let (stop, opened, held) = (stop.clone(), opened.clone(), held.clone());
                tokio::spawn(async move {
                    let mut buffer = [0u8; 256];
                    while !stop.load(Relaxed) {
                        let Ok(mut stream) = TcpStream::connect(addr).await else {
                            tokio::time::sleep(pause.max(Duration::from_millis(100))).await;
                            continue;
                        };
                        if stream
                            .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ")
                            .await
                            .is_err()
                        {
                            continue;
                        }
                        opened.fetch_add(1, Relaxed);
                        held.fetch_add(1, Relaxed);
                        // Held until the server closes it (or the scenario ends).
                        while !stop.load(Relaxed) {
                            match tokio::time::timeout(
                                Duration::from_millis(500),
                                stream.read(&mut buffer),
                            )
                            .await
                            {
                                Ok(Ok(0)) | Ok(Err(_)) => break,
                                _ => {}
                            }
                        }
                        held.fetch_sub(1, Relaxed);
                        tokio::time::sleep(pause).await;
                    }
                })
            })
            .collect();
        Attackers {
            stop,
            opened,
            held,
            tasks,
        }
    }

    async fn stop(self) -> u64 {
        self.stop.store(true, Relaxed);
        for task in self.tasks {
            let _ = task.await;
        }
        self.opened.load(Relaxed)
    }
}

/// One `/health` on a new connection, as a load balancer probes: latency in µs, or None
/// if it did not answer 200 within 5 s.
async fn probe(addr: std::net::SocketAddr) -> Option<i64> {
    let t = Instant::now();
    let answered = tokio::time::timeout(Duration::from_secs(5), async {
        let mut stream = TcpStream::connect(addr).await.ok()?;
        stream
            .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .ok()?;
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await.ok()?;
        answer.starts_with(b"HTTP/1.1 200").then_some(())
    })
    .await;
    matches!(answered, Ok(Some(()))).then(|| t.elapsed().as_micros() as i64)
}

/// `/health` latency on fresh connections while `attackers` half-open connections are
/// held (0 = none), for `window`.
async fn health_under(
    label: &str,
    env: &[(&str, String)],
    o: &Opts,
    attackers: usize,
    pause: Duration,
    window: Duration,
) -> anyhow::Result<Row> {
    let server = Server::start(o.backend, env)?;
    let addr = server.addr;
    let attack = Attackers::start(addr, attackers, pause);
    // Let the attackers open their connections before measuring.
    let ramp = Instant::now();
    while (attack.held.load(Relaxed) as usize) < attackers * 9 / 10
        && ramp.elapsed() < Duration::from_secs(30)
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let held_at_start = attack.held.load(Relaxed);
    let mut latencies = Vec::new();
    let mut failed = 0u64;
    let mut fds_max: f64 = 0.0;
    let t = Instant::now();
    while t.elapsed() < window {
        match probe(addr).await {
            Some(us) => latencies.push(us),
            None => failed += 1,
        }
        fds_max = fds_max.max(open_fds(server.pid));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let rss = rss_mib(server.pid).map_or(f64::NAN, |(_, peak)| peak);
    let opened = attack.stop().await;
    let d = dist(latencies.clone());
    Ok(Row::new(label)
        .set("half_open_held", held_at_start as f64)
        .set("opened_total", opened as f64)
        .set("probes_ok", latencies.len() as f64)
        .set("probes_failed", failed as f64)
        .set("health_p50_ms", d.p50_ms)
        .set("health_p99_ms", d.p99_ms)
        .set("health_max_ms", d.max_ms)
        .set("server_fds_max", fds_max)
        .set("rss_peak_mib", rss))
}

/// Half-open connections against `/health`.
pub async fn slowloris(o: &Opts) -> anyhow::Result<Vec<Row>> {
    raise_open_files();
    let attackers = if o.quick { 2_000 } else { 10_000 };
    let window = Duration::from_secs(if o.quick { 5 } else { 20 });
    let big_cap = [("LABELHOOK_MAX_CONNECTIONS", "16384".to_string())];
    Ok(vec![
        health_under("no attackers", &[], o, 0, Duration::ZERO, window).await?,
        health_under(
            &format!("{attackers} half-open, cap 16384, reconnect at once"),
            &big_cap,
            o,
            attackers,
            Duration::ZERO,
            window,
        )
        .await?,
        health_under(
            &format!("{attackers} half-open, default cap 4096, reconnect after 1 s"),
            &[],
            o,
            attackers,
            Duration::from_secs(1),
            window,
        )
        .await?,
    ])
}

/// Peak RSS growth of the server while `send` runs, in MiB.
async fn rss_growth<F: Future<Output = anyhow::Result<String>>>(
    server: &Server,
    send: F,
) -> anyhow::Result<(f64, f64, String)> {
    let (before, _) = rss_mib(server.pid).unwrap_or_default();
    let pid = server.pid;
    let stop = Arc::new(AtomicBool::new(false));
    let peak = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut peak: f64 = 0.0;
            while !stop.load(Relaxed) {
                if let Some((rss, _)) = rss_mib(pid) {
                    peak = peak.max(rss);
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            peak
        })
    };
    let outcome = send.await;
    stop.store(true, Relaxed);
    let peak = peak.join().unwrap_or(f64::NAN);
    Ok((before, peak - before, outcome?))
}

/// Sends a request head declaring `length` bytes of JSON, then (if `send_body`) that many
/// bytes; returns the status line the server answered.
async fn declared_body(
    addr: std::net::SocketAddr,
    path: &str,
    length: u64,
    chunked: bool,
) -> anyhow::Result<String> {
    let mut stream = TcpStream::connect(addr).await?;
    let framing = if chunked {
        "Transfer-Encoding: chunked".to_string()
    } else {
        format!("Content-Length: {length}")
    };
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Token {TOKEN}\r\n\
         Content-Type: application/json\r\n{framing}\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await?;
    let (mut reader, mut writer) = stream.into_split();
    // Write the body (a JSON list of spaces) until the server answers or closes.
    let writing = tokio::spawn(async move {
        let chunk = vec![b' '; 1 << 20];
        let mut sent = 0u64;
        if writer
            .write_all(if chunked { b"1\r\n[\r\n" } else { b"[" })
            .await
            .is_err()
        {
            return;
        }
        while sent < length {
            let piece = if chunked {
                let mut framed = format!("{:x}\r\n", chunk.len()).into_bytes();
                framed.extend_from_slice(&chunk);
                framed.extend_from_slice(b"\r\n");
                framed
            } else {
                chunk.clone()
            };
            if writer.write_all(&piece).await.is_err() {
                return;
            }
            sent += chunk.len() as u64;
        }
    });
    let mut answer = Vec::new();
    let mut buffer = [0u8; 4096];
    let deadline = Instant::now() + Duration::from_secs(120);
    while !answer.windows(4).any(|w| w == b"\r\n\r\n") && Instant::now() < deadline {
        match tokio::time::timeout(Duration::from_secs(120), reader.read(&mut buffer)).await {
            Ok(Ok(n)) if n > 0 => answer.extend_from_slice(&buffer[..n]),
            _ => break,
        }
    }
    writing.abort();
    let text = String::from_utf8_lossy(&answer);
    Ok(text.lines().next().unwrap_or("(no answer)").to_string())
}

/// A result of `items` rectangle labels, about 160 bytes of JSON each.
fn large_result(items: usize) -> Value {
    Value::Array(
        (0..items)
            .map(|i| {
                json!({
                    "id": format!("r{i}"),
                    "from_name": "label",
                    "to_name": "image",
                    "type": "rectanglelabels",
                    "value": {"x": 12.5, "y": 40.25, "width": 10.0, "height": 7.75,
                              "rotation": 0, "rectanglelabels": ["Car"]}
                })
            })
            .collect(),
    )
}

/// Oversized bodies and a large annotation: what each costs in server memory.
pub async fn bodies(o: &Opts) -> anyhow::Result<Vec<Row>> {
    let mut rows = Vec::new();
    let body_mib: u64 = if o.quick { 80 } else { 257 };
    for (label, chunked) in [
        (format!("{body_mib} MiB body, Content-Length"), false),
        (format!("{body_mib} MiB body, chunked"), true),
    ] {
        // Each build's default limit (256 MiB before issue 19, 64 MiB after).
        let server = Server::start(o.backend, &[])?;
        let mut api = Conn::new(server.addr);
        let project = api.create_project("bodies").await?;
        let path = format!("/api/projects/{project}/import");
        let t = Instant::now();
        let (before, growth, status) = rss_growth(
            &server,
            declared_body(server.addr, &path, body_mib << 20, chunked),
        )
        .await?;
        rows.push(
            Row::new(label)
                .set("answer_ms", t.elapsed().as_secs_f64() * 1e3)
                .set(
                    "status",
                    status
                        .split(' ')
                        .nth(1)
                        .and_then(|s| s.parse().ok())
                        .unwrap_or(0.0),
                )
                .set("rss_before_mib", before)
                .set("rss_growth_mib", growth),
        );
    }
    // One annotation with a large result.
    let items = if o.quick { 20_000 } else { 90_000 };
    let server = Server::start(o.backend, &[])?;
    let mut api = Conn::new(server.addr);
    let config = r#"<View><Image name="image" value="$image"/><RectangleLabels name="label" toName="image"><Label value="Car"/></RectangleLabels></View>"#;
    let project = api
        .json(
            Method::POST,
            "/api/projects/",
            Some(json!({"title": "large result", "label_config": config})),
        )
        .await?["id"]
        .as_i64()
        .unwrap_or(0);
    api.json(
        Method::POST,
        "/api/tasks/",
        Some(json!({"project": project, "data": {"image": "https://example.com/a.jpg"}})),
    )
    .await?;
    let tasks = api
        .json(Method::GET, &format!("/api/tasks/?project={project}"), None)
        .await?;
    let task = tasks["tasks"][0]["id"].as_i64().unwrap_or(0);
    let body = json!({"result": large_result(items)}).to_string();
    let size_mb = body.len() as f64 / 1e6;
    let t = Instant::now();
    let (before, growth, status) = rss_growth(&server, async {
        let (status, _) = api
            .call(
                Method::POST,
                &format!("/api/tasks/{task}/annotations/"),
                Some(body.into()),
            )
            .await?;
        Ok(status.to_string())
    })
    .await?;
    rows.push(
        Row::new(format!("annotation, {size_mb:.1} MB result"))
            .set("answer_ms", t.elapsed().as_secs_f64() * 1e3)
            .set("status", status.parse().unwrap_or(0.0))
            .set("rss_before_mib", before)
            .set("rss_growth_mib", growth),
    );
    Ok(rows)
}

/// Bad tokens from one client: how many are answered 401 before the throttle, and what a
/// bad-token request costs once it answers 429.
pub async fn badtokens(o: &Opts) -> anyhow::Result<Vec<Row>> {
    let requests = if o.quick { 2_000 } else { 20_000 };
    let mut rows = Vec::new();
    for (label, per_minute) in [("throttle off (0)", "0"), ("default (30 a minute)", "30")] {
        let server = Server::start(
            o.backend,
            &[("LABELHOOK_BAD_TOKENS_PER_MINUTE", per_minute.to_string())],
        )?;
        let mut conn = Conn::new(server.addr);
        let mut answers = std::collections::BTreeMap::<u16, u64>::new();
        let mut latencies = Vec::new();
        let cpu_before = crate::util::cpu_seconds(server.pid).unwrap_or(0.0);
        let t = Instant::now();
        for i in 0..requests {
            let s = Instant::now();
            let status = conn
                .call_with_token(Method::GET, "/api/projects/", &format!("guess-{i}"))
                .await
                .map(|(status, _)| status)
                .unwrap_or(0);
            latencies.push(s.elapsed().as_micros() as i64);
            *answers.entry(status).or_default() += 1;
        }
        let seconds = t.elapsed().as_secs_f64();
        let cpu = crate::util::cpu_seconds(server.pid).unwrap_or(0.0) - cpu_before;
        let d = dist(latencies);
        rows.push(
            Row::new(label)
                .set("requests", requests as f64)
                .set("answered_401", *answers.get(&401).unwrap_or(&0) as f64)
                .set("answered_429", *answers.get(&429).unwrap_or(&0) as f64)
                .set("per_s", requests as f64 / seconds)
                .set("p50_ms", d.p50_ms)
                .set("p99_ms", d.p99_ms)
                .set("server_cpu_us_per_request", cpu * 1e6 / requests as f64),
        );
    }
    Ok(rows)
}
