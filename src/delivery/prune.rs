//! Retention: finished deliveries (with their attempts) and the events no delivery needs
//! any more are removed once older than the retention period. Pending and held deliveries
//! are never pruned, whatever their age.

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
    let mut tx = db.begin_large().await?;
    store::query(
        "DELETE FROM events WHERE created_at < $1 AND NOT EXISTS \
         (SELECT 1 FROM deliveries d WHERE d.event_id = events.id)",
    )
    .bind(cutoff)
    .execute(&mut *tx)
    .await?;
    // The hourly counts are charted for a day; two are kept.
    store::query("DELETE FROM webhook_hours WHERE hour < $1")
        .bind(time::now() - 48 * 3_600_000_000)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(removed)
}
