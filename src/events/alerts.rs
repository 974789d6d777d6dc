//! Alerts as events: the dispatcher reports a breaker that opened or closed, a webhook
//! switched off, a delivery out of retries (`delivery::alert`); here each becomes an
//! event of the webhook's organization (`WEBHOOK_FAILING`, `WEBHOOK_RECOVERED`,
//! `WEBHOOK_DISABLED`, `DELIVERY_FAILED`), sent to the organization-level webhooks that
//! subscribe to it (never to the webhook it is about), and a line in the log.

use futures::future::BoxFuture;
use serde_json::{Value, json};

use super::{Action, body, emit_alert};
use crate::delivery::alert::{Alert, AlertKind, Alerts};
use crate::shared::{Result, Scope};
use crate::store::time::render_opt;
use crate::store::{self, Db};

/// The event layer's side of [`Alerts`].
pub struct AlertEvents;

impl Alerts for AlertEvents {
    fn raise<'a>(&'a self, db: &'a Db, alerts: Vec<Alert>) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            if let Err(error) = write(db, &alerts).await {
                tracing::error!(%error, alerts = alerts.len(), "could not write alert events");
            }
        })
    }
}

fn action_of(kind: AlertKind) -> Action {
    match kind {
        AlertKind::WebhookFailing => Action::WebhookFailing,
        AlertKind::WebhookRecovered => Action::WebhookRecovered,
        AlertKind::WebhookDisabled => Action::WebhookDisabled,
        AlertKind::DeliveryFailed => Action::DeliveryFailed,
    }
}

async fn write(db: &Db, alerts: &[Alert]) -> Result<()> {
    let mut tx = db.begin().await?;
    for alert in alerts {
        let Some(row) = store::query(
            "SELECT w.organization_id, w.project_id, w.url, w.is_active, w.disabled_reason, \
             w.consecutive_failures, w.failing_since, w.breaker_opened_at, w.next_probe_at, \
             w.probe_delivery_id, \
             w.last_error, w.last_success_at, \
             (SELECT COUNT(*) FROM deliveries d WHERE d.webhook_id = w.id AND d.status = 'held') AS held, \
             (SELECT COUNT(*) FROM deliveries d WHERE d.webhook_id = w.id AND d.status = 'pending') AS pending \
             FROM webhooks w WHERE w.id = $1",
        )
        .bind(alert.webhook_id)
        .fetch_optional(&mut *tx)
        .await?
        else {
            continue; // deleted meanwhile
        };
        let action = action_of(alert.kind);
        let scope = Scope {
            organization_id: row.try_get("organization_id")?,
            acted_by: None,
            project_id: row.try_get("project_id")?,
        };
        let failures: i64 = row.try_get("consecutive_failures")?;
        let held: i64 = row.try_get("held")?;
        let pending: i64 = row.try_get("pending")?;
        let last_error: Option<String> = row.try_get("last_error")?;
        // While a probe is under way `next_probe_at` is only its safety net (the lease's
        // end): the real next probe is set by the probe's outcome.
        let next_probe_at: Option<i64> = row.try_get("next_probe_at")?;
        let probing = row
            .try_get::<Option<i64>, _>("breaker_opened_at")?
            .is_some()
            && row
                .try_get::<Option<i64>, _>("probe_delivery_id")?
                .is_some();
        let webhook = json!({
            "id": alert.webhook_id,
            "url": row.try_get::<String, _>("url")?,
            "project": scope.project_id,
            "is_active": row.try_get::<i64, _>("is_active")? != 0,
            "disabled_reason": row.try_get::<Option<String>, _>("disabled_reason")?,
        });
        let mut payload = body([
            ("webhook", webhook),
            ("consecutive_failures", json!(failures)),
            (
                "failing_since",
                json!(render_opt(row.try_get("failing_since")?)),
            ),
            ("last_error", json!(last_error)),
            (
                "last_success_at",
                json!(render_opt(row.try_get("last_success_at")?)),
            ),
            ("held", json!(held)),
            ("pending", json!(pending)),
            (
                "next_probe_at",
                json!(render_opt(next_probe_at.filter(|_| !probing))),
            ),
            ("probing", json!(probing)),
        ]);
        if let Some(delivery_id) = alert.delivery_id {
            payload.insert("delivery".into(), delivery(&mut tx, delivery_id).await?);
        }
        let receivers = emit_alert(&mut tx, scope, action, payload, alert.webhook_id).await?;
        let webhook_id = alert.webhook_id;
        let alert_name = alert.kind.as_str();
        match alert.kind {
            AlertKind::WebhookRecovered => tracing::info!(
                alert = alert_name,
                webhook_id,
                held,
                pending,
                receivers,
                "webhook recovered"
            ),
            _ => tracing::warn!(
                alert = alert_name,
                webhook_id,
                delivery_id = alert.delivery_id,
                consecutive_failures = failures,
                last_error = last_error.as_deref().unwrap_or(""),
                held,
                pending,
                receivers,
                "webhook alert"
            ),
        }
    }
    db.commit(tx).await?;
    Ok(())
}

/// The delivery a `DELIVERY_FAILED` is about.
async fn delivery(tx: &mut store::Conn, delivery_id: i64) -> Result<Value> {
    let Some(row) = store::query(
        "SELECT d.id, d.message_id, d.attempts, d.last_status_code, d.last_error, d.created_at, \
         e.action, e.sequence FROM deliveries d JOIN events e ON e.id = d.event_id WHERE d.id = $1",
    )
    .bind(delivery_id)
    .fetch_optional(&mut *tx)
    .await?
    else {
        return Ok(Value::Null); // deleted meanwhile
    };
    Ok(json!({
        "id": delivery_id,
        "message_id": row.try_get::<String, _>("message_id")?,
        "action": row.try_get::<String, _>("action")?,
        "sequence": row.try_get::<i64, _>("sequence")?,
        "attempts": row.try_get::<i64, _>("attempts")?,
        "last_status_code": row.try_get::<Option<i64>, _>("last_status_code")?,
        "last_error": row.try_get::<Option<String>, _>("last_error")?,
        "created_at": render_opt(row.try_get("created_at")?),
    }))
}
