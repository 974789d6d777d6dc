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
//!   `IGNORE_SKIPPED` every annotation) reach its `overlap`. Reviews (labelhook, as Label
//!   Studio Enterprise): a submitted annotation whose review rejected it does not count
//!   (its task is back in its annotator's queue), and with the project's `review_required`
//!   only accepted ones count; skips count as the skip queue mode says.

use super::projects::Project;
use crate::shared::Result;
use crate::store::{self, Conn, Row, counters};

/// What decides that a task is finished: the project's skip queue mode and whether review is
/// required.
#[derive(Debug, Clone, Copy)]
pub struct Finishing<'a> {
    pub skip_queue: &'a str,
    pub review_required: bool,
}

impl<'a> Finishing<'a> {
    pub fn of(project: &'a Project) -> Finishing<'a> {
        Finishing {
            skip_queue: &project.skip_queue,
            review_required: project.settings.review_required,
        }
    }
}

fn finished_condition(finishing: Finishing) -> String {
    let reviewed = if finishing.review_required {
        "a.review_state = 'accepted'"
    } else {
        "(a.review_state IS NULL OR a.review_state <> 'rejected')"
    };
    let submitted = format!("(a.was_cancelled = 0 AND a.result IS NOT NULL AND {reviewed})");
    if finishing.skip_queue == "IGNORE_SKIPPED" {
        format!("(a.was_cancelled = 1 OR {submitted})")
    } else {
        submitted
    }
}

/// `UPDATE tasks` recomputing the counters of the tasks matched by `where_clause`.
fn refresh_sql(finishing: Finishing, where_clause: &str) -> String {
    refresh_sql_setting(finishing, "", where_clause)
}

/// [`refresh_sql`], setting `also` too (`"updated_by = $2, "`: ends with a comma).
fn refresh_sql_setting(finishing: Finishing, also: &str, where_clause: &str) -> String {
    let finished = finished_condition(finishing);
    // The annotation counters in one pass over the task's annotations (one index scan,
    // not five).
    format!(
        "UPDATE tasks SET {also}\
         (total_annotations, cancelled_annotations, useful_annotations, \
         ground_truth_annotations, is_labeled) = (SELECT \
         COUNT(*) FILTER (WHERE a.was_cancelled = 0), \
         COUNT(*) FILTER (WHERE a.was_cancelled = 1), \
         COUNT(*) FILTER (WHERE a.was_cancelled = 0 AND a.ground_truth = 0 AND a.result IS NOT NULL), \
         COUNT(*) FILTER (WHERE a.ground_truth = 1), \
         CASE WHEN COUNT(*) FILTER (WHERE {finished}) >= tasks.overlap THEN 1 ELSE 0 END \
         FROM annotations a WHERE a.task_id = tasks.id), \
         total_predictions = (SELECT COUNT(*) FROM predictions p WHERE p.task_id = tasks.id) \
         WHERE {where_clause}"
    )
}

/// A task's counters, as read before a change moves them ([`TaskCounters::read`]).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct TaskCounters {
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

/// The task's counter columns under their names, for a statement that reads a task `t`
/// before changing it ([`TaskCounters::read`]).
pub const COUNTER_COLUMNS: &str = "t.total_annotations, t.cancelled_annotations, \
    t.useful_annotations, t.ground_truth_annotations, t.total_predictions, t.is_labeled";

impl TaskCounters {
    /// From a row with the columns of [`COUNTER_COLUMNS`] (by name).
    pub fn read(row: &Row) -> store::Result<TaskCounters> {
        counters_from(row)
    }
}

fn counters_from(row: &Row) -> store::Result<TaskCounters> {
    Ok(TaskCounters {
        total: row.try_get("total_annotations")?,
        cancelled: row.try_get("cancelled_annotations")?,
        useful: row.try_get("useful_annotations")?,
        ground_truth: row.try_get("ground_truth_annotations")?,
        predictions: row.try_get("total_predictions")?,
        labeled: row.try_get("is_labeled")?,
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

impl ProjectDelta {
    /// The task became labeled (its annotations reached the overlap) by this change.
    pub fn completed_task(&self) -> bool {
        self.task.labeled > 0
    }
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
        refresh_sql(Finishing::of(project), "id = $1")
    );
    let row = store::query(&sql)
        .bind(task_id)
        .fetch_one(&mut *conn)
        .await?;
    Ok(apply_difference(project, before, counters_from(&row)?))
}

/// [`refresh_task_counters`] for a task whose row this transaction has locked and read
/// (`before`): one statement, which also records who changed the task and when, and
/// returns the task's columns `returning` (its state as committed).
pub async fn refresh_locked_task(
    conn: &mut Conn,
    project: &mut Project,
    task_id: i64,
    before: TaskCounters,
    updated_by: i64,
    returning: &str,
) -> Result<(ProjectDelta, Row)> {
    let sql = format!(
        "{} RETURNING useful_annotations, ground_truth_annotations, {returning}",
        refresh_sql_setting(
            Finishing::of(project),
            "updated_by = $2, updated_at = $3, ",
            "id = $1"
        )
    );
    let row = store::query(&sql)
        .bind(task_id)
        .bind(updated_by)
        .bind(crate::store::time::now())
        .fetch_one(&mut *conn)
        .await?;
    let delta = apply_difference(project, before, counters_from(&row)?);
    Ok((delta, row))
}

/// The difference between a task's counters before and after a change, added to
/// `project`'s statistics in memory.
fn apply_difference(
    project: &mut Project,
    before: TaskCounters,
    after: TaskCounters,
) -> ProjectDelta {
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
    delta
}

/// Writes what [`refresh_task_counters`] computed into the project's counters.
pub async fn save_project_delta(
    conn: &mut Conn,
    project_id: i64,
    delta: &ProjectDelta,
) -> Result<()> {
    if *delta == ProjectDelta::default() {
        return Ok(());
    }
    let values = [
        ("total_annotations_number", delta.task.total),
        ("skipped_annotations_number", delta.task.cancelled),
        ("useful_annotation_number", delta.task.useful),
        ("ground_truth_number", delta.task.ground_truth),
        ("total_predictions_number", delta.task.predictions),
        ("finished_task_number", delta.task.labeled),
        ("num_tasks_with_annotations", delta.with_useful),
    ];
    Ok(counters::add(conn, project_id, &values).await?)
}

/// Counts `count` new tasks in the project's statistics.
pub async fn add_tasks(conn: &mut Conn, project_id: i64, count: i64) -> Result<()> {
    Ok(counters::add(conn, project_id, &[("task_number", count)]).await?)
}

/// Recomputes every task of the project (after a change of overlap, of the skip rule or of
/// whether review is required, or a bulk change) and then the project's sums.
pub async fn recount_project(
    conn: &mut Conn,
    project_id: i64,
    finishing: Finishing<'_>,
) -> Result<()> {
    store::query(&refresh_sql(finishing, "project_id = $1"))
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

/// Re-adds the project's statistics from its tasks' counters.
pub async fn sum_project(conn: &mut Conn, project_id: i64) -> Result<()> {
    Ok(counters::set(conn, project_id, SUMS_FROM_TASKS).await?)
}
