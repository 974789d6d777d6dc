//! The event stream's horizon: up to which sequence an organization's events may be
//! served without ever skipping one that commits later.
//!
//! On SQLite there is one writer and a group of transactions becomes visible at once, so
//! every number up to the highest visible one has committed (numbers are taken in the
//! writer's order and a rolled-back savepoint gives its number back).
//!
//! On PostgreSQL numbers come from a sequence (`schema::next_event_sequence`): a
//! transaction may take 5, another 6 and commit first. A reader that served 6 and moved
//! its cursor past 5 would never see 5. So the horizon is the end of the run of visible
//! numbers that follows the cursor without a gap; at a gap (a number taken by a
//! transaction still in flight, or by one that rolled back, or pruned), the reader waits
//! until every transaction that was in flight when it read has ended. Such a transaction
//! took its id before its number (`next_event_sequence` does), so whoever holds a number
//! below the highest one read is among them: once they have ended, each missing number
//! below it has either committed (a fresh read sees it) or never will.

use std::time::Duration;

use tokio::time::Instant;

use super::sql::{Pool, query, query_scalar};
use super::{Backend, Result};

/// The most numbers looked at for a gap per read.
const LOOK_AHEAD: i64 = 1000;

/// The highest sequence `h >= after` such that every event of `organization_id` numbered
/// in `(after, h]` is visible now or never will be. At a gap right after `after` it waits
/// for the transactions in flight to end, until `deadline` (then it answers `after`).
pub async fn settled(
    pool: &Pool,
    backend: Backend,
    organization_id: i64,
    after: i64,
    deadline: Instant,
) -> Result<i64> {
    if backend == Backend::Sqlite {
        let highest: Option<i64> =
            query_scalar("SELECT MAX(sequence) FROM events WHERE organization_id = $1")
                .bind(organization_id)
                .fetch_one(pool)
                .await?;
        return Ok(highest.unwrap_or(after).max(after));
    }
    // The numbers after the cursor and the snapshot they were read in, in one statement.
    let rows = query(&format!(
        "SELECT sequence, pg_current_snapshot()::text AS snapshot FROM events \
         WHERE organization_id = $1 AND sequence > $2 ORDER BY sequence LIMIT {LOOK_AHEAD}"
    ))
    .bind(organization_id)
    .bind(after)
    .fetch_all(pool)
    .await?;
    let Some(last) = rows.last() else {
        return Ok(after);
    };
    let mut end = after;
    for row in &rows {
        let sequence: i64 = row.try_get("sequence")?;
        if sequence != end + 1 {
            break;
        }
        end = sequence;
    }
    if end > after {
        return Ok(end);
    }
    // A gap right after the cursor: wait for the transactions of that snapshot.
    let highest: i64 = last.try_get("sequence")?;
    let snapshot: String = last.try_get("snapshot")?;
    let mut pause = Duration::from_millis(2);
    loop {
        let ended: bool = query_scalar(
            "SELECT COALESCE(bool_and(pg_xact_status(x) <> 'in progress'), TRUE) \
             FROM pg_snapshot_xip($1::pg_snapshot) AS x",
        )
        .bind(&snapshot)
        .fetch_one(pool)
        .await?;
        if ended {
            return Ok(highest);
        }
        if Instant::now() + pause > deadline {
            return Ok(after);
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}
