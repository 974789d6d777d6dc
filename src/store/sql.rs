//! The one way the code talks SQL: `query(...).bind(...).fetch_one(&mut conn)`, the same
//! call for both backends.
//!
//! - SQLite runs on rusqlite, **inline** on the calling thread. Statements take
//!   microseconds; handing each one to a worker thread and waking the task again (what an
//!   async SQLite driver does) cost more than the statement itself, several times per
//!   request.
//! - PostgreSQL runs on sqlx's native driver, which is asynchronous for real.
//!
//! Rows are decoded into [`Value`]s, so callers read both backends the same way
//! (`row.try_get::<i64, _>("id")`). Parameters are written `$1, $2, ...` and may repeat.

use std::marker::PhantomData;
use std::sync::Arc;

use sqlx::postgres::{PgArguments, PgRow};
use sqlx::{Column as _, Row as _, TypeInfo as _, ValueRef as _};

use super::hook::CommitHook;
use super::sqlite;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("SQLite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("PostgreSQL: {0}")]
    Postgres(#[from] sqlx::Error),
    #[error("the query returned no rows")]
    RowNotFound,
    #[error("column `{column}`: {problem}")]
    Column { column: String, problem: String },
    #[error("the database is closed")]
    Closed,
    #[error("SQLite: the shared commit failed: {0}")]
    GroupCommit(String, Option<WriteFailure>),
}

pub type Result<T> = std::result::Result<T, Error>;

/// A failed query fails the operation with a 500 (the details go to the server log).
impl From<Error> for crate::shared::Error {
    fn from(error: Error) -> Self {
        crate::shared::Error::Internal(error.into())
    }
}

/// Why the database cannot take a write, when an error says so: such errors are the
/// database's state, not a bug, and are answered 503 (see `store::health`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteFailure {
    /// No space left: the disk, or `LABELHOOK_SQLITE_MAX_BYTES` (SQLite), is full.
    Full,
    /// The database accepts no writes (a read-only file or a standby server).
    ReadOnly,
    /// The storage failed to write (an I/O error).
    Io,
}

impl WriteFailure {
    /// Says what happened, for a client and for `/health`.
    pub fn describe(self) -> &'static str {
        match self {
            WriteFailure::Full => "The database is full: no space left to write.",
            WriteFailure::ReadOnly => "The database is read-only: it takes no writes.",
            WriteFailure::Io => "The database cannot write: an I/O error on its storage.",
        }
    }

    /// A short label for metrics.
    pub fn label(self) -> &'static str {
        match self {
            WriteFailure::Full => "full",
            WriteFailure::ReadOnly => "read_only",
            WriteFailure::Io => "io",
        }
    }
}

impl Error {
    /// Whether this error means the database cannot take writes, and why.
    pub fn write_failure(&self) -> Option<WriteFailure> {
        match self {
            Error::Sqlite(error) => sqlite_write_failure(error),
            Error::Postgres(sqlx::Error::Database(error)) => {
                match error.code().as_deref() {
                    Some("53100") => Some(WriteFailure::Full),     // disk_full
                    Some("25006") => Some(WriteFailure::ReadOnly), // read_only_sql_transaction
                    Some(code) if code.starts_with("58") => Some(WriteFailure::Io), // system_error
                    _ => None,
                }
            }
            Error::GroupCommit(_, failure) => *failure,
            _ => None,
        }
    }
}

pub(super) fn sqlite_write_failure(error: &rusqlite::Error) -> Option<WriteFailure> {
    match error.sqlite_error_code()? {
        rusqlite::ErrorCode::DiskFull => Some(WriteFailure::Full),
        rusqlite::ErrorCode::ReadOnly => Some(WriteFailure::ReadOnly),
        rusqlite::ErrorCode::SystemIoFailure => Some(WriteFailure::Io),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------
// Parameters and values

/// A bound parameter. A NULL keeps its kind: PostgreSQL needs the type of every parameter.
#[derive(Debug, Clone)]
pub enum Param {
    Int(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
    Null(Kind),
}

#[derive(Debug, Clone, Copy)]
pub enum Kind {
    Int,
    Real,
    Text,
    Blob,
}

/// Something that can be bound as a parameter.
pub trait Bind {
    const KIND: Kind;
    fn into_param(self) -> Param;
}

impl Bind for i64 {
    const KIND: Kind = Kind::Int;
    fn into_param(self) -> Param {
        Param::Int(self)
    }
}
impl Bind for i32 {
    const KIND: Kind = Kind::Int;
    fn into_param(self) -> Param {
        Param::Int(self.into())
    }
}
impl Bind for bool {
    const KIND: Kind = Kind::Int;
    fn into_param(self) -> Param {
        Param::Int(self.into())
    }
}
impl Bind for f64 {
    const KIND: Kind = Kind::Real;
    fn into_param(self) -> Param {
        Param::Real(self)
    }
}
impl Bind for String {
    const KIND: Kind = Kind::Text;
    fn into_param(self) -> Param {
        Param::Text(self)
    }
}
impl Bind for &str {
    const KIND: Kind = Kind::Text;
    fn into_param(self) -> Param {
        Param::Text(self.to_string())
    }
}
impl Bind for &String {
    const KIND: Kind = Kind::Text;
    fn into_param(self) -> Param {
        Param::Text(self.clone())
    }
}
impl Bind for Vec<u8> {
    const KIND: Kind = Kind::Blob;
    fn into_param(self) -> Param {
        Param::Blob(self)
    }
}
impl<T: Bind + Clone> Bind for &Option<T> {
    const KIND: Kind = T::KIND;
    fn into_param(self) -> Param {
        self.clone().into_param()
    }
}
impl<T: Bind> Bind for Option<T> {
    const KIND: Kind = T::KIND;
    fn into_param(self) -> Param {
        match self {
            Some(value) => value.into_param(),
            None => Param::Null(T::KIND),
        }
    }
}

/// A column value as read.
#[derive(Debug, Clone)]
pub enum Value {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

/// A Rust type a column can be read as. `None` means the value has another type.
pub trait Decode<'r>: Sized {
    const EXPECTED: &'static str;
    fn decode(value: &'r Value) -> Option<Self>;
}

impl Decode<'_> for i64 {
    const EXPECTED: &'static str = "an integer";
    fn decode(value: &Value) -> Option<i64> {
        match value {
            Value::Int(n) => Some(*n),
            _ => None,
        }
    }
}
impl Decode<'_> for f64 {
    const EXPECTED: &'static str = "a number";
    fn decode(value: &Value) -> Option<f64> {
        match value {
            Value::Real(x) => Some(*x),
            // SQLite stores a whole REAL as an integer when it can.
            Value::Int(n) => Some(*n as f64),
            _ => None,
        }
    }
}
impl Decode<'_> for bool {
    const EXPECTED: &'static str = "a boolean";
    fn decode(value: &Value) -> Option<bool> {
        match value {
            Value::Int(n) => Some(*n != 0),
            _ => None,
        }
    }
}
impl Decode<'_> for String {
    const EXPECTED: &'static str = "text";
    fn decode(value: &Value) -> Option<String> {
        match value {
            Value::Text(s) => Some(s.clone()),
            _ => None,
        }
    }
}
impl Decode<'_> for Vec<u8> {
    const EXPECTED: &'static str = "bytes";
    fn decode(value: &Value) -> Option<Vec<u8>> {
        match value {
            Value::Blob(b) => Some(b.clone()),
            Value::Text(s) => Some(s.clone().into_bytes()),
            _ => None,
        }
    }
}
impl<'r> Decode<'r> for &'r str {
    const EXPECTED: &'static str = "text";
    fn decode(value: &'r Value) -> Option<&'r str> {
        match value {
            Value::Text(s) => Some(s),
            _ => None,
        }
    }
}
impl<'r, T: Decode<'r>> Decode<'r> for Option<T> {
    const EXPECTED: &'static str = T::EXPECTED;
    fn decode(value: &'r Value) -> Option<Option<T>> {
        match value {
            Value::Null => Some(None),
            other => T::decode(other).map(Some),
        }
    }
}

/// A column by position or by name.
pub trait ColumnIndex: std::fmt::Display {
    fn position(&self, row: &Row) -> Option<usize>;
}
impl ColumnIndex for usize {
    fn position(&self, row: &Row) -> Option<usize> {
        (*self < row.values.len()).then_some(*self)
    }
}
impl ColumnIndex for &str {
    fn position(&self, row: &Row) -> Option<usize> {
        row.columns.iter().position(|name| name == self)
    }
}

/// One row of a result.
#[derive(Debug, Clone)]
pub struct Row {
    pub(super) columns: Arc<[String]>,
    pub(super) values: Vec<Value>,
}

impl Row {
    /// Splits a row in two at column `at`: a statement that reads two objects at once
    /// (a join) answers both, each with its own column names.
    pub fn split(self, at: usize) -> (Row, Row) {
        let mut values = self.values;
        let rest = values.split_off(at.min(values.len()));
        let at = values.len();
        let (left, right) = self.columns.split_at(at);
        (
            Row {
                columns: left.into(),
                values,
            },
            Row {
                columns: right.into(),
                values: rest,
            },
        )
    }

    pub fn try_get<'r, T: Decode<'r>, I: ColumnIndex>(&'r self, index: I) -> Result<T> {
        let position = index.position(self).ok_or_else(|| Error::Column {
            column: index.to_string(),
            problem: "no such column".into(),
        })?;
        T::decode(&self.values[position]).ok_or_else(|| Error::Column {
            column: index.to_string(),
            problem: format!(
                "expected {}, found {:?}",
                T::EXPECTED,
                self.values[position]
            ),
        })
    }
}

/// What `execute` reports.
#[derive(Debug, Clone, Copy)]
pub struct Done {
    rows_affected: u64,
}

impl Done {
    pub fn rows_affected(&self) -> u64 {
        self.rows_affected
    }
}

// ---------------------------------------------------------------------------------------
// Queries

/// A statement and its parameters.
#[must_use = "a query does nothing until it is executed or fetched"]
pub struct Query<'q> {
    sql: &'q str,
    params: Vec<Param>,
}

pub fn query(sql: &str) -> Query<'_> {
    Query {
        sql,
        params: Vec::new(),
    }
}

/// How many placeholders a list of `count` ids takes: the next power of two, so that a
/// handful of statement shapes serve every length (each is parsed once, then cached).
fn padded(count: usize) -> usize {
    count.max(1).next_power_of_two()
}

/// Placeholders for [`Query::bind_ids`], numbered from `$first`: `IN ({id_params(2, n)})`.
pub fn id_params(first: usize, count: usize) -> String {
    (first..first + padded(count))
        .map(|n| format!("${n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The rows of a query over a list of ids of any length. `sql` makes the statement for
/// one chunk from its placeholders (`IN ({list})`); the ids are bound 500 at a time.
/// Rows come chunk after chunk: a caller that needs one order sorts them.
pub async fn fetch_by_ids(
    conn: &mut Conn,
    ids: &[i64],
    sql: impl Fn(&str) -> String,
) -> Result<Vec<Row>> {
    let mut rows = Vec::new();
    for chunk in ids.chunks(500) {
        let text = sql(&id_params(1, chunk.len()));
        rows.extend(query(&text).bind_ids(chunk).fetch_all(&mut *conn).await?);
    }
    Ok(rows)
}

impl<'q> Query<'q> {
    pub fn bind(mut self, value: impl Bind) -> Self {
        self.params.push(value.into_param());
        self
    }

    /// Binds a list of ids into the placeholders of [`id_params`]; the padding is NULL,
    /// which `IN` never matches.
    pub fn bind_ids(mut self, ids: &[i64]) -> Self {
        self.params.extend(ids.iter().map(|&id| Param::Int(id)));
        let padding = padded(ids.len()) - ids.len();
        self.params
            .extend(std::iter::repeat_n(Param::Null(Kind::Int), padding));
        self
    }

    pub async fn execute<'c>(self, on: impl Into<On<'c>>) -> Result<Done> {
        let rows = self.run(on.into(), Want::Nothing).await?;
        Ok(Done {
            rows_affected: rows.affected,
        })
    }

    pub async fn fetch_all<'c>(self, on: impl Into<On<'c>>) -> Result<Vec<Row>> {
        Ok(self.run(on.into(), Want::All).await?.rows)
    }

    pub async fn fetch_optional<'c>(self, on: impl Into<On<'c>>) -> Result<Option<Row>> {
        Ok(self
            .run(on.into(), Want::First)
            .await?
            .rows
            .into_iter()
            .next())
    }

    pub async fn fetch_one<'c>(self, on: impl Into<On<'c>>) -> Result<Row> {
        self.fetch_optional(on).await?.ok_or(Error::RowNotFound)
    }

    /// The object the query finds, read from its row by `read`; `NotFound(what)` (a 404)
    /// when there is none, as for an object of another organization (invariant 4).
    pub async fn fetch_found<'c, T>(
        self,
        on: impl Into<On<'c>>,
        what: &'static str,
        read: impl FnOnce(&Row) -> Result<T>,
    ) -> crate::shared::Result<T> {
        let row = self
            .fetch_optional(on)
            .await?
            .ok_or(crate::shared::Error::NotFound(what))?;
        Ok(read(&row)?)
    }

    async fn run(self, on: On<'_>, want: Want) -> Result<Output> {
        match on {
            On::Conn(conn) => conn.run(self.sql, &self.params, want).await,
            On::Pool(pool) => {
                let mut conn = pool.acquire().await?;
                conn.run(self.sql, &self.params, want).await
            }
        }
    }
}

/// A query whose rows are one value each (the first column).
#[must_use = "a query does nothing until it is fetched"]
pub struct QueryScalar<'q, T> {
    query: Query<'q>,
    output: PhantomData<fn() -> T>,
}

pub fn query_scalar<T: for<'r> Decode<'r>>(sql: &str) -> QueryScalar<'_, T> {
    QueryScalar {
        query: query(sql),
        output: PhantomData,
    }
}

impl<'q, T: for<'r> Decode<'r>> QueryScalar<'q, T> {
    pub fn bind(mut self, value: impl Bind) -> Self {
        self.query = self.query.bind(value);
        self
    }

    pub fn bind_ids(mut self, ids: &[i64]) -> Self {
        self.query = self.query.bind_ids(ids);
        self
    }

    pub async fn fetch_one<'c>(self, on: impl Into<On<'c>>) -> Result<T> {
        self.query.fetch_one(on).await?.try_get(0)
    }

    pub async fn fetch_optional<'c>(self, on: impl Into<On<'c>>) -> Result<Option<T>> {
        self.query
            .fetch_optional(on)
            .await?
            .map(|row| row.try_get(0))
            .transpose()
    }

    pub async fn fetch_all<'c>(self, on: impl Into<On<'c>>) -> Result<Vec<T>> {
        self.query
            .fetch_all(on)
            .await?
            .iter()
            .map(|row| row.try_get(0))
            .collect()
    }
}

/// Where a query runs: a connection (or transaction) held by the caller, or any
/// connection of a pool.
pub enum On<'c> {
    Conn(&'c mut Conn),
    Pool(&'c Pool),
}

impl<'c> From<&'c mut Conn> for On<'c> {
    fn from(conn: &'c mut Conn) -> Self {
        On::Conn(conn)
    }
}
impl<'c> From<&'c mut Tx> for On<'c> {
    fn from(tx: &'c mut Tx) -> Self {
        On::Conn(tx)
    }
}
impl<'c> From<&'c Pool> for On<'c> {
    fn from(pool: &'c Pool) -> Self {
        On::Pool(pool)
    }
}

#[derive(Clone, Copy, PartialEq)]
pub(super) enum Want {
    Nothing,
    First,
    All,
}

pub(super) struct Output {
    pub(super) rows: Vec<Row>,
    pub(super) affected: u64,
}

// ---------------------------------------------------------------------------------------
// Connections

/// A connection: from a pool, in a transaction, or one of its own.
pub struct Conn {
    inner: Inner,
    /// A write transaction's commit hook (see [`super::hook`]).
    hook: Option<Box<dyn CommitHook>>,
}

enum Inner {
    Sqlite(sqlite::Conn),
    Postgres(sqlx::pool::PoolConnection<sqlx::Postgres>),
    PostgresTx(sqlx::Transaction<'static, sqlx::Postgres>),
    PostgresOwn(sqlx::PgConnection),
}

impl Conn {
    fn new(inner: Inner) -> Conn {
        Conn { inner, hook: None }
    }

    pub fn backend(&self) -> super::Backend {
        match self.inner {
            Inner::Sqlite(_) => super::Backend::Sqlite,
            _ => super::Backend::Postgres,
        }
    }

    /// This write transaction's commit hook, if it has one of type `T`; `None` outside a
    /// transaction or when no hook is set.
    pub fn hook<T: CommitHook>(&mut self) -> Option<&mut T> {
        let hook: &mut dyn std::any::Any = self.hook.as_deref_mut()?;
        hook.downcast_mut::<T>()
    }

    async fn run(&mut self, sql: &str, params: &[Param], want: Want) -> Result<Output> {
        let output = match &mut self.inner {
            Inner::Sqlite(conn) => sqlite::run(conn.handle_mut(), sql, params, want),
            Inner::Postgres(conn) => postgres_run(conn, sql, params, want).await,
            Inner::PostgresTx(tx) => postgres_run(tx, sql, params, want).await,
            Inner::PostgresOwn(conn) => postgres_run(conn, sql, params, want).await,
        };
        if let Err(error) = &output {
            super::health::note_error(error);
        }
        output
    }

    /// Runs several `;`-separated statements without parameters (schema, settings).
    pub async fn execute_batch(&mut self, sql: &str) -> Result<()> {
        use sqlx::Executor;
        match &mut self.inner {
            Inner::Sqlite(conn) => conn.get().execute_batch(sql)?,
            Inner::Postgres(conn) => {
                conn.execute(sqlx::raw_sql(sql)).await?;
            }
            Inner::PostgresTx(tx) => {
                tx.execute(sqlx::raw_sql(sql)).await?;
            }
            Inner::PostgresOwn(conn) => {
                conn.execute(sqlx::raw_sql(sql)).await?;
            }
        }
        Ok(())
    }

    /// Opens a PostgreSQL connection of its own, outside any pool.
    pub async fn connect_postgres(url: &str) -> Result<Conn> {
        use sqlx::Connection;
        Ok(Conn::new(Inner::PostgresOwn(
            sqlx::PgConnection::connect(url).await?,
        )))
    }
}

/// A write transaction. Dropped without [`Tx::commit`], it rolls back.
pub struct Tx {
    conn: Option<Conn>,
}

impl Tx {
    /// Attaches the commit hook (see [`super::hook`]).
    pub fn set_hook(&mut self, hook: Box<dyn CommitHook>) {
        if let Some(conn) = self.conn.as_mut() {
            conn.hook = Some(hook);
        }
    }

    /// Whether committing this transaction must wake whoever waits for committed work:
    /// always, unless its hook says otherwise.
    pub fn wakes_on_commit(&self) -> bool {
        self.conn
            .as_ref()
            .and_then(|conn| conn.hook.as_deref())
            .is_none_or(|hook| hook.wake_on_commit())
    }

    pub async fn commit(mut self) -> Result<()> {
        let Some(conn) = self.conn.take() else {
            return Ok(());
        };
        // Dropped unused if the commit fails, as on a rollback.
        let hook = conn.hook;
        let committed = match conn.inner {
            Inner::Sqlite(conn) => conn.commit().await,
            Inner::PostgresTx(tx) => tx.commit().await.map_err(Error::from),
            Inner::Postgres(_) | Inner::PostgresOwn(_) => Ok(()),
        };
        if let Err(error) = &committed {
            super::health::note_error(error);
        }
        committed?;
        if let Some(hook) = hook {
            hook.committed();
        }
        Ok(())
    }
}

impl Drop for Tx {
    fn drop(&mut self) {
        // PostgreSQL: sqlx's own transaction rolls back when dropped.
        if let Some(Conn {
            inner: Inner::Sqlite(conn),
            ..
        }) = &mut self.conn
        {
            conn.rollback();
        }
    }
}

impl std::ops::Deref for Tx {
    type Target = Conn;
    fn deref(&self) -> &Conn {
        self.conn.as_ref().expect("transaction already finished")
    }
}

impl std::ops::DerefMut for Tx {
    fn deref_mut(&mut self) -> &mut Conn {
        self.conn.as_mut().expect("transaction already finished")
    }
}

// ---------------------------------------------------------------------------------------
// Pools

/// A pool of connections, cheap to clone.
#[derive(Clone)]
pub struct Pool(PoolInner);

#[derive(Clone)]
enum PoolInner {
    Sqlite(Arc<sqlite::Pool>),
    Postgres(sqlx::PgPool),
}

impl Pool {
    /// A SQLite pool of at most `size` connections to the file at `path`.
    pub fn sqlite(path: &str, size: usize) -> Pool {
        Pool::sqlite_limited(path, size, None)
    }

    /// The same, the file not growing past `max_bytes`.
    pub fn sqlite_limited(path: &str, size: usize, max_bytes: Option<u64>) -> Pool {
        Pool(PoolInner::Sqlite(Arc::new(sqlite::Pool::new(
            path, size, max_bytes,
        ))))
    }

    pub async fn postgres(url: &str, size: u32) -> Result<Pool> {
        use sqlx::Connection as _;
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(size)
            .acquire_timeout(std::time::Duration::from_secs(30))
            // sqlx pings every connection it hands out by default: one more round trip
            // for every transaction and read. Only a connection left idle for a while is
            // checked (the server, or something between, may have closed it); one in
            // steady use shows a broken link on its next statement anyway.
            .test_before_acquire(false)
            .before_acquire(|conn, meta| {
                Box::pin(async move {
                    if meta.idle_for > std::time::Duration::from_secs(10) {
                        conn.ping().await?;
                    }
                    Ok(true)
                })
            })
            .connect(url)
            .await?;
        Ok(Pool(PoolInner::Postgres(pool)))
    }

    pub async fn acquire(&self) -> Result<Conn> {
        match &self.0 {
            PoolInner::Sqlite(pool) => Ok(Conn::new(Inner::Sqlite(pool.acquire().await?))),
            PoolInner::Postgres(pool) => Ok(Conn::new(Inner::Postgres(pool.acquire().await?))),
        }
    }

    /// Starts a transaction. On SQLite it takes the write lock at once (`BEGIN IMMEDIATE`),
    /// so it never fails half-way on a lock held by another process, and may share one
    /// SQLite transaction with others (group commit: see [`sqlite`]).
    pub async fn begin(&self) -> Result<Tx> {
        self.begin_sized(false).await
    }

    /// Starts a transaction that may run long (imports, bulk actions), which on SQLite
    /// shares its transaction with no other.
    pub async fn begin_large(&self) -> Result<Tx> {
        self.begin_sized(true).await
    }

    async fn begin_sized(&self, large: bool) -> Result<Tx> {
        match &self.0 {
            PoolInner::Sqlite(pool) => Ok(Tx {
                conn: Some(Conn::new(Inner::Sqlite(pool.begin(large).await?))),
            }),
            PoolInner::Postgres(pool) => Ok(Tx {
                conn: Some(Conn::new(Inner::PostgresTx(pool.begin().await?))),
            }),
        }
    }

    /// SQLite: checkpoints the WAL to its end (see [`sqlite::Pool::checkpoint`]); a no-op
    /// on PostgreSQL.
    pub async fn checkpoint(&self) -> Result<()> {
        match &self.0 {
            PoolInner::Sqlite(pool) => pool.checkpoint().await,
            PoolInner::Postgres(_) => Ok(()),
        }
    }

    pub async fn close(&self) {
        match &self.0 {
            PoolInner::Sqlite(pool) => pool.close(),
            PoolInner::Postgres(pool) => pool.close().await,
        }
    }
}

// ---------------------------------------------------------------------------------------
// PostgreSQL

async fn postgres_run(
    conn: &mut sqlx::PgConnection,
    sql: &str,
    params: &[Param],
    want: Want,
) -> Result<Output> {
    let mut query = sqlx::query_with(sql, PgArguments::default());
    for param in params {
        query = match param {
            Param::Int(n) => query.bind(*n),
            Param::Real(x) => query.bind(*x),
            Param::Text(s) => query.bind(s.clone()),
            Param::Blob(b) => query.bind(b.clone()),
            Param::Null(Kind::Int) => query.bind(None::<i64>),
            Param::Null(Kind::Real) => query.bind(None::<f64>),
            Param::Null(Kind::Text) => query.bind(None::<String>),
            Param::Null(Kind::Blob) => query.bind(None::<Vec<u8>>),
        };
    }
    match want {
        Want::Nothing => {
            let done = query.execute(conn).await?;
            Ok(Output {
                rows: vec![],
                affected: done.rows_affected(),
            })
        }
        Want::First => {
            let row = query.fetch_optional(conn).await?;
            let rows = match row {
                Some(row) => vec![postgres_row(&row, None)?],
                None => vec![],
            };
            Ok(Output { rows, affected: 0 })
        }
        Want::All => {
            let found = query.fetch_all(conn).await?;
            let mut rows = Vec::with_capacity(found.len());
            let mut columns = None;
            for row in &found {
                let row = postgres_row(row, columns.clone())?;
                columns = Some(row.columns.clone());
                rows.push(row);
            }
            Ok(Output { rows, affected: 0 })
        }
    }
}

fn postgres_row(row: &PgRow, columns: Option<Arc<[String]>>) -> Result<Row> {
    let columns = columns.unwrap_or_else(|| {
        row.columns()
            .iter()
            .map(|column| column.name().to_string())
            .collect()
    });
    let mut values = Vec::with_capacity(columns.len());
    for (i, column) in row.columns().iter().enumerate() {
        if row.try_get_raw(i)?.is_null() {
            values.push(Value::Null);
            continue;
        }
        let value = match column.type_info().name() {
            "INT8" => Value::Int(row.try_get::<i64, _>(i)?),
            "INT4" => Value::Int(row.try_get::<i32, _>(i)?.into()),
            "INT2" => Value::Int(row.try_get::<i16, _>(i)?.into()),
            "BOOL" => Value::Int(row.try_get::<bool, _>(i)?.into()),
            "FLOAT8" => Value::Real(row.try_get::<f64, _>(i)?),
            "FLOAT4" => Value::Real(row.try_get::<f32, _>(i)?.into()),
            "BYTEA" => Value::Blob(row.try_get::<Vec<u8>, _>(i)?),
            "VOID" => Value::Null,
            // TEXT, VARCHAR, NAME and anything else that decodes as text.
            _ => Value::Text(row.try_get::<String, _>(i)?),
        };
        values.push(value);
    }
    Ok(Row { columns, values })
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn scratch() -> (tempfile::TempDir, Pool) {
        let dir = tempfile::tempdir().unwrap();
        let pool = Pool::sqlite(dir.path().join("t.db").to_str().unwrap(), 1);
        let mut conn = pool.acquire().await.unwrap();
        conn.execute_batch("CREATE TABLE t (a BIGINT, b TEXT, c DOUBLE PRECISION)")
            .await
            .unwrap();
        drop(conn);
        (dir, pool)
    }

    #[tokio::test]
    async fn numbered_parameters_bind_by_number_wherever_they_appear() {
        let (_dir, pool) = scratch().await;
        let mut tx = pool.begin().await.unwrap();
        query("INSERT INTO t (b, a, c) VALUES ($2, $1, $1 + 0.5)")
            .bind(7_i64)
            .bind("seven")
            .execute(&mut tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let row = query("SELECT a, b, c FROM t")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(row.try_get::<i64, _>("a").unwrap(), 7);
        assert_eq!(row.try_get::<&str, _>("b").unwrap(), "seven");
        assert_eq!(row.try_get::<f64, _>(2).unwrap(), 7.5);
    }

    #[tokio::test]
    async fn a_transaction_dropped_without_commit_rolls_back() {
        let (_dir, pool) = scratch().await;
        let mut tx = pool.begin().await.unwrap();
        query("INSERT INTO t (a) VALUES ($1)")
            .bind(None::<i64>)
            .execute(&mut tx)
            .await
            .unwrap();
        drop(tx);
        let count: i64 = query_scalar("SELECT COUNT(*) FROM t")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(count, 0);
    }

    #[tokio::test]
    async fn reading_a_column_as_the_wrong_type_names_the_column() {
        let (_dir, pool) = scratch().await;
        let row = query("SELECT 'x' AS word").fetch_one(&pool).await.unwrap();
        let error = row.try_get::<i64, _>("word").unwrap_err().to_string();
        assert!(
            error.contains("`word`") && error.contains("integer"),
            "{error}"
        );
        assert!(row.try_get::<String, _>("missing").is_err());
    }

    /// Many writers at once share SQLite transactions (group commit): each sees its row
    /// committed, from another connection, as soon as its `commit` returns; a writer that
    /// rolls back takes only its own row with it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn grouped_transactions_commit_and_roll_back_one_by_one() {
        let (dir, writer) = scratch().await;
        let readers = Pool::sqlite(dir.path().join("t.db").to_str().unwrap(), 4);
        let mut tasks = Vec::new();
        for i in 0..200_i64 {
            let (writer, readers) = (writer.clone(), readers.clone());
            tasks.push(tokio::spawn(async move {
                let mut tx = writer.begin().await.unwrap();
                query("INSERT INTO t (a) VALUES ($1)")
                    .bind(i)
                    .execute(&mut tx)
                    .await
                    .unwrap();
                tokio::task::yield_now().await;
                if i % 10 == 0 {
                    drop(tx);
                    return;
                }
                tx.commit().await.unwrap();
                let seen: i64 = query_scalar("SELECT COUNT(*) FROM t WHERE a = $1")
                    .bind(i)
                    .fetch_one(&readers)
                    .await
                    .unwrap();
                assert_eq!(seen, 1, "row {i} visible once its commit returned");
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
        let count: i64 = query_scalar("SELECT COUNT(*) FROM t")
            .fetch_one(&readers)
            .await
            .unwrap();
        assert_eq!(count, 180);
    }
}
