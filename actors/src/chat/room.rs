//! ChatRoom: one actor per room, the single writer of the room's ordered
//! stream on this node. It owns the member list, the subscribers, typing
//! state, read pointers, the ring of recent events, and the group commit:
//! sends arriving while a commit is in flight wait and go into the next
//! transaction together, so durability does not cost throughput.
//!
//! A subscriber is registered only once it has caught up (ring or database),
//! inside this actor, so a resume never has a gap or a duplicate.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use bytestring::ByteString;
use chrono::Utc;
use serde_json::{json, Value};
use uuid::Uuid;

use super::store::{self, Kind, Member, NewEvent, RoomMeta};
use super::Chat;
use crate::core::outbox::{Drain, Outbox};
use crate::core::reply::{AckData, Reply};
use crate::core::rules;
use crate::core::{Error, Principal};
use crate::protocol;
use lyceum_protocol::{ErrorCode, Role, RoomId, UserId};

/// Recent committed events kept in memory for quick resumes.
const RING_CAPACITY: usize = 1024;
/// The most events one group commit takes; the rest wait for the next.
const MAX_BATCH: usize = 512;
/// A typing indicator expires unless the client repeats it within this time.
pub const TYPING_TTL: Duration = Duration::from_secs(6);
const TYPING_SWEEP: Duration = Duration::from_secs(1);
/// A room with no subscribers and no work stops after this long.
const ROOM_IDLE: Duration = Duration::from_secs(300);
const IDLE_CHECK: Duration = Duration::from_secs(30);
/// A room that could not load answers what is already in its mailbox for
/// this long, then stops.
const FAILED_LINGER: Duration = Duration::from_millis(500);
/// Commands queued for one room. A room answers each in microseconds and
/// batches sends into one commit, so a full mailbox means the room (or its
/// database) is far behind: commands from clients are then refused with
/// `overloaded` (see [`crate::core::offer`]) rather than queued without bound. Messages
/// the server sends itself (unsubscribe on close, membership changes) are
/// few per connection and go in regardless.
pub const MAILBOX: usize = 4096;
/// Posts waiting for the next group commit while one is in flight. Beyond
/// this a post is refused with `overloaded` (the database is far behind);
/// the senders' rate limits keep a healthy room far below it.
pub const MAX_PENDING: usize = 8 * MAX_BATCH;
pub const MAX_CLIENT_MSG_ID: usize = 64;

enum State {
    Loading,
    Missing,
    /// Loading failed (the database is down): every command gets this error
    /// until the actor stops, which it does at once so the next command
    /// starts a fresh one that loads again.
    Failed(Error),
    Ready,
}

struct Sub {
    user: UserId,
    outbox: Outbox,
}

/// A subscriber being caught up: everything up to `next` has been queued
/// to it. `epoch` tells its pages from those of an earlier subscribe of the
/// same connection.
struct CatchUp {
    sub: Sub,
    next: i64,
    epoch: u64,
}

/// A catch-up page's size and the watermark for an outbox: pages of an
/// eighth of the queue (at most 256 frames), each sent only while the queue
/// then stays at most half full, so the other half is left for live traffic
/// (other rooms, presence, calendar) to the same client.
fn flow(outbox: &Outbox) -> (usize, usize) {
    let capacity = outbox.capacity();
    let page = (capacity / 8).clamp(1, 256);
    (page, (capacity / 2).max(page))
}

struct Queued {
    event: NewEvent,
    reply: Reply<Posted>,
}

pub struct ChatRoom {
    id: RoomId,
    generation: u64,
    chat: Arc<Chat>,
    state: State,
    meta: Option<RoomMeta>,
    members: HashMap<UserId, Member>,
    committed_seq: i64,
    subs: HashMap<u64, Sub>,
    catching_up: HashMap<u64, CatchUp>,
    next_epoch: u64,
    ring: VecDeque<(i64, ByteString)>,
    pending: Vec<Queued>,
    flushing: bool,
    typing: HashMap<UserId, Instant>,
    last_activity: Instant,
}

impl ChatRoom {
    pub fn new(id: RoomId, generation: u64, chat: Arc<Chat>) -> ChatRoom {
        ChatRoom {
            id,
            generation,
            chat,
            state: State::Loading,
            meta: None,
            members: HashMap::new(),
            committed_seq: 0,
            subs: HashMap::new(),
            catching_up: HashMap::new(),
            next_epoch: 1,
            ring: VecDeque::new(),
            pending: Vec::new(),
            flushing: false,
            typing: HashMap::new(),
            last_activity: Instant::now(),
        }
    }

    fn ready(&self) -> Result<&RoomMeta, Error> {
        match (&self.state, &self.meta) {
            (State::Ready, Some(m)) => Ok(m),
            (State::Failed(e), _) => Err(e.clone()),
            _ => Err(Error::new(ErrorCode::RoomNotFound, "no such room")),
        }
    }

    /// Members read; so may admins in group rooms (moderation), never in
    /// direct conversations.
    fn may_read(&self, who: &Principal) -> Result<(), Error> {
        let meta = self.ready()?;
        rules::guest_confined(who, Some(self.id), "")?;
        if self.members.contains_key(&who.user) || (who.role == Role::Admin && meta.kind == "group") {
            Ok(())
        } else {
            Err(Error::not_member())
        }
    }

    /// Whether `who` is a member; if not, tells them why (no room, or not a member).
    fn require_member(&self, who: &Principal, outbox: &Outbox, reply_id: &Option<Value>) -> bool {
        if self.members.contains_key(&who.user) {
            return true;
        }
        let e = self.ready().err().unwrap_or_else(Error::not_member);
        outbox.text(e.frame(reply_id));
        false
    }

    fn broadcast(&self, frame: &ByteString, except_user: Option<UserId>) {
        for s in self.subs.values() {
            if Some(s.user) != except_user {
                s.outbox.text(frame.clone());
            }
        }
    }

    /// A new message in a direct conversation: told to the edge, which
    /// notifies the recipients who are offline.
    fn tell_direct(&self, sender: UserId, seq: i64, sender_name: Option<String>) {
        let (Some(meta), Some(sink)) = (&self.meta, self.chat.direct_messages()) else {
            return;
        };
        if meta.kind != "direct" {
            return;
        }
        let recipients: Vec<UserId> = self.members.keys().copied().filter(|u| *u != sender).collect();
        if recipients.is_empty() {
            return;
        }
        sink.committed(crate::core::seams::DirectMessage {
            room: self.id,
            seq,
            sender,
            sender_name,
            recipients,
        });
    }

    fn remember(&mut self, seq: i64, frame: ByteString) {
        if self.ring.len() == RING_CAPACITY {
            self.ring.pop_front();
        }
        self.ring.push_back((seq, frame));
    }

    /// Catches a subscriber up, one page at a time: a page (from the ring or
    /// from Postgres) goes out only when the subscriber's outbox has room for
    /// it below [`watermark`], so a client that reads is never cut off
    /// however far behind it starts. Once it has everything up to the last
    /// commit it is made live, inside this actor, so it sees every seq once,
    /// in order. Events committed meanwhile are read like the rest (they are
    /// in the ring and the database), never sent twice.
    fn catch_up(&mut self, ctx: &mut Context<Self>, conn: u64, epoch: u64) {
        loop {
            let Some(c) = self.catching_up.get_mut(&conn).filter(|c| c.epoch == epoch) else {
                return;
            };
            if c.sub.outbox.is_closed() {
                self.catching_up.remove(&conn);
                return;
            }
            if c.next >= self.committed_seq {
                if let Some(c) = self.catching_up.remove(&conn) {
                    self.subs.insert(conn, c.sub);
                }
                return;
            }
            let (page, watermark) = flow(&c.sub.outbox);
            if c.sub.outbox.queued() + page > watermark {
                let outbox = c.sub.outbox.clone();
                let stall = self.chat.services.limits.catch_up_stall;
                let wait = async move { outbox.room_for(page, watermark, stall).await };
                ctx.spawn(
                    actix::fut::wrap_future(wait).map(move |drain, act: &mut ChatRoom, ctx| match drain {
                        Drain::Ready => act.catch_up(ctx, conn, epoch),
                        Drain::Closed => act.drop_catch_up(conn, epoch),
                        Drain::Stalled => {
                            if let Some(c) = act.catching_up.get(&conn).filter(|c| c.epoch == epoch) {
                                tracing::info!(room = %act.id, conn, "a catching-up subscriber stopped reading");
                                c.sub.outbox.cut_off();
                            }
                            act.drop_catch_up(conn, epoch);
                        }
                    }),
                );
                return;
            }
            let from = c.next;
            if self.ring.front().is_some_and(|(s, _)| *s <= from + 1) {
                let start = self.ring.partition_point(|(s, _)| *s <= from);
                for (s, frame) in self.ring.iter().skip(start).take(page) {
                    c.sub.outbox.text(frame.clone());
                    c.next = *s;
                }
                continue;
            }
            let pool = self.chat.services.pool.clone();
            let (room, upto) = (self.id, self.committed_seq);
            let limit = i64::try_from(page).unwrap_or(store::PAGE_MAX).min(store::PAGE_MAX);
            let fut = async move { store::range(&pool, room, from, upto, limit).await };
            ctx.spawn(actix::fut::wrap_future(fut).map(move |res, act: &mut ChatRoom, ctx| {
                let Some(c) = act.catching_up.get_mut(&conn).filter(|c| c.epoch == epoch) else {
                    return;
                };
                match res {
                    Ok(events) => {
                        for e in &events {
                            c.sub.outbox.text(e.frame());
                            c.next = e.seq;
                        }
                        if events.is_empty() {
                            c.next = upto;
                        }
                        act.catch_up(ctx, conn, epoch);
                    }
                    Err(e) => {
                        c.sub.outbox.text(e.frame(&None));
                        act.drop_catch_up(conn, epoch);
                    }
                }
            }));
            return;
        }
    }

    fn drop_catch_up(&mut self, conn: u64, epoch: u64) {
        if self.catching_up.get(&conn).is_some_and(|c| c.epoch == epoch) {
            self.catching_up.remove(&conn);
        }
    }

    fn flush(&mut self, ctx: &mut Context<Self>) {
        if self.flushing || self.pending.is_empty() {
            return;
        }
        self.flushing = true;
        let n = self.pending.len().min(MAX_BATCH);
        let batch: Vec<Queued> = self.pending.drain(..n).collect();
        let items: Vec<NewEvent> = batch.iter().map(|q| q.event.clone()).collect();
        let pool = self.chat.services.pool.clone();
        let room = self.id;
        let fut = async move { store::commit_batch(&pool, room, &items).await };
        ctx.spawn(actix::fut::wrap_future(fut).map(move |res, act: &mut ChatRoom, ctx| {
            act.flushing = false;
            match res {
                Ok(results) => {
                    for (q, r) in batch.into_iter().zip(results) {
                        match r {
                            Ok(c) => {
                                if let Some(mut e) = c.event {
                                    e.sender_name = act.members.get(&q.event.sender).map(|m| m.display_name.clone());
                                    act.committed_seq = act.committed_seq.max(e.seq);
                                    let frame = ByteString::from(e.frame());
                                    act.broadcast(&frame, None);
                                    act.remember(e.seq, frame);
                                    if matches!(q.event.kind, Kind::Message) {
                                        act.tell_direct(q.event.sender, e.seq, e.sender_name.clone());
                                    }
                                }
                                q.reply.send(Ok(Posted {
                                    room_id: room,
                                    seq: c.seq,
                                    client_msg_id: q.event.client_msg_id,
                                    duplicate: c.duplicate,
                                }));
                            }
                            Err(e) => q.reply.send(Err(e)),
                        }
                    }
                }
                Err(e) => {
                    for q in batch {
                        q.reply.send(Err(e.clone()));
                    }
                }
            }
            act.flush(ctx);
        }));
    }
}

impl Actor for ChatRoom {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        // Subscribers wait for the room to know its members and last seq.
        ctx.set_mailbox_capacity(MAILBOX);
        let pool = self.chat.services.pool.clone();
        let id = self.id;
        ctx.wait(
            actix::fut::wrap_future(async move { store::load_room(&pool, id).await }).map(
                |res, act: &mut ChatRoom, ctx| match res {
                    Ok(Some((meta, members))) => {
                        act.committed_seq = meta.last_seq;
                        act.meta = Some(meta);
                        act.members = members;
                        act.state = State::Ready;
                    }
                    Ok(None) => act.state = State::Missing,
                    Err(e) => {
                        tracing::warn!(room = %act.id, error = %e, "loading room");
                        act.state = State::Failed(e);
                        // Later commands find a fresh actor; the ones already
                        // in this mailbox are answered with the error first.
                        act.chat.forget_room(act.id, act.generation);
                        ctx.run_later(FAILED_LINGER, |_, ctx| ctx.stop());
                    }
                },
            ),
        );
        ctx.run_interval(TYPING_SWEEP, |act, _| {
            let now = Instant::now();
            let expired: Vec<UserId> = act.typing.iter().filter(|(_, t)| **t <= now).map(|(u, _)| *u).collect();
            for u in expired {
                act.typing.remove(&u);
                act.broadcast(
                    &ByteString::from(
                        protocol::Event::Typing {
                            room_id: act.id,
                            user_id: u,
                            typing: false,
                        }
                        .frame(),
                    ),
                    Some(u),
                );
            }
        });
        ctx.run_interval(IDLE_CHECK, |act, ctx| {
            let idle = act.subs.is_empty() && act.catching_up.is_empty() && act.pending.is_empty() && !act.flushing;
            let missing = matches!(act.state, State::Missing);
            if idle && (missing || act.last_activity.elapsed() > ROOM_IDLE) {
                act.chat.forget_room(act.id, act.generation);
                ctx.stop();
            }
        });
    }

    fn stopped(&mut self, _: &mut Context<Self>) {
        self.chat.forget_room(self.id, self.generation);
    }
}

/// Start receiving the room's events (after catching up from `after_seq`).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Subscribe {
    pub conn: u64,
    pub who: Principal,
    pub after_seq: Option<i64>,
    pub outbox: Outbox,
    pub reply_id: Option<Value>,
}

impl Handler<Subscribe> for ChatRoom {
    type Result = ();

    fn handle(&mut self, msg: Subscribe, ctx: &mut Context<Self>) {
        self.last_activity = Instant::now();
        let session_room = matches!(self.state, State::Ready) && self.meta.as_ref().is_some_and(|m| m.session);
        if session_room && !self.members.contains_key(&msg.who.user) {
            // Not a member as this actor knows it: ask the database once (a
            // group session's room gains members through the bookings'
            // triggers, e.g. a waitlist promotion, without telling us).
            let pool = self.chat.services.pool.clone();
            let (room, user) = (self.id, msg.who.user);
            ctx.spawn(
                actix::fut::wrap_future(async move { store::load_member(&pool, room, user).await }).map(
                    move |res, act: &mut ChatRoom, ctx| {
                        if let Ok(Some(m)) = res {
                            if matches!(act.state, State::Ready) && !act.members.contains_key(&user) {
                                act.members.insert(user, m);
                                act.broadcast(
                                    &ByteString::from(protocol::Event::member(act.id, user, true).frame()),
                                    None,
                                );
                            }
                        }
                        act.subscribe(msg, ctx);
                    },
                ),
            );
            return;
        }
        self.subscribe(msg, ctx);
    }
}

impl ChatRoom {
    fn subscribe(&mut self, msg: Subscribe, ctx: &mut Context<Self>) {
        if let Err(e) = self.may_read(&msg.who) {
            msg.outbox.text(e.frame(&msg.reply_id));
            return;
        }
        let after = msg.after_seq.unwrap_or(self.committed_seq).clamp(0, self.committed_seq);
        msg.outbox.text(protocol::ack(
            &msg.reply_id,
            json!({"roomId": self.id, "lastSeq": self.committed_seq, "resumeFrom": after}),
        ));
        self.subs.remove(&msg.conn);
        let epoch = self.next_epoch;
        self.next_epoch += 1;
        self.catching_up.insert(
            msg.conn,
            CatchUp {
                sub: Sub {
                    user: msg.who.user,
                    outbox: msg.outbox,
                },
                next: after,
                epoch,
            },
        );
        self.catch_up(ctx, msg.conn, epoch);
        // Typing state is ephemeral: tell the newcomer who is typing now.
        if let Some(sub) = self
            .subs
            .get(&msg.conn)
            .or_else(|| self.catching_up.get(&msg.conn).map(|c| &c.sub))
        {
            for u in self.typing.keys().filter(|u| **u != msg.who.user) {
                sub.outbox.text(
                    protocol::Event::Typing {
                        room_id: self.id,
                        user_id: *u,
                        typing: true,
                    }
                    .frame(),
                );
            }
        }
    }
}

#[derive(Message)]
#[rtype(result = "()")]
pub struct Unsubscribe {
    pub conn: u64,
}

impl Handler<Unsubscribe> for ChatRoom {
    type Result = ();

    fn handle(&mut self, msg: Unsubscribe, _: &mut Context<Self>) {
        self.subs.remove(&msg.conn);
        self.catching_up.remove(&msg.conn);
        self.last_activity = Instant::now();
    }
}

/// A new message, an edit or a deletion, acknowledged once committed.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Post {
    pub who: Principal,
    pub reply: Reply<Posted>,
    pub kind: Kind,
    pub client_msg_id: Option<String>,
    pub body: Option<String>,
    pub ciphertext: Option<String>,
    pub attachments: Vec<Uuid>,
    pub target_seq: Option<i64>,
}

/// What a committed post answers with (the `ack` of `send`, `edit`, `delete`).
#[derive(Debug, Clone)]
pub struct Posted {
    pub room_id: RoomId,
    pub seq: i64,
    pub client_msg_id: Option<String>,
    /// A resend of an already committed message (same `clientMsgId`).
    pub duplicate: bool,
}

impl AckData for Posted {
    fn ack_data(&self) -> Value {
        json!({"roomId": self.room_id, "seq": self.seq, "clientMsgId": self.client_msg_id, "duplicate": self.duplicate})
    }
}

impl ChatRoom {
    fn check_post(&self, p: &Post) -> Result<bool, Error> {
        let meta = self.ready()?;
        self.may_read(&p.who)?;
        let member = self.members.get(&p.who.user);
        let moderator = member.is_some_and(Member::can_moderate) || p.who.role == Role::Admin;
        if member.is_none() && !(p.kind == Kind::Delete && moderator) {
            return Err(Error::not_member());
        }
        if let Some(m) = member {
            if p.kind != Kind::Delete && m.muted_until.is_some_and(|t| t > Utc::now()) {
                return Err(Error::new(ErrorCode::Muted, "you are muted in this room"));
            }
        }
        if p.client_msg_id
            .as_ref()
            .is_some_and(|c| c.is_empty() || c.len() > MAX_CLIENT_MSG_ID)
        {
            return Err(Error::new(
                ErrorCode::InvalidCommand,
                format!("clientMsgId must have 1 to {MAX_CLIENT_MSG_ID} characters"),
            ));
        }
        rules::message_size(&self.chat.services.limits, p.body.as_deref(), p.ciphertext.as_deref())?;
        if p.kind != Kind::Delete {
            if meta.e2ee && (p.body.is_some() || p.ciphertext.is_none()) {
                return Err(Error::new(
                    ErrorCode::E2eeMismatch,
                    "this room is end-to-end encrypted: send `ciphertext`, not `body`",
                ));
            }
            if !meta.e2ee && p.ciphertext.is_some() {
                return Err(Error::new(
                    ErrorCode::E2eeMismatch,
                    "this room is not end-to-end encrypted: send `body`",
                ));
            }
            let empty = p.body.as_ref().is_none_or(|b| b.trim().is_empty())
                && p.ciphertext.as_ref().is_none_or(String::is_empty);
            if empty && (p.kind == Kind::Edit || p.attachments.is_empty()) {
                return Err(Error::new(
                    ErrorCode::InvalidCommand,
                    "a message needs a body (or ciphertext) or attachments",
                ));
            }
        }
        if p.attachments.len() > 10 {
            return Err(Error::new(
                ErrorCode::InvalidCommand,
                "at most 10 attachments per message",
            ));
        }
        Ok(moderator)
    }
}

impl Handler<Post> for ChatRoom {
    type Result = ();

    fn handle(&mut self, msg: Post, ctx: &mut Context<Self>) {
        self.last_activity = Instant::now();
        let moderator = match self.check_post(&msg) {
            Ok(m) => m,
            Err(e) => {
                msg.reply.send(Err(e));
                return;
            }
        };
        if self.pending.len() >= MAX_PENDING {
            msg.reply.send(Err(Error::new(
                ErrorCode::Overloaded,
                "this room is busy; retry shortly",
            )));
            return;
        }
        // Sending a message ends the sender's typing indicator.
        if msg.kind == Kind::Message && self.typing.remove(&msg.who.user).is_some() {
            self.broadcast(
                &ByteString::from(
                    protocol::Event::Typing {
                        room_id: self.id,
                        user_id: msg.who.user,
                        typing: false,
                    }
                    .frame(),
                ),
                Some(msg.who.user),
            );
        }
        self.pending.push(Queued {
            event: NewEvent {
                sender: msg.who.user,
                moderator,
                client_msg_id: msg.client_msg_id,
                kind: msg.kind,
                body: msg.body,
                ciphertext: msg.ciphertext,
                attachments: msg.attachments,
                target_seq: msg.target_seq,
            },
            reply: msg.reply,
        });
        self.flush(ctx);
    }
}

#[derive(Message)]
#[rtype(result = "()")]
pub struct Typing {
    pub who: Principal,
    pub typing: bool,
    pub outbox: Outbox,
    pub reply_id: Option<Value>,
}

impl Handler<Typing> for ChatRoom {
    type Result = ();

    fn handle(&mut self, msg: Typing, _: &mut Context<Self>) {
        if !self.require_member(&msg.who, &msg.outbox, &msg.reply_id) {
            return;
        }
        let was_typing = if msg.typing {
            self.typing.insert(msg.who.user, Instant::now() + TYPING_TTL).is_some()
        } else {
            self.typing.remove(&msg.who.user).is_some()
        };
        // Only changes are news; a refresh just extends the deadline.
        if was_typing != msg.typing {
            self.broadcast(
                &ByteString::from(
                    protocol::Event::Typing {
                        room_id: self.id,
                        user_id: msg.who.user,
                        typing: msg.typing,
                    }
                    .frame(),
                ),
                Some(msg.who.user),
            );
        }
        if msg.reply_id.is_some() {
            msg.outbox
                .text(protocol::ack(&msg.reply_id, json!({"roomId": self.id})));
        }
    }
}

/// Moves the sender's read pointer; members see it as a read receipt.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Read {
    pub who: Principal,
    pub seq: i64,
    pub outbox: Outbox,
    pub reply_id: Option<Value>,
}

impl Handler<Read> for ChatRoom {
    type Result = ();

    fn handle(&mut self, msg: Read, ctx: &mut Context<Self>) {
        if !self.require_member(&msg.who, &msg.outbox, &msg.reply_id) {
            return;
        }
        let pool = self.chat.services.pool.clone();
        let (room, user, seq) = (self.id, msg.who.user, msg.seq);
        let fut = async move { store::mark_read(&pool, room, user, seq).await };
        ctx.spawn(
            actix::fut::wrap_future(fut).map(move |res, act: &mut ChatRoom, _| match res {
                Ok(stored) => {
                    let moved = act.members.get(&user).is_some_and(|m| stored > m.last_read_seq);
                    if let Some(m) = act.members.get_mut(&user) {
                        m.last_read_seq = m.last_read_seq.max(stored);
                    }
                    if moved {
                        act.broadcast(
                            &ByteString::from(
                                protocol::Event::Read {
                                    room_id: room,
                                    user_id: user,
                                    seq: stored,
                                }
                                .frame(),
                            ),
                            None,
                        );
                    }
                    msg.outbox
                        .text(protocol::ack(&msg.reply_id, json!({"roomId": room, "seq": stored})));
                }
                Err(e) => {
                    msg.outbox.text(e.frame(&msg.reply_id));
                }
            }),
        );
    }
}

/// Sent by the HTTP side after it changed the room's membership in the
/// database: joined, invited, left, removed or muted.
#[derive(Message)]
#[rtype(result = "()")]
pub struct MembershipChanged {
    pub user: UserId,
    /// The member as now stored; None when removed.
    pub member: Option<Member>,
}

impl Handler<MembershipChanged> for ChatRoom {
    type Result = ();

    fn handle(&mut self, msg: MembershipChanged, _: &mut Context<Self>) {
        if !matches!(self.state, State::Ready) {
            return;
        }
        match msg.member {
            Some(m) => {
                let new = self.members.insert(msg.user, m).is_none();
                if new {
                    self.broadcast(
                        &ByteString::from(protocol::Event::member(self.id, msg.user, true).frame()),
                        None,
                    );
                }
            }
            None => {
                if self.members.remove(&msg.user).is_none() {
                    return;
                }
                let gone: Vec<u64> = self
                    .subs
                    .iter()
                    .chain(self.catching_up.iter().map(|(k, c)| (k, &c.sub)))
                    .filter(|(_, s)| s.user == msg.user)
                    .map(|(k, _)| *k)
                    .collect();
                for k in gone {
                    if let Some(s) = self
                        .subs
                        .remove(&k)
                        .or_else(|| self.catching_up.remove(&k).map(|c| c.sub))
                    {
                        s.outbox.text(protocol::Event::Removed { room_id: self.id }.frame());
                    }
                }
                self.typing.remove(&msg.user);
                self.broadcast(
                    &ByteString::from(protocol::Event::member(self.id, msg.user, false).frame()),
                    None,
                );
            }
        }
    }
}

/// Whether `who` may read this room (history requests ask before reading).
#[derive(Message)]
#[rtype(result = "Result<(), Error>")]
pub struct MayRead {
    pub who: Principal,
}

impl Handler<MayRead> for ChatRoom {
    type Result = Result<(), Error>;

    fn handle(&mut self, msg: MayRead, _: &mut Context<Self>) -> Self::Result {
        self.last_activity = Instant::now();
        self.may_read(&msg.who)
    }
}

/// Figures for tests and metrics.
#[derive(Message)]
#[rtype(result = "RoomStats")]
pub struct Stats;

#[derive(Debug, Clone, Copy)]
pub struct RoomStats {
    pub subscribers: usize,
    pub committed_seq: i64,
}

impl Handler<Stats> for ChatRoom {
    type Result = MessageResult<Stats>;

    fn handle(&mut self, _: Stats, _: &mut Context<Self>) -> Self::Result {
        MessageResult(RoomStats {
            subscribers: self.subs.len(),
            committed_seq: self.committed_seq,
        })
    }
}
