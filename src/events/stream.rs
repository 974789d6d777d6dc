//! The organization's event stream (`GET /api/events/`): its events in sequence order,
//! each with the body its webhooks get, read after a cursor, waiting for new ones if asked.
//!
//! Every event is written (`emit` does even without webhooks), so the stream is the
//! organization's whole history within retention. Which numbers may be served without
//! skipping one that commits later is the store's (`store::horizon`).

use std::collections::HashMap;
use std::time::Duration;

use serde::Serialize;
use serde_json::value::RawValue;
use tokio::time::Instant;
use utoipa::ToSchema;

use crate::shared::{Error, Result};
use crate::store::{self, Db, horizon, time};

/// The longest long poll.
pub const MAX_WAIT: Duration = Duration::from_secs(30);
/// Events per page by default, and at most.
pub const DEFAULT_LIMIT: i64 = 100;
pub const MAX_LIMIT: i64 = 1000;
/// How long a read may wait at a gap in the numbers for the transactions in flight
/// (PostgreSQL), even without `wait`.
const SETTLE: Duration = Duration::from_secs(2);

/// What to read.
#[derive(Debug, Clone)]
pub struct Cursor {
    /// Events numbered after this.
    pub after: i64,
    pub limit: i64,
    /// Only this project's events (`Some(None)`: only those without a project).
    pub project: Option<Option<i64>>,
    pub action: Option<String>,
    /// How long to wait for an event when there is none yet.
    pub wait: Duration,
    /// The newest `limit` events instead of those right after `after` (a view, for the
    /// pages and for a reader that starts at the head).
    pub newest: bool,
}

/// One event of the stream.
#[derive(Debug, Serialize, ToSchema)]
pub struct StreamEvent {
    /// Its number in the organization: the `labelhook-sequence` header of its deliveries.
    pub sequence: i64,
    /// The event's id: a delivery's `event` in the delivery log.
    pub id: i64,
    pub action: String,
    /// The project it happened in; `null` for organization-level events.
    pub project: Option<i64>,
    pub created_at: String,
    /// The body its webhooks get (`send_payload`), `action` first.
    #[schema(value_type = Object)]
    pub body: Box<RawValue>,
    /// Its deliveries still in the log, oldest first.
    pub deliveries: Vec<EventDelivery>,
}

/// A delivery of a stream event.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventDelivery {
    /// The delivery's id in its webhook's log.
    pub id: i64,
    pub webhook: i64,
    /// `pending`, `held`, `succeeded` or `failed`.
    pub status: String,
}

/// A page of the stream.
#[derive(Debug, Serialize, ToSchema)]
pub struct StreamPage {
    pub events: Vec<StreamEvent>,
    /// The `after` of the next request: the last event's sequence, or further when the
    /// numbers up to it held nothing for this request's filters.
    pub next: i64,
}

/// A cursor older than retention: events after it were pruned.
#[derive(Debug)]
pub struct Pruned {
    /// The lowest `after` that loses nothing.
    pub oldest_after: i64,
}

/// Events sent to one webhook only, not the organization's (a test, an ML backend's
/// training call): not in the stream.
const NOT_STREAMED: &str = "('PING', 'START_TRAINING')";

/// Reads the page after `cursor.after`, waiting up to `cursor.wait` for an event if there
/// is none yet.
pub async fn read(
    db: &Db,
    organization_id: i64,
    cursor: &Cursor,
) -> Result<std::result::Result<StreamPage, Pruned>> {
    let started = Instant::now();
    let deadline = started + cursor.wait;
    let mut commits = db.commits();
    let mut after = cursor.after;
    loop {
        commits.borrow_and_update();
        let pruned: i64 =
            store::query_scalar("SELECT events_pruned_through FROM organizations WHERE id = $1")
                .bind(organization_id)
                .fetch_optional(db.reader())
                .await?
                .ok_or(Error::NotFound("Organization"))?;
        if cursor.after < pruned {
            return Ok(Err(Pruned {
                oldest_after: pruned,
            }));
        }
        if cursor.newest {
            return newest(db, organization_id, cursor).await.map(Ok);
        }
        let settle = deadline.max(Instant::now() + SETTLE);
        let horizon =
            horizon::settled(db.reader(), db.backend, organization_id, after, settle).await?;
        if horizon > after {
            let events = page(db, organization_id, cursor, after, horizon).await?;
            // A full page ends at its last event; otherwise everything up to the horizon
            // was looked at.
            let next = match events.last() {
                Some(last) if events.len() as i64 >= cursor.limit => last.sequence,
                _ => horizon,
            };
            if !events.is_empty() {
                return Ok(Ok(StreamPage { events, next }));
            }
            after = next;
        }
        if Instant::now() >= deadline {
            return Ok(Ok(StreamPage {
                events: Vec::new(),
                next: after,
            }));
        }
        // Woken by a commit of this process; other processes' commits (PostgreSQL) are
        // seen by reading again every so often.
        let again = if db.backend.shared() {
            Duration::from_millis(250)
        } else {
            Duration::from_secs(1)
        };
        let _ =
            tokio::time::timeout_at(deadline.min(Instant::now() + again), commits.changed()).await;
    }
}

/// The newest `limit` events after `cursor.after` that pass its filters, up to the horizon.
async fn newest(db: &Db, organization_id: i64, cursor: &Cursor) -> Result<StreamPage> {
    let highest: Option<i64> =
        store::query_scalar("SELECT MAX(sequence) FROM events WHERE organization_id = $1")
            .bind(organization_id)
            .fetch_one(db.reader())
            .await?;
    // The horizon is looked for among the last numbers only: this is a view of the head.
    let from = highest.map_or(cursor.after, |h| (h - cursor.limit).max(cursor.after));
    let deadline = Instant::now() + SETTLE;
    let horizon =
        horizon::settled(db.reader(), db.backend, organization_id, from, deadline).await?;
    let mut events = select(db, organization_id, cursor, cursor.after, horizon, true).await?;
    events.reverse();
    Ok(StreamPage {
        events,
        next: horizon,
    })
}

/// The events in `(after, through]` that pass the cursor's filters, at most its limit.
async fn page(
    db: &Db,
    organization_id: i64,
    cursor: &Cursor,
    after: i64,
    through: i64,
) -> Result<Vec<StreamEvent>> {
    select(db, organization_id, cursor, after, through, false).await
}

/// [`page`], newest first when `descending`.
async fn select(
    db: &Db,
    organization_id: i64,
    cursor: &Cursor,
    after: i64,
    through: i64,
    descending: bool,
) -> Result<Vec<StreamEvent>> {
    let mut sql = format!(
        "SELECT id, sequence, project_id, action, payload, created_at FROM events \
         WHERE organization_id = $1 AND sequence > $2 AND sequence <= $3 \
         AND action NOT IN {NOT_STREAMED}"
    );
    let mut next = 4;
    match cursor.project {
        Some(Some(_)) => {
            sql += &format!(" AND project_id = ${next}");
            next += 1;
        }
        Some(None) => sql += " AND project_id IS NULL",
        None => {}
    }
    if cursor.action.is_some() {
        sql += &format!(" AND action = ${next}");
    }
    let order = if descending { "DESC" } else { "ASC" };
    sql += &format!(" ORDER BY sequence {order} LIMIT {}", cursor.limit);
    let mut query = store::query(&sql)
        .bind(organization_id)
        .bind(after)
        .bind(through);
    if let Some(Some(project)) = cursor.project {
        query = query.bind(project);
    }
    if let Some(action) = &cursor.action {
        query = query.bind(action.as_str());
    }
    let mut conn = db.reader().acquire().await?;
    let rows = query.fetch_all(&mut conn).await?;
    let ids: Vec<i64> = rows
        .iter()
        .map(|row| row.try_get("id"))
        .collect::<store::Result<_>>()?;
    let mut deliveries: HashMap<i64, Vec<EventDelivery>> = HashMap::new();
    let found = store::fetch_by_ids(&mut conn, &ids, |list| {
        format!(
            "SELECT id, webhook_id, event_id, status FROM deliveries WHERE event_id IN ({list})"
        )
    })
    .await?;
    for row in found {
        deliveries
            .entry(row.try_get("event_id")?)
            .or_default()
            .push(EventDelivery {
                id: row.try_get("id")?,
                webhook: row.try_get("webhook_id")?,
                status: row.try_get("status")?,
            });
    }
    rows.iter()
        .map(|row| {
            let id: i64 = row.try_get("id")?;
            let mut of_event = deliveries.remove(&id).unwrap_or_default();
            of_event.sort_by_key(|d| d.id);
            let payload: String = row.try_get("payload")?;
            Ok(StreamEvent {
                sequence: row.try_get("sequence")?,
                id,
                action: row.try_get("action")?,
                project: row.try_get("project_id")?,
                created_at: time::render(row.try_get("created_at")?),
                body: RawValue::from_string(payload)
                    .unwrap_or_else(|_| RawValue::from_string("null".into()).expect("JSON")),
                deliveries: of_event,
            })
        })
        .collect()
}
