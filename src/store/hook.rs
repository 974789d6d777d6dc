//! Commit hooks: how a higher layer follows the write transactions it writes into, without
//! the store knowing what it is (the dispatcher's handoff does: `delivery::handoff`).
//!
//! Each write transaction gets a fresh hook from the factory given to [`super::Db::on_commit`].
//! Code inside the transaction finds it again with [`super::Conn::hook`]; the store calls
//! [`CommitHook::committed`] once the commit is durable, and drops the hook unused when
//! the transaction rolls back.

use std::any::Any;
use std::sync::Arc;

/// One write transaction's hook.
pub trait CommitHook: Any + Send {
    /// Whether committing must wake whoever waits on [`super::Db::committed`] (on
    /// PostgreSQL, every process, by a notification sent with the commit).
    fn wake_on_commit(&self) -> bool;

    /// The transaction's commit is durable.
    fn committed(self: Box<Self>);
}

/// Makes the hook of each new write transaction.
pub type CommitHooks = Arc<dyn Fn() -> Box<dyn CommitHook> + Send + Sync>;
