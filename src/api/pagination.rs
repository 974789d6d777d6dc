//! Page numbers as Label Studio reads them: `?page=1&page_size=30`.

use axum::http::HeaderMap;
use axum::http::header::HOST;
use serde::{Deserialize, Serialize};
use utoipa::IntoParams;

use super::error::ApiError;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Page number, from 1.
    #[param(value_type = Option<i64>, minimum = 1)]
    pub page: Option<String>,
    /// Items per page (larger values are cut to 10000).
    #[param(value_type = Option<i64>, minimum = 1)]
    pub page_size: Option<String>,
}

pub struct Page {
    pub number: i64,
    pub size: i64,
}

impl Page {
    pub fn offset(&self) -> i64 {
        // Saturating: a huge page number is past the end (an empty page), not an overflow.
        (self.number - 1).saturating_mul(self.size)
    }
}

const MAX_PAGE_SIZE: i64 = 10_000;

impl PageQuery {
    /// The requested page; a malformed number is a 400 naming the parameter.
    pub fn page(&self, default_size: i64) -> Result<Page, ApiError> {
        let parse =
            |name: &str, value: &Option<String>, default: i64| -> Result<i64, ApiError> {
                match value.as_deref().map(str::trim) {
                    None | Some("") => Ok(default),
                    Some(text) => text.parse::<i64>().ok().filter(|n| *n >= 1).ok_or_else(|| {
                        ApiError::field(name, "A valid positive integer is required.")
                    }),
                }
            };
        Ok(Page {
            number: parse("page", &self.page, 1)?,
            size: parse("page_size", &self.page_size, default_size)?.min(MAX_PAGE_SIZE),
        })
    }
}

/// Django REST framework's page envelope (the route table describes it: `Route::ok_page`).
#[derive(Serialize)]
pub struct Envelope<T> {
    pub count: i64,
    pub next: Option<String>,
    pub previous: Option<String>,
    pub results: Vec<T>,
}

/// The envelope of one page of `count` objects, with links to its neighbours.
pub fn envelope<T>(
    headers: &HeaderMap,
    path: &str,
    page: &Page,
    count: i64,
    results: Vec<T>,
) -> Envelope<T> {
    let host = headers
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    let link = |number: i64| format!("http://{host}{path}?page={number}&page_size={}", page.size);
    Envelope {
        count,
        next: (page.number.saturating_mul(page.size) < count).then(|| link(page.number + 1)),
        previous: (page.number > 1).then(|| link(page.number - 1)),
        results,
    }
}
