//! The one error type of the API, rendered in Label Studio's shape:
//! `{"id", "status_code", "version", "detail", "exc_info", "validation_errors"?}`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Map, Value, json};
use utoipa::ToSchema;

use crate::shared;
use crate::store;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400 with messages per field.
    #[error("validation error")]
    Validation(Map<String, Value>),
    /// 400 with only a message.
    #[error("{0}")]
    BadRequest(String),
    /// 410: no longer kept; `more` adds keys to the body (where to go on from).
    #[error("{detail}")]
    Gone {
        detail: String,
        more: Map<String, Value>,
    },
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Unauthorized(&'static str),
    /// 403: signed in, but not allowed (the role, a CSRF check).
    #[error("{0}")]
    Forbidden(String),
    /// 413: the body is over `limit` bytes, the value of the setting `setting`.
    #[error("request body is larger than {limit} bytes")]
    PayloadTooLarge { limit: usize, setting: &'static str },
    #[error("{0}")]
    MethodNotAllowed(String),
    /// 429: too many bad tokens from one client; retry after this long.
    #[error("throttled for {0:?}")]
    Throttled(std::time::Duration),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    /// A 400 naming one field.
    pub fn field(field: &str, message: impl Into<String>) -> ApiError {
        let mut errors = Map::new();
        errors.insert(field.to_string(), json!([message.into()]));
        ApiError::Validation(errors)
    }

    /// 413 for a JSON body over `LABELHOOK_MAX_BODY_BYTES`.
    pub fn body_too_large(limit: usize) -> ApiError {
        ApiError::PayloadTooLarge {
            limit,
            setting: "LABELHOOK_MAX_BODY_BYTES",
        }
    }

    /// 413 for an upload over `LABELHOOK_MAX_UPLOAD_BYTES`.
    pub fn upload_too_large(limit: usize) -> ApiError {
        ApiError::PayloadTooLarge {
            limit,
            setting: "LABELHOOK_MAX_UPLOAD_BYTES",
        }
    }

    pub fn not_found() -> ApiError {
        ApiError::NotFound("Not found.".into())
    }
}

impl From<store::Error> for ApiError {
    fn from(error: store::Error) -> Self {
        ApiError::Internal(error.into())
    }
}

impl From<shared::Error> for ApiError {
    fn from(error: shared::Error) -> Self {
        match error {
            shared::Error::NotFound(what) => ApiError::NotFound(format!("{what} not found.")),
            shared::Error::Invalid { field, message } => ApiError::field(&field, message),
            shared::Error::Forbidden(detail) => ApiError::Forbidden(detail),
            shared::Error::Internal(e) => ApiError::Internal(e),
        }
    }
}

/// Whether a database error that the database cannot take writes is behind `error`.
fn write_failure(error: &anyhow::Error) -> Option<store::WriteFailure> {
    error
        .chain()
        .find_map(|cause| cause.downcast_ref::<store::Error>())
        .and_then(store::Error::write_failure)
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut retry_after = None;
        let mut more = None;
        let (status, detail, validation_errors) = match self {
            ApiError::Validation(errors) => (
                StatusCode::BAD_REQUEST,
                "Validation error".to_string(),
                Some(errors),
            ),
            ApiError::BadRequest(detail) => (StatusCode::BAD_REQUEST, detail, None),
            ApiError::Gone { detail, more: keys } => {
                more = Some(keys);
                (StatusCode::GONE, detail, None)
            }
            ApiError::NotFound(detail) => (StatusCode::NOT_FOUND, detail, None),
            ApiError::Unauthorized(detail) => (StatusCode::UNAUTHORIZED, detail.to_string(), None),
            ApiError::Forbidden(detail) => (StatusCode::FORBIDDEN, detail, None),
            ApiError::PayloadTooLarge { limit, setting } => (
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("Request body is larger than the limit of {limit} bytes ({setting})."),
                None,
            ),
            ApiError::MethodNotAllowed(detail) => (StatusCode::METHOD_NOT_ALLOWED, detail, None),
            ApiError::Throttled(wait) => {
                retry_after = Some(wait.as_secs().max(1));
                (
                    StatusCode::TOO_MANY_REQUESTS,
                    format!(
                        "Request was throttled: too many invalid tokens from this address. Expected available in {} seconds.",
                        wait.as_secs().max(1)
                    ),
                    None,
                )
            }
            ApiError::Internal(error) => match write_failure(&error) {
                // The database's state, not a bug: say so (`store::health` logged it).
                Some(failure) => (
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!("{} Nothing was changed.", failure.describe()),
                    None,
                ),
                None => {
                    tracing::error!(error = format!("{error:#}"), "request failed");
                    (
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "Internal server error; the server log has the details.".to_string(),
                        None,
                    )
                }
            },
        };
        let body = Error {
            id: uuid::Uuid::new_v4().to_string(),
            status_code: status.as_u16(),
            version: crate::VERSION,
            detail,
            exc_info: None,
            validation_errors,
        };
        let mut response = match more {
            Some(keys) => {
                let mut value = serde_json::to_value(&body).unwrap_or_default();
                if let Value::Object(map) = &mut value {
                    map.extend(keys);
                }
                axum::Json(value).into_response()
            }
            None => axum::Json(body).into_response(),
        };
        *response.status_mut() = status;
        if let Some(seconds) = retry_after {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, seconds.into());
        }
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            // The rest of the body was never read, so this connection cannot carry another
            // request: say so, or a client pools it and its next request meets the close.
            response.headers_mut().insert(
                axum::http::header::CONNECTION,
                axum::http::HeaderValue::from_static("close"),
            );
        }
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Token"),
            );
        }
        response
    }
}

/// Label Studio's error shape, the body of every error status.
#[derive(Serialize, ToSchema)]
pub struct Error {
    /// A fresh UUID per error, for finding it in the log.
    #[schema(format = "uuid")]
    id: String,
    /// The HTTP status again.
    status_code: u16,
    /// The server's version.
    version: &'static str,
    /// What went wrong; `Validation error` when `validation_errors` says per field.
    detail: String,
    /// Always `null` (Label Studio fills it in debug mode only).
    #[schema(value_type = Option<String>, required = true)]
    exc_info: Option<()>,
    /// Messages per field (400 only): a list of messages, or per list index for lists.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Object, nullable = false, required = false)]
    validation_errors: Option<Map<String, Value>>,
}
