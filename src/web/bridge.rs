//! Pages do what the API does by calling the API's own handlers (the same
//! rules, the same authorisation, the same SQL), with the page viewer as the
//! caller, and read the JSON they answer. A page never re-implements a rule.

use actix_web::HttpResponse;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::ApiError;
use crate::routes::json::Json;

/// The JSON body of a handler's answer (`Value::Null` for an empty one).
pub async fn json_of(res: Result<HttpResponse, ApiError>) -> Result<Value, ApiError> {
    let res = res?;
    let bytes = actix_web::body::to_bytes(res.into_body())
        .await
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("reading a handler's answer: {e}")))?;
    if bytes.is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_slice(&bytes).map_err(|e| ApiError::Internal(anyhow::anyhow!("a handler's answer: {e}")))
}

/// A handler's JSON body built from a page form's values. A value the API
/// would refuse as malformed JSON is refused here with the same code.
pub fn body<T: DeserializeOwned>(v: Value) -> Result<Json<T>, ApiError> {
    serde_json::from_value(v)
        .map(Json)
        .map_err(|e| ApiError::new(lyceum_protocol::ErrorCode::InvalidJson, e.to_string()))
}

/// Calls a handler with a JSON body built from a page form's values (as
/// `body` builds it) and reads its answer (as `json_of` reads it).
pub async fn call<T, F, Fut>(v: Value, handler: F) -> Result<Value, ApiError>
where
    T: DeserializeOwned,
    F: FnOnce(Json<T>) -> Fut,
    Fut: std::future::Future<Output = Result<HttpResponse, ApiError>>,
{
    let res = match body(v) {
        Ok(b) => handler(b).await,
        Err(e) => Err(e),
    };
    json_of(res).await
}

/// A query type built from values (for handlers taking `web::Query<T>`).
pub fn query<T: DeserializeOwned>(v: Value) -> Result<actix_web::web::Query<T>, ApiError> {
    serde_json::from_value(v)
        .map(actix_web::web::Query)
        .map_err(|e| ApiError::new(lyceum_protocol::ErrorCode::InvalidQuery, e.to_string()))
}

/// The string at `key` of a JSON object, or "".
pub fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

/// A form's answer: back to `back` with `ok` (a query string) on success,
/// or with `error=<the error in words>`.
pub fn back_to(back: &str, res: Result<String, ApiError>) -> HttpResponse {
    let q = match res {
        Ok(q) => q,
        Err(e) => serde_urlencoded::to_string([("error", super::words::explain(&e))]).unwrap_or_default(),
    };
    let sep = if back.contains('?') { '&' } else { '?' };
    let to = if q.is_empty() {
        back.to_owned()
    } else {
        format!("{back}{sep}{q}")
    };
    super::auth_pages::see_other(&to)
}
