//! A new password that meets the policy (NIST SP 800-63B: length over
//! composition rules, and no well-known passwords).

use lyceum_protocol::ErrorCode;
use secrecy::{ExposeSecret, SecretString};

use crate::error::ApiError;

pub const MIN_LEN: usize = 10;
/// Argon2 takes any length, but an upper bound stops hashing megabytes.
pub const MAX_LEN: usize = 128;

/// A few of the most common passwords of at least MIN_LEN characters.
const COMMON: &[&str] = &[
    "1234567890",
    "12345678910",
    "0123456789",
    "qwertyuiop",
    "password12",
    "password123",
    "password1234",
    "iloveyou12",
    "1q2w3e4r5t",
    "qwerty1234",
    "qwerty12345",
    "1qaz2wsx3edc",
    "abcdefghij",
    "passw0rd12",
    "letmein123",
    "welcome123",
    "administrator",
    "11111111111",
    "0000000000",
    "1111111111",
    "abc1234567",
    "changeme123",
    "trustno1234",
];

pub struct Password(SecretString);

impl Password {
    pub fn parse(raw: &str, email: &str) -> Result<Password, ApiError> {
        let weak = |m: &str| ApiError::new(ErrorCode::WeakPassword, m.to_owned());
        let n = raw.chars().count();
        if n < MIN_LEN {
            return Err(weak(&format!("a password needs at least {MIN_LEN} characters")));
        }
        if n > MAX_LEN {
            return Err(weak(&format!("a password may have at most {MAX_LEN} characters")));
        }
        let lower = raw.to_lowercase();
        let first = raw.chars().next();
        if raw.chars().all(|c| Some(c) == first) || COMMON.contains(&lower.as_str()) {
            return Err(weak("that password is too common; choose another"));
        }
        if lower == email.to_lowercase() || email.split('@').next().is_some_and(|l| l == lower) {
            return Err(weak("a password must not be your email address"));
        }
        Ok(Password(SecretString::from(raw.to_owned())))
    }

    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy() {
        assert!(Password::parse("correct horse battery", "a@b.co").is_ok());
        assert!(Password::parse("short", "a@b.co").is_err());
        assert!(Password::parse("aaaaaaaaaaaa", "a@b.co").is_err());
        assert!(Password::parse("Password123", "a@b.co").is_err());
        assert!(Password::parse("adalovelace", "adalovelace@b.co").is_err());
        assert!(Password::parse(&("x".repeat(100) + "yz" + &"q".repeat(40)), "a@b.co").is_err());
    }
}
