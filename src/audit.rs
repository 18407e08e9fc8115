//! The audit log: sign-ins, failed sign-ins, token-family revocations, role
//! changes, two-factor events, board moderation and moderation of reviews, written next to the change they record and read by admins.

use lyceum_protocol::UserId;
use serde_json::Value;

pub mod action {
    pub const REGISTER: &str = "register";
    pub const SIGN_IN: &str = "sign_in";
    pub const SIGN_IN_FAILED: &str = "sign_in_failed";
    pub const SIGN_OUT: &str = "sign_out";
    pub const TOKEN_FAMILY_REVOKED: &str = "token_family_revoked";
    pub const ROLE_CHANGED: &str = "role_changed";
    /// A TOTP secret was issued (pending until confirmed).
    pub const TWO_FACTOR_ENROLMENT_STARTED: &str = "two_factor_enrolment_started";
    pub const TWO_FACTOR_ENABLED: &str = "two_factor_enabled";
    pub const TWO_FACTOR_DISABLED: &str = "two_factor_disabled";
    pub const TWO_FACTOR_RECOVERY_CODES_REGENERATED: &str = "two_factor_recovery_codes_regenerated";
    pub const TWO_FACTOR_RECOVERY_CODE_USED: &str = "two_factor_recovery_code_used";
    /// A wrong, replayed or malformed code (or, on disable, a wrong password).
    pub const TWO_FACTOR_FAILED: &str = "two_factor_failed";
    // Boards (issue 16): every moderation action and every change to who
    // moderates. `details` names the category, thread or post and the reason.
    pub const BOARD_CATEGORY_CREATED: &str = "board_category_created";
    /// A category renamed, described anew or made public or members-only
    /// (`details.changed` says what, with the old and new name and
    /// visibility).
    pub const BOARD_CATEGORY_UPDATED: &str = "board_category_updated";
    pub const BOARD_MODERATOR_APPOINTED: &str = "board_moderator_appointed";
    pub const BOARD_MODERATOR_REMOVED: &str = "board_moderator_removed";
    pub const BOARD_USER_BANNED: &str = "board_user_banned";
    pub const BOARD_USER_UNBANNED: &str = "board_user_unbanned";
    pub const BOARD_THREAD_LOCKED: &str = "board_thread_locked";
    pub const BOARD_THREAD_UNLOCKED: &str = "board_thread_unlocked";
    pub const BOARD_THREAD_HIDDEN: &str = "board_thread_hidden";
    pub const BOARD_THREAD_UNHIDDEN: &str = "board_thread_unhidden";
    pub const BOARD_THREAD_MOVED: &str = "board_thread_moved";
    pub const BOARD_POST_HIDDEN: &str = "board_post_hidden";
    pub const BOARD_POST_UNHIDDEN: &str = "board_post_unhidden";
    /// A post (or a thread, with its first post) deleted by a moderator
    /// (authors deleting their own are not audited).
    pub const BOARD_POST_DELETED: &str = "board_post_deleted";
    pub const BOARD_FLAG_DISMISSED: &str = "board_flag_dismissed";
    /// A held post (a new account's first posts) approved or rejected.
    pub const BOARD_POST_APPROVED: &str = "board_post_approved";
    pub const BOARD_POST_REJECTED: &str = "board_post_rejected";
    /// An admin removed a reported review (subject: its author).
    pub const REVIEW_REMOVED: &str = "review_removed";
    /// An admin dismissed a report (subject: the reporter).
    pub const REPORT_DISMISSED: &str = "report_dismissed";
}

pub struct Entry<'a> {
    pub actor: Option<UserId>,
    pub subject: Option<UserId>,
    pub action: &'static str,
    pub ip: Option<&'a str>,
    pub details: Value,
}

pub async fn record(client: &impl deadpool_postgres::GenericClient, e: Entry<'_>) -> Result<(), tokio_postgres::Error> {
    client
        .execute(
            "INSERT INTO audit_log (actor_id, subject_id, action, ip, details) VALUES ($1, $2, $3, $4, $5)",
            &[&e.actor, &e.subject, &e.action, &e.ip, &e.details],
        )
        .await
        .map(|_| ())
}
