//! What a subscriber measures, per track.

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use lyceum_protocol::{MediaKind, TrackInfo, UserId};
use serde::Serialize;

use crate::media::Stamp;

/// At most this many latency samples are kept per track (the counts go on).
const MAX_SAMPLES: usize = 200_000;

#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct LatencySummary {
    pub count: usize,
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
    pub max: f64,
    pub mean: f64,
}

impl LatencySummary {
    pub fn of(samples: &[f32]) -> LatencySummary {
        if samples.is_empty() {
            return LatencySummary::default();
        }
        let mut v: Vec<f32> = samples.to_vec();
        v.sort_by(f32::total_cmp);
        let at = |p: f64| f64::from(v[((v.len() as f64 * p) as usize).min(v.len() - 1)]);
        LatencySummary {
            count: v.len(),
            p50: at(0.50),
            p95: at(0.95),
            p99: at(0.99),
            max: f64::from(v[v.len() - 1]),
            mean: v.iter().map(|x| f64::from(*x)).sum::<f64>() / v.len() as f64,
        }
    }
}

/// str0m's receive counters for one stream (from `MediaIngressStats`, every second).
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct IngressCounters {
    pub rid: Option<String>,
    pub packets: u64,
    pub bytes: u64,
    pub nacks: u64,
    pub plis: u64,
    pub firs: u64,
    /// Fraction lost in the last report interval.
    pub loss: Option<f32>,
    pub rtt_ms: Option<f64>,
}

/// One received track.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TrackStats {
    pub mid: String,
    /// From the `tracks` table (None for media the table never described).
    pub user_id: Option<UserId>,
    /// From the `tracks` table, else from the codec of what arrived.
    pub kind: MediaKind,
    pub source: Option<String>,
    pub track_id: Option<u64>,
    /// Still in the tracks table (false once the server removed it).
    pub active: bool,
    pub frames: u64,
    pub bytes: u64,
    pub keyframes: u64,
    /// Frames str0m flagged as not contiguous (a gap before them).
    pub non_contiguous: u64,
    /// Frames carrying our stamp.
    pub stamped: u64,
    /// RTP packets in the received frames, and gaps in their sequence numbers.
    pub packets: u64,
    pub packets_lost: u64,
    /// Gaps in the publisher's frame counter, and frames older than the newest seen.
    pub frames_lost: u64,
    pub frames_late: u64,
    /// From the table entry's arrival (or the subscribe) to the first frame / keyframe.
    pub first_frame_ms: Option<f64>,
    pub first_keyframe_ms: Option<f64>,
    /// Since the last frame (None before the first).
    pub idle_ms: Option<f64>,
    /// Send (publisher's stamp) to receive, in milliseconds.
    pub latency: LatencySummary,
    /// RFC 3550 interarrival jitter of the stamps, in milliseconds.
    pub jitter_ms: f64,
    /// Frames per stamped layer (`a`, `v`, `h`, `m`, `l`).
    pub layers: BTreeMap<String, u64>,
    pub ingress: Vec<IngressCounters>,
}

/// A subscriber's view.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscriberStats {
    pub connected: bool,
    /// Server offers answered (the first one included).
    pub offers: u64,
    pub offer_errors: u64,
    /// Since `rtc_subscribe` was sent.
    pub elapsed_ms: f64,
    pub frames: u64,
    pub bytes: u64,
    pub tracks: Vec<TrackStats>,
}

impl SubscriberStats {
    /// Active tracks of this user.
    pub fn tracks_of(&self, user_id: UserId) -> impl Iterator<Item = &TrackStats> + '_ {
        self.tracks
            .iter()
            .filter(move |t| t.active && t.user_id == Some(user_id))
    }
}

impl TrackStats {
    /// Nothing received yet.
    fn empty(mid: String, kind: MediaKind) -> TrackStats {
        TrackStats {
            mid,
            user_id: None,
            kind,
            source: None,
            track_id: None,
            active: true,
            frames: 0,
            bytes: 0,
            keyframes: 0,
            non_contiguous: 0,
            stamped: 0,
            packets: 0,
            packets_lost: 0,
            frames_lost: 0,
            frames_late: 0,
            first_frame_ms: None,
            first_keyframe_ms: None,
            idle_ms: None,
            latency: LatencySummary::default(),
            jitter_ms: 0.0,
            layers: BTreeMap::new(),
            ingress: Vec::new(),
        }
    }
}

pub(crate) struct TrackAcc {
    info: Option<TrackInfo>,
    mid: String,
    kind: MediaKind,
    added_at: Instant,
    s: TrackStats,
    last_seq: HashMap<Option<String>, u64>,
    last_counter: Option<u32>,
    first_frame_at: Option<Instant>,
    first_key_at: Option<Instant>,
    last_frame_at: Option<Instant>,
    last_transit_us: Option<i64>,
    jitter_us: f64,
    /// (receive time in UNIX seconds, latency in ms).
    latency_ms: Vec<(u32, f32)>,
}

impl TrackAcc {
    fn new(mid: String, kind: MediaKind, info: Option<TrackInfo>, added_at: Instant) -> TrackAcc {
        TrackAcc {
            info,
            s: TrackStats::empty(mid.clone(), kind),
            mid,
            kind,
            added_at,
            last_seq: HashMap::new(),
            last_counter: None,
            first_frame_at: None,
            first_key_at: None,
            last_frame_at: None,
            last_transit_us: None,
            jitter_us: 0.0,
            latency_ms: Vec::new(),
        }
    }

    fn same_track(&self, t: &TrackInfo) -> bool {
        self.info
            .as_ref()
            .is_some_and(|i| i.user_id == t.user_id && i.track_id == t.track_id && i.kind == t.kind)
    }

    fn snapshot(
        &self,
        active: bool,
        ingress: &HashMap<(String, Option<String>), IngressCounters>,
        now: Instant,
    ) -> TrackStats {
        let ms = |a: Option<Instant>| a.map(|a| a.saturating_duration_since(self.added_at).as_secs_f64() * 1000.0);
        let mut s = self.s.clone();
        s.mid = self.mid.clone();
        s.kind = self.info.as_ref().map_or(self.kind, |i| i.kind);
        s.user_id = self.info.as_ref().map(|i| i.user_id);
        s.source = self.info.as_ref().map(|i| i.source.clone());
        s.track_id = self.info.as_ref().map(|i| i.track_id);
        s.active = active;
        s.first_frame_ms = ms(self.first_frame_at);
        s.first_keyframe_ms = ms(self.first_key_at);
        s.idle_ms = self
            .last_frame_at
            .map(|t| now.saturating_duration_since(t).as_secs_f64() * 1000.0);
        s.latency = LatencySummary::of(&self.latency_ms.iter().map(|x| x.1).collect::<Vec<_>>());
        s.jitter_ms = self.jitter_us / 1000.0;
        if active {
            s.ingress = ingress
                .iter()
                .filter(|((m, _), _)| *m == self.mid)
                .map(|(_, c)| c.clone())
                .collect();
        }
        s
    }
}

/// One frame as the subscriber saw it.
pub(crate) struct Frame<'a> {
    pub mid: String,
    pub rid: Option<String>,
    pub audio: bool,
    pub len: usize,
    pub keyframe: bool,
    pub contiguous: bool,
    pub seq_first: u64,
    pub seq_last: u64,
    pub stamp: Option<&'a Stamp>,
    pub recv_us: u64,
    pub at: Instant,
}

pub(crate) struct StatsState {
    pub started: Instant,
    pub connected: bool,
    pub offers: u64,
    pub offer_errors: u64,
    pub frames: u64,
    pub bytes: u64,
    /// UDP datagrams received (media, RTCP, STUN, DTLS).
    pub datagrams: u64,
    active: HashMap<String, TrackAcc>,
    ended: Vec<TrackStats>,
    ingress: HashMap<(String, Option<String>), IngressCounters>,
}

impl StatsState {
    pub fn new(started: Instant) -> StatsState {
        StatsState {
            started,
            connected: false,
            offers: 0,
            offer_errors: 0,
            frames: 0,
            bytes: 0,
            datagrams: 0,
            active: HashMap::new(),
            ended: Vec::new(),
            ingress: HashMap::new(),
        }
    }

    /// A new tracks table: tracks that left are finished, new ones start now.
    pub fn set_tracks(&mut self, tracks: &[TrackInfo], now: Instant) {
        let mids: Vec<String> = self.active.keys().cloned().collect();
        for mid in mids {
            let keep = match (tracks.iter().find(|t| t.mid == mid), self.active.get(&mid)) {
                (Some(t), Some(acc)) => acc.info.is_none() || acc.same_track(t),
                _ => false,
            };
            if !keep {
                if let Some(acc) = self.active.remove(&mid) {
                    self.ended.push(acc.snapshot(false, &self.ingress, now));
                }
                self.ingress.retain(|(m, _), _| *m != mid);
            }
        }
        for t in tracks {
            match self.active.get_mut(&t.mid) {
                Some(acc) => acc.info = Some(t.clone()),
                None => {
                    self.active.insert(
                        t.mid.clone(),
                        TrackAcc::new(t.mid.clone(), t.kind, Some(t.clone()), now),
                    );
                }
            }
        }
    }

    pub fn on_ingress(&mut self, mid: String, c: IngressCounters) {
        self.ingress.insert((mid, c.rid.clone()), c);
    }

    pub fn on_frame(&mut self, f: Frame<'_>) {
        self.frames += 1;
        self.bytes += f.len as u64;
        let started = self.started;
        let acc = self.active.entry(f.mid.clone()).or_insert_with(|| {
            TrackAcc::new(
                f.mid.clone(),
                if f.audio { MediaKind::Audio } else { MediaKind::Video },
                None,
                started,
            )
        });
        let s = &mut acc.s;
        s.frames += 1;
        s.bytes += f.len as u64;
        if f.keyframe {
            s.keyframes += 1;
            acc.first_key_at.get_or_insert(f.at);
        }
        if !f.contiguous {
            s.non_contiguous += 1;
        }
        acc.first_frame_at.get_or_insert(f.at);
        acc.last_frame_at = Some(f.at);
        s.packets += f.seq_last.saturating_sub(f.seq_first) + 1;
        match acc.last_seq.get_mut(&f.rid) {
            None => {
                acc.last_seq.insert(f.rid.clone(), f.seq_last);
            }
            Some(last) => {
                if f.seq_first > *last + 1 {
                    s.packets_lost += f.seq_first - *last - 1;
                }
                *last = (*last).max(f.seq_last);
            }
        }
        let Some(st) = f.stamp else { return };
        s.stamped += 1;
        *s.layers.entry(char::from(st.layer).to_string()).or_default() += 1;
        match acc.last_counter {
            Some(prev) if st.counter > prev => {
                s.frames_lost += u64::from(st.counter - prev - 1);
                acc.last_counter = Some(st.counter);
            }
            Some(prev) if st.counter < prev => s.frames_late += 1,
            Some(_) => {}
            None => acc.last_counter = Some(st.counter),
        }
        let transit = f.recv_us as i64 - st.sent_us as i64;
        if acc.latency_ms.len() < MAX_SAMPLES {
            acc.latency_ms
                .push(((f.recv_us / 1_000_000) as u32, transit as f32 / 1000.0));
        }
        if let Some(prev) = acc.last_transit_us {
            let d = (transit - prev).abs() as f64;
            acc.jitter_us += (d - acc.jitter_us) / 16.0;
        }
        acc.last_transit_us = Some(transit);
    }

    pub fn snapshot(&self, now: Instant) -> SubscriberStats {
        let mut tracks: Vec<TrackStats> = self.ended.clone();
        let mut active: Vec<&TrackAcc> = self.active.values().collect();
        active.sort_by(|a, b| a.mid.cmp(&b.mid));
        tracks.extend(active.into_iter().map(|a| a.snapshot(true, &self.ingress, now)));
        SubscriberStats {
            connected: self.connected,
            offers: self.offers,
            offer_errors: self.offer_errors,
            elapsed_ms: now.saturating_duration_since(self.started).as_secs_f64() * 1000.0,
            frames: self.frames,
            bytes: self.bytes,
            tracks,
        }
    }

    /// Active tracks of `user_id` with at least `min_frames` frames.
    pub fn ready_tracks(&self, user_id: UserId, min_frames: u64) -> usize {
        self.active
            .values()
            .filter(|a| a.info.as_ref().is_some_and(|i| i.user_id == user_id) && a.s.frames >= min_frames)
            .count()
    }

    /// Every latency sample of active tracks, optionally of one kind:
    /// (receive time in UNIX seconds, milliseconds).
    pub fn latency_samples(&self, kind: Option<MediaKind>) -> Vec<(u32, f32)> {
        self.active
            .values()
            .filter(|a| kind.is_none_or(|k| a.info.as_ref().map_or(a.kind, |i| i.kind) == k))
            .flat_map(|a| a.latency_ms.iter().copied())
            .collect()
    }
}
