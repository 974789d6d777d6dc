//! Page numbers as Label Studio reads them: `?page=1&page_size=30`.

use axum::http::HeaderMap;
use axum::http::header::HOST;
use serde::Deserialize;
use serde_json::{Value, json};

use super::error::ApiError;

#[derive(Debug, Deserialize)]
pub struct PageQuery {
    pub page: Option<String>,
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

/// Django REST framework's page envelope: `{count, next, previous, results}`.
pub fn envelope(
    headers: &HeaderMap,
    path: &str,
    page: &Page,
    count: i64,
    results: Vec<Value>,
) -> Value {
    let host = headers
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    let link = |number: i64| {
        Value::String(format!(
            "http://{host}{path}?page={number}&page_size={}",
            page.size
        ))
    };
    let next = if page.number.saturating_mul(page.size) < count {
        link(page.number + 1)
    } else {
        Value::Null
    };
    let previous = if page.number > 1 {
        link(page.number - 1)
    } else {
        Value::Null
    };
    json!({ "count": count, "next": next, "previous": previous, "results": results })
}
