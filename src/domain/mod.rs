//! Validated values, parsed once at the edge of the API. Handlers and queries
//! take these types, never raw strings, so nothing unvalidated reaches the
//! database.

mod display_name;
mod email;
mod password;
pub mod profile;

pub use display_name::DisplayName;
pub use email::Email;
pub use password::{Password, MAX_LEN as PASSWORD_MAX_LEN};
