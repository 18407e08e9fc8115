//! The publish connection: we offer sendonly Opus and VP8, `rtc_publish`
//! carries the offer and its ack the answer; then synthetic media flows.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lyceum_protocol::frames::Command;
use lyceum_protocol::LiveId;
use serde::Serialize;
use str0m::change::SdpAnswer;
use str0m::format::Codec;
use str0m::media::{Direction, Frequency, MediaKind, MediaTime, Mid, Rid, Simulcast, SimulcastLayer};
use str0m::{Event, Rtc, RtcError};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::driver::{self, ConnState, Handler};
use crate::error::PeerError;
use crate::media::{opus_frame, vp8_frame};
use crate::signaller::Signaller;

/// What to publish and how.
#[derive(Debug, Clone)]
pub struct PublishOpts {
    /// A sendonly Opus track (source `microphone`).
    pub audio: bool,
    /// A sendonly VP8 track (source `camera`).
    pub video: bool,
    /// Simulcast layers `h`, `m`, `l` on the video track.
    pub simulcast: bool,
    /// Bytes per 20 ms Opus frame.
    pub audio_frame_bytes: usize,
    /// The audio-level header extension of every Opus frame, in dBov
    /// (0 loudest, -127 silence); voice activity is set above -127.
    pub audio_level: i8,
    /// Bytes per VP8 frame of the `h`, `m`, `l` layers (without simulcast: `h`).
    pub layer_frame_bytes: [usize; 3],
    /// Video frames per second (every layer).
    pub fps: u32,
    /// A keyframe at least this often (also on every keyframe request).
    pub keyframe_interval: Duration,
    /// The address of the UDP socket and host candidate (port 0).
    pub bind_ip: IpAddr,
    /// How long `Participant::publish` waits for ICE and DTLS.
    pub connect_timeout: Duration,
}

impl Default for PublishOpts {
    fn default() -> Self {
        PublishOpts {
            audio: true,
            video: true,
            simulcast: false,
            audio_frame_bytes: 80,
            audio_level: -20,
            layer_frame_bytes: [6000, 2000, 600],
            fps: 30,
            keyframe_interval: Duration::from_secs(2),
            bind_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            connect_timeout: Duration::from_secs(10),
        }
    }
}

/// What a publisher has sent.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PublishStats {
    pub connected: bool,
    pub audio_frames: u64,
    /// Video frames summed over layers.
    pub video_frames: u64,
    pub bytes: u64,
    pub keyframes: u64,
    pub keyframe_requests: u64,
    pub write_errors: u64,
    /// Layers being written (`h`, `m`, `l`, or `v` without simulcast).
    pub layers: Vec<String>,
}

pub(crate) enum PubCmd {
    Sending { audio: bool, video: bool },
    AudioLevel(i8),
    Keyframe,
    Close,
}

/// A running publish connection. Dropping it closes the connection.
pub struct Publisher {
    session_id: LiveId,
    audio_mid: Option<String>,
    video_mid: Option<String>,
    offer: String,
    answer: String,
    local_addr: SocketAddr,
    cmd: mpsc::UnboundedSender<PubCmd>,
    state: watch::Receiver<ConnState>,
    stats: Arc<Mutex<PublishStats>>,
    task: Option<JoinHandle<()>>,
}

impl Publisher {
    /// Offers, sends `rtc_publish`, applies the answer and starts the
    /// connection (media flows once ICE and DTLS are up; see
    /// [`Publisher::wait_connected`]).
    pub async fn start(sig: &Signaller, session_id: LiveId, opts: PublishOpts) -> Result<Publisher, PeerError> {
        let stream_id = format!("lyceum-{}", sig.user_id());
        Self::start_with(session_id, stream_id, opts, |sdp, sources| async move {
            let ack = sig
                .command(&Command::RtcPublish {
                    session_id,
                    sdp,
                    sources,
                })
                .await?;
            ack["sdp"]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| PeerError::Protocol(format!("rtc_publish ack without sdp: {ack}")))
        })
        .await
    }

    /// The same media to another server (the load tester's Janus target):
    /// `signal` gets our offer and the source of each mid (`microphone`,
    /// `camera`) and returns the server's answer. The publisher has a
    /// random `session_id`; wait for [`Publisher::wait_connected`] yourself.
    pub async fn start_signalled<F, Fut>(opts: PublishOpts, signal: F) -> Result<Publisher, PeerError>
    where
        F: FnOnce(String, HashMap<String, String>) -> Fut,
        Fut: Future<Output = Result<String, PeerError>>,
    {
        Self::start_with(LiveId::new_random(), "lyceum-peer".into(), opts, signal).await
    }

    async fn start_with<F, Fut>(
        session_id: LiveId,
        stream_id: String,
        opts: PublishOpts,
        signal: F,
    ) -> Result<Publisher, PeerError>
    where
        F: FnOnce(String, HashMap<String, String>) -> Fut,
        Fut: Future<Output = Result<String, PeerError>>,
    {
        if !opts.audio && !opts.video {
            return Err(PeerError::Protocol(
                "nothing to publish: neither audio nor video".into(),
            ));
        }
        let (mut rtc, socket, local_addr) = driver::bind(opts.bind_ip, false).await?;
        let mut api = rtc.sdp_api();
        let audio_mid = opts.audio.then(|| {
            api.add_media(
                MediaKind::Audio,
                Direction::SendOnly,
                Some(stream_id.clone()),
                Some("microphone".into()),
                None,
            )
        });
        let video_mid = opts.video.then(|| {
            let simulcast = opts.simulcast.then(|| {
                let mut s = Simulcast::new();
                for rid in ["h", "m", "l"] {
                    s.add_send_layer(SimulcastLayer::new(rid));
                }
                s
            });
            api.add_media(
                MediaKind::Video,
                Direction::SendOnly,
                Some(stream_id.clone()),
                Some("camera".into()),
                simulcast,
            )
        });
        let (offer, pending) = api.apply().ok_or_else(|| PeerError::Rtc("no offer to make".into()))?;
        let offer = offer.to_sdp_string();
        let mut sources = HashMap::new();
        if let Some(m) = audio_mid {
            sources.insert(m.to_string(), "microphone".to_owned());
        }
        if let Some(m) = video_mid {
            sources.insert(m.to_string(), "camera".to_owned());
        }
        let answer = signal(offer.clone(), sources).await?;
        let parsed =
            SdpAnswer::from_sdp_string(&answer).map_err(|e| PeerError::Rtc(format!("the server's answer: {e}")))?;
        rtc.sdp_api().accept_answer(pending, parsed)?;

        let layers: Vec<Layer> = if opts.simulcast {
            [("h", b'h', 0), ("m", b'm', 1), ("l", b'l', 2)]
                .into_iter()
                .map(|(r, b, i)| Layer {
                    rid: Some(r.into()),
                    tag: b,
                    size: opts.layer_frame_bytes[i],
                    force_key: false,
                })
                .collect()
        } else {
            vec![Layer {
                rid: None,
                tag: b'v',
                size: opts.layer_frame_bytes[0],
                force_key: false,
            }]
        };
        let stats = Arc::new(Mutex::new(PublishStats {
            layers: layers.iter().map(|l| char::from(l.tag).to_string()).collect(),
            ..Default::default()
        }));
        let (cmd, cmd_rx) = mpsc::unbounded_channel();
        let (state_tx, state) = watch::channel(ConnState::Connecting);
        let handler = PubHandler {
            frame_interval: Duration::from_secs_f64(1.0 / f64::from(opts.fps.max(1))),
            opts,
            audio_mid,
            video_mid,
            layers,
            connected: false,
            send_audio: true,
            send_video: true,
            start: Instant::now(),
            next_audio: Instant::now(),
            next_video: Instant::now(),
            audio_n: 0,
            video_n: 0,
            last_key: None,
            opus_pt: None,
            vp8_pt: None,
            stats: stats.clone(),
        };
        let task = tokio::spawn(driver::drive(rtc, socket, handler, cmd_rx, state_tx));
        Ok(Publisher {
            session_id,
            audio_mid: audio_mid.map(|m| m.to_string()),
            video_mid: video_mid.map(|m| m.to_string()),
            offer,
            answer,
            local_addr,
            cmd,
            state,
            stats,
            task: Some(task),
        })
    }

    pub fn session_id(&self) -> LiveId {
        self.session_id
    }

    pub fn audio_mid(&self) -> Option<&str> {
        self.audio_mid.as_deref()
    }

    pub fn video_mid(&self) -> Option<&str> {
        self.video_mid.as_deref()
    }

    /// Our offer and the server's answer, as sent and received.
    pub fn sdp(&self) -> (&str, &str) {
        (&self.offer, &self.answer)
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

    pub fn stats(&self) -> PublishStats {
        self.stats.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Stop or resume writing audio/video (the tracks stay negotiated).
    pub fn set_sending(&self, audio: bool, video: bool) {
        let _ = self.cmd.send(PubCmd::Sending { audio, video });
    }

    /// The audio level of the frames from now on (dBov, 0 loudest).
    pub fn set_audio_level(&self, level: i8) {
        let _ = self.cmd.send(PubCmd::AudioLevel(level));
    }

    /// Make the next video frame a keyframe on every layer.
    pub fn force_keyframe(&self) {
        let _ = self.cmd.send(PubCmd::Keyframe);
    }

    /// Closes the connection (RTCP BYE, DTLS close_notify) and waits for the task.
    pub async fn close(mut self) {
        let _ = self.cmd.send(PubCmd::Close);
        if let Some(t) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(2), t).await;
        }
    }
}

impl Publisher {
    /// Drops off the network without a word (no RTCP BYE, no DTLS
    /// close_notify): what a pulled cable or a sleeping laptop looks like to
    /// the server.
    pub async fn vanish(mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
            let _ = t.await;
        }
    }
}

impl Drop for Publisher {
    fn drop(&mut self) {
        // The task ends by itself once the command channel closes.
        let _ = self.cmd.send(PubCmd::Close);
    }
}

struct Layer {
    rid: Option<Rid>,
    tag: u8,
    size: usize,
    force_key: bool,
}

struct PubHandler {
    opts: PublishOpts,
    audio_mid: Option<Mid>,
    video_mid: Option<Mid>,
    layers: Vec<Layer>,
    connected: bool,
    send_audio: bool,
    send_video: bool,
    start: Instant,
    next_audio: Instant,
    next_video: Instant,
    frame_interval: Duration,
    audio_n: u32,
    video_n: u32,
    last_key: Option<Instant>,
    opus_pt: Option<str0m::media::Pt>,
    vp8_pt: Option<str0m::media::Pt>,
    stats: Arc<Mutex<PublishStats>>,
}

const AUDIO_FRAME: Duration = Duration::from_millis(20);

impl PubHandler {
    fn stat(&self, f: impl FnOnce(&mut PublishStats)) {
        if let Ok(mut s) = self.stats.lock() {
            f(&mut s);
        }
    }

    fn pt(rtc: &mut Rtc, mid: Mid, codec: Codec) -> Option<str0m::media::Pt> {
        let w = rtc.writer(mid)?;
        let pt = w.payload_params().find(|p| p.spec().codec == codec).map(|p| p.pt());
        pt
    }

    fn write_audio(&mut self, rtc: &mut Rtc, now: Instant) {
        let Some(mid) = self.audio_mid else { return };
        if self.opus_pt.is_none() {
            self.opus_pt = Self::pt(rtc, mid, Codec::Opus);
        }
        let (Some(pt), Some(w)) = (self.opus_pt, rtc.writer(mid)) else {
            self.stat(|s| s.write_errors += 1);
            return;
        };
        let rtp = MediaTime::new(
            now.saturating_duration_since(self.start).as_micros() as u64 * 48 / 1000,
            Frequency::FORTY_EIGHT_KHZ,
        );
        let frame = opus_frame(self.opts.audio_frame_bytes, self.audio_n);
        let len = frame.len() as u64;
        self.audio_n = self.audio_n.wrapping_add(1);
        let level = self.opts.audio_level.clamp(-127, 0);
        match w.audio_level(level, level > -127).write(pt, now, rtp, frame) {
            Ok(()) => self.stat(|s| {
                s.audio_frames += 1;
                s.bytes += len;
            }),
            Err(e) => {
                tracing::debug!("lyceum-peer: audio write: {e}");
                self.stat(|s| s.write_errors += 1);
            }
        }
    }

    fn write_video(&mut self, rtc: &mut Rtc, now: Instant) {
        let Some(mid) = self.video_mid else { return };
        if self.vp8_pt.is_none() {
            self.vp8_pt = Self::pt(rtc, mid, Codec::Vp8);
        }
        let Some(pt) = self.vp8_pt else {
            self.stat(|s| s.write_errors += 1);
            return;
        };
        let periodic = self
            .last_key
            .is_none_or(|k| now.duration_since(k) >= self.opts.keyframe_interval);
        if periodic {
            self.last_key = Some(now);
        }
        let rtp = MediaTime::new(
            now.saturating_duration_since(self.start).as_micros() as u64 * 9 / 100,
            Frequency::NINETY_KHZ,
        );
        let n = self.video_n;
        self.video_n = self.video_n.wrapping_add(1);
        let mut fallback = false;
        let (mut frames, mut keys, mut bytes, mut errors) = (0u64, 0u64, 0u64, 0u64);
        for layer in &mut self.layers {
            let key = periodic || layer.force_key;
            let Some(mut w) = rtc.writer(mid) else {
                errors += 1;
                continue;
            };
            if let Some(rid) = layer.rid {
                w = w.rid(rid);
            }
            let frame = vp8_frame(layer.size, layer.tag, key, n);
            let len = frame.len() as u64;
            match w.write(pt, now, rtp, frame) {
                Ok(()) => {
                    layer.force_key = false;
                    frames += 1;
                    bytes += len;
                    keys += u64::from(key);
                }
                Err(RtcError::UnknownRid(_)) => {
                    fallback = true;
                    errors += 1;
                }
                Err(e) => {
                    tracing::debug!("lyceum-peer: video write: {e}");
                    errors += 1;
                }
            }
        }
        if fallback {
            // The server's answer declined simulcast: one stream, the top layer's size.
            tracing::warn!("lyceum-peer: simulcast was not accepted; sending one video stream");
            let size = self.opts.layer_frame_bytes[0];
            self.layers = vec![Layer {
                rid: None,
                tag: b'v',
                size,
                force_key: true,
            }];
            self.stat(|s| s.layers = vec!["v".into()]);
        }
        self.stat(|s| {
            s.video_frames += frames;
            s.keyframes += keys;
            s.bytes += bytes;
            s.write_errors += errors;
        });
    }
}

impl Handler for PubHandler {
    type Cmd = PubCmd;

    fn on_event(&mut self, _rtc: &mut Rtc, ev: Event) {
        match ev {
            Event::Connected => {
                let now = Instant::now();
                self.connected = true;
                self.next_audio = now;
                self.next_video = now;
                self.last_key = None;
                self.stat(|s| s.connected = true);
            }
            Event::KeyframeRequest(req) if Some(req.mid) == self.video_mid => {
                for l in &mut self.layers {
                    if req.rid.is_none() || l.rid == req.rid {
                        l.force_key = true;
                    }
                }
                self.stat(|s| s.keyframe_requests += 1);
            }
            _ => {}
        }
    }

    fn next_wakeup(&self) -> Option<Instant> {
        if !self.connected {
            return None;
        }
        let a = (self.send_audio && self.audio_mid.is_some()).then_some(self.next_audio);
        let v = (self.send_video && self.video_mid.is_some()).then_some(self.next_video);
        match (a, v) {
            (Some(a), Some(v)) => Some(a.min(v)),
            (a, v) => a.or(v),
        }
    }

    fn on_tick(&mut self, rtc: &mut Rtc, now: Instant) -> bool {
        if !self.connected {
            return false;
        }
        let mut wrote = false;
        // Behind by more than a few frames (a stall): skip ahead rather than burst.
        if now.saturating_duration_since(self.next_audio) > AUDIO_FRAME * 10 {
            self.next_audio = now;
        }
        if now.saturating_duration_since(self.next_video) > self.frame_interval * 5 {
            self.next_video = now;
        }
        if self.send_audio {
            while self.next_audio <= now {
                self.write_audio(rtc, self.next_audio);
                self.next_audio += AUDIO_FRAME;
                wrote = true;
            }
        }
        if self.send_video {
            while self.next_video <= now {
                self.write_video(rtc, self.next_video);
                self.next_video += self.frame_interval;
                wrote = true;
            }
        }
        wrote
    }

    fn on_cmd(&mut self, _rtc: &mut Rtc, cmd: PubCmd) -> bool {
        match cmd {
            PubCmd::Sending { audio, video } => {
                let now = Instant::now();
                if audio && !self.send_audio {
                    self.next_audio = now;
                }
                if video && !self.send_video {
                    self.next_video = now;
                    self.layers.iter_mut().for_each(|l| l.force_key = true);
                }
                self.send_audio = audio;
                self.send_video = video;
                true
            }
            PubCmd::AudioLevel(l) => {
                self.opts.audio_level = l;
                true
            }
            PubCmd::Keyframe => {
                self.layers.iter_mut().for_each(|l| l.force_key = true);
                true
            }
            PubCmd::Close => false,
        }
    }

    fn on_state(&mut self, state: ConnState) {
        if state != ConnState::Connected {
            self.stat(|s| s.connected = false);
        }
        if state == ConnState::Closed {
            self.connected = false;
        }
    }
}
