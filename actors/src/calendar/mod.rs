//! The calendar domain: one [`actor::Calendar`] per mentor orders every
//! change to that mentor's slots and sessions and tells whoever is
//! concerned; [`store`] holds the SQL (bookings, waitlists, reminders).
//! [`Calendars`] finds a mentor's actor, and is the live domain's
//! [`OfferingControl`]: a host starting or ending a session goes through
//! the mentor's calendar like any other change.

pub mod actor;
pub mod store;

use std::sync::{Arc, OnceLock};

use actix::{Actor, Addr, MailboxError};
use futures_util::future::BoxFuture;
use lyceum_protocol::{ErrorCode, OfferingId, UserId};
use serde_json::Value;

use crate::core::outbox::Outbox;
use crate::core::registry::Registry;
use crate::core::seams::{BookingNotices, OfferingControl, OfferingStateSink};
use crate::core::{Error, Services};
use actor::{Calendar, Exec, Watch};
use store::{Op, Outcome};

/// How often a request that found its calendar actor stopping is sent again
/// (to the fresh actor the registry then starts). One retry suffices unless
/// the new actor also goes idle and stops in between, which takes the idle
/// time.
const RETRIES: usize = 3;

pub struct Calendars {
    pub services: Arc<Services>,
    /// Calendar actors by mentor. One with no watchers and no pending
    /// change stops after `limits.calendar_idle` and forgets itself here
    /// first, so the next request starts a fresh one.
    running: Registry<UserId, Calendar>,
    /// Told when an offering's state changes (the live domain), set once at
    /// start-up by the gateway.
    states: OnceLock<Arc<dyn OfferingStateSink>>,
    /// Stores the notifications of booking changes inside each batch's
    /// transaction (the edge), set once at start-up.
    bookings: OnceLock<Arc<dyn BookingNotices>>,
}

impl Calendars {
    pub fn new(services: Arc<Services>) -> Arc<Calendars> {
        Arc::new(Calendars {
            services,
            running: Registry::default(),
            states: OnceLock::new(),
            bookings: OnceLock::new(),
        })
    }

    /// Where state changes of offerings are told (once, at start-up).
    pub fn tell_states_to(&self, sink: Arc<dyn OfferingStateSink>) {
        let _ = self.states.set(sink);
    }

    /// Where booking changes are told, to become notifications (once, at
    /// start-up).
    pub fn tell_bookings_to(&self, notices: Arc<dyn BookingNotices>) {
        let _ = self.bookings.set(notices);
    }

    pub(crate) fn booking_notices(&self) -> Option<Arc<dyn BookingNotices>> {
        self.bookings.get().cloned()
    }

    /// The calendar actor of a mentor, started if needed. It may be about
    /// to stop (idle): send through [`Calendars::exec`] and
    /// [`Calendars::watch`], which retry on a fresh actor.
    pub fn calendar(self: &Arc<Self>, mentor: UserId) -> Addr<Calendar> {
        self.running.get_or_start(mentor, |generation| {
            Calendar::new(mentor, generation, self.clone()).start()
        })
    }

    /// Calendar actors in memory (the `lyceum_calendar_actors` gauge).
    pub fn running_calendars(&self) -> usize {
        self.running.len()
    }

    pub(crate) fn forget(&self, mentor: UserId, generation: u64) {
        self.running.forget(mentor, generation);
    }

    /// Runs one change on the mentor's calendar and waits for its outcome.
    /// A change that reached an actor as it stopped was not run (actix drops
    /// what is left in a stopping actor's mailbox, and the actor stops only
    /// with nothing pending), so it is sent again to the fresh actor.
    pub async fn exec(self: &Arc<Self>, mentor: UserId, op: Op) -> Result<Outcome, Error> {
        for _ in 0..RETRIES {
            match self.calendar(mentor).send(Exec(op.clone())).await {
                Ok(result) => return result,
                Err(MailboxError::Closed) => continue,
                Err(e) => return Err(Error::internal(e)),
            }
        }
        Err(Error::new(ErrorCode::Unavailable, "the calendar kept stopping; retry"))
    }

    /// Starts `conn` watching `mentor`'s calendar: refused with
    /// `not_a_mentor` unless the user may own a calendar (checked in the
    /// database unless the calendar is running already; a refusal starts no
    /// actor). The calendar acknowledges on `outbox`; the answer is the
    /// actor watched, for the unwatch.
    pub async fn watch(
        self: Arc<Self>,
        mentor: UserId,
        conn: u64,
        user: UserId,
        outbox: Outbox,
        reply_id: Option<Value>,
    ) -> Result<Addr<Calendar>, Error> {
        if self.running.running(mentor).is_none() && !store::owns_calendar(&self.services.pool, mentor).await? {
            return Err(Error::new(ErrorCode::NotAMentor, "no mentor has this id"));
        }
        for _ in 0..RETRIES {
            let addr = self.calendar(mentor);
            let watch = Watch {
                conn,
                user,
                outbox: Some(outbox.clone()),
                reply_id: reply_id.clone(),
            };
            match addr.send(watch).await {
                Ok(()) => return Ok(addr),
                Err(MailboxError::Closed) => continue,
                Err(e) => return Err(Error::internal(e)),
            }
        }
        Err(Error::new(ErrorCode::Unavailable, "the calendar kept stopping; retry"))
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
        let cals = self.clone();
        Box::pin(async move {
            cals.exec(
                mentor,
                Op::SetState {
                    offering: offering.0,
                    state,
                },
            )
            .await?;
            Ok(())
        })
    }
}
