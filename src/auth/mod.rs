//! Who is calling: password hashes, access tokens (JWT), refresh-token
//! families, two-factor codes (TOTP and recovery codes), time-limited TURN
//! credentials, and the request
//! extractors that enforce them.

pub mod extract;
pub mod jwt;
pub mod password;
pub mod refresh;
pub mod totp;
pub mod turn;
pub mod two_factor;

pub use extract::{AdminUser, AnyUser, AuthUser, MaybeUser};
pub use jwt::JwtKeys;
