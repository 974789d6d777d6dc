//! Whether the database takes writes, as the last writes found. A statement or commit that
//! fails because the database is full (or read-only, or its storage fails) marks it; the
//! next API request that changes something and succeeds clears it (the dispatcher's own
//! small updates may still fit where a request's inserts do not: they do not clear it).
//! `/health` and `/metrics` report it, and the API answers such failures 503 with the
//! reason instead of a bare 500.
//!
//! Process-wide, like the metrics recorder: one process serves one database.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use super::sql::{Error, WriteFailure};
use super::time;

/// Set while the last write failed for lack of space (or the like): keeps the check on
/// every successful commit to one load.
static FAILING: AtomicBool = AtomicBool::new(false);
static PROBLEM: Mutex<Option<Problem>> = Mutex::new(None);

/// Why the database does not take writes, since when (microseconds since the epoch).
#[derive(Debug, Clone, Copy)]
pub struct Problem {
    pub failure: WriteFailure,
    pub since: i64,
}

/// The database does not take writes now, if the last write found so.
pub fn problem() -> Option<Problem> {
    if !FAILING.load(Ordering::Acquire) {
        return None;
    }
    PROBLEM.lock().ok().and_then(|problem| *problem)
}

/// Called with every failed statement or commit.
pub fn note_error(error: &Error) {
    let Some(failure) = error.write_failure() else {
        return;
    };
    metrics::counter!("labelhook_database_write_failures_total", "reason" => failure.label())
        .increment(1);
    let Ok(mut problem) = PROBLEM.lock() else {
        return;
    };
    if problem.is_none_or(|p| p.failure != failure) {
        tracing::error!(%error, "{}", failure.describe());
        *problem = Some(Problem {
            failure,
            since: time::now(),
        });
    }
    FAILING.store(true, Ordering::Release);
}

/// Called after every API request that changed something and succeeded.
pub fn note_write() {
    if FAILING.swap(false, Ordering::AcqRel)
        && let Ok(mut problem) = PROBLEM.lock()
        && problem.take().is_some()
    {
        tracing::info!("the database takes writes again");
    }
}
