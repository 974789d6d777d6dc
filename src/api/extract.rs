//! Extractors whose rejections speak Label Studio's error shape, so malformed JSON, wrong
//! types, bad query strings and oversized bodies are 400/404/413 with a clear message;
//! and [`Caller`], who is asking.

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::header::CONTENT_LENGTH;
use axum::http::request::Parts;
use http_body_util::BodyExt;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use super::AppState;
use super::error::{ApiError, ApiResult};
use crate::shared::{Actor, input_error};
use crate::store;

/// A JSON body deserialized into `T`; a wrong type names the field at fault.
pub struct LsJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for LsJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = body_bytes(req, state).await?;
        parse_json(&bytes).map(LsJson)
    }
}

/// Reads the whole body within the JSON body limit (`LABELHOOK_MAX_BODY_BYTES`): 413 on a
/// larger `Content-Length` before reading any of it, or as soon as a body without one
/// (chunked) grows past the limit. Nothing over the limit is ever buffered.
pub async fn body_bytes<S: Send + Sync>(req: Request, _state: &S) -> Result<Bytes, ApiError> {
    let limit = req
        .extensions()
        .get::<BodyLimit>()
        .map(|l| l.0)
        .unwrap_or(0);
    refuse_declared_over(&req, limit, ApiError::body_too_large)?;
    let limited = http_body_util::Limited::new(req.into_body(), limit);
    match limited.collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.is::<http_body_util::LengthLimitError>() => {
            Err(ApiError::body_too_large(limit))
        }
        Err(error) => Err(ApiError::BadRequest(format!(
            "Could not read the request body: {error}"
        ))),
    }
}

/// 413 (`too_large`) when the body's `Content-Length` is over `limit`: refused before it
/// is read.
pub fn refuse_declared_over(
    req: &Request,
    limit: usize,
    too_large: fn(usize) -> ApiError,
) -> Result<(), ApiError> {
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    match declared {
        Some(length) if length > limit as u64 => Err(too_large(limit)),
        _ => Ok(()),
    }
}

/// The JSON body limit, put into request extensions by the router so rejections can
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
    reject_null_characters(bytes)?;
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value: T = match serde_path_to_error::deserialize(ObjectsOnly(&mut deserializer)) {
        Ok(value) => value,
        Err(error) => {
            return Err(wrong_kind_of_value::<T>(&error, bytes).unwrap_or(json_error(error)));
        }
    };
    deserializer
        .end()
        .map_err(|e| ApiError::field("non_field_errors", format!("JSON parse error - {e}")))?;
    Ok(value)
}

/// serde_json's reader calls a choice (an enum) given as a number or a list a syntax
/// error ("expected value"), though the document is valid JSON: read such a document again
/// as a value, which names the field and says what is wrong with it.
fn wrong_kind_of_value<T: DeserializeOwned>(
    error: &serde_path_to_error::Error<serde_json::Error>,
    bytes: &[u8],
) -> Option<ApiError> {
    if !error.inner().is_syntax() {
        return None;
    }
    let document: Value = serde_json::from_slice(bytes).ok()?;
    serde_path_to_error::deserialize::<_, T>(document)
        .err()
        .map(json_error)
}

/// A JSON object already read (a body checked only once its object was found, so that a
/// foreign id is 404 whatever the body) as the input type `T`.
pub fn from_object<T: DeserializeOwned>(
    object: serde_json::Map<String, serde_json::Value>,
) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(serde_json::Value::Object(object)).map_err(json_error)
}

/// The body read as an object where an input type (a struct) is asked for: serde's
/// derived structs would also take an array, its items as the fields in order, which no
/// client means; Label Studio answers "Invalid data. Expected a dictionary, but got list."
struct ObjectsOnly<D>(D);

impl<'de, D: serde::Deserializer<'de>> serde::Deserializer<'de> for ObjectsOnly<D> {
    type Error = D::Error;

    fn deserialize_struct<V: serde::de::Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_map(visitor)
    }

    fn deserialize_any<V: serde::de::Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_any(visitor)
    }

    fn deserialize_seq<V: serde::de::Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_seq(visitor)
    }

    fn deserialize_map<V: serde::de::Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_map(visitor)
    }

    fn deserialize_option<V: serde::de::Visitor<'de>>(
        self,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_option(visitor)
    }

    fn deserialize_enum<V: serde::de::Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_enum(name, variants, visitor)
    }

    fn deserialize_newtype_struct<V: serde::de::Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_newtype_struct(name, visitor)
    }

    // The bodies are objects, arrays or (refused later) scalars: the rest as serde_json
    // reads any value.
    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        unit unit_struct tuple tuple_struct identifier ignored_any
    }
}

const NULL_CHARACTERS: &str = "Null characters are not allowed.";

/// U+0000 in a JSON string is a 400, as in Label Studio: PostgreSQL cannot store it in text.
/// Only bodies that spell `\u0000` are parsed a second time, to name the field.
fn reject_null_characters(bytes: &[u8]) -> Result<(), ApiError> {
    if !bytes.windows(6).any(|w| w == b"\\u0000") {
        return Ok(());
    }
    fn has_null(value: &Value) -> bool {
        match value {
            Value::String(s) => s.contains('\0'),
            Value::Array(items) => items.iter().any(has_null),
            Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || has_null(v)),
            _ => false,
        }
    }
    let field = match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(map)) => map
            .iter()
            .find(|(k, v)| k.contains('\0') || has_null(v))
            .map(|(k, _)| k.replace('\0', "")),
        Ok(value) if has_null(&value) => Some("non_field_errors".to_string()),
        _ => None,
    };
    match field {
        Some(field) => Err(ApiError::field(&field, NULL_CHARACTERS)),
        None => Ok(()),
    }
}

/// serde's error about a body as Label Studio's `validation_errors` (see
/// `shared::input_error`, the one translation): nested by the path of the value at fault,
/// as Django REST framework nests them (`{"actions": {"0": ["..."]}}`).
fn json_error(error: serde_path_to_error::Error<serde_json::Error>) -> ApiError {
    let inner = error.inner();
    if inner.is_syntax() || inner.is_eof() {
        return ApiError::field("non_field_errors", format!("JSON parse error - {inner}"));
    }
    let (path, message) = input_error(&error);
    ApiError::Validation(nest(&path, message))
}

/// `{"a": {"0": [message]}}` for the path `a`, `0`; `non_field_errors` for the body itself.
fn nest(path: &[String], message: String) -> Map<String, Value> {
    let Some((first, rest)) = path.split_first() else {
        return nest(&["non_field_errors".to_string()], message);
    };
    let value = if rest.is_empty() {
        json!([message])
    } else {
        Value::Object(nest(rest, message))
    };
    let mut errors = Map::new();
    errors.insert(first.clone(), value);
    errors
}

/// A query string deserialized into `T`.
pub struct LsQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for LsQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        // `%00` would reach the database (PostgreSQL cannot store it): a 400 naming the parameter.
        if let Some(query) = parts.uri.query().filter(|q| q.contains("%00"))
            && let Some((name, _)) = url::form_urlencoded::parse(query.as_bytes())
                .find(|(k, v)| k.contains('\0') || v.contains('\0'))
        {
            return Err(ApiError::field(&name.replace('\0', ""), NULL_CHARACTERS));
        }
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

/// An optional id in the query string (`?project=1`): blank or absent is none; anything
/// but a whole number is a 400 naming the parameter.
pub fn query_id(name: &str, value: Option<&str>) -> ApiResult<Option<i64>> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(text) => text
            .parse::<i64>()
            .map(Some)
            .map_err(|_| ApiError::field(name, "A valid integer is required.")),
    }
}

/// A required id in the query string (`?project=1`), as [`query_id`] reads it.
pub fn required_query_id(name: &str, value: Option<&str>) -> ApiResult<i64> {
    query_id(name, value)?.ok_or_else(|| {
        ApiError::field(
            name,
            format!("This query parameter is required: ?{name}=<id>."),
        )
    })
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

/// Who is asking (the user `authenticate` found) and the application: what the handler of
/// a route behind authentication takes. A handler that needs more of either takes them
/// apart: `Caller { state, actor }: Caller`.
pub struct Caller {
    pub state: AppState,
    pub actor: Actor,
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        // `authenticate` puts it there on every route that is not public.
        let Some(actor) = parts.extensions.get::<Actor>() else {
            return Err(ApiError::Unauthorized(
                "Authentication credentials were not provided.",
            ));
        };
        Ok(Caller {
            state: state.clone(),
            actor: actor.clone(),
        })
    }
}

impl Caller {
    /// A connection of the read pool.
    pub async fn reader(&self) -> ApiResult<store::Conn> {
        Ok(self.state.db.reader().acquire().await?)
    }

    /// `change` as this user, in one write transaction committed if it succeeds
    /// (`Db::write`).
    pub async fn write<T, E: From<store::Error>>(
        &self,
        change: impl AsyncFnOnce(&mut store::Tx, &Actor) -> Result<T, E>,
    ) -> Result<T, E> {
        self.state
            .db
            .write(async |tx| change(tx, &self.actor).await)
            .await
    }
}
