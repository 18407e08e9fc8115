//! Public keys for end-to-end encrypted conversations. The server stores and
//! hands out each user's public key; it never sees a private key, and rooms
//! marked e2ee carry only ciphertext (enforced by the room actor).

use actix_web::{web, HttpResponse};
use lyceum_protocol::ErrorCode;
use lyceum_protocol::UserId;
use serde::Deserialize;
use serde_json::json;

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::routes::json::Json;
use crate::state::AppState;

/// Room for a JWK or a base64 SPKI of any common curve.
const MAX_KEY: usize = 4096;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PublishKey {
    public_key: String,
}

pub async fn publish(
    state: web::Data<AppState>,
    user: AuthUser,
    body: Json<PublishKey>,
) -> Result<HttpResponse, ApiError> {
    let key = body.public_key.trim();
    if key.is_empty() || key.len() > MAX_KEY || key.chars().any(char::is_control) {
        return Err(ApiError::new(
            ErrorCode::InvalidKey,
            format!("a public key is 1 to {MAX_KEY} printable characters"),
        ));
    }
    let client = state.pool.get().await?;
    client
        .execute("UPDATE users SET public_key = $2 WHERE id = $1", &[&user.id, &key])
        .await?;
    Ok(HttpResponse::Ok().json(json!({"userId": user.id, "publicKey": key})))
}

pub async fn get(
    state: web::Data<AppState>,
    _user: AuthUser,
    path: web::Path<UserId>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let client = state.pool.get().await?;
    let row = client
        .query_opt("SELECT public_key FROM users WHERE id = $1", &[&id])
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::UserNotFound, "no such user"))?;
    let key: Option<String> = row.get(0);
    let key = key.ok_or_else(|| ApiError::new(ErrorCode::KeyNotFound, "this user has not published a key"))?;
    Ok(HttpResponse::Ok().json(json!({"userId": id, "publicKey": key})))
}
