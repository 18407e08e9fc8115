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
pub mod live;
pub mod outbox;
pub mod room;
pub mod session;
pub mod store;

pub use context::{ChatContext, ChatLimits, Principal, TokenVerifier};
pub use error::{ChatError, ErrorCode};
pub use lyceum_protocol::frames as protocol;
pub(crate) use lyceum_protocol::ids;
pub use lyceum_protocol::{CallId, LiveId, OfferingId, ParseRoleError, Role, RoomId, UserId};
