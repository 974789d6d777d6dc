//! Extractors whose rejections speak Label Studio's error shape, so malformed JSON, wrong
//! types, bad query strings and oversized bodies are 400/404/413 with a clear message.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use super::error::ApiError;

/// A JSON body deserialized into `T`; a wrong type names the field at fault.
pub struct LsJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for LsJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = body_bytes(req, state).await?;
        parse_json(&bytes).map(LsJson)
    }
}

/// Reads the whole body, mapping an over-limit body to 413.
pub async fn body_bytes<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, ApiError> {
    let limit = req
        .extensions()
        .get::<BodyLimit>()
        .map(|l| l.0)
        .unwrap_or(0);
    Bytes::from_request(req, state)
        .await
        .map_err(|rejection: BytesRejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge(limit)
            } else {
                ApiError::BadRequest(format!("Could not read the request body: {rejection}"))
            }
        })
}

/// The configured body limit, put into request extensions by the router so rejections can
/// name it.
#[derive(Clone, Copy)]
pub struct BodyLimit(pub usize);

/// Parses JSON into `T`, naming the offending field on a type error.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::field(
            "non_field_errors",
            "The request body is empty; send a JSON document.",
        ));
    }
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(&mut deserializer).map_err(json_error)?;
    deserializer
        .end()
        .map_err(|e| ApiError::field("non_field_errors", format!("JSON parse error - {e}")))?;
    Ok(value)
}

fn json_error(error: serde_path_to_error::Error<serde_json::Error>) -> ApiError {
    let inner = error.inner();
    if inner.is_syntax() || inner.is_eof() {
        return ApiError::field("non_field_errors", format!("JSON parse error - {inner}"));
    }
    let path = error.path().to_string();
    let field = if path == "." || path.is_empty() {
        "non_field_errors".to_string()
    } else {
        path
    };
    // serde's message ends with "at line L column C"; the field name says more.
    let message = inner.to_string();
    let message = message
        .rsplit_once(" at line ")
        .map(|(head, _)| head.to_string())
        .unwrap_or(message);
    let mut errors = Map::new();
    errors.insert(field, json!([message]));
    ApiError::Validation(errors)
}

/// A query string deserialized into `T`.
pub struct LsQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for LsQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(value)| LsQuery(value))
            .map_err(|rejection: QueryRejection| {
                let text = rejection.body_text();
                let text = text
                    .strip_prefix("Failed to deserialize query string: ")
                    .unwrap_or(&text);
                match text.split_once(": ") {
                    Some((field, message)) if !field.contains(' ') => {
                        ApiError::field(field, message)
                    }
                    _ => ApiError::field("query", text.to_string()),
                }
            })
    }
}

/// A numeric id from the path; anything else is 404, as in Label Studio.
pub struct Id(pub i64);

impl<S: Send + Sync> FromRequestParts<S> for Id {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match Path::<Vec<(String, String)>>::from_request_parts(parts, state).await {
            Ok(Path(params)) => params
                .first()
                .and_then(|(_, v)| v.parse::<i64>().ok())
                .filter(|id| *id > 0)
                .map(Id)
                .ok_or_else(ApiError::not_found),
            Err(_) => Err(ApiError::not_found()),
        }
    }
}

/// Two numeric ids from the path (`/webhooks/{id}/deliveries/{delivery_id}`).
pub struct Ids(pub i64, pub i64);

impl<S: Send + Sync> FromRequestParts<S> for Ids {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Path(params) = Path::<Vec<(String, String)>>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::not_found())?;
        let mut ids = params.iter().map(|(_, v)| v.parse::<i64>().ok());
        match (ids.next().flatten(), ids.next().flatten()) {
            (Some(a), Some(b)) => Ok(Ids(a, b)),
            _ => Err(ApiError::not_found()),
        }
    }
}

/// Deserializes a field that may be absent (`None`), `null` (`Some(None)`) or a value.
pub fn double_option<'de, T, D>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    T: serde::Deserialize<'de>,
    D: serde::Deserializer<'de>,
{
    serde::Deserialize::deserialize(deserializer).map(Some)
}

/// Reads an object body as a map (for partial updates that need to know which keys came).
pub fn as_object(value: Value) -> Result<Map<String, Value>, ApiError> {
    match value {
        Value::Object(map) => Ok(map),
        _ => Err(ApiError::field(
            "non_field_errors",
            "Invalid data. Expected a dictionary.",
        )),
    }
}
