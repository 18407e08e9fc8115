//! One-on-one calls: invite, ring (with a timeout), accept, decline, busy,
//! cancel, hang up. Once accepted, a call is a live room (a LiveRoom of
//! kind `call`) whose id is the call id, and both parties publish and
//! subscribe through the SFU like in any session.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use serde_json::json;

use bytestring::ByteString;

use super::room::{End, LiveKind, Reply};
use super::Live;
use crate::core::policy::{self, Refusal};
use crate::core::Principal;
use crate::protocol::{Caller, Event};
use lyceum_protocol::{CallId, ErrorCode, UserId};

/// How long a call rings before it ends with `timeout`.
pub const RING_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Ringing,
    Active,
}

struct Call {
    caller: UserId,
    caller_conn: u64,
    callee: UserId,
    state: State,
    ring: Option<SpawnHandle>,
}

pub struct Calls {
    live: Arc<Live>,
    calls: HashMap<CallId, Call>,
    /// Who is ringing or talking, and in which call.
    busy: HashMap<UserId, CallId>,
}

impl Calls {
    pub fn new(live: Arc<Live>) -> Calls {
        Calls {
            live,
            calls: HashMap::new(),
            busy: HashMap::new(),
        }
    }

    fn tell(&self, user: UserId, event: Event) {
        self.live.services.fanout.to_user(user, ByteString::from(event.frame()));
    }

    /// Ends a call: both parties hear why, the live room (if any) closes.
    fn end(&mut self, ctx: &mut Context<Self>, id: CallId, reason: &'static str) {
        let Some(call) = self.calls.remove(&id) else { return };
        if let Some(h) = call.ring {
            ctx.cancel_future(h);
        }
        for u in [call.caller, call.callee] {
            if self.busy.get(&u) == Some(&id) {
                self.busy.remove(&u);
            }
            self.tell(
                u,
                Event::CallEnded {
                    call_id: id,
                    reason: reason.to_owned(),
                },
            );
        }
        if call.state == State::Active {
            if let Some(room) = self.live.running_room(id.into()) {
                room.do_send(End);
            }
        }
    }
}

/// Call commands queued at most (one actor serves every call on the node).
/// Clients' commands enter through `core::offer` and are refused with
/// `overloaded` beyond this; the server's own notices (a connection closed,
/// a live room closed) go in regardless.
pub const MAILBOX: usize = 4096;

impl Actor for Calls {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.set_mailbox_capacity(MAILBOX);
    }
}

#[derive(Message)]
#[rtype(result = "()")]
pub struct Invite {
    pub who: Principal,
    pub conn: u64,
    pub callee: UserId,
    pub video: bool,
    pub reply: Reply,
}

impl Handler<Invite> for Calls {
    type Result = ();

    fn handle(&mut self, msg: Invite, ctx: &mut Context<Self>) {
        let pool = self.live.services.pool.clone();
        let (me, role, callee) = (msg.who.user, msg.who.role, msg.callee);
        ctx.spawn(
            actix::fut::wrap_future(async move { policy::may_talk(&pool, me, role, callee).await }).map(
                move |res, act: &mut Calls, ctx| {
                    let Invite {
                        who,
                        conn,
                        callee,
                        video,
                        reply,
                    } = msg;
                    match res {
                        Err(e) => return reply.err(e.code, e.message),
                        Ok(Err(Refusal::NoSuchUser)) => return reply.err(ErrorCode::CallNotAllowed, "no such user"),
                        Ok(Err(Refusal::NotAccepted)) => {
                            return reply.err(
                                ErrorCode::CallNotAllowed,
                                "this mentor does not accept calls from you; book a session instead",
                            )
                        }
                        Ok(Err(Refusal::Forbidden)) => {
                            return reply.err(ErrorCode::CallNotAllowed, "you may not call this user")
                        }
                        Ok(Ok(())) => {}
                    }
                    if act.busy.contains_key(&who.user) {
                        return reply.err(ErrorCode::Busy, "you are already in a call");
                    }
                    let id = CallId::new_random();
                    reply.ok(json!({"callId": id}));
                    if act.busy.contains_key(&callee) {
                        reply.outbox.text(
                            Event::CallEnded {
                                call_id: id,
                                reason: "busy".to_owned(),
                            }
                            .frame(),
                        );
                        return;
                    }
                    let ring = ctx.run_later(RING_TIMEOUT, move |act, ctx| {
                        if act.calls.get(&id).is_some_and(|c| c.state == State::Ringing) {
                            if let Some(c) = act.calls.get_mut(&id) {
                                c.ring = None;
                            }
                            act.end(ctx, id, "timeout");
                        }
                    });
                    act.calls.insert(
                        id,
                        Call {
                            caller: who.user,
                            caller_conn: conn,
                            callee,
                            state: State::Ringing,
                            ring: Some(ring),
                        },
                    );
                    act.busy.insert(who.user, id);
                    act.busy.insert(callee, id);
                    act.tell(
                        callee,
                        Event::CallIncoming {
                            call_id: id,
                            video,
                            from: Caller {
                                user_id: who.user,
                                display_name: who.display_name.clone(),
                            },
                        },
                    );
                    reply.outbox.text(Event::CallRinging { call_id: id }.frame());
                },
            ),
        );
    }
}

/// accept / decline / cancel / hang up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Accept,
    Decline,
    Cancel,
    Hangup,
}

#[derive(Message)]
#[rtype(result = "()")]
pub struct Respond {
    pub user: UserId,
    pub call_id: CallId,
    pub answer: Answer,
    pub reply: Reply,
}

impl Handler<Respond> for Calls {
    type Result = ();

    fn handle(&mut self, msg: Respond, ctx: &mut Context<Self>) {
        let Respond {
            user,
            call_id: id,
            answer,
            reply,
        } = msg;
        let Some(call) = self.calls.get_mut(&id).filter(|c| c.caller == user || c.callee == user) else {
            return reply.err(ErrorCode::CallNotFound, "no such call (it may have ended)");
        };
        let (is_callee, ringing) = (call.callee == user, call.state == State::Ringing);
        match answer {
            Answer::Accept if is_callee && ringing => {
                call.state = State::Active;
                if let Some(h) = call.ring.take() {
                    ctx.cancel_future(h);
                }
                let parties = [call.caller, call.callee];
                self.live.room(id.into(), Some(LiveKind::Call { parties }));
                reply.ok(json!({"callId": id, "sessionId": id}));
                self.tell(
                    parties[0],
                    Event::CallAccepted {
                        call_id: id,
                        session_id: id.into(),
                    },
                );
            }
            Answer::Decline if is_callee && ringing => {
                reply.ok(json!({"callId": id}));
                self.end(ctx, id, "declined");
            }
            Answer::Cancel if !is_callee && ringing => {
                reply.ok(json!({"callId": id}));
                self.end(ctx, id, "cancelled");
            }
            Answer::Hangup => {
                reply.ok(json!({"callId": id}));
                let reason = if ringing {
                    if is_callee {
                        "declined"
                    } else {
                        "cancelled"
                    }
                } else {
                    "hangup"
                };
                self.end(ctx, id, reason);
            }
            _ => reply.err(ErrorCode::InvalidCommand, "that does not fit the call's state"),
        }
    }
}

/// A call's live room closed (a party left or lost their connection).
#[derive(Message)]
#[rtype(result = "()")]
pub struct RoomClosed {
    pub call_id: CallId,
}

impl Handler<RoomClosed> for Calls {
    type Result = ();

    fn handle(&mut self, msg: RoomClosed, ctx: &mut Context<Self>) {
        if self.calls.get(&msg.call_id).is_some_and(|c| c.state == State::Active) {
            self.end(ctx, msg.call_id, "hangup");
        }
    }
}

/// A WebSocket connection closed: a call it was placing stops ringing.
#[derive(Message)]
#[rtype(result = "()")]
pub struct SessionClosed {
    pub user: UserId,
    pub conn: u64,
}

impl Handler<SessionClosed> for Calls {
    type Result = ();

    fn handle(&mut self, msg: SessionClosed, ctx: &mut Context<Self>) {
        let ringing: Vec<CallId> = self
            .calls
            .iter()
            .filter(|(_, c)| c.state == State::Ringing && c.caller == msg.user && c.caller_conn == msg.conn)
            .map(|(id, _)| *id)
            .collect();
        for id in ringing {
            self.end(ctx, id, "cancelled");
        }
    }
}
