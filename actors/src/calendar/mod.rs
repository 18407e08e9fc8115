//! The calendar domain: one [`actor::Calendar`] per mentor orders every
//! change to that mentor's slots and sessions and tells whoever is
//! concerned; [`store`] holds the SQL (bookings, waitlists, reminders).
//! [`Calendars`] finds a mentor's actor, and is the live domain's
//! [`OfferingControl`]: a host starting or ending a session goes through
//! the mentor's calendar like any other change.

pub mod actor;
pub mod store;

use std::sync::{Arc, OnceLock};

use actix::{Actor, Addr};
use futures_util::future::BoxFuture;
use lyceum_protocol::{OfferingId, UserId};

use crate::core::registry::Registry;
use crate::core::seams::{OfferingControl, OfferingStateSink};
use crate::core::{Error, Services};
use actor::{Calendar, Exec};
use store::Op;

pub struct Calendars {
    pub services: Arc<Services>,
    /// Calendar actors by mentor. They hold little (watchers, a queue) and
    /// stay for the life of the process.
    running: Registry<UserId, Calendar>,
    /// Told when an offering's state changes (the live domain), set once at
    /// start-up by the gateway.
    states: OnceLock<Arc<dyn OfferingStateSink>>,
}

impl Calendars {
    pub fn new(services: Arc<Services>) -> Arc<Calendars> {
        Arc::new(Calendars {
            services,
            running: Registry::default(),
            states: OnceLock::new(),
        })
    }

    /// Where state changes of offerings are told (once, at start-up).
    pub fn tell_states_to(&self, sink: Arc<dyn OfferingStateSink>) {
        let _ = self.states.set(sink);
    }

    /// The calendar actor of a mentor, started if needed.
    pub fn calendar(self: &Arc<Self>, mentor: UserId) -> Addr<Calendar> {
        self.running
            .get_or_start(mentor, |_| Calendar::new(mentor, self.clone()).start())
    }

    pub(crate) fn state_changed(&self, offering: OfferingId, state: &'static str) {
        if let Some(sink) = self.states.get() {
            sink.state_changed(offering, state);
        }
    }
}

impl OfferingControl for Arc<Calendars> {
    fn set_state(
        &self,
        mentor: UserId,
        offering: OfferingId,
        state: &'static str,
    ) -> BoxFuture<'static, Result<(), Error>> {
        let cal = self.calendar(mentor);
        Box::pin(async move {
            cal.send(Exec(Op::SetState {
                offering: offering.0,
                state,
            }))
            .await
            .map_err(Error::internal)??;
            Ok(())
        })
    }
}
