//! The realtime core's one error type: a protocol [`ErrorCode`] and a message,
//! sent to WebSocket clients as an `error` event and mapped to an HTTP status
//! by the server.

pub use lyceum_protocol::ErrorCode;

#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    pub code: ErrorCode,
    pub message: String,
}

impl Error {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Error {
        Error {
            code,
            message: message.into(),
        }
    }

    pub fn internal(e: impl std::fmt::Display) -> Error {
        tracing::error!(error = %e, "internal error");
        Error::new(ErrorCode::Internal, "something went wrong on our side")
    }

    /// The `error` frame answering command `id` with this error.
    pub fn frame(&self, id: &Option<serde_json::Value>) -> String {
        crate::protocol::error(id, self.code, &self.message)
    }

    pub fn not_member() -> Error {
        Error::new(ErrorCode::NotAMember, "you are not a member of this room")
    }
}

impl From<tokio_postgres::Error> for Error {
    fn from(e: tokio_postgres::Error) -> Self {
        if e.code() == Some(&tokio_postgres::error::SqlState::CHARACTER_NOT_IN_REPERTOIRE) {
            return Error::new(ErrorCode::InvalidText, "text must not contain NUL (U+0000) characters");
        }
        Error::internal(e)
    }
}

impl From<deadpool_postgres::PoolError> for Error {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        Error::internal(e)
    }
}
