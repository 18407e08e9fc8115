//! Discussion boards (issue 16): the rules every board route shares, in
//! one place each: what a title, body, tag and slug may be, who may read a
//! category, who moderates it, who is banned from it. The routes are in
//! `crate::routes::boards`; Markdown rendering is [`render`].

pub mod render;

use deadpool_postgres::GenericClient;
use lyceum_actors::{Role, UserId};
use lyceum_protocol::ErrorCode;
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::error::ApiError;

pub const MAX_TITLE_CHARS: usize = 200;
pub const MIN_TITLE_CHARS: usize = 3;
pub const MAX_BODY_CHARS: usize = 20_000;
pub const MAX_TAGS: usize = 5;
pub const MAX_TAG_CHARS: usize = 32;
pub const MAX_REASON_CHARS: usize = 500;

fn refuse(code: ErrorCode, message: impl Into<String>) -> ApiError {
    ApiError::new(code, message)
}

/// A thread's title: trimmed, 3–200 characters, no control characters.
pub fn title(raw: &str) -> Result<String, ApiError> {
    let t = raw.trim();
    let n = t.chars().count();
    if !(MIN_TITLE_CHARS..=MAX_TITLE_CHARS).contains(&n) || t.chars().any(char::is_control) {
        return Err(refuse(
            ErrorCode::InvalidPost,
            format!("a title has {MIN_TITLE_CHARS} to {MAX_TITLE_CHARS} characters and no control characters"),
        ));
    }
    Ok(t.to_owned())
}

/// A post's Markdown: 1–20,000 characters once trimmed; no control
/// characters but newlines and tabs.
pub fn body(raw: &str) -> Result<String, ApiError> {
    let b = raw.trim();
    let n = b.chars().count();
    if n == 0 || n > MAX_BODY_CHARS || b.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')) {
        return Err(refuse(
            ErrorCode::InvalidPost,
            format!("a post has 1 to {MAX_BODY_CHARS} characters (Markdown) and no control characters but newlines and tabs"),
        ));
    }
    Ok(b.to_owned())
}

/// Tags: at most 5, each 1–32 of `a-z 0-9 - + . #` once lowercased and
/// trimmed; duplicates are dropped, the order is kept.
pub fn tags(raw: &[String]) -> Result<Vec<String>, ApiError> {
    let mut out: Vec<String> = Vec::new();
    for t in raw {
        let t = t.trim().to_lowercase();
        let ok = (1..=MAX_TAG_CHARS).contains(&t.chars().count())
            && t.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '+' | '.' | '#'));
        if !ok {
            return Err(refuse(
                ErrorCode::InvalidPost,
                format!("a tag has 1 to {MAX_TAG_CHARS} of a-z, 0-9, '-', '+', '.', '#'"),
            ));
        }
        if !out.contains(&t) {
            out.push(t);
        }
    }
    if out.len() > MAX_TAGS {
        return Err(refuse(ErrorCode::InvalidPost, format!("at most {MAX_TAGS} tags")));
    }
    Ok(out)
}

/// A flag's or a moderation's reason: trimmed, at most 500 characters.
pub fn reason(raw: Option<&str>, required: bool) -> Result<String, ApiError> {
    let r = raw.unwrap_or("").trim();
    let n = r.chars().count();
    if (required && n == 0) || n > MAX_REASON_CHARS || r.chars().any(|c| c.is_control() && c != '\n') {
        return Err(refuse(
            ErrorCode::InvalidModeration,
            format!(
                "a reason has {} to {MAX_REASON_CHARS} characters and no control characters",
                if required { 1 } else { 0 }
            ),
        ));
    }
    Ok(r.to_owned())
}

/// Who may read a category: `public` ones anyone (signed in or not),
/// `members` ones signed-in accounts.
pub fn may_read(visibility: &str, viewer: Option<&AuthUser>) -> bool {
    visibility == "public" || viewer.is_some()
}

/// Admins moderate every category; anyone else only those they were
/// appointed to.
pub async fn moderates(client: &impl GenericClient, user: &AuthUser, category: Uuid) -> Result<bool, ApiError> {
    if user.role == Role::Admin {
        return Ok(true);
    }
    Ok(client
        .query_opt(
            "SELECT 1 FROM board_moderators WHERE category_id = $1 AND user_id = $2",
            &[&category, &user.id],
        )
        .await?
        .is_some())
}

/// `403 banned_from_board` for a user banned from the category.
pub async fn not_banned(client: &impl GenericClient, user: UserId, category: Uuid) -> Result<(), ApiError> {
    let banned = client
        .query_opt(
            "SELECT 1 FROM board_bans WHERE category_id = $1 AND user_id = $2",
            &[&category, &user],
        )
        .await?
        .is_some();
    if banned {
        return Err(refuse(
            ErrorCode::BannedFromBoard,
            "you are banned from this board and may not post, reply, edit or vote in it",
        ));
    }
    Ok(())
}

/// Whether a new post of `user` waits for a moderator's review: holding is
/// on (`boards.hold_first_posts` = n > 0), the author neither moderates the
/// category nor is an admin, and fewer than n of their posts were published
/// (approved, or posted while nothing was held).
pub async fn should_hold(
    client: &impl GenericClient,
    n: u32,
    user: &AuthUser,
    moderator: bool,
) -> Result<bool, ApiError> {
    if n == 0 || moderator || user.role == Role::Admin {
        return Ok(false);
    }
    let published: i64 = client
        .query_one(
            "SELECT count(*) FROM (SELECT 1 FROM board_posts
                                    WHERE author_id = $1 AND (review IS NULL OR review = 'approved') LIMIT $2) p",
            &[&user.id, &i64::from(n)],
        )
        .await?
        .get(0);
    Ok(published < i64::from(n))
}
