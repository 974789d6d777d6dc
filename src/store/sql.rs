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
use std::sync::{Arc, Mutex};

use sqlx::postgres::{PgArguments, PgRow};
use sqlx::{Column as _, Row as _, TypeInfo as _, ValueRef as _};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

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
}

pub type Result<T> = std::result::Result<T, Error>;

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
    columns: Arc<[String]>,
    values: Vec<Value>,
}

impl Row {
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
enum Want {
    Nothing,
    First,
    All,
}

struct Output {
    rows: Vec<Row>,
    affected: u64,
}

// ---------------------------------------------------------------------------------------
// Connections

/// A connection: from a pool, in a transaction, or one of its own.
pub struct Conn(Inner);

enum Inner {
    Sqlite(SqliteConn),
    Postgres(sqlx::pool::PoolConnection<sqlx::Postgres>),
    PostgresTx(sqlx::Transaction<'static, sqlx::Postgres>),
    PostgresOwn(sqlx::PgConnection),
}

impl Conn {
    async fn run(&mut self, sql: &str, params: &[Param], want: Want) -> Result<Output> {
        match &mut self.0 {
            Inner::Sqlite(conn) => sqlite_run(conn.get(), sql, params, want),
            Inner::Postgres(conn) => postgres_run(conn, sql, params, want).await,
            Inner::PostgresTx(tx) => postgres_run(tx, sql, params, want).await,
            Inner::PostgresOwn(conn) => postgres_run(conn, sql, params, want).await,
        }
    }

    /// Runs several `;`-separated statements without parameters (schema, settings).
    pub async fn execute_batch(&mut self, sql: &str) -> Result<()> {
        use sqlx::Executor;
        match &mut self.0 {
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
        Ok(Conn(Inner::PostgresOwn(
            sqlx::PgConnection::connect(url).await?,
        )))
    }
}

/// A write transaction. Dropped without [`Tx::commit`], it rolls back.
pub struct Tx {
    conn: Option<Conn>,
}

impl Tx {
    pub async fn commit(mut self) -> Result<()> {
        let Some(conn) = self.conn.take() else {
            return Ok(());
        };
        match conn.0 {
            Inner::Sqlite(conn) => {
                if let Err(error) = conn.get().execute_batch("COMMIT") {
                    let _ = conn.get().execute_batch("ROLLBACK");
                    return Err(error.into());
                }
            }
            Inner::PostgresTx(tx) => tx.commit().await?,
            Inner::Postgres(_) | Inner::PostgresOwn(_) => {}
        }
        Ok(())
    }
}

impl Drop for Tx {
    fn drop(&mut self) {
        // PostgreSQL: sqlx's own transaction rolls back when dropped.
        if let Some(Conn(Inner::Sqlite(conn))) = &self.conn {
            let _ = conn.get().execute_batch("ROLLBACK");
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
    Sqlite(Arc<SqlitePool>),
    Postgres(sqlx::PgPool),
}

impl Pool {
    /// A SQLite pool of at most `size` connections to the file at `path`.
    pub fn sqlite(path: &str, size: usize) -> Pool {
        Pool(PoolInner::Sqlite(Arc::new(SqlitePool {
            path: path.to_string(),
            idle: Mutex::new(Vec::new()),
            permits: Arc::new(Semaphore::new(size)),
        })))
    }

    pub async fn postgres(url: &str, size: u32) -> Result<Pool> {
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(size)
            .acquire_timeout(std::time::Duration::from_secs(30))
            .connect(url)
            .await?;
        Ok(Pool(PoolInner::Postgres(pool)))
    }

    pub async fn acquire(&self) -> Result<Conn> {
        match &self.0 {
            PoolInner::Sqlite(pool) => Ok(Conn(Inner::Sqlite(pool.acquire().await?))),
            PoolInner::Postgres(pool) => Ok(Conn(Inner::Postgres(pool.acquire().await?))),
        }
    }

    /// Starts a transaction. On SQLite it takes the write lock at once (`BEGIN IMMEDIATE`),
    /// so it never fails half-way on a lock held by another process.
    pub async fn begin(&self) -> Result<Tx> {
        match &self.0 {
            PoolInner::Sqlite(pool) => {
                let mut conn = pool.acquire().await?;
                begin_immediate(&mut conn).await?;
                Ok(Tx {
                    conn: Some(Conn(Inner::Sqlite(conn))),
                })
            }
            PoolInner::Postgres(pool) => Ok(Tx {
                conn: Some(Conn(Inner::PostgresTx(pool.begin().await?))),
            }),
        }
    }

    pub async fn close(&self) {
        match &self.0 {
            PoolInner::Sqlite(pool) => {
                pool.permits.close();
                pool.idle.lock().expect("pool lock").clear();
            }
            PoolInner::Postgres(pool) => pool.close().await,
        }
    }
}

// ---------------------------------------------------------------------------------------
// SQLite

pub struct SqlitePool {
    path: String,
    idle: Mutex<Vec<rusqlite::Connection>>,
    permits: Arc<Semaphore>,
}

impl SqlitePool {
    async fn acquire(self: &Arc<Self>) -> Result<SqliteConn> {
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| Error::Sqlite(rusqlite::Error::InvalidQuery))?;
        let idle = self.idle.lock().expect("pool lock").pop();
        let conn = match idle {
            Some(conn) => conn,
            None => open_sqlite(&self.path)?,
        };
        Ok(SqliteConn {
            conn: Some(conn),
            pool: self.clone(),
            _permit: permit,
        })
    }
}

/// A pooled SQLite connection; goes back to its pool when dropped.
pub struct SqliteConn {
    conn: Option<rusqlite::Connection>,
    pool: Arc<SqlitePool>,
    _permit: OwnedSemaphorePermit,
}

impl SqliteConn {
    fn get(&self) -> &rusqlite::Connection {
        self.conn
            .as_ref()
            .expect("connection present until dropped")
    }
}

impl Drop for SqliteConn {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            // A connection left inside a transaction (a panic mid-way) is not reused.
            if conn.is_autocommit() {
                self.pool.idle.lock().expect("pool lock").push(conn);
            }
        }
    }
}

/// `BEGIN IMMEDIATE`, waiting without blocking the thread while another process (an
/// `import` or `admin` command) holds the write lock. Once it holds the lock, nothing in a
/// WAL database makes the transaction wait again.
async fn begin_immediate(conn: &mut SqliteConn) -> Result<()> {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut pause = std::time::Duration::from_millis(1);
    conn.get().busy_timeout(std::time::Duration::ZERO)?;
    let began = loop {
        let attempt = conn.get().execute_batch("BEGIN IMMEDIATE");
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

fn open_sqlite(path: &str) -> Result<rusqlite::Connection> {
    use rusqlite::OpenFlags;
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_URI
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = rusqlite::Connection::open_with_flags(path, flags)?;
    // WAL: readers never block the writer; NORMAL sync is durable across process crashes
    // (a power cut can lose the last transactions, never corrupt the file).
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; \
         PRAGMA busy_timeout = 10000;",
    )?;
    conn.set_prepared_statement_cache_capacity(256);
    Ok(conn)
}

fn sqlite_run(
    conn: &rusqlite::Connection,
    sql: &str,
    params: &[Param],
    want: Want,
) -> Result<Output> {
    use rusqlite::types::{ToSqlOutput, ValueRef};
    let mut statement = conn.prepare_cached(sql)?;
    // `$n` names the n-th parameter, wherever (and however often) it appears.
    for index in 1..=statement.parameter_count() {
        let position = statement
            .parameter_name(index)
            .and_then(|name| name.strip_prefix('$'))
            .and_then(|n| n.parse::<usize>().ok())
            .unwrap_or(index);
        let param = params.get(position - 1).ok_or_else(|| Error::Column {
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
    let columns: Arc<[String]> = statement
        .column_names()
        .iter()
        .map(|name| name.to_string())
        .collect();
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
}
