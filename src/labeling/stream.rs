//! The label stream ("Label All Tasks"): which task a user labels next, and task locks.
//!
//! Label Studio's rules (`projects/functions/next_task.py`), for a project's tasks:
//! - only tasks not yet finished (`is_labeled`, which follows the overlap and the skip queue
//!   mode) and that this user has not annotated or skipped;
//! - a task this user holds an unexpired lock on comes first (reopening the stream gives
//!   back the same task);
//! - then (labelhook, as Label Studio Enterprise's requeue of rejected tasks) a task whose
//!   annotation by this user a review rejected, until they change it ("Rejected queue");
//! - with `maximum_annotations > 1`, tasks others have started come first, the most
//!   annotated first (breadth first: finish tasks before opening new ones);
//! - then by the project's sampling: sequential (by id), uniform (random) or uncertainty
//!   (lowest score of the current model version's predictions first, else random);
//! - with the skip queue `REQUEUE_FOR_ME`, the user's own skipped tasks come back last;
//! - a task is taken only while its unexpired locks of other users plus its annotations
//!   that count stay below its overlap; taking it locks it for the user until the lock's
//!   time runs out (`TASK_LOCK_TTL`, or the project's `custom_task_lock_ttl`), the user
//!   submits or skips it, or leaves the page.
//!
//! Concurrency: the choice and the lock are one write transaction. On SQLite it runs alone
//! (one writer). On PostgreSQL each candidate task's row is locked `FOR UPDATE SKIP
//! LOCKED` before its count is read again and its lock written, so two annotators asking
//! at once never both take the last place of a task: the second skips the row while the
//! first holds it, and reads the first's lock once it is committed.

use rand::seq::SliceRandom;

use super::projects::Project;
use super::tasks::{self, Task};
use crate::shared::{Actor, Result};
use crate::store::{self, Conn, time};

/// How many candidate tasks one query reads before the next page is asked for.
const PAGE: i64 = 32;

/// How many times the choice is made again while candidate rows are held by others.
const BUSY_ATTEMPTS: u32 = 200;

/// The `queue` of a task given back to its annotator by a rejecting review.
pub const REJECTED_QUEUE: &str = "Rejected queue";

/// Label Studio's skip queue modes (`Project.SkipQueue`).
const REQUEUE_FOR_ME: &str = "REQUEUE_FOR_ME";
const IGNORE_SKIPPED: &str = "IGNORE_SKIPPED";

/// The next task for `actor` in `project`, locked for them, with how it was found (Label
/// Studio's `queue` text); `None` when nothing is left to label.
pub async fn next(
    tx: &mut Conn,
    actor: &Actor,
    project: &Project,
    default_lock_ttl_secs: i64,
) -> Result<Option<(Task, String)>> {
    let now = time::now();
    let user = actor.user_id;

    // A task this user already holds comes back as it is (its lock is not extended).
    let held = store::query_scalar::<i64>(&format!(
        "SELECT t.id FROM task_locks l JOIN tasks t ON t.id = l.task_id \
         WHERE l.user_id = $1 AND l.expire_at > $2 AND t.project_id = $3 AND t.is_labeled = 0 \
         AND {} ORDER BY t.id LIMIT 1",
        not_done_by("t", "$1")
    ))
    .bind(user)
    .bind(now)
    .bind(project.id)
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(id) = held {
        let task = tasks::get(tx, actor, id).await?;
        return Ok(Some((task, "Task lock".into())));
    }

    // A rejected annotation of the user's sends its task back to them, oldest first.
    let rejected = store::query_scalar::<i64>(
        "SELECT a.task_id FROM annotations a WHERE a.project_id = $1 AND a.completed_by = $2 \
         AND a.was_cancelled = 0 AND a.review_state = 'rejected' ORDER BY a.id LIMIT 1",
    )
    .bind(project.id)
    .bind(user)
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(id) = rejected {
        let task = tasks::get(tx, actor, id).await?;
        return Ok(Some((task, REJECTED_QUEUE.into())));
    }

    // A task whose row another request holds may have room once that request commits:
    // when nothing free was found but some rows were busy, look again (briefly), so that
    // nobody is told "no more tasks" while places are left.
    let mut attempts = 0;
    let (found, queue) = loop {
        let mut busy = false;
        let mut queue = Vec::new();
        let mut found = None;
        if project.maximum_annotations > 1 {
            found = first_free(tx, project, user, now, Order::BreadthFirst, &mut busy).await?;
            if found.is_some() {
                queue.push("Breadth first queue");
            }
        }
        if found.is_none() {
            let (order, name) = match project.settings.sampling.as_str() {
                "Uniform sampling" => (Order::Random, "Uniform random queue"),
                "Uncertainty sampling" => (Order::Uncertainty, "Active learning or random queue"),
                _ => (Order::Sequence, "Sequence queue"),
            };
            found = first_free(tx, project, user, now, order, &mut busy).await?;
            if found.is_none() && order == Order::Uncertainty {
                found = first_free(tx, project, user, now, Order::Random, &mut busy).await?;
            }
            if found.is_some() {
                queue.push(name);
            }
        }
        if found.is_none() && project.skip_queue == REQUEUE_FOR_ME {
            found = first_free(tx, project, user, now, Order::MySkipped, &mut busy).await?;
            if found.is_some() {
                queue = vec!["Skipped queue"];
            }
        }
        attempts += 1;
        if found.is_some() || !busy || attempts >= BUSY_ATTEMPTS {
            break (found, queue);
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    };
    let Some(id) = found else {
        return Ok(None);
    };
    let ttl = project
        .settings
        .custom_task_lock_ttl
        .filter(|s| *s > 0)
        .unwrap_or(default_lock_ttl_secs);
    lock(tx, id, user, now, now + ttl.saturating_mul(1_000_000)).await?;
    let task = tasks::get(tx, actor, id).await?;
    Ok(Some((task, queue.join(" & "))))
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Order {
    BreadthFirst,
    Sequence,
    Random,
    Uncertainty,
    MySkipped,
}

/// SQL: the task `t` has no annotation (or skip) of the user bound at `user`.
fn not_done_by(t: &str, user: &str) -> String {
    format!(
        "NOT EXISTS (SELECT 1 FROM annotations a WHERE a.task_id = {t}.id AND a.completed_by = {user})"
    )
}

/// SQL: how many of the task's annotations count against its overlap for `user`, by the
/// skip queue mode (Label Studio's `Task.get_lock_exclude_query`): skips are ignored when
/// they go back to a queue, except in the mode where they stay where they are.
fn counted_annotations(skip_queue: &str, t: &str, user: &str) -> String {
    let excluded = match skip_queue {
        IGNORE_SKIPPED => "",
        REQUEUE_FOR_ME => &format!(" AND NOT (a.was_cancelled = 1 AND a.completed_by = {user})"),
        _ => &format!(" AND NOT (a.was_cancelled = 1 AND a.completed_by <> {user})"),
    };
    format!("(SELECT COUNT(*) FROM annotations a WHERE a.task_id = {t}.id{excluded})")
}

/// SQL: the unexpired locks other users hold on the task.
fn others_locks(t: &str, user: &str, now: &str) -> String {
    format!(
        "(SELECT COUNT(*) FROM task_locks l WHERE l.task_id = {t}.id AND l.user_id <> {user} \
         AND l.expire_at > {now})"
    )
}

/// The first task in `order` that the user may take, its row locked (PostgreSQL) and its
/// places counted again under that lock.
async fn first_free(
    tx: &mut Conn,
    project: &Project,
    user: i64,
    now: i64,
    order: Order,
    busy: &mut bool,
) -> Result<Option<i64>> {
    let free = format!(
        "{} + {} < t.overlap",
        others_locks("t", "$2", "$3"),
        counted_annotations(&project.skip_queue, "t", "$2")
    );
    let mut after = 0i64;
    loop {
        let (filter, order_by) = match order {
            Order::BreadthFirst => (
                "t.is_labeled = 0 AND EXISTS (SELECT 1 FROM annotations o WHERE o.task_id = t.id)"
                    .to_string(),
                "(SELECT COUNT(*) FROM annotations o WHERE o.task_id = t.id \
                 AND o.completed_by <> $2) DESC, t.id"
                    .to_string(),
            ),
            Order::Sequence | Order::Random => ("t.is_labeled = 0".into(), "t.id".into()),
            Order::Uncertainty => (
                "t.is_labeled = 0 AND EXISTS (SELECT 1 FROM predictions p WHERE p.task_id = t.id \
                 AND p.model_version = $5)"
                    .into(),
                "(SELECT MIN(p.score) FROM predictions p WHERE p.task_id = t.id \
                 AND p.model_version = $5), t.id"
                    .into(),
            ),
            // The user's skips, oldest first; the task must not be finished.
            Order::MySkipped => (
                "t.is_labeled = 0 AND EXISTS (SELECT 1 FROM annotations s WHERE s.task_id = t.id \
                 AND s.completed_by = $2 AND s.was_cancelled = 1) \
                 AND NOT EXISTS (SELECT 1 FROM annotations s WHERE s.task_id = t.id \
                 AND s.completed_by = $2 AND s.was_cancelled = 0)"
                    .into(),
                "(SELECT MIN(s.updated_at) FROM annotations s WHERE s.task_id = t.id \
                 AND s.completed_by = $2), t.id"
                    .into(),
            ),
        };
        let mine = if order == Order::MySkipped {
            "1 = 1".to_string()
        } else {
            not_done_by("t", "$2")
        };
        // Sequence pages by id; the other orders read one page (the breadth-first and
        // uncertainty orders are not by id, and random needs no second page: a page of
        // random candidates that are all taken means the project is nearly done).
        let paged = matches!(order, Order::Sequence);
        let sql = format!(
            "SELECT t.id FROM tasks t WHERE t.project_id = $1 AND {filter} AND {mine} \
             AND {free} AND t.id > $4 ORDER BY {} LIMIT {PAGE}",
            if order == Order::Random {
                "random()".to_string()
            } else {
                order_by
            }
        );
        let mut query = store::query_scalar::<i64>(&sql)
            .bind(project.id)
            .bind(user)
            .bind(now)
            .bind(after);
        if order == Order::Uncertainty {
            query = query.bind(project.settings.model_version.clone());
        }
        let mut candidates = query.fetch_all(&mut *tx).await?;
        if candidates.is_empty() {
            return Ok(None);
        }
        after = *candidates.iter().max().unwrap_or(&after);
        if order == Order::Random {
            candidates.shuffle(&mut rand::rng());
        }
        for id in candidates.iter().copied() {
            match still_free(tx, project, id, user, now, &free).await? {
                Place::Free => return Ok(Some(id)),
                Place::Busy => *busy = true,
                Place::Taken => {}
            }
        }
        if !paged {
            return Ok(None);
        }
    }
}

/// Takes the task's row lock (PostgreSQL: skipping a row another transaction holds) and
/// counts its places again, now that no one else can change them before we commit.
async fn still_free(
    tx: &mut Conn,
    project: &Project,
    id: i64,
    user: i64,
    now: i64,
    free: &str,
) -> Result<Place> {
    let lock = tx.backend().for_update_skip_locked();
    if !lock.is_empty() {
        let sql = format!("SELECT id FROM tasks WHERE id = $1{lock}");
        let locked = store::query_scalar::<i64>(&sql)
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
        if locked.is_none() {
            return Ok(Place::Busy);
        }
    }
    let sql = format!(
        "SELECT t.id FROM tasks t WHERE t.id = $4 AND t.project_id = $1 AND t.is_labeled = 0 \
         AND {free}"
    );
    let row = store::query_scalar::<i64>(&sql)
        .bind(project.id)
        .bind(user)
        .bind(now)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
    Ok(if row.is_some() {
        Place::Free
    } else {
        Place::Taken
    })
}

/// A candidate task, looked at under its row lock.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Place {
    Free,
    Taken,
    /// Another transaction holds its row (PostgreSQL): it may or may not have room after.
    Busy,
}

/// Locks `task` for `user` until `expire_at` (a lock they already hold is extended).
async fn lock(tx: &mut Conn, task: i64, user: i64, now: i64, expire_at: i64) -> Result<()> {
    store::query("DELETE FROM task_locks WHERE task_id = $1 AND (user_id = $2 OR expire_at <= $3)")
        .bind(task)
        .bind(user)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    store::query(
        "INSERT INTO task_locks (task_id, user_id, expire_at, unique_id) VALUES ($1, $2, $3, $4)",
    )
    .bind(task)
    .bind(user)
    .bind(expire_at)
    .bind(uuid::Uuid::new_v4().to_string())
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// The lock id the user holds on the task (Label Studio's `unique_lock_id`), if any.
pub async fn lock_id(conn: &mut Conn, task: i64, user: i64) -> Result<Option<String>> {
    Ok(store::query_scalar::<String>(
        "SELECT unique_id FROM task_locks WHERE task_id = $1 AND user_id = $2 AND expire_at > $3",
    )
    .bind(task)
    .bind(user)
    .bind(time::now())
    .fetch_optional(&mut *conn)
    .await?)
}

/// Releases the user's lock on the task, and any expired ones (Label Studio's
/// `Task.release_lock`): on submit, skip, and when the user leaves the page.
pub async fn release(tx: &mut Conn, task: i64, user: i64) -> Result<()> {
    store::query(&release_sql("$1", "$2", "$3"))
        .bind(task)
        .bind(user)
        .bind(time::now())
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// [`release`]'s statement, its task, user and time given as SQL (parameters of a
/// statement it is part of).
pub(super) fn release_sql(task: &str, user: &str, now: &str) -> String {
    format!(
        "DELETE FROM task_locks WHERE task_id = {task} AND (user_id = {user} OR expire_at <= {now})"
    )
}

/// `DELETE /api/tasks/{id}/lock`: the user gives the task back (a task of another
/// organization is 404, as everywhere).
pub async fn give_back(tx: &mut Conn, actor: &Actor, task: i64) -> Result<()> {
    tasks::get(tx, actor, task).await?;
    release(tx, task, actor.user_id).await
}
