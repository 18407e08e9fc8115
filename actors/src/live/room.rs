//! LiveRoom: one actor per live room — a group session or webinar (a
//! group offering), a call in a chat room, or a one-on-one call. It decides
//! who may come in and with which role, keeps the participants and their
//! media state, moderates, and relays signalling between the clients and
//! the room's SFU shard (see docs/live.md).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::protocol::{Event, ParticipantInfo};
use actix::prelude::*;
use serde_json::{json, Value};

use super::calls;
use super::Live;
use crate::core::outbox::Outbox;
use crate::core::{rules, Error, Principal};
use crate::protocol;
use lyceum_protocol::{CallId, ErrorCode, LiveId, OfferingId, RoomId, UserId};
use lyceum_sfu::{MediaKindName, Pending, Quality, RoomHandle, SfuEvent, TrackInfo};

/// Commands queued for one live room. Joins and signalling from clients
/// enter through `core::offer` and are refused with `overloaded` beyond this
/// (a webinar's whole audience joining in the same instant); the SFU's
/// events and the server's own notices go in regardless (few, bounded by
/// the participants).
pub const MAILBOX: usize = 1024;

pub use lyceum_protocol::LiveRole;

/// Where a command's answer goes: the client's outbox and the command id.
#[derive(Clone)]
pub struct Reply {
    pub outbox: Outbox,
    pub id: Option<Value>,
}

impl Reply {
    pub fn ok(&self, data: Value) {
        self.outbox.text(protocol::ack(&self.id, data));
    }
    pub fn err(&self, code: ErrorCode, message: impl Into<String>) {
        self.outbox.text(Error::new(code, message).frame(&self.id));
    }
}

/// An event from the room's SFU shard, as a message to its LiveRoom.
#[derive(Message)]
#[rtype(result = "()")]
struct FromSfu(SfuEvent);

/// Writes the ack (`ok` builds its data) or error frame of `user`'s SFU
/// request once its shard answers, then tells the live room ([`Answered`]).
/// Detached, like the calendar's answer in `act`: a live room that ends
/// meanwhile still answers. Until then the live room holds the SFU's offers
/// for that user (see [`LiveRoom::offer_to`]), so an offer the shard sends
/// after answering (a subscribe's, answer's or restart's renegotiation)
/// still reaches the client after the ack, as when the shard wrote acks
/// itself; other participants' requests and events go on meanwhile.
fn reply_when<T: 'static>(
    room: &mut LiveRoom,
    ctx: &mut Context<LiveRoom>,
    user: UserId,
    reply: &Reply,
    pending: Pending<T>,
    ok: impl FnOnce(T) -> Value + 'static,
) {
    *room.in_flight.entry(user).or_default() += 1;
    let reply = reply.clone();
    let addr = ctx.address();
    actix::spawn(async move {
        match pending.await {
            Ok(v) => reply.ok(ok(v)),
            Err(e) => reply.err(e.code(), e.to_string()),
        }
        // One per request; the room may have stopped (then nothing waits).
        addr.do_send(Answered { user });
    });
}

/// A participant's SFU request was answered (its frame is written).
#[derive(Message)]
#[rtype(result = "()")]
struct Answered {
    user: UserId,
}

impl Handler<Answered> for LiveRoom {
    type Result = ();

    fn handle(&mut self, Answered { user }: Answered, _: &mut Context<Self>) {
        let left = match self.in_flight.get_mut(&user) {
            Some(n) => {
                *n = n.saturating_sub(1);
                *n
            }
            None => 0,
        };
        if left == 0 {
            self.in_flight.remove(&user);
            for (sdp, tracks) in self.held_offers.remove(&user).unwrap_or_default() {
                self.offer_to(user, sdp, tracks);
            }
        }
    }
}

#[derive(Debug, Clone)]
pub enum LiveKind {
    /// A group offering: its mentor hosts, confirmed registrants attend.
    Session { mentor: UserId },
    /// A call in a chat room: every member may speak.
    Room,
    /// A one-on-one call between two parties.
    Call { parties: [UserId; 2] },
}

impl LiveKind {
    fn name(&self) -> &'static str {
        match self {
            LiveKind::Session { .. } => "session",
            LiveKind::Room => "room",
            LiveKind::Call { .. } => "call",
        }
    }
}

struct Participant {
    display_name: String,
    role: LiveRole,
    hand: bool,
    audio: bool,
    video: bool,
    screen: bool,
    conn: u64,
    outbox: Outbox,
}

pub struct LiveRoom {
    id: LiveId,
    generation: u64,
    live: Arc<Live>,
    kind: Option<LiveKind>,
    state: String,
    room: Option<RoomHandle>,
    participants: HashMap<UserId, Participant>,
    /// Roles the host granted, kept across a participant's rejoin.
    granted: HashMap<UserId, LiveRole>,
    /// Whom the host removed while this actor ran: refused at once, before
    /// their row in `live_removals` (which outlives the actor) is read.
    removed: HashSet<UserId>,
    speaker: Option<UserId>,
    empty_since: Option<Instant>,
    ended: bool,
    /// SFU requests per participant whose answer is not written yet.
    in_flight: HashMap<UserId, u32>,
    /// The SFU's offers for a participant with a request in flight, sent
    /// (in order) once it is answered. At most a few per participant: the
    /// shard keeps one offer outstanding per subscribe peer.
    held_offers: HashMap<UserId, Vec<(String, Vec<TrackInfo>)>>,
}

impl LiveRoom {
    pub fn new(id: LiveId, generation: u64, live: Arc<Live>, kind: Option<LiveKind>) -> LiveRoom {
        LiveRoom {
            id,
            generation,
            live,
            state: if matches!(kind, Some(LiveKind::Call { .. }) | Some(LiveKind::Room)) {
                "live".into()
            } else {
                "scheduled".into()
            },
            kind,
            room: None,
            participants: HashMap::new(),
            granted: HashMap::new(),
            removed: HashSet::new(),
            speaker: None,
            empty_since: Some(Instant::now()),
            ended: false,
            in_flight: HashMap::new(),
            held_offers: HashMap::new(),
        }
    }

    fn participant_info(&self, user: UserId) -> Option<ParticipantInfo> {
        self.participants.get(&user).map(|p| ParticipantInfo {
            user_id: user,
            display_name: p.display_name.clone(),
            role: p.role,
            hand_raised: p.hand,
            audio: p.audio,
            video: p.video,
            screen: p.screen,
        })
    }

    fn broadcast(&self, frame: &str, except: Option<UserId>) {
        for (u, p) in &self.participants {
            if Some(*u) != except {
                p.outbox.text(frame.to_owned());
            }
        }
    }

    fn updated(&self, user: UserId) {
        if let Some(participant) = self.participant_info(user) {
            let f = Event::ParticipantUpdated {
                session_id: self.id,
                participant,
            }
            .frame();
            self.broadcast(&f, None);
        }
    }

    fn set_participants_metric(&self) {
        if let Some(r) = &self.room {
            r.metrics
                .participants
                .store(self.participants.len() as i64, std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// Takes a participant out: their peers go, the others are told.
    fn drop_participant(&mut self, user: UserId, reason: &'static str, tell_them: bool) {
        let Some(p) = self.participants.remove(&user) else {
            return;
        };
        if let Some(r) = &self.room {
            r.remove(user, false);
        }
        if tell_them {
            p.outbox.text(Event::session_ended(self.id, reason).frame());
        }
        let f = Event::ParticipantLeft {
            session_id: self.id,
            user_id: user,
            reason: reason.to_owned(),
        }
        .frame();
        self.broadcast(&f, None);
        if self.participants.is_empty() {
            self.empty_since = Some(Instant::now());
        }
        self.set_participants_metric();
        if let Some(LiveKind::Call { .. }) = self.kind {
            // A call is over when either party goes.
            self.live.calls().do_send(calls::RoomClosed {
                call_id: CallId(self.id.0),
            });
        }
    }

    fn end(&mut self, ctx: &mut Context<Self>, reason: &'static str) {
        self.ended = true;
        let f = Event::session_ended(self.id, reason).frame();
        self.broadcast(&f, None);
        self.participants.clear();
        self.room = None;
        ctx.stop();
    }

    /// The caller's participant entry, if this WebSocket connection joined.
    fn member(&self, user: UserId, conn: u64) -> Result<&Participant, Error> {
        self.participants
            .get(&user)
            .filter(|p| p.conn == conn)
            .ok_or_else(|| Error::new(ErrorCode::NotInSession, "join the session first"))
    }

    fn host_only(&self, user: UserId, conn: u64) -> Result<(), Error> {
        let p = self.member(user, conn)?;
        if p.role != LiveRole::Host {
            return Err(Error::new(ErrorCode::Forbidden, "only the host may do this"));
        }
        Ok(())
    }

    fn admit(&mut self, who: Principal, conn: u64, outbox: Outbox, reply: Reply, role: LiveRole) {
        if self.ended {
            return reply.err(ErrorCode::SessionNotFound, "this session has ended");
        }
        let role = self.granted.get(&who.user).copied().unwrap_or(role);
        if let Some(old) = self.participants.get(&who.user) {
            if old.conn != conn {
                old.outbox
                    .text(Event::session_ended(self.id, "joined_elsewhere").frame());
            }
            if let Some(r) = &self.room {
                r.remove(who.user, false);
            }
        }
        let rejoin = self.participants.contains_key(&who.user);
        self.participants.insert(
            who.user,
            Participant {
                display_name: who.display_name.clone(),
                role,
                hand: false,
                audio: false,
                video: false,
                screen: false,
                conn,
                outbox,
            },
        );
        self.empty_since = None;
        self.set_participants_metric();
        let participants: Vec<ParticipantInfo> = self
            .participants
            .keys()
            .filter_map(|u| self.participant_info(*u))
            .collect();
        let kind = self.kind.as_ref().map(|k| k.name()).unwrap_or("session");
        reply.ok(
            json!({"sessionId": self.id, "kind": kind, "role": role, "state": self.state,
                        "participants": participants, "activeSpeaker": self.speaker}),
        );
        if let Some(participant) = self.participant_info(who.user) {
            let session_id = self.id;
            let f = if rejoin {
                Event::ParticipantUpdated {
                    session_id,
                    participant,
                }
            } else {
                Event::ParticipantJoined {
                    session_id,
                    participant,
                }
            }
            .frame();
            self.broadcast(&f, Some(who.user));
        }
    }
}

impl Actor for LiveRoom {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.set_mailbox_capacity(MAILBOX);
        if self.kind.is_none() {
            // Which kind of room this id names; every message waits for it.
            let pool = self.live.services.pool.clone();
            let id = self.id;
            let fut = async move {
                let client = pool.get().await?;
                if let Some(r) = client
                    .query_opt(
                        "SELECT mentor_id, state FROM offerings WHERE id = $1 AND kind = 'group'",
                        &[&id],
                    )
                    .await?
                {
                    return Ok::<_, Error>(Some((
                        LiveKind::Session {
                            mentor: UserId(r.get(0)),
                        },
                        r.get::<_, String>(1),
                    )));
                }
                if client
                    .query_opt("SELECT 1 FROM rooms WHERE id = $1", &[&id])
                    .await?
                    .is_some()
                {
                    return Ok(Some((LiveKind::Room, "live".to_owned())));
                }
                Ok(None)
            };
            ctx.wait(
                actix::fut::wrap_future(fut).map(|res, act: &mut LiveRoom, _| match res {
                    Ok(Some((kind, state))) => {
                        act.kind = Some(kind);
                        act.state = state;
                    }
                    Ok(None) => {}
                    Err(e) => tracing::warn!(error = %e, "loading a live room"),
                }),
            );
        }
        // Checked a few times per grace so a short grace (tests) stops soon.
        let grace = self.live.services.limits.live_empty_grace;
        let every = (grace / 6).clamp(Duration::from_millis(50), Duration::from_secs(5));
        ctx.run_interval(every, move |act, ctx| {
            let idle = act.empty_since.is_some_and(|t| t.elapsed() >= grace);
            if act.participants.is_empty() && (idle || act.kind.is_none()) {
                ctx.stop();
            }
        });
    }

    fn stopping(&mut self, _: &mut Context<Self>) -> Running {
        if let Some(LiveKind::Call { .. }) = self.kind {
            self.live.calls().do_send(calls::RoomClosed {
                call_id: CallId(self.id.0),
            });
        }
        Running::Stop
    }

    fn stopped(&mut self, _: &mut Context<Self>) {
        self.room = None;
        self.live.forget_room(self.id, self.generation);
    }
}

/// Asks to come in.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Join {
    pub who: Principal,
    pub conn: u64,
    pub reply: Reply,
}

impl Handler<Join> for LiveRoom {
    type Result = ();

    fn handle(&mut self, msg: Join, ctx: &mut Context<Self>) {
        let Join { who, conn, reply } = msg;
        let Some(kind) = self.kind.clone() else {
            return reply.err(ErrorCode::SessionNotFound, "no such session, room or call");
        };
        if let Err(e) = rules::guest_confined(&who, None, "join live sessions") {
            return reply.err(e.code, e.message);
        }
        if self.removed.contains(&who.user) {
            return reply.err(ErrorCode::Forbidden, "the host removed you from this session");
        }
        if self.room.is_none() {
            if let Some(sfu) = self.live.sfu() {
                let addr = ctx.address();
                let events = std::sync::Arc::new(move |ev| addr.do_send(FromSfu(ev)));
                self.room = Some(sfu.open_room(self.id.0, kind.name(), events));
            }
        }
        let pool = self.live.services.pool.clone();
        let membership = self.live.membership.clone();
        let id = self.id;
        let user = who.user;
        let fut = async move {
            // A removal outlives this actor (it stops once the room stands
            // empty), so every join reads it.
            let client = pool.get().await?;
            if client
                .query_opt(
                    "SELECT 1 FROM live_removals WHERE live_id = $1 AND user_id = $2",
                    &[&id, &user],
                )
                .await?
                .is_some()
            {
                return Err(Error::new(
                    ErrorCode::Forbidden,
                    "the host removed you from this session",
                ));
            }
            drop(client);
            match kind {
                LiveKind::Call { parties } => {
                    if parties.contains(&user) {
                        // A one-on-one slot meets in a call: the mentee
                        // joining a call with the slot's mentor while the
                        // slot is on (from 15 minutes before) attended it.
                        let other = if parties[0] == user { parties[1] } else { parties[0] };
                        let client = pool.get().await?;
                        client
                            .execute(
                                "UPDATE bookings b SET attended_at = now(), attended_source = 'live'
                                   FROM offerings o
                                  WHERE o.id = b.offering_id AND o.kind = 'slot' AND o.mentor_id = $2
                                    AND o.state <> 'cancelled'
                                    AND now() BETWEEN o.starts_at - interval '15 minutes' AND o.ends_at
                                    AND b.mentee_id = $1 AND b.status = 'confirmed' AND b.attended_at IS NULL",
                                &[&user.0, &other.0],
                            )
                            .await?;
                        Ok((LiveRole::Speaker, None))
                    } else {
                        Err(Error::new(
                            ErrorCode::Forbidden,
                            "this call is between two other people",
                        ))
                    }
                }
                LiveKind::Room => match membership.is_member(RoomId(id.0), user).await? {
                    true => Ok((LiveRole::Speaker, None)),
                    false => Err(Error::not_member()),
                },
                LiveKind::Session { mentor } => {
                    let client = pool.get().await?;
                    let r = client
                        .query_one(
                            "SELECT o.state, EXISTS (SELECT 1 FROM bookings b WHERE b.offering_id = o.id AND b.mentee_id = $2
                                                        AND b.status = 'confirmed')
                               FROM offerings o WHERE o.id = $1",
                            &[&id, &user.0],
                        )
                        .await?;
                    let (state, registered): (String, bool) = (r.get(0), r.get(1));
                    if state == "completed" || state == "cancelled" {
                        return Err(Error::new(
                            ErrorCode::SessionNotLive,
                            format!("this session is {state}"),
                        ));
                    }
                    if user == mentor {
                        return Ok((LiveRole::Host, Some(state)));
                    }
                    if !registered {
                        return Err(Error::new(
                            ErrorCode::NotRegistered,
                            "only the mentor and confirmed registrants may join",
                        ));
                    }
                    if state != "live" {
                        return Err(Error::new(
                            ErrorCode::SessionNotLive,
                            "the host has not started this session yet",
                        ));
                    }
                    // Being let in is attendance (issue 17: reviews need
                    // it); the first join, or the mentor's mark, wins.
                    client
                        .execute(
                            "UPDATE bookings SET attended_at = now(), attended_source = 'live'
                              WHERE offering_id = $1 AND mentee_id = $2 AND status = 'confirmed'
                                AND attended_at IS NULL",
                            &[&id, &user.0],
                        )
                        .await?;
                    Ok((LiveRole::Attendee, Some(state)))
                }
            }
        };
        let outbox = reply.outbox.clone();
        ctx.spawn(
            actix::fut::wrap_future(fut).map(move |res, act: &mut LiveRoom, _| match res {
                Ok((role, state)) => {
                    if let Some(s) = state {
                        act.state = s;
                    }
                    act.admit(who, conn, outbox, reply, role)
                }
                Err(e) => reply.err(e.code, e.message),
            }),
        );
    }
}

/// Leaves (a command, or the WebSocket closed).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Leave {
    pub user: UserId,
    pub conn: u64,
    pub reply: Option<Reply>,
}

impl Handler<Leave> for LiveRoom {
    type Result = ();

    fn handle(&mut self, msg: Leave, _: &mut Context<Self>) {
        if self.participants.get(&msg.user).is_some_and(|p| p.conn == msg.conn) {
            self.drop_participant(msg.user, "left", false);
        }
        if let Some(r) = msg.reply {
            r.ok(json!({"sessionId": self.id}));
        }
    }
}

/// Everything a joined participant may ask once in.
pub enum Action {
    Publish {
        sdp: String,
        sources: HashMap<String, String>,
    },
    Subscribe,
    Answer {
        sdp: String,
    },
    Restart,
    Quality(Quality),
    MediaState {
        audio: bool,
        video: bool,
        screen: bool,
    },
    RaiseHand(bool),
    SetRole {
        target: UserId,
        role: LiveRole,
    },
    Mute {
        target: UserId,
        kind: MediaKindName,
    },
    Remove {
        target: UserId,
    },
    Start,
    End,
}

#[derive(Message)]
#[rtype(result = "()")]
pub struct Act {
    pub user: UserId,
    pub conn: u64,
    pub action: Action,
    pub reply: Reply,
}

impl Handler<Act> for LiveRoom {
    type Result = ();

    fn handle(&mut self, msg: Act, ctx: &mut Context<Self>) {
        let Act {
            user,
            conn,
            action,
            reply,
        } = msg;
        if let Err(e) = self.act(user, conn, action, &reply, ctx) {
            reply.err(e.code, e.message);
        }
    }
}

impl LiveRoom {
    fn sfu_room(&self) -> Result<&RoomHandle, Error> {
        self.room
            .as_ref()
            .ok_or_else(|| Error::new(ErrorCode::SfuUnavailable, "media is not available on this server"))
    }

    fn act(
        &mut self,
        user: UserId,
        conn: u64,
        action: Action,
        reply: &Reply,
        ctx: &mut Context<Self>,
    ) -> Result<(), Error> {
        let me = self.member(user, conn)?;
        let my_role = me.role;
        match action {
            Action::Publish { sdp, sources } => {
                if !my_role.publishes() {
                    return Err(Error::new(
                        ErrorCode::Forbidden,
                        "attendees only receive; raise your hand to speak",
                    ));
                }
                let p = self.sfu_room()?.publish(user, sdp, sources);
                reply_when(self, ctx, user, reply, p, |r| json!({"sdp": r.sdp}));
            }
            Action::Subscribe => {
                let p = self.sfu_room()?.subscribe(user);
                reply_when(self, ctx, user, reply, p, |r| json!({"sdp": r.sdp, "tracks": r.tracks}));
            }
            Action::Answer { sdp } => {
                let p = self.sfu_room()?.answer(user, sdp);
                reply_when(self, ctx, user, reply, p, |()| json!({}));
            }
            Action::Restart => {
                let p = self.sfu_room()?.restart(user);
                reply_when(self, ctx, user, reply, p, |()| json!({}));
            }
            Action::Quality(q) => {
                self.sfu_room()?.quality(user, q);
                reply.ok(json!({}));
            }
            Action::MediaState { audio, video, screen } => {
                if let Some(r) = &self.room {
                    // Turning one's own microphone or camera back on lifts a host's mute.
                    if audio {
                        r.block(user, MediaKindName::Audio, false);
                    }
                    if video {
                        r.block(user, MediaKindName::Video, false);
                    }
                }
                if let Some(p) = self.participants.get_mut(&user) {
                    (p.audio, p.video, p.screen) = (audio, video, screen);
                }
                reply.ok(json!({}));
                self.updated(user);
            }
            Action::RaiseHand(raised) => {
                if let Some(p) = self.participants.get_mut(&user) {
                    p.hand = raised;
                }
                reply.ok(json!({}));
                self.updated(user);
            }
            Action::SetRole { target, role } => {
                self.host_only(user, conn)?;
                if role == LiveRole::Host {
                    return Err(Error::new(ErrorCode::InvalidCommand, "a session has one host"));
                }
                let Some(p) = self.participants.get_mut(&target) else {
                    return Err(Error::new(ErrorCode::NotInSession, "that user is not in the session"));
                };
                if p.role == LiveRole::Host {
                    return Err(Error::new(ErrorCode::Forbidden, "the host's role cannot change"));
                }
                p.role = role;
                p.hand = false;
                if role == LiveRole::Attendee {
                    (p.audio, p.video, p.screen) = (false, false, false);
                    if let Some(r) = &self.room {
                        r.remove(target, true);
                    }
                }
                self.granted.insert(target, role);
                reply.ok(json!({}));
                self.updated(target);
            }
            Action::Mute { target, kind } => {
                self.host_only(user, conn)?;
                let Some(p) = self.participants.get_mut(&target) else {
                    return Err(Error::new(ErrorCode::NotInSession, "that user is not in the session"));
                };
                match kind {
                    MediaKindName::Audio => p.audio = false,
                    MediaKindName::Video => p.video = false,
                }
                p.outbox.text(
                    Event::Muted {
                        session_id: self.id,
                        kind,
                        by: user,
                    }
                    .frame(),
                );
                self.sfu_room()?.block(target, kind, true);
                reply.ok(json!({}));
                self.updated(target);
            }
            Action::Remove { target } => {
                self.host_only(user, conn)?;
                if target == user {
                    return Err(Error::new(ErrorCode::InvalidCommand, "leave instead"));
                }
                if !self.participants.contains_key(&target) {
                    return Err(Error::new(ErrorCode::NotInSession, "that user is not in the session"));
                }
                self.removed.insert(target);
                self.drop_participant(target, "removed", true);
                // Stored before the ack, so a removal acknowledged to the
                // host holds after this actor stops.
                let pool = self.live.services.pool.clone();
                let id = self.id;
                let fut = async move {
                    pool.get()
                        .await?
                        .execute(
                            "INSERT INTO live_removals (live_id, user_id, removed_by) VALUES ($1, $2, $3)
                             ON CONFLICT DO NOTHING",
                            &[&id, &target, &user],
                        )
                        .await?;
                    Ok::<_, Error>(())
                };
                let reply = reply.clone();
                ctx.spawn(
                    actix::fut::wrap_future(fut).map(move |res, _: &mut LiveRoom, _| match res {
                        Ok(()) => reply.ok(json!({})),
                        Err(e) => reply.err(e.code, e.message),
                    }),
                );
            }
            Action::Start | Action::End => {
                self.host_only(user, conn)?;
                let Some(LiveKind::Session { mentor }) = self.kind else {
                    return Err(Error::new(
                        ErrorCode::InvalidCommand,
                        "only scheduled sessions start and end",
                    ));
                };
                let to = if matches!(action, Action::Start) {
                    "live"
                } else {
                    "completed"
                };
                let set = self.live.offerings.set_state(mentor, OfferingId(self.id.0), to);
                let id = self.id;
                let reply = reply.clone();
                // Detached: ending the group session stops this actor before the
                // calendar's answer comes back, and the host still gets it.
                actix::spawn(async move {
                    match set.await {
                        Ok(()) => reply.ok(json!({"sessionId": id, "state": to})),
                        Err(e) => reply.err(e.code, e.message),
                    }
                });
            }
        }
        Ok(())
    }
}

/// The offering's state changed (from the calendar, whoever asked).
#[derive(Message)]
#[rtype(result = "()")]
pub struct StateChanged {
    pub state: &'static str,
}

impl Handler<StateChanged> for LiveRoom {
    type Result = ();

    fn handle(&mut self, msg: StateChanged, ctx: &mut Context<Self>) {
        self.state = msg.state.to_owned();
        let f = Event::SessionState {
            session_id: self.id,
            state: msg.state.to_owned(),
        }
        .frame();
        self.broadcast(&f, None);
        if msg.state == "completed" || msg.state == "cancelled" {
            self.end(ctx, "ended");
        }
    }
}

/// Ends the room for everyone (a call hung up).
#[derive(Message)]
#[rtype(result = "()")]
pub struct End;

impl Handler<End> for LiveRoom {
    type Result = ();

    fn handle(&mut self, _: End, ctx: &mut Context<Self>) {
        self.end(ctx, "ended");
    }
}

impl LiveRoom {
    /// An `rtc_offer` for a participant's subscribe connection.
    fn offer_to(&self, user: UserId, sdp: String, tracks: Vec<TrackInfo>) {
        if let Some(p) = self.participants.get(&user) {
            p.outbox.text(
                Event::RtcOffer {
                    session_id: self.id,
                    sdp,
                    tracks,
                }
                .frame(),
            );
        }
    }
}

impl Handler<FromSfu> for LiveRoom {
    type Result = ();

    fn handle(&mut self, FromSfu(ev): FromSfu, _: &mut Context<Self>) {
        match ev {
            SfuEvent::Offer { user, sdp, tracks } => {
                if self.in_flight.contains_key(&user) {
                    self.held_offers.entry(user).or_default().push((sdp, tracks));
                } else {
                    self.offer_to(user, sdp, tracks);
                }
            }
            SfuEvent::ActiveSpeaker { user } => {
                self.speaker = user;
                let f = Event::ActiveSpeaker {
                    session_id: self.id,
                    user_id: user,
                }
                .frame();
                self.broadcast(&f, None);
            }
            SfuEvent::PeerGone { user, reason, .. } => {
                tracing::info!(conn = %self.id, user = %user, reason, "participant's connection lost");
                self.drop_participant(user, "connection_lost", true);
            }
        }
    }
}
