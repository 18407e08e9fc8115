//! The gateway: the top of the realtime core. [`Realtime`] builds the
//! domains and wires the seams between them; [`connection::Connection`] is
//! one WebSocket connection, decoding commands and dispatching each to the
//! domain that owns it. The HTTP routes reach the domains through
//! `Realtime` too.

pub mod connection;

use std::sync::Arc;

use actix::{Actor, Addr};
use deadpool_postgres::Pool;

use crate::calendar::Calendars;
use crate::chat::Chat;
use crate::core::seams::{OfferingControl, OfferingStateSink, RoomMembership};
use crate::core::{Limits, Services, TokenVerifier};
use crate::live::Live;
use crate::presence::{Hub, HubFanOut};

/// Every domain of the realtime core, wired together.
pub struct Realtime {
    pub services: Arc<Services>,
    pub chat: Arc<Chat>,
    pub hub: Addr<Hub>,
    pub calendars: Arc<Calendars>,
    pub live: Arc<Live>,
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
        })
    }
}
