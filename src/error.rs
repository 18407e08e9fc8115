//! The API's one error shape, `{"error": "snake_case_code", "message": "..."}`,
//! and the one place where an error becomes an HTTP status.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Input that fails validation; the code says which rule.
    #[error("{message}")]
    BadRequest { code: &'static str, message: String },
    /// No, a bad or an expired credential.
    #[error("{message}")]
    Unauthorized { code: &'static str, message: String },
    /// Authenticated, but this role or user may not do this.
    #[error("{message}")]
    Forbidden { code: &'static str, message: String },
    #[error("{message}")]
    NotFound { code: &'static str, message: String },
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    #[error("too many requests; retry in {retry_after_secs} s")]
    TooManyRequests { retry_after_secs: u64 },
    /// A dependency (the database) is down or saturated.
    #[error("{0}")]
    Unavailable(String),
    /// A bug or an unexpected failure: logged in full, shown as a generic message.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

#[derive(Serialize)]
pub struct ErrorBody<'a> {
    pub error: &'a str,
    pub message: String,
}

impl ApiError {
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::BadRequest {
            code,
            message: message.into(),
        }
    }
    pub fn unauthorized(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::Unauthorized {
            code,
            message: message.into(),
        }
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        ApiError::Forbidden {
            code: "forbidden",
            message: message.into(),
        }
    }
    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::NotFound {
            code,
            message: message.into(),
        }
    }
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::Conflict {
            code,
            message: message.into(),
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest { code, .. }
            | ApiError::Unauthorized { code, .. }
            | ApiError::Forbidden { code, .. }
            | ApiError::NotFound { code, .. }
            | ApiError::Conflict { code, .. } => code,
            ApiError::TooManyRequests { .. } => "rate_limited",
            ApiError::Unavailable(_) => "unavailable",
            ApiError::Internal(_) => "internal_error",
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden { .. } => StatusCode::FORBIDDEN,
            ApiError::NotFound { .. } => StatusCode::NOT_FOUND,
            ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
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
        let mut res = HttpResponse::build(self.status_code());
        if let ApiError::TooManyRequests { retry_after_secs } = self {
            res.insert_header((header::RETRY_AFTER, retry_after_secs.to_string()));
        }
        if let ApiError::Unauthorized { .. } = self {
            res.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
        }
        res.json(ErrorBody {
            error: self.code(),
            message,
        })
    }
}

impl From<tokio_postgres::Error> for ApiError {
    fn from(e: tokio_postgres::Error) -> Self {
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

impl From<lyceum_actors::Error> for ApiError {
    fn from(e: lyceum_actors::Error) -> Self {
        use lyceum_actors::ErrorCode as C;
        let code = e.code.as_str();
        match e.code {
            C::RoomNotFound | C::MessageNotFound | C::OfferingNotFound | C::NotBooked => ApiError::NotFound {
                code,
                message: e.message,
            },
            C::AlreadyBooked | C::BookingClosed | C::Overlap => ApiError::Conflict {
                code,
                message: e.message,
            },
            C::NotAMember | C::Forbidden | C::Muted => ApiError::Forbidden {
                code,
                message: e.message,
            },
            C::RateLimited => ApiError::TooManyRequests { retry_after_secs: 1 },
            C::Unavailable | C::Overloaded | C::SfuUnavailable => ApiError::Unavailable(e.message),
            C::Internal => ApiError::Internal(anyhow::anyhow!(e.message)),
            _ => ApiError::BadRequest {
                code,
                message: e.message,
            },
        }
    }
}
