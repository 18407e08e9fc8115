//! How one domain tells another without importing it: each side of a seam
//! is a trait here, implemented by the domain that answers and handed, as an
//! `Arc<dyn …>`, to the domain that asks (the gateway wires them at
//! start-up).

use futures_util::future::BoxFuture;
use lyceum_protocol::{OfferingId, RoomId, UserId};

use super::Error;

/// Calendar → live: an offering's state changed (`live`, `completed`,
/// `cancelled`, …), whoever asked. The live domain tells its room, if one
/// is running.
pub trait OfferingStateSink: Send + Sync {
    fn state_changed(&self, offering: OfferingId, state: &'static str);
}

/// Live → calendar: the host starts or ends a group session. The calendar
/// serialises it with the mentor's other changes and answers when it is
/// committed.
pub trait OfferingControl: Send + Sync {
    fn set_state(
        &self,
        mentor: UserId,
        offering: OfferingId,
        state: &'static str,
    ) -> BoxFuture<'static, Result<(), Error>>;
}

/// Live → chat: whether a user is a member of a chat room (a call in a room
/// is for its members).
pub trait RoomMembership: Send + Sync {
    fn is_member(&self, room: RoomId, user: UserId) -> BoxFuture<'static, Result<bool, Error>>;
}

/// Chat → the edge: a direct message was committed. The edge (which knows
/// who is connected and stores notifications) tells the recipients who are
/// offline; the chat domain stores messages only.
pub trait DirectMessages: Send + Sync {
    fn committed(&self, message: DirectMessage);
}

/// A new message in a direct conversation, as committed.
#[derive(Debug, Clone)]
pub struct DirectMessage {
    pub room: RoomId,
    pub seq: i64,
    pub sender: UserId,
    pub sender_name: Option<String>,
    /// The conversation's other members.
    pub recipients: Vec<UserId>,
}

/// What runs after a transaction committed (a live push of what it stored).
pub type AfterCommit = Box<dyn FnOnce() + Send>;

/// Calendar → the edge: the booking changes of a batch, told inside the
/// batch's transaction before it commits, so a committed change always has
/// its notices (and a rolled-back one none). The edge stores them (once per
/// user and event) and answers what to push once the batch has committed.
pub trait BookingNotices: Send + Sync {
    fn store<'a>(
        &'a self,
        tx: &'a deadpool_postgres::Transaction<'a>,
        mentor: UserId,
        changes: &'a [BookingChange],
    ) -> BoxFuture<'a, Result<AfterCommit, Error>>;
}

/// One booking's change, as committed with its batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BookingChange {
    pub event: BookingEvent,
    pub booking: uuid::Uuid,
    /// The slot or session.
    pub offering: uuid::Uuid,
    pub mentee: UserId,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BookingEvent {
    /// Booked with a seat (not waitlisted).
    Confirmed,
    /// Moved from the waitlist to a freed seat.
    Promoted,
    /// The mentee cancelled; `confirmed` if it held a seat (not only a
    /// waitlist place).
    CancelledByMentee { confirmed: bool },
    /// The mentor cancelled (deleted) the slot or session.
    CancelledByMentor,
}
