//! Taking due deliveries from the outbox.
//!
//! Claiming a delivery moves its `next_attempt_at` to the end of a lease: the row drops out
//! of the due set at once, and if this process dies before recording an outcome the row
//! becomes due again when the lease ends, for any process to take. So a crash at any
//! instant leaves every delivery resumable, and no separate lease sweep is needed.
//!
//! The claim reads at most a few batches of the due index, however large the backlog, and
//! none of the backlog of a webhook whose slots are all in use.

use std::sync::Arc;

use super::job::{self, DESTINATION_COLUMNS, Destination, Job};
use crate::store;
use crate::store::{Db, time};

/// Claims up to `limit` due deliveries, at most `per_webhook` of any one webhook and none
/// of the webhooks in `skip` (those already have all their slots in use).
pub async fn claim(
    db: &Db,
    limit: usize,
    per_webhook: usize,
    skip: &[i64],
    lease: std::time::Duration,
    owner: Option<i64>,
) -> store::Result<Vec<Job>> {
    if limit == 0 {
        return Ok(vec![]);
    }
    let now = time::now();
    let lease_end = now + lease.as_micros() as i64;
    // PostgreSQL: rows another process holds are skipped, not waited for.
    let lock = db.backend.for_update_skip_locked();
    // Which rows: the earliest due, at most `per_webhook` of any webhook. With no webhook
    // to skip, a walk along the due index reads a few batches, whatever the backlog. When
    // some webhooks are saturated, that walk would have to step over their whole backlog
    // (a hanging receiver's, which is the oldest): instead each other webhook's due rows
    // are read from its own index, so a stuck receiver costs the others nothing.
    let pick = if skip.is_empty() {
        format!(
            "SELECT id FROM ( \
               SELECT id, next_attempt_at, ROW_NUMBER() OVER (PARTITION BY webhook_id ORDER BY next_attempt_at, id) AS rn \
               FROM ( \
                 SELECT id, webhook_id, next_attempt_at FROM deliveries \
                 WHERE status = 'pending' AND next_attempt_at <= $2 \
                 ORDER BY next_attempt_at, id LIMIT $4{lock} \
               ) due \
             ) ranked WHERE rn <= $5 ORDER BY next_attempt_at, id LIMIT $6"
        )
    } else {
        // Parameters, not literals: one statement shape per size of `skip`, parsed once.
        let list: Vec<String> = (0..skip.len()).map(|i| format!("${}", 7 + i)).collect();
        let skip_list = list.join(", ");
        let due_of_webhook = "FROM deliveries x \
             WHERE x.webhook_id = w.id AND x.status = 'pending' AND x.next_attempt_at <= $2 \
             ORDER BY x.next_attempt_at, x.id LIMIT $5";
        if db.backend.has_lateral() {
            // PostgreSQL plans a per-row subquery poorly: LATERAL runs it once per webhook.
            format!(
                "SELECT d.id FROM webhooks w CROSS JOIN LATERAL \
                 (SELECT x.id, x.next_attempt_at {due_of_webhook}{lock}) d \
                 WHERE w.id NOT IN ({skip_list}) ORDER BY d.next_attempt_at, d.id LIMIT $6"
            )
        } else {
            // SQLite has no LATERAL; it runs this correlated list once per webhook.
            format!(
                "SELECT d.id FROM webhooks w JOIN deliveries d ON d.id IN \
                 (SELECT x.id {due_of_webhook}) \
                 WHERE w.id NOT IN ({skip_list}) ORDER BY d.next_attempt_at, d.id LIMIT $6"
            )
        }
    };
    let sql = format!(
        "UPDATE deliveries SET next_attempt_at = $1, lease_until = $1, lease_owner = $3, updated_at = $2 \
         WHERE id IN ({pick}) RETURNING id"
    );
    let mut tx = db.begin().await?;
    db.skip_flush_wait(&mut tx).await?;
    let mut claim = store::query_scalar(&sql)
        .bind(lease_end)
        .bind(now)
        .bind(owner)
        .bind((limit * 4) as i64)
        .bind(per_webhook as i64)
        .bind(limit as i64);
    for webhook in skip {
        claim = claim.bind(*webhook);
    }
    let ids: Vec<i64> = claim.fetch_all(&mut *tx).await?;
    if ids.is_empty() {
        tx.commit().await?;
        return Ok(vec![]);
    }
    let rows = store::query(&format!(
        "SELECT d.id, d.message_id, d.webhook_id, d.send_payload, d.attempts, e.action, e.sequence, \
         e.payload, {DESTINATION_COLUMNS} \
         FROM deliveries d JOIN events e ON e.id = d.event_id JOIN webhooks w ON w.id = d.webhook_id \
         WHERE d.id IN ({}) ORDER BY d.next_attempt_at, d.id",
        store::id_params(1, ids.len())
    ))
    .bind_ids(&ids)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    let mut jobs = Vec::with_capacity(rows.len());
    for row in rows {
        let action: String = row.try_get("action")?;
        let payload = row.try_get::<String, _>("payload")?;
        let send_payload = row.try_get::<i64, _>("send_payload")? != 0;
        let destination = Arc::new(Destination::from_row(&row, now)?);
        jobs.push(Job {
            delivery_id: row.try_get("id")?,
            message_id: row.try_get("message_id")?,
            webhook_id: row.try_get("webhook_id")?,
            attempts: row.try_get("attempts")?,
            sequence: row.try_get("sequence")?,
            body: job::body(&destination, send_payload, &action, payload.into()),
            destination,
            action,
        });
    }
    Ok(jobs)
}

/// When the next pending delivery falls due, if any.
pub async fn next_due(db: &Db) -> store::Result<Option<i64>> {
    store::query_scalar(
        "SELECT next_attempt_at FROM deliveries WHERE status = 'pending' ORDER BY next_attempt_at, id LIMIT 1",
    )
    .fetch_optional(db.reader())
    .await
}

/// On SQLite only this process uses the database, so at start no lease can belong to a live
/// dispatcher: deliveries claimed before a crash are due again at once instead of when their
/// lease would end. (PostgreSQL is shared; there, leases run out on their own.)
pub async fn release_stale_leases(db: &Db) -> store::Result<u64> {
    if db.backend.shared() {
        return Ok(0);
    }
    let now = time::now();
    let mut tx = db.begin().await?;
    let released = store::query(
        "UPDATE deliveries SET next_attempt_at = $1, lease_until = NULL, lease_owner = NULL \
         WHERE status = 'pending' AND lease_until IS NOT NULL",
    )
    .bind(now)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    tx.commit().await?;
    Ok(released)
}

/// Gives leased deliveries back to the outbox, each due at its time (`(delivery, due)`),
/// without counting an attempt: their webhook is resting after a failed probe. Only rows
/// still pending and leased move (one held meanwhile stays held).
pub async fn defer(db: &Db, deliveries: &[(i64, i64)]) -> store::Result<()> {
    let mut by_due: std::collections::BTreeMap<i64, Vec<i64>> = Default::default();
    for (id, due) in deliveries {
        by_due.entry(*due).or_default().push(*id);
    }
    let mut tx = db.begin().await?;
    db.skip_flush_wait(&mut tx).await?;
    for (due, ids) in by_due {
        for chunk in ids.chunks(500) {
            store::query(&format!(
                "UPDATE deliveries SET next_attempt_at = $1, lease_until = NULL, lease_owner = NULL \
                 WHERE id IN ({}) AND status = 'pending' AND lease_until IS NOT NULL",
                store::id_params(2, chunk.len())
            ))
            .bind(due)
            .bind_ids(chunk)
            .execute(&mut *tx)
            .await?;
        }
    }
    tx.commit().await?;
    Ok(())
}
