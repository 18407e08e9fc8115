//! The fan-out seam: where a frame for a user leaves the code that made it
//! for wherever that user is connected.
//!
//! On one node the presence domain's Hub implements it (it knows every
//! connection of every user on this node). Across nodes a Redis
//! implementation publishes the frame on the user's channel and each node's
//! Hub delivers it to its own connections; nothing that calls `to_user`
//! changes. Calendars, calls, reminders and the HTTP routes deliver to users
//! only through this trait, as rate limiting goes through `RateLimiter`.

use bytestring::ByteString;
use lyceum_protocol::UserId;

pub trait FanOut: Send + Sync {
    /// Delivers `frame` to every open connection of `user`. Fire and forget:
    /// a user with no connection gets nothing (what must not be lost is
    /// stored first: messages, notifications).
    fn to_user(&self, user: UserId, frame: ByteString);
}
