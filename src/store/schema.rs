//! The schema, one source for both backends.
//!
//! Each migration is written once; `{ID}` becomes the backend's auto-increment primary key
//! and `{BYTES}` its type for binary data.
//! Migrations are applied in order and recorded in `labelhook_migrations`; never edit one
//! that has shipped, add a new one.

use super::Backend;
use super::sql::{Conn, Pool, Query, query, query_scalar};

const MIGRATIONS: &[(i64, &str)] = &[
    (1, INITIAL),
    (2, ML_BACKENDS),
    (3, HUB_SIGNATURE),
    (4, LEASE_OWNER),
    (5, TRAINING_COUNTER),
    (6, DUE_BY_WEBHOOK),
    (7, ORGANIZATION_SEQUENCES),
    (8, PROJECT_STAT_DELTAS),
    (9, HELD_BY_WEBHOOK),
    (10, HASHED_TOKENS),
    (11, BULK_ANNOTATION_SUITABILITY),
    (12, EXPORTS),
    (13, TASK_LOCKS),
    (14, BREAKER),
    (15, PEOPLE),
    (16, TASK_TABLE),
    (17, WEBHOOK_FORMAT),
    (18, EVENT_STREAM),
    (21, CUSTOM_EVENT_TYPES),
    // people's second migration (15 had landed when reviews came)
    (115, REVIEWS),
    (116, REVIEW_STATE),
    (117, AUDIT),
];

/// The task table filters on finished and skipped tasks of a project and sorts by its
/// counters; without these a filtered or sorted page of 100,000 tasks reads (and sorts)
/// every row. The id ends each key: ties are ordered by id, so a page reads the index in
/// order and stops after its rows.
const TASK_TABLE: &str = r#"
CREATE INDEX tasks_by_project_labeled ON tasks (project_id, is_labeled, id);
CREATE INDEX tasks_by_project_skipped ON tasks (project_id, cancelled_annotations, id);
CREATE INDEX tasks_by_project_annotations ON tasks (project_id, total_annotations, id);
CREATE INDEX tasks_by_project_predictions ON tasks (project_id, total_predictions, id)
"#;

/// Migrations that only PostgreSQL runs (SQLite records them as applied). Each runs as
/// one batch, not split at semicolons.
const POSTGRES_ONLY: &[i64] = &[7, 8];

/// The PostgreSQL sequence that numbers an organization's events (`labelhook-sequence`).
/// A sequence, not a counter row: taking a number never waits for another transaction,
/// where a row update would hold the organization's row until the commit's WAL flush
/// and so serialize every write of the organization. (SQLite has one writer anyway and
/// keeps `organizations.event_sequence`.)
fn organization_sequence(organization_id: i64) -> String {
    format!("labelhook_org_{organization_id}_events")
}

/// Starts a new organization's event numbering: its sequence on PostgreSQL (SQLite counts
/// in the organization's row, just inserted).
pub async fn create_event_sequence(
    conn: &mut Conn,
    organization_id: i64,
) -> super::sql::Result<()> {
    if conn.backend() == Backend::Postgres {
        let sequence = organization_sequence(organization_id);
        conn.execute_batch(&format!("CREATE SEQUENCE {sequence}"))
            .await?;
    }
    Ok(())
}

/// An organization's next event number, as the statement that inserts the event takes
/// it (see [`next_event_sequence`]).
#[derive(Debug)]
pub enum EventSequence {
    /// SQLite: the number, taken already.
    Taken(i64),
    /// PostgreSQL: the organization's sequence, which the insert itself advances
    /// (`nextval`): no round trip of its own.
    Sequence(String),
}

impl EventSequence {
    /// The SQL for the number, bound as parameter `$n`.
    pub fn expression(&self, n: usize) -> String {
        match self {
            EventSequence::Taken(_) => format!("${n}"),
            // The transaction takes its id first (if it has none yet), then the number
            // (CASE evaluates its condition first): the event stream relies on every
            // holder of a number being in the snapshots taken after it (`horizon.rs`).
            EventSequence::Sequence(_) => format!(
                "CASE WHEN pg_current_xact_id() IS NOT NULL THEN nextval(${n}::regclass) END"
            ),
        }
    }

    /// Binds the parameter of [`EventSequence::expression`].
    pub fn bind<'q>(&self, query: Query<'q>) -> Query<'q> {
        match self {
            EventSequence::Taken(number) => query.bind(*number),
            EventSequence::Sequence(name) => query.bind(name.as_str()),
        }
    }
}

/// The organization's next event number; `None` if there is no such organization. SQLite
/// counts in the organization's row (one writer: no wait, no gap). PostgreSQL takes it
/// from the organization's sequence, which never waits for another transaction (a
/// rolled-back change leaves its number unused), in the statement that inserts the event.
pub async fn next_event_sequence(
    conn: &mut Conn,
    organization_id: i64,
) -> super::sql::Result<Option<EventSequence>> {
    match conn.backend() {
        Backend::Sqlite => Ok(query_scalar(
            "UPDATE organizations SET event_sequence = event_sequence + 1 WHERE id = $1 \
             RETURNING event_sequence",
        )
        .bind(organization_id)
        .fetch_optional(&mut *conn)
        .await?
        .map(EventSequence::Taken)),
        Backend::Postgres => Ok(Some(EventSequence::Sequence(organization_sequence(
            organization_id,
        )))),
    }
}

const INITIAL: &str = r#"
CREATE TABLE organizations (
    id {ID},
    title TEXT NOT NULL,
    -- last event sequence number handed out; grows by one per event of the organization
    event_sequence BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
);

CREATE TABLE users (
    id {ID},
    organization_id BIGINT NOT NULL REFERENCES organizations(id),
    email TEXT NOT NULL UNIQUE,
    first_name TEXT NOT NULL DEFAULT '',
    last_name TEXT NOT NULL DEFAULT '',
    token TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL
);

CREATE TABLE projects (
    id {ID},
    organization_id BIGINT NOT NULL REFERENCES organizations(id),
    created_by BIGINT NOT NULL REFERENCES users(id),
    title TEXT NOT NULL,
    description TEXT NOT NULL,
    label_config TEXT NOT NULL,
    parsed_label_config TEXT NOT NULL,
    control_weights TEXT NOT NULL,
    data_types TEXT NOT NULL,
    -- the Label Studio project fields labelhook stores but does not act on (JSON)
    settings TEXT NOT NULL,
    maximum_annotations BIGINT NOT NULL,
    skip_queue TEXT NOT NULL,
    token TEXT NOT NULL,
    next_inner_id BIGINT NOT NULL DEFAULT 1,
    -- statistics, kept exact in the transaction of every change (see labeling::stats)
    task_number BIGINT NOT NULL DEFAULT 0,
    finished_task_number BIGINT NOT NULL DEFAULT 0,
    total_annotations_number BIGINT NOT NULL DEFAULT 0,
    useful_annotation_number BIGINT NOT NULL DEFAULT 0,
    num_tasks_with_annotations BIGINT NOT NULL DEFAULT 0,
    ground_truth_number BIGINT NOT NULL DEFAULT 0,
    skipped_annotations_number BIGINT NOT NULL DEFAULT 0,
    total_predictions_number BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX projects_by_organization ON projects (organization_id, id);

CREATE TABLE tasks (
    id {ID},
    project_id BIGINT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    inner_id BIGINT NOT NULL,
    data TEXT NOT NULL,
    meta TEXT NOT NULL,
    overlap BIGINT NOT NULL,
    is_labeled BIGINT NOT NULL DEFAULT 0,
    -- per-task counters, the terms the project statistics are sums of
    total_annotations BIGINT NOT NULL DEFAULT 0,
    cancelled_annotations BIGINT NOT NULL DEFAULT 0,
    useful_annotations BIGINT NOT NULL DEFAULT 0,
    ground_truth_annotations BIGINT NOT NULL DEFAULT 0,
    total_predictions BIGINT NOT NULL DEFAULT 0,
    updated_by BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX tasks_by_project ON tasks (project_id, id);

CREATE TABLE annotations (
    id {ID},
    task_id BIGINT NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
    project_id BIGINT NOT NULL,
    result TEXT,
    was_cancelled BIGINT NOT NULL DEFAULT 0,
    ground_truth BIGINT NOT NULL DEFAULT 0,
    lead_time DOUBLE PRECISION,
    completed_by BIGINT,
    updated_by BIGINT,
    unique_id TEXT NOT NULL,
    import_id BIGINT,
    last_action TEXT,
    bulk_created BIGINT NOT NULL DEFAULT 0,
    parent_prediction BIGINT,
    parent_annotation BIGINT,
    draft_created_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX annotations_by_task ON annotations (task_id, id);
CREATE INDEX annotations_by_project ON annotations (project_id, id);

CREATE TABLE predictions (
    id {ID},
    task_id BIGINT NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
    project_id BIGINT NOT NULL,
    result TEXT NOT NULL,
    score DOUBLE PRECISION,
    model_version TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX predictions_by_task ON predictions (task_id, id);
CREATE INDEX predictions_by_project ON predictions (project_id, id);

CREATE TABLE webhooks (
    id {ID},
    organization_id BIGINT NOT NULL REFERENCES organizations(id),
    -- NULL: organization-level webhook
    project_id BIGINT REFERENCES projects(id) ON DELETE CASCADE,
    url TEXT NOT NULL,
    send_payload BIGINT NOT NULL,
    send_for_all_actions BIGINT NOT NULL,
    headers TEXT NOT NULL,
    actions TEXT NOT NULL,
    is_active BIGINT NOT NULL,
    -- why it is off: 'user', 'failures' (paused: deliveries are held) or 'gone' (410)
    disabled_reason TEXT,
    consecutive_failures BIGINT NOT NULL DEFAULT 0,
    secret TEXT NOT NULL,
    previous_secret TEXT,
    previous_secret_expires_at BIGINT,
    last_success_at BIGINT,
    last_failure_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX webhooks_by_organization ON webhooks (organization_id, project_id);

-- The outbox: an event is written in the transaction of the change it describes...
CREATE TABLE events (
    id {ID},
    organization_id BIGINT NOT NULL,
    project_id BIGINT,
    action TEXT NOT NULL,
    sequence BIGINT NOT NULL,
    -- the full body, a snapshot taken in the transaction
    payload TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- ...with one delivery per matching webhook.
CREATE TABLE deliveries (
    id {ID},
    -- sent as `webhook-id` on every attempt
    message_id TEXT NOT NULL UNIQUE,
    event_id BIGINT NOT NULL REFERENCES events(id) ON DELETE CASCADE,
    webhook_id BIGINT NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
    -- the webhook's send_payload when the event happened
    send_payload BIGINT NOT NULL,
    -- pending | held | succeeded | failed
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT,
    -- a dispatcher owns the delivery until then
    lease_until BIGINT,
    last_status_code BIGINT,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at, id) WHERE status = 'pending';
CREATE INDEX deliveries_by_webhook ON deliveries (webhook_id, id);
CREATE INDEX deliveries_by_event ON deliveries (event_id);

CREATE TABLE delivery_attempts (
    id {ID},
    delivery_id BIGINT NOT NULL REFERENCES deliveries(id) ON DELETE CASCADE,
    started_at BIGINT NOT NULL,
    duration_ms DOUBLE PRECISION NOT NULL,
    status_code BIGINT,
    response_headers TEXT,
    response_body TEXT,
    -- timeout | connect | dns | tls | http | blocked
    error_class TEXT,
    error TEXT
);
CREATE INDEX delivery_attempts_by_delivery ON delivery_attempts (delivery_id, id);
"#;

const ML_BACKENDS: &str = r#"
CREATE TABLE ml_backends (
    id {ID},
    project_id BIGINT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    url TEXT NOT NULL,
    title TEXT NOT NULL,
    description TEXT NOT NULL,
    is_interactive BIGINT NOT NULL DEFAULT 0,
    timeout DOUBLE PRECISION NOT NULL DEFAULT 100,
    auth_method TEXT NOT NULL DEFAULT 'NONE',
    basic_auth_user TEXT,
    basic_auth_pass TEXT,
    extra_params TEXT NOT NULL,
    model_version TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX ml_backends_by_project ON ml_backends (project_id, id);
"#;

/// The label stream's task locks (Label Studio's `TaskLock`): who is labeling a task right
/// now, until when. Expired rows are ignored and deleted as locks are taken and released.
const TASK_LOCKS: &str = r#"
CREATE TABLE task_locks (
    task_id BIGINT NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    expire_at BIGINT NOT NULL,
    unique_id TEXT NOT NULL,
    PRIMARY KEY (task_id, user_id)
);
CREATE INDEX task_locks_by_user ON task_locks (user_id, expire_at);
"#;

/// Labelbox-format webhooks: `format` is `label_studio` or `labelbox`; `topics` the
/// Labelbox topics (JSON list) of the latter. `event_filter`: a webhook's conditions on event
/// bodies (JSON list, `events::filter`), `NULL` for none.
const WEBHOOK_FORMAT: &str = r#"
ALTER TABLE webhooks ADD COLUMN format TEXT NOT NULL DEFAULT 'label_studio';
ALTER TABLE webhooks ADD COLUMN topics TEXT NOT NULL DEFAULT '[]';
ALTER TABLE webhooks ADD COLUMN event_filter TEXT;
"#;

/// The event stream (`GET /api/events/`): an organization's events in sequence order, and
/// the highest sequence pruning removed (`events_pruned_through`: a cursor below it has
/// lost events, 410). Organizations with events from before start at their oldest one.
const EVENT_STREAM: &str = r#"
CREATE INDEX events_by_organization ON events (organization_id, sequence);
ALTER TABLE organizations ADD COLUMN events_pruned_through BIGINT NOT NULL DEFAULT 0;
UPDATE organizations SET events_pruned_through = COALESCE(
    (SELECT MIN(e.sequence) - 1 FROM events e WHERE e.organization_id = organizations.id), 0);
"#;

/// Custom event types an organization registered (`events::custom`): shown in
/// `/api/webhooks/info/`, listable in a webhook's `actions`.
const CUSTOM_EVENT_TYPES: &str = r#"
CREATE TABLE custom_event_types (
    id {ID},
    organization_id BIGINT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX custom_event_types_by_name ON custom_event_types (organization_id, name)
"#;

const HUB_SIGNATURE: &str = r#"
-- also sign GitHub/Labelbox style: X-Hub-Signature-256: sha256=<hex>
ALTER TABLE webhooks ADD COLUMN hub_signature BIGINT NOT NULL DEFAULT 0;
CREATE INDEX deliveries_by_webhook_status ON deliveries (webhook_id, status);
"#;

const LEASE_OWNER: &str = r#"
-- the dispatcher process holding the lease (PostgreSQL: its advisory-lock key)
ALTER TABLE deliveries ADD COLUMN lease_owner BIGINT;
CREATE INDEX deliveries_by_lease_owner ON deliveries (lease_owner) WHERE lease_owner IS NOT NULL;
"#;

const TRAINING_COUNTER: &str = r#"
-- non-skipped annotations made since START_TRAINING was last sent automatically
ALTER TABLE projects ADD COLUMN annotations_since_training BIGINT NOT NULL DEFAULT 0;
"#;

const DUE_BY_WEBHOOK: &str = r#"
-- the due deliveries of one webhook in order: claims skip a saturated webhook's backlog
CREATE INDEX deliveries_due_by_webhook ON deliveries (webhook_id, next_attempt_at, id) WHERE status = 'pending';
"#;

const ORGANIZATION_SEQUENCES: &str = r#"
DO $$
DECLARE org RECORD;
BEGIN
  FOR org IN SELECT id, event_sequence FROM organizations LOOP
    EXECUTE format('CREATE SEQUENCE labelhook_org_%s_events START WITH %s', org.id, org.event_sequence + 1);
  END LOOP;
END $$
"#;

/// PostgreSQL: changes to a project's statistics, added to its row in the background
/// (`labeling::stats`), so that writes in one project do not queue on that row.
const PROJECT_STAT_DELTAS: &str = r#"
CREATE TABLE project_stat_deltas (
    id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    project_id BIGINT NOT NULL,
    task_number BIGINT NOT NULL DEFAULT 0,
    finished_task_number BIGINT NOT NULL DEFAULT 0,
    total_annotations_number BIGINT NOT NULL DEFAULT 0,
    useful_annotation_number BIGINT NOT NULL DEFAULT 0,
    num_tasks_with_annotations BIGINT NOT NULL DEFAULT 0,
    ground_truth_number BIGINT NOT NULL DEFAULT 0,
    skipped_annotations_number BIGINT NOT NULL DEFAULT 0,
    total_predictions_number BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX project_stat_deltas_by_project ON project_stat_deltas (project_id)
"#;

/// Per-webhook counts come from partial indexes: the pending ones from
/// `deliveries_due_by_webhook`, the held ones (rare) from this one. An index on
/// `(webhook_id, status)` had an entry moved by every status change of every delivery.
const HELD_BY_WEBHOOK: &str = r#"
DROP INDEX deliveries_by_webhook_status;
CREATE INDEX deliveries_held ON deliveries (webhook_id) WHERE status = 'held'
"#;

/// API tokens are kept as their SHA-256 ([`super::token_digest`]), never in clear; the
/// tokens already stored are hashed by [`after_sql`].
const HASHED_TOKENS: &str = r#"
ALTER TABLE users RENAME COLUMN token TO token_digest
"#;

/// The part of a migration SQL cannot say on both backends, run after its statements in
/// the same transaction.
async fn after_sql(conn: &mut Conn, version: i64) -> anyhow::Result<()> {
    if version == 10 {
        let users = query("SELECT id, token_digest FROM users")
            .fetch_all(&mut *conn)
            .await?;
        for user in users {
            query("UPDATE users SET token_digest = $1 WHERE id = $2")
                .bind(super::token_digest(user.try_get("token_digest")?))
                .bind(user.try_get::<i64, _>("id")?)
                .execute(&mut *conn)
                .await?;
        }
    }
    Ok(())
}

/// `config_suitable_for_bulk_annotation`, derived from the label config when it is saved,
/// like `parsed_label_config`, so that reads never parse the config. NULL for projects saved
/// before: `labeling::projects::derive_missing` fills them in at start-up.
const BULK_ANNOTATION_SUITABILITY: &str = r#"
ALTER TABLE projects ADD COLUMN config_suitable_for_bulk_annotation BIGINT
"#;

/// Export snapshots and their converted files, stored in the database as deflated chunks
/// (see `export::snapshots`): any process serves a download, and it survives restarts.
/// People: passwords (argon2 PHC strings; NULL: no password sign-in), the role of each
/// member in their organization (the first user of an organization is its owner; the
/// others, who could do everything before roles existed, administrators), deactivation,
/// browser sessions and invite links (both kept as SHA-256 digests, like API tokens).
/// Reviews of annotations (`labeling::reviews`): accepted or rejected, with the reviewer's
/// fixed result and the result it replaced.
const REVIEWS: &str = r#"
CREATE TABLE annotation_reviews (
    id {ID},
    annotation_id BIGINT NOT NULL REFERENCES annotations(id) ON DELETE CASCADE,
    task_id BIGINT NOT NULL,
    project_id BIGINT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    created_by BIGINT NOT NULL REFERENCES users(id),
    accepted BIGINT NOT NULL,
    result TEXT,
    previous_result TEXT,
    comment TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX annotation_reviews_by_annotation ON annotation_reviews (annotation_id);
CREATE INDEX annotation_reviews_by_project ON annotation_reviews (project_id);
"#;

/// Each annotation's review state (`labeling::reviews`): `accepted`, `rejected`, or NULL
/// (waiting for review: never reviewed, or changed by its annotator since it was
/// rejected). What a task's finished count and the label stream read; filled from the
/// reviews already kept (the latest review of each annotation decides).
const REVIEW_STATE: &str = r#"
ALTER TABLE annotations ADD COLUMN review_state TEXT;
UPDATE annotations SET review_state = (SELECT CASE WHEN r.accepted = 1 THEN 'accepted' ELSE 'rejected' END
    FROM annotation_reviews r WHERE r.annotation_id = annotations.id ORDER BY r.id DESC LIMIT 1)
"#;

/// Who made and who last changed each object (issue 15's audit), where the first tables
/// had no column for it: NULL for rows made before, or by no user (an ML backend's
/// predictions, its training webhook).
const AUDIT: &str = r#"
ALTER TABLE tasks ADD COLUMN created_by BIGINT;
ALTER TABLE projects ADD COLUMN updated_by BIGINT;
ALTER TABLE predictions ADD COLUMN created_by BIGINT;
ALTER TABLE predictions ADD COLUMN updated_by BIGINT;
ALTER TABLE webhooks ADD COLUMN created_by BIGINT;
ALTER TABLE webhooks ADD COLUMN updated_by BIGINT;
ALTER TABLE ml_backends ADD COLUMN created_by BIGINT;
ALTER TABLE ml_backends ADD COLUMN updated_by BIGINT;
ALTER TABLE annotation_reviews ADD COLUMN updated_by BIGINT;
UPDATE projects SET updated_by = created_by;
UPDATE annotation_reviews SET updated_by = created_by
"#;

const PEOPLE: &str = r#"
ALTER TABLE users ADD COLUMN password_hash TEXT;
ALTER TABLE users ADD COLUMN role TEXT NOT NULL DEFAULT 'AN';
ALTER TABLE users ADD COLUMN is_active BIGINT NOT NULL DEFAULT 1;
ALTER TABLE users ADD COLUMN last_login BIGINT;
ALTER TABLE users ADD COLUMN updated_at BIGINT;
UPDATE users SET role = CASE
    WHEN id = (SELECT MIN(u.id) FROM users u WHERE u.organization_id = users.organization_id) THEN 'OW'
    ELSE 'AD' END;
CREATE TABLE sessions (
    id {ID},
    digest TEXT NOT NULL UNIQUE,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    -- the CSRF secret: cookie-authenticated writes must echo it in X-CSRFToken
    csrf TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_by_user ON sessions (user_id);
CREATE TABLE invites (
    id {ID},
    organization_id BIGINT NOT NULL REFERENCES organizations(id),
    digest TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL,
    created_by BIGINT REFERENCES users(id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    -- set when the invite is used (an invite signs up one person) or revoked
    used_at BIGINT,
    used_by BIGINT REFERENCES users(id)
);
CREATE INDEX invites_by_organization ON invites (organization_id);
"#;

const EXPORTS: &str = r#"
CREATE TABLE export_snapshots (
    id {ID},
    project_id BIGINT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    title TEXT NOT NULL,
    created_by BIGINT,
    -- created | in_progress | completed | failed (Label Studio's names)
    status TEXT NOT NULL,
    -- the task filter, annotation filter and serialization options asked for (JSON)
    options TEXT NOT NULL,
    md5 TEXT NOT NULL DEFAULT '',
    task_number BIGINT NOT NULL DEFAULT 0,
    byte_size BIGINT NOT NULL DEFAULT 0,
    -- export/<project>/project-<project>-at-<time>-<md5>.json
    file_name TEXT NOT NULL DEFAULT '',
    -- the build whose chunks are the file; its builder holds the job until lease_until
    build_id BIGINT,
    lease_until BIGINT,
    error TEXT,
    created_at BIGINT NOT NULL,
    finished_at BIGINT
);
CREATE INDEX export_snapshots_by_project ON export_snapshots (project_id, created_at);
CREATE INDEX export_snapshots_unfinished ON export_snapshots (id) WHERE status IN ('created', 'in_progress');

CREATE TABLE export_conversions (
    id {ID},
    snapshot_id BIGINT NOT NULL REFERENCES export_snapshots(id) ON DELETE CASCADE,
    export_type TEXT NOT NULL,
    status TEXT NOT NULL,
    md5 TEXT NOT NULL DEFAULT '',
    task_number BIGINT NOT NULL DEFAULT 0,
    byte_size BIGINT NOT NULL DEFAULT 0,
    file_name TEXT NOT NULL DEFAULT '',
    build_id BIGINT,
    lease_until BIGINT,
    -- shown as the conversion's traceback
    error TEXT,
    created_by BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    finished_at BIGINT
);
CREATE INDEX export_conversions_by_snapshot ON export_conversions (snapshot_id, id);
CREATE INDEX export_conversions_unfinished ON export_conversions (id) WHERE status IN ('created', 'in_progress');

-- Files, cut in chunks: a snapshot's JSON between tasks, a converted file every MiB.
CREATE TABLE export_chunks (
    build_id BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    snapshot_id BIGINT NOT NULL REFERENCES export_snapshots(id) ON DELETE CASCADE,
    -- 0 for the snapshot's own JSON
    conversion_id BIGINT NOT NULL,
    task_count BIGINT NOT NULL,
    -- raw deflate
    content {BYTES} NOT NULL,
    PRIMARY KEY (build_id, seq)
);
CREATE INDEX export_chunks_by_snapshot ON export_chunks (snapshot_id, conversion_id)
"#;

/// A webhook's breaker (`delivery::breaker`): since when it fails without a success, when
/// its breaker opened (its deliveries are held and one probe at a time goes out), when the
/// next probe is due and which delivery is the probe under way, how many probes failed, and the last error, for alerts and pages; and the attempts
/// per webhook and hour (`webhook_hours`), which the pages chart.
const BREAKER: &str = r#"
ALTER TABLE webhooks ADD COLUMN failing_since BIGINT;
ALTER TABLE webhooks ADD COLUMN breaker_opened_at BIGINT;
ALTER TABLE webhooks ADD COLUMN next_probe_at BIGINT;
ALTER TABLE webhooks ADD COLUMN failed_probes BIGINT NOT NULL DEFAULT 0;
ALTER TABLE webhooks ADD COLUMN probe_delivery_id BIGINT;
ALTER TABLE webhooks ADD COLUMN last_error TEXT;
-- attempts per webhook and hour (the hour's start, in microseconds), for the health chart
CREATE TABLE webhook_hours (
    webhook_id BIGINT NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
    hour BIGINT NOT NULL,
    succeeded BIGINT NOT NULL DEFAULT 0,
    failed BIGINT NOT NULL DEFAULT 0,
    -- deliveries that used up their retry schedule
    exhausted BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (webhook_id, hour)
)
"#;

/// Applies every migration not yet recorded.
pub async fn migrate(pool: &Pool, backend: Backend) -> anyhow::Result<()> {
    let mut conn = pool.acquire().await?;
    if backend == Backend::Postgres {
        // Several processes may start at once; one migrates, the others wait.
        conn.execute_batch("SELECT pg_advisory_lock(7405183)")
            .await?;
    }
    let result = apply(&mut conn, backend, i64::MAX).await;
    if backend == Backend::Postgres {
        conn.execute_batch("SELECT pg_advisory_unlock(7405183)")
            .await?;
    }
    result
}

/// Applies the migrations not yet recorded, up to version `last`.
async fn apply(conn: &mut Conn, backend: Backend, last: i64) -> anyhow::Result<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS labelhook_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
    )
    .await?;
    let applied: Vec<i64> = query_scalar("SELECT version FROM labelhook_migrations")
        .fetch_all(&mut *conn)
        .await?;
    let id = match backend {
        Backend::Sqlite => "INTEGER PRIMARY KEY AUTOINCREMENT",
        Backend::Postgres => "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
    };
    let bytes = match backend {
        Backend::Sqlite => "BLOB",
        Backend::Postgres => "BYTEA",
    };
    for (version, sql) in MIGRATIONS {
        if applied.contains(version) || *version > last {
            continue;
        }
        // Comments go first: they may contain semicolons.
        let sql: String = sql
            .replace("{ID}", id)
            .replace("{BYTES}", bytes)
            .lines()
            .map(|line| line.split("--").next().unwrap_or(""))
            .collect::<Vec<_>>()
            .join("\n");
        // One transaction per migration, on this connection (SQLite's pool has only it).
        conn.execute_batch("BEGIN").await?;
        let applied = if !POSTGRES_ONLY.contains(version) {
            apply_one(conn, *version, &sql).await
        } else if backend == Backend::Postgres {
            apply_whole(conn, *version, &sql).await
        } else {
            record(conn, *version).await
        };
        match applied {
            Ok(()) => conn.execute_batch("COMMIT").await?,
            Err(error) => {
                conn.execute_batch("ROLLBACK").await?;
                return Err(error);
            }
        }
    }
    Ok(())
}

async fn apply_one(conn: &mut Conn, version: i64, sql: &str) -> anyhow::Result<()> {
    for statement in sql.split(';').map(str::trim).filter(|s| !s.is_empty()) {
        conn.execute_batch(statement)
            .await
            .map_err(|e| anyhow::anyhow!("migration {version} failed at `{statement}`: {e}"))?;
    }
    after_sql(conn, version).await?;
    record(conn, version).await
}

/// A migration whose statements contain semicolons (PL/pgSQL), run as one batch.
async fn apply_whole(conn: &mut Conn, version: i64, sql: &str) -> anyhow::Result<()> {
    conn.execute_batch(sql)
        .await
        .map_err(|e| anyhow::anyhow!("migration {version} failed: {e}"))?;
    record(conn, version).await
}

async fn record(conn: &mut Conn, version: i64) -> anyhow::Result<()> {
    query("INSERT INTO labelhook_migrations (version, applied_at) VALUES ($1, $2)")
        .bind(version)
        .bind(super::time::now())
        .execute(conn)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A database from before migration 10 keeps tokens in clear; after it, only their
    /// digests, and the same tokens still find their users.
    #[tokio::test]
    async fn migration_10_hashes_the_tokens_already_stored() {
        let dir = tempfile::tempdir().unwrap();
        let pool = Pool::sqlite(dir.path().join("t.db").to_str().unwrap(), 1);
        let mut conn = pool.acquire().await.unwrap();
        apply(&mut conn, Backend::Sqlite, 9).await.unwrap();
        conn.execute_batch(
            "INSERT INTO organizations (title, created_at) VALUES ('o', 0); \
             INSERT INTO users (organization_id, email, token, created_at) \
             VALUES (1, 'a@example.com', 'clear-token-a', 0), (1, 'b@example.com', 'clear-token-b', 0)",
        )
        .await
        .unwrap();
        apply(&mut conn, Backend::Sqlite, i64::MAX).await.unwrap();
        for (email, token) in [
            ("a@example.com", "clear-token-a"),
            ("b@example.com", "clear-token-b"),
        ] {
            let found: Option<String> =
                query_scalar("SELECT email FROM users WHERE token_digest = $1")
                    .bind(crate::store::token_digest(token))
                    .fetch_optional(&mut conn)
                    .await
                    .unwrap();
            assert_eq!(found.as_deref(), Some(email));
        }
        let clear: i64 =
            query_scalar("SELECT COUNT(*) FROM users WHERE token_digest LIKE 'clear%'")
                .fetch_one(&mut conn)
                .await
                .unwrap();
        assert_eq!(clear, 0);
    }
}
