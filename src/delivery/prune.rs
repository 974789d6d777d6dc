//! Retention: finished deliveries (with their attempts) and the events no delivery needs
//! any more are removed once older than the retention period. Pending and held deliveries
//! are never pruned, whatever their age.

use std::collections::HashMap;
use std::time::Duration;

use crate::store;
use crate::store::{Db, time};

/// How often the pruner looks.
const EVERY: Duration = Duration::from_secs(3600);
/// Rows removed per transaction, so pruning never holds the writer for long.
const CHUNK: i64 = 5000;

pub fn spawn(db: Db, retention: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            match prune(&db, retention).await {
                Ok(0) => {}
                Ok(n) => {
                    tracing::info!(deliveries = n, "pruned finished deliveries past retention")
                }
                Err(error) => tracing::error!(error = %error, "pruning the delivery log failed"),
            }
            tokio::time::sleep(EVERY).await;
        }
    })
}

/// Removes what is past retention; returns how many deliveries went.
pub async fn prune(db: &Db, retention: Duration) -> store::Result<u64> {
    let cutoff = time::now() - retention.as_micros().min(i64::MAX as u128) as i64;
    let mut removed = 0;
    loop {
        let mut tx = db.begin_large().await?;
        let ids: Vec<i64> = store::query_scalar(&format!(
            "SELECT id FROM deliveries WHERE status IN ('succeeded', 'failed') AND updated_at < $1 LIMIT {CHUNK}"
        ))
        .bind(cutoff)
        .fetch_all(&mut *tx)
        .await?;
        if ids.is_empty() {
            tx.commit().await?;
            break;
        }
        let list = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
        store::query(&format!(
            "DELETE FROM delivery_attempts WHERE delivery_id IN ({list})"
        ))
        .execute(&mut *tx)
        .await?;
        store::query(&format!("DELETE FROM deliveries WHERE id IN ({list})"))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        removed += ids.len() as u64;
    }
    prune_events(db, cutoff).await?;
    let mut tx = db.begin_large().await?;
    // The hourly counts are charted for a day; two are kept.
    store::query("DELETE FROM webhook_hours WHERE hour < $1")
        .bind(time::now() - 48 * 3_600_000_000)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(removed)
}

/// Removes the events past retention that no delivery needs any more (every event is
/// written, webhooks or not: the event stream reads them), oldest first, a chunk per
/// transaction, and raises each organization's `events_pruned_through` to the highest
/// number it lost, so the stream answers a cursor below it 410. Events are walked in id
/// order, which is the order they were written in: the walk stops at the first chunk that
/// reaches the retention period, never reading the recent ones.
async fn prune_events(db: &Db, cutoff: i64) -> store::Result<()> {
    let mut from = 0i64;
    loop {
        let mut tx = db.begin_large().await?;
        let rows = store::query(&format!(
            "SELECT e.id, e.organization_id, e.sequence, e.created_at, \
             EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = e.id) AS needed \
             FROM events e WHERE e.id > $1 ORDER BY e.id LIMIT {CHUNK}"
        ))
        .bind(from)
        .fetch_all(&mut *tx)
        .await?;
        let mut gone = Vec::new();
        let mut through: HashMap<i64, i64> = HashMap::new();
        let mut reached_recent = rows.len() < CHUNK as usize;
        for row in &rows {
            let id: i64 = row.try_get("id")?;
            from = id;
            if row.try_get::<i64, _>("created_at")? >= cutoff {
                reached_recent = true;
                continue;
            }
            if row.try_get::<bool, _>("needed")? {
                continue;
            }
            gone.push(id);
            let highest = through.entry(row.try_get("organization_id")?).or_default();
            *highest = (*highest).max(row.try_get("sequence")?);
        }
        for chunk in gone.chunks(500) {
            store::query(&format!(
                "DELETE FROM events WHERE id IN ({})",
                store::id_params(1, chunk.len())
            ))
            .bind_ids(chunk)
            .execute(&mut *tx)
            .await?;
        }
        for (organization_id, sequence) in through {
            store::query(
                "UPDATE organizations SET events_pruned_through = $2 \
                 WHERE id = $1 AND events_pruned_through < $2",
            )
            .bind(organization_id)
            .bind(sequence)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        if reached_recent {
            return Ok(());
        }
    }
}
