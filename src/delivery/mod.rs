//! The dispatcher: takes due deliveries from the outbox, sends them concurrently, records
//! every attempt, schedules retries.
//!
//! ```text
//! commit ──wake──▶ claim (lease) ──▶ send tasks (≤ max_in_flight, ≤ per-webhook cap)
//!                     ▲                          │ outcomes
//!                     └──── slots freed ◀─── recorder (batched writes)
//! ```
//!
//! It never runs in a request: handlers only commit outbox rows and wake it.

pub mod claim;
pub mod liveness;
pub mod prune;
pub mod record;
pub mod send;
pub mod ssrf;

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use crate::config::WebhookSettings;
use crate::store;
use crate::store::{Db, time};
use claim::Job;
use send::Attempt;

/// Deliveries claimed per round.
const CLAIM_BATCH: usize = 512;
/// Outcomes written per transaction at most.
const RECORD_BATCH: usize = 1024;
/// Even with no wake-up, look for due work this often (a safety net, not the path).
const POLL_INTERVAL: Duration = Duration::from_secs(1);
/// Tries to write one batch of outcomes before giving it up.
const RECORD_TRIES: u32 = 8;
/// Claims triggered by freed slots are at most this frequent.
const REFILL_EVERY: Duration = Duration::from_millis(2);

/// Starts the dispatcher on the runtime; it runs until the process ends.
pub fn spawn(db: Db, settings: WebhookSettings) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let dispatcher = Dispatcher::new(db, settings);
        dispatcher.run().await;
    })
}

struct Dispatcher {
    db: Db,
    settings: Arc<WebhookSettings>,
    client: reqwest::Client,
    /// Sends under way per webhook.
    in_flight: HashMap<i64, usize>,
    total_in_flight: usize,
    /// Claimed jobs waiting for a slot of their webhook.
    waiting: HashMap<i64, VecDeque<Job>>,
    /// PostgreSQL: this process's liveness lock, to take over the leases of dead ones.
    liveness: Option<liveness::Liveness>,
    /// Which addresses deliveries may reach.
    guard: ssrf::Guard,
    /// Where finished sends report, to free their slot.
    done_tx: Option<mpsc::UnboundedSender<i64>>,
}

impl Dispatcher {
    fn new(db: Db, settings: WebhookSettings) -> Dispatcher {
        let client = send::client(&settings);
        let guard = settings.guard();
        Dispatcher {
            db,
            settings: Arc::new(settings),
            client,
            in_flight: HashMap::new(),
            total_in_flight: 0,
            waiting: HashMap::new(),
            liveness: None,
            guard,
            done_tx: None,
        }
    }

    /// How long a claim holds a delivery: long enough for every waiting job of a webhook to
    /// be sent after the ones before it, then some.
    fn lease(&self) -> Duration {
        self.settings.timeout() * 2 + Duration::from_secs(30)
    }

    async fn run(mut self) {
        match claim::release_stale_leases(&self.db).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                deliveries = n,
                "resuming deliveries that were in flight when the server stopped"
            ),
            Err(error) => tracing::error!(error = %error, "could not release stale leases"),
        }
        self.liveness = match liveness::Liveness::register(&self.db).await {
            Ok(found) => found,
            Err(error) => {
                tracing::error!(error = %error, "could not register the dispatcher; leases of stopped processes will be taken over when they run out");
                None
            }
        };
        let _listener = liveness::spawn_listener(self.db.clone());
        let mut last_sweep = std::time::Instant::now();
        // Outcomes queue for the recorder (bounded: a slow database slows sending, it does
        // not grow memory); a slot frees as soon as its outcome is queued. A crash before
        // the outcome is written leaves the delivery leased: it is sent again (at least once).
        let (outcome_tx, outcome_rx) =
            mpsc::channel::<Attempt>(self.settings.max_in_flight.max(1) * 4);
        let (done_tx, mut done_rx) = mpsc::unbounded_channel::<i64>();
        self.done_tx = Some(done_tx);
        tokio::spawn(recorder(self.db.clone(), self.settings.clone(), outcome_rx));
        // When to claim next. A commit (new events) claims at once; completions free
        // slots, and claim only when due work was left behind for lack of them, at most
        // every REFILL_EVERY, so thousands of completions a second cost a few claims, not
        // one each.
        let mut claim_at = Some(tokio::time::Instant::now());
        let mut backlog = false;
        let mut last_claim = tokio::time::Instant::now();
        loop {
            if last_sweep.elapsed() >= POLL_INTERVAL {
                last_sweep = std::time::Instant::now();
                if let Some(liveness) = self.liveness.as_mut()
                    && let Err(error) = liveness.take_over_dead(&self.db).await
                {
                    tracing::error!(error = %error, "checking for stopped dispatchers failed");
                }
            }
            let mut timer = POLL_INTERVAL;
            if claim_at.is_some_and(|at| at <= tokio::time::Instant::now()) {
                claim_at = None;
                last_claim = tokio::time::Instant::now();
                match self.claim_round(&outcome_tx).await {
                    // Slots left and a full batch: more is due, go again at once.
                    Ok((claimed, limit)) if claimed == limit && claimed == CLAIM_BATCH => {
                        claim_at = Some(tokio::time::Instant::now());
                        self.reap(&mut done_rx, &outcome_tx);
                        continue;
                    }
                    Ok(_) => {}
                    Err(error) => {
                        tracing::error!(error = %error, "claiming deliveries failed; retrying shortly");
                        claim_at = Some(tokio::time::Instant::now() + Duration::from_millis(200));
                    }
                }
                // Due rows still there belong to webhooks at their cap (or no slot was
                // free): they are taken as slots free up.
                match claim::next_due(&self.db).await {
                    Ok(Some(at)) if at <= time::now() => backlog = true,
                    Ok(Some(at)) => {
                        backlog = false;
                        timer = Duration::from_micros((at - time::now()).max(0) as u64)
                            .min(POLL_INTERVAL);
                    }
                    _ => backlog = false,
                }
            } else if let Some(at) = claim_at {
                timer = at.saturating_duration_since(tokio::time::Instant::now());
            }
            tokio::select! {
                _ = self.db.committed() => claim_at = Some(tokio::time::Instant::now()),
                Some(webhook_id) = done_rx.recv() => {
                    self.finished(webhook_id, &outcome_tx);
                    if backlog && claim_at.is_none() {
                        claim_at = Some(last_claim + REFILL_EVERY);
                    }
                }
                _ = tokio::time::sleep(timer) => {
                    if claim_at.is_none() {
                        claim_at = Some(tokio::time::Instant::now());
                    }
                }
            }
            self.reap(&mut done_rx, &outcome_tx);
        }
    }

    /// Takes every completion already reported.
    fn reap(
        &mut self,
        done_rx: &mut mpsc::UnboundedReceiver<i64>,
        outcome_tx: &mpsc::Sender<Attempt>,
    ) {
        while let Ok(webhook_id) = done_rx.try_recv() {
            self.finished(webhook_id, outcome_tx);
        }
    }

    /// A send to `webhook_id` is over: free its slot, start its next waiting job.
    fn finished(&mut self, webhook_id: i64, outcome_tx: &mpsc::Sender<Attempt>) {
        self.total_in_flight = self.total_in_flight.saturating_sub(1);
        if let Some(count) = self.in_flight.get_mut(&webhook_id) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                self.in_flight.remove(&webhook_id);
            }
        }
        let next = self
            .waiting
            .get_mut(&webhook_id)
            .and_then(VecDeque::pop_front);
        if self
            .waiting
            .get(&webhook_id)
            .is_some_and(VecDeque::is_empty)
        {
            self.waiting.remove(&webhook_id);
        }
        if let Some(job) = next {
            self.start(job, outcome_tx);
        }
    }

    /// Claims what the free slots allow and starts sending. Returns how many were claimed.
    async fn claim_round(
        &mut self,
        outcome_tx: &mpsc::Sender<Attempt>,
    ) -> store::Result<(usize, usize)> {
        let waiting: usize = self.waiting.values().map(VecDeque::len).sum();
        let free = self
            .settings
            .max_in_flight
            .saturating_sub(self.total_in_flight + waiting);
        if free == 0 {
            return Ok((0, 0));
        }
        let per_webhook = self.settings.max_in_flight_per_webhook.max(1);
        let busy: Vec<i64> = self
            .in_flight
            .iter()
            .filter(|(id, n)| **n + self.waiting.get(id).map_or(0, VecDeque::len) >= per_webhook)
            .map(|(id, _)| *id)
            .collect();
        let limit = free.min(CLAIM_BATCH);
        let owner = self.liveness.as_ref().map(liveness::Liveness::key);
        let jobs = claim::claim(&self.db, limit, per_webhook, &busy, self.lease(), owner).await?;
        let claimed = jobs.len();
        for job in jobs {
            if self.in_flight.get(&job.webhook_id).copied().unwrap_or(0) < per_webhook {
                self.start(job, outcome_tx);
            } else {
                self.waiting
                    .entry(job.webhook_id)
                    .or_default()
                    .push_back(job);
            }
        }
        Ok((claimed, limit))
    }

    fn start(&mut self, job: Job, outcome_tx: &mpsc::Sender<Attempt>) {
        *self.in_flight.entry(job.webhook_id).or_insert(0) += 1;
        self.total_in_flight += 1;
        let client = self.client.clone();
        let timeout = self.settings.timeout();
        let guard = self.guard.clone();
        let proxied = self.settings.delivery_proxy.is_some();
        let outcome_tx = outcome_tx.clone();
        let done_tx = self.done_tx.clone();
        tokio::spawn(async move {
            let attempt = send::attempt(&client, &guard, job, timeout, proxied).await;
            let webhook_id = attempt.job.webhook_id;
            let _ = outcome_tx.send(attempt).await;
            if let Some(done) = done_tx {
                let _ = done.send(webhook_id);
            }
        });
    }
}

/// Writes outcomes in batches.
async fn recorder(db: Db, settings: Arc<WebhookSettings>, mut outcomes: mpsc::Receiver<Attempt>) {
    let mut batch = Vec::with_capacity(RECORD_BATCH);
    while let Some(first) = outcomes.recv().await {
        batch.push(first);
        while batch.len() < RECORD_BATCH {
            match outcomes.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        // A failed write is retried (the database may be briefly unavailable). One that
        // keeps failing is given up, so it cannot stop every later outcome: those
        // deliveries stay leased and are sent again when the lease ends (at least once).
        let mut backoff = Duration::from_millis(50);
        for attempt in 1..=RECORD_TRIES {
            match record::record(&db, &settings, &batch).await {
                Ok(()) => break,
                Err(error) if attempt < RECORD_TRIES => {
                    tracing::error!(error = %error, attempt, "recording delivery outcomes failed; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
                Err(error) => tracing::error!(
                    error = %error,
                    outcomes = batch.len(),
                    "recording delivery outcomes failed for good; those deliveries will be sent again when their lease ends"
                ),
            }
        }
        for attempt in batch.drain(..) {
            let outcome = if attempt.succeeded() {
                "succeeded"
            } else {
                attempt.error.as_ref().map_or("failed", |(c, _)| c.as_str())
            };
            metrics::counter!(
                "labelhook_delivery_attempts_total",
                "outcome" => outcome,
                "action" => attempt.job.action.clone()
            )
            .increment(1);
            metrics::histogram!("labelhook_delivery_attempt_duration_seconds")
                .record(attempt.duration.as_secs_f64());
            tracing::info!(
                webhook_id = attempt.job.webhook_id,
                delivery_id = attempt.job.delivery_id,
                message_id = %attempt.job.message_id,
                action = %attempt.job.action,
                status = attempt.status_code,
                outcome,
                duration_ms = attempt.duration.as_secs_f64() * 1000.0,
                "delivery attempt"
            );
        }
    }
}
