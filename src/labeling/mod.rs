//! The labeling server's domain: projects, tasks, annotations, predictions, imports and
//! their statistics.
//!
//! Every function that changes something takes the open write transaction and emits the
//! matching event into it (see `events`), so a change and its event commit together or not
//! at all. Functions never commit: the API layer does, through `Db::commit`.

pub mod annotations;
pub mod import;
pub mod import_files;
pub mod label_config;
pub mod ml_backends;
pub mod predictions;
pub mod projects;
pub mod render;
pub mod stats;
pub mod tasks;

use crate::store;
use serde_json::Value;

/// Who is acting: every operation is confined to the actor's organization.
#[derive(Debug, Clone)]
pub struct Actor {
    pub user_id: i64,
    pub organization_id: i64,
    pub email: String,
}

#[derive(Debug, thiserror::Error)]
pub enum LabelingError {
    /// The object does not exist or belongs to another organization (both are 404).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// Input that cannot be accepted; `field` names it for the client.
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    #[error(transparent)]
    Database(#[from] store::Error),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

pub type Result<T> = std::result::Result<T, LabelingError>;

impl LabelingError {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> LabelingError {
        LabelingError::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Parses a JSON document stored as text; a damaged one reads as `null` rather than failing
/// the request.
pub fn stored_json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or(Value::Null)
}

/// Settings the labeling layer needs from the server configuration.
#[derive(Debug, Clone)]
pub struct LabelingSettings {
    /// Objects per bulk event.
    pub batch_size: usize,
}
