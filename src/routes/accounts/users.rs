//! `/api/users/{id}`: another user's public profile. It is built from
//! `Profile`, which has no email or phone field, so neither can leak here.

use actix_web::{web, HttpResponse};
use lyceum_protocol::ErrorCode;
use lyceum_protocol::UserId;

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::profiles;
use crate::state::AppState;

pub async fn get_user(
    state: web::Data<AppState>,
    _viewer: AuthUser,
    id: web::Path<UserId>,
) -> Result<HttpResponse, ApiError> {
    let client = state.pool.get().await?;
    let (profile, _phone) = profiles::load(&client, id.into_inner(), false)
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::UserNotFound, "no such user"))?;
    Ok(HttpResponse::Ok().json(profile))
}
