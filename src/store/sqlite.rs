//! SQLite on rusqlite: a small connection pool, statements run inline on the calling task,
//! and group commit for the one writer connection.
//!
//! Group commit: every write transaction is a SAVEPOINT inside a shared SQLite
//! transaction. When a transaction commits while others are queued for the writer, its
//! savepoint is released but the SQLite transaction stays open for them; it is committed
//! once, by whoever finds no one else queued, and every member's `commit` returns only
//! after that. Under concurrent load one COMMIT (one WAL append of the pages they share)
//! serves many requests; alone, a transaction commits at once as before. A failed COMMIT
//! fails every member of its group: none of them has answered its client yet.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::sql::{
    Error, Output, Param, Result, Row, Value, Want, WriteFailure, sqlite_write_failure,
};

/// Most transactions one COMMIT serves: bounds how long the first of them waits.
const MAX_GROUP: usize = 64;

pub struct Pool {
    path: String,
    /// `LABELHOOK_SQLITE_MAX_BYTES`: the file may not grow past it (SQLITE_FULL).
    max_bytes: Option<u64>,
    idle: Mutex<Vec<Handle>>,
    permits: Arc<Semaphore>,
    /// `Some` for the writer pool (one connection): the shared transaction.
    group: Option<Mutex<Group>>,
    /// The last generation whose COMMIT is settled (done or failed): members waiting for
    /// theirs learn it without waiting for the writer.
    settled: tokio::sync::watch::Sender<u64>,
}

#[derive(Default)]
struct Group {
    /// A SQLite transaction is open, holding released savepoints that await its COMMIT.
    open: bool,
    /// Numbers the SQLite transactions, so a member knows whether its own was committed.
    generation: u64,
    members: usize,
    /// Tasks queued in `begin`: they will join the open transaction.
    joining: usize,
    /// Generations whose COMMIT failed, with the error, for members still to learn it.
    failed: HashMap<u64, (String, Option<WriteFailure>)>,
}

/// A SQLite connection and, per statement text, its [`Shape`].
pub(super) struct Handle {
    conn: rusqlite::Connection,
    shapes: HashMap<Box<str>, Shape>,
    /// Why the last statement could not write, if that is how it failed: when SQLite then
    /// ends the transaction itself, the other members of its group learn the cause.
    write_failure: Option<WriteFailure>,
}

/// What a statement's text fixes, learnt once: which `$n` each placeholder is (asking
/// SQLite costs a scan per placeholder: quadratic for a statement with thousands), and
/// the names of its result columns (shared by every row it returns).
struct Shape {
    positions: Box<[usize]>,
    columns: Arc<[String]>,
}

impl Pool {
    pub fn new(path: &str, size: usize, max_bytes: Option<u64>) -> Pool {
        Pool {
            path: path.to_string(),
            max_bytes,
            idle: Mutex::new(Vec::new()),
            permits: Arc::new(Semaphore::new(size)),
            group: (size == 1).then(|| Mutex::new(Group::default())),
            settled: tokio::sync::watch::Sender::new(0),
        }
    }

    pub async fn acquire(self: &Arc<Self>) -> Result<Conn> {
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| Error::Closed)?;
        let idle = self.idle.lock().expect("pool lock").pop();
        let handle = match idle {
            Some(handle) => handle,
            None => Handle {
                conn: open(&self.path, self.max_bytes)?,
                shapes: HashMap::new(),
                write_failure: None,
            },
        };
        Ok(Conn {
            handle: Some(handle),
            pool: self.clone(),
            generation: None,
            _permit: permit,
        })
    }

    /// Starts a write transaction: joins the open SQLite transaction, or opens one. A
    /// `large` one (an import, a bulk action) may run long: it commits the open
    /// transaction first and shares its own with no one, so that short ones never wait
    /// for it to finish.
    pub async fn begin(self: &Arc<Self>, large: bool) -> Result<Conn> {
        let Some(group) = &self.group else {
            let mut conn = self.acquire().await?;
            begin_immediate(&mut conn).await?;
            return Ok(conn);
        };
        if large {
            // A plain transaction of its own: no savepoint, whose journal would hold a
            // copy of every page a large transaction touches (in memory: temp_store).
            let mut conn = self.acquire().await?;
            if group.lock().expect("group lock").open {
                self.commit_group(&conn)?;
            }
            begin_immediate(&mut conn).await?;
            return Ok(conn);
        }
        let mut conn = {
            let _joining = Joining::new(group);
            self.acquire().await?
        };
        if !group.lock().expect("group lock").open {
            begin_immediate(&mut conn).await?;
            let mut state = group.lock().expect("group lock");
            state.open = true;
            state.generation += 1;
            state.members = 0;
        }
        execute(conn.get(), "SAVEPOINT labelhook_tx")?;
        let mut state = group.lock().expect("group lock");
        state.members += 1;
        conn.generation = Some(state.generation);
        Ok(conn)
    }

    /// With the writer held (and no transaction open), checkpoints the WAL to its end.
    /// The checkpoint thread does the bulk of the copying beside the writer but can never
    /// catch up with a writer that keeps appending; without a complete checkpoint the
    /// WAL never starts over and grows without bound. This catch-up is short: only what
    /// was appended since the thread's last pass.
    pub async fn checkpoint(self: &Arc<Self>) -> Result<()> {
        let conn = self.acquire().await?;
        let open = self
            .group
            .as_ref()
            .is_some_and(|group| group.lock().expect("group lock").open);
        if open {
            self.commit_group(&conn)?;
        }
        conn.get()
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))?;
        Ok(())
    }

    pub fn close(&self) {
        self.permits.close();
        self.idle.lock().expect("pool lock").clear();
    }

    /// Waits, after releasing its savepoint, for the COMMIT of `generation` (committing it
    /// itself if no one else has when its turn at the writer comes).
    async fn await_commit(self: &Arc<Self>, generation: u64) -> Result<()> {
        let mut unfinished = Unfinished {
            pool: Some(self.clone()),
            generation,
        };
        let mut settled = self.settled.subscribe();
        let outcome = tokio::select! {
            _ = settled.wait_for(|&g| g >= generation) => self.outcome(generation),
            conn = self.acquire() => conn.and_then(|conn| self.finish(&conn, generation)),
        };
        unfinished.pool = None;
        outcome
    }

    /// How the COMMIT of a settled `generation` went.
    fn outcome(&self, generation: u64) -> Result<()> {
        let group = self.group.as_ref().expect("writer pool");
        match group.lock().expect("group lock").failed.remove(&generation) {
            Some((error, failure)) => Err(Error::GroupCommit(error, failure)),
            None => Ok(()),
        }
    }

    /// With the writer held: commits `generation` if it is still open, or reports how its
    /// COMMIT went.
    fn finish(&self, conn: &Conn, generation: u64) -> Result<()> {
        let group = self.group.as_ref().expect("writer pool");
        let settled = {
            let state = group.lock().expect("group lock");
            state.generation != generation || !state.open
        };
        if settled {
            self.outcome(generation)
        } else {
            self.commit_group(conn)
        }
    }

    /// COMMITs the open SQLite transaction.
    fn commit_group(&self, conn: &Conn) -> Result<()> {
        let committed = execute(conn.get(), "COMMIT");
        let group = self.group.as_ref().expect("writer pool");
        let mut state = group.lock().expect("group lock");
        state.open = false;
        let generation = state.generation;
        let outcome = match committed {
            Ok(()) => Ok(()),
            Err(error) => {
                let _ = execute(conn.get(), "ROLLBACK");
                let failure = sqlite_write_failure(&error);
                state
                    .failed
                    .insert(generation, (error.to_string(), failure));
                state.failed.retain(|&g, _| g + 1000 > generation);
                Err(error.into())
            }
        };
        drop(state);
        self.settled.send_replace(generation);
        outcome
    }

    /// SQLite ended the transaction itself (after a disk-full or I/O error): every member
    /// of the group fails.
    fn lost_group(&self, why: String, failure: Option<WriteFailure>) {
        if let Some(group) = &self.group {
            let mut state = group.lock().expect("group lock");
            if state.open {
                state.open = false;
                let generation = state.generation;
                state.failed.insert(generation, (why, failure));
                drop(state);
                self.settled.send_replace(generation);
            }
        }
    }

    /// Whether a committing member should leave the SQLite transaction open for others.
    fn others_joining(&self) -> bool {
        self.group.as_ref().is_some_and(|group| {
            let state = group.lock().expect("group lock");
            state.joining > 0 && state.members < MAX_GROUP
        })
    }
}

/// Counts a task queued in `begin` for as long as it waits (also if it is cancelled).
struct Joining<'a>(&'a Mutex<Group>);

impl<'a> Joining<'a> {
    fn new(group: &'a Mutex<Group>) -> Self {
        group.lock().expect("group lock").joining += 1;
        Joining(group)
    }
}

impl Drop for Joining<'_> {
    fn drop(&mut self) {
        self.0.lock().expect("group lock").joining -= 1;
    }
}

/// If a member stops waiting for its group's COMMIT (its request was cancelled), the
/// COMMIT must still happen for the others: a task takes over the wait.
struct Unfinished {
    pool: Option<Arc<Pool>>,
    generation: u64,
}

impl Drop for Unfinished {
    fn drop(&mut self) {
        if let Some(pool) = self.pool.take()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            let generation = self.generation;
            runtime.spawn(async move {
                if let Ok(conn) = pool.acquire().await {
                    let _ = pool.finish(&conn, generation);
                }
            });
        }
    }
}

/// A pooled SQLite connection; goes back to its pool when dropped.
pub struct Conn {
    handle: Option<Handle>,
    pool: Arc<Pool>,
    /// Inside a write transaction of the writer pool: the SQLite transaction it is in.
    generation: Option<u64>,
    _permit: OwnedSemaphorePermit,
}

impl Conn {
    pub(super) fn get(&self) -> &rusqlite::Connection {
        &self.handle().conn
    }

    fn handle(&self) -> &Handle {
        self.handle
            .as_ref()
            .expect("connection present until dropped")
    }

    pub(super) fn handle_mut(&mut self) -> &mut Handle {
        self.handle
            .as_mut()
            .expect("connection present until dropped")
    }

    /// Commits a write transaction begun by [`Pool::begin`].
    pub async fn commit(mut self) -> Result<()> {
        let Some(generation) = self.generation.take() else {
            // Not grouped (a large transaction, or a pool of several connections).
            if let Err(error) = execute(self.get(), "COMMIT") {
                let _ = execute(self.get(), "ROLLBACK");
                return Err(error.into());
            }
            return Ok(());
        };
        if let Err(error) = execute(self.get(), "RELEASE labelhook_tx") {
            self.generation = Some(generation);
            self.rollback();
            return Err(error.into());
        }
        let pool = self.pool.clone();
        if pool.others_joining() {
            drop(self); // the writer goes to the next in line; the transaction stays open
            pool.await_commit(generation).await
        } else {
            pool.commit_group(&self)
        }
    }

    /// Undoes a write transaction begun by [`Pool::begin`] (and not committed).
    pub fn rollback(&mut self) {
        let Some(_generation) = self.generation.take() else {
            let _ = execute(self.get(), "ROLLBACK");
            return;
        };
        let undone = execute(self.get(), "ROLLBACK TO labelhook_tx")
            .and_then(|()| execute(self.get(), "RELEASE labelhook_tx"));
        if self.get().is_autocommit() {
            let why = match undone {
                Err(error) => format!("the transaction was rolled back: {error}"),
                Ok(()) => "the transaction was rolled back".to_string(),
            };
            let failure = self.handle_mut().write_failure.take();
            self.pool.lost_group(why, failure);
        } else if !self.pool.others_joining() {
            // Earlier members may be waiting for this transaction's COMMIT.
            let _ = self.pool.commit_group(self);
        }
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        if self.generation.is_some() {
            self.rollback();
        }
        if let Some(handle) = self.handle.take() {
            self.pool.idle.lock().expect("pool lock").push(handle);
        }
    }
}

/// A statement without parameters or rows, prepared once per connection.
fn execute(conn: &rusqlite::Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([])?;
    Ok(())
}

/// `BEGIN IMMEDIATE`, waiting without blocking the thread while another process (an
/// `import` or `admin` command) holds the write lock. Once it holds the lock, nothing in a
/// WAL database makes the transaction wait again.
async fn begin_immediate(conn: &mut Conn) -> Result<()> {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut pause = std::time::Duration::from_millis(1);
    conn.get().busy_timeout(std::time::Duration::ZERO)?;
    let began = loop {
        let attempt = execute(conn.get(), "BEGIN IMMEDIATE");
        match attempt {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::DatabaseBusy
                    && tokio::time::Instant::now() < deadline =>
            {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(std::time::Duration::from_millis(50));
            }
            other => break other,
        }
    };
    conn.get()
        .busy_timeout(std::time::Duration::from_secs(10))?;
    Ok(began?)
}

fn open(path: &str, max_bytes: Option<u64>) -> Result<rusqlite::Connection> {
    use rusqlite::OpenFlags;
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_URI
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = rusqlite::Connection::open_with_flags(path, flags)?;
    // 1 KiB pages (a new file only; an existing one keeps its size). A commit appends
    // every page it changed, whole, to the WAL; an annotation and the outcome of its
    // delivery change some 25 pages (rows and index entries in different places), adding
    // a few dozen bytes to each: ~110 KB written with 4 KiB pages, a third of it with
    // 1 KiB pages, and the CPU of checksums and copies with it (docs/benchmarks.md).
    // WAL: readers never block the writer; NORMAL sync is durable across process crashes
    // (a power cut can lose the last transactions, never corrupt the file).
    conn.execute_batch(
        "PRAGMA page_size = 1024; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; \
         PRAGMA busy_timeout = 10000; PRAGMA temp_store = MEMORY; \
         PRAGMA wal_autocheckpoint = 0; PRAGMA journal_size_limit = 67108864;",
    )?;
    conn.set_prepared_statement_cache_capacity(256);
    if let Some(max_bytes) = max_bytes {
        // A per-connection limit, in pages of this file's size.
        let page_size: u64 = conn.query_row("PRAGMA page_size", [], |row| row.get(0))?;
        let pages = (max_bytes / page_size.max(1)).max(1);
        conn.query_row(&format!("PRAGMA max_page_count = {pages}"), [], |_| Ok(()))?;
    }
    Ok(conn)
}

/// Checkpoints the WAL into the database file from a thread of its own, every 100 ms,
/// for as long as the returned token lives. (SQLite's automatic checkpoint runs inside
/// whichever COMMIT crosses the threshold, fsync included: a stall of milliseconds for
/// that request and every one queued behind the writer. A passive checkpoint on another
/// connection runs beside the writer instead; [`Pool::checkpoint`] finishes the job.)
pub fn spawn_checkpointer(path: &str) -> anyhow::Result<Arc<()>> {
    let conn = open(path, None)?;
    let alive = Arc::new(());
    let watch = Arc::downgrade(&alive);
    std::thread::Builder::new()
        .name("sqlite-checkpoint".into())
        .spawn(move || {
            while watch.upgrade().is_some() {
                match conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                    Err(rusqlite::Error::SqliteFailure(e, _))
                        if e.code == rusqlite::ErrorCode::DatabaseBusy => {} // another checkpoint
                    Err(error) => tracing::warn!(%error, "WAL checkpoint failed"),
                    Ok(()) => {}
                }
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
        })?;
    Ok(alive)
}

/// Runs one statement with its parameters.
pub(super) fn run(handle: &mut Handle, sql: &str, params: &[Param], want: Want) -> Result<Output> {
    let output = run_statement(handle, sql, params, want);
    if let Err(error) = &output
        && let Some(failure) = error.write_failure()
    {
        handle.write_failure = Some(failure);
    }
    output
}

fn run_statement(handle: &mut Handle, sql: &str, params: &[Param], want: Want) -> Result<Output> {
    use rusqlite::types::{ToSqlOutput, ValueRef};
    let conn = &handle.conn;
    let mut statement = conn.prepare_cached(sql)?;
    // `$n` names the n-th parameter, wherever (and however often) it appears.
    if !handle.shapes.contains_key(sql) {
        if handle.shapes.len() >= 1024 {
            handle.shapes.clear();
        }
        let positions = (1..=statement.parameter_count())
            .map(|index| {
                statement
                    .parameter_name(index)
                    .and_then(|name| name.strip_prefix('$'))
                    .and_then(|n| n.parse::<usize>().ok())
                    .unwrap_or(index)
            })
            .collect();
        let columns = statement
            .column_names()
            .iter()
            .map(|name| name.to_string())
            .collect();
        handle
            .shapes
            .insert(sql.into(), Shape { positions, columns });
    }
    let shape = &handle.shapes[sql];
    for (slot, &position) in shape.positions.iter().enumerate() {
        let index = slot + 1;
        let param = position
            .checked_sub(1)
            .and_then(|i| params.get(i))
            .ok_or_else(|| Error::Column {
                column: format!("${position}"),
                problem: format!("the query has no parameter ${position}: `{sql}`"),
            })?;
        let value = match param {
            Param::Int(n) => ToSqlOutput::Borrowed(ValueRef::Integer(*n)),
            Param::Real(x) => ToSqlOutput::Borrowed(ValueRef::Real(*x)),
            Param::Text(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
            Param::Blob(b) => ToSqlOutput::Borrowed(ValueRef::Blob(b)),
            Param::Null(_) => ToSqlOutput::Borrowed(ValueRef::Null),
        };
        statement.raw_bind_parameter(index, value)?;
    }
    let columns = shape.columns.clone();
    let width = columns.len();
    let mut rows = Vec::new();
    let mut cursor = statement.raw_query();
    while let Some(row) = cursor.next()? {
        if want == Want::Nothing {
            continue; // a statement runs to its end
        }
        let mut values = Vec::with_capacity(width);
        for i in 0..width {
            values.push(match row.get_ref(i)? {
                ValueRef::Null => Value::Null,
                ValueRef::Integer(n) => Value::Int(n),
                ValueRef::Real(x) => Value::Real(x),
                ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
                ValueRef::Blob(b) => Value::Blob(b.to_vec()),
            });
        }
        rows.push(Row {
            columns: columns.clone(),
            values,
        });
        if want == Want::First {
            break; // SQLite makes every change of a statement at its first step
        }
    }
    Ok(Output {
        rows,
        affected: conn.changes(),
    })
}
