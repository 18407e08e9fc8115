//! Every machine-readable error code Lyceum sends, over HTTP
//! (`{"error": code, "message": ...}`) and over the WebSocket
//! (`{"type": "error", "code": ..., "message": ...}`), and the one place
//! where a code gets its HTTP status.
//!
//! A code means one thing and has one status wherever it is sent; a new
//! code is a new variant here (and a line in docs/api.md or
//! docs/protocol.md).

use serde::{Deserialize, Serialize};

macro_rules! codes {
    ($( $(#[$doc:meta])* $variant:ident = $wire:literal, $status:literal; )*) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[non_exhaustive]
        pub enum ErrorCode {
            $( $(#[$doc])* #[serde(rename = $wire)] $variant, )*
        }

        impl ErrorCode {
            /// Every code, in declaration order.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant),*];

            /// The code's name on the wire.
            pub fn as_str(self) -> &'static str {
                match self { $(ErrorCode::$variant => $wire,)* }
            }

            /// The HTTP status this code is sent with (WebSocket errors carry
            /// the code only; the status is what the same refusal gets over
            /// HTTP).
            pub fn http_status(self) -> u16 {
                match self { $(ErrorCode::$variant => $status,)* }
            }
        }
    };
}

codes! {
    // ---- frames and input ----
    /// The WebSocket frame is not JSON or not a known command.
    InvalidFrame = "invalid_frame", 400;
    /// A command's fields fail validation.
    InvalidCommand = "invalid_command", 400;
    BinaryNotSupported = "binary_not_supported", 400;
    /// Text (in a body, a query, a path or a frame) contains a NUL
    /// character (U+0000), which no field accepts.
    InvalidText = "invalid_text", 400;
    /// The request body is not the JSON the route expects.
    InvalidJson = "invalid_json", 400;
    /// The request body is over the route's limit. 400, not 413, since
    /// the first release (tests/api/server.rs pins it).
    PayloadTooLarge = "payload_too_large", 400;
    /// The request body is not of a type the route takes (JSON routes:
    /// `application/json`). 400 for the same reason.
    UnsupportedMediaType = "unsupported_media_type", 400;
    /// A request the framework refused before a route saw it, with no more
    /// specific code.
    BadRequest = "bad_request", 400;
    /// A path segment is not what the route expects (e.g. not a UUID).
    InvalidPath = "invalid_path", 400;
    /// A query parameter fails validation.
    InvalidQuery = "invalid_query", 400;
    /// A page cursor that this endpoint did not hand out for this sort.
    InvalidCursor = "invalid_cursor", 400;
    InvalidEmail = "invalid_email", 400;
    InvalidCredentialsFormat = "invalid_credentials_format", 400;
    WeakPassword = "weak_password", 400;
    InvalidDisplayName = "invalid_display_name", 400;
    InvalidRole = "invalid_role", 400;
    /// An admin changing their own role (another admin must).
    CannotChangeOwnRole = "cannot_change_own_role", 400;
    InvalidProfile = "invalid_profile", 400;
    InvalidSlot = "invalid_slot", 400;
    InvalidAgenda = "invalid_agenda", 400;
    InvalidMember = "invalid_member", 400;
    InvalidRoom = "invalid_room", 400;
    InvalidMute = "invalid_mute", 400;
    InvalidNote = "invalid_note", 400;
    /// A public key that is empty, too long or not printable.
    InvalidKey = "invalid_key", 400;
    /// A device id that is not 8 to 64 letters, digits, `-` or `_`.
    InvalidDevice = "invalid_device", 400;
    InvalidAttachment = "invalid_attachment", 400;
    UnsupportedAttachmentType = "unsupported_attachment_type", 400;
    /// An upload over `chat.max_attachment_bytes`: 413, and the server stops
    /// reading the body as soon as the limit is passed.
    AttachmentTooLarge = "attachment_too_large", 413;
    /// An avatar that is empty, not a PNG, JPEG or WebP, or whose bytes are
    /// not the type it claims.
    InvalidAvatar = "invalid_avatar", 400;
    /// An avatar over 1 MiB (413; the body is not read past the limit).
    AvatarTooLarge = "avatar_too_large", 413;
    NotAWebsocket = "not_a_websocket", 400;
    MessageTooLarge = "message_too_large", 400;
    /// Plaintext sent to an end-to-end encrypted room, or ciphertext to a plain one.
    E2eeMismatch = "e2ee_mismatch", 400;
    InvalidSdp = "invalid_sdp", 400;
    /// A review's rating (an integer 1-5) or text, a reply or a report
    /// reason out of bounds.
    InvalidReview = "invalid_review", 400;
    /// A mentorship request's dates or goals out of bounds.
    InvalidMentorship = "invalid_mentorship", 400;
    /// A goal, milestone, progress update or feedback out of bounds.
    InvalidGoal = "invalid_goal", 400;
    /// A matching questionnaire with too many or malformed entries.
    InvalidQuestionnaire = "invalid_questionnaire", 400;
    /// A board category's slug, name, description or visibility fails validation.
    InvalidCategory = "invalid_category", 400;
    /// A thread or post's title, body, tags or parent fails validation.
    InvalidPost = "invalid_post", 400;
    /// A vote other than 1, -1 or 0.
    InvalidVote = "invalid_vote", 400;
    /// Notification preferences naming an unknown kind.
    InvalidPreferences = "invalid_preferences", 400;
    /// A flag's reason, or a moderation action and its fields, fail validation.
    InvalidModeration = "invalid_moderation", 400;
    /// An email's unsubscribe link whose signature does not match its user
    /// and kind (changed, cut short), or that names no kind of email.
    InvalidUnsubscribeLink = "invalid_unsubscribe_link", 400;

    // ---- credentials ----
    MissingToken = "missing_token", 401;
    /// A 401 from the framework with no more specific code.
    Unauthorized = "unauthorized", 401;
    InvalidToken = "invalid_token", 401;
    TokenExpired = "token_expired", 401;
    /// A signed, unexpired access token that no longer stands: its sign-in
    /// was signed out (or revoked after a refresh-token reuse), or its user
    /// signed out everywhere or had their role changed since it was issued.
    TokenRevoked = "token_revoked", 401;
    InvalidCredentials = "invalid_credentials", 401;
    /// The token's account no longer exists.
    AccountNotFound = "account_not_found", 401;
    InvalidRefreshToken = "invalid_refresh_token", 401;
    MissingRefreshToken = "missing_refresh_token", 401;
    RefreshTokenExpired = "refresh_token_expired", 401;
    /// A refresh token of a revoked family (signed out, or revoked after a
    /// reuse).
    RefreshTokenRevoked = "refresh_token_revoked", 401;
    /// A rotated (spent) refresh token presented again: the family it
    /// belongs to is revoked now.
    RefreshTokenReused = "refresh_token_reused", 401;
    InvalidTicket = "invalid_ticket", 401;
    /// The password was right, but the account has two-factor sign-in:
    /// send the same request again with `totpCode` or `recoveryCode`.
    TwoFactorRequired = "two_factor_required", 401;
    /// A two-factor code that is wrong, malformed, already used (replayed)
    /// or a spent recovery code.
    InvalidTwoFactorCode = "invalid_two_factor_code", 401;

    // ---- permissions ----
    /// This role or user may not do this.
    Forbidden = "forbidden", 403;
    /// A guest outside the one room they were let into.
    GuestNotAllowed = "guest_not_allowed", 403;
    NotAMember = "not_a_member", 403;
    Muted = "muted", 403;
    /// The other user does not accept direct messages from the caller.
    MessagesNotAccepted = "messages_not_accepted", 403;
    CallNotAllowed = "call_not_allowed", 403;
    /// Banned from this board category by its moderators.
    BannedFromBoard = "banned_from_board", 403;

    // ---- not found ----
    NotFound = "not_found", 404;
    UserNotFound = "user_not_found", 404;
    RoomNotFound = "room_not_found", 404;
    /// The user named in a membership change is not in the room.
    MemberNotFound = "member_not_found", 404;
    MessageNotFound = "message_not_found", 404;
    /// No such slot or session (offering).
    OfferingNotFound = "slot_not_found", 404;
    /// The mentee holds no booking on it.
    NotBooked = "not_booked", 404;
    BookingNotFound = "booking_not_found", 404;
    FeedNotFound = "feed_not_found", 404;
    KeyNotFound = "key_not_found", 404;
    /// No device key with this id.
    DeviceNotFound = "device_not_found", 404;
    AttachmentNotFound = "attachment_not_found", 404;
    /// No such live session, room or call.
    SessionNotFound = "session_not_found", 404;
    CallNotFound = "call_not_found", 404;
    ReviewNotFound = "review_not_found", 404;
    /// No such report in the moderation queue (resolved already, or never).
    ReportNotFound = "report_not_found", 404;
    MentorshipNotFound = "mentorship_not_found", 404;
    GoalNotFound = "goal_not_found", 404;
    /// No board category with this id (or one the caller may not read).
    CategoryNotFound = "category_not_found", 404;
    /// No such thread, or one the caller may not read (hidden, deleted, or
    /// in a category for signed-in accounts only).
    ThreadNotFound = "thread_not_found", 404;
    PostNotFound = "post_not_found", 404;
    NotificationNotFound = "notification_not_found", 404;
    FlagNotFound = "flag_not_found", 404;
    /// `watch_calendar` for a user who is not a mentor (nor an admin, who
    /// may offer slots too), or no user at all.
    NotAMentor = "not_a_mentor", 404;

    // ---- method ----
    /// The path exists but not with this method.
    MethodNotAllowed = "method_not_allowed", 405;

    // ---- state ----
    EmailTaken = "email_taken", 409;
    /// An account's device keys are at their limit (`MAX_DEVICES`, 10).
    TooManyDevices = "too_many_devices", 409;
    /// Notes are kept only once the session has started.
    TooEarly = "too_early", 409;
    /// The mentee already holds a booking (confirmed or waitlisted) on it.
    AlreadyBooked = "already_booked", 409;
    /// It has started, finished or been cancelled: no more changes.
    BookingClosed = "booking_closed", 409;
    /// A mentor's slots and sessions may not overlap.
    Overlap = "slot_overlap", 409;
    SessionNotLive = "session_not_live", 409;
    NotRegistered = "not_registered", 403;
    /// A live-room command from a connection that has not joined it.
    NotInSession = "not_in_session", 409;
    /// The callee is ringing or talking already.
    Busy = "busy", 409;
    /// Enrolling again while two-factor sign-in is on (disable it first).
    TwoFactorAlreadyEnabled = "two_factor_already_enabled", 409;
    /// Disabling, or regenerating recovery codes, with two-factor sign-in off.
    TwoFactorNotEnabled = "two_factor_not_enabled", 409;
    /// Confirming with no enrolment started.
    TwoFactorNotPending = "two_factor_not_pending", 409;
    /// A review of a booking whose mentee neither joined the live room nor
    /// was marked attended by the mentor.
    NotAttended = "not_attended", 409;
    /// This booking already has the caller's review (edit it instead).
    AlreadyReviewed = "already_reviewed", 409;
    /// A review is editable for 14 days after it was written.
    ReviewLocked = "review_locked", 409;
    /// The mentor replies to a review once.
    AlreadyReplied = "already_replied", 409;
    /// The caller has reported this review already.
    AlreadyReported = "already_reported", 409;
    /// The two already have a pending or accepted mentorship.
    MentorshipExists = "mentorship_exists", 409;
    /// Accepting or declining a mentorship that is no longer pending, or
    /// ending one that is already declined or ended.
    MentorshipClosed = "mentorship_closed", 409;
    /// A board category with this slug exists already.
    CategoryExists = "category_exists", 409;
    /// The thread is locked by a moderator: no replies, no edits.
    ThreadLocked = "thread_locked", 409;
    /// A review decision on a board post that is not waiting for review.
    PostNotHeld = "post_not_held", 409;

    // ---- the server ----
    RateLimited = "rate_limited", 429;
    /// A connection already watches `calendar.max_watches_per_connection`
    /// calendars (64 by default); unwatch one first.
    TooManyWatches = "too_many_watches", 429;
    /// A queue on the way is full (a control queue refuses rather than
    /// grows); retry shortly.
    Overloaded = "overloaded", 503;
    SfuUnavailable = "sfu_unavailable", 503;
    /// Something on the server stopped or did not answer in time (a room
    /// actor); retry shortly.
    Unavailable = "unavailable", 503;
    /// The database is down, refusing connections or every pooled
    /// connection is busy past the pool's wait: answered at once rather
    /// than held; retry shortly.
    DatabaseUnavailable = "database_unavailable", 503;
    Internal = "internal_error", 500;
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_are_unique_snake_case() {
        let mut seen = std::collections::HashSet::new();
        for c in ErrorCode::ALL {
            assert!(seen.insert(c.as_str()), "{} twice", c.as_str());
            assert!(
                c.as_str()
                    .chars()
                    .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '_'),
                "{}",
                c.as_str()
            );
            assert!((400..600).contains(&c.http_status()), "{}", c.as_str());
        }
    }
}
