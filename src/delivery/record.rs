//! Writing attempt outcomes: the delivery log row, the delivery's new state (done, retry
//! later, failed for good, held) and the webhook's health, many outcomes per transaction.

use std::time::Duration;

use rand::Rng;

use super::send::Attempt;
use crate::config::WebhookSettings;
use crate::store::{Db, time};

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

/// Writes a batch of outcomes in one transaction.
pub async fn record(db: &Db, settings: &WebhookSettings, batch: &[Attempt]) -> sqlx::Result<()> {
    let mut tx = db.begin().await?;
    let now = time::now();
    for attempt in batch {
        let job = &attempt.job;
        let attempts = job.attempts + 1;
        let (error_class, error) = match &attempt.error {
            Some((class, message)) => (Some(class.as_str()), Some(message.clone())),
            None => (None, None),
        };
        sqlx::query(
            "INSERT INTO delivery_attempts (delivery_id, started_at, duration_ms, status_code, \
             response_headers, response_body, error_class, error) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(job.delivery_id)
        .bind(attempt.started_at)
        .bind(attempt.duration.as_secs_f64() * 1000.0)
        .bind(attempt.status_code.map(i64::from))
        .bind(attempt.response_headers.as_deref())
        .bind(attempt.response_body.as_deref())
        .bind(error_class)
        .bind(error.as_deref())
        .execute(&mut *tx)
        .await?;
        let next = next_state(attempt, attempts, settings, now);
        let (status, next_at) = match next {
            Next::Succeeded => ("succeeded", None),
            Next::RetryAt(at) => ("pending", Some(at)),
            Next::Failed => ("failed", None),
        };
        // Only a delivery still pending moves: one released or held meanwhile keeps its state
        // but records the attempt.
        sqlx::query(
            "UPDATE deliveries SET status = $1, attempts = $2, next_attempt_at = $3, lease_until = NULL, lease_owner = NULL, \
             last_status_code = $4, last_error = $5, updated_at = $6 WHERE id = $7 AND status = 'pending'",
        )
        .bind(status)
        .bind(attempts)
        .bind(next_at)
        .bind(attempt.status_code.map(i64::from))
        .bind(error.as_deref())
        .bind(now)
        .bind(job.delivery_id)
        .execute(&mut *tx)
        .await?;
        update_health(&mut tx, settings, attempt, now).await?;
    }
    db.commit(tx).await
}

/// Consecutive failures, the last success and failure, and switching a failing webhook
/// off (pausing it: its deliveries are held until it is switched on again).
async fn update_health(
    tx: &mut crate::store::Tx,
    settings: &WebhookSettings,
    attempt: &Attempt,
    now: i64,
) -> sqlx::Result<()> {
    let webhook_id = attempt.job.webhook_id;
    if attempt.succeeded() {
        sqlx::query(
            "UPDATE webhooks SET consecutive_failures = 0, last_success_at = $1 WHERE id = $2",
        )
        .bind(now)
        .bind(webhook_id)
        .execute(&mut **tx)
        .await?;
        return Ok(());
    }
    let failures: Option<i64> = sqlx::query_scalar(
        "UPDATE webhooks SET consecutive_failures = consecutive_failures + 1, last_failure_at = $1 \
         WHERE id = $2 RETURNING consecutive_failures",
    )
    .bind(now)
    .bind(webhook_id)
    .fetch_optional(&mut **tx)
    .await?;
    let Some(failures) = failures else {
        return Ok(());
    };
    let gone = attempt.status_code == Some(410);
    let max = i64::from(settings.webhook_max_consecutive_failures);
    let too_many = max > 0 && failures >= max;
    if gone || too_many {
        let reason = if gone { "gone" } else { "failures" };
        let switched: Option<i64> = sqlx::query_scalar(
            "UPDATE webhooks SET is_active = 0, disabled_reason = $1, updated_at = $2 \
             WHERE id = $3 AND is_active = 1 RETURNING id",
        )
        .bind(reason)
        .bind(now)
        .bind(webhook_id)
        .fetch_optional(&mut **tx)
        .await?;
        if switched.is_some() {
            tracing::warn!(
                webhook_id,
                failures,
                reason,
                "webhook switched off; its deliveries are held until it is switched on"
            );
        }
        sqlx::query(
            "UPDATE deliveries SET status = 'held', lease_until = NULL, updated_at = $1 \
             WHERE webhook_id = $2 AND status = 'pending'",
        )
        .bind(now)
        .bind(webhook_id)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}
