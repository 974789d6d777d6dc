//! `costly`: input whose cost depends on its shape (issue 19, items 1 and 2). Organization
//! A sends label configs (hostile, and the largest allowed) and a CSV file of 200,000
//! columns; meanwhile organization B creates tasks at a fixed rate. Figures: A's answer
//! time and status, B's write latency during A's requests (measured from each write's
//! scheduled time, so waiting counts), the server's peak RSS, and what reads of the large
//! projects cost afterwards.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::Method;
use serde_json::{Value, json};

use crate::client::Conn;
use crate::report::Row;
use crate::scenarios::Opts;
use crate::server::Server;
use crate::util::{Sampler, dist, median};

const TOKEN_B: &str = "bench-organization-b-token-0123456789";
/// Organization B's writes per second.
const B_RATE: f64 = 50.0;

/// A label config case: what it is and its text.
struct Case {
    label: &'static str,
    config: String,
}

fn cases() -> Vec<Case> {
    let attributes: String = (0..200_000).map(|i| format!(" a{i}=\"\"")).collect();
    let text = r#"<Text name="t" value="$t"/>"#;
    let choices = |n: usize| -> String {
        (0..n)
            .map(|i| format!("<Choice value=\"c{i}\"/>"))
            .collect::<String>()
    };
    let wide_tag: String = (1..100).map(|i| format!(" a{i}=\"\"")).collect();
    vec![
        Case {
            label: "one tag with 200,000 attributes (2.1 MB)",
            config: format!("<View{attributes}></View>"),
        },
        Case {
            label: "1,000,000 <Choice> (27 MB)",
            config: format!(
                "<View>{text}<Choices name=\"c\" toName=\"t\">{}</Choices></View>",
                choices(1_000_000)
            ),
        },
        Case {
            label: "allowed: 40,000 <Choice> (0.95 MB)",
            config: format!(
                "<View>{text}<Choices name=\"c\" toName=\"t\">{}</Choices></View>",
                choices(40_000)
            ),
        },
        Case {
            label: "allowed: 1,400 tags of 100 attributes (0.98 MB)",
            config: format!(
                "<View>{}</View>",
                format!("<Header value=\"h\"{wide_tag}/>").repeat(1_400)
            ),
        },
        Case {
            label: "allowed: toName naming one tag 90,000 times",
            config: format!(
                "<View>{text}<TextArea name=\"a\" toName=\"{}\"/></View>",
                vec!["t"; 90_000].join(",")
            ),
        },
    ]
}

/// Organization B's writes at `B_RATE` until `stop`: latencies (µs) from each write's
/// scheduled time, and the count of failed ones.
async fn writes_of_b(
    addr: std::net::SocketAddr,
    project: i64,
    stop: Arc<AtomicBool>,
) -> (Vec<i64>, u64) {
    let workers = 8usize;
    let start = tokio::time::Instant::now() + Duration::from_millis(20);
    let mut tasks = Vec::new();
    for w in 0..workers {
        let stop = stop.clone();
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::with_token(addr, TOKEN_B);
            let (mut lat, mut failed) = (Vec::new(), 0u64);
            let mut k = w as u64;
            // Bounded: at most 10 minutes of writes whatever happens.
            while !stop.load(Relaxed) && k < (B_RATE * 600.0) as u64 {
                let scheduled = start + Duration::from_secs_f64(k as f64 / B_RATE);
                tokio::time::sleep_until(scheduled).await;
                let body = Bytes::from(format!(
                    r#"{{"project":{project},"data":{{"text":"b {k}"}}}}"#
                ));
                let answer = tokio::time::timeout(
                    Duration::from_secs(60),
                    conn.call(Method::POST, "/api/tasks/", Some(body)),
                )
                .await;
                match answer {
                    Ok(Ok((201, _))) => lat.push(scheduled.elapsed().as_micros() as i64),
                    _ => failed += 1,
                }
                k += workers as u64;
            }
            (lat, failed)
        }));
    }
    let (mut all, mut failed) = (Vec::new(), 0);
    for task in tasks {
        if let Ok((lat, f)) = task.await {
            all.extend(lat);
            failed += f;
        }
    }
    (all, failed)
}

/// One request of organization A.
struct Request {
    method: Method,
    path: String,
    body: Option<Bytes>,
    content_type: String,
}

impl Request {
    fn json(method: Method, path: impl Into<String>, body: Option<Bytes>) -> Request {
        Request {
            method,
            path: path.into(),
            body,
            content_type: "application/json".into(),
        }
    }
}

/// Sends `request` `times` times (none: B alone for 2 s) while B writes; one row, and the
/// answers.
async fn measure(
    server: &Server,
    project_b: i64,
    label: String,
    times: usize,
    request: &Request,
) -> anyhow::Result<(Row, Vec<Bytes>)> {
    let stop = Arc::new(AtomicBool::new(false));
    let b = tokio::spawn(writes_of_b(server.addr, project_b, stop.clone()));
    // B runs alone for a moment first, and again after, so its window covers A's requests.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let sampler = Sampler::start(server.pid);
    let mut api = Conn::new(server.addr);
    let (mut took, mut answers, mut status) = (Vec::new(), Vec::new(), 0);
    if times == 0 {
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    for _ in 0..times {
        let t = Instant::now();
        let (code, answer) = api
            .call_typed(
                request.method.clone(),
                &request.path,
                request.body.clone(),
                &request.content_type,
            )
            .await?;
        took.push(t.elapsed().as_secs_f64() * 1000.0);
        status = code;
        answers.push(answer);
    }
    let usage = sampler.finish();
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Relaxed);
    let (lat, failed) = b.await?;
    let d = dist(lat);
    let row = Row::new(label)
        .set("status", f64::from(status))
        .set("answer_ms_median", median(&took))
        .set(
            "answer_ms_max",
            took.iter().copied().fold(f64::NAN, f64::max),
        )
        .set(
            "answer_bytes",
            answers.last().map_or(0.0, |a| a.len() as f64),
        )
        .set("b_writes", d.count as f64)
        .set("b_failed", failed as f64)
        .set("b_p50_ms", d.p50_ms)
        .set("b_p99_ms", d.p99_ms)
        .set("b_max_ms", d.max_ms)
        .set("rss_mib_max", usage.rss_mib_max);
    Ok((row, answers))
}

/// A multipart body with one file.
fn multipart(name: &str, content: &[u8]) -> (Bytes, String) {
    let boundary = "labelhook-bench-boundary-7f3a";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(content);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (
        Bytes::from(body),
        format!("multipart/form-data; boundary={boundary}"),
    )
}

pub async fn costly(o: &Opts) -> anyhow::Result<Vec<Row>> {
    let mut rows = Vec::new();
    let times = o.pick(3, 1);
    let server = Server::start(o.backend, &[])?;
    server.admin(&[
        "create-organization",
        "--title",
        "B",
        "--email",
        "b@example.com",
        "--token",
        TOKEN_B,
    ])?;
    let project_b = Conn::with_token(server.addr, TOKEN_B)
        .create_project("b")
        .await?;
    let idle = Request::json(Method::GET, "/health", None);
    let (baseline, _) = measure(&server, project_b, "B's writes alone".into(), 0, &idle).await?;
    rows.push(baseline);

    // 1. Label configs, on create.
    let mut allowed = Vec::new();
    for case in cases() {
        let body = json!({"title": "config", "label_config": case.config}).to_string();
        let create = Request::json(Method::POST, "/api/projects/", Some(Bytes::from(body)));
        let label = format!("POST /api/projects/: {}", case.label);
        let (row, answers) = measure(&server, project_b, label, times, &create).await?;
        rows.push(row);
        let first: Value = serde_json::from_slice(&answers[0]).unwrap_or(Value::Null);
        if let Some(id) = first["id"].as_i64() {
            allowed.push((case.label, id));
        }
    }

    // 2. Reads of the large projects: one each, then a page of all of them.
    for (label, id) in &allowed {
        let read = Request::json(Method::GET, format!("/api/projects/{id}/"), None);
        let label = format!("GET one project: {label}");
        rows.push(measure(&server, project_b, label, 5, &read).await?.0);
    }
    let list = Request::json(Method::GET, "/api/projects/?page_size=100", None);
    let label = "GET /api/projects/?page_size=100 (all of the above)".to_string();
    rows.push(measure(&server, project_b, label, 5, &list).await?.0);

    // 3. A CSV file of 200,000 columns (and the same data as JSON).
    let project_a = Conn::new(server.addr).create_project("wide").await?;
    let columns = 200_000;
    let header: Vec<String> = (0..columns).map(|i| format!("c{i}")).collect();
    let values: Vec<String> = (0..columns).map(|i| i.to_string()).collect();
    let csv = format!("{}\n{}\n", header.join(","), values.join(","));
    let (body, content_type) = multipart("wide.csv", csv.as_bytes());
    let path = format!("/api/projects/{project_a}/import");
    let upload = Request {
        method: Method::POST,
        path: path.clone(),
        body: Some(body),
        content_type,
    };
    let label = format!("import: CSV of {columns} columns");
    rows.push(measure(&server, project_b, label, times, &upload).await?.0);
    let task: serde_json::Map<String, Value> =
        (0..columns).map(|i| (format!("c{i}"), json!(i))).collect();
    let body = Bytes::from(Value::Array(vec![Value::Object(task)]).to_string());
    let import = Request::json(Method::POST, path, Some(body));
    let label = format!("import: the same as JSON ({columns} keys)");
    rows.push(measure(&server, project_b, label, times, &import).await?.0);
    Ok(rows)
}
