//! The realtime core of Lyceum, shared by the server and (later) the load tester.
//!
//! For now it owns the identity vocabulary every actor will speak in: typed user
//! ids and roles, parsed once at the edge. The UserSession, ChatRoom, Calendar
//! and GroupSession actors and the SFU shards join this crate in their own issues.
#![forbid(unsafe_code)]

mod ids;
mod role;

pub use ids::UserId;
pub use role::{ParseRoleError, Role};
