//! The realtime core of Lyceum, in layers whose dependencies point one way
//! (docs/architecture.md; `tests/layers.rs` checks it):
//!
//! - [`gateway`]: the WebSocket connection ([`gateway::connection::Connection`])
//!   and [`gateway::Realtime`], which builds the domains and wires them.
//! - domains, each owning its actors, messages, SQL and rules:
//!   [`chat`] (rooms), [`presence`] (the Hub), [`calendar`] (mentors'
//!   calendars), [`live`] (group sessions, webinars and calls), [`boards`]
//!   (who watches which open board thread).
//!   A domain never imports another; it tells one through a seam in
//!   [`core::seams`] that the gateway hands it.
//! - [`core`]: the shared services, the bounded outbox, the registry, the
//!   fan-out seam, shared rules.
//! - below: `lyceum_protocol` (ids, error codes, frames) and the SFU.
#![forbid(unsafe_code)]

pub mod boards;
pub mod calendar;
pub mod chat;
pub mod core;
pub mod gateway;
pub mod live;
pub mod presence;

pub use crate::core::{Error, Limits, Principal, Services, TokenVerifier};
pub use gateway::Realtime;
pub use lyceum_protocol::frames as protocol;
pub use lyceum_protocol::{CallId, ErrorCode, LiveId, OfferingId, ParseRoleError, Role, RoomId, UserId};
