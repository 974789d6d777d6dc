//! `labelhook listen`: a local receiver that prints each event it gets, checks its
//! signature, and can forward it. The first thing to run to see webhooks work.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use clap::Args;
use serde_json::Value;

use crate::delivery::secret;

#[derive(Debug, Clone, Args)]
pub struct ListenSettings {
    /// Port to listen on (127.0.0.1); 0 picks a free one.
    #[arg(long, default_value_t = 9000)]
    pub port: u16,
    /// The webhook's signing secret (`whsec_...`), to check each signature.
    #[arg(long, env = "LABELHOOK_LISTEN_SECRET", hide_env_values = true)]
    pub secret: Option<String>,
    /// Also POST every event, with its headers, to this URL; its status is answered back.
    #[arg(long)]
    pub forward_to: Option<String>,
    /// Print the whole body of each event, not only a summary.
    #[arg(long)]
    pub full: bool,
}

struct Listener {
    settings: ListenSettings,
    client: reqwest::Client,
}

pub async fn run(settings: ListenSettings) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", settings.port)).await?;
    let address = listener.local_addr()?;
    println!("labelhook listen: receiving on http://{address}/ (any path)");
    if settings.secret.is_none() {
        println!("  no --secret given: signatures are shown but not checked");
    }
    if let Some(target) = &settings.forward_to {
        println!("  forwarding every event to {target}");
    }
    let state = Arc::new(Listener {
        settings,
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()?,
    });
    let app = Router::new().fallback(receive).with_state(state);
    axum::serve(listener, app).await?;
    Ok(())
}

async fn receive(
    State(listener): State<Arc<Listener>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, String) {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let parsed: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let action = parsed["action"].as_str().unwrap_or("(no action)");
    let signature = check_signature(
        listener.settings.secret.as_deref(),
        &header("webhook-id"),
        &header("webhook-timestamp"),
        &body,
        &header("webhook-signature"),
    );
    println!(
        "{} {action:<20} {}  id={} seq={} signature {signature}  {}",
        chrono::Utc::now().format("%H:%M:%S%.3f"),
        summary(&parsed),
        header("webhook-id"),
        header("labelhook-sequence"),
        uri.path(),
    );
    if listener.settings.full {
        println!(
            "{}",
            serde_json::to_string_pretty(&parsed).unwrap_or_default()
        );
    }
    let Some(target) = &listener.settings.forward_to else {
        return (StatusCode::OK, "ok".into());
    };
    let mut request = listener.client.post(target).body(body.to_vec());
    for (name, value) in &headers {
        if !matches!(name.as_str(), "host" | "content-length") {
            request = request.header(name, value);
        }
    }
    match request.send().await {
        Ok(response) => {
            let status = response.status();
            println!("  forwarded → {status}");
            (
                StatusCode::from_u16(status.as_u16()).unwrap_or(StatusCode::BAD_GATEWAY),
                "forwarded".into(),
            )
        }
        Err(error) => {
            println!("  forward failed: {error}");
            (StatusCode::BAD_GATEWAY, format!("forward failed: {error}"))
        }
    }
}

/// `valid`, `INVALID`, `unchecked` (no secret given) or `missing`.
fn check_signature(
    secret_text: Option<&str>,
    id: &str,
    timestamp: &str,
    body: &[u8],
    signature: &str,
) -> &'static str {
    if signature.is_empty() {
        return "missing";
    }
    let Some(secret_text) = secret_text else {
        return "unchecked";
    };
    match timestamp.parse::<i64>() {
        Ok(ts) if secret::verify(secret_text, id, ts, body, signature) => "valid",
        _ => "INVALID",
    }
}

/// The ids an event is about, in a few words.
fn summary(body: &Value) -> String {
    let ids = |key: &str| -> Option<String> {
        let items = body[key].as_array()?;
        let ids: Vec<String> = items
            .iter()
            .filter_map(|i| i["id"].as_i64())
            .map(|i| i.to_string())
            .collect();
        let shown = ids.iter().take(5).cloned().collect::<Vec<_>>().join(",");
        Some(if ids.len() > 5 {
            format!("{key}=[{shown},… {} in all]", ids.len())
        } else {
            format!("{key}=[{shown}]")
        })
    };
    let mut parts = Vec::new();
    if let Some(id) = body["project"]["id"].as_i64() {
        parts.push(format!("project={id}"));
    }
    if let Some(id) = body["annotation"]["id"].as_i64() {
        parts.push(format!("annotation={id}"));
    }
    if let Some(id) = body["task"]["id"].as_i64() {
        parts.push(format!("task={id}"));
    }
    for key in ["tasks", "annotations", "annotation", "task"] {
        if body[key].is_array()
            && let Some(text) = ids(key)
        {
            parts.push(text);
        }
    }
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn summarises_ids() {
        let body = json!({"action": "TASKS_CREATED", "tasks": [{"id": 1}, {"id": 2}], "project": {"id": 7}});
        assert_eq!(summary(&body), "project=7 tasks=[1,2]");
        let body = json!({"action": "ANNOTATION_CREATED", "annotation": {"id": 3}, "task": {"id": 4}, "project": {"id": 7}});
        assert_eq!(summary(&body), "project=7 annotation=3 task=4");
    }

    #[test]
    fn checks_signatures() {
        let key = secret::generate();
        let signed = secret::sign(&key, "msg_1", 10, b"{}").unwrap();
        assert_eq!(
            check_signature(Some(&key), "msg_1", "10", b"{}", &signed),
            "valid"
        );
        assert_eq!(
            check_signature(Some(&key), "msg_1", "10", b"{ }", &signed),
            "INVALID"
        );
        assert_eq!(
            check_signature(None, "msg_1", "10", b"{}", &signed),
            "unchecked"
        );
        assert_eq!(
            check_signature(Some(&key), "msg_1", "10", b"{}", ""),
            "missing"
        );
    }
}
