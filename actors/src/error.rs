//! The chat core's one error type: a machine-readable code and a message,
//! sent to WebSocket clients as an `error` event and mapped to an HTTP status
//! by the server.

pub use lyceum_protocol::ErrorCode;

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

    /// The `error` frame answering command `id` with this error.
    pub fn frame(&self, id: &Option<serde_json::Value>) -> String {
        crate::protocol::error(id, self.code, &self.message)
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
