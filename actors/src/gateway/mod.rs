//! The gateway: the top of the realtime core. [`Realtime`] builds the
//! domains and wires the seams between them; [`connection::Connection`] is
//! one WebSocket connection, decoding commands and dispatching each to the
//! domain that owns it. The HTTP routes reach the domains through
//! `Realtime` too.

pub mod connection;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use actix::{Actor, Addr};
use deadpool_postgres::Pool;

use crate::boards::Boards;
use crate::calendar::Calendars;
use crate::chat::Chat;
use crate::core::seams::{OfferingControl, OfferingStateSink, RoomMembership};
use crate::core::{Limits, Revocation, Services, TokenVerifier};
use crate::live::Live;
use crate::presence::{Hub, HubFanOut};
use lyceum_protocol::UserId;

/// Every open connection of this node, by user and connection id.
type Registry = HashMap<UserId, HashMap<u64, Addr<connection::Connection>>>;

/// Every domain of the realtime core, wired together.
pub struct Realtime {
    pub services: Arc<Services>,
    pub chat: Arc<Chat>,
    pub hub: Addr<Hub>,
    pub calendars: Arc<Calendars>,
    pub live: Arc<Live>,
    /// Who watches which open board thread on this node.
    pub boards: Addr<Boards>,
    /// Every open connection of this node by user: who to tell of a
    /// revocation.
    connections: Mutex<Registry>,
}

impl Realtime {
    /// Must be called inside an actix system (it starts the Hub).
    pub fn new(pool: Pool, limits: Limits, verify_token: TokenVerifier) -> Arc<Realtime> {
        let hub = Hub::new(pool.clone()).start();
        let services = Services::new(pool, limits, verify_token, Arc::new(HubFanOut::new(hub.clone())));
        let chat = Chat::new(services.clone());
        let calendars = Calendars::new(services.clone());
        let offerings: Arc<dyn OfferingControl> = Arc::new(calendars.clone());
        let membership: Arc<dyn RoomMembership> = chat.clone();
        let live = Live::new(services.clone(), offerings, membership);
        let states: Arc<dyn OfferingStateSink> = live.clone();
        calendars.tell_states_to(states);
        Arc::new(Realtime {
            services,
            chat,
            hub,
            calendars,
            live,
            boards: Boards::default().start(),
            connections: Mutex::new(HashMap::new()),
        })
    }

    /// A committed revocation (a role change, a sign-out): the credentials
    /// cache learns of it first, then every open connection of the user on
    /// this node is told, and those whose token it covers close at once
    /// (`session_revoked`, then close code 4004).
    pub fn revoke(&self, r: Revocation) {
        self.services.credentials.observe(&r);
        let open: Vec<Addr<connection::Connection>> = self
            .connections_lock()
            .get(&r.user())
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default();
        for conn in open {
            conn.do_send(connection::Revoked(r));
        }
    }

    /// Whether the user has an open WebSocket connection on this node.
    pub fn is_online(&self, user: UserId) -> bool {
        self.connections_lock().get(&user).is_some_and(|m| !m.is_empty())
    }

    fn connections_lock(&self) -> std::sync::MutexGuard<'_, Registry> {
        self.connections.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn register(&self, user: UserId, conn: u64, addr: Addr<connection::Connection>) {
        self.connections_lock().entry(user).or_default().insert(conn, addr);
    }

    fn unregister(&self, user: UserId, conn: u64) {
        let mut map = self.connections_lock();
        if let Some(m) = map.get_mut(&user) {
            m.remove(&conn);
            if m.is_empty() {
                map.remove(&user);
            }
        }
    }
}
