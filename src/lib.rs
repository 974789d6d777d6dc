//! labelhook: a Label Studio-compatible labeling server whose webhooks never lose an event.
//!
//! The modules are layers, declared below from the top down: a module names only modules
//! of the layers below it (ARCHITECTURE.md has the map; `tests/architecture.rs` keeps the
//! rule). A request flows down through them: `api` (HTTP) → `labeling` (the domain, in one
//! transaction) → `events` (the outbox rows) → `delivery` (hand over at commit, or claim;
//! sign, send, record, retry) → `store` (the database).

#![recursion_limit = "256"]

// Entry points: `labelhook serve`, `listen` and `import`.
pub mod import_cli;
pub mod listen;
pub mod server;

// HTTP: the web pages, and the API they call.
pub(crate) mod web;

pub mod api;

// The domain: webhooks and export beside labeling (using it), labeling, then organizations
// and users.
pub(crate) mod export;
pub(crate) mod webhooks;

pub(crate) mod labeling;

pub mod auth;

// The outbox and its dispatcher.
pub(crate) mod events;

pub(crate) mod delivery;

// The database.
pub mod store;

// The vocabulary every layer speaks (acting user, scope, error), and the settings.
pub mod config;
pub mod shared;

/// labelhook's version, as `/api/version` and the `User-Agent` of deliveries show it.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// The Label Studio release whose API labelhook follows.
pub const LABEL_STUDIO_VERSION: &str = "1.23.2";
/// `User-Agent` of every delivery.
pub const USER_AGENT: &str = concat!("labelhook/", env!("CARGO_PKG_VERSION"));
