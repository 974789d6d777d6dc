//! Writing attempt outcomes: the delivery log row, the delivery's new state (done, retry
//! later, failed for good, held) and the webhook's health, many outcomes per transaction.

use std::collections::BTreeMap;
use std::time::Duration;

use rand::Rng;

use super::alert::{Alert, AlertKind};
use super::breaker;
use super::send::Attempt;
use crate::config::WebhookSettings;
use crate::store;
use crate::store::{Backend, Db, time};

/// Bounds for a receiver's `Retry-After`: never sooner than 1 s, never later than 24 h.
const RETRY_AFTER_MIN: Duration = Duration::from_secs(1);
const RETRY_AFTER_MAX: Duration = Duration::from_secs(24 * 3600);

/// The state a delivery moves to after an attempt.
#[derive(Debug, PartialEq)]
enum Next {
    Succeeded,
    RetryAt(i64),
    Failed,
}

fn next_state(
    attempt: &Attempt,
    attempts_so_far: i64,
    settings: &WebhookSettings,
    now: i64,
) -> Next {
    if attempt.succeeded() {
        return Next::Succeeded;
    }
    let schedule = &settings.retry_schedule.0;
    let index = usize::try_from(attempts_so_far - 1).unwrap_or(0);
    let Some(base) = schedule.get(index) else {
        return Next::Failed;
    };
    let jitter = rand::rng().random_range(0.8..1.2);
    let mut wait = base.mul_f64(jitter);
    if let Some(asked) = attempt.retry_after {
        wait = wait.max(asked.clamp(RETRY_AFTER_MIN, RETRY_AFTER_MAX));
    }
    Next::RetryAt(now + wait.as_micros() as i64)
}

/// Writes a batch of outcomes in one transaction: the attempts in multi-row inserts,
/// successes in one update per status code, webhook health in one update per webhook.
/// (At thousands of deliveries a second, statements, not rows, are what costs.)
pub async fn record(
    db: &Db,
    settings: &WebhookSettings,
    batch: &[Attempt],
) -> store::Result<Recorded> {
    let mut tx = db.begin_large().await?;
    db.skip_flush_wait(&mut tx).await?;
    let now = time::now();
    // A webhook deleted while its delivery was in flight took the delivery with it: its
    // outcome has nowhere to go (and must not block the rest of the batch).
    let live = existing_deliveries(&mut tx, db.backend, batch).await?;
    let batch: Vec<&Attempt> = batch
        .iter()
        .filter(|a| live.contains(&a.job.delivery_id))
        .collect();
    let batch = batch.as_slice();
    insert_attempts(&mut tx, batch).await?;

    // The breakers first: a failure of a webhook whose breaker is open (or opens now) is
    // held, not retried on its own schedule.
    let mut verdicts = BTreeMap::new();
    for (webhook_id, outcomes) in outcomes_by_webhook(batch) {
        if let Some(verdict) =
            breaker::update(&mut tx, db.backend, settings, webhook_id, &outcomes, now).await?
        {
            verdicts.insert(webhook_id, verdict);
        }
    }
    let mut succeeded: BTreeMap<Option<u16>, Vec<i64>> = BTreeMap::new();
    let mut retries = false;
    let mut alerts = Vec::new();
    for &attempt in batch {
        let job = &attempt.job;
        let attempts = job.attempts + 1;
        let held = verdicts
            .get(&job.webhook_id)
            .is_some_and(|v| v.hold_failures);
        let (status, next_at) = match next_state(attempt, attempts, settings, now) {
            Next::Succeeded => {
                succeeded
                    .entry(attempt.status_code)
                    .or_default()
                    .push(job.delivery_id);
                continue;
            }
            _ if held => ("held", None),
            Next::RetryAt(at) => {
                retries = true;
                ("pending", Some(at))
            }
            Next::Failed => {
                if !AlertKind::is_alert_action(&job.action) {
                    alerts.push(Alert {
                        kind: AlertKind::DeliveryFailed,
                        webhook_id: job.webhook_id,
                        delivery_id: Some(job.delivery_id),
                    });
                }
                ("failed", None)
            }
        };
        // Only a delivery still pending moves: one released or held meanwhile keeps its
        // state but records the attempt.
        store::query(
            "UPDATE deliveries SET status = $1, attempts = $2, next_attempt_at = $3, lease_until = NULL, \
             lease_owner = NULL, last_status_code = $4, last_error = $5, updated_at = $6 \
             WHERE id = $7 AND status = 'pending'",
        )
        .bind(status)
        .bind(attempts)
        .bind(next_at)
        .bind(attempt.status_code.map(i64::from))
        .bind(attempt.error.as_ref().map(|(_, message)| message.as_str()))
        .bind(now)
        .bind(job.delivery_id)
        .execute(&mut *tx)
        .await?;
    }
    // A success is final, even for a delivery held meanwhile (its breaker opened while it
    // was in flight): it arrived.
    for (code, ids) in succeeded {
        for chunk in ids.chunks(500) {
            store::query(&format!(
                "UPDATE deliveries SET status = 'succeeded', attempts = attempts + 1, next_attempt_at = NULL, \
                 lease_until = NULL, lease_owner = NULL, last_status_code = $1, last_error = NULL, \
                 updated_at = $2 WHERE id IN ({}) AND status IN ('pending', 'held')",
                store::id_params(3, chunk.len())
            ))
            .bind(code.map(i64::from))
            .bind(now)
            .bind_ids(chunk)
            .execute(&mut *tx)
            .await?;
        }
    }
    count_hour(&mut tx, batch, &alerts, now).await?;
    // A closed breaker sends everything it held, and every waiting retry, at once.
    let mut released = false;
    for (webhook_id, verdict) in &verdicts {
        if verdict.change == Some(breaker::Change::Closed) {
            let count = breaker::release(&mut tx, *webhook_id, now).await?;
            tracing::info!(
                webhook_id,
                released = count,
                "breaker closed: a delivery succeeded; sending everything held at once"
            );
            released = true;
        }
    }
    // A plain commit: outcomes make no work due now. A scheduled retry wakes the
    // dispatcher only so that it sets its timer to the retry's time.
    tx.commit().await?;
    if retries || released {
        db.wake_dispatcher();
    }
    let changes: Vec<(i64, breaker::Change)> = verdicts
        .into_iter()
        .filter_map(|(webhook_id, verdict)| verdict.change.map(|change| (webhook_id, change)))
        .collect();
    for (webhook_id, change) in &changes {
        let kind = match change {
            breaker::Change::Opened => AlertKind::WebhookFailing,
            breaker::Change::Closed => AlertKind::WebhookRecovered,
            breaker::Change::SwitchedOff(_) => AlertKind::WebhookDisabled,
            breaker::Change::StillOpen => continue,
        };
        alerts.insert(
            0,
            Alert {
                kind,
                webhook_id: *webhook_id,
                delivery_id: None,
            },
        );
    }
    Ok(Recorded { changes, alerts })
}

/// What a written batch changed beyond its deliveries.
pub struct Recorded {
    /// Breakers that moved.
    pub changes: Vec<(i64, breaker::Change)>,
    /// Alerts to raise, now that the outcomes are committed.
    pub alerts: Vec<Alert>,
}

/// Adds the batch to its webhooks' counts of the hour (one upsert per webhook).
async fn count_hour(
    tx: &mut crate::store::Tx,
    batch: &[&Attempt],
    alerts: &[Alert],
    now: i64,
) -> store::Result<()> {
    const HOUR: i64 = 3_600_000_000;
    let mut counts: BTreeMap<i64, (i64, i64, i64)> = BTreeMap::new();
    for attempt in batch {
        let entry = counts.entry(attempt.job.webhook_id).or_default();
        if attempt.succeeded() {
            entry.0 += 1;
        } else {
            entry.1 += 1;
        }
    }
    for alert in alerts {
        if alert.kind == AlertKind::DeliveryFailed {
            counts.entry(alert.webhook_id).or_default().2 += 1;
        }
    }
    for (webhook_id, (succeeded, failed, exhausted)) in counts {
        store::query(
            "INSERT INTO webhook_hours (webhook_id, hour, succeeded, failed, exhausted) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (webhook_id, hour) DO UPDATE SET \
             succeeded = webhook_hours.succeeded + excluded.succeeded, \
             failed = webhook_hours.failed + excluded.failed, \
             exhausted = webhook_hours.exhausted + excluded.exhausted",
        )
        .bind(webhook_id)
        .bind(now - now.rem_euclid(HOUR))
        .bind(succeeded)
        .bind(failed)
        .bind(exhausted)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// The batch's outcomes per webhook, in the order they happened.
fn outcomes_by_webhook(batch: &[&Attempt]) -> BTreeMap<i64, breaker::Outcomes> {
    let mut by_webhook: BTreeMap<i64, breaker::Outcomes> = BTreeMap::new();
    for attempt in batch {
        let outcomes = by_webhook.entry(attempt.job.webhook_id).or_default();
        if attempt.succeeded() {
            outcomes.succeeded = true;
            outcomes.failures = 0;
        } else {
            outcomes.failures += 1;
            outcomes.gone |= attempt.status_code == Some(410);
            outcomes.failed.push(attempt.job.delivery_id);
            outcomes.last_error = Some(match (&attempt.error, attempt.status_code) {
                (Some((_, message)), _) => message.clone(),
                (None, Some(code)) => format!("HTTP {code}"),
                (None, None) => "failed".into(),
            });
        }
    }
    by_webhook
}

/// The ids among the batch's deliveries that still exist. On PostgreSQL they are locked
/// against deletion until the outcomes are written (a webhook or project deleted
/// meanwhile would otherwise break the attempts' foreign key).
async fn existing_deliveries(
    tx: &mut crate::store::Tx,
    backend: Backend,
    batch: &[Attempt],
) -> store::Result<std::collections::HashSet<i64>> {
    let lock = backend.for_key_share();
    let mut found = std::collections::HashSet::new();
    for chunk in batch.chunks(500) {
        let wanted: Vec<i64> = chunk.iter().map(|a| a.job.delivery_id).collect();
        let ids: Vec<i64> = store::query_scalar(&format!(
            "SELECT id FROM deliveries WHERE id IN ({}){lock}",
            store::id_params(1, wanted.len())
        ))
        .bind_ids(&wanted)
        .fetch_all(&mut **tx)
        .await?;
        found.extend(ids);
    }
    Ok(found)
}

/// The delivery log rows, many per statement.
async fn insert_attempts(tx: &mut crate::store::Tx, batch: &[&Attempt]) -> store::Result<()> {
    const COLUMNS: usize = 8;
    for chunk in batch.chunks(100) {
        let placeholders: Vec<String> = (0..chunk.len())
            .map(|row| {
                let first = row * COLUMNS;
                let list: Vec<String> = (1..=COLUMNS).map(|c| format!("${}", first + c)).collect();
                format!("({})", list.join(", "))
            })
            .collect();
        let sql = format!(
            "INSERT INTO delivery_attempts (delivery_id, started_at, duration_ms, status_code, \
             response_headers, response_body, error_class, error) VALUES {}",
            placeholders.join(", ")
        );
        let mut query = store::query(&sql);
        for attempt in chunk {
            let (error_class, error) = match &attempt.error {
                Some((class, message)) => (Some(class.as_str()), Some(message.as_str())),
                None => (None, None),
            };
            query = query
                .bind(attempt.job.delivery_id)
                .bind(attempt.started_at)
                .bind(attempt.duration.as_secs_f64() * 1000.0)
                .bind(attempt.status_code.map(i64::from))
                .bind(attempt.response_headers.as_deref())
                .bind(attempt.response_body.as_deref())
                .bind(error_class)
                .bind(error);
        }
        query.execute(&mut **tx).await?;
    }
    Ok(())
}
