//! Media descriptors shared by the SFU, the live rooms, the WebSocket frames
//! and the clients: what a track is, which layer a subscriber asks for, and
//! the roles inside a live room.

use serde::{Deserialize, Serialize};

use crate::ids::UserId;

/// Audio or video (the wire's `kind` of a track and of a mute).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MediaKind {
    Audio,
    Video,
}

impl MediaKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MediaKind::Audio => "audio",
            MediaKind::Video => "video",
        }
    }
}

/// The simulcast layer a subscriber asks for (`rtc_quality`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Quality {
    High,
    Medium,
    Low,
}

/// What a subscriber receives on one transceiver of its subscribe
/// connection: one row of `rtc_offer`'s `tracks`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TrackInfo {
    pub mid: String,
    /// Whose track it is.
    pub user_id: UserId,
    pub kind: MediaKind,
    /// `camera`, `microphone` or `screen` (what the publisher said).
    pub source: String,
    /// The publisher's track, the same in every subscriber's table.
    pub track_id: u64,
}

/// A participant's role inside a live room.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LiveRole {
    Host,
    Speaker,
    Attendee,
}

impl LiveRole {
    /// Whether this role may send media.
    pub fn publishes(self) -> bool {
        matches!(self, LiveRole::Host | LiveRole::Speaker)
    }
}
