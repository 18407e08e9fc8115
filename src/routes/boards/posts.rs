//! One post: its author edits it (the earlier text kept as a revision) or
//! deletes it; anyone signed in votes on it (one vote per user, up, down or
//! cleared) or flags it into the moderation queue; moderators hide or
//! delete it.

use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use lyceum_protocol::{ErrorCode, UserId};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use super::threads::{not_locked, notify_moderated, SEARCH_VECTOR};
use super::{actor_json, load_post, notify_mentions, post_for, post_to_moderate, record_board_action, tell_watchers};
use crate::audit::action;
use crate::auth::{AuthUser, MaybeUser};
use crate::boards::{self, render::render};
use crate::error::ApiError;
use crate::notify;
use crate::routes::json::Json;
use crate::state::AppState;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Edit {
    body: Option<String>,
    title: Option<String>,
    tags: Option<Vec<String>>,
}

/// `PATCH /api/boards/posts/{id}` (its author): `200` with the post.
pub async fn edit(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
    body: Json<Edit>,
) -> Result<HttpResponse, ApiError> {
    let e = body.into_inner();
    if e.body.is_none() && e.title.is_none() && e.tags.is_none() {
        return Err(ApiError::new(
            ErrorCode::InvalidPost,
            "send body, title or tags to change",
        ));
    }
    let text = e.body.as_deref().map(boards::body).transpose()?;
    let title = e.title.as_deref().map(boards::title).transpose()?;
    let tags = e.tags.as_deref().map(boards::tags).transpose()?;
    let mut client = state.pool.get().await?;
    let tx = client.transaction().await?;
    let p = post_for(&tx, id.into_inner(), Some(&user), true).await?;
    if p.author != user.id.0 {
        return Err(ApiError::forbidden("only its author edits a post"));
    }
    not_locked(&p.thread)?;
    boards::not_banned(&tx, user.id, p.thread.category).await?;
    let is_question = Some(p.id) == p.thread.first_post;
    if !is_question && (title.is_some() || tags.is_some()) {
        return Err(ApiError::new(
            ErrorCode::InvalidPost,
            "title and tags belong to the question (the thread's first post)",
        ));
    }
    let old = tx
        .query_one(
            "SELECT p.body, coalesce(p.edited_at, p.created_at), t.title, t.tags
               FROM board_posts p JOIN board_threads t ON t.id = p.thread_id WHERE p.id = $1",
            &[&p.id],
        )
        .await?;
    let (old_body, written): (String, DateTime<Utc>) = (old.get(0), old.get(1));
    let (old_title, old_tags): (String, Vec<String>) = (old.get(2), old.get(3));
    tx.execute(
        "INSERT INTO board_post_revisions (post_id, title, body, written_at, edited_by) VALUES ($1, $2, $3, $4, $5)",
        &[&p.id, &is_question.then_some(&old_title), &old_body, &written, &user.id],
    )
    .await?;
    let new_body = text.unwrap_or(old_body);
    let rendered = render(&new_body);
    tx.execute(
        "UPDATE board_posts SET body = $2, body_html = $3, edited_at = now() WHERE id = $1",
        &[&p.id, &new_body, &rendered.html],
    )
    .await?;
    if is_question {
        let new_title = title.unwrap_or(old_title);
        let new_tags = tags.unwrap_or(old_tags);
        tx.execute(
            &format!("UPDATE board_threads SET title = $1, tags = $2, search = {SEARCH_VECTOR} WHERE id = $4"),
            &[&new_title, &new_tags, &new_body, &p.thread.id],
        )
        .await?;
    }
    // Someone newly mentioned is told; those mentioned before were told
    // already (the key is the post's).
    let by = actor_json(&tx, &user).await?;
    let mut stored = Vec::new();
    // A held post tells no one until it is approved.
    if !p.held {
        notify_mentions(
            &tx,
            &rendered.mentions,
            user.id.0,
            &[],
            &p.thread,
            p.id,
            &by,
            state.email_notifications,
            &mut stored,
        )
        .await?;
    }
    let shown = load_post(&tx, p.id, Some(&user), p.thread.moderator).await?;
    tx.commit().await?;
    notify::push(state.realtime.services.fanout.as_ref(), stored);
    if !p.thread.hidden && !p.held {
        tell_watchers(&state, p.thread.id, "edit", shown.clone());
    }
    Ok(HttpResponse::Ok().json(shown))
}

/// `DELETE /api/boards/posts/{id}` (its author, the category's moderators,
/// admins): `204`. The question takes its thread with it.
pub async fn delete(
    state: web::Data<AppState>,
    user: AuthUser,
    req: HttpRequest,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let mut client = state.pool.get().await?;
    let tx = client.transaction().await?;
    let p = post_for(&tx, id.into_inner(), Some(&user), true).await?;
    let own = p.author == user.id.0;
    if !own && !p.thread.moderator {
        return Err(ApiError::forbidden(
            "only its author, the category's moderators and admins delete a post",
        ));
    }
    let is_question = Some(p.id) == p.thread.first_post;
    if is_question {
        tx.execute(
            "UPDATE board_threads SET deleted_at = now() WHERE id = $1",
            &[&p.thread.id],
        )
        .await?;
    } else {
        tx.execute(
            "UPDATE board_threads SET reply_count = greatest(reply_count - CASE WHEN $3 THEN 0 ELSE 1 END, 0),
                    accepted_post_id = CASE WHEN accepted_post_id = $2 THEN NULL ELSE accepted_post_id END
              WHERE id = $1",
            // A held reply was never counted.
            &[&p.thread.id, &p.id, &p.held],
        )
        .await?;
    }
    tx.execute("UPDATE board_posts SET deleted_at = now() WHERE id = $1", &[&p.id])
        .await?;
    let mut stored = None;
    if !own {
        resolve_flags(&tx, p.id, &user, "deleted").await?;
        record_board_action(
            &tx,
            &state,
            &req,
            user.id,
            Some(UserId(p.author)),
            action::BOARD_POST_DELETED,
            json!({"postId": p.id, "threadId": p.thread.id, "categoryId": p.thread.category,
                   "wholeThread": is_question}),
        )
        .await?;
        stored = notify_moderated(
            &tx,
            &user,
            p.author,
            action::BOARD_POST_DELETED,
            &p.thread,
            Some(p.id),
            "",
            state.email_notifications,
        )
        .await?;
    }
    tx.commit().await?;
    notify::push(state.realtime.services.fanout.as_ref(), stored.into_iter().collect());
    if !p.thread.hidden {
        tell_watchers(
            &state,
            p.thread.id,
            "post_deleted",
            json!({"postId": p.id, "wholeThread": is_question}),
        );
    }
    Ok(HttpResponse::NoContent().finish())
}

/// Closes the post's open flags: moderation has answered them.
async fn resolve_flags(
    client: &impl deadpool_postgres::GenericClient,
    post: Uuid,
    by: &AuthUser,
    resolution: &str,
) -> Result<(), ApiError> {
    client
        .execute(
            "UPDATE board_flags SET resolved_at = now(), resolved_by = $2, resolution = $3
              WHERE post_id = $1 AND resolved_at IS NULL",
            &[&post, &by.id, &resolution],
        )
        .await?;
    Ok(())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Vote {
    value: i64,
}

/// `POST /api/boards/posts/{id}/vote` `{"value": 1 | -1 | 0}`: `200
/// {"postId", "score", "myVote"}`. One vote per user per post: voting the
/// same again changes nothing, another value replaces it, 0 clears it.
pub async fn vote(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
    body: Json<Vote>,
) -> Result<HttpResponse, ApiError> {
    let value: i16 = match body.value {
        -1 => -1,
        0 => 0,
        1 => 1,
        _ => return Err(ApiError::new(ErrorCode::InvalidVote, "a vote is 1, -1 or 0 (clear)")),
    };
    let mut client = state.pool.get().await?;
    let tx = client.transaction().await?;
    let p = post_for(&tx, id.into_inner(), Some(&user), false).await?;
    if p.author == user.id.0 {
        return Err(ApiError::forbidden("you cannot vote on your own post"));
    }
    boards::not_banned(&tx, user.id, p.thread.category).await?;
    // The post's row lock orders concurrent votes on it.
    tx.execute("SELECT 1 FROM board_posts WHERE id = $1 FOR UPDATE", &[&p.id])
        .await?;
    if value == 0 {
        tx.execute(
            "DELETE FROM board_votes WHERE post_id = $1 AND user_id = $2",
            &[&p.id, &user.id],
        )
        .await?;
    } else {
        tx.execute(
            "INSERT INTO board_votes (post_id, user_id, value) VALUES ($1, $2, $3)
             ON CONFLICT (post_id, user_id) DO UPDATE SET value = EXCLUDED.value, voted_at = now()",
            &[&p.id, &user.id, &value],
        )
        .await?;
    }
    let score: i32 = tx
        .query_one(
            "UPDATE board_posts SET score = (SELECT coalesce(sum(value), 0)::int FROM board_votes WHERE post_id = $1)
              WHERE id = $1 RETURNING score",
            &[&p.id],
        )
        .await?
        .get(0);
    if Some(p.id) == p.thread.first_post {
        tx.execute(
            "UPDATE board_threads SET score = $2 WHERE id = $1",
            &[&p.thread.id, &score],
        )
        .await?;
    }
    tx.commit().await?;
    if !p.thread.hidden {
        tell_watchers(&state, p.thread.id, "vote", json!({"postId": p.id, "score": score}));
    }
    let my_vote = if value == 0 { None } else { Some(value) };
    Ok(HttpResponse::Ok().json(json!({"postId": p.id, "score": score, "myVote": my_vote})))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Flag {
    reason: String,
}

/// `POST /api/boards/posts/{id}/flag` `{"reason"}`: `201` with the flag, or
/// `200` with the same flag when the caller's earlier flag of this post is
/// still open.
pub async fn flag(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
    body: Json<Flag>,
) -> Result<HttpResponse, ApiError> {
    let reason = boards::reason(Some(&body.reason), true)?;
    let client = state.pool.get().await?;
    let p = post_for(&client, id.into_inner(), Some(&user), false).await?;
    let inserted = client
        .query_opt(
            "INSERT INTO board_flags (post_id, flagged_by, reason) VALUES ($1, $2, $3)
             ON CONFLICT (post_id, flagged_by) WHERE resolved_at IS NULL DO NOTHING RETURNING id, reason, created_at",
            &[&p.id, &user.id, &reason],
        )
        .await?;
    let (status, row) = match inserted {
        Some(r) => (actix_web::http::StatusCode::CREATED, r),
        None => (
            actix_web::http::StatusCode::OK,
            client
                .query_one(
                    "SELECT id, reason, created_at FROM board_flags
                      WHERE post_id = $1 AND flagged_by = $2 AND resolved_at IS NULL",
                    &[&p.id, &user.id],
                )
                .await?,
        ),
    };
    Ok(HttpResponse::build(status).json(json!({
        "id": row.get::<_, i64>(0), "postId": p.id, "reason": row.get::<_, String>(1),
        "createdAt": row.get::<_, DateTime<Utc>>(2),
    })))
}

/// `GET /api/boards/posts/{id}/revisions`: the earlier versions, oldest first.
pub async fn revisions(
    state: web::Data<AppState>,
    viewer: MaybeUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let client = state.pool.get().await?;
    let p = post_for(&client, id.into_inner(), viewer.0.as_ref(), false).await?;
    let rows = client
        .query(
            "SELECT r.title, r.body, r.written_at, r.edited_by, u.display_name
               FROM board_post_revisions r LEFT JOIN users u ON u.id = r.edited_by
              WHERE r.post_id = $1 ORDER BY r.id",
            &[&p.id],
        )
        .await?;
    let items: Vec<_> = rows
        .iter()
        .map(|r| {
            let editor: Option<Uuid> = r.get(3);
            json!({
                "title": r.get::<_, Option<String>>(0),
                "body": r.get::<_, String>(1),
                "writtenAt": r.get::<_, DateTime<Utc>>(2),
                "replacedBy": editor.map(|e| json!({"id": e, "displayName": r.get::<_, Option<String>>(4)})),
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({"items": items})))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Moderate {
    action: String,
    reason: Option<String>,
}

/// `POST /api/boards/posts/{id}/moderate` `{"action": "hide" | "unhide",
/// "reason"?}` (the category's moderators, admins): `200` with the post.
pub async fn moderate(
    state: web::Data<AppState>,
    user: AuthUser,
    req: HttpRequest,
    id: web::Path<Uuid>,
    body: Json<Moderate>,
) -> Result<HttpResponse, ApiError> {
    let b = body.into_inner();
    let reason = boards::reason(b.reason.as_deref(), false)?;
    let hide = match b.action.as_str() {
        "hide" => true,
        "unhide" => false,
        _ => return Err(ApiError::new(ErrorCode::InvalidModeration, "action is hide or unhide")),
    };
    let mut client = state.pool.get().await?;
    let tx = client.transaction().await?;
    let p = post_to_moderate(
        &tx,
        id.into_inner(),
        &user,
        "only this category's moderators and admins may moderate",
    )
    .await?;
    tx.execute("UPDATE board_posts SET hidden = $2 WHERE id = $1", &[&p.id, &hide])
        .await?;
    if hide {
        resolve_flags(&tx, p.id, &user, "hidden").await?;
    }
    let act = if hide {
        action::BOARD_POST_HIDDEN
    } else {
        action::BOARD_POST_UNHIDDEN
    };
    record_board_action(
        &tx,
        &state,
        &req,
        user.id,
        Some(UserId(p.author)),
        act,
        json!({"postId": p.id, "threadId": p.thread.id, "categoryId": p.thread.category, "reason": reason}),
    )
    .await?;
    let stored = notify_moderated(
        &tx,
        &user,
        p.author,
        act,
        &p.thread,
        Some(p.id),
        &reason,
        state.email_notifications,
    )
    .await?;
    let shown = load_post(&tx, p.id, Some(&user), true).await?;
    tx.commit().await?;
    notify::push(state.realtime.services.fanout.as_ref(), stored.into_iter().collect());
    let change = if hide { "post_hidden" } else { "post_unhidden" };
    if !p.thread.hidden {
        tell_watchers(&state, p.thread.id, change, json!({"postId": p.id}));
    }
    Ok(HttpResponse::Ok().json(shown))
}
