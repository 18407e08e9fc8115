//! The chat core's one error type: a machine-readable code and a message,
//! sent to WebSocket clients as an `error` event and mapped to an HTTP status
//! by the server.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorCode {
    /// The frame is not JSON or not a known command.
    InvalidFrame,
    /// A command's fields fail validation.
    InvalidCommand,
    BinaryNotSupported,
    RoomNotFound,
    MessageNotFound,
    NotAMember,
    Forbidden,
    Muted,
    MessageTooLarge,
    RateLimited,
    /// Plaintext sent to an end-to-end encrypted room, or ciphertext to a plain one.
    E2eeMismatch,
    /// No such slot or session.
    OfferingNotFound,
    /// The mentee already holds a booking (confirmed or waitlisted) on it.
    AlreadyBooked,
    /// The mentee holds no booking on it.
    NotBooked,
    /// It has started, finished or been cancelled: no more changes.
    BookingClosed,
    /// A mentor's slots and sessions may not overlap.
    Overlap,
    SessionNotFound,
    SessionNotLive,
    NotRegistered,
    NotInSession,
    InvalidSdp,
    CallNotFound,
    CallNotAllowed,
    Busy,
    SfuUnavailable,
    Internal,
}

impl ErrorCode {
    const ALL: [ErrorCode; 26] = [
        ErrorCode::InvalidFrame,
        ErrorCode::InvalidCommand,
        ErrorCode::BinaryNotSupported,
        ErrorCode::RoomNotFound,
        ErrorCode::MessageNotFound,
        ErrorCode::NotAMember,
        ErrorCode::Forbidden,
        ErrorCode::Muted,
        ErrorCode::MessageTooLarge,
        ErrorCode::RateLimited,
        ErrorCode::E2eeMismatch,
        ErrorCode::OfferingNotFound,
        ErrorCode::AlreadyBooked,
        ErrorCode::NotBooked,
        ErrorCode::BookingClosed,
        ErrorCode::Overlap,
        ErrorCode::SessionNotFound,
        ErrorCode::SessionNotLive,
        ErrorCode::NotRegistered,
        ErrorCode::NotInSession,
        ErrorCode::InvalidSdp,
        ErrorCode::CallNotFound,
        ErrorCode::CallNotAllowed,
        ErrorCode::Busy,
        ErrorCode::SfuUnavailable,
        ErrorCode::Internal,
    ];

    /// The code for its wire name (`internal_error` for an unknown one).
    pub fn from_str_code(s: &str) -> ErrorCode {
        Self::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .unwrap_or(ErrorCode::Internal)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidFrame => "invalid_frame",
            ErrorCode::InvalidCommand => "invalid_command",
            ErrorCode::BinaryNotSupported => "binary_not_supported",
            ErrorCode::RoomNotFound => "room_not_found",
            ErrorCode::MessageNotFound => "message_not_found",
            ErrorCode::NotAMember => "not_a_member",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::Muted => "muted",
            ErrorCode::MessageTooLarge => "message_too_large",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::E2eeMismatch => "e2ee_mismatch",
            ErrorCode::OfferingNotFound => "slot_not_found",
            ErrorCode::AlreadyBooked => "already_booked",
            ErrorCode::NotBooked => "not_booked",
            ErrorCode::BookingClosed => "booking_closed",
            ErrorCode::Overlap => "slot_overlap",
            ErrorCode::SessionNotFound => "session_not_found",
            ErrorCode::SessionNotLive => "session_not_live",
            ErrorCode::NotRegistered => "not_registered",
            ErrorCode::NotInSession => "not_in_session",
            ErrorCode::InvalidSdp => "invalid_sdp",
            ErrorCode::CallNotFound => "call_not_found",
            ErrorCode::CallNotAllowed => "call_not_allowed",
            ErrorCode::Busy => "busy",
            ErrorCode::SfuUnavailable => "sfu_unavailable",
            ErrorCode::Internal => "internal_error",
        }
    }
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct ChatError {
    pub code: ErrorCode,
    pub message: String,
}

impl ChatError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> ChatError {
        ChatError {
            code,
            message: message.into(),
        }
    }

    pub fn internal(e: impl std::fmt::Display) -> ChatError {
        tracing::error!(error = %e, "chat internal error");
        ChatError::new(ErrorCode::Internal, "something went wrong on our side")
    }

    pub fn not_member() -> ChatError {
        ChatError::new(ErrorCode::NotAMember, "you are not a member of this room")
    }
}

impl From<tokio_postgres::Error> for ChatError {
    fn from(e: tokio_postgres::Error) -> Self {
        ChatError::internal(e)
    }
}

impl From<deadpool_postgres::PoolError> for ChatError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        ChatError::internal(e)
    }
}
