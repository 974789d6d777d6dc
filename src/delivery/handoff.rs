//! Handing fresh deliveries straight to this process's dispatcher.
//!
//! A transaction that writes an event takes a place for each delivery whose webhook has
//! one free, inserts the delivery already leased to this process, and gives it to the
//! dispatcher once the commit is durable. The row is written once before the attempt
//! and once after it, with no claim in between and no re-read of the event.
//! - Rolled back: the places are given back and nothing is sent (the rows never existed).
//! - Process dies after the commit: the rows are leased like claimed ones; the lease ends
//!   (or, on SQLite, the next start releases it) and any dispatcher claims them.
//! - No free place: the delivery is inserted due and waits for a claim.
//!
//! The counts of deliveries this process holds (reserved, waiting or being sent) live
//! here, shared by the dispatcher and request handlers, so both paths together keep to
//! `max_in_flight`. A webhook may hold up to twice its send cap: the second half waits in
//! memory for a free send slot (at most one timeout, well inside the lease), so bursts of
//! events do not fall back to the outbox.
//!
//! Claims always keep a share: the handoff uses at most three quarters of all places,
//! and a webhook with deliveries due in the outbox (*behind*) at most half its send cap,
//! the rest being left to the claims. So under sustained load the backlog drains while
//! fresh deliveries keep taking the cheap path, and neither starves the other.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::mpsc;

use super::job::Job;
use crate::store::{CommitHook, time};

/// What request handlers and send tasks tell the dispatcher.
pub(super) enum Message {
    /// Committed deliveries, each already counted as held.
    Fresh(Vec<Job>),
    /// A send to this webhook finished.
    Sent(i64, Reply),
    /// A transaction that reserved a place for this webhook rolled back.
    Released(i64),
    /// This webhook's deliveries are held now (its breaker opened, or it was switched
    /// off): the jobs waiting for a send slot are not sent.
    Hold(i64),
}

/// What a finished send says about its receiver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Reply {
    /// A 2xx: the receiver takes deliveries.
    Succeeded,
    /// Anything else: a status, a timeout, no connection.
    Failed,
}

/// Deliveries this process holds, per webhook and in all.
#[derive(Default)]
pub(super) struct Held {
    per_webhook: HashMap<i64, usize>,
    pub total: usize,
    /// Webhooks that were refused a place: they may have deliveries due in the outbox, so
    /// their fresh deliveries go there too until a claim finds their backlog empty.
    pub behind: HashSet<i64>,
    /// A delivery was refused because every place was taken: any freed place, whatever
    /// its webhook, should go to the outbox's due rows.
    pub out_of_places: bool,
}

impl Held {
    pub fn take(&mut self, webhook_id: i64) {
        *self.per_webhook.entry(webhook_id).or_insert(0) += 1;
        self.total += 1;
    }

    pub fn give_back(&mut self, webhook_id: i64) {
        self.total = self.total.saturating_sub(1);
        if let Some(count) = self.per_webhook.get_mut(&webhook_id) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                self.per_webhook.remove(&webhook_id);
            }
        }
    }

    pub fn of(&self, webhook_id: i64) -> usize {
        self.per_webhook.get(&webhook_id).copied().unwrap_or(0)
    }

    /// Webhooks holding at least `count`.
    pub fn at_least(&self, count: usize) -> Vec<i64> {
        self.per_webhook
            .iter()
            .filter(|(_, n)| **n >= count)
            .map(|(id, _)| *id)
            .collect()
    }
}

/// The dispatcher's door for deliveries committed in this process. Shared (in an `Arc`)
/// by the dispatcher and every write transaction.
pub struct Handoff {
    held: Mutex<Held>,
    /// A webhook's send cap: holding this many, it is at its cap.
    per_webhook: usize,
    /// What one webhook may take by handoff: twice its send cap, or half of it while it
    /// is behind.
    held_per_webhook: usize,
    held_per_webhook_behind: usize,
    /// What the handoff may hold in all: three quarters of `max_in_flight`.
    handoff_max: usize,
    lease: Duration,
    /// PostgreSQL: the dispatcher's liveness key, recorded as the lease owner.
    owner: Option<i64>,
    messages: mpsc::UnboundedSender<Message>,
}

/// How a handed-over delivery is leased.
#[derive(Debug, Clone, Copy)]
pub struct Lease {
    pub until: i64,
    pub owner: Option<i64>,
}

impl Handoff {
    pub(super) fn new(
        max_in_flight: usize,
        per_webhook: usize,
        lease: Duration,
        owner: Option<i64>,
        messages: mpsc::UnboundedSender<Message>,
    ) -> Handoff {
        Handoff {
            held: Mutex::new(Held::default()),
            per_webhook: per_webhook.max(1),
            held_per_webhook: per_webhook.max(1) * 2,
            held_per_webhook_behind: per_webhook.max(1) / 2,
            handoff_max: max_in_flight.max(1) - max_in_flight.max(1) / 4,
            lease,
            owner,
            messages,
        }
    }

    pub(super) fn held(&self) -> MutexGuard<'_, Held> {
        // A panic while holding the lock leaves plain counters: still usable.
        self.held
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(super) fn send(&self, message: Message) {
        // The dispatcher gone means the process is stopping; leases cover the rest.
        let _ = self.messages.send(message);
    }

    /// Takes a place for a delivery to `webhook_id` about to be inserted, if the
    /// handoff's share has one free.
    fn reserve(&self, webhook_id: i64) -> Option<Lease> {
        let mut held = self.held();
        if held.total >= self.handoff_max {
            held.out_of_places = true;
            held.behind.insert(webhook_id);
            return None;
        }
        let cap = if held.behind.contains(&webhook_id) {
            self.held_per_webhook_behind
        } else {
            self.held_per_webhook
        };
        if held.of(webhook_id) >= cap {
            held.behind.insert(webhook_id);
            return None;
        }
        held.take(webhook_id);
        Some(Lease {
            until: time::now() + self.lease.as_micros() as i64,
            owner: self.owner,
        })
    }
}

/// The deliveries one write transaction hands over, and the places it holds for them.
/// Committed: they go to the dispatcher. Dropped (rolled back): the places are given back.
pub struct Pending {
    handoff: Arc<Handoff>,
    /// Webhooks with a place reserved and no job yet.
    reserved: Vec<i64>,
    jobs: Vec<Job>,
    /// Whether the transaction wrote to the outbox, and whether what it wrote needs a
    /// claim soon (see [`Pending::needs_claim`]).
    wrote_outbox: bool,
    needs_claim: bool,
}

impl Pending {
    pub fn new(handoff: Arc<Handoff>) -> Pending {
        Pending {
            handoff,
            reserved: Vec::new(),
            jobs: Vec::new(),
            wrote_outbox: false,
            needs_claim: false,
        }
    }

    /// Reserves a place for a delivery to `webhook_id`; `None` means insert it due.
    pub fn reserve(&mut self, webhook_id: i64) -> Option<Lease> {
        self.wrote_outbox = true;
        let lease = self.handoff.reserve(webhook_id)?;
        self.reserved.push(webhook_id);
        Some(lease)
    }

    /// A delivery to `webhook_id` was inserted due (no place was reserved for it).
    pub fn inserted_due(&mut self, webhook_id: i64) {
        self.wrote_outbox = true;
        // At its cap, it is behind: looked at again when one of its sends ends. Below it
        // (out of places in all, or its backlog not yet claimed), wake the dispatcher.
        let mut held = self.handoff.held();
        if held.of(webhook_id) >= self.handoff.per_webhook {
            held.behind.insert(webhook_id);
        } else {
            self.needs_claim = true;
        }
    }

    /// Whether the dispatcher must be woken at commit. Not when everything this
    /// transaction wrote to the outbox was handed over or waits for a webhook at its cap.
    /// Transactions that did not emit (re-deliveries, switching a webhook on) always wake.
    pub fn needs_claim(&self) -> bool {
        !self.wrote_outbox || self.needs_claim
    }

    /// The job of a delivery inserted with a place from [`Pending::reserve`].
    pub fn add(&mut self, job: Job) {
        if let Some(at) = self.reserved.iter().position(|&w| w == job.webhook_id) {
            self.reserved.swap_remove(at);
            self.jobs.push(job);
        }
    }

    /// The transaction committed: send.
    fn hand_over(mut self) {
        let jobs = std::mem::take(&mut self.jobs);
        if !jobs.is_empty() {
            self.handoff.send(Message::Fresh(jobs));
        }
        // Anything still in `reserved` is freed by drop.
    }
}

/// Every write transaction carries one (`Db::on_commit`): `events::record` finds it there.
impl CommitHook for Pending {
    fn wake_on_commit(&self) -> bool {
        self.needs_claim()
    }

    fn committed(self: Box<Self>) {
        self.hand_over();
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        let unsent = self.jobs.drain(..).map(|job| job.webhook_id);
        for webhook_id in self.reserved.drain(..).chain(unsent).collect::<Vec<_>>() {
            self.handoff.send(Message::Released(webhook_id));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn handoff(max: usize, per_webhook: usize) -> (Arc<Handoff>, mpsc::UnboundedReceiver<Message>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let handoff = Handoff::new(max, per_webhook, Duration::from_secs(60), Some(7), tx);
        (Arc::new(handoff), rx)
    }

    fn job(delivery_id: i64, webhook_id: i64) -> Job {
        Job {
            delivery_id,
            message_id: format!("msg_{delivery_id}"),
            webhook_id,
            attempts: 0,
            action: "PING".into(),
            sequence: delivery_id,
            body: bytes::Bytes::from_static(b"{}"),
            destination: Arc::new(super::super::job::Destination {
                url: "http://127.0.0.1:1/".into(),
                headers: vec![],
                secrets: vec![],
                hub_signature: false,
                labelbox_topics: None,
            }),
        }
    }

    #[test]
    fn committed_jobs_reach_the_dispatcher_with_their_slots() {
        let (handoff, mut inbox) = handoff(10, 2);
        let mut pending = Pending::new(handoff.clone());
        let lease = pending.reserve(1).expect("a slot is free");
        assert_eq!(lease.owner, Some(7));
        pending.add(job(100, 1));
        pending.hand_over();
        match inbox.try_recv() {
            Ok(Message::Fresh(jobs)) => assert_eq!(jobs[0].delivery_id, 100),
            _ => panic!("expected the fresh job"),
        }
        assert!(
            inbox.try_recv().is_err(),
            "nothing else: the place stays taken"
        );
        assert_eq!(handoff.held().of(1), 1);
    }

    #[test]
    fn a_rollback_frees_every_reserved_slot() {
        let (handoff, mut inbox) = handoff(10, 2);
        let mut pending = Pending::new(handoff.clone());
        pending.reserve(1).expect("free");
        pending.reserve(2).expect("free");
        pending.add(job(100, 1));
        drop(pending);
        let mut freed = vec![];
        while let Ok(Message::Released(webhook_id)) = inbox.try_recv() {
            freed.push(webhook_id);
        }
        freed.sort_unstable();
        assert_eq!(freed, vec![1, 2]);
    }

    #[test]
    fn a_webhook_at_its_cap_stays_behind_until_cleared() {
        let (handoff, _inbox) = handoff(10, 2);
        let mut pending = Pending::new(handoff.clone());
        for _ in 0..4 {
            assert!(pending.reserve(1).is_some(), "twice the send cap of 2");
        }
        assert!(pending.reserve(1).is_none(), "4 held: full");
        assert!(
            pending.reserve(2).is_some(),
            "other webhooks are not affected"
        );
        for _ in 0..3 {
            handoff.held().give_back(1);
        }
        assert!(
            pending.reserve(1).is_none(),
            "behind and holding 1: half the send cap is left to the claims"
        );
        handoff.held().give_back(1);
        assert!(pending.reserve(1).is_some(), "holding none: room again");
        handoff.held().behind.clear();
        assert!(pending.reserve(1).is_some());
    }

    #[test]
    fn the_handoff_leaves_a_quarter_of_all_places_to_claims() {
        let (handoff, _inbox) = handoff(4, 2);
        let mut pending = Pending::new(handoff.clone());
        assert!(pending.reserve(1).is_some());
        assert!(pending.reserve(2).is_some());
        assert!(pending.reserve(3).is_some());
        assert!(pending.reserve(4).is_none());
        assert_eq!(handoff.held().total, 3);
        assert!(handoff.held().out_of_places, "a freed place must claim");
    }

    #[test]
    fn only_due_work_a_claim_can_take_needs_a_wake_up() {
        let (handoff, _inbox) = handoff(10, 1);
        let untouched = Pending::new(handoff.clone());
        assert!(untouched.needs_claim(), "no emit: wake as always");
        let mut handed = Pending::new(handoff.clone());
        assert!(handed.reserve(1).is_some());
        assert!(!handed.needs_claim(), "everything handed over");
        let mut due = Pending::new(handoff.clone());
        due.inserted_due(2);
        assert!(due.needs_claim(), "webhook 2 has free places");
        let mut at_cap = Pending::new(handoff.clone());
        at_cap.inserted_due(1);
        assert!(!at_cap.needs_claim(), "webhook 1 is at its cap");
        assert!(handoff.held().behind.contains(&1), "and now behind");
    }
}
