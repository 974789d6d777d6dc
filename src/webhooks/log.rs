//! The delivery log: what was sent to a webhook, every attempt and its answer, and the
//! operations on it (redeliver one, recover the failed ones of a period, retry all that
//! wait now, send a test).

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value, json};
use utoipa::ToSchema;

use super::{Webhook, get as get_webhook};
use crate::delivery::{breaker, labelbox};
use crate::events::{self, Action};
use crate::shared::{Actor, Error, Result, Scope};
use crate::store::time::{self, render, render_opt};
use crate::store::{self, Conn, Row};

/// The status of a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    Pending,
    Held,
    Succeeded,
    Failed,
}

impl DeliveryStatus {
    const ALL: [DeliveryStatus; 4] = [
        DeliveryStatus::Pending,
        DeliveryStatus::Held,
        DeliveryStatus::Succeeded,
        DeliveryStatus::Failed,
    ];

    /// As stored in `deliveries.status`.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Held => "held",
            DeliveryStatus::Succeeded => "succeeded",
            DeliveryStatus::Failed => "failed",
        }
    }

    fn from_stored(text: &str) -> Option<DeliveryStatus> {
        DeliveryStatus::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

/// From a query string (`?status=held`); anything else names the choices.
impl<'de> Deserialize<'de> for DeliveryStatus {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        DeliveryStatus::from_stored(&text).ok_or_else(|| {
            let choices: Vec<&str> = DeliveryStatus::ALL.iter().map(|s| s.as_str()).collect();
            serde::de::Error::custom(format!(
                "\"{text}\" is not a valid choice; use one of {}.",
                choices.join(", ")
            ))
        })
    }
}

/// One event sent (or to be sent) to one webhook, as the log lists it.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Delivery)]
pub struct DeliveryView {
    #[serde(flatten)]
    pub head: DeliveryHead,
    pub attempts: i64,
    #[serde(flatten)]
    pub tail: DeliveryTail,
}

/// A delivery with its request and every attempt. The keys are the log's (`Delivery`),
/// except that `attempts` is the list of attempts instead of their count.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = DeliveryDetail)]
pub struct DeliveryDetailView {
    #[serde(flatten)]
    pub head: DeliveryHead,
    /// Every attempt so far, oldest first.
    pub attempts: Vec<DeliveryAttempt>,
    #[serde(flatten)]
    pub tail: DeliveryTail,
    pub request: DeliveryRequest,
}

/// The keys of a delivery before `attempts`.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryHead {
    pub id: i64,
    /// The `webhook-id` header: the same on every attempt and redelivery.
    pub message_id: String,
    pub webhook: i64,
    pub event: i64,
    pub action: String,
    /// The `labelhook-sequence` header: the event's order in its project.
    pub sequence: i64,
    #[schema(required = true)]
    pub project: Option<i64>,
    pub status: DeliveryStatus,
    /// An attempt is being made now.
    pub in_flight: bool,
}

/// The keys of a delivery after `attempts`.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryTail {
    /// When the next attempt is due (pending and not in flight), or `null`.
    #[schema(required = true)]
    pub next_attempt_at: Option<String>,
    #[schema(required = true)]
    pub last_status_code: Option<i64>,
    #[schema(required = true)]
    pub last_error: Option<String>,
    /// How long the last attempt took, or `null` before the first.
    #[schema(required = true)]
    pub last_duration_ms: Option<f64>,
    /// Every attempt in the log, over redeliveries too (`attempts` counts those of the
    /// current retry schedule, which a redelivery starts again).
    pub attempts_logged: i64,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
}

/// The request a delivery sends (signature and timestamp headers differ per attempt).
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryRequest {
    pub method: &'static str,
    pub url: String,
    #[schema(value_type = BTreeMap<String, String>)]
    pub headers: Map<String, Value>,
    /// The event payload (Label Studio's webhook body).
    #[schema(value_type = Object)]
    pub body: Value,
}

/// One attempt of a delivery and the receiver's answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryAttempt {
    pub id: i64,
    #[schema(format = DateTime)]
    pub started_at: String,
    pub duration_ms: f64,
    #[schema(required = true)]
    pub status_code: Option<i64>,
    #[schema(value_type = Option<Object>, required = true)]
    pub response_headers: Option<Value>,
    #[schema(required = true)]
    pub response_body: Option<String>,
    /// For failed attempts: `timeout`, `connect`, `dns`, `tls`, `http` or `blocked`.
    #[schema(required = true)]
    pub error_class: Option<String>,
    #[schema(required = true)]
    pub error: Option<String>,
}

/// Filters of `GET /api/webhooks/{id}/deliveries`.
#[derive(Debug, Default)]
pub struct Filter {
    pub status: Option<DeliveryStatus>,
    pub action: Option<String>,
    /// Created at or after (stored form).
    pub since: Option<i64>,
    /// Created before (stored form).
    pub until: Option<i64>,
}

const SELECT: &str = "SELECT d.id, d.message_id, d.event_id, d.webhook_id, d.send_payload, d.status, \
    d.attempts, d.next_attempt_at, d.lease_until, d.last_status_code, d.last_error, d.created_at, \
    d.updated_at, e.action, e.sequence, e.project_id, \
    (SELECT a.duration_ms FROM delivery_attempts a WHERE a.delivery_id = d.id ORDER BY a.id DESC LIMIT 1) AS last_duration_ms, \
    (SELECT COUNT(*) FROM delivery_attempts a WHERE a.delivery_id = d.id) AS attempts_logged \
    FROM deliveries d JOIN events e ON e.id = d.event_id";

/// One delivery as the log lists it.
fn summary(row: &Row, now: i64) -> store::Result<DeliveryView> {
    let stored: String = row.try_get("status")?;
    let status = DeliveryStatus::from_stored(&stored).ok_or_else(|| store::Error::Column {
        column: "status".into(),
        problem: format!("unknown delivery status {stored:?}"),
    })?;
    let next: Option<i64> = row.try_get("next_attempt_at")?;
    let lease: Option<i64> = row.try_get("lease_until")?;
    let pending = status == DeliveryStatus::Pending;
    let in_flight = pending && lease.is_some_and(|l| l > now);
    let due = pending && !in_flight;
    Ok(DeliveryView {
        head: DeliveryHead {
            id: row.try_get("id")?,
            message_id: row.try_get("message_id")?,
            webhook: row.try_get("webhook_id")?,
            event: row.try_get("event_id")?,
            action: row.try_get("action")?,
            sequence: row.try_get("sequence")?,
            project: row.try_get("project_id")?,
            status,
            in_flight,
        },
        attempts: row.try_get("attempts")?,
        tail: DeliveryTail {
            next_attempt_at: if due { render_opt(next) } else { None },
            last_status_code: row.try_get("last_status_code")?,
            last_error: row.try_get("last_error")?,
            last_duration_ms: row.try_get("last_duration_ms")?,
            attempts_logged: row.try_get("attempts_logged")?,
            created_at: render(row.try_get("created_at")?),
            updated_at: render(row.try_get("updated_at")?),
        },
    })
}

fn where_clause(filter: &Filter) -> (String, Vec<Value>) {
    let mut sql = String::from(" WHERE d.webhook_id = $1");
    let mut binds = Vec::new();
    let mut add = |clause: &str, value: Value| {
        binds.push(value);
        sql.push_str(&clause.replace('?', &format!("${}", binds.len() + 1)));
    };
    if let Some(status) = filter.status {
        add(" AND d.status = ?", json!(status.as_str()));
    }
    if let Some(action) = &filter.action {
        add(" AND e.action = ?", json!(action));
    }
    if let Some(since) = filter.since {
        add(" AND d.created_at >= ?", json!(since));
    }
    if let Some(until) = filter.until {
        add(" AND d.created_at < ?", json!(until));
    }
    (sql, binds)
}

fn bind_all<'q>(mut query: store::Query<'q>, binds: &'q [Value]) -> store::Query<'q> {
    for value in binds {
        query = match value {
            Value::Number(n) => query.bind(n.as_i64()),
            other => query.bind(other.as_str().unwrap_or_default()),
        };
    }
    query
}

/// A page of a webhook's deliveries, newest first, with the total count.
pub async fn list(
    conn: &mut Conn,
    actor: &Actor,
    webhook_id: i64,
    filter: &Filter,
    offset: i64,
    limit: i64,
) -> Result<(Vec<DeliveryView>, i64)> {
    get_webhook(conn, actor, webhook_id).await?;
    let (clause, binds) = where_clause(filter);
    let count_sql =
        format!("SELECT COUNT(*) FROM deliveries d JOIN events e ON e.id = d.event_id{clause}");
    let count_row = bind_all(store::query(&count_sql).bind(webhook_id), &binds)
        .fetch_one(&mut *conn)
        .await?;
    let total: i64 = count_row.try_get(0)?;
    let sql = format!("{SELECT}{clause} ORDER BY d.id DESC LIMIT {limit} OFFSET {offset}");
    let rows = bind_all(store::query(&sql).bind(webhook_id), &binds)
        .fetch_all(&mut *conn)
        .await?;
    let now = time::now();
    let items = rows
        .iter()
        .map(|r| summary(r, now))
        .collect::<store::Result<_>>()?;
    Ok((items, total))
}

/// One delivery with the request it sends and every attempt.
pub async fn detail(
    conn: &mut Conn,
    actor: &Actor,
    webhook_id: i64,
    delivery_id: i64,
) -> Result<DeliveryDetailView> {
    let webhook = get_webhook(conn, actor, webhook_id).await?;
    let sql = format!("{SELECT} WHERE d.id = $1 AND d.webhook_id = $2");
    let row = store::query(&sql)
        .bind(delivery_id)
        .bind(webhook_id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(Error::NotFound("Delivery"))?;
    let summary = summary(&row, time::now())?;
    let event_id: i64 = row.try_get("event_id")?;
    let send_payload = row.try_get::<i64, _>("send_payload")? != 0;
    let payload: String = store::query_scalar("SELECT payload FROM events WHERE id = $1")
        .bind(event_id)
        .fetch_one(&mut *conn)
        .await?;
    let body = if send_payload {
        serde_json::from_str(&payload).unwrap_or(Value::Null)
    } else {
        json!({ "action": row.try_get::<String, _>("action")? })
    };
    let attempts = store::query(
        "SELECT id, started_at, duration_ms, status_code, response_headers, response_body, error_class, error \
         FROM delivery_attempts WHERE delivery_id = $1 ORDER BY id",
    )
    .bind(delivery_id)
    .fetch_all(&mut *conn)
    .await?;
    let attempts = attempts
        .iter()
        .map(|a| -> store::Result<DeliveryAttempt> {
            let headers: Option<String> = a.try_get("response_headers")?;
            Ok(DeliveryAttempt {
                id: a.try_get("id")?,
                started_at: render(a.try_get("started_at")?),
                duration_ms: a.try_get("duration_ms")?,
                status_code: a.try_get("status_code")?,
                response_headers: headers
                    .map(|h| serde_json::from_str::<Value>(&h).unwrap_or(Value::Null)),
                response_body: a.try_get("response_body")?,
                error_class: a.try_get("error_class")?,
                error: a.try_get("error")?,
            })
        })
        .collect::<store::Result<_>>()?;
    Ok(DeliveryDetailView {
        head: summary.head,
        attempts,
        tail: summary.tail,
        request: request_view(&webhook, &row, body)?,
    })
}

/// The request as the receiver gets it (signature and timestamp differ per attempt).
fn request_view(webhook: &Webhook, row: &Row, body: Value) -> store::Result<DeliveryRequest> {
    let mut headers = Map::new();
    headers.insert("Content-Type".into(), json!("application/json"));
    headers.insert("User-Agent".into(), json!(crate::USER_AGENT));
    for (name, value) in &webhook.headers {
        headers.insert(name.clone(), value.clone());
    }
    headers.insert(
        "webhook-id".into(),
        json!(row.try_get::<String, _>("message_id")?),
    );
    headers.insert(
        "labelhook-sequence".into(),
        json!(row.try_get::<i64, _>("sequence")?.to_string()),
    );
    // A Labelbox-format webhook's receiver gets Labelbox's body of the event, as its topic.
    let body = if webhook.format == super::WebhookFormat::Labelbox {
        let topic = labelbox::topic_of(&row.try_get::<String, _>("action")?, &webhook.topics);
        headers.insert(
            "X-Labelbox-Id".into(),
            json!(row.try_get::<String, _>("message_id")?),
        );
        headers.insert("X-Labelbox-Event".into(), json!(topic));
        labelbox::body(&topic, body.to_string().as_bytes())
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or(body)
    } else {
        body
    };
    Ok(DeliveryRequest {
        method: "POST",
        url: webhook.url.clone(),
        headers,
        body,
    })
}

/// Sends a delivery again now (same `webhook-id`), with a fresh retry schedule: a
/// finished one, or a pending one waiting for its next retry. While the webhook's
/// breaker is open this is a probe chosen by hand: if it succeeds, everything held goes.
/// One being sent at this moment is left alone (its outcome is about to be written).
pub async fn redeliver(
    tx: &mut Conn,
    actor: &Actor,
    webhook_id: i64,
    delivery_id: i64,
) -> Result<()> {
    let webhook = get_webhook(tx, actor, webhook_id).await?;
    let status = if webhook.is_active { "pending" } else { "held" };
    let now = time::now();
    let lease: Option<Option<i64>> = store::query_scalar(
        "SELECT lease_until FROM deliveries WHERE id = $1 AND webhook_id = $2 AND status = 'pending'",
    )
    .bind(delivery_id)
    .bind(webhook_id)
    .fetch_optional(&mut *tx)
    .await?;
    if lease.flatten().is_some_and(|until| until > now) {
        return Err(Error::invalid(
            "status",
            "This delivery is being sent right now; its outcome will be in the log in a moment.",
        ));
    }
    let changed = store::query(
        "UPDATE deliveries SET status = $1, attempts = 0, next_attempt_at = $2, lease_until = NULL, \
         lease_owner = NULL, updated_at = $2 WHERE id = $3 AND webhook_id = $4",
    )
    .bind(status)
    .bind(now)
    .bind(delivery_id)
    .bind(webhook_id)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if changed == 0 {
        return Err(Error::NotFound("Delivery"));
    }
    Ok(())
}

/// Which deliveries a recover queues again.
#[derive(Debug, Clone, Copy)]
pub struct RecoverWindow {
    pub since: i64,
    pub until: Option<i64>,
    /// Also the pending ones waiting for a retry (not those being sent).
    pub include_pending: bool,
}

/// Queues again, due now with a fresh retry schedule, every failed delivery of the
/// webhook created in [since, until), and the pending ones too when asked.
pub async fn recover(
    tx: &mut Conn,
    actor: &Actor,
    webhook_id: i64,
    window: RecoverWindow,
) -> Result<u64> {
    let webhook = get_webhook(tx, actor, webhook_id).await?;
    let status = if webhook.is_active { "pending" } else { "held" };
    let now = time::now();
    Ok(store::query(
        "UPDATE deliveries SET status = $1, attempts = 0, next_attempt_at = $2, lease_until = NULL, \
         lease_owner = NULL, updated_at = $2 \
         WHERE webhook_id = $3 AND created_at >= $4 AND created_at < $5 AND (status = 'failed' \
         OR ($6 = 1 AND status = 'pending' AND (lease_until IS NULL OR lease_until <= $2)))",
    )
    .bind(status)
    .bind(now)
    .bind(webhook_id)
    .bind(window.since)
    .bind(window.until.unwrap_or(i64::MAX))
    .bind(store::flag(window.include_pending))
    .execute(&mut *tx)
    .await?
    .rows_affected())
}

/// What "retry all pending now" did.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub struct RetryNow {
    /// Deliveries waiting to be sent (pending or held) when asked.
    pub waiting: u64,
    /// `true`: the breaker was open, so one probe goes now instead; if it succeeds the
    /// rest follow at once. `false`: every waiting delivery is due now.
    pub probe: bool,
}

/// Every pending delivery waiting for its next retry is due now. While the breaker is
/// open, the next probe goes now instead (a dead receiver is not sent everything at
/// once); its success sends the rest.
pub async fn retry_now(tx: &mut Conn, actor: &Actor, webhook_id: i64) -> Result<RetryNow> {
    let webhook = get_webhook(tx, actor, webhook_id).await?;
    if !webhook.is_active {
        return Err(Error::invalid(
            "is_active",
            "The webhook is switched off: switch it on, which sends what it holds.",
        ));
    }
    let now = time::now();
    let waiting: i64 = store::query_scalar(
        "SELECT COUNT(*) FROM deliveries WHERE webhook_id = $1 AND status IN ('pending', 'held')",
    )
    .bind(webhook_id)
    .fetch_one(&mut *tx)
    .await?;
    let probe = webhook.breaker_opened_at.is_some();
    if probe {
        breaker::probe_now(tx, webhook_id, now).await?;
    } else {
        breaker::release(tx, webhook_id, now).await?;
    }
    Ok(RetryNow {
        waiting: u64::try_from(waiting).unwrap_or(0),
        probe,
    })
}

/// Queues a PING to the webhook (even when it is switched off: testing is how one checks
/// a receiver before switching it on). Returns the delivery id.
pub async fn send_test(tx: &mut Conn, actor: &Actor, webhook_id: i64) -> Result<i64> {
    let webhook = get_webhook(tx, actor, webhook_id).await?;
    let body = events::body([
        (
            "webhook",
            json!({ "id": webhook.id, "url": webhook.url, "project": webhook.project_id }),
        ),
        ("message", json!("labelhook test event")),
        ("sent_at", json!(render(time::now()))),
    ]);
    let scope = Scope {
        organization_id: webhook.organization_id,
        project_id: webhook.project_id,
        acted_by: None,
    };
    let ids = events::emit_to(tx, scope, Action::Ping, body, webhook.id).await?;
    ids.first().copied().ok_or(Error::NotFound("Delivery"))
}

/// What the webhook object shows about its deliveries.
#[derive(Debug, Clone, Copy, Default)]
pub struct Stats {
    pub pending: i64,
    pub held: i64,
    pub last_success_at: Option<i64>,
    pub last_failure_at: Option<i64>,
}

/// Delivery statistics of the given webhooks, read in one statement: the counts and the
/// last results come from one snapshot, so a page that polls while deliveries are
/// pending never sees "nothing pending" beside a result from before.
pub async fn stats(
    conn: &mut Conn,
    webhook_ids: &[i64],
) -> Result<std::collections::HashMap<i64, Stats>> {
    let mut found = std::collections::HashMap::new();
    for chunk in webhook_ids.chunks(500) {
        let rows = store::query(&format!(
            "SELECT w.id, w.last_success_at, w.last_failure_at, \
             (SELECT COUNT(*) FROM deliveries d WHERE d.webhook_id = w.id AND d.status = 'pending') AS pending, \
             (SELECT COUNT(*) FROM deliveries d WHERE d.webhook_id = w.id AND d.status = 'held') AS held \
             FROM webhooks w WHERE w.id IN ({})",
            store::id_params(1, chunk.len())
        ))
        .bind_ids(chunk)
        .fetch_all(&mut *conn)
        .await?;
        for row in rows {
            found.insert(
                row.try_get("id")?,
                Stats {
                    pending: row.try_get("pending")?,
                    held: row.try_get("held")?,
                    last_success_at: row.try_get("last_success_at")?,
                    last_failure_at: row.try_get("last_failure_at")?,
                },
            );
        }
    }
    Ok(found)
}

/// One hour of a webhook's attempts.
#[derive(Debug, Serialize, ToSchema)]
pub struct HourCounts {
    /// The hour's start.
    #[schema(format = DateTime)]
    pub start: String,
    /// Attempts answered with a 2xx.
    pub succeeded: i64,
    /// Attempts that failed (another status, timeout, no connection...).
    pub failed: i64,
    /// Deliveries that used up their retry schedule in that hour.
    pub exhausted: i64,
}

/// A webhook's last 24 hours, hour by hour (oldest first, the current hour last).
#[derive(Debug, Serialize, ToSchema)]
pub struct Hourly {
    pub hours: Vec<HourCounts>,
    pub succeeded: i64,
    pub failed: i64,
    /// Succeeded attempts over all attempts of the 24 hours; `null` without any.
    #[schema(required = true)]
    pub success_rate: Option<f64>,
}

/// The attempts of the last 24 hours per hour, by outcome.
pub async fn hourly(conn: &mut Conn, actor: &Actor, webhook_id: i64) -> Result<Hourly> {
    const HOUR: i64 = 3_600_000_000;
    get_webhook(conn, actor, webhook_id).await?;
    let now = time::now();
    let current = now - now.rem_euclid(HOUR);
    let first = current - 23 * HOUR;
    let rows = store::query(
        "SELECT hour, succeeded, failed, exhausted FROM webhook_hours \
         WHERE webhook_id = $1 AND hour >= $2 ORDER BY hour",
    )
    .bind(webhook_id)
    .bind(first)
    .fetch_all(&mut *conn)
    .await?;
    let mut found = std::collections::HashMap::new();
    for row in rows {
        found.insert(
            row.try_get::<i64, _>("hour")?,
            (
                row.try_get::<i64, _>("succeeded")?,
                row.try_get::<i64, _>("failed")?,
                row.try_get::<i64, _>("exhausted")?,
            ),
        );
    }
    let hours: Vec<HourCounts> = (0..24)
        .map(|i| {
            let start = first + i * HOUR;
            let (succeeded, failed, exhausted) = found.get(&start).copied().unwrap_or_default();
            HourCounts {
                start: render(start),
                succeeded,
                failed,
                exhausted,
            }
        })
        .collect();
    let succeeded: i64 = hours.iter().map(|h| h.succeeded).sum();
    let failed: i64 = hours.iter().map(|h| h.failed).sum();
    let total = succeeded + failed;
    Ok(Hourly {
        hours,
        succeeded,
        failed,
        success_rate: (total > 0).then(|| succeeded as f64 / total as f64),
    })
}
