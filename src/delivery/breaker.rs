//! A webhook's breaker: a receiver that keeps failing is probed, not hammered, and gets
//! everything at once when it is back.
//!
//! ```text
//!  closed ──LABELHOOK_BREAKER_FAILURES failed attempts in a row──▶ open
//!    ▲                                                              │ deliveries held; one
//!    │                                                              │ probe at a time, on the
//!    └──────────── any attempt succeeds: held + pending due now ◀───┘ retry schedule (capped)
//!                                                                   │
//!      failing continuously ≥ LABELHOOK_DISABLE_AFTER and ≥ WEBHOOK_MAX_CONSECUTIVE_FAILURES
//!      attempts in a row ──▶ switched off (`disabled_reason: "failures"`, still held)
//! ```
//!
//! The state lives in the webhook's row, so every dispatcher process sees the same
//! breaker: outcomes move it (inside the recorder's transaction, `record.rs`), and a probe
//! is taken by one process alone (a conditional update of `next_probe_at`).

use std::time::Duration;

use rand::Rng;

use crate::config::WebhookSettings;
use crate::store;
use crate::store::{Backend, Conn, Db, time};

/// What a batch of outcomes did to a webhook's breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Failures in a row reached the threshold: deliveries are held from now on.
    Opened,
    /// A probe (or a straggler sent before the breaker opened) failed: still open.
    StillOpen,
    /// An attempt succeeded while open: everything held or waiting goes out now.
    Closed,
    /// Failing for long enough: the webhook is switched off (`reason`).
    SwitchedOff(&'static str),
}

/// A webhook's breaker after a batch: whether its failed attempts are held (not retried
/// on their own schedule), and what changed.
#[derive(Debug, Clone, Copy)]
pub struct Verdict {
    pub hold_failures: bool,
    pub change: Option<Change>,
}

/// What one batch says about one webhook.
#[derive(Debug, Default)]
pub struct Outcomes {
    pub succeeded: bool,
    /// Failures after the last success in the batch (all of them if none succeeded).
    pub failures: i64,
    /// The receiver answered 410 Gone.
    pub gone: bool,
    /// The cause of the last failure, for alerts and pages.
    pub last_error: Option<String>,
    /// The deliveries that failed (to tell a failed probe from a straggler).
    pub failed: Vec<i64>,
}

/// How long to wait before the next probe, after `failed_probes` failed ones: the retry
/// schedule's step, never more than `LABELHOOK_BREAKER_PROBE_MAX` (so a receiver that
/// comes back is found within that), with ±20% jitter.
pub fn probe_wait(settings: &WebhookSettings, failed_probes: i64) -> Duration {
    let schedule = &settings.retry_schedule.0;
    let index = usize::try_from(failed_probes).unwrap_or(0);
    let step = schedule
        .get(index)
        .or(schedule.last())
        .copied()
        .unwrap_or(settings.breaker_probe_max);
    let step = step
        .min(settings.breaker_probe_max)
        .max(Duration::from_millis(1));
    step.mul_f64(rand::rng().random_range(0.8..1.2))
}

/// Moves the breaker of `webhook_id` for a batch's outcomes, in the recorder's
/// transaction. `None` if the webhook was deleted meanwhile.
pub async fn update(
    tx: &mut Conn,
    backend: Backend,
    settings: &WebhookSettings,
    webhook_id: i64,
    outcomes: &Outcomes,
    now: i64,
) -> store::Result<Option<Verdict>> {
    // PostgreSQL: another process's recorder may move the same breaker; take turns.
    let lock = backend.for_update();
    let Some(row) = store::query(&format!(
        "SELECT is_active, consecutive_failures, failing_since, breaker_opened_at, failed_probes, \
         next_probe_at, probe_delivery_id FROM webhooks WHERE id = $1{lock}"
    ))
    .bind(webhook_id)
    .fetch_optional(&mut *tx)
    .await?
    else {
        return Ok(None);
    };
    let active = row.try_get::<i64, _>("is_active")? != 0;
    let failures_before: i64 = row.try_get("consecutive_failures")?;
    let failing_since: Option<i64> = row.try_get("failing_since")?;
    let opened_at: Option<i64> = row.try_get("breaker_opened_at")?;
    let failed_probes: i64 = row.try_get("failed_probes")?;
    let next_probe_at: Option<i64> = row.try_get("next_probe_at")?;
    let probe: Option<i64> = row.try_get("probe_delivery_id")?;

    if outcomes.succeeded {
        // The receiver is there: the breaker closes, whatever failed after in the batch
        // is retried on its schedule.
        let trailing = outcomes.failures;
        store::query(
            "UPDATE webhooks SET consecutive_failures = $1, last_success_at = $2, \
             last_failure_at = CASE WHEN $1 > 0 THEN $2 ELSE last_failure_at END, \
             failing_since = CASE WHEN $1 > 0 THEN $2 ELSE NULL END, \
             last_error = CASE WHEN $1 > 0 THEN $4 ELSE last_error END, \
             breaker_opened_at = NULL, next_probe_at = NULL, failed_probes = 0, probe_delivery_id = NULL \
             WHERE id = $3",
        )
        .bind(trailing)
        .bind(now)
        .bind(webhook_id)
        .bind(outcomes.last_error.as_deref())
        .execute(&mut *tx)
        .await?;
        return Ok(Some(Verdict {
            hold_failures: false,
            change: opened_at.is_some().then_some(Change::Closed),
        }));
    }

    let failures = failures_before + outcomes.failures;
    let since = failing_since.unwrap_or(now);
    let threshold = i64::from(settings.breaker_failures);
    let max = i64::from(settings.webhook_max_consecutive_failures);
    let failing_for = Duration::from_micros(u64::try_from(now - since).unwrap_or(0));
    let switch_off_for = if outcomes.gone {
        Some("gone")
    } else if active && max > 0 && failures >= max && failing_for >= settings.disable_after {
        Some("failures")
    } else {
        None
    };
    // Opened: the first probe after the schedule's first step. Still open: a failed
    // probe schedules the next one a step later; a straggler (sent before the breaker
    // opened) changes nothing.
    let probe_failed = probe.is_some_and(|id| outcomes.failed.contains(&id));
    let (change, opened, probes, next_probe) = match (opened_at, switch_off_for) {
        (_, Some(reason)) => (
            Some(Change::SwitchedOff(reason)),
            opened_at,
            failed_probes,
            None,
        ),
        (Some(at), None) if probe_failed => {
            let wait = probe_wait(settings, failed_probes + 1);
            let next = now + wait.as_micros() as i64;
            (
                Some(Change::StillOpen),
                Some(at),
                failed_probes + 1,
                Some(next),
            )
        }
        (Some(at), None) => (
            Some(Change::StillOpen),
            Some(at),
            failed_probes,
            next_probe_at,
        ),
        (None, None) if active && threshold > 0 && failures >= threshold => {
            let next = now + probe_wait(settings, 0).as_micros() as i64;
            (Some(Change::Opened), Some(now), 0, Some(next))
        }
        (None, None) => (None, None, 0, None),
    };
    let probe = if probe_failed { None } else { probe };
    store::query(
        "UPDATE webhooks SET consecutive_failures = $1, last_failure_at = $2, failing_since = $3, \
         breaker_opened_at = $4, next_probe_at = $5, failed_probes = $6, last_error = $7, \
         probe_delivery_id = $9 WHERE id = $8",
    )
    .bind(failures)
    .bind(now)
    .bind(since)
    .bind(opened)
    .bind(next_probe)
    .bind(probes)
    .bind(outcomes.last_error.as_deref())
    .bind(webhook_id)
    .bind(probe.filter(|_| opened.is_some()))
    .execute(&mut *tx)
    .await?;
    match change {
        Some(Change::Opened) => {
            tracing::warn!(
                webhook_id,
                failures,
                "breaker opened: deliveries are held and one probe at a time goes out until one succeeds"
            );
            hold_pending(tx, webhook_id, now).await?;
        }
        Some(Change::SwitchedOff(reason)) => {
            switch_off(tx, webhook_id, reason, failures, now).await?
        }
        _ => {}
    }
    Ok(Some(Verdict {
        hold_failures: opened.is_some() || switch_off_for.is_some(),
        change,
    }))
}

/// Every pending delivery of the webhook is held (leased ones too: the dispatcher drops
/// the ones it has not sent yet; what is in flight records its outcome).
async fn hold_pending(tx: &mut Conn, webhook_id: i64, now: i64) -> store::Result<()> {
    store::query(
        "UPDATE deliveries SET status = 'held', lease_until = NULL, lease_owner = NULL, updated_at = $1 \
         WHERE webhook_id = $2 AND status = 'pending'",
    )
    .bind(now)
    .bind(webhook_id)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

async fn switch_off(
    tx: &mut Conn,
    webhook_id: i64,
    reason: &str,
    failures: i64,
    now: i64,
) -> store::Result<()> {
    let switched: Option<i64> = store::query_scalar(
        "UPDATE webhooks SET is_active = 0, disabled_reason = $1, updated_at = $2, \
         breaker_opened_at = NULL, next_probe_at = NULL, probe_delivery_id = NULL \
         WHERE id = $3 AND is_active = 1 RETURNING id",
    )
    .bind(reason)
    .bind(now)
    .bind(webhook_id)
    .fetch_optional(&mut *tx)
    .await?;
    if switched.is_some() {
        tracing::warn!(
            webhook_id,
            failures,
            reason,
            "webhook switched off; its deliveries are held until it is switched on"
        );
    }
    hold_pending(tx, webhook_id, now).await
}

/// Every held delivery of the webhook, and every pending one waiting for its next retry,
/// is due now (the breaker closed, or a person switched the webhook on or changed where
/// it sends). The dispatcher sends them within the per-webhook cap.
pub async fn release(tx: &mut Conn, webhook_id: i64, now: i64) -> store::Result<u64> {
    Ok(store::query(
        "UPDATE deliveries SET status = 'pending', next_attempt_at = $1, lease_until = NULL, \
         lease_owner = NULL, updated_at = $1 \
         WHERE webhook_id = $2 AND (status = 'held' OR (status = 'pending' AND lease_until IS NULL \
         AND next_attempt_at > $1))",
    )
    .bind(now)
    .bind(webhook_id)
    .execute(&mut *tx)
    .await?
    .rows_affected())
}

/// The open breaker's next probe goes now (a person asked to retry now). A probe under
/// way is left to finish.
pub async fn probe_now(tx: &mut Conn, webhook_id: i64, now: i64) -> store::Result<()> {
    store::query(
        "UPDATE webhooks SET next_probe_at = $1 WHERE id = $2 AND breaker_opened_at IS NOT NULL \
         AND probe_delivery_id IS NULL",
    )
    .bind(now)
    .bind(webhook_id)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Forgets the webhook's failures: its breaker is closed (switched on, or its URL or
/// headers changed: a new start).
pub async fn reset(tx: &mut Conn, webhook_id: i64) -> store::Result<()> {
    store::query(
        "UPDATE webhooks SET consecutive_failures = 0, failing_since = NULL, breaker_opened_at = NULL, \
         next_probe_at = NULL, failed_probes = 0, probe_delivery_id = NULL WHERE id = $1",
    )
    .bind(webhook_id)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Starts the probes that are due: for each open breaker whose `next_probe_at` has come,
/// the oldest held delivery becomes due now. `next_probe_at` moves to the end of a lease
/// meanwhile, so no other process probes the same webhook, and if the probe's outcome is
/// never written the breaker probes again after that. Returns how many probes started.
pub async fn start_due_probes(
    db: &Db,
    lease: Duration,
    probe_max: Duration,
) -> store::Result<usize> {
    let now = time::now();
    // A cheap read first: this runs every second in every dispatcher.
    let due: Option<i64> = store::query_scalar(
        "SELECT id FROM webhooks WHERE next_probe_at IS NOT NULL AND next_probe_at <= $1 AND is_active = 1 LIMIT 1",
    )
    .bind(now)
    .fetch_optional(db.reader())
    .await?;
    if due.is_none() {
        return Ok(0);
    }
    let mut tx = db.begin().await?;
    db.skip_flush_wait(&mut tx).await?;
    let webhooks: Vec<i64> = store::query_scalar(
        "UPDATE webhooks SET next_probe_at = $1 \
         WHERE next_probe_at IS NOT NULL AND next_probe_at <= $2 AND is_active = 1 RETURNING id",
    )
    .bind(now + lease.as_micros() as i64)
    .bind(now)
    .fetch_all(&mut *tx)
    .await?;
    let mut started = 0;
    for webhook_id in webhooks {
        let probe: Option<i64> = store::query_scalar(
            "UPDATE deliveries SET status = 'pending', next_attempt_at = $1, lease_until = NULL, \
             lease_owner = NULL, updated_at = $1 \
             WHERE id = (SELECT id FROM deliveries WHERE webhook_id = $2 AND status = 'held' \
             ORDER BY id LIMIT 1) RETURNING id",
        )
        .bind(now)
        .bind(webhook_id)
        .fetch_optional(&mut *tx)
        .await?;
        match probe {
            Some(delivery_id) => {
                store::query("UPDATE webhooks SET probe_delivery_id = $1 WHERE id = $2")
                    .bind(delivery_id)
                    .bind(webhook_id)
                    .execute(&mut *tx)
                    .await?;
                started += 1;
                tracing::info!(webhook_id, delivery_id, "breaker open: sending a probe");
            }
            // Nothing to probe with (all were redelivered, say): look again a step later.
            None => {
                store::query("UPDATE webhooks SET next_probe_at = $1 WHERE id = $2")
                    .bind(now + probe_max.as_micros() as i64)
                    .bind(webhook_id)
                    .execute(&mut *tx)
                    .await?;
            }
        }
    }
    tx.commit().await?;
    Ok(started)
}
