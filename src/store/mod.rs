//! The database: SQLite by default, PostgreSQL for scale-out, behind one small query layer
//! ([`sql`]) so that one set of queries serves both.
//!
//! Conventions that keep the queries portable:
//! - parameters are written `$1, $2, ...` (both backends accept them);
//! - times are `BIGINT` microseconds since the Unix epoch (UTC), rendered by [`time`];
//! - booleans are `BIGINT` 0/1 (one type on both backends);
//! - JSON documents are `TEXT`.
//!
//! Every write goes through [`Db::begin`] and [`Db::commit`]: `commit` also wakes whoever
//! waits for committed work (the delivery dispatcher), so an event committed by any write
//! is sent at once. A higher layer that must act at commit attaches a [`CommitHook`] to
//! every write transaction ([`Db::on_commit`]).

pub mod counters;
pub mod health;
pub mod hook;
pub mod horizon;
pub mod schema;
pub mod sql;
mod sqlite;
pub mod time;

use std::sync::{Arc, OnceLock};

use tokio::sync::{Notify, watch};

pub use hook::{CommitHook, CommitHooks};
pub use sql::{
    Conn, Error, Pool, Query, Result, Row, Tx, WriteFailure, fetch_by_ids, id_params, query,
    query_scalar,
};

/// How to open the database, beyond its URL.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// SQLite: the size the file may reach (`LABELHOOK_SQLITE_MAX_BYTES`).
    pub sqlite_max_bytes: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// What the backends differ in, for the queries of higher layers (which never name a
/// backend). Row locks: PostgreSQL takes them; on SQLite they are empty, since a write
/// transaction already holds the whole database.
impl Backend {
    /// Whether other processes may use the same database at once (PostgreSQL). SQLite is
    /// used by this process alone: at start-up, nothing it left unfinished belongs to a
    /// live process.
    pub fn shared(self) -> bool {
        self == Backend::Postgres
    }

    /// ` FOR UPDATE`: lock the rows selected until commit.
    pub fn for_update(self) -> &'static str {
        self.lock(" FOR UPDATE")
    }

    /// ` FOR UPDATE SKIP LOCKED`: lock the rows selected, skipping those another
    /// transaction holds.
    pub fn for_update_skip_locked(self) -> &'static str {
        self.lock(" FOR UPDATE SKIP LOCKED")
    }

    /// ` FOR KEY SHARE`: keep the rows selected from being deleted until commit.
    pub fn for_key_share(self) -> &'static str {
        self.lock(" FOR KEY SHARE")
    }

    /// ` FOR UPDATE OF <alias>`: lock the rows of one table of a join until commit.
    pub fn for_update_of(self, alias: &str) -> String {
        match self {
            Backend::Postgres => format!(" FOR UPDATE OF {alias}"),
            Backend::Sqlite => String::new(),
        }
    }

    fn lock(self, clause: &'static str) -> &'static str {
        match self {
            Backend::Postgres => clause,
            Backend::Sqlite => "",
        }
    }

    /// Whether the SQL has `LATERAL` joins (PostgreSQL).
    pub fn has_lateral(self) -> bool {
        self == Backend::Postgres
    }

    /// Whether a `WITH` may hold an `INSERT ... RETURNING` whose rows the statement goes
    /// on to use (PostgreSQL): several writes in one round trip. (SQLite's statements run
    /// in the process: a round trip costs it nothing.)
    pub fn has_writable_cte(self) -> bool {
        self == Backend::Postgres
    }
}

/// Handle to the database, cheap to clone.
#[derive(Clone)]
pub struct Db {
    /// Pool for transactions that write. On SQLite it holds one connection: SQLite has one
    /// writer at a time, and queueing in the pool is cheaper than retrying on `SQLITE_BUSY`.
    write: Pool,
    /// Pool for reads (SQLite's WAL lets readers run beside the writer).
    read: Pool,
    pub backend: Backend,
    /// Signalled after every commit: new outbox rows may be waiting.
    outbox: Arc<Notify>,
    /// Counts this process's commits, for whoever waits for new events (the event
    /// stream's long polls): every waiter wakes, unlike `outbox`'s one.
    commits: Arc<watch::Sender<u64>>,
    /// The hooks of write transactions, once a higher layer asked for them (see `hook`).
    hooks: Arc<OnceLock<CommitHooks>>,
    /// The URL it was opened with (PostgreSQL listeners open their own connection).
    url: Arc<str>,
    /// SQLite: keeps the WAL checkpoint thread running while the database is in use.
    _checkpointer: Option<Arc<()>>,
}

/// The PostgreSQL channel every commit notifies, so every process's dispatcher wakes.
pub const OUTBOX_CHANNEL: &str = "labelhook_outbox";

impl Db {
    /// Opens (creating if needed) the database at `url` and brings its schema up to date.
    pub async fn open(url: &str) -> anyhow::Result<Db> {
        Db::open_with(url, &Options::default()).await
    }

    /// [`Db::open`] with options.
    pub async fn open_with(url: &str, options: &Options) -> anyhow::Result<Db> {
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            anyhow::bail!("unsupported database URL `{url}`: use sqlite://path or postgres://...");
        };
        let mut checkpointer = None;
        let (write, read) = match backend {
            Backend::Sqlite => {
                let path = sqlite_path(url);
                let limit = options.sqlite_max_bytes;
                let write = Pool::sqlite_limited(&path, 1, limit);
                // Create the schema (and the WAL file) before readers open the database.
                schema::migrate(&write, backend).await?;
                checkpointer = Some(sqlite::spawn_checkpointer(&path)?);
                spawn_wal_catch_up(&write, checkpointer.as_ref().expect("just set"));
                (write, Pool::sqlite_limited(&path, 8, limit))
            }
            Backend::Postgres => {
                let pool = Pool::postgres(url, 16).await?;
                schema::migrate(&pool, backend).await?;
                (pool.clone(), pool)
            }
        };
        Ok(Db {
            write,
            read,
            backend,
            outbox: Arc::new(Notify::new()),
            commits: Arc::new(watch::Sender::new(0)),
            hooks: Arc::new(OnceLock::new()),
            url: url.into(),
            _checkpointer: checkpointer,
        })
    }

    /// Pool for plain reads.
    pub fn reader(&self) -> &Pool {
        &self.read
    }

    /// Starts a write transaction.
    pub async fn begin(&self) -> Result<Tx> {
        let tx = self.write.begin().await?;
        Ok(self.with_hook(tx))
    }

    /// Runs `change` in a write transaction and commits it (with [`Db::commit`]: the commit
    /// hook, the dispatcher's wake-up) if it succeeds; on an error the transaction is
    /// dropped, which rolls it back. The shape of every request that writes.
    pub async fn write<T, E: From<Error>>(
        &self,
        change: impl AsyncFnOnce(&mut Tx) -> std::result::Result<T, E>,
    ) -> std::result::Result<T, E> {
        let mut tx = self.begin().await?;
        let value = change(&mut tx).await?;
        self.commit(tx).await?;
        Ok(value)
    }

    /// Starts a write transaction that may run long (an import, a bulk action): on
    /// SQLite, short transactions never wait for it to finish to see their own commit.
    pub async fn begin_large(&self) -> Result<Tx> {
        let tx = self.write.begin_large().await?;
        Ok(self.with_hook(tx))
    }

    fn with_hook(&self, mut tx: Tx) -> Tx {
        if let Some(hooks) = self.hooks.get() {
            tx.set_hook(hooks());
        }
        tx
    }

    /// From now on every write transaction carries a hook made by `hooks` (set once: the
    /// dispatcher does it when it starts).
    pub fn on_commit(&self, hooks: CommitHooks) {
        let _ = self.hooks.set(hooks);
    }

    /// PostgreSQL: lets this transaction's commit return before its WAL flush
    /// (`synchronous_commit = off`). Only for the dispatcher's leases and outcomes: if the
    /// database server crashes, the last of them may be lost, which means a delivery is
    /// sent again (at least once) and its attempt may be missing from the log, never that
    /// an event is lost. The disk's flushes are kept for the changes users make. (SQLite
    /// in WAL mode with `synchronous = NORMAL` never waits for a flush at commit.)
    pub async fn skip_flush_wait(&self, tx: &mut Tx) -> Result<()> {
        if self.backend == Backend::Postgres {
            query("SET LOCAL synchronous_commit = off")
                .execute(tx)
                .await?;
        }
        Ok(())
    }

    /// Commits a write transaction and wakes the dispatcher (on PostgreSQL, every
    /// process's: the notification is sent when the transaction commits), unless the
    /// transaction's hook says there is nothing to wake it for.
    pub async fn commit(&self, mut tx: Tx) -> Result<()> {
        let wake = tx.wakes_on_commit();
        if wake && self.backend == Backend::Postgres {
            query("SELECT pg_notify($1, '')")
                .bind(OUTBOX_CHANNEL)
                .execute(&mut tx)
                .await?;
        }
        tx.commit().await?;
        if wake {
            self.outbox.notify_one();
        }
        self.commits.send_modify(|n| *n = n.wrapping_add(1));
        Ok(())
    }

    /// Changes after each commit made through [`Db::commit`] in this process (other
    /// processes' commits are not seen: a waiter on PostgreSQL also reads again now and
    /// then).
    pub fn commits(&self) -> watch::Receiver<u64> {
        self.commits.subscribe()
    }

    /// Resolves when something was committed since the last call (or at once if so).
    pub async fn committed(&self) {
        self.outbox.notified().await
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// A PostgreSQL connection of its own, outside the pools (held for the process's
    /// lifetime).
    pub async fn dedicated_connection(&self) -> Result<Conn> {
        Conn::connect_postgres(&self.url).await
    }

    pub fn wake_dispatcher(&self) {
        self.outbox.notify_one();
    }

    pub async fn close(&self) {
        self.write.close().await;
        self.read.close().await;
    }
}

/// Once a second, lets the WAL start over (see [`sql::Pool::checkpoint`]), for as long
/// as the database is open.
fn spawn_wal_catch_up(write: &Pool, alive: &Arc<()>) {
    let (write, alive) = (write.clone(), Arc::downgrade(alive));
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            if alive.upgrade().is_none() {
                return;
            }
            if let Err(error) = write.checkpoint().await {
                tracing::warn!(%error, "WAL checkpoint failed");
            }
        }
    });
}

/// `sqlite://file.db`, `sqlite:file.db` or `sqlite::memory:` → what SQLite opens. Options
/// after `?` are ignored: the file is always created when missing.
fn sqlite_path(url: &str) -> String {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    let path = rest.split('?').next().unwrap_or(rest);
    if path == ":memory:" || path.is_empty() {
        // One in-memory database shared by the pools' connections.
        format!(
            "file:labelhook-{}?mode=memory&cache=shared",
            uuid::Uuid::new_v4()
        )
    } else {
        path.to_string()
    }
}

/// What is stored for a token: its SHA-256, in hex. Tokens are random (40 alphanumeric
/// characters, 238 bits), so a plain digest cannot be reversed by guessing; a salt or a
/// slow hash would only cost every request. (A weak `LABELHOOK_ADMIN_TOKEN` is the one a
/// copy of the database could expose to guessing: choose a long random one.)
pub fn token_digest(token: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Converts a Rust bool to the 0/1 stored in the database.
pub fn flag(value: bool) -> i64 {
    i64::from(value)
}
