//! The labeling server's domain: projects, tasks, annotations, predictions, imports and
//! their statistics.
//!
//! Every function that changes something takes the open write transaction and emits the
//! matching event into it (see `events`), so a change and its event commit together or not
//! at all. Request-path functions never commit: the API layer does, through `Db::commit`
//! (only the start-up task `projects::derive_missing` commits its own transactions, which
//! emit nothing).

pub mod annotations;
pub mod import;
pub mod import_files;
pub mod label_config;
pub mod ml_backends;
pub mod predictions;
pub mod projects;
pub mod render;
pub mod reviews;
pub mod stats;
pub mod stream;
pub mod tasks;

use serde_json::Value;

/// Parses a JSON document stored as text; a damaged one reads as `null` rather than failing
/// the request.
pub fn stored_json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or(Value::Null)
}

/// serde's error about an import item at `at` (`0.annotations.1`), as the field error
/// that names it: `0.annotations.1.was_cancelled`.
fn invalid_at(
    at: &str,
    error: &serde_path_to_error::Error<serde_json::Error>,
) -> crate::shared::Error {
    let (path, message) = crate::shared::input_error(error);
    let field = std::iter::once(at.to_string())
        .chain(path)
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(".");
    crate::shared::Error::invalid(field, message)
}

/// Settings the labeling layer needs from the server configuration.
#[derive(Debug, Clone)]
pub struct LabelingSettings {
    /// Objects per bulk event.
    pub batch_size: usize,
    /// How large a project's label config may be.
    pub label_config: label_config::Limits,
}
