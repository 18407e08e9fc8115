//! A participant in a live room: `session_join`, then a publisher and/or a
//! subscriber, the room commands of `docs/live.md`, and `session_leave`.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use lyceum_protocol::frames::{Command, ParticipantInfo};
use lyceum_protocol::{LiveId, LiveRole, MediaKind, Quality, TrackInfo, UserId};
use serde::Serialize;
use serde_json::Value;

use crate::error::PeerError;
use crate::publisher::{PublishOpts, PublishStats, Publisher};
use crate::signaller::{field, Signaller};
use crate::stats::{SubscriberStats, TrackStats};
use crate::subscriber::Subscriber;

/// The `session_join` ack.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JoinInfo {
    pub session_id: LiveId,
    /// `session` or `call`.
    pub kind: String,
    pub role: LiveRole,
    /// `scheduled`, `live`, …
    pub state: String,
    pub participants: Vec<ParticipantInfo>,
    /// The ack as received.
    pub raw: Value,
}

impl JoinInfo {
    fn parse(ack: Value, session_id: LiveId) -> Result<JoinInfo, PeerError> {
        Ok(JoinInfo {
            session_id: field(&ack, "sessionId").unwrap_or(session_id),
            kind: ack["kind"].as_str().unwrap_or_default().to_owned(),
            role: field(&ack, "role")?,
            state: ack["state"].as_str().unwrap_or_default().to_owned(),
            participants: field(&ack, "participants")?,
            raw: ack,
        })
    }
}

/// One participant of one room, with at most one publish and one subscribe
/// connection. Dropping it closes both connections (without `session_leave`;
/// use [`Participant::leave`] for that).
pub struct Participant {
    sig: Signaller,
    session_id: LiveId,
    info: JoinInfo,
    bind_ip: IpAddr,
    publisher: Option<Publisher>,
    subscriber: Option<Subscriber>,
}

/// How long `subscribe` waits for ICE and DTLS.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

impl Participant {
    /// Sends `session_join`.
    pub async fn join(sig: &Signaller, session_id: LiveId) -> Result<Participant, PeerError> {
        let ack = sig.command(&Command::SessionJoin { session_id }).await?;
        let info = JoinInfo::parse(ack, session_id)?;
        Ok(Participant {
            sig: sig.clone(),
            session_id,
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

    pub fn session_id(&self) -> LiveId {
        self.session_id
    }

    pub fn user_id(&self) -> UserId {
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
        let p = Publisher::start(&self.sig, self.session_id, opts).await?;
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
        let s = Subscriber::start(&self.sig, self.session_id, self.bind_ip).await;
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
        user_id: UserId,
        tracks: usize,
        min_frames: u64,
        timeout: Duration,
    ) -> Result<Vec<TrackStats>, PeerError> {
        self.sub()?.wait_for_frames(user_id, tracks, min_frames, timeout).await
    }

    /// See [`Subscriber::wait_for_no_tracks`].
    pub async fn wait_for_no_tracks(&self, user_id: UserId, timeout: Duration) -> Result<(), PeerError> {
        self.sub()?.wait_for_no_tracks(user_id, timeout).await
    }

    fn sub(&self) -> Result<&Subscriber, PeerError> {
        self.subscriber
            .as_ref()
            .ok_or_else(|| PeerError::Protocol("not subscribed".into()))
    }

    /// `session_start` (host) → its ack (`state: "live"`).
    pub async fn start(&self) -> Result<Value, PeerError> {
        let session_id = self.session_id;
        self.sig.command(&Command::SessionStart { session_id }).await
    }

    /// `session_end` (host).
    pub async fn end(&self) -> Result<(), PeerError> {
        let session_id = self.session_id;
        self.sig.command(&Command::SessionEnd { session_id }).await.map(drop)
    }

    /// `media_state`; also pauses or resumes what the publisher writes.
    pub async fn media_state(&self, audio: bool, video: bool, screen: bool) -> Result<(), PeerError> {
        if let Some(p) = &self.publisher {
            p.set_sending(audio, video);
        }
        let session_id = self.session_id;
        self.sig
            .command(&Command::MediaState {
                session_id,
                audio,
                video,
                screen,
            })
            .await
            .map(drop)
    }

    pub async fn raise_hand(&self, raised: bool) -> Result<(), PeerError> {
        let session_id = self.session_id;
        self.sig
            .command(&Command::RaiseHand { session_id, raised })
            .await
            .map(drop)
    }

    /// `set_role` (host): `speaker` or `attendee`.
    pub async fn set_role(&self, user_id: UserId, role: LiveRole) -> Result<(), PeerError> {
        let session_id = self.session_id;
        self.sig
            .command(&Command::SetRole {
                session_id,
                user_id,
                role,
            })
            .await
            .map(drop)
    }

    /// `mute` (host).
    pub async fn mute(&self, user_id: UserId, kind: MediaKind) -> Result<(), PeerError> {
        let session_id = self.session_id;
        self.sig
            .command(&Command::Mute {
                session_id,
                user_id,
                kind,
            })
            .await
            .map(drop)
    }

    /// `remove` (host).
    pub async fn remove(&self, user_id: UserId) -> Result<(), PeerError> {
        let session_id = self.session_id;
        self.sig
            .command(&Command::Remove { session_id, user_id })
            .await
            .map(drop)
    }

    /// `rtc_quality`.
    pub async fn set_quality(&self, quality: Quality) -> Result<(), PeerError> {
        let session_id = self.session_id;
        self.sig
            .command(&Command::RtcQuality { session_id, quality })
            .await
            .map(drop)
    }

    /// `rtc_restart`: the server follows with an ICE-restart `rtc_offer`.
    pub async fn restart_subscribe(&self) -> Result<(), PeerError> {
        let session_id = self.session_id;
        self.sig.command(&Command::RtcRestart { session_id }).await.map(drop)
    }

    /// Waits for a queued event of this type about this session, as sent.
    pub async fn wait_event(&self, ty: &str, timeout: Duration) -> Result<Value, PeerError> {
        let sid = self.session_id;
        self.sig
            .wait_event_where(timeout, |v| {
                v["type"] == ty && v["sessionId"].as_str().and_then(|s| s.parse::<LiveId>().ok()) == Some(sid)
            })
            .await
            .map_err(|e| match e {
                PeerError::Timeout(_) => PeerError::Timeout(format!("{ty} in session {sid}")),
                e => e,
            })
    }

    /// Sends `session_leave`, then closes both connections.
    pub async fn leave(mut self) -> Result<(), PeerError> {
        let session_id = self.session_id;
        let r = self.sig.command(&Command::SessionLeave { session_id }).await.map(drop);
        self.unpublish().await;
        self.unsubscribe().await;
        r
    }
}
