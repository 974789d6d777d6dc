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

use serde::{Serialize, Serializer};
use serde_json::Value;
use serde_json::value::RawValue;

/// Parses a JSON document stored as text; a damaged one reads as `null` rather than failing
/// the request.
pub fn stored_json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or(Value::Null)
}

/// A JSON document stored as text and kept as that text: an answer writes it out as it is,
/// without building it as a tree and serializing it again (a project's
/// `parsed_label_config` may be megabytes), and code that does not answer with it pays
/// nothing but the copy from the row. Checked as it is written out (a scan, no
/// allocation): a damaged one is written as `null`. [`StoredJson::value`] parses it where
/// code needs to look inside.
#[derive(Debug, Clone)]
pub struct StoredJson(String);

impl StoredJson {
    pub fn new(text: String) -> StoredJson {
        StoredJson(text)
    }

    /// The stored text.
    pub fn text(&self) -> &str {
        &self.0
    }

    /// The stored text, owned.
    pub fn into_text(self) -> String {
        self.0
    }

    /// The document, parsed.
    pub fn value(&self) -> Value {
        stored_json(&self.0)
    }

    /// Whether the document is an object with at least one key.
    pub fn has_keys(&self) -> bool {
        self.0
            .trim_start()
            .strip_prefix('{')
            .is_some_and(|rest| !rest.trim_start().starts_with('}'))
    }
}

impl Serialize for StoredJson {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match serde_json::from_str::<&RawValue>(&self.0) {
            Ok(raw) => raw.serialize(serializer),
            Err(_) => serializer.serialize_unit(),
        }
    }
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
