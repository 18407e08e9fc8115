//! The name other users see; never an email or phone number.

use lyceum_protocol::ErrorCode;

use crate::error::ApiError;

pub const MAX_LEN: usize = 64;

#[derive(Debug, Clone)]
pub struct DisplayName(String);

impl DisplayName {
    pub fn parse(raw: &str) -> Result<DisplayName, ApiError> {
        let s = raw.trim();
        let n = s.chars().count();
        if n == 0 || n > MAX_LEN {
            return Err(ApiError::new(
                ErrorCode::InvalidDisplayName,
                format!("a display name needs 1 to {MAX_LEN} characters"),
            ));
        }
        if s.chars().any(|c| c.is_control()) {
            return Err(ApiError::new(
                ErrorCode::InvalidDisplayName,
                "a display name may not contain control characters",
            ));
        }
        if s.contains('@') {
            // Keeps people from publishing their email address as their name.
            return Err(ApiError::new(
                ErrorCode::InvalidDisplayName,
                "a display name may not contain '@'",
            ));
        }
        Ok(DisplayName(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}
