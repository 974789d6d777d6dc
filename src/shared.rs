//! The vocabulary every layer speaks: who is acting, where an event happened, and the
//! error a request can end in.
//!
//! This module is the bottom of the dependency graph (ARCHITECTURE.md, "Dependencies point
//! one way"): it names no other module of the crate, so any module may use it.

/// Who is acting: every operation is confined to the actor's organization.
#[derive(Debug, Clone)]
pub struct Actor {
    pub user_id: i64,
    pub organization_id: i64,
    pub email: String,
}

/// Where an event happened: its organization and, for most actions, its project.
#[derive(Debug, Clone, Copy)]
pub struct Scope {
    pub organization_id: i64,
    pub project_id: Option<i64>,
}

/// Why an operation on the organization's objects failed. The API renders each variant in
/// Label Studio's error shape (404, 400 naming the field, 500).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The object does not exist or belongs to another organization (both are 404).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// Input that cannot be accepted; `field` names it for the client.
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    /// Anything else (the database, a bug): a 500, with the details in the server log.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Error {
        Error::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }
}
