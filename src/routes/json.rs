//! The JSON body extractor every route uses: `web::Json`'s limits, content
//! type and errors (the `JsonConfig` in `routes::configure`), plus the rule
//! that no string in a body, key or value, contains a NUL character
//! (`invalid_text`; Postgres cannot store one, and a client never means it).

use std::future::Future;
use std::ops::{Deref, DerefMut};
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};
use lyceum_protocol::frames::has_nul;
use lyceum_protocol::ErrorCode;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::ApiError;

/// A JSON request body of type `T`, free of NUL characters.
#[derive(Debug)]
pub struct Json<T>(pub T);

impl<T> Json<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> Deref for Json<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> DerefMut for Json<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.0
    }
}

/// Reads the body as a JSON value (through `web::Json`, so its config
/// applies), refuses NULs, then takes it as `T`.
pub fn from_value<T: DeserializeOwned>(v: Value) -> Result<T, ApiError> {
    if has_nul(&v) {
        return Err(ApiError::new(
            ErrorCode::InvalidText,
            "text must not contain NUL (U+0000) characters",
        ));
    }
    serde_json::from_value(v).map_err(|e| ApiError::new(ErrorCode::InvalidJson, format!("Json deserialize error: {e}")))
}

impl<T: DeserializeOwned + 'static> FromRequest for Json<T> {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let value = web::Json::<Value>::from_request(req, payload);
        Box::pin(async move {
            let v = value.await?.into_inner();
            Ok(Json(from_value(v)?))
        })
    }
}
