//! Connection: one actor per WebSocket connection. It keeps the heartbeat,
//! decodes client frames into commands, checks what can be checked without
//! the room (guest confinement, rate and size limits), forwards the rest to
//! the room actors, and writes everything back through its bounded outbox.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use actix_ws::{Item, Message as WsMessage, ProtocolError};
use serde_json::{json, Value};

use super::Realtime;
use crate::boards;
use crate::calendar::actor::{Calendar, Watch};
use crate::chat::room::{self, ChatRoom};
use crate::chat::store::{self, Kind};
use crate::core::outbox::{
    Outbound, Outbox, CLOSE_IDLE_TIMEOUT, CLOSE_POLICY, CLOSE_TOKEN_EXPIRED, CLOSE_TOKEN_REVOKED, CLOSE_TOO_BIG,
};
use crate::core::reply::Reply as CommandReply;
use crate::core::{rules, Credential, Error, Principal, Revocation, RevokeReason};
use crate::live::calls;
use crate::live::room::Reply;
use crate::live::room::{self as live, Action, LiveRoom};
use crate::presence as hub;
use crate::protocol::{self, Command, Event};
use lyceum_protocol::{CallId, ErrorCode, LiveId, Role, RoomId, UserId};

/// How often the server pings.
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(10);
/// A client silent (no frame, no pong) for this long is disconnected.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(30);
/// Malformed frames tolerated per window before the connection is closed.
pub const MAX_INVALID_FRAMES: u32 = 10;
pub const INVALID_FRAME_WINDOW: Duration = Duration::from_secs(60);

static NEXT_CONNECTION: AtomicU64 = AtomicU64::new(1);

pub struct Connection {
    id: u64,
    me: Principal,
    /// The access token the connection stands on: the one it was opened
    /// with, or the last one `reauth` accepted.
    cred: Credential,
    rt: Arc<Realtime>,
    outbox: Outbox,
    last_heard: Instant,
    rooms: HashMap<RoomId, Addr<ChatRoom>>,
    /// Calendars watched (None: the watch is still being checked). At most
    /// `limits.max_calendar_watches`, pending ones included.
    calendars: HashMap<UserId, Option<Addr<Calendar>>>,
    live: HashMap<LiveId, Addr<LiveRoom>>,
    /// Board threads watched (pending checks included), at most
    /// `boards::MAX_WATCHES_PER_CONNECTION`.
    threads: HashSet<uuid::Uuid>,
    invalid: u32,
    invalid_since: Instant,
    /// Inside a fragmented message: its fragments after the first are
    /// dropped without another error.
    in_fragment: bool,
}

impl Connection {
    pub fn new(me: Principal, cred: Credential, rt: Arc<Realtime>, outbox: Outbox) -> Connection {
        Connection {
            id: NEXT_CONNECTION.fetch_add(1, Ordering::Relaxed),
            me,
            cred,
            rt,
            outbox,
            last_heard: Instant::now(),
            rooms: HashMap::new(),
            calendars: HashMap::new(),
            live: HashMap::new(),
            threads: HashSet::new(),
            invalid: 0,
            invalid_since: Instant::now(),
            in_fragment: false,
        }
    }

    fn send_error(&self, id: &Option<Value>, code: ErrorCode, message: impl Into<String>) {
        self.outbox.text(Error::new(code, message).frame(id));
    }

    fn close(&self, ctx: &mut Context<Self>, code: u16, reason: &str) {
        self.outbox.push(Outbound::Close(code, reason.to_owned()));
        ctx.stop();
    }

    fn invalid_frame(&mut self, ctx: &mut Context<Self>, id: Option<Value>, code: ErrorCode, why: String) {
        if self.invalid_since.elapsed() > INVALID_FRAME_WINDOW {
            self.invalid = 0;
            self.invalid_since = Instant::now();
        }
        self.invalid += 1;
        self.send_error(&id, code, why);
        if self.invalid > MAX_INVALID_FRAMES {
            self.close(ctx, CLOSE_POLICY, "too many invalid frames");
        }
    }

    fn room(&mut self, id: RoomId) -> Result<Addr<ChatRoom>, Error> {
        rules::guest_confined(&self.me, Some(id), "")?;
        if let Some(a) = self.rooms.get(&id).filter(|a| a.connected()) {
            return Ok(a.clone());
        }
        Ok(self.rt.chat.room(id))
    }

    /// Ends the connection once its token has expired (true if it did).
    fn expired(&self, ctx: &mut Context<Self>) -> bool {
        let now = chrono::Utc::now().timestamp();
        if self.me.expires_at.is_some_and(|e| e <= now) {
            self.outbox.text(Event::SessionExpired.frame());
            self.close(ctx, CLOSE_TOKEN_EXPIRED, "token expired");
            return true;
        }
        false
    }

    /// Ends the connection because its token no longer stands.
    fn revoked(&self, ctx: &mut Context<Self>, reason: RevokeReason) {
        self.outbox.text(
            Event::SessionRevoked {
                reason: reason.as_str().to_owned(),
            }
            .frame(),
        );
        self.close(ctx, CLOSE_TOKEN_REVOKED, &format!("token revoked: {}", reason.as_str()));
    }

    /// `reauth`: the token's signature is good and it is this user's; once
    /// the credentials say it still stands (and with this connection's
    /// role), it becomes the connection's token.
    fn reauth(&mut self, ctx: &mut Context<Self>, cred: Credential, id: Option<Value>) {
        let rt = self.rt.clone();
        let fut = async move { rt.services.credentials.check(&cred).await };
        ctx.spawn(
            actix::fut::wrap_future(fut).map(move |res, act: &mut Connection, ctx: &mut Context<Self>| {
                match res {
                    // Everything this connection holds (subscriptions, joins)
                    // was granted to its role: a token of another role ends it.
                    Ok(role) if role != act.me.role => act.revoked(ctx, RevokeReason::RoleChanged),
                    Ok(_) => {
                        act.cred = cred;
                        act.me.expires_at = Some(cred.expires_at);
                        // A revocation told while the check ran.
                        if let Some(reason) = act.rt.services.credentials.known_revoked(&cred) {
                            return act.revoked(ctx, reason);
                        }
                        act.outbox
                            .text(protocol::ack(&id, json!({"expiresAt": cred.expires_at})));
                    }
                    Err(e) => {
                        act.outbox.text(e.frame(&id));
                    }
                }
            }),
        );
    }

    fn handle_text(&mut self, text: &str, ctx: &mut Context<Self>) {
        if self.expired(ctx) {
            return;
        }
        let env = match protocol::parse(text) {
            Ok(e) => e,
            // A frame read as no command is answered with `"id": null`.
            Err(e) => return self.invalid_frame(ctx, Some(e.id.unwrap_or(Value::Null)), e.code, e.message),
        };
        let id = env.id;
        let result = match env.command {
            Command::Ping => {
                self.outbox.text(protocol::ack(&id, json!({"pong": true})));
                Ok(())
            }
            Command::Subscribe {
                after_seq: Some(after), ..
            } if after < 0 => Err(Error::new(ErrorCode::InvalidCommand, "afterSeq must be 0 or more")),
            Command::Subscribe { room_id, after_seq } => self.room(room_id).and_then(|addr| {
                crate::core::offer(
                    &addr,
                    room::Subscribe {
                        conn: self.id,
                        who: self.me.clone(),
                        after_seq,
                        outbox: self.outbox.clone(),
                        reply_id: id.clone(),
                    },
                )?;
                self.rooms.insert(room_id, addr);
                Ok(())
            }),
            Command::Unsubscribe { room_id } => {
                if let Some(addr) = self.rooms.remove(&room_id) {
                    addr.do_send(room::Unsubscribe { conn: self.id });
                }
                self.outbox.text(protocol::ack(&id, json!({"roomId": room_id})));
                Ok(())
            }
            Command::Send {
                room_id,
                client_msg_id,
                body,
                ciphertext,
                attachments,
            } => self.post(
                room_id,
                &id,
                Kind::Message,
                client_msg_id,
                body,
                ciphertext,
                attachments,
                None,
            ),
            Command::Edit {
                room_id,
                seq,
                body,
                ciphertext,
            } => self.post(room_id, &id, Kind::Edit, None, body, ciphertext, vec![], Some(seq)),
            Command::Delete { room_id, seq } => {
                self.post(room_id, &id, Kind::Delete, None, None, None, vec![], Some(seq))
            }
            Command::Typing { room_id, typing } => self.room(room_id).and_then(|addr| {
                crate::core::offer(
                    &addr,
                    room::Typing {
                        who: self.me.clone(),
                        typing,
                        outbox: self.outbox.clone(),
                        reply_id: id.clone(),
                    },
                )
            }),
            Command::Read { room_id, seq } => self.room(room_id).and_then(|addr| {
                crate::core::offer(
                    &addr,
                    room::Read {
                        who: self.me.clone(),
                        seq,
                        outbox: self.outbox.clone(),
                        reply_id: id.clone(),
                    },
                )
            }),
            Command::History {
                room_id,
                before,
                after,
                limit,
            } => self.history(ctx, room_id, id.clone(), before, after, limit),
            Command::WatchCalendar { mentor_id } => rules::guest_confined(&self.me, None, "watch calendars")
                .and_then(|()| self.watch(ctx, mentor_id, id.clone())),
            Command::WatchThread { thread_id } => rules::guest_confined(&self.me, None, "watch threads")
                .and_then(|()| self.watch_thread(ctx, thread_id, id.clone())),
            Command::UnwatchThread { thread_id } => {
                if self.threads.remove(&thread_id) {
                    self.rt.boards.do_send(boards::Unwatch {
                        thread: thread_id,
                        conn: self.id,
                    });
                }
                self.outbox.text(protocol::ack(&id, json!({"threadId": thread_id})));
                Ok(())
            }
            Command::Reauth { token } => match (self.rt.services.verify_token)(&token) {
                Ok(cred) if cred.user == self.me.user => {
                    self.reauth(ctx, cred, id.clone());
                    Ok(())
                }
                Ok(_) => Err(Error::new(ErrorCode::Forbidden, "that token belongs to another user")),
                Err(why) => Err(Error::new(ErrorCode::InvalidCommand, format!("invalid token: {why}"))),
            },
            Command::SessionJoin { session_id } => rules::guest_confined(&self.me, None, "join live sessions")
                .and_then(|()| {
                    let addr = self.rt.live.room(session_id, None);
                    crate::core::offer(
                        &addr,
                        live::Join {
                            who: self.me.clone(),
                            conn: self.id,
                            reply: self.reply(&id),
                        },
                    )?;
                    self.live.insert(session_id, addr);
                    Ok(())
                }),
            Command::SessionLeave { session_id } => {
                match self.live.remove(&session_id) {
                    Some(addr) => addr.do_send(live::Leave {
                        user: self.me.user,
                        conn: self.id,
                        reply: Some(self.reply(&id)),
                    }),
                    None => {
                        self.outbox.text(protocol::ack(&id, json!({"sessionId": session_id})));
                    }
                }
                Ok(())
            }
            Command::SessionStart { session_id } => self.live_act(session_id, &id, Action::Start),
            Command::SessionEnd { session_id } => self.live_act(session_id, &id, Action::End),
            Command::RtcPublish {
                session_id,
                sdp,
                sources,
            } => self.live_act(session_id, &id, Action::Publish { sdp, sources }),
            Command::RtcSubscribe { session_id } => self.live_act(session_id, &id, Action::Subscribe),
            Command::RtcAnswer { session_id, sdp } => self.live_act(session_id, &id, Action::Answer { sdp }),
            Command::RtcRestart { session_id } => self.live_act(session_id, &id, Action::Restart),
            Command::RtcQuality { session_id, quality } => self.live_act(session_id, &id, Action::Quality(quality)),
            Command::MediaState {
                session_id,
                audio,
                video,
                screen,
            } => self.live_act(session_id, &id, Action::MediaState { audio, video, screen }),
            Command::RaiseHand { session_id, raised } => self.live_act(session_id, &id, Action::RaiseHand(raised)),
            Command::SetRole {
                session_id,
                user_id,
                role,
            } => self.live_act(session_id, &id, Action::SetRole { target: user_id, role }),
            Command::Mute {
                session_id,
                user_id,
                kind,
            } => self.live_act(session_id, &id, Action::Mute { target: user_id, kind }),
            Command::Remove { session_id, user_id } => {
                self.live_act(session_id, &id, Action::Remove { target: user_id })
            }
            Command::CallInvite { user_id, video } => {
                rules::guest_confined(&self.me, None, "place calls").and_then(|()| {
                    crate::core::offer(
                        &self.rt.live.calls(),
                        calls::Invite {
                            who: self.me.clone(),
                            conn: self.id,
                            callee: user_id,
                            video,
                            reply: self.reply(&id),
                        },
                    )
                })
            }
            Command::CallAccept { call_id } => self.respond(call_id, &id, calls::Answer::Accept),
            Command::CallDecline { call_id } => self.respond(call_id, &id, calls::Answer::Decline),
            Command::CallCancel { call_id } => self.respond(call_id, &id, calls::Answer::Cancel),
            Command::CallHangup { call_id } => self.respond(call_id, &id, calls::Answer::Hangup),
            Command::UnwatchCalendar { mentor_id } => {
                if let Some(Some(addr)) = self.calendars.remove(&mentor_id) {
                    addr.do_send(Watch {
                        conn: self.id,
                        user: self.me.user,
                        outbox: None,
                        reply_id: None,
                    });
                }
                self.outbox.text(protocol::ack(&id, json!({"mentorId": mentor_id})));
                Ok(())
            }
        };
        if let Err(e) = result {
            self.outbox.text(e.frame(&id));
        }
    }

    /// `watch_calendar`: within the per-connection cap, the mentor checked
    /// and the watch registered by the calendar domain (which acks).
    fn watch(&mut self, ctx: &mut Context<Self>, mentor: UserId, id: Option<Value>) -> Result<(), Error> {
        let max = self.rt.services.limits.max_calendar_watches;
        if !self.calendars.contains_key(&mentor) {
            if self.calendars.len() >= max {
                return Err(Error::new(
                    ErrorCode::TooManyWatches,
                    format!("a connection watches at most {max} calendars; unwatch one first"),
                ));
            }
            self.calendars.insert(mentor, None);
        }
        let (conn, user, outbox) = (self.id, self.me.user, self.outbox.clone());
        let fut = self
            .rt
            .calendars
            .clone()
            .watch(mentor, conn, user, outbox.clone(), id.clone());
        ctx.spawn(
            actix::fut::wrap_future(fut).map(move |res, act: &mut Connection, _| match res {
                Ok(addr) => match act.calendars.get_mut(&mentor) {
                    Some(slot) => *slot = Some(addr),
                    // Unwatched while the watch was on its way.
                    None => addr.do_send(Watch {
                        conn,
                        user,
                        outbox: None,
                        reply_id: None,
                    }),
                },
                Err(e) => {
                    if matches!(act.calendars.get(&mentor), Some(None)) {
                        act.calendars.remove(&mentor);
                    }
                    outbox.text(e.frame(&id));
                }
            }),
        );
        Ok(())
    }

    /// Watches a board thread once the store says it may be watched; the
    /// ack comes after the watch is registered, so no change committed after
    /// the ack is missed.
    fn watch_thread(&mut self, ctx: &mut Context<Self>, thread: uuid::Uuid, id: Option<Value>) -> Result<(), Error> {
        if !self.threads.contains(&thread) && self.threads.len() >= boards::MAX_WATCHES_PER_CONNECTION {
            return Err(Error::new(
                ErrorCode::TooManyWatches,
                format!(
                    "a connection watches at most {} threads; unwatch one first",
                    boards::MAX_WATCHES_PER_CONNECTION
                ),
            ));
        }
        self.threads.insert(thread);
        let pool = self.rt.services.pool.clone();
        let (conn, outbox) = (self.id, self.outbox.clone());
        let fut = async move { boards::store::watchable(&pool, thread).await };
        ctx.spawn(actix::fut::wrap_future(fut).map(move |res, act: &mut Connection, _| {
            let res = res.and_then(|()| {
                if !act.threads.contains(&thread) {
                    // Unwatched while the check was on its way.
                    return Ok(());
                }
                act.rt
                    .boards
                    .try_send(boards::Watch {
                        thread,
                        conn,
                        outbox: outbox.clone(),
                    })
                    .map_err(|_| Error::new(ErrorCode::Overloaded, "the boards are busy; retry shortly"))
            });
            match res {
                Ok(()) => {
                    outbox.text(protocol::ack(&id, json!({"threadId": thread})));
                }
                Err(e) => {
                    act.threads.remove(&thread);
                    outbox.text(e.frame(&id));
                }
            }
        }));
        Ok(())
    }

    fn reply(&self, id: &Option<Value>) -> Reply {
        Reply {
            outbox: self.outbox.clone(),
            id: id.clone(),
        }
    }

    fn live_act(&mut self, session_id: LiveId, id: &Option<Value>, action: Action) -> Result<(), Error> {
        let addr = self
            .live
            .get(&session_id)
            .filter(|a| a.connected())
            .ok_or_else(|| Error::new(ErrorCode::NotInSession, "join the session first"))?;
        crate::core::offer(
            addr,
            live::Act {
                user: self.me.user,
                conn: self.id,
                action,
                reply: self.reply(id),
            },
        )
    }

    fn respond(&mut self, call_id: CallId, id: &Option<Value>, answer: calls::Answer) -> Result<(), Error> {
        crate::core::offer(
            &self.rt.live.calls(),
            calls::Respond {
                user: self.me.user,
                call_id,
                answer,
                reply: self.reply(id),
            },
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn post(
        &mut self,
        room_id: RoomId,
        id: &Option<Value>,
        kind: Kind,
        client_msg_id: Option<String>,
        body: Option<String>,
        ciphertext: Option<String>,
        attachments: Vec<uuid::Uuid>,
        target_seq: Option<i64>,
    ) -> Result<(), Error> {
        let addr = self.room(room_id)?;
        rules::message_size(&self.rt.services.limits, body.as_deref(), ciphertext.as_deref())?;
        if let Err(wait) = self.rt.services.check_send_rate(&self.me) {
            return Err(Error::new(
                ErrorCode::RateLimited,
                format!("too many messages; retry in {} ms", wait.as_millis().max(1)),
            ));
        }
        crate::core::offer(
            &addr,
            room::Post {
                who: self.me.clone(),
                reply: CommandReply::frame(self.outbox.clone(), id.clone()),
                kind,
                client_msg_id,
                body,
                ciphertext,
                attachments,
                target_seq,
            },
        )
    }

    /// History reads go straight to the database (committed data only),
    /// after the room has confirmed the caller may read it.
    fn history(
        &mut self,
        ctx: &mut Context<Self>,
        room_id: RoomId,
        id: Option<Value>,
        before: Option<i64>,
        after: Option<i64>,
        limit: Option<i64>,
    ) -> Result<(), Error> {
        let addr = self.room(room_id)?;
        let limit = limit.unwrap_or(50);
        if !(1..=store::PAGE_MAX).contains(&limit) {
            return Err(Error::new(
                ErrorCode::InvalidCommand,
                format!("limit must be between 1 and {}", store::PAGE_MAX),
            ));
        }
        let who = self.me.clone();
        let pool = self.rt.services.pool.clone();
        let outbox = self.outbox.clone();
        let fut = async move {
            addr.send(room::MayRead { who }).await.map_err(Error::internal)??;
            store::history(&pool, room_id, before, after, limit).await
        };
        ctx.spawn(actix::fut::wrap_future(fut).map(move |res, _act: &mut Connection, _| {
            match res {
                Ok(events) => outbox.text(protocol::ack(&id, json!({"roomId": room_id, "messages": events}))),
                Err(e) => outbox.text(e.frame(&id)),
            };
        }));
        Ok(())
    }
}

impl Actor for Connection {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.rt.register(self.me.user, self.id, ctx.address());
        // The token was checked before the upgrade; a revocation committed
        // since then and before the registration is known to the cache.
        if let Some(reason) = self.rt.services.credentials.known_revoked(&self.cred) {
            return self.revoked(ctx, reason);
        }
        self.outbox
            .text(protocol::Event::hello(self.id, self.me.user, HEARTBEAT_INTERVAL.as_secs()).frame());
        self.rt.hub.do_send(hub::Connect {
            user: self.me.user,
            conn: self.id,
            outbox: self.outbox.clone(),
        });
        ctx.run_interval(HEARTBEAT_INTERVAL, |act, ctx| {
            if act.expired(ctx) {
                return;
            }
            if act.last_heard.elapsed() > CLIENT_TIMEOUT {
                act.close(ctx, CLOSE_IDLE_TIMEOUT, "idle timeout");
                return;
            }
            if act.outbox.is_closed() {
                ctx.stop();
                return;
            }
            act.outbox.push(Outbound::Ping);
        });
    }

    fn stopped(&mut self, _: &mut Context<Self>) {
        self.rt.unregister(self.me.user, self.id);
        for addr in self.rooms.values() {
            addr.do_send(room::Unsubscribe { conn: self.id });
        }
        for addr in self.calendars.values().flatten() {
            addr.do_send(Watch {
                conn: self.id,
                user: self.me.user,
                outbox: None,
                reply_id: None,
            });
        }
        if !self.threads.is_empty() {
            self.rt.boards.do_send(boards::Closed { conn: self.id });
        }
        for addr in self.live.values() {
            addr.do_send(live::Leave {
                user: self.me.user,
                conn: self.id,
                reply: None,
            });
        }
        if self.me.role != Role::Guest {
            self.rt.live.calls().do_send(calls::SessionClosed {
                user: self.me.user,
                conn: self.id,
            });
        }
        self.rt.hub.do_send(hub::Disconnect {
            user: self.me.user,
            conn: self.id,
        });
    }
}

/// A committed revocation of this connection's user (`Realtime::revoke`).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Revoked(pub Revocation);

impl Handler<Revoked> for Connection {
    type Result = ();

    fn handle(&mut self, Revoked(r): Revoked, ctx: &mut Context<Self>) {
        if r.covers(&self.cred) {
            self.revoked(ctx, r.reason());
        }
    }
}

impl StreamHandler<Result<WsMessage, ProtocolError>> for Connection {
    fn handle(&mut self, item: Result<WsMessage, ProtocolError>, ctx: &mut Context<Self>) {
        self.last_heard = Instant::now();
        match item {
            Ok(WsMessage::Text(t)) => self.handle_text(&t, ctx),
            Ok(WsMessage::Binary(_)) => self.invalid_frame(
                ctx,
                Some(Value::Null),
                ErrorCode::BinaryNotSupported,
                "frames are JSON text".to_owned(),
            ),
            Ok(WsMessage::Ping(b)) => {
                self.outbox.push(Outbound::Pong(b));
            }
            Ok(WsMessage::Pong(_)) | Ok(WsMessage::Nop) => {}
            // One error per fragmented message, however many fragments.
            Ok(WsMessage::Continuation(Item::FirstText(_) | Item::FirstBinary(_))) => {
                self.in_fragment = true;
                self.invalid_frame(
                    ctx,
                    Some(Value::Null),
                    ErrorCode::BinaryNotSupported,
                    "fragmented frames are not supported; send each command as one text frame".to_owned(),
                )
            }
            Ok(WsMessage::Continuation(Item::Continue(_))) => {}
            Ok(WsMessage::Continuation(Item::Last(_))) => self.in_fragment = false,
            Ok(WsMessage::Close(_)) => ctx.stop(),
            Err(ProtocolError::Overflow) => self.close(ctx, CLOSE_TOO_BIG, "frame too large"),
            Err(e) => {
                tracing::debug!(error = %e, "websocket protocol error");
                self.close(ctx, CLOSE_POLICY, "protocol error");
            }
        }
    }

    fn finished(&mut self, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}

/// Starts the connection actor for an upgraded connection.
pub fn start(
    me: Principal,
    cred: Credential,
    rt: Arc<Realtime>,
    socket: actix_ws::Session,
    stream: actix_ws::MessageStream,
) -> Addr<Connection> {
    let outbox = crate::core::outbox::spawn_writer(socket, rt.services.limits.outbound_queue);
    let stream = stream.max_frame_size(rt.services.limits.max_frame_bytes);
    Connection::create(|ctx| {
        ctx.add_stream(stream);
        Connection::new(me, cred, rt, outbox)
    })
}
