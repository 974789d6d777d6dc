//! The web pages (Settings → Webhooks, organization webhooks, the delivery log), served by
//! the same binary with their assets embedded at build time.

use axum::Router;
use axum::response::Redirect;
use axum::routing::get;

use crate::api::AppState;

pub fn routes() -> Router<AppState> {
    Router::new().route("/", get(|| async { Redirect::temporary("/ui/") }))
}
