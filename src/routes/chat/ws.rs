//! `GET /ws`: the WebSocket gateway, and `POST /api/ws/ticket` for browsers.
//! Authentication happens once, here, before the upgrade: no token or a bad
//! one is a 401 and no socket is opened.

use actix_web::{web, HttpRequest, HttpResponse};
use lyceum_actors::{Principal, Role, RoomId};
use lyceum_protocol::ErrorCode;
use serde::Deserialize;
use serde_json::json;

use crate::auth::extract::authenticate;
use crate::auth::{AnyUser, AuthUser};
use crate::error::ApiError;
use crate::infra::tickets::TICKET_TTL;
use crate::state::AppState;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WsQuery {
    ticket: Option<String>,
    /// Refused: tokens never go in URLs (see `upgrade`).
    token: Option<String>,
}

pub async fn ticket(state: web::Data<AppState>, user: AnyUser) -> HttpResponse {
    let ticket = state.tickets.issue(user.0);
    HttpResponse::Ok().json(json!({"ticket": ticket, "expiresIn": TICKET_TTL.as_secs()}))
}

/// The account behind a token as the chat core sees it.
pub async fn principal(state: &AppState, user: AuthUser) -> Result<Principal, ApiError> {
    let client = state.pool.get().await?;
    let row = client
        .query_opt(
            "SELECT u.display_name, u.role,
                    (SELECT room_id FROM room_members m WHERE m.user_id = u.id LIMIT 1)
               FROM users u WHERE u.id = $1",
            &[&user.id],
        )
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::AccountNotFound, "the account of this token no longer exists"))?;
    let role: Role = row.get::<_, String>(1).parse().unwrap_or(Role::Mentee);
    let guest_room = if role == Role::Guest {
        row.get::<_, Option<RoomId>>(2)
    } else {
        None
    };
    if role == Role::Guest && guest_room.is_none() {
        return Err(ApiError::new(
            ErrorCode::AccountNotFound,
            "this guest has left its room",
        ));
    }
    Ok(Principal {
        user: user.id,
        role,
        display_name: row.get(0),
        guest_room,
        expires_at: None,
    })
}

pub async fn upgrade(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Payload,
    query: web::Query<WsQuery>,
) -> Result<HttpResponse, ApiError> {
    if query.token.is_some() {
        return Err(ApiError::new(
            ErrorCode::InvalidToken,
            "tokens are not accepted in the URL (URLs end up in logs): send Authorization: Bearer, \
             or open /ws?ticket= with a ticket from POST /api/ws/ticket",
        ));
    }
    let user = match &query.ticket {
        Some(t) => state
            .tickets
            .redeem(t)
            .ok_or_else(|| ApiError::new(ErrorCode::InvalidTicket, "the ticket is unknown, used or expired"))?,
        None => authenticate(&req)?,
    };
    let mut me = principal(&state, user).await?;
    me.expires_at = Some(user.expires_at);
    let (response, session, stream) = actix_ws::handle(&req, body)
        .map_err(|e| ApiError::new(ErrorCode::NotAWebsocket, format!("expected a WebSocket upgrade: {e}")))?;
    lyceum_actors::gateway::connection::start(me, state.realtime.clone(), session, stream);
    Ok(response)
}
