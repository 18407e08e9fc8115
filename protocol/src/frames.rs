//! The WebSocket wire protocol, version 1 (see docs/protocol.md).
//!
//! Client frames are JSON objects with a `type`, an optional `id` (any JSON
//! string or number, echoed in the `ack` or `error` that answers it) and the
//! command's fields in camelCase. Server frames are JSON objects with a `type`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::error::ErrorCode;
use crate::ids::{CallId, LiveId, RoomId, UserId};
use crate::media::{LiveRole, MediaKind, Quality, TrackInfo};

pub const PROTOCOL_VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(
    tag = "type",
    rename_all = "snake_case",
    rename_all_fields = "camelCase",
    deny_unknown_fields
)]
pub enum Command {
    /// Start receiving a room's events; with `afterSeq`, first everything
    /// committed after it (resume).
    Subscribe {
        room_id: RoomId,
        after_seq: Option<i64>,
    },
    Unsubscribe {
        room_id: RoomId,
    },
    Send {
        room_id: RoomId,
        /// Makes the send idempotent: a resend returns the original seq.
        client_msg_id: Option<String>,
        body: Option<String>,
        ciphertext: Option<String>,
        #[serde(default)]
        attachments: Vec<Uuid>,
    },
    Edit {
        room_id: RoomId,
        seq: i64,
        body: Option<String>,
        ciphertext: Option<String>,
    },
    Delete {
        room_id: RoomId,
        seq: i64,
    },
    Typing {
        room_id: RoomId,
        typing: bool,
    },
    Read {
        room_id: RoomId,
        seq: i64,
    },
    History {
        room_id: RoomId,
        before: Option<i64>,
        after: Option<i64>,
        limit: Option<i64>,
    },
    /// Receive `slot_created` / `slot_updated` / `slot_deleted` for a mentor.
    WatchCalendar {
        mentor_id: UserId,
    },
    UnwatchCalendar {
        mentor_id: UserId,
    },
    /// Receive `thread_updated` for an open board thread (docs/protocol.md).
    WatchThread {
        thread_id: uuid::Uuid,
    },
    UnwatchThread {
        thread_id: uuid::Uuid,
    },
    /// Extends the session with a fresh access token of the same user.
    Reauth {
        token: String,
    },
    // ---- live rooms (docs/live.md) ----
    SessionJoin {
        session_id: LiveId,
    },
    SessionLeave {
        session_id: LiveId,
    },
    SessionStart {
        session_id: LiveId,
    },
    SessionEnd {
        session_id: LiveId,
    },
    RtcPublish {
        session_id: LiveId,
        sdp: String,
        #[serde(default)]
        sources: std::collections::HashMap<String, String>,
    },
    RtcSubscribe {
        session_id: LiveId,
    },
    RtcAnswer {
        session_id: LiveId,
        sdp: String,
    },
    RtcRestart {
        session_id: LiveId,
    },
    RtcQuality {
        session_id: LiveId,
        quality: Quality,
    },
    MediaState {
        session_id: LiveId,
        audio: bool,
        video: bool,
        #[serde(default)]
        screen: bool,
    },
    RaiseHand {
        session_id: LiveId,
        raised: bool,
    },
    SetRole {
        session_id: LiveId,
        user_id: UserId,
        role: LiveRole,
    },
    Mute {
        session_id: LiveId,
        user_id: UserId,
        kind: MediaKind,
    },
    Remove {
        session_id: LiveId,
        user_id: UserId,
    },
    CallInvite {
        user_id: UserId,
        #[serde(default = "yes")]
        video: bool,
    },
    CallAccept {
        call_id: CallId,
    },
    CallDecline {
        call_id: CallId,
    },
    CallCancel {
        call_id: CallId,
    },
    CallHangup {
        call_id: CallId,
    },
    Ping,
}

fn yes() -> bool {
    true
}

impl Command {
    /// The wire `type` of every variant, in declaration order. A test below
    /// checks it against serde's own list of variants, so a new command
    /// cannot be left out (tests/api/authz.rs then fails until it has rows).
    pub const TYPES: &'static [&'static str] = &[
        "subscribe",
        "unsubscribe",
        "send",
        "edit",
        "delete",
        "typing",
        "read",
        "history",
        "watch_calendar",
        "unwatch_calendar",
        "watch_thread",
        "unwatch_thread",
        "reauth",
        "session_join",
        "session_leave",
        "session_start",
        "session_end",
        "rtc_publish",
        "rtc_subscribe",
        "rtc_answer",
        "rtc_restart",
        "rtc_quality",
        "media_state",
        "raise_hand",
        "set_role",
        "mute",
        "remove",
        "call_invite",
        "call_accept",
        "call_decline",
        "call_cancel",
        "call_hangup",
        "ping",
    ];
}

/// A parsed client frame: the command and the id to answer it with.
#[derive(Debug)]
pub struct Envelope {
    pub id: Option<Value>,
    pub command: Command,
}

/// Why a text frame could not be taken as a command.
#[derive(Debug, Clone, PartialEq)]
pub struct FrameError {
    /// The frame's `id`, if one could be read (the error echoes it; with
    /// none it carries `"id": null`).
    pub id: Option<Value>,
    /// `invalid_frame`, or `invalid_text` for a NUL character.
    pub code: ErrorCode,
    pub message: String,
}

impl FrameError {
    fn new(id: Option<Value>, code: ErrorCode, message: impl Into<String>) -> Self {
        FrameError {
            id,
            code,
            message: message.into(),
        }
    }
}

/// Whether any string in a JSON value (object keys included) contains a NUL
/// character (U+0000). No field of Lyceum accepts one: Postgres cannot store
/// it in text, and it is never a user's intent.
pub fn has_nul(v: &Value) -> bool {
    match v {
        Value::String(s) => s.contains('\0'),
        Value::Array(a) => a.iter().any(has_nul),
        Value::Object(o) => o.iter().any(|(k, v)| k.contains('\0') || has_nul(v)),
        _ => false,
    }
}

/// Parses one text frame. On failure, returns the id (if one could be read)
/// so the error can still be correlated.
pub fn parse(text: &str) -> Result<Envelope, FrameError> {
    let mut v: Value = serde_json::from_str(text)
        .map_err(|e| FrameError::new(None, ErrorCode::InvalidFrame, format!("not JSON: {e}")))?;
    let obj = v
        .as_object_mut()
        .ok_or_else(|| FrameError::new(None, ErrorCode::InvalidFrame, "a frame must be a JSON object"))?;
    let id = obj.remove("id");
    if let Some(id) = &id {
        let ok = match id {
            Value::String(s) => s.len() <= 64 && !s.contains('\0'),
            Value::Number(_) => true,
            _ => false,
        };
        if !ok {
            return Err(FrameError::new(
                None,
                ErrorCode::InvalidFrame,
                "`id` must be a string of at most 64 characters (no NUL) or a number",
            ));
        }
    }
    if has_nul(&v) {
        return Err(FrameError::new(
            id,
            ErrorCode::InvalidText,
            "text must not contain NUL (U+0000) characters",
        ));
    }
    match serde_json::from_value::<Command>(v) {
        Ok(command) => Ok(Envelope { id, command }),
        Err(e) => Err(FrameError::new(id, ErrorCode::InvalidFrame, e.to_string())),
    }
}

/// One entry of a room's ordered stream, as stored and as sent. Clients
/// read it back from a `message` frame (the frame's `type` is ignored) or
/// from a `history` ack's `messages`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageEvent {
    pub room_id: RoomId,
    pub seq: i64,
    /// `message`, `edit` (of `targetSeq`) or `delete` (of `targetSeq`).
    pub kind: String,
    pub sender_id: Option<UserId>,
    pub sender_name: Option<String>,
    pub client_msg_id: Option<String>,
    pub body: Option<String>,
    pub ciphertext: Option<String>,
    #[serde(default)]
    pub attachments: Value,
    pub target_seq: Option<i64>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// When a `message` was last edited or deleted: filled in history
    /// (live events carry the change as its own `edit`/`delete` event, and
    /// these as null).
    #[serde(default)]
    pub edited_at: Option<chrono::DateTime<chrono::Utc>>,
    #[serde(default)]
    pub deleted_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl MessageEvent {
    /// The `message` frame for this event, serialised in one pass (it is
    /// built once per message and shared by every subscriber).
    pub fn frame(&self) -> String {
        #[derive(Serialize)]
        struct Frame<'a> {
            r#type: &'static str,
            #[serde(flatten)]
            event: &'a MessageEvent,
        }
        serde_json::to_string(&Frame {
            r#type: "message",
            event: self,
        })
        .unwrap_or_default()
    }
}

/// Answers command `id`: `{"type": "ack", "id": ..., ...data}`; `data` is a
/// JSON object whose fields join the frame's. A command sent without an
/// `id` is answered without one (`"id": null` is kept for frames that could
/// not be read as a command: pass `Some(Value::Null)`).
pub fn ack(id: &Option<Value>, data: Value) -> String {
    let mut v = json!({"type": "ack"});
    if let Some(o) = v.as_object_mut() {
        if let Some(id) = id {
            o.insert("id".to_owned(), id.clone());
        }
        if let Value::Object(d) = data {
            o.extend(d);
        }
    }
    v.to_string()
}

/// Refuses command `id`: `{"type": "error", "id": ..., "code": ..., "message": ...}`
/// (no `id` when the command had none, as for [`ack`]).
pub fn error(id: &Option<Value>, code: ErrorCode, message: &str) -> String {
    let mut v = json!({"type": "error", "code": code.as_str(), "message": message});
    if let (Some(o), Some(id)) = (v.as_object_mut(), id) {
        o.insert("id".to_owned(), id.clone());
    }
    v.to_string()
}

/// A participant of a live room, as every frame about one shows them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ParticipantInfo {
    pub user_id: UserId,
    pub display_name: String,
    pub role: LiveRole,
    pub hand_raised: bool,
    pub audio: bool,
    pub video: bool,
    pub screen: bool,
}

/// Who rings, in `call_incoming`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Caller {
    pub user_id: UserId,
    pub display_name: String,
}

/// Every event the server pushes that is not an `ack`, `error` or
/// `message` (see [`MessageEvent::frame`]). Serialised with its `type`
/// first and its fields in camelCase; a `None` is sent as `null`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", rename_all_fields = "camelCase")]
pub enum Event {
    /// The first frame of every connection.
    Hello {
        protocol: u32,
        session_id: u64,
        user_id: UserId,
        heartbeat_secs: u64,
    },
    /// The access token behind the connection expired; it closes with 4003.
    SessionExpired,
    /// The access token behind the connection was revoked; it closes with
    /// 4004. `reason`: `signed_out`, `refresh_token_reused`,
    /// `signed_out_everywhere` or `role_changed`.
    SessionRevoked {
        reason: String,
    },
    Typing {
        room_id: RoomId,
        user_id: UserId,
        typing: bool,
    },
    Read {
        room_id: RoomId,
        user_id: UserId,
        seq: i64,
    },
    Presence {
        user_id: UserId,
        online: bool,
        last_seen: Option<DateTime<Utc>>,
    },
    MemberJoined {
        room_id: RoomId,
        user_id: UserId,
    },
    MemberLeft {
        room_id: RoomId,
        user_id: UserId,
    },
    /// You were removed from the room (or left it on another connection).
    Removed {
        room_id: RoomId,
    },
    /// You were added to a room.
    RoomAdded {
        room_id: RoomId,
    },
    /// A user you share a direct conversation with (or you, on another
    /// device) published a new device key: encrypt to it from now on, and
    /// compare its fingerprint.
    DeviceAdded {
        user_id: UserId,
        device_id: String,
        fingerprint: String,
    },
    // ---- calendar (docs/protocol.md, calendar events) ----
    SlotCreated {
        mentor_id: UserId,
        reason: Option<String>,
        reasons: Vec<String>,
        slot: Value,
    },
    SlotUpdated {
        mentor_id: UserId,
        reason: Option<String>,
        reasons: Vec<String>,
        slot: Value,
    },
    SlotDeleted {
        mentor_id: UserId,
        reason: Option<String>,
        reasons: Vec<String>,
        slot: Value,
    },
    BookingPromoted {
        booking_id: Value,
        slot: Option<Value>,
    },
    BookingCancelled {
        reason: String,
        slot: Option<Value>,
    },
    /// An in-app notification (a reminder, a board reply, ...).
    Notification {
        id: Value,
        kind: String,
        payload: Value,
    },
    /// A change of a watched board thread: `change` is `reply`, `edit`,
    /// `vote`, `accepted`, `post_hidden`, `post_unhidden`, `post_deleted`
    /// or `thread` (locked, hidden, moved ...).
    ThreadUpdated {
        thread_id: uuid::Uuid,
        change: String,
        payload: Value,
    },
    // ---- live rooms (docs/live.md) ----
    ParticipantJoined {
        session_id: LiveId,
        participant: ParticipantInfo,
    },
    ParticipantUpdated {
        session_id: LiveId,
        participant: ParticipantInfo,
    },
    ParticipantLeft {
        session_id: LiveId,
        user_id: UserId,
        reason: String,
    },
    /// The live room ended for you: `ended`, `removed`, `joined_elsewhere`
    /// or `connection_lost`.
    SessionEnded {
        session_id: LiveId,
        reason: String,
    },
    SessionState {
        session_id: LiveId,
        state: String,
    },
    Muted {
        session_id: LiveId,
        kind: MediaKind,
        by: UserId,
    },
    /// A renegotiation offer for your subscribe connection.
    RtcOffer {
        session_id: LiveId,
        sdp: String,
        tracks: Vec<TrackInfo>,
    },
    ActiveSpeaker {
        session_id: LiveId,
        user_id: Option<UserId>,
    },
    // ---- calls ----
    CallIncoming {
        call_id: CallId,
        video: bool,
        from: Caller,
    },
    CallRinging {
        call_id: CallId,
    },
    CallAccepted {
        call_id: CallId,
        session_id: LiveId,
    },
    CallEnded {
        call_id: CallId,
        reason: String,
    },
}

impl Event {
    /// The text frame for this event.
    pub fn frame(&self) -> String {
        // Serialising plain data (strings, numbers, ids) cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    pub fn hello(session_id: u64, user: UserId, heartbeat_secs: u64) -> Event {
        Event::Hello {
            protocol: PROTOCOL_VERSION,
            session_id,
            user_id: user,
            heartbeat_secs,
        }
    }

    /// `member_joined` or `member_left`.
    pub fn member(room_id: RoomId, user_id: UserId, joined: bool) -> Event {
        if joined {
            Event::MemberJoined { room_id, user_id }
        } else {
            Event::MemberLeft { room_id, user_id }
        }
    }

    /// `session_ended` with its reason: the one shape of that frame.
    pub fn session_ended(session_id: LiveId, reason: &str) -> Event {
        Event::SessionEnded {
            session_id,
            reason: reason.to_owned(),
        }
    }
}

/// Any server frame, as a client reads it.
#[derive(Debug, Clone)]
pub enum ServerFrame {
    Ack {
        id: Option<Value>,
        data: Value,
    },
    Error {
        id: Option<Value>,
        code: String,
        message: String,
    },
    Message(Value),
    Event(Event),
    /// A frame this version of the protocol does not know (newer servers may
    /// add events; clients ignore them).
    Other(Value),
}

impl ServerFrame {
    /// Reads one text frame from the server.
    pub fn parse(text: &str) -> Result<ServerFrame, serde_json::Error> {
        serde_json::from_str(text).map(ServerFrame::from_value)
    }

    /// Classifies a frame already read as JSON (a client that also keeps the
    /// raw value parses the text once).
    pub fn from_value(v: Value) -> ServerFrame {
        match v.get("type").and_then(Value::as_str) {
            Some("ack") => ServerFrame::Ack {
                id: v.get("id").cloned().filter(|i| !i.is_null()),
                data: v,
            },
            Some("error") => ServerFrame::Error {
                id: v.get("id").cloned().filter(|i| !i.is_null()),
                code: v["code"].as_str().unwrap_or_default().to_owned(),
                message: v["message"].as_str().unwrap_or_default().to_owned(),
            },
            Some("message") => ServerFrame::Message(v),
            _ => match serde_json::from_value::<Event>(v.clone()) {
                Ok(e) => ServerFrame::Event(e),
                Err(_) => ServerFrame::Other(v),
            },
        }
    }
}

/// A client frame: a command with the id its answer will carry.
pub fn command_frame(id: Option<Value>, command: &Command) -> String {
    let mut v = serde_json::to_value(command).unwrap_or(Value::Null);
    if let (Some(o), Some(id)) = (v.as_object_mut(), id) {
        o.insert("id".to_owned(), id);
    }
    v.to_string()
}

#[cfg(test)]
mod tests {
    /// `Command::TYPES` is exactly serde's list of variants (read from the
    /// error serde gives for an unknown `type`, which names every one).
    #[test]
    fn command_types_are_every_variant() {
        let err = serde_json::from_str::<super::Command>(r#"{"type":"no_such_command"}"#)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        let list = err
            .split("expected one of ")
            .nth(1)
            .unwrap_or_else(|| panic!("serde's error names the variants: {err}"));
        let list = list.split(" at line").next().unwrap_or(list);
        let serde_types: Vec<&str> = list.split(", ").map(|t| t.trim_matches('`')).collect();
        assert_eq!(serde_types, super::Command::TYPES);
    }

    use super::*;

    #[test]
    fn parses_commands_with_ids() {
        let room = Uuid::new_v4();
        let e = parse(&format!(
            r#"{{"id":"c1","type":"send","roomId":"{room}","clientMsgId":"m1","body":"hi"}}"#
        ))
        .unwrap();
        assert_eq!(e.id, Some(json!("c1")));
        assert!(matches!(e.command, Command::Send { ref body, .. } if body.as_deref() == Some("hi")));
        let e = parse(r#"{"id": 7, "type": "ping"}"#).unwrap();
        assert_eq!(e.id, Some(json!(7)));
    }

    #[test]
    fn events_keep_their_wire_shape() {
        let u = UserId::new_random();
        let live = LiveId::new_random();
        let v: Value = serde_json::from_str(&Event::session_ended(live, "removed").frame()).unwrap();
        assert_eq!(
            v,
            json!({"type": "session_ended", "sessionId": live, "reason": "removed"})
        );
        let v: Value = serde_json::from_str(
            &Event::Presence {
                user_id: u,
                online: false,
                last_seen: None,
            }
            .frame(),
        )
        .unwrap();
        assert_eq!(
            v,
            json!({"type": "presence", "userId": u, "online": false, "lastSeen": null})
        );
        let v: Value = serde_json::from_str(&Event::SessionExpired.frame()).unwrap();
        assert_eq!(v, json!({"type": "session_expired"}));
        let frame = Event::ActiveSpeaker {
            session_id: live,
            user_id: Some(u),
        }
        .frame();
        assert!(
            matches!(ServerFrame::parse(&frame).unwrap(), ServerFrame::Event(Event::ActiveSpeaker { user_id: Some(x), .. }) if x == u)
        );
    }

    #[test]
    fn commands_round_trip() {
        let live = LiveId::new_random();
        let text = command_frame(
            Some(json!("c9")),
            &Command::RtcQuality {
                session_id: live,
                quality: Quality::Low,
            },
        );
        let e = parse(&text).unwrap();
        assert_eq!(e.id, Some(json!("c9")));
        assert!(matches!(e.command, Command::RtcQuality { session_id, quality: Quality::Low } if session_id == live));
    }

    #[test]
    fn rejects_garbage_but_keeps_the_id() {
        assert!(parse("not json").unwrap_err().id.is_none());
        assert!(parse("[1,2]").is_err());
        let e = parse(r#"{"id":"x","type":"launch_missiles"}"#).unwrap_err();
        assert_eq!(e.id, Some(json!("x")));
        assert_eq!(e.code, ErrorCode::InvalidFrame);
        assert!(e.message.contains("launch_missiles"), "{}", e.message);
        let e = parse(r#"{"id":"y","type":"send","roomId":"nope"}"#).unwrap_err();
        assert_eq!(e.id, Some(json!("y")));
        assert!(parse(r#"{"id":{"a":1},"type":"ping"}"#).is_err());
    }

    #[test]
    fn a_nul_anywhere_is_invalid_text() {
        let room = Uuid::new_v4();
        for frame in [
            format!(r#"{{"id":"n1","type":"send","roomId":"{room}","body":"a\u0000b"}}"#),
            format!(r#"{{"id":"n1","type":"send","roomId":"{room}","clientMsgId":"\u0000","body":"x"}}"#),
            format!(r#"{{"id":"n1","type":"send","roomId":"{room}","attachments":["\u0000"]}}"#),
            r#"{"id":"n1","type":"ping","\u0000":1}"#.to_owned(),
        ] {
            let e = parse(&frame).unwrap_err();
            assert_eq!((e.code, e.id), (ErrorCode::InvalidText, Some(json!("n1"))), "{frame}");
        }
        // A NUL in the id itself: the id cannot be echoed.
        let e = parse(r#"{"id":"a\u0000","type":"ping"}"#).unwrap_err();
        assert_eq!((e.code, e.id), (ErrorCode::InvalidFrame, None));
        // An escaped backslash followed by "u0000" is ordinary text.
        assert!(
            parse(r#"{"id":"n2","type":"send","roomId":"00000000-0000-0000-0000-000000000000","body":"\\u0000"}"#)
                .is_ok()
        );
    }

    #[test]
    fn answers_without_an_id_carry_none() {
        let v: Value = serde_json::from_str(&ack(&None, json!({"pong": true}))).unwrap();
        assert_eq!(v, json!({"type": "ack", "pong": true}));
        let v: Value = serde_json::from_str(&error(&Some(Value::Null), ErrorCode::InvalidFrame, "m")).unwrap();
        assert_eq!(
            v,
            json!({"type": "error", "id": null, "code": "invalid_frame", "message": "m"})
        );
    }

    /// One frame of every event type, as the server sends it (docs/protocol.md,
    /// docs/live.md): every field present, a `None` as `null`.
    fn samples() -> Vec<Value> {
        let (u, r, l, c) = (
            UserId::new_random(),
            RoomId::new_random(),
            LiveId::new_random(),
            CallId::new_random(),
        );
        let participant = json!({"userId": u, "displayName": "Ada", "role": "speaker", "handRaised": false,
            "audio": true, "video": false, "screen": false});
        let slot = json!({"id": Uuid::new_v4(), "remainingSeats": 3});
        vec![
            json!({"type": "hello", "protocol": 1, "sessionId": 17, "userId": u, "heartbeatSecs": 10}),
            json!({"type": "session_expired"}),
            json!({"type": "session_revoked", "reason": "role_changed"}),
            json!({"type": "typing", "roomId": r, "userId": u, "typing": true}),
            json!({"type": "read", "roomId": r, "userId": u, "seq": 4}),
            json!({"type": "presence", "userId": u, "online": false, "lastSeen": "2026-11-21T05:00:00Z"}),
            json!({"type": "presence", "userId": u, "online": true, "lastSeen": null}),
            json!({"type": "member_joined", "roomId": r, "userId": u}),
            json!({"type": "member_left", "roomId": r, "userId": u}),
            json!({"type": "removed", "roomId": r}),
            json!({"type": "room_added", "roomId": r}),
            json!({"type": "device_added", "userId": u, "deviceId": "k3v9Tq2xWb", "fingerprint": "01234 56789 00000 12345 67890 99999"}),
            json!({"type": "slot_created", "mentorId": u, "reason": "created", "reasons": ["created"], "slot": slot}),
            json!({"type": "slot_updated", "mentorId": u, "reason": "full", "reasons": ["booked", "full"], "slot": slot}),
            json!({"type": "slot_deleted", "mentorId": u, "reason": "deleted", "reasons": ["deleted"], "slot": slot}),
            json!({"type": "booking_promoted", "bookingId": Uuid::new_v4(), "slot": slot}),
            json!({"type": "booking_cancelled", "reason": "slot_cancelled", "slot": slot}),
            json!({"type": "booking_cancelled", "reason": "slot_cancelled", "slot": null}),
            json!({"type": "notification", "id": Uuid::new_v4(), "kind": "reminder",
                "payload": {"offeringId": Uuid::new_v4(), "before": "15m"}}),
            json!({"type": "participant_joined", "sessionId": l, "participant": participant}),
            json!({"type": "participant_updated", "sessionId": l, "participant": participant}),
            json!({"type": "participant_left", "sessionId": l, "userId": u, "reason": "connection_lost"}),
            json!({"type": "rtc_offer", "sessionId": l, "sdp": "v=0\r\n", "tracks": [
                {"mid": "0", "userId": u, "kind": "audio", "source": "microphone", "trackId": 7},
                {"mid": "1", "userId": u, "kind": "video", "source": "camera", "trackId": 8}]}),
            json!({"type": "active_speaker", "sessionId": l, "userId": u}),
            json!({"type": "active_speaker", "sessionId": l, "userId": null}),
            json!({"type": "muted", "sessionId": l, "kind": "audio", "by": u}),
            json!({"type": "session_state", "sessionId": l, "state": "live"}),
            json!({"type": "session_ended", "sessionId": l, "reason": "joined_elsewhere"}),
            json!({"type": "call_incoming", "callId": c, "video": true, "from": {"userId": u, "displayName": "Ada"}}),
            json!({"type": "call_ringing", "callId": c}),
            json!({"type": "call_accepted", "callId": c, "sessionId": l}),
            json!({"type": "call_ended", "callId": c, "reason": "answered_elsewhere"}),
        ]
    }

    /// The event types named in the first column of a document's `## Events` table.
    fn documented_events(doc: &str) -> Vec<String> {
        let section = doc.split("\n## Events").nth(1).unwrap_or_default();
        let section = section.split("\n## ").next().unwrap_or_default();
        section
            .lines()
            .filter(|l| l.starts_with("| `"))
            .flat_map(|l| {
                let cell = l.split('|').nth(1).unwrap_or_default();
                cell.split('`')
                    .skip(1)
                    .step_by(2)
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    #[test]
    fn every_documented_event_parses_as_a_typed_event_and_keeps_its_shape() {
        let mut documented = documented_events(include_str!("../../docs/protocol.md"));
        documented.extend(documented_events(include_str!("../../docs/live.md")));
        // Named in docs/protocol.md's "Session lifetime", not in its table.
        documented.push("session_expired".to_owned());
        assert!(documented.len() > 25, "the tables were not found: {documented:?}");
        let samples = samples();
        for ty in &documented {
            // ack, error and message have ServerFrame variants of their own.
            if ["ack", "error", "message"].contains(&ty.as_str()) {
                continue;
            }
            assert!(samples.iter().any(|s| s["type"] == ty.as_str()), "no sample of `{ty}`");
        }
        for sample in samples {
            match ServerFrame::parse(&sample.to_string()).unwrap() {
                ServerFrame::Event(e) => {
                    let back: Value = serde_json::from_str(&e.frame()).unwrap();
                    assert_eq!(back, sample, "{e:?} is not sent the way it is documented");
                }
                other => panic!("{sample} is not a typed event: {other:?}"),
            }
            assert!(
                documented.iter().any(|t| sample["type"] == t.as_str()),
                "{sample} is undocumented"
            );
        }
    }

    #[test]
    fn acks_errors_and_messages_are_told_apart() {
        let ack = ServerFrame::parse(r#"{"type":"ack","id":"c1","pong":true}"#).unwrap();
        assert!(
            matches!(ack, ServerFrame::Ack { id: Some(ref i), ref data } if *i == json!("c1") && data["pong"] == true)
        );
        let err =
            ServerFrame::parse(r#"{"type":"error","id":null,"code":"invalid_frame","message":"not JSON"}"#).unwrap();
        assert!(matches!(err, ServerFrame::Error { id: None, ref code, .. } if code == "invalid_frame"));
        let room = RoomId::new_random();
        let m = MessageEvent {
            room_id: room,
            seq: 42,
            kind: "message".into(),
            sender_id: Some(UserId::new_random()),
            sender_name: Some("Ada".into()),
            client_msg_id: Some("m-3".into()),
            body: Some("See you at 6".into()),
            ciphertext: None,
            attachments: json!([]),
            target_seq: None,
            created_at: "2026-11-21T05:00:00Z".parse().unwrap(),
            edited_at: None,
            deleted_at: None,
        };
        match ServerFrame::parse(&m.frame()).unwrap() {
            ServerFrame::Message(v) => assert_eq!(serde_json::from_value::<MessageEvent>(v).unwrap(), m),
            other => panic!("{other:?}"),
        }
        let unknown = ServerFrame::parse(r#"{"type":"from_the_future","x":1}"#).unwrap();
        assert!(matches!(unknown, ServerFrame::Other(_)));
    }
}
