//! The moderation queue: open flags of the posts in the categories the
//! caller moderates (admins: every category), oldest first; a moderator
//! answers a flag by hiding or deleting the post (which closes its flags)
//! or by dismissing it.

use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use lyceum_protocol::ErrorCode;
use serde_json::json;
use uuid::Uuid;

use super::{record_board_action, require_moderator, ModQueueQuery, DEFAULT_QUEUE_LIMIT, MAX_QUEUE_LIMIT};
use crate::audit::action;
use crate::auth::AuthUser;
use crate::boards;
use crate::error::ApiError;
use crate::routes::paging::{id_cursor, page_limit};
use crate::state::AppState;

/// `GET /api/boards/flags`: `{"items", "nextCursor"}`; `403 forbidden` for
/// someone who moderates no category.
pub async fn queue(
    state: web::Data<AppState>,
    user: AuthUser,
    q: web::Query<ModQueueQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = page_limit(q.limit, DEFAULT_QUEUE_LIMIT, MAX_QUEUE_LIMIT)?;
    let after = id_cursor(q.cursor.as_deref())?;
    let client = state.pool.get().await?;
    let admin = require_moderator(&client, &user, "only moderators and admins see the moderation queue").await?;
    let rows = client
        .query(
            "SELECT f.id, f.reason, f.created_at, f.flagged_by, fu.display_name,
                    p.id, p.thread_id, t.category_id, t.title, left(p.body, 200), p.author_id, au.display_name, p.hidden,
                    (p.id = t.first_post_id)
               FROM board_flags f
               JOIN board_posts p ON p.id = f.post_id
               JOIN board_threads t ON t.id = p.thread_id
               JOIN users fu ON fu.id = f.flagged_by
               JOIN users au ON au.id = p.author_id
              WHERE f.resolved_at IS NULL AND p.deleted_at IS NULL AND t.deleted_at IS NULL
                AND ($1 OR t.category_id IN (SELECT category_id FROM board_moderators WHERE user_id = $2))
                AND ($3::uuid IS NULL OR t.category_id = $3)
                AND ($4::bigint IS NULL OR f.id > $4)
              ORDER BY f.id LIMIT $5",
            &[&admin, &user.id, &q.category, &after, &(limit + 1)],
        )
        .await?;
    let has_more = rows.len() as i64 > limit;
    let items: Vec<_> = rows
        .iter()
        .take(limit as usize)
        .map(|r| {
            json!({
                "id": r.get::<_, i64>(0),
                "reason": r.get::<_, String>(1),
                "createdAt": r.get::<_, DateTime<Utc>>(2),
                "flaggedBy": {"id": r.get::<_, Uuid>(3), "displayName": r.get::<_, String>(4)},
                "post": {
                    "id": r.get::<_, Uuid>(5), "threadId": r.get::<_, Uuid>(6), "categoryId": r.get::<_, Uuid>(7),
                    "threadTitle": r.get::<_, String>(8), "excerpt": r.get::<_, String>(9),
                    "author": {"id": r.get::<_, Uuid>(10), "displayName": r.get::<_, String>(11)},
                    "hidden": r.get::<_, bool>(12), "isQuestion": r.get::<_, bool>(13),
                },
            })
        })
        .collect();
    let next_cursor = if has_more {
        items.last().and_then(|i| i["id"].as_i64()).map(|n| n.to_string())
    } else {
        None
    };
    Ok(HttpResponse::Ok().json(json!({"items": items, "nextCursor": next_cursor})))
}

/// `POST /api/boards/flags/{id}/dismiss` (moderators of the post's
/// category, admins): `200 {"id", "resolution": "dismissed"}`. Audited.
pub async fn dismiss(
    state: web::Data<AppState>,
    user: AuthUser,
    req: HttpRequest,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let mut client = state.pool.get().await?;
    let tx = client.transaction().await?;
    let not_found = || ApiError::new(ErrorCode::FlagNotFound, "no such open flag");
    let row = tx
        .query_opt(
            "SELECT t.category_id, p.id, p.author_id FROM board_flags f
               JOIN board_posts p ON p.id = f.post_id JOIN board_threads t ON t.id = p.thread_id
              WHERE f.id = $1 AND f.resolved_at IS NULL FOR UPDATE OF f",
            &[&id],
        )
        .await?
        .ok_or_else(not_found)?;
    let category: Uuid = row.get(0);
    if !boards::moderates(&tx, &user, category).await? {
        return Err(ApiError::forbidden(
            "only this category's moderators and admins may dismiss its flags",
        ));
    }
    tx.execute(
        "UPDATE board_flags SET resolved_at = now(), resolved_by = $2, resolution = 'dismissed' WHERE id = $1",
        &[&id, &user.id],
    )
    .await?;
    record_board_action(
        &tx,
        &state,
        &req,
        user.id,
        Some(lyceum_protocol::UserId(row.get(2))),
        action::BOARD_FLAG_DISMISSED,
        json!({"flagId": id, "postId": row.get::<_, Uuid>(1), "categoryId": category}),
    )
    .await?;
    tx.commit().await?;
    Ok(HttpResponse::Ok().json(json!({"id": id, "resolution": "dismissed"})))
}
