//! `labelhook listen`: prints each event with a checked signature and forwards it.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

use common::{eventually, server_receiver_and_project};
use serde_json::json;

#[tokio::test]
async fn listen_prints_verifies_and_forwards() {
    let (server, forward, project) = server_receiver_and_project("listen").await;
    let webhook = server
        .webhook(json!({"url": "http://127.0.0.1:9/placeholder", "project": project, "is_active": false}))
        .await;
    let mut child = Command::new(env!("CARGO_BIN_EXE_labelhook"))
        .args([
            "listen",
            "--port",
            "0",
            "--secret",
            webhook["secret"].as_str().unwrap(),
            "--forward-to",
            &forward.url,
        ])
        .stdout(Stdio::piped())
        .spawn()
        .expect("start labelhook listen");
    let lines = Arc::new(Mutex::new(Vec::<String>::new()));
    let sink = lines.clone();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            sink.lock().unwrap().push(line);
        }
    });
    let address = eventually(20, "the listener's address", || {
        let lines = lines.clone();
        async move {
            lines.lock().unwrap().iter().find_map(|l| {
                l.split("receiving on ")
                    .nth(1)
                    .map(|rest| rest.split_whitespace().next().unwrap_or("").to_string())
            })
        }
    })
    .await;
    server
        .expect(
            200,
            &format!("PATCH /api/webhooks/{}/", webhook["id"]),
            Some(json!({"url": address, "is_active": true})),
        )
        .await;
    server.task(project, "hello").await;

    let line = eventually(20, "the event line", || {
        let lines = lines.clone();
        async move {
            lines
                .lock()
                .unwrap()
                .iter()
                .find(|l| l.contains("TASKS_CREATED"))
                .cloned()
        }
    })
    .await;
    assert!(line.contains("signature valid"), "{line}");
    assert!(line.contains(&format!("project={project}")), "{line}");
    let got = forward.wait_for("TASKS_CREATED", 1).await;
    assert!(
        got[0].header("webhook-signature").starts_with("v1,"),
        "headers are forwarded"
    );
    let _ = child.kill();
    let _ = child.wait();
}
