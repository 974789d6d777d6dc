//! The dispatcher: takes deliveries from the outbox, sends them concurrently, records
//! every attempt, schedules retries.
//!
//! ```text
//! commit ──handoff (fresh, leased)──────────┐
//!    └──wake──▶ claim (due: retries, backlog)┴─▶ send tasks (≤ max_in_flight, ≤ per-webhook cap)
//!                     ▲                                   │ outcomes
//!                     └──────── slots freed ◀──────── recorder (batched writes)
//! ```
//!
//! It never runs in a request: handlers only commit outbox rows, hand the fresh ones over
//! and wake it.

pub mod alert;
pub mod breaker;
pub mod claim;
pub mod handoff;
pub mod job;
pub mod labelbox;
pub mod liveness;
pub mod prune;
pub mod record;
pub mod secret;
pub mod send;
pub mod ssrf;

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use crate::config::WebhookSettings;
use crate::store;
use crate::store::{Db, time};
use alert::Alerts;
use handoff::{Handoff, Message, Reply};
use job::Job;
use send::Attempt;

/// Deliveries claimed per round.
const CLAIM_BATCH: usize = 512;
/// Outcomes written per transaction at most.
const RECORD_BATCH: usize = 1024;
/// Even with no wake-up, look for due work this often (a safety net, not the path).
const POLL_INTERVAL: Duration = Duration::from_secs(1);
/// PostgreSQL: how often this process checks that it still holds its liveness lock, more
/// often than the others sweep for dead processes (`POLL_INTERVAL`), so a lock lost with
/// its connection is usually taken back before anyone takes this process's deliveries.
const LIVENESS_CHECK: Duration = Duration::from_millis(250);
/// Tries to write one batch of outcomes before giving it up.
const RECORD_TRIES: u32 = 8;
/// Claims triggered by freed slots are at most this frequent.
const REFILL_EVERY: Duration = Duration::from_millis(2);
/// A webhook whose last attempt succeeded at most this long ago gets its whole send cap;
/// any other (new, idle, or failing) gets one attempt at a time until one succeeds.
const TRUSTED_FOR: Duration = Duration::from_secs(60);

/// Starts the dispatcher on the runtime with the delivery client (`send::client`, built
/// at start-up so that a bad client setting stops the server); it runs until the process
/// ends.
pub fn spawn(
    db: Db,
    settings: WebhookSettings,
    client: reqwest::Client,
    alerts: Arc<dyn Alerts>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let dispatcher = Dispatcher::new(db, settings, client, alerts);
        dispatcher.run().await;
    })
}

/// What a claim round found.
enum Round {
    /// A whole batch: more may be due at once.
    Full,
    /// Everything claimable was taken; when the next delivery falls due, if any.
    Done { next_due: Option<i64> },
}

struct Dispatcher {
    db: Db,
    settings: Arc<WebhookSettings>,
    client: reqwest::Client,
    /// What this process holds (shared with write transactions) and the door for fresh
    /// deliveries. Set up in `run`, once the lease owner is known.
    handoff: Option<Arc<Handoff>>,
    /// Sends under way per webhook (≤ the per-webhook cap).
    sending: HashMap<i64, usize>,
    /// Held jobs waiting for a send slot of their webhook.
    waiting: HashMap<i64, VecDeque<Job>>,
    /// When each webhook's last attempt succeeded (removed when one fails). Within
    /// `TRUSTED_FOR` of it, the webhook gets its whole send cap; otherwise one attempt at
    /// a time, a probe: a receiver that died while nobody was sending (or that was never
    /// reached) gets one request, not a burst of its whole cap.
    succeeded_at: HashMap<i64, std::time::Instant>,
    /// Webhooks whose probe failed: until this instant (one step of the retry schedule
    /// later, as the breaker's probes) nothing is sent to them; the deliveries handed
    /// over or claimed for them, and those waiting for their send slot, go back to the
    /// outbox, due then. So a dead receiver gets one request per step before its breaker
    /// opens too.
    resting: HashMap<i64, std::time::Instant>,
    /// Webhooks whose breaker opened (here) and has not closed since: the breaker spaces
    /// their probes, not `resting`.
    broken: HashSet<i64>,
    /// Deliveries to give back to the outbox, due when their webhook's rest ends.
    to_defer: Vec<(i64, i64)>,
    /// The last claim was limited by its batch or the free places: more may be due.
    more_due: bool,
    /// Webhooks the last claim skipped, or gave all it could: they may have more due.
    recheck: HashSet<i64>,
    /// A place of a webhook with due work was freed: claim soon.
    refill: bool,
    /// PostgreSQL: this process's liveness lock, to take over the leases of dead ones.
    liveness: Option<liveness::Liveness>,
    /// Which addresses deliveries may reach.
    guard: ssrf::Guard,
    /// Where breaker changes and exhausted deliveries are reported.
    alerts: Arc<dyn Alerts>,
}

impl Dispatcher {
    fn new(
        db: Db,
        settings: WebhookSettings,
        client: reqwest::Client,
        alerts: Arc<dyn Alerts>,
    ) -> Dispatcher {
        let guard = ssrf::Guard::from_settings(&settings);
        Dispatcher {
            db,
            settings: Arc::new(settings),
            client,
            handoff: None,
            sending: HashMap::new(),
            waiting: HashMap::new(),
            succeeded_at: HashMap::new(),
            resting: HashMap::new(),
            broken: HashSet::new(),
            to_defer: Vec::new(),
            more_due: false,
            recheck: HashSet::new(),
            refill: false,
            liveness: None,
            guard,
            alerts,
        }
    }

    /// How long a claim holds a delivery: long enough for every job a webhook holds (up to
    /// twice its cap) to be sent after the ones before it, one at a time if its receiver
    /// stops answering, then some. (A process that dies does not make anyone wait that
    /// long: SQLite releases its leases at the next start, PostgreSQL's live dispatchers
    /// take them over at once; see `liveness`.)
    fn lease(&self) -> Duration {
        let held = 2 * self.settings.max_in_flight_per_webhook.max(1) as u32;
        self.settings.timeout() * held + Duration::from_secs(30)
    }

    /// How many sends `webhook_id` may have under way: its whole cap if it is trusted
    /// (a recent success, and no failure since), else one.
    fn send_cap(&self, webhook_id: i64) -> usize {
        if self.trusted(webhook_id) {
            self.settings.max_in_flight_per_webhook.max(1)
        } else {
            1
        }
    }

    fn trusted(&self, webhook_id: i64) -> bool {
        self.succeeded_at
            .get(&webhook_id)
            .is_some_and(|at| at.elapsed() < TRUSTED_FOR)
    }

    fn handoff(&self) -> &Arc<Handoff> {
        self.handoff.as_ref().expect("set up at the start of run")
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
        // Send tasks and write transactions report here: slots freed, fresh deliveries.
        let (inbox_tx, mut inbox) = mpsc::unbounded_channel::<Message>();
        let handoff = Arc::new(Handoff::new(
            self.settings.max_in_flight,
            self.settings.max_in_flight_per_webhook,
            self.lease(),
            self.liveness.as_ref().map(liveness::Liveness::key),
            inbox_tx,
        ));
        let door = handoff.clone();
        self.db.on_commit(Arc::new(move || {
            Box::new(handoff::Pending::new(door.clone())) as Box<dyn store::CommitHook>
        }));
        self.handoff = Some(handoff);
        let _listener = liveness::spawn_listener(self.db.clone());
        let mut last_sweep = std::time::Instant::now();
        let mut last_liveness_check = std::time::Instant::now();
        let mut kept_timer: Option<tokio::time::Instant> = None;
        // Outcomes queue for the recorder (bounded: a slow database slows sending, it does
        // not grow memory); a slot frees as soon as its outcome is queued. A crash before
        // the outcome is written leaves the delivery leased: it is sent again (at least once).
        let (outcome_tx, outcome_rx) =
            mpsc::channel::<Attempt>(self.settings.max_in_flight.max(1) * 4);
        tokio::spawn(recorder(
            self.db.clone(),
            self.settings.clone(),
            self.handoff().clone(),
            self.alerts.clone(),
            outcome_rx,
        ));
        // When to claim next. A commit that left deliveries due for a webhook with free
        // places claims at once (fresh deliveries usually come by handoff instead); a
        // freed place claims only if its webhook, or the last full round, left due work
        // behind, at most every REFILL_EVERY, so thousands of completions a second cost a
        // few claims, not one each.
        let mut claim_at = Some(tokio::time::Instant::now());
        let mut last_claim = tokio::time::Instant::now();
        loop {
            if last_sweep.elapsed() >= POLL_INTERVAL {
                last_sweep = std::time::Instant::now();
                last_liveness_check = last_sweep;
                match breaker::start_due_probes(
                    &self.db,
                    self.lease(),
                    self.settings.breaker_probe_max,
                )
                .await
                {
                    Ok(0) => {}
                    Ok(_) => claim_at = Some(tokio::time::Instant::now()),
                    Err(error) => tracing::error!(error = %error, "starting breaker probes failed"),
                }
                if let Some(liveness) = self.liveness.as_mut() {
                    match liveness.take_over_dead(&self.db).await {
                        Ok(0) => {}
                        // What was released is due now: claim it at once.
                        Ok(_) => claim_at = Some(tokio::time::Instant::now()),
                        Err(error) => {
                            tracing::error!(error = %error, "checking for stopped dispatchers failed")
                        }
                    }
                }
            }
            if last_liveness_check.elapsed() >= LIVENESS_CHECK
                && let Some(liveness) = self.liveness.as_mut()
            {
                last_liveness_check = std::time::Instant::now();
                if let Err(error) = liveness.hold(&self.db).await {
                    tracing::error!(%error, "could not take the liveness lock back; retrying");
                }
            }
            let mut timer = POLL_INTERVAL;
            if claim_at.is_some_and(|at| at <= tokio::time::Instant::now()) {
                claim_at = None;
                last_claim = tokio::time::Instant::now();
                match self.claim_if_due(&outcome_tx).await {
                    // Slots left and a full batch: more is due, go again at once.
                    Ok(Round::Full) => {
                        claim_at = Some(tokio::time::Instant::now());
                        self.reap(&mut inbox, &outcome_tx);
                        continue;
                    }
                    // Due rows still there belong to webhooks at their cap (or no place
                    // was free): they are taken as places free up. The timer is for
                    // retries falling due, and a safety net.
                    Ok(Round::Done { next_due }) => {
                        if let Some(at) = next_due.filter(|at| *at > time::now()) {
                            timer =
                                Duration::from_micros((at - time::now()) as u64).min(POLL_INTERVAL);
                        }
                    }
                    Err(error) => {
                        tracing::error!(error = %error, "claiming deliveries failed; retrying shortly");
                        claim_at = Some(tokio::time::Instant::now() + Duration::from_millis(200));
                    }
                }
            } else if let Some(at) = claim_at {
                timer = at.saturating_duration_since(tokio::time::Instant::now());
            }
            let liveness_check_at =
                tokio::time::Instant::from_std(last_liveness_check + LIVENESS_CHECK);
            // A wake-up for the liveness check alone must not push the timer back (it
            // would never fire, and retries falling due would wait for a commit).
            let mut timer_at = tokio::time::Instant::now() + timer;
            if let Some(kept) = kept_timer.take() {
                timer_at = timer_at.min(kept);
            }
            tokio::select! {
                _ = self.db.committed() => claim_at = Some(tokio::time::Instant::now()),
                // Only wakes the loop for the check at its top.
                _ = tokio::time::sleep_until(liveness_check_at), if self.liveness.is_some() => {
                    kept_timer = Some(timer_at);
                }
                Some(message) = inbox.recv() => self.handle(message, &outcome_tx),
                _ = tokio::time::sleep_until(timer_at) => {
                    if claim_at.is_none() {
                        claim_at = Some(tokio::time::Instant::now());
                    }
                }
            }
            self.reap(&mut inbox, &outcome_tx);
            self.defer();
            if std::mem::take(&mut self.refill) && claim_at.is_none() {
                claim_at = Some(last_claim + REFILL_EVERY);
            }
        }
    }

    /// Claims if anything is due. A read comes first: with fresh deliveries handed over
    /// at commit, most wake-ups find nothing due, and a claim is a write.
    async fn claim_if_due(&mut self, outcome_tx: &mpsc::Sender<Attempt>) -> store::Result<Round> {
        let next_due = claim::next_due(&self.db).await?;
        if next_due.is_none_or(|at| at > time::now()) {
            // Nothing due: no webhook is behind any more.
            {
                let mut held = self.handoff().held();
                held.behind.clear();
                held.out_of_places = false;
            }
            self.recheck.clear();
            self.more_due = false;
            return Ok(Round::Done { next_due });
        }
        let (claimed, limit) = self.claim_round(outcome_tx).await?;
        if claimed == limit && claimed == CLAIM_BATCH {
            return Ok(Round::Full);
        }
        Ok(Round::Done {
            next_due: claim::next_due(&self.db).await?,
        })
    }

    /// Takes every message already there.
    fn reap(
        &mut self,
        inbox: &mut mpsc::UnboundedReceiver<Message>,
        outcome_tx: &mpsc::Sender<Attempt>,
    ) {
        while let Ok(message) = inbox.try_recv() {
            self.handle(message, outcome_tx);
        }
    }

    fn handle(&mut self, message: Message, outcome_tx: &mpsc::Sender<Attempt>) {
        match message {
            // Already counted as held when they were inserted.
            Message::Fresh(jobs) => {
                metrics::counter!("labelhook_deliveries_taken_total", "from" => "handoff")
                    .increment(jobs.len() as u64);
                for job in jobs {
                    match self.rest_of(job.webhook_id) {
                        Some(until) => self.defer_job(&job, until),
                        None => self.send_or_wait(job, outcome_tx),
                    }
                }
            }
            Message::Sent(webhook_id, reply) => {
                self.place_freed(webhook_id);
                self.heard(webhook_id, reply);
                self.sent(webhook_id, outcome_tx);
            }
            Message::Released(webhook_id) => self.place_freed(webhook_id),
            Message::Hold(webhook_id) => {
                self.drop_waiting(webhook_id);
                self.broken.insert(webhook_id);
                self.resting.remove(&webhook_id);
            }
        }
    }

    /// When `webhook_id`'s rest ends, if it is resting.
    fn rest_of(&mut self, webhook_id: i64) -> Option<std::time::Instant> {
        let until = *self.resting.get(&webhook_id)?;
        if until <= std::time::Instant::now() {
            self.resting.remove(&webhook_id);
            return None;
        }
        Some(until)
    }

    /// Gives the deliveries of resting webhooks back to the outbox, due when the rest
    /// ends (their places are free already). A failed write leaves them leased: they are
    /// due again when the lease ends.
    fn defer(&mut self) {
        if self.to_defer.is_empty() {
            return;
        }
        let deliveries = std::mem::take(&mut self.to_defer);
        let db = self.db.clone();
        tokio::spawn(async move {
            if let Err(error) = claim::defer(&db, &deliveries).await {
                tracing::error!(%error, deliveries = deliveries.len(), "could not give deliveries back to the outbox; they are sent when their lease ends");
            }
        });
    }

    /// Keeps `job` for later: its webhook is resting.
    fn defer_job(&mut self, job: &Job, until: std::time::Instant) {
        let wait = until.saturating_duration_since(std::time::Instant::now());
        self.to_defer
            .push((job.delivery_id, time::now() + wait.as_micros() as i64));
        self.handoff().held().give_back(job.webhook_id);
    }

    fn place_freed(&mut self, webhook_id: i64) {
        let due_work = {
            let mut held = self.handoff().held();
            held.give_back(webhook_id);
            held.out_of_places || held.behind.contains(&webhook_id)
        };
        self.refill |= self.more_due || due_work || self.recheck.contains(&webhook_id);
    }

    /// The breaker of `webhook_id` opened (or it was switched off): its rows are held, so
    /// the jobs still waiting for a send slot are not sent; their places are given back.
    fn drop_waiting(&mut self, webhook_id: i64) {
        let Some(jobs) = self.waiting.remove(&webhook_id) else {
            return;
        };
        let mut held = self.handoff().held();
        for _ in &jobs {
            held.give_back(webhook_id);
        }
    }

    /// Notes how `webhook_id`'s last attempt went. A success trusts it with its whole
    /// cap. A failure takes the trust away (one attempt at a time from now on); a failure
    /// with no trust to lose was a probe: the webhook rests for a step of the retry
    /// schedule, and what waited for it goes back to the outbox meanwhile.
    fn heard(&mut self, webhook_id: i64, reply: Reply) {
        match reply {
            Reply::Succeeded => {
                if self
                    .succeeded_at
                    .insert(webhook_id, std::time::Instant::now())
                    .is_none()
                {
                    tracing::debug!(
                        webhook_id,
                        "receiver takes deliveries; sending at full concurrency"
                    );
                }
                self.broken.remove(&webhook_id);
                self.resting.remove(&webhook_id);
            }
            Reply::Failed => {
                let trusted = self.trusted(webhook_id);
                self.succeeded_at.remove(&webhook_id);
                // (With no retry schedule there is no step to wait for: each delivery
                // has its one attempt, one at a time.)
                if trusted
                    || self.broken.contains(&webhook_id)
                    || self.settings.retry_schedule.0.is_empty()
                {
                    return;
                }
                let wait = breaker::probe_wait(&self.settings, 0);
                let until = std::time::Instant::now() + wait;
                if self.resting.insert(webhook_id, until).is_none() {
                    tracing::debug!(
                        webhook_id,
                        wait_ms = wait.as_millis() as u64,
                        "receiver failing with no recent success: one attempt per retry step until one succeeds"
                    );
                }
                for job in self.waiting.remove(&webhook_id).unwrap_or_default() {
                    self.defer_job(&job, until);
                }
            }
        }
    }

    /// A send to `webhook_id` is over: waiting jobs take the free send slots.
    fn sent(&mut self, webhook_id: i64, outcome_tx: &mpsc::Sender<Attempt>) {
        if let Some(count) = self.sending.get_mut(&webhook_id) {
            *count = count.saturating_sub(1);
        }
        let cap = self.send_cap(webhook_id);
        while self.sending.get(&webhook_id).copied().unwrap_or(0) < cap {
            let Some(job) = self
                .waiting
                .get_mut(&webhook_id)
                .and_then(VecDeque::pop_front)
            else {
                break;
            };
            *self.sending.entry(webhook_id).or_insert(0) += 1;
            self.start(job, outcome_tx);
        }
        if self
            .waiting
            .get(&webhook_id)
            .is_some_and(VecDeque::is_empty)
        {
            self.waiting.remove(&webhook_id);
        }
        if self.sending.get(&webhook_id) == Some(&0) {
            self.sending.remove(&webhook_id);
        }
    }

    /// Sends `job` now if its webhook has a free send slot, or queues it.
    fn send_or_wait(&mut self, job: Job, outcome_tx: &mpsc::Sender<Attempt>) {
        let cap = self.send_cap(job.webhook_id);
        let sending = self.sending.entry(job.webhook_id).or_insert(0);
        if *sending < cap {
            *sending += 1;
            self.start(job, outcome_tx);
        } else {
            self.waiting
                .entry(job.webhook_id)
                .or_default()
                .push_back(job);
        }
    }

    /// Claims what the free places allow and starts sending. Returns how many were
    /// claimed, and the most that could have been.
    async fn claim_round(
        &mut self,
        outcome_tx: &mpsc::Sender<Attempt>,
    ) -> store::Result<(usize, usize)> {
        let per_webhook = self.settings.max_in_flight_per_webhook.max(1);
        let (free, busy) = {
            let held = self.handoff().held();
            let free = self.settings.max_in_flight.saturating_sub(held.total);
            (free, held.at_least(per_webhook))
        };
        if free == 0 {
            // Due rows wait for places: every freed one claims.
            self.more_due = true;
            return Ok((0, 0));
        }
        let limit = free.min(CLAIM_BATCH);
        let owner = self.liveness.as_ref().map(liveness::Liveness::key);
        let jobs = claim::claim(&self.db, limit, per_webhook, &busy, self.lease(), owner).await?;
        let claimed = jobs.len();
        metrics::counter!("labelhook_deliveries_taken_total", "from" => "claim")
            .increment(claimed as u64);
        {
            let handoff = self.handoff().clone();
            let mut held = handoff.held();
            let mut claimed_per_webhook: HashMap<i64, usize> = HashMap::new();
            for job in &jobs {
                held.take(job.webhook_id);
                *claimed_per_webhook.entry(job.webhook_id).or_insert(0) += 1;
            }
            // A webhook that got fewer than it could take has nothing more due: its
            // fresh deliveries may be handed over again. The others are looked at again
            // when one of their places frees.
            self.more_due = claimed == limit;
            self.recheck = busy.iter().copied().collect();
            self.recheck.extend(
                claimed_per_webhook
                    .iter()
                    .filter(|(_, n)| **n >= per_webhook)
                    .map(|(id, _)| *id),
            );
            if !self.more_due {
                held.behind.retain(|id| self.recheck.contains(id));
                held.out_of_places = false;
            }
        }
        for job in jobs {
            // (Due before its webhook's rest ends: a failed one's own retry, say, or one
            // a person made due. It waits for the end of the rest with the others.)
            match self.rest_of(job.webhook_id) {
                Some(until) => self.defer_job(&job, until),
                None => self.send_or_wait(job, outcome_tx),
            }
        }
        Ok((claimed, limit))
    }

    /// Sends `job` in a task of its own; its send slot is already counted.
    fn start(&mut self, job: Job, outcome_tx: &mpsc::Sender<Attempt>) {
        let client = self.client.clone();
        let timeout = self.settings.timeout();
        let guard = self.guard.clone();
        let proxied = self.settings.delivery_proxy.is_some();
        let outcome_tx = outcome_tx.clone();
        let handoff = self.handoff().clone();
        tokio::spawn(async move {
            let attempt = send::attempt(&client, &guard, job, timeout, proxied).await;
            let webhook_id = attempt.job.webhook_id;
            let reply = if attempt.succeeded() {
                Reply::Succeeded
            } else {
                Reply::Failed
            };
            let _ = outcome_tx.send(attempt).await;
            handoff.send(Message::Sent(webhook_id, reply));
        });
    }
}

/// Writes outcomes in batches.
async fn recorder(
    db: Db,
    settings: Arc<WebhookSettings>,
    handoff: Arc<Handoff>,
    alerts: Arc<dyn Alerts>,
    mut outcomes: mpsc::Receiver<Attempt>,
) {
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
                Ok(recorded) => {
                    for (webhook_id, change) in recorded.changes {
                        if matches!(
                            change,
                            breaker::Change::Opened | breaker::Change::SwitchedOff(_)
                        ) {
                            handoff.send(Message::Hold(webhook_id));
                        }
                    }
                    if !recorded.alerts.is_empty() {
                        alerts.raise(&db, recorded.alerts).await;
                    }
                    break;
                }
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
