//! A participant in a live room: `session_join`, then a publisher and/or a
//! subscriber, the room commands of `docs/live.md`, and `session_leave`.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use serde::Serialize;
use serde_json::{json, Value};

use crate::error::PeerError;
use crate::publisher::{PublishOpts, PublishStats, Publisher};
use crate::signaller::Signaller;
use crate::stats::{SubscriberStats, TrackStats};
use crate::subscriber::{Subscriber, TrackInfo};

/// Someone in the room (`participants` and events).
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ParticipantInfo {
    pub user_id: String,
    pub display_name: String,
    pub role: String,
    pub hand_raised: bool,
    pub audio: bool,
    pub video: bool,
    pub screen: bool,
}

impl ParticipantInfo {
    pub fn parse(v: &Value) -> ParticipantInfo {
        ParticipantInfo {
            user_id: v["userId"].as_str().unwrap_or_default().to_owned(),
            display_name: v["displayName"].as_str().unwrap_or_default().to_owned(),
            role: v["role"].as_str().unwrap_or_default().to_owned(),
            hand_raised: v["handRaised"].as_bool().unwrap_or(false),
            audio: v["audio"].as_bool().unwrap_or(false),
            video: v["video"].as_bool().unwrap_or(false),
            screen: v["screen"].as_bool().unwrap_or(false),
        }
    }
}

/// The `session_join` ack.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JoinInfo {
    pub session_id: String,
    /// `session` or `call`.
    pub kind: String,
    /// `host`, `speaker` or `attendee`.
    pub role: String,
    pub state: String,
    pub participants: Vec<ParticipantInfo>,
    /// The ack as received.
    pub raw: Value,
}

/// One participant of one room, with at most one publish and one subscribe
/// connection. Dropping it closes both connections (without `session_leave`;
/// use [`Participant::leave`] for that).
pub struct Participant {
    sig: Signaller,
    session_id: String,
    info: JoinInfo,
    bind_ip: IpAddr,
    publisher: Option<Publisher>,
    subscriber: Option<Subscriber>,
}

/// How long `subscribe` waits for ICE and DTLS.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

impl Participant {
    /// Sends `session_join`.
    pub async fn join(sig: &Signaller, session_id: &str) -> Result<Participant, PeerError> {
        let ack = sig
            .command(json!({"type": "session_join", "sessionId": session_id}))
            .await?;
        let info = JoinInfo {
            session_id: ack["sessionId"].as_str().unwrap_or(session_id).to_owned(),
            kind: ack["kind"].as_str().unwrap_or_default().to_owned(),
            role: ack["role"].as_str().unwrap_or_default().to_owned(),
            state: ack["state"].as_str().unwrap_or_default().to_owned(),
            participants: ack["participants"]
                .as_array()
                .map(|a| a.iter().map(ParticipantInfo::parse).collect())
                .unwrap_or_default(),
            raw: ack,
        };
        Ok(Participant {
            sig: sig.clone(),
            session_id: session_id.to_owned(),
            info,
            bind_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            publisher: None,
            subscriber: None,
        })
    }

    /// The address the subscribe socket binds to (127.0.0.1 by default).
    pub fn set_bind_ip(&mut self, ip: IpAddr) {
        self.bind_ip = ip;
    }

    pub fn info(&self) -> &JoinInfo {
        &self.info
    }

    pub fn session_id(&self) -> &str {
        &self.session_id
    }

    pub fn user_id(&self) -> &str {
        self.sig.user_id()
    }

    pub fn signaller(&self) -> &Signaller {
        &self.sig
    }

    /// Starts the publish connection and waits until ICE and DTLS are up
    /// (`opts.connect_timeout`). One publish connection at a time: the
    /// server treats another `rtc_publish` as a renegotiation of the
    /// connection it has, so [`Participant::unpublish`] first.
    pub async fn publish(&mut self, opts: PublishOpts) -> Result<&Publisher, PeerError> {
        if self.publisher.is_some() {
            return Err(PeerError::Protocol("already publishing: unpublish first".into()));
        }
        let timeout = opts.connect_timeout;
        let p = Publisher::start(&self.sig, &self.session_id, opts).await?;
        p.wait_connected(timeout).await?;
        Ok(self.publisher.insert(p))
    }

    /// Stops publishing (closes the publish connection).
    pub async fn unpublish(&mut self) {
        if let Some(p) = self.publisher.take() {
            p.close().await;
        }
    }

    /// The publish connection falls silent without closing (see
    /// `Publisher::vanish`); the WebSocket stays up.
    pub async fn vanish_publisher(&mut self) {
        if let Some(p) = self.publisher.take() {
            p.vanish().await;
        }
    }

    /// Starts the subscribe connection, waits until ICE and DTLS are up, and
    /// returns the first `tracks` table. Subscribing again replaces the
    /// connection (the server drops the old one when the new `rtc_subscribe`
    /// arrives; ours is closed after that).
    pub async fn subscribe(&mut self) -> Result<Vec<TrackInfo>, PeerError> {
        let tracks = self.subscribe_nowait().await?;
        self.sub()?.wait_connected(CONNECT_TIMEOUT).await?;
        Ok(tracks)
    }

    /// Starts the subscribe connection without waiting for ICE.
    pub async fn subscribe_nowait(&mut self) -> Result<Vec<TrackInfo>, PeerError> {
        // The old connection's route must not swallow the new one's offers.
        let old = self.subscriber.take();
        if let Some(o) = &old {
            o.detach();
        }
        let s = Subscriber::start(&self.sig, &self.session_id, self.bind_ip).await;
        if let Some(o) = old {
            o.close().await;
        }
        let s = s?;
        let tracks = s.tracks();
        self.subscriber = Some(s);
        Ok(tracks)
    }

    pub async fn unsubscribe(&mut self) {
        if let Some(s) = self.subscriber.take() {
            s.close().await;
        }
    }

    pub fn publisher(&self) -> Option<&Publisher> {
        self.publisher.as_ref()
    }

    pub fn subscriber(&self) -> Option<&Subscriber> {
        self.subscriber.as_ref()
    }

    /// What the subscriber received (empty when not subscribed).
    pub fn stats(&self) -> SubscriberStats {
        self.subscriber.as_ref().map(Subscriber::stats).unwrap_or_default()
    }

    pub fn publish_stats(&self) -> Option<PublishStats> {
        self.publisher.as_ref().map(Publisher::stats)
    }

    /// The latest tracks table (empty when not subscribed).
    pub fn tracks(&self) -> Vec<TrackInfo> {
        self.subscriber.as_ref().map(Subscriber::tracks).unwrap_or_default()
    }

    /// See [`Subscriber::wait_for_frames`].
    pub async fn wait_for_frames(
        &self,
        user_id: &str,
        tracks: usize,
        min_frames: u64,
        timeout: Duration,
    ) -> Result<Vec<TrackStats>, PeerError> {
        self.sub()?.wait_for_frames(user_id, tracks, min_frames, timeout).await
    }

    /// See [`Subscriber::wait_for_no_tracks`].
    pub async fn wait_for_no_tracks(&self, user_id: &str, timeout: Duration) -> Result<(), PeerError> {
        self.sub()?.wait_for_no_tracks(user_id, timeout).await
    }

    fn sub(&self) -> Result<&Subscriber, PeerError> {
        self.subscriber
            .as_ref()
            .ok_or_else(|| PeerError::Protocol("not subscribed".into()))
    }

    async fn room_command(&self, ty: &str, mut fields: Value) -> Result<Value, PeerError> {
        fields["type"] = json!(ty);
        fields["sessionId"] = json!(self.session_id);
        self.sig.command(fields).await
    }

    /// `session_start` (host).
    pub async fn start(&self) -> Result<Value, PeerError> {
        self.room_command("session_start", json!({})).await
    }

    /// `session_end` (host).
    pub async fn end(&self) -> Result<(), PeerError> {
        self.room_command("session_end", json!({})).await.map(drop)
    }

    /// `media_state`; also pauses or resumes what the publisher writes.
    pub async fn media_state(&self, audio: bool, video: bool, screen: bool) -> Result<(), PeerError> {
        if let Some(p) = &self.publisher {
            p.set_sending(audio, video);
        }
        self.room_command("media_state", json!({"audio": audio, "video": video, "screen": screen}))
            .await
            .map(drop)
    }

    pub async fn raise_hand(&self, raised: bool) -> Result<(), PeerError> {
        self.room_command("raise_hand", json!({"raised": raised}))
            .await
            .map(drop)
    }

    /// `set_role` (host): `speaker` or `attendee`.
    pub async fn set_role(&self, user_id: &str, role: &str) -> Result<(), PeerError> {
        self.room_command("set_role", json!({"userId": user_id, "role": role}))
            .await
            .map(drop)
    }

    /// `mute` (host): `audio` or `video`.
    pub async fn mute(&self, user_id: &str, kind: &str) -> Result<(), PeerError> {
        self.room_command("mute", json!({"userId": user_id, "kind": kind}))
            .await
            .map(drop)
    }

    /// `remove` (host).
    pub async fn remove(&self, user_id: &str) -> Result<(), PeerError> {
        self.room_command("remove", json!({"userId": user_id})).await.map(drop)
    }

    /// `rtc_quality`: `high`, `medium` or `low`.
    pub async fn set_quality(&self, quality: &str) -> Result<(), PeerError> {
        self.room_command("rtc_quality", json!({"quality": quality}))
            .await
            .map(drop)
    }

    /// `rtc_restart`: the server follows with an ICE-restart `rtc_offer`.
    pub async fn restart_subscribe(&self) -> Result<(), PeerError> {
        self.room_command("rtc_restart", json!({})).await.map(drop)
    }

    /// Waits for a queued event of this type about this session.
    pub async fn wait_event(&self, ty: &str, timeout: Duration) -> Result<Value, PeerError> {
        let sid = self.session_id.clone();
        self.sig
            .wait_event_where(timeout, |v| v["type"] == ty && v["sessionId"] == sid.as_str())
            .await
            .map_err(|e| match e {
                PeerError::Timeout(_) => PeerError::Timeout(format!("{ty} in session {sid}")),
                e => e,
            })
    }

    /// Sends `session_leave`, then closes both connections.
    pub async fn leave(mut self) -> Result<(), PeerError> {
        let r = self.room_command("session_leave", json!({})).await.map(drop);
        self.unpublish().await;
        self.unsubscribe().await;
        r
    }
}
