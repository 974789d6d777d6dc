//! A delivery ready to send, and where it goes: built by a claim from the outbox, or by
//! the transaction that wrote it when it hands the delivery over at commit (`handoff`).

use std::sync::Arc;

use bytes::Bytes;

use crate::store::{self, Row};

/// A delivery ready to send, with what sending needs.
#[derive(Debug, Clone)]
pub struct Job {
    pub delivery_id: i64,
    pub message_id: String,
    pub webhook_id: i64,
    /// Attempts made before this one.
    pub attempts: i64,
    pub action: String,
    pub sequence: i64,
    /// Shared by every delivery of one event.
    pub body: Bytes,
    pub destination: Arc<Destination>,
}

/// A webhook as sending sees it.
#[derive(Debug)]
pub struct Destination {
    pub url: String,
    pub headers: Vec<(String, String)>,
    /// Signing secrets: the current one, plus the previous one during a rotation.
    pub secrets: Vec<String>,
    /// Also send `X-Hub-Signature-256` (GitHub/Labelbox style).
    pub hub_signature: bool,
    /// `Some(topics)` for a Labelbox-format webhook: its requests are Labelbox's
    /// (`labelbox.rs`), sent as one of these topics.
    pub labelbox_topics: Option<Vec<String>>,
}

/// The columns of `webhooks` that [`Destination::from_row`] reads.
pub const DESTINATION_COLUMNS: &str = "url, headers, secret, previous_secret, \
    previous_secret_expires_at, hub_signature, format, topics";

impl Destination {
    /// From a row holding [`DESTINATION_COLUMNS`]; `now` decides whether a rotated-out
    /// secret still signs.
    pub fn from_row(row: &Row, now: i64) -> store::Result<Destination> {
        let headers: String = row.try_get("headers")?;
        let headers: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&headers).unwrap_or_default();
        let mut secrets = vec![row.try_get::<String, _>("secret")?];
        let previous: Option<String> = row.try_get("previous_secret")?;
        let expires: Option<i64> = row.try_get("previous_secret_expires_at")?;
        if let (Some(previous), Some(expires)) = (previous, expires)
            && expires > now
        {
            secrets.push(previous);
        }
        Ok(Destination {
            url: row.try_get("url")?,
            headers: headers
                .into_iter()
                .filter_map(|(k, v)| v.as_str().map(|v| (k, v.to_string())))
                .collect(),
            secrets,
            hub_signature: row.try_get::<i64, _>("hub_signature")? != 0,
            labelbox_topics: match row.try_get::<String, _>("format")?.as_str() {
                LABELBOX => Some(
                    serde_json::from_str(&row.try_get::<String, _>("topics")?).unwrap_or_default(),
                ),
                _ => None,
            },
        })
    }
}

/// The `format` of a Labelbox-format webhook.
pub const LABELBOX: &str = "labelbox";

/// What a delivery sends: the event's payload, or only its action when the webhook asked
/// for no payload; to a Labelbox-format webhook, Labelbox's body of the event.
pub fn body(destination: &Destination, send_payload: bool, action: &str, payload: Bytes) -> Bytes {
    if let Some(topics) = &destination.labelbox_topics {
        let topic = super::labelbox::topic_of(action, topics);
        if let Some(body) = super::labelbox::body(&topic, &payload) {
            return Bytes::from(body);
        }
        return payload;
    }
    if send_payload {
        payload
    } else {
        Bytes::from(serde_json::json!({ "action": action }).to_string())
    }
}
