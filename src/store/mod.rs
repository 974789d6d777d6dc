//! The database: SQLite by default, PostgreSQL for scale-out, behind sqlx's `Any` driver so
//! that one set of queries serves both.
//!
//! Conventions that keep the queries portable:
//! - parameters are written `$1, $2, ...` (both backends accept them);
//! - times are `BIGINT` microseconds since the Unix epoch (UTC), rendered by [`time`];
//! - booleans are `BIGINT` 0/1 (the `Any` driver cannot decode SQLite booleans);
//! - JSON documents are `TEXT`.
//!
//! Every write goes through [`Db::begin`] and [`Db::commit`]: `commit` also wakes the
//! delivery dispatcher, so an event committed by any write is sent at once.

pub mod schema;
pub mod time;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{Any, AnyPool, Transaction};
use tokio::sync::Notify;

pub type Tx = Transaction<'static, Any>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Handle to the database, cheap to clone.
#[derive(Clone)]
pub struct Db {
    /// Pool for transactions that write. On SQLite it holds one connection: SQLite has one
    /// writer at a time, and queueing in the pool is cheaper than retrying on `SQLITE_BUSY`.
    write: AnyPool,
    /// Pool for reads (SQLite's WAL lets readers run beside the writer).
    read: AnyPool,
    pub backend: Backend,
    /// Signalled after every commit: new outbox rows may be waiting.
    outbox: Arc<Notify>,
    /// The URL it was opened with (PostgreSQL listeners open their own connection).
    url: Arc<str>,
}

/// The PostgreSQL channel every commit notifies, so every process's dispatcher wakes.
pub const OUTBOX_CHANNEL: &str = "labelhook_outbox";

impl Db {
    /// Opens (creating if needed) the database at `url` and brings its schema up to date.
    pub async fn open(url: &str) -> anyhow::Result<Db> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            anyhow::bail!("unsupported database URL `{url}`: use sqlite://path or postgres://...");
        };
        let (write, read) = match backend {
            Backend::Sqlite => {
                let url = sqlite_url(url);
                let options = AnyConnectOptions::from_str(&url)?;
                let write = AnyPoolOptions::new()
                    .max_connections(1)
                    .after_connect(|conn, _| Box::pin(async move { sqlite_pragmas(conn).await }))
                    .connect_with(options.clone())
                    .await?;
                // Create the schema (and the WAL file) before readers open the database.
                schema::migrate(&write, backend).await?;
                let read = AnyPoolOptions::new()
                    .max_connections(8)
                    .after_connect(|conn, _| Box::pin(async move { sqlite_pragmas(conn).await }))
                    .connect_with(options)
                    .await?;
                (write, read)
            }
            Backend::Postgres => {
                let pool = AnyPoolOptions::new()
                    .max_connections(16)
                    .acquire_timeout(Duration::from_secs(30))
                    .connect(url)
                    .await?;
                schema::migrate(&pool, backend).await?;
                (pool.clone(), pool)
            }
        };
        Ok(Db {
            write,
            read,
            backend,
            outbox: Arc::new(Notify::new()),
            url: url.into(),
        })
    }

    /// Pool for plain reads.
    pub fn reader(&self) -> &AnyPool {
        &self.read
    }

    /// Starts a write transaction.
    pub async fn begin(&self) -> sqlx::Result<Tx> {
        self.write.begin().await
    }

    /// Commits a write transaction and wakes the dispatcher (on PostgreSQL, every
    /// process's: the notification is sent when the transaction commits).
    pub async fn commit(&self, mut tx: Tx) -> sqlx::Result<()> {
        if self.backend == Backend::Postgres {
            sqlx::query("SELECT pg_notify($1, '')")
                .bind(OUTBOX_CHANNEL)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        self.outbox.notify_one();
        Ok(())
    }

    /// Resolves when something was committed since the last call (or at once if so).
    pub async fn committed(&self) {
        self.outbox.notified().await
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// A connection of its own, outside the pools (held for the process's lifetime).
    pub async fn dedicated_connection(&self) -> sqlx::Result<sqlx::AnyConnection> {
        use sqlx::Connection;
        sqlx::AnyConnection::connect(&self.url).await
    }

    pub fn wake_dispatcher(&self) {
        self.outbox.notify_one();
    }

    pub async fn close(&self) {
        self.write.close().await;
        self.read.close().await;
    }
}

/// `sqlite://file.db` → create the file when missing.
fn sqlite_url(url: &str) -> String {
    if url.contains("mode=") || url.contains(":memory:") {
        url.to_string()
    } else if url.contains('?') {
        format!("{url}&mode=rwc")
    } else {
        format!("{url}?mode=rwc")
    }
}

async fn sqlite_pragmas(conn: &mut sqlx::AnyConnection) -> sqlx::Result<()> {
    use sqlx::Executor;
    // WAL: readers never block the writer; NORMAL sync is durable across process crashes
    // (a power cut can lose the last transactions, never corrupt the file).
    conn.execute(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; \
         PRAGMA busy_timeout = 10000;",
    )
    .await?;
    Ok(())
}

/// A nullable float to bind, written into SQL as `CAST($n AS DOUBLE PRECISION)`.
///
/// sqlx's `Any` driver declares a NULL `f64` parameter to PostgreSQL as `float4`; the
/// statement is cached with that type and the next non-null `f64` then fails to bind. Text
/// has one type whether null or not, and both backends cast it exactly.
pub fn nullable_float(value: Option<f64>) -> Option<String> {
    value.map(|v| format!("{v:?}"))
}

/// Converts a Rust bool to the 0/1 stored in the database.
pub fn flag(value: bool) -> i64 {
    i64::from(value)
}
