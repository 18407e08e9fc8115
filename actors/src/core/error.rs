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
        if is_database_down(&e) {
            return Error::database_unavailable(e);
        }
        Error::internal(e)
    }
}

impl From<deadpool_postgres::PoolError> for Error {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        match &e {
            deadpool_postgres::PoolError::Backend(pg) if !is_database_down(pg) => Error::internal(e),
            deadpool_postgres::PoolError::PostCreateHook(_) | deadpool_postgres::PoolError::NoRuntimeSpecified => {
                Error::internal(e)
            }
            // Timeouts, a closed pool, a connection that could not be made.
            _ => Error::database_unavailable(e),
        }
    }
}

impl Error {
    /// `database_unavailable`: the reason is logged, the caller is told to retry.
    pub fn database_unavailable(e: impl std::fmt::Display) -> Error {
        tracing::warn!(error = %e, "database unavailable");
        Error::new(
            ErrorCode::DatabaseUnavailable,
            "the database is unavailable; retry shortly",
        )
    }
}

/// Whether a database error means the database is down or going away (the
/// connection broke or was refused, the server is shutting down or starting
/// up) rather than a problem with the query: those are `database_unavailable`
/// (503, retry), not `internal_error`.
pub fn is_database_down(e: &tokio_postgres::Error) -> bool {
    if e.is_closed() {
        return true;
    }
    if let Some(state) = e.code() {
        // Class 08: connection exception; 57P01-57P05: admin/crash shutdown,
        // cannot connect now, idle session timeout, database dropped.
        let c = state.code();
        return c.starts_with("08") || c.starts_with("57P");
    }
    // No SQLSTATE: an I/O error on the socket (refused, reset, timed out).
    std::error::Error::source(e).is_some_and(|s| s.is::<std::io::Error>())
}
