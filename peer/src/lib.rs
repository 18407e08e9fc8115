//! `lyceum-peer`: a real WebRTC client for Lyceum, built on str0m, for the
//! SFU's integration tests and for `lyceum-loadtest`.
//!
//! It speaks the signalling of `docs/live.md` over the WebSocket of
//! `docs/protocol.md` ([`Signaller`]) and runs two peer connections per
//! participant like a browser would ([`Participant`]):
//!
//! - a **publish** connection ([`Publisher`]): full ICE (not lite), its own
//!   UDP socket and host candidate, sendonly Opus and VP8 (optionally
//!   simulcast `h`, `m`, `l`); it offers, `rtc_publish` carries the offer and
//!   the ack the answer. It then writes synthetic media: 20 ms Opus frames with
//!   the audio-level extension and 30 fps VP8 frames per layer, a keyframe
//!   every 2 s and on every keyframe request.
//! - a **subscribe** connection ([`Subscriber`]): `rtc_subscribe` returns the
//!   server's offer and the `tracks` table; later `rtc_offer` events are
//!   answered with `rtc_answer`. Every received frame is counted per track.
//!
//! Every synthetic frame carries a [`Stamp`]: a magic, the layer, the send
//! time in microseconds since the UNIX epoch and a frame counter, so a
//! receiver measures latency, jitter and lost frames without any clock
//! agreement beyond the machine's (all of this is meant for loopback).
//!
//! ```no_run
//! # async fn demo(base: &str, mentor_token: &str, mentee_token: &str, session: lyceum_peer::lyceum_protocol::LiveId) -> Result<(), lyceum_peer::PeerError> {
//! use std::time::Duration;
//! use lyceum_peer::{Participant, PublishOpts, Signaller};
//! let host = Signaller::connect(base, mentor_token).await?;
//! let mut p = Participant::join(&host, session).await?;
//! p.publish(PublishOpts { audio: true, video: true, simulcast: true, ..Default::default() }).await?;
//!
//! let mentee = Signaller::connect(base, mentee_token).await?;
//! let mut s = Participant::join(&mentee, session).await?;
//! s.subscribe().await?;
//! s.wait_for_frames(host.user_id(), 2, 30, Duration::from_secs(10)).await?;
//! println!("{:?}", s.stats());
//! # Ok(()) }
//! ```

mod driver;
mod error;
mod media;
mod participant;
mod publisher;
mod signaller;
mod stats;
mod subscriber;

pub use driver::ConnState;
pub use error::PeerError;
pub use media::{now_micros, opus_frame, parse_stamp, vp8_frame, Stamp, MAGIC, STAMP_LEN, VP8_HEADER_LEN};
pub use participant::{JoinInfo, Participant};
pub use publisher::{PublishOpts, PublishStats, Publisher};
pub use signaller::Signaller;
pub use stats::{IngressCounters, LatencySummary, SubscriberStats, TrackStats};
pub use subscriber::Subscriber;

/// The wire protocol's types the API speaks in (ids, tracks, commands,
/// events), re-exported so callers name the same version.
pub use lyceum_protocol;
pub use lyceum_protocol::frames::ParticipantInfo;
pub use lyceum_protocol::TrackInfo;

/// Re-exported so callers can name str0m types without depending on it.
pub use str0m;

/// Installs str0m's crypto provider for the process (once; later calls do
/// nothing). Every constructor here calls it; call it yourself only if you
/// build `Rtc`s of your own first.
pub fn init_crypto() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| str0m::crypto::from_feature_flags().install_process_default());
}
