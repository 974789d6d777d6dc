//! `labelhook import`: uploads task files to a running server in batches, with a progress
//! bar, for imports too large for one request.
//!
//! Each batch is one `POST /api/projects/{id}/import` (one transaction, one TASKS_CREATED
//! event per `WEBHOOK_BATCH_SIZE` tasks); a failed batch stops the import and says how
//! many tasks went in before it, so it can be resumed with `--skip`.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::Value;

use crate::labeling::import_files;

#[derive(Debug, Clone, Args)]
pub struct ImportSettings {
    /// The server, e.g. http://127.0.0.1:8080.
    #[arg(long, env = "LABELHOOK_URL", default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// API token (`Authorization: Token <key>`).
    #[arg(long, env = "LABELHOOK_TOKEN", hide_env_values = true)]
    pub token: String,
    /// Project to import into.
    #[arg(long)]
    pub project: i64,
    /// Tasks per request.
    #[arg(long, default_value_t = 1000)]
    pub batch: usize,
    /// Tasks to skip at the start (to resume an interrupted import).
    #[arg(long, default_value_t = 0)]
    pub skip: usize,
    /// Files: .json, .jsonl, .csv, .tsv or .txt (plain-text lines go under `text`).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
}

pub async fn run(settings: ImportSettings) -> anyhow::Result<()> {
    let mut items: Vec<Value> = Vec::new();
    for path in &settings.files {
        let bytes = std::fs::read(path)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        items.extend(import_files::parse_file(&name, &bytes, "text")?);
    }
    let items: Vec<Value> = items.into_iter().skip(settings.skip).collect();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(600))
        .build()?;
    let endpoint = format!(
        "{}/api/projects/{}/import",
        settings.url.trim_end_matches('/'),
        settings.project
    );
    let bar = ProgressBar::new(items.len() as u64);
    bar.set_style(ProgressStyle::with_template(
        "{bar:40} {pos}/{len} tasks  {per_sec}  eta {eta}  {msg}",
    )?);
    let mut done = 0;
    for batch in items.chunks(settings.batch.max(1)) {
        let response = client
            .post(&endpoint)
            .header("Authorization", format!("Token {}", settings.token))
            .json(batch)
            .send()
            .await;
        let failure = match response {
            Ok(r) if r.status().is_success() => None,
            Ok(r) => {
                let status = r.status();
                Some(format!("{status}: {}", r.text().await.unwrap_or_default()))
            }
            Err(e) => Some(e.to_string()),
        };
        if let Some(reason) = failure {
            bar.abandon_with_message("failed");
            anyhow::bail!(
                "batch after {} tasks failed: {reason}\nresume with --skip {}",
                settings.skip + done,
                settings.skip + done
            );
        }
        done += batch.len();
        bar.inc(batch.len() as u64);
    }
    bar.finish_with_message("done");
    println!("imported {done} tasks into project {}", settings.project);
    Ok(())
}
