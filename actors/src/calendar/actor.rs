//! Calendar: one actor per mentor. It orders every change to that mentor's
//! slots and sessions, runs them in batches (one transaction, a savepoint
//! per change: concurrent bookings cost one commit), and then tells
//! everyone concerned: `slot_created`, `slot_updated` (booked, cancelled,
//! full, promoted, state) and `slot_deleted` go to every WebSocket watching
//! this calendar and to every holder of a booking in the slot; a promoted
//! mentee and the mentees of a deleted slot also get a personal event.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use bytestring::ByteString;
use serde_json::{json, Value};
use tokio::sync::oneshot;
use uuid::Uuid;

use super::store::{self as calendar_store, Op, Outcome};
use super::Calendars;
use crate::core::outbox::Outbox;
use crate::core::Error;
use crate::protocol::{self, Event};
use lyceum_protocol::{ErrorCode, OfferingId, UserId};

/// The most operations one transaction takes; the rest wait for the next.
const MAX_BATCH: usize = 1024;
/// Requests queued for one calendar. Requesters wait on their own oneshot;
/// the mailbox only holds the hand-off, so a large bound costs little and
/// spares back-pressure stalls in booking storms. Callers use `send`, which
/// waits for room when it is full (HTTP requests, bounded by the server's
/// connection limit), and watchers (one per connection) go in regardless.
pub const MAILBOX: usize = 65_536;
/// Changes waiting for the next batch while one is committing. Beyond this
/// a change is refused with `overloaded` at once (1,000 mentees booking one
/// slot in the same instant fill a sixteenth of it).
pub const MAX_PENDING: usize = 16_384;

/// The most often an idle calendar looks whether it may stop.
const IDLE_CHECK_MAX: Duration = Duration::from_secs(30);

pub struct Calendar {
    mentor: UserId,
    generation: u64,
    cals: Arc<Calendars>,
    last_activity: Instant,
    watchers: HashMap<u64, (UserId, Outbox)>,
    pending: Vec<(Op, oneshot::Sender<Result<Outcome, Error>>)>,
    busy: bool,
}

impl Calendar {
    pub fn new(mentor: UserId, generation: u64, cals: Arc<Calendars>) -> Calendar {
        Calendar {
            mentor,
            generation,
            cals,
            last_activity: Instant::now(),
            watchers: HashMap::new(),
            pending: Vec::new(),
            busy: false,
        }
    }

    fn run(&mut self, ctx: &mut Context<Self>) {
        if self.busy || self.pending.is_empty() {
            return;
        }
        self.busy = true;
        let n = self.pending.len().min(MAX_BATCH);
        let batch: Vec<_> = self.pending.drain(..n).collect();
        let ops: Vec<Op> = batch.iter().map(|(op, _)| op.clone()).collect();
        let pool = self.cals.services.pool.clone();
        let mentor = self.mentor;
        let notices = self.cals.booking_notices();
        let fut = async move {
            let results = calendar_store::run_batch(&pool, mentor, &ops, notices.as_deref())
                .await
                .map(|(outcomes, after)| {
                    // Committed: push the notifications it stored.
                    if let Some(push) = after {
                        push();
                    }
                    outcomes
                });
            // Snapshots of everything touched, after the commit.
            let mut touched: BTreeSet<Uuid> = BTreeSet::new();
            if let Ok(rs) = &results {
                for (op, r) in ops.iter().zip(rs) {
                    match (op, r) {
                        (_, Ok(Outcome::Created { ids })) => touched.extend(ids.iter().copied()),
                        (op, Ok(_)) => touched.extend(op.offering()),
                        _ => {}
                    }
                }
            }
            let snapshots = calendar_store::load_offerings(&pool, &touched)
                .await
                .unwrap_or_default();
            let mut holders = HashMap::new();
            for id in &touched {
                holders.insert(*id, calendar_store::holders(&pool, *id).await.unwrap_or_default());
            }
            (ops, results, snapshots, holders)
        };
        ctx.spawn(actix::fut::wrap_future(fut).map(
            move |(ops, results, snapshots, holders), act: &mut Calendar, ctx| {
                act.busy = false;
                match results {
                    Ok(rs) => {
                        let by_id: HashMap<String, Value> = snapshots
                            .into_iter()
                            .map(|s| (s["id"].as_str().unwrap_or_default().to_owned(), s))
                            .collect();
                        // One event per offering per batch, carrying every reason.
                        let mut reasons: HashMap<Uuid, (String, Vec<&'static str>)> = HashMap::new();
                        let mut personal: Vec<(UserId, Event)> = Vec::new();
                        for (op, r) in ops.iter().zip(&rs) {
                            let Ok(outcome) = r else { continue };
                            let mut note = |id: Uuid, event: &str, reason: &'static str| {
                                let e = reasons.entry(id).or_insert_with(|| (event.to_owned(), Vec::new()));
                                if event == "slot_deleted" {
                                    e.0 = event.to_owned();
                                }
                                if !e.1.contains(&reason) {
                                    e.1.push(reason);
                                }
                            };
                            match outcome {
                                Outcome::Created { ids } => {
                                    ids.iter().for_each(|id| note(*id, "slot_created", "created"))
                                }
                                Outcome::Booked { full, status, .. } => {
                                    let id = op.offering().unwrap_or_default();
                                    note(
                                        id,
                                        "slot_updated",
                                        if *status == "confirmed" { "booked" } else { "waitlisted" },
                                    );
                                    if *full {
                                        note(id, "slot_updated", "full");
                                    }
                                }
                                Outcome::Cancelled { promoted, .. } => {
                                    let id = op.offering().unwrap_or_default();
                                    note(id, "slot_updated", "cancelled");
                                    if let Some((who, booking)) = promoted {
                                        note(id, "slot_updated", "promoted");
                                        personal.push((
                                            *who,
                                            Event::BookingPromoted {
                                                booking_id: json!(booking),
                                                slot: by_id.get(&id.to_string()).cloned(),
                                            },
                                        ));
                                    }
                                }
                                Outcome::Deleted { cancelled_bookings } | Outcome::StateSet { cancelled_bookings } => {
                                    let id = op.offering().unwrap_or_default();
                                    if let Op::SetState { state, .. } = op {
                                        act.cals.state_changed(OfferingId(id), state);
                                    }
                                    let deleted = matches!(outcome, Outcome::Deleted { .. });
                                    note(
                                        id,
                                        if deleted { "slot_deleted" } else { "slot_updated" },
                                        if deleted { "deleted" } else { "state" },
                                    );
                                    for (who, _) in cancelled_bookings {
                                        personal.push((
                                            *who,
                                            Event::BookingCancelled {
                                                reason: "slot_cancelled".to_owned(),
                                                slot: by_id.get(&id.to_string()).cloned(),
                                            },
                                        ));
                                    }
                                }
                            }
                        }
                        for (id, (event, why)) in reasons {
                            let Some(slot) = by_id.get(&id.to_string()) else {
                                continue;
                            };
                            let (mentor_id, slot) = (act.mentor, slot.clone());
                            let reason = why.last().map(|r| r.to_string());
                            let reasons = why.iter().map(|r| r.to_string()).collect();
                            let frame = ByteString::from(
                                match event.as_str() {
                                    "slot_created" => Event::SlotCreated {
                                        mentor_id,
                                        reason,
                                        reasons,
                                        slot,
                                    },
                                    "slot_deleted" => Event::SlotDeleted {
                                        mentor_id,
                                        reason,
                                        reasons,
                                        slot,
                                    },
                                    _ => Event::SlotUpdated {
                                        mentor_id,
                                        reason,
                                        reasons,
                                        slot,
                                    },
                                }
                                .frame(),
                            );
                            let watching: HashSet<UserId> = act.watchers.values().map(|(u, _)| *u).collect();
                            for (_, o) in act.watchers.values() {
                                o.text(frame.clone());
                            }
                            for u in holders.get(&id).into_iter().flatten().filter(|u| !watching.contains(u)) {
                                act.cals.services.fanout.to_user(*u, frame.clone());
                            }
                        }
                        for (u, frame) in personal {
                            act.cals.services.fanout.to_user(u, ByteString::from(frame.frame()));
                        }
                        for ((_, tx), r) in batch.into_iter().zip(rs) {
                            let _ = tx.send(r);
                        }
                    }
                    Err(e) => {
                        for (_, tx) in batch {
                            let _ = tx.send(Err(e.clone()));
                        }
                    }
                }
                act.run(ctx);
            },
        ));
    }
}

impl Actor for Calendar {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.set_mailbox_capacity(MAILBOX);
        // With no watchers and nothing to do, the actor stops after the idle
        // time. It leaves the registry first, so a request from now on
        // starts a fresh actor; one already in the mailbox is dropped with
        // it and retried by `Calendars::exec` / `Calendars::watch`.
        let idle = self.cals.services.limits.calendar_idle;
        let check = (idle / 4).clamp(Duration::from_millis(50), IDLE_CHECK_MAX);
        ctx.run_interval(check, move |act, ctx| {
            // A connection that went away without unwatching holds nothing.
            act.watchers.retain(|_, (_, o)| !o.is_closed());
            let quiet = act.watchers.is_empty() && act.pending.is_empty() && !act.busy;
            if quiet && act.last_activity.elapsed() >= idle {
                act.cals.forget(act.mentor, act.generation);
                ctx.stop();
            }
        });
    }

    fn stopped(&mut self, _: &mut Context<Self>) {
        self.cals.forget(self.mentor, self.generation);
    }
}

/// Runs one operation in the next batch and answers with its outcome.
#[derive(Message)]
#[rtype(result = "Result<Outcome, Error>")]
pub struct Exec(pub Op);

impl Handler<Exec> for Calendar {
    type Result = ResponseFuture<Result<Outcome, Error>>;

    fn handle(&mut self, msg: Exec, ctx: &mut Context<Self>) -> Self::Result {
        self.last_activity = Instant::now();
        if self.pending.len() >= MAX_PENDING {
            return Box::pin(async {
                Err(Error::new(
                    ErrorCode::Overloaded,
                    "this mentor's calendar is busy; retry shortly",
                ))
            });
        }
        let (tx, rx) = oneshot::channel();
        self.pending.push((msg.0, tx));
        self.run(ctx);
        Box::pin(async move {
            rx.await
                .unwrap_or_else(|_| Err(Error::internal("calendar batch dropped")))
        })
    }
}

/// A WebSocket connection starts or stops watching this calendar.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Watch {
    pub conn: u64,
    pub user: UserId,
    /// None stops watching.
    pub outbox: Option<Outbox>,
    pub reply_id: Option<Value>,
}

impl Handler<Watch> for Calendar {
    type Result = ();

    fn handle(&mut self, msg: Watch, _: &mut Context<Self>) {
        self.last_activity = Instant::now();
        match msg.outbox {
            Some(o) => {
                o.text(protocol::ack(&msg.reply_id, json!({"mentorId": self.mentor})));
                self.watchers.insert(msg.conn, (msg.user, o));
            }
            None => {
                self.watchers.remove(&msg.conn);
            }
        }
    }
}

/// How many connections watch this calendar (tests, metrics).
#[derive(Message)]
#[rtype(result = "usize")]
pub struct Watchers;

impl Handler<Watchers> for Calendar {
    type Result = usize;

    fn handle(&mut self, _: Watchers, _: &mut Context<Self>) -> usize {
        self.watchers.len()
    }
}
