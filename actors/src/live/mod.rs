//! The live domain: rooms with media. A [`room::LiveRoom`] actor per
//! live room (a group session or webinar, a call in a chat room, a
//! one-on-one call) decides who comes in with which role, moderates, and
//! relays signalling between clients and the room's SFU shard; the
//! [`calls::Calls`] actor rings, accepts and ends one-on-one calls.
//! [`Live`] finds or starts live rooms; it is the calendar's
//! [`OfferingStateSink`] and reaches the calendar and chat only through the
//! seams it was handed ([`OfferingControl`], [`RoomMembership`]).

pub mod calls;
pub mod room;

use std::sync::{Arc, OnceLock};

use actix::{Actor, Addr};
use lyceum_protocol::{LiveId, OfferingId};

use crate::core::registry::Registry;
use crate::core::seams::{OfferingControl, OfferingStateSink, RoomMembership};
use crate::core::Services;
use calls::Calls;
use lyceum_sfu::Sfu;
use room::{LiveKind, LiveRoom, StateChanged};

pub struct Live {
    pub services: Arc<Services>,
    rooms: Registry<LiveId, LiveRoom>,
    sfu: OnceLock<Arc<Sfu>>,
    calls: OnceLock<Addr<Calls>>,
    /// Starts and ends group sessions (the mentor's calendar).
    pub(crate) offerings: Arc<dyn OfferingControl>,
    /// Who may join a call in a chat room (the chat domain).
    pub(crate) membership: Arc<dyn RoomMembership>,
}

impl Live {
    pub fn new(
        services: Arc<Services>,
        offerings: Arc<dyn OfferingControl>,
        membership: Arc<dyn RoomMembership>,
    ) -> Arc<Live> {
        Arc::new(Live {
            services,
            rooms: Registry::default(),
            sfu: OnceLock::new(),
            calls: OnceLock::new(),
            offerings,
            membership,
        })
    }

    /// Gives the live rooms their media server (once, at start-up).
    pub fn set_sfu(&self, sfu: Arc<Sfu>) {
        let _ = self.sfu.set(sfu);
    }

    pub fn sfu(&self) -> Option<&Arc<Sfu>> {
        self.sfu.get()
    }

    /// The calls actor, started on first use (inside an actix system).
    pub fn calls(self: &Arc<Self>) -> Addr<Calls> {
        self.calls.get_or_init(|| Calls::new(self.clone()).start()).clone()
    }

    /// The live room with this id, started if needed; `kind` presets what
    /// it is (calls), otherwise it finds out from the database.
    pub fn room(self: &Arc<Self>, id: LiveId, kind: Option<LiveKind>) -> Addr<LiveRoom> {
        self.rooms.get_or_start(id, |generation| {
            LiveRoom::new(id, generation, self.clone(), kind).start()
        })
    }

    pub fn running_room(&self, id: LiveId) -> Option<Addr<LiveRoom>> {
        self.rooms.running(id)
    }

    pub(crate) fn forget_room(&self, id: LiveId, generation: u64) {
        self.rooms.forget(id, generation);
    }
}

impl OfferingStateSink for Live {
    fn state_changed(&self, offering: OfferingId, state: &'static str) {
        if let Some(room) = self.running_room(offering.into()) {
            // One per state change of a running session; never dropped.
            room.do_send(StateChanged { state });
        }
    }
}
