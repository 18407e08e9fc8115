//! The discussion boards over HTTP (issue 16, docs/api.md "Boards"):
//! `categories` (admins create them and appoint moderators; moderators ban),
//! `threads` (list, search, create, read, reply, accept, moderate), `posts`
//! (edit with history, delete, vote, flag, moderate) and `flags` (the
//! moderation queue). The rules they share are in `crate::boards`; what
//! they share here is how a thread or post is loaded for a caller and how
//! it is shown.

pub mod categories;
pub mod flags;
pub mod posts;
pub mod review;
pub mod threads;

use actix_web::HttpRequest;
use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use lyceum_protocol::{ErrorCode, UserId};
use serde_json::{json, Value};
use tokio_postgres::Row;
use uuid::Uuid;

use crate::audit;
use crate::auth::AuthUser;
use crate::boards;
use crate::error::ApiError;
use crate::notify::{self, Note, Stored};
use crate::state::AppState;

/// The query of both moderation queues (`GET /api/boards/flags` and
/// `GET /api/boards/held`): one category or all the caller moderates, and
/// a cursor page.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ModQueueQuery {
    pub category: Option<Uuid>,
    pub cursor: Option<String>,
    pub limit: Option<i64>,
}

/// A moderation queue's page size: this many by default, at most `MAX_QUEUE_LIMIT`.
pub const DEFAULT_QUEUE_LIMIT: i64 = 50;
pub const MAX_QUEUE_LIMIT: i64 = 100;

/// Whether the caller is an admin (every category) or moderates some
/// category; `403 forbidden` with `msg` for anyone else.
pub async fn require_moderator(
    client: &impl GenericClient,
    user: &AuthUser,
    msg: &'static str,
) -> Result<bool, ApiError> {
    let admin = user.role == lyceum_actors::Role::Admin;
    if !admin
        && client
            .query_opt("SELECT 1 FROM board_moderators WHERE user_id = $1", &[&user.id])
            .await?
            .is_none()
    {
        return Err(ApiError::forbidden(msg));
    }
    Ok(admin)
}

/// Writes a board moderation action (or a change to who moderates) to the
/// audit log, in the transaction that makes it: by `actor`, about `subject`
/// (the user concerned, if any), from the request's address.
pub async fn record_board_action(
    tx: &impl GenericClient,
    state: &AppState,
    req: &HttpRequest,
    actor: UserId,
    subject: Option<UserId>,
    action: &'static str,
    details: Value,
) -> Result<(), ApiError> {
    let ip = state.client_ip(req);
    let entry = audit::Entry {
        actor: Some(actor),
        subject,
        action,
        ip: Some(&ip),
        details,
    };
    audit::record(tx, entry).await?;
    Ok(())
}

/// Tells the thread's watchers (`watch_thread` over the WebSocket) of a
/// committed change. Call after the commit. The boards actor's mailbox is
/// bounded: when it is full the frame is dropped and logged (the change is
/// stored; a watcher reloading the thread sees it).
pub fn tell_watchers(state: &AppState, thread: Uuid, change: &str, mut payload: Value) {
    // Watchers are many people: nothing in the frame is the caller's own.
    if payload.get("myVote").is_some() {
        payload["myVote"] = Value::Null;
    }
    let frame = lyceum_protocol::frames::Event::ThreadUpdated {
        thread_id: thread,
        change: change.to_owned(),
        payload,
    }
    .frame();
    let sent = state.realtime.boards.try_send(lyceum_actors::boards::Changed {
        thread,
        frame: frame.into(),
    });
    if sent.is_err() {
        tracing::warn!(%thread, change, "board watchers not told: the boards actor is full");
    }
}

/// A thread as the rules need it (not as it is shown).
pub struct ThreadCtx {
    pub id: Uuid,
    pub category: Uuid,
    pub author: Uuid,
    pub title: String,
    pub locked: bool,
    pub hidden: bool,
    pub first_post: Option<Uuid>,
    /// Whether the caller moderates the thread's category.
    pub moderator: bool,
    /// Its question is held for review (the thread is hidden meanwhile).
    pub held: bool,
}

/// The thread, if the caller may see it: its category readable by them,
/// not deleted, and not hidden unless they moderate it; else
/// `404 thread_not_found`. `lock` takes the thread's row lock (for changes).
pub async fn thread_for(
    client: &impl GenericClient,
    id: Uuid,
    viewer: Option<&AuthUser>,
    lock: bool,
) -> Result<ThreadCtx, ApiError> {
    let sql = if lock {
        "SELECT t.id, t.category_id, t.author_id, t.title, t.locked, t.hidden, t.first_post_id, c.visibility, t.held
           FROM board_threads t JOIN board_categories c ON c.id = t.category_id
          WHERE t.id = $1 AND t.deleted_at IS NULL FOR UPDATE OF t"
    } else {
        "SELECT t.id, t.category_id, t.author_id, t.title, t.locked, t.hidden, t.first_post_id, c.visibility, t.held
           FROM board_threads t JOIN board_categories c ON c.id = t.category_id
          WHERE t.id = $1 AND t.deleted_at IS NULL"
    };
    let not_found = || ApiError::new(ErrorCode::ThreadNotFound, "no such thread");
    let row = client.query_opt(sql, &[&id]).await?.ok_or_else(not_found)?;
    let visibility: String = row.get(7);
    if !boards::may_read(&visibility, viewer) {
        return Err(not_found());
    }
    let category: Uuid = row.get(1);
    let moderator = match viewer {
        Some(v) => boards::moderates(client, v, category).await?,
        None => false,
    };
    let hidden: bool = row.get(5);
    let held: bool = row.get(8);
    let author: Uuid = row.get(2);
    // A held thread (its question waits for review) is its author's too.
    let own_held = held && viewer.is_some_and(|v| v.id.0 == author);
    if hidden && !moderator && !own_held {
        return Err(not_found());
    }
    Ok(ThreadCtx {
        id: row.get(0),
        category,
        author,
        title: row.get(3),
        locked: row.get(4),
        hidden,
        first_post: row.get(6),
        moderator,
        held,
    })
}

/// A post as the rules need it.
pub struct PostCtx {
    pub id: Uuid,
    pub author: Uuid,
    pub hidden: bool,
    /// Waiting for a moderator's review (hidden meanwhile).
    pub held: bool,
    pub thread: ThreadCtx,
}

/// The post, if the caller may see its thread and it is not deleted (nor
/// hidden, unless they moderate it); else `404 post_not_found`.
pub async fn post_for(
    client: &impl GenericClient,
    id: Uuid,
    viewer: Option<&AuthUser>,
    lock: bool,
) -> Result<PostCtx, ApiError> {
    let not_found = || ApiError::new(ErrorCode::PostNotFound, "no such post");
    let row = client
        .query_opt(
            "SELECT thread_id, author_id, hidden, coalesce(review = 'held', false) FROM board_posts
              WHERE id = $1 AND deleted_at IS NULL",
            &[&id],
        )
        .await?
        .ok_or_else(not_found)?;
    let thread = thread_for(client, row.get(0), viewer, lock).await.map_err(|e| {
        if e.code() == ErrorCode::ThreadNotFound {
            not_found()
        } else {
            e
        }
    })?;
    let hidden: bool = row.get(2);
    let held: bool = row.get(3);
    let author: Uuid = row.get(1);
    let own_held = held && viewer.is_some_and(|v| v.id.0 == author);
    if hidden && !thread.moderator && !own_held {
        return Err(not_found());
    }
    Ok(PostCtx {
        id,
        author,
        hidden,
        held,
        thread,
    })
}

/// The post, locked for a change only its category's moderators (and
/// admins) may make: [`post_for`]'s `404`s, then `403 forbidden` with `msg`
/// for anyone else.
pub async fn post_to_moderate(
    client: &impl GenericClient,
    id: Uuid,
    user: &AuthUser,
    msg: &'static str,
) -> Result<PostCtx, ApiError> {
    let p = post_for(client, id, Some(user), true).await?;
    if !p.thread.moderator {
        return Err(ApiError::forbidden(msg));
    }
    Ok(p)
}

/// The columns [`post_json`] reads, `$1` being the viewer (or null).
pub const POST_COLUMNS: &str = "p.id, p.thread_id, p.parent_id, p.author_id, u.display_name, u.role, p.body,
       p.body_html, p.score, p.hidden, p.deleted_at IS NOT NULL, p.created_at, p.edited_at, p.n,
       (SELECT v.value::int FROM board_votes v WHERE v.post_id = p.id AND v.user_id = $1),
       (SELECT count(*) FROM board_post_revisions r WHERE r.post_id = p.id),
       coalesce(p.review = 'held', false), coalesce(p.review = 'held' AND p.author_id = $1, false)";

/// Whether a row of [`POST_COLUMNS`] is listed for this viewer: a post held
/// for review only to moderators and its author.
pub fn post_visible(r: &Row, moderator: bool) -> bool {
    !r.get::<_, bool>(16) || moderator || r.get::<_, bool>(17)
}

/// A post as shown. Hidden posts show their text only to moderators;
/// deleted ones (kept in a thread's pages so replies to them keep their
/// place) show none.
pub fn post_json(r: &Row, first_post: Option<Uuid>, accepted: Option<Uuid>, moderator: bool) -> Value {
    let id: Uuid = r.get(0);
    let role: String = r.get(5);
    let hidden: bool = r.get(9);
    let deleted: bool = r.get(10);
    let held: bool = r.get(16);
    // A held post is its author's to read (and edit) while it waits.
    let shown = !deleted && (!hidden || moderator || r.get::<_, bool>(17));
    json!({
        "id": id,
        "threadId": r.get::<_, Uuid>(1),
        "parentId": r.get::<_, Option<Uuid>>(2),
        "author": {"id": r.get::<_, Uuid>(3), "displayName": r.get::<_, String>(4), "role": role},
        "byMentor": role == "mentor",
        "isQuestion": Some(id) == first_post,
        "accepted": Some(id) == accepted,
        "body": if shown { json!(r.get::<_, String>(6)) } else { Value::Null },
        "bodyHtml": if shown { json!(r.get::<_, String>(7)) } else { Value::Null },
        "score": r.get::<_, i32>(8),
        "myVote": r.get::<_, Option<i32>>(14),
        "hidden": hidden,
        "held": held,
        "deleted": deleted,
        "createdAt": r.get::<_, DateTime<Utc>>(11),
        "editedAt": r.get::<_, Option<DateTime<Utc>>>(12),
        "revisions": r.get::<_, i64>(15),
    })
}

/// One post as shown to `viewer`.
pub async fn load_post(
    client: &impl GenericClient,
    id: Uuid,
    viewer: Option<&AuthUser>,
    moderator: bool,
) -> Result<Value, ApiError> {
    let sql = format!(
        "SELECT {POST_COLUMNS}, t.first_post_id, t.accepted_post_id
           FROM board_posts p JOIN users u ON u.id = p.author_id JOIN board_threads t ON t.id = p.thread_id
          WHERE p.id = $2"
    );
    let viewer_id = viewer.map(|v| v.id);
    let r = client
        .query_opt(&sql, &[&viewer_id, &id])
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::PostNotFound, "no such post"))?;
    Ok(post_json(&r, r.get(18), r.get(19), moderator))
}

/// The columns [`thread_json`] reads.
pub const THREAD_COLUMNS: &str = "t.id, t.category_id, t.title, t.tags, t.author_id, u.display_name, u.role,
       t.created_at, t.last_activity_at, t.reply_count, t.score, t.locked, t.hidden, t.accepted_post_id";

/// A thread's summary as shown in lists and above its posts.
pub fn thread_json(r: &Row) -> Value {
    let accepted: Option<Uuid> = r.get(13);
    let role: String = r.get(6);
    json!({
        "id": r.get::<_, Uuid>(0),
        "categoryId": r.get::<_, Uuid>(1),
        "title": r.get::<_, String>(2),
        "tags": r.get::<_, Vec<String>>(3),
        "author": {"id": r.get::<_, Uuid>(4), "displayName": r.get::<_, String>(5), "role": role},
        "createdAt": r.get::<_, DateTime<Utc>>(7),
        "lastActivityAt": r.get::<_, DateTime<Utc>>(8),
        "replyCount": r.get::<_, i32>(9),
        "score": r.get::<_, i32>(10),
        "locked": r.get::<_, bool>(11),
        "hidden": r.get::<_, bool>(12),
        "acceptedPostId": accepted,
        "answered": accepted.is_some(),
    })
}

pub async fn load_thread_summary(client: &impl GenericClient, id: Uuid) -> Result<Value, ApiError> {
    let sql =
        format!("SELECT {THREAD_COLUMNS} FROM board_threads t JOIN users u ON u.id = t.author_id WHERE t.id = $1");
    let r = client
        .query_opt(&sql, &[&id])
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::ThreadNotFound, "no such thread"))?;
    Ok(thread_json(&r))
}

/// Who did something, for a notification's payload: id and display name.
pub async fn actor_json(client: &impl GenericClient, user: &AuthUser) -> Result<Value, ApiError> {
    let name: String = client
        .query_opt("SELECT display_name FROM users WHERE id = $1", &[&user.id])
        .await?
        .map(|r| r.get(0))
        .unwrap_or_default();
    Ok(json!({"id": user.id, "displayName": name}))
}

/// Notifies the users mentioned in a post (see docs/api.md "Mentions"):
/// each user whose display name, without its white space, equals a
/// mentioned name (case-insensitively), except the author and `skip`.
/// Keyed by the post, so an edit that mentions someone again does not
/// notify them twice.
#[allow(clippy::too_many_arguments)]
pub async fn notify_mentions(
    client: &impl GenericClient,
    names: &[String],
    author: Uuid,
    skip: &[Uuid],
    thread: &ThreadCtx,
    post: Uuid,
    by: &Value,
    mail: bool,
    out: &mut Vec<Stored>,
) -> Result<(), ApiError> {
    if names.is_empty() {
        return Ok(());
    }
    let rows = client
        .query(
            "SELECT id FROM users WHERE lower(regexp_replace(display_name, '\\s', '', 'g')) = ANY($1) LIMIT 50",
            &[&names],
        )
        .await?;
    for r in rows {
        let user: Uuid = r.get(0);
        if user == author || skip.contains(&user) {
            continue;
        }
        let note = Note {
            user: lyceum_protocol::UserId(user),
            kind: "board_mention",
            key: format!("board_mention:{post}"),
            payload: json!({"threadId": thread.id, "postId": post, "title": thread.title, "by": by}),
            mail,
        };
        out.extend(notify::store(client, note).await?);
    }
    Ok(())
}
