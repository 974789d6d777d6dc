//! `labelhook import`: a file uploaded in batches; each batch is one import request.

mod common;

use std::path::Path;
use std::process::Command;

use common::{TOKEN, server_receiver_and_project};
use serde_json::json;

/// Runs `labelhook import` of `file` into `project` at `base` with `token` and `options`.
fn import(
    base: &str,
    token: &str,
    project: i64,
    options: &[&str],
    file: &Path,
) -> std::process::Output {
    let project = project.to_string();
    Command::new(env!("CARGO_BIN_EXE_labelhook"))
        .args([
            "import",
            "--url",
            base,
            "--token",
            token,
            "--project",
            &project,
        ])
        .args(options)
        .arg(file)
        .output()
        .expect("run labelhook import")
}

#[tokio::test]
async fn import_uploads_in_batches() {
    let (server, receiver, project) = server_receiver_and_project("cli").await;
    server
        .webhook(json!({"url": receiver.url, "project": project}))
        .await;
    let file = server.data_dir().join("tasks.jsonl");
    let lines: Vec<String> = (0..25)
        .map(|i| json!({"text": format!("t{i}")}).to_string())
        .collect();
    std::fs::write(&file, lines.join("\n")).unwrap();

    let output = import(&server.base, TOKEN, project, &["--batch", "10"], &file);
    common::assert_succeeded(&output);
    assert!(String::from_utf8_lossy(&output.stdout).contains("imported 25 tasks"));
    assert_eq!(server.task_number(project).await, 25);
    let events = receiver.wait_for("TASKS_CREATED", 3).await;
    let mut sizes: Vec<usize> = events
        .iter()
        .map(|e| e.body["tasks"].as_array().unwrap().len())
        .collect();
    sizes.sort_unstable();
    assert_eq!(sizes, [5, 10, 10]);

    // A failing batch stops the import and says where to resume.
    let output = import(&server.base, "wrong", project, &[], &file);
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("--skip 0"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
