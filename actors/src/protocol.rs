//! The WebSocket wire protocol, version 1 (see docs/protocol.md).
//!
//! Client frames are JSON objects with a `type`, an optional `id` (any JSON
//! string or number, echoed in the `ack` or `error` that answers it) and the
//! command's fields in camelCase. Server frames are JSON objects with a `type`.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::error::ChatError;
use crate::ids::{RoomId, UserId};

pub const PROTOCOL_VERSION: u32 = 1;

#[derive(Debug, Deserialize)]
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
    /// Extends the session with a fresh access token of the same user.
    Reauth {
        token: String,
    },
    // ---- live rooms (docs/live.md) ----
    SessionJoin {
        session_id: Uuid,
    },
    SessionLeave {
        session_id: Uuid,
    },
    SessionStart {
        session_id: Uuid,
    },
    SessionEnd {
        session_id: Uuid,
    },
    RtcPublish {
        session_id: Uuid,
        sdp: String,
        #[serde(default)]
        sources: std::collections::HashMap<String, String>,
    },
    RtcSubscribe {
        session_id: Uuid,
    },
    RtcAnswer {
        session_id: Uuid,
        sdp: String,
    },
    RtcRestart {
        session_id: Uuid,
    },
    RtcQuality {
        session_id: Uuid,
        quality: crate::sfu::Quality,
    },
    MediaState {
        session_id: Uuid,
        audio: bool,
        video: bool,
        #[serde(default)]
        screen: bool,
    },
    RaiseHand {
        session_id: Uuid,
        raised: bool,
    },
    SetRole {
        session_id: Uuid,
        user_id: UserId,
        role: crate::live::LiveRole,
    },
    Mute {
        session_id: Uuid,
        user_id: UserId,
        kind: crate::sfu::MediaKindName,
    },
    Remove {
        session_id: Uuid,
        user_id: UserId,
    },
    CallInvite {
        user_id: UserId,
        #[serde(default = "yes")]
        video: bool,
    },
    CallAccept {
        call_id: Uuid,
    },
    CallDecline {
        call_id: Uuid,
    },
    CallCancel {
        call_id: Uuid,
    },
    CallHangup {
        call_id: Uuid,
    },
    Ping,
}

fn yes() -> bool {
    true
}

/// A parsed client frame: the command and the id to answer it with.
#[derive(Debug)]
pub struct Envelope {
    pub id: Option<Value>,
    pub command: Command,
}

/// Parses one text frame. On failure, returns the id (if one could be read)
/// so the error can still be correlated.
pub fn parse(text: &str) -> Result<Envelope, (Option<Value>, String)> {
    let mut v: Value = serde_json::from_str(text).map_err(|e| (None, format!("not JSON: {e}")))?;
    let obj = v
        .as_object_mut()
        .ok_or((None, "a frame must be a JSON object".to_owned()))?;
    let id = obj.remove("id");
    if let Some(id) = &id {
        let ok = match id {
            Value::String(s) => s.len() <= 64,
            Value::Number(_) => true,
            _ => false,
        };
        if !ok {
            return Err((
                None,
                "`id` must be a string of at most 64 characters or a number".to_owned(),
            ));
        }
    }
    match serde_json::from_value::<Command>(v) {
        Ok(command) => Ok(Envelope { id, command }),
        Err(e) => Err((id, e.to_string())),
    }
}

/// One entry of a room's ordered stream, as stored and as sent.
#[derive(Debug, Clone, Serialize)]
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
    pub attachments: Value,
    pub target_seq: Option<i64>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// History only: when a `message` was last edited or deleted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub edited_at: Option<chrono::DateTime<chrono::Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
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

pub fn ack(id: &Option<Value>, data: Value) -> String {
    let mut v = json!({"type": "ack", "id": id});
    if let (Some(o), Value::Object(d)) = (v.as_object_mut(), data) {
        o.extend(d);
    }
    v.to_string()
}

pub fn error(id: &Option<Value>, e: &ChatError) -> String {
    json!({"type": "error", "id": id, "code": e.code.as_str(), "message": e.message}).to_string()
}

pub fn hello(session_id: u64, user: UserId, heartbeat_secs: u64) -> String {
    json!({"type": "hello", "protocol": PROTOCOL_VERSION, "sessionId": session_id, "userId": user,
           "heartbeatSecs": heartbeat_secs})
    .to_string()
}

pub fn typing(room: RoomId, user: UserId, typing: bool) -> String {
    json!({"type": "typing", "roomId": room, "userId": user, "typing": typing}).to_string()
}

pub fn read(room: RoomId, user: UserId, seq: i64) -> String {
    json!({"type": "read", "roomId": room, "userId": user, "seq": seq}).to_string()
}

pub fn presence(user: UserId, online: bool, last_seen: Option<chrono::DateTime<chrono::Utc>>) -> String {
    json!({"type": "presence", "userId": user, "online": online, "lastSeen": last_seen}).to_string()
}

pub fn member(room: RoomId, user: UserId, joined: bool) -> String {
    let t = if joined { "member_joined" } else { "member_left" };
    json!({"type": t, "roomId": room, "userId": user}).to_string()
}

pub fn removed(room: RoomId) -> String {
    json!({"type": "removed", "roomId": room}).to_string()
}

#[cfg(test)]
mod tests {
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
    fn rejects_garbage_but_keeps_the_id() {
        assert!(parse("not json").unwrap_err().0.is_none());
        assert!(parse("[1,2]").is_err());
        let (id, msg) = parse(r#"{"id":"x","type":"launch_missiles"}"#).unwrap_err();
        assert_eq!(id, Some(json!("x")));
        assert!(msg.contains("launch_missiles"), "{msg}");
        let (id, _) = parse(r#"{"id":"y","type":"send","roomId":"nope"}"#).unwrap_err();
        assert_eq!(id, Some(json!("y")));
        assert!(parse(r#"{"id":{"a":1},"type":"ping"}"#).is_err());
    }
}
