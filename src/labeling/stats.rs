//! Project statistics, exact at every commit.
//!
//! Each task keeps its own counters (non-cancelled, cancelled, useful, ground-truth
//! annotations, predictions, and `is_labeled`); the project's statistics are sums over its
//! tasks. A change to one task refreshes that task from its annotations and moves the
//! project's sums by the difference, so the cost does not grow with the project. Bulk
//! changes re-add the sums from the task counters instead.
//!
//! Definitions (SPEC section 2, as Label Studio 1.23.2 computes them):
//! - total: `was_cancelled` false; skipped: `was_cancelled` true;
//! - useful: not cancelled, not ground truth, result present;
//! - a task is labeled when its finished annotations (not cancelled, result present; with
//!   `IGNORE_SKIPPED` every annotation) reach its `overlap`.

use super::projects::Project;
use crate::shared::Result;
use crate::store::{self, Backend, Conn, Db, Row};

fn finished_condition(skip_queue: &str) -> &'static str {
    if skip_queue == "IGNORE_SKIPPED" {
        "(a.result IS NOT NULL OR a.was_cancelled = 1)"
    } else {
        "(a.was_cancelled = 0 AND a.result IS NOT NULL)"
    }
}

/// `UPDATE tasks` recomputing the counters of the tasks matched by `where_clause`.
fn refresh_sql(skip_queue: &str, where_clause: &str) -> String {
    let finished = finished_condition(skip_queue);
    format!(
        "UPDATE tasks SET \
         total_annotations = (SELECT COUNT(*) FROM annotations a WHERE a.task_id = tasks.id AND a.was_cancelled = 0), \
         cancelled_annotations = (SELECT COUNT(*) FROM annotations a WHERE a.task_id = tasks.id AND a.was_cancelled = 1), \
         useful_annotations = (SELECT COUNT(*) FROM annotations a WHERE a.task_id = tasks.id AND a.was_cancelled = 0 AND a.ground_truth = 0 AND a.result IS NOT NULL), \
         ground_truth_annotations = (SELECT COUNT(*) FROM annotations a WHERE a.task_id = tasks.id AND a.ground_truth = 1), \
         total_predictions = (SELECT COUNT(*) FROM predictions p WHERE p.task_id = tasks.id), \
         is_labeled = CASE WHEN (SELECT COUNT(*) FROM annotations a WHERE a.task_id = tasks.id AND {finished}) >= tasks.overlap THEN 1 ELSE 0 END \
         WHERE {where_clause}"
    )
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct TaskCounters {
    total: i64,
    cancelled: i64,
    useful: i64,
    ground_truth: i64,
    predictions: i64,
    labeled: i64,
}

async fn read_counters(conn: &mut Conn, task_id: i64) -> Result<Option<TaskCounters>> {
    let row = store::query(
        "SELECT total_annotations, cancelled_annotations, useful_annotations, \
         ground_truth_annotations, total_predictions, is_labeled FROM tasks WHERE id = $1",
    )
    .bind(task_id)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.as_ref().map(counters_from).transpose()?)
}

fn counters_from(row: &Row) -> store::Result<TaskCounters> {
    Ok(TaskCounters {
        total: row.try_get(0)?,
        cancelled: row.try_get(1)?,
        useful: row.try_get(2)?,
        ground_truth: row.try_get(3)?,
        predictions: row.try_get(4)?,
        labeled: row.try_get(5)?,
    })
}

/// Recomputes one task's counters and moves its project's statistics by the difference,
/// in the database and in `project` (so callers need not read the project again).
pub async fn refresh_task(conn: &mut Conn, project: &mut Project, task_id: i64) -> Result<()> {
    let delta = refresh_task_counters(conn, project, task_id).await?;
    save_project_delta(conn, project.id, &delta).await
}

/// How a project's statistics moved, still to be written with [`save_project_delta`]:
/// the change of one task's counters, and of whether it has a useful annotation.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ProjectDelta {
    task: TaskCounters,
    with_useful: i64,
}

/// The first half of [`refresh_task`]: the task's counters in the database, the
/// project's statistics in memory only. For the hot paths, which write the project row
/// with [`save_project_delta`] as their last statement: on PostgreSQL that row's lock is
/// then held only through the commit, not through the event and delivery inserts.
pub async fn refresh_task_counters(
    conn: &mut Conn,
    project: &mut Project,
    task_id: i64,
) -> Result<ProjectDelta> {
    let Some(before) = read_counters(conn, task_id).await? else {
        return Ok(ProjectDelta::default());
    };
    let sql = format!(
        "{} RETURNING total_annotations, cancelled_annotations, useful_annotations, \
         ground_truth_annotations, total_predictions, is_labeled",
        refresh_sql(&project.skip_queue, "id = $1")
    );
    let row = store::query(&sql)
        .bind(task_id)
        .fetch_one(&mut *conn)
        .await?;
    let after = counters_from(&row)?;
    let has_useful = |c: &TaskCounters| i64::from(c.useful > 0);
    let task = TaskCounters {
        total: after.total - before.total,
        cancelled: after.cancelled - before.cancelled,
        useful: after.useful - before.useful,
        ground_truth: after.ground_truth - before.ground_truth,
        predictions: after.predictions - before.predictions,
        labeled: after.labeled - before.labeled,
    };
    let delta = ProjectDelta {
        task,
        with_useful: has_useful(&after) - has_useful(&before),
    };
    let stats = &mut project.stats;
    stats.total_annotations_number += task.total;
    stats.skipped_annotations_number += task.cancelled;
    stats.useful_annotation_number += task.useful;
    stats.ground_truth_number += task.ground_truth;
    stats.total_predictions_number += task.predictions;
    stats.finished_task_number += task.labeled;
    stats.num_tasks_with_annotations += delta.with_useful;
    Ok(delta)
}

/// Writes what [`refresh_task_counters`] computed: into the project's row on SQLite, as
/// a delta row on PostgreSQL (see [`spawn_folder`]).
pub async fn save_project_delta(
    conn: &mut Conn,
    project_id: i64,
    delta: &ProjectDelta,
) -> Result<()> {
    if *delta == ProjectDelta::default() {
        return Ok(());
    }
    let sql = match conn.backend() {
        Backend::Sqlite => {
            "UPDATE projects SET \
             total_annotations_number = total_annotations_number + $1, \
             skipped_annotations_number = skipped_annotations_number + $2, \
             useful_annotation_number = useful_annotation_number + $3, \
             ground_truth_number = ground_truth_number + $4, \
             total_predictions_number = total_predictions_number + $5, \
             finished_task_number = finished_task_number + $6, \
             num_tasks_with_annotations = num_tasks_with_annotations + $7 \
             WHERE id = $8"
        }
        Backend::Postgres => {
            "INSERT INTO project_stat_deltas (total_annotations_number, skipped_annotations_number, \
             useful_annotation_number, ground_truth_number, total_predictions_number, \
             finished_task_number, num_tasks_with_annotations, project_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        }
    };
    store::query(sql)
        .bind(delta.task.total)
        .bind(delta.task.cancelled)
        .bind(delta.task.useful)
        .bind(delta.task.ground_truth)
        .bind(delta.task.predictions)
        .bind(delta.task.labeled)
        .bind(delta.with_useful)
        .bind(project_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Counts `count` new tasks in the project's statistics.
pub async fn add_tasks(conn: &mut Conn, project_id: i64, count: i64) -> Result<()> {
    let sql = match conn.backend() {
        Backend::Sqlite => "UPDATE projects SET task_number = task_number + $1 WHERE id = $2",
        Backend::Postgres => {
            "INSERT INTO project_stat_deltas (task_number, project_id) VALUES ($1, $2)"
        }
    };
    store::query(sql)
        .bind(count)
        .bind(project_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Recomputes every task of the project (after a change of overlap or of the skip rule, or
/// a bulk change) and then the project's sums.
pub async fn recount_project(conn: &mut Conn, project_id: i64, skip_queue: &str) -> Result<()> {
    store::query(&refresh_sql(skip_queue, "project_id = $1"))
        .bind(project_id)
        .execute(&mut *conn)
        .await?;
    sum_project(conn, project_id).await
}

/// The project's statistics from its tasks' counters, as `name` columns of one row.
const SUMS_FROM_TASKS: &str = "SELECT \
    COUNT(*) AS task_number, \
    COUNT(*) FILTER (WHERE t.is_labeled = 1) AS finished_task_number, \
    COALESCE(SUM(t.total_annotations), 0) AS total_annotations_number, \
    COALESCE(SUM(t.cancelled_annotations), 0) AS skipped_annotations_number, \
    COALESCE(SUM(t.useful_annotations), 0) AS useful_annotation_number, \
    COALESCE(SUM(t.ground_truth_annotations), 0) AS ground_truth_number, \
    COALESCE(SUM(t.total_predictions), 0) AS total_predictions_number, \
    COUNT(*) FILTER (WHERE t.useful_annotations > 0) AS num_tasks_with_annotations \
    FROM tasks t WHERE t.project_id = $1";

/// The statistics columns of `projects` (and of `project_stat_deltas`).
pub const STAT_COLUMNS: [&str; 8] = [
    "task_number",
    "finished_task_number",
    "total_annotations_number",
    "skipped_annotations_number",
    "useful_annotation_number",
    "ground_truth_number",
    "total_predictions_number",
    "num_tasks_with_annotations",
];

/// Re-adds the project's statistics from its tasks' counters. On PostgreSQL this writes
/// the difference as one more delta row, computed in one statement (one snapshot):
/// changes committed after that snapshot bring their own deltas.
pub async fn sum_project(conn: &mut Conn, project_id: i64) -> Result<()> {
    let sql = match conn.backend() {
        Backend::Sqlite => "UPDATE projects SET \
         task_number = (SELECT COUNT(*) FROM tasks t WHERE t.project_id = $1), \
         finished_task_number = (SELECT COUNT(*) FROM tasks t WHERE t.project_id = $1 AND t.is_labeled = 1), \
         total_annotations_number = (SELECT COALESCE(SUM(t.total_annotations), 0) FROM tasks t WHERE t.project_id = $1), \
         skipped_annotations_number = (SELECT COALESCE(SUM(t.cancelled_annotations), 0) FROM tasks t WHERE t.project_id = $1), \
         useful_annotation_number = (SELECT COALESCE(SUM(t.useful_annotations), 0) FROM tasks t WHERE t.project_id = $1), \
         ground_truth_number = (SELECT COALESCE(SUM(t.ground_truth_annotations), 0) FROM tasks t WHERE t.project_id = $1), \
         total_predictions_number = (SELECT COALESCE(SUM(t.total_predictions), 0) FROM tasks t WHERE t.project_id = $1), \
         num_tasks_with_annotations = (SELECT COUNT(*) FROM tasks t WHERE t.project_id = $1 AND t.useful_annotations > 0) \
         WHERE id = $1"
            .to_string(),
        Backend::Postgres => {
            let differences: Vec<String> = STAT_COLUMNS
                .iter()
                .map(|c| format!("s.{c} - p.{c} - COALESCE(d.{c}, 0)"))
                .collect();
            format!(
                "INSERT INTO project_stat_deltas (project_id, {}) \
                 SELECT p.id, {} FROM projects p CROSS JOIN ({SUMS_FROM_TASKS}) s \
                 LEFT JOIN LATERAL ({}) d ON TRUE WHERE p.id = $1",
                STAT_COLUMNS.join(", "),
                differences.join(", "),
                pending_sums("p.id"),
            )
        }
    };
    store::query(&sql)
        .bind(project_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// PostgreSQL: the deltas not yet folded into the project `project` (an SQL expression),
/// as one row with a column per statistic.
pub fn pending_sums(project: &str) -> String {
    let sums: Vec<String> = STAT_COLUMNS
        .iter()
        .map(|c| format!("SUM(x.{c})::BIGINT AS {c}"))
        .collect();
    format!(
        "SELECT {} FROM project_stat_deltas x WHERE x.project_id = {project}",
        sums.join(", ")
    )
}

/// PostgreSQL: folds the delta rows into the projects' rows, every quarter second, for
/// as long as the process runs. Each fold is one statement: a reader sees either the
/// rows before it with their deltas, or after it without them, never half.
pub fn spawn_folder(db: Db) {
    if db.backend != Backend::Postgres {
        return;
    }
    let sums: Vec<String> = STAT_COLUMNS
        .iter()
        .map(|c| format!("SUM({c})::BIGINT AS {c}"))
        .collect();
    let sets: Vec<String> = STAT_COLUMNS
        .iter()
        .map(|c| format!("{c} = p.{c} + s.{c}"))
        .collect();
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

async fn fold(db: &Db, sql: &str) -> store::Result<()> {
    let mut tx = db.begin().await?;
    // Lost in a database crash, a fold leaves its deltas in place: the sums do not move.
    db.skip_flush_wait(&mut tx).await?;
    store::query(sql).execute(&mut *tx).await?;
    tx.commit().await
}
