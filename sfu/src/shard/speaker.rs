//! The active speaker: the loudest recent voice of a room, with hysteresis
//! (a rival must be clearly louder) and a hold through pauses. Pure: the
//! shard's housekeeping passes the voices and the time.

use std::time::{Duration, Instant};

use crate::UserId;

/// Speech quieter than this (dBov) does not make an active speaker.
const SPEAKING_DBOV: f32 = -50.0;
/// A rival must be this much louder than a still-speaking speaker to take over.
const SPEAKER_SWITCH_DB: f32 = 4.0;
/// A speaker stays the active one through pauses shorter than this.
const SPEAKER_HOLD: Duration = Duration::from_millis(1500);
/// A level older than this is not a voice any more.
const LEVEL_FRESH: Duration = Duration::from_secs(1);

/// One audio track's smoothed level, as the shard measured it.
pub(super) struct Voice {
    pub user: UserId,
    /// dBov (0 loudest, -127 silent).
    pub level: f32,
    /// When the level was last updated (None: never).
    pub heard: Option<Instant>,
    /// The host muted this participant's audio.
    pub blocked: bool,
}

#[derive(Default)]
pub(super) struct ActiveSpeaker {
    pub current: Option<UserId>,
    /// Since when nobody has been speaking.
    quiet_since: Option<Instant>,
}

impl ActiveSpeaker {
    /// Looks at the room's voices at `now`; the new speaker if it changed.
    pub fn update(&mut self, voices: &[Voice], now: Instant) -> Option<Option<UserId>> {
        let fresh = |v: &&Voice| v.heard.is_some_and(|at| now.duration_since(at) < LEVEL_FRESH);
        let loudest = voices
            .iter()
            .filter(fresh)
            .filter(|v| v.level > SPEAKING_DBOV && !v.blocked)
            .max_by(|a, b| a.level.total_cmp(&b.level))
            .map(|v| (v.user, v.level));
        let current_level = self.current.and_then(|u| {
            voices
                .iter()
                .filter(fresh)
                .filter(|v| v.user == u)
                .map(|v| v.level)
                .reduce(f32::max)
        });
        let next = match (loudest, current_level) {
            (Some((u, _)), _) if Some(u) == self.current => self.current,
            (Some((_, l)), Some(cur)) if cur > SPEAKING_DBOV && l < cur + SPEAKER_SWITCH_DB => self.current,
            (Some((u, _)), _) => Some(u),
            // Nobody speaks: the last speaker stays for a pause's length.
            (None, _) => {
                let quiet = *self.quiet_since.get_or_insert(now);
                self.current.filter(|_| now.duration_since(quiet) < SPEAKER_HOLD)
            }
        };
        if loudest.is_some() {
            self.quiet_since = None;
        }
        if next == self.current {
            return None;
        }
        self.current = next;
        Some(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn voice(user: UserId, level: f32, heard: Instant) -> Voice {
        Voice {
            user,
            level,
            heard: Some(heard),
            blocked: false,
        }
    }

    #[test]
    fn the_loudest_voice_speaks_and_holds_through_a_pause() {
        let (a, b) = (UserId(uuid::Uuid::new_v4()), UserId(uuid::Uuid::new_v4()));
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        let mut s = ActiveSpeaker::default();
        assert_eq!(s.update(&[voice(a, -30.0, t0), voice(b, -60.0, t0)], t0), Some(Some(a)));
        // A rival only a little louder does not take over.
        assert_eq!(
            s.update(&[voice(a, -30.0, ms(250)), voice(b, -28.0, ms(250))], ms(250)),
            None
        );
        // Clearly louder does.
        assert_eq!(
            s.update(&[voice(a, -30.0, ms(500)), voice(b, -20.0, ms(500))], ms(500)),
            Some(Some(b))
        );
        // Silence: b stays through the hold, then nobody.
        let stale = [voice(a, -30.0, ms(500)), voice(b, -20.0, ms(500))];
        assert_eq!(s.update(&stale, ms(1600)), None);
        assert_eq!(s.update(&stale, ms(2000)), None);
        assert_eq!(s.update(&stale, ms(3000)), None, "1.4 s of quiet: still held");
        assert_eq!(s.update(&stale, ms(3100)), Some(None), "1.5 s of quiet: gone");
        assert_eq!(s.current, None);
    }

    #[test]
    fn a_muted_or_quiet_voice_does_not_speak() {
        let a = UserId(uuid::Uuid::new_v4());
        let t0 = Instant::now();
        let mut s = ActiveSpeaker::default();
        let mut muted = voice(a, -10.0, t0);
        muted.blocked = true;
        assert_eq!(s.update(&[muted], t0), None);
        assert_eq!(s.update(&[voice(a, -55.0, t0)], t0), None);
        assert_eq!(s.current, None);
    }
}
