//! Request extractors: `AnyUser` proves a valid access token was presented
//! (guests included); `AuthUser` additionally that it is a registered account,
//! not a guest; `AdminUser` that it is an admin (a guest is refused with
//! `guest_not_allowed` there too). Guests are confined to their
//! room, so every route takes `AuthUser` unless it was written for guests too,
//! and such a route that names a room checks it with [`confine_guest`]. Both
//! refuse with `guest_not_allowed`, the HTTP code for a guest outside its
//! room (the WebSocket says `forbidden`, docs/protocol.md).
//!
//! A token must still stand: its version and sign-in are checked against
//! the realtime core's `Credentials` (cached, the same check the WebSocket's
//! `reauth` makes), and the role it acts with is the one that check returns.
//! A revoked token is `401 token_revoked`.

use actix_web::{dev::Payload, http::header, web, FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;
use lyceum_actors::{Principal, Role, RoomId, UserId};
use lyceum_protocol::ErrorCode;
use uuid::Uuid;

use crate::error::ApiError;
use crate::state::AppState;

#[derive(Debug, Clone, Copy)]
pub struct AuthUser {
    pub id: UserId,
    pub role: Role,
    /// The sign-in (refresh-token family) this token came from.
    pub session: Uuid,
    /// When the access token expires (Unix seconds).
    pub expires_at: i64,
    /// The user's token version the token carries.
    pub version: i32,
}

impl AuthUser {
    /// The caller a verified token names (whether it still stands is
    /// [`still_stands`]'s question).
    pub fn from_claims(claims: &crate::auth::jwt::Claims) -> AuthUser {
        AuthUser {
            id: UserId(claims.sub),
            role: claims.role,
            session: claims.sid,
            expires_at: claims.exp,
            version: claims.ver,
        }
    }

    pub fn credential(&self) -> lyceum_actors::core::Credential {
        lyceum_actors::core::Credential {
            user: self.id,
            role: self.role,
            sign_in: self.session,
            version: self.version,
            expires_at: self.expires_at,
        }
    }
}

/// The bearer token of a request, from `Authorization: Bearer ...`.
pub fn bearer(req: &HttpRequest) -> Result<&str, ApiError> {
    let value = req
        .headers()
        .get(header::AUTHORIZATION)
        .ok_or_else(|| ApiError::new(ErrorCode::MissingToken, "sign in first: no access token was sent"))?;
    let value = value
        .to_str()
        .map_err(|_| ApiError::new(ErrorCode::InvalidToken, "the Authorization header is not valid"))?;
    let (scheme, token) = value
        .split_once(' ')
        .ok_or_else(|| ApiError::new(ErrorCode::InvalidToken, "expected `Authorization: Bearer <token>`"))?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(ApiError::new(
            ErrorCode::InvalidToken,
            "expected `Authorization: Bearer <token>`",
        ));
    }
    Ok(token.trim())
}

/// The caller of a request: a signed, unexpired access token that still
/// stands.
pub async fn authenticate(req: &HttpRequest) -> Result<AuthUser, ApiError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("AppState not registered")))?;
    let claims = state.jwt.verify(bearer(req)?)?;
    still_stands(state, AuthUser::from_claims(&claims)).await
}

/// `user` with the role the credentials allow, or `token_revoked` (or
/// `account_not_found`).
pub async fn still_stands(state: &AppState, mut user: AuthUser) -> Result<AuthUser, ApiError> {
    user.role = state.realtime.services.credentials.check(&user.credential()).await?;
    Ok(user)
}

impl FromRequest for AuthUser {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let u = authenticate(&req).await?;
            if u.role == Role::Guest {
                Err(guest_not_allowed())
            } else {
                Ok(u)
            }
        })
    }
}

fn guest_not_allowed() -> ApiError {
    ApiError::new(ErrorCode::GuestNotAllowed, "guests may only use the room they joined")
}

/// A guest may use only the room it joined; anyone else passes. For routes
/// that take [`AnyUser`] and name a room. The rule is the realtime core's
/// (`core::rules::guest_confined`, which WebSocket commands go through);
/// only the code differs per transport.
pub fn confine_guest(me: &Principal, room: RoomId) -> Result<(), ApiError> {
    lyceum_actors::core::rules::guest_confined(me, Some(room), "").map_err(|_| guest_not_allowed())
}

/// Any valid token, a guest's included.
#[derive(Debug, Clone, Copy)]
pub struct AnyUser(pub AuthUser);

impl FromRequest for AnyUser {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { authenticate(&req).await.map(AnyUser) })
    }
}

#[derive(Debug, Clone, Copy)]
pub struct AdminUser(pub AuthUser);

impl FromRequest for AdminUser {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let u = authenticate(&req).await?;
            if u.role == Role::Admin {
                Ok(AdminUser(u))
            } else if u.role == Role::Guest {
                Err(guest_not_allowed())
            } else {
                Err(ApiError::forbidden("only admins may do this"))
            }
        })
    }
}

/// The caller of a route anyone may use (public board categories): no
/// `Authorization` header is a visitor (`None`); so is a guest, for whom a
/// route that needs no sign-in changes nothing; any other token must be
/// valid and standing (a bad one is the same 401 as on any route).
#[derive(Debug, Clone, Copy)]
pub struct MaybeUser(pub Option<AuthUser>);

impl FromRequest for MaybeUser {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            if req.headers().get(header::AUTHORIZATION).is_none() {
                return Ok(MaybeUser(None));
            }
            let u = authenticate(&req).await?;
            Ok(MaybeUser((u.role != Role::Guest).then_some(u)))
        })
    }
}
