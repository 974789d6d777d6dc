//! `GET /api/events/`: the organization's event stream, for receivers that pull (behind a
//! firewall, catching up after an outage).

use std::time::Duration;

use axum::Json;
use serde::Deserialize;
use utoipa::IntoParams;

use super::error::{ApiError, ApiResult};
use super::extract::{Caller, LsQuery};
use super::route::{Route, get, tagged};
use crate::events::custom::is_action_name;
use crate::events::stream::{self, Cursor, StreamPage};
use crate::shared::Role;

pub(super) fn routes() -> Vec<Route> {
    tagged(
        "events",
        [get("/api/events", read)
            .doc("events_list", "Read the event stream")
            .needs(Role::Manager)
            .about(
                "The organization's events in sequence order (`sequence` is the \
                 `labelhook-sequence` header of their deliveries), each with the body its \
                 webhooks get, whether or not a webhook takes it. Pass the answer's `next` as \
                 `after` to read on. With `wait`, a request that finds nothing new waits up \
                 to that many seconds for an event. Events are kept for LABELHOOK_RETENTION: \
                 an `after` older than that is answered 410 with `oldest_after`.",
            )
            .query::<EventsQuery>()
            .ok::<StreamPage>("A page of events and the cursor to read on from")
            .gone()],
    )
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct EventsQuery {
    /// Events numbered after this (default 0: from the oldest kept).
    #[param(value_type = Option<i64>, minimum = 0)]
    after: Option<String>,
    /// Events per page, 1 to 1000 (default 100).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 1000)]
    limit: Option<String>,
    /// Only this project's events (`null`: only organization-level ones). Another
    /// organization's project has none.
    #[param(pattern = "^([0-9]+|null|None)$")]
    project: Option<String>,
    /// Only this action (a catalogue action or a custom one).
    #[param(pattern = "^[A-Z][A-Z0-9_]*$")]
    action: Option<String>,
    /// Seconds to wait for an event when there is none yet, 0 to 30 (default 0).
    #[param(value_type = Option<f64>, minimum = 0, maximum = 30)]
    wait: Option<String>,
    /// `true`: the newest `limit` events (after `after`) instead of the oldest; for a
    /// view of the head, or a reader that starts there and follows `next`.
    #[param(value_type = Option<bool>)]
    newest: Option<String>,
}

async fn read(
    Caller { state, actor }: Caller,
    LsQuery(query): LsQuery<EventsQuery>,
) -> ApiResult<Json<StreamPage>> {
    let cursor = parse(&query)?;
    match stream::read(&state.db, actor.organization_id, &cursor).await? {
        Ok(page) => Ok(Json(page)),
        Err(pruned) => {
            let oldest = pruned.oldest_after;
            let mut more = serde_json::Map::new();
            more.insert("oldest_after".into(), oldest.into());
            more.insert("oldest_sequence".into(), (oldest + 1).into());
            Err(ApiError::Gone {
                detail: format!(
                    "Events up to sequence {oldest} were pruned (LABELHOOK_RETENTION); read on \
                     from after={oldest}, catching up on what was missed by other means."
                ),
                more,
            })
        }
    }
}

/// The query, checked: each bad value is a 400 naming its parameter.
fn parse(query: &EventsQuery) -> ApiResult<Cursor> {
    let integer = |name: &str, text: Option<&str>, min: i64, max: i64, default: i64| {
        let Some(text) = text.map(str::trim).filter(|t| !t.is_empty()) else {
            return Ok(default);
        };
        match text.parse::<i64>() {
            Ok(n) if (min..=max).contains(&n) => Ok(n),
            Ok(_) if max == i64::MAX => Err(ApiError::field(
                name,
                format!("Ensure this value is greater than or equal to {min}."),
            )),
            Ok(_) => Err(ApiError::field(
                name,
                format!("Ensure this value is between {min} and {max}."),
            )),
            Err(_) => Err(ApiError::field(name, "A valid integer is required.")),
        }
    };
    let after = integer("after", query.after.as_deref(), 0, i64::MAX, 0)?;
    let limit = integer(
        "limit",
        query.limit.as_deref(),
        1,
        stream::MAX_LIMIT,
        stream::DEFAULT_LIMIT,
    )?;
    let project = match query.project.as_deref().map(str::trim) {
        None | Some("") => None,
        Some("null" | "None") => Some(None),
        Some(text) => Some(Some(text.parse::<i64>().map_err(|_| {
            ApiError::field("project", "A valid integer or `null` is required.")
        })?)),
    };
    let action = match query.action.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(name) => {
            if !is_action_name(name) {
                return Err(ApiError::field(
                    "action",
                    format!("\"{name}\" is not an action: upper case letters, digits and _."),
                ));
            }
            Some(name.to_string())
        }
    };
    // Longer than 30 s is refused, not shortened: a client that asks for more has a
    // timeout of its own that the answer must come within.
    let wait = match query.wait.as_deref().map(str::trim) {
        None | Some("") => Duration::ZERO,
        Some(text) => match text.parse::<f64>() {
            Ok(seconds) if (0.0..=stream::MAX_WAIT.as_secs_f64()).contains(&seconds) => {
                Duration::from_secs_f64(seconds)
            }
            Ok(_) => {
                return Err(ApiError::field(
                    "wait",
                    format!(
                        "Ensure this value is between 0 and {}.",
                        stream::MAX_WAIT.as_secs()
                    ),
                ));
            }
            Err(_) => return Err(ApiError::field("wait", "A valid number is required.")),
        },
    };
    let newest = match query.newest.as_deref().map(str::trim) {
        None | Some("" | "false" | "0") => false,
        Some("true" | "1") => true,
        Some(_) => return Err(ApiError::field("newest", "Must be a valid boolean.")),
    };
    Ok(Cursor {
        after,
        limit,
        project,
        action,
        wait,
        newest,
    })
}
