//! `/api/rooms`: creating and finding rooms, membership (join, invite,
//! leave, remove, mute), history, and sending over HTTP. Live traffic is the
//! WebSocket's; every change of membership made here is told to the room's
//! actor so its view stays the database's.
//!
//! Rules (seed 004): a mentor or admin may open a direct conversation with
//! anyone; a mentee only with a mentor who accepts messages or whom they
//! have booked (or an admin).
//! Group rooms are created by mentors and admins; public ones are open to
//! join, private ones by invitation. Room owners, moderators and platform
//! admins moderate.

use actix_web::{web, HttpResponse};
use lyceum_actors::chat::room::{MayRead, MembershipChanged, Post};
use lyceum_actors::chat::store::{self, Kind};
use lyceum_actors::{Principal, Role, RoomId, UserId};
use lyceum_protocol::ErrorCode;
use lyceum_protocol::{AttachmentId, OfferingId};
use serde::Deserialize;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::auth::extract::confine_guest;
use crate::auth::{AnyUser, AuthUser};
use crate::error::{is_unique_violation, ApiError};
use crate::routes::chat::ws::principal;
use crate::routes::json::Json;
use crate::routes::paging::page_limit;
use crate::state::AppState;
use lyceum_protocol::frames::Event;

const MAX_ROOM_NAME: usize = 80;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateRoom {
    name: String,
    visibility: String,
    #[serde(default)]
    allow_guests: bool,
    #[serde(default)]
    e2ee: bool,
}

async fn room_json(client: &deadpool_postgres::Client, room: RoomId) -> Result<Value, ApiError> {
    let r = client
        .query_opt(
            "SELECT id, kind, name, visibility, allow_guests, e2ee, last_seq, created_at,
                    (SELECT count(*) FROM room_members WHERE room_id = rooms.id)
               FROM rooms WHERE id = $1",
            &[&room],
        )
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::RoomNotFound, "no such room"))?;
    Ok(json!({
        "id": r.get::<_, Uuid>(0), "kind": r.get::<_, String>(1), "name": r.get::<_, Option<String>>(2),
        "visibility": r.get::<_, String>(3), "allowGuests": r.get::<_, bool>(4), "e2ee": r.get::<_, bool>(5),
        "lastSeq": r.get::<_, i64>(6), "createdAt": r.get::<_, chrono::DateTime<chrono::Utc>>(7),
        "memberCount": r.get::<_, i64>(8),
    }))
}

/// The chat room of a group session (created with it; docs/api.md) if
/// `user` is its member now: the host, or a confirmed registrant.
pub async fn session_room_of(state: &AppState, offering: OfferingId, user: UserId) -> Result<Option<RoomId>, ApiError> {
    let client = state.pool.get().await?;
    Ok(client
        .query_opt(
            "SELECT r.id FROM rooms r JOIN room_members m ON m.room_id = r.id AND m.user_id = $2
              WHERE r.offering_id = $1",
            &[&offering, &user],
        )
        .await?
        .map(|r| r.get(0)))
}

/// After a registration changed (the database triggers keep the session's
/// room membership in step with the bookings), tells the session room's
/// running actor how `user` now stands in it.
pub async fn session_membership_changed(state: &AppState, offering: OfferingId, user: UserId) -> Result<(), ApiError> {
    let client = state.pool.get().await?;
    let room: Option<RoomId> = client
        .query_opt("SELECT id FROM rooms WHERE offering_id = $1", &[&offering])
        .await?
        .map(|r| r.get(0));
    drop(client);
    match room {
        Some(room) => notify_membership(state, room, user).await,
        None => Ok(()),
    }
}

/// Tells a running room actor about a membership row as it now stands.
async fn notify_membership(state: &AppState, room: RoomId, user: UserId) -> Result<(), ApiError> {
    if let Some(addr) = state.realtime.chat.running_room(room) {
        let member = store::load_member(&state.pool, room, user).await?;
        addr.do_send(MembershipChanged { user, member });
    }
    Ok(())
}

pub async fn create(
    state: web::Data<AppState>,
    user: AuthUser,
    body: Json<CreateRoom>,
) -> Result<HttpResponse, ApiError> {
    if user.role == Role::Mentee {
        return Err(ApiError::forbidden("only mentors and admins create group rooms"));
    }
    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > MAX_ROOM_NAME || name.chars().any(char::is_control) {
        return Err(ApiError::new(
            ErrorCode::InvalidRoom,
            format!("a room name needs 1 to {MAX_ROOM_NAME} characters"),
        ));
    }
    if body.visibility != "public" && body.visibility != "private" {
        return Err(ApiError::new(
            ErrorCode::InvalidRoom,
            "visibility must be \"public\" or \"private\"",
        ));
    }
    if body.allow_guests && body.visibility != "public" {
        return Err(ApiError::new(
            ErrorCode::InvalidRoom,
            "only public rooms may allow guests",
        ));
    }
    let mut client = state.pool.get().await?;
    let tx = client.transaction().await?;
    let id = RoomId::new_random();
    tx.execute(
        "INSERT INTO rooms (id, kind, name, visibility, allow_guests, e2ee, created_by) VALUES ($1, 'group', $2, $3, $4, $5, $6)",
        &[&id, &name, &body.visibility, &body.allow_guests, &body.e2ee, &user.id],
    )
    .await?;
    tx.execute(
        "INSERT INTO room_members (room_id, user_id, role) VALUES ($1, $2, 'owner')",
        &[&id, &user.id],
    )
    .await?;
    tx.commit().await?;
    Ok(HttpResponse::Created().json(room_json(&client, id).await?))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OpenDirect {
    user_id: UserId,
    #[serde(default)]
    e2ee: bool,
}

pub async fn open_direct(
    state: web::Data<AppState>,
    me: AuthUser,
    body: Json<OpenDirect>,
) -> Result<HttpResponse, ApiError> {
    let other = body.user_id;
    if other == me.id {
        return Err(ApiError::new(
            ErrorCode::InvalidRoom,
            "a direct conversation needs another user",
        ));
    }
    match lyceum_actors::core::policy::may_talk(&state.pool, me.id, me.role, other).await? {
        Ok(()) => {}
        Err(lyceum_actors::core::policy::Refusal::NoSuchUser) => {
            return Err(ApiError::new(ErrorCode::UserNotFound, "no such user"))
        }
        Err(lyceum_actors::core::policy::Refusal::NotAccepted) => {
            return Err(ApiError::new(
                ErrorCode::MessagesNotAccepted,
                "this mentor does not accept messages; book a session instead",
            ))
        }
        Err(lyceum_actors::core::policy::Refusal::Forbidden) => {
            return Err(ApiError::forbidden("you may not open a conversation with this user"))
        }
    }
    let (id, created) = direct_room(&state, me.id, other, body.e2ee).await?;
    let client = state.pool.get().await?;
    let room = room_json(&client, id).await?;
    Ok(if created {
        HttpResponse::Created().json(room)
    } else {
        HttpResponse::Ok().json(room)
    })
}

/// Finds or opens the direct conversation of `me` and `other`, the plain
/// one or (`e2ee`) the end-to-end encrypted one (whoever
/// may talk is the caller's question, asked before): `true` when this call
/// opened it, in which case `other` is told (`room_added`). Accepting a
/// mentorship opens its conversation through here too.
pub async fn direct_room(state: &AppState, me: UserId, other: UserId, e2ee: bool) -> Result<(RoomId, bool), ApiError> {
    let mut client = state.pool.get().await?;
    let (a, b) = if me < other { (me, other) } else { (other, me) };
    // One plain and one end-to-end encrypted conversation per pair.
    let key = if e2ee {
        format!("{a}:{b}:e2ee")
    } else {
        format!("{a}:{b}")
    };
    if let Some(r) = client
        .query_opt("SELECT id FROM rooms WHERE direct_key = $1", &[&key])
        .await?
    {
        return Ok((r.get(0), false));
    }
    let id = RoomId::new_random();
    let tx = client.transaction().await?;
    let inserted = tx
        .execute(
            "INSERT INTO rooms (id, kind, visibility, e2ee, created_by, direct_key) VALUES ($1, 'direct', 'private', $2, $3, $4)",
            &[&id, &e2ee, &me, &key],
        )
        .await;
    match inserted {
        Err(e) if is_unique_violation(&e) => {
            // Both opened it at once: the other request won; use its room.
            drop(tx);
            let r = client
                .query_one("SELECT id FROM rooms WHERE direct_key = $1", &[&key])
                .await?;
            return Ok((r.get(0), false));
        }
        Err(e) => return Err(e.into()),
        Ok(_) => {}
    }
    tx.execute(
        "INSERT INTO room_members (room_id, user_id) VALUES ($1, $2), ($1, $3)",
        &[&id, &me, &other],
    )
    .await?;
    tx.commit().await?;
    state
        .realtime
        .services
        .fanout
        .to_user(other, Event::RoomAdded { room_id: id }.frame().into());
    Ok((id, true))
}

/// The caller's rooms, most recently active first, with unread counts and
/// the last message.
pub async fn list_mine(state: web::Data<AppState>, user: AnyUser) -> Result<HttpResponse, ApiError> {
    let client = state.pool.get().await?;
    let rows = client
        .query(
            "SELECT r.id, r.kind, r.name, r.visibility, r.e2ee, r.last_seq, m.last_read_seq, m.role,
                    (SELECT count(*) FROM messages x WHERE x.room_id = r.id AND x.seq > m.last_read_seq
                        AND x.kind = 'message' AND x.deleted_at IS NULL AND x.sender_id IS DISTINCT FROM m.user_id) AS unread,
                    lm.seq, lm.sender_id, lm.body, lm.ciphertext, lm.created_at,
                    peer.id, peer.display_name, peer.last_seen_at
               FROM room_members m
               JOIN rooms r ON r.id = m.room_id
               LEFT JOIN LATERAL (SELECT seq, sender_id, body, ciphertext, created_at FROM messages
                                   WHERE room_id = r.id AND kind = 'message' AND deleted_at IS NULL
                                   ORDER BY seq DESC LIMIT 1) lm ON true
               LEFT JOIN LATERAL (SELECT u.id, u.display_name, u.last_seen_at FROM room_members o JOIN users u ON u.id = o.user_id
                                   WHERE r.kind = 'direct' AND o.room_id = r.id AND o.user_id <> m.user_id LIMIT 1) peer ON true
              WHERE m.user_id = $1
              ORDER BY coalesce(lm.created_at, r.created_at) DESC",
            &[&user.0.id],
        )
        .await?;
    let peers: Vec<UserId> = rows.iter().filter_map(|r| r.get::<_, Option<UserId>>(14)).collect();
    let online = if peers.is_empty() {
        Vec::new()
    } else {
        state
            .realtime
            .hub
            .send(lyceum_actors::presence::Online(peers))
            .await
            .unwrap_or_default()
    };
    let items: Vec<Value> = rows
        .iter()
        .map(|r| {
            let last = r.get::<_, Option<i64>>(9).map(|seq| {
                json!({"seq": seq, "senderId": r.get::<_, Option<Uuid>>(10), "body": r.get::<_, Option<String>>(11),
                       "ciphertext": r.get::<_, Option<String>>(12), "createdAt": r.get::<_, chrono::DateTime<chrono::Utc>>(13)})
            });
            let peer = r.get::<_, Option<UserId>>(14).map(|id| {
                json!({"userId": id, "displayName": r.get::<_, String>(15), "online": online.contains(&id),
                       "lastSeen": r.get::<_, Option<chrono::DateTime<chrono::Utc>>>(16)})
            });
            json!({
                "id": r.get::<_, Uuid>(0), "kind": r.get::<_, String>(1), "name": r.get::<_, Option<String>>(2),
                "visibility": r.get::<_, String>(3), "e2ee": r.get::<_, bool>(4), "lastSeq": r.get::<_, i64>(5),
                "lastReadSeq": r.get::<_, i64>(6), "myRole": r.get::<_, String>(7), "unread": r.get::<_, i64>(8),
                "lastMessage": last, "peer": peer,
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({"items": items})))
}

pub async fn list_public(state: web::Data<AppState>, _user: AuthUser) -> Result<HttpResponse, ApiError> {
    let client = state.pool.get().await?;
    let rows = client
        .query(
            "SELECT r.id, r.name, r.allow_guests, r.e2ee, (SELECT count(*) FROM room_members WHERE room_id = r.id)
               FROM rooms r WHERE r.visibility = 'public' AND r.kind = 'group' ORDER BY r.created_at DESC LIMIT 200",
            &[],
        )
        .await?;
    let items: Vec<Value> = rows
        .iter()
        .map(|r| {
            json!({"id": r.get::<_, Uuid>(0), "name": r.get::<_, Option<String>>(1), "allowGuests": r.get::<_, bool>(2),
                        "e2ee": r.get::<_, bool>(3), "memberCount": r.get::<_, i64>(4)})
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({"items": items})))
}

/// The room's caller-visible state, after the room actor says they may read.
async fn check_read(state: &AppState, me: &Principal, room: RoomId) -> Result<(), ApiError> {
    state
        .realtime
        .chat
        .room(room)
        .send(MayRead { who: me.clone() })
        .await
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("room actor: {e}")))??;
    Ok(())
}

pub async fn get(state: web::Data<AppState>, user: AnyUser, path: web::Path<RoomId>) -> Result<HttpResponse, ApiError> {
    let room = path.into_inner();
    let me = principal(&state, user.0).await?;
    confine_guest(&me, room)?;
    check_read(&state, &me, room).await?;
    let client = state.pool.get().await?;
    let mut body = room_json(&client, room).await?;
    let rows = client
        .query(
            "SELECT u.id, u.display_name, u.role, m.role, m.last_read_seq, m.muted_until, u.last_seen_at
               FROM room_members m JOIN users u ON u.id = m.user_id WHERE m.room_id = $1 ORDER BY m.joined_at",
            &[&room],
        )
        .await?;
    let ids: Vec<UserId> = rows.iter().map(|r| r.get(0)).collect();
    let online = state
        .realtime
        .hub
        .send(lyceum_actors::presence::Online(ids))
        .await
        .unwrap_or_default();
    let members: Vec<Value> = rows
        .iter()
        .map(|r| {
            let id: UserId = r.get(0);
            json!({"userId": id, "displayName": r.get::<_, String>(1), "role": r.get::<_, String>(2),
                   "roomRole": r.get::<_, String>(3), "lastReadSeq": r.get::<_, i64>(4),
                   "mutedUntil": r.get::<_, Option<chrono::DateTime<chrono::Utc>>>(5),
                   "online": online.contains(&id),
                   "lastSeen": r.get::<_, Option<chrono::DateTime<chrono::Utc>>>(6)})
        })
        .collect();
    if let Some(o) = body.as_object_mut() {
        o.insert("members".to_owned(), Value::Array(members));
    }
    Ok(HttpResponse::Ok().json(body))
}

pub async fn join(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<RoomId>,
) -> Result<HttpResponse, ApiError> {
    let room = path.into_inner();
    let client = state.pool.get().await?;
    let r = client
        .query_opt("SELECT kind, visibility FROM rooms WHERE id = $1", &[&room])
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::RoomNotFound, "no such room"))?;
    if r.get::<_, String>(0) != "group" || r.get::<_, String>(1) != "public" {
        return Err(ApiError::forbidden("this room is joined by invitation only"));
    }
    client
        .execute(
            "INSERT INTO room_members (room_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            &[&room, &user.id],
        )
        .await?;
    notify_membership(&state, room, user.id).await?;
    Ok(HttpResponse::Ok().json(room_json(&client, room).await?))
}

/// The caller's room role, or 403 unless they are a platform admin.
async fn require_moderator(
    client: &deadpool_postgres::Client,
    user: &AuthUser,
    room: RoomId,
) -> Result<String, ApiError> {
    let kind: String = client
        .query_opt("SELECT kind FROM rooms WHERE id = $1", &[&room])
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::RoomNotFound, "no such room"))?
        .get(0);
    let role: Option<String> = client
        .query_opt(
            "SELECT role FROM room_members WHERE room_id = $1 AND user_id = $2",
            &[&room, &user.id],
        )
        .await?
        .map(|r| r.get(0));
    let ok = user.role == Role::Admin || role.as_deref().is_some_and(|r| r != "member");
    if !ok {
        return Err(ApiError::forbidden(
            "only the room's owner, its moderators or an admin may do this",
        ));
    }
    Ok(kind)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Invite {
    user_id: UserId,
}

pub async fn invite(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<RoomId>,
    body: Json<Invite>,
) -> Result<HttpResponse, ApiError> {
    let room = path.into_inner();
    let client = state.pool.get().await?;
    if require_moderator(&client, &user, room).await? == "direct" {
        return Err(ApiError::forbidden("direct conversations have exactly two members"));
    }
    let role: String = client
        .query_opt("SELECT role FROM users WHERE id = $1", &[&body.user_id])
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::UserNotFound, "no such user"))?
        .get(0);
    if role == "guest" {
        return Err(ApiError::new(ErrorCode::InvalidMember, "guests cannot be invited"));
    }
    client
        .execute(
            "INSERT INTO room_members (room_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            &[&room, &body.user_id],
        )
        .await?;
    notify_membership(&state, room, body.user_id).await?;
    state
        .realtime
        .services
        .fanout
        .to_user(body.user_id, Event::RoomAdded { room_id: room }.frame().into());
    Ok(HttpResponse::Ok().json(room_json(&client, room).await?))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SetRoomRole {
    room_role: String,
}

/// Appoints a moderator or makes one a member again: the room's owner or
/// an admin only (moderators cannot appoint moderators). The owner's own
/// role does not change, and guests cannot moderate.
pub async fn set_room_role(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<(RoomId, UserId)>,
    body: Json<SetRoomRole>,
) -> Result<HttpResponse, ApiError> {
    let (room, target) = path.into_inner();
    if !matches!(body.room_role.as_str(), "moderator" | "member") {
        return Err(ApiError::new(
            ErrorCode::InvalidMember,
            "roomRole must be \"moderator\" or \"member\"",
        ));
    }
    let client = state.pool.get().await?;
    let kind: String = client
        .query_opt("SELECT kind FROM rooms WHERE id = $1", &[&room])
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::RoomNotFound, "no such room"))?
        .get(0);
    let mine: Option<String> = client
        .query_opt(
            "SELECT role FROM room_members WHERE room_id = $1 AND user_id = $2",
            &[&room, &user.id],
        )
        .await?
        .map(|r| r.get(0));
    if user.role != Role::Admin && mine.as_deref() != Some("owner") {
        return Err(ApiError::forbidden(
            "only the room's owner or an admin may appoint moderators",
        ));
    }
    if kind == "direct" {
        return Err(ApiError::forbidden("direct conversations have no moderators"));
    }
    let row = client
        .query_opt(
            "SELECT m.role, u.role FROM room_members m JOIN users u ON u.id = m.user_id
              WHERE m.room_id = $1 AND m.user_id = $2",
            &[&room, &target],
        )
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::MemberNotFound, "that user is not in this room"))?;
    let (current, platform_role): (String, String) = (row.get(0), row.get(1));
    if current == "owner" {
        return Err(ApiError::new(
            ErrorCode::InvalidMember,
            "the owner's role cannot change",
        ));
    }
    if platform_role == "guest" && body.room_role == "moderator" {
        return Err(ApiError::new(ErrorCode::InvalidMember, "guests cannot moderate"));
    }
    client
        .execute(
            "UPDATE room_members SET role = $3 WHERE room_id = $1 AND user_id = $2",
            &[&room, &target, &body.room_role],
        )
        .await?;
    notify_membership(&state, room, target).await?;
    Ok(HttpResponse::Ok().json(room_json(&client, room).await?))
}

/// Leave (yourself) or remove (a moderator removing someone else).
pub async fn remove_member(
    state: web::Data<AppState>,
    user: AnyUser,
    path: web::Path<(RoomId, UserId)>,
) -> Result<HttpResponse, ApiError> {
    let (room, target) = path.into_inner();
    // Only a guest has a room to be confined to; nobody else pays the lookup.
    if user.0.role == Role::Guest {
        confine_guest(&principal(&state, user.0).await?, room)?;
    }
    let client = state.pool.get().await?;
    let kind: String = client
        .query_opt("SELECT kind FROM rooms WHERE id = $1", &[&room])
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::RoomNotFound, "no such room"))?
        .get(0);
    if kind == "direct" {
        return Err(ApiError::forbidden("direct conversations cannot be left or changed"));
    }
    if target != user.0.id {
        if user.0.role == Role::Guest {
            return Err(ApiError::forbidden("guests cannot remove members"));
        }
        require_moderator(&client, &user.0, room).await?;
    }
    let n = client
        .execute(
            "DELETE FROM room_members WHERE room_id = $1 AND user_id = $2",
            &[&room, &target],
        )
        .await?;
    if n == 0 {
        return Err(ApiError::new(
            ErrorCode::MemberNotFound,
            "that user is not in this room",
        ));
    }
    notify_membership(&state, room, target).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Mute {
    /// 0 unmutes.
    minutes: i64,
}

pub async fn mute(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<(RoomId, UserId)>,
    body: Json<Mute>,
) -> Result<HttpResponse, ApiError> {
    let (room, target) = path.into_inner();
    if !(0..=60 * 24 * 365).contains(&body.minutes) {
        return Err(ApiError::new(
            ErrorCode::InvalidMute,
            "minutes must be between 0 and 525600",
        ));
    }
    let client = state.pool.get().await?;
    require_moderator(&client, &user, room).await?;
    let until = (body.minutes > 0).then(|| chrono::Utc::now() + chrono::Duration::minutes(body.minutes));
    let n = client
        .execute(
            "UPDATE room_members SET muted_until = $3 WHERE room_id = $1 AND user_id = $2",
            &[&room, &target, &until],
        )
        .await?;
    if n == 0 {
        return Err(ApiError::new(
            ErrorCode::MemberNotFound,
            "that user is not in this room",
        ));
    }
    notify_membership(&state, room, target).await?;
    Ok(HttpResponse::Ok().json(json!({"userId": target, "mutedUntil": until})))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HistoryQuery {
    before: Option<i64>,
    after: Option<i64>,
    limit: Option<i64>,
}

pub async fn history(
    state: web::Data<AppState>,
    user: AnyUser,
    path: web::Path<RoomId>,
    q: web::Query<HistoryQuery>,
) -> Result<HttpResponse, ApiError> {
    let room = path.into_inner();
    let limit = page_limit(q.limit, 50, store::PAGE_MAX)?;
    if q.before.is_some() && q.after.is_some() {
        return Err(ApiError::new(
            ErrorCode::InvalidQuery,
            "give `before` or `after`, not both",
        ));
    }
    let me = principal(&state, user.0).await?;
    confine_guest(&me, room)?;
    check_read(&state, &me, room).await?;
    let events = store::history(&state.pool, room, q.before, q.after, limit).await?;
    // Cursors: page back with before=first seq, forward with after=last seq.
    let first = events.first().map(|e| e.seq);
    let last = events.last().map(|e| e.seq);
    Ok(HttpResponse::Ok().json(json!({"items": events, "firstSeq": first, "lastSeq": last})))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SendBody {
    client_msg_id: Option<String>,
    body: Option<String>,
    ciphertext: Option<String>,
    #[serde(default)]
    attachments: Vec<AttachmentId>,
}

pub async fn send(
    state: web::Data<AppState>,
    user: AnyUser,
    path: web::Path<RoomId>,
    body: Json<SendBody>,
) -> Result<HttpResponse, ApiError> {
    let room = path.into_inner();
    let me = principal(&state, user.0).await?;
    confine_guest(&me, room)?;
    if let Err(wait) = state.realtime.services.check_send_rate(&me) {
        return Err(ApiError::TooManyRequests {
            retry_after_secs: wait.as_secs().max(1),
        });
    }
    let b = body.into_inner();
    let posted = state
        .realtime
        .chat
        .post_and_wait(room, |reply| Post {
            who: me,
            reply,
            kind: Kind::Message,
            client_msg_id: b.client_msg_id,
            body: b.body,
            ciphertext: b.ciphertext,
            attachments: b.attachments.into_iter().map(Uuid::from).collect(),
            target_seq: None,
        })
        .await?;
    let duplicate = posted.duplicate;
    let status = if duplicate {
        actix_web::http::StatusCode::OK
    } else {
        actix_web::http::StatusCode::CREATED
    };
    Ok(HttpResponse::build(status).json(json!({"roomId": room, "seq": posted.seq, "duplicate": duplicate})))
}

/// Removes a message: its author, the room's moderators or an admin.
pub async fn delete_message(
    state: web::Data<AppState>,
    user: AnyUser,
    path: web::Path<(RoomId, i64)>,
) -> Result<HttpResponse, ApiError> {
    let (room, seq) = path.into_inner();
    let me = principal(&state, user.0).await?;
    confine_guest(&me, room)?;
    let posted = state
        .realtime
        .chat
        .post_and_wait(room, |reply| Post {
            who: me,
            reply,
            kind: Kind::Delete,
            client_msg_id: None,
            body: None,
            ciphertext: None,
            attachments: vec![],
            target_seq: Some(seq),
        })
        .await?;
    Ok(HttpResponse::Ok().json(json!({"roomId": room, "deleted": seq, "seq": posted.seq})))
}
