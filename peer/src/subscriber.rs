//! The subscribe connection: the server offers (in the `rtc_subscribe` ack,
//! then in `rtc_offer` events), we answer with `rtc_answer`, and count
//! every frame that arrives.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use lyceum_protocol::frames::{Command, Event as ServerEvent};
use lyceum_protocol::{LiveId, MediaKind, TrackInfo, UserId};
use serde_json::Value;
use str0m::change::SdpOffer;
use str0m::media::{KeyframeRequestKind, Mid};
use str0m::{Event, Rtc};
use tokio::sync::{mpsc, oneshot, watch, Notify};
use tokio::task::JoinHandle;

use crate::driver::{self, ConnState, Handler};
use crate::error::PeerError;
use crate::media::{now_micros, parse_stamp};
use crate::signaller::Signaller;
use crate::stats::{Frame, IngressCounters, StatsState, SubscriberStats, TrackStats};

/// The `tracks` table of an `rtc_subscribe` ack (an `rtc_offer` carries it
/// typed). A row that does not read is left out, and said so: the rest of
/// the table still describes real transceivers.
pub(crate) fn parse_tracks(v: &Value) -> Vec<TrackInfo> {
    v.as_array()
        .map(|rows| {
            rows.iter()
                .filter_map(|r| match serde_json::from_value::<TrackInfo>(r.clone()) {
                    Ok(t) => Some(t),
                    Err(e) => {
                        tracing::warn!("lyceum-peer: a tracks row that does not read ({e}): {r}");
                        None
                    }
                })
                .collect()
        })
        .unwrap_or_default()
}

pub(crate) struct SubShared {
    stats: Mutex<StatsState>,
    tracks: Mutex<Vec<TrackInfo>>,
    /// The latest offer accepted, as the server sent it.
    offer: Mutex<String>,
    notify: Notify,
    /// Drop every n-th RTP packet received (0: none), for loss tests.
    lose_every: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

pub(crate) enum SubCmd {
    Offer {
        sdp: String,
        tracks: Vec<TrackInfo>,
        reply: oneshot::Sender<Result<String, PeerError>>,
    },
    Keyframes,
    Close,
}

/// A running subscribe connection. Dropping it closes the connection.
pub struct Subscriber {
    session_id: LiveId,
    route: u64,
    /// None for a subscriber of another server ([`Subscriber::from_offer`]).
    sig: Option<Signaller>,
    local_addr: SocketAddr,
    cmd: mpsc::UnboundedSender<SubCmd>,
    state: watch::Receiver<ConnState>,
    shared: Arc<SubShared>,
    driver: Option<JoinHandle<()>>,
    signal: Option<JoinHandle<()>>,
}

impl Subscriber {
    /// Sends `rtc_subscribe`, answers the offer in its ack with
    /// `rtc_answer`, and from then on answers every `rtc_offer` of this
    /// session.
    pub async fn start(sig: &Signaller, session_id: LiveId, bind_ip: IpAddr) -> Result<Subscriber, PeerError> {
        let (mut rtc, socket, local_addr) = driver::bind(bind_ip, true).await?;
        let started = Instant::now();
        // Registered before the command so no rtc_offer can slip past.
        let (route, mut offers) = sig.route(session_id);
        let ack = match sig.command(&Command::RtcSubscribe { session_id }).await {
            Ok(a) => a,
            Err(e) => {
                sig.unroute(session_id, route);
                return Err(e);
            }
        };
        let tracks = parse_tracks(&ack["tracks"]);
        let offer = ack["sdp"].as_str().unwrap_or_default().to_owned();
        let answer = match accept(&mut rtc, &ack) {
            Ok(a) => a,
            Err(e) => {
                sig.unroute(session_id, route);
                return Err(e);
            }
        };
        let (cmd, state, shared, driver) = launch(rtc, socket, tracks, offer, started);
        if let Err(e) = sig
            .command(&Command::RtcAnswer {
                session_id,
                sdp: answer,
            })
            .await
        {
            sig.unroute(session_id, route);
            let _ = cmd.send(SubCmd::Close);
            return Err(e);
        }

        // Later offers: to the driver for an answer, then back to the server.
        let signal = tokio::spawn({
            let (sig, cmd, shared) = (sig.clone(), cmd.clone(), shared.clone());
            async move {
                while let Some(ev) = offers.recv().await {
                    let ServerEvent::RtcOffer { sdp, tracks, .. } = ev else {
                        continue;
                    };
                    let (reply, rx) = oneshot::channel();
                    if cmd.send(SubCmd::Offer { sdp, tracks, reply }).is_err() {
                        break;
                    }
                    let answered = match rx.await {
                        Ok(Ok(sdp)) => sig.command(&Command::RtcAnswer { session_id, sdp }).await.map(drop),
                        Ok(Err(e)) => Err(e),
                        Err(_) => break,
                    };
                    if let Err(e) = answered {
                        tracing::warn!("lyceum-peer: answering rtc_offer: {e}");
                        lock(&shared.stats).offer_errors += 1;
                    }
                }
            }
        });

        Ok(Subscriber {
            session_id,
            route,
            sig: Some(sig.clone()),
            local_addr,
            cmd,
            state,
            shared,
            driver: Some(driver),
            signal: Some(signal),
        })
    }

    /// A subscribe connection to another server (the load tester's Janus
    /// target): accepts the server's `offer` and returns the running
    /// subscriber and our answer, for the caller to send. `tracks` says
    /// whose each mid of the offer is (for [`SubscriberStats::tracks_of`]).
    /// Later offers are not handled; the `session_id` is random.
    pub async fn from_offer(
        offer: &str,
        tracks: Vec<TrackInfo>,
        bind_ip: IpAddr,
    ) -> Result<(Subscriber, String), PeerError> {
        let (mut rtc, socket, local_addr) = driver::bind(bind_ip, true).await?;
        let started = Instant::now();
        let answer = accept(&mut rtc, &serde_json::json!({ "sdp": offer }))?;
        let (cmd, state, shared, driver) = launch(rtc, socket, tracks, offer.to_owned(), started);
        let sub = Subscriber {
            session_id: LiveId::new_random(),
            route: 0,
            sig: None,
            local_addr,
            cmd,
            state,
            shared,
            driver: Some(driver),
            signal: None,
        };
        Ok((sub, answer))
    }

    /// From now on, drop every `every`-th RTP packet received as if the
    /// network had lost it (0: stop). str0m NACKs what is missing, so the
    /// server's resends can be observed.
    pub fn lose_every(&self, every: u64) {
        self.shared.lose_every.store(every, Ordering::Relaxed);
    }

    pub fn session_id(&self) -> LiveId {
        self.session_id
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    pub fn state(&self) -> ConnState {
        *self.state.borrow()
    }

    pub async fn wait_connected(&self, timeout: Duration) -> Result<(), PeerError> {
        driver::wait_connected(self.state.clone(), timeout).await
    }

    /// The latest `tracks` table.
    pub fn tracks(&self) -> Vec<TrackInfo> {
        lock(&self.shared.tracks).clone()
    }

    /// The SDP of the latest offer accepted.
    pub fn offer_sdp(&self) -> String {
        lock(&self.shared.offer).clone()
    }

    pub fn stats(&self) -> SubscriberStats {
        lock(&self.shared.stats).snapshot(Instant::now())
    }

    /// (frames, bytes) received so far: cheap, for progress lines.
    pub fn totals(&self) -> (u64, u64) {
        let s = lock(&self.shared.stats);
        (s.frames, s.bytes)
    }

    /// UDP datagrams received so far (media, RTCP, STUN, DTLS): what the
    /// server sent this connection, counted the same way for any server.
    pub fn datagrams(&self) -> u64 {
        lock(&self.shared.stats).datagrams
    }

    /// Every latency sample of the active tracks (of `audio` or `video`
    /// tracks, or all): (receive time in UNIX seconds, milliseconds).
    pub fn latency_samples(&self, kind: Option<MediaKind>) -> Vec<(u32, f32)> {
        lock(&self.shared.stats).latency_samples(kind)
    }

    /// Ask for a keyframe on every video track (PLI).
    pub fn request_keyframes(&self) {
        let _ = self.cmd.send(SubCmd::Keyframes);
    }

    /// Waits until `tracks` active tracks of `user_id` have each delivered at
    /// least `min_frames` frames; returns those tracks' stats.
    pub async fn wait_for_frames(
        &self,
        user_id: UserId,
        tracks: usize,
        min_frames: u64,
        timeout: Duration,
    ) -> Result<Vec<TrackStats>, PeerError> {
        self.wait_until(timeout, |s| s.ready_tracks(user_id, min_frames) >= tracks)
            .await
            .map_err(|e| match e {
                PeerError::Timeout(_) => {
                    let st = self.stats();
                    let seen: Vec<String> = st
                        .tracks
                        .iter()
                        .map(|t| {
                            format!(
                                "{} {} of {:?}: {} frames{}",
                                t.mid,
                                t.kind.as_str(),
                                t.user_id,
                                t.frames,
                                if t.active { "" } else { " (ended)" }
                            )
                        })
                        .collect();
                    PeerError::Timeout(format!(
                        "{tracks} tracks of {user_id} with {min_frames} frames each; have [{}]",
                        seen.join(", ")
                    ))
                }
                e => e,
            })?;
        Ok(self.stats().tracks_of(user_id).cloned().collect())
    }

    /// Waits until no active track of `user_id` is left (after they unpublish or leave).
    pub async fn wait_for_no_tracks(&self, user_id: UserId, timeout: Duration) -> Result<(), PeerError> {
        self.wait_until(timeout, |s| s.ready_tracks(user_id, 0) == 0)
            .await
            .map_err(|e| match e {
                PeerError::Timeout(_) => PeerError::Timeout(format!("the tracks of {user_id} to go")),
                e => e,
            })
    }

    pub(crate) async fn wait_until(&self, timeout: Duration, f: impl Fn(&StatsState) -> bool) -> Result<(), PeerError> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.shared.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if f(&lock(&self.shared.stats)) {
                return Ok(());
            }
            if self.state() == ConnState::Closed {
                return Err(PeerError::Rtc("the subscribe connection closed".into()));
            }
            // Also wake now and then: the condition may depend on time only.
            let step = (tokio::time::Instant::now() + Duration::from_millis(250)).min(deadline);
            let _ = tokio::time::timeout_at(step, notified).await;
            if tokio::time::Instant::now() >= deadline {
                return if f(&lock(&self.shared.stats)) {
                    Ok(())
                } else {
                    Err(PeerError::Timeout("subscriber condition".into()))
                };
            }
        }
    }

    /// Asks the server for an ICE-restart offer (`rtc_restart`).
    pub async fn restart(&self) -> Result<(), PeerError> {
        let sig = self
            .sig
            .as_ref()
            .ok_or_else(|| PeerError::Protocol("not a Lyceum subscriber: no rtc_restart".into()))?;
        sig.command(&Command::RtcRestart {
            session_id: self.session_id,
        })
        .await
        .map(drop)
    }

    /// Closes the connection and waits for the task.
    pub async fn close(mut self) {
        let _ = self.cmd.send(SubCmd::Close);
        if let Some(t) = self.driver.take() {
            let _ = tokio::time::timeout(Duration::from_secs(2), t).await;
        }
    }
}

impl Subscriber {
    /// Stops answering offers (before another subscriber of the same
    /// session takes over the route).
    pub(crate) fn detach(&self) {
        if let Some(signal) = &self.signal {
            signal.abort();
        }
        if let Some(sig) = &self.sig {
            sig.unroute(self.session_id, self.route);
        }
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        self.detach();
        let _ = self.cmd.send(SubCmd::Close);
    }
}

type Launched = (
    mpsc::UnboundedSender<SubCmd>,
    watch::Receiver<ConnState>,
    Arc<SubShared>,
    JoinHandle<()>,
);

/// The stats for the first offer's `tracks`, and the driver task.
fn launch(
    rtc: Rtc,
    socket: tokio::net::UdpSocket,
    tracks: Vec<TrackInfo>,
    offer: String,
    started: Instant,
) -> Launched {
    let mut st = StatsState::new(started);
    st.set_tracks(&tracks, started);
    st.offers = 1;
    let shared = Arc::new(SubShared {
        stats: Mutex::new(st),
        tracks: Mutex::new(tracks),
        offer: Mutex::new(offer),
        notify: Notify::new(),
        lose_every: AtomicU64::new(0),
    });
    let (cmd, cmd_rx) = mpsc::unbounded_channel();
    let (state_tx, state) = watch::channel(ConnState::Connecting);
    let handler = SubHandler {
        shared: shared.clone(),
        last_pli: HashMap::new(),
        rtp_in: 0,
    };
    let driver = tokio::spawn(driver::drive(rtc, socket, handler, cmd_rx, state_tx));
    (cmd, state, shared, driver)
}

fn accept(rtc: &mut Rtc, ack: &Value) -> Result<String, PeerError> {
    let sdp = ack["sdp"]
        .as_str()
        .ok_or_else(|| PeerError::Protocol(format!("no sdp in {ack}")))?;
    let offer = SdpOffer::from_sdp_string(sdp).map_err(|e| PeerError::Rtc(format!("the server's offer: {e}")))?;
    let answer = rtc.sdp_api().accept_offer(offer)?;
    Ok(answer.to_sdp_string())
}

struct SubHandler {
    shared: Arc<SubShared>,
    last_pli: HashMap<Mid, Instant>,
    /// RTP packets received (for `lose_every`).
    rtp_in: u64,
}

impl SubHandler {
    fn pli(&mut self, rtc: &mut Rtc, mid: Mid, rid: Option<str0m::media::Rid>, force: bool) {
        let now = Instant::now();
        if !force
            && self
                .last_pli
                .get(&mid)
                .is_some_and(|t| now.duration_since(*t) < Duration::from_millis(500))
        {
            return;
        }
        if let Some(mut w) = rtc.writer(mid) {
            if w.is_request_keyframe_possible(KeyframeRequestKind::Pli)
                && w.request_keyframe(rid, KeyframeRequestKind::Pli).is_ok()
            {
                self.last_pli.insert(mid, now);
            }
        }
    }
}

impl Handler for SubHandler {
    type Cmd = SubCmd;

    fn lose(&mut self, d: &[u8]) -> bool {
        let every = self.shared.lose_every.load(Ordering::Relaxed);
        // RTP (not RTCP, STUN or DTLS): version 2, payload type outside 64..=95.
        if every == 0 || d.len() < 12 || d[0] >> 6 != 2 || (192..=223).contains(&d[1]) {
            return false;
        }
        self.rtp_in += 1;
        self.rtp_in.is_multiple_of(every)
    }

    fn on_event(&mut self, rtc: &mut Rtc, ev: Event) {
        match ev {
            Event::MediaData(d) => {
                let at = Instant::now();
                let recv_us = now_micros();
                let stamp = parse_stamp(&d.data);
                let audio = d.params.spec().codec.is_audio();
                let frame = Frame {
                    mid: d.mid.to_string(),
                    rid: d.rid.map(|r| r.to_string()),
                    audio,
                    len: d.data.len(),
                    keyframe: d.is_keyframe(),
                    contiguous: d.contiguous,
                    seq_first: **d.seq_range.start(),
                    seq_last: **d.seq_range.end(),
                    stamp: stamp.as_ref(),
                    recv_us,
                    at,
                };
                lock(&self.shared.stats).on_frame(frame);
                self.shared.notify.notify_waiters();
                if !d.contiguous && !audio {
                    self.pli(rtc, d.mid, d.rid, false);
                }
            }
            Event::MediaIngressStats(s) => {
                let c = IngressCounters {
                    rid: s.rid.map(|r| r.to_string()),
                    packets: s.packets,
                    bytes: s.bytes,
                    nacks: s.nacks,
                    plis: s.plis,
                    firs: s.firs,
                    loss: s.loss,
                    rtt_ms: s.rtt.map(|d| d.as_secs_f64() * 1000.0),
                };
                lock(&self.shared.stats).on_ingress(s.mid.to_string(), c);
            }
            _ => {}
        }
    }

    fn next_wakeup(&self) -> Option<Instant> {
        None
    }

    fn on_tick(&mut self, _rtc: &mut Rtc, _now: Instant) -> bool {
        false
    }

    fn on_cmd(&mut self, rtc: &mut Rtc, cmd: SubCmd) -> bool {
        match cmd {
            SubCmd::Offer { sdp, tracks, reply } => {
                let r = (|| {
                    let offer = SdpOffer::from_sdp_string(&sdp)
                        .map_err(|e| PeerError::Rtc(format!("the server's offer: {e}")))?;
                    Ok(rtc.sdp_api().accept_offer(offer)?.to_sdp_string())
                })();
                if r.is_ok() {
                    *lock(&self.shared.offer) = sdp;
                    let now = Instant::now();
                    let mut st = lock(&self.shared.stats);
                    st.set_tracks(&tracks, now);
                    st.offers += 1;
                    drop(st);
                    *lock(&self.shared.tracks) = tracks;
                    self.shared.notify.notify_waiters();
                } else {
                    lock(&self.shared.stats).offer_errors += 1;
                }
                let _ = reply.send(r);
                true
            }
            SubCmd::Keyframes => {
                let mids: Vec<Mid> = lock(&self.shared.tracks)
                    .iter()
                    .filter(|t| t.kind == MediaKind::Video)
                    .map(|t| Mid::from(t.mid.as_str()))
                    .collect();
                for mid in mids {
                    self.pli(rtc, mid, None, true);
                }
                true
            }
            SubCmd::Close => false,
        }
    }

    fn on_datagram(&mut self) {
        lock(&self.shared.stats).datagrams += 1;
    }

    fn on_state(&mut self, state: ConnState) {
        lock(&self.shared.stats).connected = state == ConnState::Connected;
        self.shared.notify.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_tracks_table_reads_as_the_protocols_track_info_and_bad_rows_are_left_out() {
        let u = UserId::new_random();
        let table = json!([
            {"mid": "0", "userId": u, "kind": "audio", "source": "microphone", "trackId": 3},
            {"mid": "1", "userId": "not-a-uuid", "kind": "video", "source": "camera", "trackId": 4},
            {"mid": "2", "userId": u, "kind": "video", "source": "camera", "trackId": -1},
            {"mid": "3"}
        ]);
        assert_eq!(
            parse_tracks(&table),
            vec![TrackInfo {
                mid: "0".into(),
                user_id: u,
                kind: MediaKind::Audio,
                source: "microphone".into(),
                track_id: 3,
            }]
        );
        assert!(parse_tracks(&json!(null)).is_empty());
    }
}
