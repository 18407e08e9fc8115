//! The caller's in-app notifications (`crate::notify` stores them): the
//! list, newest first with a cursor, the unread count, marking one or all
//! read, and which kinds also come by email.

use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use lyceum_protocol::ErrorCode;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::routes::paging::{id_cursor, page_limit};
use crate::state::AppState;

pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 100;

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListQuery {
    pub cursor: Option<String>,
    pub limit: Option<i64>,
    /// `true`: only unread ones.
    pub unread: Option<bool>,
}

/// `GET /api/notifications`: `{"items", "nextCursor", "unread"}`.
pub async fn list(
    state: web::Data<AppState>,
    user: AuthUser,
    q: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = page_limit(q.limit, DEFAULT_LIMIT, MAX_LIMIT)?;
    // The cursor is the id of the last notification of the previous page.
    let before = id_cursor(q.cursor.as_deref())?;
    let client = state.pool.get().await?;
    let rows = client
        .query(
            "SELECT id, kind, payload, created_at, read_at FROM notifications
              WHERE user_id = $1 AND ($2::bigint IS NULL OR id < $2) AND (NOT $3 OR read_at IS NULL)
              ORDER BY id DESC LIMIT $4",
            &[&user.id, &before, &q.unread.unwrap_or(false), &(limit + 1)],
        )
        .await?;
    let has_more = rows.len() as i64 > limit;
    let items: Vec<Value> = rows
        .iter()
        .take(limit as usize)
        .map(|r| {
            json!({"id": r.get::<_, i64>(0), "kind": r.get::<_, String>(1), "payload": r.get::<_, Value>(2),
                   "createdAt": r.get::<_, DateTime<Utc>>(3), "readAt": r.get::<_, Option<DateTime<Utc>>>(4)})
        })
        .collect();
    let next_cursor = if has_more {
        items.last().and_then(|i| i["id"].as_i64()).map(|id| id.to_string())
    } else {
        None
    };
    let unread = unread_count(&client, &user).await?;
    Ok(HttpResponse::Ok().json(json!({"items": items, "nextCursor": next_cursor, "unread": unread})))
}

/// How many of `user`'s notifications are unread.
pub async fn unread_count(client: &deadpool_postgres::Client, user: &AuthUser) -> Result<i64, ApiError> {
    Ok(client
        .query_one(
            "SELECT count(*) FROM notifications WHERE user_id = $1 AND read_at IS NULL",
            &[&user.id],
        )
        .await?
        .get(0))
}

/// `GET /api/notifications/unread-count`: `{"unread"}`.
pub async fn unread(state: web::Data<AppState>, user: AuthUser) -> Result<HttpResponse, ApiError> {
    let client = state.pool.get().await?;
    let unread = unread_count(&client, &user).await?;
    Ok(HttpResponse::Ok().json(json!({"unread": unread})))
}

/// `POST /api/notifications/{id}/read`: `{"id", "readAt", "unread"}`;
/// reading it again keeps the first `readAt`.
pub async fn mark_read(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let client = state.pool.get().await?;
    let row = client
        .query_opt(
            "UPDATE notifications SET read_at = coalesce(read_at, now()) WHERE id = $1 AND user_id = $2
             RETURNING read_at",
            &[&id, &user.id],
        )
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::NotificationNotFound, "you have no notification with this id"))?;
    let read_at: Option<DateTime<Utc>> = row.get(0);
    let unread = unread_count(&client, &user).await?;
    Ok(HttpResponse::Ok().json(json!({"id": id, "readAt": read_at, "unread": unread})))
}

/// `POST /api/notifications/read-all`: `{"updated", "unread": 0}`.
pub async fn mark_all_read(state: web::Data<AppState>, user: AuthUser) -> Result<HttpResponse, ApiError> {
    let client = state.pool.get().await?;
    let updated = client
        .execute(
            "UPDATE notifications SET read_at = now() WHERE user_id = $1 AND read_at IS NULL",
            &[&user.id],
        )
        .await?;
    Ok(HttpResponse::Ok().json(json!({"updated": updated, "unread": 0})))
}

/// Every kind of notification, in the order preferences list them.
pub const KINDS: &[&str] = &[
    "reminder",
    "board_reply",
    "board_mention",
    "board_answer_accepted",
    "board_moderation",
    "direct_message",
    "mentorship_requested",
    "mentorship_accepted",
    "mentorship_declined",
    "mentorship_ended",
    "review_received",
    "review_replied",
    "booking_confirmed",
    "booking_promoted",
    "booking_cancelled",
    "booking_received",
];

async fn preferences(client: &deadpool_postgres::Client, user: &AuthUser) -> Result<Value, ApiError> {
    let rows = client
        .query(
            "SELECT k, email_wanted($1, k) FROM unnest($2::text[]) WITH ORDINALITY AS t(k, n) ORDER BY n",
            &[&user.id, &KINDS],
        )
        .await?;
    let items: Vec<Value> = rows
        .iter()
        .map(|r| json!({"kind": r.get::<_, String>(0), "email": r.get::<_, bool>(1)}))
        .collect();
    Ok(json!({"items": items}))
}

/// `GET /api/me/notification-preferences`.
pub async fn get_preferences(state: web::Data<AppState>, user: AuthUser) -> Result<HttpResponse, ApiError> {
    let client = state.pool.get().await?;
    Ok(HttpResponse::Ok().json(preferences(&client, &user).await?))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PreferencesBody {
    email: std::collections::BTreeMap<String, bool>,
}

/// `PUT /api/me/notification-preferences` `{"email": {"board_reply": false, ...}}`:
/// the kinds named change, the others stay.
pub async fn put_preferences(
    state: web::Data<AppState>,
    user: AuthUser,
    body: crate::routes::json::Json<PreferencesBody>,
) -> Result<HttpResponse, ApiError> {
    if let Some(k) = body.email.keys().find(|k| !KINDS.contains(&k.as_str())) {
        return Err(ApiError::new(
            ErrorCode::InvalidPreferences,
            format!("unknown kind `{k}`; the kinds are {}", KINDS.join(", ")),
        ));
    }
    let mut client = state.pool.get().await?;
    let tx = client.transaction().await?;
    for (kind, email) in &body.email {
        tx.execute(
            "INSERT INTO notification_preferences (user_id, kind, email) VALUES ($1, $2, $3)
             ON CONFLICT (user_id, kind) DO UPDATE SET email = EXCLUDED.email",
            &[&user.id, kind, email],
        )
        .await?;
    }
    tx.commit().await?;
    Ok(HttpResponse::Ok().json(preferences(&client, &user).await?))
}
