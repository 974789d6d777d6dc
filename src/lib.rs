//! labelhook: a Label Studio-compatible labeling server whose webhooks never lose an event.
//!
//! The modules, in the order an event flows through them (ARCHITECTURE.md has the map):
//! `api` (HTTP) → `labeling` (the domain, in one transaction) → `events` (the outbox rows)
//! → `store` (the database) → `delivery` (claim, sign, send, record, retry).

#![recursion_limit = "256"]

pub mod api;
pub mod auth;
pub mod config;
pub mod delivery;
pub mod events;
pub mod import_cli;
pub mod labeling;
pub mod listen;
pub mod server;
pub mod store;
pub mod web;
pub mod webhooks;

/// labelhook's version, as `/api/version` and the `User-Agent` of deliveries show it.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// The Label Studio release whose API labelhook follows.
pub const LABEL_STUDIO_VERSION: &str = "1.23.2";
/// `User-Agent` of every delivery.
pub const USER_AGENT: &str = concat!("labelhook/", env!("CARGO_PKG_VERSION"));
