//! The API's one error shape, `{"error": "snake_case_code", "message": "..."}`,
//! and the one place where an error becomes an HTTP status: every error
//! carries an [`ErrorCode`], and the status is `ErrorCode::http_status()`,
//! the same table the WebSocket's codes come from.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use lyceum_protocol::ErrorCode;
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A refusal the caller can act on: the code names the rule (and so the
    /// status), the message says what to change.
    #[error("{message}")]
    Refused { code: ErrorCode, message: String },
    /// `rate_limited`, with a `Retry-After` header.
    #[error("too many requests; retry in {retry_after_secs} s")]
    TooManyRequests { retry_after_secs: u64 },
    /// `unavailable`: a dependency (the database) is down or saturated. The
    /// reason is logged, the caller gets a generic message.
    #[error("{0}")]
    Unavailable(String),
    /// `internal_error`: a bug or an unexpected failure, logged in full,
    /// shown as a generic message.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

#[derive(Serialize)]
pub struct ErrorBody<'a> {
    pub error: &'a str,
    pub message: String,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError::Refused {
            code,
            message: message.into(),
        }
    }

    /// `forbidden`: this role or user may not do this.
    pub fn forbidden(message: impl Into<String>) -> Self {
        ApiError::new(ErrorCode::Forbidden, message)
    }

    pub fn code(&self) -> ErrorCode {
        match self {
            ApiError::Refused { code, .. } => *code,
            ApiError::TooManyRequests { .. } => ErrorCode::RateLimited,
            ApiError::Unavailable(_) => ErrorCode::Unavailable,
            ApiError::Internal(_) => ErrorCode::Internal,
        }
    }
}

/// The HTTP status of a code, from the one table in `lyceum-protocol`.
pub fn status_of(code: ErrorCode) -> StatusCode {
    StatusCode::from_u16(code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        status_of(self.code())
    }

    fn error_response(&self) -> HttpResponse {
        let message = match self {
            ApiError::Internal(e) => {
                tracing::error!(error = ?e, "internal error");
                "something went wrong on our side".to_owned()
            }
            ApiError::Unavailable(m) => {
                tracing::warn!(reason = %m, "service unavailable");
                "the service is temporarily unavailable".to_owned()
            }
            other => other.to_string(),
        };
        let status = self.status_code();
        let mut res = HttpResponse::build(status);
        if let ApiError::TooManyRequests { retry_after_secs } = self {
            res.insert_header((header::RETRY_AFTER, retry_after_secs.to_string()));
        }
        if status == StatusCode::UNAUTHORIZED {
            res.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
        }
        res.json(ErrorBody {
            error: self.code().as_str(),
            message,
        })
    }
}

impl From<tokio_postgres::Error> for ApiError {
    fn from(e: tokio_postgres::Error) -> Self {
        // A NUL in text that slipped past the edge checks is still the
        // caller's input, not our failure.
        if e.code() == Some(&tokio_postgres::error::SqlState::CHARACTER_NOT_IN_REPERTOIRE) {
            return ApiError::new(ErrorCode::InvalidText, "text must not contain NUL (U+0000) characters");
        }
        ApiError::Internal(anyhow::Error::new(e).context("database query"))
    }
}

impl From<deadpool_postgres::PoolError> for ApiError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        match e {
            deadpool_postgres::PoolError::Timeout(_) => ApiError::Unavailable(format!("database pool: {e}")),
            other => ApiError::Unavailable(format!("database: {other}")),
        }
    }
}

/// Whether a database error is a unique-constraint violation.
pub fn is_unique_violation(e: &tokio_postgres::Error) -> bool {
    e.code() == Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION)
}

/// An actor's refusal keeps its code, and so gets the status every other
/// route gives that code.
impl From<lyceum_actors::Error> for ApiError {
    fn from(e: lyceum_actors::Error) -> Self {
        match e.code {
            // The actors' limiter does not say when to retry; a second is
            // its refill granularity.
            ErrorCode::RateLimited => ApiError::TooManyRequests { retry_after_secs: 1 },
            ErrorCode::Internal => ApiError::Internal(anyhow::anyhow!(e.message)),
            ErrorCode::Unavailable => ApiError::Unavailable(e.message),
            code => ApiError::new(code, e.message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_status_is_the_codes() {
        for &code in ErrorCode::ALL {
            let e = lyceum_actors::Error::new(code, "m");
            assert_eq!(ApiError::from(e).status_code().as_u16(), code.http_status(), "{code}");
        }
    }

    #[test]
    fn actor_codes_keep_the_statuses_http_gave_them() {
        use ErrorCode as C;
        for (code, status) in [
            (C::RoomNotFound, 404),
            (C::MessageNotFound, 404),
            (C::OfferingNotFound, 404),
            (C::NotBooked, 404),
            (C::AlreadyBooked, 409),
            (C::BookingClosed, 409),
            (C::Overlap, 409),
            (C::NotAMember, 403),
            (C::Forbidden, 403),
            (C::Muted, 403),
            (C::RateLimited, 429),
            (C::Internal, 500),
            (C::InvalidCommand, 400),
            (C::MessageTooLarge, 400),
            (C::E2eeMismatch, 400),
        ] {
            assert_eq!(
                ApiError::from(lyceum_actors::Error::new(code, "m"))
                    .status_code()
                    .as_u16(),
                status,
                "{code}"
            );
        }
    }
}
