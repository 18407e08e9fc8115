//! The chat domain: rooms (direct conversations and group rooms), each a
//! [`room::ChatRoom`] actor that is the single writer of its ordered stream,
//! and their persistence ([`store`]). [`Chat`] finds or starts a room's
//! actor and is how the gateway and the HTTP routes reach rooms.

pub mod room;
pub mod store;

use std::sync::Arc;
use std::time::Duration;

use actix::{Actor, Addr};
use futures_util::future::BoxFuture;
use lyceum_protocol::{ErrorCode, RoomId, UserId};

use crate::core::registry::Registry;
use crate::core::reply::Reply;
use crate::core::seams::RoomMembership;
use crate::core::{Error, Services};
use room::{ChatRoom, Post, Posted};

/// How long an HTTP send waits for its commit before answering 503.
const POST_TIMEOUT: Duration = Duration::from_secs(10);

pub struct Chat {
    pub services: Arc<Services>,
    rooms: Registry<RoomId, ChatRoom>,
    /// Told of every new direct message once committed (set at start-up).
    direct_messages: std::sync::OnceLock<Arc<dyn crate::core::seams::DirectMessages>>,
}

impl Chat {
    pub fn new(services: Arc<Services>) -> Arc<Chat> {
        Arc::new(Chat {
            services,
            rooms: Registry::default(),
            direct_messages: std::sync::OnceLock::new(),
        })
    }

    /// Where committed direct messages are told (the edge's notifications
    /// of messages received while offline). Once; later calls are ignored.
    pub fn tell_direct_messages_to(&self, sink: Arc<dyn crate::core::seams::DirectMessages>) {
        let _ = self.direct_messages.set(sink);
    }

    pub(crate) fn direct_messages(&self) -> Option<&Arc<dyn crate::core::seams::DirectMessages>> {
        self.direct_messages.get()
    }

    /// The running actor of a room, started (and loading itself) if needed.
    pub fn room(self: &Arc<Self>, id: RoomId) -> Addr<ChatRoom> {
        self.rooms
            .get_or_start(id, |generation| ChatRoom::new(id, generation, self.clone()).start())
    }

    /// The room's actor only if it is already running (for notifications
    /// that need not wake a room).
    pub fn running_room(&self, id: RoomId) -> Option<Addr<ChatRoom>> {
        self.rooms.running(id)
    }

    pub(crate) fn forget_room(&self, id: RoomId, generation: u64) {
        self.rooms.forget(id, generation);
    }

    pub fn running_rooms(&self) -> usize {
        self.rooms.len()
    }

    /// Sends, edits or deletes through the room and waits for the commit:
    /// the HTTP path of what `send`/`edit`/`delete` do over the WebSocket.
    /// `post` gets the reply to carry.
    pub async fn post_and_wait(
        self: &Arc<Self>,
        room: RoomId,
        post: impl FnOnce(Reply<Posted>) -> Post,
    ) -> Result<Posted, Error> {
        let (reply, rx) = Reply::caller();
        crate::core::offer(&self.room(room), post(reply))?;
        match tokio::time::timeout(POST_TIMEOUT, rx).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(Error::new(
                ErrorCode::Unavailable,
                "the room stopped before it answered",
            )),
            Err(_) => Err(Error::new(ErrorCode::Unavailable, "the room did not answer in time")),
        }
    }
}

impl RoomMembership for Chat {
    fn is_member(&self, room: RoomId, user: UserId) -> BoxFuture<'static, Result<bool, Error>> {
        let pool = self.services.pool.clone();
        Box::pin(async move { Ok(store::load_member(&pool, room, user).await?.is_some()) })
    }
}
