//! Operational alerts the dispatcher raises: a breaker opened or closed, a webhook was
//! switched off, a delivery ran out of retries. The dispatcher only says what happened;
//! the layer that writes events (`events::alerts`) turns them into events for the
//! organization's webhooks, through the [`Alerts`] trait (delivery cannot name events).

use futures::future::BoxFuture;

use crate::store::Db;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertKind {
    /// The webhook's breaker opened: its deliveries are held, probes go out.
    WebhookFailing,
    /// A delivery succeeded while the breaker was open: everything held is sent.
    WebhookRecovered,
    /// The webhook was switched off (failing for `LABELHOOK_DISABLE_AFTER`, or 410 Gone).
    WebhookDisabled,
    /// A delivery used up its retry schedule (`failed`).
    DeliveryFailed,
}

impl AlertKind {
    pub const ALL: [AlertKind; 4] = [
        AlertKind::WebhookFailing,
        AlertKind::WebhookRecovered,
        AlertKind::WebhookDisabled,
        AlertKind::DeliveryFailed,
    ];

    /// The action name its event carries.
    pub const fn as_str(self) -> &'static str {
        match self {
            AlertKind::WebhookFailing => "WEBHOOK_FAILING",
            AlertKind::WebhookRecovered => "WEBHOOK_RECOVERED",
            AlertKind::WebhookDisabled => "WEBHOOK_DISABLED",
            AlertKind::DeliveryFailed => "DELIVERY_FAILED",
        }
    }

    /// Whether `action` is an alert's (a failed alert raises no alert of its own, so two
    /// failing webhooks cannot keep alerting each other).
    pub fn is_alert_action(action: &str) -> bool {
        AlertKind::ALL.iter().any(|kind| kind.as_str() == action)
    }
}

/// One alert about one webhook (and, for `DeliveryFailed`, one of its deliveries).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Alert {
    pub kind: AlertKind,
    pub webhook_id: i64,
    pub delivery_id: Option<i64>,
}

/// Where alerts go. Raised after the outcomes that caused them are committed, in a
/// transaction of their own: a crash in between loses the alert, never an outcome.
pub trait Alerts: Send + Sync {
    /// Writes the alerts' events; logs (does not return) its own failures.
    fn raise<'a>(&'a self, db: &'a Db, alerts: Vec<Alert>) -> BoxFuture<'a, ()>;
}
