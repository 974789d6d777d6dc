//! `labelhook import`: a file uploaded in batches; each batch is one import request.

mod common;

use std::process::Command;

use common::{TOKEN, server_receiver_and_project};
use serde_json::json;

#[tokio::test]
async fn import_uploads_in_batches() {
    let (server, receiver, project) = server_receiver_and_project("cli").await;
    server
        .create(
            "/api/webhooks/",
            json!({"url": receiver.url, "project": project}),
        )
        .await;
    let file = server.data_dir().join("tasks.jsonl");
    let lines: Vec<String> = (0..25)
        .map(|i| json!({"text": format!("t{i}")}).to_string())
        .collect();
    std::fs::write(&file, lines.join("\n")).unwrap();

    let output = Command::new(env!("CARGO_BIN_EXE_labelhook"))
        .args([
            "import",
            "--url",
            &server.base,
            "--token",
            TOKEN,
            "--project",
            &project.to_string(),
            "--batch",
            "10",
        ])
        .arg(&file)
        .output()
        .expect("run labelhook import");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("imported 25 tasks"));
    assert_eq!(server.get_project(project).await["task_number"], 25);
    let events = receiver.wait_for("TASKS_CREATED", 3).await;
    let mut sizes: Vec<usize> = events
        .iter()
        .map(|e| e.body["tasks"].as_array().unwrap().len())
        .collect();
    sizes.sort_unstable();
    assert_eq!(sizes, [5, 10, 10]);

    // A failing batch stops the import and says where to resume.
    let output = Command::new(env!("CARGO_BIN_EXE_labelhook"))
        .args([
            "import",
            "--url",
            &server.base,
            "--token",
            "wrong",
            "--project",
            &project.to_string(),
        ])
        .arg(&file)
        .output()
        .expect("run labelhook import");
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("--skip 0"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
