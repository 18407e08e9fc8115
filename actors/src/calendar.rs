//! Calendar: one actor per mentor. It orders every change to that mentor's
//! slots and sessions, runs them in batches (one transaction, a savepoint
//! per change: concurrent bookings cost one commit), and then tells
//! everyone concerned: `slot_created`, `slot_updated` (booked, cancelled,
//! full, promoted, state) and `slot_deleted` go to every WebSocket watching
//! this calendar and to every holder of a booking in the slot; a promoted
//! mentee and the mentees of a deleted slot also get a personal event.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use actix::prelude::*;
use bytestring::ByteString;
use serde_json::{json, Value};
use tokio::sync::oneshot;
use uuid::Uuid;

use crate::calendar_store::{self, Op, Outcome};
use crate::context::ChatContext;
use crate::error::ChatError;
use crate::hub::ToUser;
use crate::ids::UserId;
use crate::outbox::Outbox;
use crate::protocol;

/// The most operations one transaction takes; the rest wait for the next.
const MAX_BATCH: usize = 1024;

pub struct Calendar {
    mentor: UserId,
    chat: Arc<ChatContext>,
    watchers: HashMap<u64, (UserId, Outbox)>,
    pending: Vec<(Op, oneshot::Sender<Result<Outcome, ChatError>>)>,
    busy: bool,
}

impl Calendar {
    pub fn new(mentor: UserId, chat: Arc<ChatContext>) -> Calendar {
        Calendar {
            mentor,
            chat,
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
        let pool = self.chat.pool.clone();
        let mentor = self.mentor;
        let fut = async move {
            let results = calendar_store::run_batch(&pool, mentor, &ops).await;
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
        ctx.spawn(actix::fut::wrap_future(fut).map(move |(ops, results, snapshots, holders), act: &mut Calendar, ctx| {
            act.busy = false;
            match results {
                Ok(rs) => {
                    let by_id: HashMap<String, Value> =
                        snapshots.into_iter().map(|s| (s["id"].as_str().unwrap_or_default().to_owned(), s)).collect();
                    // One event per offering per batch, carrying every reason.
                    let mut reasons: HashMap<Uuid, (String, Vec<&'static str>)> = HashMap::new();
                    let mut personal: Vec<(UserId, String)> = Vec::new();
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
                            Outcome::Created { ids } => ids.iter().for_each(|id| note(*id, "slot_created", "created")),
                            Outcome::Booked { full, status, .. } => {
                                let id = op.offering().unwrap_or_default();
                                note(id, "slot_updated", if *status == "confirmed" { "booked" } else { "waitlisted" });
                                if *full {
                                    note(id, "slot_updated", "full");
                                }
                            }
                            Outcome::Cancelled { promoted, .. } => {
                                let id = op.offering().unwrap_or_default();
                                note(id, "slot_updated", "cancelled");
                                if let Some((who, booking)) = promoted {
                                    note(id, "slot_updated", "promoted");
                                    personal.push((*who, json!({"type": "booking_promoted", "bookingId": booking,
                                        "slot": by_id.get(&id.to_string())}).to_string()));
                                }
                            }
                            Outcome::Deleted { cancelled_bookings } | Outcome::StateSet { cancelled_bookings } => {
                                let id = op.offering().unwrap_or_default();
                                if let Op::SetState { state, .. } = op {
                                    if let Some(room) = act.chat.running_live(id.into()) {
                                        room.do_send(crate::live::StateChanged { state });
                                    }
                                }
                                let deleted = matches!(outcome, Outcome::Deleted { .. });
                                note(id, if deleted { "slot_deleted" } else { "slot_updated" }, if deleted { "deleted" } else { "state" });
                                for who in cancelled_bookings {
                                    personal.push((*who, json!({"type": "booking_cancelled", "reason": "slot_cancelled",
                                        "slot": by_id.get(&id.to_string())}).to_string()));
                                }
                            }
                        }
                    }
                    for (id, (event, why)) in reasons {
                        let Some(slot) = by_id.get(&id.to_string()) else { continue };
                        let frame = ByteString::from(
                            json!({"type": event, "mentorId": act.mentor, "reason": why.last(), "reasons": why, "slot": slot}).to_string(),
                        );
                        let watching: HashSet<UserId> = act.watchers.values().map(|(u, _)| *u).collect();
                        for (_, o) in act.watchers.values() {
                            o.text(frame.clone());
                        }
                        for u in holders.get(&id).into_iter().flatten().filter(|u| !watching.contains(u)) {
                            act.chat.hub.do_send(ToUser { user: *u, frame: frame.to_string() });
                        }
                    }
                    for (u, frame) in personal {
                        act.chat.hub.do_send(ToUser { user: u, frame });
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
        }));
    }
}

impl Actor for Calendar {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        // Requesters wait on their own oneshot; the mailbox only holds the
        // hand-off, so a large bound costs little and spares back-pressure
        // stalls in booking storms.
        ctx.set_mailbox_capacity(65_536);
    }
}

/// Runs one operation in the next batch and answers with its outcome.
#[derive(Message)]
#[rtype(result = "Result<Outcome, ChatError>")]
pub struct Exec(pub Op);

impl Handler<Exec> for Calendar {
    type Result = ResponseFuture<Result<Outcome, ChatError>>;

    fn handle(&mut self, msg: Exec, ctx: &mut Context<Self>) -> Self::Result {
        let (tx, rx) = oneshot::channel();
        self.pending.push((msg.0, tx));
        self.run(ctx);
        Box::pin(async move {
            rx.await
                .unwrap_or_else(|_| Err(ChatError::internal("calendar batch dropped")))
        })
    }
}

/// A WebSocket session starts or stops watching this calendar.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Watch {
    pub session: u64,
    pub user: UserId,
    /// None stops watching.
    pub outbox: Option<Outbox>,
    pub reply_id: Option<Value>,
}

impl Handler<Watch> for Calendar {
    type Result = ();

    fn handle(&mut self, msg: Watch, _: &mut Context<Self>) {
        match msg.outbox {
            Some(o) => {
                o.text(protocol::ack(&msg.reply_id, json!({"mentorId": self.mentor})));
                self.watchers.insert(msg.session, (msg.user, o));
            }
            None => {
                self.watchers.remove(&msg.session);
            }
        }
    }
}

/// How many sessions watch this calendar (tests, metrics).
#[derive(Message)]
#[rtype(result = "usize")]
pub struct Watchers;

impl Handler<Watchers> for Calendar {
    type Result = usize;

    fn handle(&mut self, _: Watchers, _: &mut Context<Self>) -> usize {
        self.watchers.len()
    }
}
