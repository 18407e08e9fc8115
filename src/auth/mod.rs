//! Who is calling: password hashes, access tokens (JWT), refresh-token
//! families, and the request extractors that enforce them.

pub mod extract;
pub mod jwt;
pub mod password;
pub mod refresh;

pub use extract::{AdminUser, AnyUser, AuthUser};
pub use jwt::JwtKeys;
