//! Events: the one catalogue of actions, and `emit`, which writes an event and its
//! deliveries into the transaction of the change (the outbox).
//!
//! Adding an action is one row in [`CATALOGUE`] plus the call that emits it.

pub mod alerts;
pub mod custom;
pub mod filter;
pub mod stream;

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::delivery::alert::AlertKind;
use crate::delivery::handoff::Pending;
use crate::delivery::job::{self, DESTINATION_COLUMNS, Destination, Job};
use crate::shared::{Error, Result, Scope};
use crate::store::{self, Conn, schema};
use crate::store::{flag, time};

/// Every action labelhook can send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    ProjectCreated,
    ProjectUpdated,
    ProjectDeleted,
    TasksCreated,
    TasksDeleted,
    AnnotationCreated,
    AnnotationsCreated,
    AnnotationUpdated,
    AnnotationsDeleted,
    LabelLinkCreated,
    LabelLinkUpdated,
    LabelLinkDeleted,
    ReviewCreated,
    ReviewUpdated,
    ReviewsDeleted,
    /// A task became labeled: its annotations reached the project's overlap.
    TaskCompleted,
    /// Sent to an ML backend's `/webhook` by `POST /api/ml/{id}/train`; not in the catalogue
    /// a user picks from.
    StartTraining,
    /// The test event of `POST /api/webhooks/{id}/test`.
    Ping,
    /// Alerts (labelhook's own, organization-level): see [`alerts`].
    WebhookFailing,
    WebhookRecovered,
    WebhookDisabled,
    DeliveryFailed,
}

/// One row of the catalogue, as `GET /api/webhooks/info/` shows it.
#[derive(Debug)]
pub struct ActionInfo {
    pub action: Action,
    pub id: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    /// The payload key that carries the changed objects.
    pub key: &'static str,
    /// Only organization-level webhooks may receive it.
    pub organization_only: bool,
}

pub const CATALOGUE: &[ActionInfo] = &[
    row(
        Action::ProjectCreated,
        "PROJECT_CREATED",
        "Project created",
        "project",
        true,
    ),
    row(
        Action::ProjectUpdated,
        "PROJECT_UPDATED",
        "Project updated",
        "project",
        false,
    ),
    row(
        Action::ProjectDeleted,
        "PROJECT_DELETED",
        "Project deleted",
        "project",
        true,
    ),
    row(
        Action::TasksCreated,
        "TASKS_CREATED",
        "Task created",
        "tasks",
        false,
    ),
    row(
        Action::TasksDeleted,
        "TASKS_DELETED",
        "Task deleted",
        "tasks",
        false,
    ),
    row(
        Action::AnnotationCreated,
        "ANNOTATION_CREATED",
        "Annotation created",
        "annotation",
        false,
    ),
    row(
        Action::AnnotationsCreated,
        "ANNOTATIONS_CREATED",
        "Annotations created",
        "annotation",
        false,
    ),
    row(
        Action::AnnotationUpdated,
        "ANNOTATION_UPDATED",
        "Annotation updated",
        "annotation",
        false,
    ),
    row(
        Action::AnnotationsDeleted,
        "ANNOTATIONS_DELETED",
        "Annotation deleted",
        "annotations",
        false,
    ),
    row(
        Action::LabelLinkCreated,
        "LABEL_LINK_CREATED",
        "Label link created",
        "label_link",
        false,
    ),
    row(
        Action::LabelLinkUpdated,
        "LABEL_LINK_UPDATED",
        "Label link updated",
        "label_link",
        false,
    ),
    row(
        Action::LabelLinkDeleted,
        "LABEL_LINK_DELETED",
        "Label link deleted",
        "label_link",
        false,
    ),
    // Label Studio Enterprise's review events (its SDK's action names).
    row(
        Action::ReviewCreated,
        "REVIEW_CREATED",
        "Review created",
        "review",
        false,
    ),
    row(
        Action::ReviewUpdated,
        "REVIEW_UPDATED",
        "Review updated",
        "review",
        false,
    ),
    row(
        Action::ReviewsDeleted,
        "REVIEWS_DELETED",
        "Reviews deleted",
        "reviews",
        false,
    ),
    ActionInfo {
        action: Action::TaskCompleted,
        id: "TASK_COMPLETED",
        name: "Task completed",
        description: "A task became labeled: an annotation created or updated made its annotations reach the task's overlap. With the task and the project as of that change.",
        key: "task",
        organization_only: false,
    },
    alert_row(
        Action::WebhookFailing,
        AlertKind::WebhookFailing,
        "Webhook failing",
        "A webhook's breaker opened after failures in a row: its deliveries are held and one probe at a time goes out.",
    ),
    alert_row(
        Action::WebhookRecovered,
        AlertKind::WebhookRecovered,
        "Webhook recovered",
        "A failing webhook's receiver answered again: everything held is being sent.",
    ),
    alert_row(
        Action::WebhookDisabled,
        AlertKind::WebhookDisabled,
        "Webhook disabled",
        "A webhook was switched off after failing for a long time (or its receiver answered 410 Gone); its deliveries are held until it is switched on.",
    ),
    alert_row(
        Action::DeliveryFailed,
        AlertKind::DeliveryFailed,
        "Delivery failed",
        "A delivery used up its retry schedule; redeliver or recover it from the delivery log.",
    ),
];

/// An alert: organization-level only, its payload under `webhook`.
const fn alert_row(
    action: Action,
    kind: AlertKind,
    name: &'static str,
    description: &'static str,
) -> ActionInfo {
    ActionInfo {
        action,
        id: kind.as_str(),
        name,
        description,
        key: "webhook",
        organization_only: true,
    }
}

const fn row(
    action: Action,
    id: &'static str,
    name: &'static str,
    key: &'static str,
    organization_only: bool,
) -> ActionInfo {
    ActionInfo {
        action,
        id,
        name,
        description: "",
        key,
        organization_only,
    }
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::StartTraining => "START_TRAINING",
            Action::Ping => "PING",
            other => CATALOGUE
                .iter()
                .find(|info| info.action == other)
                .map_or("UNKNOWN", |info| info.id),
        }
    }

    /// labelhook's own events, which Label Studio never sends: they go only to webhooks
    /// that list them, not to those that take every action (a receiver written for Label
    /// Studio does not expect them).
    pub fn only_when_listed(self) -> bool {
        matches!(
            self,
            Action::TaskCompleted
                | Action::WebhookFailing
                | Action::WebhookRecovered
                | Action::WebhookDisabled
                | Action::DeliveryFailed
        )
    }

    pub fn organization_only(self) -> bool {
        CATALOGUE
            .iter()
            .any(|info| info.action == self && info.organization_only)
    }

    /// The catalogue entry named `id` (`"TASKS_CREATED"`), if any.
    pub fn from_id(id: &str) -> Option<&'static ActionInfo> {
        CATALOGUE.iter().find(|info| info.id == id)
    }
}

/// A webhook an event goes to, and how.
#[derive(Debug, Clone)]
struct Target {
    webhook_id: i64,
    send_payload: bool,
    /// It names the action in `actions` (not only `send_for_all_actions`).
    listed: bool,
    /// Its breaker is open, or it was switched off after failures: the delivery is kept,
    /// held until a probe succeeds or the webhook is switched on.
    held: bool,
    /// Where to send, for handing the delivery straight to the dispatcher; `None` leaves
    /// it to a claim.
    destination: Option<Arc<Destination>>,
    /// Its conditions on the event's body (`None`: every event).
    filter: Option<filter::Filter>,
}

/// The webhooks of a scope, active or held (a project's own and its organization's),
/// read once for every event a transaction emits there: an annotation that completes its
/// task emits two events from one read. In id order: inserting deliveries locks their
/// webhooks' rows (`FOR KEY SHARE`, the foreign key) one by one, and the recorder locks
/// them `FOR UPDATE` in id order too; another order could deadlock with it.
pub struct Webhooks {
    rows: Vec<store::Row>,
}

impl Webhooks {
    pub async fn of(conn: &mut Conn, scope: Scope) -> Result<Webhooks> {
        let rows = store::query(&format!(
            "SELECT id, project_id, send_payload, send_for_all_actions, actions, is_active, \
             disabled_reason, breaker_opened_at, event_filter, {DESTINATION_COLUMNS} \
             FROM webhooks WHERE organization_id = $1 AND (project_id IS NULL OR project_id = $2) \
             ORDER BY id"
        ))
        .bind(scope.organization_id)
        .bind(scope.project_id.unwrap_or(-1))
        .fetch_all(&mut *conn)
        .await?;
        Ok(Webhooks { rows })
    }

    /// Those that want `action` (organization-only actions reach only the
    /// organization's webhooks). Active ones, plus those paused after failures (their
    /// deliveries wait).
    fn targets(&self, action: Name<'_>) -> Result<Vec<Target>> {
        let mut found = Vec::new();
        let now = time::now();
        for row in &self.rows {
            if action.organization_only && row.try_get::<Option<i64>, _>("project_id")?.is_some() {
                continue;
            }
            let active = row.try_get::<i64, _>("is_active")? != 0;
            let reason: Option<String> = row.try_get("disabled_reason")?;
            let breaker_open = row
                .try_get::<Option<i64>, _>("breaker_opened_at")?
                .is_some();
            // Kept for later: the webhook's breaker is open (a probe decides when it goes),
            // or it was switched off after failing for long (switching it on sends it).
            let held =
                (active && breaker_open) || (!active && reason.as_deref() == Some("failures"));
            if !active && !held {
                continue;
            }
            let all = row.try_get::<i64, _>("send_for_all_actions")? != 0;
            let actions: String = row.try_get("actions")?;
            let listed = serde_json::from_str::<Vec<String>>(&actions)
                .unwrap_or_default()
                .iter()
                .any(|a| a == action.id);
            if listed || (all && !action.only_when_listed) {
                found.push(Target {
                    webhook_id: row.try_get("id")?,
                    listed,
                    send_payload: row.try_get::<i64, _>("send_payload")? != 0,
                    held,
                    destination: Some(Arc::new(Destination::from_row(row, now)?)),
                    filter: row
                        .try_get::<Option<String>, _>("event_filter")?
                        .and_then(|text| serde_json::from_str(&text).ok())
                        .and_then(|value| filter::Filter::parse(&value).ok()),
                });
            }
        }
        Ok(found)
    }
}

/// The webhooks of `scope` that want `action` (see [`Webhooks::targets`]).
async fn targets(conn: &mut Conn, scope: Scope, action: Name<'_>) -> Result<Vec<Target>> {
    Webhooks::of(conn, scope).await?.targets(action)
}

/// Writes `action` into the outbox of the open transaction: one event per body (bulk
/// actions come in several bodies) and one delivery per matching webhook.
///
/// Every event is written, webhooks or not: the organization's event stream
/// (`GET /api/events/`) serves them. `build` makes the bodies (without `action`, which is
/// put first) inside the same transaction, so the payload is a snapshot of the change
/// being committed.
pub async fn emit(
    tx: &mut Conn,
    scope: Scope,
    action: Action,
    build: impl AsyncFnOnce(&mut Conn) -> Result<Vec<Map<String, Value>>>,
) -> Result<()> {
    let webhooks = Webhooks::of(tx, scope).await?;
    emit_among(tx, &webhooks, scope, action, build).await
}

/// [`emit`] with the scope's webhooks read already (several events of one transaction).
pub async fn emit_among(
    tx: &mut Conn,
    webhooks: &Webhooks,
    scope: Scope,
    action: Action,
    build: impl AsyncFnOnce(&mut Conn) -> Result<Vec<Map<String, Value>>>,
) -> Result<()> {
    let targets = webhooks.targets(action.into())?;
    let bodies = build(tx).await?;
    let filtered = targets.iter().any(|target| target.filter.is_some());
    for body in bodies {
        if !filtered {
            record(tx, scope, action.into(), body, &targets).await?;
            continue;
        }
        // Webhooks whose filter the body fails get no delivery of it (the event is
        // written all the same).
        let passing: Vec<Target> = targets
            .iter()
            .filter(|target| target.filter.as_ref().is_none_or(|f| f.matches(&body)))
            .cloned()
            .collect();
        record(tx, scope, action.into(), body, &passing).await?;
    }
    Ok(())
}

/// Writes an alert about webhook `about` to the organization-level webhooks of `scope`
/// that name `action` in their `actions` (not to those that take every action: a Label
/// Studio receiver does not expect labelhook's own events), never to `about` itself.
/// Returns how many webhooks it goes to.
pub async fn emit_alert(
    tx: &mut Conn,
    scope: Scope,
    action: Action,
    body: Map<String, Value>,
    about: i64,
) -> Result<usize> {
    let targets: Vec<Target> = targets(tx, scope, action.into())
        .await?
        .into_iter()
        .filter(|target| target.listed && target.webhook_id != about)
        .collect();
    // Written even without receivers: the event stream serves it.
    record(tx, scope, action.into(), body, &targets).await?;
    Ok(targets.len())
}

/// Writes one event to the given webhook ids, bypassing the matching (test events, ML
/// backend training). Returns the delivery ids.
pub async fn emit_to(
    tx: &mut Conn,
    scope: Scope,
    action: Action,
    body: Map<String, Value>,
    webhook_id: i64,
) -> Result<Vec<i64>> {
    let targets = [Target {
        webhook_id,
        listed: true,
        send_payload: true,
        held: false,
        destination: None,
        filter: None,
    }];
    record(tx, scope, action.into(), body, &targets).await
}

/// Writes a custom event (`custom::check_name` has checked its name) to the webhooks of
/// `scope` that list it or take every action, through the same outbox: filters,
/// signatures, retries and the log are those of every event. Returns its deliveries.
pub async fn emit_custom(
    tx: &mut Conn,
    scope: Scope,
    name: &str,
    body: Map<String, Value>,
) -> Result<usize> {
    let name = Name {
        id: name,
        organization_only: false,
        only_when_listed: false,
    };
    let targets: Vec<Target> = targets(tx, scope, name)
        .await?
        .into_iter()
        .filter(|target| target.filter.as_ref().is_none_or(|f| f.matches(&body)))
        .collect();
    // Written even without receivers: the event stream serves it.
    Ok(record(tx, scope, name, body, &targets).await?.len())
}

/// An event's action as matching and the outbox see it: a catalogue action or a custom one.
#[derive(Debug, Clone, Copy)]
struct Name<'a> {
    id: &'a str,
    organization_only: bool,
    only_when_listed: bool,
}

impl From<Action> for Name<'static> {
    fn from(action: Action) -> Self {
        Name {
            id: action.as_str(),
            organization_only: action.organization_only(),
            only_when_listed: action.only_when_listed(),
        }
    }
}

async fn record(
    tx: &mut Conn,
    scope: Scope,
    action: Name<'_>,
    body: Map<String, Value>,
    targets: &[Target],
) -> Result<Vec<i64>> {
    let mut payload = Map::with_capacity(body.len() + 2);
    payload.insert("action".into(), Value::String(action.id.into()));
    payload.extend(body);
    // labelhook: who acted (a user's id), on every event a user's request caused.
    if let Some(user) = scope.acted_by {
        payload.entry("acted_by").or_insert(Value::from(user));
    }
    let now = time::now();
    let sequence = next_sequence(tx, scope.organization_id).await?;
    let payload = Value::Object(payload).to_string();
    // Deliveries whose webhook has a free send slot are inserted leased to this process and
    // handed to its dispatcher at commit; the others are due now, for a claim.
    let leases: Vec<_> = targets
        .iter()
        .map(|target| {
            let pending = tx.hook::<Pending>().filter(|_| !target.held)?;
            let lease = target
                .destination
                .as_ref()
                .and_then(|_| pending.reserve(target.webhook_id));
            if lease.is_none() {
                pending.inserted_due(target.webhook_id);
            }
            lease
        })
        .collect();
    // One statement per event, however many webhooks (up to 200 a statement): each row
    // binds its message id, webhook, payload flag, status and lease; the event's id and
    // the time are shared.
    let rows: Vec<DeliveryRow> = targets
        .iter()
        .zip(&leases)
        .map(|(target, lease)| DeliveryRow {
            message_id: format!("msg_{}", uuid::Uuid::now_v7().simple()),
            webhook_id: target.webhook_id,
            send_payload: flag(target.send_payload),
            status: if target.held { "held" } else { "pending" },
            next_attempt_at: lease.map_or(now, |l| l.until),
            lease_until: lease.map(|l| l.until),
            lease_owner: lease.and_then(|l| l.owner),
        })
        .collect();
    let mut chunks = rows.chunks(200);
    let mut inserted: HashMap<i64, (i64, String)> = HashMap::with_capacity(targets.len());
    let mut ids = Vec::with_capacity(targets.len());
    let mut keep = |row: &store::Row| -> Result<()> {
        let id: i64 = row.try_get("id")?;
        ids.push(id);
        inserted.insert(row.try_get("webhook_id")?, (id, row.try_get("message_id")?));
        Ok(())
    };
    let event = EventRow {
        scope,
        action: action.id,
        sequence: &sequence,
        payload: &payload,
        now,
    };
    let (event_id, sequence): (i64, i64) = match chunks.next() {
        // PostgreSQL: the event and its deliveries in one statement, one round trip.
        Some(first) if tx.backend().has_writable_cte() => {
            let sql = format!(
                "WITH e AS ({}), \
                 d AS (INSERT INTO deliveries ({DELIVERY_COLUMNS}, event_id, created_at, updated_at) \
                 SELECT v.*, e.id, $6, $6 FROM e CROSS JOIN (VALUES {}) AS v ORDER BY v.column2 \
                 RETURNING id, webhook_id, message_id) \
                 SELECT d.id, d.webhook_id, d.message_id, e.id AS event_id, e.sequence \
                 FROM d CROSS JOIN e",
                event.insert(),
                delivery_values(7, first.len(), "")
            );
            let found = bind_rows(event.bind(store::query(&sql)), first)
                .fetch_all(&mut *tx)
                .await?;
            for row in &found {
                keep(row)?;
            }
            let row = found.first().ok_or(store::Error::RowNotFound)?;
            (row.try_get("event_id")?, row.try_get("sequence")?)
        }
        first => {
            let sql = event.insert();
            let row = event.bind(store::query(&sql)).fetch_one(&mut *tx).await?;
            let event: (i64, i64) = (row.try_get("id")?, row.try_get("sequence")?);
            if let Some(chunk) = first {
                insert_deliveries(tx, event.0, now, chunk, &mut keep).await?;
            }
            event
        }
    };
    for chunk in chunks {
        insert_deliveries(tx, event_id, now, chunk, &mut keep).await?;
    }
    // The jobs of the leased ones, from what is at hand: nothing is read back.
    if let Some(pending) = tx.hook::<Pending>() {
        let payload = bytes::Bytes::from(payload);
        for (target, lease) in targets.iter().zip(&leases) {
            let (Some(_), Some(destination)) = (lease, &target.destination) else {
                continue;
            };
            let Some((delivery_id, message_id)) = inserted.remove(&target.webhook_id) else {
                continue;
            };
            pending.add(Job {
                delivery_id,
                message_id,
                webhook_id: target.webhook_id,
                attempts: 0,
                action: action.id.to_string(),
                sequence,
                body: job::body(destination, target.send_payload, action.id, payload.clone()),
                destination: destination.clone(),
            });
        }
    }
    Ok(ids)
}

/// The organization's next event number (see `store::schema::next_event_sequence`).
async fn next_sequence(tx: &mut Conn, organization_id: i64) -> Result<schema::EventSequence> {
    schema::next_event_sequence(tx, organization_id)
        .await?
        .ok_or(Error::NotFound("Organization"))
}

/// An event row as `record` inserts it: its parameters are `$1` to `$6`.
struct EventRow<'a> {
    scope: Scope,
    action: &'a str,
    sequence: &'a schema::EventSequence,
    payload: &'a str,
    now: i64,
}

impl EventRow<'_> {
    /// `INSERT INTO events ... RETURNING id, sequence`.
    fn insert(&self) -> String {
        format!(
            "INSERT INTO events (organization_id, project_id, action, sequence, payload, \
             created_at) VALUES ($1, $2, $3, {}, $5, $6) RETURNING id, sequence",
            self.sequence.expression(4)
        )
    }

    fn bind<'q>(&self, query: store::Query<'q>) -> store::Query<'q> {
        let query = query
            .bind(self.scope.organization_id)
            .bind(self.scope.project_id)
            .bind(self.action);
        self.sequence.bind(query).bind(self.payload).bind(self.now)
    }
}

/// A delivery row as `record` inserts it, but for its event and times.
struct DeliveryRow {
    message_id: String,
    webhook_id: i64,
    send_payload: i64,
    status: &'static str,
    next_attempt_at: i64,
    lease_until: Option<i64>,
    lease_owner: Option<i64>,
}

/// The columns of [`DeliveryRow`], in the order they are bound.
const DELIVERY_COLUMNS: &str =
    "message_id, webhook_id, send_payload, status, next_attempt_at, lease_until, lease_owner";

/// `rows` tuples of [`DeliveryRow`]'s placeholders from `$first` on, each followed by
/// `tail` (more values, or nothing).
fn delivery_values(first: usize, rows: usize, tail: &str) -> String {
    const PER_ROW: usize = 7;
    (0..rows)
        .map(|i| {
            let list: Vec<String> = (0..PER_ROW)
                .map(|c| format!("${}", first + i * PER_ROW + c))
                .collect();
            format!("({}{tail})", list.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn bind_rows<'q>(mut query: store::Query<'q>, rows: &[DeliveryRow]) -> store::Query<'q> {
    for row in rows {
        query = query
            .bind(&row.message_id)
            .bind(row.webhook_id)
            .bind(row.send_payload)
            .bind(row.status)
            .bind(row.next_attempt_at)
            .bind(row.lease_until)
            .bind(row.lease_owner);
    }
    query
}

/// Inserts deliveries of event `event_id`, handing each inserted row to `keep`.
async fn insert_deliveries(
    tx: &mut Conn,
    event_id: i64,
    now: i64,
    rows: &[DeliveryRow],
    keep: &mut impl FnMut(&store::Row) -> Result<()>,
) -> Result<()> {
    let sql = format!(
        "INSERT INTO deliveries ({DELIVERY_COLUMNS}, event_id, created_at, updated_at) \
         VALUES {} RETURNING id, webhook_id, message_id",
        delivery_values(3, rows.len(), ", $1, $2, $2")
    );
    let query = bind_rows(store::query(&sql).bind(event_id).bind(now), rows);
    for row in query.fetch_all(&mut *tx).await? {
        keep(&row)?;
    }
    Ok(())
}

/// A body from (key, value) pairs, in order.
pub fn body<const N: usize>(pairs: [(&str, Value); N]) -> Map<String, Value> {
    pairs
        .into_iter()
        .map(|(key, value)| (key.to_string(), value))
        .collect()
}

/// Bodies of a bulk action: `items` cut into chunks of `batch_size`, each with the
/// project's `snapshot`.
pub fn bulk_bodies(
    key: &str,
    items: Vec<Value>,
    snapshot: Value,
    batch_size: usize,
) -> Vec<Map<String, Value>> {
    items
        .chunks(batch_size.max(1))
        .map(|chunk| {
            body([
                (key, Value::Array(chunk.to_vec())),
                ("project", snapshot.clone()),
            ])
        })
        .collect()
}
