//! `/api/me` and `/api/me/profile`: the caller's own account and profile,
//! the only responses that carry their email and phone.

use actix_web::{web, HttpResponse};
use lyceum_protocol::ErrorCode;

use crate::auth::AuthUser;
use crate::domain::profile::{OwnProfile, ProfilePatch};
use crate::domain::DisplayName;
use crate::error::ApiError;
use crate::profiles;
use crate::routes::accounts::auth::Account;
use crate::routes::json::Json;
use crate::state::AppState;

fn gone() -> ApiError {
    ApiError::new(ErrorCode::AccountNotFound, "the account of this token no longer exists")
}

pub async fn get_me(state: web::Data<AppState>, user: AuthUser) -> Result<HttpResponse, ApiError> {
    let client = state.pool.get().await?;
    let row = client
        .query_opt(
            "SELECT id, email, display_name, role, phone, created_at FROM users WHERE id = $1",
            &[&user.id],
        )
        .await?
        .ok_or_else(gone)?;
    Ok(HttpResponse::Ok().json(Account::from_row(&row)))
}

pub async fn get_profile(state: web::Data<AppState>, user: AuthUser) -> Result<HttpResponse, ApiError> {
    let client = state.pool.get().await?;
    let (profile, phone) = profiles::load(&client, user.id, false).await?.ok_or_else(gone)?;
    Ok(HttpResponse::Ok().json(OwnProfile { profile, phone }))
}

pub async fn patch_profile(
    state: web::Data<AppState>,
    user: AuthUser,
    body: Json<ProfilePatch>,
) -> Result<HttpResponse, ApiError> {
    let mut patch = body.into_inner().validate()?;
    let display_name = patch.display_name.take().map(|n| DisplayName::parse(&n)).transpose()?;
    let mut client = state.pool.get().await?;
    let tx = client.transaction().await?;
    let (mut profile, mut phone) = profiles::load(&tx, user.id, true).await?.ok_or_else(gone)?;
    if let Some(n) = display_name {
        profile.display_name = n.as_str().to_owned();
    }
    patch.apply(&mut profile, &mut phone);
    profiles::save(&tx, &profile, &phone).await?;
    tx.commit().await?;
    Ok(HttpResponse::Ok().json(OwnProfile { profile, phone }))
}
