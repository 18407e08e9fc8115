//! Lyceum's wire protocol, the bottom layer every other part speaks through:
//! the server, the SFU, the WebRTC peer, the load tester and the tests.
//!
//! - [`ids`]: typed ids, parsed once at the edge.
//! - [`ErrorCode`]: every error code, and its HTTP status, in one place.
//! - [`media`]: tracks, layers and live-room roles.
//! - [`Role`]: account roles.
//! - [`frames`] (feature `json`, on by default): the WebSocket commands a
//!   client sends and the events the server sends (docs/protocol.md).
#![forbid(unsafe_code)]

mod error;
pub mod ids;
pub mod media;
mod role;

#[cfg(feature = "json")]
pub mod frames;

pub use error::ErrorCode;
pub use ids::{
    AttachmentId, BookingId, CallId, GoalId, LiveId, MentorshipId, OfferingId, ReportId, ReviewId, RoomId, UserId,
};
pub use media::{LiveRole, MediaKind, Quality, TrackInfo};
pub use role::{ParseRoleError, Role};
