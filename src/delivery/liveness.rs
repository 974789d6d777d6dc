//! Which dispatcher processes are alive, so the leases of a dead one are taken over at once
//! instead of when they run out (PostgreSQL only; SQLite has one process).
//!
//! Each process picks a random key and holds the PostgreSQL advisory lock of that key on a
//! connection of its own for as long as it lives. Claims record the key as `lease_owner`.
//! When a process dies, even by SIGKILL, its connection closes and PostgreSQL drops the
//! lock: any other process that can take the lock knows the owner is gone and releases its
//! leases. The lease end stays as the fallback (for example a process that hangs).
//!
//! The lock lives as long as its connection, and a connection can be lost while the
//! process lives (a database restart, `pg_terminate_backend`, a network cut): the others
//! would then take this live process's deliveries over at every sweep (duplicates) and
//! it could take over no one. So the dispatcher checks the connection four times a
//! second (the others sweep once a second), and when it is gone takes the same key again
//! on a new one, logging the loss and the recovery: at most one take-over of a live
//! process's deliveries per loss, usually none.

use std::time::Instant;

use crate::store::{self, Conn};
use crate::store::{Db, time};

pub struct Liveness {
    key: i64,
    /// The connection holding the lock; `None` while it is lost and not yet taken back.
    conn: Option<Conn>,
    /// When the lock was found lost (for the log).
    lost_since: Option<Instant>,
}

impl Liveness {
    /// Registers this process; `None` on SQLite, where there is nothing to coordinate.
    pub async fn register(db: &Db) -> store::Result<Option<Liveness>> {
        if !db.backend.shared() {
            return Ok(None);
        }
        let mut conn = db.dedicated_connection().await?;
        let key = loop {
            let candidate = rand::random::<i64>() & i64::MAX;
            let row = store::query("SELECT pg_try_advisory_lock($1) AS locked")
                .bind(candidate)
                .fetch_one(&mut conn)
                .await?;
            if row.try_get::<bool, _>("locked")? {
                break candidate;
            }
        };
        tracing::info!(dispatcher = key, "dispatcher registered");
        Ok(Some(Liveness {
            key,
            conn: Some(conn),
            lost_since: None,
        }))
    }

    pub fn key(&self) -> i64 {
        self.key
    }

    /// Whether this process holds its lock: checks its connection and, if it was lost,
    /// takes the lock back on a new one. `false` while that fails (the database is out of
    /// reach, or another process is just taking over this one's leases and holds the key
    /// for that moment): the next sweep tries again.
    pub async fn hold(&mut self, db: &Db) -> store::Result<bool> {
        if let Some(conn) = self.conn.as_mut() {
            match store::query("SELECT 1").execute(conn).await {
                Ok(_) => return Ok(true),
                Err(error) => {
                    tracing::warn!(
                        dispatcher = self.key,
                        %error,
                        "lost the liveness lock (its PostgreSQL connection is gone): taking it back"
                    );
                    self.conn = None;
                    self.lost_since = Some(Instant::now());
                }
            }
        }
        let mut conn = db.dedicated_connection().await?;
        let row = store::query("SELECT pg_try_advisory_lock($1) AS locked")
            .bind(self.key)
            .fetch_one(&mut conn)
            .await?;
        if !row.try_get::<bool, _>("locked")? {
            return Ok(false);
        }
        tracing::info!(
            dispatcher = self.key,
            after_ms = self
                .lost_since
                .take()
                .map(|t| t.elapsed().as_millis() as u64),
            "took the liveness lock back"
        );
        self.conn = Some(conn);
        Ok(true)
    }

    /// Releases the leases of processes that no longer hold their lock. Returns how many.
    /// First makes sure this process holds its own (see [`Liveness::hold`]).
    pub async fn take_over_dead(&mut self, db: &Db) -> store::Result<u64> {
        if !self.hold(db).await? {
            return Ok(0);
        }
        let Some(conn) = self.conn.as_mut() else {
            return Ok(0);
        };
        let owners: Vec<i64> = store::query_scalar(
            "SELECT DISTINCT lease_owner FROM deliveries WHERE lease_owner IS NOT NULL \
             AND lease_owner <> $1 AND status = 'pending'",
        )
        .bind(self.key)
        .fetch_all(db.reader())
        .await?;
        let mut released = 0;
        for owner in owners {
            let row = store::query("SELECT pg_try_advisory_lock($1) AS locked")
                .bind(owner)
                .fetch_one(&mut *conn)
                .await?;
            if !row.try_get::<bool, _>("locked")? {
                continue;
            }
            let now = time::now();
            let mut tx = db.begin().await?;
            released += store::query(
                "UPDATE deliveries SET next_attempt_at = $1, lease_until = NULL, lease_owner = NULL \
                 WHERE lease_owner = $2 AND status = 'pending'",
            )
            .bind(now)
            .bind(owner)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            tx.commit().await?;
            store::query("SELECT pg_advisory_unlock($1)")
                .bind(owner)
                .execute(&mut *conn)
                .await?;
            tracing::warn!(
                dead_dispatcher = owner,
                released,
                "took over the deliveries of a stopped process"
            );
        }
        Ok(released)
    }
}

/// PostgreSQL: wakes this process's dispatcher whenever any process commits (LISTEN on the
/// channel `Db::commit` notifies). Polling stays as the safety net if the listener drops.
pub fn spawn_listener(db: Db) -> Option<tokio::task::JoinHandle<()>> {
    if !db.backend.shared() {
        return None;
    }
    Some(tokio::spawn(async move {
        loop {
            match sqlx::postgres::PgListener::connect(db.url()).await {
                Ok(mut listener) => {
                    if let Err(error) = listener.listen(crate::store::OUTBOX_CHANNEL).await {
                        tracing::error!(error = %error, "LISTEN failed");
                    } else {
                        while listener.recv().await.is_ok() {
                            db.wake_dispatcher();
                        }
                    }
                }
                Err(error) => {
                    tracing::error!(error = %error, "could not open the notification listener")
                }
            }
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        }
    }))
}
