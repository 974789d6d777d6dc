//! Hostile clients and a failing disk (issue 19): half-open connections, idle keep-alive,
//! oversized bodies, token guessing, `/metrics` exposure, a full database. Each test
//! drives the real binary and fails without the fix it covers.

mod common;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use common::{Receiver, Server, TOKEN, eventually, server_receiver_and_project};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn address(server: &Server) -> String {
    server.base.trim_start_matches("http://").to_string()
}

/// Opens a connection and sends the first half of a request, never the rest.
async fn half_open(server: &Server) -> TcpStream {
    let mut stream = TcpStream::connect(address(server)).await.expect("connect");
    stream
        .write_all(b"GET /health HTTP/1.1\r\nHost: labelhook\r\nX-Slow: ")
        .await
        .expect("write half a request");
    stream
}

/// Whether the server closed `stream` (end of file or reset) within `wait`.
async fn closed_within(stream: &mut TcpStream, wait: Duration) -> bool {
    let mut buffer = [0u8; 1024];
    let deadline = Instant::now() + wait;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.read(&mut buffer)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue, // an answer (e.g. 408): keep reading until it closes
            Err(_) => return false,
        }
    }
}

async fn health_status(server: &Server) -> u16 {
    // A fresh connection each time, as a load balancer's probe makes.
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");
    match client.get(server.url("/health")).send().await {
        Ok(response) => response.status().as_u16(),
        Err(error) => panic!("/health did not answer: {error}"),
    }
}

#[tokio::test]
async fn half_open_connections_are_closed_after_the_header_timeout() {
    let server = Server::start_with(&[("LABELHOOK_HEADER_TIMEOUT", "1s")]);
    let mut slow = Vec::new();
    for _ in 0..50 {
        slow.push(half_open(&server).await);
    }
    assert_eq!(
        health_status(&server).await,
        200,
        "/health answers beside them"
    );
    for (i, stream) in slow.iter_mut().enumerate() {
        assert!(
            closed_within(stream, Duration::from_secs(20)).await,
            "half-open connection {i} still open long after the 1 s header timeout"
        );
    }
}

#[tokio::test]
async fn at_the_connection_cap_a_new_connection_still_gets_in() {
    // A header timeout far beyond the test: only the cap can make room.
    let server = Server::start_with(&[
        ("LABELHOOK_HEADER_TIMEOUT", "1h"),
        ("LABELHOOK_KEEP_ALIVE_TIMEOUT", "1h"),
        ("LABELHOOK_MAX_CONNECTIONS", "20"),
    ]);
    let mut slow = Vec::new();
    for _ in 0..100 {
        slow.push(half_open(&server).await);
    }
    for _ in 0..3 {
        assert_eq!(
            health_status(&server).await,
            200,
            "/health gets in at the cap"
        );
    }
    // The oldest half-open ones made room; at most the cap is left open.
    let mut closed = 0;
    for stream in &mut slow {
        if closed_within(stream, Duration::from_millis(50)).await {
            closed += 1;
        }
    }
    assert!(closed >= 80, "only {closed} of 100 closed at a cap of 20");
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_its_timeout() {
    let server = Server::start_with(&[("LABELHOOK_KEEP_ALIVE_TIMEOUT", "1s")]);
    let mut stream = TcpStream::connect(address(&server)).await.expect("connect");
    stream
        .write_all(b"GET /health HTTP/1.1\r\nHost: labelhook\r\n\r\n")
        .await
        .expect("write");
    let mut buffer = vec![0u8; 4096];
    let read = stream.read(&mut buffer).await.expect("read the answer");
    assert!(
        String::from_utf8_lossy(&buffer[..read]).starts_with("HTTP/1.1 200"),
        "answered"
    );
    assert!(
        closed_within(&mut stream, Duration::from_secs(20)).await,
        "idle keep-alive connection still open long after its 1 s timeout"
    );
}

/// Sends a request head (and no body) on a new connection; returns what the server
/// answers before it closes, or panics if it does not answer within 20 s (a server
/// waiting for the body it was promised never does).
async fn answer_to_head(server: &Server, head: &str) -> String {
    let mut stream = TcpStream::connect(address(server)).await.expect("connect");
    stream.write_all(head.as_bytes()).await.expect("write");
    let mut answer = Vec::new();
    let mut buffer = [0u8; 4096];
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.read(&mut buffer)).await {
            Ok(Ok(n)) if n > 0 => answer.extend_from_slice(&buffer[..n]),
            Ok(_) => break, // closed: the whole answer is in
            Err(_) if !answer.is_empty() => break,
            Err(_) => panic!("no answer before the body was sent"),
        }
    }
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn a_body_declared_too_large_is_refused_before_it_is_sent() {
    let server = Server::start_with(&[
        ("LABELHOOK_MAX_BODY_BYTES", "1000000"),
        ("LABELHOOK_MAX_UPLOAD_BYTES", "2000000"),
    ]);
    let project = server.project("big bodies").await;
    let head = |content_type: &str| {
        format!(
            "POST /api/projects/{project}/import HTTP/1.1\r\nHost: labelhook\r\n\
             Authorization: Token {TOKEN}\r\nContent-Type: {content_type}\r\n\
             Content-Length: 1073741824\r\n\r\n"
        )
    };
    let answer = answer_to_head(&server, &head("application/json")).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("LABELHOOK_MAX_BODY_BYTES"), "{answer}");
    let answer = answer_to_head(&server, &head("multipart/form-data; boundary=x")).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("LABELHOOK_MAX_UPLOAD_BYTES"), "{answer}");
}

#[tokio::test]
async fn a_chunked_body_is_cut_at_the_limit_and_uploads_have_their_own() {
    let server = Server::start_with(&[
        ("LABELHOOK_MAX_BODY_BYTES", "20000"),
        ("LABELHOOK_MAX_UPLOAD_BYTES", "200000"),
    ]);
    let project = server.project("limits").await;
    let path = format!("/api/projects/{project}/import");
    let tasks: Vec<Value> = (0..1000)
        .map(|i| json!({"text": format!("task number {i}")}))
        .collect();
    // JSON without Content-Length (a stream): 413 once it passes the JSON limit.
    let frames: Vec<Result<hyper::body::Frame<bytes::Bytes>, std::io::Error>> = tasks
        .chunks(100)
        .map(|chunk| {
            Ok(hyper::body::Frame::data(bytes::Bytes::from(
                serde_json::to_vec(chunk).unwrap(),
            )))
        })
        .collect();
    let stream = http_body_util::StreamBody::new(futures::stream::iter(frames));
    let response = server
        .client
        .post(server.url(&path))
        .header("Authorization", format!("Token {TOKEN}"))
        .header("Content-Type", "application/json")
        .body(reqwest::Body::wrap(stream))
        .send()
        .await
        .expect("send");
    assert_eq!(response.status().as_u16(), 413);
    let body: Value = response.json().await.expect("json");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("LABELHOOK_MAX_BODY_BYTES")
    );
    // The same tasks as a file: over the JSON limit, under the upload limit.
    let file = serde_json::to_vec(&tasks).unwrap();
    assert!(file.len() > 20_000 && file.len() < 200_000);
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(file).file_name("tasks.json"),
    );
    let response = server
        .client
        .post(server.url(&path))
        .header("Authorization", format!("Token {TOKEN}"))
        .multipart(form)
        .send()
        .await
        .expect("send");
    assert_eq!(
        response.status().as_u16(),
        201,
        "{:?}",
        response.text().await
    );
    // (A file over the upload limit: `a_body_declared_too_large_is_refused_before_it_is_sent`.)
}

/// An annotation's result is kept as the text sent and answered as it is, never built as
/// a tree on its way (a 14 MB result is some 200 MB of parsed JSON): a number written
/// `1e2` would come back as `100.0` from a server that parsed it. Webhook bodies still
/// carry it parsed, with its count.
#[tokio::test]
async fn an_annotation_result_is_answered_as_sent() {
    let (server, receiver, project) = server_receiver_and_project("result as sent").await;
    server.webhook(json!({"url": receiver.url})).await;
    let task = server.task(project, "x").await["id"].clone();
    let result = r#"[{"from_name": "label", "to_name": "text", "type": "choices", "value": {"choices": ["pos"]}, "score": 1e2}]"#;
    let (status, text) = server
        .call_text(
            "POST",
            &format!("/api/tasks/{task}/annotations/"),
            Some(format!(r#"{{"result": {result}, "lead_time": 1}}"#)),
        )
        .await;
    assert_eq!(status, 201, "{text}");
    assert!(text.contains(&format!(r#""result":{result}"#)), "{text}");
    let id = serde_json::from_str::<Value>(&text).expect("json")["id"]
        .as_i64()
        .expect("annotation id");
    let (_, read) = server
        .call_text("GET", &format!("/api/annotations/{id}/"), None)
        .await;
    assert!(read.contains(&format!(r#""result":{result}"#)), "{read}");
    let sent = receiver.wait_for("ANNOTATION_CREATED", 1).await;
    assert_eq!(sent[0].body["annotation"]["result_count"], 1);
    assert_eq!(sent[0].body["annotation"]["result"][0]["score"], 100.0);
    // Label Studio also takes the list inside a JSON string.
    let patched = server
        .expect(
            200,
            &format!("PATCH /api/annotations/{id}/"),
            Some(json!({"result": "[{\"a\": 1}]"})),
        )
        .await;
    assert_eq!(patched["result"], json!([{"a": 1}]));
}

#[tokio::test]
async fn the_token_scheme_is_accepted_in_any_case() {
    let server = Server::start();
    for scheme in ["Token", "token", "TOKEN", "Bearer", "bearer"] {
        let response = server
            .client
            .get(server.url("/api/current-user/whoami"))
            .header("Authorization", format!("{scheme} {TOKEN}"))
            .send()
            .await
            .expect("send");
        assert_eq!(response.status().as_u16(), 200, "{scheme}");
    }
}

/// Everything the database keeps, as bytes: the SQLite files, or a PostgreSQL dump of the
/// users table.
fn stored_bytes(server: &Server) -> Vec<u8> {
    if server.is_postgres() {
        let output = std::process::Command::new("psql")
            .args([server.db_url(), "-At", "-c", "SELECT * FROM users"])
            .output()
            .expect("psql");
        assert!(output.status.success());
        return output.stdout;
    }
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(server.data_dir()).expect("data dir") {
        let path = entry.expect("entry").path();
        if path.is_file() {
            bytes.extend(std::fs::read(&path).expect("read"));
        }
    }
    bytes
}

#[tokio::test]
async fn tokens_are_stored_hashed_and_the_cli_still_hands_them_out() {
    let server = Server::start();
    let other = server.other_organization("hashed@example.com");
    let (status, me) = server
        .call_as(&other, "GET", "/api/current-user/whoami", None)
        .await;
    assert_eq!(status, 200, "the CLI's token works: {me}");
    assert_eq!(me["email"], "hashed@example.com");
    let stored = stored_bytes(&server);
    for token in [TOKEN, other.as_str()] {
        assert!(
            !stored
                .windows(token.len())
                .any(|window| window == token.as_bytes()),
            "the token {token} is stored in clear"
        );
    }
}

#[tokio::test]
async fn repeated_bad_tokens_are_throttled() {
    let server = Server::start_with(&[("LABELHOOK_BAD_TOKENS_PER_MINUTE", "3")]);
    for i in 0..3 {
        server
            .expect_as(&format!("wrong-{i}"), 401, "GET /api/projects/", None)
            .await;
    }
    let response = server
        .client
        .get(server.url("/api/projects/"))
        .header("Authorization", "Token wrong-again")
        .send()
        .await
        .expect("send");
    assert_eq!(response.status().as_u16(), 429);
    let wait: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait), "Retry-After {wait}");
    // Locked out: a right guess would not be told from a wrong one.
    let body = server.expect(429, "GET /api/projects/", None).await;
    assert_eq!(body["status_code"], 429);
}

#[tokio::test]
async fn metrics_can_ask_for_a_token() {
    let server = Server::start_with(&[("LABELHOOK_METRICS_TOKEN", "scrape-me")]);
    let get = |authorization: Option<String>| {
        let mut request = server.client.get(server.url("/metrics"));
        if let Some(value) = authorization {
            request = request.header("Authorization", value);
        }
        async move { request.send().await.expect("send").status().as_u16() }
    };
    assert_eq!(get(None).await, 401);
    assert_eq!(get(Some("Bearer nope".into())).await, 401);
    assert_eq!(
        get(Some(format!("Token {TOKEN}"))).await,
        401,
        "not a user token"
    );
    assert_eq!(get(Some("Bearer scrape-me".into())).await, 200);
    assert_eq!(get(Some("token scrape-me".into())).await, 200);
}

#[tokio::test]
async fn a_full_database_answers_503_says_so_and_loses_nothing_acknowledged() {
    let mut server = Server::start_with(&[("LABELHOOK_SQLITE_MAX_BYTES", "1500000")]);
    if server.is_postgres() {
        println!("skipped: LABELHOOK_SQLITE_MAX_BYTES is SQLite's (see docs/settings.md)");
        return;
    }
    let receiver = Receiver::start().await;
    let project = server.project("full").await;
    server
        .webhook(json!({"url": receiver.url, "project": project}))
        .await;
    let filler = "x".repeat(2000);
    // Each task's text starts with its key; the keys of every import answered 201.
    let mut acknowledged = Vec::new();
    let mut refused = None;
    for i in 0..2000 {
        let keys: Vec<String> = (0..10).map(|j| format!("{i}-{j}")).collect();
        let tasks: Vec<Value> = keys
            .iter()
            .map(|key| json!({"text": format!("{key} {filler}")}))
            .collect();
        let (status, body) = server
            .call(
                "POST",
                &format!("/api/projects/{project}/import"),
                Some(json!(tasks)),
            )
            .await;
        if status == 201 {
            acknowledged.extend(keys);
        } else {
            refused = Some((status, body));
            break;
        }
    }
    let (status, body) = refused.expect("the database never filled up");
    assert_eq!(status, 503, "{body}");
    assert!(body["detail"].as_str().unwrap().contains("full"), "{body}");
    let response = server.get_public("/health").await;
    assert_eq!(response.status().as_u16(), 503);
    let health: Value = response.json().await.expect("json");
    assert_eq!(health["status"], "DOWN");
    assert!(
        health["reason"].as_str().unwrap().contains("full"),
        "{health}"
    );
    let metrics = server.metrics().await;
    assert!(
        metrics.contains("labelhook_database_writable 0"),
        "{metrics}"
    );

    // Nothing acknowledged was lost: its event was delivered, and it is there.
    assert!(!acknowledged.is_empty());
    let key = |task: &Value| -> Option<String> {
        let text = task["data"]["text"].as_str()?;
        Some(text.split(' ').next()?.to_string())
    };
    receiver
        .wait_until(60, "every acknowledged task's event", |got| {
            let seen: HashSet<String> = got
                .iter()
                .flat_map(|r| r.body["tasks"].as_array().cloned().unwrap_or_default())
                .filter_map(|task| key(&task))
                .collect();
            acknowledged.iter().all(|k| seen.contains(k))
        })
        .await;
    server.restart_with(&[("LABELHOOK_SQLITE_MAX_BYTES", "100000000")]);
    let listed = server
        .get(&format!("/api/tasks/?project={project}&page_size=100000"))
        .await;
    let stored: HashSet<String> = listed["tasks"]
        .as_array()
        .expect("tasks")
        .iter()
        .filter_map(key)
        .collect();
    for k in &acknowledged {
        assert!(stored.contains(k), "acknowledged task {k} is gone");
    }
    // With room again, a write succeeds and /health is UP.
    server
        .import(project, json!([{"text": "room again"}]))
        .await;
    eventually(10, "/health UP", || async {
        (health_status(&server).await == 200).then_some(())
    })
    .await;
}
