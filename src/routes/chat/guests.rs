//! Guests (seed 004: join anonymously): a public room that allows guests
//! hands out a guest identity with a generated handle and no personal
//! details. Its token works for that room only, under a stricter rate limit,
//! and carries no refresh token: a guest that wants more time joins again.

use actix_web::{web, HttpRequest, HttpResponse};
use lyceum_actors::{Role, RoomId, UserId};
use lyceum_protocol::ErrorCode;
use rand::Rng;
use serde_json::json;
use uuid::Uuid;

use crate::error::ApiError;
use crate::infra::ratelimit::Limit;
use crate::state::AppState;

pub async fn join_as_guest(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<RoomId>,
) -> Result<HttpResponse, ApiError> {
    let room = path.into_inner();
    let ip = state.client_ip(&req);
    state.limiter.check(Limit::RegisterPerIp, &ip).await?;
    let mut client = state.pool.get().await?;
    let r = client
        .query_opt(
            "SELECT visibility, allow_guests FROM rooms WHERE id = $1 AND kind = 'group'",
            &[&room],
        )
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::RoomNotFound, "no such room"))?;
    if r.get::<_, String>(0) != "public" || !r.get::<_, bool>(1) {
        return Err(ApiError::forbidden("this room does not allow guests"));
    }
    let id = UserId::new_random();
    let handle = format!("guest-{:06}", rand::thread_rng().gen_range(0..1_000_000));
    let tx = client.transaction().await?;
    tx.execute(
        "INSERT INTO users (id, display_name, role) VALUES ($1, $2, 'guest')",
        &[&id, &handle],
    )
    .await?;
    tx.execute(
        "INSERT INTO room_members (room_id, user_id) VALUES ($1, $2)",
        &[&room, &id],
    )
    .await?;
    tx.commit().await?;
    if let Some(addr) = state.realtime.chat.running_room(room) {
        let member = lyceum_actors::chat::store::load_member(&state.pool, room, id).await?;
        addr.do_send(lyceum_actors::chat::room::MembershipChanged { user: id, member });
    }
    // The family id only names this grant; there is no refresh token.
    // A new user: token version 0 (the column's default).
    let token = state.jwt.issue(id, Role::Guest, Uuid::new_v4(), 0)?;
    Ok(HttpResponse::Created().json(json!({
        "accessToken": token, "tokenType": "Bearer", "expiresIn": state.jwt.ttl_secs,
        "user": {"id": id, "displayName": handle, "role": "guest"}, "roomId": room,
    })))
}
