//! A project's statistics counters, as each backend keeps them. Many write transactions
//! move the same project's counters at once:
//! - SQLite has one writer at a time: the sums are added into the project's row;
//! - PostgreSQL has many: each transaction appends a row of differences to
//!   `project_stat_deltas` (no lock held on the project's row until commit), a reader adds
//!   the rows not yet folded in ([`Counters::columns`], in the same statement), and
//!   [`spawn_folder`] folds them into the projects' rows every quarter second.
//!
//! What the counters mean is the labeling layer's (`labeling::stats`); this module only
//! stores them.

use std::sync::LazyLock;

use super::{Backend, Conn, Db, Result};

/// The counter columns of `projects` (and of `project_stat_deltas`).
pub const COLUMNS: [&str; 8] = [
    "task_number",
    "finished_task_number",
    "total_annotations_number",
    "skipped_annotations_number",
    "useful_annotation_number",
    "ground_truth_number",
    "total_predictions_number",
    "num_tasks_with_annotations",
];

/// How to read the counters of a project row `p`: the select list (each counter under its
/// column name) and the join it needs, built once per backend.
pub struct Counters {
    pub columns: String,
    pub join: String,
}

impl Counters {
    /// The counters as of now (on PostgreSQL, the row's plus the deltas not yet folded).
    pub fn of(backend: Backend) -> &'static Counters {
        static SQLITE: LazyLock<Counters> = LazyLock::new(|| Counters::build(Backend::Sqlite));
        static POSTGRES: LazyLock<Counters> = LazyLock::new(|| Counters::build(Backend::Postgres));
        match backend {
            Backend::Sqlite => &SQLITE,
            Backend::Postgres => &POSTGRES,
        }
    }

    fn build(backend: Backend) -> Counters {
        let column = |c: &str| match backend {
            Backend::Sqlite => format!("p.{c}"),
            Backend::Postgres => format!("p.{c} + COALESCE(d.{c}, 0) AS {c}"),
        };
        let join = match backend {
            Backend::Sqlite => String::new(),
            Backend::Postgres => format!(" LEFT JOIN LATERAL ({}) d ON TRUE", pending("p.id")),
        };
        Counters {
            columns: COLUMNS.map(column).join(", "),
            join,
        }
    }
}

/// Adds `values` to the project's counters (`(column, amount)`).
pub async fn add(conn: &mut Conn, project_id: i64, values: &[(&str, i64)]) -> Result<()> {
    let n = values.len();
    let names = values.iter().map(|(c, _)| *c);
    let sql = match conn.backend() {
        Backend::Sqlite => {
            let sets: Vec<String> = names
                .enumerate()
                .map(|(i, c)| format!("{c} = {c} + ${}", i + 1))
                .collect();
            format!(
                "UPDATE projects SET {} WHERE id = ${}",
                sets.join(", "),
                n + 1
            )
        }
        Backend::Postgres => {
            let params: Vec<String> = (1..=n + 1).map(|i| format!("${i}")).collect();
            format!(
                "INSERT INTO project_stat_deltas ({}, project_id) VALUES ({})",
                names.collect::<Vec<_>>().join(", "),
                params.join(", ")
            )
        }
    };
    let mut query = super::query(&sql);
    for (_, amount) in values {
        query = query.bind(*amount);
    }
    query.bind(project_id).execute(&mut *conn).await?;
    Ok(())
}

/// Sets the project's counters to `sums`: a query of one row with a column per counter,
/// whose `$1` is the project's id. On PostgreSQL the difference is written as one more
/// delta row, computed in one statement (one snapshot): changes committed after that
/// snapshot bring their own deltas.
pub async fn set(conn: &mut Conn, project_id: i64, sums: &str) -> Result<()> {
    let columns = COLUMNS.join(", ");
    let sql = match conn.backend() {
        Backend::Sqlite => {
            format!(
                "UPDATE projects SET ({columns}) = (SELECT {columns} FROM ({sums})) WHERE id = $1"
            )
        }
        Backend::Postgres => {
            let differences = COLUMNS.map(|c| format!("s.{c} - p.{c} - COALESCE(d.{c}, 0)"));
            format!(
                "INSERT INTO project_stat_deltas (project_id, {columns}) \
                 SELECT p.id, {} FROM projects p CROSS JOIN ({sums}) s \
                 LEFT JOIN LATERAL ({}) d ON TRUE WHERE p.id = $1",
                differences.join(", "),
                pending("p.id"),
            )
        }
    };
    super::query(&sql)
        .bind(project_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// PostgreSQL: the deltas not yet folded into the project `project` (an SQL expression),
/// as one row with a column per counter.
fn pending(project: &str) -> String {
    let sums = COLUMNS.map(|c| format!("SUM(x.{c})::BIGINT AS {c}"));
    format!(
        "SELECT {} FROM project_stat_deltas x WHERE x.project_id = {project}",
        sums.join(", ")
    )
}

/// PostgreSQL: folds the delta rows into the projects' rows, every quarter second, for
/// as long as the process runs. Each fold is one statement: a reader sees either the
/// rows before it with their deltas, or after it without them, never half. (Nothing to do
/// on SQLite.) A background task: it commits its own transactions, which emit nothing.
pub fn spawn_folder(db: Db) {
    if db.backend == Backend::Sqlite {
        return;
    }
    let sums = COLUMNS.map(|c| format!("SUM({c})::BIGINT AS {c}"));
    let sets = COLUMNS.map(|c| format!("{c} = p.{c} + s.{c}"));
    let sql = format!(
        "WITH d AS (DELETE FROM project_stat_deltas RETURNING *), \
         s AS (SELECT project_id, {} FROM d GROUP BY project_id) \
         UPDATE projects p SET {} FROM s WHERE p.id = s.project_id",
        sums.join(", "),
        sets.join(", ")
    );
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(std::time::Duration::from_millis(250)).await;
            if let Err(error) = fold(&db, &sql).await {
                tracing::warn!(%error, "folding project statistics failed; retrying");
            }
        }
    });
}

async fn fold(db: &Db, sql: &str) -> Result<()> {
    let mut tx = db.begin().await?;
    // Lost in a database crash, a fold leaves its deltas in place: the sums do not move.
    db.skip_flush_wait(&mut tx).await?;
    super::query(sql).execute(&mut *tx).await?;
    tx.commit().await
}
