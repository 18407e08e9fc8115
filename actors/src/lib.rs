//! The realtime core of Lyceum: the WebSocket protocol, the UserSession and
//! ChatRoom actors, the Hub (presence and per-user delivery) and chat
//! persistence. The Calendar and GroupSession actors and the SFU shards join
//! this crate in their own issues.
#![forbid(unsafe_code)]

pub mod calendar;
pub mod calendar_store;
pub mod calls;
pub mod context;
pub mod error;
pub mod hub;
mod ids;
pub mod live;
pub mod outbox;
pub mod protocol;
mod role;
pub mod room;
pub mod session;
pub mod sfu;
pub mod store;

pub use context::{ChatContext, ChatLimits, Principal, TokenVerifier};
pub use error::{ChatError, ErrorCode};
pub use ids::{RoomId, UserId};
pub use role::{ParseRoleError, Role};
