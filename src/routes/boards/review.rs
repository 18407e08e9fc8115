//! Posts held for review (`boards.hold_first_posts`): a new account's first
//! posts wait, hidden from everyone but their author and the category's
//! moderators, in the review queue; a moderator approves one (it is
//! published as if posted then: counted, its watchers and the people it
//! answers or mentions told) or rejects it (it is deleted, with its thread
//! when it is a question). Either way the author is told and the audit log
//! records it.

use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use lyceum_protocol::{ErrorCode, UserId};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use super::threads::{notify_moderated, notify_reply, Published};
use super::{
    load_post, notify_mentions, post_to_moderate, record_board_action, require_moderator, tell_watchers, ModQueueQuery,
    DEFAULT_QUEUE_LIMIT, MAX_QUEUE_LIMIT,
};
use crate::audit::action;
use crate::auth::AuthUser;
use crate::boards::{self, render::render};
use crate::error::ApiError;
use crate::notify;
use crate::routes::json::Json;
use crate::routes::paging::{id_cursor, page_limit};
use crate::state::AppState;

/// `GET /api/boards/held`: the posts waiting for review in the categories
/// the caller moderates (admins: all), oldest first; `403 forbidden` for
/// someone who moderates no category.
pub async fn queue(
    state: web::Data<AppState>,
    user: AuthUser,
    q: web::Query<ModQueueQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = page_limit(q.limit, DEFAULT_QUEUE_LIMIT, MAX_QUEUE_LIMIT)?;
    let after = id_cursor(q.cursor.as_deref())?;
    let client = state.pool.get().await?;
    let admin = require_moderator(
        &client,
        &user,
        "only moderators and admins see the posts held for review",
    )
    .await?;
    let rows = client
        .query(
            "SELECT p.id, p.thread_id, t.category_id, t.title, p.body, p.author_id, u.display_name,
                    (p.id = t.first_post_id), p.created_at, p.n, p.parent_id
               FROM board_posts p
               JOIN board_threads t ON t.id = p.thread_id
               JOIN users u ON u.id = p.author_id
              WHERE p.review = 'held' AND p.deleted_at IS NULL AND t.deleted_at IS NULL
                AND ($1 OR t.category_id IN (SELECT category_id FROM board_moderators WHERE user_id = $2))
                AND ($3::uuid IS NULL OR t.category_id = $3)
                AND ($4::bigint IS NULL OR p.n > $4)
              ORDER BY p.n LIMIT $5",
            &[&admin, &user.id, &q.category, &after, &(limit + 1)],
        )
        .await?;
    let has_more = rows.len() as i64 > limit;
    let page: Vec<_> = rows.iter().take(limit as usize).collect();
    let items: Vec<_> = page
        .iter()
        .map(|r| {
            json!({
                "id": r.get::<_, Uuid>(0), "threadId": r.get::<_, Uuid>(1), "categoryId": r.get::<_, Uuid>(2),
                "threadTitle": r.get::<_, String>(3), "body": r.get::<_, String>(4),
                "author": {"id": r.get::<_, Uuid>(5), "displayName": r.get::<_, String>(6)},
                "isQuestion": r.get::<_, bool>(7), "createdAt": r.get::<_, DateTime<Utc>>(8),
                "parentId": r.get::<_, Option<Uuid>>(10),
            })
        })
        .collect();
    let next_cursor = if has_more {
        page.last().map(|r| r.get::<_, i64>(9).to_string())
    } else {
        None
    };
    Ok(HttpResponse::Ok().json(json!({"items": items, "nextCursor": next_cursor})))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Decision {
    decision: String,
    reason: Option<String>,
}

/// `POST /api/boards/posts/{id}/review` `{"decision": "approve" | "reject",
/// "reason"?}` (the category's moderators, admins): `200` with the post.
pub async fn decide(
    state: web::Data<AppState>,
    user: AuthUser,
    req: HttpRequest,
    id: web::Path<Uuid>,
    body: Json<Decision>,
) -> Result<HttpResponse, ApiError> {
    let b = body.into_inner();
    let reason = boards::reason(b.reason.as_deref(), false)?;
    let approve = match b.decision.as_str() {
        "approve" => true,
        "reject" => false,
        _ => {
            return Err(ApiError::new(
                ErrorCode::InvalidModeration,
                "decision is approve or reject",
            ))
        }
    };
    let mut client = state.pool.get().await?;
    let tx = client.transaction().await?;
    let p = post_to_moderate(
        &tx,
        id.into_inner(),
        &user,
        "only this category's moderators and admins review held posts",
    )
    .await?;
    if !p.held {
        return Err(ApiError::new(
            ErrorCode::PostNotHeld,
            "this post is not waiting for review",
        ));
    }
    let is_question = Some(p.id) == p.thread.first_post;
    let mut stored = Vec::new();
    let act = if approve {
        let row = tx
            .query_one(
                "UPDATE board_posts SET review = 'approved', hidden = false WHERE id = $1
                 RETURNING body, parent_id",
                &[&p.id],
            )
            .await?;
        let (text, parent): (String, Option<Uuid>) = (row.get(0), row.get(1));
        let by: serde_json::Value = tx
            .query_one("SELECT display_name FROM users WHERE id = $1", &[&p.author])
            .await
            .map(|r| json!({"id": p.author, "displayName": r.get::<_, String>(0)}))?;
        let mentions = render(&text).mentions;
        if is_question {
            tx.execute(
                "UPDATE board_threads SET hidden = false, held = false, last_activity_at = now() WHERE id = $1",
                &[&p.thread.id],
            )
            .await?;
            notify_mentions(
                &tx,
                &mentions,
                p.author,
                &[],
                &p.thread,
                p.id,
                &by,
                state.email_notifications,
                &mut stored,
            )
            .await?;
        } else {
            tx.execute(
                "UPDATE board_threads SET reply_count = reply_count + 1, last_activity_at = now() WHERE id = $1",
                &[&p.thread.id],
            )
            .await?;
            let parent_author: Option<Uuid> = match parent {
                Some(pp) => tx
                    .query_opt(
                        "SELECT author_id FROM board_posts WHERE id = $1 AND deleted_at IS NULL",
                        &[&pp],
                    )
                    .await?
                    .map(|r| r.get(0)),
                None => None,
            };
            let reply = Published {
                post: p.id,
                parent,
                parent_author,
                author: p.author,
                mentions: &mentions,
            };
            notify_reply(&tx, &p.thread, &reply, &by, state.email_notifications, &mut stored).await?;
        }
        action::BOARD_POST_APPROVED
    } else {
        tx.execute(
            "UPDATE board_posts SET review = 'rejected', deleted_at = now() WHERE id = $1",
            &[&p.id],
        )
        .await?;
        if is_question {
            tx.execute(
                "UPDATE board_threads SET deleted_at = now(), held = false WHERE id = $1",
                &[&p.thread.id],
            )
            .await?;
        }
        action::BOARD_POST_REJECTED
    };
    record_board_action(
        &tx,
        &state,
        &req,
        user.id,
        Some(UserId(p.author)),
        act,
        json!({"postId": p.id, "threadId": p.thread.id, "categoryId": p.thread.category,
               "wholeThread": is_question, "reason": reason}),
    )
    .await?;
    stored.extend(
        notify_moderated(
            &tx,
            &user,
            p.author,
            act,
            &p.thread,
            Some(p.id),
            &reason,
            state.email_notifications,
        )
        .await?,
    );
    let shown = load_post(&tx, p.id, Some(&user), true).await?;
    tx.commit().await?;
    notify::push(state.realtime.services.fanout.as_ref(), stored);
    // Approved replies in a standing thread reach its watchers as new ones.
    if approve && !is_question && !p.thread.hidden {
        tell_watchers(&state, p.thread.id, "reply", shown.clone());
    }
    Ok(HttpResponse::Ok().json(shown))
}
